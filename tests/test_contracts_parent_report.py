"""A parent order's report on contract markets whose ``contractSize`` is not 1.

A parent's amount and its children's fills are in contracts of ``contractSize`` base units
(the venue's own unit); the venue's ``cost`` is the quote notional (filled x average x
contractSize, as ccxt's ``safe_order`` computes it). The report's figures are checked against
what the venue's executions imply, worked out here by hand from ``fetch_my_trades``. The venue
is the PaperExchange with the two swaps of tests/test_execution_contract_size.py (contracts of
100 and of 0.01 base units); the market volume fed to the parents is synthetic (named so).
"""

from __future__ import annotations

import asyncio
import math

import pytest
from confluex.trading.algos import MarketState, ParentOrder
from confluex.trading.risk import RiskLimits
from test_algos import strategy
from test_execution_contract_size import BIG, SIZES, SMALL, Venue, intent


@pytest.mark.parametrize("symbol", [BIG, SMALL])
def test_parent_report_figures_are_what_the_fills_imply(symbol: str) -> None:
    cs = SIZES[symbol]

    async def main() -> None:
        async with Venue(RiskLimits()) as v:

            def market(t: int) -> MarketState:
                # the ask moves up a cent a second, and its first level holds 0.4 base units:
                # each child (1 base unit) walks into the second level, 4 cents higher
                ask = 100.01 + 0.01 * t
                v.sides[symbol] = ([(99.99, 1e6 / cs)], [(ask, 0.4 / cs), (ask + 0.04, 1e6 / cs)])
                return MarketState(t * 1_000, 99.99, ask, synthetic_volume * t)

            synthetic_volume = 25.0  # base units traded by the market each second
            parent = await v.executor.open_parent(
                intent(symbol, 1_000.0), strategy("twap", limit_bps=50.0), market(0)
            )
            assert isinstance(parent, ParentOrder)
            last_t = 0
            for t in range(1, 12):
                if parent.active:
                    await v.executor.step_parents(symbol, market(t))
                    last_t = t
            [report] = v.executor.parent_reports()
            trades = await v.ex.fetch_my_trades(symbol)

            assert report.status == "filled" and len(trades) == 2 * report.children == 20
            # by hand, from the venue's executions (amounts in contracts)
            base = math.fsum(t["amount"] for t in trades) * cs
            notional = math.fsum(t["amount"] * t["price"] * cs for t in trades)
            average = notional / base
            arrival = (99.99 + 100.01) / 2
            assert base == pytest.approx(10.0)  # 1,000 of quote at 100: 10 base units
            assert 100.01 < average < 100.2  # a price, whatever the contract size
            assert report.filled == pytest.approx(base / cs)  # contracts
            assert report.average_price == pytest.approx(average)
            assert report.slippage_bps == pytest.approx((average - arrival) / arrival * 1e4)
            assert report.notional == pytest.approx(notional)
            assert report.contract_size == cs
            assert report.fees == pytest.approx(0.001 * notional)  # the taker fee on it
            assert report.fees == pytest.approx(v.ex.fees_paid)
            # the market volume (base units) from the start to the parent's last step
            assert report.market_volume == pytest.approx(synthetic_volume * last_t)
            assert report.participation == pytest.approx(base / report.market_volume)
            assert v.executor.positions[symbol].notional == pytest.approx(notional, rel=1e-3)

    asyncio.run(main())


@pytest.mark.parametrize("symbol", [BIG, SMALL])
def test_participation_cap_counts_the_market_volume_in_contracts(symbol: str) -> None:
    cs = SIZES[symbol]

    async def main() -> None:
        async with Venue(RiskLimits()) as v:
            parent = await v.executor.open_parent(
                intent(symbol, 1_000.0),
                strategy("pov", rate=0.1, horizon_s=60.0),
                MarketState(0, 99.99, 100.01, 0.0),
            )
            assert isinstance(parent, ParentOrder) and parent.children == []
            # 30 base units traded since the start: 10 % of it is 3 base units
            await v.executor.step_parents(symbol, MarketState(1_000, 99.99, 100.01, 30.0))

            [child] = parent.children  # one post-only bid, resting at the touch
            assert child.amount * cs == pytest.approx(3.0)
            assert child.price == 99.99 and child.filled == 0.0
            await v.executor.stop_parents(symbol)

    asyncio.run(main())
