"""Scenario tests for TradeFlow, RollingZScore and the trade-based components."""

from __future__ import annotations

import math

import confluex
import numpy as np
import pytest
from confluex._core import trade_flow as tf
from confluex._core.exceptions import InvalidConfig, InvalidEvent

BUY, SELL, UNKNOWN = 0, 1, 2
SEC = 1_000_000_000


def small_flow(**kw: object) -> tf.TradeFlow:
    cfg = {"windows_ns": [10, 100], "zscore_window_index": 0, "capacity": 16, **kw}
    return tf.TradeFlow(tf.FlowConfig(**cfg))  # type: ignore[arg-type]


def test_default_config_has_four_windows_and_samples_the_30s_one() -> None:
    cfg = tf.FlowConfig()
    assert cfg.windows_ns == [SEC, 5 * SEC, 30 * SEC, 300 * SEC]
    assert cfg.windows_ns[cfg.zscore_window_index] == 30 * SEC
    assert tf.TradeFlow().window_count() == 4


def test_trade_at_exactly_now_minus_window_is_outside() -> None:
    flow = small_flow()
    flow.push(100, 50, 3, BUY)
    flow.push(109, 50, 4, SELL)
    before = flow.window(0).count

    flow.advance(110)  # the first trade is now at exactly now - 10

    assert before == 2
    assert flow.window(0).count == 1
    assert flow.window(0).sell_qty == 4
    assert flow.window(1).count == 2


def test_unknown_side_counts_in_volume_and_vwap_but_not_in_delta() -> None:
    flow = small_flow()
    flow.push(1, 100, 5, BUY)
    flow.push(2, 200, 5, UNKNOWN)
    w = flow.window(1)

    assert (w.buy_qty, w.sell_qty, w.unknown_qty, w.count) == (5, 0, 5, 2)
    assert w.delta == 5
    assert w.imbalance == 1.0
    assert w.vwap_ticks == pytest.approx(150.0)
    assert flow.cvd() == 5


def test_vwap_is_none_and_imbalance_zero_when_window_empty() -> None:
    flow = small_flow()
    flow.push(1, 100, 5, BUY)
    flow.advance(1_000)
    w = flow.window(1)

    assert w.count == 0
    assert w.vwap_ticks is None
    assert w.imbalance == 0.0


def test_late_trade_is_restamped_with_the_clock_and_counted() -> None:
    flow = small_flow()
    flow.push(100, 50, 1, BUY)
    flow.push(95, 50, 2, SELL)  # late: windowed as if at 100
    flow.advance(109)
    in_short_window = flow.window(0).count

    assert flow.out_of_order() == 1
    assert flow.last_ts_ns() == 109
    assert in_short_window == 2


def test_full_ring_evicts_oldest_early_and_counts_truncation() -> None:
    flow = small_flow(capacity=4)
    for i in range(6):
        flow.push(i, 10, 1 + i, BUY)
    w = flow.window(1)

    assert flow.truncated() == 2
    assert w.count == 4
    assert w.buy_qty == 3 + 4 + 5 + 6
    assert flow.cvd() == sum(range(1, 7))  # cvd is since start, not windowed


def test_time_eviction_frees_the_ring_without_truncation() -> None:
    flow = small_flow(capacity=4)
    for i in range(12):
        flow.push(i * 50, 10, 1, SELL)  # each trade leaves the 100 ns window two trades later

    assert flow.truncated() == 0
    assert flow.window(1).count == 2


def test_large_trade_stats_use_the_threshold_inclusively() -> None:
    flow = small_flow(large_trade_lots=10)
    flow.push(1, 10, 10, BUY)
    flow.push(2, 10, 9, SELL)
    flow.push(3, 10, 25, SELL)
    flow.push(4, 10, 30, UNKNOWN)
    w = flow.window(1)

    assert (w.large_count, w.large_buy_qty, w.large_sell_qty) == (3, 10, 25)


def test_zscore_takes_one_sample_per_period_crossed() -> None:
    flow = small_flow(zscore_sample_ns=10, zscore_lookback=50, zscore_min_samples=2)
    flow.push(5, 10, 1, BUY)  # clock starts at 5: first grid time is 10
    flow.push(9, 10, 1, BUY)
    no_sample_yet = flow.cvd_zscore().count()
    flow.push(10, 10, 1, BUY)  # crosses 10: samples the window as of 10, before this trade
    at_ten = flow.cvd_zscore().mean()
    flow.advance(45)  # crosses 20, 30, 40

    assert no_sample_yet == 0
    assert at_ten == 2.0
    assert flow.cvd_zscore().count() == 4


def test_advance_never_moves_time_backwards() -> None:
    flow = small_flow()
    flow.push(100, 10, 1, BUY)
    flow.advance(50)

    assert flow.last_ts_ns() == 100
    assert flow.window(0).count == 1


