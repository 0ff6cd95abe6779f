"""Replay recorded market data through the native path and summarise what happened.

Formats, detected from the file's first line:

- ``<local ns> <raw json>`` lines (gzip or plain): Binance combined-stream captures
  (hftbacktest's format). Spot vs futures is told apart by the depth stream's ``pu`` field,
  USD-M vs COIN-M by the symbol (COIN-M symbols carry ``_``: ``btcusd_perp``, sizes in
  contracts). Streams: ``<sym>@depth[@100ms|@0ms]``, ``<sym>@trade``, ``<sym>@bookTicker``.
- Bybit v5 JSON lines (``{"topic": ...}``), plain or inside a ``.zip`` (Bybit's history files):
  ``orderbook.<depth>.<SYM>`` and ``publicTrade.<SYM>``. Spot vs derivatives: spot trades
  carry no tick direction ``L`` (Bybit: "unique field for Perps & futures"); a file without
  trades is spot only when its name says so.
- Tardis.dev CSV: ``incremental_book_L2`` and ``trades``.

Exchange messages go through :class:`confluex._core.session.FeedSession` (raw bytes -> C++
parser -> book sync -> engine -> score), so the latency figures are those of the live path.
Tardis rows are converted in Python and batch-ingested (they carry no update ids).

Deterministic: the same input gives a bit-identical score series (time comes from the data,
never from the wall clock; pacing only sleeps between messages).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._core.engine import Engine
from ._core.feed import NO_SYMBOL, LineFormat
from ._core.instrument import Instrument
from ._core.session import FeedSession, SessionConfig, Venue, score_point_dtype, signal_event_dtype
from ._core.types import (
    FLAG_END_OF_MESSAGE,
    FLAG_SNAPSHOT,
    NO_UPDATE_ID,
    book_level_event_dtype,
    trade_event_dtype,
)

__all__ = [
    "SAMPLE",
    "ReplayResult",
    "ReplaySource",
    "SymbolReport",
    "detect",
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

_CHUNK = 4 << 20  # bytes fed per native call between progress updates
_STREAM = re.compile(rb'"stream"\s*:\s*"([^"]*)"')
_STREAM_OK = re.compile(r"([a-z0-9_]+)@(?:depth(?:@\d+ms)?|trade|bookTicker)")
_TOPIC = re.compile(rb'"topic"\s*:\s*"([^"]*)"')
_PU = re.compile(rb'"pu"\s*:')
_TICK_DIRECTION = re.compile(rb'"L"\s*:')
_TOPIC_OK = re.compile(r"(?:orderbook\.\d+|publicTrade)\.([A-Z0-9]+)")
#: Session venue of each replay venue (COIN-M shares the USD-M sequence rule, ``pu``).
SESSION_VENUE = {
    "binance_spot": Venue.binance_spot,
    "binance_futures": Venue.binance_futures,
    "binance_coinm": Venue.binance_futures,
    "bybit": Venue.bybit,
    "bybit_spot": Venue.bybit,
}
SUPPORTED_STREAMS = (
    "Binance '<sym>@depth', '<sym>@depth@100ms|@0ms', '<sym>@trade', '<sym>@bookTicker' "
    "(spot, USD-M, COIN-M); Bybit 'orderbook.<depth>.<SYM>', 'publicTrade.<SYM>' "
    "(spot, linear, inverse)"
)
_DECIMAL = re.compile(rb'"(\d+\.\d+)"')


def sample_path() -> Path:
    """Path of the bundled sample capture."""
    return Path(str(resources.files("confluex") / "data" / SAMPLE))


@dataclass(frozen=True)
class ReplaySource:
    """One input file and what :func:`detect` found in it."""

    path: Path
    kind: str  # "capture", "bybit", "tardis_book", "tardis_trades"
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
    health: dict[str, Any]
    stats: dict[str, Any]
    result: Any  # ConfluenceResult
    components: dict[str, dict[str, Any]]


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

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else float("inf")


# --- reading and detection ------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ValueError(f"{path}: expected one file in the zip, was {len(names)}")
            return zf.read(names[0])
    return path.read_bytes()


def detect(path: str | Path, data: bytes | None = None) -> ReplaySource:
    """Identify a file's format, venue and symbols (reads it when ``data`` is not given)."""
    p = Path(path)
    blob = _read_bytes(p) if data is None else data
    head = blob[:4096].lstrip()
    if head[:1].isdigit() and b" {" in head.split(b"\n", 1)[0]:
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


