"""Property tests: the ConfluenceAggregator against a plain-Python §2.6 reference."""

from __future__ import annotations

import math

import pytest
from confluex._core import aggregator as agg
from confluex._core import exceptions as agg_exc
from hypothesis import assume, given
from hypothesis import strategies as st

NAMES = agg.COMPONENT_NAMES


def clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def ref_aggregate(
    scores: dict[str, float | None],
    weights: dict[str, float],
    ac: float = 0.5,
    acons: float = 0.75,
    max_amp: float = 0.15,
) -> dict[str, float]:
    total = sum(weights.values())
    cfg_w = {c: weights.get(c, 0.0) / total for c in NAMES}
    active = [c for c in NAMES if scores.get(c) is not None]
    reliability = sum(cfg_w[c] for c in active)
    if reliability <= 0:
        return {
            "score": 50.0,
            "score_raw": 50.0,
            "direction": 0.0,
            "consensus": 0.0,
            "confidence": 0.0,
            "disagreement": 0.0,
            "reliability": 0.0,
        }
    w = {c: cfg_w[c] / reliability for c in active}
    n = {}
    for c in active:
        x = (scores[c] - 50.0) / 50.0  # type: ignore[operator]
        n[c] = clip(x, -1.0, 1.0) if math.isfinite(x) else 0.0
    d = clip(sum(w[c] * n[c] for c in active), -1.0, 1.0)
    v = sum(w[c] * (n[c] - d) ** 2 for c in active)
    consensus = clip(math.exp(-2 * v), 0.0, 1.0)
    confidence = clip(abs(d) * consensus, 0.0, 1.0)
    raw = 50 + 50 * d
    dev = raw - 50
    if confidence > ac and consensus > acons:
        factor = min(1 + (confidence - ac) * max_amp / (1 - ac), 1 + max_amp)
        score = clip(50 + dev * factor, 0.0, 100.0)
    else:
        score = 50 + dev * confidence
    return {
        "score": score,
        "score_raw": raw,
        "direction": d,
        "consensus": consensus,
        "confidence": confidence,
        "disagreement": v,
        "reliability": min(reliability, 1.0),
    }


SCORE = st.one_of(st.none(), st.floats(0.0, 100.0), st.sampled_from([0.0, 50.0, 100.0]))
SCORES = st.fixed_dictionaries({c: SCORE for c in NAMES})
WEIGHTS = st.fixed_dictionaries({c: st.floats(0.0, 10.0) for c in NAMES}).filter(
    lambda w: sum(w.values()) > 1e-6
)
AMPLIFY = st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 1.0), st.floats(0.0, 0.5))


def fields(r: agg.ConfluenceResult) -> dict[str, float]:
    return {
        k: getattr(r, k)
        for k in (
            "score",
            "score_raw",
            "direction",
            "consensus",
            "confidence",
            "disagreement",
            "reliability",
        )
    }


@given(SCORES, WEIGHTS, AMPLIFY)
def test_compute_matches_reference(
    scores: dict[str, float | None], weights: dict[str, float], amp: tuple[float, float, float]
) -> None:
    ac, acons, max_amp = amp
    a = agg.ConfluenceAggregator(
        agg.AggregatorConfig(
            weights=weights,
            amplify_confidence=ac,
            amplify_consensus=acons,
            max_amplification=max_amp,
        )
    )

    r = a.compute(scores)

    ref = ref_aggregate(scores, weights, ac, acons, max_amp)
    # Guard the one discontinuity: the amplify test flips on the last ulp near its thresholds.
    assume(abs(ref["confidence"] - ac) > 1e-9 and abs(ref["consensus"] - acons) > 1e-9)
    assert fields(r) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert r.quality_impact == pytest.approx(r.score_raw - r.score, abs=1e-12)
    assert 0.0 <= r.score <= 100.0 and 0.0 <= r.reliability <= 1.0


@given(SCORES, WEIGHTS)
def test_result_weights_and_flags_describe_the_components_with_data(
    scores: dict[str, float | None], weights: dict[str, float]
) -> None:
    r = agg.ConfluenceAggregator(agg.AggregatorConfig(weights=weights)).compute(scores)

    assert r.has_data == {c: scores[c] is not None for c in NAMES}
    assert r.components == {c: 50.0 if s is None else s for c, s in scores.items()}
    assert all(r.weights[c] == 0.0 for c in NAMES if scores[c] is None)
    if r.reliability > 0:
        assert sum(r.weights.values()) == pytest.approx(1.0, abs=1e-12)


