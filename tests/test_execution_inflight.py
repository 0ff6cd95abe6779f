"""Entries in flight count against the risk limits: concurrent entries on different symbols.

Each symbol has its own lock, so entries on two symbols run concurrently; an entry's exposure
is reserved from its risk check until its outcome is known, so the second entry is checked
against the first as if it had filled. ccxt's real binance class against the loopback
Binance spot simulator (tests/venue_sim.py) with a second market, ETH/USDT; the venue holds
back its order answers so that the entries overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import venue_sim as sim_mod
from confluex.trading import Rejection, RejectReason
from confluex.trading.algos import ParentOrder
from confluex.trading.execution import ExecutionSettings, Executor, Position
from confluex.trading.orders import Unresolved
from confluex.trading.risk import RiskLimits, RiskManager
from execution_helpers import FAST, KEY, SECRET, binance, intent, run

BTC, ETH = "BTC/USDT", "ETH/USDT"


@asynccontextmanager
async def two_markets(
    max_active: int,
    *,
    usdt: float = 10_000.0,
    settings: ExecutionSettings = FAST,
    timeout_ms: int = 2000,
    max_symbol: float = 20_000.0,
    max_total: float | None = None,
) -> AsyncIterator[tuple[Any, Executor]]:
    """An Executor with ``max_active_positions=max_active`` (and the notional limits given)
    on a venue listing BTC and ETH."""
    sim = sim_mod.BinanceSpotSim(KEY, SECRET, {"USDT": usdt, "BTC": 0.0, "ETH": 0.0})
    sim.symbols["ETHUSDT"] = sim_mod.SimSymbol("ETHUSDT", "ETH", "USDT")
    sim.books["ETHUSDT"] = ([(49.99, 100.0)], [(50.01, 100.0)])
    await sim.start()
    ex = binance(sim.base_url, timeout_ms=timeout_ms)
    try:
        limits = RiskLimits(
            max_active_positions=max_active,
            max_order_notional=min(max_symbol, 10_000.0),
            max_symbol_notional=max_symbol,
            max_total_notional=max_total,
        )
        risk = RiskManager(limits)
        executor = Executor(ex, settings=settings, risk=risk, live=True)
        await executor.start()
        yield sim, executor
    finally:
        await ex.close()
        await sim.stop()


def one_opened_one_refused(results: list[Position | Rejection], detail: str) -> Position:
    """The opened position of two concurrent entries of which the risk limit (its message
    holding ``detail``) refused exactly one."""
    opened = [r for r in results if isinstance(r, Position)]
    refused = [r for r in results if isinstance(r, Rejection)]
    assert len(opened) == 1 and len(refused) == 1
    assert refused[0].reason is RejectReason.RISK_LIMIT
    assert detail in refused[0].detail
    return opened[0]


async def both(executor: Executor) -> list[Position | Rejection]:
    """Open 1000 USDT of BTC and of ETH concurrently."""
    return list(
        await asyncio.gather(
            executor.open(intent(quote=1000.0, price=100.0, symbol=BTC)),
            executor.open(intent(quote=1000.0, price=50.0, symbol=ETH)),
        )
    )


def test_concurrent_entries_on_two_symbols_open_one_position_under_a_limit_of_one() -> None:
    async def main() -> None:
        async with two_markets(max_active=1) as (sim, executor):
            sim.delay_order_response_s = 0.3  # both entries are in flight together
            opened = one_opened_one_refused(await both(executor), "max_active_positions is 1")
            assert sim.orders_accepted == 1  # the refused entry was never sent
            assert list(executor.positions) == [opened.symbol]
            assert executor.exposures() == {opened.symbol: opened.notional}

    run(main)


def test_concurrent_entries_on_two_symbols_both_open_under_a_limit_of_two() -> None:
    async def main() -> None:
        async with two_markets(max_active=2) as (sim, executor):
            sim.delay_order_response_s = 0.3
            results = await both(executor)

            assert all(isinstance(r, Position) for r in results), results
            assert sorted(executor.positions) == [BTC, ETH]
            assert sim.orders_accepted == 2

    run(main)


def test_entry_refused_by_the_venue_releases_its_reservation() -> None:
    async def main() -> None:
        # 1500 USDT cannot pay for 2000 USDT of BTC: the venue refuses the order (-2010)
        async with two_markets(max_active=1, usdt=1500.0) as (sim, executor):
            refused = await executor.open(intent(quote=2000.0, price=100.0, symbol=BTC))
            assert isinstance(refused, Rejection) and not isinstance(refused, Position)
            assert sim.order_posts == 1 and sim.orders_accepted == 0  # refused by the venue
            assert "insufficient balance" in refused.detail.lower()
            assert executor.exposures() == {}

            later = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            assert isinstance(later, Position) and later.symbol == ETH

    run(main)


def test_entry_with_unknown_state_keeps_its_reservation_until_reconciled() -> None:
    async def main() -> None:
        settings = dataclasses.replace(FAST, max_attempts=2)
        async with two_markets(max_active=1, settings=settings, timeout_ms=300) as (
            sim,
            executor,
        ):
            sim.drop_next, sim.stall_lookups = 1, True  # the entry is lost, lookups hang
            unknown = await executor.open(intent(quote=1000.0, price=100.0, symbol=BTC))
            assert isinstance(unknown, Unresolved)
            assert executor.unreconciled == frozenset({BTC})
            assert executor.exposures() == {BTC: pytest.approx(1000.0)}

            blocked = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            assert isinstance(blocked, Rejection)
            assert "max_active_positions is 1" in blocked.detail

            sim.stall_lookups = False  # the venue answers: the entry never reached it
            await executor.sync()
            assert executor.unreconciled == frozenset()
            assert executor.exposures() == {}

            later = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            assert isinstance(later, Position) and later.symbol == ETH

    run(main)


def test_close_is_not_blocked_by_an_entry_in_flight() -> None:
    async def main() -> None:
        async with two_markets(max_active=2) as (sim, executor):
            first = await executor.open(intent(quote=1000.0, price=100.0, symbol=BTC))
            assert isinstance(first, Position)
            sim.delay_order_response_s, sim.delay_posts = 0.3, {2}  # the ETH entry is held
            entry = asyncio.create_task(executor.open(intent(quote=1000.0, price=50.0, symbol=ETH)))
            await sim_mod.eventually(lambda: sim.order_posts == 2)
            assert ETH in executor.exposures() and ETH not in executor.positions

            closed = await executor.close(BTC)
            assert closed is None and BTC not in executor.positions
            assert isinstance(await entry, Position)

    run(main)


def test_working_parent_counts_at_its_whole_amount() -> None:
    from test_algos import state, strategy  # the algos tests' TWAP on the simulator's book

    async def main() -> None:
        async with two_markets(max_active=2) as (sim, executor):
            parent = await executor.open_parent(intent(symbol=BTC), strategy("twap"), state(sim, 0))
            assert isinstance(parent, ParentOrder) and parent.active
            assert 0 < parent.filled < parent.amount  # the first slice only
            whole = parent.amount * parent.arrival_price
            assert executor.exposures() == {BTC: pytest.approx(whole)}

            await executor.stop_parents(BTC)  # what it filled stays, as a position
            booked = executor.positions[BTC].notional
            assert booked < whole and executor.exposures() == {BTC: pytest.approx(booked)}

    run(main)


def test_cancelled_entry_leaves_its_symbol_unreconciled_until_the_venue_says_what_filled() -> None:
    async def main() -> None:
        async with two_markets(max_active=1) as (sim, executor):
            sim.delay_order_response_s, sim.delay_posts = 0.5, {1}  # the answer is held
            entry = asyncio.create_task(
                executor.open(intent(quote=1000.0, price=100.0, symbol=BTC))
            )
            await sim_mod.eventually(lambda: sim.order_posts == 1)  # the order is at the venue
            entry.cancel()  # e.g. the process shutting down
            with contextlib.suppress(asyncio.CancelledError):
                await entry
            # The order may have filled: no new entry on BTC, and its reservation holds the slot.
            assert executor.unreconciled == frozenset({BTC})
            assert executor.exposures() == {BTC: pytest.approx(1000.0)}
            blocked = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            assert isinstance(blocked, Rejection) and "max_active_positions is 1" in blocked.detail

            await executor.sync()  # the venue filled it: booked and protected, not forgotten
            assert executor.unreconciled == frozenset()
            pos = executor.positions[BTC]
            assert pos.amount > 0 and executor.exposures() == {BTC: pytest.approx(pos.notional)}
            assert sim.orders_accepted == 1  # nothing sent twice

    run(main)


# ---------------------------------------------------------------------- the gross exposure cap

# Each entry (1000) is well under its symbol's cap (1200); two together pass the total (1500).
TOTAL_CAPPED: dict[str, Any] = {"max_active": 5, "max_symbol": 1_200.0, "max_total": 1_500.0}


def test_second_symbol_entry_is_refused_when_the_total_would_pass_max_total_notional() -> None:
    async def main() -> None:
        async with two_markets(**TOTAL_CAPPED) as (sim, executor):
            first = await executor.open(intent(quote=1000.0, price=100.0, symbol=BTC))
            assert isinstance(first, Position)
            second = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            smaller = await executor.open(intent(quote=400.0, price=50.0, symbol=ETH))

            assert isinstance(second, Rejection) and not isinstance(second, Position)
            assert second.reason is RejectReason.RISK_LIMIT and second.symbol == ETH
            total = first.notional + 1000.0
            assert f"total notional {total:.2f}" in second.detail
            assert "would exceed max_total_notional 1500.00" in second.detail
            assert isinstance(smaller, Position)  # what still fits under the total passes
            assert sim.orders_accepted == 2  # the refused entry was never sent
            assert sum(executor.exposures().values()) <= 1_500.0

    run(main)


def test_concurrent_entries_on_two_symbols_count_against_the_total_while_in_flight() -> None:
    async def main() -> None:
        async with two_markets(**TOTAL_CAPPED) as (sim, executor):
            sim.delay_order_response_s = 0.3  # both entries are in flight together
            opened = one_opened_one_refused(await both(executor), "max_total_notional 1500.00")
            assert sim.orders_accepted == 1
            assert executor.exposures() == {opened.symbol: opened.notional}

    run(main)


def test_working_parent_counts_its_whole_amount_against_the_total() -> None:
    from test_algos import state, strategy

    async def main() -> None:
        async with two_markets(**TOTAL_CAPPED) as (sim, executor):
            parent = await executor.open_parent(intent(symbol=BTC), strategy("twap"), state(sim, 0))
            assert isinstance(parent, ParentOrder) and 0 < parent.filled < parent.amount
            # booked so far: one slice; the parent can still buy the rest of its 1000
            refused = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            assert isinstance(refused, Rejection) and not isinstance(refused, Position)
            assert "max_total_notional" in refused.detail

            await executor.stop_parents(BTC)  # what it filled stays, the rest is free again
            assert executor.positions[BTC].notional < 500.0
            again = await executor.open(intent(quote=1000.0, price=50.0, symbol=ETH))
            assert isinstance(again, Position), again

    run(main)
