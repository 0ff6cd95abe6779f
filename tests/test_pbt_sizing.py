"""Property tests of the sizing managers and the monitor's trade parameters.

The managers are checked against plain-Python transcriptions of the reference formulas
(reference-system §6.1 for the executor, §6.3 for the position manager), and against the
properties the traders asked for: capped, monotone, zero in the band, side-symmetric.
"""

from __future__ import annotations

import pytest
from confluex.trading import (
    ConfluencePositionSizing,
    ExecutorSizing,
    MarketMonitor,
    MonitorConfig,
    OrderIntent,
    ScoreUpdate,
    Side,
    Signal,
    Thresholds,
)
from hypothesis import given, settings
from hypothesis import strategies as st

scores = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
balances = st.floats(min_value=0.01, max_value=1e9, allow_nan=False)


@st.composite
def sizing_params(draw, symmetric=False):
    short = draw(st.floats(min_value=5.0, max_value=49.0))
    long = 100.0 - short if symmetric else draw(st.floats(min_value=short + 1.0, max_value=95.0))
    scale_short = draw(st.floats(min_value=5.0, max_value=49.0))
    scale_long = (
        100.0 - scale_short
        if symmetric
        else draw(st.floats(min_value=scale_short + 1.0, max_value=95.0))
    )
    max_pct = draw(st.floats(min_value=0.01, max_value=1.0))
    base = draw(st.floats(min_value=0.001, max_value=max_pct))
    return {
        "long_threshold": long,
        "short_threshold": short,
        "scaling_threshold": draw(st.sampled_from([None, (scale_long, scale_short)])),
        "base_position_pct": base,
        "max_position_pct": max_pct,
        "scale_factor": draw(st.floats(min_value=0.0, max_value=0.05)),
        "market_type": "swap",
    }


managers = st.sampled_from([ExecutorSizing, ConfluencePositionSizing])


def size(manager, score, balance=10_000.0):
    r = manager.decide(ScoreUpdate("X/USDT", 0, score, score, 0.0, 1.0, 100.0), balance)
    return r.quote_size if isinstance(r, OrderIntent) else 0.0


def side(manager, score):
    r = manager.decide(ScoreUpdate("X/USDT", 0, score, score, 0.0, 1.0, 100.0), 1.0)
    return r.side if isinstance(r, OrderIntent) else None


# ------------------------------------------------------------------ reference transcriptions


def ref_executor(s, bal, p):
    """§6.1 (`643691c`) sizing: entry and scaling start at the (one) entry thresholds."""
    buy, sell, base, mx, scale = (
        p["long_threshold"],
        p["short_threshold"],
        p["base_position_pct"],
        p["max_position_pct"],
        p["scale_factor"],
    )
    if s >= buy:
        delta = s - buy
    elif s <= sell:
        delta = sell - s
    else:
        return 0.0
    return min(bal * base + bal * min(delta * scale, mx - base), bal * mx)


def ref_position_manager(s, bal, p):
    """§6.3 ConfluenceBasedPositionManager.calculate_position_size, entering at the thresholds."""
    scale_long, scale_short = p["scaling_threshold"] or (p["long_threshold"], p["short_threshold"])
    pct = p["base_position_pct"]
    if s >= p["long_threshold"]:
        if s > scale_long:
            pct += (s - scale_long) * p["scale_factor"]
    elif s <= p["short_threshold"]:
        if s < scale_short:
            pct += (scale_short - s) * p["scale_factor"]
    else:
        return 0.0
    return bal * min(pct, p["max_position_pct"])


@given(p=sizing_params(), s=scores, bal=balances)
def test_executor_matches_the_reference_formula(p, s, bal):
    p = {**p, "scaling_threshold": None}

    assert size(ExecutorSizing(**p), s, bal) == pytest.approx(ref_executor(s, bal, p), rel=1e-12)


@given(p=sizing_params(), s=scores, bal=balances)
def test_position_manager_matches_the_reference_formula(p, s, bal):
    got = size(ConfluencePositionSizing(**p), s, bal)

    assert got == pytest.approx(ref_position_manager(s, bal, p), rel=1e-12)


