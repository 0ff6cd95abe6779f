"""Property tests: each signal kernel against a plain-Python reference, plus mirror symmetry."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pytest
from confluex._core import signals
from hypothesis import given, settings
from hypothesis import strategies as st

Levels = list[tuple[int, int]]

# --- strategies -----------------------------------------------------------------------------

QTY = st.integers(min_value=0, max_value=10**9)  # per-side totals stay far below 2**53


@st.composite
def books(draw: st.DrawFn, max_levels: int = 30, min_levels: int = 0) -> tuple[Levels, Levels]:
    """A valid book: bids strictly descending, asks strictly ascending above the best bid."""
    best_bid = draw(st.integers(min_value=1_000, max_value=10**8))
    spread = draw(st.integers(min_value=1, max_value=50))
    nb = draw(st.integers(min_value=min_levels, max_value=max_levels))
    na = draw(st.integers(min_value=min_levels, max_value=max_levels))
    gaps_b = draw(st.lists(st.integers(1, 20), min_size=nb, max_size=nb))
    gaps_a = draw(st.lists(st.integers(1, 20), min_size=na, max_size=na))
    bids, px = [], best_bid
    for i in range(nb):
        bids.append((px, draw(QTY)))
        px -= gaps_b[i]
    asks, px = [], best_bid + spread
    for i in range(na):
        asks.append((px, draw(QTY)))
        px += gaps_a[i]
    return bids, asks


def arr(levels: Levels) -> np.ndarray:
    return np.array(levels, dtype=np.int64).reshape(-1, 2)


def mirror(bids: Levels, asks: Levels) -> tuple[Levels, Levels]:
    c = bids[0][0] + asks[0][0]
    return [(c - p, q) for p, q in asks], [(c - p, q) for p, q in bids]


# --- plain-Python references ----------------------------------------------------------------


def ref_ratio(b: float, a: float) -> float:
    return (b - a) / (b + a) if b + a > 0 else 0.0


def ref_imbalance(bids: Levels, asks: Levels, n: int) -> float:
    return ref_ratio(sum(q for _, q in bids[:n]), sum(q for _, q in asks[:n]))


def ref_dwi(bids: Levels, asks: Levels, n: int, decay: float) -> float:
    b = sum(math.exp(-decay * i) * q for i, (_, q) in enumerate(bids[:n]))
    a = sum(math.exp(-decay * i) * q for i, (_, q) in enumerate(asks[:n]))
    return ref_ratio(b, a)


def ref_logistic(x: float, s: float) -> float:
    return 100.0 / (1.0 + math.exp(-x / s)) if x > -700 * s else 0.0


def ref_depth_ratio(bids: Levels, asks: Levels, band_pct: float) -> float | None:
    if not bids or not asks:
        return None
    mid = (bids[0][0] + asks[0][0]) / 2
    db = sum(q for p, q in bids if abs(p - mid) <= mid * band_pct / 100)
    da = sum(q for p, q in asks if abs(p - mid) <= mid * band_pct / 100)
    return ref_ratio(db, da) if db + da > 0 else None


@dataclass
class RefOfi:
    window_ns: int
    capacity: int
    events: deque[tuple[int, int, int]] = field(default_factory=deque)  # (ts, e, qb + qa)
    prev_bid: tuple[int, int] | None = None
    prev_ask: tuple[int, int] | None = None
    now: int | None = None
    first: int | None = None
    evicted_early: int = 0

    def advance(self, t: int) -> None:
        self.now = t if self.now is None else max(self.now, t)
        while self.events and self.events[0][0] <= self.now - self.window_ns:
            self.events.popleft()

    def on_quote(self, t: int, bid: tuple[int, int] | None, ask: tuple[int, int] | None) -> None:
        self.advance(t)
        e = 0
        if bid and self.prev_bid:
            e += (bid[1] if bid[0] >= self.prev_bid[0] else 0) - (
                self.prev_bid[1] if bid[0] <= self.prev_bid[0] else 0
            )
        if ask and self.prev_ask:
            e -= (ask[1] if ask[0] <= self.prev_ask[0] else 0) - (
                self.prev_ask[1] if ask[0] >= self.prev_ask[0] else 0
            )
        if len(self.events) == self.capacity:
            self.events.popleft()
            self.evicted_early += 1
        assert self.now is not None
        self.first = self.now if self.first is None else self.first
        self.events.append((self.now, e, (bid[1] if bid else 0) + (ask[1] if ask else 0)))
        self.prev_bid, self.prev_ask = bid, ask

    def value(self) -> int:
        return sum(e for _, e, _ in self.events)

    def normalized(self) -> float:
        depth = sum(d for _, _, d in self.events) / (2 * len(self.events)) if self.events else 0
        return self.value() / depth if depth > 0 else 0.0

    def tstat(self) -> float:
        ss = sum(e * e for _, e, _ in self.events)
        return self.value() / math.sqrt(ss) if ss > 0 else 0.0

    def coverage(self) -> float:
        if self.first is None or self.now is None:
            return 0.0
        return min(1.0, (self.now - self.first) / self.window_ns)


def ref_component(
    bids: Levels, asks: Levels, drr: float | None, ofi: RefOfi, cfg: signals.OrderbookSignalsConfig
) -> tuple[float, dict[str, float], dict[str, float]]:
    names = signals.BOOK_SUB_NAMES
    if not bids or not asks:
        return 50.0, dict.fromkeys(names, 50.0), dict.fromkeys(names, 0.0)
    s = cfg.imbalance_sensitivity
    qb, qa = bids[0][1], asks[0][1]
    sub = {
        "oir_5": ref_logistic(ref_imbalance(bids, asks, 5), s),
        "oir_10": ref_logistic(ref_imbalance(bids, asks, 10), s),
        "oir_25": ref_logistic(ref_imbalance(bids, asks, 25), s),
        "dwi": ref_logistic(ref_dwi(bids, asks, cfg.dwi_levels, cfg.dwi_decay), s),
        "microprice": ref_logistic(ref_ratio(qb, qa), s),
        "ofi": ref_logistic(ofi.tstat() if cfg.ofi_tstat else ofi.normalized(), cfg.ofi_sensitivity)
        if ofi.events
        else 50.0,
        "depth_ratio": ref_logistic(drr, s) if drr is not None else 50.0,
        "absorption_exhaustion": 50.0,  # not supplied (absorption_raw=None): weight 0
        "liquidity": 50.0,
    }
    w = dict(cfg.weights)
    w["absorption_exhaustion"] = w["liquidity"] = 0.0
    if not ofi.events:
        w["ofi"] = 0.0
    elif cfg.warmup:
        w["ofi"] *= ofi.coverage()
    if drr is None:
        w["depth_ratio"] = 0.0
    total = sum(w.values())
    score = 50 + sum(w[k] * (sub[k] - 50) for k in names) / total if total > 0 else 50.0
    return score, sub, w


def ref_warmup(ofi: RefOfi, cfg: signals.OrderbookSignalsConfig) -> float:
    """The warm share of the weight: all but the ofi weight's uncovered part (1 untracked)."""
    if not cfg.warmup:
        return 1.0
    w = cfg.weights
    cold = w["ofi"] * (1 - ofi.coverage()) if ofi.events else w["ofi"]
    return 1.0 - cold / sum(w.values())


