"""Execution algorithms: the selection from the score, and parent orders that really trade.

The schedulers run inside the Executor against ccxt's real ``binance`` class aimed at the
loopback venue simulator (tests/venue_sim.py), including a real SIGKILL of a child process
mid-schedule and the kill switch mid-schedule; and on a real replay (the USD-M capture of
2024-07-18) with the paper venue. The market volume fed to the simulator scenarios is
synthetic (named so: ``synthetic_volume``); the replay's is the engine's, from the capture.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import itertools
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import venue_sim as sim_mod
from confluex import Engine, hft
from confluex.cli import main
from confluex.engine import engine_config
from confluex.feeds.files import replay
from confluex.replay_trader import PaperTrader
from confluex.trading import load_config
from confluex.trading.algos import (
    ExecutionAlgorithmConfluence,
    MarketState,
    ParentOrder,
    child_client_id,
)
from confluex.trading.execution import Executor
from confluex.trading.store import OrderJournal
from execution_helpers import (
    FAST,
    KEY,
    SECRET,
    binance,
    intent,
    posts,
    run,
    state,
    strategy,
    venue,
)

TESTS = Path(__file__).resolve().parent
CHILD = TESTS / "algo_crash_child.py"
USDM = TESTS / "data/hftbacktest/usdm_2024-07/btcusdt_20240718.gz"
eventually = sim_mod.eventually
CLIENT = dataclasses.replace(FAST, stop_mode="client")

# Written against the reference system's formula (profile "reference"), not the default.
REFERENCE = engine_config(profile="reference")


def children(sim: Any, parent: ParentOrder) -> list[Any]:
    return [o for o in sim.orders.values() if o.client_order_id.startswith(parent.parent_id)]


def bought(sim: Any) -> float:
    return sum(o.executed for o in sim.orders.values() if o.side == "BUY")


# ---------------------------------------------------------------------- selection
def test_selection_keeps_the_notes_thresholds_and_fills_its_gaps() -> None:
    sel = ExecutionAlgorithmConfluence()
    strong = {"signal_strength": 0.9, "directional_bias": 0.9, "reliability": 0.8}
    s = sel.strategy({"side": "buy", "arrival_price": 100.0, "half_spread_bps": 0.5}, strong)

    assert (s.algorithm, s.algo, s.urgency, s.participation_rate) == (
        "aggressive_twap",
        "twap",
        "high",
        0.3,
    )
    assert s.time_horizon_s == pytest.approx(60.0 * (1 - 0.45))
    assert s.price_limit_bps == pytest.approx(0.5 + 10.0 * 0.9 * 0.8)
    assert s.price_limit == pytest.approx(100.0 * (1 + s.price_limit_bps / 1e4))
    assert s.urgency_value == pytest.approx(0.72)
    medium = {"signal_strength": 0.6, "directional_bias": 0.6, "reliability": 0.6}
    assert sel.strategy({"side": "buy"}, medium).algorithm == "adaptive_vwap"
    assert sel.strategy({"side": "buy"}, medium).participation_rate == 0.2


def test_a_bias_against_the_order_is_never_urgent() -> None:
    """The note ignored the side: a strong bearish score made a buy urgent (seed bug)."""
    sel = ExecutionAlgorithmConfluence()
    bearish = {"signal_strength": 0.9, "directional_bias": -0.9, "reliability": 0.9}

    buy = sel.strategy({"side": "buy", "arrival_price": 100.0}, bearish)
    sell = sel.strategy({"side": "sell", "arrival_price": 100.0}, bearish)
    note = sel.strategy({}, bearish)  # no side: the note's |bias| reading

    assert (buy.urgency, buy.algorithm, buy.participation_rate, buy.aligned) == (
        "low",
        "passive_participation",
        0.1,
        False,
    )
    assert buy.price_limit_bps == 1.0 and buy.urgency_value == 0.0
    assert (sell.urgency, sell.participation_rate) == ("high", 0.3)
    assert sell.price_limit == pytest.approx(100.0 * (1 - sell.price_limit_bps / 1e4))
    assert note.urgency == "high"


def test_horizon_leaves_time_to_fill_at_the_participation_rate() -> None:
    sel = ExecutionAlgorithmConfluence()
    scores = {"signal_strength": 0.2, "directional_bias": 0.2, "reliability": 0.9}

    quick = sel.strategy({"side": "buy", "amount": 1.0, "volume_rate": 10.0}, scores)
    slow = sel.strategy({"side": "buy", "amount": 500.0, "volume_rate": 1.0}, scores)

    assert quick.time_horizon_s == pytest.approx(900.0 * 0.9)
    assert slow.time_horizon_s == 3600.0  # 500 / (0.1 * 1) s, capped at max_horizon_s


@pytest.mark.parametrize(
    ("scores", "needle"),
    [
        ({"signal_strength": math.nan, "directional_bias": 0.0, "reliability": 1}, "signal_str"),
        ({"signal_strength": 0.5, "directional_bias": 1.5, "reliability": 1}, "directional_bias"),
        ({"signal_strength": 0.5, "directional_bias": 0.1, "reliability": -1}, "reliability"),
    ],
    ids=("nan_strength", "bias_out_of_range", "negative_reliability"),
)
def test_bad_scores_raise_naming_the_value(scores: dict[str, float], needle: str) -> None:
    """The note's comparisons read NaN as 'low' silently."""
    with pytest.raises(ValueError, match=needle) as info:
        ExecutionAlgorithmConfluence().strategy({"side": "buy"}, scores)

    assert "was" in str(info.value)


