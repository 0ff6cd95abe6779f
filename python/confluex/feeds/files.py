"""Replay recorded market data through the native path and summarise what happened.

Formats, detected from the file's first line:

- ``<local ns> <raw json>`` lines (gzip or plain): Binance combined-stream captures
  (hftbacktest's format). Spot vs futures is told apart by the depth stream's ``pu`` field,
  USD-M vs COIN-M by the symbol (COIN-M symbols carry ``_``: ``btcusd_perp``, sizes in
  contracts). Streams: ``<sym>@depth[@100ms|@0ms]``, ``<sym>@trade``, ``<sym>@bookTicker``.
- Bybit v5 JSON lines (``{"topic": ...}``), plain or inside a ``.zip`` (Bybit's history files):
  ``orderbook.<depth>.<SYM>`` and ``publicTrade.<SYM>``. Spot vs derivatives: spot trades
  carry no tick direction ``L`` (Bybit: "unique field for Perps & futures"); a file without
  trades is spot only when its name says so. Also after a ``<local ns>`` stamp (a
  ``confluex live --record`` of Bybit).
- Tardis.dev CSV: ``incremental_book_L2`` and ``trades``.

Exchange messages go through :class:`confluex.FeedSession` (raw bytes -> C++
parser -> book sync -> engine -> score), so the latency figures are those of the live path.
Tardis rows are converted in Python and batch-ingested (they carry no update ids).

Deterministic: the same input gives a bit-identical score series (time comes from the data,
never from the wall clock; pacing only sleeps between messages).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from .._core.feed import ParseResult, TardisKind, parse_tardis_rows  # native Tardis row parser
from .._core.pipeline import OutKind
from ..engine import (
    COMPONENT_NAMES,
    FLAG_END_OF_MESSAGE,
    FLAG_SNAPSHOT,
    NO_SYMBOL,
    ComponentScore,
    ConfluenceResult,
    Engine,
    EngineConfig,
    EngineStats,
    FeedSession,
    Instrument,
    LineFormat,
    SessionConfig,
    SymbolHealth,
    SymbolTable,
    Venue,
    book_level_event_dtype,
    score_point_dtype,
    signal_event_dtype,
)
from ..engine import engine_config as profile_config
from ..pipeline import Collector, ShardedEngine

__all__ = [
    "SAMPLE",
    "ReplayResult",
    "ReplaySource",
    "SymbolReport",
    "detect",
    "iter_chunks",
    "replay",
    "sample_path",
]

#: The bundled sample: the first 3 minutes of hftbacktest's Binance spot BTCUSDT capture
#: of 2024-08-08 (MIT, notice in ``confluex/data/LICENSE-hftbacktest.txt``).
SAMPLE = "binance_spot_btcusdt_20240808_3min.gz"

#: Tick and lot sizes of common symbols, as decimal strings. Binance spot depth sizes carry
#: 8 decimals whatever the order step size, so the engine's lot there is 1e-8.
KNOWN_INSTRUMENTS: dict[tuple[str, str], tuple[str, str]] = {
    ("binance_spot", "BTCUSDT"): ("0.01", "0.00000001"),
    ("binance_spot", "ETHUSDT"): ("0.01", "0.00000001"),
    ("binance_futures", "BTCUSDT"): ("0.1", "0.001"),
    ("binance_futures", "ETHUSDT"): ("0.01", "0.001"),
    ("bybit", "BTCUSDT"): ("0.1", "0.001"),
    ("bybit", "ETHUSDT"): ("0.01", "0.01"),
    ("bybit", "XRPUSDT"): ("0.0001", "1"),
    ("bybit_spot", "BTCUSDT"): ("0.01", "0.000001"),
    ("binance_coinm", "BTCUSD_PERP"): ("0.1", "1"),
    ("binance_coinm", "ETHUSD_PERP"): ("0.01", "1"),
    ("tardis", "XBTUSD"): ("0.5", "1"),
    ("tardis", "BTC-PERPETUAL"): ("0.5", "10"),
}

_CHUNK = 4 << 20  # bytes read, and fed per native call, between progress updates
_SAMPLE = 1 << 20  # bytes at the head of a file that detect() reads in full
_SERIES_CAP = 1 << 20  # bound of the session's series between two drains (one chunk's worth)
_STREAM_SYMBOL = re.compile(rb'"stream":"([a-z0-9_]+)@')
_TOPIC_SYMBOL = re.compile(rb'"topic":"(?:orderbook\.\d+|publicTrade)\.([A-Z0-9]+)"')
_STREAM = re.compile(rb'"stream"\s*:\s*"([^"]*)"')
_STREAM_OK = re.compile(
    r"([a-z0-9_]+)@(?:depth(?:@\d+ms)?|trade|bookTicker|markPrice(?:@1s)?|forceOrder)"
)
_TOPIC = re.compile(rb'"topic"\s*:\s*"([^"]*)"')
_PU = re.compile(rb'"pu"\s*:')
_TICK_DIRECTION = re.compile(rb'"L"\s*:')
_TOPIC_OK = re.compile(r"(?:orderbook\.\d+|publicTrade|tickers|allLiquidation)\.([A-Z0-9]+)")
#: Session venue of each replay venue (COIN-M shares the USD-M sequence rule, ``pu``).
SESSION_VENUE = {
    "binance_spot": Venue.binance_spot,
    "binance_futures": Venue.binance_futures,
    "binance_coinm": Venue.binance_futures,
    "bybit": Venue.bybit,
    "bybit_spot": Venue.bybit,
}
SUPPORTED_STREAMS = (
    "Binance '<sym>@depth', '<sym>@depth@100ms|@0ms', '<sym>@trade', '<sym>@bookTicker', "
    "'<sym>@markPrice[@1s]', '<sym>@forceOrder' (spot, USD-M, COIN-M); Bybit "
    "'orderbook.<depth>.<SYM>', 'publicTrade.<SYM>', 'tickers.<SYM>', 'allLiquidation.<SYM>' "
    "(spot, linear, inverse)"
)
_DECIMAL = re.compile(rb'"(\d+\.\d+)"')
_CSV_SYMBOL = re.compile(rb"^([^,\n]*,[^,\n]*,)", re.MULTILINE)  # a CSV row's exchange,symbol,


def sample_path() -> Path:
    """Path of the bundled sample capture."""
    return Path(str(resources.files("confluex") / "data" / SAMPLE))


@dataclass(frozen=True)
class ReplaySource:
    """One input file and what :func:`detect` found in it."""

    path: Path
    kind: str  # "capture", "bybit", "bybit_capture", "tardis_book", "tardis_trades"
    venue: str  # "binance_spot", "binance_futures", "bybit", "tardis"
    symbols: tuple[str, ...]


@dataclass
class SymbolReport:
    """What a replay did to one symbol."""

    name: str
    venue: str
    tick: str
    lot: str
    inferred: bool
    symbol_id: int
    health: SymbolHealth | None  # None for batch-ingested (Tardis) symbols
    stats: EngineStats
    result: ConfluenceResult
    components: dict[str, ComponentScore]


@dataclass
class ReplayResult:
    """Everything a replay produced: per-symbol reports, latency, the score series."""

    sources: list[ReplaySource]
    symbols: dict[str, SymbolReport]
    latency: dict[str, dict[str, float]]
    series: npt.NDArray[np.void]
    signals: npt.NDArray[np.void]
    messages: int
    elapsed_s: float
    parser_errors: dict[str, int]
    engine: Engine
    thresholds: tuple[float, float]
    filtered: int = 0
    names: dict[int, str] = field(default_factory=dict)
    interrupted: bool = False  # stopped early by Ctrl-C (``replay(interruptible=True)``)
    #: ``replay(threads=N)``: the threaded engine that holds every symbol (``engine`` is then
    #: the one passed in, without symbols); ``sharded.engine_of(symbol_id)`` reads one.
    sharded: ShardedEngine | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else float("inf")


# --- reading and detection ------------------------------------------------------------------


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[_Readable]:
    """The decompressed content of a file (gzip, a one-file zip, or plain) as a stream."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            yield fh
    elif path.suffix == ".zip":
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path}: truncated or corrupt .zip: {exc}") from None
        with zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ValueError(f"{path}: expected one file in the zip, was {len(names)}")
            with zf.open(names[0]) as fh:
                yield fh
    else:
        with path.open("rb") as fh:
            yield fh


