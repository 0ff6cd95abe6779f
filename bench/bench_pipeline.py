"""The threaded engine (confluex.ShardedEngine) on the real captures.

- "pipeline-shards": a multi-symbol replay (hftbacktest spot BTCUSDT + USD-M BTCUSDT, the two
  files interleaved chunk by chunk) through 1 and 2 engine shards (lossless), against the
  single-threaded FeedSession replay of the same files (the reference), with the wait policy
  `replay --threads` uses (blocking). extra_info records msgs_per_s; the 2-shard / 1-shard
  ratio is the scaling. bench/cpp/bench_pipeline.cpp measures the same without Python.
- "pipeline-latency": every USD-M frame pushed one by one from Python (the socket reader's
  call) into a live-mode pipeline; the Score records carry the push time (steady clock), so
  extra_info gives raw frame -> score (engine thread) and raw frame -> consumer (drained by a
  thread blocked in drain(timeout)) as p50 / p99 / p99.9 in ns. Flat out, and paced with a
  fixed gap between frames, once with the live default wait policy (spin_yield: the shard
  stays hot between frames) and once with blocking (the shard sleeps between them). Paced
  runs are live-mode (a full ring drops, counts and resyncs; none may drop). Flat out, the
  pusher outruns a shard that takes longer per frame than a push, so those runs are lossless
  (the pusher waits for ring room; on a loaded machine the lossy mode dropped 715 of 20,000
  frames): their latency includes the time a frame waited in the ring.
  bench/cpp/bench_pipeline.cpp measures frame -> score at the recorded pace.

Run timed:   python -m pytest bench/bench_pipeline.py --benchmark-disable-gc
Run as test: python -m pytest bench/bench_pipeline.py --benchmark-disable
"""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from confluex import Engine, FeedSession, Instrument, LineFormat, SessionConfig, Venue
from confluex.pipeline import Collector, OutKind, ShardedEngine

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "hftbacktest"
SPOT = (DATA / "spot" / "btcusdt_20240808.gz", Venue.binance_spot, "0.01", "0.00000001")
USDM = (DATA / "usdm_2024-07" / "btcusdt_20240718.gz", Venue.binance_futures, "0.1", "0.001")
CHUNK = 1 << 18
CONFIG = SessionConfig(max_series_points=1 << 20, max_signals=1 << 20)


def _load(path: Path) -> bytes:
    with gzip.open(path, "rb") as fh:
        return fh.read()


def _chunks(data: bytes) -> list[bytes]:
    out, start = [], 0
    while start < len(data):
        cut = data.find(b"\n", min(len(data), start + CHUNK))
        end = len(data) if cut < 0 else cut + 1
        out.append(data[start:end])
        start = end
    return out


@pytest.fixture(scope="module")
def captures() -> list[tuple[Venue, str, str, list[bytes], int]]:
    out = []
    for path, venue, tick, lot in (SPOT, USDM):
        data = _load(path)
        out.append((venue, tick, lot, _chunks(data), data.count(b"\n")))
    return out


def _single(captures: list[tuple[Venue, str, str, list[bytes], int]]) -> int:
    engine = Engine()
    points = 0
    for venue, tick, lot, chunks, _ in captures:
        session = FeedSession(engine, venue, CONFIG)
        session.add_symbol("BTCUSDT", engine.add_symbol(venue.name, Instrument(tick, lot)))
        for c in chunks:
            session.replay(c)
        points += len(session.series())
    return points


def _sharded(captures: list[tuple[Venue, str, str, list[bytes], int]], shards: int) -> int:
    eng = ShardedEngine(
        shards, lossless=True, emit_scores=False, session_config=CONFIG, wait="blocking"
    )
    for i, (venue, tick, lot, _, _) in enumerate(captures):
        eng.add_symbol(venue, "BTCUSDT", Instrument(tick, lot), shard=i % shards)
    eng.start()
    collector = Collector(eng)
    longest = max(len(c[3]) for c in captures)
    for k in range(longest):  # interleaved, as two sockets would deliver them
        for venue, _, _, chunks, _ in captures:
            if k < len(chunks):
                eng.feed_lines(venue, chunks[k], LineFormat.NsPrefixed)
    eng.finish()
    records = collector.join()
    return int(np.count_nonzero(records["kind"] == OutKind.point))


