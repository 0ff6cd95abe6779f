"""SpscRing throughput from Python: a batch of N int64 items pushed and popped through
Int64Ring (try_push_n + pop_n) against collections.deque (append/popleft) and
queue.SimpleQueue (put/get) on the same items, on one thread ("spsc-ring") and handed from a
producer thread to a consumer thread ("spsc-ring-threads").

Run timed:   python -m pytest bench/bench_spsc_ring.py --benchmark-disable-gc
Run as test: python -m pytest bench/bench_spsc_ring.py --benchmark-disable
Each result records ns_per_item in extra_info (shown with --benchmark-columns or in the JSON).
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest
from confluex._core import spsc_ring

RING_CAPACITY = 1 << 16
CHUNK = 1 << 14  # items per try_push_n / pop_n call
SIZES = (1_000, 100_000)
SIZE_IDS = ("n1k", "n100k")


def _record_ns_per_item(benchmark: Any, n: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ns_per_item"] = round(stats.stats.median * 1e9 / n, 2)


# --- one thread: push the whole batch through, then pop it ----------------------------------


# Every variant writes what it pops into an output buffer allocated outside the timed call, so
# the timing is the queue's and not the allocator's (a fresh 800 KB result would cost more in
# page faults on this VM than the ring itself spends moving the items).


def _ring_round_trip(ring: spsc_ring.Int64Ring, items: np.ndarray, out: np.ndarray) -> np.ndarray:
    for start in range(0, len(items), CHUNK):
        k = ring.try_push_n(items[start : start + CHUNK])
        out[start : start + k] = ring.pop_n(CHUNK)
    return out


def _deque_round_trip(items: list[int], out: list[int]) -> list[int]:
    d: collections.deque[int] = collections.deque()
    append, popleft = d.append, d.popleft
    for x in items:
        append(x)
    for i in range(len(d)):
        out[i] = popleft()
    return out


def _simple_queue_round_trip(items: list[int], out: list[int]) -> list[int]:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    put, get = q.put, q.get
    for x in items:
        put(x)
    for i in range(len(items)):
        out[i] = get()
    return out


@pytest.mark.benchmark(group="spsc-ring")
@pytest.mark.parametrize("n", SIZES, ids=SIZE_IDS)
def test_bench_int64_ring_push_pop(benchmark: Any, n: int) -> None:
    items = np.arange(n, dtype=np.int64) * 3 - 7
    ring = spsc_ring.Int64Ring(RING_CAPACITY)
    out = np.full(n, -1, dtype=np.int64)

    out = benchmark(_ring_round_trip, ring, items, out)

    _record_ns_per_item(benchmark, n)
    assert np.array_equal(out, items)
    assert ring.empty()
    assert ring.dropped() == 0


@pytest.mark.benchmark(group="spsc-ring")
@pytest.mark.parametrize("n", SIZES, ids=SIZE_IDS)
def test_bench_deque_append_popleft(benchmark: Any, n: int) -> None:
    items = (np.arange(n, dtype=np.int64) * 3 - 7).tolist()

    out = benchmark(_deque_round_trip, items, [-1] * n)

    _record_ns_per_item(benchmark, n)
    assert out == items


@pytest.mark.benchmark(group="spsc-ring")
@pytest.mark.parametrize("n", SIZES, ids=SIZE_IDS)
def test_bench_simple_queue_put_get(benchmark: Any, n: int) -> None:
    items = (np.arange(n, dtype=np.int64) * 3 - 7).tolist()

    out = benchmark(_simple_queue_round_trip, items, [-1] * n)

    _record_ns_per_item(benchmark, n)
    assert out == items


# --- two threads: a producer thread hands the batch to the consumer (this thread) -----------

THREADED_N = 200_000


_Out = TypeVar("_Out")


def _run_threaded(produce: Callable[[], None], consume: Callable[[], _Out]) -> _Out:
    producer = threading.Thread(target=produce)
    producer.start()
    out = consume()
    producer.join()
    return out


def _ring_threaded(items: np.ndarray, out: np.ndarray) -> np.ndarray:
    ring = spsc_ring.Int64Ring(RING_CAPACITY)
    n = len(items)

    def produce() -> None:
        start = 0
        while start < n:  # retry the refused suffix: nothing is lost
            start += ring.try_push_n(items[start : start + CHUNK])

    def consume() -> np.ndarray:
        got = 0
        while got < n:
            part = ring.pop_n(CHUNK)
            out[got : got + len(part)] = part
            got += len(part)
        return out

    return _run_threaded(produce, consume)


def _simple_queue_threaded(items: list[int], out: list[int]) -> list[int]:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()

    def produce() -> None:
        put = q.put
        for x in items:
            put(x)

    def consume() -> list[int]:
        get = q.get
        for i in range(len(items)):
            out[i] = get()
        return out

    return _run_threaded(produce, consume)


@pytest.mark.benchmark(group="spsc-ring-threads")
def test_bench_int64_ring_two_threads(benchmark: Any) -> None:
    items = np.arange(THREADED_N, dtype=np.int64) * 3 - 7

    out = benchmark(_ring_threaded, items, np.full(THREADED_N, -1, dtype=np.int64))

    _record_ns_per_item(benchmark, THREADED_N)
    assert np.array_equal(out, items)


@pytest.mark.benchmark(group="spsc-ring-threads")
def test_bench_simple_queue_two_threads(benchmark: Any) -> None:
    items = (np.arange(THREADED_N, dtype=np.int64) * 3 - 7).tolist()

    out = benchmark(_simple_queue_threaded, items, [-1] * THREADED_N)

    _record_ns_per_item(benchmark, THREADED_N)
    assert out == items
