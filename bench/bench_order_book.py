"""OrderBook benchmarks on the real Binance spot BTCUSDT diff-depth replay (2024-08-08/09).

Groups:
- ``book-apply``: all 6 493 depth messages (298 094 level updates) after the REST snapshot,
  applied by the C++ book one Python call per message, by the C++ batch path
  (``apply_messages``, one call, GIL released), and by the plain-Python dict reference.
- ``book-top``: top 10 levels + depth imbalance, C++ (``top(10)``) vs the Python reference.

Inputs are parsed and converted outside the timed region; every benchmark asserts its result.
Run timed: ``python -m pytest bench/bench_order_book.py --benchmark-disable-gc``; as a test:
``--benchmark-disable``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from binance_depth import Replay, load_replay
from confluex._core.order_book import ApplyResult, OrderBook
from reference_book import ReferenceBook

HFT = Path(__file__).resolve().parents[1] / "tests" / "data" / "hftbacktest"
SPOT = (HFT / "spot" / "btcusdt_20240808.gz", HFT / "spot" / "btcusdt_20240809.gz")


def spot_replay() -> Replay:
    return load_replay(SPOT, "0.01", "0.00000001", False)


class Inputs:
    """Pre-converted forms of the replay for each path."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.np_msgs = [(m.bids, m.asks, m.update_id, m.prev_update_id) for m in replay.messages]
        self.py_msgs = [
            (
                [tuple(x) for x in m.bids.tolist()],
                [tuple(x) for x in m.asks.tolist()],
                m.update_id,
                m.prev_update_id,
            )
            for m in replay.messages
        ]
        self.levels, self.headers = replay.flat()
        self.snap_py = (
            [tuple(x) for x in replay.snapshot_bids.tolist()],
            [tuple(x) for x in replay.snapshot_asks.tolist()],
        )
        self.n_levels = replay.n_levels

    def fresh_book(self) -> OrderBook:
        book = OrderBook()
        r = self.replay
        book.apply_snapshot(r.snapshot_bids, r.snapshot_asks, r.snapshot_id)
        return book

    def fresh_reference(self) -> ReferenceBook:
        ref = ReferenceBook()
        ref.apply_snapshot(self.snap_py[0], self.snap_py[1], self.replay.snapshot_id)
        return ref


def replay_cpp_per_message(book: OrderBook, msgs: list[Any]) -> OrderBook:
    apply = book.apply_delta
    for bids, asks, u, prev in msgs:
        apply(bids, asks, u, prev)
    return book


def replay_cpp_batch(book: OrderBook, levels: np.ndarray, headers: np.ndarray) -> OrderBook:
    book.apply_messages(levels, headers)
    return book


def replay_reference(ref: ReferenceBook, msgs: list[Any]) -> ReferenceBook:
    apply = ref.apply_delta
    for bids, asks, u, prev in msgs:
        apply(bids, asks, u, prev)
    return ref


def cpp_imbalance(book: OrderBook, n: int) -> float:
    bids, asks = book.top(n)
    b = int(bids[:, 1].sum())
    a = int(asks[:, 1].sum())
    return (b - a) / (b + a) if b + a else 0.0


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return Inputs(spot_replay())


@pytest.fixture(scope="module")
def reference_final(inputs: Inputs) -> ReferenceBook:
    return replay_reference(inputs.fresh_reference(), inputs.py_msgs)


def assert_same_top(book: OrderBook, ref: ReferenceBook) -> None:
    assert book.in_sync
    assert book.best_bid() == ref.best_bid() and book.best_ask() == ref.best_ask()
    got_b, got_a = book.top(20)
    want_b, want_a = ref.top(20)
    assert got_b.tolist() == [list(x) for x in want_b]
    assert got_a.tolist() == [list(x) for x in want_a]


@pytest.mark.benchmark(group="book-apply")
def test_cpp_apply_per_message(
    benchmark: Any, inputs: Inputs, reference_final: ReferenceBook
) -> None:
    book = benchmark.pedantic(
        replay_cpp_per_message,
        setup=lambda: ((inputs.fresh_book(), inputs.np_msgs), {}),
        rounds=5,
        iterations=1,
    )
    benchmark.extra_info["levels"] = inputs.n_levels
    assert_same_top(book, reference_final)


@pytest.mark.benchmark(group="book-apply")
def test_cpp_apply_batch(benchmark: Any, inputs: Inputs, reference_final: ReferenceBook) -> None:
    book = benchmark.pedantic(
        replay_cpp_batch,
        setup=lambda: ((inputs.fresh_book(), inputs.levels, inputs.headers), {}),
        rounds=10,
        iterations=1,
    )
    benchmark.extra_info["levels"] = inputs.n_levels
    assert_same_top(book, reference_final)
    assert book.counters.levels_applied == inputs.n_levels


@pytest.mark.benchmark(group="book-apply")
def test_python_reference_apply(
    benchmark: Any, inputs: Inputs, reference_final: ReferenceBook
) -> None:
    ref = benchmark.pedantic(
        replay_reference,
        setup=lambda: ((inputs.fresh_reference(), inputs.py_msgs), {}),
        rounds=3,
        iterations=1,
    )
    benchmark.extra_info["levels"] = inputs.n_levels
    assert ref.top(20) == reference_final.top(20)
    assert ref.counters["levels_applied"] == inputs.n_levels


@pytest.mark.benchmark(group="book-top")
def test_cpp_top10_imbalance(
    benchmark: Any, inputs: Inputs, reference_final: ReferenceBook
) -> None:
    book = replay_cpp_batch(inputs.fresh_book(), inputs.levels, inputs.headers)

    imb = benchmark(cpp_imbalance, book, 10)

    assert imb == pytest.approx(reference_final.imbalance(10), abs=1e-12)


@pytest.mark.benchmark(group="book-top")
def test_cpp_top10_only(benchmark: Any, inputs: Inputs, reference_final: ReferenceBook) -> None:
    book = replay_cpp_batch(inputs.fresh_book(), inputs.levels, inputs.headers)

    bids, asks = benchmark(book.top, 10)

    assert bids.tolist() == [list(x) for x in reference_final.top(10)[0]]
    assert asks.tolist() == [list(x) for x in reference_final.top(10)[1]]


@pytest.mark.benchmark(group="book-top")
def test_python_reference_top10_imbalance(benchmark: Any, reference_final: ReferenceBook) -> None:
    imb = benchmark(reference_final.imbalance, 10)

    b = sum(q for _, q in reference_final.top(10)[0])
    a = sum(q for _, q in reference_final.top(10)[1])
    assert imb == (b - a) / (b + a)
    assert ApplyResult.applied == ApplyResult(0)
