"""Engine benchmarks on the real Binance spot BTCUSDT capture (2024-08-08, 5.8 min).

Groups (each with its reference path beside it):
- ``engine-ingest-book``: every depth record (snapshot + 3 451 messages) through the batch
  path ``ingest_book`` (one call, GIL released) vs one ``apply_depth`` call per message.
- ``engine-ingest-trades``: every trade through ``ingest_trades`` vs one ``push_trade`` call
  per trade.
- ``engine-getter``: one ``score(sym)`` call from Python (clean state) vs a Python dict read.
- ``engine-recompute``: one trade pushed then ``score(sym)``: the lazy recompute of the
  orderflow and volume components plus the aggregator, as seen from Python.
- ``engine-depth-then-score``: every depth message through its own ``ingest_book`` call with
  ``score(sym)`` read after each (the orderbook component's ±0.1 % band depth, kernel and
  aggregator per message), vs the same calls without the reads; the difference per message
  is the recompute plus one binding call. The C++ figures without Python are in
  ``bench/cpp/bench_engine.cpp``.

Run timed: ``python -m pytest bench/bench_engine.py --benchmark-disable-gc``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import _core
from confluex.feeds.capture import BinanceCapture, load_binance_capture

HFT = Path(__file__).resolve().parents[1] / "tests" / "data" / "hftbacktest"
END = _core.types.FLAG_END_OF_MESSAGE
SNAP = _core.types.FLAG_SNAPSHOT


@cache
def capture() -> BinanceCapture:
    inst = confluex.Instrument("0.01", "0.00000001")
    return load_binance_capture([HFT / "spot" / "btcusdt_20240808.gz"], inst)


def new_engine() -> tuple[_core.engine.Engine, int]:
    engine = _core.engine.Engine()
    return engine, engine.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))


@cache
def per_message() -> list[tuple[np.ndarray, np.ndarray, int, int, int, bool]]:
    book = capture().book
    ends = np.flatnonzero(book["flags"] & END)
    starts = np.concatenate(([0], ends[:-1] + 1))
    out = []
    for s, e in zip(starts, ends, strict=True):
        msg = book[s : e + 1]
        keep = msg[(msg["flags"] & _core.types.FLAG_NO_LEVEL) == 0]
        bids = np.ascontiguousarray(
            np.stack(
                [keep["px_ticks"][keep["side"] == 0], keep["qty_lots"][keep["side"] == 0]], axis=1
            )
        )
        asks = np.ascontiguousarray(
            np.stack(
                [keep["px_ticks"][keep["side"] == 1], keep["qty_lots"][keep["side"] == 1]], axis=1
            )
        )
        head = msg[0]
        out.append(
            (
                bids,
                asks,
                int(head["update_id"]),
                int(head["prev_update_id"]),
                int(msg[-1]["ts_ns"]),
                bool(head["flags"] & SNAP),
            )
        )
    return out


def _final(engine: _core.engine.Engine, sym: int) -> tuple[object, ...]:
    return engine.best_bid(sym), engine.best_ask(sym), engine.stats(sym).messages_applied


@pytest.mark.benchmark(group="engine-ingest-book")
def test_ingest_book_batch(benchmark) -> None:  # type: ignore[no-untyped-def]
    book = capture().book

    def run(engine: _core.engine.Engine, sym: int) -> tuple[object, ...]:
        engine.ingest_book(book)
        return _final(engine, sym)

    result = benchmark.pedantic(run, setup=lambda: (new_engine(), {}), rounds=40, iterations=1)
    benchmark.extra_info["records"] = len(book)
    assert result[2] > 3000 and result[0][0] < result[1][0]


@pytest.mark.benchmark(group="engine-ingest-book")
def test_ingest_book_per_message_reference(benchmark) -> None:  # type: ignore[no-untyped-def]
    msgs = per_message()

    def run(engine: _core.engine.Engine, sym: int) -> tuple[object, ...]:
        for bids, asks, uid, prev, ts, snap in msgs:
            if snap:
                engine.apply_snapshot(sym, bids, asks, uid, ts)
            else:
                engine.apply_depth(sym, bids, asks, uid, prev, ts)
        return _final(engine, sym)

    result = benchmark.pedantic(run, setup=lambda: (new_engine(), {}), rounds=20, iterations=1)
    batch, bsym = new_engine()
    batch.ingest_book(capture().book)
    assert result == _final(batch, bsym)


@pytest.mark.benchmark(group="engine-ingest-trades")
def test_ingest_trades_batch(benchmark) -> None:  # type: ignore[no-untyped-def]
    trades = capture().trades

    def run(engine: _core.engine.Engine, sym: int) -> int:
        engine.ingest_trades(trades)
        return int(engine.cvd(sym))

    cvd = benchmark.pedantic(run, setup=lambda: (new_engine(), {}), rounds=100, iterations=1)
    benchmark.extra_info["trades"] = len(trades)
    signed = np.where(trades["side"] == 0, trades["qty_lots"], -trades["qty_lots"])
    assert cvd == int(signed.sum())


@pytest.mark.benchmark(group="engine-ingest-trades")
def test_ingest_trades_per_call_reference(benchmark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        (int(t["ts_ns"]), int(t["px_ticks"]), int(t["qty_lots"]), int(t["side"]))
        for t in capture().trades
    ]

    def run(engine: _core.engine.Engine, sym: int) -> int:
        push = engine.push_trade
        for ts, px, qty, side in rows:
            push(sym, ts, px, qty, side)
        return int(engine.cvd(sym))

    cvd = benchmark.pedantic(run, setup=lambda: (new_engine(), {}), rounds=20, iterations=1)
    assert cvd == sum(q if s == 0 else -q for _, _, q, s in rows)


@pytest.fixture(scope="module")
def loaded() -> tuple[_core.engine.Engine, int]:
    engine, sym = new_engine()
    engine.ingest_book(capture().book)
    engine.ingest_trades(capture().trades)
    engine.score(sym)
    return engine, sym


@pytest.mark.benchmark(group="engine-getter")
def test_score_getter(benchmark, loaded) -> None:  # type: ignore[no-untyped-def]
    engine, sym = loaded
    value = benchmark(engine.score, sym)
    assert 0.0 <= value <= 100.0


@pytest.mark.benchmark(group="engine-getter")
def test_dict_read_reference(benchmark, loaded) -> None:  # type: ignore[no-untyped-def]
    engine, sym = loaded
    scores = {sym: engine.score(sym)}
    value = benchmark(scores.__getitem__, sym)
    assert value == engine.score(sym)


@pytest.mark.benchmark(group="engine-recompute")
def test_push_trade_then_score(benchmark, loaded) -> None:  # type: ignore[no-untyped-def]
    engine, sym = loaded
    last = capture().trades[-1]
    state = {"ts": int(last["ts_ns"])}
    px = int(last["px_ticks"])

    def run() -> float:
        state["ts"] += 1000
        engine.push_trade(sym, state["ts"], px, 1000, state["ts"] % 2)
        return engine.score(sym)

    value = benchmark(run)
    assert 0.0 <= value <= 100.0 and engine.stats(sym).recomputes > 1


@cache
def split_messages() -> list[np.ndarray]:
    book = capture().book
    ends = np.flatnonzero(book["flags"] & END)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [book[s : e + 1] for s, e in zip(starts, ends, strict=True)]


@pytest.mark.benchmark(group="engine-depth-then-score")
def test_depth_message_then_score(benchmark) -> None:  # type: ignore[no-untyped-def]
    msgs = split_messages()

    def run(engine: _core.engine.Engine, sym: int) -> float:
        total = 0.0
        for msg in msgs:
            engine.ingest_book(msg)
            total += engine.score(sym)
        return total

    total = benchmark.pedantic(run, setup=lambda: (new_engine(), {}), rounds=8, iterations=1)
    benchmark.extra_info["messages"] = len(msgs)
    engine, sym = new_engine()
    assert total == run(engine, sym) and engine.stats(sym).recomputes > 3000


@pytest.mark.benchmark(group="engine-depth-then-score")
def test_depth_message_without_reads_reference(benchmark) -> None:  # type: ignore[no-untyped-def]
    msgs = split_messages()

    def run(engine: _core.engine.Engine, sym: int) -> tuple[object, ...]:
        for msg in msgs:
            engine.ingest_book(msg)
        return _final(engine, sym)

    result = benchmark.pedantic(run, setup=lambda: (new_engine(), {}), rounds=8, iterations=1)
    batch, bsym = new_engine()
    batch.ingest_book(capture().book)
    assert result == _final(batch, bsym)
