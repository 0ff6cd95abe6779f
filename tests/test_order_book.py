"""Unit and bad-input tests of confluex._core.order_book.OrderBook."""

from __future__ import annotations

import numpy as np
import pytest
from confluex import BookCrossed, InvalidConfig, InvalidEvent
from confluex._core.order_book import (
    ApplyResult,
    BookConfig,
    BookSide,
    DesyncReason,
    OrderBook,
    SyncState,
)
from confluex._core.types import NO_PRICE

BID, ASK = BookSide.bid, BookSide.ask


def lv(*levels: tuple[int, int]) -> np.ndarray:
    return np.array(levels, dtype=np.int64).reshape(-1, 2)


NONE = lv()


def synced_book(update_id: int = 100, **cfg: int) -> OrderBook:
    book = OrderBook(BookConfig(**cfg))
    book.apply_snapshot(lv((100, 5), (99, 3), (97, 1)), lv((101, 2), (102, 4), (110, 7)), update_id)
    return book


def full_side(book: OrderBook, side: BookSide) -> list[list[int]]:
    return book.copy_top(side, book.level_count(side)).tolist()


# --- construction and config ----------------------------------------------------------------


def test_new_book_is_empty_and_not_synced() -> None:
    book = OrderBook()

    assert book.state == SyncState.empty
    assert book.desync_reason == DesyncReason.no_snapshot
    assert not book.in_sync
    assert book.best_bid() is None and book.best_ask() is None
    assert book.best_bid_px() == NO_PRICE and book.best_ask_px() == NO_PRICE
    assert book.last_update_id == -1
    assert [a.shape for a in book.top(10)] == [(0, 2), (0, 2)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_bits": 7},
        {"window_bits": 25},
        {"top_cache": 0},
        {"top_cache": 4097},
        {"top_cache": -1},
    ],
    ids=("bits_7", "bits_25", "cache_0", "cache_4097", "cache_negative"),
)
def test_bad_config_raises_invalid_config(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidConfig, match="was"):
        OrderBook(BookConfig(**kwargs))


def test_config_limits_are_accepted() -> None:
    small = OrderBook(BookConfig(window_bits=8, top_cache=1))
    big = OrderBook(BookConfig(window_bits=24, top_cache=4096))

    assert small.config.window_bits == 8 and big.config.top_cache == 4096


# --- snapshot -------------------------------------------------------------------------------


def test_snapshot_in_any_order_gives_sorted_book_and_skips_zero_levels() -> None:
    book = OrderBook()

    book.apply_snapshot(
        lv((97, 1), (100, 5), (98, 0), (99, 3)), lv((110, 7), (101, 2), (105, 0)), 42
    )

    assert book.state == SyncState.synced and book.in_sync
    assert book.last_update_id == 42
    assert book.best_bid() == (100, 5) and book.best_ask() == (101, 2)
    assert full_side(book, BID) == [[100, 5], [99, 3], [97, 1]]
    assert full_side(book, ASK) == [[101, 2], [110, 7]]
    assert book.level_count(BID) == 3 and book.level_count(ASK) == 2
    assert book.counters.snapshots == 1


@pytest.mark.parametrize(
    ("bids", "asks", "match"),
    [
        (lv((100, -1)), NONE, "qty must be non-negative, was -1"),
        (NONE, lv((0, 1)), "price must be positive, was 0"),
        (lv((-5, 1)), NONE, "price must be positive, was -5"),
        (lv((100, 1), (100, 2)), NONE, "duplicate bid price, was 100"),
        (NONE, lv((101, 1), (101, 0)), "duplicate ask price, was 101"),
    ],
    ids=("negative_qty", "zero_price", "negative_price", "duplicate_bid", "duplicate_ask"),
)
def test_invalid_snapshot_raises_and_leaves_book_unchanged(
    bids: np.ndarray, asks: np.ndarray, match: str
) -> None:
    book = synced_book()
    before = (full_side(book, BID), full_side(book, ASK), book.last_update_id)

    with pytest.raises(InvalidEvent, match=match):
        book.apply_snapshot(bids, asks, 500)

    assert (full_side(book, BID), full_side(book, ASK), book.last_update_id) == before
    assert book.in_sync


