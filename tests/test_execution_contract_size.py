"""Risk notionals on contract markets whose ``contractSize`` is not 1.

An amount on a contract market is a number of contracts of ``contractSize`` base units (OKX's
BTC-USDT-SWAP: 0.01 BTC; some venues list small coins in contracts of 100 or 1000). Every
notional the risk layer sees must be amount x price x contractSize: the entry's, an entry in
flight, a booked position's, a working parent's, and the realised PnL booked into the daily
loss. The venue is the PaperExchange with such markets (``PaperMarket.contract_size``), whose
own accounting is checked in tests/test_paper_venue.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from confluex.trading import Rejection, RejectReason
from confluex.trading.algos import MarketState, ParentOrder
from confluex.trading.execution import ExecutionSettings, Executor, FillEvent, Position
from confluex.trading.paper_venue import Level, PaperExchange, PaperMarket
from confluex.trading.risk import RiskLimits, RiskManager
from confluex.trading.types import OrderIntent, Side

BIG = "BIG/USDT:USDT"  # contracts of 100 BIG
SMALL = "SMALL/USDT:USDT"  # contracts of 0.01 SMALL
SIZES = {BIG: 100.0, SMALL: 0.01}


def intent(symbol: str, quote: float, side: Side = Side.BUY) -> OrderIntent:
    return OrderIntent(symbol, side, quote, 100.0, None, None, None, 80.0, 0, "test", "test")


class Venue:
    """Two swaps at 99.99 / 100.01, each level 10,000 quote deep, and an Executor on them."""

    def __init__(self, limits: RiskLimits, min_cost: float = 1.0, **executor: Any) -> None:
        self.sides: dict[str, tuple[list[Level], list[Level]]] = {}
        markets = []
        for symbol, cs in SIZES.items():
            depth = 100.0 / cs  # contracts: 100 base units a level
            self.sides[symbol] = ([(99.99, depth)], [(100.01, depth)])
            step = 0.01 / cs
            markets.append(
                PaperMarket(
                    symbol,
                    symbol.split("/")[0],
                    "USDT",
                    kind="swap",
                    amount_step=step,
                    min_amount=step,
                    min_cost=min_cost,
                    contract_size=cs,
                )
            )
        self.ex = PaperExchange(
            markets,
            lambda s: self.sides[s],
            balances={"USDT": 100_000.0},
            clock=lambda: 0,
            taker_fee=0.001,
        )
        self.risk = RiskManager(limits, clock=lambda: 0)
        self.executor = Executor(
            self.ex,
            risk=self.risk,
            settings=ExecutionSettings(fill_poll_interval_s=0),
            **executor,
        )

    async def __aenter__(self) -> Venue:
        await self.executor.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def test_entry_notional_counts_the_contract_size() -> None:
    async def main() -> None:
        # 50,000 of BIG is 5 contracts: 500 at 100 per contract would pass a 1,000 order cap
        async with Venue(RiskLimits(max_order_notional=1_000.0)) as v:
            big = await v.executor.open(intent(BIG, 50_000.0))
            # 1,000 of SMALL is 1,000 contracts: 100,000 at 100 per contract would be refused
            small = await v.executor.open(intent(SMALL, 1_000.0))

            assert isinstance(big, Rejection) and not isinstance(big, Position)
            assert big.reason is RejectReason.RISK_LIMIT
            assert big.detail == "order notional 50000.00 exceeds max_order_notional 1000.00"
            assert isinstance(small, Position), small
            assert small.amount == pytest.approx(1_000.0)  # contracts
            assert await v.ex.fetch_positions([BIG]) == []  # the refused entry was never sent

    asyncio.run(main())


def test_entry_in_flight_reserves_its_notional_with_the_contract_size() -> None:
    async def main() -> None:
        seen: list[dict[str, float]] = []
        box: list[Executor] = []

        def on_order(order: dict[str, Any]) -> None:  # the entry is at the venue, not booked
            if not box[0].positions:
                seen.append(box[0].exposures())

        async with Venue(RiskLimits(), on_order=on_order) as v:
            box.append(v.executor)
            pos = await v.executor.open(intent(BIG, 1_000.0))

            assert isinstance(pos, Position)
            assert seen and seen[0] == {BIG: pytest.approx(1_000.0)}  # 0.1 contract x 100 x 100

    asyncio.run(main())


def test_booked_positions_count_the_contract_size_against_the_total() -> None:
    async def main() -> None:
        limits = RiskLimits(max_symbol_notional=1_200.0, max_total_notional=1_500.0)
        async with Venue(limits) as v:
            big = await v.executor.open(intent(BIG, 1_000.0))
            assert isinstance(big, Position)
            exposures = v.executor.exposures()
            second = await v.executor.open(intent(SMALL, 1_000.0))

            # 0.1 contract of 100 at 100.01: 1,000.1 of quote, not 10
            assert big.amount == pytest.approx(0.1) and big.contract_size == 100.0
            assert big.notional == pytest.approx(1_000.1)
            assert exposures == {BIG: pytest.approx(1_000.1)}
            [venue_pos] = await v.ex.fetch_positions([BIG])
            assert big.notional == pytest.approx(venue_pos["notional"], rel=1e-3)
            assert isinstance(second, Rejection) and not isinstance(second, Position)
            assert "total notional 2000.10 would exceed max_total_notional" in second.detail

    asyncio.run(main())


def test_working_parent_counts_its_whole_amount_with_the_contract_size() -> None:
    from test_algos import strategy

    async def main() -> None:
        async with Venue(RiskLimits()) as v:
            market = MarketState(0, 99.99, 100.01)
            parent = await v.executor.open_parent(intent(BIG, 1_000.0), strategy("twap"), market)
            assert isinstance(parent, ParentOrder) and 0 < parent.filled < parent.amount

            whole = parent.amount * parent.arrival_price * 100.0
            assert whole == pytest.approx(1_000.0)
            assert v.executor.exposures() == {BIG: pytest.approx(whole)}
            await v.executor.stop_parents(BIG)

    asyncio.run(main())


def test_parent_children_meet_the_minimum_cost_with_the_contract_size() -> None:
    from test_algos import strategy

    async def main() -> None:
        # the venue's minimum order cost is 50: a 0.1-contract parent is 1,000 of quote (and
        # its slices 100 or more), not 10, so it trades rather than ending as too small
        async with Venue(RiskLimits(), min_cost=50.0) as v:
            market = MarketState(0, 99.99, 100.01)
            parent = await v.executor.open_parent(intent(BIG, 1_000.0), strategy("twap"), market)
            assert isinstance(parent, ParentOrder)
            for t in range(1, 12):
                await v.executor.step_parents(BIG, MarketState(t * 1_000, 99.99, 100.01))

            assert not parent.active and parent.status == "filled", parent.status
            assert parent.filled == pytest.approx(parent.amount)
            assert v.executor.positions[BIG].notional == pytest.approx(1_000.1)

    asyncio.run(main())


@pytest.mark.parametrize("symbol", [BIG, SMALL])
def test_realised_pnl_and_fill_sizes_count_the_contract_size(symbol: str) -> None:
    async def main() -> None:
        fills: list[FillEvent] = []
        async with Venue(RiskLimits(daily_loss_limit=50.0), on_fill=fills.append) as v:
            pos = await v.executor.open(intent(symbol, 1_000.0))
            assert isinstance(pos, Position)
            v.sides[symbol] = ([(90.0, 1e9)], [(90.02, 1e9)])  # -10 %
            closed = await v.executor.close(symbol)

            assert closed is None
            entry, exit_ = fills
            assert entry.position_size_usd == pytest.approx(1_000.1)
            assert exit_.position_size_usd == pytest.approx(900.0)
            # the ledger books what the venue realised: about -100, not -1 (or -10,000)
            assert exit_.realized_pnl == pytest.approx(v.ex.realized_pnl)
            assert exit_.realized_pnl == pytest.approx(-100.1)
            assert v.risk.daily_pnl == pytest.approx(v.ex.realized_pnl - v.ex.fees_paid)
            assert v.risk.halted  # the daily loss limit (50) fired the kill switch

    asyncio.run(main())


def test_inverse_contract_market_is_refused_with_a_reason() -> None:
    async def main() -> None:
        async with Venue(RiskLimits()) as v:
            # Synthetic: the paper venue has no inverse market, so BIG's market structure is
            # rewritten as one (contracts of 100 USDT, settled in BIG, as Binance COIN-M)
            market = v.ex.markets[BIG]
            market.update(linear=False, inverse=True, settle="BIG", settleId="BIG")
            refused = await v.executor.open(intent(BIG, 1_000.0, Side.SELL))
            sized = v.executor.quote_to_amount(BIG, 1_000.0, 100.0)

            for r in (refused, sized):
                assert isinstance(r, Rejection) and r.reason is RejectReason.UNKNOWN_MARKET
                assert "inverse contract market (contractSize 100.0 USDT" in r.detail
                assert "settled in BIG" in r.detail
            assert await v.ex.fetch_positions() == []  # nothing was sent

    asyncio.run(main())
