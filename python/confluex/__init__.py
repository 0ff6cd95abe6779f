"""confluex: microsecond crypto microstructure signals and a 0-100 confluence score.

The public API, all importable from here::

    from confluex import Engine, FeedSession, SessionConfig, Venue, Instrument

- the engine and its driver: :class:`Engine`, :class:`FeedSession`, their configurations and
  typed results (:class:`EngineStats`, :class:`SymbolHealth`, :class:`ComponentScore`,
  :class:`ParserCounters`, :class:`ConfluenceResult`), enums, record dtypes, the order book,
  trade-flow, aggregator, parser and ring building blocks (:mod:`confluex.engine`);
- the glue from a trading config to the engine: :func:`engine_from_config`,
  :func:`session_config`, :func:`score_update` (:mod:`confluex.engine`);
- prices and symbols at the edge: :class:`Scale`, :func:`unified_symbol`,
  :func:`instrument_from_market` (:mod:`confluex.markets`);
- signal kernels: :mod:`confluex.signals`; the trading layer: :mod:`confluex.trading`;
  market data feeds (recorded files, live WebSocket streams, ccxt.pro): :mod:`confluex.feeds`;
  the threaded engine (symbols on shards fed through lock-free rings):
  :class:`ShardedEngine`, :func:`score_universe` (:mod:`confluex.pipeline`);
  the replay trader (engine -> monitor -> sizing -> paper venue): :mod:`confluex.replay_trader`.

The compiled core lives in the private module ``confluex._core``; nothing outside this
package should import it.
"""

from __future__ import annotations

try:
    from . import _core  # noqa: F401 - fail early, with a hint, on a broken build
except ImportError as exc:  # pragma: no cover - only hit on a broken install
    raise ImportError(
        "confluex's compiled core (confluex._core) could not be imported. "
        "Did you forget to build it? Run `pip install -ve .` in the source tree."
    ) from exc

from . import engine as _engine
from .engine import *  # noqa: F403 - the engine API is the package's API (engine.__all__)
from .markets import Scale, format_price, instrument_from_market, unified_symbol, venue_symbol
from .pipeline import ShardedEngine, SymbolOutcome, UniverseSymbol, score_universe

__version__ = "0.1.0"

__all__ = [
    *_engine.__all__,
    "Scale",
    "ShardedEngine",
    "SymbolOutcome",
    "UniverseSymbol",
    "__version__",
    "format_price",
    "instrument_from_market",
    "score_universe",
    "unified_symbol",
    "venue_symbol",
]


def __dir__() -> list[str]:
    return __all__
