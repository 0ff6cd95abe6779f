"""FeedSession on real captures: sync procedure, bookTicker oracle, resync, health, latency."""

from __future__ import annotations

import gzip
import json
import time
import zipfile
from functools import cache
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import _core

S = _core.session
HFT = Path(__file__).resolve().parent / "data" / "hftbacktest"
CAPTURES = {
    "spot": (
        ("spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"),
        "0.01",
        "0.00000001",
        S.Venue.binance_spot,
    ),
    "usdm": (
        ("usdm_2024-07/btcusdt_20240718.gz", "usdm_2024-07/btcusdt_20240719.gz"),
        "0.1",
        "0.001",
        S.Venue.binance_futures,
    ),
}


@cache
def raw(files: tuple[str, ...], root: Path) -> bytes:
    return b"".join(gzip.open(root / f).read() for f in files)


def session_for(
    kind: str, root: Path, **cfg: float
) -> tuple[_core.engine.Engine, S.FeedSession, int, bytes]:
    files, tick, lot, venue = CAPTURES[kind]
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument(tick, lot))
    session = S.FeedSession(engine, venue, S.SessionConfig(**cfg))
    session.add_symbol("BTCUSDT", sym)
    return engine, session, sym, raw(files, root)


@pytest.mark.parametrize("kind", ["spot", "usdm"])
def test_replay_matches_every_comparable_book_ticker(kind: str, hft_data: Path) -> None:
    engine, session, sym, data = session_for(kind, hft_data)

    lines = session.replay(data)
    health = session.health(sym)

    assert lines == data.count(b"\n")
    assert health.phase == S.SyncPhase.synced
    assert health.ticker_mismatches == 0
    assert health.ticker_checks > 500
    assert health.desyncs == 0 and health.parse_errors == 0
    assert health.snapshots_applied == 1
    assert engine.stats(sym).gaps == 0
    assert health.depth_messages + health.trade_messages + health.ticker_messages + 1 == lines


def test_replay_is_bit_identical_across_runs(hft_data: Path) -> None:
    runs = []
    for _ in range(2):
        engine, session, sym, data = session_for("spot", hft_data)
        session.replay(data)
        runs.append((session.series().tobytes(), session.signals().tobytes(), engine.score(sym)))

    assert runs[0] == runs[1]
    assert len(np.frombuffer(runs[0][0], dtype=S.score_point_dtype)) > 1000


def test_session_equals_engine_fed_by_the_python_loader(hft_data: Path) -> None:
    from confluex.feeds.capture import load_binance_capture

    engine, session, sym, _ = session_for("spot", hft_data)
    session.replay(raw(("spot/btcusdt_20240808.gz",), hft_data))
    cap = load_binance_capture(
        [hft_data / "spot/btcusdt_20240808.gz"], confluex.Instrument("0.01", "0.00000001")
    )
    direct = confluex.Engine()
    d = direct.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))
    direct.ingest_book(cap.book)
    direct.ingest_trades(cap.trades)

    assert engine.best_bid(sym) == direct.best_bid(d)
    assert engine.best_ask(sym) == direct.best_ask(d)
    assert engine.cvd(sym) == direct.cvd(d)
    assert engine.stats(sym).messages_applied == direct.stats(d).messages_applied


def rest_snapshot_json(
    engine: _core.engine.Engine, sym: int, update_id: int, tick: str, lot: str
) -> bytes:
    """A Binance REST depth snapshot (JSON) of an engine's full book, as exchange decimals."""
    book = _core.order_book
    inst = engine.instrument(sym)
    out = {"lastUpdateId": update_id}
    for key, side in (("bids", book.BookSide.bid), ("asks", book.BookSide.ask)):
        levels = engine_book_levels(engine, sym, side)
        out[key] = [[fmt(px, tick), fmt(q, lot)] for px, q in levels]
    assert inst is not None
    return json.dumps(out).encode()


def fmt(units: int, step: str) -> str:
    from decimal import Decimal

    return format(Decimal(step) * units, "f")


