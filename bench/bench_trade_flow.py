"""Benchmarks: TradeFlow.push_many and RollingZScore vs plain-Python references on real trades.

Input: every Binance spot BTCUSDT trade of the 2024-08-08/09 captures (~20 k trades, ~11 min),
parsed exactly with Instrument("0.01", "0.00001"). Run timed with
`pytest bench/bench_trade_flow.py --benchmark-disable-gc`; results are asserted either way.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import confluex
import numpy as np
import pytest
from confluex._core import trade_flow as tf
from confluex.feeds.capture import iter_capture

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "hftbacktest" / "spot"
FILES = ("btcusdt_20240808.gz", "btcusdt_20240809.gz")
WINDOWS = [1_000_000_000, 5_000_000_000, 30_000_000_000, 300_000_000_000]
LARGE = 100_000  # 1 BTC


def load_trades() -> np.ndarray[Any, np.dtype[np.void]]:
    """Every trade of FILES as a trade_event_dtype array (symbol_id 0)."""
    inst = confluex.Instrument("0.01", "0.00001")
    rows = []
    for name in FILES:
        for _, stream, d in iter_capture(DATA / name):
            if stream is not None and stream.endswith("@trade"):
                side = 1 if d["m"] else 0  # m: buyer is the maker, i.e. the aggressor sold
                rows.append(
                    (
                        d["T"] * 1_000_000,
                        inst.price_to_ticks(d["p"]),
                        inst.qty_to_lots(d["q"]),
                        d["t"],
                        0,
                        side,
                        0,
                        0,
                    )
                )
    return np.array(rows, dtype=confluex.trade_event_dtype)


@pytest.fixture(scope="module")
def trades() -> np.ndarray[Any, np.dtype[np.void]]:
    if not DATA.is_dir():
        pytest.fail(f"real data not found at {DATA}")
    return load_trades()


class PyFlow:
    """Plain-Python reference of the same window logic: one deque and running sums per window."""

    def __init__(self, windows: list[int], large: int) -> None:
        self.windows = windows
        self.large = large
        self.q = [deque[tuple[int, int, int, int]]() for _ in windows]
        self.sums = [[0] * 9 for _ in windows]  # buy, sell, unk qty; 3 notionals; count; lb; ls
        self.clock: int | None = None

    def _apply(self, s: list[int], px: int, qty: int, side: int, sign: int) -> None:
        s[side] += sign * qty
        s[3 + side] += sign * px * qty
        s[6] += sign
        if self.large and qty >= self.large and side < 2:
            s[7 + side] += sign * qty

    def push(self, ts: int, px: int, qty: int, side: int) -> None:
        if self.clock is None or ts > self.clock:
            self.clock = ts
        now = self.clock
        for k, w in enumerate(self.windows):
            q, s = self.q[k], self.sums[k]
            while q and now - q[0][0] >= w:
                _, opx, oqty, oside = q.popleft()
                self._apply(s, opx, oqty, oside, -1)
            q.append((now, px, qty, side))
            self._apply(s, px, qty, side, 1)


def py_replay(rows: list[tuple[int, int, int, int]]) -> PyFlow:
    flow = PyFlow(WINDOWS, LARGE)
    for ts, px, qty, side in rows:
        flow.push(ts, px, qty, side)
    return flow


def report(benchmark: Any, n: int) -> None:
    if benchmark.stats is not None:
        median = benchmark.stats.stats.median
        benchmark.extra_info["ns_per_item_median"] = median * 1e9 / n
        benchmark.extra_info["items"] = n


@pytest.mark.benchmark(group="trade-push")
def test_cpp_push_many_all_trades(benchmark: Any, trades: np.ndarray[Any, Any]) -> None:
    cfg = tf.FlowConfig(windows_ns=WINDOWS, large_trade_lots=LARGE)

    def fresh() -> tuple[tuple[tf.TradeFlow], dict[str, Any]]:
        return (tf.TradeFlow(cfg),), {}

    result: list[tf.TradeFlow] = []

    def replay(flow: tf.TradeFlow) -> None:
        flow.push_many(trades)
        result.append(flow)

    benchmark.pedantic(replay, setup=fresh, rounds=30, iterations=1)
    report(benchmark, len(trades))

    flow = result[-1]
    ref = py_replay([(int(r[0]), int(r[1]), int(r[2]), int(r[5])) for r in trades])
    assert flow.total_count() == len(trades)
    for k, s in enumerate(ref.sums):
        w = flow.window(k)
        assert (w.buy_qty, w.sell_qty, w.unknown_qty, w.count) == (s[0], s[1], s[2], s[6])
        assert (w.buy_notional, w.sell_notional) == (float(s[3]), float(s[4]))
        assert (w.large_buy_qty, w.large_sell_qty) == (s[7], s[8])


@pytest.mark.benchmark(group="trade-push")
def test_python_reference_push_all_trades(benchmark: Any, trades: np.ndarray[Any, Any]) -> None:
    rows = [(int(r[0]), int(r[1]), int(r[2]), int(r[5])) for r in trades]

    ref = benchmark.pedantic(py_replay, args=(rows,), rounds=3, iterations=1)
    report(benchmark, len(rows))

    flow = tf.TradeFlow(tf.FlowConfig(windows_ns=WINDOWS, large_trade_lots=LARGE))
    flow.push_many(trades)
    assert [(w.buy_qty, w.sell_qty, w.count) for w in flow.windows()] == [
        (s[0], s[1], s[6]) for s in ref.sums
    ]


class PyZScore:
    """Plain-Python reference: a deque with running sums of values shifted by the first one."""

    def __init__(self, lookback: int, min_samples: int, clip: float) -> None:
        self.q: deque[float] = deque()
        self.lookback, self.min_samples, self.clip = lookback, min_samples, clip
        self.k = 0.0
        self.s1 = self.s2 = 0.0

    def update(self, x: float) -> float:
        if not self.q:
            self.k = x
        if len(self.q) == self.lookback:
            d = self.q.popleft() - self.k
            self.s1 -= d
            self.s2 -= d * d
        self.q.append(x)
        d = x - self.k
        self.s1 += d
        self.s2 += d * d
        n = len(self.q)
        if n < self.min_samples:
            return 0.0
        m = self.s1 / n
        var = max(0.0, self.s2 / n - m * m)
        if var == 0.0:
            return 0.0
        return max(-self.clip, min(self.clip, (d - m) / var**0.5))


def cvd_series(trades: np.ndarray[Any, Any]) -> list[float]:
    signed = np.where(trades["side"] == 0, trades["qty_lots"], -trades["qty_lots"])
    # CVD in lots on a large offset: the cancellation case a naive variance fails on.
    return [float(v) for v in np.cumsum(signed) + 10**9]


@pytest.mark.benchmark(group="zscore")
def test_cpp_rolling_zscore_update(benchmark: Any, trades: np.ndarray[Any, Any]) -> None:
    xs = cvd_series(trades)

    def run() -> list[float]:
        z = tf.RollingZScore(200, 30, 3.0)
        return [z.update(x) for x in xs]

    got = benchmark.pedantic(run, rounds=10, iterations=1)
    report(benchmark, len(xs))

    ref = PyZScore(200, 30, 3.0)
    want = [ref.update(x) for x in xs]
    assert np.allclose(got, want, atol=1e-6)


@pytest.mark.benchmark(group="zscore")
def test_python_reference_rolling_zscore_update(
    benchmark: Any, trades: np.ndarray[Any, Any]
) -> None:
    xs = cvd_series(trades)

    def run() -> list[float]:
        z = PyZScore(200, 30, 3.0)
        return [z.update(x) for x in xs]

    got = benchmark.pedantic(run, rounds=5, iterations=1)
    report(benchmark, len(xs))

    z = tf.RollingZScore(200, 30, 3.0)
    assert np.allclose(got, [z.update(x) for x in xs], atol=1e-6)


if __name__ == "__main__":
    # `python bench/bench_trade_flow.py --dump PATH` writes the raw TradeEvent records for the
    # C++ microbenchmark bench/cpp/bench_trade_flow.cpp.
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "--dump":
        sys.exit("usage: python bench/bench_trade_flow.py --dump PATH")
    load_trades().tofile(sys.argv[2])
