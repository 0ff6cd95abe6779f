"""Native feed parsers (confluex._core.feed) on real captures and hand-written messages."""

from __future__ import annotations

import gzip
import itertools
import json
import zipfile
from pathlib import Path
from typing import Any

import confluex
import numpy as np
import pytest
from confluex._core import feed
from confluex._core.types import (
    FLAG_END_OF_MESSAGE,
    FLAG_NO_LEVEL,
    FLAG_SNAPSHOT,
    NO_UPDATE_ID,
    book_level_event_dtype,
    trade_event_dtype,
)
from confluex.feeds.capture import load_binance_capture

MsgKind = feed.MsgKind
ParseError = feed.ParseError

# Binance's aggregated depth levels carry quantities with 8 decimals (a few deep levels of the
# spot capture are not multiples of the 0.00001 trading lot), so the full-capture comparison
# uses the exchange's quantity precision as the lot.
SPOT = ("spot", ("btcusdt_20240808.gz", "btcusdt_20240809.gz"), "0.01", "0.00000001", False)
USDM = ("usdm_2024-07", ("btcusdt_20240718.gz", "btcusdt_20240719.gz"), "0.1", "0.001", True)
BYBIT_SAMPLE = Path("nautilus_trader") / "bybit" / "xrpusdt-ob500.data.zip"


def table_of(*symbols: tuple[str, int, confluex.Instrument]) -> feed.SymbolTable:
    t = feed.SymbolTable()
    for name, sid, inst in symbols:
        t.add(name, sid, inst)
    return t


def spot_parser(futures: bool = False) -> feed.BinanceParser:
    return feed.BinanceParser(
        table_of(("BTCUSDT", 0, confluex.Instrument("0.01", "0.00001"))), futures
    )