@pytest.mark.parametrize(
    ("px", "qty", "side", "match"),
    [
        (100, 0, BUY, "qty must be > 0, was 0"),
        (100, -3, BUY, "qty must be > 0, was -3"),
        (0, 1, BUY, "px must be > 0, was 0"),
        (-5, 1, SELL, "px must be > 0, was -5"),
        (100, 1, 7, "side must be .*, was 7"),
        (100, 1, -1, "side must be .*, was -1"),
        (100, 2**63 - 1, BUY, "qty must be at most 2\\^48 lots, was 9223372036854775807"),
        (100, 2**48 + 1, SELL, "qty must be at most 2\\^48 lots, was 281474976710657"),
    ],
    ids=(
        "qty_zero",
        "qty_negative",
        "px_zero",
        "px_negative",
        "side_7",
        "side_negative",
        "qty_int64_max",
        "qty_above_bound",
    ),
)
def test_push_of_bad_trade_raises_naming_value_and_leaves_state(
    px: int, qty: int, side: int, match: str
) -> None:
    flow = small_flow()
    flow.push(1, 10, 4, BUY)

    with pytest.raises(InvalidEvent, match=match):
        flow.push(5, px, qty, side)

    assert (flow.total_count(), flow.cvd(), flow.last_ts_ns()) == (1, 4, 1)
    assert flow.window(1).buy_qty == 4


def test_push_many_with_a_bad_record_applies_nothing() -> None:
    arr = np.zeros(3, dtype=confluex.trade_event_dtype)
    arr["ts_ns"] = [1, 2, 3]
    arr["px_ticks"] = 10
    arr["qty_lots"] = [1, 2, -9]
    flow = small_flow()

    with pytest.raises(InvalidEvent, match="record 2: qty must be > 0, was -9"):
        flow.push_many(arr)

    assert flow.total_count() == 0
    assert flow.window(1).count == 0


def test_push_many_rejects_arrays_of_another_dtype() -> None:
    flow = small_flow()
    with pytest.raises(TypeError):
        flow.push_many(np.zeros((3, 4), dtype=np.int64))  # type: ignore[arg-type]


def test_push_many_ignores_symbol_id_and_counts_every_side() -> None:
    arr = np.zeros(3, dtype=confluex.trade_event_dtype)
    arr["ts_ns"] = [1, 2, 3]
    arr["px_ticks"] = 10
    arr["qty_lots"] = [1, 2, 4]
    arr["side"] = [BUY, SELL, UNKNOWN]
    arr["symbol_id"] = [1, 2, 3]
    flow = small_flow()

    flow.push_many(arr)
    w = flow.window(1)

    assert (w.buy_qty, w.sell_qty, w.unknown_qty) == (1, 2, 4)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"windows_ns": []}, "1 to 8 windows, was 0"),
        ({"windows_ns": list(range(1, 10))}, "1 to 8 windows, was 9"),
        ({"windows_ns": [0, 5]}, r"windows_ns\[0\] must be > 0, was 0"),
        ({"windows_ns": [5, 5]}, "strictly increasing, windows_ns\\[1\\] was 5"),
        ({"capacity": 6}, "power of two .*, was 6"),
        ({"capacity": 0}, "power of two .*, was 0"),
        ({"large_trade_lots": -1}, "large_trade_lots must be >= 0, was -1"),
        ({"zscore_sample_ns": 0}, "zscore_sample_ns must be > 0, was 0"),
        ({"zscore_window_index": 4}, "zscore_window_index must be < 4 .*, was 4"),
        ({"zscore_lookback": 1}, "lookback must be >= 2, was 1"),
        ({"zscore_min_samples": 201}, "min_samples must be in .*, was 201"),
        ({"zscore_clip": 0.0}, "clip must be finite and > 0, was 0"),
    ],
    ids=(
        "no_window",
        "nine_windows",
        "zero_window",
        "not_increasing",
        "capacity_not_pow2",
        "capacity_zero",
        "negative_large",
        "zero_period",
        "zscore_index",
        "lookback",
        "min_samples",
        "clip",
    ),
)
def test_bad_flow_config_raises_invalid_config(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidConfig, match=match):
        tf.FlowConfig(**kw)  # type: ignore[arg-type]


def test_config_mutated_after_init_is_checked_by_trade_flow() -> None:
    cfg = tf.FlowConfig()
    cfg.windows_ns = [5, 3]
    with pytest.raises(InvalidConfig, match="strictly increasing"):
        tf.TradeFlow(cfg)


def test_window_index_out_of_range_raises_index_error() -> None:
    flow = small_flow()
    with pytest.raises(IndexError, match="must be < 2, was 2"):
        flow.window(2)


