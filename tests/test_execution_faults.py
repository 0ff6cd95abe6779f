"""Execution under faults: crash, lost exits, late-landing requests, unknown state, journal.

Every scenario runs ccxt's real binance class against the loopback simulator
(tests/venue_sim.py), with the fault injected at the venue or in the process: a real SIGKILL
of a child process, requests that are lost, land late or stall, a journal on a full disk.
The invariant checked throughout: no double size, nothing unprotected, nothing forgotten.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import logging
import os
import signal
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import venue_sim as sim_mod
from confluex.trading import ConfigError, Rejection, RejectReason, load_config
from confluex.trading.execution import ExecutionSettings, Executor, Position
from confluex.trading.paper_venue import PaperExchange, PaperMarket
from confluex.trading.store import JournalError, OrderJournal
from confluex.trading.types import Side
from execution_helpers import (
    FAST,
    KEY,
    SECRET,
    binance,
    intent,
    journal_entry,
    posts,
    run,
    venue,
)

TESTS = Path(__file__).resolve().parent
CHILD = TESTS / "execution_crash_child.py"
eventually = sim_mod.eventually


def stops(sim: Any, status: str = "NEW") -> list[Any]:
    return [o for o in sim.orders.values() if o.type == "STOP_LOSS" and o.status == status]


def bought(sim: Any) -> float:
    return sum(o.executed for o in sim.orders.values() if o.side == "BUY")


# ---------------------------------------------------------------------- 1. crash
@pytest.mark.parametrize("held_post", [1, 2], ids=("entry_in_flight", "stop_in_flight"))
def test_sigkill_mid_entry_restart_rebuilds_the_position_with_its_stop(
    tmp_path: Path, held_post: int
) -> None:
    """SIGKILL while the entry (1) or its stop (2) is at the venue, response not yet back."""
    journal_path = tmp_path / "orders.jsonl"

    async def main() -> None:
        sim = sim_mod.BinanceSpotSim(KEY, SECRET, {"USDT": 10_000.0, "BTC": 0.0})
        await sim.start()
        sim.delay_order_response_s, sim.delay_posts = 60.0, {held_post}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHILD),
            sim.base_url,
            str(journal_path),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await eventually(lambda: sim.orders_accepted == held_post, timeout=60.0)
            child.send_signal(signal.SIGKILL)
            killed_rc = await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        sim.delay_order_response_s = 0.0
        ex = binance(sim.base_url)
        try:
            journal = OrderJournal(journal_path)
            executor = Executor(ex, settings=FAST, journal=journal, live=True)
            await executor.start()
            pos = executor.positions.get("BTC/USDT")
            again = await executor.open(intent(stop=95.0))
            journal.close()
        finally:
            await ex.close()
            await sim.stop()

        assert killed_rc == -signal.SIGKILL
        assert isinstance(pos, Position) and pos.amount == pytest.approx(9.99)
        assert (
            isinstance(again, Rejection)
            and again.reason is RejectReason.POSITION_OPEN
            and "already open" in again.detail
        )
        assert bought(sim) == pytest.approx(10.0)  # one entry, not two
        live_stops = stops(sim)
        assert [(o.qty, o.stop_price) for o in live_stops] == [(pytest.approx(9.99), 95.0)]
        assert pos.stop_order_id == str(live_stops[0].order_id)
        assert executor.unreconciled == frozenset()

    run(main)


# ---------------------------------------------------------------------- 2. protection kept
@pytest.mark.parametrize("via", ["close", "kill_switch"])
@pytest.mark.parametrize("stop_mode", ["native", "client"])
def test_exit_lost_and_lookup_stalled_keeps_the_position_protected(
    stop_mode: str, via: str
) -> None:
    async def main() -> None:
        settings = dataclasses.replace(FAST, stop_mode=stop_mode, max_attempts=2)
        async with venue(settings=settings, timeout_ms=300) as (sim, _ex, executor, _fills):
            await executor.open(intent(stop=95.0))
            sim.drop_next, sim.stall_lookups = 1, True  # the exit is lost, lookups hang
            if via == "close":
                res: Any = await executor.close("BTC/USDT")
            else:
                res = await executor.kill_switch("test")
            assert res  # a Rejection (close) or a list with one (kill switch)
            assert "BTC/USDT" in executor.positions
            if stop_mode == "native":
                assert [(o.qty, o.stop_price) for o in stops(sim)] == [(pytest.approx(9.99), 95.0)]
            else:
                client_stop = executor.client_stops.get("BTC/USDT")
                assert client_stop is not None and client_stop.stop_price == 95.0
            assert "BTC/USDT" in executor.unreconciled

            sim.stall_lookups = False  # the venue answers again; the price falls through 95
            sim.set_book("BTCUSDT", [(94.0, 50.0)], [(94.1, 50.0)])
            await executor.sync()
            await executor.on_price("BTC/USDT", 94.0, 94.1)

            assert executor.positions == {}
            assert sim.held("BTC") == pytest.approx(0.0, abs=1e-9)
            assert bought(sim) == pytest.approx(10.0)

    run(main)


# ---------------------------------------------------------------------- 3. late landing
@pytest.mark.parametrize(
    "land_delay_s", [0.6, 0.15], ids=("lands_after_recv_window", "lands_before_lookup")
)
def test_timed_out_entry_that_lands_late_is_never_filled_twice(land_delay_s: float) -> None:
    async def main() -> None:
        async with venue(timeout_ms=100) as (sim, _ex, executor, _fills):
            sim.late_next, sim.land_delay_s = 1, land_delay_s
            pos = await executor.open(intent())
            await asyncio.sleep(land_delay_s + 0.2)  # let the held request land

            sent = posts(sim)
            assert isinstance(pos, Position) and pos.amount == pytest.approx(9.99)
            assert bought(sim) == pytest.approx(10.0)
            assert sim.orders_accepted == 1
            assert {p["recvWindow"] for p in sent} == {"250"}
            assert len({p["newClientOrderId"] for p in sent}) == 1
            assert sim.late_refused == (1 if land_delay_s > 0.25 else 0)

    run(main)


def test_lookup_grace_not_above_recv_window_is_refused_naming_both_keys() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"execution": {"recv_window_ms": 10000, "lookup_grace_s": 1.0}})

    assert info.value.key == "execution.lookup_grace_s"
    assert "lookup_grace_s=1" in str(info.value) and "recv_window_ms=10000" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("recv_window_ms", 70000, "execution.recv_window_ms must be in [1, 60000], was 70000"),
        ("max_attempts", 0, "execution.max_attempts must be >= 1, was 0"),
        ("client_id_prefix", "c-x", "execution.client_id_prefix must be 1 to 12"),
        ("stop_mode", "magic", "execution.stop_mode must be"),
    ],
    ids=("recv_window", "attempts", "prefix", "stop_mode"),
)
def test_bad_execution_setting_names_the_key_and_value(key: str, value: Any, needle: str) -> None:
    with pytest.raises(ConfigError, match="execution") as info:
        load_config({"execution": {key: value}})

    assert info.value.key == f"execution.{key}" and needle in str(info.value)


# ---------------------------------------------------------------------- 4. unknown state
def test_acked_entry_whose_polls_all_time_out_is_kept_and_reconciled() -> None:
    async def main() -> None:
        settings = dataclasses.replace(FAST, max_attempts=2, fill_timeout_s=0.2)
        async with venue(settings=settings, timeout_ms=200) as (sim, _ex, executor, _fills):
            sim.ack_only_next, sim.stall_lookups = 1, True
            first = await executor.open(intent(stop=95.0))
            held_back = await executor.open(intent(stop=95.0))  # still unknown: refused
            posts_while_unknown = sim.order_posts

            sim.stall_lookups = False
            await executor.sync()
            pos = executor.positions.get("BTC/USDT")
            third = await executor.open(intent(stop=95.0))

            assert isinstance(first, Rejection) and "unknown" in first.detail
            assert (
                isinstance(held_back, Rejection)
                and held_back.reason is RejectReason.NOT_RECONCILED
                and "not reconciled" in held_back.detail
            )
            assert posts_while_unknown == 1
            assert isinstance(pos, Position) and pos.amount == pytest.approx(9.99)
            assert [(o.qty, o.stop_price) for o in stops(sim)] == [(pytest.approx(9.99), 95.0)]
            assert isinstance(third, Rejection) and "already open" in third.detail
            assert bought(sim) == pytest.approx(10.0)

    run(main)


# ---------------------------------------------------------------------- 5. journal
def test_torn_last_line_is_cut_off_and_the_next_record_survives_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.jsonl"
    first = OrderJournal(path)
    journal_entry(first, "cfxaaaa")
    first.close()
    with open(path, "ab") as fh:
        fh.write(b'{"event":"intent","client_order_id":"cfxtorn","sym')  # crash mid-write

    second = OrderJournal(path)
    journal_entry(second, "cfxbbbb")
    second.close()
    third = OrderJournal(path)
    third.close()

    assert third.get("cfxaaaa") is not None and third.get("cfxbbbb") is not None
    assert third.get("cfxtorn") is None
    assert [json.loads(line)["client_order_id"] for line in path.read_text().splitlines()] == [
        "cfxaaaa",
        "cfxbbbb",
    ]


def test_corrupt_record_before_the_last_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text('{"event":"flat","symbol":"X"}\nnot json\n{"event":"flat","symbol":"Y"}\n')

    with pytest.raises(JournalError, match="line 2"):
        OrderJournal(path)


def test_new_journal_file_has_its_directory_entry_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_dirs: list[bool] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced_dirs.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    OrderJournal(tmp_path / "new" / "orders.jsonl").close()

    assert synced_dirs == [True]


class _FullDisk:
    """A journal file on a disk that fills up: writes half of the record, then ENOSPC."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: Any) -> int:
        self.real.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return int(self.real.fileno())

    def close(self) -> None:
        self.real.close()