def infer_instrument(blob: bytes) -> tuple[str, str]:
    """Tick and lot from the decimals the data actually uses (exact by construction).

    In every message, quoted decimals come in (price, size) pairs (depth levels, trades,
    bookTickers), so per line the even positions are prices and the odd ones sizes. Trailing
    zeros are ignored ("61837.63000000" counts as two decimals). The whole file is read: a
    sample can miss the rare finer size.
    """
    px_dec = qty_dec = -1
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
) -> ReplayResult:
    """Replay files (default: the bundled sample) and return what happened.

    ``symbols`` filters by venue symbol (``BTCUSDT``); messages of other symbols are counted
    as filtered. ``speed`` paces the replay at ``speed`` x the recorded time (``None``: as fast
    as possible). ``tick``/``lot`` override the instrument of every symbol. ``on_message``,
    when given, is called after every message with ``(session, symbol_id, ts_ns)``, which makes
    the replay go line by line through Python (used by the paper-trading loop).
    """
    files = [Path(p) for p in paths] if paths else [sample_path()]
    wanted = {s.upper().replace("/", "") for s in symbols} if symbols else None
    blobs = [_read_bytes(f) for f in files]
    sources = [detect(f, b) for f, b in zip(files, blobs, strict=True)]
    engine = engine if engine is not None else Engine()
    sessions: dict[str, FeedSession] = {}
    routes: dict[tuple[str, str], int] = {}
    specs: dict[int, tuple[str, str, str, str, bool]] = {}
    config = SessionConfig(
        long_threshold=long_threshold,
        short_threshold=short_threshold,
        series_interval_ns=series_interval_ns,
    )
    for src, blob in zip(sources, blobs, strict=True):
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
                    (_significant_decimals(v.decode()) for v in _DECIMAL.findall(blob)), default=0
                )
                t, q = format(Decimal(1).scaleb(-places), "f"), "1"
                inferred = True
            else:
                t, q = infer_instrument(blob)
                inferred = True
            perp = src.venue == "binance_futures"
            label = f"{name}-PERP" if perp else name
            sym = engine.add_symbol(f"{src.venue}:{name}", Instrument(t, q))
            routes[key] = sym
            specs[sym] = (label, src.venue, t, q, inferred)
            if src.kind in ("capture", "bybit"):
                if src.venue not in sessions:
                    sessions[src.venue] = FeedSession(engine, SESSION_VENUE[src.venue], config)
                sessions[src.venue].add_symbol(name, sym)
    if not routes:
        found = sorted({s for src in sources for s in src.symbols})
        raise ValueError(
            f"no symbol to replay: filter {sorted(wanted or [])} matched none of {found}"
        )

    total = sum(len(b) for b in blobs)
    done = 0
    messages = 0
    started = time.perf_counter()
    for src, blob in zip(sources, blobs, strict=True):
        if src.kind in ("capture", "bybit"):
            session = sessions[src.venue]
            fmt = LineFormat.NsPrefixed if src.kind == "capture" else LineFormat.JsonOnly
            if speed is None and on_message is None:
                for chunk in _chunks(blob):
                    messages += session.replay(chunk, fmt)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            else:
                messages += _feed_lines(
                    session, blob, fmt, speed, on_message, progress, done, total
                )
                done += len(blob)
        else:
            messages += _ingest_tardis(engine, src, blob, routes)
            done += len(blob)
            if progress:
                progress(done, total)
    elapsed = time.perf_counter() - started

    reports: dict[str, SymbolReport] = {}
    for sym, (label, venue, t, q, inferred) in specs.items():
        owner = sessions.get(venue)
        health = owner.health(sym) if owner is not None else {}
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
    series_parts = [s.series() for s in sessions.values()]
    signal_parts = [s.signals() for s in sessions.values()]
    series = np.concatenate(series_parts) if series_parts else np.zeros(0, score_point_dtype)
    signals = np.concatenate(signal_parts) if signal_parts else np.zeros(0, signal_event_dtype)
    latency = _merge_latency([s.latency() for s in sessions.values()])
    errors: dict[str, int] = {}
    filtered = 0
    for s in sessions.values():
        for k, v in s.parser_counters["errors"].items():
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
    )


