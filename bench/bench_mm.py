"""Benchmarks: the market maker's per-message kernels (C++) vs the same logic in plain Python.

The estimators run on every message of a market-making replay (sigma on every book change,
the intensity on every trade), so they live in the core (``confluex._core.mm``); the quote
runs at the decision cadence (a top-of-book change or every 100 ms) and is cheap either way.
Inputs: the real Binance spot BTCUSDT trades and bookTickers of the 2024-08-08 capture, fed
one call at a time from Python, as the replay hook does. Run timed with
``pytest bench/bench_mm.py --benchmark-disable-gc``; the results are asserted either way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from confluex._core.mm import GlftConfig, MidVolatility, TradeIntensity, glft_quote
from confluex.feeds.capture import iter_capture

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "tests" / "data" / "hftbacktest" / "spot" / "btcusdt_20240808.gz"
LN2 = math.log(2.0)


def load_events() -> list[tuple[int, int, float]]:
    """(kind, ts_ns, value): kind 0 = mid (ticks) from a bookTicker, 1 = trade distance."""
    out: list[tuple[int, int, float]] = []
    mid = math.nan
    for ts, stream, d in iter_capture(CAPTURE):
        if stream is None:
            continue
        if stream.endswith("@bookTicker"):
            mid = (round(float(d["b"]) * 100) + round(float(d["a"]) * 100)) / 2.0
            out.append((0, ts, mid))
        elif stream.endswith("@trade") and not math.isnan(mid):
            out.append((1, ts, abs(round(float(d["p"]) * 100) - mid)))
    return out


@pytest.fixture(scope="module")
def events() -> list[tuple[int, int, float]]:
    if not CAPTURE.is_file():
        pytest.fail(f"real data not found at {CAPTURE}")
    return load_events()


class PyEstimators:
    """Plain-Python MidVolatility + TradeIntensity (the formulas of mm_estimators.hpp)."""

    def __init__(self, buckets: int, width: float) -> None:
        self.vol_last: tuple[int, float] | None = None
        self.s = self.t = 0.0
        self.c = [0.0] * buckets
        self.ti = 0.0
        self.ti_last: int | None = None
        self.width = width

    def update(self, ts: int, mid: float) -> None:
        if self.vol_last is None:
            self.vol_last = (ts, mid)
            return
        dt = ts - self.vol_last[0]
        if dt < 100_000_000:
            return
        w = math.exp(-dt * 1e-9 * LN2 / 30.0)
        self.s = self.s * w + (mid - self.vol_last[1]) ** 2
        self.t = self.t * w + dt * 1e-9
        self.vol_last = (ts, mid)

    def on_trade(self, ts: int, d: float) -> None:
        if self.ti_last is not None and ts > self.ti_last:
            w = math.exp(-(ts - self.ti_last) * 1e-9 * LN2 / 60.0)
            self.c = [c * w for c in self.c]
            self.ti = self.ti * w + (ts - self.ti_last) * 1e-9
        if self.ti_last is None or ts > self.ti_last:
            self.ti_last = ts
        for i in range(len(self.c)):
            if 0.5 + i * self.width > d + 1e-9:
                break
            self.c[i] += 1.0

    def sigma(self) -> float:
        return math.sqrt(self.s / self.t)


def report(benchmark: Any, n: int) -> None:
    if benchmark.stats is not None:
        benchmark.extra_info["ns_per_event_median"] = benchmark.stats.stats.median * 1e9 / n
        benchmark.extra_info["events"] = n


@pytest.mark.benchmark(group="mm-estimators")
def test_cpp_estimators_per_message(benchmark: Any, events: list[tuple[int, int, float]]) -> None:
    result: list[tuple[MidVolatility, TradeIntensity]] = []

    def run() -> None:
        vol, ti = MidVolatility(30.0, 100_000_000, 10), TradeIntensity(8, 30.0, 60.0, 2.0)
        update, on_trade = vol.update, ti.on_trade
        for kind, ts, v in events:
            if kind:
                on_trade(ts, v)
            else:
                update(ts, v)
        result.append((vol, ti))

    benchmark.pedantic(run, rounds=5, iterations=1)
    report(benchmark, len(events))
    vol, ti = result[-1]
    ref = PyEstimators(8, 30.0)
    for kind, ts, v in events:
        (ref.on_trade if kind else ref.update)(ts, v)
    assert vol.sigma() == pytest.approx(ref.sigma(), rel=1e-9)
    assert [ti.count(i) for i in range(8)] == pytest.approx(ref.c, rel=1e-9)
    assert ti.fit().ok


@pytest.mark.benchmark(group="mm-estimators")
def test_python_estimators_per_message(
    benchmark: Any, events: list[tuple[int, int, float]]
) -> None:
    result: list[PyEstimators] = []

    def run() -> None:
        ref = PyEstimators(8, 30.0)
        update, on_trade = ref.update, ref.on_trade
        for kind, ts, v in events:
            if kind:
                on_trade(ts, v)
            else:
                update(ts, v)
        result.append(ref)

    benchmark.pedantic(run, rounds=5, iterations=1)
    report(benchmark, len(events))
    assert result[-1].sigma() > 0


QUOTE_ARGS = (6_183_000.5, 6_183_000, 6_183_001, 300, 750.0, 14.0, 0.012, 62.0)


@pytest.mark.benchmark(group="mm-quote")
def test_cpp_glft_quote(benchmark: Any) -> None:
    cfg = GlftConfig(gamma=0.05, order_lots=100, max_inventory_lots=500)
    q = benchmark(glft_quote, cfg, *QUOTE_ARGS)
    assert q.bid_ticks < 6_183_000 < q.ask_ticks or q.bid_lots == 0


def py_glft(mid: float, bb: int, ba: int, inv: int, sigma: float, a: float, k: float, s: float):
    g = 0.05
    c1 = math.log1p(g / k) / g
    c2 = math.sqrt(g / (2 * a * k) * (1 + g / k) ** (k / g + 1))
    half = c1 + 0.5 * sigma * c2
    r = mid + 0.5 * (s - 50) / 50 * sigma - sigma * c2 * inv / 100
    bid = min(math.floor(r - half), ba - 1)
    ask = max(math.ceil(r + half), bb + 1)
    ratio = inv / 500
    return bid, ask, math.floor(100 * min(1, 1 - ratio)), math.floor(100 * min(1, 1 + ratio))


@pytest.mark.benchmark(group="mm-quote")
def test_python_glft_quote(benchmark: Any) -> None:
    bid, ask, _, _ = benchmark(py_glft, *QUOTE_ARGS)
    assert bid < ask


@pytest.mark.benchmark(group="mm-replay")
def test_replay_with_a_no_op_raw_hook(benchmark: Any) -> None:
    from confluex._core.engine import Engine
    from confluex.feeds.files import replay

    res = benchmark.pedantic(
        lambda: replay([CAPTURE], engine=Engine(), on_raw=lambda *a: None), rounds=2, iterations=1
    )
    report(benchmark, res.messages)
    assert res.messages > 40_000


@pytest.mark.benchmark(group="mm-replay")
def test_replay_with_the_market_maker(benchmark: Any) -> None:
    from confluex.market_making import replay_mm

    rep = benchmark.pedantic(lambda: replay_mm([CAPTURE]), rounds=2, iterations=1)
    if benchmark.stats is not None:
        benchmark.extra_info["messages"] = rep.messages
    [s] = rep.symbols
    assert len(s.fills) > 0 and s.identity_error < 1e-6
