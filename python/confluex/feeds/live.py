"""Live market data: exchange WebSocket streams -> FeedSession -> Engine -> scores.

:class:`LiveFeed` connects to a venue's public WebSocket (Binance spot / USD-M combined
streams, Bybit v5 public), hands every raw frame to :class:`confluex.FeedSession`
(no JSON decoding in Python on the hot path) and keeps each symbol's book in sync:

- Binance: depth diffs are buffered by the session until a REST depth snapshot, fetched
  through ccxt's raw implicit endpoint (``publicGetDepth`` / ``fapiPublicGetDepth``, which
  keeps prices as exact decimal strings), is applied. The fetch starts only after the first
  depth message of the symbol arrived, so the snapshot straddles the buffered stream.
- Bybit: snapshots come in-stream; a resync resubscribes the symbol's order book topic, which
  makes Bybit send a fresh snapshot.
- Reconnects use exponential backoff with jitter; after a reconnect every symbol resyncs.
- A stale-stream watchdog resyncs a symbol that sent nothing for ``stale_seconds``.
- ``on_update(symbol, result)`` is called after every message that changed a symbol.
- ``record=FILE`` writes every frame and REST snapshot, with the time stamp the session saw,
  as ``<ns> <raw JSON>`` lines (gzip when FILE ends in ``.gz``): ``confluex replay FILE``
  then replays the session bit for bit (see :class:`Recorder`).

The ``confluex live`` command (a terminal view over a :class:`LiveFeed`) lives apart from
the feed, in :mod:`confluex.live_view`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..engine import (
    NO_SYMBOL,
    ConfluenceResult,
    Engine,
    FeedSession,
    Instrument,
    MsgKind,
    SessionConfig,
    Venue,
)
from ..markets import instrument_from_market
from ..markets import venue_symbol as market_id_of
from .rest_poll import RestPollConfig, RestPoller, RestSink

__all__ = [
    "EXCHANGES",
    "Backoff",
    "ExchangeSpec",
    "LiveFeed",
    "Recorder",
    "SymbolStats",
]

log = logging.getLogger(__name__)

UpdateCallback = Callable[[str, ConfluenceResult], None]


@dataclass(frozen=True)
class ExchangeSpec:
    """How one venue is reached: its stream URL, REST client and depth endpoint."""

    name: str
    venue: Venue
    ccxt_class: str  # ccxt.async_support class name
    ws_url: str  # default stream base URL (Bybit: per category, see LiveFeed)
    depth_method: str | None  # ccxt implicit REST depth endpoint (Binance only)
    market_types: tuple[str, ...]  # ccxt options['fetchMarkets']['types']
    # Decimals of the quantities the depth stream sends, when finer than the order step:
    # Binance spot sends 8 decimals even where the step size is 0.00001.
    feed_qty_decimals: int | None = None


EXCHANGES: dict[str, ExchangeSpec] = {
    "binance": ExchangeSpec(
        "binance",
        Venue.binance_spot,
        "binance",
        "wss://stream.binance.com:9443/stream",
        "publicGetDepth",
        ("spot",),
        feed_qty_decimals=8,
    ),
    "binance-futures": ExchangeSpec(
        "binance-futures",
        Venue.binance_futures,
        "binanceusdm",
        "wss://fstream.binance.com/stream",
        "fapiPublicGetDepth",
        ("linear",),
    ),
    "bybit": ExchangeSpec(
        "bybit",
        Venue.bybit,
        "bybit",
        "wss://stream.bybit.com/v5/public/linear",
        None,
        ("spot", "linear"),
    ),
}
BYBIT_SPOT_WS = "wss://stream.bybit.com/v5/public/spot"
BYBIT_BOOK_DEPTH = 200
SNAPSHOT_LIMIT = 1000


def _rebase_urls(api: Any, base: str) -> Any:
    """Points every URL of a ccxt ``urls['api']`` tree at ``base``, keeping the paths."""
    if isinstance(api, dict):
        return {k: _rebase_urls(v, base) for k, v in api.items()}
    if isinstance(api, str):
        path = urlsplit(api.replace("{hostname}", "host")).path
        return base.rstrip("/") + path
    return api


# ---------------------------------------------------------------------------------------------
# Backoff


@dataclass
class Backoff:
    """Exponential backoff with jitter: attempt n waits base * 2**n (capped) times U[1-j, 1]."""

    base: float = 0.5
    cap: float = 30.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        raw = min(self.cap, self.base * (2.0**self.attempt))
        self.attempt += 1
        return raw * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0


# ---------------------------------------------------------------------------------------------
# Recording


class Recorder:
    """Writes what a live session fed its FeedSession in the replay format.

    One line per frame or REST snapshot, ``<ns> <raw JSON>``, in the order and with the time
    stamps the session saw them: a Binance capture in hftbacktest's format (combined-stream
    frames; REST snapshots as their own lines, given the venue symbol as a leading ``"s"`` key
    so that a multi-symbol recording routes them), or, for Bybit, v5 frames after the stamp.
    Replaying the file (``confluex replay FILE``) feeds the same bytes at the same stamps, so
    books, scores and series come out bit-identical. What is not a frame is not recorded: a
    reconnect shows up in the replay as the sequence gap it caused, resynced at the next
    recorded snapshot. A ``.gz`` path is gzip-compressed. The file is flushed every
    ``flush_every`` lines (so a killed process loses at most those) and by close().
    """

    def __init__(self, path: str | Path, flush_every: int = 10_000) -> None:
        if flush_every < 1:
            raise ValueError(f"flush_every must be >= 1, was {flush_every}")
        p = Path(path)
        try:
            raw: io.BufferedIOBase = gzip.open(p, "wb") if p.suffix == ".gz" else p.open("wb")
        except OSError as exc:
            raise ValueError(f"cannot write the recording, was {str(p)!r}: {exc.strerror}") from exc
        self.path = p
        self._fh = raw
        self._flush_every = flush_every
        self.lines = 0

    def frame(self, ts_ns: int, frame: bytes) -> None:
        """Records one received frame."""
        if b"\n" in frame:  # JSON whitespace only: a raw newline cannot sit inside a string
            frame = frame.replace(b"\r", b" ").replace(b"\n", b" ")
        self._fh.write(b"%d %s\n" % (ts_ns, frame))
        self.lines += 1
        if self.lines % self._flush_every == 0:
            self._fh.flush()

    def snapshot(self, ts_ns: int, venue_symbol: str, payload: bytes) -> None:
        """Records one REST depth snapshot (the JSON object given to on_snapshot())."""
        body = payload.lstrip()
        if not body.startswith(b"{"):
            raise ValueError(f"snapshot payload must be a JSON object, was {payload[:40]!r}")
        tagged = b'{"s":' + json.dumps(venue_symbol).encode() + (b"," if body[1:2] != b"}" else b"")
        self.frame(ts_ns, tagged + body[1:])

    def close(self) -> None:
        self._fh.close()


# ---------------------------------------------------------------------------------------------
# LiveFeed


@dataclass
class SymbolStats:
    """Python-side counters of one symbol (the session's health() has the native ones)."""

    symbol: str
    venue_symbol: str
    symbol_id: int
    frames: int = 0
    stale_resyncs: int = 0
    snapshot_requests: int = 0
    snapshot_errors: int = 0
    last_frame_mono: float = 0.0
    fetching: bool = False


class LiveFeed:
    """Streams one venue's public market data for some symbols into an Engine.

    Parameters
    ----------
    exchange:
        ``"binance"``, ``"binance-futures"`` or ``"bybit"``.
    symbols:
        ccxt unified symbols (``"BTC/USDT"``, ``"BTC/USDT:USDT"``).
    ws_url / rest_url:
        Override the stream URL (without query) and the REST base (``http://host:port``; every
        ccxt API URL keeps its path and gets this base).
    instruments:
        Per-symbol Instrument overrides; when every symbol has one, no markets are loaded.
    stale_seconds:
        A symbol with no frame for this long is resynced (0 disables the watchdog).
    on_update:
        ``on_update(symbol, result)`` after each message that changed a symbol.
    rest_options:
        Extra ccxt constructor options (e.g. ``{"enableRateLimit": False}`` against a local
        test server; ccxt's limiter spaces 1000-level Binance snapshots 2.5 s apart).
    record:
        A path, or a :class:`Recorder`: every frame and REST snapshot goes there in the
        replay format (see :class:`Recorder`); closed when run() ends.
    rest_poll:
        A :class:`~confluex.feeds.rest_poll.RestPollConfig`: warm the engine up from REST
        history at start (OHLCV, funding, OI, long/short) and poll the sentiment inputs on its
        schedule (see :mod:`confluex.feeds.rest_poll`); None (default) fetches neither.
    clock_ns / frame_ts / monotonic / sleep / backoff:
        Injected time sources for tests. ``frame_ts(frame)`` stamps a received frame (default:
        ``clock_ns()``); REST snapshots are stamped with the latest frame's stamp so that the
        session sees monotonic times.
    """

    def __init__(
        self,
        exchange: str,
        symbols: Sequence[str],
        *,
        ws_url: str | None = None,
        rest_url: str | None = None,
        instruments: Mapping[str, Instrument] | None = None,
        stale_seconds: float = 10.0,
        on_update: UpdateCallback | None = None,
        engine: Engine | None = None,
        session_config: SessionConfig | None = None,
        backoff: Backoff | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        frame_ts: Callable[[bytes], int] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        open_timeout: float = 10.0,
        rest_options: Mapping[str, Any] | None = None,
        record: str | Path | Recorder | None = None,
        rest_poll: RestPollConfig | None = None,
    ) -> None:
        if exchange not in EXCHANGES:
            raise ValueError(f"exchange must be one of {sorted(EXCHANGES)}, was {exchange!r}")
        if not symbols:
            raise ValueError("symbols must not be empty")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be distinct, was {list(symbols)!r}")
        if stale_seconds < 0:
            raise ValueError(f"stale_seconds must be >= 0, was {stale_seconds}")
        self.spec = EXCHANGES[exchange]
        self.symbols = list(symbols)
        self.rest_url = rest_url
        self.ws_url = ws_url or self._default_ws_url()
        self.stale_seconds = stale_seconds
        self.on_update = on_update
        self.engine = engine if engine is not None else Engine()
        self.session = FeedSession(self.engine, self.spec.venue, session_config or SessionConfig())
        self.backoff = backoff or Backoff()
        self._instrument_overrides = dict(instruments or {})
        self._clock_ns = clock_ns
        self._frame_ts = frame_ts
        self._mono = monotonic
        self._sleep = sleep
        self._open_timeout = open_timeout
        self._rest_options = dict(rest_options or {})
        self._rest: Any = None  # ccxt.async_support exchange
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()  # binds to the running loop on first wait (3.10+)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_ts = 0
        self._started = False
        self.by_id: dict[int, SymbolStats] = {}
        self.by_symbol: dict[str, SymbolStats] = {}
        self.connections = 0
        self.reconnects = 0
        self.reconnect_delays: list[float] = []
        self.callback_errors = 0
        self.last_error: str | None = None
        #: ``latency_hook(ns)`` after every frame with the time ``on_message`` took (parse ->
        #: book -> score), e.g. :meth:`confluex.metrics.LiveMetrics.observe_message`.
        self.latency_hook: Callable[[int], None] | None = None
        self.recorder = record if isinstance(record, Recorder | None) else Recorder(record)
        self._rest_poll = rest_poll
        #: The REST warm-up / polling driver (with ``rest_poll``), created by start().
        self.poller: RestPoller | None = None

    # -- setup ---------------------------------------------------------------------------------

    def _default_ws_url(self) -> str:
        if self.spec.venue == Venue.bybit:
            spot = [":" not in s for s in self.symbols]
            if any(spot) and not all(spot):
                raise ValueError(
                    "bybit symbols must be all spot or all linear (one stream each), "
                    f"was {self.symbols!r}"
                )
            return BYBIT_SPOT_WS if all(spot) else self.spec.ws_url
        return self.spec.ws_url

    def _make_rest(self) -> Any:
        import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]

        cls = getattr(ccxt_async, self.spec.ccxt_class)
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "options": {"fetchMarkets": {"types": list(self.spec.market_types)}},
        }
        config.update(self._rest_options)
        rest = cls(config)
        if self.rest_url is not None:
            rest.urls["api"] = _rebase_urls(rest.urls["api"], self.rest_url)
        return rest

    async def start(self) -> None:
        """Resolves symbols and instruments (loading markets unless all are overridden)."""
        if self._started:
            return
        need_rest = (
            self.spec.depth_method is not None
            or self._rest_poll is not None
            or any(s not in self._instrument_overrides for s in self.symbols)
        )
        if need_rest and self._rest is None:
            self._rest = self._make_rest()
        markets: Mapping[str, Any] = {}
        if any(s not in self._instrument_overrides for s in self.symbols):
            markets = await self._rest.load_markets()
        for s in self.symbols:
            if s in markets:
                market = markets[s]
                venue_symbol = str(market["id"])
            elif s in self._instrument_overrides:
                market, venue_symbol = {}, market_id_of(s)
            else:
                raise ValueError(f"unknown symbol on {self.spec.name}, was {s!r}")
            inst = self._instrument_overrides.get(s)
            if inst is None:
                inst = instrument_from_market(
                    market, int(self._rest.precisionMode), self.spec.feed_qty_decimals
                )
            sid = self._register(s, venue_symbol, inst)
            st = SymbolStats(s, venue_symbol, sid, last_frame_mono=self._mono())
            self.by_id[sid] = st
            self.by_symbol[s] = st
        if self._rest_poll is not None:
            ids = {s: st.symbol_id for s, st in self.by_symbol.items()}
            self.poller = RestPoller(
                self._rest, self._rest_sink(), ids, self._rest_poll, sleep=self._sleep
            )
            await self.poller.warm_up_bounded()  # bounded: never stalls start-up
        self._started = True

    # -- engine hooks (the threaded feed, confluex.feeds.live_sharded, overrides these) ---------

    def _register(self, symbol: str, venue_symbol: str, inst: Instrument) -> int:
        """Adds a symbol to the engine and the session; returns its id."""
        sid = self.engine.add_symbol(symbol, inst)
        self.session.add_symbol(venue_symbol, sid)
        return sid

    def _rest_sink(self) -> RestSink:
        """Where the REST warm-up and polls write (the engine itself)."""
        return self.engine

    def _request_resync(self, sid: int) -> None:
        self.session.request_resync(sid)

    def _needs_snapshot(self, sid: int) -> bool:
        return self.session.needs_snapshot(sid)

    async def _apply_snapshot(self, sid: int, payload: bytes, ts: int) -> str | None:
        """Applies a REST depth snapshot; returns None, or the error's name."""
        result = self.session.on_snapshot(sid, payload, ts)
        return None if result.ok else result.error.name

    # -- public control ------------------------------------------------------------------------

    def stop(self) -> None:
        """Asks run() to finish: closes the socket; run() then closes everything else."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            self._spawn(self._close_ws(ws))

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def symbol_id(self, symbol: str) -> int:
        return self.by_symbol[symbol].symbol_id

    def stream_url(self) -> str:
        """The URL connected to (Binance: combined streams in the query)."""
        if self.spec.venue == Venue.bybit:
            return self.ws_url
        streams = []
        for st in self.by_id.values():
            s = st.venue_symbol.lower()
            streams += [f"{s}@depth@100ms", f"{s}@trade", f"{s}@bookTicker"]
        return f"{self.ws_url}?streams={'/'.join(streams)}"

    def bybit_topics(self, st: SymbolStats) -> list[str]:
        return [f"orderbook.{BYBIT_BOOK_DEPTH}.{st.venue_symbol}", f"publicTrade.{st.venue_symbol}"]

    # -- run -------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Runs until stop() or cancellation; always closes the socket, tasks and ccxt client."""
        try:
            await self.start()
            if self.stale_seconds > 0:
                self._spawn(self._watchdog())
            if self.poller is not None:
                self._spawn(self.poller.run())
            while not self._stopping.is_set():
                received = await self._connect_once()
                if self._stopping.is_set():
                    break
                if received:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                self.reconnect_delays.append(delay)
                self.reconnects += 1
                log.warning("%s: reconnecting in %.3f s", self.spec.name, delay)
                await self._wait_stop_or_sleep(delay)
        finally:
            await self._shutdown()

    async def _wait_stop_or_sleep(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(delay))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, stopper):
                t.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def _connect_once(self) -> bool:
        """One connection's life; returns whether it received any frame."""
        received = False
        try:
            async with connect(
                self.stream_url(), open_timeout=self._open_timeout, max_size=None, compression=None
            ) as ws:
                self._ws = ws
                self.connections += 1
                if self.connections > 1:
                    log.warning(
                        "%s: reconnected (connection %d): resyncing %d symbols",
                        self.spec.name,
                        self.connections,
                        len(self.by_id),
                    )
                else:
                    log.info("%s: connected to %s", self.spec.name, self.ws_url)
                now = self._mono()
                for sid, st in self.by_id.items():
                    st.last_frame_mono = now  # the watchdog counts from the connection
                    if self.connections > 1:
                        self._request_resync(sid)
                if self.spec.venue == Venue.bybit:
                    topics = [t for st in self.by_id.values() for t in self.bybit_topics(st)]
                    await ws.send(json.dumps({"op": "subscribe", "args": topics}))
                    self._spawn(self._bybit_ping(ws))
                received = await self._read_loop(ws)
        except websockets.exceptions.InvalidURI as exc:
            raise ValueError(f"bad stream URL, was {exc.uri!r}") from exc
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("stream connection failed: %s", self.last_error)
        finally:
            self._ws = None
        return received

    async def _read_loop(self, ws: ClientConnection) -> bool:
        session, by_id, mono = self.session, self.by_id, self._mono
        frame_ts, clock = self._frame_ts, self._clock_ns
        binance = self.spec.depth_method is not None
        depth, snapshot, trade = MsgKind.Depth, MsgKind.Snapshot, MsgKind.Trade
        hook, ns = self.latency_hook, time.perf_counter_ns
        recorder = self.recorder
        received = False
        try:
            while True:
                frame = await ws.recv(decode=False)
                ts = frame_ts(frame) if frame_ts is not None else clock()
                self._last_ts = ts
                if recorder is not None:
                    recorder.frame(ts, frame)
                if hook is None:
                    r = session.on_message(frame, ts)
                else:
                    t0 = ns()
                    r = session.on_message(frame, ts)
                    hook(ns() - t0)
                received = True
                sid = r.symbol_id
                if sid == NO_SYMBOL:
                    continue
                st = by_id.get(sid)
                if st is None:
                    continue
                st.frames += 1
                st.last_frame_mono = mono()
                kind = r.kind
                if binance and kind == depth and not st.fetching and session.needs_snapshot(sid):
                    self._start_snapshot(st)
                if (
                    self.on_update is not None
                    and r.ok
                    and (kind == depth or kind == trade or kind == snapshot)
                ):
                    self._notify(st)
        except websockets.exceptions.ConnectionClosedOK:
            pass
        except websockets.exceptions.ConnectionClosedError as exc:
            self.last_error = f"connection closed: {exc}"
            log.warning("stream %s", self.last_error)
        return received

    def _notify(self, st: SymbolStats) -> None:
        assert self.on_update is not None
        try:
            self.on_update(st.symbol, self.engine.result(st.symbol_id))
        except Exception:  # a consumer's bug must not stop the market data
            self.callback_errors += 1
            log.exception("on_update callback failed for %s", st.symbol)

    # -- Binance REST snapshots ------------------------------------------------------------------

    def _start_snapshot(self, st: SymbolStats) -> None:
        if st.snapshot_requests:
            log.warning("%s: book out of sync, resyncing from a REST snapshot", st.symbol)
        else:
            log.info("%s: fetching the initial REST depth snapshot", st.symbol)
        st.fetching = True
        self._spawn(self._snapshot_loop(st))

    async def _snapshot_loop(self, st: SymbolStats) -> None:
        assert self.spec.depth_method is not None and self._rest is not None
        method = getattr(self._rest, self.spec.depth_method)
        retry = Backoff(base=0.2, cap=5.0, jitter=self.backoff.jitter, rng=self.backoff.rng)
        try:
            while self._needs_snapshot(st.symbol_id) and not self.stopping:
                st.snapshot_requests += 1
                try:
                    raw = await method({"symbol": st.venue_symbol, "limit": SNAPSHOT_LIMIT})
                except Exception as exc:  # ccxt.NetworkError / ExchangeError / aiohttp errors
                    st.snapshot_errors += 1
                    self.last_error = f"snapshot {st.symbol}: {type(exc).__name__}: {exc}"
                    log.warning("%s", self.last_error)
                    await self._sleep(retry.next_delay())
                    continue
                payload = json.dumps(raw, separators=(",", ":")).encode()
                ts = self._last_ts if self._frame_ts is not None else self._clock_ns()
                if self.recorder is not None:
                    self.recorder.snapshot(ts, st.venue_symbol, payload)
                error = await self._apply_snapshot(st.symbol_id, payload, ts)
                if error is not None:
                    st.snapshot_errors += 1
                    self.last_error = f"snapshot {st.symbol}: {error}"
                if self._needs_snapshot(st.symbol_id):
                    # Older than the buffered stream (or refused): Binance says fetch again.
                    await self._sleep(retry.next_delay())
                else:
                    log.info("%s: book synced from the snapshot", st.symbol)
                    if self.on_update is not None:
                        self._notify(st)
        finally:
            st.fetching = False

    # -- watchdog and keepalive --------------------------------------------------------------------

    async def _watchdog(self) -> None:
        period = max(0.01, min(1.0, self.stale_seconds / 4))
        while True:
            await self._sleep(period)
            if self._ws is None:
                continue  # reconnecting: the reconnect resyncs every symbol
            now = self._mono()
            for st in self.by_id.values():
                if now - st.last_frame_mono < self.stale_seconds:
                    continue
                st.stale_resyncs += 1
                st.last_frame_mono = now  # fire again only after another silent period
                log.warning("%s: no message for %.1f s, resyncing", st.symbol, self.stale_seconds)
                self._request_resync(st.symbol_id)
                if self.spec.venue == Venue.bybit:
                    await self._bybit_resubscribe(st)
                elif not st.fetching:
                    self._start_snapshot(st)

    async def _bybit_resubscribe(self, st: SymbolStats) -> None:
        ws = self._ws
        if ws is None:
            return
        book = self.bybit_topics(st)[:1]
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await ws.send(json.dumps({"op": "unsubscribe", "args": book}))
            await ws.send(json.dumps({"op": "subscribe", "args": book}))

    async def _bybit_ping(self, ws: ClientConnection) -> None:
        # Bybit drops connections without an application-level ping every 20 s.
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            while True:
                await self._sleep(20.0)
                await ws.send('{"op":"ping"}')

    # -- task bookkeeping and shutdown ------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.last_error = f"task failed: {task.exception()!r}"
            log.error("background task failed", exc_info=task.exception())

    @staticmethod
    async def _close_ws(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await ws.close()

    async def _shutdown(self) -> None:
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await self._close_ws(ws)
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._rest is not None:
            rest, self._rest = self._rest, None
            await rest.close()
        if self.recorder is not None:
            self.recorder.close()

    # -- read-outs ---------------------------------------------------------------------------

    def stats(self, symbol: str) -> dict[str, Any]:
        """Health of one symbol: the session's native counters plus the feed's own."""
        st = self.by_symbol[symbol]
        h: dict[str, Any] = self.session.health(st.symbol_id).to_dict()
        h.update(
            frames=st.frames,
            stale_resyncs=st.stale_resyncs,
            snapshot_requests=st.snapshot_requests,
            snapshot_errors=st.snapshot_errors,
            rest_warmup=self.poller.warmup_status if self.poller is not None else "off",
        )
        return h