def _msgs_per_s(benchmark: Any, n: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["msgs_per_s"] = round(n / stats.stats.median)


@pytest.mark.benchmark(group="pipeline-shards")
def test_single_threaded_session_reference(benchmark: Any, captures: Any) -> None:
    points = benchmark.pedantic(_single, args=(captures,), rounds=3, iterations=1)
    assert points > 1000
    _msgs_per_s(benchmark, sum(c[4] for c in captures))


@pytest.mark.benchmark(group="pipeline-shards")
@pytest.mark.parametrize("shards", [1, 2], ids=("1_shard", "2_shards"))
def test_sharded_replay(benchmark: Any, captures: Any, shards: int) -> None:
    points = benchmark.pedantic(_sharded, args=(captures, shards), rounds=3, iterations=1)
    assert points == _single(captures)  # the same series, whatever the sharding
    _msgs_per_s(benchmark, sum(c[4] for c in captures))


def _frames(path: Path, limit: int) -> list[tuple[int, bytes]]:
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            ts, _, msg = line.rstrip(b"\n").partition(b" ")
            out.append((int(ts), msg))
            if len(out) >= limit:
                break
    return out


def _percentiles(ns: np.ndarray) -> dict[str, float]:
    return {
        "p50": float(np.percentile(ns, 50)),
        "p99": float(np.percentile(ns, 99)),
        "p999": float(np.percentile(ns, 99.9)),
        "max": float(ns.max()),
    }


def _latency_run(frames: list[tuple[int, bytes]], gap_us: float, wait: str) -> dict[str, Any]:
    eng = ShardedEngine(1, wait=wait, lossless=gap_us == 0)
    sym = eng.add_symbol(Venue.binance_futures, "BTCUSDT", Instrument(USDM[2], USDM[3]))
    eng.start()
    seen: list[np.ndarray] = []
    arrival: list[np.ndarray] = []
    stop = threading.Event()

    def consume() -> None:
        while not (stop.is_set() and eng.pipeline.ended):
            recs = eng.drain(timeout=0.05)
            now = time.monotonic_ns()  # CLOCK_MONOTONIC, the clock of recv_ns on Linux
            recs = recs[recs["kind"] == OutKind.score]
            if len(recs):
                seen.append(recs)
                arrival.append(np.full(len(recs), now, np.int64))

    consumer = threading.Thread(target=consume)
    consumer.start()
    push, venue = eng.push, Venue.binance_futures
    for ts, msg in frames:
        push(venue, msg, ts)
        if gap_us:
            until = time.perf_counter() + gap_us / 1e6
            while time.perf_counter() < until:
                pass
    eng.finish()
    stop.set()
    consumer.join()
    recs = np.concatenate(seen)
    engine_ns = (recs["done_ns"] - recs["recv_ns"]).astype(np.float64)
    consumer_ns = (np.concatenate(arrival) - recs["recv_ns"]).astype(np.float64)
    assert set(recs["symbol_id"]) == {sym}
    assert eng.stats()[0].input_dropped == 0
    return {
        "engine": _percentiles(engine_ns),
        "consumer": _percentiles(consumer_ns),
        "n": len(recs),
    }


@pytest.mark.benchmark(group="pipeline-latency")
@pytest.mark.parametrize("wait", ["spin_yield", "blocking"])
@pytest.mark.parametrize("gap_us", [0.0, 200.0], ids=("flat_out", "paced_200us"))
def test_frame_to_score_latency(benchmark: Any, gap_us: float, wait: str) -> None:
    frames = _frames(USDM[0], 20_000 if gap_us == 0 else 5_000)
    out = benchmark.pedantic(_latency_run, args=(frames, gap_us, wait), rounds=1, iterations=1)
    assert out["n"] > 1000
    for stage in ("engine", "consumer"):
        for k, v in out[stage].items():
            benchmark.extra_info[f"{stage}_{k}_ns"] = round(v)
