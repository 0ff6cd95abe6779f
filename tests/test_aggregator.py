"""Scenario tests of the ConfluenceAggregator (reference-system §2.6 with renormalisation)."""

from __future__ import annotations

import math

import pytest
from confluex._core import aggregator as agg
from confluex._core.exceptions import InvalidConfig, InvalidEvent

NAMES = agg.COMPONENT_NAMES


def test_component_names_follow_the_component_enum_order() -> None:
    assert NAMES == (
        "orderflow",
        "orderbook",
        "volume",
        "price_structure",
        "technical",
        "sentiment",
    )


def test_default_weights_are_the_reference_head_config_normalised() -> None:
    cfg = agg.ConfluenceAggregator().config

    assert cfg.weights == pytest.approx(
        {
            "orderflow": 0.30,
            "orderbook": 0.20,
            "volume": 0.18,
            "price_structure": 0.15,
            "technical": 0.10,
            "sentiment": 0.07,
        }
    )
    assert sum(cfg.weights.values()) == pytest.approx(1.0, abs=1e-15)
    assert (cfg.amplify_confidence, cfg.amplify_consensus, cfg.max_amplification) == (
        0.5,
        0.75,
        0.15,
    )


def test_unanimous_strong_components_amplify_the_score() -> None:
    a = agg.ConfluenceAggregator()

    r = a.compute(dict.fromkeys(NAMES, 80.0))

    d = (80.0 - 50.0) / 50.0  # every n = 0.6, so D = 0.6 and V = 0
    factor = min(1 + (d * 1.0 - 0.5) * 0.15 / 0.5, 1.15)
    assert (r.direction, r.consensus, r.disagreement) == pytest.approx((d, 1.0, 0.0))
    assert r.confidence == pytest.approx(d)
    assert r.score_raw == pytest.approx(80.0)
    assert r.score == pytest.approx(50 + 30 * factor)
    assert r.score > r.score_raw
    assert r.quality_impact == pytest.approx(r.score_raw - r.score)


def test_disagreeing_components_dampen_the_score_towards_50() -> None:
    a = agg.ConfluenceAggregator(agg.AggregatorConfig(weights={"orderflow": 0.5, "technical": 0.5}))

    r = a.compute({"orderflow": 95.0, "technical": 25.0})

    n1, n2 = 0.9, -0.5
    d = 0.5 * n1 + 0.5 * n2
    v = 0.5 * (n1 - d) ** 2 + 0.5 * (n2 - d) ** 2
    confidence = abs(d) * math.exp(-2 * v)
    assert r.disagreement == pytest.approx(v)
    assert r.confidence == pytest.approx(confidence)
    assert r.score == pytest.approx(50 + 50 * d * confidence)
    assert 50.0 < r.score < r.score_raw


def test_strong_but_unconfident_agreement_below_threshold_is_dampened_not_amplified() -> None:
    a = agg.ConfluenceAggregator()

    r = a.compute(dict.fromkeys(NAMES, 70.0))  # confidence 0.4 <= 0.5

    assert r.score == pytest.approx(50 + 20 * 0.4)


def test_missing_component_is_excluded_not_counted_as_a_neutral_50() -> None:
    a = agg.ConfluenceAggregator()

    r = a.compute({"orderflow": 80.0})

    assert r.score_raw == pytest.approx(80.0)  # a neutral 50 for the others would give 59
    assert r.weights["orderflow"] == 1.0
    assert r.reliability == pytest.approx(0.30)
    assert r.has_data == {n: n == "orderflow" for n in NAMES}


def test_none_score_means_no_data_like_a_missing_name() -> None:
    a = agg.ConfluenceAggregator()

    with_none = a.compute({"orderflow": 70.0, "volume": None})
    missing = a.compute({"orderflow": 70.0})

    assert (with_none.score, with_none.reliability, with_none.has_data_mask) == (
        missing.score,
        missing.reliability,
        missing.has_data_mask,
    )


def test_effective_weights_are_renormalised_over_components_with_data() -> None:
    a = agg.ConfluenceAggregator()

    r = a.compute({"orderflow": 60.0, "volume": 40.0, "sentiment": 55.0})

    total = 0.30 + 0.18 + 0.07
    assert r.weights == pytest.approx(
        {
            "orderflow": 0.30 / total,
            "orderbook": 0.0,
            "volume": 0.18 / total,
            "price_structure": 0.0,
            "technical": 0.0,
            "sentiment": 0.07 / total,
        }
    )
    assert r.reliability == pytest.approx(total)
    assert r.components["orderbook"] == 50.0


def test_no_component_with_data_scores_50_with_zero_reliability_and_confidence() -> None:
    r = agg.ConfluenceAggregator().compute(dict.fromkeys(NAMES))

    assert (r.score, r.score_raw, r.reliability, r.confidence, r.consensus, r.direction) == (
        50.0,
        50.0,
        0.0,
        0.0,
        0.0,
        0.0,
    )
    assert r.has_data_mask == 0
    assert set(r.weights.values()) == {0.0}