def combined(stream: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode()


# --- real captures against the Python loader --------------------------------------------------


@pytest.mark.parametrize("capture", [SPOT, USDM], ids=("spot", "usdm"))
def test_parse_lines_on_full_capture_equals_python_loader(hft_data: Path, capture: tuple) -> None:
    folder, files, tick, lot, futures = capture
    inst = confluex.Instrument(tick, lot)
    paths = [hft_data / folder / f for f in files]
    data = b"".join(gzip.open(p).read() for p in paths)
    parser = feed.BinanceParser(table_of(("BTCUSDT", 0, inst)), futures)

    book, trades, tickers, counters = parser.parse_lines(data)
    ref = load_binance_capture(paths, inst)

    # The loader puts the REST snapshot first; the parser keeps line order.
    snap = (book["flags"] & FLAG_SNAPSHOT) != 0
    ref_snap = (ref.book["flags"] & FLAG_SNAPSHOT) != 0
    assert book.dtype == book_level_event_dtype and trades.dtype == trade_event_dtype
    np.testing.assert_array_equal(book[snap], ref.book[ref_snap])
    np.testing.assert_array_equal(book[~snap], ref.book[~ref_snap])
    np.testing.assert_array_equal(trades, ref.trades)
    assert len(tickers) == len(ref.tickers)
    for name in ref.tickers.dtype.names:
        np.testing.assert_array_equal(tickers[name], ref.tickers[name], err_msg=name)
    assert np.all(tickers["symbol_id"] == 0)
    assert sum(counters.errors.values()) == 0
    assert counters.messages["Depth"] == ref.depth_messages
    assert counters.messages["Snapshot"] == 1
    assert counters.book_records == len(book)


def test_spot_capture_with_trading_lot_rejects_exactly_the_off_grid_messages(
    hft_data: Path,
) -> None:
    inst = confluex.Instrument("0.01", "0.00001")
    path = hft_data / "spot" / "btcusdt_20240809.gz"
    lines = gzip.open(path).read().splitlines()
    expected_bad = 0
    for line in lines:
        data = json.loads(line.partition(b" ")[2])
        if "stream" not in data:
            continue
        ev = data["data"]
        try:
            for key in ("b", "a"):
                for px, qty in ev.get(key, []) if isinstance(ev.get(key), list) else []:
                    inst.price_to_ticks(px)
                    inst.qty_to_lots(qty)
        except confluex.InvalidEvent:
            expected_bad += 1
    parser = feed.BinanceParser(table_of(("BTCUSDT", 3, inst)), False)

    book, _, _, counters = parser.parse_lines(gzip.open(path).read())

    assert expected_bad > 0
    assert counters.errors["OffGrid"] == expected_bad
    assert counters.symbol_errors == {3: expected_bad}
    assert sum(v for k, v in counters.errors.items() if k != "OffGrid") == 0
    ends = np.count_nonzero(book["flags"] & FLAG_END_OF_MESSAGE)
    assert ends == counters.messages["Depth"] + counters.messages["Snapshot"]


# --- Bybit sample against a json reference ----------------------------------------------------


def bybit_reference(lines: list[bytes], inst: confluex.Instrument, sid: int) -> np.ndarray:
    rows = []
    for line in lines:
        msg = json.loads(line)
        data = msg["data"]
        u = int(data["u"])
        snapshot = msg["type"] == "snapshot" or u == 1
        flags = FLAG_SNAPSHOT if snapshot else 0
        prev = NO_UPDATE_ID if snapshot else u - 1
        ts = int(msg["ts"]) * 1_000_000
        levels = [(0, p, q) for p, q in data["b"]] + [(1, p, q) for p, q in data["a"]]
        for i, (side, p, q) in enumerate(levels):
            end = FLAG_END_OF_MESSAGE if i == len(levels) - 1 else 0
            rows.append(
                (
                    ts,
                    inst.price_to_ticks(p),
                    inst.qty_to_lots(q),
                    u,
                    prev,
                    sid,
                    side,
                    flags | end,
                    0,
                )
            )
    return np.array(rows, dtype=book_level_event_dtype)


def test_bybit_sample_snapshot_and_deltas_equal_json_reference(hft_data: Path) -> None:
    with zipfile.ZipFile(hft_data.parent / BYBIT_SAMPLE) as z:
        raw = z.read(z.namelist()[0])
    lines = raw.splitlines()
    inst = confluex.Instrument("0.0001", "1")
    parser = feed.BybitParser(table_of(("XRPUSDT", 5, inst)))

    book, trades, tickers, counters = parser.parse_lines(raw)

    np.testing.assert_array_equal(book, bybit_reference(lines, inst, 5))
    assert len(trades) == 0 and len(tickers) == 0
    assert counters.messages["Snapshot"] == 1 and counters.messages["Depth"] == 49
    assert sum(counters.errors.values()) == 0


def test_bybit_sample_deltas_chain_by_u_plus_one(hft_data: Path) -> None:
    with zipfile.ZipFile(hft_data.parent / BYBIT_SAMPLE) as z:
        msgs = [json.loads(x) for x in z.read(z.namelist()[0]).splitlines()]
    us = [m["data"]["u"] for m in msgs]
    parser = feed.BybitParser(table_of(("XRPUSDT", 0, confluex.Instrument("0.0001", "1"))))

    results = [parser.parse(json.dumps(m).encode(), 0) for m in msgs]

    assert all(b - a == 1 for a, b in itertools.pairwise(us))  # the header's claim
    for (r, book, _), u in zip(results[1:], us, strict=False):
        assert r.kind == MsgKind.Depth
        assert np.all(book["prev_update_id"] == u)  # delta k chains onto message k-1


def test_a_long_lived_bybit_parser_converts_each_symbol_with_its_own_instrument(
    hft_data: Path,
) -> None:
    # A parser keeps the level layouts it learnt per symbol across messages. The real sample's
    # messages go alternately to XRPUSDT and, renamed, to XRPUSDC with a ten times finer tick
    # (the same level bytes): every message must give what a parser that saw nothing before
    # gives, and XRPUSDC's prices ten times XRPUSDT's ticks.
    with zipfile.ZipFile(hft_data.parent / BYBIT_SAMPLE) as z:
        lines = z.read(z.namelist()[0]).splitlines()
    symbols = (
        ("XRPUSDT", 5, confluex.Instrument("0.0001", "1")),
        ("XRPUSDC", 6, confluex.Instrument("0.00001", "1")),
    )
    parser = feed.BybitParser(table_of(*symbols))
    for i, line in enumerate(lines):
        raw = line.replace(b"XRPUSDT", b"XRPUSDC") if i % 2 else line
        r, book, _ = parser.parse(raw, 7)
        r0, fresh, _ = feed.BybitParser(table_of(*symbols)).parse(raw, 7)
        assert (r.kind, r.error, r.n_book) == (r0.kind, r0.error, r0.n_book), i
        assert r.error.name == "None_" and r.n_book > 0, i
        assert book.tobytes() == fresh.tobytes(), i
        if i % 2:
            _, usdt, _ = feed.BybitParser(table_of(*symbols)).parse(line, 7)
            assert list(book["px_ticks"]) == [10 * int(px) for px in usdt["px_ticks"]]
            assert list(book["symbol_id"]) == [6] * len(book)


# --- Bybit messages -----------------------------------------------------------------------------


def test_bybit_public_trade_message_gives_one_record_per_trade() -> None:
    inst = confluex.Instrument("0.1", "0.001")
    parser = feed.BybitParser(table_of(("BTCUSDT", 2, inst)))
    msg = {
        "topic": "publicTrade.BTCUSDT",
        "type": "snapshot",
        "ts": 1672304486868,
        "data": [
            {
                "T": 1672304486865,
                "s": "BTCUSDT",
                "S": "Buy",
                "v": "0.001",
                "p": "16578.50",
                "L": "PlusTick",
                "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
                "BT": False,
            },
            {
                "T": 1672304486866,
                "s": "BTCUSDT",
                "S": "Sell",
                "v": "1.250",
                "p": "16578.40",
                "L": "MinusTick",
                "i": "2290000000061666327",
                "BT": False,
            },
        ],
    }

    r, book, trades = parser.parse(json.dumps(msg).encode(), 99)

    assert r.ok and r.kind == MsgKind.Trade and r.n_trades == 2 and r.symbol_id == 2
    assert r.exchange_ts_ms == 1672304486868 and len(book) == 0
    assert list(trades["px_ticks"]) == [165785, 165784]
    assert list(trades["qty_lots"]) == [1, 1250]
    assert list(trades["side"]) == [0, 1]  # Buy, Sell (taker side)
    assert list(trades["ts_ns"]) == [99, 99]
    assert trades["trade_id"][1] == 2290000000061666327  # numeric ids are kept
    uuid_id = int(trades["trade_id"][0])
    assert 0 <= uuid_id < 2**63
    again = parser.parse(json.dumps(msg).encode(), 0)[2]["trade_id"][0]
    assert again == uuid_id  # deterministic


@pytest.mark.parametrize(
    "msg",
    [
        {"success": True, "ret_msg": "", "conn_id": "abc", "req_id": "", "op": "subscribe"},
        {"success": True, "ret_msg": "pong", "conn_id": "abc", "op": "ping"},
        {"op": "pong", "args": ["1675418560633"], "conn_id": "abc"},
    ],
    ids=("subscribe_ack", "pong", "spot_pong"),
)
def test_bybit_op_replies_are_control_messages(msg: dict[str, Any]) -> None:
    parser = feed.BybitParser(table_of(("BTCUSDT", 0, confluex.Instrument("0.1", "0.001"))))

    r, book, trades = parser.parse(json.dumps(msg).encode(), 0)

    assert r.ok and r.kind == MsgKind.Control and len(book) == 0 and len(trades) == 0
    assert parser.counters.messages["Control"] == 1


def test_bybit_orderbook_with_u_1_is_a_snapshot_whatever_its_type() -> None:
    parser = feed.BybitParser(table_of(("BTCUSDT", 0, confluex.Instrument("0.1", "0.001"))))
    msg = {
        "topic": "orderbook.1.BTCUSDT",
        "type": "delta",
        "ts": 1,
        "data": {"s": "BTCUSDT", "b": [["100.0", "1.000"]], "a": [], "u": 1, "seq": 7},
    }

    r, book, _ = parser.parse(json.dumps(msg).encode(), 0)

    assert r.kind == MsgKind.Snapshot
    assert book["flags"][0] == FLAG_SNAPSHOT | FLAG_END_OF_MESSAGE
    assert book["prev_update_id"][0] == NO_UPDATE_ID


def test_bybit_unknown_topic_is_unknown_stream() -> None:
    parser = feed.BybitParser(table_of(("BTCUSDT", 0, confluex.Instrument("0.1", "0.001"))))
    msg = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1, "data": {"symbol": "BTCUSDT"}}

    r, _, _ = parser.parse(json.dumps(msg).encode(), 0)

    assert r.error == ParseError.UnknownStream
    assert parser.counters.errors["UnknownStream"] == 1


