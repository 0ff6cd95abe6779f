"""Replay inputs of the sentiment view: funding-rate and open-interest series from files.

``--funding FILE`` and ``--open-interest FILE`` take a JSON list of ``[time_ms, value]`` pairs,
oldest first, plain or gzip (detected from the bytes, whatever the file name). That is the
format of freqtrade's funding-rate files (``*_funding_rate.json.gz``) and what
``[[r["timestamp"], r["fundingRate"]] for r in exchange.fetch_funding_rate_history(...)]``
gives from ccxt.

Every problem raises :class:`SentimentInputError` (a ``ValueError``) naming the file and the
bad value; a file is accepted whole or not at all.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._core.sentiment import RiskTier

__all__ = [
    "SentimentInputError",
    "TimedValue",
    "load_funding",
    "load_open_interest",
    "load_series",
    "risk_tiers_from_ccxt",
]

_GZIP_MAGIC = b"\x1f\x8b"
# 2001-09-09 .. 2286-11-20 in ms: anything outside is a seconds / ns mix-up, not a time.
_MIN_MS = 1_000_000_000_000
_MAX_MS = 9_999_999_999_999


class SentimentInputError(ValueError):
    """A funding / open-interest file that cannot be used; the message names the file and value."""


@dataclass(frozen=True, slots=True)
class TimedValue:
    """One sample: ``time_ms`` (Unix ms) and its value."""

    time_ms: int
    value: float

    @property
    def ts_ns(self) -> int:
        """The sample time in Unix ns (the engine's clock)."""
        return self.time_ms * 1_000_000


def read_input(path: Path, error: type[ValueError]) -> bytes:
    """The bytes of an input file, gunzipped when it is gzip; ``error`` names the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise error(f"{path}: not a valid gzip file ({exc})") from None
    return raw


def _read_json(path: Path) -> object:
    raw = read_input(path, SentimentInputError)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SentimentInputError(f"{path}: not JSON ({exc})") from None


def load_series(path: str | Path, what: str, *, allow_negative: bool) -> list[TimedValue]:
    """Loads a ``[[time_ms, value], ...]`` file; ``what`` names the series in errors.

    Times must be integers in Unix ms, strictly increasing; values finite numbers (and
    ``>= 0`` unless ``allow_negative``). An empty list is an error: a file given on the
    command line that holds no sample is a mistake, not "no data".
    """
    p = Path(path)
    data = _read_json(p)
    if not isinstance(data, list):
        raise SentimentInputError(
            f"{p}: expected a JSON list of [time_ms, {what}] pairs, was {type(data).__name__}"
        )
    if not data:
        raise SentimentInputError(f"{p}: holds no {what} sample, was an empty list")
    out: list[TimedValue] = []
    prev = -1
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != 2:
            raise SentimentInputError(f"{p}: row {i} must be [time_ms, {what}], was {row!r}")
        t, v = row
        if isinstance(t, bool) or not isinstance(t, int):
            raise SentimentInputError(f"{p}: row {i} time must be an integer of ms, was {t!r}")
        if not _MIN_MS <= t <= _MAX_MS:
            raise SentimentInputError(
                f"{p}: row {i} time must be Unix milliseconds (13 digits), was {t!r}"
            )
        if t <= prev:
            raise SentimentInputError(
                f"{p}: row {i} time must be after the previous row's {prev}, was {t!r}"
            )
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise SentimentInputError(f"{p}: row {i} {what} must be a number, was {v!r}")
        fv = float(v)
        if not math.isfinite(fv):
            raise SentimentInputError(f"{p}: row {i} {what} must be finite, was {v!r}")
        if fv < 0 and not allow_negative:
            raise SentimentInputError(f"{p}: row {i} {what} must be >= 0, was {v!r}")
        out.append(TimedValue(t, fv))
        prev = t
    return out


def load_funding(path: str | Path) -> list[TimedValue]:
    """Loads a funding-rate file (``[[time_ms, rate], ...]``; rates are fractions, may be < 0)."""
    return load_series(path, "funding rate", allow_negative=True)


def load_open_interest(path: str | Path) -> list[TimedValue]:
    """Loads an open-interest file (``[[time_ms, value], ...]``; values >= 0)."""
    return load_series(path, "open interest", allow_negative=False)


def risk_tiers_from_ccxt(tiers: Sequence[Mapping[str, Any]]) -> list[RiskTier]:
    """Converts ccxt leverage tiers (``fetch_market_leverage_tiers`` / ``fetch_leverage_tiers``
    entries: ``maxNotional``, ``maxLeverage``, ``maintenanceMarginRate``) to RiskTier records
    for :meth:`confluex._core.sentiment.Sentiment.set_risk_tiers`.

    The initial margin rate is the venue's own ``info["initialMargin"]`` when it has one (Bybit),
    else ``1 / maxLeverage``. Raises :class:`SentimentInputError` naming the tier and value.
    """
    out: list[RiskTier] = []
    for i, t in enumerate(tiers):
        vals: dict[str, float] = {}
        for key in ("maxNotional", "maxLeverage", "maintenanceMarginRate"):
            v = t.get(key)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not math.isfinite(v)
                or v < 0
            ):
                raise SentimentInputError(
                    f"leverage tier {i}: {key} must be a finite number >= 0, was {v!r}"
                )
            vals[key] = float(v)
        if vals["maxLeverage"] <= 0:
            raise SentimentInputError(
                f"leverage tier {i}: maxLeverage must be > 0, was {t.get('maxLeverage')!r}"
            )
        info = t.get("info")
        raw_im = info.get("initialMargin") if isinstance(info, Mapping) else None
        try:
            im = float(raw_im) if raw_im is not None else 1.0 / vals["maxLeverage"]
        except (TypeError, ValueError):
            raise SentimentInputError(
                f"leverage tier {i}: info.initialMargin must be a number, was {raw_im!r}"
            ) from None
        if not math.isfinite(im) or im < 0:
            raise SentimentInputError(
                f"leverage tier {i}: info.initialMargin must be finite and >= 0, was {raw_im!r}"
            )
        out.append(
            RiskTier(
                risk_limit_value=vals["maxNotional"],
                max_leverage=vals["maxLeverage"],
                initial_margin=im,
                maintenance_margin=vals["maintenanceMarginRate"],
            )
        )
    return out


def __dir__() -> list[str]:
    return __all__
