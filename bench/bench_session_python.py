"""FeedSession from Python: the cost of one ``on_message`` call above the C++ path, and the batch
entry point ``on_messages``, on the real Binance USD-M BTCUSDT capture (2024-07-19, every
message: depth, trade and bookTicker; the book synced on 2024-07-18 beforehand, untimed).

Paths, each over the same 60,570 messages on a session in the same state:
- replay: ``FeedSession.replay(buffer)``, the loop in C++ (the C++ path, plus line splitting);
- on_messages: one call for every frame (frames and times converted, then the GIL released);
- on_message: one Python call per frame (``for raw, ts in msgs: on_message(raw, ts)``).

Run ``python bench/bench_session_python.py`` for the per-call figures (best of ROUNDS), or
``pytest bench/bench_session_python.py`` for the pytest-benchmark groups.
"""

from __future__ import annotations

import gc
import gzip
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from confluex import Engine, FeedSession, Instrument, Venue

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "hftbacktest" / "usdm_2024-07"
ROUNDS = 7


@cache
def capture() -> tuple[bytes, bytes, list[bytes], list[int]]:
    """(warm-up day, timed day, its frames, their receive times)."""
    warm = gzip.open(DATA / "btcusdt_20240718.gz").read()
    day = gzip.open(DATA / "btcusdt_20240719.gz").read()
    frames, stamps = [], []
    for line in day.splitlines():
        ts, _, msg = line.partition(b" ")
        frames.append(msg)
        stamps.append(int(ts))
    return warm, day, frames, stamps


def synced_session() -> tuple[FeedSession, Engine, int]:
    warm = capture()[0]
    engine = Engine()
    sym = engine.add_symbol("BTCUSDT", Instrument("0.1", "0.001"))
    session = FeedSession(engine, Venue.binance_futures)
    session.add_symbol("BTCUSDT", sym)
    session.replay(warm)
    assert not session.needs_snapshot(sym)
    return session, engine, sym


def run_replay(state: tuple[FeedSession, Engine, int]) -> None:
    state[0].replay(capture()[1])


def run_on_messages(state: tuple[FeedSession, Engine, int]) -> None:
    _, _, frames, stamps = capture()
    state[0].on_messages(frames, stamps)


def run_on_message(state: tuple[FeedSession, Engine, int]) -> None:
    _, _, frames, stamps = capture()
    on_message = state[0].on_message
    for raw, ts in zip(frames, stamps, strict=True):
        on_message(raw, ts)


def check(state: tuple[FeedSession, Engine, int]) -> tuple[Any, ...]:
    session, engine, sym = state
    assert not session.needs_snapshot(sym)
    health = session.health(sym)
    assert health.desyncs == 0 and health.ticker_mismatches == 0
    return engine.best_bid(sym), engine.best_ask(sym), engine.score(sym)


PATHS: dict[str, Callable[[tuple[FeedSession, Engine, int]], None]] = {
    "replay": run_replay,
    "on_messages": run_on_messages,
    "on_message": run_on_message,
}


@pytest.mark.benchmark(group="session-python-path")
@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
def test_session_python_path(benchmark: Any, path: str) -> None:
    state = benchmark.pedantic(PATHS[path], setup=lambda: ((synced_session(),), {}), rounds=3)
    del state
    ref = synced_session()
    run_replay(ref)
    got = synced_session()
    PATHS[path](got)
    assert check(got) == check(ref)


def best_ns(fn: Callable[[tuple[FeedSession, Engine, int]], None]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        state = synced_session()
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter_ns()
            fn(state)
            best = min(best, time.perf_counter_ns() - t0)
        finally:
            gc.enable()
        check(state)
    return best


def main() -> int:
    n = len(capture()[2])
    t = {name: best_ns(fn) / n for name, fn in PATHS.items()}
    print(f"USD-M BTCUSDT 2024-07-19: {n} messages, best of {ROUNDS} rounds, ns per message")
    for name, ns in t.items():
        print(f"  {name:12s}: {ns:8.1f}")
    print(f"on_message above the C++ path (replay) : {t['on_message'] - t['replay']:8.1f} ns/call")
    print(
        f"on_messages above the C++ path (replay): {t['on_messages'] - t['replay']:8.1f} ns/frame"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
