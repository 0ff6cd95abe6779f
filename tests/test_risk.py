"""RiskLimits / RiskManager checks, daily PnL by the injected clock, and the kill switch."""

from __future__ import annotations

import asyncio
import math

import pytest
from confluex.trading import Rejection, RejectReason
from confluex.trading.execution import ExecutionSettings, Executor, Position
from confluex.trading.paper_venue import Level, PaperExchange, PaperMarket
from confluex.trading.risk import RiskLimits, RiskManager
from confluex.trading.types import OrderIntent, Side

DAY_MS = 86_400_000


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def manager(**limits: float) -> tuple[RiskManager, Clock]:
    clock = Clock(10 * DAY_MS + 1)
    return RiskManager(RiskLimits(**limits), clock=clock), clock  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("notional", "exposures", "needle"),
    [
        (2_000.0, {}, "max_order_notional"),
        (900.0, {"A": 1_500.0}, "max_symbol_notional"),
        (100.0, {"B": 1.0, "C": 1.0}, "max_active_positions"),
    ],
    ids=("order_notional", "symbol_notional", "active_positions"),
)
def test_limits_reject_opening_orders_with_a_reason(
    notional: float, exposures: dict[str, float], needle: str
) -> None:
    risk, _ = manager(
        max_order_notional=1_000.0, max_symbol_notional=2_000.0, max_active_positions=2
    )
    res = risk.check("A", notional, reduces=False, exposures=exposures)

    assert isinstance(res, Rejection) and needle in res.detail and res.symbol == "A"
    assert res.reason is RejectReason.RISK_LIMIT


def test_orders_within_limits_and_reducing_orders_pass() -> None:
    risk, _ = manager(max_order_notional=1_000.0, daily_loss_limit=100.0)
    ok = risk.check("A", 500.0, reduces=False, exposures={"A": 500.0})
    risk.record_fill(-150.0, 0.0)
    risk.halt("test")

    assert ok is None
    assert risk.check("A", 5_000.0, reduces=True, exposures={"A": 500.0}) is None
    assert isinstance(risk.check("A", 10.0, reduces=False, exposures={}), Rejection)


def test_daily_loss_limit_counts_fees_and_resets_at_utc_midnight() -> None:
    risk, clock = manager(daily_loss_limit=100.0)
    risk.record_fill(-90.0, 5.0)
    under = risk.check("A", 10.0, reduces=False, exposures={})
    risk.record_fill(0.0, 5.0)
    breached = risk.check("A", 10.0, reduces=False, exposures={})
    clock.ms = 11 * DAY_MS  # next UTC day
    next_day = risk.check("A", 10.0, reduces=False, exposures={})

    assert under is None
    assert (
        isinstance(breached, Rejection)
        and breached.reason is RejectReason.RISK_LIMIT
        and "daily loss" in breached.detail
    )
    assert next_day is None and risk.daily_pnl == 0.0


def test_order_rate_refuses_opening_orders_until_the_window_slides() -> None:
    risk, clock = manager(max_orders_per_window=3, order_window_ms=1_000)
    start = clock.ms
    for dt in (0, 200, 400):
        clock.ms = start + dt
        assert risk.check("A", 10.0, reduces=False, exposures={}) is None
        risk.record_order()
    full = risk.check("A", 10.0, reduces=False, exposures={})
    exit_ok = risk.check("A", 10.0, reduces=True, exposures={"A": 10.0})
    resting_ok = risk.check("A", 10.0, reduces=False, exposures={}, sending=False)
    risk.record_order()  # an exit is sent and counted: the window holds 200, 400, 400
    clock.ms = start + 1_000  # the order at 0 has left the window, the rest are in
    still_full = risk.check("A", 10.0, reduces=False, exposures={})
    clock.ms = start + 1_401  # every order has left
    free = risk.check("A", 10.0, reduces=False, exposures={})

    assert isinstance(full, Rejection) and full.reason is RejectReason.RISK_LIMIT
    assert "max_orders_per_window is 3" in full.detail and "last 1 s" in full.detail
    assert exit_ok is None and resting_ok is None
    assert isinstance(still_full, Rejection)
    assert free is None and risk.orders_in_window() == 0


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_active_positions"):
        RiskLimits(max_active_positions=0)
    with pytest.raises(ValueError, match="daily_loss_limit"):
        RiskLimits(daily_loss_limit=-1.0)
    for bad in (0.0, -5.0, math.nan):
        with pytest.raises(ValueError, match=f"max_total_notional must be > 0, was {bad}"):
            RiskLimits(max_total_notional=bad)


