"""Shared scores: ConfluenceHFTCache, an in-process L1 in front of Redis (reference §13 item 43).

Layout in Redis (``prefix`` defaults to ``confluex``):

- ``{prefix}:score:{symbol}``: a hash with the symbol's latest confluence score and HFT
  composite (the fields of :func:`confluence_fields` and ``composite.*``), expiring ``ttl_s``
  after its last write (default 1 s, the seed's TTL), so a stale producer's scores vanish;
- ``{prefix}:signals``: a stream of signals (``XADD ... MAXLEN ~ stream_maxlen``), one entry per
  signal with the symbol, direction, score, price and time, for other processes to read
  (``XREAD``, :meth:`ConfluenceHFTCache.read_signals`).

The hot path (``cache_score``, ``publish_signal``) never waits on Redis: it stores the
record in L1 and appends it to a bounded queue, or counts it dropped when the queue is full.
One background thread drains the queue in batches, keeps only each symbol's latest hash
write of a batch, and sends a batch as one pipeline. When Redis is down or restarting, the
batch in hand is dropped and counted, the writer backs off (``retry_s``, doubling up to
``max_retry_s``), drops and counts what arrives meanwhile, then reconnects; trading never
notices.

L1 is an LRU of ``l1_size`` symbols whose entries expire ``l1_ttl_s`` after they were stored
(injected clock). There are no L3 lookup tables: bench/bench_cache.py measures a precomputed
table against computing the HFT note's per-score quantities directly, and the table is slower
in Python.
"""

from __future__ import annotations

import functools
import logging
import math
import operator
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

__all__ = [
    "CacheStats",
    "ConfluenceHFTCache",
    "EngineScorePublisher",
    "TTLCache",
    "confluence_fields",
    "format_cache_stats",
    "redact_url",
    "score_record_fields",
]

log = logging.getLogger(__name__)

V = TypeVar("V")
Value = float | int | str
Record = Mapping[str, Value | None]

_HASH, _SIGNAL = 0, 1