def test_reset_returns_to_empty_state() -> None:
    flow = small_flow(zscore_sample_ns=2, zscore_min_samples=2)
    for i in range(40):
        flow.push(i, 10, 1, i % 2)
    flow.reset()

    assert (flow.total_count(), flow.cvd(), flow.truncated(), flow.cvd_zscore().count()) == (
        0,
        0,
        0,
        0,
    )
    assert flow.window(1).count == 0
    flow.push(3, 10, 2, BUY)
    assert flow.window(0).buy_qty == 2


def test_rolling_zscore_rejects_non_finite_and_keeps_state() -> None:
    z = tf.RollingZScore(5, 2, 3.0)
    z.update(1.0)
    z.update(2.0)

    with pytest.raises(InvalidEvent, match="finite, was nan"):
        z.update(math.nan)

    assert z.count() == 2
    assert z.mean() == 1.5


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((1, 1, 3.0), "lookback"),
        ((10, 1, 3.0), "min_samples"),
        ((10, 11, 3.0), "min_samples"),
        ((10, 5, -1.0), "clip"),
        ((10, 5, math.inf), "clip"),
    ],
    ids=("lookback", "min_low", "min_high", "clip_negative", "clip_inf"),
)
def test_rolling_zscore_bad_config_raises(args: tuple[int, int, float], match: str) -> None:
    with pytest.raises(InvalidConfig, match=match):
        tf.RollingZScore(*args)


def test_rolling_zscore_is_zero_until_ready_then_clipped() -> None:
    z = tf.RollingZScore(10, 3, 1.5)
    early = [z.update(v) for v in (0.0, 1.0)]
    z.update(2.0)

    assert early == [0.0, 0.0]
    assert z.ready()
    assert z.zscore(1e9) == 1.5
    assert z.zscore(-1e9) == -1.5


def test_components_are_neutral_without_enough_trades() -> None:
    flow = small_flow()
    for i in range(5):
        flow.push(i, 10, 3, BUY)  # strongly one-sided, but only 5 trades
    cfg = tf.FlowSignalsConfig(min_trades=10)

    of = tf.compute_orderflow_component(flow, cfg)
    vol = tf.compute_volume_component(flow, cfg)

    for comp in (of, vol):
        assert comp.has_data is False
        assert comp.score == 50.0
        assert set(comp.sub.values()) == {50.0}


def test_buying_pressure_scores_bullish_and_large_weight_zero_when_disabled() -> None:
    flow = small_flow()
    for i in range(30):
        flow.push(i, 10, 5, BUY if i % 4 else SELL)
    cfg = tf.FlowSignalsConfig(min_trades=10)

    of = tf.compute_orderflow_component(flow, cfg)
    vol = tf.compute_volume_component(flow, cfg)

    assert of.has_data and vol.has_data
    assert of.score > 60.0
    assert vol.score > 60.0
    assert of.weights["large_trades"] == 0.0
    assert sum(vol.weights.values()) == pytest.approx(1.0)


def test_activity_multiplier_is_one_at_normal_activity_and_bounded() -> None:
    assert tf.activity_multiplier(1.0) == 1.0
    assert tf.activity_multiplier(0.0) == pytest.approx(2.0 / 3.0)
    assert tf.activity_multiplier(1e12) < 2.0


def test_bad_signal_config_raises_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match="sensitivity must be finite and > 0, was -1"):
        tf.FlowSignalsConfig(sensitivity=-1.0)
    cfg = tf.FlowSignalsConfig()
    cfg.min_trades = 0
    with pytest.raises(InvalidConfig, match="min_trades must be >= 1, was 0"):
        tf.compute_orderflow_component(tf.TradeFlow(), cfg)


def test_wire_trade_of_int64_max_lots_is_refused_by_the_session_and_changes_nothing() -> None:
    # Issue 7 item 13: a SYNTHETIC Binance trade whose size is 2^63 - 1 lots of 1e-8 once
    # overflowed the window sums (UBSan: signed overflow in WindowStats::total_qty).
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))
    session = confluex._core.session.FeedSession(engine, confluex._core.session.Venue.binance_spot)
    session.add_symbol("BTCUSDT", sym)

    def trade(tid: int, qty: str) -> bytes:
        return (
            b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":%d,'
            b'"p":"60000.00","q":"%s","T":1,"m":false,"M":true}}' % (tid, qty.encode())
        )

    session.on_message(trade(1, "0.50000000"), 1)
    session.on_message(trade(2, "92233720368.54775807"), 2)  # 2^63 - 1 lots
    session.on_message(trade(3, "92233720368.54775807"), 3)

    assert session.health(sym).parse_errors == 2
    assert engine.cvd(sym) == 50_000_000
    assert engine.window(sym, 0).buy_qty == 50_000_000
    assert engine.stats(sym).trades == 1
