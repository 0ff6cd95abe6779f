"""Property tests: the market-making kernels (confluex._core.mm) against plain-Python
references (tests/mm_reference.py) written from the header formulas."""

from __future__ import annotations

import math

import pytest
from confluex._core.exceptions import InvalidConfig, InvalidEvent
from confluex._core.mm import GlftConfig, MidVolatility, TradeIntensity, glft_quote
from hypothesis import given, settings
from hypothesis import strategies as st
from mm_reference import RefIntensity, RefVolatility, ref_glft_quote

# (dt_ns, value) steps; dt may be 0 or negative (out of order), values on a quarter grid
steps = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 400_000_000), st.integers(-50_000_000, 0)),
        st.integers(-400, 400).map(lambda n: n * 0.25),
    ),
    min_size=1,
    max_size=150,
)


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


@settings(max_examples=200)
@given(
    walk=steps,
    half_life=st.floats(0.05, 300.0),
    sample_ns=st.sampled_from([0, 1, 50_000_000, 100_000_000]),
    min_samples=st.integers(1, 12),
)
def test_mid_volatility_matches_reference(
    walk: list[tuple[int, float]], half_life: float, sample_ns: int, min_samples: int
) -> None:
    vol, ref = (
        MidVolatility(half_life, sample_ns, min_samples),
        RefVolatility(half_life, sample_ns, min_samples),
    )
    ts, mid = 1_000_000_000, 6_000_000.0
    for dt, step in walk:
        ts += dt
        mid += step
        vol.update(ts, mid)
        ref.update(ts, mid)
        assert close(vol.sigma(), ref.sigma())
    assert vol.samples == ref.samples
    assert vol.ready() == (not math.isnan(ref.sigma()))