def engine_book_levels(
    engine: _core.engine.Engine, sym: int, side: object
) -> list[tuple[int, int]]:
    top = engine.top(sym, 1_000_000)
    arr = top[0] if side == _core.order_book.BookSide.bid else top[1]
    return [(int(p), int(q)) for p, q in arr]


def lines_of(data: bytes) -> list[bytes]:
    return [ln for ln in data.split(b"\n") if ln]


def test_dropped_depth_message_resyncs_only_that_symbol(hft_data: Path) -> None:
    # Synthetic second symbol: the real spot capture with its symbol renamed to ETHUSDT.
    data = raw(("spot/btcusdt_20240808.gz",), hft_data)
    eth = data.replace(b"btcusdt@", b"ethusdt@").replace(b'"s":"BTCUSDT"', b'"s":"ETHUSDT"')
    engine = confluex.Engine()
    inst = confluex.Instrument("0.01", "0.00000001")
    btc, e = engine.add_symbol("BTCUSDT", inst), engine.add_symbol("ETHUSDT", inst)
    session = S.FeedSession(engine, S.Venue.binance_spot)
    session.add_symbol("BTCUSDT", btc)
    session.add_symbol("ETHUSDT", e)
    reference = confluex.Engine()
    r = reference.add_symbol("ETHUSDT", inst)
    ref_session = S.FeedSession(reference, S.Venue.binance_spot)
    ref_session.add_symbol("ETHUSDT", r)
    # With two symbols the in-stream REST line names none: both get it through on_snapshot().
    btc_lines = [ln for ln in lines_of(data) if b"lastUpdateId" not in ln]
    eth_lines = [ln for ln in lines_of(eth) if b"lastUpdateId" not in ln]
    snapshot_line = next(ln for ln in lines_of(data) if b"lastUpdateId" in ln)
    depth_idx = [i for i, ln in enumerate(eth_lines) if b"@depth" in ln]
    drop, resync_at = depth_idx[200], depth_idx[260]
    ts, _, snap = snapshot_line.partition(b" ")
    session.on_snapshot(e, snap, int(ts))
    session.on_snapshot(btc, snap, int(ts))
    ref_session.on_snapshot(r, snap, int(ts))

    for i, ln in enumerate(eth_lines):
        t, _, msg = ln.partition(b" ")
        ref_session.on_message(msg, int(t))
        if i == resync_at:
            fresh = rest_snapshot_json(
                reference, r, reference.stats(r).last_update_id, "0.01", "0.00000001"
            )
            assert session.needs_snapshot(e)
            session.on_snapshot(e, fresh, int(t))
        if i != drop:
            session.on_message(msg, int(t))
        if i < len(btc_lines):
            bt, _, bmsg = btc_lines[i].partition(b" ")
            session.on_message(bmsg, int(bt))
        if i == depth_idx[201]:  # the next depth message reveals the gap
            assert session.phase(e) == S.SyncPhase.resyncing
            assert session.phase(btc) == S.SyncPhase.synced

    assert session.health(e).desyncs == 1 and session.health(e).snapshots_applied == 2
    assert session.phase(e) == S.SyncPhase.synced
    assert session.health(btc).desyncs == 0 and session.phase(btc) == S.SyncPhase.synced
    assert engine.top(e, 1_000_000)[0].tolist() == reference.top(r, 1_000_000)[0].tolist()
    assert engine.top(e, 1_000_000)[1].tolist() == reference.top(r, 1_000_000)[1].tolist()


