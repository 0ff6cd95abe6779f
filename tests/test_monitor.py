"""MarketMonitor: classification, gates, hysteresis, cooldown and §5.2 trade parameters."""

from __future__ import annotations

import pytest
from confluex.trading import (
    MarketMonitor,
    MonitorConfig,
    Rejection,
    RejectReason,
    ScoreUpdate,
    Signal,
    Thresholds,
    TradeParameters,
    load_config,
)

S = 1_000_000_000  # one second in ns


def upd(score, *, ts=0, reliability=1.0, price=100.0, symbol="BTC/USDT"):
    return ScoreUpdate(
        symbol=symbol,
        ts_ns=ts,
        score=score,
        score_raw=score,
        confidence=0.0,
        reliability=reliability,
        price=price,
    )


def monitor(**monitor_kw):
    thresholds = monitor_kw.pop("thresholds", Thresholds())
    return MarketMonitor(thresholds, MonitorConfig(**monitor_kw))


# ----------------------------------------------------------------------- §5.2 worked example


def test_worked_example_buy_price_100_score_75_reliability_08():
    mon = monitor()

    p = mon.on_score(upd(75.0, reliability=0.8))

    assert isinstance(p, TradeParameters)
    assert p.signal is Signal.LONG
    assert p.risk_pct == pytest.approx(0.8)
    assert p.risk_amount == pytest.approx(80.0)
    assert p.stop_loss == pytest.approx(97.0)
    assert p.quote_size / p.entry_price == pytest.approx(26.6667, abs=1e-4)  # base units
    assert p.quote_size == pytest.approx(80.0 / 3.0 * 100.0)
    assert p.risk_reward == pytest.approx(2.5)
    assert p.take_profit == pytest.approx(107.5)
    assert p.confidence == pytest.approx(0.5)  # |75 - 50| / 50, not the reference's 0.75


def test_worked_example_mirrored_short_at_score_25_is_as_strong_as_the_long():
    mon = monitor()

    p = mon.on_score(upd(25.0, reliability=0.8))

    assert isinstance(p, TradeParameters)
    assert p.signal is Signal.SHORT
    assert p.risk_amount == pytest.approx(80.0)
    assert p.stop_loss == pytest.approx(103.0)
    assert p.quote_size / p.entry_price == pytest.approx(26.6667, abs=1e-4)
    assert p.risk_reward == pytest.approx(2.5)  # the reference gave 1.5 here
    assert p.take_profit == pytest.approx(92.5)
    assert p.confidence == pytest.approx(0.5)  # the reference gave 0.25 here


def test_risk_pct_is_clipped_to_min_and_max():
    mon = monitor(default_risk_pct=1.5, min_risk_pct=0.5, max_risk_pct=2.0)

    low = mon.trade_parameters("X", Signal.LONG, 100.0, 80.0, 0.1)
    high_cfg = monitor(default_risk_pct=2.0, min_risk_pct=0.5, max_risk_pct=2.0)
    full = high_cfg.trade_parameters("X", Signal.LONG, 100.0, 80.0, 1.0)

    assert low.risk_pct == 0.5
    assert low.risk_amount == pytest.approx(10_000 * 0.005)
    assert full.risk_pct == 2.0


def test_loss_at_stop_equals_risk_amount_on_both_sides():
    mon = monitor(long_stop_pct=2.0, short_stop_pct=4.0)

    long_p = mon.trade_parameters("X", Signal.LONG, 250.0, 90.0, 0.6)
    short_p = mon.trade_parameters("X", Signal.SHORT, 250.0, 10.0, 0.6)

    for p in (long_p, short_p):
        base = p.quote_size / p.entry_price
        assert base * abs(p.entry_price - p.stop_loss) == pytest.approx(p.risk_amount)
    assert short_p.stop_loss == pytest.approx(260.0)
    assert long_p.stop_loss == pytest.approx(245.0)


