"""The HFT composite during a replay: what ``confluex replay --hft`` runs (docs/hft.md, Wiring).

:class:`HFTReplayScorer` is a per-message hook of :func:`confluex.feeds.files.replay`
(``on_parsed``: it receives each message's parse result, whose kind tells book, trade and
bookTicker messages apart). After every message it asks the streaming policy
(:class:`StreamingConfluenceHFT`'s core ``StreamingPolicy``) whether to recalculate: book
updates always, trades and quotes at most once per 100 ms of data time per symbol (the
``hft_ultra_fast`` profile's ``update_frequency``). A recalculation builds the symbol's
:class:`HftInputs` from the engine (:func:`inputs_from_engine`), adds the inventory (the paper
venue's position, when trading) and the volatility (std of 1 s mid returns), scores the composite
(:class:`HFTScoringEngine`), re-ranks the symbol in the portfolio (:class:`PortfolioHFTScoring`)
and publishes it (the ``hft_scores`` WebSocket channel, when serving).

Everything runs on data time, so two replays of the same files give the same composites.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._core import hft as _hft
from .._core.feed import MsgKind, ParseResult
from ..engine import Engine
from . import (
    CompositeScore,
    EngineInputsConfig,
    HFTScoringEngine,
    PortfolioHFTScoring,
    StreamingConfig,
    apply_ultra_fast_config,
    flag_names,
    streaming_config_ultra_fast,
)

__all__ = [
    "HFT_CSV_COLUMNS",
    "PROFILES",
    "HFTReplayScorer",
    "format_hft",
    "hft_columns",
    "hft_point_dtype",
]

#: HFT profiles ``--hft`` understands. ``hft_ultra_fast`` sets the note's ultra-fast component
#: weights on the engine (``apply_ultra_fast_config``) and recalculates trades and quotes at
#: its ``update_frequency`` (100 ms); ``default`` keeps the engine's weights and the default
#: streaming policy (also 100 ms).
PROFILES = ("default", "hft_ultra_fast")

#: The composite columns ``--hft`` adds to scores.csv.
HFT_CSV_COLUMNS = (
    "hft_directional_bias",
    "hft_execution_urgency",
    "hft_risk_adjusted_opportunity",
    "hft_inventory_impact",
    "hft_flags",
)

#: One composite in the HFT series: the last one of each symbol per series interval.
hft_point_dtype = np.dtype(
    [
        ("ts_ns", np.int64),
        ("symbol_id", np.uint32),
        ("directional_bias", np.float64),
        ("execution_urgency", np.float64),
        ("risk_adjusted_opportunity", np.float64),
        ("inventory_impact", np.float64),
        ("flags", np.uint32),
    ]
)

_UPDATE_TYPE = {
    MsgKind.Depth: _hft.UpdateType.orderbook,
    MsgKind.Snapshot: _hft.UpdateType.orderbook,
    MsgKind.Trade: _hft.UpdateType.trade,
    MsgKind.BookTicker: _hft.UpdateType.quote,
}

#: Bound of the HFT series between two reads (one point per symbol and series interval).
_SERIES_CAP = 1 << 20


@dataclass(slots=True)
class _Symbol:
    """Per-symbol state of the hook."""

    vol: _hft.ScoreNormalizer  # its volatility: std of 1-bar mid returns
    ws_symbol: str | None
    tick: float  # price of one tick
    name: str  # the engine's symbol name (the portfolio's universe)
    liquidity: float = math.nan  # min(bid depth, ask depth) in quote, at the last score
    bar: int = -1  # index of the open 1 s bar
    mid: float = math.nan  # the latest mid (price), the open bar's close so far
    score: CompositeScore | None = None
    ts_ns: int = 0  # data time of ``score``
    seen_ns: int = -1  # data time of the symbol's latest message (-1: none seen)
    recalcs: int = 0
    last_point: int = -1  # series bucket of the last recorded point


class HFTReplayScorer:
    """Scores the HFT composite of every replayed symbol as the replay goes.

    Parameters
    ----------
    engine
        The replay's engine (``replay(..., engine=engine, on_parsed=scorer.on_parsed)``).
    profile
        One of :data:`PROFILES` (``None`` = ``default``).
    streaming
        Overrides the profile's streaming policy.
    bar_ns
        Bar length of the volatility estimate (std of bar-to-bar mid returns), data time.
    series_interval_ns
        The HFT series keeps the last composite of each symbol per interval (scores.csv).
    inventory
        ``(symbol_id, mid price) -> (position, max_position)`` in base units, e.g. from the
        paper venue; default flat with no limit.
    publish
        ``(ws_symbol, payload)`` called after every recalculation (the ``hft_scores`` channel).
    ws_symbol
        Maps the engine's ``venue:NAME`` to the symbol published (default: the engine name).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        profile: str | None = None,
        streaming: StreamingConfig | None = None,
        bar_ns: int = 1_000_000_000,
        series_interval_ns: int = 100_000_000,
        inventory: Callable[[int, float], tuple[float, float]] | None = None,
        publish: Callable[[str | None, dict[str, Any]], None] | None = None,
        ws_symbol: Callable[[str], str | None] | None = None,
    ) -> None:
        name = profile or "default"
        if name not in PROFILES:
            raise ValueError(f"HFT profile must be one of {list(PROFILES)}, was {profile!r}")
        if bar_ns <= 0 or series_interval_ns <= 0:
            raise ValueError(
                f"bar_ns and series_interval_ns must be > 0, was {bar_ns}, {series_interval_ns}"
            )
        self.engine = engine
        self.profile = name
        if streaming is None:
            streaming = streaming_config_ultra_fast() if name == "hft_ultra_fast" else None
        self.streaming = streaming or StreamingConfig()
        self.streaming.validate()
        self._policy = _hft.StreamingPolicy(self.streaming)
        self.scorer = HFTScoringEngine()
        self._inputs_config = EngineInputsConfig()
        self._bar_ns = bar_ns
        self._interval_ns = series_interval_ns
        self._inventory = inventory
        self._publish = publish
        self._ws_symbol = ws_symbol
        self._symbols: list[_Symbol] = []
        self._portfolio: PortfolioHFTScoring | None = None
        self._series: list[tuple[int, int, float, float, float, float, int]] = []
        self.series_dropped = 0
        self.messages = 0
        self.recalculations = 0
        if name == "hft_ultra_fast":
            apply_ultra_fast_config(engine)

    # ------------------------------------------------------------------ the hook
    def on_parsed(self, session: object, result: ParseResult, ts_ns: int) -> None:
        """The replay hook: after every parsed message of a replayed symbol."""
        self.messages += 1
        kind = _UPDATE_TYPE.get(result.kind)
        if kind is None:
            return
        sym = result.symbol_id
        if sym >= len(self._symbols):
            self._add_symbols(sym)
        self._symbols[sym].seen_ns = ts_ns
        if self._policy.should_recalculate(sym, kind, ts_ns):
            self.recalculate(sym, ts_ns)

    def recalculate(self, sym: int, ts_ns: int) -> CompositeScore:
        """Scores one symbol's composite now (data time ``ts_ns``), records and publishes it."""
        if sym >= len(self._symbols):
            self._add_symbols(sym)
        st = self._symbols[sym]
        self._bar(st, sym, ts_ns)
        # inputs_from_engine(engine, sym, position=..., max_position=..., volatility=...)
        # without its Python wrapper (~1.5 us): the core call, then the fields it leaves to
        # the caller; calculate_composite_score validates them.
        inputs = _hft.inputs_from_engine(self.engine, sym, self._inputs_config)
        inputs.volatility = st.vol.volatility
        if self._inventory is not None and math.isfinite(st.mid):
            inputs.position, inputs.max_position = self._inventory(sym, st.mid)
        score = self.scorer.calculate_composite_score(inputs)
        st.score, st.ts_ns = score, ts_ns
        # re-rank the symbol on every update (its thinner side's quote depth as liquidity)
        if self._portfolio is None or len(self._portfolio.universe) < len(self._symbols):
            self._portfolio = PortfolioHFTScoring(
                [self.engine.symbol_name(i) for i in range(len(self._symbols))]
            )
            for i, other in enumerate(self._symbols):
                if other.score is not None and i != sym:
                    self._portfolio.update(
                        other.name, other.score.confluence, other.vol.volatility, other.liquidity
                    )
        bid_depth, ask_depth = inputs.bid_depth, inputs.ask_depth
        known = not (math.isnan(bid_depth) or math.isnan(ask_depth))
        st.liquidity = min(bid_depth, ask_depth) if known else math.nan
        self._portfolio.update(st.name, score.confluence, st.vol.volatility, st.liquidity)
        st.recalcs += 1
        self.recalculations += 1
        self._record(st, sym, ts_ns, score)
        if self._publish is not None:
            self._publish(st.ws_symbol, self.payload(sym))
        return score

    def _bar(self, st: _Symbol, sym: int, ts_ns: int) -> None:
        """Closes the 1 s bar(s) ``ts_ns`` moved past and reads the new mid."""
        bar = ts_ns // self._bar_ns
        if bar != st.bar:
            if st.bar >= 0 and math.isfinite(st.mid):
                st.vol.update_bar_close(st.mid)
            st.bar = bar
        bid, ask = self.engine.best_bid(sym), self.engine.best_ask(sym)
        if bid is not None and ask is not None:
            st.mid = (bid[0] + ask[0]) * st.tick / 2.0

    def _record(self, st: _Symbol, sym: int, ts_ns: int, score: CompositeScore) -> None:
        point = (
            ts_ns,
            sym,
            score.directional_bias,
            score.execution_urgency,
            score.risk_adjusted_opportunity,
            score.inventory_impact,
            score.flags,
        )
        bucket = ts_ns // self._interval_ns
        if bucket == st.last_point and self._series:
            # the symbol's last point is in this interval: replace it (the last one counts)
            for i in range(len(self._series) - 1, -1, -1):
                if self._series[i][1] == sym:
                    self._series[i] = point
                    return
        if len(self._series) >= _SERIES_CAP:
            self.series_dropped += 1
            return
        st.last_point = bucket
        self._series.append(point)

    def _add_symbols(self, sym: int) -> None:
        # every symbol the engine has (a replay registers them all before its first message)
        while len(self._symbols) <= max(sym, self.engine.symbol_count - 1):
            i = len(self._symbols)
            self._policy.add_symbol()
            name = self.engine.symbol_name(i)
            ws = self._ws_symbol(name) if self._ws_symbol is not None else name
            tick = self.engine.instrument(i).tick_size
            self._symbols.append(_Symbol(_hft.ScoreNormalizer(), ws, tick, name))

    # ------------------------------------------------------------------ reading
    def finish(self) -> dict[int, CompositeScore]:
        """Recalculates every engine symbol once more at the end (the state the summary
        prints) and returns the final composites by engine symbol id.

        Symbols the hook never saw (Tardis CSVs are batch-ingested, without a per-message
        hook) are scored here for the first time, at their last event's time.
        """
        if self.engine.symbol_count:
            self._add_symbols(self.engine.symbol_count - 1)
        out: dict[int, CompositeScore] = {}
        for sym, st in enumerate(self._symbols):
            ts = st.seen_ns if st.seen_ns >= 0 else self.engine.stats(sym).last_event_ts_ns
            out[sym] = self.recalculate(sym, ts)
        return out

    def score(self, sym: int) -> CompositeScore | None:
        """The symbol's latest composite (None before its first recalculation)."""
        return self._symbols[sym].score if sym < len(self._symbols) else None

    def volatility(self, sym: int) -> float:
        """The volatility the symbol's composite was scored with (NaN before two bars)."""
        return float(self._symbols[sym].vol.volatility)

    def counters(self, sym: int) -> dict[str, tuple[int, int]]:
        """Streaming-policy counters: {update type: (seen, recalculated)}."""
        return dict(self._policy.counters(sym))

    def series(self) -> npt.NDArray[np.void]:
        """The HFT series (:data:`hft_point_dtype`), in recalculation order."""
        return np.array(self._series, dtype=hft_point_dtype)

    def payload(self, sym: int) -> dict[str, Any]:
        """The ``hft_scores`` message data of a symbol's latest composite."""
        st = self._symbols[sym]
        assert st.score is not None
        return {
            "ts_ns": st.ts_ns,
            "profile": self.profile,
            "volatility": _json_float(st.vol.volatility),
            **_json_safe(HFTScoringEngine.breakdown(st.score)),
        }

    def portfolio(self, names: Mapping[int, str]) -> dict[str, dict[str, Any]]:
        """The portfolio ranking (:class:`PortfolioHFTScoring`, re-ranked on every
        recalculation) of the symbols scored so far, best first, by their ``names``
        (engine symbol id -> label)."""
        if self._portfolio is None:
            return {}
        ids = {st.name: i for i, st in enumerate(self._symbols)}
        return {
            names.get(ids[name], name): r
            for name, r in self._portfolio.score_portfolio_opportunities().items()
            if r["scored"]
        }


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _json_safe(d: Mapping[str, Any]) -> dict[str, Any]:
    """NaN/inf (not available) become null: JSON has no NaN."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out[k] = _json_safe(v)
        elif isinstance(v, float):
            out[k] = _json_float(v)
        else:
            out[k] = v
    return out


def format_hft(
    scorer: HFTReplayScorer, finals: Mapping[int, CompositeScore], names: Mapping[int, str]
) -> str:
    """The ``--hft`` section of the replay summary: each symbol's composite with its
    breakdown, and the portfolio ranking when several symbols were replayed."""
    out = [
        f"HFT composite (profile {scorer.profile}; streaming: book updates always, trades "
        f"and quotes at most every {scorer.streaming.min_trade_interval_ns / 1e6:g} / "
        f"{scorer.streaming.min_quote_interval_ns / 1e6:g} ms)"
    ]
    for sym, score in finals.items():
        b = HFTScoringEngine.breakdown(score)
        seen = scorer.counters(sym)
        counts = ", ".join(f"{k} {n:,}/{r:,}" for k, (n, r) in seen.items())
        if not any(n for n, _ in seen.values()):
            counts += "; batch-ingested: scored at the end only"
        d, u, o, i = (
            b["directional_bias"],
            b["execution_urgency"],
            b["risk_adjusted_opportunity"],
            b["inventory_impact"],
        )
        c = b["confluence"]
        out.append("")
        out.append(f"{names.get(sym, str(sym))}  [recalculated/seen: {counts}]")
        out.append(
            f"  directional bias          {d['value']:+.4f}  (confluence {d['confluence']:+.4f}, "
            f"microstructure {d['microstructure']:+.4f}, timeframe {d['timeframe']:+.4f}, "
            f"inventory {d['inventory']:+.4f})"
        )
        out.append(
            f"  execution urgency         {u['value']:.4f}   (signal {u['signal']:.4f}, "
            f"confirmation {u['confirmation']:.4f}, spread factor {u['spread_factor']:.4f})"
        )
        out.append(
            f"  risk-adjusted opportunity {o['value']:.4f}   (base {o['base']:.4f}, liquidity "
            f"{o['liquidity_bonus']:.4f}, volatility {o['volatility_penalty']:.4f}, correlation "
            f"{o['correlation_penalty']:.4f}, drawdown {o['drawdown_factor']:.4f}, exposure "
            f"{o['exposure_factor']:.4f}; volatility {scorer.volatility(sym):.6g})"
        )
        out.append(
            f"  inventory impact          {i['value']:+.4f}  (utilisation {i['utilisation']:.4f})"
        )
        out.append(
            f"  confluence component      bias {c['directional_bias']:+.4f}, strength "
            f"{c['signal_strength']:.4f}, reliability {c['reliability']:.4f}, confidence "
            f"{c['confidence']:.4f}, momentum {c['momentum']:+.4f}, mean reversion "
            f"{c['mean_reversion']:+.4f}"
        )
        out.append(f"  flags                     {', '.join(b['flags']) or 'none'}")
    if len(finals) > 1:
        ranking = scorer.portfolio(names)
        out.append("")
        out.append(
            "HFT portfolio ranking   rank  risk-adj.  rank score  exec. priority  size mult.  flags"
        )
        for label, r in ranking.items():
            out.append(
                f"  {label:<22}{r['rank'] + 1:>4}  {r['risk_adjusted_score']:9.4f}  "
                f"{r['rank_score']:10.4f}  {r['execution_priority']:14.4f}  "
                f"{r['position_sizing_multiplier']:10.4f}  {', '.join(r['flags']) or 'none'}"
            )
    return "\n".join(out)


def hft_columns(
    series: npt.NDArray[np.void], hft: npt.NDArray[np.void]
) -> list[tuple[str, str, str, str, str]]:
    """The composite columns of each scores.csv row: the symbol's last composite at or before
    the row's time (empty before its first)."""
    out: list[tuple[str, str, str, str, str]] = [("", "", "", "", "")] * len(series)
    for sym in np.unique(series["symbol_id"]) if len(series) else ():
        rows = np.flatnonzero(series["symbol_id"] == sym)
        pts = hft[hft["symbol_id"] == sym]
        if not len(pts):
            continue
        order = np.argsort(pts["ts_ns"], kind="stable")
        pts = pts[order]
        at = np.searchsorted(pts["ts_ns"], series["ts_ns"][rows], side="right") - 1
        for row, k in zip(rows, at, strict=True):
            if k < 0:
                continue
            p = pts[k]
            out[row] = (
                f"{p['directional_bias']:.6f}",
                f"{p['execution_urgency']:.6f}",
                f"{p['risk_adjusted_opportunity']:.6f}",
                f"{p['inventory_impact']:.6f}",
                "|".join(flag_names(int(p["flags"]))),
            )
    return out


def __dir__() -> list[str]:
    return __all__
