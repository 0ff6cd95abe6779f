"""Engine: multi-symbol ingestion, batch validation, desync handling and reads, on real data."""

from __future__ import annotations

import gzip
import math
import threading
from functools import cache
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import _core
from confluex.feeds.capture import BinanceCapture, load_binance_capture

Engine = _core.engine.Engine
ApplyResult = _core.order_book.ApplyResult

SPOT = ("spot", ("btcusdt_20240808.gz",), "0.01", "0.00000001")


@cache
def spot_capture(root: Path) -> BinanceCapture:
    folder, files, tick, lot = SPOT
    inst = confluex.Instrument(tick, lot)
    return load_binance_capture([root / folder / f for f in files], inst)


def make_engine(*names: str) -> tuple[Engine, list[int]]:
    engine = Engine()
    inst = confluex.Instrument("0.01", "0.00000001")
    return engine, [engine.add_symbol(n, inst) for n in names]


def messages(book: np.ndarray) -> list[np.ndarray]:
    """Split a record array into one array per message."""
    ends = np.flatnonzero(book["flags"] & _core.types.FLAG_END_OF_MESSAGE)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [book[s : e + 1] for s, e in zip(starts, ends, strict=True)]


def levels(msg: np.ndarray, side: int) -> np.ndarray:
    rows = msg[(msg["side"] == side) & ((msg["flags"] & _core.types.FLAG_NO_LEVEL) == 0)]
    return np.ascontiguousarray(np.stack([rows["px_ticks"], rows["qty_lots"]], axis=1))


def snapshot_of(engine: Engine, sym: int) -> tuple[object, ...]:
    r = engine.result(sym)
    return (
        engine.best_bid(sym),
        engine.best_ask(sym),
        r.score,
        r.score_raw,
        r.reliability,
        engine.stats(sym),
        engine.cvd(sym),
    )