def test_account_balance_override_scales_the_risk_amount():
    mon = MarketMonitor(account_balance=2_000.0)

    p = mon.trade_parameters("X", Signal.LONG, 100.0, 75.0, 1.0)

    assert p.risk_amount == pytest.approx(20.0)


def test_trade_parameters_for_neutral_is_an_error():
    with pytest.raises(ValueError, match="was NEUTRAL"):
        MarketMonitor().trade_parameters("X", Signal.NEUTRAL, 100.0, 50.0, 1.0)


def test_bad_balance_is_rejected():
    with pytest.raises(ValueError, match=r"account balance must be a finite number > 0, was -1"):
        MarketMonitor().set_balance(-1.0)


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (70.0, Signal.LONG),
        (69.99, Signal.NEUTRAL),
        (35.0, Signal.SHORT),
        (35.01, Signal.NEUTRAL),
        (100.0, Signal.LONG),
        (0.0, Signal.SHORT),
        (50.0, Signal.NEUTRAL),
    ],
)
def test_classification_uses_inclusive_thresholds(score, expected):
    assert MarketMonitor().classify(score) is expected


def test_monitor_from_config_uses_the_single_threshold_source():
    cfg = load_config({"confluence": {"thresholds": {"long": 60, "short": 40}}})
    mon = MarketMonitor.from_config(cfg)

    r = mon.on_score(upd(61.0))

    assert isinstance(r, TradeParameters)
    assert r.signal is Signal.LONG


def test_neutral_update_is_a_neutral_band_rejection_and_counted():
    mon = monitor()

    r = mon.on_score(upd(55.0))

    assert r == Rejection(RejectReason.NEUTRAL_BAND)
    assert mon.counters.neutral == 1
    assert mon.counters.signals == 0


# -------------------------------------------------------------------------------- gates


def test_low_reliability_is_dropped_and_counted():
    mon = monitor(min_reliability=0.3)

    r = mon.on_score(upd(80.0, reliability=0.29))
    ok = mon.on_score(upd(80.0, reliability=0.3, ts=1))

    assert isinstance(r, Rejection) and r.reason is RejectReason.LOW_RELIABILITY
    assert isinstance(ok, TradeParameters)
    assert mon.counters.low_reliability == 1


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_unusable_price_is_dropped_and_counted(price):
    mon = monitor()

    r = mon.on_score(upd(80.0, price=price))

    assert isinstance(r, Rejection) and r.reason is RejectReason.INVALID_PRICE
    assert mon.counters.invalid_price == 1


@pytest.mark.parametrize("score", [-0.1, 100.1, float("nan")])
def test_score_outside_0_100_is_a_producer_bug(score):
    with pytest.raises(ValueError, match=r"ScoreUpdate\.score must be in \[0, 100\]"):
        monitor().on_score(upd(score))


def test_reliability_outside_0_1_is_a_producer_bug():
    with pytest.raises(ValueError, match=r"ScoreUpdate\.reliability must be in \[0, 1\], was 1\.5"):
        monitor().on_score(upd(80.0, reliability=1.5))


def test_cooldown_blocks_a_second_signal_until_cooldown_elapsed_on_update_time():
    mon = monitor(cooldown_s=60.0, thresholds=Thresholds(70, 35, 0))

    first = mon.on_score(upd(80.0, ts=0))
    flip = mon.on_score(upd(20.0, ts=59 * S))
    after = mon.on_score(upd(20.0, ts=60 * S))

    assert isinstance(first, TradeParameters)
    assert isinstance(flip, Rejection) and flip.reason is RejectReason.COOLDOWN
    assert isinstance(after, TradeParameters) and after.signal is Signal.SHORT
    assert mon.counters.cooldown == 1


def test_cooldown_is_per_symbol():
    mon = monitor(cooldown_s=60.0)

    a = mon.on_score(upd(80.0, ts=0, symbol="BTC/USDT"))
    b = mon.on_score(upd(80.0, ts=1, symbol="ETH/USDT"))

    assert isinstance(a, TradeParameters)
    assert isinstance(b, TradeParameters)


