"""Benchmarks: native feed parsing vs json.loads + Python conversion vs ccxt's own handlers.

Input: every real Binance spot BTCUSDT depth / trade message of the 2024-08-08/09 captures
(6 495 depth messages averaging ~46 levels, 19 904 trades), as raw bytes.

- C++: `BinanceParser.parse_lines` over the messages (GIL released, records out as arrays).
- Python: `json.loads` + exact conversion with `Instrument` into record tuples.
- ccxt (4.5.x, offline): `json.loads` (ccxt's WS client decodes frames with json too) +
  `binance.handle_order_book_message` on an order book seeded with the REST snapshot, or
  `binance.handle_trade` with a stub client (what ccxt.pro runs for every message).

Run timed with `pytest bench/bench_feed_parser.py --benchmark-disable-gc`; per-message
figures are the reported time divided by the message count printed in each group's extra_info.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluex
import numpy as np
import pytest
from confluex._core import feed

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "hftbacktest" / "spot"
FILES = ("btcusdt_20240808.gz", "btcusdt_20240809.gz")
# Spot depth quantities carry 8 decimals (see tests/test_feed_parser.py).
INST = confluex.Instrument("0.01", "0.00000001")


class Capture:
    def __init__(self) -> None:
        if not DATA.is_dir():
            pytest.fail(f"real data not found at {DATA}")
        lines = b"".join(gzip.open(DATA / f).read() for f in FILES).splitlines()
        self.depth_lines = [ln for ln in lines if b"@depth" in ln[:80]]
        self.trade_lines = [ln for ln in lines if b"@trade" in ln[:80]]
        snap_line = next(ln for ln in lines if b"lastUpdateId" in ln[:80])
        self.snapshot = json.loads(snap_line.partition(b" ")[2])
        self.depth_buf = b"\n".join(self.depth_lines) + b"\n"
        self.trade_buf = b"\n".join(self.trade_lines) + b"\n"
        self.depth_json = [ln.partition(b" ")[2] for ln in self.depth_lines]
        self.trade_json = [ln.partition(b" ")[2] for ln in self.trade_lines]
        self.n_levels = sum(
            len(d["data"]["b"]) + len(d["data"]["a"]) for d in map(json.loads, self.depth_json)
        )


@pytest.fixture(scope="module")
def cap() -> Capture:
    return Capture()


def new_parser() -> feed.BinanceParser:
    t = feed.SymbolTable()
    t.add("BTCUSDT", 0, INST)
    return feed.BinanceParser(t, False)


# --- the Python and ccxt paths (shared with gate_feed_parser.py) --------------------------------


def python_depth(messages: list[bytes]) -> list[tuple[int, ...]]:
    px, qty = INST.price_to_ticks, INST.qty_to_lots
    rows: list[tuple[int, ...]] = []
    for raw in messages:
        d = json.loads(raw)["data"]
        uid, prev = d["u"], d["U"] - 1
        for side, key in ((0, "b"), (1, "a")):
            for p, q in d[key]:
                rows.append((px(p), qty(q), uid, prev, side))
    return rows


def python_trades(messages: list[bytes]) -> list[tuple[int, ...]]:
    px, qty = INST.price_to_ticks, INST.qty_to_lots
    return [
        (px(d["p"]), qty(d["q"]), d["t"], 1 if d["m"] else 0)
        for d in (json.loads(raw)["data"] for raw in messages)
    ]


class StubClient:
    """What ccxt's handlers need of a WS client: the url (spot vs futures) and resolve()."""

    url = "wss://stream.binance.com:9443/stream"

    def __init__(self) -> None:
        self.resolved = 0

    def resolve(self, result: object, message_hash: str) -> None:
        self.resolved += 1


class Ccxt:
    """ccxt.pro.binance driven offline: no network, handlers fed with the captured messages."""

    def __init__(self) -> None:
        import ccxt.pro

        self.loop = asyncio.new_event_loop()
        self.ex = ccxt.pro.binance({"enableRateLimit": False})
        self.client = StubClient()

    def seeded_book(self, snapshot: dict[str, Any]) -> Any:
        book = self.ex.order_book({}, 5000)
        parsed = self.ex.parse_order_book(snapshot, "BTC/USDT")
        parsed["nonce"] = snapshot["lastUpdateId"]
        book.reset(parsed)
        return book

    def depth(self, messages: list[bytes], book: Any) -> Any:
        handle = self.ex.handle_order_book_message
        for raw in messages:
            handle(None, json.loads(raw)["data"], book)
        return book

    def trades(self, messages: list[bytes]) -> int:
        handle = self.ex.handle_trade
        for raw in messages:
            handle(self.client, json.loads(raw)["data"])
        return self.client.resolved

    def close(self) -> None:
        self.loop.run_until_complete(self.ex.close())
        self.loop.close()


