"""Property tests: the C++ Sentiment against plain-Python references of each sub-score input.

Liquidation windows (time buckets), the funding / open-interest series read "at or before
now" with their max age, the OI change signed by the price move, volatility and activity.
"""

from __future__ import annotations

import math

import pytest
from confluex._core import sentiment
from hypothesis import given, settings
from hypothesis import strategies as st

SEC = 10**9
WINDOW = 3600 * SEC
SHORT = 300 * SEC
BUCKET = WINDOW // 60


def ref_liquidations(
    events: list[tuple[int, int, float]], now: int
) -> tuple[float, float, float, float]:
    """Sums of long / short notional over the 60 one-minute buckets (and the last 5) up to now."""
    now_idx = now // BUCKET
    ll = ls = sl = ss = 0.0
    for ts, side, notional in events:
        idx = ts // BUCKET
        if now_idx - 60 < idx <= now_idx:
            if side == 1:
                ll += notional
            else:
                ls += notional
            if idx > now_idx - SHORT // BUCKET:
                if side == 1:
                    sl += notional
                else:
                    ss += notional
    return ll, ls, sl, ss


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.integers(0, 3 * WINDOW), st.sampled_from([1, 2]), st.integers(0, 10**6)),
        max_size=60,
    ),
    st.integers(0, 2 * WINDOW),
)
def test_liquidation_windows_match_the_reference(
    raw: list[tuple[int, int, int]], after: int
) -> None:
    events = sorted((ts, side, float(n)) for ts, side, n in raw)
    s = sentiment.Sentiment()
    s.set_liquidation_source(0)
    for ts, side, n in events:
        s.on_liquidation(ts, sentiment.LiquidatedSide(side), n)
    now = (events[-1][0] if events else 0) + after
    r = s.reading(now)
    ll, ls, sl, ss = ref_liquidations(events, now)
    got = (
        r.liq_long_notional,
        r.liq_short_notional,
        r.liq_long_notional_short,
        r.liq_short_notional_short,
    )
    assert got == pytest.approx((ll, ls, sl, ss), rel=1e-12, abs=1e-9)
    want = 100.0 * (1.0 - ll / (ll + ls)) if ll + ls > 0 else 50.0
    assert r.sub["liquidations"] == pytest.approx(want, abs=1e-9)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(1, 4 * 3600), st.floats(0.0, 1e6)), min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(1, 1800), st.floats(1.0, 100.0)), min_size=1, max_size=40),
    st.integers(0, 40 * 3600),
)
def test_open_interest_and_funding_read_the_sample_at_or_before_now(
    oi_steps: list[tuple[int, float]], bar_steps: list[tuple[int, float]], now_s: int
) -> None:
    s = sentiment.Sentiment()
    oi, t = [], 0
    for dt, v in oi_steps:
        t += dt * SEC
        oi.append((t, v))
        s.on_open_interest(t, v)
        s.on_funding(t, v / 1e8)
    closes, t = [], 0
    for dt, c in bar_steps:
        t += dt * SEC
        closes.append((t, c))
        s.on_bar(t, c, c, c, c, 1.0)
    now = now_s * SEC
    r = s.reading(now)

    def at_or_before(series: list[tuple[int, float]], ts: int) -> tuple[int, float] | None:
        hits = [x for x in series if x[0] <= ts]
        return hits[-1] if hits else None

    cur = at_or_before(oi, now)
    fresh = cur is not None and now - cur[0] <= 2 * 3600 * SEC
    assert math.isnan(r.open_interest) == (not fresh)
    funding_fresh = cur is not None and now - cur[0] <= 9 * 3600 * SEC
    assert math.isnan(r.funding_rate) == (not funding_fresh)
    if funding_fresh and cur is not None:
        assert r.funding_rate == cur[1] / 1e8
    want = math.nan
    if fresh and cur is not None:
        assert r.open_interest == cur[1]
        past = at_or_before(oi, now - 3600 * SEC)
        p_now, p_past = at_or_before(closes, now), at_or_before(closes, now - 3600 * SEC)
        if past is not None and past[1] > 0:
            change = (cur[1] - past[1]) / past[1]
            assert r.open_interest_change == pytest.approx(change)
            if p_now is not None and p_past is not None:
                d = (p_now[1] > p_past[1]) - (p_now[1] < p_past[1])
                want = 50.0 + 250.0 * max(-0.2, min(0.2, change)) * d
    got = r.sub["open_interest"]
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-9)


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(st.floats(0.5, 2.0), st.floats(0.0, 1000.0)),
        min_size=2,
        max_size=150,
    )
)
def test_volatility_and_activity_match_the_reference(rows: list[tuple[float, float]]) -> None:
    s = sentiment.Sentiment()
    closes, vols, c = [], [], 100.0
    for i, (g, v) in enumerate(rows):
        c *= g
        closes.append(c)
        vols.append(v)
        s.on_bar(i * 60 * SEC, c, c, c, c, v)
    r = s.reading(len(rows) * 60 * SEC)
    rets = [math.log(closes[i] / closes[i - 1]) for i in range(1, len(closes))][-60:]
    if len(rets) < 60:
        assert math.isnan(r.volatility_pct) and math.isnan(r.sub["volatility"])
    else:
        m = sum(rets) / 60
        sd = math.sqrt(sum((x - m) ** 2 for x in rets) / 59)
        assert r.volatility_pct == pytest.approx(100 * sd * math.sqrt(365 * 1440), rel=1e-9)
    fast = slow = vols[0]
    for v in vols[1:]:
        fast += (v - fast) / 3.0
        slow += (v - slow) / 25.5
    if len(rows) < 50 or slow <= 0:
        assert math.isnan(r.sub["market_activity"])
    else:
        x2 = (fast / slow) ** 2
        d = (closes[-1] > closes[-6]) - (closes[-1] < closes[-6])
        assert r.sub["market_activity"] == pytest.approx(
            50 + 25 * (x2 - 1) / (x2 + 1) * d, abs=1e-9
        )