@pytest.mark.parametrize(
    "line",
    [
        b"not json at all",
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":1,"u":2,"b":[["1.001","1"]],"a":[]}}',
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1.001","1"]],"a":[]}}',
        b'{"stream":"dogeusdt@trade","data":{"e":"trade","s":"DOGEUSDT","t":1,"p":"1","q":"1","m":true}}',
        b'{"stream":"btcusdt@kline_1m","data":{}}',
    ],
    ids=("malformed", "missing_symbol", "off_grid", "unknown_symbol", "unknown_stream"),
)
def test_bad_message_is_counted_and_changes_nothing(line: bytes, hft_data: Path) -> None:
    engine, session, sym, _ = session_for("spot", hft_data)
    session.replay(raw(("spot/btcusdt_20240808.gz",), hft_data))
    before = (engine.best_bid(sym), engine.best_ask(sym), engine.score(sym), engine.stats(sym))
    errors_before = sum(session.parser_counters.errors.values())

    result = session.on_message(line, 1)

    assert not result.ok
    assert sum(session.parser_counters.errors.values()) == errors_before + 1
    assert (
        engine.best_bid(sym),
        engine.best_ask(sym),
        engine.score(sym),
        engine.stats(sym),
    ) == before


def test_latency_histograms_cover_every_stage(hft_data: Path) -> None:
    _, session, _, _ = session_for("spot", hft_data)

    session.replay(raw(("spot/btcusdt_20240808.gz",), hft_data))
    lat = session.latency()

    assert lat["parse"]["count"] == session.lines_fed
    assert lat["total"]["count"] == lat["apply"]["count"] == lat["recompute"]["count"] > 10_000
    for stage in lat.values():
        assert 0 < stage["p50"] <= stage["p99"] <= stage["p999"] <= stage["max"]


def test_latency_stages_are_nanoseconds_within_the_wall_time(hft_data: Path) -> None:
    # The stages are timed with the CPU's timestamp counter where it is invariant and read
    # back in ns: their sum must fit in the replay's wall time (in counter ticks it would
    # not: a 2-4 GHz counter reads 2-4x the ns) and cover most of it.
    _, session, _, _ = session_for("spot", hft_data)
    data = raw(("spot/btcusdt_20240808.gz",), hft_data)

    start = time.perf_counter_ns()
    session.replay(data)
    elapsed = time.perf_counter_ns() - start
    lat = session.latency()
    staged = sum(lat[k]["mean"] * lat[k]["count"] for k in ("parse", "apply", "recompute"))

    assert 0.3 * elapsed < staged <= elapsed
    assert lat["total"]["mean"] * lat["total"]["count"] <= elapsed


def test_bybit_sample_snapshot_and_deltas_stay_in_sync() -> None:
    path = HFT.parents[0] / "nautilus_trader" / "bybit" / "xrpusdt-ob500.data.zip"
    with zipfile.ZipFile(path) as zf:
        data = zf.read(zf.namelist()[0])
    engine = confluex.Engine()
    sym = engine.add_symbol("XRPUSDT", confluex.Instrument("0.0001", "1"))
    session = S.FeedSession(engine, S.Venue.bybit)
    session.add_symbol("XRPUSDT", sym)

    lines = session.replay(data, _core.feed.LineFormat.JsonOnly)
    health = session.health(sym)

    assert lines == 50
    assert health.snapshot_messages == 1 and health.depth_messages == 49
    assert health.phase == S.SyncPhase.synced and health.desyncs == 0
    bid, ask = engine.best_bid(sym), engine.best_ask(sym)
    assert bid is not None and ask is not None and bid[0] < ask[0]


def test_thresholds_are_validated() -> None:
    engine = confluex.Engine()
    with pytest.raises(confluex.InvalidConfig, match="long=30"):
        S.FeedSession(
            engine, S.Venue.binance_spot, S.SessionConfig(long_threshold=30, short_threshold=35)
        )


# --- batch entry point: on_messages -------------------------------------------------------------


def frames_of(data: bytes) -> tuple[list[bytes], list[int]]:
    frames, stamps = [], []
    for line in data.splitlines():
        ts, _, msg = line.partition(b" ")
        frames.append(msg)
        stamps.append(int(ts))
    return frames, stamps


def row_of(r: _core.feed.ParseResult) -> tuple[int, ...]:
    return (
        r.exchange_ts_ms,
        r.first_update_id,
        r.last_update_id,
        r.symbol_id,
        r.n_book,
        r.n_trades,
        r.kind.value,
        r.error.value,
        0,
    )