def test_batch_replay_of_real_spot_capture_stays_in_sync(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    engine, (sym,) = make_engine("BTCUSDT")

    applied = engine.ingest_book(cap.book)
    engine.ingest_trades(cap.trades)
    stats = engine.stats(sym)
    result = engine.result(sym)

    assert engine.in_sync(sym)
    assert stats.gaps == 0 and stats.overlaps == 0 and stats.crossed == 0
    assert stats.snapshots == 1
    assert applied == stats.messages_applied + 1  # + the snapshot
    assert stats.stale_ignored > 0  # messages buffered before the snapshot were dropped
    assert stats.trades == len(cap.trades)
    assert 0.0 <= result.score <= 100.0 and 0.0 <= result.score_raw <= 100.0
    assert result.has_data["orderbook"] and result.has_data["orderflow"]
    bid, ask = engine.best_bid(sym), engine.best_ask(sym)
    assert bid is not None and ask is not None and bid[0] < ask[0]
    last = cap.tickers[-1]
    assert abs(bid[0] - last["bid_px"]) < 5_000  # within $50 of the exchange's final quote


def test_per_message_calls_and_batch_ingestion_give_identical_state(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    batch, (b,) = make_engine("BTCUSDT")
    live, (s,) = make_engine("BTCUSDT")
    msgs = messages(cap.book)

    batch.ingest_book(cap.book)
    for msg in msgs:
        head = msg[0]
        if head["flags"] & _core.types.FLAG_SNAPSHOT:
            live.apply_snapshot(
                s, levels(msg, 0), levels(msg, 1), int(head["update_id"]), int(msg[-1]["ts_ns"])
            )
        else:
            live.apply_depth(
                s,
                levels(msg, 0),
                levels(msg, 1),
                int(head["update_id"]),
                int(head["prev_update_id"]),
                int(msg[-1]["ts_ns"]),
            )

    assert snapshot_of(batch, b)[:5] == snapshot_of(live, s)[:5]


def test_depth_ratio_read_after_every_real_message_equals_a_full_scan_of_the_book(
    hft_data: Path,
) -> None:
    # The engine keeps the ±band depth as a running sum that set_level() updates and a moving
    # band rescans only at its edges; this checks it against a from-scratch sum of a plain
    # Python copy of the book, bit for bit through the sub-score, along a real replay.
    cap = spot_capture(hft_data)
    engine, (sym,) = make_engine("BTCUSDT")
    cfg = _core.engine.EngineConfig().book_signals  # the engine was built with the defaults
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    checked = 0

    for k, msg in enumerate(messages(cap.book)):
        applied = engine.ingest_book(msg)
        sub = engine.component(sym, "orderbook").sub["depth_ratio"]  # a read per message
        if applied == 0:
            continue
        if msg[0]["flags"] & _core.types.FLAG_SNAPSHOT:
            bids.clear()
            asks.clear()
        for side, book in ((0, bids), (1, asks)):
            for px, qty in levels(msg, side).tolist():
                if qty:
                    book[px] = qty
                else:
                    book.pop(px, None)
        if k % 5:
            continue
        mid = 0.5 * (float(max(bids)) + float(min(asks)))
        band = mid * cfg.depth_band_pct / 100.0
        lo, hi = math.ceil(mid - band), math.floor(mid + band)
        db = float(sum(q for p, q in bids.items() if lo <= p <= hi))
        da = float(sum(q for p, q in asks.items() if lo <= p <= hi))
        want = _core.signals.logistic_score((db - da) / (db + da), cfg.imbalance_sensitivity)
        assert sub == want, (k, sub, want)
        checked += 1

    assert checked > 500


def test_replay_is_deterministic_bit_for_bit(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    runs = []
    for _ in range(2):
        engine, (sym,) = make_engine("BTCUSDT")
        engine.ingest_book(cap.book)
        engine.ingest_trades(cap.trades)
        r = engine.result(sym)
        runs.append((r.score, r.score_raw, r.confidence, r.consensus, r.direction))

    assert runs[0] == runs[1]


def test_bad_record_in_batch_raises_naming_index_and_value_and_changes_nothing(
    hft_data: Path,
) -> None:
    cap = spot_capture(hft_data)
    engine, (sym,) = make_engine("BTCUSDT")
    engine.ingest_book(cap.book)
    engine.ingest_trades(cap.trades)
    before = snapshot_of(engine, sym)
    bad = cap.book[-200:].copy()
    bad[7]["qty_lots"] = -3

    with pytest.raises(
        confluex.InvalidEvent, match=r"book event 7: qty must be non-negative, was -3"
    ):
        engine.ingest_book(bad)

    assert snapshot_of(engine, sym) == before


def test_batch_ending_inside_a_message_is_rejected(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    engine, (sym,) = make_engine("BTCUSDT")
    first_end = int(np.flatnonzero(cap.book["flags"] & _core.types.FLAG_END_OF_MESSAGE)[0])

    with pytest.raises(confluex.InvalidEvent, match="ends inside a message"):
        engine.ingest_book(cap.book[:first_end])

    assert engine.stats(sym).snapshots == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("qty_lots", 0, "qty must be positive, was 0"),
        ("px_ticks", -5, "price must be positive, was -5"),
        ("side", 7, "side must be 0 (buy), 1 (sell) or 2 (unknown), was 7"),
        ("symbol_id", 9, "unknown symbol id, was 9"),
    ],
    ids=("zero_qty", "negative_px", "bad_side", "unknown_symbol"),
)
def test_bad_trade_in_batch_raises_typed_error(
    field: str, value: int, message: str, hft_data: Path
) -> None:
    cap = spot_capture(hft_data)
    engine, (sym,) = make_engine("BTCUSDT")
    bad = cap.trades[:10].copy()
    bad[4][field] = value

    with pytest.raises((confluex.InvalidEvent, confluex.UnknownSymbol)) as info:
        engine.ingest_trades(bad)

    assert message in str(info.value) and "trade 4" in str(info.value)
    assert engine.stats(sym).trades == 0


def test_unknown_symbol_name_and_id_raise_unknown_symbol() -> None:
    engine, _ = make_engine("BTCUSDT")

    with pytest.raises(confluex.UnknownSymbol, match="ETHUSDT"):
        engine.symbol_id("ETHUSDT")
    with pytest.raises(confluex.UnknownSymbol, match="was 3"):
        engine.score(3)
    with pytest.raises(KeyError):
        engine.push_trade(1, 0, 100, 1, 0)


def test_duplicate_or_empty_symbol_name_is_rejected() -> None:
    engine, _ = make_engine("BTCUSDT")
    inst = confluex.Instrument("0.01", "0.00000001")

    with pytest.raises(confluex.InvalidConfig, match="BTCUSDT"):
        engine.add_symbol("BTCUSDT", inst)
    with pytest.raises(confluex.InvalidConfig):
        engine.add_symbol("", inst)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -0.5, 100.5])
