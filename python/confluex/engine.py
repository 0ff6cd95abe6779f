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
from ._core.engine import Engine, EngineConfig, EngineStats
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
    score_point_dtype,
    signal_event_dtype,
)
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
PROFILES: tuple[str, ...] = ("standard", "hft_ultra_fast")

#: The hft_ultra_fast profile's component weights (reference-system §13 item 34).
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


def engine_config(
    config: TradingConfig | None = None,
    *,
    profile: str | None = None,
    hft_lookback_s: float = HFT_ULTRA_FAST_LOOKBACK_S,
) -> EngineConfig:
    """An EngineConfig for a scoring profile.

    ``profile`` (default: ``config.confluence.profile``, else ``"standard"``):

    - ``"standard"``: all six components. Each symbol builds bars from its trades (1 s to 4 h)
      and computes technical, price structure, the bar volume view (blended .6 / .4 with the
      trade-flow volume) and sentiment natively; weights ``config.confluence.weights``
      (.30/.20/.18/.15/.10/.07 built in).
    - ``"hft_ultra_fast"``: orderbook .60, orderflow .35, volume .05 (from trades only: no
      bars, no bar views), the depth-weighted imbalance over the best 5 levels, and trade-flow
      windows spanning the last ``hft_lookback_s`` seconds (the reference's "lookback 10":
      :func:`hft_flow_windows_ns`); pair it with
      ``session_config(series_interval_ns=HFT_ULTRA_FAST_INTERVAL_NS)`` (100 ms cadence).

    Raises InvalidConfig naming an unknown profile or weights the aggregator refuses.
    """
    name = (
        profile
        if profile is not None
        else (config.confluence.profile if config is not None else "standard")
    )
    engine_cfg = EngineConfig()
    if name == "standard":
        if config is not None:
            engine_cfg.aggregator = AggregatorConfig(weights=config.confluence.weights.normalized())
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
    return engine_cfg


def engine_from_config(
    config: TradingConfig | None = None, *, profile: str | None = None
) -> Engine:
    """A new Engine for ``profile`` (default: ``config.confluence.profile``): see engine_config."""
    return Engine(engine_config(config, profile=profile))


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