@settings(max_examples=200)
@given(
    trades=st.lists(
        st.tuples(st.integers(0, 300_000_000), st.integers(0, 80).map(lambda n: n * 0.5)),
        min_size=1,
        max_size=200,
    ),
    buckets=st.integers(2, 12),
    width=st.sampled_from([0.5, 1.0, 3.0, 7.5]),
    half_life=st.floats(0.5, 120.0),
    min_count=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_trade_intensity_matches_reference(
    trades: list[tuple[int, float]], buckets: int, width: float, half_life: float, min_count: float
) -> None:
    est, ref = (
        TradeIntensity(buckets, width, half_life, min_count),
        RefIntensity(buckets, width, half_life, min_count),
    )
    ts = 5_000_000_000
    for dt, distance in trades:
        ts += dt
        est.on_trade(ts, distance)
        ref.on_trade(ts, distance)
    for i in range(buckets):
        assert est.threshold(i) == ref.threshold(i)
        assert close(est.count(i), ref.c[i])
    fit, expected = est.fit(), ref.fit()
    if expected is None:
        # the reference's centred sums may still see a (tiny) negative slope where the
        # kernel's raw sums cancel to 0: only "ok" with a matching fit counts
        assert not fit.ok or fit.k < 1e-6
        return
    assert fit.ok
    assert close(fit.a, expected[0], 1e-6) and close(fit.k, expected[1], 1e-6)
    assert est.trades == len(trades)


def test_intensity_recovers_an_exponential_profile() -> None:
    # Trades arrive at exactly the rates of lambda(d) = 4 exp(-0.3 d) per side: the fit gives
    # back A and k (decay off: a half-life far longer than the stream).
    est = TradeIntensity(6, 2.0, 1e9, 0.5)
    a, k = 4.0, 0.3
    seconds = 1000
    counts = [2 * a * math.exp(-k * est.threshold(i)) * seconds for i in range(6)]
    ts = 0
    est.advance(ts)
    per_bucket = [round(counts[i] - (counts[i + 1] if i + 1 < 6 else 0)) for i in range(6)]
    step = seconds * 1_000_000_000 // sum(per_bucket)
    for i, n in enumerate(per_bucket):
        for _ in range(n):
            ts += step
            est.on_trade(ts, est.threshold(i))
    est.advance(seconds * 1_000_000_000)
    fit = est.fit()
    assert fit.ok and fit.buckets == 6
    assert fit.k == pytest.approx(k, rel=0.02)
    assert fit.a == pytest.approx(a, rel=0.05)


configs = st.builds(
    dict,
    gamma=st.floats(1e-4, 5.0),
    order_lots=st.integers(1, 1000),
    inv_orders=st.integers(1, 10),
    size_step_lots=st.sampled_from([1, 2, 5]),
    alpha_gain=st.floats(-2.0, 2.0),
    alpha_horizon_s=st.floats(0.0, 10.0),
    max_depth_ticks=st.floats(1.0, 1e6),
)


@settings(max_examples=300)
@given(
    cfg=configs,
    best_bid=st.integers(1_000, 10_000_000),
    spread=st.integers(1, 20),
    inv_frac=st.floats(-1.2, 1.2),
    sigma=st.floats(0.0, 2000.0),
    a=st.floats(0.01, 100.0),
    k=st.floats(1e-3, 5.0),
    score=st.one_of(st.floats(0.0, 100.0), st.just(math.nan)),
)
def test_glft_quote_matches_reference_and_keeps_its_invariants(
    cfg: dict[str, float],
    best_bid: int,
    spread: int,
    inv_frac: float,
    sigma: float,
    a: float,
    k: float,
    score: float,
) -> None:
    order_lots = int(cfg["order_lots"])
    step = int(cfg["size_step_lots"])
    order_lots = max(step, order_lots // step * step)
    max_inv = order_lots * int(cfg["inv_orders"])
    config = GlftConfig(
        gamma=cfg["gamma"],
        order_lots=order_lots,
        max_inventory_lots=max_inv,
        size_step_lots=step,
        alpha_gain=cfg["alpha_gain"],
        alpha_horizon_s=cfg["alpha_horizon_s"],
        max_depth_ticks=cfg["max_depth_ticks"],
    )
    best_ask = best_bid + spread
    mid = (best_bid + best_ask) / 2.0
    inventory = round(inv_frac * max_inv)
    q = glft_quote(config, mid, best_bid, best_ask, inventory, sigma, a, k, score)
    ref = ref_glft_quote(
        gamma=cfg["gamma"],
        order_lots=order_lots,
        max_inventory_lots=max_inv,
        size_step_lots=step,
        alpha_gain=cfg["alpha_gain"],
        alpha_horizon_s=cfg["alpha_horizon_s"],
        max_depth_ticks=cfg["max_depth_ticks"],
        mid=mid,
        best_bid=best_bid,
        best_ask=best_ask,
        inventory=inventory,
        sigma=sigma,
        a=a,
        k=k,
        score=score,
    )
    assert q.reservation_ticks == ref.reservation and q.half_spread_ticks == ref.half_spread
    assert (q.bid_ticks, q.ask_ticks, q.bid_lots, q.ask_lots) == (
        ref.bid,
        ref.ask,
        ref.bid_lots,
        ref.ask_lots,
    )
    # invariants: post-only, ordered, sizes on the step, a full fill stays within the limit
    assert q.bid_ticks <= best_ask - 1 and q.ask_ticks >= best_bid + 1
    assert q.bid_ticks < q.ask_ticks
    assert q.bid_lots % step == 0 and q.ask_lots % step == 0
    assert 0 <= q.bid_lots <= order_lots and 0 <= q.ask_lots <= order_lots
    assert abs(inventory + q.bid_lots) <= max(max_inv, abs(inventory))
    assert abs(inventory - q.ask_lots) <= max(max_inv, abs(inventory))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gamma", 0.0),
        ("gamma", math.inf),
        ("order_lots", 0),
        ("max_inventory_lots", 0),
        ("size_step_lots", 0),
        ("alpha_gain", math.nan),
        ("alpha_horizon_s", -1.0),
        ("max_depth_ticks", 0.0),
    ],
)
def test_bad_glft_config_is_refused_naming_the_value(field: str, value: float) -> None:
    with pytest.raises(InvalidConfig, match=field):
        GlftConfig(**{field: value})


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((math.nan, 99, 101, 0, 1.0, 1.0, 0.5, 50.0), "mid"),
        ((100.0, 101, 101, 0, 1.0, 1.0, 0.5, 50.0), "best bid"),
        ((100.0, 99, 101, 0, -1.0, 1.0, 0.5, 50.0), "sigma"),
        ((100.0, 99, 101, 0, 1.0, 0.0, 0.5, 50.0), "A"),
        ((100.0, 99, 101, 0, 1.0, 1.0, math.nan, 50.0), "k"),
    ],
)
def test_bad_quote_input_is_refused_naming_the_value(args: tuple[float, ...], name: str) -> None:
    with pytest.raises(InvalidEvent, match=name):
        glft_quote(GlftConfig(), *args)  # type: ignore[arg-type]


def test_bad_estimator_input_is_refused_and_leaves_the_state() -> None:
    vol = MidVolatility(10.0, 0, 1)
    vol.update(0, 100.0)
    vol.update(1_000_000_000, 101.0)
    before = vol.sigma()
    with pytest.raises(InvalidEvent, match="mid"):
        vol.update(2_000_000_000, math.nan)
    assert vol.sigma() == before
    est = TradeIntensity()
    with pytest.raises(InvalidEvent, match="distance"):
        est.on_trade(0, -1.0)
    assert est.trades == 0
    with pytest.raises(InvalidEvent, match="bucket index must be < 8, was 8"):
        est.count(8)
    with pytest.raises(InvalidEvent, match="index"):
        est.rate(31)
    with pytest.raises(InvalidEvent, match="index"):
        est.threshold(100)
    with pytest.raises(InvalidConfig, match="buckets"):
        TradeIntensity(buckets=33)
    with pytest.raises(InvalidConfig, match="half_life_s"):
        MidVolatility(half_life_s=0.0)
