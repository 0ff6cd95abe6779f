"""Property tests: the C++ OrderBook equals the plain-Python ReferenceBook after every message.

Streams mix updates near the top, far levels (overflow map), large price sweeps that force
re-centring (small windows, 2^8 ticks), deletes, stale/gapped/overlapping ids and crossing
messages followed by a resync snapshot.
"""

from __future__ import annotations

import numpy as np
from confluex._core.order_book import BookConfig, BookSide, OrderBook
from hypothesis import event, given, settings
from hypothesis import strategies as st
from reference_book import APPLIED, SYNCED, ReferenceBook

BID, ASK = BookSide.bid, BookSide.ask
START = 10_000_000


def arr(levels: list[tuple[int, int]]) -> np.ndarray:
    return np.array(levels, dtype=np.int64).reshape(-1, 2)


def full(book: OrderBook, side: BookSide) -> list[tuple[int, int]]:
    return [tuple(x) for x in book.copy_top(side, book.level_count(side)).tolist()]


def assert_same(book: OrderBook, ref: ReferenceBook, data: st.DataObject, k: int) -> None:
    assert book.best_bid() == ref.best_bid()
    assert book.best_ask() == ref.best_ask()
    assert book.state.value == ref.state
    assert book.last_update_id == ref.last_update_id
    for is_bid, side in ((True, BID), (False, ASK)):
        assert book.level_count(side) == ref.level_count(is_bid)
    n = data.draw(st.sampled_from([1, 2, 5, k, k + 3, 1000]), label="n")
    want_b, want_a = ref.top(n)
    got_b, got_a = book.top(n)
    assert [tuple(x) for x in got_b.tolist()] == want_b[:k]
    assert [tuple(x) for x in got_a.tolist()] == want_a[:k]
    assert [tuple(x) for x in book.copy_top(BID, n).tolist()] == want_b
    assert [tuple(x) for x in book.copy_top(ASK, n).tolist()] == want_a
    for is_bid, side in ((True, BID), (False, ASK)):
        assert book.depth(side, n) == ref.depth(is_bid, n)
        known = list(ref.side(is_bid).levels) or [START]
        a = data.draw(st.sampled_from(known)) + data.draw(st.integers(-3000, 3000))
        b = data.draw(st.sampled_from(known)) + data.draw(st.integers(-3000, 3000))
        assert book.depth_within(side, a, b) == ref.depth_within(is_bid, a, b)
        assert book.depth_within(side, min(a, b), 2**62) == ref.depth_within(
            is_bid, min(a, b), 2**62
        )
        px = data.draw(st.sampled_from(known)) + data.draw(st.sampled_from([-1, 0, 0, 1]))
        assert book.level_qty(side, px) == ref.level_qty(is_bid, px)
    if ref.state == SYNCED:
        bb, ba = ref.best_bid(), ref.best_ask()
        assert bb is None or ba is None or bb[0] < ba[0]


@st.composite
def offsets(draw: st.DrawFn, window: int) -> int:
    """Distance from the touch: mostly near, some anywhere in the window, some far outside."""
    kind = draw(st.sampled_from(["near", "near", "near", "window", "far"]))
    if kind == "near":
        return draw(st.integers(0, 40))
    if kind == "window":
        return draw(st.integers(0, window))
    return draw(st.integers(window, 20 * window))


