"""Readers for raw exchange captures in the ``<local_ns> <raw json>`` line format.

This is the simple Python loader used by tests, reference benchmarks and replays of the
bundled sample; the native parser (C++, from raw bytes) is the fast path.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine import (
    FLAG_END_OF_MESSAGE,
    FLAG_NO_LEVEL,
    FLAG_SNAPSHOT,
    NO_UPDATE_ID,
    Instrument,
    book_level_event_dtype,
    trade_event_dtype,
)

__all__ = ["BinanceCapture", "CaptureRecord", "iter_capture", "load_binance_capture"]

CaptureRecord = tuple[int, str | None, dict[str, Any]]

#: dtype of the bookTicker oracle rows returned by :func:`load_binance_capture`.
TICKER_DTYPE = np.dtype(
    [
        ("ts_ns", "<i8"),
        ("update_id", "<i8"),
        ("bid_px", "<i8"),
        ("bid_qty", "<i8"),
        ("ask_px", "<i8"),
        ("ask_qty", "<i8"),
    ]
)


def iter_capture(path: str | Path) -> Iterator[CaptureRecord]:
    """Yield ``(local_ns, stream, data)`` for every line of a capture file.

    ``stream`` is the combined-stream name (``"btcusdt@depth@100ms"``) or ``None`` for lines
    that are not stream messages (the REST depth snapshot). ``data`` is the decoded payload.
    Gzip files are recognised by their ``.gz`` suffix.
    """
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            ts_raw, sep, raw = line.partition(b" ")
            if not sep:
                raise ValueError(f"{p}:{lineno}: expected '<ns> <json>', was {line[:80]!r}")
            msg = json.loads(raw)
            if isinstance(msg, dict) and "stream" in msg and "data" in msg:
                yield int(ts_raw), str(msg["stream"]), msg["data"]
            else:
                yield int(ts_raw), None, msg


@dataclass(frozen=True)
class BinanceCapture:
    """A Binance capture converted to engine records (one symbol).

    ``book`` holds the REST snapshot first, then every depth message in arrival order (those
    older than the snapshot are left in: the book's sequence rule drops them as stale, as
    Binance's procedure says). ``trades`` are in arrival order. ``tickers`` are the
    exchange's own bookTicker top-of-book rows, an independent oracle for the book.
    """

    book: npt.NDArray[np.void]
    trades: npt.NDArray[np.void]
    tickers: npt.NDArray[np.void]
    snapshot_update_id: int
    depth_messages: int


def load_binance_capture(
    paths: Iterable[str | Path], instrument: Instrument, symbol_id: int = 0
) -> BinanceCapture:
    """Convert Binance combined-stream capture files (read in order, as one stream).

    Depth messages chain by ``pu`` on futures and by ``U - 1`` on spot: ``prev_update_id`` of
    each record is set accordingly. Prices and sizes are converted exactly with
    ``instrument`` (an off-grid value raises :class:`confluex.InvalidEvent`).
    """
    px = instrument.price_to_ticks
    qty = instrument.qty_to_lots
    book_rows: list[tuple[int, int, int, int, int, int, int, int, int]] = []
    snapshot_rows: list[tuple[int, int, int, int, int, int, int, int, int]] = []
    trade_rows: list[tuple[int, int, int, int, int, int, int, int]] = []
    ticker_rows: list[tuple[int, int, int, int, int, int]] = []
    snapshot_id: int | None = None
    depth_messages = 0
    for path in paths:
        for ts, stream, data in iter_capture(path):
            if stream is None:
                if "lastUpdateId" in data and snapshot_id is None:
                    snapshot_id = int(data["lastUpdateId"])
                    levels = [(0, p, q) for p, q in data["bids"]] + [
                        (1, p, q) for p, q in data["asks"]
                    ]
                    for i, (side, p, q) in enumerate(levels):
                        flags = FLAG_SNAPSHOT | (FLAG_END_OF_MESSAGE if i == len(levels) - 1 else 0)
                        snapshot_rows.append(
                            (
                                ts,
                                px(p),
                                qty(q),
                                snapshot_id,
                                NO_UPDATE_ID,
                                symbol_id,
                                side,
                                flags,
                                0,
                            )
                        )
                continue
            if "@depth" in stream:
                depth_messages += 1
                uid = int(data["u"])
                prev = int(data["pu"]) if "pu" in data else int(data["U"]) - 1
                levels = [(0, p, q) for p, q in data["b"]] + [(1, p, q) for p, q in data["a"]]
                if not levels:
                    book_rows.append(
                        (ts, 0, 0, uid, prev, symbol_id, 0, FLAG_END_OF_MESSAGE | FLAG_NO_LEVEL, 0)
                    )
                    continue
                last = len(levels) - 1
                for i, (side, p, q) in enumerate(levels):
                    flags = FLAG_END_OF_MESSAGE if i == last else 0
                    book_rows.append((ts, px(p), qty(q), uid, prev, symbol_id, side, flags, 0))
            elif stream.endswith("@trade"):
                side = 1 if data["m"] else 0  # buyer is maker -> the aggressor sold
                trade_rows.append(
                    (ts, px(data["p"]), qty(data["q"]), int(data["t"]), symbol_id, side, 0, 0)
                )
            elif stream.endswith("@bookTicker"):
                ticker_rows.append(
                    (
                        ts,
                        int(data["u"]),
                        px(data["b"]),
                        qty(data["B"]),
                        px(data["a"]),
                        qty(data["A"]),
                    )
                )
    if snapshot_id is None:
        raise ValueError("capture has no REST depth snapshot line ({'lastUpdateId': ...})")
    return BinanceCapture(
        book=np.array(snapshot_rows + book_rows, dtype=book_level_event_dtype),
        trades=np.array(trade_rows, dtype=trade_event_dtype),
        tickers=np.array(ticker_rows, dtype=TICKER_DTYPE),
        snapshot_update_id=snapshot_id,
        depth_messages=depth_messages,
    )


def __dir__() -> list[str]:
    return __all__