# --- Binance messages ---------------------------------------------------------------------------


def test_binance_spot_depth_records_share_ids_and_end_flag() -> None:
    parser = spot_parser()
    data = {
        "e": "depthUpdate",
        "E": 5,
        "s": "BTCUSDT",
        "U": 100,
        "u": 104,
        "b": [["61000.01000000", "0.50000000"]],
        "a": [["61000.02000000", "0.00000000"], ["61000.05", "1"]],
    }

    r, book, trades = parser.parse(combined("btcusdt@depth@100ms", data), 42)

    assert r.ok and r.kind == MsgKind.Depth and r.n_book == 3 and r.exchange_ts_ms == 5
    assert list(book["px_ticks"]) == [6100001, 6100002, 6100005]
    assert list(book["qty_lots"]) == [50000, 0, 100000]
    assert list(book["side"]) == [0, 1, 1]
    assert list(book["flags"]) == [0, 0, FLAG_END_OF_MESSAGE]
    assert set(book["update_id"]) == {104} and set(book["prev_update_id"]) == {99}
    assert set(book["ts_ns"]) == {42} and len(trades) == 0


def test_binance_futures_depth_prev_update_id_is_pu() -> None:
    parser = spot_parser(futures=True)
    data = {
        "e": "depthUpdate",
        "E": 5,
        "T": 5,
        "s": "BTCUSDT",
        "U": 100,
        "u": 104,
        "pu": 97,
        "b": [],
        "a": [["1.00", "2.00000"]],
    }

    r, book, _ = parser.parse(combined("btcusdt@depth@0ms", data), 0)

    assert r.ok and list(book["prev_update_id"]) == [97]


