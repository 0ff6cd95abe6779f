"""Speed gate: the C++ OrderBook must replay real Binance depth >= 20x faster than the
plain-Python reference book, on the same messages, measured in the same run.

Usage:
    python bench/gate_order_book.py              # prints ns/level and the ratio, exit 1 if < 20x
    python bench/gate_order_book.py --dump DIR   # also writes the int64 inputs for
                                                 # bench/cpp/bench_order_book.cpp

Times are best of N with time.perf_counter_ns (inputs converted beforehand, GC disabled).
The gated C++ path is the batch path (``apply_messages``: one call, loop in C++); the
one-call-per-message path is reported too.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_order_book import (
    Inputs,
    cpp_imbalance,
    replay_cpp_batch,
    replay_cpp_per_message,
    replay_reference,
    spot_replay,
)

MIN_RATIO = 20.0


def best_of(n: int, setup: Callable[[], Any], run: Callable[[Any], Any]) -> tuple[int, Any]:
    best = None
    out = None
    for _ in range(n):
        state = setup()
        t0 = time.perf_counter_ns()
        out = run(state)
        dt = time.perf_counter_ns() - t0
        best = dt if best is None else min(best, dt)
    assert best is not None
    return best, out


def per_call_ns(fn: Callable[[], Any], calls: int = 200_000, repeats: int = 5) -> float:
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        dt = (time.perf_counter_ns() - t0) / calls
        best = dt if best is None else min(best, dt)
    assert best is not None
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--dump", type=Path, help="write int64 inputs for the C++ microbench here")
    args = ap.parse_args()

    replay = spot_replay()
    inp = Inputs(replay)
    n = inp.n_levels
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for name, a in (
            ("snap_bids", replay.snapshot_bids),
            ("snap_asks", replay.snapshot_asks),
            ("levels", inp.levels),
            ("headers", inp.headers),
        ):
            np.ascontiguousarray(a, dtype=np.int64).tofile(args.dump / f"{name}.i64")
        (args.dump / "snap_id.txt").write_text(str(replay.snapshot_id))

    gc.disable()
    try:
        t_batch, book = best_of(
            args.rounds,
            inp.fresh_book,
            lambda b: replay_cpp_batch(b, inp.levels, inp.headers),
        )
        t_msg, book_msg = best_of(
            args.rounds, inp.fresh_book, lambda b: replay_cpp_per_message(b, inp.np_msgs)
        )
        t_ref, ref = best_of(
            max(2, args.rounds // 2),
            inp.fresh_reference,
            lambda r: replay_reference(r, inp.py_msgs),
        )
        top_ns = per_call_ns(lambda: book.top(10))
        imb_ns = per_call_ns(lambda: cpp_imbalance(book, 10), calls=50_000)
        ref_imb_ns = per_call_ns(lambda: ref.imbalance(10), calls=500, repeats=3)
    finally:
        gc.enable()

    # Same final book on every path.
    for b in (book, book_msg):
        assert b.in_sync
        assert b.best_bid() == ref.best_bid() and b.best_ask() == ref.best_ask()
        got = [x.tolist() for x in b.top(20)]
        assert got == [[list(lv) for lv in side] for side in ref.top(20)]
    assert cpp_imbalance(book, 10) == ref.imbalance(10)

    ratio = t_ref / t_batch
    print(f"messages {len(replay.messages)}, level updates {n}")
    print(f"C++ apply_messages (batch):  {t_batch / n:8.2f} ns/level  ({t_batch / 1e6:.2f} ms)")
    print(f"C++ apply_delta per message: {t_msg / n:8.2f} ns/level  ({t_msg / 1e6:.2f} ms)")
    print(f"Python reference dict book:  {t_ref / n:8.2f} ns/level  ({t_ref / 1e6:.2f} ms)")
    print(
        f"top(10) from Python: {top_ns:.0f} ns/call; + imbalance (numpy) {imb_ns:.0f} ns; "
        f"Python reference imbalance(10) {ref_imb_ns:.0f} ns"
    )
    print(
        f"speed-up batch vs Python: {ratio:.1f}x (per message: {t_ref / t_msg:.1f}x); "
        f"gate >= {MIN_RATIO:.0f}x"
    )
    if ratio < MIN_RATIO:
        print("GATE FAILED")
        return 1
    print("GATE PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
