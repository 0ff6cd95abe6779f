"""Fees charged in a third currency (neither base nor quote): Binance's BNB discount.

A venue that charges the fee in BNB reports ``commissionAsset: BNB``; ccxt passes the fee on
as ``{"currency": "BNB", "cost": ...}``. One BNB is not one USDT: the ledger values the fee at
the venue's BNB/USDT price (``OrderRouter.conversion_rate``, cached for ``RATE_TTL_MS``), and
where the venue lists no such market it keeps the fee per currency in
``Position.unpriced_fees`` instead of booking BNB as quote. Either way the account holds every
base unit bought: the fee is not taken from the amount.

ccxt's real binance class against the loopback Binance spot simulator (tests/venue_sim.py),
which charges 0.075 % of each fill's quote value in BNB at a price it is given.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import venue_sim as sim_mod
from confluex.trading.algos import ParentOrder
from confluex.trading.execution import Executor, FillEvent, Position
from confluex.trading.fills import RATE_TTL_MS
from confluex.trading.risk import RiskLimits, RiskManager
from execution_helpers import FAST, KEY, SECRET, binance, intent, run, state, strategy

BNB_PRICE = 600.0
BNB_FEE_RATE = 0.001 * 0.75  # 0.1 % taker, 25 % off when paid in BNB


@asynccontextmanager
async def bnb_venue(
    *, list_bnb: bool = True, clock_ms: list[int] | None = None
) -> AsyncIterator[tuple[Any, Executor, list[FillEvent], RiskManager]]:
    sim = sim_mod.BinanceSpotSim(KEY, SECRET, {"USDT": 10_000.0, "BTC": 0.0, "BNB": 10.0})
    sim.pay_fees_in_bnb(BNB_PRICE, list_bnb=list_bnb)
    await sim.start()
    ex = binance(sim.base_url)
    fills: list[FillEvent] = []
    risk = RiskManager(RiskLimits(), clock=lambda: 0)
    kwargs: dict[str, Any] = {} if clock_ms is None else {"clock": lambda: clock_ms[0]}
    try:
        executor = Executor(ex, settings=FAST, risk=risk, live=True, on_fill=fills.append, **kwargs)
        await executor.start()
        yield sim, executor, fills, risk
    finally:
        await ex.close()
        await sim.stop()


def bought(pos: Position | Any) -> Position:
    assert isinstance(pos, Position), pos
    return pos


def test_a_bnb_fee_is_booked_at_the_bnb_price_and_the_position_holds_every_btc_bought() -> None:
    async def scenario() -> None:
        async with bnb_venue() as (sim, executor, fills, risk):
            pos = bought(await executor.open(intent(quote=1000.0, price=100.01)))
            (fill,) = fills
            notional = fill.filled_amount * fill.average_fill_price  # ~1000 USDT at the ask
            fee_bnb = notional * BNB_FEE_RATE / BNB_PRICE  # what the venue charged: ~0.00125

            assert sim.free["BNB"] == pytest.approx(10.0 - fee_bnb)
            assert fill.fee_currency == "BNB"
            # booked in USDT at 600 USDT/BNB: ~0.75 USDT, not 0.00125 "USDT"
            assert fill.fee_cost == pytest.approx(fee_bnb * BNB_PRICE)
            assert pos.fees == pytest.approx(notional * BNB_FEE_RATE)
            assert risk.daily_pnl == pytest.approx(-notional * BNB_FEE_RATE)
            assert pos.amount == pytest.approx(fill.filled_amount)  # nothing taken from BTC
            assert pos.amount == pytest.approx(sim.free["BTC"])
            assert pos.unpriced_fees == {}
            assert sim.ticker_requests == 1

    run(scenario)


def test_the_bnb_price_is_reused_within_its_ttl_and_fetched_again_after() -> None:
    clock = [1_000_000]

    async def scenario() -> None:
        async with bnb_venue(clock_ms=clock) as (sim, executor, fills, _):
            bought(await executor.open(intent(quote=1000.0, price=100.01)))
            await executor.close("BTC/USDT")
            assert executor.positions == {} and len(fills) == 2
            assert sim.ticker_requests == 1  # the exit's fee used the cached price
            clock[0] += RATE_TTL_MS
            bought(await executor.open(intent(quote=1000.0, price=100.01)))
            assert sim.ticker_requests == 2
            assert [f.fee_currency for f in fills] == ["BNB"] * 3
            for f in fills:
                notional = f.filled_amount * f.average_fill_price
                assert f.fee_cost == pytest.approx(notional * BNB_FEE_RATE)

    run(scenario)


def test_a_bnb_fee_without_a_bnb_market_is_kept_unpriced_not_booked_as_usdt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        async with bnb_venue(list_bnb=False) as (sim, executor, fills, risk):
            pos = bought(await executor.open(intent(quote=1000.0, price=100.01)))
            (fill,) = fills
            fee_bnb = fill.filled_amount * fill.average_fill_price * BNB_FEE_RATE / BNB_PRICE

            assert sim.ticker_requests == 0  # no BNB/USDT market: nothing to ask
            assert pos.unpriced_fees == {"BNB": pytest.approx(fee_bnb)}
            assert pos.fees == 0.0 and fill.fee_cost == 0.0 and risk.daily_pnl == 0.0
            assert pos.amount == pytest.approx(fill.filled_amount)

    with caplog.at_level(logging.WARNING, logger="confluex.trading.fills"):
        run(scenario)
    warned = [r.getMessage() for r in caplog.records if "unpriced" in r.getMessage()]
    assert len(warned) == 1 and "BNB/USDT" in warned[0]


def test_a_parent_order_reports_its_childrens_bnb_fees_in_usdt() -> None:
    async def scenario() -> None:
        async with bnb_venue() as (sim, executor, fills, _):
            t0 = 1_000_000
            twap = strategy("twap", horizon_s=10.0)
            parent = await executor.open_parent(intent(stop=95.0), twap, state(sim, t0))
            assert isinstance(parent, ParentOrder)
            for k in range(1, 13):
                await executor.step_parents("BTC/USDT", state(sim, t0 + k * 1000))
            (report,) = executor.parent_reports()

            assert report.status == "filled" and len(fills) == 10
            assert {f.fee_currency for f in fills} == {"BNB"}
            assert report.fees == pytest.approx(sum(f.fee_cost for f in fills))
            # each child's commission is reported to 8 decimals of BNB (~1e-4 of it)
            paid = report.filled * report.average_price * BNB_FEE_RATE
            assert report.fees == pytest.approx(paid, rel=1e-4)
            assert executor.positions["BTC/USDT"].amount == pytest.approx(report.filled)

    run(scenario)