def test_hft_facade_is_the_same_selection() -> None:
    comp = hft.ConfluenceComponent()
    comp.directional_bias, comp.signal_strength, comp.reliability = -0.9, 0.9, 0.8

    got = hft.ExecutionAlgorithmConfluence.determine_execution_strategy({"side": "buy"}, comp)

    assert got["urgency"] == "low" and got["time_horizon_s"] == 900.0  # strength counts 0


# ---------------------------------------------------------------------- simulator
def test_twap_trades_the_parent_in_equal_children_and_protects_what_it_holds() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, fills):
            t0 = 1_000_000
            parent = await executor.open_parent(
                intent(stop=95.0), strategy("twap", horizon_s=10.0), state(sim, t0)
            )
            assert isinstance(parent, ParentOrder)
            first = [o.qty for o in children(sim, parent)]
            for k in range(1, 13):
                await executor.step_parents("BTC/USDT", state(sim, t0 + k * 1000))
            report = executor.parent_reports()[0]

            kids = children(sim, parent)
            assert first == [pytest.approx(1.0)]  # slice 0 goes at the start
            assert [o.client_order_id for o in kids] == [
                child_client_id(parent.parent_id, k) for k in range(10)
            ]
            assert all(o.qty == pytest.approx(1.0) and o.type == "LIMIT" for o in kids)
            assert bought(sim) == pytest.approx(10.0)
            assert report.status == "filled" and report.filled == pytest.approx(10.0)
            assert report.average_price == pytest.approx(100.01)
            assert report.slippage_bps == pytest.approx(1.0)  # half the 2 bp spread
            pos = executor.positions["BTC/USDT"]
            assert pos.amount == pytest.approx(9.99)  # the base fee of every child
            live = [o for o in sim.orders.values() if o.type == "STOP_LOSS" and o.status == "NEW"]
            assert [(o.qty, o.stop_price) for o in live] == [(pytest.approx(9.99), 95.0)]
            assert sum(f.filled_amount for f in fills) == pytest.approx(10.0)
            assert executor.parents() == []

    run(main)


@pytest.mark.parametrize(
    "land_delay_s", [0.6, 0.15], ids=("lands_after_recv_window", "lands_before_lookup")
)
def test_timed_out_child_that_lands_late_is_never_filled_twice(land_delay_s: float) -> None:
    """A child's request held by the network: the router's late-landing rules apply."""

    async def main() -> None:
        async with venue(settings=CLIENT, timeout_ms=100) as (sim, _ex, executor, _fills):
            sim.late_next, sim.land_delay_s = 1, land_delay_s
            parent = await executor.open_parent(intent(), strategy("twap"), state(sim, 0))
            await asyncio.sleep(land_delay_s + 0.2)  # let the held request land
            assert isinstance(parent, ParentOrder)

            sent = [p["newClientOrderId"] for p in posts(sim)]
            assert set(sent) == {child_client_id(parent.parent_id, 0)}  # resent, same id
            assert sim.orders_accepted == 1 and bought(sim) == pytest.approx(1.0)
            assert parent.filled == pytest.approx(1.0)
            assert sim.late_refused == (1 if land_delay_s > 0.25 else 0)

    run(main)