def iter_chunks(path: str | Path, size: int = _CHUNK) -> Iterator[bytes]:
    """Yield a file's decompressed content in pieces of about ``size`` bytes, each ending at a
    line end (the last one may lack it). Memory stays bounded by ``size`` plus one line."""
    path = Path(path)
    with _open_binary(path) as fh:
        rest = b""
        while True:
            try:
                buf = fh.read(size)
            except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
                kind = path.suffix or "file"
                raise ValueError(f"{path}: truncated or corrupt {kind}: {exc}") from None
            if not buf:
                if rest:
                    yield rest
                return
            data = rest + buf if rest else buf
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data  # one line longer than size: read on
                continue
            rest = data[cut:]
            yield data[:cut] if rest else data


def _detection_sample(path: Path) -> tuple[bytes, int]:
    """What :func:`detect` reads of a file, and the file's decompressed size in bytes.

    The sample is the head of the file (whole lines up to about 1 MiB) plus, from the rest, the
    first line of each symbol (stream, topic or CSV symbol column) not seen before: detection
    sees the whole file's symbols while memory stays bounded (one chunk).
    """
    parts: list[bytes] = []
    seen: set[bytes] = set()
    total = 0
    csv_rows = False
    for chunk in iter_chunks(path):
        total += len(chunk)
        if not parts:
            cut = chunk.find(b"\n", _SAMPLE) + 1 or len(chunk)
            head, chunk = chunk[:cut], chunk[cut:]
            parts.append(head)
            csv_rows = head[:1].isalpha()
            seen.update(sym for sym, _ in _symbol_lines(head, csv_rows, seen))
        parts.extend(line for _, line in _symbol_lines(chunk, csv_rows, seen))
    return b"".join(parts), total


