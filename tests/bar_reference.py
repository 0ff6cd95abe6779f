"""Plain-Python reference bar builder and OHLCV aggregation (the oracle of the bar tests).

Deliberately simple: group trades (or finer bars) by ``floor(t / span)``, fill every empty span
between the first and the last with a gap bar (OHLC = previous close, volumes 0), and return
the bars that are closed, i.e. every span before the one holding the last event.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

GAP, HISTORY, NO_SIDES = 1, 2, 4


@dataclass
class RefBar:
    open_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    buy_volume: float = 0.0
    sell_volume: float = 0.0
    quote_volume: float = 0.0
    trades: int = 0
    flags: int = 0
    parts: list[float] = field(default_factory=list)

    @property
    def vwap(self) -> float:
        return self.quote_volume / self.volume if self.volume > 0 else self.close


def _fill(groups: dict[int, RefBar], span: int, last_open: int) -> list[RefBar]:
    """Closed bars (spans before last_open) with gap bars in the holes."""
    out: list[RefBar] = []
    if not groups:
        return out
    t = min(groups)
    prev_close = groups[t].open
    while t < last_open:
        b = groups.get(t)
        if b is None:
            b = RefBar(t, prev_close, prev_close, prev_close, prev_close, flags=GAP)
        out.append(b)
        prev_close = b.close
        t += span
    return out


def bars_from_trades(
    trades: list[tuple[int, float, float, int]], span: int
) -> tuple[list[RefBar], RefBar | None]:
    """(closed bars, forming bar) of ``trades`` = [(ts_ns, price, qty, side)], ts ascending."""
    groups: dict[int, RefBar] = {}
    for ts, px, qty, side in trades:
        k = ts // span * span
        b = groups.get(k)
        if b is None:
            b = groups[k] = RefBar(k, px, px, px, px)
        b.high = max(b.high, px)
        b.low = min(b.low, px)
        b.close = px
        b.volume += qty
        b.quote_volume += px * qty
        b.trades += 1
        if side == 0:
            b.buy_volume += qty
        elif side == 1:
            b.sell_volume += qty
        elif qty > 0:  # an unknown side with no volume leaves nothing unattributed
            b.flags |= NO_SIDES
    if not trades:
        return [], None
    last_open = trades[-1][0] // span * span
    return _fill(groups, span, last_open), groups[last_open]


def aggregate_ohlcv(rows: list[list[float]], span_ms: int) -> tuple[list[RefBar], RefBar | None]:
    """Closed and forming bars of ccxt ``rows`` aggregated to ``span_ms``.

    Every row is a closed bar; a coarse bar is closed once the history reaches its end.
    """
    groups: dict[int, RefBar] = {}
    for ms, o, h, lo, c, v in rows:
        k = int(ms) // span_ms * span_ms
        b = groups.get(k)
        tp = (h + lo + c) / 3.0
        if b is None:
            groups[k] = RefBar(k, o, h, lo, c, v, 0.0, 0.0, tp * v, 0, HISTORY | NO_SIDES)
            continue
        b.high = max(b.high, h)
        b.low = min(b.low, lo)
        b.close = c
        b.volume += v
        b.quote_volume += tp * v
    row_span = min(int(b[0]) - int(a[0]) for a, b in itertools.pairwise(rows))
    end = int(rows[-1][0]) + row_span
    closed_until = end // span_ms * span_ms
    out = [
        RefBar(
            b.open_ns * 1_000_000,
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            0.0,
            0.0,
            b.quote_volume,
            0,
            b.flags,
        )
        for b in _fill(groups, span_ms, closed_until)
    ]
    forming = groups.get(closed_until)
    if forming is not None:
        forming = RefBar(
            closed_until * 1_000_000,
            forming.open,
            forming.high,
            forming.low,
            forming.close,
            forming.volume,
            0.0,
            0.0,
            forming.quote_volume,
            0,
            forming.flags,
        )
    return out, forming