# --- kernels vs references ------------------------------------------------------------------


@given(books(), st.integers(0, 40))
def test_imbalance_matches_reference_exactly(book: tuple[Levels, Levels], n: int) -> None:
    bids, asks = book

    got = signals.imbalance(arr(bids), arr(asks), n)

    assert got == ref_imbalance(bids, asks, n)  # exact: integer sums below 2**53, one division


@given(books(), st.integers(0, 40), st.floats(0.0, 3.0))
def test_depth_weighted_imbalance_matches_reference(
    book: tuple[Levels, Levels], n: int, decay: float
) -> None:
    bids, asks = book

    got = signals.depth_weighted_imbalance(arr(bids), arr(asks), n, decay)

    assert got == pytest.approx(ref_dwi(bids, asks, n, decay), rel=1e-12, abs=1e-12)
    assert -1.0 <= got <= 1.0


@given(books(min_levels=1))
def test_price_kernels_match_reference(book: tuple[Levels, Levels]) -> None:
    bids, asks = book
    (pb, qb), (pa, qa) = bids[0], asks[0]
    b, a = arr(bids), arr(asks)

    micro, mid = signals.microprice(b, a), signals.mid(b, a)
    spread, bps, off = (
        signals.spread_ticks(b, a),
        signals.spread_bps(b, a),
        signals.microprice_offset(b, a),
    )

    ref_mid = (pb + pa) / 2
    assert mid == ref_mid
    assert micro == pytest.approx(
        (pb * qa + pa * qb) / (qa + qb) if qa + qb else ref_mid, rel=1e-15
    )
    assert spread == pa - pb
    assert bps == pytest.approx(1e4 * (pa - pb) / ref_mid, rel=1e-15)
    assert off == ref_ratio(qb, qa)
    if qa + qb:  # the identity the kernel relies on
        assert off == pytest.approx((micro - mid) / ((pa - pb) / 2), abs=1e-6)  # type: ignore[operator]


