"""SpscRing through its Python binding: FIFO order, exact drop counting, capacity validation,
structured event records, and a two-thread stress run that relies on the GIL being released."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from confluex._core import exceptions, spsc_ring, types

RING_TYPES = (spsc_ring.Int64Ring, spsc_ring.BookEventRing, spsc_ring.TradeEventRing)


def test_pop_n_returns_items_in_push_order_across_wraparound() -> None:
    ring = spsc_ring.Int64Ring(8)
    out = []
    next_value = 0
    # Uneven batch sizes walk the indices around the 8 slots several times.
    for batch in (3, 5, 7, 2, 8, 1, 6):
        items = np.arange(next_value, next_value + batch, dtype=np.int64)
        assert ring.try_push_n(items) == batch
        next_value += batch
        out.append(ring.pop_n(4))
        out.append(ring.pop_n(100))

    got = np.concatenate(out)
    assert np.array_equal(got, np.arange(next_value, dtype=np.int64))
    assert ring.empty()
    assert ring.pushed() == next_value
    assert ring.dropped() == 0


def test_try_push_on_full_ring_refuses_and_counts_each_refusal() -> None:
    ring = spsc_ring.Int64Ring(4)
    accepted = [ring.try_push(v) for v in range(4)]

    refused = [ring.try_push(100 + v) for v in range(3)]
    size_when_full = ring.size()
    popped = ring.pop_n(10)

    assert accepted == [True] * 4
    assert refused == [False] * 3
    assert size_when_full == 4
    assert popped.tolist() == [0, 1, 2, 3]
    assert ring.dropped() == 3
    assert ring.pushed() == 4


def test_try_push_n_on_nearly_full_ring_pushes_prefix_and_counts_suffix_as_dropped() -> None:
    ring = spsc_ring.Int64Ring(8)
    first = ring.try_push_n(np.arange(5, dtype=np.int64))

    second = ring.try_push_n(np.arange(10, 20, dtype=np.int64))
    third = ring.try_push_n(np.arange(30, 32, dtype=np.int64))
    popped = ring.pop_n(8)

    assert (first, second, third) == (5, 3, 0)
    assert popped.tolist() == [0, 1, 2, 3, 4, 10, 11, 12]
    assert ring.dropped() == (10 - 3) + 2
    assert ring.pushed() == 8


def test_pop_n_on_empty_ring_returns_empty_int64_array() -> None:
    ring = spsc_ring.Int64Ring(2)

    got = ring.pop_n(16)

    assert got.dtype == np.int64
    assert got.shape == (0,)
    assert ring.empty()


def test_pop_n_returns_fresh_array_not_a_view_of_the_slots() -> None:
    ring = spsc_ring.Int64Ring(4)
    assert ring.try_push_n(np.array([1, 2], dtype=np.int64)) == 2
    first = ring.pop_n(2)

    # Refill the same slots; the earlier result must not change.
    assert ring.try_push_n(np.array([7, 8, 9, 10], dtype=np.int64)) == 4
    second = ring.pop_n(4)

    assert first.tolist() == [1, 2]
    assert first.flags.owndata
    assert second.tolist() == [7, 8, 9, 10]


@pytest.mark.parametrize("ring_type", RING_TYPES, ids=("int64", "book", "trade"))
@pytest.mark.parametrize("capacity", [0, 1, 3, 6, 1000], ids=lambda c: f"cap{c}")
def test_capacity_not_a_power_of_two_at_least_two_raises_invalid_config(
    ring_type: type, capacity: int
) -> None:
    with pytest.raises(exceptions.InvalidConfig, match=f"was {capacity}$"):
        ring_type(capacity)


def test_negative_capacity_raises_type_error() -> None:
    with pytest.raises(TypeError):
        spsc_ring.Int64Ring(-4)


@pytest.mark.parametrize("capacity", [2, 4, 1024, 1 << 20])
def test_capacity_power_of_two_gives_that_many_usable_slots(capacity: int) -> None:
    ring = spsc_ring.Int64Ring(capacity)

    pushed = ring.try_push_n(np.arange(capacity + 1, dtype=np.int64))

    assert ring.capacity() == capacity
    assert pushed == capacity
    assert ring.size() == capacity
    assert ring.dropped() == 1


@pytest.mark.parametrize(
    "bad",
    [
        np.arange(4, dtype=np.int32),
        np.arange(4, dtype=np.float64),
        np.arange(8, dtype=np.int64)[::2],
        np.arange(4, dtype=np.int64).reshape(2, 2),
        [1, 2, 3],
    ],
    ids=("int32", "float64", "strided", "2d", "list"),
)
def test_try_push_n_rejects_arrays_it_would_have_to_cast_or_copy(bad: object) -> None:
    ring = spsc_ring.Int64Ring(8)

    with pytest.raises(TypeError):
        ring.try_push_n(bad)  # type: ignore[arg-type]

    assert ring.pushed() == 0
    assert ring.dropped() == 0


def _book_records(n: int) -> np.ndarray:
    rec = np.zeros(n, dtype=types.book_level_event_dtype)
    rec["ts_ns"] = 1_720_000_000_000_000_000 + np.arange(n) * 1_000
    rec["px_ticks"] = 6_400_000 + np.arange(n) % 7
    rec["qty_lots"] = np.arange(n) * 13
    rec["update_id"] = 10_000 + np.arange(n) // 3
    rec["prev_update_id"] = rec["update_id"] - 1
    rec["symbol_id"] = np.arange(n) % 3
    rec["side"] = np.arange(n) % 2
    rec["flags"] = np.where(np.arange(n) % 3 == 2, types.FLAG_END_OF_MESSAGE, 0)
    return rec


def _trade_records(n: int) -> np.ndarray:
    rec = np.zeros(n, dtype=types.trade_event_dtype)
    rec["ts_ns"] = 1_720_000_000_000_000_000 + np.arange(n) * 7
    rec["px_ticks"] = 640_000 - np.arange(n)
    rec["qty_lots"] = np.arange(n) + 1
    rec["trade_id"] = 5_000_000 + np.arange(n)
    rec["symbol_id"] = 2
    rec["side"] = np.arange(n) % 3
    return rec


@pytest.mark.parametrize(
    ("ring_type", "make"),
    [(spsc_ring.BookEventRing, _book_records), (spsc_ring.TradeEventRing, _trade_records)],
    ids=("book", "trade"),
)
def test_event_ring_round_trips_structured_records_field_by_field(
    ring_type: type[spsc_ring.BookEventRing] | type[spsc_ring.TradeEventRing],
    make: Callable[[int], np.ndarray],
) -> None:
    ring = ring_type(16)
    records = make(21)

    pushed_batch = ring.try_push_n(records[:10])
    pushed_one = ring.try_push(records[10])
    first = ring.pop_n(6)
    pushed_rest = ring.try_push_n(records[11:])
    second = ring.pop_n(100)

    got = np.concatenate([first, second])
    assert (pushed_batch, pushed_one, pushed_rest) == (10, True, 10)
    assert got.dtype == records.dtype
    assert np.array_equal(got, records)
    assert ring.dropped() == 0


def test_event_ring_try_push_of_several_records_raises_type_error() -> None:
    ring = spsc_ring.TradeEventRing(4)

    with pytest.raises(TypeError, match="was size 2"):
        ring.try_push(_trade_records(2))

    assert ring.pushed() == 0


def test_event_ring_try_push_n_of_other_record_dtype_raises_type_error() -> None:
    ring = spsc_ring.TradeEventRing(4)

    with pytest.raises(TypeError):
        ring.try_push_n(_book_records(2))


def test_two_threads_move_ten_million_int64_exactly_once_in_order() -> None:
    n_items = 10_000_000
    batch = 8192
    ring = spsc_ring.Int64Ring(1 << 16)
    source = np.arange(n_items, dtype=np.int64)
    refused = 0
    producer_error: list[BaseException] = []

    def produce() -> None:
        nonlocal refused
        try:
            start = 0
            while start < n_items:
                chunk = source[start : start + batch]
                k = ring.try_push_n(chunk)
                refused += len(chunk) - k  # a full ring refuses; retry the suffix
                start += k
        except BaseException as e:  # surfaced in the main thread below
            producer_error.append(e)

    producer = threading.Thread(target=produce, name="ring-producer")
    parts = []
    popped = 0
    deadline = time.monotonic() + 120.0
    producer.start()
    while popped < n_items and time.monotonic() < deadline:
        if not producer.is_alive() and ring.empty():
            break
        part = ring.pop_n(1 << 15)
        if len(part):
            popped += len(part)
            parts.append(part)
    producer.join(timeout=10.0)

    got = np.concatenate(parts)
    assert producer_error == []
    assert not producer.is_alive()
    assert len(got) == n_items
    assert np.array_equal(got, source)
    assert ring.pushed() == n_items
    assert ring.dropped() == refused
    assert ring.empty()
