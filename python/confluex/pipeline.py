"""The threaded engine: symbols on shards, raw frames in through lock-free rings, records out.

:class:`ShardedEngine` wraps the native :class:`~confluex._core.pipeline.Pipeline`: one engine
thread per shard (GIL-free) owns its symbols, parses, syncs and scores the raw frames that
socket readers or a replay push into its SPSC ring, and publishes records (``out_record_dtype``
rows: scores, series points, signals, resyncs, errors) through an output ring. Consumers drain
them in batches:

- from asyncio: :meth:`ShardedEngine.attach` registers the pipeline's eventfd with
  ``loop.add_reader`` (no polling on the event loop);
- from a plain thread: :meth:`ShardedEngine.drain` with a timeout blocks (GIL released).

A full input ring drops the frame, counts it and resyncs its symbol (a ``resync`` record with
reason ``overflow``); nothing is lost silently. ``lossless=True`` (replays) waits for room
instead, so a sharded replay gives exactly the single-threaded series and signals.

:func:`score_universe` scores many symbols in batches on a bounded number of shards; each
symbol's failure is captured in its :class:`SymbolOutcome` without failing the batch.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._core import exceptions as _exc
from ._core.aggregator import ConfluenceResult
from ._core.engine import Engine, EngineConfig
from ._core.feed import LineFormat
from ._core.instrument import Instrument
from ._core.pipeline import (
    ErrorCode,
    FrameKind,
    OutKind,
    Pipeline,
    PipelineConfig,
    PushStatus,
    ResyncReason,
    ShardStats,
    WaitPolicy,
    out_record_dtype,
)
from ._core.session import FeedSession, SessionConfig, SymbolHealth, SyncPhase, Venue
from .engine import engine_config as profile_config

__all__ = [
    "Collector",
    "ErrorCode",
    "FrameKind",
    "OutKind",
    "PushStatus",
    "ResyncReason",
    "ShardStats",
    "ShardedEngine",
    "SymbolOutcome",
    "UniverseSymbol",
    "WaitPolicy",
    "out_record_dtype",
    "record_error",
    "score_universe",
]

RecordsCallback = Callable[[npt.NDArray[np.void]], None]

_ERROR_TYPES: dict[int, type[Exception]] = {
    int(ErrorCode.invalid_event): _exc.InvalidEvent,
    int(ErrorCode.book_crossed): _exc.BookCrossed,
    int(ErrorCode.capacity_exceeded): _exc.CapacityExceeded,
    int(ErrorCode.unknown_symbol): _exc.UnknownSymbol,
    int(ErrorCode.invalid_config): _exc.InvalidConfig,
}


def record_error(record: np.void, name: str) -> Exception:
    """The typed exception an ``error`` record stands for (its code names the confluex type)."""
    code = int(record["code"])
    cls = _ERROR_TYPES.get(code, _exc.ConfluexError)
    return cls(
        f"engine thread refused a frame of {name} at ts_ns {int(record['ts_ns'])}, "
        f"was {ErrorCode(code).name}"
    )


class ShardedEngine:
    """Symbols on engine shards, each on its own thread, fed through lock-free rings.

    Parameters
    ----------
    shards:
        Engine threads (1..64). Each symbol lives on one shard: ``add_symbol(shard=...)``, or
        a stable hash of ``venue:SYMBOL``.
    lossless:
        Wait for ring room instead of dropping (replays). Live feeds keep the default
        (drop, count and resync the symbol: never block the socket reader).
    emit_scores:
        A ``score`` record after every message that changed a symbol, and after a pushed
        REST snapshot that synced its book (``code`` 1) (live consumers);
        series points and signals are always published.
    input_chunks / output_capacity:
        Ring sizes per shard (powers of two): 64-byte chunks in, records out.
    wait:
        How an idle engine thread waits for its next frame (:class:`WaitPolicy`, or its name):
        ``spin_yield`` (the default, for live feeds) polls ``spin_us``, then polls with a
        yield between polls while no other thread wants the core, so the shard is hot when a
        frame comes; it blocks after ``park_ms`` without a frame, or as soon as a yield gave
        the core to another thread (on a contended core a blocked thread is woken sooner);
        ``busy_poll`` never yields nor blocks (one core per shard); ``blocking`` blocks after
        ``spin_us`` (replays: the reader needs the CPU more than the shards need to be hot).
    spin_us:
        How long an idle engine thread polls before it yields (``spin_yield``) or blocks
        (``blocking``).
    park_ms:
        ``spin_yield``: how long an idle engine thread yields before it blocks.
    warm_us:
        While it polls, an idle engine thread runs a warm pass every ``warm_us`` (0: never)
        and after a yield that gave its core away: it prefetches its symbols' hot state
        (books' top levels, signal and score state, record buffers) and rehearses the score
        kernels into scratch, so the next frame meets warm caches (results unchanged).
    """

    def __init__(
        self,
        shards: int = 2,
        *,
        lossless: bool = False,
        emit_scores: bool = True,
        session_config: SessionConfig | None = None,
        engine_config: EngineConfig | None = None,
        input_chunks: int = 1 << 16,
        output_capacity: int = 1 << 14,
        wait: WaitPolicy | str = WaitPolicy.spin_yield,
        spin_us: float = 0.0,
        park_ms: float = 1000.0,
        warm_us: float = 100.0,
    ) -> None:
        for name, value, top in (("spin_us", spin_us, 1e6), ("park_ms", park_ms, 1e6)):
            if not 0 <= value < top or math.isnan(value):
                raise ValueError(f"{name} must be in [0, {top:g}), was {value}")
        if not 0 <= warm_us < 1e6 or math.isnan(warm_us):
            raise ValueError(f"warm_us must be in [0, 1e6), was {warm_us}")
        if isinstance(wait, str):
            try:
                wait = WaitPolicy[wait]
            except KeyError:
                names = ", ".join(p.name for p in WaitPolicy)
                raise ValueError(f"wait must be one of {names}, was {wait!r}") from None
        self.session_config = session_config if session_config is not None else SessionConfig()
        self.config = PipelineConfig(
            shards=shards,
            input_chunks=input_chunks,
            output_capacity=output_capacity,
            emit_scores=emit_scores,
            lossless=lossless,
            wait=wait,
            spin_ns=int(spin_us * 1000),
            park_ns=int(park_ms * 1e6),
            warm_ns=int(warm_us * 1000),
            # Default: the default profile ("standard"), as replay(), the CLI and research.
            engine=engine_config if engine_config is not None else profile_config(),
            session=self.session_config,
        )
        self.pipeline = Pipeline(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback: RecordsCallback | None = None

    # -- setup -------------------------------------------------------------------------------

    def add_symbol(
        self,
        venue: Venue,
        venue_symbol: str,
        instrument: Instrument,
        *,
        name: str | None = None,
        shard: int | None = None,
    ) -> int:
        """Registers a symbol (before :meth:`start`); returns its global id."""
        if shard is not None and not 0 <= shard < self.shards:
            raise ValueError(f"shard must be in [0, {self.shards}), was {shard}")
        return self.pipeline.add_symbol(
            venue, venue_symbol, instrument, name or "", -1 if shard is None else shard
        )

    def start(self) -> ShardedEngine:
        """Launches the engine threads."""
        self.pipeline.start()
        return self

    @property
    def shards(self) -> int:
        return self.pipeline.shards

    # -- producer side -------------------------------------------------------------------------

    def push(self, venue: Venue, frame: bytes, ts_ns: int) -> PushStatus:
        """Queues one raw frame (never blocks unless ``lossless``)."""
        return self.pipeline.push(venue, frame, ts_ns)

    def push_snapshot(self, symbol_id: int, payload: bytes, ts_ns: int) -> PushStatus:
        """Queues a Binance REST depth snapshot for one symbol."""
        return self.pipeline.push_snapshot(symbol_id, payload, ts_ns)

    def request_resync(self, symbol_id: int) -> PushStatus:
        return self.pipeline.request_resync(symbol_id)

    def feed_lines(self, venue: Venue, data: bytes, fmt: LineFormat = LineFormat.NsPrefixed) -> int:
        """Pushes every line of a capture buffer (GIL released); returns lines pushed."""
        return self.pipeline.feed_lines(venue, data, fmt)

    # -- consumer side -------------------------------------------------------------------------

    def drain(
        self, timeout: float | None = 0.0, max_records: int = 1 << 16
    ) -> npt.NDArray[np.void]:
        """Records published since the last drain (``out_record_dtype``), oldest first per shard.

        ``timeout=0`` never blocks; ``None`` waits until a record arrives or every shard has
        ended; a positive value waits at most that many seconds (GIL released). A shard that
        stopped on an exception re-raises it here, with its own type.
        """
        p = self.pipeline
        out = p.drain(max_records)
        if len(out) or timeout == 0:
            p.rethrow_if_failed()
            return out
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            p.wait(left if deadline is not None else 200)
            out = p.drain(max_records)
            if len(out) or p.ended or (deadline is not None and time.monotonic() >= deadline):
                p.rethrow_if_failed()
                return out

    def attach(
        self, callback: RecordsCallback, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Delivers records to ``callback(records)`` on the event loop, woken by the eventfd.

        The callback runs on the loop's thread with each batch; no task polls.
        """
        if self._loop is not None:
            raise ValueError("already attached to an event loop")
        loop = loop or asyncio.get_running_loop()
        self._loop, self._callback = loop, callback
        loop.add_reader(self.pipeline.notify_fd, self._on_readable)
        loop.call_soon(self._on_readable)  # records published before attach

    def detach(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.pipeline.notify_fd)
            self._loop = self._callback = None

    def _on_readable(self) -> None:
        p, callback = self.pipeline, self._callback
        if callback is None:
            return
        p.ack()
        for _ in range(64):  # bounded, so one busy pipeline cannot starve the loop
            out = p.drain()
            if len(out):
                callback(out)
            elif p.arm():
                return
        assert self._loop is not None
        self._loop.call_soon(self._on_readable)

    # -- lifetime ------------------------------------------------------------------------------

    def finish(self) -> None:
        """Processes everything queued, then joins the engine threads."""
        self.pipeline.finish()

    def close(self) -> None:
        """Stops the engine threads without processing what is still queued."""
        self.detach()
        self.pipeline.stop()

    def __enter__(self) -> ShardedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------

    def stats(self) -> list[ShardStats]:
        return [self.pipeline.stats(i) for i in range(self.shards)]

    def symbol_name(self, symbol_id: int) -> str:
        return self.pipeline.symbol_name(symbol_id)

    def phase(self, symbol_id: int) -> SyncPhase:
        return self.pipeline.phase(symbol_id)

    def needs_snapshot(self, symbol_id: int) -> bool:
        return self.pipeline.needs_snapshot(symbol_id)

    def engine_of(self, symbol_id: int) -> tuple[Engine, int]:
        """The shard engine holding a symbol and its id there (after finish()/close())."""
        p = self.pipeline
        return p.engine(p.shard_of(symbol_id)), p.local_id(symbol_id)

    def result(self, symbol_id: int) -> ConfluenceResult:
        """The symbol's final confluence result (after finish()/close())."""
        engine, local = self.engine_of(symbol_id)
        return engine.result(local)

    def health(self, symbol_id: int) -> SymbolHealth:
        """The symbol's feed health: from its shard's session before start() and after
        finish()/close(); while the engine threads run, as its shard last published it (after
        each batch of frames, at most about a millisecond old)."""
        p = self.pipeline
        if p.started and not p.joined:
            return p.health(symbol_id)
        session = p.session(p.shard_of(symbol_id), p.venue_of(symbol_id))
        assert session is not None  # the symbol's shard has a session of its venue
        return session.health(p.local_id(symbol_id))

    def sessions(self) -> Iterator[FeedSession]:
        """Every shard session (after finish()/close())."""
        for i in range(self.shards):
            for v in (Venue.binance_spot, Venue.binance_futures, Venue.bybit):
                s = self.pipeline.session(i, v)
                if s is not None:
                    yield s

    def latency(self) -> dict[str, float]:
        """Push -> score record latency in ns over all shards: counts add, percentiles are the
        worst shard's (after finish()/close())."""
        rows = [self.pipeline.latency(i) for i in range(self.shards)]
        rows = [r for r in rows if r["count"]] or rows[:1]
        total = sum(r["count"] for r in rows)
        out = {k: max(r[k] for r in rows) for k in ("p50", "p99", "p999", "max")}
        out["count"] = total
        out["mean"] = sum(r["mean"] * r["count"] for r in rows) / total if total else 0.0
        return out


class Collector:
    """Drains a ShardedEngine on its own thread until every shard ended (the consumer role a
    lossless run needs while its producer feeds)."""

    def __init__(self, engine: ShardedEngine) -> None:
        self.engine = engine
        self.parts: list[npt.NDArray[np.void]] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="confluex-drain", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                ended = self.engine.pipeline.ended
                out = self.engine.drain(timeout=0.05)
                if len(out):
                    self.parts.append(out)
                elif ended:
                    return
        except BaseException as exc:  # handed to the joining thread
            self.error = exc

    def join(self) -> npt.NDArray[np.void]:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return np.concatenate(self.parts) if self.parts else np.zeros(0, out_record_dtype)


# --- many symbols --------------------------------------------------------------------------


@dataclass(frozen=True)
class UniverseSymbol:
    """One symbol of a universe and its recorded frames (bytes, or a capture file path)."""

    venue: Venue
    symbol: str
    instrument: Instrument
    data: bytes | str | Path
    format: LineFormat = LineFormat.NsPrefixed

    @property
    def name(self) -> str:
        return f"{self.venue.name}:{self.symbol}"


@dataclass
class SymbolOutcome:
    """What scoring one symbol gave: its final result and series, or the error it met."""

    name: str
    result: ConfluenceResult | None = None
    health: SymbolHealth | None = None
    series: npt.NDArray[np.void] = field(default_factory=lambda: np.zeros(0, out_record_dtype))
    signals: npt.NDArray[np.void] = field(default_factory=lambda: np.zeros(0, out_record_dtype))
    messages: int = 0
    errors: list[Exception] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.result is not None


def _load(item: UniverseSymbol) -> bytes:
    if isinstance(item.data, bytes):
        return item.data
    from .feeds.files import iter_chunks  # a path: gzip / zip / plain, checked

    return b"".join(iter_chunks(item.data))


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        cut = data.find(b"\n", min(len(data), start + size))
        end = len(data) if cut < 0 else cut + 1
        yield data[start:end]
        start = end


def score_universe(
    universe: Sequence[UniverseSymbol],
    *,
    shards: int = 2,
    batch_size: int = 64,
    session_config: SessionConfig | None = None,
    engine_config: EngineConfig | None = None,
    chunk_bytes: int = 1 << 18,
) -> list[SymbolOutcome]:
    """Scores a universe of symbols in batches on ``shards`` engine threads.

    Each batch of at most ``batch_size`` symbols gets its own lossless :class:`ShardedEngine`
    (concurrency is bounded by ``shards`` threads and one batch's data in memory); its symbols
    are spread over the shards round-robin and their frames interleaved chunk by chunk, as
    sockets would deliver them. A symbol that cannot be loaded, registered or fed, or whose
    frames the engine refused (``error`` records), carries the errors in its outcome; the
    rest of the batch is unaffected. Outcomes come back in universe order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, was {batch_size}")
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be >= 1, was {chunk_bytes}")
    outcomes = [SymbolOutcome(item.name) for item in universe]
    for start in range(0, len(universe), batch_size):
        batch = range(start, min(len(universe), start + batch_size))
        _score_batch(universe, outcomes, batch, shards, session_config, engine_config, chunk_bytes)
    return outcomes


def _score_batch(
    universe: Sequence[UniverseSymbol],
    outcomes: list[SymbolOutcome],
    batch: Iterable[int],
    shards: int,
    session_config: SessionConfig | None,
    engine_config: EngineConfig | None,
    chunk_bytes: int,
) -> None:
    engine = ShardedEngine(
        shards,
        lossless=True,
        emit_scores=False,
        session_config=session_config,
        engine_config=engine_config,
        wait=WaitPolicy.blocking,  # a replay: the reader needs the CPU (see ShardedEngine)
    )
    ids: dict[int, int] = {}  # global id -> universe index
    feeds: list[tuple[int, Iterator[bytes]]] = []
    for n, i in enumerate(batch):
        item = universe[i]
        try:
            data = _load(item)
            sid = engine.add_symbol(
                item.venue, item.symbol, item.instrument, name=item.name, shard=n % shards
            )
        except (OSError, ValueError, _exc.ConfluexError) as exc:
            outcomes[i].errors.append(exc)
            continue
        ids[sid] = i
        feeds.append((i, _chunks(data, chunk_bytes)))
    if not ids:
        return
    engine.start()
    collector = Collector(engine)
    try:
        while feeds:
            for i, chunks in list(feeds):
                chunk = next(chunks, None)
                if chunk is None:
                    feeds.remove((i, chunks))
                    continue
                item = universe[i]
                outcomes[i].messages += engine.feed_lines(item.venue, chunk, item.format)
        engine.finish()
    finally:
        engine.close()
        records = collector.join()
    for sid, i in ids.items():
        mine = records[records["symbol_id"] == sid]
        kinds = mine["kind"]
        out = outcomes[i]
        out.series = mine[kinds == int(OutKind.point)]
        out.signals = mine[kinds == int(OutKind.signal)]
        out.errors.extend(record_error(r, out.name) for r in mine[kinds == int(OutKind.error)])
        out.result = engine.result(sid)
        out.health = engine.health(sid)


def __dir__() -> list[str]:
    return __all__
