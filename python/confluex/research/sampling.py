"""Replay one (capture, symbol) through the engine and sample it on a fixed time grid.

The replay is :func:`confluex.feeds.files.replay` line by line: just before each message the
``before_message`` hook takes one sample for every grid point (every ``interval_ns`` of
receive time) the message's timestamp reached, so a sample at grid time t holds every message
stamped before t and none after. A sample reads the engine's result (score, score_raw and the
six component scores), every component's sub-scores, the top of the book (the two book
baselines) and the mid prices: the book's and the venue's own ``bookTicker`` mid (the last one
received), when the data carries bookTickers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..engine import COMPONENT_NAMES, Engine, FeedSession, MsgKind, ParseResult, engine_config
from ..feeds.files import replay

__all__ = ["BASELINES", "Samples", "sample_capture"]

#: The book baselines every signal is compared with.
BASELINES: tuple[str, ...] = ("baseline.tob_imbalance", "baseline.microprice_mid")


@dataclass
class Samples:
    """One (capture, symbol) sampled on the grid: one row per grid point.

    ``values[name]`` is NaN where the book was not in sync (or one side was empty);
    ``mid`` is the mid price (in ticks) forward returns are measured on.
    """

    ts_ns: npt.NDArray[np.int64]
    mid: npt.NDArray[np.float64]
    mid_source: str  # "bookTicker" or "book"
    values: dict[str, npt.NDArray[np.float64]]
    venue: str
    messages: int
    meta: dict[str, float] = field(default_factory=dict)


def sample_capture(
    files: Sequence[str | Path],
    symbol: str,
    *,
    profile: str | None = None,
    interval_ns: int = 100_000_000,
) -> Samples:
    """Replay ``files`` (one capture, in order) for ``symbol`` under scoring ``profile``.

    Raises ValueError naming an unknown symbol or a format that cannot be replayed message by
    message (Tardis CSV is batch-ingested: no grid sampling).
    """
    if interval_ns <= 0:
        raise ValueError(f"interval_ns must be positive, was {interval_ns}")
    engine = Engine(engine_config(profile=profile))
    sym_box: list[int] = []

    def prepare(eng: Engine, sym: int, name: str) -> None:
        sym_box.append(sym)

    rows: list[dict[str, float]] = []
    stamps: list[int] = []
    book_mids: list[float] = []
    ticker_mids: list[float] = []
    ticker: list[float] = []  # [bid_px, ask_px] of the last bookTicker, in ticks
    next_grid: list[int] = []

    def read() -> tuple[dict[str, float], float]:
        sym = sym_box[0]
        bid = engine.best_bid(sym)
        ask = engine.best_ask(sym)
        if bid is None or ask is None or not engine.in_sync(sym):
            return {}, math.nan
        res = engine.result(sym)
        out = {"score": res.score, "score_raw": res.score_raw}
        comps = [engine.component(sym, c) for c in COMPONENT_NAMES]
        for name, c in zip(COMPONENT_NAMES, comps, strict=True):
            out[name] = c.score
        for name, c in zip(COMPONENT_NAMES, comps, strict=True):
            # A component lists its sub-scores once it has data: the columns grow as they do.
            for k, v in c.sub.items():
                out[f"{name}.{k}"] = v
        (bpx, bq), (apx, aq) = bid, ask
        mid = (bpx + apx) / 2.0
        depth = bq + aq
        out[BASELINES[0]] = (bq - aq) / depth if depth > 0 else 0.0
        out[BASELINES[1]] = ((apx * bq + bpx * aq) / depth if depth > 0 else mid) - mid
        return out, mid

    def before(ts: int) -> None:
        if not sym_box:
            return
        if not next_grid:
            next_grid.append(-(-ts // interval_ns) * interval_ns)
        if ts < next_grid[0]:
            return
        row, mid = read()
        tmid = (ticker[0] + ticker[1]) / 2.0 if ticker else math.nan
        while next_grid[0] <= ts:
            # A gap in the data repeats the state the engine held through it.
            stamps.append(next_grid[0])
            rows.append(row)
            book_mids.append(mid)
            ticker_mids.append(tmid)
            next_grid[0] += interval_ns

    def on_parsed(session: FeedSession, res: ParseResult, ts: int) -> None:
        if res.kind == MsgKind.BookTicker and res.ticker is not None:
            t = res.ticker
            if t.bid_px > 0 and t.ask_px > 0:
                ticker[:] = [float(t.bid_px), float(t.ask_px)]

    result = replay(
        list(files),
        symbols=[symbol],
        engine=engine,
        prepare=prepare,
        before_message=before,
        on_parsed=on_parsed,
    )
    kinds = {src.kind for src in result.sources}
    if kinds & {"tardis_book", "tardis_trades"}:
        raise ValueError(
            f"research samples message by message; Tardis CSV is batch-ingested, was "
            f"{[str(s.path) for s in result.sources if s.kind.startswith('tardis')]}"
        )
    if next_grid:
        before(next_grid[0])  # one more grid point: the state after the last message
    seen: set[str] = set().union(*rows) if rows else set()
    fixed = ["score", "score_raw", *COMPONENT_NAMES]
    subs = sorted(n for n in seen if "." in n and not n.startswith("baseline."))
    columns = [*fixed, *subs, *BASELINES]
    values = {
        name: np.array([row.get(name, math.nan) for row in rows], dtype=np.float64)
        for name in columns
    }
    has_ticker = any(not math.isnan(m) for m in ticker_mids)
    venue = next(iter(result.symbols.values())).venue if result.symbols else ""
    return Samples(
        ts_ns=np.array(stamps, dtype=np.int64),
        mid=np.array(ticker_mids if has_ticker else book_mids, dtype=np.float64),
        mid_source="bookTicker" if has_ticker else "book",
        values=values,
        venue=venue,
        messages=result.messages,
    )