def draw_message(
    data: st.DataObject, ref: ReferenceBook, window: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A non-crossing message relative to the reference book's current state."""
    bb, ba = ref.bids.best(), ref.asks.best()
    bb = bb if bb is not None else (ba - 1 if ba is not None else START)
    ba = ba if ba is not None else bb + 1
    kind = data.draw(st.sampled_from(["levels", "levels", "levels", "sweep_up", "sweep_down"]))
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    if kind.startswith("sweep"):
        # The price jumps by up to several windows: the touch on one side is emptied.
        jump = data.draw(st.integers(1, 6 * window))
        if kind == "sweep_up":
            new_bid = ba + jump
            asks += [(p, 0) for p in ref.asks.levels if p <= new_bid]
            bids.append((new_bid, data.draw(st.integers(1, 50))))
            asks.append((new_bid + data.draw(st.integers(1, 5)), data.draw(st.integers(1, 50))))
        else:
            new_ask = max(1, bb - jump)
            bids += [(p, 0) for p in ref.bids.levels if p >= new_ask]
            asks.append((new_ask, data.draw(st.integers(1, 50))))
            if new_ask > 1:
                bids.append((max(1, new_ask - data.draw(st.integers(1, 5))), 7))
        return bids, asks
    n = data.draw(st.integers(0, 12))
    for _ in range(n):
        is_bid = data.draw(st.booleans())
        existing = list(ref.side(is_bid).levels)
        if existing and data.draw(st.integers(0, 3)) == 0:
            px = data.draw(st.sampled_from(existing))
            qty = data.draw(st.sampled_from([0, 0, 1, 5]))
        else:
            off = data.draw(offsets(window))
            px = ba - 1 - off if is_bid else bb + 1 + off
            qty = data.draw(st.integers(0, 100))
        if px <= 0:
            continue
        (bids if is_bid else asks).append((px, qty))
    # New bids and asks may both land inside the spread: keep the message non-crossing.
    top_bid = max([bb] + [p for p, q in bids if q])
    asks = [(p, q) for p, q in asks if q == 0 or p > top_bid]
    return bids, asks


@settings(max_examples=80)
@given(
    data=st.data(),
    window_bits=st.sampled_from([8, 9, 12, 17]),
    top_cache=st.sampled_from([1, 3, 8, 64]),
    n_msgs=st.integers(1, 40),
)
def test_book_equals_reference_after_every_message(
    data: st.DataObject, window_bits: int, top_cache: int, n_msgs: int
) -> None:
    window = 2**window_bits
    book = OrderBook(BookConfig(window_bits=window_bits, top_cache=top_cache))
    ref = ReferenceBook()
    pos = st.integers(1, 100)
    snap_b = sorted(
        {START - 1 - data.draw(offsets(window)) for _ in range(data.draw(st.integers(0, 30)))}
    )
    snap_a = sorted(
        {START + data.draw(offsets(window)) for _ in range(data.draw(st.integers(0, 30)))}
    )
    bids = [(p, data.draw(st.integers(0, 100))) for p in snap_b]
    asks = [(p, data.draw(pos)) for p in snap_a]
    book.apply_snapshot(arr(bids), arr(asks), 1000)
    ref.apply_snapshot(bids, asks, 1000)
    assert_same(book, ref, data, top_cache)
    uid = 1000
    for _ in range(n_msgs):
        seq = data.draw(
            st.sampled_from(["next"] * 8 + ["stale", "gap", "overlap", "cross", "resnap"])
        )
        if seq == "resnap" or ref.state != SYNCED:
            # Resync from the reference's levels (also exercises snapshot on a used book).
            uid += 10
            b = sorted(ref.bids.levels.items())
            a = sorted(ref.asks.levels.items())
            if b and a and b[-1][0] >= a[0][0]:
                a = [(p, q) for p, q in a if p > b[-1][0]]
            book.apply_snapshot(arr(b), arr(a), uid)
            ref.apply_snapshot(b, a, uid)
        else:
            mb, ma = draw_message(data, ref, window)
            if seq == "cross" and ref.bids.best() is not None:
                ma.append((ref.bids.best(), 3))  # type: ignore[arg-type]
            first = ref.awaiting_first
            u, prev = {
                "next": (uid + 3, uid - 1 if first else uid),
                "cross": (uid + 3, uid),
                "stale": (uid - data.draw(st.integers(0, 5)), uid - 7),
                "gap": (uid + 9, uid + 2),
                "overlap": (uid + 9, uid - 2),
            }[seq]
            r = book.apply_delta(arr(mb), arr(ma), u, prev)
            rr = ref.apply_delta(mb, ma, u, prev)
            assert int(r) == rr
            if rr == APPLIED or seq == "cross":
                uid = max(uid, u)
        assert_same(book, ref, data, top_cache)
        c = book.counters
        event(f"recentred={c.recenters > 0}")
        assert (c.gaps, c.overlaps, c.crossed, c.stale_ignored) == (
            ref.counters["gaps"],
            ref.counters["overlaps"],
            ref.counters["crossed"],
            ref.counters["stale_ignored"],
        )


@settings(max_examples=60)
@given(
    data=st.data(),
    window_bits=st.sampled_from([8, 17]),
    n_msgs=st.integers(0, 40),
)
def test_snapshot_replay_snapshot_is_identity(
    data: st.DataObject, window_bits: int, n_msgs: int
) -> None:
    window = 2**window_bits
    ref = ReferenceBook()
    snap_b = [(START - 1 - i * 3, 1 + i) for i in range(data.draw(st.integers(0, 20)))]
    snap_a = [(START + i * 2, 1 + i) for i in range(data.draw(st.integers(0, 20)))]
    ref.apply_snapshot(snap_b, snap_a, 0)
    msgs = []
    for u in range(1, n_msgs + 1):
        mb, ma = draw_message(data, ref, window)
        assert ref.apply_delta(mb, ma, u, u - 1) == APPLIED
        msgs.append((arr(mb), arr(ma), u, u - 1))
    replayed = OrderBook(BookConfig(window_bits=window_bits))
    replayed.apply_snapshot(arr(snap_b), arr(snap_a), 0)

    for m in msgs:
        replayed.apply_delta(*m)
    resnapped = OrderBook(BookConfig(window_bits=window_bits))
    resnapped.apply_snapshot(
        replayed.copy_top(BID, 10**6), replayed.copy_top(ASK, 10**6), replayed.last_update_id
    )

    for side in (BID, ASK):
        assert full(resnapped, side) == full(replayed, side)
        assert resnapped.top(64)[side == ASK].tolist() == replayed.top(64)[side == ASK].tolist()
    assert full(replayed, BID) == sorted(ref.bids.levels.items(), reverse=True)
    assert full(replayed, ASK) == sorted(ref.asks.levels.items())


@settings(max_examples=80)
@given(
    data=st.data(),
    window_bits=st.sampled_from([8, 9, 17]),
    n_steps=st.integers(1, 60),
)
def test_depth_within_a_drifting_band_equals_reference(
    data: st.DataObject, window_bits: int, n_steps: int
) -> None:
    # The way the engine queries it: one band per side, re-asked after every message, that
    # drifts a few ticks (sometimes jumps) while levels change inside, at and beyond its edges,
    # and the window re-centres (small windows) or spills levels into the overflow map.
    window = 2**window_bits
    book = OrderBook(BookConfig(window_bits=window_bits, top_cache=4))
    ref = ReferenceBook()
    book.apply_snapshot(arr([(START - 1, 5)]), arr([(START + 1, 5)]), 1)
    ref.apply_snapshot([(START - 1, 5)], [(START + 1, 5)], 1)
    center = START
    half = data.draw(st.integers(0, 300))
    for _ in range(n_steps):
        center += data.draw(
            st.sampled_from([0, 0, 1, -1, 3, -3]) | st.integers(-3 * window, 3 * window)
        )
        half = max(0, half + data.draw(st.integers(-2, 2)))
        for _ in range(data.draw(st.integers(0, 8))):
            side = data.draw(st.sampled_from([BID, ASK]))
            px = max(1, center + data.draw(st.integers(-half - 3, half + 3) | offsets(window)))
            qty = data.draw(st.sampled_from([0, 0, 1, 7, 100]))
            book.set_level(side, px, qty)
            ref.side(side == BID).set(px, qty)
        book.commit(-1)  # may re-centre; a crossed book is fine for depth queries
        lo, hi = center - half, center + half
        for is_bid, side in ((True, BID), (False, ASK)):
            assert book.depth_within(side, lo, hi) == ref.depth_within(is_bid, lo, hi)