def test_only_zero_weight_components_with_data_count_as_no_data() -> None:
    a = agg.ConfluenceAggregator(agg.AggregatorConfig(weights={"orderflow": 1.0}))

    r = a.compute({"volume": 90.0})

    assert (r.score, r.reliability, r.has_data["volume"]) == (50.0, 0.0, True)


def test_nan_score_counts_as_neutral_with_data() -> None:
    a = agg.ConfluenceAggregator(agg.AggregatorConfig(weights={"orderflow": 0.5, "volume": 0.5}))

    r = a.compute({"orderflow": math.nan, "volume": 90.0})

    assert r.direction == pytest.approx(0.5 * 0.8)
    assert r.reliability == 1.0


def test_score_outside_0_100_is_clipped_through_n() -> None:
    a = agg.ConfluenceAggregator()

    over = a.compute({"orderflow": 250.0, "volume": -40.0})
    edge = a.compute({"orderflow": 100.0, "volume": 0.0})

    assert (over.score, over.direction) == (edge.score, edge.direction)


def test_weights_are_scale_free() -> None:
    scores = {"orderflow": 71.0, "orderbook": 64.0, "technical": 40.0}
    w = {"orderflow": 3.0, "orderbook": 2.0, "technical": 1.0}

    small = agg.ConfluenceAggregator(agg.AggregatorConfig(weights=w)).compute(scores)
    big = agg.ConfluenceAggregator(
        agg.AggregatorConfig(weights={k: 1e6 * v for k, v in w.items()})
    ).compute(scores)

    assert small.score == pytest.approx(big.score, rel=1e-14)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(math.nan, "nan"), (math.inf, "inf"), (-0.1, "-0.1")],
    ids=("nan", "inf", "negative"),
)
def test_set_weights_with_bad_value_raises_invalid_config_naming_it(
    value: float, shown: str
) -> None:
    a = agg.ConfluenceAggregator()

    with pytest.raises(
        InvalidConfig, match=rf"weights\[volume\] must be finite and >= 0, was {shown}"
    ):
        a.set_weights({"orderflow": 1.0, "volume": value})


def test_set_weights_with_zero_sum_raises_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match="must have a finite positive sum, was 0"):
        agg.ConfluenceAggregator().set_weights(dict.fromkeys(NAMES, 0.0))


def test_set_weights_with_unknown_name_raises_invalid_config_naming_it() -> None:
    with pytest.raises(InvalidConfig, match="unknown component name, was 'orderfloww'"):
        agg.ConfluenceAggregator().set_weights({"orderfloww": 1.0})


def test_failed_set_weights_leaves_the_weights_unchanged() -> None:
    a = agg.ConfluenceAggregator()
    before = a.config.weights

    with pytest.raises(InvalidConfig):
        a.set_weights({"orderflow": 1.0, "volume": -1.0})

    assert a.config.weights == before


def test_set_weights_names_not_given_get_zero_and_the_rest_is_normalised() -> None:
    a = agg.ConfluenceAggregator()

    a.set_weights({"orderflow": 3.0, "volume": 1.0})

    assert a.config.weights == {
        "orderflow": 0.75,
        "orderbook": 0.0,
        "volume": 0.25,
        "price_structure": 0.0,
        "technical": 0.0,
        "sentiment": 0.0,
    }


def test_set_weights_with_non_number_raises_type_error() -> None:
    with pytest.raises(TypeError, match="volume must be a number"):
        agg.ConfluenceAggregator().set_weights({"volume": "0.3"})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": {"volume": -1.0}}, r"weights\[volume\] must be finite and >= 0, was -1"),
        ({"amplify_confidence": 1.0}, "amplify_confidence must be in \\[0, 1\\), was 1"),
        ({"amplify_consensus": math.nan}, "amplify_consensus must be in \\[0, 1\\], was nan"),
        ({"max_amplification": -0.2}, "max_amplification must be finite and >= 0, was -0.2"),
    ],
    ids=("weight", "amplify_confidence", "amplify_consensus", "max_amplification"),
)
def test_aggregator_config_bad_value_raises_invalid_config(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidConfig, match=match):
        agg.AggregatorConfig(**kwargs)


def test_compute_with_unknown_name_raises_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="unknown component name, was 'volumes'"):
        agg.ConfluenceAggregator().compute({"volumes": 60.0})


@pytest.mark.parametrize("scores", [{"volume": "60"}, {3: 60.0}], ids=("str_score", "int_name"))
def test_compute_with_wrong_types_raises_type_error(scores: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(TypeError):
        agg.ConfluenceAggregator().compute(scores)
