"""The threaded engine (confluex.pipeline): shards on their own threads fed through the rings.

Real captures only (hftbacktest spot and USD-M BTCUSDT); the Bybit frames are hand-written
minimal v5 messages, named as such.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import ConfluenceResult, Instrument, InvalidConfig, LineFormat, Venue
from confluex._core.session import SyncPhase
from confluex.feeds.files import replay
from confluex.markets import Scale
from confluex.pipeline import (
    Collector,
    ErrorCode,
    OutKind,
    PushStatus,
    ResyncReason,
    ShardedEngine,
    UniverseSymbol,
    WaitPolicy,
    out_record_dtype,
    record_error,
    score_universe,
)

SPOT = ("spot/btcusdt_20240808.gz", "0.01", "0.00000001")
USDM = ("usdm_2024-07/btcusdt_20240718.gz", "0.1", "0.001")
# A minimal hand-written Bybit v5 order book snapshot (not recorded data).
BYBIT_SNAPSHOT = (
    b'{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT",'
    b'"b":[["100.0","1.000"]],"a":[["100.5","2.000"]],"u":5,"seq":1}}'
)


def _same_result(a: ConfluenceResult | None, b: ConfluenceResult | None) -> bool:
    assert a is not None and b is not None
    keys = ("score", "score_raw", "direction", "confidence", "reliability", "has_data_mask")
    return all(getattr(a, k) == getattr(b, k) for k in keys) and a.components == b.components


def _lines(path: Path, n: int | None = None) -> list[tuple[int, bytes]]:
    out = []
    with gzip.open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if n is not None and i >= n:
                break
            ts, _, msg = line.rstrip(b"\n").partition(b" ")
            out.append((int(ts), msg))
    return out


def test_out_record_dtype_matches_the_cpp_layout() -> None:
    dt = out_record_dtype
    assert dt.itemsize == 128
    offsets = {name: dt.fields[name][1] for name in dt.names}
    assert offsets == {
        "ts_ns": 0,
        "recv_ns": 8,
        "done_ns": 16,
        "symbol_id": 24,
        "kind": 28,
        "direction": 29,
        "phase": 30,
        "code": 31,
        "count": 32,
        "mid_px": 40,
        "score": 48,
        "score_raw": 56,
        "confidence": 64,
        "reliability": 72,
        "components": 80,
    }
    assert dt.fields["components"][0].shape == (6,)


@pytest.mark.parametrize("threads", [1, 2], ids=("one_shard", "two_shards"))
def test_threaded_replay_equals_single_threaded_replay(hft_data: Path, threads: int) -> None:
    paths = [hft_data / SPOT[0], hft_data / USDM[0]]

    single = replay(paths)
    sharded = replay(paths, threads=threads)

    assert len(single.series) > 1000 and len(single.signals) > 10
    assert sharded.series.dtype == single.series.dtype
    assert sharded.series.tobytes() == single.series.tobytes()
    assert sharded.signals.tobytes() == single.signals.tobytes()
    assert sharded.messages == single.messages
    assert sharded.parser_errors == single.parser_errors
    for name, rep in single.symbols.items():
        other = sharded.symbols[name]
        assert other.symbol_id == rep.symbol_id
        assert _same_result(other.result, rep.result)
        assert other.health == rep.health
        assert other.stats.book_messages == rep.stats.book_messages
    assert sharded.sharded is not None
    stats = sharded.sharded.stats()
    assert [s.symbols for s in stats] == ([2] if threads == 1 else [1, 1])
    assert sum(s.input_dropped + s.output_dropped for s in stats) == 0


def test_threaded_replay_refuses_hooks_and_bad_thread_counts(hft_data: Path) -> None:
    path = hft_data / SPOT[0]
    with pytest.raises(ValueError, match="threads must be in"):
        replay([path], threads=0)
    with pytest.raises(ValueError, match="drop --speed"):
        replay([path], threads=2, speed=1.0)


def test_cli_replay_threads_rejects_paper(capsys: pytest.CaptureFixture[str]) -> None:
    from confluex.cli import main

    assert main(["replay", "--threads", "2", "--paper", "--no-progress"]) != 0
    assert "--threads cannot be combined with --paper" in capsys.readouterr().err


def test_input_overflow_is_counted_and_resyncs_the_symbol(hft_data: Path) -> None:
    frames = _lines(hft_data / USDM[0], 3000)
    eng = ShardedEngine(1, input_chunks=1024, spin_us=0)  # 64 KiB: a burst overflows it
    sym = eng.add_symbol(Venue.binance_futures, "BTCUSDT", Instrument(USDM[1], USDM[2]))
    eng.start()
    statuses = [eng.push(Venue.binance_futures, msg, ts) for ts, msg in frames]
    eng.finish()
    records = eng.drain()

    dropped = statuses.count(PushStatus.dropped)
    assert dropped > 0
    assert eng.stats()[0].input_dropped == dropped
    resyncs = records[records["kind"] == OutKind.resync]
    assert len(resyncs) >= 1
    assert set(resyncs["symbol_id"]) == {sym}
    assert set(resyncs["code"]) == {ResyncReason.overflow}
    assert int(resyncs["count"].sum()) == dropped  # every lost frame is reported
    assert eng.stats()[0].overflow_resyncs == len(resyncs)
    assert eng.needs_snapshot(sym)  # no snapshot followed the last resync


def test_engine_error_on_one_frame_is_a_typed_record_and_the_shard_goes_on() -> None:
    eng = ShardedEngine(2)
    sym = eng.add_symbol(Venue.bybit, "BTCUSDT", Instrument("0.1", "0.001"), shard=1)
    eng.start()
    # Bybit books are snapshotted in-stream: the engine thread refuses a REST snapshot.
    assert eng.push_snapshot(sym, b'{"lastUpdateId":1,"bids":[],"asks":[]}', 1) == (
        PushStatus.accepted
    )
    assert eng.push(Venue.bybit, BYBIT_SNAPSHOT, 2) == PushStatus.accepted
    eng.finish()
    records = eng.drain()

    assert records["kind"][0] == OutKind.error
    assert records["code"][0] == ErrorCode.invalid_config
    err = record_error(records[0], eng.symbol_name(sym))
    assert isinstance(err, InvalidConfig)
    assert "bybit:BTCUSDT" in str(err)
    score = records[records["kind"] == OutKind.score]
    assert len(score) == 1 and score["mid_px"][0] == 100.25
    assert eng.stats()[1].errors == 1
    assert not eng.pipeline.failed


def test_asyncio_consumer_is_woken_by_the_eventfd() -> None:
    async def run() -> tuple[list[int], int]:
        eng = ShardedEngine(2)
        syms = [
            eng.add_symbol(Venue.bybit, s, Instrument("0.1", "0.001"), shard=i)
            for i, s in enumerate(("BTCUSDT", "ETHUSDT"))
        ]
        eng.start()
        got: list[int] = []
        done = asyncio.Event()
        calls = 0

        def on_records(recs: np.ndarray) -> None:
            nonlocal calls
            calls += 1
            got.extend(int(s) for s in recs["symbol_id"][recs["kind"] == OutKind.score])
            if len(got) >= 2:
                done.set()

        eng.attach(on_records)
        await asyncio.sleep(0.05)
        assert calls == 0  # nothing published: no callback, no polling task
        eng.push(Venue.bybit, BYBIT_SNAPSHOT, 1)
        eng.push(Venue.bybit, BYBIT_SNAPSHOT.replace(b"BTCUSDT", b"ETHUSDT"), 2)
        await asyncio.wait_for(done.wait(), 10)
        eng.close()
        assert sorted(got) == syms
        return got, calls

    _, calls = asyncio.run(run())
    assert calls >= 1


def test_blocking_drain_waits_and_returns_records() -> None:
    eng = ShardedEngine(1)
    eng.add_symbol(Venue.bybit, "BTCUSDT", Instrument("0.1", "0.001"))
    eng.start()
    t0 = time.monotonic()
    assert len(eng.drain(timeout=0.05)) == 0
    assert time.monotonic() - t0 >= 0.04
    eng.push(Venue.bybit, BYBIT_SNAPSHOT, 1)
    parts = [eng.drain(timeout=10)]  # returns at the first record; its two followers may lag
    while sum(map(len, parts)) < 3:
        parts.append(eng.drain(timeout=10))
    recs = np.concatenate(parts)
    # score, series point, SHORT crossing (the snapshot alone scores low), in that order
    assert list(recs["kind"]) == [OutKind.score, OutKind.point, OutKind.signal]
    with pytest.raises(InvalidConfig, match="engine threads run"):
        eng.engine_of(0)
    eng.close()
    with pytest.raises(InvalidConfig, match="finished"):
        eng.push(Venue.bybit, BYBIT_SNAPSHOT, 2)
    assert eng.result(0).score == pytest.approx(recs["score"][0])


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="shards must be in"):
        ShardedEngine(0)
    with pytest.raises(InvalidConfig, match="input_chunks must be a power of two"):
        ShardedEngine(1, input_chunks=1000)
    eng = ShardedEngine(2)
    with pytest.raises(ValueError, match="shard must be in"):
        eng.add_symbol(Venue.bybit, "BTCUSDT", Instrument("0.1", "0.001"), shard=2)
    with pytest.raises(TypeError, match="was str"):
        eng.start().push(Venue.bybit, "text", 1)  # type: ignore[arg-type]
    eng.close()


def test_wait_policy_is_configurable_and_checked() -> None:
    eng = ShardedEngine(1)
    cfg = eng.config
    # The documented default: a live feed keeps its shard hot.
    assert cfg.wait == WaitPolicy.spin_yield
    assert (cfg.spin_ns, cfg.park_ns, cfg.warm_ns) == (0, 1_000_000_000, 100_000)
    eng.close()
    eng = ShardedEngine(1, wait="busy_poll", spin_us=5, park_ms=2, warm_us=0)
    cfg = eng.config
    assert cfg.wait == WaitPolicy.busy_poll
    assert (cfg.spin_ns, cfg.park_ns, cfg.warm_ns) == (5_000, 2_000_000, 0)
    eng.close()
    with pytest.raises(ValueError, match="wait must be one of busy_poll, spin_yield, blocking"):
        ShardedEngine(1, wait="sleepy")
    with pytest.raises(ValueError, match="park_ms must be in"):
        ShardedEngine(1, park_ms=-1)
    with pytest.raises(ValueError, match="warm_us must be in"):
        ShardedEngine(1, warm_us=float("nan"))


@pytest.mark.parametrize("wait", ["busy_poll", "spin_yield", "blocking"])
def test_every_wait_policy_scores_identically(hft_data: Path, wait: str) -> None:
    data = b"".join(b"%d %s\n" % (ts, msg) for ts, msg in _lines(hft_data / USDM[0], 3000))
    inst = Instrument(USDM[1], USDM[2])
    ref_engine = confluex.Engine(confluex.engine_config())
    session = confluex.FeedSession(ref_engine, Venue.binance_futures)
    session.add_symbol("BTCUSDT", ref_engine.add_symbol("u", inst))
    session.replay(data)
    want = session.series()

    eng = ShardedEngine(1, lossless=True, emit_scores=False, wait=wait, warm_us=1.0)
    sym = eng.add_symbol(Venue.binance_futures, "BTCUSDT", inst)
    eng.start()
    collector = Collector(eng)
    eng.feed_lines(Venue.binance_futures, data)
    eng.finish()
    records = collector.join()
    points = records[(records["kind"] == OutKind.point) & (records["symbol_id"] == sym)]
    assert len(want) > 20
    assert points["ts_ns"].tolist() == want["ts_ns"].tolist()
    assert points["score"].tobytes() == want["score"].tobytes()
    if wait == "busy_poll":
        assert eng.stats()[0].sleeps == 0  # never blocks (spin_yield does on a busy core)


def test_score_universe_captures_each_symbols_error(hft_data: Path, tmp_path: Path) -> None:
    spot = UniverseSymbol(
        Venue.binance_spot, "BTCUSDT", Instrument(SPOT[1], SPOT[2]), hft_data / SPOT[0]
    )
    usdm = UniverseSymbol(
        Venue.binance_futures, "BTCUSDT", Instrument(USDM[1], USDM[2]), hft_data / USDM[0]
    )
    missing = UniverseSymbol(
        Venue.binance_spot, "ETHUSDT", Instrument("0.01", "0.0001"), tmp_path / "none.gz"
    )
    bad_name = UniverseSymbol(Venue.bybit, "BTC USDT", Instrument("0.1", "0.001"), b"")
    universe = [spot, missing, usdm, bad_name]

    outcomes = score_universe(universe, shards=2, batch_size=2)

    assert [o.name for o in outcomes] == [u.name for u in universe]
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert isinstance(outcomes[1].errors[0], OSError | ValueError)
    assert isinstance(outcomes[3].errors[0], InvalidConfig)
    single = replay([hft_data / SPOT[0], hft_data / USDM[0]])
    for out, label in ((outcomes[0], "BTCUSDT"), (outcomes[2], "BTCUSDT-PERP")):
        assert _same_result(out.result, single.symbols[label].result)
        assert out.health == single.symbols[label].health
        assert len(out.series) == int(
            np.count_nonzero(single.series["symbol_id"] == single.symbols[label].symbol_id)
        )


def test_feed_lines_counts_what_it_pushed(hft_data: Path) -> None:
    data = gzip.open(hft_data / SPOT[0]).read()
    eng = ShardedEngine(1, lossless=True, emit_scores=False)
    eng.add_symbol(Venue.binance_spot, "BTCUSDT", Instrument(SPOT[1], SPOT[2]))
    eng.start()
    from confluex.pipeline import Collector

    col = Collector(eng)
    n = eng.feed_lines(Venue.binance_spot, data, LineFormat.NsPrefixed)
    eng.finish()
    records = col.join()
    assert n == data.count(b"\n")
    assert eng.stats()[0].frames == n
    assert np.count_nonzero(records["kind"] == OutKind.point) > 100


def test_facade_exports_the_threaded_engine() -> None:
    assert confluex.ShardedEngine is ShardedEngine
    assert confluex.score_universe is score_universe


def test_a_rest_snapshot_that_syncs_the_book_is_followed_by_a_score_record(
    hft_data: Path,
) -> None:
    # The capture's REST snapshot (line 8) pushed as a live feed pushes it, between its frames.
    path, tick, lot = SPOT
    lines = _lines(hft_data / path, 400)
    (at,) = [i for i, (_, msg) in enumerate(lines) if b"lastUpdateId" in msg]
    snap_ts, snap = lines[at]
    ref = confluex.Engine()
    rsym = ref.add_symbol("BTCUSDT", Instrument(tick, lot))
    session = confluex.FeedSession(ref, Venue.binance_spot)
    session.add_symbol("BTCUSDT", rsym)
    eng = ShardedEngine(2, lossless=True, wait="blocking")
    sym = eng.add_symbol(Venue.binance_spot, "BTCUSDT", Instrument(tick, lot), shard=1)
    eng.start()
    for i, (ts, msg) in enumerate(lines):
        if i == at:
            assert eng.push_snapshot(sym, snap, ts) == PushStatus.accepted
            session.on_snapshot(rsym, snap, ts)
            after_snapshot = ref.result(rsym)
            px = Scale.ticks(ref.instrument(rsym))
            bid, ask = ref.best_bid(rsym), ref.best_ask(rsym)
            assert bid is not None and ask is not None  # the snapshot filled both sides
            mid = (px(bid[0]) + px(ask[0])) / 2.0
        else:
            assert eng.push(Venue.binance_spot, msg, ts) == PushStatus.accepted
            session.on_message(msg, ts)
    eng.finish()
    recs = eng.drain()

    scores = recs[recs["kind"] == OutKind.score]
    (k,) = np.flatnonzero((recs["kind"] == OutKind.score) & (recs["code"] == 1))
    rec = recs[k]
    (answer,) = np.flatnonzero(recs["kind"] == OutKind.snapshot)  # the push's own answer
    assert recs[answer]["code"] == 1 and k < answer  # (series points may come between)
    assert not np.any(recs[k + 1 : answer]["kind"] == OutKind.score)
    assert int(rec["ts_ns"]) == snap_ts and int(rec["symbol_id"]) == sym
    assert rec["phase"] == SyncPhase.synced.value
    assert rec["score"] == after_snapshot.score and rec["score_raw"] == after_snapshot.score_raw
    assert rec["mid_px"] == mid
    assert np.all(recs[:k][recs[:k]["kind"] == OutKind.score]["phase"] != rec["phase"])
    # every stream message that changed the symbol, plus the snapshot; the latency is the
    # stream frames' only
    health = session.health(rsym)
    assert len(scores) == health.depth_messages + health.trade_messages + 1
    assert eng.latency()["count"] == len(scores) - 1
    assert scores[-1]["score"] == ref.score(rsym)