def test_binance_depth_without_levels_is_one_no_level_record() -> None:
    parser = spot_parser()
    data = {"e": "depthUpdate", "E": 5, "s": "BTCUSDT", "U": 10, "u": 12, "b": [], "a": []}

    r, book, _ = parser.parse(combined("btcusdt@depth", data), 7)

    assert r.ok and r.n_book == 1
    assert book["flags"][0] == FLAG_NO_LEVEL | FLAG_END_OF_MESSAGE
    assert (book["update_id"][0], book["prev_update_id"][0]) == (12, 9)


@pytest.mark.parametrize(("m", "side"), [(True, 1), (False, 0)], ids=("buyer_maker", "buyer_taker"))
def test_binance_trade_side_is_sell_when_buyer_is_maker(m: bool, side: int) -> None:
    parser = spot_parser()
    data = {
        "e": "trade",
        "E": 1,
        "s": "BTCUSDT",
        "t": 77,
        "p": "61837.63000000",
        "q": "0.02000000",
        "T": 1,
        "m": m,
        "M": True,
    }

    r, book, trades = parser.parse(combined("btcusdt@trade", data), 3)

    assert r.ok and r.kind == MsgKind.Trade and len(book) == 0
    assert trades[0]["side"] == side
    assert (trades[0]["px_ticks"], trades[0]["qty_lots"], trades[0]["trade_id"]) == (
        6183763,
        2000,
        77,
    )


def test_binance_book_ticker_is_returned_in_the_result() -> None:
    parser = spot_parser()
    data = {"u": 9, "s": "BTCUSDT", "b": "10.00", "B": "1.5", "a": "10.01", "A": "0.00001"}

    r, book, trades = parser.parse(combined("btcusdt@bookTicker", data), 11)

    assert r.ok and r.kind == MsgKind.BookTicker and len(book) == 0 and len(trades) == 0
    t = r.ticker
    assert (t.ts_ns, t.update_id, t.bid_px, t.bid_qty, t.ask_px, t.ask_qty) == (
        11,
        9,
        1000,
        150000,
        1001,
        1,
    )


def test_binance_raw_event_objects_dispatch_on_e() -> None:
    parser = spot_parser()
    depth = {
        "e": "depthUpdate",
        "E": 5,
        "s": "BTCUSDT",
        "U": 1,
        "u": 2,
        "b": [["1.00", "1"]],
        "a": [],
    }
    ticker = {"u": 9, "s": "BTCUSDT", "b": "10.00", "B": "1.5", "a": "10.01", "A": "1"}
    reply = {"result": None, "id": 1}

    kinds = [parser.parse(json.dumps(m).encode(), 0)[0].kind for m in (depth, ticker, reply)]

    assert kinds == [MsgKind.Depth, MsgKind.BookTicker, MsgKind.Control]