def test_parent_that_cannot_be_journaled_sends_no_child(tmp_path: Path) -> None:
    from test_execution_faults import _FullDisk  # a disk that fills up mid-record

    path = tmp_path / "orders.jsonl"

    async def main() -> None:
        journal = OrderJournal(path)
        async with venue(settings=CLIENT, journal=journal) as (sim, _ex, executor, _fills):
            real = journal._fh
            journal._fh = _FullDisk(real)
            refused = await executor.open_parent(intent(), strategy("twap"), state(sim, 0))
            sent_on_full_disk = sim.order_posts
            journal._fh = real  # space freed
            parent = await executor.open_parent(intent(), strategy("twap"), state(sim, 0))

            assert refused.reason.value == "order failed" and "journal" in refused.detail  # type: ignore[union-attr]
            assert sent_on_full_disk == 0 and executor.parent_reports()[0].children == 1
            assert isinstance(parent, ParentOrder)
        journal.close()

    run(main)
    reopened = OrderJournal(path)
    reopened.close()

    (journaled,) = reopened.open_parents()  # only the parent that started survives
    assert [e.client_order_id for e in reopened.children(journaled.parent_id)] == [
        child_client_id(journaled.parent_id, 0)
    ]


def test_twap_never_pays_past_the_price_limit() -> None:
    async def main() -> None:
        async with venue(settings=CLIENT) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(
                intent(), strategy("twap", limit=100.05), state(sim, 0)
            )
            assert isinstance(parent, ParentOrder)
            sim.set_book("BTCUSDT", [(100.5, 10.0)], [(100.6, 10.0)])  # runs away
            for k in range(1, 13):
                await executor.step_parents("BTC/USDT", state(sim, k * 1000))

            assert bought(sim) == pytest.approx(1.0)  # only the first slice, at 100.01
            assert all(o.price <= 100.05 for o in children(sim, parent))
            report = executor.parent_reports()[0]
            assert report.status == "expired" and parent.skipped_at_limit >= 10

    run(main)


def test_ac_front_loads_with_urgency_and_sums_to_the_parent() -> None:
    async def main() -> None:
        async with venue(settings=CLIENT) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(
                intent(), strategy("ac", urgency=1.0), state(sim, 0)
            )
            assert isinstance(parent, ParentOrder)
            for k in range(1, 13):
                await executor.step_parents("BTC/USDT", state(sim, k * 1000))

            sizes = [o.executed for o in children(sim, parent)]
            assert sum(sizes) == pytest.approx(10.0)
            assert sizes[0] > 1.0 > sizes[-1]  # kappa T = 6: far more early than TWAP's 1.0
            # non-increasing, but for the last child: it takes the tail (x_9 = 0.03 BTC,
            # 3 USDT) that the venue's 5 USDT minimum would leave untradeable
            assert all(a >= b - 1e-9 for a, b in itertools.pairwise(sizes[:-1]))
            assert sizes[-1] == pytest.approx(10 * math.sinh(1.2) / math.sinh(6.0), abs=2e-5)

    run(main)


def test_vwap_follows_the_market_volume_under_the_participation_cap() -> None:
    async def main() -> None:
        async with venue(settings=CLIENT) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(
                intent(), strategy("vwap", rate=0.25, horizon_s=20.0), state(sim, 0, 0.0, 2.0)
            )
            assert isinstance(parent, ParentOrder)
            synthetic_volume = 0.0
            done = []
            for k in range(1, 23):
                synthetic_volume += 2.0 if k < 10 else 0.0  # the market goes quiet at 10 s
                await executor.step_parents("BTC/USDT", state(sim, k * 1000, synthetic_volume, 2.0))
                done.append((synthetic_volume, parent.filled))

            for volume, filled in done[:19]:  # before the horizon: never above 25 %
                assert filled <= 0.25 * volume + 1e-9
            assert done[8][1] == pytest.approx(0.25 * 18.0)  # kept up while the market traded
            assert done[15][1] == done[9][1]  # nothing traded: nothing done
            assert bought(sim) == pytest.approx(10.0)  # the rest at the horizon
            assert executor.parent_reports()[0].status == "filled"

    run(main)


