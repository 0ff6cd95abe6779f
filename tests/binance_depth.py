"""Binance diff-depth replay loader for the real captures in ``tests/data/hftbacktest``.

Follows Binance's local-order-book procedure up to the point where a book takes over: depth
events are buffered until the REST snapshot line appears, events with ``u <= lastUpdateId``
are dropped, and every later event is kept in arrival order with its ``prev_update_id``
(``U - 1`` on spot, ``pu`` on futures). Prices and sizes are converted exactly with
``confluex.Instrument``. bookTicker messages are kept, sorted by id, as the oracle.

Used by tests/test_real_data_book.py and bench/bench_order_book.py; results are cached per
process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from confluex import Instrument
from confluex.feeds.capture import iter_capture

__all__ = ["DepthMessage", "Replay", "load_replay"]

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DepthMessage:
    first_id: int  # U
    update_id: int  # u
    prev_update_id: int  # U - 1 (spot) or pu (futures)
    bids: I64  # (n, 2) [px_ticks, qty_lots]
    asks: I64


@dataclass(frozen=True)
class Replay:
    snapshot_bids: I64
    snapshot_asks: I64
    snapshot_id: int
    messages: list[DepthMessage]  # after the snapshot, u > lastUpdateId, arrival order
    dropped: int  # buffered events with u <= lastUpdateId
    tickers: I64  # (m, 5) [u, bid_px, bid_qty, ask_px, ask_qty], sorted by u

    @property
    def n_levels(self) -> int:
        return sum(len(m.bids) + len(m.asks) for m in self.messages)

    def flat(self) -> tuple[I64, I64]:
        """Returns the messages as OrderBook.apply_messages() batches (levels, headers)."""
        parts = [a for m in self.messages for a in (m.bids, m.asks)]
        levels = np.ascontiguousarray(np.concatenate(parts), dtype=np.int64)
        headers = np.array(
            [(len(m.bids), len(m.asks), m.update_id, m.prev_update_id) for m in self.messages],
            dtype=np.int64,
        )
        return levels, headers


def _levels(inst: Instrument, raw: list[list[str]]) -> I64:
    out = np.empty((len(raw), 2), dtype=np.int64)
    for i, (px, qty) in enumerate(raw):
        out[i, 0] = inst.price_to_ticks(px)
        out[i, 1] = inst.qty_to_lots(qty)
    return out


@functools.lru_cache(maxsize=4)
def load_replay(paths: tuple[Path, ...], tick: str, lot: str, futures: bool) -> Replay:
    """Loads the depth stream of ``paths`` (read in order as one stream)."""
    inst = Instrument(tick, lot)
    buffered: list[DepthMessage] = []
    messages: list[DepthMessage] | None = None
    snapshot: tuple[I64, I64, int] | None = None
    dropped = 0
    tickers: list[tuple[int, int, int, int, int]] = []
    for path in paths:
        for _, stream, data in iter_capture(path):
            if stream is None:
                if "lastUpdateId" not in data or snapshot is not None:
                    continue
                last = int(data["lastUpdateId"])
                snapshot = (_levels(inst, data["bids"]), _levels(inst, data["asks"]), last)
                messages = [m for m in buffered if m.update_id > last]
                dropped = len(buffered) - len(messages)
                buffered = []
            elif stream.endswith("@bookTicker"):
                tickers.append(
                    (
                        int(data["u"]),
                        inst.price_to_ticks(data["b"]),
                        inst.qty_to_lots(data["B"]),
                        inst.price_to_ticks(data["a"]),
                        inst.qty_to_lots(data["A"]),
                    )
                )
            elif "@depth" in stream:
                first, last_id = int(data["U"]), int(data["u"])
                prev = int(data["pu"]) if futures else first - 1
                msg = DepthMessage(
                    first, last_id, prev, _levels(inst, data["b"]), _levels(inst, data["a"])
                )
                (buffered if messages is None else messages).append(msg)
    if snapshot is None or messages is None:
        raise ValueError(f"no REST depth snapshot line in {paths}")
    tick_arr = np.array(sorted(tickers), dtype=np.int64).reshape(-1, 5)
    return Replay(snapshot[0], snapshot[1], snapshot[2], messages, dropped, tick_arr)