def test_binance_rest_snapshot_needs_a_single_symbol_table_or_parse_snapshot() -> None:
    inst = confluex.Instrument("0.01", "0.00001")
    snap = json.dumps(
        {"lastUpdateId": 50, "bids": [["2.00", "1"]], "asks": [["3.00", "2"]]}
    ).encode()
    two = feed.BinanceParser(table_of(("BTCUSDT", 0, inst), ("ETHUSDT", 1, inst)), False)

    r_one, book_one, _ = spot_parser().parse(snap, 5)
    r_two, book_two, _ = two.parse(snap, 5)
    r_named, book_named = two.parse_snapshot(snap, 1, 5)

    assert r_one.ok and r_one.kind == MsgKind.Snapshot
    assert list(book_one["flags"]) == [FLAG_SNAPSHOT, FLAG_SNAPSHOT | FLAG_END_OF_MESSAGE]
    assert set(book_one["update_id"]) == {50} and set(book_one["prev_update_id"]) == {NO_UPDATE_ID}
    assert r_two.error == ParseError.UnknownSymbol and len(book_two) == 0
    assert r_named.ok and set(book_named["symbol_id"]) == {1}
    np.testing.assert_array_equal(book_named["px_ticks"], book_one["px_ticks"])


def test_parse_snapshot_of_unknown_symbol_id_is_unknown_symbol() -> None:
    parser = spot_parser()

    r, book = parser.parse_snapshot(b'{"lastUpdateId":1,"bids":[],"asks":[]}', 9, 0)

    assert r.error == ParseError.UnknownSymbol and len(book) == 0


def test_reordered_keys_whitespace_and_data_before_stream_parse_the_same() -> None:
    data = {
        "e": "depthUpdate",
        "E": 5,
        "s": "BTCUSDT",
        "U": 100,
        "u": 104,
        "b": [["61000.01", "0.5"]],
        "a": [["61000.02", "1"]],
    }
    canonical = combined("btcusdt@depth@100ms", data)
    shuffled = {
        "a": data["a"],
        "u": 104,
        "b": data["b"],
        "s": "BTCUSDT",
        "U": 100,
        "e": "depthUpdate",
    }
    messy = json.dumps({"data": shuffled, "stream": "btcusdt@depth@100ms"}, indent=3).encode()
    messy = b" \r\n" + messy.replace(b",", b" ,\t") + b"\n"

    r1, book1, _ = spot_parser().parse(canonical, 1)
    r2, book2, _ = spot_parser().parse(messy, 1)

    assert r1.ok and r2.ok
    np.testing.assert_array_equal(book1, book2)


def test_off_grid_price_is_off_grid_and_appends_nothing() -> None:
    parser = spot_parser()
    data = {
        "e": "depthUpdate",
        "E": 5,
        "s": "BTCUSDT",
        "U": 1,
        "u": 2,
        "b": [["1.00", "1"], ["1.005", "1"]],
        "a": [],
    }

    r, book, _ = parser.parse(combined("btcusdt@depth", data), 0)

    assert r.error == ParseError.OffGrid and r.symbol_id == 0 and len(book) == 0
    assert parser.counters.errors["OffGrid"] == 1 and parser.counters.symbol_errors == {0: 1}


def test_alternating_streams_of_several_symbols_each_get_their_own_symbol() -> None:
    # The parser remembers the last stream prefix it looked up: a different prefix, a prefix
    # of it, a longer one, or another case must each be looked up again, not taken for it.
    parser = feed.BinanceParser(
        table_of(
            ("BTCUSDT", 0, confluex.Instrument("0.01", "0.00001")),
            ("ETHUSDT", 5, confluex.Instrument("0.01", "0.0001")),
            ("BTCUSD", 9, confluex.Instrument("0.1", "1")),
        ),
        False,
    )

    def trade(stream: str, symbol: str) -> tuple[int, feed.ParseError, int]:
        data = {"e": "trade", "E": 1, "s": symbol, "t": 1, "p": "2.00", "q": "1", "T": 1}
        data |= {"m": True, "M": True}
        r, _, trades = parser.parse(combined(stream, data), 0)
        return r.symbol_id, r.error, (int(trades["symbol_id"][0]) if len(trades) else -1)

    ok = ParseError.None_
    sequence = [
        ("btcusdt@trade", "BTCUSDT", 0),
        ("ethusdt@trade", "ETHUSDT", 5),
        ("btcusdt@trade", "BTCUSDT", 0),
        ("btcusd@trade", "BTCUSD", 9),
        ("BTCUSDT@trade", "BTCUSDT", 0),
        ("btcusdt@trade", "BTCUSDT", 0),
        ("btcusdtx@trade", "BTCUSDTX", None),
        ("ethusdt@trade", "ETHUSDT", 5),
    ]
    for stream, symbol, sid in sequence:
        got_sid, err, rec_sid = trade(stream, symbol)
        if sid is None:
            assert err == ParseError.UnknownSymbol, stream
        else:
            assert (got_sid, err, rec_sid) == (sid, ok, sid), stream


