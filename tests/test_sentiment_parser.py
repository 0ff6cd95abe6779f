"""Derivative-stream parsers (Binance markPrice / forceOrder, Bybit tickers / allLiquidation).

No capture in tests/data holds these streams, so every message here is SYNTHETIC: written
from the venues' documented schemas (Binance USD-M "Mark Price Stream" and "Liquidation
Order Streams"; Bybit v5 "Ticker" and "All Liquidation"), with the documented example values.
"""

from __future__ import annotations

import json
import math

import pytest
from confluex._core import sentiment
from confluex._core.feed import ParseError, SymbolTable
from confluex._core.instrument import Instrument
from hypothesis import given, settings
from hypothesis import strategies as st

F = sentiment.MARK_FIELDS
Kind = sentiment.SentimentMsgKind
LONG, SHORT = int(sentiment.LiquidatedSide.Long), int(sentiment.LiquidatedSide.Short)


def table(*symbols: str) -> SymbolTable:
    t = SymbolTable()
    for i, s in enumerate(symbols):
        t.add(s, i, Instrument("0.01", "0.001"))
    return t


# --- synthetic messages from the documented schemas -----------------------------------------

BN_MARK = {
    "e": "markPriceUpdate",
    "E": 1562305380000,
    "s": "BTCUSDT",
    "p": "11794.15000000",
    "i": "11784.62659091",
    "P": "11784.25641265",
    "r": "0.00038167",
    "T": 1562306400000,
}
BN_FORCE = {
    "e": "forceOrder",
    "E": 1568014460893,
    "o": {
        "s": "BTCUSDT",
        "S": "SELL",
        "o": "LIMIT",
        "f": "IOC",
        "q": "0.014",
        "p": "9910",
        "ap": "9910",
        "X": "FILLED",
        "l": "0.014",
        "z": "0.014",
        "T": 1568014460893,
    },
}
BY_TICKER = {
    "topic": "tickers.BTCUSDT",
    "type": "snapshot",
    "data": {
        "symbol": "BTCUSDT",
        "tickDirection": "PlusTick",
        "price24hPcnt": "0.017103",
        "lastPrice": "17216.00",
        "prevPrice24h": "16926.50",
        "highPrice24h": "17281.50",
        "lowPrice24h": "16915.00",
        "prevPrice1h": "17238.00",
        "markPrice": "17217.33",
        "indexPrice": "17227.36",
        "openInterest": "68744.761",
        "openInterestValue": "1183601235.91",
        "turnover24h": "1570383121.943499",
        "volume24h": "91705.276",
        "nextFundingTime": "1673280000000",
        "fundingRate": "-0.000212",
        "bid1Price": "17215.50",
        "bid1Size": "84.489",
        "ask1Price": "17216.00",
        "ask1Size": "83.020",
    },
    "cs": 24987956059,
    "ts": 1673272861686,
}
BY_LIQ = {
    "topic": "allLiquidation.ROSEUSDT",
    "type": "snapshot",
    "ts": 1739502303204,
    "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}],
}


def enc(obj: object) -> bytes:
    return json.dumps(obj).encode()


def wrap(stream: str, data: object) -> bytes:
    return enc({"stream": stream, "data": data})


@pytest.mark.parametrize("wrapped", [False, True], ids=("raw", "combined"))
def test_binance_mark_price_gives_funding_mark_index_and_next_funding(wrapped: bool) -> None:
    p = sentiment.BinanceSentimentParser(table("BTCUSDT"))
    msg = wrap("btcusdt@markPrice@1s", BN_MARK) if wrapped else enc(BN_MARK)
    r, liq = p.parse(msg, 7)
    assert r.ok and r.kind == Kind.MarkPrice and r.symbol_id == 0 and len(liq) == 0
    m = r.mark
    assert (m.mark_price, m.index_price, m.funding_rate) == (11794.15, 11784.62659091, 0.00038167)
    assert m.next_funding_ms == 1562306400000 and m.exchange_ts_ms == 1562305380000 and m.ts_ns == 7
    assert (
        m.fields == F["MARK_PRICE"] | F["INDEX_PRICE"] | F["FUNDING_RATE"] | F["NEXT_FUNDING_TIME"]
    )
    assert p.counters["messages"]["MarkPrice"] == 1


def test_binance_delivery_mark_price_has_no_funding() -> None:
    # The documented delivery-contract form: "r": "" and "T": 0.
    p = sentiment.BinanceSentimentParser(table("BTCUSD_201225"))
    r, _ = p.parse(enc({**BN_MARK, "s": "BTCUSD_201225", "r": "", "T": 0}), 0)
    assert r.ok and r.mark.fields == F["MARK_PRICE"] | F["INDEX_PRICE"]


