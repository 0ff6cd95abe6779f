"""Sentiment per symbol: honest missing data, and the reference system's bugs (§3.6) fixed.

Real data: freqtrade's XRP/USDT:USDT 5-minute bars and 8-hourly funding rates, and the
1-minute bars of tests/data/freqtrade/unittest_btc_1m.json.gz (a different symbol).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from confluex._core import sentiment
from confluex._core.exceptions import InvalidConfig, InvalidEvent
from confluex.sentiment_inputs import load_funding

DATA = Path(__file__).resolve().parent / "data" / "freqtrade"
KEYS = sentiment.SUB_SCORE_KEYS
MS = 1_000_000
HOUR = 3600 * 10**9
LONG, SHORT = sentiment.LiquidatedSide.Long, sentiment.LiquidatedSide.Short


def bars(name: str) -> list[list[float]]:
    rows: list[list[float]] = json.loads(gzip.decompress((DATA / name).read_bytes()))
    return rows


def feed(s: sentiment.Sentiment, rows: list[list[float]]) -> None:
    for t, o, h, lo, c, v in rows:
        s.on_bar(int(t) * MS, o, h, lo, c, v)


def available(r: sentiment.SentimentReading) -> set[str]:
    return {k for k, v in r.sub.items() if not math.isnan(v)}


def reference_funding(rate: float) -> float:
    f = max(-0.2, min(0.2, 100.0 * rate))
    return 100.0 / (1.0 + math.exp(-((50.0 - 250.0 * f - 50.0) / 50.0) / 0.15))


def test_missing_funding_is_left_out_not_a_bearish_41_7() -> None:
    # §3.6: with no funding data the reference synthesised 0.0001, which reads 41.7.
    rows = bars("xrp_usdt_usdt_5m_futures.json.gz")[:200]
    s = sentiment.Sentiment()
    feed(s, rows)
    now = int(rows[-1][0]) * MS
    r = s.reading(now)
    assert math.isnan(r.sub["funding_rate"]) and math.isnan(r.funding_rate)
    assert available(r) == {"volatility", "market_activity"}
    w = s.config.weights
    assert r.reliability == pytest.approx(
        (w["volatility"] + w["market_activity"]) / sum(w.values())
    )
    expect = (
        w["volatility"] * r.sub["volatility"] + w["market_activity"] * r.sub["market_activity"]
    ) / (w["volatility"] + w["market_activity"])
    assert r.score == pytest.approx(expect)
    assert "funding_rate" not in s.component(now).sub
    s.on_funding(now, 0.0)
    assert s.reading(now).sub["funding_rate"] == pytest.approx(50.0)
    s.on_funding(now, 0.0001)  # what the reference made up: a real 0.01 % funding does read 41.7
    assert s.reading(now).sub["funding_rate"] == pytest.approx(41.7, abs=0.05)


def test_no_input_at_all_is_no_data_with_zero_reliability() -> None:
    r = sentiment.Sentiment().reading(0)
    assert not r.has_data and r.reliability == 0.0 and r.score == 50.0
    assert available(r) == set()


def test_real_funding_replay_scores_each_published_rate_until_it_goes_stale() -> None:
    funding = load_funding(DATA / "xrp_usdt_usdt_8h_funding_rate.json.gz")
    assert len({f.value for f in funding}) > 5  # the file really varies
    live, upfront = sentiment.Sentiment(), sentiment.Sentiment()
    for f in funding:  # a replay may load the whole --funding file before the bars
        upfront.on_funding(f.ts_ns, f.value)
    assert math.isnan(upfront.reading(funding[0].ts_ns - 1).sub["funding_rate"])
    for f in funding:
        live.on_funding(f.ts_ns, f.value)
        for s in (live, upfront):
            r = s.reading(f.ts_ns + HOUR)
            assert r.funding_rate == f.value
            assert r.sub["funding_rate"] == pytest.approx(reference_funding(f.value), abs=1e-9)
    last = funding[-1].ts_ns
    assert not math.isnan(live.reading(last + 9 * HOUR).sub["funding_rate"])
    assert math.isnan(live.reading(last + 9 * HOUR + 1).sub["funding_rate"])  # stale: left out
    with pytest.raises(InvalidEvent, match="time order"):
        live.on_funding(funding[0].ts_ns, 0.0)


def test_liquidations_follow_the_long_short_mix_instead_of_always_50() -> None:
    # §3.6: the reference read liquidations from a key that was never filled: always 50.
    s = sentiment.Sentiment()
    assert math.isnan(s.reading(0).sub["liquidations"])  # no source: no data
    s.set_liquidation_source(0)
    assert s.reading(0).sub["liquidations"] == 50.0  # a live source and none happened
    s.on_liquidation(10 * 10**9, LONG, 3000.0)
    assert s.reading(20 * 10**9).sub["liquidations"] == pytest.approx(0.0)
    s.on_liquidation(15 * 10**9, SHORT, 1000.0)
    r = s.reading(20 * 10**9)
    assert r.sub["liquidations"] == pytest.approx(25.0)
    assert (r.liq_long_notional, r.liq_short_notional) == (3000.0, 1000.0)
    assert (r.liq_long_notional_short, r.liq_short_notional_short) == (3000.0, 1000.0)
    # The 5-minute window forgets them first, then the 1-hour window.
    r = s.reading(10 * 60 * 10**9)
    assert (r.liq_long_notional_short, r.liq_short_notional_short) == (0.0, 0.0)
    assert r.sub["liquidations"] == pytest.approx(25.0)
    r = s.reading(2 * HOUR)
    assert (r.liq_long_notional, r.liq_short_notional) == (0.0, 0.0)
    assert r.sub["liquidations"] == 50.0
    s.on_liquidation(2 * HOUR, SHORT, 1.0)
    with pytest.raises(InvalidEvent, match="older than the liquidation window"):
        s.on_liquidation(0, SHORT, 1.0)


def test_market_activity_compares_a_symbol_with_its_own_history() -> None:
    # §3.6: the reference kept the previous volume / OI on an instance shared by all symbols,
    # so one symbol's delta was taken against another's. Here each symbol has its own state:
    # interleaving two real symbols changes nothing.
    xrp = bars("xrp_usdt_usdt_5m_futures.json.gz")[:400]
    btc = bars("unittest_btc_1m.json.gz")[:400]
    alone_x, alone_b = sentiment.Sentiment(), sentiment.Sentiment()
    feed(alone_x, xrp)
    feed(alone_b, btc)
    mixed_x, mixed_b = sentiment.Sentiment(), sentiment.Sentiment()
    for rx, rb in zip(xrp, btc, strict=True):
        feed(mixed_x, [rx])
        feed(mixed_b, [rb])
    for alone, mixed, rows in ((alone_x, mixed_x, xrp), (alone_b, mixed_b, btc)):
        now = int(rows[-1][0]) * MS
        a, m = alone.reading(now), mixed.reading(now)
        assert a.activity_ratio == m.activity_ratio
        assert {k: str(v) for k, v in a.sub.items()} == {k: str(v) for k, v in m.sub.items()}
        # and it is this symbol's fast / slow volume EMA
        fast = slow = rows[0][5]
        for row in rows[1:]:
            fast += (row[5] - fast) / 3.0
            slow += (row[5] - slow) / 25.5
        assert a.activity_ratio == pytest.approx(fast / slow, rel=1e-12)
        direction = np.sign(rows[-1][4] - rows[-6][4])
        x2 = (fast / slow) ** 2
        assert a.sub["market_activity"] == pytest.approx(50 + 25 * (x2 - 1) / (x2 + 1) * direction)


def test_volatility_is_the_annualised_stdev_of_this_symbols_log_returns() -> None:
    rows = bars("xrp_usdt_usdt_5m_futures.json.gz")[:300]
    s = sentiment.Sentiment()
    feed(s, rows[:60])
    assert math.isnan(s.reading(0).volatility_pct)  # 59 returns: not yet
    feed(s, rows[60:])
    closes = np.array([r[4] for r in rows])
    rets = np.diff(np.log(closes))[-60:]
    want = 100 * rets.std(ddof=1) * math.sqrt(365 * 86400 / 300)
    r = s.reading(int(rows[-1][0]) * MS)
    assert r.volatility_pct == pytest.approx(want, rel=1e-9)
    v = r.volatility_pct
    expect = (
        100 - v / 30 * 20
        if v <= 30
        else (80 - (v - 30) if v <= 60 else max(0.0, 50 - (v - 60) / 90 * 50))
    )
    assert r.sub["volatility"] == pytest.approx(expect)


def test_open_interest_level_and_change_signed_by_the_price_move() -> None:
    rows = bars("xrp_usdt_usdt_5m_futures.json.gz")[:40]
    s = sentiment.Sentiment()
    feed(s, rows)
    t0, t1 = int(rows[0][0]) * MS, int(rows[-1][0]) * MS  # 39 bars = 3 h 15 min apart
    s.on_open_interest(t0, 1000.0)
    s.on_open_interest(t1, 1100.0)
    r = s.reading(t1)
    assert r.open_interest == 1100.0 and r.open_interest_change == pytest.approx(0.1)
    past_close = [row[4] for row in rows if int(row[0]) * MS <= t1 - HOUR][-1]
    direction = np.sign(rows[-1][4] - past_close)
    assert direction != 0
    assert r.sub["open_interest"] == pytest.approx(50 + 250 * 0.1 * direction)
    assert math.isnan(s.reading(t1 + 2 * HOUR + 1).sub["open_interest"])  # stale
    with pytest.raises(InvalidEvent, match="time order"):
        s.on_open_interest(t0, 5.0)
    with pytest.raises(InvalidEvent, match="-1"):
        s.on_open_interest(t1, -1.0)


def test_long_short_ratio_and_risk_tiers() -> None:
    s = sentiment.Sentiment()
    s.on_long_short(0, 3.0, 1.0)
    assert s.reading(0).sub["long_short_ratio"] == pytest.approx(75.0)
    assert math.isnan(s.reading(2 * HOUR + 1).sub["long_short_ratio"])
    tiers = [
        sentiment.RiskTier(
            risk_limit_value=2e6, max_leverage=100, initial_margin=0.01, maintenance_margin=0.005
        ),
        sentiment.RiskTier(
            risk_limit_value=4e6, max_leverage=50, initial_margin=0.02, maintenance_margin=0.01
        ),
    ]
    s.set_risk_tiers(tiers)
    want = 0.4 * (100 - 10) + 0.3 * 100 + 0.3 * (50 * 2 / 35 + 50 * 4e6 / 1.2e9)
    assert s.reading(0).sub["risk"] == pytest.approx(want)
    s.set_risk_tiers([])
    assert math.isnan(s.reading(0).sub["risk"])
    with pytest.raises(InvalidEvent, match="max_leverage"):
        s.set_risk_tiers(
            [
                sentiment.RiskTier(
                    risk_limit_value=1, max_leverage=0, initial_margin=0, maintenance_margin=0
                )
            ]
        )
    with pytest.raises(InvalidEvent, match="not both 0"):
        s.on_long_short(0, 0.0, 0.0)
    with pytest.raises(InvalidEvent, match="nan"):
        s.on_funding(0, math.nan)


@pytest.mark.parametrize("key", ["liquidation_events", "risk_score", "funding_rate_volatility"])
def test_config_keys_the_view_does_not_emit_are_rejected(key: str) -> None:
    # §3.6: the config mapped `liquidation_events` / `risk_score`, which the code never emitted.
    with pytest.raises(InvalidConfig, match=key):
        sentiment.SentimentConfig(weights={key: 0.1})
    cfg = sentiment.SentimentConfig(weights={"risk": 0.0})
    assert cfg.weights["risk"] == 0.0 and set(cfg.weights) == set(KEYS)
    with pytest.raises(InvalidConfig, match="activity"):
        sentiment.SentimentConfig(activity_fast=50, activity_slow=50)


def test_reliability_is_the_available_share_of_the_weights() -> None:
    s = sentiment.Sentiment(sentiment.SentimentConfig(weights=dict.fromkeys(KEYS, 1.0)))
    s.on_funding(0, -0.0005)
    s.on_long_short(0, 1.0, 1.0)
    r = s.reading(0)
    assert r.reliability == pytest.approx(2 / 7)
    assert r.score == pytest.approx((r.sub["funding_rate"] + 50.0) / 2)
    assert r.sub["funding_rate"] > 50  # negative funding reads bullish (contrarian)