@pytest.mark.parametrize(
    ("stream", "error"),
    [
        ("btcusdt@kline_1m", ParseError.UnknownStream),
        ("ethusdt@trade", ParseError.UnknownSymbol),
        ("btcusdt@depth20@100ms", ParseError.UnknownStream),
    ],
    ids=("kline", "other_symbol", "partial_depth"),
)
def test_unknown_stream_or_symbol_is_a_counted_error(stream: str, error: feed.ParseError) -> None:
    parser = spot_parser()
    data = {
        "e": "trade",
        "E": 1,
        "s": stream.split("@")[0].upper(),
        "t": 1,
        "p": "1.00",
        "q": "1",
        "T": 1,
        "m": True,
    }

    r, book, trades = parser.parse(combined(stream, data), 0)

    assert r.error == error and len(book) == 0 and len(trades) == 0
    assert parser.counters.errors[error.name] == 1


@pytest.mark.parametrize(
    "msg",
    [
        b"",
        b"   ",
        b"[]",
        b"{",
        b'{"stream":"btcusdt@trade","data":{}',
        b"nul",
        b'{"stream":"btcusdt@trade","data":{"e":"trade"}} x',
    ],
    ids=("empty", "blank", "array", "open", "unclosed", "junk", "trailing"),
)
def test_malformed_input_is_malformed(msg: bytes) -> None:
    parser = spot_parser()

    r, book, trades = parser.parse(msg, 0)

    assert r.error == ParseError.Malformed and len(book) == 0 and len(trades) == 0


def test_trade_missing_price_is_missing_field() -> None:
    data = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "q": "1", "T": 1, "m": True}

    r, _, _ = spot_parser().parse(combined("btcusdt@trade", data), 0)

    assert r.error == ParseError.MissingField


def test_parse_accepts_memoryview_and_bytearray_and_rejects_str() -> None:
    data = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "1.00", "q": "1", "T": 1, "m": True}
    raw = combined("btcusdt@trade", data)
    parser = spot_parser()

    r1 = parser.parse(memoryview(raw), 0)[0]
    r2 = parser.parse(bytearray(raw), 0)[0]

    assert r1.ok and r2.ok
    with pytest.raises(TypeError):
        parser.parse(raw.decode(), 0)  # type: ignore[arg-type]


def test_parse_lines_counts_lines_without_ns_prefix_as_malformed() -> None:
    data = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "1.00", "q": "1", "T": 1, "m": True}
    good = b"123 " + combined("btcusdt@trade", data)
    buf = b"\n".join([good, b"notanumber {}", b"", good + b"\r"])

    _, trades, _, counters = spot_parser().parse_lines(buf)

    assert len(trades) == 2 and list(trades["ts_ns"]) == [123, 123]
    assert counters.errors["Malformed"] == 1


# --- SymbolTable and layout ---------------------------------------------------------------------


def test_symbol_table_finds_case_insensitively_and_rejects_duplicates() -> None:
    inst = confluex.Instrument("0.01", "0.001")
    t = table_of(("BTCUSDT", 0, inst))

    found = t.find("btcusdt")

    assert found is not None and found[0] == 0 and found[1].tick_size_str == "0.01"
    assert t.find("ETHUSDT") is None and len(t) == 1
    with pytest.raises(confluex.InvalidConfig, match="already"):
        t.add("BtcUsdt", 1, inst)
    with pytest.raises(confluex.InvalidConfig, match="already"):
        t.add("ETHUSDT", 0, inst)
    with pytest.raises(confluex.InvalidConfig, match="was"):
        t.add("BAD SYMBOL", 2, inst)
    with pytest.raises(confluex.InvalidConfig, match="symbol_id"):
        t.add("ETHUSDT", feed.MAX_SYMBOL_ID + 1, inst)
