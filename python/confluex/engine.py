"""The engine's public API: the one front door to the private compiled core.

Everything a user touches is importable from ``confluex`` (which re-exports this module):
the :class:`Engine` and the :class:`FeedSession` that drives it from raw exchange bytes, their
configurations, the typed results they return, the enums, the record dtypes, the order book,
trade-flow and aggregator building blocks, the native parsers and the rings. ``confluex._core``
stays private: its layout may change between releases, these names do not.

This module also owns the glue that every driver (replay, live, the paper trader) needs:

- :class:`EngineLike`: what a consumer reads from an engine (a Protocol, for fakes in tests);
- :func:`engine_from_config` / :func:`apply_weights`: the configured ``confluence.weights``
  as the aggregator's weights;
- :func:`session_config`: the configured ``confluence.thresholds`` as the session's signal
  thresholds (the same pair the MarketMonitor and the sizing managers use);
- :func:`score_update`: a :class:`ConfluenceResult` as the trading layer's
  :class:`~confluex.trading.ScoreUpdate`.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ._core.aggregator import (
    COMPONENT_NAMES,
    AggregatorConfig,
    ComponentScore,
    ConfluenceAggregator,
    ConfluenceResult,
)
from ._core.engine import Engine as _NativeEngine
from ._core.engine import EngineConfig, EngineStats
from ._core.exceptions import (
    BookCrossed,
    CapacityExceeded,
    ConfluexError,
    InvalidConfig,
    InvalidEvent,
    UnknownSymbol,
)
from ._core.feed import (
    NO_SYMBOL,
    BinanceParser,
    BookTicker,
    BybitParser,
    LineFormat,
    MsgKind,
    ParseError,
    ParserCounters,
    ParseResult,
    SymbolTable,
    book_ticker_dtype,
)
from ._core.instrument import Instrument
from ._core.order_book import (
    Aggressor,
    ApplyResult,
    BookConfig,
    BookCounters,
    BookSide,
    DesyncReason,
    OrderBook,
    SyncState,
)
from ._core.session import (
    FeedSession,
    SessionConfig,
    SymbolHealth,
    SyncPhase,
    Venue,
    message_result_dtype,
    score_point_dtype,
    signal_event_dtype,
)
from ._core.signals import OrderbookSignalsConfig
from ._core.spsc_ring import BookEventRing, Int64Ring, TradeEventRing
from ._core.trade_flow import FlowConfig, FlowSignalsConfig, RollingZScore, TradeFlow, WindowStats
from ._core.types import (
    FLAG_END_OF_MESSAGE,
    FLAG_NO_LEVEL,
    FLAG_SNAPSHOT,
    NO_PRICE,
    NO_UPDATE_ID,
    book_level_event_dtype,
    level_dtype,
    trade_event_dtype,
)
from .trading.config import TradingConfig
from .trading.types import ScoreUpdate

__all__ = [
    "COMPONENT_NAMES",
    "FLAG_END_OF_MESSAGE",
    "FLAG_NO_LEVEL",
    "FLAG_SNAPSHOT",
    "HFT_ULTRA_FAST_DEPTH",
    "HFT_ULTRA_FAST_INTERVAL_NS",
    "HFT_ULTRA_FAST_LOOKBACK_S",
    "HFT_ULTRA_FAST_WEIGHTS",
    "NO_PRICE",
    "NO_SYMBOL",
    "NO_UPDATE_ID",
    "PROFILES",
    "AggregatorConfig",
    "Aggressor",
    "ApplyResult",
    "BinanceParser",
    "BookConfig",
    "BookCounters",
    "BookCrossed",
    "BookEventRing",
    "BookSide",
    "BookTicker",
    "BybitParser",
    "CapacityExceeded",
    "ComponentScore",
    "ConfluenceAggregator",
    "ConfluenceResult",
    "ConfluexError",
    "DesyncReason",
    "Engine",
    "EngineConfig",
    "EngineLike",
    "EngineStats",
    "FeedSession",
    "FlowConfig",
    "FlowSignalsConfig",
    "Instrument",
    "Int64Ring",
    "InvalidConfig",
    "InvalidEvent",
    "LineFormat",
    "MsgKind",
    "OrderBook",
    "ParseError",
    "ParseResult",
    "ParserCounters",
    "RollingZScore",
    "SessionConfig",
    "SymbolHealth",
    "SymbolTable",
    "SyncPhase",
    "SyncState",
    "TradeEventRing",
    "TradeFlow",
    "UnknownSymbol",
    "Venue",
    "WindowStats",
    "apply_weights",
    "book_level_event_dtype",
    "book_ticker_dtype",
    "engine_config",
    "engine_from_config",
    "hft_flow_windows_ns",
    "level_dtype",
    "message_result_dtype",
    "score_point_dtype",
    "score_update",
    "session_config",
    "signal_event_dtype",
    "trade_event_dtype",
]


class EngineLike(Protocol):
    """What a consumer reads from an engine; :class:`Engine` has it (a fake may too)."""

    @property
    def symbol_count(self) -> int: ...
    def symbol_name(self, symbol_id: int) -> str: ...
    def instrument(self, symbol_id: int) -> Instrument: ...
    def score(self, symbol_id: int) -> float: ...
    def result(self, symbol_id: int) -> ConfluenceResult: ...
    def top(
        self, symbol_id: int, n: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
    def best_bid(self, symbol_id: int) -> tuple[int, int] | None: ...
    def best_ask(self, symbol_id: int) -> tuple[int, int] | None: ...
    def in_sync(self, symbol_id: int) -> bool: ...


#: The scoring profiles (``confluence.profile``, ``--profile``, ``engine_from_config(profile=)``).
PROFILES: tuple[str, ...] = ("standard", "reference", "fitted_1s", "fitted_5s", "hft_ultra_fast")

#: hft_ultra_fast's component weights (reference-system §13 item 34).
HFT_ULTRA_FAST_WEIGHTS: dict[str, float] = {
    "orderflow": 0.35,
    "orderbook": 0.60,
    "volume": 0.05,
    "price_structure": 0.0,
    "technical": 0.0,
    "sentiment": 0.0,
}
#: hft_ultra_fast: book depth read by the depth-weighted imbalance (levels per side).
HFT_ULTRA_FAST_DEPTH = 5
#: hft_ultra_fast: series / streaming cadence in ns (100 ms).
HFT_ULTRA_FAST_INTERVAL_NS = 100_000_000
#: hft_ultra_fast: the reference profile's "lookback 10" (reference-system §12), in seconds of
#: trade flow: see :func:`hft_flow_windows_ns`.
HFT_ULTRA_FAST_LOOKBACK_S = 10.0


def hft_flow_windows_ns(lookback_s: float = HFT_ULTRA_FAST_LOOKBACK_S) -> list[int]:
    """The trade-flow windows of the hft_ultra_fast profile for a lookback in seconds.

    The reference's ``lookback: 10`` names no unit or setting; here it is the span of trade flow
    the profile reads: windows of lookback/10, lookback/2 and lookback (1 s, 5 s, 10 s by
    default). The orderflow imbalances read these three windows, the volume component the
    longest, and the CVD z-score samples the longest window's delta. (The standard profile
    keeps 1 s / 5 s / 30 s / 5 min.) Raises ValueError for a lookback that is not finite or
    below 10 ms.
    """
    if not (math.isfinite(lookback_s) and lookback_s >= 0.01):
        raise ValueError(f"lookback_s must be finite and >= 0.01, was {lookback_s}")
    total = round(lookback_s * 1e9)
    return [total // 10, total // 2, total]


#: The graded profiles' sub-score maps (none saturates; see docs/score.md):
#: book imbalances (in [-1, 1]) through logistic(x / 0.5), at most 88 at a one-sided book;
GRADED_IMBALANCE_SENSITIVITY = 0.5
#: the ofi sub-score reads OfiWindow.tstat() (net flow over its own event scale) / 2;
GRADED_OFI_SENSITIVITY = 2.0
#: trade imbalances through 50 + 50 tanh(v / 1.0) (below 98.2 even in a burst);
GRADED_FLOW_SENSITIVITY = 1.0
#: the CVD z-score through 50 + 50 z / 10 (z is clipped at 10, not 3);
GRADED_CVD_CLIP = 10.0
#: the quality factor at zero consensus (score = 50 + 50 D (floor + (1 - floor) consensus)).
GRADED_CONSENSUS_FLOOR = 0.5

#: Weights fitted by ``confluex.research.fit.fit_weights`` (see docs/score.md for the
#: command and data): component -> {sub-score: weight}; the component weight is the sum.
FITTED_1S: dict[str, dict[str, float]] = {
    "orderbook": {
        "oir_5": 0.140,
        "oir_10": 0.158,
        "oir_25": 0.121,
        "dwi": 0.148,
        "microprice": 0.144,
        "ofi": 0.071,
        "depth_ratio": 0.068,
    },
    "orderflow": {"imbalance_short": 0.091, "cvd_zscore": 0.059},
}
FITTED_5S: dict[str, dict[str, float]] = {
    "orderbook": {
        "oir_5": 0.126,
        "oir_10": 0.119,
        "oir_25": 0.166,
        "dwi": 0.142,
        "microprice": 0.154,
        "ofi": 0.182,
    },
    "orderflow": {"imbalance_short": 0.111},
}


def _graded(cfg: EngineConfig, fitted: dict[str, dict[str, float]]) -> EngineConfig:
    """Sets ``cfg`` to the graded rule and non-saturating maps with ``fitted`` weights."""
    from ._core import trade_flow as _tf

    comps = {c: sum(fitted.get(c, {}).values()) for c in COMPONENT_NAMES}
    cfg.aggregator = AggregatorConfig(
        weights=comps, rule="graded", consensus_floor=GRADED_CONSENSUS_FLOOR
    )
    book_w = fitted.get("orderbook", {})
    default = OrderbookSignalsConfig()
    cfg.book_signals = OrderbookSignalsConfig(
        imbalance_sensitivity=GRADED_IMBALANCE_SENSITIVITY,
        ofi_sensitivity=GRADED_OFI_SENSITIVITY,
        ofi_tstat=True,
        warmup=True,
        **{  # type: ignore[arg-type]
            f"weight_{n}": (book_w.get(n, 0.0) if any(book_w.values()) else w)
            for n, w in default.weights.items()
        },
    )
    flow = cfg.flow
    flow.zscore_clip = GRADED_CVD_CLIP
    cfg.flow = flow
    fs = cfg.flow_signals
    fs.sensitivity = GRADED_FLOW_SENSITIVITY
    fs.warmup = True
    for comp, names, attr in (
        ("orderflow", _tf.ORDERFLOW_SUB_NAMES, "orderflow_weights"),
        ("volume", _tf.VOLUME_SUB_NAMES, "volume_weights"),
    ):
        w = fitted.get(comp, {})
        if any(w.values()):
            setattr(fs, attr, [w.get(n, 0.0) for n in names])
    fs.validate()
    cfg.flow_signals = fs
    return cfg


def engine_config(
    config: TradingConfig | None = None,
    *,
    profile: str | None = None,
    hft_lookback_s: float = HFT_ULTRA_FAST_LOOKBACK_S,
    extras: bool | None = None,
) -> EngineConfig:
    """An EngineConfig for a scoring profile.

    ``profile`` (default: ``config.confluence.profile``, else ``"standard"``):

    - ``"standard"``: the default score. The graded aggregation (continuous quality factor,
      components entering with their warm-up), non-saturating sub-score maps and the
      ``fitted_1s`` weights; each symbol also builds bars from its trades and computes
      technical, price structure, the bar volume view and sentiment natively (reported, and
      weighted only if ``config.confluence.weights`` is set to something other than the
      built-in reference weights: no bundled data shows their value at 1-5 s).
    - ``"fitted_1s"`` / ``"fitted_5s"``: the graded score with the weights
      :func:`confluex.research.fit.fit_weights` learned walk-forward for a 1 s / 5 s horizon,
      from book and trades only (no bar views).
    - ``"reference"``: the reference system's score, for parity: the quality-adjusted formula
      of reference-system §2.6 (amplify / dampen), its sub-score maps (logistic 0.15 on book
      imbalances, ofi in best-level queues, tanh 0.35 on trade imbalances) and weights
      ``config.confluence.weights`` (.30/.20/.18/.15/.10/.07 built in), all six components.
    - ``"hft_ultra_fast"``: the reference formula with orderbook .60, orderflow .35, volume
      .05 (trades only: no bar views), the depth-weighted imbalance over the best 5 levels,
      and trade-flow windows spanning the last ``hft_lookback_s`` seconds (the reference's
      "lookback 10": :func:`hft_flow_windows_ns`); pair it with
      ``session_config(series_interval_ns=HFT_ULTRA_FAST_INTERVAL_NS)``.

    ``extras`` (default: ``config.confluence.extras``, else the profile's choice) computes the
    reference system's orderflow/orderbook extras (stacked imbalance, OI quadrant, price-CVD
    divergence, absorption/exhaustion, liquidity bands). The profile's choice is on for
    ``reference``, which weights them, and off for the others, which give them weight 0:
    they cost about 0.8 us per depth message. Switched on in a profile that does not weight
    them, they are computed and reported as ``ComponentScore.unweighted``.

    Raises InvalidConfig naming an unknown profile or weights the aggregator refuses.
    """
    name = (
        profile
        if profile is not None
        else (config.confluence.profile if config is not None else "standard")
    )
    engine_cfg = EngineConfig()
    if name == "reference":
        if config is not None:
            engine_cfg.aggregator = AggregatorConfig(weights=config.confluence.weights.normalized())
    elif name == "standard":
        _graded(engine_cfg, FITTED_1S)
        if config is not None and config.confluence.weights != type(config.confluence.weights)():
            agg = engine_cfg.aggregator
            engine_cfg.aggregator = AggregatorConfig(
                weights=config.confluence.weights.normalized(),
                rule=agg.rule,
                consensus_floor=agg.consensus_floor,
            )
    elif name in ("fitted_1s", "fitted_5s"):
        _graded(engine_cfg, FITTED_1S if name == "fitted_1s" else FITTED_5S)
        engine_cfg.bar_views = False
    elif name == "hft_ultra_fast":
        engine_cfg.aggregator = AggregatorConfig(weights=dict(HFT_ULTRA_FAST_WEIGHTS))
        engine_cfg.bar_views = False
        book = engine_cfg.book_signals
        book.dwi_levels = HFT_ULTRA_FAST_DEPTH
        engine_cfg.book_signals = book
        flow = engine_cfg.flow
        flow.windows_ns = hft_flow_windows_ns(hft_lookback_s)
        flow.zscore_window_index = 2  # the longest (lookback) window's delta
        engine_cfg.flow = flow
    else:
        raise InvalidConfig(f"profile must be one of {', '.join(PROFILES)}, was {name!r}")
    if extras is None and config is not None:
        extras = config.confluence.extras
    extras_cfg = engine_cfg.flow_extras
    extras_cfg.enabled = name == "reference" if extras is None else extras
    engine_cfg.flow_extras = extras_cfg
    return engine_cfg


class Engine(_NativeEngine):
    """The confluence engine: order books, signals and the 0-100 score per symbol.

    ``Engine()`` scores with the default profile (``"standard"``, see :func:`engine_config`),
    the same default as ``confluex replay``, ``replay()``, ``confluex live`` and
    ``confluex research``; ``Engine(engine_config(profile="reference"))`` gives the reference
    system's formula, and any :class:`EngineConfig` is taken as it is.
    """

    __slots__ = ()

    def __init__(self, config: EngineConfig | None = None) -> None:
        super().__init__(engine_config() if config is None else config)


def engine_from_config(
    config: TradingConfig | None = None,
    *,
    profile: str | None = None,
    extras: bool | None = None,
) -> Engine:
    """A new Engine for ``profile`` (default: ``config.confluence.profile``): see engine_config."""
    return Engine(engine_config(config, profile=profile, extras=extras))


def apply_weights(engine: Engine, config: TradingConfig) -> None:
    """Replaces the aggregator weights of every symbol of ``engine`` by the configured ones."""
    engine.set_weights(config.confluence.weights.normalized())


def session_config(
    config: TradingConfig | None = None,
    *,
    series_interval_ns: int = 100_000_000,
    max_buffered_records: int = 1 << 20,
    max_pending_tickers: int = 256,
) -> SessionConfig:
    """A SessionConfig whose signal thresholds are ``config.confluence.thresholds``.

    The session's LONG/SHORT crossings then use the pair the MarketMonitor and both sizing
    managers use. Without a config: the built-in thresholds (70 / 35).
    """
    t = (config if config is not None else TradingConfig()).confluence.thresholds
    return SessionConfig(
        long_threshold=t.long,
        short_threshold=t.short,
        series_interval_ns=series_interval_ns,
        max_buffered_records=max_buffered_records,
        max_pending_tickers=max_pending_tickers,
    )


def score_update(result: ConfluenceResult, symbol: str, ts_ns: int, price: float) -> ScoreUpdate:
    """The trading layer's view of one engine result.

    ``symbol`` is the ccxt unified symbol (:func:`confluex.unified_symbol`), ``ts_ns`` the
    event time and ``price`` the mid price in quote currency (:class:`confluex.Scale`).
    """
    return ScoreUpdate(
        symbol=symbol,
        ts_ns=ts_ns,
        score=result.score,
        score_raw=result.score_raw,
        confidence=result.confidence,
        reliability=result.reliability,
        price=price,
    )


def __dir__() -> list[str]:
    return __all__