def test_pov_rests_post_only_at_the_touch_and_repegs_when_it_moves() -> None:
    async def main() -> None:
        async with venue(settings=CLIENT) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(
                intent(), strategy("pov", rate=0.5, horizon_s=60.0), state(sim, 0)
            )
            assert isinstance(parent, ParentOrder)
            await executor.step_parents("BTC/USDT", state(sim, 1000, 4.0))
            first = children(sim, parent)
            sim.set_book("BTCUSDT", [(100.00, 10.0)], [(100.02, 10.0)])  # bid moves up
            await executor.step_parents("BTC/USDT", state(sim, 2000, 4.0))
            sim.set_book("BTCUSDT", [(99.98, 10.0)], [(100.00, 10.0)])  # trades through us
            await executor.step_parents("BTC/USDT", state(sim, 3000, 4.0))

            sent = [p for p in posts(sim) if p["newClientOrderId"].startswith(parent.parent_id)]
            assert {p["type"] for p in sent} == {"LIMIT_MAKER"}  # maker-first, never taking
            assert [(o.price, o.qty) for o in first] == [(99.99, pytest.approx(2.0))]
            kids = children(sim, parent)
            assert kids[0].status == "CANCELED" and kids[1].price == 100.00
            assert kids[1].status == "FILLED" and parent.filled == pytest.approx(2.0)
            assert all(t["isMaker"] for t in sim.trades)

    run(main)


def test_kill_switch_mid_schedule_cancels_the_child_and_ends_the_parent() -> None:
    async def main() -> None:
        async with venue(settings=CLIENT) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(
                intent(stop=95.0), strategy("pov", rate=0.5), state(sim, 0)
            )
            assert isinstance(parent, ParentOrder)
            await executor.step_parents("BTC/USDT", state(sim, 1000, 4.0))
            sim.set_book("BTCUSDT", [(99.98, 10.0)], [(99.99, 10.0)])  # the child fills
            await executor.step_parents("BTC/USDT", state(sim, 2000, 8.0))  # a new child rests
            resting = [o for o in children(sim, parent) if o.status == "NEW"]

            left = await executor.kill_switch("test")
            await executor.step_parents("BTC/USDT", state(sim, 3000, 20.0))

            assert len(resting) == 1 and left == []
            assert resting[0].status == "CANCELED"
            assert all(o.status != "NEW" for o in sim.orders.values())
            assert parent.status == "killed" and executor.parents() == []
            assert executor.positions == {} and sim.held("BTC") == pytest.approx(0.0, abs=1e-9)
            assert len(children(sim, parent)) == 2  # nothing sent after the kill
            journal = executor._journal  # the parent's end is durable: never resumed
            assert journal.open_parents() == []

    run(main)


def test_child_whose_state_is_unknown_at_the_kill_is_reconciled_and_its_fill_kept() -> None:
    """Kill switch while order lookups stall: the cancelled child's fills are not known."""

    async def main() -> None:
        settings = dataclasses.replace(CLIENT, max_attempts=2)
        async with venue(settings=settings, timeout_ms=300) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(intent(), strategy("pov", rate=0.5), state(sim, 0))
            assert isinstance(parent, ParentOrder)
            await executor.step_parents("BTC/USDT", state(sim, 1000, 4.0))  # 2 BTC rests
            sim.set_book("BTCUSDT", [(99.98, 10.0)], [(99.99, 1.0)])  # half of it trades
            sim.stall_lookups = True

            await executor.kill_switch("test")
            unknown = executor.unreconciled
            refused = await executor.open(intent())
            sim.stall_lookups = False
            await executor.sync()
            pos = executor.positions.get("BTC/USDT")
            held = pos.amount if pos is not None else None
            await executor.close("BTC/USDT")

            assert parent.status == "killed" and children(sim, parent)[0].status == "CANCELED"
            assert unknown == frozenset({"BTC/USDT"})
            assert refused.reason.value == "not reconciled"  # type: ignore[union-attr]
            assert held == pytest.approx(0.999)  # the child's fill is kept, then closed
            assert executor.positions == {} and sim.held("BTC") < 1e-5

    run(main)


@pytest.mark.parametrize("algo", ["twap", "vwap", "ac"])
def test_kill_switch_between_aggressive_children_ends_the_schedule(algo: str) -> None:
    async def main() -> None:
        async with venue(settings=CLIENT) as (sim, _ex, executor, _fills):
            parent = await executor.open_parent(
                intent(), strategy(algo, urgency=0.5), state(sim, 0, 0.0, 2.0)
            )
            assert isinstance(parent, ParentOrder)
            for k in (1, 2):
                await executor.step_parents("BTC/USDT", state(sim, k * 1000, 4.0 * k, 2.0))
            sent = len(children(sim, parent))
            held = sim.held("BTC")

            await executor.kill_switch("test")
            for k in range(3, 15):
                await executor.step_parents("BTC/USDT", state(sim, k * 1000, 4.0 * k, 2.0))

            assert sent >= 2 and 0 < held < 10.0  # mid-schedule
            assert len(children(sim, parent)) == sent  # nothing after the kill
            assert parent.status == "killed" and executor.parents() == []
            assert executor.positions == {} and sim.held("BTC") < 1e-5
            assert executor.parent_reports()[0].status == "killed"

    run(main)