@pytest.mark.parametrize("ask_px", [100, 99], ids=("locked", "crossed"))
def test_crossed_snapshot_raises_book_crossed_and_leaves_book_unchanged(ask_px: int) -> None:
    book = synced_book()
    before = (full_side(book, BID), full_side(book, ASK))

    with pytest.raises(BookCrossed, match="was"):
        book.apply_snapshot(lv((100, 1)), lv((ask_px, 1)), 500)

    assert (full_side(book, BID), full_side(book, ASK)) == before
    assert book.last_update_id == 100 and book.counters.snapshots == 1


def test_one_sided_and_empty_snapshots_are_valid() -> None:
    book = OrderBook()

    book.apply_snapshot(lv((100, 1)), NONE, 1)
    one_sided = (book.best_bid(), book.best_ask())
    book.apply_snapshot(np.empty(0, dtype=np.int64), NONE, 2)

    assert one_sided == ((100, 1), None)
    assert book.best_bid() is None and book.in_sync and book.last_update_id == 2


# --- deltas and sequence --------------------------------------------------------------------


def test_delta_sets_absolute_sizes_and_zero_deletes() -> None:
    book = synced_book()

    r = book.apply_delta(lv((100, 0), (98, 6)), lv((101, 9), (103, 1)), 101, 100)

    assert r == ApplyResult.applied
    assert full_side(book, BID) == [[99, 3], [98, 6], [97, 1]]
    assert full_side(book, ASK) == [[101, 9], [102, 4], [103, 1], [110, 7]]
    assert book.last_update_id == 101
    assert book.counters.messages_applied == 1 and book.counters.levels_applied == 4


def test_delete_of_unknown_level_is_a_no_op() -> None:
    book = synced_book()

    r = book.apply_delta(lv((50, 0), (98, 0)), lv((10_000, 0)), 101, 100)

    assert r == ApplyResult.applied
    assert full_side(book, BID) == [[100, 5], [99, 3], [97, 1]]
    assert book.level_count(ASK) == 3


def test_first_delta_straddling_the_snapshot_is_applied() -> None:
    book = synced_book(update_id=100)

    r = book.apply_delta(lv((100, 8)), NONE, 105, 95)  # Binance: U=96 <= 101 <= u=105

    assert r == ApplyResult.applied and book.level_qty(BID, 100) == 8


def test_first_delta_starting_after_the_snapshot_is_a_gap() -> None:
    book = synced_book(update_id=100)

    r = book.apply_delta(lv((100, 8)), NONE, 105, 101)  # U=102 > 101: 101 was missed

    assert r == ApplyResult.gap
    assert book.state == SyncState.out_of_sync and book.desync_reason == DesyncReason.gap
    assert book.level_qty(BID, 100) == 5
    assert book.counters.gaps == 1


def test_gap_after_the_first_delta_marks_out_of_sync_and_applies_nothing() -> None:
    book = synced_book()
    book.apply_delta(NONE, NONE, 101, 100)

    r = book.apply_delta(lv((100, 8)), NONE, 110, 105)

    assert r == ApplyResult.gap and book.desync_reason == DesyncReason.gap
    assert book.level_qty(BID, 100) == 5 and book.last_update_id == 101


def test_overlap_marks_out_of_sync_and_applies_nothing() -> None:
    book = synced_book()
    book.apply_delta(NONE, NONE, 110, 100)

    r = book.apply_delta(lv((100, 8)), NONE, 115, 105)  # prev 105 < last 110 < 115

    assert r == ApplyResult.overlap and book.desync_reason == DesyncReason.overlap
    assert book.level_qty(BID, 100) == 5 and book.counters.overlaps == 1


@pytest.mark.parametrize("update_id", [100, 99, 50], ids=("same", "previous", "far_back"))
def test_stale_delta_is_ignored_counted_and_book_unchanged(update_id: int) -> None:
    book = synced_book(update_id=100)

    r = book.apply_delta(lv((100, 0)), lv((101, 0)), update_id, update_id - 1)

    assert r == ApplyResult.stale
    assert book.in_sync and book.last_update_id == 100
    assert book.best_bid() == (100, 5) and book.best_ask() == (101, 2)
    assert book.counters.stale_ignored == 1 and book.counters.messages_applied == 0


def test_deltas_before_any_snapshot_are_ignored_and_counted() -> None:
    book = OrderBook()

    results = [book.apply_delta(lv((100, 1)), NONE, u, u - 1) for u in (1, 2, 3)]

    assert results == [ApplyResult.not_synced] * 3
    assert book.best_bid() is None and book.state == SyncState.empty
    assert book.counters.not_synced_ignored == 3