@given(SCORES, WEIGHTS)
def test_reflected_components_reflect_the_score(
    scores: dict[str, float | None], weights: dict[str, float]
) -> None:
    a = agg.ConfluenceAggregator(agg.AggregatorConfig(weights=weights))
    reflected = {c: None if s is None else 100.0 - s for c, s in scores.items()}

    r, m = a.compute(scores), a.compute(reflected)

    assume(abs(r.confidence - 0.5) > 1e-9 and abs(r.consensus - 0.75) > 1e-9)
    assert m.score == pytest.approx(100.0 - r.score, abs=1e-9)
    assert m.score_raw == pytest.approx(100.0 - r.score_raw, abs=1e-9)
    assert (m.confidence, m.consensus, m.reliability) == pytest.approx(
        (r.confidence, r.consensus, r.reliability), abs=1e-12
    )


@given(SCORES, WEIGHTS, st.sampled_from(NAMES))
def test_removing_a_zero_weight_component_changes_nothing_but_its_flag(
    scores: dict[str, float | None], weights: dict[str, float], name: str
) -> None:
    weights = {**weights, name: 0.0}
    assume(sum(weights.values()) > 1e-6)
    a = agg.ConfluenceAggregator(agg.AggregatorConfig(weights=weights))

    full = a.compute(scores)
    without = a.compute({**scores, name: None})

    assert fields(without) == pytest.approx(fields(full), rel=1e-12, abs=1e-12)


@given(st.floats(0.0, 100.0), WEIGHTS)
def test_all_components_equal_have_full_consensus_and_raw_score_equal_to_them(
    s: float, weights: dict[str, float]
) -> None:
    r = agg.ConfluenceAggregator(agg.AggregatorConfig(weights=weights)).compute(
        dict.fromkeys(NAMES, s)
    )

    assert r.score_raw == pytest.approx(s, abs=1e-9)
    assert r.consensus == pytest.approx(1.0, abs=1e-12)
    assert (
        abs(r.score - 50) >= abs(s - 50) * abs(s - 50) / 50 - 1e-9
    )  # dampened by confidence = |D|


@given(st.fixed_dictionaries({c: st.one_of(st.floats(allow_nan=True), st.none()) for c in NAMES}))
def test_compute_is_robust_to_any_float(scores: dict[str, float | None]) -> None:
    r = agg.ConfluenceAggregator().compute(scores)

    assert 0.0 <= r.score <= 100.0
    assert math.isfinite(r.score_raw) and math.isfinite(r.confidence)


# --- the graded rule (the standard and fitted profiles) -------------------------------------


def ref_graded(
    scores: dict[str, float | None],
    weights: dict[str, float],
    warmup: dict[str, float],
    floor: float,
) -> dict[str, float]:
    total = sum(weights.values())
    cfg_w = {c: weights.get(c, 0.0) / total for c in NAMES}
    warm = {c: clip(warmup[c], 0.0, 1.0) if math.isfinite(warmup[c]) else 0.0 for c in NAMES}
    active = [c for c in NAMES if scores.get(c) is not None and warm[c] > 0]
    u = {c: cfg_w[c] * warm[c] for c in active}
    s0 = sum(u.values())
    if s0 <= 0:
        return dict.fromkeys(("direction", "consensus", "confidence", "disagreement"), 0.0) | {
            "score": 50.0,
            "score_raw": 50.0,
            "reliability": 0.0,
        }
    n = {}
    for c in active:
        x = (scores[c] - 50.0) / 50.0  # type: ignore[operator]
        n[c] = clip(x, -1.0, 1.0) if math.isfinite(x) else 0.0
    d = clip(sum(u[c] * n[c] for c in active) / s0, -1.0, 1.0)
    v = sum(u[c] * (n[c] - d) ** 2 for c in active) / s0
    consensus = math.exp(-2 * v)
    reliability = min(s0, 1.0)
    return {
        "score": 50 + 50 * d * (floor + (1 - floor) * consensus),
        "score_raw": 50 + 50 * d,
        "direction": d,
        "consensus": consensus,
        "confidence": abs(d) * consensus * reliability,
        "disagreement": v,
        "reliability": reliability,
    }


