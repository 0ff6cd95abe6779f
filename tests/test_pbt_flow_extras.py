"""Property tests: the orderflow/orderbook extras' kernels against plain-Python references.

Kernels: StackedImbalance (reference-system §4), the OI quadrant and the price-CVD divergence
(§3.2), absorption/exhaustion and the liquidity depth bands (§3.1), all as specified in
flow_signals.hpp / book_signals.hpp / stacked_imbalance.hpp. The references below are written
from those headers' formulas, independently of the C++ code.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from confluex import signals
from hypothesis import example, given
from hypothesis import strategies as st

Trade = tuple[int, int, int, int]  # ts_ns, px_ticks, qty_lots, side
Levels = list[tuple[int, int]]


# --- stacked imbalance ----------------------------------------------------------------------


def ref_stacked(
    trades: Sequence[Trade], cfg: signals.StackedImbalanceConfig, advance_to: int | None = None
) -> dict[str, float]:
    clock = -(2**63)
    stamped = []
    for ts, px, qty, side in trades:
        clock = max(clock, ts)
        stamped.append((clock, px, qty, side))
    newest = clock
    if advance_to is not None:
        clock = max(clock, advance_to)
    live = [t for t in stamped if clock - t[0] < cfg.window_ns]
    k = cfg.level_ticks
    lv: dict[int, list[int]] = {}
    for _, px, qty, side in live:
        b, s, c = lv.setdefault((px + k // 2) // k, [0, 0, 0])
        if side == 0:
            b += 2 * qty
        elif side == 1:
            s += 2 * qty
        else:
            b += qty
            s += qty
        lv[(px + k // 2) // k] = [b, s, c + 1]
    out = {"trades": len(live), "levels": len(lv)}
    if not live:
        return {**out, "score": 50.0, "has_data": False, "stacks": 0, "significant": 0}
    keys = sorted(lv)
    total = float(sum(lv[x][0] + lv[x][1] for x in keys))
    thr = cfg.imbalance_threshold
    bull = bear = fallback = 0.0
    stacks: list[tuple[int, int]] = []  # (direction, length)
    run: list[tuple[float, float]] = []  # (|u|, vol)
    run_dir = 0

    def close() -> None:
        nonlocal bull, bear, run, run_dir
        if run_dir != 0 and len(run) >= cfg.min_stack_length:
            strength = sum(a for a, _ in run) * math.sqrt(len(run))
            w = strength * (sum(v for _, v in run) / total)
            if run_dir > 0:
                bull += w
            else:
                bear += w
            stacks.append((run_dir, len(run)))
        run, run_dir = [], 0

    significant = 0
    for x in keys:
        b, s, c = lv[x]
        vol = float(b + s)
        u = (b - s) / vol
        fallback += u * (vol / total)
        significant += abs(u) >= thr
        d = 1 if u >= thr else (-1 if u <= -thr else 0)
        if c < cfg.min_trades_per_level or d == 0:
            close()
            continue
        if d != run_dir:
            close()
            run_dir = d
        run.append((abs(u), vol))
    close()
    raw = 50 + 50 * (bull - bear) / cfg.max_expected_strength if stacks else 50 + 30 * fallback
    clarity = min(sum(n for _, n in stacks) / len(stacks) / 5, 1.0) if stacks else 0.3
    conf = 0.3 * min(len(live) / 200, 1.0) + 0.3 * significant / len(keys) + 0.4 * clarity
    has_data = len(live) >= cfg.min_total_trades and clock - newest <= cfg.max_stale_ns
    return {
        **out,
        "score": min(max(raw, 0.0), 100.0) if has_data else 50.0,
        "confidence": conf,
        "has_data": has_data,
        "stacks": len(stacks),
        "bull": sum(1 for d, _ in stacks if d > 0),
        "significant": significant,
    }


@st.composite
def trade_streams(draw: st.DrawFn) -> list[Trade]:
    n = draw(st.integers(0, 250))
    buy_bias = draw(st.floats(0.0, 1.0))
    ts = 0
    out = []
    for _ in range(n):
        ts += draw(st.integers(-1_000_000, 2_000_000_000))  # small inversions are stamped
        r = draw(st.floats(0.0, 1.0))
        side = draw(st.sampled_from([2])) if r > 0.97 else (0 if r < buy_bias else 1)
        out.append((ts, draw(st.integers(100, 130)), draw(st.integers(1, 9)), side))
    return out


configs = st.builds(
    signals.StackedImbalanceConfig,
    imbalance_threshold=st.sampled_from([0.2, 0.4, 0.6]),
    min_stack_length=st.integers(1, 4),
    min_trades_per_level=st.integers(1, 5),
    min_total_trades=st.integers(1, 60),
    window_ns=st.sampled_from([30_000_000_000, 120_000_000_000, 600_000_000_000]),
    max_stale_ns=st.sampled_from([5_000_000_000, 300_000_000_000]),
    level_ticks=st.integers(1, 4),
)


@given(trade_streams(), configs, st.one_of(st.none(), st.integers(0, 2_000_000_000_000)))
def test_stacked_imbalance_matches_reference(
    trades: list[Trade], cfg: signals.StackedImbalanceConfig, advance_to: int | None
) -> None:
    si = signals.StackedImbalance(cfg)
    for t in trades:
        si.push(*t)
    if advance_to is not None:
        si.advance(advance_to)

    got = si.compute()

    ref = ref_stacked(trades, cfg, advance_to)
    assert got.trades == ref["trades"] and got.levels == ref["levels"]
    assert got.has_data == ref["has_data"]
    assert got.score == pytest.approx(ref["score"], rel=1e-12, abs=1e-12)
    assert 0.0 <= got.score <= 100.0
    if ref["trades"]:
        assert got.confidence == pytest.approx(ref["confidence"], rel=1e-12, abs=1e-12)
        assert got.bullish_stacks + got.bearish_stacks == ref["stacks"]
        assert got.bullish_stacks == ref["bull"]
        assert got.significant_levels == ref["significant"]


@given(trade_streams())
def test_stacked_imbalance_swapping_buys_and_sells_mirrors_the_score(trades: list[Trade]) -> None:
    cfg = signals.StackedImbalanceConfig(min_total_trades=1)
    a, b = signals.StackedImbalance(cfg), signals.StackedImbalance(cfg)
    for ts, px, qty, side in trades:
        a.push(ts, px, qty, side)
        b.push(ts, px, qty, {0: 1, 1: 0, 2: 2}[side])

    ra, rb = a.compute(), b.compute()

    assert ra.score == pytest.approx(100.0 - rb.score, abs=1e-9)
    assert ra.bullish_stacks == rb.bearish_stacks


def test_stacked_imbalance_acceptance_example_of_the_reference() -> None:
    # reference-system §4: 20 levels $5 apart (one level = one tick here), 6 trades of size 1
    # each; levels 5-9 have 5 buys and 1 sell, the rest 3 buys and 3 sells.
    si = signals.StackedImbalance()
    ts = 1_700_000_000_000_000_000
    for level in range(20):
        buys = 5 if 5 <= level <= 9 else 3
        for i in range(6):
            ts += 1_000_000
            si.push(ts, 1000 + level, 1, 0 if i < buys else 1)

    r = si.compute()

    assert r.has_data
    assert round(r.score, 2) == 68.63
    assert round(r.confidence, 3) == 0.655
    assert (r.bullish_stacks, r.bearish_stacks, r.max_stack_length) == (1, 0, 5)
    assert r.significant_levels == 5 and r.levels == 20 and r.trades == 120


def test_stacked_imbalance_of_a_balanced_set_is_exactly_50() -> None:
    si = signals.StackedImbalance()
    for level in range(20):
        for i in range(6):
            si.push(level * 6 + i, 1000 + level, 1, i % 2)

    assert si.compute().score == 50.0


def test_stacked_imbalance_without_enough_trades_or_when_stale_has_no_data() -> None:
    si = signals.StackedImbalance()
    for i in range(99):
        si.push(i, 1000 + i % 3, 1, 0)
    assert si.compute().has_data is False  # 99 < min_total_trades (100)
    si.push(99, 1000, 1, 0)
    assert si.compute().has_data is True
    si.advance(99 + 300_000_000_001)  # newest trade 300 s + 1 ns old: stale
    assert si.compute().has_data is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("imbalance_threshold", 0.0),
        ("min_stack_length", 0),
        ("window_ns", 0),
        ("level_ticks", 0),
        ("capacity", 3),
        ("max_expected_strength", math.inf),
    ],
)
def test_stacked_imbalance_config_bad_value_raises_naming_it(field: str, value: float) -> None:
    with pytest.raises(signals_errors(), match=f"StackedImbalanceConfig.{field} must be"):
        signals.StackedImbalanceConfig(**{field: value})  # type: ignore[arg-type]


def signals_errors() -> type[Exception]:
    from confluex import InvalidConfig

    return InvalidConfig


def test_stacked_imbalance_push_of_a_bad_trade_raises_and_changes_nothing() -> None:
    from confluex import InvalidEvent

    si = signals.StackedImbalance()
    si.push(1, 100, 1, 0)
    with pytest.raises(InvalidEvent, match=r"qty must be in .*, was -2"):
        si.push(2, 100, -2, 0)
    with pytest.raises(InvalidEvent, match=r"side must be .*, was 7"):
        si.push(2, 100, 1, 7)

    assert si.trades == 1 and si.now_ns == 1


# --- OI quadrant ----------------------------------------------------------------------------


def ref_quadrant(oi: float, px: float, cfg: signals.FlowExtrasConfig) -> float:
    x = math.tanh(px / cfg.price_scale)
    y = math.tanh(oi / cfg.oi_scale)
    return 50 + 50 * x * (y if y > 0 else cfg.oi_unwind_factor * y)


changes = st.floats(-0.5, 0.5, allow_nan=False)


@given(changes, changes)
def test_oi_quadrant_matches_reference_and_mirrors_in_price(oi: float, px: float) -> None:
    cfg = signals.FlowExtrasConfig()

    got = signals.oi_quadrant_score(oi, px, cfg)

    assert got == pytest.approx(ref_quadrant(oi, px, cfg), abs=1e-12)
    assert signals.oi_quadrant_score(oi, -px, cfg) == pytest.approx(100 - got, abs=1e-12)
    assert 0.0 <= got <= 100.0


@pytest.mark.parametrize(
    ("oi", "px", "side"),
    [
        (0.05, 0.02, "bullish"),  # new longs
        (0.05, -0.02, "bearish"),  # new shorts
        (-0.05, 0.02, "bearish"),  # short covering: weak
        (-0.05, -0.02, "bullish"),  # long liquidation: weak
    ],
    ids=("oi_up_price_up", "oi_up_price_down", "short_covering", "long_liquidation"),
)
def test_oi_quadrant_reads_the_four_cases(oi: float, px: float, side: str) -> None:
    s = signals.oi_quadrant_score(oi, px)
    strong = abs(signals.oi_quadrant_score(abs(oi), abs(px)) - 50)

    assert (s > 50) == (side == "bullish") and s != 50
    if oi < 0:
        assert abs(s - 50) == pytest.approx(0.6 * strong)  # unwinding reads weaker


def test_oi_quadrant_is_continuous_and_without_data_is_nan() -> None:
    assert signals.oi_quadrant_score(1e-12, 0.02) == pytest.approx(50.0, abs=1e-6)
    assert signals.oi_quadrant_score(-1e-12, 0.02) == pytest.approx(50.0, abs=1e-6)
    assert signals.oi_quadrant_score(0.0, 0.02) == 50.0
    assert math.isnan(signals.oi_quadrant_score(math.nan, 0.02))
    assert math.isnan(signals.oi_quadrant_score(0.01, math.inf))


# --- price-CVD divergence -------------------------------------------------------------------


def ref_divergence(
    delta: Sequence[float],
    volume: Sequence[float],
    close: Sequence[float],
    recency: float,
    sens: float,
) -> float:
    n = len(close)
    if n < 2:
        return math.nan
    w = [recency**i for i in range(n)]
    wv = sum(a * b for a, b in zip(w, volume, strict=True))
    if wv <= 0:
        return math.nan
    c = max(-1.0, min(1.0, sum(a * b for a, b in zip(w, delta, strict=True)) / wv))
    rets = [abs(math.log(close[i] / close[i - 1])) for i in range(1, n)]
    noise = sum(rets) / (n - 1) * math.sqrt(n - 1)
    p = math.log(close[-1] / close[0]) / noise if noise > 0 else 0.0
    ct, pt = math.tanh(c / sens), math.tanh(p)
    d = -ct * pt
    return 50 + 50 * math.copysign(d, ct) if d > 0 else 50.0


@st.composite
def bar_series(draw: st.DrawFn) -> tuple[list[float], list[float], list[float]]:
    n = draw(st.integers(2, 40))
    buys = draw(st.lists(st.floats(0, 100), min_size=n, max_size=n))
    sells = draw(st.lists(st.floats(0, 100), min_size=n, max_size=n))
    rets = draw(st.lists(st.floats(-0.01, 0.01), min_size=n - 1, max_size=n - 1))
    close = [50_000.0]
    for r in rets:
        close.append(close[-1] * math.exp(r))
    delta = [b - s for b, s in zip(buys, sells, strict=True)]
    volume = [b + s for b, s in zip(buys, sells, strict=True)]
    return delta, volume, close


@given(bar_series(), st.sampled_from([1.0, 1.2, 1.5]))
@example(  # returns of 1e-9: the mirror's reflection rounds (see below)
    bars=([0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [50000.0, 50000.00005, 50000.000100000005]),
    recency=1.0,
)
def test_cvd_divergence_matches_reference_and_mirrors(
    bars: tuple[list[float], list[float], list[float]], recency: float
) -> None:
    delta, volume, close = bars

    got = signals.cvd_divergence_score(np.array(delta), np.array(volume), np.array(close), recency)

    ref = ref_divergence(delta, volume, close, recency, 0.35)
    if math.isnan(ref):
        assert math.isnan(got)
        return
    assert got == pytest.approx(ref, abs=1e-9)
    # The mirror reflects closes as c0^2 / c, whose rounding (~1e-16 of the price) is a large
    # share of a return near 1e-9 (hypothesis found 50000 -> 50000.00005: mirrored 94.1272062
    # vs 94.1272070): an artefact of the reflection, so the mirror is checked where every
    # return is 0 or at least 1e-5 in size (the reference comparison above covers any input).
    if any(0.0 < abs(math.log(b / a)) < 1e-5 for a, b in itertools.pairwise(close)):
        return
    mirrored_close = [close[0] ** 2 / c for c in close]  # reflected log returns
    mirrored = signals.cvd_divergence_score(
        -np.array(delta), np.array(volume), np.array(mirrored_close), recency
    )
    assert mirrored == pytest.approx(100 - got, abs=1e-9)


def test_cvd_divergence_reads_bullish_when_cvd_rises_while_price_falls() -> None:
    n = 20
    close = np.array([100.0 - 0.1 * i for i in range(n)])
    volume = np.full(n, 10.0)

    bull = signals.cvd_divergence_score(np.full(n, 4.0), volume, close)
    bear = signals.cvd_divergence_score(np.full(n, 4.0), volume, close[::-1].copy())
    agree = signals.cvd_divergence_score(np.full(n, -4.0), volume, close)

    assert bull > 60 and bear == 50.0 and agree == 50.0
    # and price up with CVD down is bearish
    assert signals.cvd_divergence_score(np.full(n, -4.0), volume, close[::-1].copy()) < 40


def test_cvd_divergence_weights_the_newest_bar_most() -> None:
    # Reference bug (§3.2): the oldest candle had the largest weight. Same bars, the one
    # strong buying bar moved from oldest to newest: the newest placement must weigh more.
    n = 20
    close = np.array([100.0 - 0.05 * i for i in range(n)])
    volume = np.full(n, 10.0)
    old = np.zeros(n)
    old[0] = 10.0
    new = np.zeros(n)
    new[-1] = 10.0

    s_old = signals.cvd_divergence_score(old, volume, close)
    s_new = signals.cvd_divergence_score(new, volume, close)

    assert s_new > s_old > 50


# --- absorption / exhaustion and liquidity ----------------------------------------------------


def ref_absorption(bids: Levels, asks: Levels, n: int) -> float | None:
    b, a = bids[:n], asks[:n]
    if len(b) < 3 or len(a) < 3:
        return None
    sb, sa = sum(q for _, q in b), sum(q for _, q in a)
    if sb == 0 or sa == 0:
        return None
    cb = sum(q for _, q in b[:3]) / sb
    ca = sum(q for _, q in a[:3]) / sa
    gb = abs(b[-1][0] - b[0][0]) / (len(b) - 1)
    ga = abs(a[-1][0] - a[0][0]) / (len(a) - 1)
    mg = (gb + ga) / 2
    rb, ra = 1 / (1 + gb / mg), 1 / (1 + ga / mg)
    xb, xa = 0.7 * cb + 0.3 * rb, 0.7 * ca + 0.3 * ra
    return (xb - xa) / (xb + xa)


@st.composite
def books(draw: st.DrawFn) -> tuple[Levels, Levels]:
    def side(start: int, step: int) -> Levels:
        k = draw(st.integers(0, 30))
        gaps = draw(st.lists(st.integers(1, 5), min_size=k, max_size=k))
        qtys = draw(st.lists(st.integers(0, 1000), min_size=k, max_size=k))
        px, out = start, []
        for g, q in zip(gaps, qtys, strict=True):
            out.append((px, q))
            px += step * g
        return out

    return side(10_000, -1), side(10_001 + draw(st.integers(0, 3)), 1)


def arr(levels: Levels) -> np.ndarray:
    return np.array(levels, dtype=np.int64).reshape(-1, 2)


@given(books(), st.integers(3, 40))
def test_absorption_matches_reference_and_mirrors(book: tuple[Levels, Levels], n: int) -> None:
    bids, asks = book

    got = signals.absorption_exhaustion(arr(bids), arr(asks), n)

    ref = ref_absorption(bids, asks, n)
    if ref is None:
        assert got is None
        return
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-12)
    # mirror: swap sides, reflect prices around a point between them
    mb = [(20_001 - p, q) for p, q in asks]
    ma = [(20_001 - p, q) for p, q in bids]
    assert signals.absorption_exhaustion(arr(mb), arr(ma), n) == -got


def test_absorption_reads_the_concentrated_side_as_the_absorbing_one() -> None:
    bids = [(100 - i, q) for i, q in enumerate([50, 50, 50, 1, 1, 1, 1, 1])]
    asks = [(101 + i, 10) for i in range(8)]

    x = signals.absorption_exhaustion(arr(bids), arr(asks))
    comp = signals.compute_orderbook_component(
        arr(bids),
        arr(asks),
        None,
        signals.OfiWindow(),
        signals.OrderbookSignalsConfig(),
        absorption_raw=x,
    )

    assert x is not None and x > 0
    assert comp.sub["absorption_exhaustion"] > 50
    assert comp.weights["absorption_exhaustion"] == 0.08
    assert comp.weights["liquidity"] == 0.0  # not supplied: excluded, not a neutral vote


depths = st.lists(st.floats(0, 1e6), min_size=5, max_size=5)


@given(depths, depths)
def test_liquidity_balance_matches_reference_and_mirrors(bd: list[float], ad: list[float]) -> None:
    got = signals.liquidity_balance(bd, ad)

    num = den = 0.0
    for w, b, a in zip(signals.LIQUIDITY_BAND_WEIGHTS, bd, ad, strict=True):
        if b + a > 0:
            num += w * (b - a) / (b + a)
            den += w
    if den == 0:
        assert math.isnan(got)
        return
    assert got == pytest.approx(num / den, rel=1e-12, abs=1e-15)
    assert signals.liquidity_balance(ad, bd) == -got