@pytest.mark.parametrize(("side", "liquidated"), [("SELL", LONG), ("BUY", SHORT)])
def test_binance_force_order_is_one_liquidation_of_the_right_side(
    side: str, liquidated: int
) -> None:
    p = sentiment.BinanceSentimentParser(table("BTCUSDT"))
    msg = wrap("btcusdt@forceOrder", {**BN_FORCE, "o": {**BN_FORCE["o"], "S": side}})  # type: ignore[dict-item]
    r, liq = p.parse(msg, 5)
    assert r.ok and r.kind == Kind.Liquidation and r.n_liquidations == 1
    (e,) = liq.tolist()
    assert e == (5, 1568014460893, 9910.0, 0.014, 0, liquidated)
    assert p.counters["liquidations"] == 1


def test_bybit_ticker_snapshot_and_delta() -> None:
    p = sentiment.BybitSentimentParser(table("BTCUSDT"))
    r, _ = p.parse(enc(BY_TICKER), 1)
    assert r.ok and r.kind == Kind.Ticker and r.mark.snapshot
    m = r.mark
    assert (m.mark_price, m.index_price, m.funding_rate) == (17217.33, 17227.36, -0.000212)
    assert (m.open_interest, m.open_interest_value) == (68744.761, 1183601235.91)
    assert m.next_funding_ms == 1673280000000 and r.exchange_ts_ms == 1673272861686
    assert m.fields == sum(F.values())
    # A delta carries only what changed: the rest is absent, not zero.
    delta = {**BY_TICKER, "type": "delta", "data": {"symbol": "BTCUSDT", "openInterest": "68750.1"}}
    r, _ = p.parse(enc(delta), 2)
    assert r.ok and not r.mark.snapshot and r.mark.fields == F["OPEN_INTEREST"]
    assert r.mark.open_interest == 68750.1


def test_bybit_all_liquidation_uses_the_position_side() -> None:
    # Bybit's S is the POSITION side ("Buy" = a long was liquidated): the opposite of Binance.
    p = sentiment.BybitSentimentParser(table("ROSEUSDT"))
    two = {**BY_LIQ, "data": [*BY_LIQ["data"], {**BY_LIQ["data"][0], "S": "Buy", "v": "5"}]}  # type: ignore[list-item, dict-item]
    r, liq = p.parse(enc(two), 9)
    assert r.ok and r.kind == Kind.Liquidation and r.n_liquidations == 2
    assert liq.tolist() == [
        (9, 1739502302929, 0.04499, 20000.0, 0, SHORT),
        (9, 1739502302929, 0.04499, 5.0, 0, LONG),
    ]


def test_control_messages() -> None:
    bn = sentiment.BinanceSentimentParser(table("BTCUSDT"))
    assert bn.parse(b'{"result":null,"id":1}', 0)[0].kind == Kind.Control
    by = sentiment.BybitSentimentParser(table("BTCUSDT"))
    r, _ = by.parse(b'{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}', 0)
    assert r.ok and r.kind == Kind.Control


BAD = [
    ("bn", b"{", ParseError.Malformed),
    ("bn", enc(BN_MARK) + b"x", ParseError.Malformed),
    ("bn", enc({k: v for k, v in BN_MARK.items() if k != "p"}), ParseError.MissingField),
    ("bn", enc({**BN_MARK, "s": "ETHUSDT"}), ParseError.UnknownSymbol),
    ("bn", wrap("ethusdt@markPrice", BN_MARK), ParseError.Malformed),  # stream vs data symbol
    ("bn", wrap("btcusdt@forceOrder", BN_MARK), ParseError.Malformed),  # stream vs event
    ("bn", wrap("btcusdt@kline_1m", BN_MARK), ParseError.UnknownStream),
    ("bn", enc({**BN_MARK, "r": "1e-4"}), ParseError.Malformed),
    ("bn", enc({**BN_MARK, "r": 0.0001}), ParseError.Malformed),  # documented as a string
    ("bn", b'{"e":"markPriceUpdate","e":"x"}', ParseError.Malformed),  # duplicate key
    ("bn", enc({**BN_FORCE, "o": {**BN_FORCE["o"], "S": "SHORT"}}), ParseError.Malformed),  # type: ignore[dict-item]
    ("by", enc({**BY_TICKER, "topic": "tickers.ETHUSDT"}), ParseError.UnknownSymbol),
    ("by", enc({**BY_TICKER, "type": "partial"}), ParseError.Malformed),
    ("by", enc({k: v for k, v in BY_TICKER.items() if k != "ts"}), ParseError.MissingField),
    (
        "by",
        enc({**BY_TICKER, "data": {**BY_TICKER["data"], "symbol": "ETHUSDT"}}),
        ParseError.Malformed,
    ),  # type: ignore[dict-item]
    ("by", enc({**BY_LIQ, "data": [*BY_LIQ["data"], {"s": "ROSEUSDT"}]}), ParseError.MissingField),  # type: ignore[list-item]
    ("by", enc({**BY_LIQ, "data": [{**BY_LIQ["data"][0], "v": "-1"}]}), ParseError.Malformed),  # type: ignore[dict-item]
    ("by", enc({**BY_TICKER, "topic": "orderbook.50.BTCUSDT"}), ParseError.UnknownStream),
]


