"""ExecutorSizing and ConfluencePositionSizing: worked examples, gates and order intents."""

from __future__ import annotations

import pytest
from confluex.trading import (
    ConfluencePositionSizing,
    ExecutorSizing,
    MarketMonitor,
    OrderIntent,
    Rejection,
    RejectReason,
    ScoreUpdate,
    Side,
    Signal,
    TradeParameters,
    load_config,
)

BAL = 10_000.0


def upd(score, *, reliability=1.0, price=50_000.0, symbol="BTC/USDT:USDT", ts=7):
    return ScoreUpdate(symbol, ts, score, score, 0.0, reliability, price)


def pct_of(result):
    assert isinstance(result, OrderIntent), result
    return result.quote_size / BAL


def reason_of(result):
    assert isinstance(result, Rejection), result
    return result.reason


# ------------------------------------------------------- ConfluencePositionSizing (§6.3)


@pytest.fixture
def pm_code():
    """The reference code's 75/25 scaling thresholds (the `reference` preset)."""
    return ConfluencePositionSizing.from_config(load_config(preset="reference"), "swap")


@pytest.fixture
def pm_default():
    """The review's 69/31 scaling thresholds (our default)."""
    return ConfluencePositionSizing.from_config(load_config(), "swap")


@pytest.mark.parametrize(
    ("side_score", "expected_pct"),
    [(80.0, 0.08), (72.0, 0.03), (20.0, 0.08), (90.0, 0.10)],
)
def test_position_manager_worked_examples_with_75_25_thresholds(pm_code, side_score, expected_pct):
    r = pm_code.decide(upd(side_score), BAL)

    assert pct_of(r) == pytest.approx(expected_pct)


@pytest.mark.parametrize(
    ("side_score", "expected_pct"),
    [(80.0, 0.10), (72.0, 0.06), (70.0, 0.04), (20.0, 0.10), (28.0, 0.06), (90.0, 0.10)],
)
def test_position_manager_same_examples_with_69_31_defaults(pm_default, side_score, expected_pct):
    r = pm_default.decide(upd(side_score), BAL)

    assert pct_of(r) == pytest.approx(expected_pct)


def test_position_manager_sides_follow_the_score(pm_default):
    assert pm_default.decide(upd(80.0), BAL).side is Side.BUY
    assert pm_default.decide(upd(20.0), BAL).side is Side.SELL


@pytest.mark.parametrize("score", [69.99, 50.0, 35.01])
def test_position_manager_between_the_thresholds_is_neutral(pm_default, score):
    assert reason_of(pm_default.decide(upd(score), BAL)) is RejectReason.NEUTRAL_BAND


def test_position_manager_entry_is_inclusive_on_both_sides(pm_default):
    assert isinstance(pm_default.decide(upd(70.0), BAL), OrderIntent)
    assert isinstance(pm_default.decide(upd(35.0), BAL), OrderIntent)


def test_position_manager_intent_carries_the_trailing_stop(pm_default):
    r = pm_default.decide(upd(80.0), BAL)

    assert isinstance(r, OrderIntent)
    assert r.trailing_stop_pct == 0.02
    assert r.manager == "confluence"
    assert r.ts_ns == 7
    assert r.reference_price == 50_000.0


# ------------------------------------------------------------------------ ExecutorSizing


@pytest.fixture
def ex_open():
    """Executor entering at 68/35 (the review's TradeExecutor thresholds)."""
    return ExecutorSizing.from_config(
        load_config({"confluence": {"thresholds": {"long": 68, "short": 35}}}), "swap"
    )


def test_executor_at_exactly_the_threshold_gets_the_base(ex_open):
    assert pct_of(ex_open.decide(upd(68.0), BAL)) == pytest.approx(0.03)
    assert pct_of(ex_open.decide(upd(35.0), BAL)) == pytest.approx(0.03)


def test_executor_adds_one_percent_per_point_beyond_the_threshold(ex_open):
    assert pct_of(ex_open.decide(upd(72.0), BAL)) == pytest.approx(0.07)
    assert pct_of(ex_open.decide(upd(31.0), BAL)) == pytest.approx(0.07)


def test_executor_caps_at_ten_percent(ex_open):
    assert pct_of(ex_open.decide(upd(95.0), BAL)) == pytest.approx(0.10)
    assert pct_of(ex_open.decide(upd(0.0), BAL)) == pytest.approx(0.10)


@pytest.mark.parametrize("score", [67.99, 50.0, 35.01])
def test_executor_zero_strictly_between_sell_and_buy(ex_open, score):
    assert reason_of(ex_open.decide(upd(score), BAL)) is RejectReason.NEUTRAL_BAND


def test_executor_with_defaults_enters_and_scales_at_the_70_35_thresholds():
    ex = ExecutorSizing.from_config(load_config(), "swap")

    at_69 = ex.decide(upd(69.99), BAL)
    at_70 = ex.decide(upd(70.0), BAL)
    at_33 = ex.decide(upd(33.0), BAL)

    assert reason_of(at_69) is RejectReason.NEUTRAL_BAND
    assert "35 < score 69.99 < 70" in at_69.detail
    assert pct_of(at_70) == pytest.approx(0.03)
    assert pct_of(at_33) == pytest.approx(0.05)  # base + (35 - 33) points