WARMUP = st.fixed_dictionaries(
    {
        c: st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, -0.5, 2.0, math.nan]))
        for c in NAMES
    }
)
FLOOR = st.floats(0.0, 1.0)


def graded(weights: dict[str, float], floor: float) -> agg.ConfluenceAggregator:
    return agg.ConfluenceAggregator(
        agg.AggregatorConfig(weights=weights, rule="graded", consensus_floor=floor)
    )


@given(SCORES, WEIGHTS, WARMUP, FLOOR)
def test_graded_compute_matches_reference(
    scores: dict[str, float | None],
    weights: dict[str, float],
    warmup: dict[str, float],
    floor: float,
) -> None:
    r = graded(weights, floor).compute_warm(scores, warmup)

    assert fields(r) == pytest.approx(
        ref_graded(scores, weights, warmup, floor), rel=1e-9, abs=1e-9
    )
    assert r.quality_impact == pytest.approx(r.score_raw - r.score, abs=1e-12)
    assert 0.0 <= r.score <= 100.0 and 0.0 <= r.confidence <= 1.0


@given(SCORES, WEIGHTS, FLOOR)
def test_graded_compute_without_warmup_counts_every_component_warm(
    scores: dict[str, float | None], weights: dict[str, float], floor: float
) -> None:
    a = graded(weights, floor)

    assert fields(a.compute(scores)) == fields(a.compute_warm(scores, dict.fromkeys(NAMES, 1.0)))


@given(
    st.floats(0.0, 100.0),
    st.floats(0.0, 100.0),
    st.floats(0.01, 10.0),
    st.floats(0.01, 10.0),
    FLOOR,
)
def test_graded_score_is_monotone_in_every_component(
    a: float, b: float, wa: float, wb: float, floor: float
) -> None:
    # Raising one component's score never lowers the score (continuity plus monotonicity is
    # what makes every level reachable and a threshold a graded level).
    agg_ = graded({"orderbook": wa, "orderflow": wb}, floor)
    lo, hi = sorted((a, b))

    r_lo = agg_.compute({"orderbook": lo, "orderflow": 50.0})
    r_hi = agg_.compute({"orderbook": hi, "orderflow": 50.0})

    assert r_hi.score >= r_lo.score - 1e-12


@given(st.floats(0.0, 1.0), FLOOR)
def test_graded_score_reaches_every_level_between_its_bounds(target: float, floor: float) -> None:
    # One component alone has consensus 1, so its score is 50 + 50 D exactly: any level in
    # [0, 100] is reached by the component score that equals it, with no gap near 30 or 70.
    r = graded({"orderbook": 1.0}, floor).compute({"orderbook": 100.0 * target})

    assert r.score == pytest.approx(100.0 * target, abs=1e-9)


@given(SCORES, WEIGHTS, FLOOR)
def test_graded_reflected_components_reflect_the_score(
    scores: dict[str, float | None], weights: dict[str, float], floor: float
) -> None:
    a = graded(weights, floor)
    reflected = {c: None if s is None else 100.0 - s for c, s in scores.items()}

    r, m = a.compute(scores), a.compute(reflected)

    assert m.score == pytest.approx(100.0 - r.score, abs=1e-9)
    assert (m.confidence, m.consensus, m.reliability) == pytest.approx(
        (r.confidence, r.consensus, r.reliability), abs=1e-12
    )


def test_graded_rule_is_named_and_validated() -> None:
    cfg = agg.AggregatorConfig(rule="graded", consensus_floor=0.25)

    assert (cfg.rule, cfg.consensus_floor) == ("graded", 0.25)
    assert agg.AggregatorConfig().rule == "reference"
    with pytest.raises(
        agg_exc.InvalidConfig, match="rule must be 'reference' or 'graded', was 'x'"
    ):
        agg.AggregatorConfig(rule="x")
    with pytest.raises(
        agg_exc.InvalidConfig, match=r"consensus_floor must be in \[0, 1\], was 1.5"
    ):
        agg.AggregatorConfig(rule="graded", consensus_floor=1.5)
