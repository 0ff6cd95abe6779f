"""Property tests of the execution-algorithm schedule math against plain-Python references.

The references use exact rationals (``fractions.Fraction``) for the splits and ``math.sinh``
straight from the Almgren-Chriss formula for the trajectory.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from confluex.trading.algos import (
    ac_holdings,
    ac_lots,
    pov_target,
    split_lots,
    twap_lots,
    vwap_target,
)
from hypothesis import given
from hypothesis import strategies as st

LOTS = st.integers(min_value=0, max_value=10**9)
SLICES = st.integers(min_value=1, max_value=200)
WEIGHTS = st.lists(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=60,
)


@given(LOTS, WEIGHTS)
def test_split_sums_exactly_and_each_cumulative_is_within_half_a_lot(
    total: int, weights: list[float]
) -> None:
    lots = split_lots(total, weights)

    w_total = sum(Fraction(w) for w in weights)
    assert sum(lots) == total
    assert len(lots) == len(weights) and all(x >= 0 for x in lots)
    if w_total > 0:
        running, cum = Fraction(0), 0
        for w, x in zip(weights[:-1], lots[:-1], strict=True):
            running += Fraction(w)
            cum += x
            exact = total * running / w_total
            # floats carry the shares; half a lot plus the float error of one share
            assert abs(cum - exact) <= Fraction(1, 2) + Fraction(total, 10**9) + Fraction(1, 10**6)


@given(LOTS, SLICES)
def test_twap_slices_sum_to_the_parent_and_differ_by_at_most_one_lot(
    total: int, slices: int
) -> None:
    lots = twap_lots(total, slices)

    assert sum(lots) == total and len(lots) == slices
    assert max(lots) - min(lots) <= 1
    assert all(x in (total // slices, total // slices + 1) for x in lots)


def reference_holdings(total: float, slices: int, kappa_t: float) -> list[float]:
    """x_k = X sinh(kappa (T - t_k)) / sinh(kappa T), t_k = k T / n (Almgren-Chriss 2000)."""
    if kappa_t == 0:
        return [total * (1 - k / slices) for k in range(slices + 1)]
    return [
        total * math.sinh(kappa_t * (1 - k / slices)) / math.sinh(kappa_t)
        for k in range(slices + 1)
    ]


@given(
    st.floats(min_value=1e-6, max_value=1e6),
    SLICES,
    st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=50.0)),
)
def test_ac_trajectory_matches_the_sinh_formula(total: float, slices: int, kappa_t: float) -> None:
    got = ac_holdings(total, slices, kappa_t)
    want = reference_holdings(total, slices, kappa_t)

    assert len(got) == slices + 1 and got[0] == total and got[-1] == 0.0
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-12 * total)
    assert all(a >= b for a, b in itertools.pairwise(got))  # never buys back


# kappa T below 1e-6 is the linear limit; the sinh reference underflows on denormals
KAPPA_T = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=30.0))


@given(LOTS, SLICES, KAPPA_T)
def test_ac_lots_sum_exactly_and_front_load_at_least_as_much_as_twap(
    total: int, slices: int, kappa_t: float
) -> None:
    ac = ac_lots(total, slices, kappa_t)
    twap = twap_lots(total, slices)

    assert sum(ac) == total and all(x >= 0 for x in ac)
    x = reference_holdings(float(total), slices, kappa_t)
    cum = 0
    for k in range(slices):
        cum += ac[k]
        # the cumulative traded is the trajectory's, within rounding
        assert abs(cum - (total - x[k + 1])) <= 0.5 + 1e-6 * max(total, 1)
        # urgency (kappa > 0) never trades later than TWAP
        assert cum >= sum(twap[: k + 1]) - 1


# volumes and rates are 0 or physical: denormals (5e-324) only test float association
VOLUME = st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=1e9))


@given(
    st.floats(min_value=0.0, max_value=1e6),
    VOLUME,
    VOLUME,
    st.floats(min_value=0.0, max_value=1e5),
)
def test_vwap_target_follows_the_volume_curve(
    total: float, volume_done: float, rate: float, remaining_s: float
) -> None:
    got = vwap_target(total, volume_done, rate, remaining_s)

    if remaining_s <= 0:
        want = total
    elif volume_done + rate * remaining_s <= 0:
        want = 0.0
    else:
        want = total * volume_done / (volume_done + rate * remaining_s)
    assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)
    assert 0.0 <= got <= total
    more = vwap_target(total, volume_done * 2 + 1, rate, remaining_s)
    assert more >= got  # more market volume never lowers the target


@given(
    st.floats(min_value=0.0, max_value=1e6),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1e9),
)
def test_pov_target_is_the_rate_times_the_volume_capped_at_the_parent(
    total: float, rate: float, volume: float
) -> None:
    assert pov_target(total, rate, volume) == min(total, rate * volume)
