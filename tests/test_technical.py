"""Technical view: scale-free continuous scores, the fixes of spec §3.4, timeframe combination.

The reference system's score formulas (spec §3.4) are written out below as `ref_*` so each fix
is shown against the behaviour it replaces. Real bars: freqtrade XRP 5m and the 1m altcoin set;
synthetic series are named as such.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
import talib
from confluex._core.bars import BarBuilder, BarBuilderConfig
from confluex._core.exceptions import InvalidConfig
from confluex._core.indicators import (
    TechnicalConfig,
    TechnicalView,
    atr_score,
    cci_score,
    macd_score,
    rsi_score,
    williams_r_score,
)
from hypothesis import given
from hypothesis import strategies as st

DATA = Path(__file__).resolve().parent / "data" / "freqtrade"
NAMES = ("rsi", "macd", "ao", "williams_r", "atr", "cci")


def load(name: str) -> np.ndarray:
    with gzip.open(DATA / name, "rt") as fh:
        return np.array(json.load(fh), dtype=np.float64)


# ---- the reference system's formulas (spec §3.4), for the before/after comparisons ----------
def ref_rsi_score(r: float) -> float:
    if r > 70:
        return 50 - 50 * (r - 70) / 30
    if r < 30:
        return 50 + 50 * (30 - r) / 30
    return 50 + 1.25 * (r - 50)


def ref_williams_r_score(wr: float) -> float:
    return 100 + wr


def ref_atr_score(atr: float, d_atr: float) -> float:
    return 50 + min(5 * atr, 20) + math.copysign(min(10 * abs(d_atr), 20), d_atr)


def ref_macd_level_term(macd: float) -> float:
    return min(5 * abs(macd), 20)


def feed(view: TechnicalView, slot: int, rows: np.ndarray) -> None:
    for r in rows:
        view.on_bar(slot, r[1], r[2], r[3], r[4], r[5])


def synthetic_trend(n: int, start: float, step: float, range_growth: float) -> np.ndarray:
    """Synthetic bars: close moves by `step` a bar, the range widens by `range_growth`."""
    rows = []
    c = start
    for i in range(n):
        o = c
        c = c + step
        half = 0.5 + range_growth * i
        rows.append([60_000.0 * i, o, max(o, c) + half, min(o, c) - half, c, 10.0])
    return np.array(rows)


def test_rsi_score_is_continuous_at_30_and_70() -> None:
    eps = 1e-9
    for edge in (30.0, 70.0):
        assert abs(rsi_score(edge + eps) - rsi_score(edge - eps)) < 1e-6
        assert abs(ref_rsi_score(edge + eps) - ref_rsi_score(edge - eps)) > 24  # the old jump
    xs = np.linspace(0, 100, 10_001)
    ys = np.array([rsi_score(x) for x in xs])
    assert np.abs(np.diff(ys)).max() < 0.02
    assert rsi_score(50) == 50 and rsi_score(0) == 50 and rsi_score(100) == 50
    assert rsi_score(60) > 50 > rsi_score(40)


def test_williams_r_follows_the_rsi_convention() -> None:
    # A synthetic zig-zag uptrend (+2, -1, ...): RSI about 67, the close near the 14-bar high.
    closes = 100.0 + np.cumsum([2.0 if i % 2 == 0 else -1.0 for i in range(60)])
    rows = np.array([[0, c, c + 0.25, c - 0.25, c, 10.0] for c in closes])
    view = TechnicalView()
    feed(view, 0, rows)
    sub = view.compute()["report"]["per_timeframe"][0]
    assert sub["rsi"] > 50 and sub["williams_r"] > 50
    assert sub["rsi"] < 75 and sub["williams_r"] < 75  # both fading past their band
    # The reference scored the same bar RSI-contrarian and W%R trend-following (100 + %R).
    assert ref_rsi_score(100.0) < 50 < ref_williams_r_score(-0.0)
    assert (
        williams_r_score(-50) == 50 and williams_r_score(0) == 50 and williams_r_score(-100) == 50
    )


def test_atr_score_has_direction_not_always_bullish() -> None:
    falling = synthetic_trend(60, 500.0, -1.0, 0.05)  # synthetic: falling, volatility rising
    rising = synthetic_trend(60, 500.0, 1.0, 0.05)
    scores = {}
    for name, rows in (("falling", falling), ("rising", rising)):
        view = TechnicalView()
        feed(view, 0, rows)
        scores[name] = view.compute()["report"]["per_timeframe"][0]["atr"]
        h, lo, c = rows[:, 2], rows[:, 3], rows[:, 4]
        atr = talib.ATR(h, lo, c, 14)
        assert ref_atr_score(atr[-1], atr[-1] - atr[-2]) > 69  # the old score: "bullish"
    assert scores["falling"] < 50 < scores["rising"]
    assert scores["falling"] == pytest.approx(100 - scores["rising"], abs=1e-9)
    assert atr_score(10.0, 10.0, 3.0, 14) == 50.0


@pytest.mark.parametrize("scale", [1e-5, 50_000.0], ids=("micro_coin", "btc_scale"))
def test_macd_ao_cci_scores_do_not_depend_on_price_scale(scale: float) -> None:
    rows = load("xrp_usdt_usdt_5m_futures.json.gz")[:600]
    scaled = rows.copy()
    scaled[:, 1:5] *= scale
    ours, theirs = TechnicalView(), TechnicalView()
    feed(ours, 0, rows)
    feed(theirs, 0, scaled)
    a = ours.compute()
    b = theirs.compute()
    for name in NAMES:
        assert b["sub"][name] == pytest.approx(a["sub"][name], abs=1e-7), name
    # The reference's MACD level term min(5|MACD|, 20) saturates at BTC scale on almost every bar.
    macd = talib.MACD(scaled[:, 4], 12, 26, 9)[0][33:]
    saturated = np.mean([ref_macd_level_term(m) == 20 for m in macd])
    if scale > 1:
        assert saturated > 0.95
    assert 0 < macd_score(1.0, 0.5, 2.0) < 100
    assert macd_score(1e6, 1e6, 1.0) <= 100 and cci_score(-1e9) >= 0


def test_macd_score_tracks_trend_strength_at_btc_scale() -> None:
    # Synthetic BTC-priced trends: the old MACD level term is 20 for both, ours tells them apart.
    strengths = []
    for step in (-5.0, -50.0):
        view = TechnicalView()
        feed(view, 0, synthetic_trend(80, 60_000.0, step, 0.0) + np.array([0, 0, 0, 0, 0, 0]))
        strengths.append(view.compute()["report"]["per_timeframe"][0]["macd"])
    assert strengths[1] < strengths[0] < 50


def test_final_score_is_the_weighted_mean_of_the_sub_scores() -> None:
    rows = load("xrp_usdt_usdt_5m_futures.json.gz")[:300]
    weights = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    view = TechnicalView(TechnicalConfig(weights=weights))
    feed(view, 0, rows)
    d = view.compute()
    expect = sum(w * d["sub"][n] for w, n in zip(weights, NAMES, strict=True)) / sum(weights)
    assert d["score"] == pytest.approx(expect, abs=1e-12)
    unweighted = sum(d["sub"].values()) / 6  # the reference's mean ignored the weights
    assert d["score"] != pytest.approx(unweighted, abs=1e-6)
    assert list(d["weights"].values()) == weights


def test_timeframe_without_enough_bars_is_left_out_and_reported() -> None:
    view = TechnicalView()
    empty = view.compute()
    assert not empty["has_data"] and empty["score"] == 50.0
    assert empty["report"]["used"] == [False] * 4
    rows = load("xrp_usdt_usdt_5m_futures.json.gz")
    feed(view, 0, rows[:40])
    feed(view, 1, rows[:33])  # one bar short of MACD's 34
    d = view.compute()
    assert d["has_data"]
    assert d["report"]["used"] == [True, False, False, False]
    assert d["report"]["bars"] == [40, 33, 0, 0]
    assert all(math.isnan(x) for x in d["report"]["per_timeframe"][1].values())
    assert d["report"]["combined"] == d["report"]["per_timeframe"][0]


def test_divergence_pulls_toward_a_disagreeing_higher_timeframe() -> None:
    up = synthetic_trend(60, 100.0, 0.3, 0.0)
    down = synthetic_trend(60, 100.0, -0.3, 0.0)
    view = TechnicalView()
    feed(view, 0, up)
    feed(view, 3, down)  # htf disagrees
    d = view.compute()["report"]
    assert d["used"] == [True, False, False, True]
    for name in ("macd", "ao", "cci", "atr"):
        assert d["divergence"][name] < 0, name
        assert d["divergence"][name] >= -10 * 0.40
    same = TechnicalView()
    feed(same, 0, up)
    feed(same, 3, up)
    assert all(v == 0 for v in same.compute()["report"]["divergence"].values())


def test_view_fed_by_bar_builder_history_matches_talib_on_each_timeframe() -> None:
    rows = load("unittest_btc_1m.json.gz")
    builder = BarBuilder(BarBuilderConfig(capacity=20_000))
    builder.load_history(rows)
    view = TechnicalView()
    view.sync(builder, [3, 4, 5, 6])  # 1m, 5m, 30m, 4h
    d = view.compute()
    assert d["report"]["used"] == [True] * 4
    for slot, level in enumerate((3, 4, 5, 6)):
        bars = builder.bars(level)
        rsi = talib.RSI(bars["close"], 14)[-1]
        assert d["report"]["per_timeframe"][slot]["rsi"] == pytest.approx(rsi_score(rsi), abs=1e-9)
        assert d["report"]["bars"][slot] == len(bars)
    view.sync(builder, [3, 4, 5, 6])  # nothing new: nothing fed twice
    assert view.compute()["report"]["bars"] == d["report"]["bars"]


@given(
    closes=st.lists(st.floats(1.0, 1e6, allow_nan=False), min_size=40, max_size=80),
    spread=st.floats(0.0, 0.05),
)
def test_every_score_stays_in_0_100(closes: list[float], spread: float) -> None:
    view = TechnicalView()
    for c in closes:
        view.on_bar(0, c, c * (1 + spread), c * (1 - spread), c, 1.0)
    d = view.compute()
    assert 0 <= d["score"] <= 100
    assert all(0 <= s <= 100 for s in d["sub"].values())


def test_bad_config_and_slot_raise() -> None:
    with pytest.raises(InvalidConfig, match=r"weights\[1\] must be finite and >= 0, was -1"):
        TechnicalConfig(weights=[0.2, -1, 0.2, 0.2, 0.2, 0.2])
    with pytest.raises(InvalidConfig, match="timeframe_weights must not all be 0"):
        TechnicalConfig(timeframe_weights=[0, 0, 0, 0])
    with pytest.raises(IndexError, match="slot must be < 4, was 4"):
        TechnicalView().on_bar(4, 1, 1, 1, 1, 1)