def test_deltas_after_a_gap_are_ignored_until_a_new_snapshot() -> None:
    book = synced_book()
    book.apply_delta(NONE, NONE, 200, 150)

    ignored = book.apply_delta(lv((100, 1)), NONE, 201, 200)
    book.apply_snapshot(lv((90, 1)), lv((95, 2)), 300)
    resumed = book.apply_delta(lv((91, 4)), NONE, 301, 300)

    assert ignored == ApplyResult.not_synced
    assert resumed == ApplyResult.applied and book.in_sync
    assert book.desync_reason == DesyncReason.none
    assert full_side(book, BID) == [[91, 4], [90, 1]]
    assert full_side(book, ASK) == [[95, 2]]


def test_crossing_delta_marks_out_of_sync_crossed_and_resync_by_snapshot() -> None:
    book = synced_book()

    r = book.apply_delta(lv((101, 1)), NONE, 101, 100)
    after_cross = (book.state, book.desync_reason, book.counters.crossed, book.last_update_id)
    book.apply_snapshot(lv((100, 1)), lv((101, 1)), 200)

    assert r == ApplyResult.crossed
    assert after_cross == (SyncState.out_of_sync, DesyncReason.crossed, 1, 101)
    assert book.in_sync and book.best_bid() == (100, 1)


def test_no_update_id_skips_the_sequence_checks() -> None:
    book = synced_book(update_id=100)

    r = book.apply_delta(lv((100, 7)), NONE, -1, -1)

    assert r == ApplyResult.applied and book.level_qty(BID, 100) == 7
    assert book.last_update_id == 100


@pytest.mark.parametrize(
    ("bids", "asks", "match"),
    [(lv((100, -2)), NONE, "was -2"), (NONE, lv((0, 1)), "was 0")],
    ids=("negative_qty", "zero_price"),
)
def test_invalid_delta_raises_and_leaves_book_unchanged(
    bids: np.ndarray, asks: np.ndarray, match: str
) -> None:
    book = synced_book()

    with pytest.raises(InvalidEvent, match=match):
        book.apply_delta(lv((98, 1), *bids.tolist()), asks, 101, 100)

    assert book.level_qty(BID, 98) == 0 and book.last_update_id == 100 and book.in_sync


def test_check_sequence_does_not_mutate() -> None:
    book = synced_book(update_id=100)

    results = [book.check_sequence(u, p) for u, p in ((101, 100), (90, 89), (105, 101))]

    assert results == [ApplyResult.applied, ApplyResult.stale, ApplyResult.gap]
    assert book.in_sync and book.counters.gaps == 0 and book.counters.stale_ignored == 0


def test_set_level_and_commit_apply_like_a_delta() -> None:
    book = synced_book()

    book.set_level(BID, 100, 0)
    book.set_level(ASK, 100, 3)
    r = book.commit(101)

    assert r == ApplyResult.applied and book.last_update_id == 101
    assert book.best_bid() == (99, 3) and book.best_ask() == (100, 3)


def test_set_level_validates() -> None:
    book = synced_book()

    with pytest.raises(InvalidEvent, match="was -1"):
        book.set_level(BID, 100, -1)

    assert book.level_qty(BID, 100) == 5


def test_mark_out_of_sync_and_clear() -> None:
    book = synced_book()

    book.mark_out_of_sync()
    marked = (book.state, book.desync_reason)
    book.clear()

    assert marked == (SyncState.out_of_sync, DesyncReason.manual)
    assert book.state == SyncState.empty and book.level_count(BID) == 0
    assert book.best_ask() is None and book.last_update_id == -1
    assert book.counters.snapshots == 1


# --- reads ----------------------------------------------------------------------------------


def test_top_is_clipped_to_available_and_to_top_cache() -> None:
    book = synced_book(top_cache=2)

    bids, asks = book.top(10)
    bids1, asks1 = book.top(1)

    assert bids.tolist() == [[100, 5], [99, 3]] and asks.tolist() == [[101, 2], [102, 4]]
    assert bids1.tolist() == [[100, 5]] and asks1.tolist() == [[101, 2]]
    assert bids.dtype == np.int64 and bids.flags.c_contiguous
    assert book.copy_top(BID, 10).tolist() == [[100, 5], [99, 3], [97, 1]]


def test_top_returns_fresh_copies() -> None:
    book = synced_book()
    bids, _ = book.top(3)

    bids[0, 1] = 999
    book.apply_delta(lv((100, 6)), NONE, 101, 100)

    assert bids.tolist()[0] == [100, 999] and book.top(1)[0].tolist() == [[100, 6]]


