"""The live feed on the threaded engine: sockets on asyncio, engines on their own threads.

:class:`ShardedLiveFeed` is a :class:`~confluex.feeds.live.LiveFeed` whose socket reader only
stamps each frame and pushes it into the lock-free ring of its symbol's shard
(:class:`confluex.ShardedEngine`); parsing, book sync and scoring run on the shards' engine
threads, without the GIL. The records come back on the event loop through the pipeline's
eventfd (``loop.add_reader``, no polling task):

- ``score`` records (one after each stream message that changed a symbol, and one after the
  REST snapshot that synced its book, as LiveFeed calls ``on_update``) update
  :attr:`ShardedLiveFeed.latest` and go to ``on_record(symbol, rec)``; a Binance symbol that
  is not synced gets its REST snapshot fetched (as in LiveFeed);
- ``resync`` records (a frame lost to a full ring) refetch the snapshot (Binance) or
  resubscribe the book (Bybit), and are counted per symbol;
- ``snapshot`` records answer the REST snapshots pushed through the ring;
- ``input`` records answer the REST samples pushed through the ring (see below);
- ``error`` records are counted and logged as typed errors.

REST warm-up and polling (``rest_poll=RestPollConfig(...)``, as in LiveFeed): the warm-up runs
before the engine threads start, so the bar history and the funding / open-interest /
long-short history go straight into the engine of the shard that owns each symbol; the
polled samples that follow are queued into that shard's ring (``push_funding`` ...), so its
engine thread applies them in order with the symbol's frames, and no other thread touches a
running shard's engine. A sample the shard refuses comes back as an ``input`` record and is
counted by the poller as a synchronous refusal would be (:meth:`RestPoller.refused`); a
sample refused by a full ring is counted the same way and polled again next time.

The reconnects, backoff, watchdog, recording and the bounds of the REST warm-up are
LiveFeed's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import websockets
from websockets.asyncio.client import ClientConnection

from .._core.engine import EngineConfig
from .._core.exceptions import CapacityExceeded
from .._core.instrument import Instrument
from .._core.session import SyncPhase, Venue
from ..pipeline import FrameKind, OutKind, PushStatus, ShardedEngine, record_error
from .live import LiveFeed, SymbolStats, UpdateCallback
from .rest_poll import RestSink

__all__ = ["ShardInputs", "ShardedLiveFeed"]

log = logging.getLogger(__name__)

RecordCallback = Callable[[str, np.void], None]
_SYNCED = SyncPhase.synced.value
_SNAPSHOT_TIMEOUT_S = 30.0
#: The poller's series of each REST input frame kind (an ``input`` record's count).
_SERIES_OF_INPUT = {
    int(FrameKind.funding): "funding",
    int(FrameKind.open_interest): "open_interest",
    int(FrameKind.long_short): "long_short",
}


class ShardInputs:
    """The :class:`~confluex.feeds.rest_poll.RestSink` of a :class:`ShardedEngine`.

    Before the engine threads start, each call goes to the engine of the shard that owns the
    symbol (the warm-up: history before any frame). Once they run, the sentiment samples are
    queued into that shard's ring and applied by its engine thread in order with the frames
    (an ``input`` record answers each); a sample refused by a full ring raises
    CapacityExceeded (counted by the poller, nothing queued). Bar history loads before
    start only.
    """

    def __init__(self, sharded: ShardedEngine) -> None:
        self.sharded = sharded

    def _running(self) -> bool:
        p = self.sharded.pipeline
        return p.started and not p.joined

    def load_history(
        self, symbol_id: int, ohlcv: npt.NDArray[np.float64], timeframe_ns: int = 0
    ) -> int:
        if self._running():
            raise RuntimeError("bar history loads before the engine threads start")
        engine, local = self.sharded.engine_of(symbol_id)
        return engine.load_history(local, ohlcv, timeframe_ns)

    def on_funding(self, symbol_id: int, ts_ns: int, rate: float) -> None:
        self._input("funding", symbol_id, ts_ns, rate)

    def on_open_interest(self, symbol_id: int, ts_ns: int, value: float) -> None:
        self._input("open_interest", symbol_id, ts_ns, value)

    def on_long_short(
        self, symbol_id: int, ts_ns: int, long_share: float, short_share: float
    ) -> None:
        self._input("long_short", symbol_id, ts_ns, long_share, short_share)

    def _input(self, series: str, symbol_id: int, ts_ns: int, *values: float) -> None:
        """One sample of ``series``: ``Pipeline.push_<series>`` while the engine threads run,
        else ``Engine.on_<series>`` on the owning shard's engine (the same arguments)."""
        if self._running():
            push = getattr(self.sharded.pipeline, f"push_{series}")
            self._pushed(push(symbol_id, ts_ns, *values), symbol_id)
        else:
            engine, local = self.sharded.engine_of(symbol_id)
            getattr(engine, f"on_{series}")(local, ts_ns, *values)

    def _pushed(self, status: PushStatus, symbol_id: int) -> None:
        if status != PushStatus.accepted:
            shard = self.sharded.pipeline.shard_of(symbol_id)
            raise CapacityExceeded(
                f"the input ring of shard {shard} is full: REST sample of "
                f"{self.sharded.symbol_name(symbol_id)} not queued, was {status.name}"
            )