@pytest.fixture(scope="module")
def ccxt_binance() -> Iterator[Ccxt]:
    c = Ccxt()
    yield c
    c.close()


# --- parse-depth --------------------------------------------------------------------------------


@pytest.mark.benchmark(group="parse-depth")
def test_depth_cpp_parse_lines(benchmark: Any, cap: Capture) -> None:
    benchmark.extra_info["messages"] = len(cap.depth_lines)
    book, _, _, counters = benchmark(lambda: new_parser().parse_lines(cap.depth_buf))
    assert counters.messages["Depth"] == len(cap.depth_lines)
    assert len(book) == cap.n_levels


@pytest.mark.benchmark(group="parse-depth")
def test_depth_cpp_parse_per_message_from_python(benchmark: Any, cap: Capture) -> None:
    benchmark.extra_info["messages"] = len(cap.depth_json)

    def run() -> int:
        parser = new_parser()
        return sum(parser.parse(raw, 0)[0].n_book for raw in cap.depth_json)

    assert benchmark(run) == cap.n_levels


@pytest.mark.benchmark(group="parse-depth")
def test_depth_json_loads_python_conversion(benchmark: Any, cap: Capture) -> None:
    benchmark.extra_info["messages"] = len(cap.depth_json)
    rows = benchmark.pedantic(python_depth, args=(cap.depth_json,), rounds=3, iterations=1)
    book, _, _, _ = new_parser().parse_lines(cap.depth_buf)
    expected = zip(book["px_ticks"].tolist(), book["qty_lots"].tolist(), strict=True)
    assert [r[:2] for r in rows] == list(expected)


@pytest.mark.benchmark(group="parse-depth")
def test_depth_ccxt_handle_order_book_message(
    benchmark: Any, cap: Capture, ccxt_binance: Ccxt
) -> None:
    benchmark.extra_info["messages"] = len(cap.depth_json)
    books = []

    def setup() -> tuple[tuple[list[bytes], Any], dict[str, Any]]:
        books.append(ccxt_binance.seeded_book(cap.snapshot))
        return (cap.depth_json, books[-1]), {}

    benchmark.pedantic(ccxt_binance.depth, setup=setup, rounds=3, iterations=1)
    last = cap.depth_json[-1]
    assert books[-1]["nonce"] == json.loads(last)["data"]["u"]
    assert books[-1]["bids"][0][0] < books[-1]["asks"][0][0]


# --- parse-trade --------------------------------------------------------------------------------


@pytest.mark.benchmark(group="parse-trade")
def test_trade_cpp_parse_lines(benchmark: Any, cap: Capture) -> None:
    benchmark.extra_info["messages"] = len(cap.trade_lines)
    _, trades, _, _ = benchmark(lambda: new_parser().parse_lines(cap.trade_buf))
    assert len(trades) == len(cap.trade_lines)
    assert np.all(np.diff(trades["trade_id"]) == 1)  # the captures have no trade-id gaps


@pytest.mark.benchmark(group="parse-trade")
def test_trade_json_loads_python_conversion(benchmark: Any, cap: Capture) -> None:
    benchmark.extra_info["messages"] = len(cap.trade_json)
    rows = benchmark.pedantic(python_trades, args=(cap.trade_json,), rounds=3, iterations=1)
    _, trades, _, _ = new_parser().parse_lines(cap.trade_buf)
    assert rows == list(
        zip(
            trades["px_ticks"].tolist(),
            trades["qty_lots"].tolist(),
            trades["trade_id"].tolist(),
            trades["side"].tolist(),
            strict=True,
        )
    )


@pytest.mark.benchmark(group="parse-trade")
def test_trade_ccxt_handle_trade(benchmark: Any, cap: Capture, ccxt_binance: Ccxt) -> None:
    benchmark.extra_info["messages"] = len(cap.trade_json)
    before = ccxt_binance.client.resolved
    benchmark.pedantic(ccxt_binance.trades, args=(cap.trade_json,), rounds=3, iterations=1)
    handled = ccxt_binance.client.resolved - before
    assert handled > 0 and handled % len(cap.trade_json) == 0
    last = ccxt_binance.ex.trades["BTCUSDT"][-1]
    assert last["id"] == str(json.loads(cap.trade_json[-1])["data"]["t"])