async def crash_child(sim: Any, journal_path: Path, algo: str, killed_when: Any) -> int:
    """Run algo_crash_child.py against ``sim``; SIGKILL it once ``killed_when()`` holds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        sim.base_url,
        str(journal_path),
        algo,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await eventually(killed_when, timeout=60.0)
        child.send_signal(signal.SIGKILL)
        return await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


def test_sigkill_mid_twap_restart_resumes_without_duplicating_a_child(tmp_path: Path) -> None:
    """A real SIGKILL while child 1's response is held; restart reconciles and resumes."""
    journal_path = tmp_path / "orders.jsonl"

    async def main() -> None:
        sim = sim_mod.BinanceSpotSim(KEY, SECRET, {"USDT": 10_000.0, "BTC": 0.0})
        await sim.start()
        sim.delay_order_response_s, sim.delay_posts = 60.0, {2}
        killed_rc = await crash_child(sim, journal_path, "twap", lambda: sim.orders_accepted == 2)
        sim.delay_order_response_s = 0.0
        ex = binance(sim.base_url)
        try:
            journal = OrderJournal(journal_path)
            executor = Executor(ex, settings=CLIENT, journal=journal, live=True)
            await executor.start()
            resumed = executor.parents()
            filled_at_restart = resumed[0].filled if resumed else None

            async def market() -> MarketState:
                return state(sim, int(time.time() * 1000))

            if resumed:
                await executor.run_parent(resumed[0], market, interval_s=0.05)
            again = await executor.open(intent())
            journal.close()
        finally:
            await ex.close()
            await sim.stop()

        assert killed_rc == -signal.SIGKILL
        pid = resumed[0].parent_id
        before = [o for o in sim.orders.values() if o.client_order_id in (f"{pid}x0", f"{pid}x1")]
        # what children 0 and 1 filled (1 slice each, more if the child process lagged)
        assert len(resumed) == 1 and len(before) == 2
        assert filled_at_restart == pytest.approx(sum(o.executed for o in before))
        assert 5.0 - 1e-9 <= filled_at_restart < 10.0
        cids = [p["newClientOrderId"] for p in posts(sim)]
        assert len(cids) == len(set(cids))  # no child sent twice
        assert cids[:2] == [child_client_id(pid, 0), child_client_id(pid, 1)]
        assert bought(sim) == pytest.approx(10.0)  # the parent, exactly once
        assert resumed[0].status == "filled"
        assert executor.positions["BTC/USDT"].amount == pytest.approx(9.99)
        assert again.reason.value == "position already open"  # type: ignore[union-attr]
        assert journal.open_parents() == []

    run(main)


def test_sigkill_mid_pov_restart_cancels_the_resting_child_and_books_its_partial_fill(
    tmp_path: Path,
) -> None:
    """Killed while a post-only child rests; it half fills while the process is dead."""
    journal_path = tmp_path / "orders.jsonl"

    async def main() -> None:
        sim = sim_mod.BinanceSpotSim(KEY, SECRET, {"USDT": 10_000.0, "BTC": 0.0})
        await sim.start()

        def resting() -> list[Any]:
            return [o for o in sim.orders.values() if o.status == "NEW"]

        killed_rc = await crash_child(sim, journal_path, "pov", lambda: bool(resting()))
        child0 = resting()[0]
        half = round(child0.qty / 2, 5)
        sim.set_book("BTCUSDT", [(99.98, 10.0)], [(99.99, half)])  # trades half of it
        sim.set_book("BTCUSDT", [(99.99, 10.0)], [(100.01, 10.0)])
        ex = binance(sim.base_url)
        try:
            journal = OrderJournal(journal_path)
            executor = Executor(ex, settings=CLIENT, journal=journal, live=True)
            await executor.start()
            resumed = executor.parents()
            filled_at_restart = resumed[0].filled if resumed else None
            held_at_restart = executor.positions["BTC/USDT"].amount
            t0 = int(time.time() * 1000)
            await executor.step_parents("BTC/USDT", state(sim, t0, synthetic_volume=1e3))
            after_step = [o for o in sim.orders.values() if o.status == "NEW"]
            await executor.kill_switch("test")
            journal.close()
        finally:
            await ex.close()
            await sim.stop()

        assert killed_rc == -signal.SIGKILL
        assert child0.status == "CANCELED" and child0.executed == pytest.approx(half)
        assert len(resumed) == 1 and filled_at_restart == pytest.approx(half)
        assert held_at_restart == pytest.approx(half * 0.999)  # the base fee
        pid = resumed[0].parent_id
        assert child0.client_order_id == child_client_id(pid, 0)
        assert [o.client_order_id for o in after_step] == [child_client_id(pid, 1)]
        assert after_step[0].qty == pytest.approx(10.0 - half) and after_step[0].price == 99.99
        assert resumed[0].status == "killed" and after_step[0].status == "CANCELED"
        # flat: what is left is the base-fee dust under one 0.00001 lot
        assert executor.positions == {} and sim.held("BTC") < 1e-5

    run(main)


