"""Property tests: orderflow / volume components against a Python reference of their formulas,
side-swap symmetry (s -> 100 - s) and exact neutrality on balanced flow."""

from __future__ import annotations

import math
from typing import Any

from confluex._core import trade_flow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

BUY, SELL, UNKNOWN = 0, 1, 2
WEIGHTS_OF = {
    "imbalance_short": 0.15,
    "imbalance_medium": 0.20,
    "imbalance_long": 0.15,
    "cvd_zscore": 0.35,
    "large_trades": 0.15,
    "stacked_imbalance": 0.10,
    "oi_quadrant": 0.10,
    "cvd_divergence": 0.05,
}
WEIGHTS_VOL = {"volume_delta": 0.45, "notional_pressure": 0.35, "volume_delta_medium": 0.20}


def g(v: float, sens: float) -> float:
    return 50.0 + 50.0 * math.tanh(v / sens)


def evidence(n: int, min_trades: int) -> float:
    return min(1.0, n / min_trades)


def ratio(a: float, b: float) -> float:
    return (a - b) / (a + b) if a + b > 0 else 0.0


def coverage(flow: tf.TradeFlow, k: int) -> float:
    elapsed = flow.last_ts_ns() - flow.start_ts_ns()
    return min(1.0, elapsed / flow.window_ns(k)) if elapsed > 0 else 0.0