def test_depth_and_depth_within() -> None:
    book = synced_book()

    assert book.depth(BID, 2) == 8 and book.depth(ASK, 100) == 13 and book.depth(BID, 0) == 0
    assert book.depth_within(BID, 97, 99) == 4
    assert book.depth_within(ASK, 0, 2**62) == 13
    assert book.depth_within(ASK, 103, 109) == 0
    assert book.depth_within(BID, 100, 97) == 0


def test_far_levels_live_in_overflow_and_read_back() -> None:
    book = OrderBook(BookConfig(window_bits=8))
    book.apply_snapshot(lv((100_000, 1), (1, 4), (50_000, 2)), lv((100_001, 1), (10**15, 9)), 1)

    book.apply_delta(lv((100_000, 0)), NONE, 2, 1)

    assert book.best_bid() == (50_000, 2)
    assert full_side(book, BID) == [[50_000, 2], [1, 4]]
    assert book.level_qty(ASK, 10**15) == 9 and book.depth_within(BID, 1, 60_000) == 6
    assert book.counters.recenters >= 1  # the best bid left the 256-tick window


def test_large_price_drift_recentres_and_keeps_every_level() -> None:
    book = OrderBook(BookConfig(window_bits=8, top_cache=4))
    book.apply_snapshot(lv((1000, 1)), lv((1001, 1)), 1)

    for step in range(1, 50):  # the price walks up 100 ticks per message
        px = 1000 + 100 * step
        book.apply_delta(lv((px, step)), lv((px - 99, 0), (px + 1, 1)), step + 1, step)

    assert book.in_sync and book.counters.recenters > 5
    assert book.best_bid() == (5900, 49) and book.best_ask() == (5901, 1)
    assert book.level_count(BID) == 50
    assert book.depth(BID, 50) == 1 + sum(range(1, 50))


# --- the Python boundary --------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.array([[100, 1]], dtype=np.int32),
        np.array([[100.0, 1.0]]),
        [[100, 1]],
        np.array([[100, 1], [99, 1]], dtype=np.int64).T,  # not C-contiguous
    ],
    ids=("int32", "float64", "list", "fortran_order"),
)
def test_wrong_dtype_or_layout_raises_type_error(bad: object) -> None:
    book = synced_book()

    with pytest.raises(TypeError):
        book.apply_delta(bad, NONE, 101, 100)  # type: ignore[arg-type]

    assert book.last_update_id == 100


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 3), dtype=np.int64), np.zeros(4, dtype=np.int64), np.zeros((1, 2, 2), np.int64)],
    ids=("three_columns", "flat", "three_dims"),
)
def test_wrong_shape_raises_value_error(bad: np.ndarray) -> None:
    book = synced_book()

    with pytest.raises(ValueError, match="shape"):
        book.apply_snapshot(bad, NONE, 1)

    assert book.last_update_id == 100


def test_apply_messages_batch_equals_single_calls_and_reports_results() -> None:
    single, batch = synced_book(), synced_book()
    msgs = [
        (lv((100, 0)), lv((101, 5)), 101, 100),
        (lv((98, 2)), NONE, 99, 98),  # stale
        (NONE, lv((102, 0)), 102, 101),
        (lv((105, 1)), NONE, 103, 102),  # crosses
    ]
    levels = np.concatenate([a for m in msgs for a in m[:2]])
    headers = np.array([(len(b), len(a), u, p) for b, a, u, p in msgs], dtype=np.int64)

    want = [single.apply_delta(*m) for m in msgs]
    got = batch.apply_messages(levels, headers)

    assert [ApplyResult(int(x)) for x in got] == want
    assert full_side(batch, BID) == full_side(single, BID)
    assert full_side(batch, ASK) == full_side(single, ASK)
    assert batch.state == single.state == SyncState.out_of_sync


def test_apply_messages_rejects_counts_that_do_not_add_up() -> None:
    book = synced_book()
    levels = lv((100, 1), (101, 1))

    with pytest.raises(InvalidEvent, match="was"):
        book.apply_messages(levels, np.array([[1, 2, 101, 100]], dtype=np.int64))
    with pytest.raises(InvalidEvent, match="negative"):
        book.apply_messages(levels, np.array([[3, -1, 101, 100]], dtype=np.int64))

    assert book.last_update_id == 100 and book.level_qty(BID, 100) == 5
