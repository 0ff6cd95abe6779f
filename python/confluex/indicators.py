"""Incremental technical and volume indicators on the engine's own C++ kernels.

Every class takes one closed bar per ``update(open, high, low, close, volume)`` and exposes
``value`` (NaN while warming up) and ``ready``; MACD also has ``signal`` and ``hist``. Values
equal TA-Lib's on the same bars (RSI, MACD, ATR, CCI, WILLR, OBV, AD, SMA, EMA; AO is TA-Lib's
SMA5 - SMA34 of MEDPRICE), with one deliberate difference: a perfectly flat RSI window reads 50
(nothing moved), where TA-Lib writes 0.

Example
-------
>>> from confluex.indicators import RSI
>>> rsi = RSI(14)
>>> for close in [1.0, 1.1, 1.05, 1.2] * 5:
...     _ = rsi.update(close, close, close, close, 0.0)
>>> round(rsi.value, 2)
55.19

``batch(indicator, open, high, low, close, volume)`` runs a kernel over NumPy arrays with the
GIL released and returns the value after each bar (an ``(n, 3)`` array of macd, signal, hist
for MACD); the instance keeps its state, so it can go on incrementally afterwards.
"""

from __future__ import annotations

from ._core.indicators import (
    ADL,
    AO,
    ATR,
    CCI,
    CMF,
    EMA,
    MACD,
    OBV,
    RSI,
    SMA,
    VWAP,
    RelativeVolume,
    WilliamsR,
    batch,
)

__all__ = [
    "ADL",
    "AO",
    "ATR",
    "CCI",
    "CMF",
    "EMA",
    "MACD",
    "OBV",
    "RSI",
    "SMA",
    "VWAP",
    "RelativeVolume",
    "WilliamsR",
    "batch",
]


def __dir__() -> list[str]:
    return __all__