def _symbol_lines(chunk: bytes, csv_rows: bool, seen: set[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """(symbol, first line) for each symbol of ``chunk`` not in ``seen`` (which is updated)."""
    if _only_known(chunk, csv_rows, seen):
        return
    for pattern in (_CSV_SYMBOL,) if csv_rows else (_STREAM_SYMBOL, _TOPIC_SYMBOL):
        new = set(pattern.findall(chunk)) - seen
        for m in pattern.finditer(chunk) if new else ():
            sym = m.group(1)
            if sym in new:
                new.discard(sym)
                seen.add(sym)
                start = chunk.rfind(b"\n", 0, m.start()) + 1
                end = chunk.find(b"\n", m.end())
                yield sym, chunk[start : len(chunk) if end < 0 else end] + b"\n"
                if not new:
                    break


def _only_known(chunk: bytes, csv_rows: bool, seen: set[bytes]) -> bool:
    """True when every row (CSV) or stream message of ``chunk`` names a symbol already seen:
    a few substring counts instead of a regex scan (the common case after the head)."""
    if not seen:
        return False
    if csv_rows:
        body = b"\n" + chunk
        rows = body.count(b"\n") - (1 if chunk.endswith(b"\n") else 0)
        return sum(body.count(b"\n" + key) for key in seen) == rows
    streams = chunk.count(b'"stream":"')
    return streams > 0 and sum(chunk.count(b'"stream":"' + k + b"@") for k in seen) == streams


def detect(path: str | Path, data: bytes | None = None) -> ReplaySource:
    """Identify a file's format, venue and symbols.

    Without ``data`` the file is streamed once (bounded memory): the head is read in full and
    the rest scanned for symbols.
    """
    p = Path(path)
    blob = _detection_sample(p)[0] if data is None else data
    head = blob[:4096].lstrip()
    if head[:1].isdigit() and b" {" in head.split(b"\n", 1)[0]:
        if not _STREAM_SYMBOL.search(blob) and _TOPIC_SYMBOL.search(blob):
            # A recorded Bybit session (confluex live --record): v5 frames after their stamp.
            topics = _names(p, _TOPIC.findall(blob), _TOPIC_OK, upper=False)
            return ReplaySource(p, "bybit_capture", "bybit", topics)
        symbols = _names(p, _STREAM.findall(blob), _STREAM_OK, upper=True)
        futures = _PU.search(blob, 0, 1 << 20) is not None
        coinm = any("_" in s for s in symbols)
        venue = "binance_coinm" if coinm else "binance_futures" if futures else "binance_spot"
        return ReplaySource(p, "capture", venue, symbols)
    if head.startswith(b'{"topic"') or head.startswith(b"{"):
        symbols = _names(p, _TOPIC.findall(blob), _TOPIC_OK, upper=False)
        trades = re.search(rb'"topic"\s*:\s*"publicTrade\.', blob)
        if trades is not None:
            spot = _TICK_DIRECTION.search(blob, trades.start(), trades.start() + 4096) is None
        else:
            spot = "spot" in p.name.lower()
        return ReplaySource(p, "bybit", "bybit_spot" if spot else "bybit", symbols)
    first = head.split(b"\n", 1)[0].decode(errors="replace").strip()
    if first.startswith("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"):
        return ReplaySource(p, "tardis_book", "tardis", _csv_symbols(blob))
    if first.startswith("exchange,symbol,timestamp,local_timestamp,id,side,price,amount"):
        return ReplaySource(p, "tardis_trades", "tardis", _csv_symbols(blob))
    raise ValueError(
        f"{p}: unrecognised format (expected '<ns> <json>' capture lines, Bybit JSON lines or a "
        f"Tardis incremental_book_L2/trades CSV), first line was {first[:80]!r}"
    )


def _names(path: Path, found: list[bytes], ok: re.Pattern[str], *, upper: bool) -> tuple[str, ...]:
    """The symbols of the supported streams; any other stream is an error naming it."""
    names = set()
    for raw in set(found):
        stream = raw.decode(errors="replace")
        m = ok.fullmatch(stream)
        if m is None:
            raise ValueError(
                f"{path}: unsupported stream {stream!r}; supported: {SUPPORTED_STREAMS}"
            )
        names.add(m.group(1).upper() if upper else m.group(1))
    return tuple(sorted(names))


def _csv_symbols(blob: bytes) -> tuple[str, ...]:
    rows = csv.DictReader(io.StringIO(blob.decode()))
    return tuple(sorted({r["symbol"] for r in rows}))


def _significant_decimals(text: str) -> int:
    frac = text.partition(".")[2].rstrip("0")
    return len(frac)


def infer_instrument(data: bytes | Iterable[bytes]) -> tuple[str, str]:
    """Tick and lot from the decimals the data actually uses (exact by construction).

    In every message, quoted decimals come in (price, size) pairs (depth levels, trades,
    bookTickers), so per line the even positions are prices and the odd ones sizes. Trailing
    zeros are ignored ("61837.63000000" counts as two decimals). The whole file is read (pass
    :func:`iter_chunks` to stream it): a sample can miss the rare finer size.
    """
    px_dec = qty_dec = -1
    for blob in [data] if isinstance(data, bytes) else data:
        for line in blob.splitlines():
            values = _DECIMAL.findall(line)
            for i, v in enumerate(values):
                d = _significant_decimals(v.decode())
                if i % 2 == 0:
                    px_dec = max(px_dec, d)
                else:
                    qty_dec = max(qty_dec, d)
    if px_dec < 0 or qty_dec < 0:
        raise ValueError(
            "cannot infer tick/lot sizes: no quoted decimals found; pass --tick and --lot"
        )
    return format(Decimal(1).scaleb(-px_dec), "f"), format(Decimal(1).scaleb(-qty_dec), "f")


# --- the replay ---------------------------------------------------------------------------------


ProgressFn = Callable[[int, int], None]


def replay(
    paths: Sequence[str | Path] | None = None,
    *,
    symbols: Iterable[str] | None = None,
    speed: float | None = None,
    tick: str | None = None,
    lot: str | None = None,
    long_threshold: float = 70.0,
    short_threshold: float = 35.0,
    series_interval_ns: int = 100_000_000,
    progress: ProgressFn | None = None,
    engine: Engine | None = None,
    on_message: Callable[[FeedSession, int, int], None] | None = None,
    interruptible: bool = False,
    on_parsed: Callable[[FeedSession, ParseResult, int], None] | None = None,
    prepare: Callable[[Engine, int, str], None] | None = None,
    on_raw: Callable[[FeedSession, ParseResult, bytes, int], None] | None = None,
    before_message: Callable[[int], None] | None = None,
    threads: int | None = None,
    engine_config: EngineConfig | None = None,
) -> ReplayResult:
    """Replay files (default: the bundled sample) and return what happened.

    ``symbols`` filters by venue symbol (``BTCUSDT``); messages of other symbols are counted
    as filtered. ``speed`` paces the replay at ``speed`` x the recorded time (``None``: as fast
    as possible). ``tick``/``lot`` override the instrument of every symbol. ``on_message``,
    when given, is called after every message with ``(session, symbol_id, ts_ns)``, which makes
    the replay go line by line through Python (used by the paper-trading loop). ``on_parsed``
    is the same hook given the message's ``ParseResult`` instead of its symbol id (its ``kind``
    tells book, trade and bookTicker messages apart: the ``--hft`` streaming policy).
    ``prepare``, when given, is called as ``prepare(engine, symbol_id, venue_symbol)`` right
    after each symbol is registered and before any of its data: the place for warm-up
    (``Engine.load_history``) and sentiment inputs (``Engine.on_funding``...).
    ``on_raw`` is ``on_parsed`` given the raw message too, as
    ``(session, result, message, ts_ns)`` (the market maker re-reads a trade message's trades).
    ``before_message``, when given, is called with each message's timestamp just before the
    message is fed (line by line, like ``on_message``): the engine then holds every earlier
    message, the state ``confluex research`` samples on its time grid.
    With ``interruptible``, Ctrl-C (KeyboardInterrupt) ends the replay early and the result
    covers what was replayed so far (``interrupted=True``); otherwise it propagates.

    ``threads=N`` replays on the threaded engine (:class:`confluex.ShardedEngine`): symbols are
    spread round-robin over N engine threads, the files are fed interleaved chunk by chunk
    through the lock-free rings (lossless), and the series and signals equal the
    single-threaded replay's. The per-symbol state then lives in ``result.sharded`` (engines
    built from ``engine_config``; ``prepare`` gets each symbol's shard engine); ``speed``,
    the per-message hooks and Tardis CSV files need the single-threaded replay.
    """
    config = SessionConfig(
        long_threshold=long_threshold,
        short_threshold=short_threshold,
        series_interval_ns=series_interval_ns,
        max_series_points=_SERIES_CAP,
        max_signals=_SERIES_CAP,
    )
    hooks = (on_message, on_parsed, on_raw, before_message)
    if engine_config is None:  # the default profile ("standard"), as the CLI and research score
        engine_config = profile_config()
    sharded = _sharded_engine(threads, engine_config, speed, hooks, config)
    files = [Path(p) for p in paths] if paths else [sample_path()]
    wanted = {s.upper().replace("/", "") for s in symbols} if symbols else None
    # Files are streamed: a first pass finds format, symbols and sizes, the replay pass feeds
    # them chunk by chunk. Peak memory is a chunk plus the engine, whatever the file size.
    samples = [_detection_sample(f) for f in files]
    sources = [detect(f, sample) for f, (sample, _) in zip(files, samples, strict=True)]
    sizes = [size for _, size in samples]
    del samples
    engine = engine if engine is not None else Engine(engine_config)
    sessions: dict[str, FeedSession] = {}
    routes: dict[tuple[str, str], int] = {}
    specs: dict[int, tuple[str, str, str, str, bool]] = {}
    for src in sources:
        for name in src.symbols:
            if wanted is not None and name not in wanted:
                continue
            key = (src.venue, name)
            if key in routes:
                continue
            if tick and lot:
                t, q, inferred = tick, lot, False
            elif key in KNOWN_INSTRUMENTS:
                t, q = KNOWN_INSTRUMENTS[key]
                inferred = False
            elif src.venue == "binance_coinm":
                # COIN-M sizes are whole contracts: every quoted decimal with a '.' is a price.
                places = max(
                    (
                        _significant_decimals(v.decode())
                        for chunk in iter_chunks(src.path)
                        for v in _DECIMAL.findall(chunk)
                    ),
                    default=0,
                )
                t, q = format(Decimal(1).scaleb(-places), "f"), "1"
                inferred = True
            else:
                t, q = infer_instrument(iter_chunks(src.path))
                inferred = True
            perp = src.venue == "binance_futures"
            label = f"{name}-PERP" if perp else name
            if sharded is not None:
                sym = _add_sharded(sharded, src, name, Instrument(t, q), len(routes), prepare)
                routes[key] = sym
                specs[sym] = (label, src.venue, t, q, inferred)
                continue
            sym = engine.add_symbol(f"{src.venue}:{name}", Instrument(t, q))
            routes[key] = sym
            specs[sym] = (label, src.venue, t, q, inferred)
            if prepare is not None:
                prepare(engine, sym, name)
            if src.kind in ("capture", "bybit", "bybit_capture"):
                if src.venue not in sessions:
                    sessions[src.venue] = FeedSession(engine, SESSION_VENUE[src.venue], config)
                sessions[src.venue].add_symbol(name, sym)
    if not routes:
        found = sorted({s for src in sources for s in src.symbols})
        raise ValueError(
            f"no symbol to replay: filter {sorted(wanted or [])} matched none of {found}"
        )

    if sharded is not None:
        return _replay_sharded(sharded, sources, sizes, specs, engine, progress, interruptible)
    total = sum(sizes)
    done = 0
    messages = 0
    series_parts: list[npt.NDArray[np.void]] = []
    signal_parts: list[npt.NDArray[np.void]] = []

    def drain() -> None:
        # The sessions keep a bounded series; move it out after every chunk so none is lost.
        for s in sessions.values():
            series_parts.append(s.take_series())
            signal_parts.append(s.take_signals())

    started = time.perf_counter()
    interrupted = False
    try:
        for src, size in zip(sources, sizes, strict=True):
            if src.kind in ("capture", "bybit", "bybit_capture"):
                session = sessions[src.venue]
                fmt = LineFormat.JsonOnly if src.kind == "bybit" else LineFormat.NsPrefixed
                if (
                    speed is None
                    and on_message is None
                    and on_parsed is None
                    and on_raw is None
                    and before_message is None
                ):
                    for chunk in iter_chunks(src.path):
                        messages += session.replay(chunk, fmt)
                        drain()
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                else:
                    messages += _feed_lines(
                        session,
                        iter_chunks(src.path),
                        fmt,
                        speed,
                        on_message,
                        progress,
                        done,
                        total,
                        drain,
                        on_parsed,
                        on_raw,
                        before_message,
                    )
                    done += size
            else:
                messages += _ingest_tardis(engine, src, iter_chunks(src.path), routes)
                done += size
                if progress:
                    progress(done, total)
    except KeyboardInterrupt:
        if not interruptible:
            raise
        interrupted = True
        # a file fed line by line was cut short before its count came back: ask the parsers
        seen = sum(
            sum(s.parser_counters.messages.values()) + sum(s.parser_counters.errors.values())
            for s in sessions.values()
        )
        messages = max(messages, seen)
    drain()
    elapsed = time.perf_counter() - started

    reports: dict[str, SymbolReport] = {}
    for sym, (label, venue, t, q, inferred) in specs.items():
        owner = sessions.get(venue)
        health = owner.health(sym) if owner is not None else None
        components = {
            c: engine.component(sym, c)
            for c in (
                "orderflow",
                "orderbook",
                "volume",
                "price_structure",
                "technical",
                "sentiment",
            )
        }
        reports[label] = SymbolReport(
            label,
            venue,
            t,
            q,
            inferred,
            sym,
            health,
            engine.stats(sym),
            engine.result(sym),
            components,
        )
    series = _merge_by_time(series_parts, len(sessions), score_point_dtype)
    signals = _merge_by_time(signal_parts, len(sessions), signal_event_dtype)
    latency = _merge_latency([s.latency() for s in sessions.values()])
    errors: dict[str, int] = {}
    filtered = 0
    for s in sessions.values():
        for k, v in s.parser_counters.errors.items():
            if wanted is not None and k == "UnknownSymbol":
                filtered += v
            else:
                errors[k] = errors.get(k, 0) + v
    return ReplayResult(
        sources=sources,
        symbols=reports,
        latency=latency,
        series=series,
        signals=signals,
        messages=messages,
        elapsed_s=elapsed,
        parser_errors=errors,
        engine=engine,
        thresholds=(long_threshold, short_threshold),
        filtered=filtered,
        names={r.symbol_id: r.name for r in reports.values()},
        interrupted=interrupted,
    )


# --- the threaded replay (replay(threads=N)) ------------------------------------------------


def _sharded_engine(
    threads: int | None,
    engine_config: EngineConfig | None,
    speed: float | None,
    hooks: tuple[object, ...],
    config: SessionConfig,
) -> ShardedEngine | None:
    if threads is None:
        return None
    if not 1 <= threads <= 64:
        raise ValueError(f"threads must be in [1, 64], was {threads}")
    if speed is not None or any(hook is not None for hook in hooks):
        raise ValueError(
            "threads replays flat out without per-message hooks: drop --speed, --paper, --hft,"
            " --strategy mm"
        )
    return ShardedEngine(
        threads,
        lossless=True,
        emit_scores=False,
        session_config=config,
        engine_config=engine_config,
        wait="blocking",  # a replay: the reader needs the CPU (see ShardedEngine)
    )


def _add_sharded(
    sharded: ShardedEngine,
    src: ReplaySource,
    name: str,
    inst: Instrument,
    index: int,
    prepare: Callable[[Engine, int, str], None] | None,
) -> int:
    if src.kind not in ("capture", "bybit", "bybit_capture"):
        raise ValueError(
            f"{src.path}: threads replays exchange captures; Tardis CSV is batch-ingested "
            "by the single-threaded replay"
        )
    sym = sharded.add_symbol(
        SESSION_VENUE[src.venue],
        name,
        inst,
        name=f"{src.venue}:{name}",
        shard=index % sharded.shards,
    )
    if prepare is not None:
        shard_engine, shard_sym = sharded.engine_of(sym)
        # A shard's engine is the native class the facade Engine only gives a default config.
        prepare(cast(Engine, shard_engine), shard_sym, name)
    return sym


def _replay_sharded(
    sharded: ShardedEngine,
    sources: list[ReplaySource],
    sizes: list[int],
    specs: dict[int, tuple[str, str, str, str, bool]],
    engine: Engine,
    progress: ProgressFn | None,
    interruptible: bool,
) -> ReplayResult:
    """Feeds the files interleaved chunk by chunk (as sockets would) into the shards and
    assembles the result from their records, engines and sessions."""
    feeds = [
        (
            SESSION_VENUE[src.venue],
            LineFormat.JsonOnly if src.kind == "bybit" else LineFormat.NsPrefixed,
            iter_chunks(src.path, 1 << 20),
        )
        for src in sources
    ]
    total, done, messages = sum(sizes), 0, 0
    interrupted = False
    started = time.perf_counter()
    sharded.start()
    collector = Collector(sharded)
    try:
        try:
            while feeds:
                for feed in list(feeds):
                    chunk = next(feed[2], None)
                    if chunk is None:
                        feeds.remove(feed)
                        continue
                    messages += sharded.feed_lines(feed[0], chunk, feed[1])
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            sharded.finish()
        except KeyboardInterrupt:
            if not interruptible:
                raise
            interrupted = True
    finally:
        sharded.close()
        records = collector.join()
    elapsed = time.perf_counter() - started
    kinds = records["kind"]
    # The single-threaded replay's order: session by session (venues in order of appearance),
    # each in time order (a stable sort keeps a symbol's own order).
    rank = {v: i for i, v in enumerate(dict.fromkeys(spec[1] for spec in specs.values()))}
    sym_rank = np.array([rank[specs[s][1]] for s in sorted(specs)] or [0], np.int64)

    def ordered(rows: npt.NDArray[np.void], dtype: np.dtype[Any]) -> npt.NDArray[np.void]:
        out = _as_dtype(rows, dtype)
        return out[np.lexsort((out["ts_ns"], sym_rank[out["symbol_id"]]))]

    series = ordered(records[kinds == int(OutKind.point)], score_point_dtype)
    signals = ordered(records[kinds == int(OutKind.signal)], signal_event_dtype)
    reports: dict[str, SymbolReport] = {}
    for sym, (label, venue, t, q, inferred) in specs.items():
        eng, local = sharded.engine_of(sym)
        components = {c: eng.component(local, c) for c in COMPONENT_NAMES}
        reports[label] = SymbolReport(
            label,
            venue,
            t,
            q,
            inferred,
            sym,
            sharded.health(sym),
            eng.stats(local),
            eng.result(local),
            components,
        )
    sessions = list(sharded.sessions())
    errors: dict[str, int] = {}
    for s in sessions:
        for k, v in s.parser_counters.errors.items():
            errors[k] = errors.get(k, 0) + v
    return ReplayResult(
        sources=sources,
        symbols=reports,
        latency=_merge_latency([s.latency() for s in sessions]),
        series=series,
        signals=signals,
        messages=messages,
        elapsed_s=elapsed,
        parser_errors=errors,
        engine=engine,
        thresholds=(
            sharded.session_config.long_threshold,
            sharded.session_config.short_threshold,
        ),
        names={r.symbol_id: r.name for r in reports.values()},
        interrupted=interrupted,
        sharded=sharded,
    )


def _as_dtype(records: npt.NDArray[np.void], dtype: np.dtype[Any]) -> npt.NDArray[np.void]:
    """Pipeline records as rows of another record dtype, field by field (same names)."""
    out = np.zeros(len(records), dtype)
    for name in dtype.names or ():
        if name in (records.dtype.names or ()):
            out[name] = records[name]
    return out


def _merge_by_time(
    parts: list[npt.NDArray[np.void]], n_sessions: int, dtype: np.dtype[Any]
) -> npt.NDArray[np.void]:
    """The drained pieces as one array: per session in order, sessions one after another (the
    order of a single final read of every session)."""
    if not parts:
        return np.zeros(0, dtype)
    per_session = [parts[i::n_sessions] for i in range(n_sessions)] if n_sessions else [parts]
    return np.concatenate([p for group in per_session for p in group])


def _feed_lines(
    session: FeedSession,
    chunks: Iterable[bytes],
    fmt: LineFormat,
    speed: float | None,
    on_message: Callable[[FeedSession, int, int], None] | None,
    progress: ProgressFn | None,
    done: int,
    total: int,
    drain: Callable[[], None],
    on_parsed: Callable[[FeedSession, ParseResult, int], None] | None = None,
    on_raw: Callable[[FeedSession, ParseResult, bytes, int], None] | None = None,
    before_message: Callable[[int], None] | None = None,
) -> int:
    """Line-by-line feed: paced at ``speed`` x recorded time and/or with a per-message hook."""
    count = 0
    first_ts: int | None = None
    wall0 = time.perf_counter()
    pos = 0
    lines = itertools.chain.from_iterable(c.splitlines() for c in chunks)
    for line in lines:
        pos += len(line) + 1
        if count % 65536 == 0:
            drain()
        if not line:
            continue
        if fmt == LineFormat.NsPrefixed:
            ts_raw, _, msg = line.partition(b" ")
            ts = int(ts_raw) if ts_raw.isdigit() else 0
        else:
            msg = line
            m = re.search(rb'"ts":(\d+)', line)
            ts = int(m.group(1)) * 1_000_000 if m else 0
        if speed is not None and ts:
            if first_ts is None:
                first_ts = ts
            due = (ts - first_ts) / 1e9 / speed
            lag = due - (time.perf_counter() - wall0)
            if lag > 0:
                time.sleep(lag)
        if before_message is not None:
            before_message(ts)
        result = session.on_message(msg, ts)
        count += 1
        if on_message is not None and result.ok and result.symbol_id != NO_SYMBOL:
            on_message(session, result.symbol_id, ts)
        if on_parsed is not None and result.ok and result.symbol_id != NO_SYMBOL:
            on_parsed(session, result, ts)
        if on_raw is not None and result.ok and result.symbol_id != NO_SYMBOL:
            on_raw(session, result, msg, ts)
        if progress and count % 2000 == 0:
            progress(done + pos, total)
    if progress:
        progress(done + pos, total)
    return count


def _ingest_tardis(
    engine: Engine,
    src: ReplaySource,
    chunks: Iterable[bytes],
    routes: dict[tuple[str, str], int],
) -> int:
    """Stream a Tardis CSV into the engine chunk by chunk; returns rows (trades) or messages.

    The native parser (``parse_tardis_rows``, GIL released) turns each chunk's rows into
    records, converting every price and amount exactly (an off-grid value raises naming its
    line and value); memory is bounded by the chunk. incremental_book_L2 rows of one symbol
    with the same timestamp and snapshot flag that follow each other form one message: the
    grouping is vectorised here, and a message that straddles two chunks is held back until
    it is complete. Rows of symbols not replayed are skipped.
    """
    table = SymbolTable()
    for (venue, name), sym in routes.items():
        if venue == "tardis":
            table.add(name, sym, engine.instrument(sym))
    book = src.kind == "tardis_book"
    kind = TardisKind.book if book else TardisKind.trades
    held: npt.NDArray[np.void] = np.zeros(0, book_level_event_dtype)
    held_key: tuple[int, int, bool] | None = None
    line = 1
    rows_seen = 0
    messages = 0
    update_id = 0
    for chunk in chunks:
        if line == 1:
            _, _, chunk = chunk.partition(b"\n")  # the header (checked by detect())
            line = 2
        recs, trades, rows, _ = parse_tardis_rows(chunk, kind, table, line)
        line += chunk.count(b"\n")
        if not book:
            trades["trade_id"] += rows_seen
            rows_seen += rows
            messages += rows
            if len(trades):
                engine.ingest_trades(trades)
            continue
        n = len(recs)
        if n == 0:
            continue
        sym_ids = recs["symbol_id"].astype(np.int64)
        ts = recs["ts_ns"]
        snap = (recs["flags"] & FLAG_SNAPSHOT) != 0
        # A message starts where (symbol, timestamp, snapshot) changes; row 0 starts one unless
        # it continues the message held back from the previous chunk.
        starts = np.ones(n, np.bool_)
        starts[1:] = (sym_ids[1:] != sym_ids[:-1]) | (ts[1:] != ts[:-1]) | (snap[1:] != snap[:-1])
        starts[0] = held_key != (int(sym_ids[0]), int(ts[0]), bool(snap[0]))
        held_key = (int(sym_ids[-1]), int(ts[-1]), bool(snap[-1]))
        new_ids = np.cumsum(starts)
        messages += int(new_ids[-1])
        recs["update_id"] = update_id + new_ids  # a continued message keeps its id
        update_id += int(new_ids[-1])
        ends = np.zeros(n, np.bool_)
        ends[:-1] = starts[1:]
        recs["flags"] |= np.where(ends, FLAG_END_OF_MESSAGE, 0).astype(np.uint8)
        if starts[0] and len(held):
            held["flags"][-1] |= FLAG_END_OF_MESSAGE
        if not starts.any():
            held = np.concatenate([held, recs])
            continue
        # Rows before the chunk's last message are complete; that message may continue.
        last = int(np.flatnonzero(starts)[-1])
        complete = np.concatenate([held, recs[:last]])
        if len(complete):
            engine.ingest_book(complete)
        held = recs[last:].copy()
    if len(held):
        held["flags"][-1] |= FLAG_END_OF_MESSAGE
        engine.ingest_book(held)
    return messages


def _merge_latency(parts: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per-stage latency over sessions: counts add, percentiles are the worst session's."""
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    out: dict[str, dict[str, float]] = {}
    for stage in parts[0]:
        rows = [p[stage] for p in parts if p[stage]["count"]]
        if not rows:
            out[stage] = dict(parts[0][stage])
            continue
        out[stage] = {
            "count": sum(r["count"] for r in rows),
            **{k: max(r[k] for r in rows) for k in ("p50", "p99", "p999", "max")},
            "mean": sum(r["mean"] * r["count"] for r in rows) / sum(r["count"] for r in rows),
        }
    return out


def __dir__() -> list[str]:
    return __all__
