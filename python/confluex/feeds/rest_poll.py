"""Live REST inputs: OHLCV warm-up at start, and sentiment inputs polled on a schedule.

:class:`RestPoller` drives a ccxt ``async_support`` exchange for the symbols of a live feed:

- **Warm-up** (:meth:`RestPoller.warm_up`, before the first trade): ``fetch_ohlcv`` per
  configured timeframe into ``Engine.load_history`` (ccxt's last row is the still-forming bar
  and is dropped), then the history calls of the sentiment inputs:
  ``fetch_funding_rate_history``, ``fetch_open_interest_history`` and
  ``fetch_long_short_ratio_history``.
- **Polling** (:meth:`RestPoller.run`): ``fetch_funding_rate``, ``fetch_open_interest`` and
  ``fetch_long_short_ratio_history`` (its latest entry) every ``*_interval`` seconds, into
  ``Engine.on_funding`` / ``on_open_interest`` / ``on_long_short``.

The poller writes into an :class:`~confluex.engine.Engine`, or into anything with its four
input methods (:class:`RestSink`): the threaded live feed (:mod:`confluex.feeds.live_sharded`)
gives one that loads the history into the owning shard's engine before the engine threads
start, and queues each polled sample into that shard's ring afterwards; the shard's answer
comes back later, and a refusal is reported with :meth:`RestPoller.refused`.

Samples are stamped with the venue's own timestamps (never the local clock), and a sample no
newer than the last one fed for that symbol and series is skipped, so re-polling an unchanged
value (8-hourly funding) feeds nothing twice.

Failures never stop or stall the feed: every call is bounded by ccxt's own ``timeout`` (10 s by
default; ``LiveFeed(rest_options={"timeout": ms})``) and the whole warm-up by
``warmup_timeout`` (then streaming starts and the views without history warm up from live
trades, reported as no data until they have enough bars; :attr:`RestPoller.warmup_status` says
what happened). Every failed or timed-out call is counted per method (:attr:`errors`) and
logged with the exception type and message (ccxt messages carry no credentials; the poller
never logs its exchange's configuration). A method the exchange lacks (ccxt ``has[...]`` not
true) is skipped with one log line; so are the derivative inputs of a symbol that is not a
contract (spot: no funding, OI or long/short ratio), and everything when the engine has no bar
views (the hft_ultra_fast profile), where sentiment inputs and history do not exist.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..engine import CapacityExceeded, InvalidConfig

__all__ = ["SERIES", "RestPollConfig", "RestPoller", "RestSink"]

log = logging.getLogger(__name__)

#: The polled series, in the order of :attr:`RestPoller.fed` keys.
SERIES: tuple[str, ...] = ("funding", "open_interest", "long_short")


class RestSink(Protocol):
    """Where the poller's inputs go: an :class:`~confluex.engine.Engine`'s four input methods.

    Each raises as the Engine does: ``InvalidConfig`` when the engine has no bar views,
    ``ValueError`` (``InvalidEvent``) for a refused value, nothing changed.
    """

    def load_history(
        self, symbol_id: int, ohlcv: npt.NDArray[np.float64], timeframe_ns: int = 0
    ) -> int: ...
    def on_funding(self, symbol_id: int, ts_ns: int, rate: float) -> None: ...
    def on_open_interest(self, symbol_id: int, ts_ns: int, value: float) -> None: ...
    def on_long_short(
        self, symbol_id: int, ts_ns: int, long_share: float, short_share: float
    ) -> None: ...


@dataclass(frozen=True)
class RestPollConfig:
    """What :class:`RestPoller` fetches and how often.

    ``timeframes``: ccxt timeframes warmed up with ``fetch_ohlcv`` (the engine's view
    timeframes by default); ``history_limit``: rows / samples asked per history call;
    ``*_interval``: seconds between polls (0 disables that series' polling);
    ``ratio_period``: the period of the long/short ratio and OI history (Binance: 5m ... 1d);
    ``warmup_timeout``: seconds the whole warm-up may take before streaming starts regardless
    (finite, > 0; each call is bounded by ccxt's ``timeout``).
    """

    timeframes: tuple[str, ...] = ("1m", "5m", "30m", "4h")
    history_limit: int = 500
    funding_interval: float = 60.0
    open_interest_interval: float = 60.0
    long_short_interval: float = 300.0
    ratio_period: str = "5m"
    warmup_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, was {self.history_limit}")
        if not (math.isfinite(self.warmup_timeout) and self.warmup_timeout > 0):
            raise ValueError(f"warmup_timeout must be finite and > 0, was {self.warmup_timeout}")
        for name in ("funding_interval", "open_interest_interval", "long_short_interval"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, was {v}")


def _ms(x: Any) -> int | None:
    return int(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class RestPoller:
    """Warm-up and scheduled polling of one exchange's REST inputs into an Engine.

    Parameters
    ----------
    rest:
        A ccxt ``async_support`` exchange (markets loaded or loadable).
    engine:
        The engine the feed writes into (or a :class:`RestSink`).
    symbols:
        ccxt unified symbol -> engine symbol id.
    config:
        :class:`RestPollConfig`.
    sleep:
        Injected for tests.
    """

    def __init__(
        self,
        rest: Any,
        engine: RestSink,
        symbols: Mapping[str, int],
        config: RestPollConfig | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rest = rest
        self.engine = engine
        self.symbols = dict(symbols)
        self.config = config or RestPollConfig()
        self._sleep = sleep
        #: Failed calls per ccxt method name.
        self.errors: dict[str, int] = {}
        #: Successful calls per ccxt method name.
        self.calls: dict[str, int] = {}
        #: Samples fed per (symbol, series); history bars per (symbol, "ohlcv:<tf>").
        self.fed: dict[tuple[str, str], int] = {}
        #: Methods skipped because the exchange lacks them (each logged once).
        self.skipped: set[str] = set()
        self.last_error: str | None = None
        #: "pending", then "done", "partial: N calls failed" or "timed out after S s at CALL"
        #: (see :meth:`warm_up_bounded`).
        self.warmup_status = "pending"
        self._current_call = ""
        self._last_ts: dict[tuple[str, str], int] = {}
        self._no_views = False

    # -- helpers ---------------------------------------------------------------------------------

    def _has(self, method: str) -> bool:
        if method in self.skipped:
            return False
        if self.rest.has.get(method) in (True, "emulated"):
            return True
        self.skipped.add(method)
        log.info("%s has no %s: skipped", self.rest.id, method)
        return False

    def _is_contract(self, symbol: str) -> bool:
        market = (getattr(self.rest, "markets", None) or {}).get(symbol) or {}
        return bool(market.get("contract") or market.get("swap") or market.get("future"))

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One ccxt call; None (counted and logged) on any failure (ccxt's RequestTimeout too)."""
        fn = getattr(self.rest, _snake(method))
        what = " ".join([method, *(str(a) for a in args[:2] if isinstance(a, str))])
        self._current_call = what
        try:
            out = await fn(*args, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ccxt.NetworkError / ExchangeError / parse errors
            self.errors[method] = self.errors.get(method, 0) + 1
            self.last_error = f"{what}: {type(exc).__name__}: {exc}"
            log.warning("REST %s", self.last_error)
            return None
        self.calls[method] = self.calls.get(method, 0) + 1
        return out

    def _feed(self, symbol: str, series: str, ts_ms: int | None, *values: float) -> bool:
        """Feeds one sample newer than the last of its series; False when skipped."""
        if ts_ms is None:
            return False
        key = (symbol, series)
        ts_ns = ts_ms * 1_000_000
        if ts_ns <= self._last_ts.get(key, -(2**63)):
            return False
        sid = self.symbols[symbol]
        try:
            if series == "funding":
                self.engine.on_funding(sid, ts_ns, values[0])
            elif series == "open_interest":
                self.engine.on_open_interest(sid, ts_ns, values[0])
            else:
                self.engine.on_long_short(sid, ts_ns, values[0], values[1])
        except InvalidConfig:
            self._disable_views()
            return False
        except CapacityExceeded as exc:  # a full shard ring: polled again next time
            self._count_refusal(symbol, series, exc)
            return False
        except ValueError as exc:  # InvalidEvent: refused once, not again at every poll
            self._count_refusal(symbol, series, exc)
            self._last_ts[key] = ts_ns
            return False
        self._last_ts[key] = ts_ns
        self.fed[key] = self.fed.get(key, 0) + 1
        return True

    def refused(self, symbol_id: int, series: str, error: Exception) -> None:
        """A sample that :meth:`_feed` handed to an asynchronous sink was refused later.

        Counted and logged as a synchronous refusal is (``InvalidConfig``: no bar views, REST
        inputs off), and taken back out of :attr:`fed`; like a synchronous refusal, the sample
        is not fed again.
        """
        symbol = next((s for s, sid in self.symbols.items() if sid == symbol_id), None)
        if symbol is None or series not in SERIES:
            return
        key = (symbol, series)
        if self.fed.get(key, 0) > 0:
            self.fed[key] -= 1
        if isinstance(error, InvalidConfig):
            self._disable_views()
        else:
            self._count_refusal(symbol, series, error)

    def _count_refusal(self, symbol: str, series: str, error: Exception) -> None:
        self.errors[series] = self.errors.get(series, 0) + 1
        self.last_error = f"{series} {symbol}: {error}"
        log.warning("REST sample refused: %s", self.last_error)

    def _disable_views(self) -> None:
        if not self._no_views:
            self._no_views = True
            log.info("engine has no bar views (hft_ultra_fast): REST history and polling off")

    # -- warm-up ---------------------------------------------------------------------------------

    async def warm_up_bounded(self) -> bool:
        """:meth:`warm_up` within ``warmup_timeout`` s; True when every call succeeded.

        Never raises for a failed or slow venue (cancellation, e.g. Ctrl-C, propagates): on
        timeout it logs a warning naming the call it was waiting for, and the feed streams
        without the rest of the history (the views fill from live trades, no data until then).
        """
        failed_before = sum(self.errors.values())
        # A task and asyncio.wait, not wait_for: wait_for can swallow a cancellation that
        # arrives as the call completes (Python < 3.12), and Ctrl-C must always get through.
        task = asyncio.ensure_future(self.warm_up())
        try:
            await asyncio.wait({task}, timeout=self.config.warmup_timeout)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if not task.cancelled():
            task.result()  # a bug in warm_up() itself is not a venue failure: raise it
        else:
            self.warmup_status = (
                f"timed out after {self.config.warmup_timeout:g} s at {self._current_call}"
            )
            log.warning(
                "REST warm-up %s: streaming without the rest of the history (the views warm"
                " up from live trades and have no data until then)",
                self.warmup_status,
            )
            return False
        failed = sum(self.errors.values()) - failed_before
        if failed:
            self.warmup_status = f"partial: {failed} calls failed (last: {self.last_error})"
            log.warning("REST warm-up %s", self.warmup_status)
            return False
        self.warmup_status = "done"
        return True

    async def warm_up(self) -> None:
        """Loads OHLCV history and the sentiment series' history; call before the first trade."""
        limit = self.config.history_limit
        if getattr(self.rest, "markets", None) is None:
            await self._call("loadMarkets")
        for symbol in self.symbols:
            if self._no_views:
                return
            if self._has("fetchOHLCV"):
                for tf in self.config.timeframes:
                    rows = await self._call("fetchOHLCV", symbol, tf, None, limit)
                    if rows:
                        self._load_ohlcv(symbol, tf, rows)
                    if self._no_views:
                        return
            if not self._is_contract(symbol):
                log.info("%s is not a contract: no funding, open interest or long/short", symbol)
                continue
            if self._has("fetchFundingRateHistory"):
                hist = await self._call("fetchFundingRateHistory", symbol, None, limit)
                for h in sorted(hist or [], key=lambda h: h.get("timestamp") or 0):
                    rate = _num(h.get("fundingRate"))
                    if rate is not None:
                        self._feed(symbol, "funding", _ms(h.get("timestamp")), rate)
            if self._has("fetchOpenInterestHistory"):
                hist = await self._call(
                    "fetchOpenInterestHistory", symbol, self.config.ratio_period, None, limit
                )
                for h in sorted(hist or [], key=lambda h: h.get("timestamp") or 0):
                    self._feed_oi(symbol, h)
            if self._has("fetchLongShortRatioHistory"):
                hist = await self._call(
                    "fetchLongShortRatioHistory", symbol, self.config.ratio_period, None, limit
                )
                for h in sorted(hist or [], key=lambda h: h.get("timestamp") or 0):
                    self._feed_lsr(symbol, h)

    def _load_ohlcv(self, symbol: str, tf: str, rows: Sequence[Sequence[Any]]) -> None:
        closed = list(rows)[:-1]  # ccxt's last row is the still-forming bar
        if not closed:
            return
        try:
            arr = np.array([[float(v) for v in r[:6]] for r in closed], dtype=np.float64)
            self.engine.load_history(self.symbols[symbol], arr)
        except InvalidConfig:
            self._disable_views()
            return
        except (ValueError, TypeError, IndexError) as exc:  # InvalidEvent: rows refused
            key = f"fetchOHLCV:{tf}"
            self.errors[key] = self.errors.get(key, 0) + 1
            self.last_error = f"history {symbol} {tf}: {exc}"
            log.warning("REST history refused: %s", self.last_error)
            return
        self.fed[(symbol, f"ohlcv:{tf}")] = len(closed)

    def _feed_oi(self, symbol: str, h: Mapping[str, Any]) -> None:
        v = _num(h.get("openInterestAmount"))
        if v is None:
            v = _num(h.get("openInterestValue"))
        if v is not None:
            self._feed(symbol, "open_interest", _ms(h.get("timestamp")), v)

    def _feed_lsr(self, symbol: str, h: Mapping[str, Any]) -> None:
        r = _num(h.get("longShortRatio"))
        if r is not None and r >= 0:
            self._feed(symbol, "long_short", _ms(h.get("timestamp")), r, 1.0)

    # -- polling ---------------------------------------------------------------------------------

    async def poll_funding(self) -> None:
        if not self._has("fetchFundingRate"):
            return
        for symbol in self._contracts():
            fr = await self._call("fetchFundingRate", symbol)
            if fr:
                rate = _num(fr.get("fundingRate"))
                if rate is not None:
                    self._feed(symbol, "funding", _ms(fr.get("timestamp")), rate)

    async def poll_open_interest(self) -> None:
        if not self._has("fetchOpenInterest"):
            return
        for symbol in self._contracts():
            oi = await self._call("fetchOpenInterest", symbol)
            if oi:
                self._feed_oi(symbol, oi)

    async def poll_long_short(self) -> None:
        if not self._has("fetchLongShortRatioHistory"):
            return
        for symbol in self._contracts():
            hist = await self._call(
                "fetchLongShortRatioHistory", symbol, self.config.ratio_period, None, 1
            )
            for h in sorted(hist or [], key=lambda h: h.get("timestamp") or 0):
                self._feed_lsr(symbol, h)

    def _contracts(self) -> list[str]:
        if self._no_views:
            return []
        return [s for s in self.symbols if self._is_contract(s)]

    async def run(self) -> None:
        """Polls every series on its interval until cancelled; never raises on a failed call."""
        cfg = self.config
        jobs = [
            (cfg.funding_interval, self.poll_funding),
            (cfg.open_interest_interval, self.poll_open_interest),
            (cfg.long_short_interval, self.poll_long_short),
        ]
        await asyncio.gather(*(self._every(p, job) for p, job in jobs if p > 0))

    async def _every(self, period: float, job: Callable[[], Awaitable[None]]) -> None:
        while not self._no_views:
            await job()
            await self._sleep(period)


def _snake(method: str) -> str:
    """'fetchOHLCV' -> 'fetch_ohlcv', 'fetchOpenInterest' -> 'fetch_open_interest'."""
    out = []
    for i, ch in enumerate(method):
        if ch.isupper() and i > 0 and not method[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
