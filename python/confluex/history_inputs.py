"""Replay warm-up inputs: OHLCV history files and the per-symbol loading of every input.

``--history FILE`` (repeatable) takes closed bars in ccxt ``fetch_ohlcv`` form,
``[[open_ms, open, high, low, close, volume], ...]`` oldest first: a JSON list (plain or gzip,
detected from the bytes) or a CSV with the same six columns (an optional header row). The
timeframe is inferred from the bar spacing by the engine; several files of different
timeframes may be given (the finest wins for the levels both could fill).

:func:`warm_up` hands them, and the ``--funding`` / ``--open-interest`` series
(:mod:`confluex.sentiment_inputs`), to one symbol of an Engine before its first trade.

Every problem raises :class:`HistoryInputError` (a ``ValueError``) naming the file and the bad
value; a file is accepted whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .engine import Engine
from .sentiment_inputs import TimedValue, read_input

__all__ = ["HistoryInputError", "load_ohlcv", "warm_up"]


class HistoryInputError(ValueError):
    """An OHLCV history file that cannot be used; the message names the file and value."""


def _rows_from_text(path: Path, text: str) -> list[list[object]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HistoryInputError(f"{path}: not JSON ({exc})") from None
        if not isinstance(data, list):
            raise HistoryInputError(
                f"{path}: must be a JSON list of rows, was {type(data).__name__}"
            )
        return data
    rows: list[list[object]] = []
    for i, row in enumerate(csv.reader(io.StringIO(text))):
        if not row:
            continue
        if i == 0 and not row[0].strip().lstrip("-").isdigit():
            continue  # a header row
        rows.append(list(row))
    return rows


def load_ohlcv(path: str | Path) -> npt.NDArray[np.float64]:
    """Loads an OHLCV file as an (n, 6) float64 array ``[open_ms, o, h, l, c, v]``.

    Open times must be integer ms, strictly increasing; prices finite and > 0; volumes finite
    and >= 0; at least 2 rows (the timeframe is inferred from the spacing).
    """
    p = Path(path)
    raw = read_input(p, HistoryInputError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HistoryInputError(f"{p}: not UTF-8 text ({exc})") from None
    rows = _rows_from_text(p, text)
    if len(rows) < 2:
        raise HistoryInputError(
            f"{p}: needs at least 2 bars to infer the timeframe, was {len(rows)}"
        )
    out = np.empty((len(rows), 6), dtype=np.float64)
    prev = -1
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) < 6:
            raise HistoryInputError(
                f"{p}: row {i} must be [open_ms, open, high, low, close, volume], was {row!r}"
            )
        try:
            ms = int(str(row[0]).strip()) if not isinstance(row[0], int) else row[0]
            vals = [float(str(v).strip()) if isinstance(v, str) else float(v) for v in row[1:6]]  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise HistoryInputError(f"{p}: row {i} has a non-numeric value, was {row!r}") from None
        if ms <= prev:
            raise HistoryInputError(
                f"{p}: open times must be strictly increasing, row {i} was {ms} after {prev}"
            )
        if not all(math.isfinite(v) for v in vals) or min(vals[:4]) <= 0.0 or vals[4] < 0.0:
            raise HistoryInputError(
                f"{p}: row {i} needs finite prices > 0 and a volume >= 0, was {row!r}"
            )
        prev = ms
        out[i, 0] = float(ms)
        out[i, 1:] = vals
    return out


def warm_up(
    engine: Engine,
    symbol_id: int,
    *,
    history: Sequence[npt.NDArray[np.float64]] = (),
    funding: Sequence[TimedValue] = (),
    open_interest: Sequence[TimedValue] = (),
) -> None:
    """Loads history bars and sentiment series into one symbol, before its first trade.

    ``history`` arrays come from :func:`load_ohlcv` (closed bars only: drop ccxt's last,
    still-forming row of a live ``fetch_ohlcv`` first). Raises what the engine raises
    (InvalidEvent on bars it refuses, InvalidConfig when its profile has no bar views).
    """
    for rows in history:
        engine.load_history(symbol_id, rows)
    for s in funding:
        engine.on_funding(symbol_id, s.ts_ns, s.value)
    for s in open_interest:
        engine.on_open_interest(symbol_id, s.ts_ns, s.value)


def __dir__() -> list[str]:
    return __all__