def _chunks(blob: bytes) -> Iterable[bytes]:
    view = memoryview(blob)
    start = 0
    while start < len(blob):
        end = blob.find(b"\n", min(start + _CHUNK, len(blob)) - 1)
        end = len(blob) if end < 0 else end + 1
        yield bytes(view[start:end])
        start = end


def _feed_lines(
    session: FeedSession,
    blob: bytes,
    fmt: LineFormat,
    speed: float | None,
    on_message: Callable[[FeedSession, int, int], None] | None,
    progress: ProgressFn | None,
    done: int,
    total: int,
) -> int:
    """Line-by-line feed: paced at ``speed`` x recorded time and/or with a per-message hook."""
    count = 0
    first_ts: int | None = None
    wall0 = time.perf_counter()
    pos = 0
    for line in blob.splitlines():
        pos += len(line) + 1
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
        result = session.on_message(msg, ts)
        count += 1
        if on_message is not None and result.ok and result.symbol_id != NO_SYMBOL:
            on_message(session, result.symbol_id, ts)
        if progress and count % 2000 == 0:
            progress(done + pos, total)
    if progress:
        progress(done + len(blob), total)
    return count


def _ingest_tardis(
    engine: Engine, src: ReplaySource, blob: bytes, routes: dict[tuple[str, str], int]
) -> int:
    rows = list(csv.DictReader(io.StringIO(blob.decode())))
    if src.kind == "tardis_trades":
        out = []
        for i, r in enumerate(rows):
            sym = routes.get(("tardis", r["symbol"]))
            if sym is None:
                continue
            inst = engine.instrument(sym)
            side = {"buy": 0, "sell": 1}.get(r["side"], 2)
            out.append(
                (
                    int(r["timestamp"]) * 1000,
                    inst.price_to_ticks(r["price"]),
                    inst.qty_to_lots(r["amount"]),
                    i,
                    sym,
                    side,
                    0,
                    0,
                )
            )
        engine.ingest_trades(np.array(out, dtype=trade_event_dtype))
        return len(rows)
    # incremental_book_L2: rows with the same timestamp form one message; snapshot rows reset.
    records: list[tuple[int, ...]] = []
    update_id = 0
    groups: dict[tuple[str, str, bool], list[dict[str, str]]] = {}
    order: list[tuple[str, str, bool]] = []
    for r in rows:
        key = (r["symbol"], r["timestamp"], r["is_snapshot"] == "true")
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    for key in order:
        name, ts, snap = key
        sym = routes.get(("tardis", name))
        if sym is None:
            continue
        inst = engine.instrument(sym)
        update_id += 1
        group = groups[key]
        for j, r in enumerate(group):
            flags = (FLAG_SNAPSHOT if snap else 0) | (
                FLAG_END_OF_MESSAGE if j == len(group) - 1 else 0
            )
            side = 0 if r["side"] == "bid" else 1
            records.append(
                (
                    int(ts) * 1000,
                    inst.price_to_ticks(r["price"]),
                    inst.qty_to_lots(r["amount"]),
                    update_id,
                    NO_UPDATE_ID,
                    sym,
                    side,
                    flags,
                    0,
                )
            )
    engine.ingest_book(np.array(records, dtype=book_level_event_dtype))
    return len(order)


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