@given(books(), st.floats(0.001, 5.0))
def test_depth_ratio_matches_reference(book: tuple[Levels, Levels], band_pct: float) -> None:
    bids, asks = book

    got = signals.depth_ratio(arr(bids), arr(asks), band_pct)

    ref = ref_depth_ratio(bids, asks, band_pct)
    assert (got is None) == (ref is None)
    if ref is not None:
        assert got == pytest.approx(ref, rel=1e-12, abs=1e-12)


@given(st.floats(-1e3, 1e3, allow_nan=False), st.floats(1e-3, 10.0))
def test_logistic_score_matches_reference_and_is_exactly_antisymmetric(x: float, s: float) -> None:
    got = signals.logistic_score(x, s)

    assert got == pytest.approx(ref_logistic(x, s), rel=1e-12, abs=1e-12)
    assert signals.logistic_score(-x, s) == 100.0 - got
    assert 0.0 <= got <= 100.0


QUOTE = st.one_of(st.none(), st.tuples(st.integers(100, 110), st.integers(0, 10**6)))
STEP = st.one_of(
    st.tuples(st.just("quote"), st.integers(-3, 40), QUOTE, QUOTE),
    st.tuples(st.just("advance"), st.integers(-3, 40), st.none(), st.none()),
)


@settings(max_examples=150)
@given(st.integers(1, 60), st.integers(1, 12), st.lists(STEP, max_size=60))
def test_ofi_window_matches_reference(window_ns: int, capacity: int, steps: list) -> None:  # type: ignore[type-arg]
    w = signals.OfiWindow(window_ns, capacity)
    ref = RefOfi(window_ns, capacity)
    t = 0

    for kind, dt, bid, ask in steps:
        t += dt  # mostly forward, sometimes slightly backwards
        if kind == "quote":
            w.on_quote(t, bid, ask)
            ref.on_quote(t, bid, ask)
        else:
            w.advance(t)
            ref.advance(t)
        assert w.value() == ref.value()
        assert w.size() == len(ref.events)
        assert w.normalized() == pytest.approx(ref.normalized(), rel=1e-12)
        assert w.tstat() == pytest.approx(ref.tstat(), rel=1e-9, abs=1e-12)
        assert abs(w.tstat()) <= math.sqrt(max(w.size(), 1)) + 1e-12
        assert w.coverage() == pytest.approx(ref.coverage(), rel=1e-12, abs=1e-15)
    assert w.evicted_early() == ref.evicted_early
    assert w.events() == sum(1 for s in steps if s[0] == "quote")


# --- the orderbook component ----------------------------------------------------------------

CONFIGS = st.builds(
    signals.OrderbookSignalsConfig,
    imbalance_sensitivity=st.floats(0.01, 2.0),
    dwi_levels=st.integers(1, 30),
    dwi_decay=st.floats(0.0, 2.0),
    ofi_sensitivity=st.floats(0.01, 2.0),
    weight_oir_5=st.floats(0.0, 1.0),
    weight_dwi=st.floats(0.01, 1.0),  # keeps the weight sum positive
    weight_ofi=st.floats(0.0, 1.0),
    weight_depth_ratio=st.floats(0.0, 1.0),
    ofi_tstat=st.booleans(),
    warmup=st.booleans(),
)


@st.composite
def ofi_histories(draw: st.DrawFn) -> list[tuple[tuple[int, int] | None, tuple[int, int] | None]]:
    return draw(st.lists(st.tuples(QUOTE, QUOTE), max_size=8))


def feed(history: list, mirror_prices: bool = False) -> tuple[signals.OfiWindow, RefOfi]:  # type: ignore[type-arg]
    w, ref = signals.OfiWindow(), RefOfi(5_000_000_000, 4096)
    for i, (bid, ask) in enumerate(history):
        t = i * 700_000_000  # 0.7 s apart: the 5 s window's coverage runs from 0 to 1
        if mirror_prices:  # reflect around 210 and swap sides
            bid, ask = (
                ((210 - ask[0], ask[1]) if ask else None),
                ((210 - bid[0], bid[1]) if bid else None),
            )
        w.on_quote(t, bid, ask)
        ref.on_quote(t, bid, ask)
    return w, ref