@pytest.mark.parametrize("kind", ["spot", "usdm"])
def test_on_messages_equals_on_message_one_by_one(kind: str, hft_data: Path) -> None:
    e_one, s_one, sym, data = session_for(kind, hft_data)
    e_batch, s_batch, _, _ = session_for(kind, hft_data)
    frames, stamps = frames_of(data)
    mid = len(frames) // 2
    frames.insert(mid, b"not json")  # an error row in the middle of a batch
    stamps.insert(mid, stamps[mid])

    expected = [row_of(s_one.on_message(f, t)) for f, t in zip(frames, stamps, strict=True)]
    parts = []
    for i, start in enumerate(range(0, len(frames), 4099)):
        chunk, ts = frames[start : start + 4099], stamps[start : start + 4099]
        # ts as a list of ints and as an int64 array, alternately.
        parts.append(s_batch.on_messages(chunk, ts if i % 2 else np.array(ts, dtype=np.int64)))
    rows = np.concatenate(parts)

    assert rows.dtype == S.message_result_dtype
    assert [tuple(r) for r in rows.tolist()] == expected
    assert s_batch.series().tobytes() == s_one.series().tobytes()
    assert s_batch.signals().tobytes() == s_one.signals().tobytes()
    assert e_batch.score(sym) == e_one.score(sym)
    assert s_batch.health(sym).to_dict() == s_one.health(sym).to_dict()
    assert s_batch.parser_counters.to_dict() == s_one.parser_counters.to_dict()
    assert s_batch.health(sym).phase == S.SyncPhase.synced
    assert (rows["error"] != 0).sum() == 1


def test_on_messages_with_one_receive_time_stamps_every_frame(hft_data: Path) -> None:
    _, session, sym, data = session_for("usdm", hft_data)
    frames, _ = frames_of(data)

    rows = session.on_messages(frames[:500], 1_721_347_200_000_000_000)

    assert len(rows) == 500 and (rows["error"] == 0).all()
    assert session.health(sym).last_book_ts_ns == 1_721_347_200_000_000_000
    assert session.on_messages([], 0).shape == (0,)


@pytest.mark.parametrize(
    ("frames", "ts", "error", "match"),
    [
        ([b"{}", b"{}"], [1], ValueError, r"one entry per frame \(2\), was 1"),
        ([b"{}", "{}"], 0, TypeError, r"frames\[1\] must be bytes-like .*was str"),
        ([b"{}"], [1.5], TypeError, r"ts_ns\[0\] must be an int, was float"),
        ([b"{}"], np.array([1.0]), TypeError, "1-d native int64 array, was dtype float64"),
        ([b"{}"], 1.5, TypeError, "ts_ns must be an int or one int64 per frame, was float"),
    ],
    ids=("length", "str_frame", "float_ts", "float_array", "float_scalar"),
)
def test_on_messages_rejects_bad_arguments_and_feeds_nothing(
    frames: list[object], ts: object, error: type[Exception], match: str, hft_data: Path
) -> None:
    _, session, _, _ = session_for("usdm", hft_data)

    with pytest.raises(error, match=match):
        session.on_messages(frames, ts)  # type: ignore[arg-type]

    assert sum(session.parser_counters.messages.values()) == 0
    assert sum(session.parser_counters.errors.values()) == 0


def test_on_message_takes_every_bytes_like(hft_data: Path) -> None:
    _, session, sym, data = session_for("usdm", hft_data)
    frames, stamps = frames_of(data)

    kinds = [bytes, bytearray, memoryview]
    results = [
        session.on_message(kinds[i % 3](f), t)
        for i, (f, t) in enumerate(zip(frames, stamps, strict=True))
    ]

    assert all(r.ok for r in results)
    assert session.health(sym).phase == S.SyncPhase.synced
    with pytest.raises(TypeError, match="was str"):
        session.on_message("{}", 0)  # type: ignore[arg-type]