class TTLCache(Generic[V]):
    """An LRU of at most ``maxsize`` entries, each expiring ``ttl_s`` after it was stored.

    ``clock`` returns seconds (default ``time.monotonic``). Not thread-safe: one thread owns it.
    """

    __slots__ = ("_clock", "_data", "maxsize", "ttl_s")

    def __init__(
        self, maxsize: int = 500, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, was {maxsize}")
        if not (ttl_s > 0 and math.isfinite(ttl_s)):
            raise ValueError(f"ttl_s must be a finite number > 0, was {ttl_s}")
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> V | None:
        """The live value of ``key`` (now most recently used), or None if absent or expired."""
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item[1]

    def setdefault(self, key: str, factory: Callable[[], V]) -> V:
        """The live value of ``key`` (its lifetime restarted), or a new ``factory()`` stored."""
        data = self._data
        now = self._clock()
        item = data.get(key)
        value = factory() if item is None or item[0] <= now else item[1]
        data[key] = (now + self.ttl_s, value)
        data.move_to_end(key)
        if len(data) > self.maxsize:
            data.popitem(last=False)
        return value

    def set(self, key: str, value: V) -> None:
        """Stores ``value``, evicting the least recently used entry when full."""
        data = self._data
        data[key] = (self._clock() + self.ttl_s, value)
        data.move_to_end(key)
        if len(data) > self.maxsize:
            data.popitem(last=False)


class CacheStats:
    """Counters of a ConfluenceHFTCache. Each is written by one thread only.

    ``queued``/``dropped_full`` by the producer (the hot path); ``written``,
    ``dropped_outage``, ``batches``, ``errors`` and ``reconnects`` by the writer thread;
    the L1/L2 lookups by whoever reads.
    """

    __slots__ = (
        "batches",
        "dropped_full",
        "dropped_outage",
        "errors",
        "l1_hits",
        "l2_hits",
        "misses",
        "queued",
        "reconnects",
        "written",
    )

    def __init__(self) -> None:
        self.queued = 0
        self.dropped_full = 0
        self.written = 0
        self.dropped_outage = 0
        self.batches = 0
        self.errors = 0
        self.reconnects = 0
        self.l1_hits = 0
        self.l2_hits = 0
        self.misses = 0

    @property
    def dropped(self) -> int:
        """Writes that never reached Redis: queue full plus lost to an outage."""
        return self.dropped_full + self.dropped_outage

    def as_dict(self) -> dict[str, int]:
        """The counters by name (plus ``dropped``)."""
        out: dict[str, int] = {name: getattr(self, name) for name in self.__slots__}
        out["dropped"] = self.dropped
        return out

    def __repr__(self) -> str:
        return "CacheStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


def redact_url(url: str) -> str:
    """``url`` without its ``user:password@`` part (safe to print and log)."""
    return re.sub(r"//[^@/]*@", "//***@", url)


def _parse(value: str) -> Value:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class ConfluenceHFTCache:
    """Latest scores per symbol in L1 and Redis, signals on a Redis stream.

    Threading: one thread (the trading loop) calls ``cache_score``, ``publish_signal`` and
    ``get_cached_score`` (L1 is not locked); the writer thread only takes from the queue.
    Other processes read Redis (``get_cached_score`` of their own cache, or any client).

    Parameters
    ----------
    url
        A redis-py URL (``redis://127.0.0.1:6379/0``). Nothing connects until the writer
        sends its first batch or a reader misses L1.
    prefix
        Key prefix (``{prefix}:score:{symbol}``, ``{prefix}:signals``).
    ttl_s
        Expiry of a symbol's hash after its last write.
    stream_maxlen
        Approximate cap of the signal stream (``MAXLEN ~``).
    l1_size, l1_ttl_s
        The in-process LRU's capacity (symbols) and entry lifetime.
    queue_size
        Bound of the write queue; a write that finds it full is dropped and counted.
    batch_size
        Most queued writes per pipeline.
    flush_interval_s
        How long the idle writer sleeps before it looks at the queue again.
    retry_s, max_retry_s
        The writer's backoff after a failed batch (doubling).
    socket_timeout_s
        Connect and read timeout of the writer's and readers' Redis calls.
    clock
        Seconds, for L1 expiry and the writer's backoff (default ``time.monotonic``).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "confluex",
        ttl_s: float = 1.0,
        stream_maxlen: int = 10_000,
        l1_size: int = 500,
        l1_ttl_s: float = 1.0,
        queue_size: int = 10_000,
        batch_size: int = 1024,
        flush_interval_s: float = 0.01,
        retry_s: float = 0.05,
        max_retry_s: float = 1.0,
        socket_timeout_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (
            ("ttl_s", ttl_s),
            ("flush_interval_s", flush_interval_s),
            ("retry_s", retry_s),
            ("max_retry_s", max_retry_s),
            ("socket_timeout_s", socket_timeout_s),
        ):
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number > 0, was {value}")
        for name, count in (
            ("stream_maxlen", stream_maxlen),
            ("queue_size", queue_size),
            ("batch_size", batch_size),
        ):
            if count < 1:
                raise ValueError(f"{name} must be >= 1, was {count}")
        self.url = url
        self.prefix = prefix
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self.stream_maxlen = stream_maxlen
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.stats = CacheStats()
        self.connected = False
        self.last_error: str | None = None
        self._clock = clock
        self._l1: TTLCache[dict[str, Value | None]] = TTLCache(l1_size, l1_ttl_s, clock)
        self._queue: deque[tuple[int, str, Record]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False  # the writer holds a batch taken from the queue
        self._client = self._make_client(url, socket_timeout_s)

    @staticmethod
    def _make_client(url: str, timeout: float) -> Any:
        """A redis.Redis (typed Any: its hints want bytes-or-str keys in invariant dicts)."""
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:  # pragma: no cover - depends on the environment
            raise ValueError(
                "--redis needs the redis package: pip install 'confluex[redis]'"
            ) from None
        try:
            return redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
                retry=Retry(NoBackoff(), 0),  # the writer retries on its own schedule
            )
        except ValueError as exc:
            raise ValueError(f"Redis URL is not valid ({exc}), was {redact_url(url)!r}") from None

    def score_key(self, symbol: str) -> str:
        """The Redis hash key of ``symbol``'s latest scores."""
        return f"{self.prefix}:score:{symbol}"

    @property
    def signal_stream(self) -> str:
        """The Redis stream key of the signals."""
        return f"{self.prefix}:signals"

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ConfluenceHFTCache:
        """Starts the background writer (idempotent); returns self."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="confluex-redis-writer", daemon=True
            )
            self._thread.start()
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Writes what is queued (for up to ``timeout`` seconds), stops the writer, disconnects."""
        thread = self._thread
        if thread is not None:
            self._stop.set()
            thread.join(timeout)
            self._thread = None
        self._client.close()

    def __enter__(self) -> ConfluenceHFTCache:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Writes queued and not yet taken by the writer."""
        return len(self._queue)

    # -- the hot path: never blocks ------------------------------------------------------------
    def cache_score(self, symbol: str, score: Record) -> bool:
        """Stores ``symbol``'s latest fields in L1 and queues their Redis write.

        Returns False (and counts ``dropped_full``) when the write queue is full; L1 is
        updated either way. Fields merge into the symbol's hash and its L1 entry; a None
        value (not available) is not written and, in L1, hides an older value.
        """
        self._l1.setdefault(symbol, dict).update(score)
        return self._enqueue(_HASH, symbol, score)

    def publish_signal(self, symbol: str, signal: Record) -> bool:
        """Queues one signal for the stream (False and counted when the queue is full)."""
        return self._enqueue(_SIGNAL, symbol, signal)

    def _enqueue(self, kind: int, symbol: str, record: Record) -> bool:
        stats = self.stats
        if len(self._queue) >= self.queue_size:
            stats.dropped_full += 1
            return False
        self._queue.append((kind, symbol, record))
        stats.queued += 1
        return True

    # -- readers -------------------------------------------------------------------------------
    def get_cached_score(self, symbol: str) -> dict[str, Value] | None:
        """``symbol``'s latest fields: L1, else Redis (promoted to L1), else None.

        A Redis miss costs a round trip and a Redis error counts as a miss: call it off the
        hot path (another process, a dashboard, a strategy that starts up).
        """
        stats = self.stats
        hit = self._l1.get(symbol)
        if hit is not None:
            stats.l1_hits += 1
            return {k: v for k, v in hit.items() if v is not None}
        try:
            raw = self._client.hgetall(self.score_key(symbol))
        except Exception as exc:  # redis.RedisError, OSError: the reader degrades to a miss
            self.last_error = f"{type(exc).__name__}: {exc}"
            raw = None
        if not raw:
            stats.misses += 1
            return None
        stats.l2_hits += 1
        value: dict[str, Value] = {k: _parse(v) for k, v in raw.items()}
        self._l1.set(symbol, dict(value))
        return value

    def read_signals(
        self, after: str = "0-0", count: int = 1000
    ) -> list[tuple[str, dict[str, Value]]]:
        """Up to ``count`` stream entries after id ``after``, oldest first, as (id, fields)."""
        entries = self._client.xrange(self.signal_stream, min=f"({after}", count=count)
        return [(eid, {k: _parse(v) for k, v in fields.items()}) for eid, fields in entries]

    # -- the writer thread ---------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Waits until the writer has taken every queued write (True) or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while (self._queue or self._busy) and time.monotonic() < deadline:
            time.sleep(0.001)
        return not self._queue and not self._busy

    def _run(self) -> None:
        queue, stats = self._queue, self.stats
        retry_at = 0.0
        backoff = self.retry_s
        while True:
            if not queue:
                if self._stop.is_set():
                    return
                self._stop.wait(self.flush_interval_s)
                continue
            self._busy = True
            n = min(len(queue), self.batch_size)
            batch = [queue.popleft() for _ in range(n)]
            now = self._clock()
            if now < retry_at:  # backing off after an error: the batch is lost, counted
                stats.dropped_outage += n
                self._busy = False
                if self._stop.is_set():
                    stats.dropped_outage += len(queue)
                    queue.clear()
                    return
                self._stop.wait(min(retry_at - now, self.flush_interval_s))  # no spinning
                continue
            try:
                self._write(batch)
            except Exception as exc:  # redis.RedisError, OSError: Redis is down or restarting
                stats.dropped_outage += n
                stats.errors += 1
                if self.connected or self.last_error is None:
                    log.warning("Redis write failed, dropping writes until it is back: %s", exc)
                self.connected = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                retry_at = now + backoff
                backoff = min(backoff * 2.0, self.max_retry_s)
                if self._stop.is_set():  # closing against a dead server: do not wait on it
                    stats.dropped_outage += len(queue)
                    queue.clear()
            else:
                stats.written += n
                stats.batches += 1
                if not self.connected:
                    if self.last_error is not None:
                        stats.reconnects += 1
                        log.warning("Redis is back: writing again")
                    self.connected = True
                backoff = self.retry_s
            finally:
                self._busy = False

    def _write(self, batch: list[tuple[int, str, Record]]) -> None:
        latest: dict[str, dict[str, Value]] = {}
        pipe = self._client.pipeline(transaction=False)
        for kind, symbol, record in batch:
            fields = {k: v for k, v in record.items() if v is not None}
            if kind == _HASH:
                mine = latest.get(symbol)
                if mine is None:
                    latest[symbol] = fields
                else:
                    mine.update(fields)
            else:
                pipe.xadd(
                    self.signal_stream,
                    {"symbol": symbol, **fields},
                    maxlen=self.stream_maxlen,
                    approximate=True,
                )
        for symbol, fields in latest.items():
            if fields:
                key = self.score_key(symbol)
                pipe.hset(key, mapping=fields)
                pipe.pexpire(key, self.ttl_ms)
        pipe.execute()


def confluence_fields(result: Any, ts_ns: int, price: float) -> dict[str, Value]:
    """The hash fields of an engine ``ConfluenceResult``: score, score_raw, confidence,
    reliability, the mid ``price`` (quote currency; absent when unknown: NaN) and ``ts_ns``."""
    return _fields(
        result.score, result.score_raw, result.confidence, result.reliability, ts_ns, price
    )


def score_record_fields(record: Any) -> dict[str, Value]:
    """The hash fields of a threaded engine's ``score`` record (``out_record_dtype``, as
    ``ShardedLiveFeed(on_record=...)`` delivers it): those of :func:`confluence_fields`, from
    the record's own score, score_raw, confidence, reliability, ``mid_px`` (NaN, so absent,
    while the book is not synced) and ``ts_ns`` (the frame's stamp)."""
    return _fields(*_record_values(record)[2:])


_RECORD_FIELDS = (
    "kind", "symbol_id", "score", "score_raw", "confidence", "reliability", "ts_ns", "mid_px"
)  # fmt: skip


@functools.cache
def _record_getter(names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    return operator.itemgetter(*(names.index(n) for n in _RECORD_FIELDS))


def _record_values(record: Any) -> tuple[Any, ...]:
    """A record's _RECORD_FIELDS as Python numbers: one ``item()`` call (a quarter of the
    cost of eight field reads of a NumPy record)."""
    return _record_getter(record.dtype.names)(record.item())


def _fields(
    score: float, raw: float, confidence: float, reliability: float, ts_ns: int, price: float
) -> dict[str, Value]:
    out: dict[str, Value] = {
        "score": score,
        "score_raw": raw,
        "confidence": confidence,
        "reliability": reliability,
        "ts_ns": ts_ns,
    }
    if math.isfinite(price):
        out["price"] = price
    return out


class EngineScorePublisher:
    """Sends an engine's scores to a ConfluenceHFTCache from a replay or a live feed.

    :meth:`on_message` is a ``replay(..., on_message=...)`` hook: after each message it writes
    the symbol's confluence fields when its score changed, and a signal to the stream when the
    score crosses into LONG (``>= long``) or SHORT (``<= short``), as the session's signal
    crossings do. ``then`` is called first (another hook, e.g. the paper trader's).
    :meth:`on_update` is the ``LiveFeed(on_update=...)`` callback. :meth:`on_record` is the
    ``ShardedLiveFeed(on_record=...)`` callback: the same fields and crossings from the
    threaded engine's ``score`` records, so ``engine`` may be None (the engines live on the
    shards and are not read). :meth:`on_composite` takes the HFT layer's
    ``publish(symbol, data)`` payloads into the same hash (``composite.*``).
    """

    def __init__(
        self,
        cache: ConfluenceHFTCache,
        engine: Any | None,
        *,
        long_threshold: float = 70.0,
        short_threshold: float = 35.0,
        name: Callable[[int], str] | None = None,
        then: Callable[[Any, int, int], None] | None = None,
        symbol_id: Callable[[str], int] | None = None,
    ) -> None:
        from ._core.pipeline import OutKind
        from .markets import Scale

        self._score_kind = int(OutKind.score)
        self.cache = cache
        self.engine: Any = engine  # None: on_record only
        self.long = long_threshold
        self.short = short_threshold
        self.then = then
        self._symbol_id = symbol_id
        self._name: Callable[[int], str] = (
            name if name is not None else engine.symbol_name if engine is not None else str
        )
        self._scale = Scale
        self._last: dict[int, tuple[float, int, Any, str]] = {}  # score, side, px scale, name

    def _engine(self, hook: str) -> Any:
        if self.engine is None:
            raise TypeError(f"{hook} reads the engine: give one, or use on_record (no engine)")
        return self.engine

    def _state(self, symbol_id: int) -> tuple[float, int, Any, str]:
        st = self._last.get(symbol_id)
        if st is None:
            inst = self.engine.instrument(symbol_id)
            st = (math.nan, 0, self._scale.ticks(inst), self._name(symbol_id))
        return st

    def on_message(self, session: Any, symbol_id: int, ts_ns: int) -> None:
        """The replay hook."""
        if self.then is not None:
            self.then(session, symbol_id, ts_ns)
        engine = self._engine("on_message")
        score = engine.score(symbol_id)
        st = self._state(symbol_id)
        if score == st[0]:
            return
        self._publish(symbol_id, st, engine.result(symbol_id), ts_ns)

    def on_update(self, symbol: str, result: Any) -> None:
        """The ``LiveFeed(on_update=...)`` callback: ``symbol`` is the ccxt symbol, which
        ``symbol_id`` (given at construction) maps to the engine's id; time is the wall clock."""
        if self._symbol_id is None:
            raise TypeError("on_update needs symbol_id= (ccxt symbol -> engine symbol id)")
        self._engine("on_update")
        sid = self._symbol_id(symbol)
        st = self._state(sid)
        self._publish(sid, (st[0], st[1], st[2], symbol), result, time.time_ns())

    def on_record(self, symbol: str, record: Any) -> None:
        """The ``ShardedLiveFeed(on_record=...)`` callback: ``symbol`` is the ccxt symbol,
        ``record`` a ``score`` record of the threaded engine (``out_record_dtype``). Writes
        :func:`score_record_fields` and the crossings, as :meth:`on_update` does; the engine
        is not read. Other record kinds raise ValueError."""
        kind, sid, *values = _record_values(record)
        if kind != self._score_kind:
            from ._core.pipeline import OutKind

            raise ValueError(f"on_record takes score records, was kind {OutKind(kind).name}")
        st = self._last.get(sid)
        self._send(sid, symbol, 0 if st is None else st[1], None, _fields(*values))

    def _publish(self, symbol_id: int, st: tuple[float, int, Any, str], res: Any, ts: int) -> None:
        _, side, px, name = st
        engine = self.engine
        bb, ba = engine.best_bid(symbol_id), engine.best_ask(symbol_id)
        # The mid of a synced book only (as the session's series and the score records): an
        # out-of-sync book's levels are stale.
        synced = bb and ba and engine.in_sync(symbol_id)
        price = (px(bb[0]) + px(ba[0])) / 2.0 if synced else math.nan
        self._send(symbol_id, name, side, px, confluence_fields(res, ts, price))

    def _send(
        self, symbol_id: int, name: str, side: int, px: Any, fields: dict[str, Value]
    ) -> None:
        """Writes ``fields`` to ``name``'s hash, and a signal when the score crossed from
        ``side`` into LONG or SHORT."""
        score = float(fields["score"])
        self.cache.cache_score(name, fields)
        now = 1 if score >= self.long else -1 if score <= self.short else 0
        if now != side and now != 0:
            self.cache.publish_signal(
                name,
                {
                    "signal": "LONG" if now > 0 else "SHORT",
                    "score": score,
                    "price": fields.get("price"),
                    "ts_ns": fields["ts_ns"],
                    "source": "crossing",
                },
            )
        self._last[symbol_id] = (score, now, px, name)

    def on_composite(self, symbol: str | None, data: Mapping[str, Any]) -> None:
        """An HFT ``publish(symbol, data)`` callback: the composite's numbers into the hash."""
        if symbol is None:
            return
        flat: dict[str, Value | None] = {}
        _flatten("composite", data, flat)
        self.cache.cache_score(symbol, flat)


def format_cache_stats(cache: ConfluenceHFTCache) -> str:
    """One summary line of a cache's writes for the CLI (the URL without its password)."""
    st = cache.stats
    where = redact_url(cache.url)
    line = (
        f"shared scores {where}: {st.written:,} writes in {st.batches:,} batches, "
        f"{st.dropped:,} dropped ({st.dropped_full:,} queue full, "
        f"{st.dropped_outage:,} during outages), {st.reconnects} reconnects"
    )
    if cache.last_error is not None and not cache.connected:
        line += f"; last error: {cache.last_error}"
    return line


def _flatten(prefix: str, data: Mapping[str, Any], out: dict[str, Value | None]) -> None:
    for k, v in data.items():
        key = f"{prefix}.{k}"
        if isinstance(v, Mapping):
            _flatten(key, v, out)
        elif isinstance(v, bool):
            out[key] = int(v)
        elif isinstance(v, int | float | str) or v is None:
            out[key] = v


def __dir__() -> list[str]:
    return __all__