def test_out_of_range_external_component_is_rejected(score: float) -> None:
    engine, (sym,) = make_engine("BTCUSDT")

    with pytest.raises(confluex.InvalidEvent, match="technical"):
        engine.set_component(sym, "technical", score)

    assert not engine.result(sym).has_data["technical"]


def test_unknown_component_name_is_rejected() -> None:
    engine, (sym,) = make_engine("BTCUSDT")

    with pytest.raises(confluex.InvalidConfig, match="'momentum'"):
        engine.set_component(sym, "momentum", 60.0)
    with pytest.raises(confluex.InvalidConfig, match="'momentum'"):
        engine.set_weights({"momentum": 1.0})


def test_external_components_move_the_score_and_reliability() -> None:
    engine, (sym,) = make_engine("BTCUSDT")
    empty = engine.result(sym)

    engine.set_component(sym, "technical", 90.0)
    engine.set_component(sym, "sentiment", 80.0)
    bullish = engine.result(sym)
    engine.clear_component(sym, "technical")
    cleared = engine.result(sym)

    assert empty.reliability == 0.0 and empty.score == 50.0
    assert bullish.score_raw > 50.0 and bullish.reliability == pytest.approx(0.17)
    assert cleared.reliability == pytest.approx(0.07)
    assert engine.component(sym, "sentiment").score == 80.0


