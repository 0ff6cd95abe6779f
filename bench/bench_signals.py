"""Benchmarks of the order-book signal kernels, the orderbook component and the aggregator.

Inputs are real: a few hundred top-25 snapshots of Binance spot BTCUSDT, built by applying the
recorded diff-depth stream to a plain dict book with Binance's local-book procedure, outside
the timed calls. Each group times the C++ path from Python and a plain-Python (and NumPy)
reference on the same input. The pure C++ cost (no Python call overhead) is measured by
bench/cpp/bench_signals.cpp: timing loops stay out of the production module.

Run like:
    pytest bench/bench_signals.py --benchmark-only --benchmark-disable-gc -s
    pytest bench/bench_signals.py --benchmark-disable          # once, as correctness tests
"""

from __future__ import annotations

import heapq
import math
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from confluex._core import aggregator as agg
from confluex._core import signals
from confluex._core.instrument import Instrument
from confluex.feeds.capture import iter_capture

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
SPOT = DATA / "hftbacktest" / "spot" / "btcusdt_20240808.gz"
N_SNAPSHOTS = 300
DEPTH = 25

Levels = list[tuple[int, int]]


@lru_cache(maxsize=1)
def real_snapshots() -> list[tuple[Levels, Levels]]:
    """Top-25 (bids, asks) after evenly spaced depth messages of the first spot file."""
    if not SPOT.is_file():
        pytest.fail(f"real data not found at {SPOT}")
    inst = Instrument("0.01", "0.00000001")  # quantities carry 8 decimals
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    pending: list[dict] = []  # type: ignore[type-arg]
    last_u: int | None = None
    books: list[tuple[Levels, Levels]] = []

    def apply(msg: dict) -> None:  # type: ignore[type-arg]
        for side, key in ((bids, "b"), (asks, "a")):
            for px, qty in msg[key]:
                t, q = inst.price_to_ticks(px), inst.qty_to_lots(qty)
                if q:
                    side[t] = q
                else:
                    side.pop(t, None)

    for _, stream, data in iter_capture(SPOT):
        if stream is None and "lastUpdateId" in data:
            for px, qty in data["bids"]:
                bids[inst.price_to_ticks(px)] = inst.qty_to_lots(qty)
            for px, qty in data["asks"]:
                asks[inst.price_to_ticks(px)] = inst.qty_to_lots(qty)
            last_u = data["lastUpdateId"]
            todo, pending = pending, []
            for msg in todo:  # Binance procedure: drop u <= lastUpdateId, first must straddle
                if msg["u"] <= last_u:
                    continue
                assert msg["U"] <= last_u + 1 <= msg["u"]
                apply(msg)
                last_u = msg["u"]
            continue
        if stream is None or not stream.endswith("@depth@100ms"):
            continue
        if last_u is None:
            pending.append(data)
            continue
        assert data["U"] == last_u + 1, "gap in the depth stream"
        apply(data)
        last_u = data["u"]
        top_b = heapq.nlargest(DEPTH, bids.items())
        top_a = heapq.nsmallest(DEPTH, asks.items())
        assert top_b[0][0] < top_a[0][0], "crossed book"
        books.append((top_b, top_a))
    step = max(1, len(books) // N_SNAPSHOTS)
    return books[::step][:N_SNAPSHOTS]


@lru_cache(maxsize=1)
def real_arrays() -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array(b, dtype=np.int64), np.array(a, dtype=np.int64)) for b, a in real_snapshots()]


# --- plain-Python / NumPy references --------------------------------------------------------


def py_imbalance(bids: Levels, asks: Levels, n: int) -> float:
    b = sum(q for _, q in bids[:n])
    a = sum(q for _, q in asks[:n])
    return (b - a) / (b + a) if b + a else 0.0


def np_imbalance(bids: np.ndarray, asks: np.ndarray, n: int) -> float:
    b = int(bids[:n, 1].sum())
    a = int(asks[:n, 1].sum())
    return (b - a) / (b + a) if b + a else 0.0


def py_logistic(x: float, s: float) -> float:
    return 100.0 / (1.0 + math.exp(-x / s))


def py_component(
    bids: Levels, asks: Levels, drr: float, cfg: signals.OrderbookSignalsConfig
) -> float:
    """The orderbook component without OFI (an empty window gives it weight 0)."""
    s = cfg.imbalance_sensitivity
    wb = sum(math.exp(-cfg.dwi_decay * i) * q for i, (_, q) in enumerate(bids[: cfg.dwi_levels]))
    wa = sum(math.exp(-cfg.dwi_decay * i) * q for i, (_, q) in enumerate(asks[: cfg.dwi_levels]))
    qb, qa = bids[0][1], asks[0][1]
    subs = [
        (cfg.weight_oir_5, py_logistic(py_imbalance(bids, asks, 5), s)),
        (cfg.weight_oir_10, py_logistic(py_imbalance(bids, asks, 10), s)),
        (cfg.weight_oir_25, py_logistic(py_imbalance(bids, asks, 25), s)),
        (cfg.weight_dwi, py_logistic((wb - wa) / (wb + wa), s)),
        (cfg.weight_microprice, py_logistic((qb - qa) / (qb + qa), s)),
        (cfg.weight_depth_ratio, py_logistic(drr, s)),
    ]
    return 50 + sum(w * (v - 50) for w, v in subs) / sum(w for w, _ in subs)