def test_total_notional_limit_caps_the_sum_over_symbols() -> None:
    # every symbol under its own cap (1000); the sum is what the total cap (2500) limits
    risk, _ = manager(max_symbol_notional=1_000.0, max_total_notional=2_500.0)
    book = {"A": 1_000.0, "B": 900.0}

    at_cap = risk.check("C", 600.0, reduces=False, exposures=book)
    over = risk.check("C", 600.5, reduces=False, exposures=book)
    adding = risk.check("B", 100.0, reduces=False, exposures={**book, "C": 600.0})
    exit_ = risk.check("A", 1_000.0, reduces=True, exposures={**book, "C": 600.0})
    unlimited, _ = manager(max_symbol_notional=1_000.0)
    five_caps = {s: 1_000.0 for s in "ABCD"}

    assert at_cap is None
    assert isinstance(over, Rejection) and over.reason is RejectReason.RISK_LIMIT
    assert over.symbol == "C"
    assert over.detail == "total notional 2500.50 would exceed max_total_notional 2500.00"
    assert isinstance(adding, Rejection) and "total notional 2600.00" in adding.detail
    assert exit_ is None  # reducing orders always pass
    # without the limit, five symbols at the per-symbol cap are five times that cap
    assert unlimited.check("E", 1_000.0, reduces=False, exposures=five_caps) is None


def _intent(symbol: str, side: Side = Side.BUY, tp: float | None = None) -> OrderIntent:
    return OrderIntent(symbol, side, 1_000.0, 100.0, None, tp, None, 80.0, 0, "test", "test")


def _paper(book: dict[str, tuple[list[Level], list[Level]]]) -> PaperExchange:
    markets = [
        PaperMarket(s, s.split("/")[0], "USDT", kind="swap" if ":" in s else "spot") for s in book
    ]
    return PaperExchange(markets, lambda s: book[s], balances={"USDT": 20_000.0}, clock=lambda: 0)


def _book(*symbols: str) -> dict[str, tuple[list[Level], list[Level]]]:
    return {s: ([(99.99, 100.0)], [(100.01, 100.0)]) for s in symbols}


async def _started(
    book: dict[str, tuple[list[Level], list[Level]]], risk: RiskManager
) -> tuple[PaperExchange, Executor]:
    ex = _paper(book)
    executor = Executor(ex, risk=risk, settings=ExecutionSettings(fill_poll_interval_s=0))
    await executor.start()
    return ex, executor


def test_kill_switch_cancels_orders_flattens_and_halts_until_reset() -> None:
    async def main() -> None:
        risk = RiskManager(RiskLimits(), clock=lambda: 0)
        ex, executor = await _started(_book("BTC/USDT", "ETH/USDT:USDT"), risk)
        await executor.open(_intent("BTC/USDT", tp=120.0))
        await executor.open(_intent("ETH/USDT:USDT", Side.SELL, tp=80.0))
        resting_before = len(await ex.fetch_open_orders())

        left = await executor.kill_switch("operator")
        refused = await executor.open(_intent("BTC/USDT"))
        risk.reset()
        reopened = await executor.open(_intent("BTC/USDT"))

        assert resting_before == 2
        assert left == []
        assert await ex.fetch_open_orders() == []  # the reopened position has no TP/stop
        assert await ex.fetch_positions() == []
        assert (
            isinstance(refused, Rejection)
            and refused.reason is RejectReason.HALTED
            and "halted" in refused.detail
        )
        assert isinstance(reopened, Position)

    asyncio.run(main())


def test_daily_loss_breach_triggers_the_kill_switch() -> None:
    async def main() -> None:
        book = _book("BTC/USDT:USDT", "ETH/USDT:USDT")
        risk = RiskManager(RiskLimits(daily_loss_limit=50.0), clock=lambda: 0)
        _, executor = await _started(book, risk)
        await executor.open(_intent("BTC/USDT:USDT"))
        await executor.open(_intent("ETH/USDT:USDT"))
        book["BTC/USDT:USDT"] = ([(90.0, 100.0)], [(90.1, 100.0)])  # -10 % on 10 BTC
        await executor.close("BTC/USDT:USDT")

        assert risk.halted
        assert executor.positions == {}  # ETH flattened by the kill switch
        assert risk.daily_pnl < -50.0

    asyncio.run(main())


def test_executor_counts_every_order_it_sends_against_the_order_rate() -> None:
    async def main() -> None:
        clock = Clock(0)
        risk = RiskManager(RiskLimits(max_orders_per_window=2, order_window_ms=10_000), clock=clock)
        _, executor = await _started(_book("BTC/USDT", "ETH/USDT"), risk)
        first = await executor.open(_intent("BTC/USDT", tp=120.0))  # entry + take profit
        sent = risk.orders_in_window()
        refused = await executor.open(_intent("ETH/USDT"))
        exited = await executor.close("BTC/USDT")  # an exit passes a full window
        clock.ms = 10_001
        later = await executor.open(_intent("ETH/USDT"))

        assert isinstance(first, Position) and sent == 2
        assert isinstance(refused, Rejection) and "max_orders_per_window" in refused.detail
        assert exited is None
        assert isinstance(later, Position)

    asyncio.run(main())