# ---------------------------------------------------------------------- real replay
ACTIVE: dict[str, Any] = {
    "confluence": {"thresholds": {"long": 65, "short": 35, "neutral_buffer": 3}},
    "monitor": {"cooldown_s": 5, "long_stop_pct": 0.02, "short_stop_pct": 0.02},
    "execution": {"algo_horizon_s": 30.0, "algo_slices": 6},
}


@pytest.mark.parametrize("algo", ["twap", "vwap", "pov", "ac"])
def test_each_algorithm_trades_parent_orders_on_a_real_replay(algo: str) -> None:
    engine = Engine(REFERENCE)
    trader = PaperTrader(engine, load_config(ACTIVE), algo=algo)
    replay([USDM], engine=engine, on_message=trader.on_message)
    report = trader.finish()
    trader.close()

    parents = report.parents
    assert parents, report.format()
    assert all(r.algo == algo for r in parents)
    traded = [r for r in parents if r.filled > 0]
    assert traded, report.format()
    for r in traded:
        assert r.slippage_bps is not None and math.isfinite(r.slippage_bps)
        assert r.market_volume > 0 and r.participation is not None and r.participation > 0
        assert r.filled <= r.amount + 1e-9
        assert r.end_ms - r.start_ms <= 30_000 + 2_000  # the horizon, and one step to end
    entries = sum(f.amount for f in report.fills if f.trade_type == "entry")
    assert entries == pytest.approx(sum(r.filled for r in parents), rel=1e-9)
    assert report.identity_error <= 1e-6 and not report.open_positions
    if algo == "pov":  # maker-first: every child fill pays the maker fee
        maker = trader.exchange._maker  # type: ignore[union-attr]
        for f in report.fills:
            if f.trade_type == "entry":
                assert f.fee == pytest.approx(f.price * f.amount * maker, rel=1e-9)


def test_metered_volume_is_the_captures_traded_volume() -> None:
    """The volume the schedulers see (what the engine's trade-flow windows took in) against
    the sum of the capture's trade quantities, read straight from the file."""
    engine = Engine()
    trader = PaperTrader(engine, load_config(), algo="vwap")
    replay([USDM], engine=engine, on_message=trader.on_message)
    metered = trader.market("BTC/USDT:USDT").volume
    gaps = trader.volume_gaps
    trader.close()
    traded = 0.0
    with gzip.open(USDM, "rt") as fh:
        for line in fh:
            if '"e":"trade"' in line:
                traded += float(json.loads(line.split(" ", 1)[1])["data"]["q"])

    assert traded > 50.0 and gaps == 0
    assert metered == pytest.approx(traded, rel=1e-9)  # every trade, once


def test_cli_replay_with_algo_prints_slippage_and_participation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "algo.toml"
    cfg.write_text(
        "[confluence.thresholds]\nlong = 65\nshort = 35\nneutral_buffer = 3\n"
        "[monitor]\ncooldown_s = 5\n"
        "[execution]\nalgo_horizon_s = 30.0\n"
    )

    code = main(["replay", str(USDM), "--paper", "--algo", "vwap", "--config", str(cfg)])

    out = capsys.readouterr().out
    assert code == 0
    assert "execution  vwap:" in out and "slippage" in out and "participation" in out


def test_config_chooses_the_algorithm_and_a_bad_one_names_the_key() -> None:
    from confluex.trading import ConfigError

    trader = PaperTrader(Engine(), load_config({"execution": {"algo": "pov"}}))
    trader.close()
    with pytest.raises(ConfigError) as info:
        load_config({"execution": {"algo": "iceberg"}})

    assert trader.algo == "pov"
    assert info.value.key == "execution.algo" and "iceberg" in str(info.value)