@pytest.mark.parametrize(
    ("venue", "msg", "error"), BAD, ids=[f"{v}-{i}" for i, (v, _, _) in enumerate(BAD)]
)
def test_bad_messages_are_rejected_counted_and_append_nothing(
    venue: str, msg: bytes, error: ParseError
) -> None:
    t = table("BTCUSDT", "ROSEUSDT")
    p = sentiment.BinanceSentimentParser(t) if venue == "bn" else sentiment.BybitSentimentParser(t)
    r, liq = p.parse(msg, 0)
    assert r.error == error and not r.ok
    assert len(liq) == 0 and r.n_liquidations == 0 and r.mark.fields == 0
    assert p.counters["errors"][error.name] == 1


def test_parse_rejects_str() -> None:
    with pytest.raises(TypeError, match="was str"):
        sentiment.BinanceSentimentParser(table("BTCUSDT")).parse(json.dumps(BN_MARK), 0)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.sampled_from([enc(BN_FORCE), wrap("btcusdt@markPrice", BN_MARK)]), st.data())
def test_binance_any_cut_or_flip_is_all_or_nothing(msg: bytes, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(msg) - 1))
    mutated = data.draw(
        st.sampled_from([msg[:i], msg[:i] + bytes([data.draw(st.integers(0, 255))]) + msg[i + 1 :]])
    )
    p = sentiment.BinanceSentimentParser(table("BTCUSDT"))
    r, liq = p.parse(mutated, 0)
    try:
        valid_json = isinstance(json.loads(mutated), dict)
    except (ValueError, UnicodeDecodeError):
        valid_json = False
    if not valid_json:
        assert not r.ok
    if not r.ok:
        assert len(liq) == 0
    else:
        assert len(liq) == r.n_liquidations


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Buy", "Sell"]), st.decimals("0.001", "1000000", places=3)),
        max_size=20,
    )
)
def test_bybit_liquidation_lists_round_trip(rows: list[tuple[str, object]]) -> None:
    msg = {
        **BY_LIQ,
        "data": [{"T": 1, "s": "ROSEUSDT", "S": s, "v": str(v), "p": "0.5"} for s, v in rows],
    }
    r, liq = sentiment.BybitSentimentParser(table("ROSEUSDT")).parse(enc(msg), 0)
    assert r.ok and r.n_liquidations == len(rows) == len(liq)
    for (s, v), e in zip(rows, liq.tolist(), strict=True):
        assert e[3] == float(str(v)) and e[5] == (LONG if s == "Buy" else SHORT)


def test_parsed_streams_drive_the_sentiment_view() -> None:
    bn = sentiment.BinanceSentimentParser(table("BTCUSDT"))
    s = sentiment.Sentiment()
    r, _ = bn.parse(enc(BN_MARK), 10**9)
    s.on_mark(r.mark)
    assert s.reading(10**9).funding_rate == 0.00038167
    _, liq = bn.parse(enc(BN_FORCE), 2 * 10**9)
    s.on_liquidations(liq)
    rd = s.reading(3 * 10**9)
    assert rd.liq_long_notional == pytest.approx(9910 * 0.014) and rd.sub["liquidations"] == 0.0
    by = sentiment.BybitSentimentParser(table("BTCUSDT"))
    r, _ = by.parse(enc(BY_TICKER), 4 * 10**9)
    s.on_mark(r.mark)
    rd = s.reading(4 * 10**9)
    assert rd.open_interest == 68744.761 and rd.funding_rate == -0.000212
    assert math.isnan(rd.sub["open_interest"])  # one sample: no change over the window yet


def test_liquidation_dtype_matches_the_cpp_layout() -> None:
    size, offsets = sentiment.liquidation_layout()
    dt = sentiment.liquidation_dtype
    assert dt.itemsize == size
    fields = dt.fields
    assert fields is not None
    for name, off in offsets.items():
        assert fields[name][1] == off, name