class ShardedLiveFeed(LiveFeed):
    """LiveFeed on ``threads`` engine shards (see the module doc).

    Takes LiveFeed's arguments, except ``on_update`` and ``engine`` (the engines live on the
    shards): ``on_record(symbol, record)`` receives each ``score`` record instead, and
    ``engine_config`` configures the shard engines; ``wait`` is how an idle engine thread
    waits for its next frame (a :class:`~confluex.pipeline.WaitPolicy` name; the default
    ``spin_yield`` keeps the shard hot between frames). After :meth:`run` returns, the shards
    have processed every frame received and :attr:`sharded` can be read.
    """

    def __init__(
        self,
        exchange: str,
        symbols: Sequence[str],
        *,
        threads: int = 2,
        wait: str = "spin_yield",
        on_record: RecordCallback | None = None,
        engine_config: EngineConfig | None = None,
        **kwargs: Any,
    ) -> None:
        for bad in ("on_update", "engine"):
            if kwargs.get(bad) is not None:
                raise ValueError(f"ShardedLiveFeed takes no {bad} (the engines run on the shards)")
        super().__init__(exchange, symbols, **kwargs)
        self.sharded = ShardedEngine(
            threads,
            session_config=kwargs.get("session_config"),
            engine_config=engine_config,
            wait=wait,
        )
        self.on_record = on_record
        #: The latest ``score`` record of each symbol id.
        self.latest: dict[int, np.void] = {}
        self.frames_pushed = 0
        self.frames_dropped = 0
        self.overflow_resyncs: dict[int, int] = {}
        self.engine_errors = 0
        #: REST samples the shards applied / refused (``input`` records), per symbol id.
        self.inputs_applied: dict[int, int] = {}
        self.inputs_refused: dict[int, int] = {}
        self._waiters: dict[int, asyncio.Future[np.void]] = {}

    @property
    def on_update(self) -> UpdateCallback | None:
        """Always None: the engines run on the shards, ``on_record`` receives their scores."""
        return None

    @on_update.setter
    def on_update(self, value: UpdateCallback | None) -> None:
        if value is not None:  # it would never be called with a score (nor read an engine)
            raise ValueError(
                "ShardedLiveFeed takes no on_update (the engines run on the shards): "
                f"set on_record, was {value!r}"
            )

    # -- LiveFeed hooks ------------------------------------------------------------------------

    def _register(self, symbol: str, venue_symbol: str, inst: Instrument) -> int:
        return self.sharded.add_symbol(self.spec.venue, venue_symbol, inst, name=symbol)

    def _rest_sink(self) -> RestSink:
        return ShardInputs(self.sharded)

    def _request_resync(self, sid: int) -> None:
        self.sharded.request_resync(sid)

    def _needs_snapshot(self, sid: int) -> bool:
        return self.sharded.needs_snapshot(sid)

    async def _apply_snapshot(self, sid: int, payload: bytes, ts: int) -> str | None:
        fut: asyncio.Future[np.void] = asyncio.get_running_loop().create_future()
        self._waiters[sid] = fut
        self.sharded.push_snapshot(sid, payload, ts)
        try:
            rec = await asyncio.wait_for(fut, _SNAPSHOT_TIMEOUT_S)
        except TimeoutError:
            return "timed out waiting for the engine thread"
        finally:
            self._waiters.pop(sid, None)
        return None if int(rec["code"]) else "refused"

    async def start(self) -> None:
        if self._started:
            return
        await super().start()
        self.sharded.start()
        self.sharded.attach(self._on_records)

    async def _read_loop(self, ws: ClientConnection) -> bool:
        push, venue = self.sharded.push, self.spec.venue
        frame_ts, clock = self._frame_ts, self._clock_ns
        recorder = self.recorder
        dropped = 1  # PushStatus.dropped
        received = False
        try:
            while True:
                frame = await ws.recv(decode=False)
                ts = frame_ts(frame) if frame_ts is not None else clock()
                self._last_ts = ts
                if recorder is not None:
                    recorder.frame(ts, frame)
                if push(venue, frame, ts) == dropped:
                    self.frames_dropped += 1  # the shard resyncs the symbol (a resync record)
                self.frames_pushed += 1
                received = True
        except websockets.exceptions.ConnectionClosedOK:
            pass
        except websockets.exceptions.ConnectionClosedError as exc:
            self.last_error = f"connection closed: {exc}"
            log.warning("stream %s", self.last_error)
        return received

    async def _shutdown(self) -> None:
        await super()._shutdown()
        # Every received frame is processed, then the records left go to the consumers.
        self.sharded.finish()
        self._on_records(self.sharded.drain())
        self.sharded.detach()

    # -- records from the shards ---------------------------------------------------------------

    def _on_records(self, recs: npt.NDArray[np.void]) -> None:
        binance = self.spec.depth_method is not None
        now_mono = self._mono()
        hook = self.latency_hook
        now_ns = time.monotonic_ns()  # CLOCK_MONOTONIC: the clock of recv_ns
        for rec in recs:
            sid = int(rec["symbol_id"])
            st = self.by_id.get(sid)
            if st is None:
                continue
            kind = int(rec["kind"])
            if kind == OutKind.score:
                self.latest[sid] = rec
                if not int(rec["code"]):  # a stream frame (code 1: a REST snapshot synced it)
                    st.frames += 1
                    st.last_frame_mono = now_mono
                    if hook is not None:
                        hook(now_ns - int(rec["recv_ns"]))
                if binance and int(rec["phase"]) != _SYNCED and not st.fetching:
                    if not self.stopping:
                        self._start_snapshot(st)
                if self.on_record is not None:
                    self._deliver(st, rec)
            elif kind == OutKind.resync and int(rec["code"]) == 1:  # overflow
                self.overflow_resyncs[sid] = self.overflow_resyncs.get(sid, 0) + 1
                log.warning("%s: %d frames lost to a full ring, resyncing", st.symbol, rec["count"])
                self._resync_after_overflow(st)
            elif kind == OutKind.snapshot:
                fut = self._waiters.get(sid)
                if fut is not None and not fut.done():
                    fut.set_result(rec)
            elif kind == OutKind.input:
                self._on_input(sid, rec)
            elif kind == OutKind.error:
                self.engine_errors += 1
                self.last_error = str(record_error(rec, st.symbol))
                log.warning("%s", self.last_error)

    def _on_input(self, sid: int, rec: np.void) -> None:
        code = int(rec["code"])
        if code == 0:  # ErrorCode.none: applied
            self.inputs_applied[sid] = self.inputs_applied.get(sid, 0) + 1
            return
        self.inputs_refused[sid] = self.inputs_refused.get(sid, 0) + 1
        series = _SERIES_OF_INPUT.get(int(rec["count"]))
        if self.poller is not None and series is not None:
            self.poller.refused(sid, series, record_error(rec, self.by_id[sid].symbol))

    def _resync_after_overflow(self, st: SymbolStats) -> None:
        if self.stopping:
            return
        if self.spec.venue == Venue.bybit:
            self._spawn(self._bybit_resubscribe(st))
        elif not st.fetching:
            self._start_snapshot(st)

    def _deliver(self, st: SymbolStats, rec: np.void) -> None:
        assert self.on_record is not None
        try:
            self.on_record(st.symbol, rec)
        except Exception:  # a consumer's bug must not stop the market data
            self.callback_errors += 1
            log.exception("on_record callback failed for %s", st.symbol)

    # -- read-outs ---------------------------------------------------------------------------

    def stats(self, symbol: str) -> dict[str, Any]:
        """Health of one symbol: the session health its shard last published (exact after
        run()), the shard's published phase, and the feed's own counters."""
        st = self.by_symbol[symbol]
        sid = st.symbol_id
        h: dict[str, Any] = self.sharded.health(sid).to_dict()
        h.update(
            phase=self.sharded.phase(sid),
            frames=st.frames,
            stale_resyncs=st.stale_resyncs,
            snapshot_requests=st.snapshot_requests,
            snapshot_errors=st.snapshot_errors,
            overflow_resyncs=self.overflow_resyncs.get(sid, 0),
            rest_warmup=self.poller.warmup_status if self.poller is not None else "off",
            rest_inputs_applied=self.inputs_applied.get(sid, 0),
            rest_inputs_refused=self.inputs_refused.get(sid, 0),
        )
        return h