def test_monitor_and_both_managers_read_the_one_threshold_pair():
    cfg = load_config({"confluence": {"thresholds": {"long": 80, "short": 20}}})
    managers = [
        ExecutorSizing.from_config(cfg, "swap"),
        ConfluencePositionSizing.from_config(cfg, "swap"),
    ]
    monitor = MarketMonitor.from_config(cfg)

    for m in managers:
        assert m.thresholds == (80.0, 20.0)
        assert reason_of(m.decide(upd(79.0), BAL)) is RejectReason.NEUTRAL_BAND
        assert reason_of(m.decide(upd(21.0), BAL)) is RejectReason.NEUTRAL_BAND
        assert isinstance(m.decide(upd(80.0), BAL), OrderIntent)
        assert isinstance(m.decide(upd(20.0), BAL), OrderIntent)
    assert [monitor.classify(s) for s in (79.0, 80.0, 21.0, 20.0)] == [
        Signal.NEUTRAL,
        Signal.LONG,
        Signal.NEUTRAL,
        Signal.SHORT,
    ]


def test_executor_intent_has_no_trailing_stop_and_names_itself(ex_open):
    r = ex_open.decide(upd(70.0), BAL)

    assert isinstance(r, OrderIntent)
    assert r.trailing_stop_pct is None
    assert r.manager == "executor"


# ------------------------------------------------------------------- shared rules


@pytest.mark.parametrize("cls", [ExecutorSizing, ConfluencePositionSizing])
def test_spot_market_cannot_short(cls):
    m = cls.from_config(load_config(), "spot")

    short = m.decide(upd(10.0), BAL)
    long = m.decide(upd(90.0), BAL)

    assert reason_of(short) is RejectReason.SPOT_SHORT
    assert short.reason.value == "spot markets cannot short"
    assert isinstance(long, OrderIntent)


@pytest.mark.parametrize("cls", [ExecutorSizing, ConfluencePositionSizing])
def test_low_reliability_is_rejected(cls):
    m = cls.from_config(load_config(), "swap")

    assert reason_of(m.decide(upd(90.0, reliability=0.29), BAL)) is RejectReason.LOW_RELIABILITY


@pytest.mark.parametrize("cls", [ExecutorSizing, ConfluencePositionSizing])
def test_zero_balance_is_a_zero_size_rejection(cls):
    m = cls.from_config(load_config(), "swap")

    assert reason_of(m.decide(upd(90.0), 0.0)) is RejectReason.ZERO_SIZE


@pytest.mark.parametrize("balance", [-1.0, float("nan"), float("inf")])
def test_bad_balance_is_a_caller_error(balance):
    m = ConfluencePositionSizing.from_config(load_config(), "swap")

    with pytest.raises(ValueError, match="balance must be a finite number >= 0"):
        m.decide(upd(90.0), balance)


@pytest.mark.parametrize("price", [0.0, float("nan")])
def test_unusable_price_is_rejected(price):
    m = ConfluencePositionSizing.from_config(load_config(), "swap")

    assert reason_of(m.decide(upd(90.0, price=price), BAL)) is RejectReason.INVALID_PRICE


def test_size_is_quote_currency_not_base_units():
    m = ConfluencePositionSizing.from_config(load_config(preset="reference"), "swap")

    r = m.decide(upd(80.0, price=60_000.0), BAL)

    assert isinstance(r, OrderIntent)
    assert r.quote_size == pytest.approx(800.0)  # 8 % of 10 000 USDT, not 800 BTC
    assert r.quote_size / r.reference_price == pytest.approx(800.0 / 60_000.0)


def test_monitor_parameters_carry_stop_and_take_profit_into_the_intent():
    cfg = load_config()
    mon = MarketMonitor.from_config(cfg)
    m = ConfluencePositionSizing.from_config(cfg, "swap")
    u = upd(80.0, price=100.0)

    params = mon.on_score(u)
    assert isinstance(params, TradeParameters)
    r = m.decide(u, BAL, params)

    assert isinstance(r, OrderIntent)
    assert r.stop_loss == params.stop_loss
    assert r.take_profit == params.take_profit


def test_monitor_signal_that_disagrees_with_the_manager_is_a_conflict():
    m = ConfluencePositionSizing.from_config(load_config(), "swap")
    params = MarketMonitor().trade_parameters("X", Signal.SHORT, 100.0, 80.0, 1.0)

    r = m.decide(upd(80.0, price=100.0), BAL, params)

    assert reason_of(r) is RejectReason.DIRECTION_CONFLICT


def test_position_pct_ignores_gates_and_caps():
    m = ExecutorSizing(long_threshold=68, short_threshold=35)

    assert m.position_pct(Side.BUY, 60.0) == pytest.approx(0.03)
    assert m.position_pct(Side.BUY, 70.0) == pytest.approx(0.05)
    assert m.position_pct(Side.SELL, 5.0) == pytest.approx(0.10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"long_threshold": 30, "short_threshold": 35}, "0 <= short < long <= 100"),
        ({"base_position_pct": 0.2}, "0 < base <= max <= 1"),
        ({"scaling_threshold": (30, 35)}, "scaling thresholds must satisfy 0 <= short < long"),
        ({"market_type": "future"}, "market_type must be 'spot' or 'swap'"),
        ({"scale_factor": -0.01}, r"scale_factor must be in \[0, 1\]"),
    ],
)
def test_direct_construction_validates(kwargs, message):
    args = {"long_threshold": 69, "short_threshold": 31, **kwargs}

    with pytest.raises(ValueError, match=message):
        ConfluencePositionSizing(**args)
