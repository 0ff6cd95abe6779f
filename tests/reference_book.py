"""A plain-Python L2 book with the same semantics as ``confluex._core.order_book.OrderBook``.

It is the oracle of the property tests and the Python reference of the benchmark, so it is
written the way a careful Python programmer would write a fast book: one dict per side for
the levels and a lazily cleaned heap per side for the best price (no sorting per message).
Everything else (top-N, depth) is computed from the dicts on demand.

Levels are ``(px_ticks, qty_lots)`` pairs of ints. Result, state and reason codes are the
integer values of the C++ enums (``int(ApplyResult.applied) == APPLIED`` and so on).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

__all__ = [
    "APPLIED",
    "CROSSED",
    "EMPTY",
    "GAP",
    "NOT_SYNCED",
    "NO_UPDATE_ID",
    "OUT_OF_SYNC",
    "OVERLAP",
    "STALE",
    "SYNCED",
    "ReferenceBook",
]

NO_UPDATE_ID = -1

# ApplyResult
APPLIED, STALE, NOT_SYNCED, GAP, OVERLAP, CROSSED = range(6)
# SyncState
EMPTY, SYNCED, OUT_OF_SYNC = range(3)
# DesyncReason
R_NONE, R_NO_SNAPSHOT, R_GAP, R_OVERLAP, R_CROSSED, R_MANUAL = range(6)

Level = tuple[int, int]


class _Side:
    """One side: levels in a dict, best price from a heap with lazy deletion."""

    __slots__ = ("heap", "is_bid", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, int] = {}
        self.heap: list[int] = []  # keys: -px for bids, px for asks

    def set(self, px: int, qty: int) -> None:
        levels = self.levels
        if qty:
            if px not in levels:
                heapq.heappush(self.heap, -px if self.is_bid else px)
            levels[px] = qty
        else:
            levels.pop(px, None)

    def best(self) -> int | None:
        heap, levels = self.heap, self.levels
        while heap:
            key = heap[0]
            px = -key if self.is_bid else key
            if px in levels:
                return px
            heapq.heappop(heap)
        return None

    def load(self, levels: dict[int, int]) -> None:
        self.levels = levels
        self.heap = [-p for p in levels] if self.is_bid else list(levels)
        heapq.heapify(self.heap)

    def top(self, n: int) -> list[Level]:
        if self.is_bid:
            pxs = heapq.nlargest(n, self.levels)
        else:
            pxs = heapq.nsmallest(n, self.levels)
        return [(p, self.levels[p]) for p in pxs]


class ReferenceBook:
    """Dict-based reference book: snapshot, sequence-checked deltas, reads."""

    def __init__(self) -> None:
        self.bids = _Side(True)
        self.asks = _Side(False)
        self.state = EMPTY
        self.reason = R_NO_SNAPSHOT
        self.last_update_id = NO_UPDATE_ID
        self.awaiting_first = False
        self.counters = dict.fromkeys(
            (
                "snapshots",
                "messages_applied",
                "levels_applied",
                "stale_ignored",
                "not_synced_ignored",
                "gaps",
                "overlaps",
                "crossed",
            ),
            0,
        )

    # --- writes -----------------------------------------------------------------------------
    @staticmethod
    def validate_level(px: int, qty: int) -> None:
        if px <= 0:
            raise ValueError(f"price must be positive, was {px}")
        if qty < 0:
            raise ValueError(f"qty must be non-negative, was {qty}")

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        sides = []
        for name, levels in (("bid", bids), ("ask", asks)):
            d: dict[int, int] = {}
            seen: set[int] = set()
            for px, qty in levels:
                self.validate_level(px, qty)
                if px in seen:
                    raise ValueError(f"snapshot has a duplicate {name} price, was {px}")
                seen.add(px)
                if qty:
                    d[px] = qty
            sides.append(d)
        b, a = sides
        if b and a and max(b) >= min(a):
            raise ValueError(f"snapshot is crossed: {max(b)} >= {min(a)}")
        self.bids.load(b)
        self.asks.load(a)
        self.last_update_id = update_id
        self.state = SYNCED
        self.reason = R_NONE
        self.awaiting_first = True
        self.counters["snapshots"] += 1

    def check_sequence(self, update_id: int, prev_update_id: int) -> int:
        if self.state != SYNCED:
            return NOT_SYNCED
        if prev_update_id == NO_UPDATE_ID:
            return APPLIED
        last = self.last_update_id
        if update_id <= last:
            return STALE
        if self.awaiting_first:
            return APPLIED if prev_update_id <= last else GAP
        if prev_update_id == last:
            return APPLIED
        return GAP if prev_update_id > last else OVERLAP

    def apply_delta(
        self,
        bids: Sequence[Level],
        asks: Sequence[Level],
        update_id: int,
        prev_update_id: int = NO_UPDATE_ID,
    ) -> int:
        for px, qty in bids:
            self.validate_level(px, qty)
        for px, qty in asks:
            self.validate_level(px, qty)
        r = self.check_sequence(update_id, prev_update_id)
        if r == APPLIED:
            bset, aset = self.bids.set, self.asks.set
            for px, qty in bids:
                bset(px, qty)
            for px, qty in asks:
                aset(px, qty)
            self.counters["levels_applied"] += len(bids) + len(asks)
            return self.commit(update_id)
        if r == STALE:
            self.counters["stale_ignored"] += 1
        elif r == NOT_SYNCED:
            self.counters["not_synced_ignored"] += 1
        else:
            self.mark_out_of_sync(R_GAP if r == GAP else R_OVERLAP)
        return r

    def commit(self, update_id: int) -> int:
        if update_id != NO_UPDATE_ID:
            self.last_update_id = update_id
        self.awaiting_first = False
        self.counters["messages_applied"] += 1
        bb, ba = self.bids.best(), self.asks.best()
        if bb is not None and ba is not None and bb >= ba:
            self.mark_out_of_sync(R_CROSSED)
            return CROSSED
        return APPLIED

    def mark_out_of_sync(self, reason: int) -> None:
        self.state = OUT_OF_SYNC
        self.reason = reason
        key = {R_GAP: "gaps", R_OVERLAP: "overlaps", R_CROSSED: "crossed"}.get(reason)
        if key:
            self.counters[key] += 1

    def clear(self) -> None:
        self.bids = _Side(True)
        self.asks = _Side(False)
        self.state = EMPTY
        self.reason = R_NO_SNAPSHOT
        self.last_update_id = NO_UPDATE_ID
        self.awaiting_first = False

    # --- reads ------------------------------------------------------------------------------
    def side(self, is_bid: bool) -> _Side:
        return self.bids if is_bid else self.asks

    def best_bid(self) -> Level | None:
        px = self.bids.best()
        return None if px is None else (px, self.bids.levels[px])

    def best_ask(self) -> Level | None:
        px = self.asks.best()
        return None if px is None else (px, self.asks.levels[px])

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        return self.bids.top(n), self.asks.top(n)

    def depth(self, is_bid: bool, n: int) -> int:
        return sum(q for _, q in self.side(is_bid).top(n))

    def depth_within(self, is_bid: bool, lo: int, hi: int) -> int:
        return sum(q for p, q in self.side(is_bid).levels.items() if lo <= p <= hi)

    def level_qty(self, is_bid: bool, px: int) -> int:
        return self.side(is_bid).levels.get(px, 0)

    def level_count(self, is_bid: bool) -> int:
        return len(self.side(is_bid).levels)

    def imbalance(self, n: int) -> float:
        """(bid - ask) / (bid + ask) size over the best n levels of each side; 0 when empty."""
        b = self.depth(True, n)
        a = self.depth(False, n)
        return (b - a) / (b + a) if b + a else 0.0
