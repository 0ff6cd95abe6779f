"""Benchmark: the sentiment update per closed bar and a full reading, C++ vs plain Python.

Input: the real XRP/USDT:USDT 5-minute bars (tests/data/freqtrade) with the real 8-hourly
funding rates. `on_bars` loops in C++, so total / bars is the per-bar update cost (log
return, rolling stdev over 60 returns, volume EMAs). `reading` is one score at a time
(funding, OI, liquidation buckets, weighted mean) called from Python.

Run like:
    pytest bench/bench_sentiment.py --benchmark-only --benchmark-disable-gc -s
    pytest bench/bench_sentiment.py --benchmark-disable          # once, as correctness tests
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from confluex._core import sentiment
from confluex.sentiment_inputs import load_funding

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "freqtrade"


@lru_cache(maxsize=1)
def real_bars() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    path = DATA / "xrp_usdt_usdt_5m_futures.json.gz"
    if not path.is_file():
        pytest.fail(f"real data not found at {path}")
    a = np.array(json.loads(gzip.decompress(path.read_bytes())), dtype=np.float64)
    return a[:, 0].astype(np.int64) * 1_000_000, np.ascontiguousarray(a[:, 1:6])


def python_volatility(closes: list[float], window: int = 60) -> list[float]:
    """Plain-Python reference of the per-bar volatility update (the dominant per-bar cost)."""
    out, rets = [], []
    for i in range(1, len(closes)):
        rets.append(math.log(closes[i] / closes[i - 1]))
        w = rets[-window:]
        if len(w) == window:
            m = sum(w) / window
            out.append(math.sqrt(sum((r - m) ** 2 for r in w) / (window - 1)))
    return out


@pytest.mark.benchmark(group="sentiment-update-per-bar")
def test_bench_sentiment_on_bars_cpp(benchmark) -> None:  # type: ignore[no-untyped-def]
    open_ns, ohlcv = real_bars()

    def run() -> sentiment.Sentiment:
        s = sentiment.Sentiment()
        s.on_bars(open_ns, ohlcv)
        return s

    s = benchmark(run)
    assert not math.isnan(s.reading(int(open_ns[-1])).volatility_pct)
    if benchmark.stats is not None:
        per_bar = benchmark.stats.stats.min / len(open_ns) * 1e9
        benchmark.extra_info["ns_per_bar_min"] = per_bar
        print(
            f"\nsentiment: {per_bar:.1f} ns per closed bar (min over rounds, {len(open_ns)} bars)"
        )


@pytest.mark.benchmark(group="sentiment-update-per-bar")
def test_bench_sentiment_python_volatility_reference(benchmark) -> None:  # type: ignore[no-untyped-def]
    _, ohlcv = real_bars()
    closes = ohlcv[:, 3].tolist()
    out = benchmark.pedantic(python_volatility, args=(closes,), rounds=3, iterations=1)
    assert len(out) == len(closes) - 60


@pytest.mark.benchmark(group="sentiment-reading")
def test_bench_sentiment_reading(benchmark) -> None:  # type: ignore[no-untyped-def]
    open_ns, ohlcv = real_bars()
    s = sentiment.Sentiment()
    s.on_bars(open_ns, ohlcv)
    for f in load_funding(DATA / "xrp_usdt_usdt_8h_funding_rate.json.gz"):
        s.on_funding(f.ts_ns, f.value)
    now = int(open_ns[-1])
    s.set_liquidation_source(now)
    s.on_liquidation(now, sentiment.LiquidatedSide.Long, 1000.0)
    s.on_open_interest(now - 3_600_000_000_000, 100.0)
    s.on_open_interest(now, 110.0)
    r = benchmark(s.reading, now)
    assert r.has_data and not math.isnan(r.sub["open_interest"])
