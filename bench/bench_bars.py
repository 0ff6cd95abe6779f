"""Benchmarks: BarBuilder.on_trades (7 timeframes) vs the plain-Python reference on real trades.

Input: every Binance spot BTCUSDT trade of the 2024-08-08/09 captures (~20 k trades, ~11 min).
The per-trade figure includes the batch call's validation pass; the C++ microbenchmark
bench/cpp/bench_views.cpp gives on_trade alone. Run timed with
`pytest bench/bench_bars.py --benchmark-disable-gc`; results are asserted either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bar_reference import bars_from_trades
from confluex._core.bars import BarBuilder
from confluex._core.types import trade_event_dtype
from test_bars import load_capture_trades

TIMEFRAMES = [1, 5, 30, 60, 300, 1800, 14400]
S = 1_000_000_000
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "hftbacktest" / "spot"


def report(benchmark: Any, n: int) -> None:
    """Adds ns per trade (median round) to the benchmark's extra info."""
    if benchmark.stats is not None:
        benchmark.extra_info["ns_per_item_median"] = benchmark.stats.stats.median * 1e9 / n


@pytest.fixture(scope="module")
def trades() -> np.ndarray[Any, np.dtype[np.void]]:
    if not DATA.is_dir():
        pytest.fail(f"real data not found at {DATA}")
    rows = load_capture_trades(DATA / "btcusdt_20240808.gz")
    rows += load_capture_trades(DATA / "btcusdt_20240809.gz")
    rows.sort(key=lambda r: r[0])
    t = np.zeros(len(rows), dtype=trade_event_dtype)
    t["ts_ns"] = [r[0] for r in rows]
    t["px_ticks"] = [round(r[1] * 100) for r in rows]
    t["qty_lots"] = [round(r[2] * 100_000) for r in rows]
    t["side"] = [r[3] for r in rows]
    return t


@pytest.mark.benchmark(group="bars-from-trades")
def test_cpp_bar_builder_all_trades(benchmark: Any, trades: np.ndarray[Any, Any]) -> None:
    def fresh() -> tuple[tuple[BarBuilder], dict[str, Any]]:
        return (BarBuilder(),), {}

    result: list[BarBuilder] = []

    def replay(b: BarBuilder) -> None:
        b.on_trades(trades, 0.01, 0.00001)
        result.append(b)

    benchmark.pedantic(replay, setup=fresh, rounds=30, iterations=1)
    report(benchmark, len(trades))
    b = result[-1]
    rows = [
        (int(r["ts_ns"]), r["px_ticks"] * 0.01, r["qty_lots"] * 0.00001, int(r["side"]))
        for r in trades
    ]
    closed, _ = bars_from_trades(rows, S)
    assert b.closed_count(0) == len(closed)
    np.testing.assert_array_equal(b.bars(0)["close"][-100:], [x.close for x in closed][-100:])


@pytest.mark.benchmark(group="bars-from-trades")
def test_python_reference_bars_all_trades(benchmark: Any, trades: np.ndarray[Any, Any]) -> None:
    rows = [
        (int(r["ts_ns"]), r["px_ticks"] * 0.01, r["qty_lots"] * 0.00001, int(r["side"]))
        for r in trades
    ]

    def run() -> list[int]:
        return [len(bars_from_trades(rows, tf * S)[0]) for tf in TIMEFRAMES]

    counts = benchmark.pedantic(run, rounds=3, iterations=1)
    report(benchmark, len(rows))
    assert counts[0] > 600
