"""Benchmarks: the six technical kernels (RSI, MACD, AO, W%R, ATR, CCI) in batch vs TA-Lib.

Input: the 13,681 real one-minute bars of tests/data/freqtrade. Both sides run the same six
indicators over every bar; the results are asserted equal. The C++ microbenchmark
bench/cpp/bench_views.cpp gives the per-bar cost of IndicatorSet::update without Python.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import confluex.indicators as ind
import numpy as np
import pytest
import talib

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "freqtrade"


def report(benchmark: Any, n: int) -> None:
    """Adds ns per bar (median round, six indicators) to the benchmark's extra info."""
    if benchmark.stats is not None:
        benchmark.extra_info["ns_per_item_median"] = benchmark.stats.stats.median * 1e9 / n


@pytest.fixture(scope="module")
def bars() -> tuple[np.ndarray, ...]:
    with gzip.open(DATA / "unittest_btc_1m.json.gz", "rt") as fh:
        rows = np.array(json.load(fh), dtype=np.float64)
    return tuple(np.ascontiguousarray(c) for c in rows.T[1:])


def ours(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
) -> list[np.ndarray]:
    return [
        ind.batch(k, o, h, lo, c, v)
        for k in (ind.RSI(14), ind.MACD(), ind.AO(), ind.WilliamsR(14), ind.ATR(14), ind.CCI(20))
    ]


def theirs(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray
) -> list[np.ndarray]:
    med = talib.MEDPRICE(h, lo)
    return [
        talib.RSI(c, 14),
        talib.MACD(c, 12, 26, 9)[0],
        talib.SMA(med, 5) - talib.SMA(med, 34),
        talib.WILLR(h, lo, c, 14),
        talib.ATR(h, lo, c, 14),
        talib.CCI(h, lo, c, 20),
    ]


@pytest.mark.benchmark(group="technical-kernels")
def test_cpp_six_kernels_batch(benchmark: Any, bars: tuple[np.ndarray, ...]) -> None:
    got = benchmark.pedantic(ours, args=bars, rounds=20, iterations=1)
    report(benchmark, len(bars[0]))
    ref = theirs(*bars)
    np.testing.assert_allclose(got[0][14:], ref[0][14:], rtol=1e-9)
    np.testing.assert_allclose(got[1][:, 0][33:], ref[1][33:], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(got[4][14:], ref[4][14:], rtol=1e-9)


@pytest.mark.benchmark(group="technical-kernels")
def test_talib_six_kernels(benchmark: Any, bars: tuple[np.ndarray, ...]) -> None:
    got = benchmark.pedantic(theirs, args=bars, rounds=20, iterations=1)
    report(benchmark, len(bars[0]))
    assert len(got) == 6 and not np.isnan(got[5][19:]).any()