def test_order_whose_intent_cannot_be_journaled_is_never_sent(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"

    async def main() -> None:
        journal = OrderJournal(path)
        async with venue(journal=journal) as (sim, _ex, executor, _fills):
            real = journal._fh
            journal._fh = _FullDisk(real)
            refused = await executor.open(intent(stop=95.0))
            sent_on_full_disk = sim.order_posts
            journal._fh = real  # space freed
            pos = await executor.open(intent(stop=95.0))

            assert isinstance(refused, Rejection) and "journal" in refused.detail
            assert sent_on_full_disk == 0
            assert isinstance(pos, Position)
        journal.close()

    run(main)
    lines = path.read_text().splitlines()
    reopened = OrderJournal(path)
    reopened.close()

    assert all(json.loads(line) for line in lines)  # no fragment left behind
    assert [json.loads(line)["purpose"] for line in lines if '"intent"' in line] == [
        "entry",
        "stop",
    ]
    assert reopened.open_symbols() == ["BTC/USDT"]


# ---------------------------------------------------------------------- 6. fee in base
def test_entry_found_by_lookup_books_the_base_fee_and_exits_what_is_held() -> None:
    async def main() -> None:
        async with venue(timeout_ms=300) as (sim, _ex, executor, _fills):
            sim.delay_order_response_s, sim.delay_posts = 1.0, {1}  # entry found by lookup
            pos = await executor.open(intent(stop=95.0))
            assert isinstance(pos, Position)
            booked, stop_mode = pos.amount, pos.stop_mode
            native = [(o.qty, o.stop_price) for o in stops(sim)]
            closed = await executor.close("BTC/USDT")

            assert booked == pytest.approx(9.99)
            assert stop_mode == "native" and native == [(pytest.approx(9.99), 95.0)]
            assert closed is None and executor.positions == {}
            assert sim.held("BTC") == pytest.approx(0.0, abs=1e-9)

    run(main)


# ---------------------------------------------------------------------- 7. verbose output
def test_ccxt_verbose_output_never_shows_the_key_or_secret(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with venue(verbose=True) as (_sim, _ex, executor, _fills):
            await executor.open(intent(stop=95.0))
            await executor.close("BTC/USDT")

    caplog.set_level(logging.DEBUG)
    run(main)
    out, err = capfd.readouterr()
    text = out + err + caplog.text

    assert "fetch Request" in out and "X-MBX-APIKEY" in out  # verbose really printed
    assert KEY not in text and SECRET not in text


def test_execution_settings_come_from_the_validated_config() -> None:
    example = load_config(TESTS.parent / "config" / "confluex.example.toml").execution
    conservative = load_config(preset="conservative").execution

    assert example == ExecutionSettings()
    assert (conservative.recv_window_ms, conservative.lookup_grace_s) == (10000, 12.0)


def test_restart_on_a_derivative_adopts_the_reduce_only_stop_and_sizes_from_the_venue(
    tmp_path: Path,
) -> None:
    """Derivatives: the position comes back from fills, capped by the venue's contracts."""
    path = tmp_path / "orders.jsonl"

    async def main() -> None:
        book = ([(99.99, 100.0)], [(100.01, 100.0)])
        perp = PaperMarket(
            "BTC/USDT:USDT", "BTC", "USDT", kind="swap", amount_step=0.001, min_amount=0.001
        )
        ex = PaperExchange([perp], lambda s: book, balances={"USDT": 10_000.0}, clock=lambda: 0)
        first_journal = OrderJournal(path)
        first = Executor(ex, settings=FAST, journal=first_journal)
        await first.start()
        await first.open(intent(side=Side.SELL, symbol="BTC/USDT:USDT", stop=105.0))
        first_journal.close()  # the process is gone; the venue keeps its state

        journal = OrderJournal(path)
        restarted = Executor(ex, settings=FAST, journal=journal)
        await restarted.start()
        pos = restarted.positions.get("BTC/USDT:USDT")
        again = await restarted.open(intent(side=Side.SELL, symbol="BTC/USDT:USDT"))
        opens = await ex.fetch_open_orders("BTC/USDT:USDT")
        journal.close()

        assert isinstance(pos, Position) and pos.direction == "short"
        assert pos.amount == pytest.approx(10.0)
        assert [(o["id"], o["reduceOnly"], o["stopLossPrice"]) for o in opens] == [
            (pos.stop_order_id, True, 105.0)
        ]
        assert isinstance(again, Rejection) and "already open" in again.detail

    run(main)
