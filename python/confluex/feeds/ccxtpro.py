"""ccxt.pro fallback feed: ``watch_order_book`` / ``watch_trades`` into the same Engine.

For venues without a native parser (confluex.feeds.live covers Binance spot/USD-M and Bybit),
:class:`CcxtProFeed` takes ccxt.pro's unified, already-synchronised data: a whole order book
of float ``[price, amount]`` levels per update and lists of float trades. Floats are
converted to the engine's integer ticks and lots with the symbol's Instrument
(``price_to_ticks_f`` / ``qty_to_lots_f``, which refuse values off the grid).

Book modes
----------
``"diff"`` (default)
    The first book (and any book after an error) is applied as a snapshot; every later book
    is compared with the previous one (float price -> amount dicts, O(levels) in Python) and
    only the changed levels are applied as one depth message (removed levels with qty 0).
    Conversion then costs only what changed, and the engine sees level events just as from
    a native diff stream, so its order-flow (OFI) window works as usual. The engine mirrors
    the book as ccxt holds it: with ``book_limit`` a level leaving ccxt's window is removed.
``"snapshot"``
    Every book replaces the engine's book (``apply_snapshot``): simpler, but it converts
    every level on every update.

Update ids are the feed's own counter (ccxt's nonces differ by venue), each diff naming the
previous one, so the engine's sequence rule still catches a lost update.

Timestamps are the local receive time (``clock_ns``), as on the native path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..engine import ApplyResult, ConfluenceResult, ConfluexError, Engine, Instrument
from ..markets import instrument_from_market
from .live import Backoff

__all__ = ["BookMode", "CcxtProFeed", "ProSymbolStats", "WatchSource", "open_ccxtpro_source"]

log = logging.getLogger(__name__)

BookMode = Literal["diff", "snapshot"]
I64 = npt.NDArray[np.int64]
TRADE_ID_MEMORY = 10_000  # recent trade ids remembered per symbol to drop re-delivered trades
# ccxt exchange ids whose depth stream sends quantities finer than the order step.
FEED_QTY_DECIMALS = {"binance": 8}


class WatchSource(Protocol):
    """What CcxtProFeed needs of a ccxt.pro exchange (or a test's stand-in)."""

    async def watch_order_book(
        self, symbol: str, limit: int | None = None
    ) -> Mapping[str, Any]: ...

    async def watch_trades(self, symbol: str) -> Sequence[Mapping[str, Any]]: ...

    async def close(self) -> None: ...


def open_ccxtpro_source(exchange_id: str, config: Mapping[str, Any] | None = None) -> Any:
    """Returns ``ccxt.pro.<exchange_id>(config)`` (close it, or let CcxtProFeed.run close it)."""
    import ccxt.pro as ccxtpro  # type: ignore[import-untyped]

    cls = getattr(ccxtpro, exchange_id, None)
    if cls is None:
        raise ValueError(f"unknown ccxt.pro exchange, was {exchange_id!r}")
    return cls(dict(config or {}))


@dataclass
class ProSymbolStats:
    symbol: str
    symbol_id: int
    instrument: Instrument
    book_updates: int = 0  # books received
    book_applied: int = 0  # diffs or snapshots applied
    snapshots: int = 0
    levels_changed: int = 0
    resyncs: int = 0  # snapshots forced by a refused diff, a bad level or a watch error
    trades: int = 0
    trade_batches: int = 0  # watch_trades answers that applied at least one trade
    duplicate_trades: int = 0
    bad_levels: int = 0
    bad_trades: int = 0
    watch_errors: int = 0
    update_id: int = 0
    need_snapshot: bool = True
    prev_bids: dict[float, float] = field(default_factory=dict)
    prev_asks: dict[float, float] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    seen_order: deque[str] = field(default_factory=deque)


def _book_dict(levels: Sequence[Sequence[float]]) -> dict[float, float]:
    return {float(lv[0]): float(lv[1]) for lv in levels}


def _diff(prev: dict[float, float], new: dict[float, float]) -> list[tuple[float, float]]:
    changed = [(p, q) for p, q in new.items() if prev.get(p) != q]
    changed += [(p, 0.0) for p in prev if p not in new]
    return changed


def _to_levels(inst: Instrument, levels: Sequence[tuple[float, float]]) -> I64:
    to_t, to_l = inst.price_to_ticks_f, inst.qty_to_lots_f
    out = np.empty((len(levels), 2), dtype=np.int64)
    for i, (p, q) in enumerate(levels):
        out[i, 0] = to_t(p)
        out[i, 1] = to_l(q)
    return out


class CcxtProFeed:
    """Feeds an Engine from a ccxt.pro-style source; one book and one trade watcher per symbol.

    ``instruments`` maps each symbol to its Instrument; symbols without one get it from
    ``source.load_markets()`` (precision converted exactly, see confluex.instrument_from_market).
    """

    def __init__(
        self,
        source: WatchSource,
        symbols: Sequence[str],
        *,
        instruments: Mapping[str, Instrument] | None = None,
        engine: Engine | None = None,
        book_mode: BookMode = "diff",
        book_limit: int | None = None,
        on_update: Callable[[str, ConfluenceResult], None] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        backoff: Callable[[], Backoff] = Backoff,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        close_source: bool = True,
    ) -> None:
        if book_mode not in ("diff", "snapshot"):
            raise ValueError(f"book_mode must be 'diff' or 'snapshot', was {book_mode!r}")
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be distinct and not empty, was {list(symbols)!r}")
        self.source = source
        self.symbols = list(symbols)
        self.engine = engine if engine is not None else Engine()
        self.book_mode: BookMode = book_mode
        self.book_limit = book_limit
        self.on_update = on_update
        self._instruments = dict(instruments or {})
        self._clock = clock_ns
        self._backoff = backoff
        self._sleep = sleep
        self._close_source = close_source
        self._stop = asyncio.Event()
        self.by_symbol: dict[str, ProSymbolStats] = {}
        self.callback_errors = 0
        self.last_error: str | None = None

    async def start(self) -> None:
        """Registers the symbols in the engine (loading markets for missing instruments)."""
        if self.by_symbol:
            return
        missing = [s for s in self.symbols if s not in self._instruments]
        if missing:
            src: Any = self.source
            markets = await src.load_markets()
            mode = int(src.precisionMode)
            decimals = FEED_QTY_DECIMALS.get(str(getattr(src, "id", "")))
            for s in missing:
                market = markets[s]
                spot_decimals = decimals if market.get("spot") else None
                self._instruments[s] = instrument_from_market(market, mode, spot_decimals)
        for s in self.symbols:
            inst = self._instruments[s]
            sid = self.engine.add_symbol(s, inst)
            self.by_symbol[s] = ProSymbolStats(s, sid, inst)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Runs the watchers until stop() or cancellation, then closes the source."""
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.start()
            for st in self.by_symbol.values():
                tasks.append(asyncio.ensure_future(self._watch_books(st)))
                tasks.append(asyncio.ensure_future(self._watch_trades(st)))
            stopper = asyncio.ensure_future(self._stop.wait())
            tasks_and_stop: list[asyncio.Future[Any]] = [*tasks, stopper]
            try:
                done, _ = await asyncio.wait(tasks_and_stop, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
            for t in done:
                exc = None if t is stopper or t.cancelled() else t.exception()
                if exc is not None:
                    raise exc  # a bug in a watcher: surface it instead of running half-blind
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._close_source:
                await self.source.close()

    # -- books ------------------------------------------------------------------------------------

    async def _watch_books(self, st: ProSymbolStats) -> None:
        backoff = self._backoff()
        while True:
            try:
                book = await self.source.watch_order_book(st.symbol, self.book_limit)
            except Exception as exc:  # ccxt NetworkError / ExchangeError: ccxt reconnects
                self._watch_failed(st, "watch_order_book", exc)
                st.need_snapshot = True
                await self._sleep(backoff.next_delay())
                continue
            backoff.reset()
            if self.apply_book(st, book, self._clock()):
                self._notify(st)

    def apply_book(self, st: ProSymbolStats, book: Mapping[str, Any], ts_ns: int) -> bool:
        """Applies one ccxt order book to the engine; returns whether the book changed."""
        st.book_updates += 1
        bids, asks = _book_dict(book["bids"]), _book_dict(book["asks"])
        try:
            if st.need_snapshot or self.book_mode == "snapshot":
                return self._apply_snapshot(st, bids, asks, ts_ns)
            db, da = _diff(st.prev_bids, bids), _diff(st.prev_asks, asks)
            if not db and not da:
                return False
            lb, la = _to_levels(st.instrument, db), _to_levels(st.instrument, da)
        except ConfluexError as exc:  # off-grid float, negative size, crossed snapshot
            st.bad_levels += 1
            self.last_error = f"{st.symbol}: {exc}"
            self._resync(st)
            return False
        result = self.engine.apply_depth(
            st.symbol_id, lb, la, st.update_id + 1, st.update_id, ts_ns
        )
        st.update_id += 1
        if result != ApplyResult.applied:
            self.last_error = f"{st.symbol}: diff refused ({result.name})"
            self._resync(st)
            return False
        st.prev_bids, st.prev_asks = bids, asks
        st.book_applied += 1
        st.levels_changed += len(db) + len(da)
        return True

    def _apply_snapshot(
        self, st: ProSymbolStats, bids: dict[float, float], asks: dict[float, float], ts_ns: int
    ) -> bool:
        lb = _to_levels(st.instrument, [(p, q) for p, q in bids.items() if q > 0])
        la = _to_levels(st.instrument, [(p, q) for p, q in asks.items() if q > 0])
        self.engine.apply_snapshot(st.symbol_id, lb, la, st.update_id + 1, ts_ns)
        st.update_id += 1
        st.prev_bids, st.prev_asks = bids, asks
        st.need_snapshot = False
        st.snapshots += 1
        st.book_applied += 1
        return True

    def _resync(self, st: ProSymbolStats) -> None:
        st.need_snapshot = True
        st.resyncs += 1
        log.warning("%s", self.last_error)

    # -- trades -----------------------------------------------------------------------------------

    async def _watch_trades(self, st: ProSymbolStats) -> None:
        backoff = self._backoff()
        while True:
            try:
                trades = await self.source.watch_trades(st.symbol)
            except Exception as exc:
                self._watch_failed(st, "watch_trades", exc)
                await self._sleep(backoff.next_delay())
                continue
            backoff.reset()
            if self.apply_trades(st, trades, self._clock()):
                self._notify(st)

    def apply_trades(
        self, st: ProSymbolStats, trades: Sequence[Mapping[str, Any]], ts_ns: int
    ) -> int:
        """Pushes ccxt trades (dropping ids already seen); returns how many were applied."""
        inst, push, sid = st.instrument, self.engine.push_trade, st.symbol_id
        applied = 0
        for t in trades:
            tid = t.get("id")
            if tid is not None:
                key = str(tid)
                if key in st.seen_ids:
                    st.duplicate_trades += 1
                    continue
                st.seen_ids.add(key)
                st.seen_order.append(key)
                if len(st.seen_order) > TRADE_ID_MEMORY:
                    st.seen_ids.discard(st.seen_order.popleft())
            side = t.get("side")
            aggressor = 0 if side == "buy" else 1 if side == "sell" else 2
            try:
                push(
                    sid,
                    ts_ns,
                    inst.price_to_ticks_f(t["price"]),
                    inst.qty_to_lots_f(t["amount"]),
                    aggressor,
                )
            except (ConfluexError, TypeError, KeyError) as exc:
                st.bad_trades += 1
                self.last_error = f"{st.symbol}: bad trade {tid!r}: {exc}"
                continue
            applied += 1
        st.trades += applied
        st.trade_batches += applied > 0
        return applied

    # -- helpers ----------------------------------------------------------------------------------

    def _watch_failed(self, st: ProSymbolStats, what: str, exc: Exception) -> None:
        st.watch_errors += 1
        self.last_error = f"{st.symbol} {what}: {type(exc).__name__}: {exc}"
        log.warning("%s", self.last_error)

    def _notify(self, st: ProSymbolStats) -> None:
        if self.on_update is None:
            return
        try:
            self.on_update(st.symbol, self.engine.result(st.symbol_id))
        except Exception:  # a consumer's bug must not stop the market data
            self.callback_errors += 1
            log.exception("on_update callback failed for %s", st.symbol)