def test_dropped_signal_does_not_start_a_cooldown():
    mon = monitor(cooldown_s=60.0)

    mon.on_score(upd(80.0, ts=0, reliability=0.0))
    r = mon.on_score(upd(80.0, ts=1 * S))

    assert isinstance(r, TradeParameters)


# ----------------------------------------------------------------------------- hysteresis


def test_same_direction_waits_until_score_falls_below_long_minus_buffer():
    mon = monitor(cooldown_s=0.0, thresholds=Thresholds(long=70, short=35, neutral_buffer=5))

    first = mon.on_score(upd(75.0, ts=0))
    still_high = mon.on_score(upd(72.0, ts=1))
    dip_to_65 = mon.on_score(upd(65.0, ts=2))
    back_up = mon.on_score(upd(71.0, ts=3))
    dip_below = mon.on_score(upd(64.9, ts=4))
    again = mon.on_score(upd(71.0, ts=5))

    assert isinstance(first, TradeParameters)
    assert isinstance(still_high, Rejection) and still_high.reason is RejectReason.HYSTERESIS
    assert dip_to_65 == Rejection(RejectReason.NEUTRAL_BAND)
    assert isinstance(back_up, Rejection) and back_up.reason is RejectReason.HYSTERESIS
    assert dip_below == Rejection(RejectReason.NEUTRAL_BAND)
    assert isinstance(again, TradeParameters)
    assert mon.counters.hysteresis == 2


def test_short_side_rearms_above_short_plus_buffer():
    mon = monitor(cooldown_s=0.0, thresholds=Thresholds(long=70, short=35, neutral_buffer=5))

    first = mon.on_score(upd(30.0, ts=0))
    at_40 = mon.on_score(upd(40.0, ts=1))
    blocked = mon.on_score(upd(34.0, ts=2))
    mon.on_score(upd(40.1, ts=3))
    again = mon.on_score(upd(34.0, ts=4))

    assert isinstance(first, TradeParameters)
    assert at_40 == Rejection(RejectReason.NEUTRAL_BAND)
    assert isinstance(blocked, Rejection) and blocked.reason is RejectReason.HYSTERESIS
    assert isinstance(again, TradeParameters) and again.signal is Signal.SHORT


def test_zero_buffer_is_edge_triggered():
    mon = monitor(cooldown_s=0.0, thresholds=Thresholds(long=70, short=35, neutral_buffer=0))

    mon.on_score(upd(70.0, ts=0))
    held = mon.on_score(upd(70.0, ts=1))
    mon.on_score(upd(69.99, ts=2))
    again = mon.on_score(upd(70.0, ts=3))

    assert isinstance(held, Rejection) and held.reason is RejectReason.HYSTERESIS
    assert isinstance(again, TradeParameters)


def test_opposite_direction_is_not_held_by_hysteresis():
    mon = monitor(cooldown_s=0.0)

    mon.on_score(upd(80.0, ts=0))
    flip = mon.on_score(upd(20.0, ts=1))

    assert isinstance(flip, TradeParameters) and flip.signal is Signal.SHORT


def test_reset_forgets_hysteresis_and_cooldown():
    mon = monitor(cooldown_s=60.0)
    mon.on_score(upd(80.0, ts=0))

    mon.reset("BTC/USDT")
    r = mon.on_score(upd(80.0, ts=1))

    assert isinstance(r, TradeParameters)


def test_counters_account_for_every_update():
    mon = monitor(cooldown_s=10.0)
    scores = [80, 81, 55, 20, 60, 75, 10, 90, 40, 30]

    for i, s in enumerate(scores):
        mon.on_score(upd(float(s), ts=i * S, reliability=0.2 if i == 7 else 1.0))

    c = mon.counters
    assert c.updates == len(scores)
    assert c.updates == c.signals + c.neutral + c.dropped
    assert c.low_reliability == 1
    assert set(c.as_dict()) == {
        "updates",
        "signals",
        "neutral",
        "low_reliability",
        "hysteresis",
        "cooldown",
        "invalid_price",
    }