def test_gap_desyncs_only_that_symbol_and_snapshot_resyncs(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    engine, (a, b) = make_engine("A", "B")
    book_b = cap.book.copy()
    book_b["symbol_id"] = b
    engine.ingest_book(cap.book)
    engine.ingest_book(book_b)
    last_id = engine.stats(a).last_update_id
    bids = np.array([[6_000_000, 100]], dtype=np.int64)
    empty = np.zeros((0, 2), dtype=np.int64)

    result = engine.apply_depth(a, bids, empty, last_id + 10, last_id + 5)

    assert result == ApplyResult.gap
    assert not engine.in_sync(a) and engine.in_sync(b)
    assert not engine.result(a).has_data["orderbook"]
    assert engine.result(b).has_data["orderbook"]
    assert engine.stats(a).gaps == 1
    # resync from a fresh snapshot
    snap = messages(cap.book)[0]
    engine.apply_snapshot(a, levels(snap, 0), levels(snap, 1), last_id + 100)
    assert engine.in_sync(a) and engine.result(a).has_data["orderbook"]


def test_stale_message_is_ignored_and_counted(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    engine, (sym,) = make_engine("BTCUSDT")
    engine.ingest_book(cap.book)
    before = (engine.best_bid(sym), engine.best_ask(sym))
    stale_before = engine.stats(sym).stale_ignored
    last_id = engine.stats(sym).last_update_id

    result = engine.apply_depth(
        sym,
        np.array([[1, 5]], dtype=np.int64),
        np.zeros((0, 2), np.int64),
        last_id - 3,
        last_id - 4,
    )

    assert result == ApplyResult.stale
    assert (engine.best_bid(sym), engine.best_ask(sym)) == before
    assert engine.stats(sym).stale_ignored == stale_before + 1


def test_producer_thread_feeds_engine_through_rings(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    direct, (d,) = make_engine("BTCUSDT")
    direct.ingest_book(cap.book)
    direct.ingest_trades(cap.trades)
    engine, (sym,) = make_engine("BTCUSDT")
    book_ring = _core.spsc_ring.BookEventRing(1024)
    trade_ring = _core.spsc_ring.TradeEventRing(1024)
    book_done = threading.Event()
    done = threading.Event()

    def produce() -> None:
        for ring, arr, flag in ((book_ring, cap.book, book_done), (trade_ring, cap.trades, done)):
            pos = 0
            while pos < len(arr):
                pos += ring.try_push_n(arr[pos : pos + 700])
            flag.set()

    producer = threading.Thread(target=produce)
    producer.start()
    while not (done.is_set() and book_ring.empty() and trade_ring.empty()):
        engine.drain_book(book_ring)
        if book_done.is_set() and book_ring.empty():
            # trades only after the whole book stream: the application order of the direct run
            engine.drain_trades(trade_ring)
    producer.join()
    engine.drain_book(book_ring)
    engine.drain_trades(trade_ring)

    assert snapshot_of(engine, sym)[:5] == snapshot_of(direct, d)[:5]
    assert engine.stats(sym).trades == len(cap.trades)


def _usdm_orderbook_readings(
    root: Path, cfg: _core.engine.EngineConfig, every: int = 25
) -> tuple[Engine, int, list[tuple[float, ...]]]:
    """Replays the real USD-M capture through a FeedSession, reading the orderbook component's
    sub-scores after every `every`-th depth message."""
    engine = Engine(cfg)
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument("0.1", "0.001"))
    session = confluex.FeedSession(engine, confluex.Venue.binance_futures)
    session.add_symbol("BTCUSDT", sym)
    readings: list[tuple[float, ...]] = []
    n = 0
    for name in ("btcusdt_20240718.gz", "btcusdt_20240719.gz"):
        with gzip.open(root / "usdm_2024-07" / name, "rb") as f:
            for line in f:
                ts, _, msg = line.rstrip(b"\n").partition(b" ")
                session.on_message(msg, int(ts))
                n += b"@depth" in msg[:40]
                if n % every == 0 and engine.in_sync(sym):
                    c = engine.component(sym, "orderbook")
                    readings.append((c.score, *c.sub.values()))
    assert engine.in_sync(sym)
    return engine, sym, readings


def test_a_small_top_cache_never_clips_the_levels_the_kernels_read(hft_data: Path) -> None:
    """The engine raises its books' top-K cache to what the orderbook kernels read
    (max(25, dwi_levels)): a book configured with 8 cached levels scores exactly as one with
    4,096 (before, top() clipped the kernels' view to 8 levels: oir_25 and dwi read 8)."""
    runs = []
    for top_cache in (8, 4096):
        cfg = confluex.engine_config(profile="standard")
        cfg.book = _core.order_book.BookConfig(top_cache=top_cache)
        sig = cfg.book_signals
        sig.dwi_levels = 40
        cfg.book_signals = sig
        runs.append(_usdm_orderbook_readings(hft_data, cfg)[2])
    assert len(runs[0]) > 100 and runs[0] == runs[1]


def test_hft_inputs_read_depth_beyond_the_top_cache(hft_data: Path) -> None:
    """EngineInputsConfig.depth_levels deeper than the book's top-K cache sums every level it
    names (before, top() clipped it to the cache)."""
    cfg = confluex.engine_config(profile="standard")
    cfg.book = _core.order_book.BookConfig(top_cache=8)
    engine, sym, _ = _usdm_orderbook_readings(hft_data, cfg, every=1000)
    icfg = _core.hft.EngineInputsConfig()
    icfg.depth_levels = 50
    got = _core.hft.inputs_from_engine(engine, sym, icfg)
    bids, asks = engine.top(sym, 50)
    assert len(bids) == len(asks) == 50
    scale = 0.1 * 0.001
    assert got.bid_depth == pytest.approx(float((bids[:, 0] * bids[:, 1]).sum()) * scale)
    assert got.ask_depth == pytest.approx(float((asks[:, 0] * asks[:, 1]).sum()) * scale)
