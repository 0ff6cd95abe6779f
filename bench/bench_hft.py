"""Benchmarks of the HFT integration kernels (confluex.hft) against plain-Python references.

Inputs are real where the kernel reads scores: the confluence score series of the Binance spot
BTCUSDT capture (FeedSession.series(), one point per 100 ms), replayed outside the timed calls.
Each group times the C++ path from Python (batch calls release the GIL and loop in C++, so
time / n is the per-update cost in the core plus a negligible call overhead) and the seed's
plain-Python form on the same input; every benchmark checks its result after the timed call.
The Python-visible composite call is timed per call. The pure C++ costs (no Python at all)
come from bench/cpp/bench_hft.cpp.

Run like:
    pytest bench/bench_hft.py --benchmark-only --benchmark-disable-gc -s
    pytest bench/bench_hft.py --benchmark-disable          # once, as correctness tests
"""

from __future__ import annotations

import gzip
import math
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Any

import confluex
import numpy as np
import numpy.typing as npt
import pytest
import scipy.stats
from confluex import _core, hft

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "hftbacktest"
SPOT = DATA / "spot" / "btcusdt_20240808.gz"
N_PY = 2_000  # updates timed for the plain-Python references (they are slow)


@lru_cache(maxsize=1)
def real_scores() -> npt.NDArray[np.float64]:
    """The 0-100 confluence scores of the spot capture, one per 100 ms, tiled to >= 50k."""
    if not SPOT.is_file():
        pytest.fail(f"real data not found at {SPOT}")
    engine = _core.engine.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))
    session = _core.session.FeedSession(engine, _core.session.Venue.binance_spot)
    session.add_symbol("BTCUSDT", sym)
    session.replay(gzip.open(SPOT).read())
    s = np.ascontiguousarray(session.series()["score"], dtype=np.float64)
    return np.tile(s, max(1, 50_000 // len(s) + 1))


def seed_zscore(scores: npt.NDArray[np.float64]) -> list[float]:
    """The note's normalize_zscore (append, then np.mean/np.std of the deque) per score."""
    hist: deque[float] = deque(maxlen=1000)
    out = []
    for s in scores:
        hist.append(float(s))
        if len(hist) < 30:
            out.append((s - 50) / 50)
            continue
        m, sd = np.mean(hist), np.std(hist)
        out.append(0.0 if sd == 0 else float(np.tanh((s - m) / sd / 2)))
    return out


@pytest.mark.benchmark(group="hft-normalizer-zscore")
def test_normalizer_zscore_cpp(benchmark: Any) -> None:
    scores = real_scores()

    def run() -> npt.NDArray[np.float64]:
        return hft.ScoreNormalizer().update_many(scores, "zscore")

    out = benchmark(run)
    assert np.allclose(out[:N_PY], seed_zscore(scores[:N_PY]), atol=1e-9)


@pytest.mark.benchmark(group="hft-normalizer-zscore")
def test_normalizer_zscore_seed_python(benchmark: Any) -> None:
    scores = real_scores()[:N_PY]
    out = benchmark(seed_zscore, scores)
    assert len(out) == N_PY and all(-1 <= x <= 1 for x in out)


@pytest.mark.benchmark(group="hft-normalizer-percentile")
def test_normalizer_percentile_cpp(benchmark: Any) -> None:
    scores = real_scores()

    def run() -> npt.NDArray[np.float64]:
        return hft.ScoreNormalizer().update_many(scores, "percentile")

    out = benchmark(run)
    i = N_PY - 1
    want = (scipy.stats.percentileofscore(scores[i - 99 : i + 1], scores[i], kind="rank") - 50) / 50
    assert out[i] == pytest.approx(want, abs=1e-12)


@pytest.mark.benchmark(group="hft-normalizer-percentile")
def test_normalizer_percentile_scipy(benchmark: Any) -> None:
    scores = real_scores()[:N_PY]

    def run() -> list[float]:
        hist: deque[float] = deque(maxlen=100)
        out = []
        for s in scores:
            hist.append(float(s))
            out.append((scipy.stats.percentileofscore(list(hist), s, kind="rank") - 50) / 50)
        return out

    out = benchmark(run)
    assert len(out) == N_PY


def four_inputs(n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Directional inputs from the real scores: four lags of (s - 50)/50, and confidences."""
    d = (real_scores()[: n + 3] - 50) / 50
    x = np.ascontiguousarray(np.column_stack([d[3:], d[2:-1], d[1:-2], d[:-3]]))
    return x, np.ascontiguousarray(np.abs(x[:, ::-1]))


@pytest.mark.benchmark(group="hft-combiner")
def test_combiner_linear_cpp(benchmark: Any) -> None:
    x, _ = four_inputs(50_000)
    w = np.array([0.4, 0.3, 0.2, 0.1])
    out = benchmark(_core.hft.combine_linear_many, x, w)
    assert np.allclose(out, x @ w)


@pytest.mark.benchmark(group="hft-combiner")
def test_combiner_linear_seed_python(benchmark: Any) -> None:
    x, _ = four_inputs(N_PY)
    names = ["a", "b", "c", "d"]
    weights = dict(zip(names, [0.4, 0.3, 0.2, 0.1], strict=True))
    rows = [dict(zip(names, r, strict=True)) for r in x.tolist()]

    def run() -> list[float]:
        return [sum(r[m] * weights[m] for m in r) for r in rows]

    out = benchmark(run)
    assert np.allclose(out, x @ np.array([0.4, 0.3, 0.2, 0.1]))


def py_timeframes(d: list[float], c: list[float]) -> float:
    w = (0.4, 0.3, 0.2, 0.1)
    den = sum(wk * ck for wk, ck in zip(w, c, strict=True))
    num = sum(wk * ck * dk for wk, ck, dk in zip(w, c, d, strict=True))
    return num / den if den > 0 else 0.0


@pytest.mark.benchmark(group="hft-multi-timeframe")
def test_multi_timeframe_cpp(benchmark: Any) -> None:
    d, c = four_inputs(50_000)
    out = benchmark(_core.hft.combine_timeframes_many, d, c)
    for i in (0, 1234, 49_999):
        assert out[i, 0] == pytest.approx(py_timeframes(list(d[i]), list(c[i])), abs=1e-12)


@pytest.mark.benchmark(group="hft-multi-timeframe")
def test_multi_timeframe_python(benchmark: Any) -> None:
    d, c = four_inputs(N_PY)
    dl, cl = d.tolist(), c.tolist()

    def run() -> list[float]:
        return [py_timeframes(a, b) for a, b in zip(dl, cl, strict=True)]

    out = benchmark(run)
    assert len(out) == N_PY


def composite_inputs() -> hft.HftInputs:
    i = hft.HftInputs()
    c = i.confluence
    c.score, c.reliability, c.confidence = float(real_scores()[500]), 0.53, 0.2
    c.flow_short, c.flow_medium, c.flow_long, c.cvd = 0.2, 0.1, 0.05, 0.3
    c.ofi, c.microprice = 0.1, -0.2
    i.spread_bps, i.bid_depth, i.ask_depth, i.ofi, i.queue_imbalance = 0.02, 1e5, 2e5, 0.3, 0.2
    i.position, i.max_position, i.volatility = 0.3, 1.0, 0.004
    i.timeframes = [
        hft.TimeframeScore(0.2, 1.0),
        hft.TimeframeScore(0.1, 1.0),
        hft.TimeframeScore(-0.1, 0.5),
        hft.TimeframeScore(0.0, 0.2),
    ]
    return i


def py_composite(c: dict[str, float], m: dict[str, float]) -> dict[str, float]:
    """A plain-Python composite of the same formulas (the main terms), as the seed would run."""
    d_conf = (c["score"] - 50) / 50
    micro = (math.tanh(m["ofi"] / 0.5) + m["queue_imbalance"]) / 2
    tfd = m["tf"]
    d0 = (0.45 * d_conf + 0.30 * micro + 0.25 * tfd) / 1.0
    inv = -max(-1.0, min(1.0, m["position"] / m["max_position"]))
    d = max(-1.0, min(1.0, d0 + 0.25 * inv))
    urgency = (
        abs(d) * (0.5 + 0.5 * max(0.0, math.copysign(1, d) * micro)) * 2 / (2 + m["spread_bps"])
    )
    liq = min(min(m["bid_depth"], m["ask_depth"]) / 1e5, 1.0)
    rao = abs(d0) * c["reliability"] * (1 - 0.3 * min(m["volatility"] / 0.02, 1)) * liq
    return {
        "directional_bias": d,
        "execution_urgency": urgency,
        "risk_adjusted_opportunity": rao,
        "inventory_impact": inv,
    }


@pytest.mark.benchmark(group="hft-composite")
def test_composite_python_visible_call(benchmark: Any) -> None:
    engine = hft.HFTScoringEngine()
    i = composite_inputs()
    r = benchmark(engine.calculate_composite_score, i)
    assert -1 <= r.directional_bias <= 1 and 0 <= r.risk_adjusted_opportunity <= 1
    assert r.inventory_impact == pytest.approx(-0.3)


@pytest.mark.benchmark(group="hft-composite")
def test_composite_plain_python(benchmark: Any) -> None:
    c = {"score": float(real_scores()[500]), "reliability": 0.53}
    m = {
        "ofi": 0.3,
        "queue_imbalance": 0.2,
        "tf": 0.1,
        "position": 0.3,
        "max_position": 1.0,
        "spread_bps": 0.02,
        "bid_depth": 1e5,
        "ask_depth": 2e5,
        "volatility": 0.004,
    }
    r = benchmark(py_composite, c, m)
    assert -1 <= r["directional_bias"] <= 1
