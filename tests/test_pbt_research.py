"""Property tests: the research statistics kernels against scipy and plain-Python references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from confluex.research import stats
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import rankdata as sp_rankdata
from scipy.stats import spearmanr

# Small integers give ties (average ranks) and exact arithmetic in the references.
values = st.lists(st.integers(-6, 6).map(float), min_size=3, max_size=60)


@st.composite
def pairs(draw: st.DrawFn, min_size: int = 3) -> tuple[list[float], list[float]]:
    n = draw(st.integers(min_size, 60))
    x = draw(st.lists(st.integers(-6, 6).map(float), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(-6, 6).map(float), min_size=n, max_size=n))
    return x, y


def ref_pearson(x: list[float], y: list[float]) -> float:
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return math.nan if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def same(a: float, b: float, tol: float = 1e-9) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


@given(values)
def test_rankdata_matches_scipy_average_ranks(x: list[float]) -> None:
    assert np.array_equal(stats.rankdata(x), sp_rankdata(x, method="average"))


@given(pairs())
def test_spearman_matches_scipy(xy: tuple[list[float], list[float]]) -> None:
    x, y = xy
    constant = len(set(x)) == 1 or len(set(y)) == 1
    got = stats.spearman(x, y)
    if constant:
        assert math.isnan(got)
    else:
        assert same(got, float(spearmanr(x, y).statistic))


@given(pairs())
def test_pearson_matches_plain_python(xy: tuple[list[float], list[float]]) -> None:
    x, y = xy
    assert same(stats.pearson(x, y), ref_pearson(x, y))


def residuals(a: list[float], z: list[float]) -> list[float]:
    """a minus its least-squares line on z (plain Python)."""
    n = len(a)
    ma, mz = sum(a) / n, sum(z) / n
    szz = sum((v - mz) ** 2 for v in z)
    slope = sum((u - ma) * (v - mz) for u, v in zip(a, z, strict=True)) / szz
    return [u - ma - slope * (v - mz) for u, v in zip(a, z, strict=True)]


@given(pairs(min_size=5), st.lists(st.integers(-6, 6).map(float), min_size=60, max_size=60))
def test_partial_spearman_is_the_correlation_of_rank_residuals(
    xy: tuple[list[float], list[float]], zs: list[float]
) -> None:
    x, y = xy
    z = zs[: len(x)]
    rx, ry, rz = (list(sp_rankdata(v)) for v in (x, y, z))
    assume(len(set(z)) > 1 and len(set(x)) > 1 and len(set(y)) > 1)
    ex, ey = residuals(rx, rz), residuals(ry, rz)
    assume(sum(e * e for e in ex) > 1e-6 and sum(e * e for e in ey) > 1e-6)
    assert same(stats.partial_spearman(x, y, z), ref_pearson(ex, ey), 1e-7)


@given(st.integers(1, 80), st.integers(1, 80), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_block_bootstrap_rows_are_chained_blocks(n: int, block: int, reps: int, seed: int) -> None:
    assume(block <= n)
    idx = stats.block_bootstrap_indices(n, block, reps, np.random.default_rng(seed))
    again = stats.block_bootstrap_indices(n, block, reps, np.random.default_rng(seed))
    assert idx.shape == (reps, n)
    assert np.array_equal(idx, again)  # seeded: deterministic
    for row in idx.tolist():
        for start in range(0, n, block):
            piece = row[start : start + block]
            assert 0 <= piece[0] <= n - block
            assert piece == list(range(piece[0], piece[0] + len(piece)))


@given(pairs(min_size=8), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_bootstrap_ic_is_the_percentile_of_resampled_rank_correlations(
    xy: tuple[list[float], list[float]], block: int, seed: int
) -> None:
    x, y = xy
    idx = stats.block_bootstrap_indices(len(x), block, 40, np.random.default_rng(seed))
    rx, ry = list(sp_rankdata(x)), list(sp_rankdata(y))
    ref = [ref_pearson([rx[i] for i in row], [ry[i] for i in row]) for row in idx.tolist()]
    ref = [r for r in ref if not math.isnan(r)]
    lo, hi = stats.bootstrap_ic(x, y, idx, 0.9)
    if not ref:
        assert math.isnan(lo) and math.isnan(hi)
    else:
        want = np.quantile(ref, [0.05, 0.95])
        assert same(lo, float(want[0]), 1e-9) and same(hi, float(want[1]), 1e-9)
        assert lo <= hi


def ref_effective_n(x: list[float], y: list[float], max_lag: int) -> float:
    rx, ry = list(sp_rankdata(x)), list(sp_rankdata(y))
    n = len(rx)

    def acf(r: list[float], k: int) -> float:
        m = sum(r) / n
        var = sum((v - m) ** 2 for v in r)
        return 0.0 if var == 0 else sum((r[i] - m) * (r[i + k] - m) for i in range(n - k)) / var

    lags = min(max_lag, n - 2)
    total = sum((1 - k / (lags + 1)) * acf(rx, k) * acf(ry, k) for k in range(1, lags + 1))
    factor = 1 + 2 * total
    return float(n) if factor <= 0 else min(n, max(1.0, n / factor))


@given(pairs(), st.integers(1, 10))
def test_effective_n_matches_bartlett_reference(
    xy: tuple[list[float], list[float]], max_lag: int
) -> None:
    x, y = xy
    got = stats.effective_n(x, y, max_lag)
    assert same(got, ref_effective_n(x, y, max_lag), 1e-7)
    assert 1.0 <= got <= len(x)


def test_effective_n_of_a_smooth_pair_is_far_below_n() -> None:
    t = np.arange(2000)
    x = np.sin(t / 50.0)
    y = np.sin(t / 50.0 + 0.3)
    assert stats.effective_n(x, y, max_lag=200) < 200


@given(
    st.lists(st.one_of(st.integers(1, 9).map(float), st.just(math.nan)), max_size=40),
    st.integers(1, 5),
)
def test_forward_returns_match_plain_loop(mid: list[float], steps: int) -> None:
    got = stats.forward_returns(mid, steps)
    for i in range(len(mid)):
        want = mid[i + steps] / mid[i] - 1 if i + steps < len(mid) else math.nan
        assert same(float(got[i]), want)


def ref_crossings(
    s: list[float], r: list[float], level: float, direction: int, gap: int
) -> tuple[int, list[float]]:
    last = None
    signed = []
    for i in range(1, len(s)):
        up = s[i - 1] < level <= s[i]
        down = s[i - 1] > level >= s[i]
        crossed = up if direction == 1 else down
        if crossed and (last is None or i - last >= gap) and not math.isnan(r[i]):
            last = i
            signed.append(direction * r[i])
    return len(signed), signed


@given(
    st.lists(st.integers(0, 10).map(lambda v: v * 10.0), min_size=2, max_size=80),
    st.sampled_from([1, -1]),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_crossings_match_plain_loop(s: list[float], direction: int, gap: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = [float(v) if v != 0 else math.nan for v in rng.integers(-3, 4, len(s))]
    level = 70.0 if direction == 1 else 30.0
    got = stats.crossings(s, r, level, direction, gap)
    n, signed = ref_crossings(s, r, level, direction, gap)
    assert got["n"] == n
    if n:
        assert same(float(got["hit_rate"]), sum(v > 0 for v in signed) / n)
        assert same(float(got["mean_bp"]), sum(signed) / n * 1e4, 1e-6)
    else:
        assert math.isnan(float(got["hit_rate"]))


@given(
    st.lists(
        st.tuples(st.integers(0, 100).map(float), st.integers(-3, 3).map(float)),
        min_size=1,
        max_size=80,
    )
)
def test_calibration_matches_plain_binning(rows: list[tuple[float, float]]) -> None:
    s = [a for a, _ in rows]
    r = [b for _, b in rows]
    got = stats.calibration(s, r)
    assert sum(int(b["n"]) for b in got) == len(rows)
    for k, band in enumerate(got):
        lo, hi = 10 * k, 10 * (k + 1)
        inside = [b for a, b in rows if lo <= a < hi or (k == 9 and a == 100)]
        assert band["n"] == len(inside)
        if inside:
            assert same(float(band["up_rate"]), sum(v > 0 for v in inside) / len(inside))
            assert same(float(band["mean_bp"]), sum(inside) / len(inside) * 1e4, 1e-6)


@given(st.lists(st.integers(0, 100).map(float), min_size=1, max_size=60))
def test_saturation_matches_plain_counts(v: list[float]) -> None:
    got = stats.saturation(v)
    n = len(v)
    assert same(got["at_0"], v.count(0.0) / n)
    assert same(got["at_100"], v.count(100.0) / n)
    assert same(got["near_rails"], sum(x <= 1 or x >= 99 for x in v) / n)
    lo, hi = min(v), max(v)
    want = 1.0 if lo == hi else sum(x in (lo, hi) for x in v) / n
    assert same(got["at_clip"], want)


def test_block_length_grows_with_the_horizon_within_bounds() -> None:
    assert stats.block_length(6000, 10) == 20
    assert stats.block_length(6000, 1) == math.ceil(6000 ** (1 / 3))
    assert stats.block_length(6000, 3000) == 1500  # at most n / 4
    with pytest.raises(ValueError, match="n must be positive, was 0"):
        stats.block_length(0, 1)
