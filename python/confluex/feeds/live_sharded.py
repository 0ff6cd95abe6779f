"""The live feed on the threaded engine: sockets on asyncio, engines on their own threads.

:class:`ShardedLiveFeed` is a :class:`~confluex.feeds.live.LiveFeed` whose socket reader only
stamps each frame and pushes it into the lock-free ring of its symbol's shard
(:class:`confluex.ShardedEngine`); parsing, book sync and scoring run on the shards' engine
threads, without the GIL. The records come back on the event loop through the pipeline's
eventfd (``loop.add_reader``, no polling task):

- ``score`` records update :attr:`ShardedLiveFeed.latest` and go to ``on_record(symbol, rec)``;
  a Binance symbol that is not synced gets its REST snapshot fetched (as in LiveFeed);
- ``resync`` records (a frame lost to a full ring) refetch the snapshot (Binance) or
  resubscribe the book (Bybit), and are counted per symbol;
- ``snapshot`` records answer the REST snapshots pushed through the ring;
- ``error`` records are counted and logged as typed errors.

The REST polling, reconnects, backoff, watchdog and recording are LiveFeed's own.
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
from .._core.instrument import Instrument
from .._core.session import SyncPhase, Venue
from ..pipeline import OutKind, ShardedEngine, record_error
from .live import LiveFeed, SymbolStats

__all__ = ["ShardedLiveFeed"]

log = logging.getLogger(__name__)

RecordCallback = Callable[[str, np.void], None]
_SYNCED = SyncPhase.synced.value
_SNAPSHOT_TIMEOUT_S = 30.0


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
        self._waiters: dict[int, asyncio.Future[np.void]] = {}

    # -- LiveFeed hooks ------------------------------------------------------------------------

    def _register(self, symbol: str, venue_symbol: str, inst: Instrument) -> int:
        return self.sharded.add_symbol(self.spec.venue, venue_symbol, inst, name=symbol)

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
                st.frames += 1
                st.last_frame_mono = now_mono
                self.latest[sid] = rec
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
            elif kind == OutKind.error:
                self.engine_errors += 1
                self.last_error = str(record_error(rec, st.symbol))
                log.warning("%s", self.last_error)

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
        """Feed counters and the shard's published phase; after run(), the session health."""
        st = self.by_symbol[symbol]
        p = self.sharded.pipeline
        h: dict[str, Any] = (
            self.sharded.health(st.symbol_id).to_dict() if p.joined or not p.started else {}
        )
        h.update(
            phase=self.sharded.phase(st.symbol_id),
            frames=st.frames,
            stale_resyncs=st.stale_resyncs,
            snapshot_requests=st.snapshot_requests,
            snapshot_errors=st.snapshot_errors,
            overflow_resyncs=self.overflow_resyncs.get(st.symbol_id, 0),
        )
        return h