def test_zero_price_level_in_a_synced_message_is_refused_whole(hft_data: Path) -> None:
    # The session applies its parser's records without the engine's full batch validation
    # (the parser guarantees the rest): a zero price is the one thing that gets through the
    # parser, and the whole message must still be refused, the book unchanged.
    engine, session, sym, data = session_for("usdm", hft_data)
    session.replay(data)
    last = engine.stats(sym).last_update_id
    before = (engine.best_bid(sym), engine.best_ask(sym), engine.stats(sym).levels_applied)
    errors = session.health(sym).parse_errors
    msg = (
        '{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
        f'"U":{last + 1},"u":{last + 1},"pu":{last},'
        '"b":[["60000.00","1.000"],["0.00","1.000"]],"a":[]}}'
    ).encode()

    r = session.on_message(msg, 1)

    assert r.ok and r.n_book == 2  # the parser accepts it
    assert session.health(sym).parse_errors == errors + 1
    assert (engine.best_bid(sym), engine.best_ask(sym), engine.stats(sym).levels_applied) == before
    assert engine.stats(sym).last_update_id == last
    assert not session.needs_snapshot(sym)


def test_on_message_results_a_caller_holds_never_change(hft_data: Path) -> None:
    # on_message() reuses result objects nobody else holds: a result kept by the caller must
    # keep its values, and a reused one must carry the new message's values.
    _, session, _, data = session_for("usdm", hft_data)
    _, reference, _, _ = session_for("usdm", hft_data)
    frames, stamps = frames_of(data)
    expected = reference.on_messages(frames[:3000], stamps[:3000]).tolist()

    kept = session.on_message(frames[0], stamps[0])
    kept_row = row_of(kept)
    rows = [kept_row]
    for f, t in zip(frames[1:3000], stamps[1:3000], strict=True):
        r = session.on_message(f, t)
        rows.append(row_of(r))

    assert row_of(kept) == kept_row == tuple(expected[0])
    assert rows == [tuple(e) for e in expected]
    assert len({row[2] for row in rows}) > 100  # the ids moved on while `kept` stayed


def test_on_message_every_call_form_feeds_the_same_session(hft_data: Path) -> None:
    # on_message(bytes, int) takes a fast entry point; keywords, other bytes-likes and a
    # subclass instance go through the general binding. Mixed in one stream, every form must
    # give the rows and the book that on_messages() gives.
    class Sub(S.FeedSession):
        pass

    engine, _, sym, data = session_for("usdm", hft_data)
    session = Sub(engine, S.Venue.binance_futures)
    session.add_symbol("BTCUSDT", sym)
    ref_engine, reference, _, _ = session_for("usdm", hft_data)
    frames, stamps = frames_of(data)
    frames, stamps = frames[:4000], stamps[:4000]
    expected = [tuple(r) for r in reference.on_messages(tuple(frames), stamps).tolist()]

    rows = []
    for i, (f, t) in enumerate(zip(frames, stamps, strict=True)):
        form = i % 4
        if form == 0:
            r = session.on_message(f, t)
        elif form == 1:
            r = session.on_message(raw=f, ts_ns=t)
        elif form == 2:
            r = session.on_message(f, ts_ns=np.int64(t))
        else:
            r = S.FeedSession.on_message(session, bytearray(f), t)
        rows.append(row_of(r))

    assert rows == expected
    assert engine.score(sym) == ref_engine.score(sym)
    assert session.health(sym).to_dict() == reference.health(sym).to_dict()


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((b"{}", 2**63), {}), ((b"{}", "1"), {}), ((b"{}",), {}), ((b"{}", 1), {"ts": 1})],
    ids=("ts_beyond_int64", "str_ts", "missing_ts", "unknown_keyword"),
)
def test_on_message_refuses_bad_arguments_and_feeds_nothing(
    args: tuple[object, ...], kwargs: dict[str, object], hft_data: Path
) -> None:
    _, session, _, _ = session_for("usdm", hft_data)

    with pytest.raises(TypeError):
        session.on_message(*args, **kwargs)  # type: ignore[arg-type]

    assert sum(session.parser_counters.messages.values()) == 0
    assert sum(session.parser_counters.errors.values()) == 0