def combine(
    sub: dict[str, float],
    w: dict[str, float],
    has_data: bool,
    cover: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The weighted mean around 50; with ``cover`` (warm-up tracking) each weight is scaled
    by its window's coverage and ``warmup`` is the warm share of the weight."""
    warmup = 1.0
    if cover is not None:
        full = sum(w.values())
        w = {k: v * cover[k] for k, v in w.items()}
        warmup = sum(w.values()) / full if has_data else 0.0
    if not has_data:
        sub = dict.fromkeys(sub, 50.0)
    total = sum(w.values())
    score = 50.0 + sum(w[k] * (sub[k] - 50.0) for k in sub) / total if total > 0 else 50.0
    return {"score": score, "has_data": has_data, "sub": sub, "weights": w, "warmup": warmup}


def ref_orderflow(flow: tf.TradeFlow, cfg: tf.FlowSignalsConfig) -> dict[str, Any]:
    ws = flow.windows()
    n = len(ws)
    sub = {}
    for name, k in (
        ("imbalance_short", 0),
        ("imbalance_medium", n // 2),
        ("imbalance_long", n - 1),
    ):
        w = ws[k]
        sub[name] = g(
            evidence(w.count, cfg.min_trades) * ratio(w.buy_qty, w.sell_qty), cfg.sensitivity
        )
    z = flow.cvd_zscore()
    if z.ready():
        sub["cvd_zscore"] = 50.0 + 50.0 * flow.last_cvd_z() / z.clip()
    elif cfg.warmup:
        sub["cvd_zscore"] = 50.0
    else:
        zw = ws[flow.config().zscore_window_index]
        sub["cvd_zscore"] = 50.0 + 50.0 * math.tanh(
            cfg.cvd_fallback_gain * ratio(zw.buy_qty, zw.sell_qty)
        )
    lw = ws[-1]
    weights = dict(zip(tf.ORDERFLOW_SUB_NAMES, cfg.orderflow_weights, strict=True))
    if lw.large_buy_qty + lw.large_sell_qty > 0:
        li = ratio(lw.large_buy_qty, lw.large_sell_qty)
        sub["large_trades"] = g(evidence(lw.large_count, cfg.min_trades) * li, cfg.sensitivity)
    else:
        sub["large_trades"] = 50.0
        weights["large_trades"] = 0.0
    for extra in ("stacked_imbalance", "oi_quadrant", "cvd_divergence"):
        sub[extra], weights[extra] = 50.0, 0.0  # not supplied: no data, weight 0
    cover = {
        "imbalance_short": coverage(flow, 0),
        "imbalance_medium": coverage(flow, n // 2),
        "imbalance_long": coverage(flow, n - 1),
        "cvd_zscore": 1.0 if z.ready() else 0.0,
        "large_trades": coverage(flow, n - 1),
        "stacked_imbalance": 1.0,
        "oi_quadrant": 1.0,
        "cvd_divergence": 1.0,
    }
    return combine(sub, weights, lw.count >= cfg.min_trades, cover if cfg.warmup else None)


def ref_volume(flow: tf.TradeFlow, cfg: tf.FlowSignalsConfig) -> dict[str, Any]:
    ws = flow.windows()
    n = len(ws)
    lw, mw, sw = ws[-1], ws[n // 2], ws[0]
    elapsed = flow.last_ts_ns() - flow.start_ts_ns()
    if lw.total_qty <= 0 or elapsed <= 0:
        rv = 1.0
    else:
        short_span = min(flow.window_ns(0), elapsed)
        long_span = min(flow.window_ns(n - 1), elapsed)
        rv = (sw.total_qty / short_span) / (lw.total_qty / long_span)
    m = 2.0 * (1.0 + rv) / (3.0 + rv)
    e = evidence(lw.count, cfg.min_trades)
    sub = {
        "volume_delta": g(m * e * ratio(lw.buy_qty, lw.sell_qty), cfg.sensitivity),
        "notional_pressure": g(m * e * ratio(lw.buy_notional, lw.sell_notional), cfg.sensitivity),
        "volume_delta_medium": g(
            m * evidence(mw.count, cfg.min_trades) * ratio(mw.buy_qty, mw.sell_qty), cfg.sensitivity
        ),
    }
    cover = {
        "volume_delta": coverage(flow, n - 1),
        "notional_pressure": coverage(flow, n - 1),
        "volume_delta_medium": coverage(flow, n // 2),
    }
    weights = dict(zip(tf.VOLUME_SUB_NAMES, cfg.volume_weights, strict=True))
    return combine(sub, weights, lw.count >= cfg.min_trades, cover if cfg.warmup else None)


def assert_close(comp: Any, want: dict[str, Any]) -> None:
    got = comp.to_dict()
    assert got["has_data"] == want["has_data"]
    assert got["weights"].keys() == want["weights"].keys()
    for k, v in want["weights"].items():
        assert math.isclose(got["weights"][k], v, rel_tol=1e-12, abs_tol=1e-15), k
    assert math.isclose(comp.warmup, want["warmup"], rel_tol=1e-12, abs_tol=1e-15)
    assert got["sub"].keys() == want["sub"].keys()
    for k, v in want["sub"].items():
        assert math.isclose(got["sub"][k], v, abs_tol=1e-9), k
    assert math.isclose(got["score"], want["score"], abs_tol=1e-9)


WINDOW_SETS = [[10], [10, 50], [5, 20, 80, 300]]
trades = st.lists(
    st.tuples(
        st.one_of(st.just(0), st.integers(0, 15), st.integers(100, 400)),
        st.integers(1, 500),
        st.integers(1, 40),
        st.sampled_from([BUY, SELL, UNKNOWN]),
    ),
    max_size=150,
)
signal_cfgs = st.builds(
    tf.FlowSignalsConfig,
    min_trades=st.integers(1, 20),
    sensitivity=st.sampled_from([0.1, 0.35, 2.0]),
    cvd_fallback_gain=st.sampled_from([1.0, 3.0]),
    orderflow_weights=st.one_of(
        st.just(list(WEIGHTS_OF.values())),
        # the extras (last three) have no data here: the first five need weight of their own
        st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8).filter(lambda w: sum(w[:5]) > 0.01),
    ),
    volume_weights=st.one_of(
        st.just(list(WEIGHTS_VOL.values())),
        st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda w: sum(w) > 0.01),
    ),
    warmup=st.booleans(),
)


def flow_cfg(windows: list[int], large: int, min_samples: int) -> tf.FlowConfig:
    return tf.FlowConfig(
        windows_ns=windows,
        large_trade_lots=large,
        capacity=256,
        zscore_sample_ns=7,
        zscore_window_index=len(windows) - 1,
        zscore_lookback=20,
        zscore_min_samples=min_samples,
    )


def run(
    cfg: tf.FlowConfig, stream: list[tuple[int, int, int, int]], swap: bool = False
) -> tf.TradeFlow:
    flow = tf.TradeFlow(cfg)
    ts = 0
    for dt, px, qty, side in stream:
        ts += dt
        if swap and side != UNKNOWN:
            side = 1 - side
        flow.push(ts, px, qty, side)
    return flow


@settings(max_examples=120)
@given(
    windows=st.sampled_from(WINDOW_SETS),
    large=st.sampled_from([0, 10, 30]),
    min_samples=st.sampled_from([2, 5, 20]),
    stream=trades,
    scfg=signal_cfgs,
)
def test_components_match_reference_and_flip_on_side_swap(
    windows: list[int],
    large: int,
    min_samples: int,
    stream: list[tuple[int, int, int, int]],
    scfg: tf.FlowSignalsConfig,
) -> None:
    cfg = flow_cfg(windows, large, min_samples)
    flow = run(cfg, stream)
    mirror = run(cfg, stream, swap=True)

    of, vol = tf.compute_orderflow_component(flow, scfg), tf.compute_volume_component(flow, scfg)
    of_m = tf.compute_orderflow_component(mirror, scfg)
    vol_m = tf.compute_volume_component(mirror, scfg)

    assert_close(of, ref_orderflow(flow, scfg))
    assert_close(vol, ref_volume(flow, scfg))
    for a, b in ((of, of_m), (vol, vol_m)):
        assert 0.0 <= a.score <= 100.0
        assert math.isclose(a.score + b.score, 100.0, abs_tol=1e-9)
        for k, v in a.sub.items():
            assert 0.0 <= v <= 100.0
            assert math.isclose(v + b.sub[k], 100.0, abs_tol=1e-9), k


@settings(max_examples=80)
@given(
    windows=st.sampled_from(WINDOW_SETS),
    large=st.sampled_from([0, 10]),
    pairs=st.lists(
        st.tuples(st.integers(0, 60), st.integers(1, 500), st.integers(1, 40), st.integers(0, 3)),
        max_size=80,
    ),
    scfg=signal_cfgs,
)
def test_balanced_flow_scores_exactly_fifty(
    windows: list[int],
    large: int,
    pairs: list[tuple[int, int, int, int]],
    scfg: tf.FlowSignalsConfig,
) -> None:
    # Every buy is matched by a sell of the same size and stamp; unknown-side trades (which
    # carry no direction) are sprinkled in. Activity varies wildly, direction never exists.
    stream: list[tuple[int, int, int, int]] = []
    for dt, px, qty, n_unknown in pairs:
        stream += [(dt, px, qty, BUY), (0, px, qty, SELL)]
        stream += [(0, px, qty + 3, UNKNOWN)] * n_unknown
    flow = run(flow_cfg(windows, large, 2), stream)

    for comp in (
        tf.compute_orderflow_component(flow, scfg),
        tf.compute_volume_component(flow, scfg),
    ):
        assert comp.score == 50.0
        assert all(v == 50.0 for v in comp.sub.values())


def test_sub_score_weights_are_validated_naming_the_value() -> None:
    import pytest
    from confluex import InvalidConfig

    with pytest.raises(InvalidConfig, match=r"orderflow_weights\[cvd_zscore\] must be .*, was -1"):
        tf.FlowSignalsConfig(orderflow_weights=[0.1, 0.1, 0.1, -1.0, 0.1, 0.1, 0.1, 0.1])
    with pytest.raises(InvalidConfig, match="volume_weights must have a finite positive sum"):
        tf.FlowSignalsConfig(volume_weights=[0.0, 0.0, 0.0])