@settings(max_examples=150)
@given(books(), st.one_of(st.none(), st.floats(-1.0, 1.0)), ofi_histories(), CONFIGS)
def test_orderbook_component_matches_reference(
    book: tuple[Levels, Levels],
    drr: float | None,
    history: list,
    cfg: signals.OrderbookSignalsConfig,
) -> None:  # type: ignore[type-arg]
    bids, asks = book
    w, ref_w = feed(history)

    comp = signals.compute_orderbook_component(arr(bids), arr(asks), drr, w, cfg)

    score, sub, weights = ref_component(bids, asks, drr, ref_w, cfg)
    assert comp.has_data == bool(bids and asks)
    assert comp.weights == pytest.approx(weights, rel=1e-12, abs=0)
    if comp.has_data:
        assert comp.warmup == pytest.approx(ref_warmup(ref_w, cfg), rel=1e-12, abs=1e-15)
    assert comp.sub == pytest.approx(sub, rel=1e-9, abs=1e-9)
    assert comp.score == pytest.approx(score, rel=1e-9, abs=1e-9)
    assert 0.0 <= comp.score <= 100.0


@settings(max_examples=150)
@given(books(min_levels=1), st.one_of(st.none(), st.floats(-1.0, 1.0)), ofi_histories(), CONFIGS)
def test_mirrored_book_maps_every_sub_score_to_100_minus_it(
    book: tuple[Levels, Levels],
    drr: float | None,
    history: list,  # type: ignore[type-arg]
    cfg: signals.OrderbookSignalsConfig,
) -> None:
    bids, asks = book
    mb, ma = mirror(bids, asks)
    w, _ = feed(history)
    mw, _ = feed(history, mirror_prices=True)

    up = signals.compute_orderbook_component(arr(bids), arr(asks), drr, w, cfg)
    down = signals.compute_orderbook_component(
        arr(mb), arr(ma), None if drr is None else -drr, mw, cfg
    )

    assert down.sub == {k: 100.0 - v for k, v in up.sub.items()}  # exact
    assert down.score == pytest.approx(100.0 - up.score, abs=1e-12)
    assert mw.value() == -w.value()


@given(books(min_levels=1), st.floats(0.001, 5.0), st.integers(0, 30))
def test_mirrored_kernels_negate_exactly(
    book: tuple[Levels, Levels], band_pct: float, n: int
) -> None:
    bids, asks = book
    mb, ma = mirror(bids, asks)
    b, a, mb_, ma_ = arr(bids), arr(asks), arr(mb), arr(ma)

    assert signals.imbalance(mb_, ma_, n) == -signals.imbalance(b, a, n)
    assert signals.depth_weighted_imbalance(mb_, ma_, n, 0.3) == -signals.depth_weighted_imbalance(
        b, a, n, 0.3
    )
    assert signals.microprice_offset(mb_, ma_) == -signals.microprice_offset(b, a)  # type: ignore[operator]
    dr, mdr = signals.depth_ratio(b, a, band_pct), signals.depth_ratio(mb_, ma_, band_pct)
    assert (dr is None and mdr is None) or mdr == -dr  # type: ignore[operator]


@st.composite
def self_mirrored_books(draw: st.DrawFn) -> tuple[Levels, Levels]:
    bids, _ = draw(books(min_levels=1))
    spread = draw(st.integers(1, 50))
    c = 2 * bids[0][0] + spread
    return bids, [(c - p, q) for p, q in bids]


@given(self_mirrored_books(), CONFIGS)
def test_balanced_book_scores_exactly_50(
    book: tuple[Levels, Levels], cfg: signals.OrderbookSignalsConfig
) -> None:
    bids, asks = book
    b, a = arr(bids), arr(asks)
    w = signals.OfiWindow()
    w.on_quote(0, bids[0], asks[0])
    w.on_quote(1, bids[0], asks[0])

    comp = signals.compute_orderbook_component(
        b, a, signals.depth_ratio(b, a, cfg.depth_band_pct), w, cfg
    )

    assert comp.score == 50.0
    assert set(comp.sub.values()) == {50.0}
