"""Market data feeds: where the engine's input comes from.

- :mod:`confluex.feeds.files`: recorded files (Tardis CSV, Binance captures, ``confluex live
  --record`` recordings) replayed into the engine; the ``confluex replay`` command's reader.
- :mod:`confluex.feeds.capture`: a Binance capture as engine records (tests, benchmarks).
- :mod:`confluex.feeds.live`: a venue's public WebSocket streams (Binance, Bybit) through a
  :class:`~confluex.FeedSession`, with book resync, reconnects and recording.
- :mod:`confluex.feeds.rest_poll`: the live REST inputs: OHLCV warm-up and scheduled funding,
  open-interest and long/short polls (``LiveFeed(rest_poll=...)``).
- :mod:`confluex.feeds.ccxtpro`: the ccxt.pro fallback for venues without a native parser.

The terminal view of ``confluex live`` is not a feed: it is :mod:`confluex.live_view`.
Every name below is imported on first use, so importing one feed does not load the others'
dependencies (websockets, ccxt.pro).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .capture import BinanceCapture, CaptureRecord, iter_capture, load_binance_capture
    from .ccxtpro import BookMode, CcxtProFeed, ProSymbolStats, WatchSource, open_ccxtpro_source
    from .files import (
        SAMPLE,
        ReplayResult,
        ReplaySource,
        SymbolReport,
        detect,
        iter_chunks,
        replay,
        sample_path,
    )
    from .live import EXCHANGES, Backoff, ExchangeSpec, LiveFeed, Recorder, SymbolStats
    from .rest_poll import SERIES, RestPollConfig, RestPoller, RestSink

# Name -> submodule that defines it.
_LAZY = {
    "BinanceCapture": "capture",
    "CaptureRecord": "capture",
    "iter_capture": "capture",
    "load_binance_capture": "capture",
    "BookMode": "ccxtpro",
    "CcxtProFeed": "ccxtpro",
    "ProSymbolStats": "ccxtpro",
    "WatchSource": "ccxtpro",
    "open_ccxtpro_source": "ccxtpro",
    "SAMPLE": "files",
    "ReplayResult": "files",
    "ReplaySource": "files",
    "SymbolReport": "files",
    "detect": "files",
    "iter_chunks": "files",
    "replay": "files",
    "sample_path": "files",
    "EXCHANGES": "live",
    "Backoff": "live",
    "ExchangeSpec": "live",
    "LiveFeed": "live",
    "Recorder": "live",
    "SymbolStats": "live",
    "SERIES": "rest_poll",
    "RestPollConfig": "rest_poll",
    "RestPoller": "rest_poll",
    "RestSink": "rest_poll",
}

__all__ = [
    "EXCHANGES",
    "SAMPLE",
    "SERIES",
    "Backoff",
    "BinanceCapture",
    "BookMode",
    "CaptureRecord",
    "CcxtProFeed",
    "ExchangeSpec",
    "LiveFeed",
    "ProSymbolStats",
    "Recorder",
    "ReplayResult",
    "ReplaySource",
    "RestPollConfig",
    "RestPoller",
    "RestSink",
    "SymbolReport",
    "SymbolStats",
    "WatchSource",
    "detect",
    "iter_capture",
    "iter_chunks",
    "load_binance_capture",
    "open_ccxtpro_source",
    "replay",
    "sample_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