def py_aggregate(scores: dict[str, float | None], weights: dict[str, float]) -> float:
    """Reference-system §2.6 over the components with data, weights renormalised."""
    active = {c: s for c, s in scores.items() if s is not None}
    total = sum(weights[c] for c in active)
    if total <= 0:
        return 50.0
    w = {c: weights[c] / total for c in active}
    n = {c: min(max((s - 50) / 50, -1.0), 1.0) for c, s in active.items()}
    d = min(max(sum(w[c] * n[c] for c in active), -1.0), 1.0)
    v = sum(w[c] * (n[c] - d) ** 2 for c in active)
    consensus = math.exp(-2 * v)
    confidence = abs(d) * consensus
    if confidence > 0.5 and consensus > 0.75:
        factor = min(1 + (confidence - 0.5) * 0.15 / 0.5, 1.15)
        return min(max(50 + 50 * d * factor, 0.0), 100.0)
    return 50 + 50 * d * confidence


@lru_cache(maxsize=1)
def score_dicts() -> list[dict[str, float | None]]:
    """One score dict per snapshot: the real orderbook component, the others drawn around it."""
    rng = random.Random(20240808)
    cfg = signals.OrderbookSignalsConfig()
    ofi = signals.OfiWindow()
    out: list[dict[str, float | None]] = []
    for b, a in real_arrays():
        book = signals.compute_orderbook_component(
            b, a, signals.depth_ratio(b, a, 0.1), ofi, cfg
        ).score
        d: dict[str, float | None] = {
            c: min(max(book + rng.gauss(0, 15), 0.0), 100.0) for c in agg.COMPONENT_NAMES
        }
        d["orderbook"] = book
        d["sentiment"] = None if rng.random() < 0.3 else d["sentiment"]
        out.append(d)
    return out


# --- group: imbalance over the top 10 -------------------------------------------------------


@pytest.mark.benchmark(group="imbalance")
def test_imbalance_top10_cpp_from_python(benchmark) -> None:  # type: ignore[no-untyped-def]
    arrays = real_arrays()

    got = benchmark(lambda: [signals.imbalance(b, a, 10) for b, a in arrays])

    assert got == [py_imbalance(b, a, 10) for b, a in real_snapshots()]


@pytest.mark.benchmark(group="imbalance")
def test_imbalance_top10_python(benchmark) -> None:  # type: ignore[no-untyped-def]
    books = real_snapshots()

    got = benchmark(lambda: [py_imbalance(b, a, 10) for b, a in books])

    assert got == [signals.imbalance(b, a, 10) for b, a in real_arrays()]


@pytest.mark.benchmark(group="imbalance")
def test_imbalance_top10_numpy(benchmark) -> None:  # type: ignore[no-untyped-def]
    arrays = real_arrays()

    got = benchmark(lambda: [np_imbalance(b, a, 10) for b, a in arrays])

    assert got == [signals.imbalance(b, a, 10) for b, a in arrays]


# --- group: the orderbook component ---------------------------------------------------------


@pytest.mark.benchmark(group="orderbook-component")
def test_orderbook_component_cpp_from_python(benchmark) -> None:  # type: ignore[no-untyped-def]
    arrays, cfg, ofi = real_arrays(), signals.OrderbookSignalsConfig(), signals.OfiWindow()
    drr = [signals.depth_ratio(b, a, 0.1) for b, a in arrays]

    got = benchmark(
        lambda: [
            signals.compute_orderbook_component(b, a, d, ofi, cfg).score
            for (b, a), d in zip(arrays, drr, strict=True)
        ]
    )

    ref = [py_component(b, a, d, cfg) for (b, a), d in zip(real_snapshots(), drr, strict=True)]  # type: ignore[arg-type]
    assert got == pytest.approx(ref, rel=1e-9)
    assert len({round(s, 6) for s in got}) > 10  # real books move the score


@pytest.mark.benchmark(group="orderbook-component")
def test_orderbook_component_python(benchmark) -> None:  # type: ignore[no-untyped-def]
    books, cfg = real_snapshots(), signals.OrderbookSignalsConfig()
    drr = [signals.depth_ratio(b, a, 0.1) for b, a in real_arrays()]

    got = benchmark(
        lambda: [py_component(b, a, d, cfg) for (b, a), d in zip(books, drr, strict=True)]
    )  # type: ignore[arg-type]

    ofi = signals.OfiWindow()
    assert got == pytest.approx(
        [
            signals.compute_orderbook_component(b, a, d, ofi, cfg).score
            for (b, a), d in zip(real_arrays(), drr, strict=True)
        ],
        rel=1e-9,
    )


# --- group: the aggregator ------------------------------------------------------------------


@pytest.mark.benchmark(group="aggregator")
def test_aggregator_cpp_from_python(benchmark) -> None:  # type: ignore[no-untyped-def]
    a, dicts = agg.ConfluenceAggregator(), score_dicts()

    got = benchmark(lambda: [a.compute(d).score for d in dicts])

    weights = a.config.weights
    assert got == pytest.approx([py_aggregate(d, weights) for d in dicts], rel=1e-9)


@pytest.mark.benchmark(group="aggregator")
def test_aggregator_python(benchmark) -> None:  # type: ignore[no-untyped-def]
    a, dicts = agg.ConfluenceAggregator(), score_dicts()
    weights = a.config.weights

    got = benchmark(lambda: [py_aggregate(d, weights) for d in dicts])

    assert got == pytest.approx([a.compute(d).score for d in dicts], rel=1e-9)
