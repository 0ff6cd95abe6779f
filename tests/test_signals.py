"""Scenario tests of the order-book signal kernels, OfiWindow and the orderbook component."""

from __future__ import annotations

import math

import numpy as np
import pytest
from confluex._core import signals
from confluex._core.exceptions import InvalidConfig, InvalidEvent


def book(levels: list[tuple[int, int]]) -> np.ndarray:
    return np.array(levels, dtype=np.int64).reshape(-1, 2)


EMPTY = book([])


def ladder(best: int, step: int, sizes: list[int]) -> np.ndarray:
    """Levels best first, `step` ticks apart (negative step for bids)."""
    return book([(best + i * step, q) for i, q in enumerate(sizes)])


def mirrored(bids: np.ndarray, asks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Swap the sides and reflect prices around mid: the bearish image of a bullish book."""
    c = int(bids[0, 0] + asks[0, 0])
    new_bids = np.column_stack([c - asks[:, 0], asks[:, 1]]).astype(np.int64)
    new_asks = np.column_stack([c - bids[:, 0], bids[:, 1]]).astype(np.int64)
    return np.ascontiguousarray(new_bids), np.ascontiguousarray(new_asks)


# --- stateless kernels ----------------------------------------------------------------------


def test_imbalance_over_top_n_uses_only_the_best_n_levels_of_each_side() -> None:
    bids = ladder(100, -1, [5, 1, 100])
    asks = ladder(101, 1, [2, 3, 100])

    got = signals.imbalance(bids, asks, 2)

    assert got == (6 - 5) / (6 + 5)


def test_imbalance_of_one_empty_side_is_plus_or_minus_one() -> None:
    bids = ladder(100, -1, [5, 1])

    assert signals.imbalance(bids, EMPTY, 10) == 1.0
    assert signals.imbalance(EMPTY, bids, 10) == -1.0


def test_imbalance_of_an_empty_book_is_zero() -> None:
    assert signals.imbalance(EMPTY, EMPTY, 10) == 0.0


def test_depth_weighted_imbalance_with_zero_decay_equals_plain_imbalance() -> None:
    bids = ladder(100, -1, [5, 1, 7, 2])
    asks = ladder(101, 1, [2, 3, 1, 9])

    dwi = signals.depth_weighted_imbalance(bids, asks, 4, 0.0)

    assert dwi == signals.imbalance(bids, asks, 4)


def test_depth_weighted_imbalance_discounts_deep_levels() -> None:
    # Equal totals, but bids are heavy at the touch and asks deep: the weighted view is bullish.
    bids = ladder(100, -1, [9, 1])
    asks = ladder(101, 1, [1, 9])

    dwi = signals.depth_weighted_imbalance(bids, asks, 2, 0.3)

    w1 = math.exp(-0.3)
    assert signals.imbalance(bids, asks, 2) == 0.0
    assert dwi == pytest.approx(((9 - 1) + w1 * (1 - 9)) / ((9 + 1) + w1 * (1 + 9)), rel=1e-12)
    assert dwi > 0.0


def test_microprice_leans_towards_the_thin_side() -> None:
    bids = book([(100, 30)])
    asks = book([(102, 10)])

    micro = signals.microprice(bids, asks)

    assert micro == pytest.approx((100 * 10 + 102 * 30) / 40)
    assert micro is not None and micro > signals.mid(bids, asks)  # type: ignore[operator]


def test_microprice_offset_equals_the_half_spread_normalised_microprice_distance() -> None:
    bids = book([(100, 30)])
    asks = book([(104, 10)])

    off = signals.microprice_offset(bids, asks)
    micro = signals.microprice(bids, asks)
    mid = signals.mid(bids, asks)

    assert micro is not None and mid is not None and off is not None
    assert off == pytest.approx((micro - mid) / (4 / 2), rel=1e-12)


def test_price_kernels_return_none_when_a_side_is_empty() -> None:
    bids = book([(100, 30)])

    for fn in (
        signals.microprice,
        signals.mid,
        signals.spread_ticks,
        signals.spread_bps,
        signals.microprice_offset,
    ):
        assert fn(bids, EMPTY) is None
        assert fn(EMPTY, bids) is None


def test_spread_in_ticks_and_basis_points() -> None:
    bids = book([(9_999, 1)])
    asks = book([(10_001, 1)])

    assert signals.spread_ticks(bids, asks) == 2.0
    assert signals.spread_bps(bids, asks) == pytest.approx(1e4 * 2 / 10_000)


def test_depth_ratio_counts_only_levels_inside_the_band() -> None:
    # mid 10_000, band 0.1 % = 10 ticks: levels at distance 9.5 count, 10.5 do not.
    bids = book([(9_999, 4), (9_991, 2), (9_989, 50)])
    asks = book([(10_001, 1), (10_009, 3), (10_011, 50)])

    got = signals.depth_ratio(bids, asks, 0.1)

    assert got == pytest.approx((6 - 4) / (6 + 4), rel=1e-12)


def test_depth_ratio_is_none_without_depth_in_the_band() -> None:
    bids = book([(9_000, 4)])
    asks = book([(11_000, 4)])

    assert signals.depth_ratio(bids, asks, 0.1) is None


def test_logistic_score_maps_zero_to_fifty_and_is_antisymmetric() -> None:
    assert signals.logistic_score(0.0, 0.15) == 50.0
    for x in (1e-9, 0.1, 0.5, 3.0, 1e6):
        assert signals.logistic_score(-x, 0.15) == 100.0 - signals.logistic_score(x, 0.15)


def test_logistic_score_of_nan_is_nan() -> None:
    assert math.isnan(signals.logistic_score(math.nan, 0.15))


@pytest.mark.parametrize("sensitivity", [0.0, -1.0, math.nan, math.inf], ids=str)
def test_logistic_score_with_bad_sensitivity_raises_invalid_config(sensitivity: float) -> None:
    with pytest.raises(InvalidConfig, match="sensitivity must be finite and > 0, was"):
        signals.logistic_score(0.3, sensitivity)


@pytest.mark.parametrize("decay", [-0.1, math.nan, math.inf], ids=str)
def test_depth_weighted_imbalance_with_bad_decay_raises_invalid_config(decay: float) -> None:
    with pytest.raises(InvalidConfig, match="decay must be finite and >= 0, was"):
        signals.depth_weighted_imbalance(book([(1, 1)]), book([(2, 1)]), 5, decay)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(4, dtype=np.int64),
        np.zeros((2, 3), dtype=np.int64),
        np.zeros((1, 2, 2), dtype=np.int64),
    ],
    ids=("1d", "three_columns", "3d"),
)
def test_kernel_with_wrong_array_shape_raises_invalid_event(bad: np.ndarray) -> None:
    message = r"bids must be an \(n, 2\) int64 array of \[px_ticks, qty_lots\], was shape"
    with pytest.raises(InvalidEvent, match=message):
        signals.imbalance(bad, EMPTY, 5)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 2), dtype=np.float64),
        np.zeros((2, 2), dtype=np.int32),
        np.zeros((2, 4), dtype=np.int64)[:, ::2],
        [[1, 2]],
    ],
    ids=("float64", "int32", "strided", "list"),
)
def test_kernel_with_wrong_dtype_or_layout_raises_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        signals.imbalance(bad, EMPTY, 5)  # type: ignore[arg-type]


def test_kernel_with_negative_qty_raises_invalid_event_naming_the_row() -> None:
    with pytest.raises(InvalidEvent, match="asks qty must be >= 0, was -3 at row 1"):
        signals.mid(book([(1, 1)]), book([(2, 1), (3, -3)]))


# --- OfiWindow ------------------------------------------------------------------------------


def test_ofi_first_quote_contributes_zero_but_counts_as_an_event() -> None:
    w = signals.OfiWindow()

    w.on_quote(0, (100, 5), (101, 5))

    assert (w.value(), w.events(), w.size()) == (0.0, 1, 1)


def test_ofi_bid_improvement_adds_the_new_bid_queue() -> None:
    w = signals.OfiWindow()
    w.on_quote(0, (100, 5), (102, 5))

    w.on_quote(1, (101, 7), (102, 5))

    assert w.value() == 7.0  # new bid queue 7; ask unchanged (+5 - 5)


def test_ofi_bid_queue_growth_at_same_price_adds_the_difference() -> None:
    w = signals.OfiWindow()
    w.on_quote(0, (100, 5), (102, 5))

    w.on_quote(1, (100, 9), (102, 5))

    assert w.value() == 4.0


def test_ofi_ask_improvement_subtracts_the_new_ask_queue() -> None:
    w = signals.OfiWindow()
    w.on_quote(0, (100, 5), (102, 5))

    w.on_quote(1, (100, 5), (101, 3))

    assert w.value() == -3.0


def test_ofi_bid_drop_subtracts_the_old_bid_queue() -> None:
    w = signals.OfiWindow()
    w.on_quote(0, (100, 5), (102, 5))

    w.on_quote(1, (99, 8), (102, 5))

    assert w.value() == -5.0


def test_ofi_empty_side_contributes_zero() -> None:
    w = signals.OfiWindow()
    w.on_quote(0, (100, 5), (102, 5))

    w.on_quote(1, None, (102, 9))  # ask queue +4 => -4; bid side empty => 0
    w.on_quote(2, (100, 50), (102, 9))  # bid came back: previous bid empty => 0

    assert w.value() == -4.0


def test_ofi_events_leave_the_window_after_window_ns() -> None:
    w = signals.OfiWindow(window_ns=10)
    w.on_quote(0, (100, 5), (102, 5))
    w.on_quote(1, (100, 9), (102, 5))  # +4 at t=1

    w.advance(10)
    inside = (w.value(), w.size())
    w.advance(11)

    assert inside == (4.0, 1)  # t=0 left at now=10 (window is (now - 10, now])
    assert (w.value(), w.size()) == (0.0, 0)


def test_ofi_full_ring_evicts_early_and_counts_it() -> None:
    w = signals.OfiWindow(window_ns=1_000_000, capacity=2)
    w.on_quote(0, (100, 5), (102, 5))
    w.on_quote(1, (100, 6), (102, 5))  # +1
    w.on_quote(2, (100, 8), (102, 5))  # +2, evicts the t=0 event early

    assert (w.size(), w.evicted_early(), w.events(), w.value()) == (2, 1, 3, 3.0)


def test_ofi_time_never_moves_backwards() -> None:
    w = signals.OfiWindow(window_ns=10)
    w.on_quote(100, (100, 5), (102, 5))

    w.on_quote(50, (100, 9), (102, 5))  # stamped 100, not 50
    w.advance(109)

    assert (w.now_ns, w.size(), w.value()) == (100 + 9, 2, 4.0)


def test_ofi_normalized_divides_by_mean_best_level_depth() -> None:
    w = signals.OfiWindow()
    w.on_quote(0, (100, 4), (102, 6))  # depth sample 5
    w.on_quote(1, (100, 10), (102, 6))  # +6, depth sample 8

    assert w.normalized() == pytest.approx(6 / ((5 + 8) / 2))


def test_ofi_reset_forgets_everything() -> None:
    w = signals.OfiWindow(capacity=1)
    w.on_quote(0, (100, 4), (102, 6))
    w.on_quote(1, (100, 10), (102, 6))

    w.reset()
    w.on_quote(2, (100, 99), (102, 6))

    assert (w.value(), w.size(), w.events(), w.evicted_early(), w.normalized()) == (
        0.0,
        1,
        1,
        0,
        0.0,
    )


@pytest.mark.parametrize(
    ("window_ns", "capacity", "what"),
    [(0, 8, "window_ns"), (-5, 8, "window_ns"), (10, 0, "capacity"), (10, 1 << 25, "capacity")],
)
def test_ofi_window_bad_config_raises_invalid_config(
    window_ns: int, capacity: int, what: str
) -> None:
    with pytest.raises(InvalidConfig, match=f"{what} must be .*, was"):
        signals.OfiWindow(window_ns, capacity)


def test_ofi_negative_quote_qty_raises_invalid_event() -> None:
    w = signals.OfiWindow()

    with pytest.raises(InvalidEvent, match="best_ask qty must be >= 0, was -1"):
        w.on_quote(0, (100, 1), (101, -1))
    assert w.events() == 0


# --- the orderbook component ----------------------------------------------------------------


def balanced_book(depth: int = 25) -> tuple[np.ndarray, np.ndarray]:
    sizes = [(7 * i) % 11 + 1 for i in range(depth)]
    # Self-mirror around 2 * mid = 200_001: level i of each side is the image of the other's.
    return ladder(100_000, -1, sizes), ladder(100_001, 1, sizes)


def test_balanced_25_level_book_scores_exactly_50_not_the_reference_59_75() -> None:
    bids, asks = balanced_book()
    drr = signals.depth_ratio(bids, asks, 0.1)
    ofi = signals.OfiWindow()
    ofi.on_quote(0, tuple(bids[0]), tuple(asks[0]))  # type: ignore[arg-type]

    comp = signals.compute_orderbook_component(
        bids, asks, drr, ofi, signals.OrderbookSignalsConfig()
    )

    assert comp.has_data is True
    assert comp.score == 50.0
    assert all(s == 50.0 for s in comp.sub.values())


def test_three_times_bid_size_is_bullish_and_three_times_ask_size_is_the_exact_mirror() -> None:
    sizes = [(3 * i) % 7 + 1 for i in range(25)]
    bids = ladder(100_000, -1, [3 * q for q in sizes])
    asks = ladder(100_001, 1, sizes)
    mb, ma = mirrored(bids, asks)
    cfg = signals.OrderbookSignalsConfig()
    ofi = signals.OfiWindow()

    up = signals.compute_orderbook_component(
        bids, asks, signals.depth_ratio(bids, asks, 0.1), ofi, cfg
    )
    down = signals.compute_orderbook_component(mb, ma, signals.depth_ratio(mb, ma, 0.1), ofi, cfg)

    assert up.score > 90.0
    assert down.score == pytest.approx(100.0 - up.score, abs=1e-12)
    assert {k: 100.0 - v for k, v in up.sub.items()} == down.sub


def test_component_sub_scores_follow_their_documented_formulas() -> None:
    bids = ladder(100_000, -1, [4, 1, 2, 8, 3, 3, 5, 1, 1, 9, 2, 2])
    asks = ladder(100_002, 1, [2, 6, 1, 1, 4, 7, 1, 2, 3, 1, 1])
    cfg = signals.OrderbookSignalsConfig()
    ofi = signals.OfiWindow()
    ofi.on_quote(0, (100_000, 2), (100_002, 2))
    ofi.on_quote(1, (100_000, 4), (100_002, 2))

    comp = signals.compute_orderbook_component(bids, asks, 0.25, ofi, cfg)

    s = cfg.imbalance_sensitivity
    expected = {
        "oir_5": signals.logistic_score(signals.imbalance(bids, asks, 5), s),
        "oir_10": signals.logistic_score(signals.imbalance(bids, asks, 10), s),
        "oir_25": signals.logistic_score(signals.imbalance(bids, asks, 25), s),
        "dwi": signals.logistic_score(signals.depth_weighted_imbalance(bids, asks, 10, 0.3), s),
        "microprice": signals.logistic_score((4 - 2) / (4 + 2), s),
        "ofi": signals.logistic_score(ofi.normalized(), cfg.ofi_sensitivity),
        "depth_ratio": signals.logistic_score(0.25, s),
        "absorption_exhaustion": 50.0,  # not supplied: weight 0
        "liquidity": 50.0,
    }
    assert comp.sub == pytest.approx(expected, rel=1e-12)
    w = comp.weights
    assert w == {**cfg.weights, "absorption_exhaustion": 0.0, "liquidity": 0.0}
    assert comp.score == pytest.approx(
        50 + sum(w[k] * (expected[k] - 50) for k in w) / sum(w.values()), rel=1e-12
    )


@pytest.mark.parametrize("drr", [None, math.nan], ids=("none", "nan"))
def test_component_without_depth_ratio_gives_it_weight_zero(drr: float | None) -> None:
    bids, asks = ladder(100, -1, [9, 1]), ladder(101, 1, [1, 1])
    ofi = signals.OfiWindow()

    comp = signals.compute_orderbook_component(
        bids, asks, drr, ofi, signals.OrderbookSignalsConfig()
    )

    assert comp.weights["depth_ratio"] == 0.0
    assert comp.weights["ofi"] == 0.0  # empty window: no information, not a neutral vote
    assert comp.sub["depth_ratio"] == 50.0


def test_component_of_a_one_sided_book_has_no_data_and_scores_50() -> None:
    comp = signals.compute_orderbook_component(
        ladder(100, -1, [5]), EMPTY, 0.9, signals.OfiWindow(), signals.OrderbookSignalsConfig()
    )

    assert comp.has_data is False
    assert comp.score == 50.0
    assert set(comp.sub) == set(signals.BOOK_SUB_NAMES)
    assert sum(comp.weights.values()) == 0.0


def test_component_sub_names_are_the_documented_static_names() -> None:
    assert signals.BOOK_SUB_NAMES == (
        "oir_5",
        "oir_10",
        "oir_25",
        "dwi",
        "microprice",
        "ofi",
        "depth_ratio",
        "absorption_exhaustion",
        "liquidity",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("imbalance_sensitivity", 0.0),
        ("ofi_sensitivity", math.nan),
        ("dwi_levels", 0),
        ("dwi_decay", -1.0),
        ("depth_band_pct", math.inf),
        ("weight_ofi", -0.5),
        ("weight_dwi", math.nan),
    ],
)
def test_orderbook_config_bad_value_raises_invalid_config_naming_it(
    field: str, value: float
) -> None:
    with pytest.raises(InvalidConfig, match=f"OrderbookSignalsConfig.{field} must be .*, was"):
        signals.OrderbookSignalsConfig(**{field: value})  # type: ignore[arg-type]


def test_orderbook_config_setter_rejects_bad_value_and_keeps_the_old_one() -> None:
    cfg = signals.OrderbookSignalsConfig(weight_ofi=0.3)

    with pytest.raises(InvalidConfig, match="weight_ofi must be finite and >= 0, was -1"):
        cfg.weight_ofi = -1.0

    assert cfg.weight_ofi == 0.3


def test_orderbook_config_all_zero_weights_raises_invalid_config() -> None:
    zero = {f"weight_{n}": 0.0 for n in signals.BOOK_SUB_NAMES}

    with pytest.raises(InvalidConfig, match="weights must have a finite positive sum, was 0"):
        signals.OrderbookSignalsConfig(**zero)  # type: ignore[arg-type]