# --------------------------------------------------------------------------- properties


@given(cls=managers, p=sizing_params(), s=scores, bal=balances)
def test_size_never_exceeds_the_cap(cls, p, s, bal):
    assert size(cls(**p), s, bal) <= bal * p["max_position_pct"]


@given(cls=managers, p=sizing_params(), a=scores, b=scores)
def test_long_size_is_non_decreasing_in_score(cls, p, a, b):
    m = cls(**p)
    lo, hi = sorted((a, b))
    if side(m, lo) is not Side.BUY:
        return  # only compare where both are longs

    assert size(m, lo) <= size(m, hi)


@given(cls=managers, p=sizing_params(), a=scores, b=scores)
def test_short_size_is_non_increasing_in_score(cls, p, a, b):
    m = cls(**p)
    lo, hi = sorted((a, b))
    if side(m, hi) is not Side.SELL:
        return

    assert size(m, lo) >= size(m, hi)


@given(cls=managers, p=sizing_params(), s=scores)
def test_zero_inside_the_neutral_band(cls, p, s):
    m = cls(**p)
    inside = p["short_threshold"] < s < p["long_threshold"]

    assert (size(m, s) == 0.0) == inside


@given(cls=managers, p=sizing_params(symmetric=True), d=st.floats(min_value=0.0, max_value=50.0))
def test_long_at_50_plus_d_equals_short_at_50_minus_d(cls, p, d):
    m = cls(**p)
    s_long = 50.0 + d
    s_short = 100.0 - s_long  # exact mirror of s_long

    assert size(m, s_short) == pytest.approx(size(m, s_long), rel=1e-9, abs=1e-9)
    if size(m, s_long) > 0:
        assert side(m, s_long) is Side.BUY
        assert side(m, s_short) is Side.SELL


@settings(max_examples=100)
@given(cls=managers, p=sizing_params(), s=scores)
def test_spot_never_sells(cls, p, s):
    m = cls(**{**p, "market_type": "spot"})

    assert side(m, s) is not Side.SELL


# ------------------------------------------------------------------ monitor parameters


@given(
    d=st.floats(min_value=0.0, max_value=50.0),
    price=st.floats(min_value=1e-6, max_value=1e7),
    rel=st.floats(min_value=0.0, max_value=1.0),
)
def test_trade_parameters_are_mirror_symmetric(d, price, rel):
    mon = MarketMonitor(Thresholds(), MonitorConfig())
    s_long = 50.0 + d

    lp = mon.trade_parameters("X", Signal.LONG, price, s_long, rel)
    sp = mon.trade_parameters("X", Signal.SHORT, price, 100.0 - s_long, rel)

    assert sp.confidence == pytest.approx(lp.confidence)
    assert sp.risk_reward == pytest.approx(lp.risk_reward)
    assert sp.quote_size == pytest.approx(lp.quote_size)
    assert sp.stop_loss - price == pytest.approx(price - lp.stop_loss)
    assert price - sp.take_profit == pytest.approx(lp.take_profit - price)


@given(
    s=scores,
    price=st.floats(min_value=1e-6, max_value=1e7),
    rel=st.floats(min_value=0.0, max_value=1.0),
    signal=st.sampled_from([Signal.LONG, Signal.SHORT]),
)
def test_stop_and_target_sit_on_the_right_sides_and_stop_loss_equals_risk(s, price, rel, signal):
    mon = MarketMonitor()

    p = mon.trade_parameters("X", signal, price, s, rel)

    if signal is Signal.LONG:
        assert p.stop_loss < price < p.take_profit
    else:
        assert 0.0 < p.take_profit < price < p.stop_loss
    assert 0.0 <= p.confidence <= 1.0
    assert 0.5 <= p.risk_pct <= 2.0
    base = p.quote_size / price
    assert base * abs(price - p.stop_loss) == pytest.approx(p.risk_amount, rel=1e-9)
