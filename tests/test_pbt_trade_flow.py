"""Property tests: TradeFlow windows, CVD and CVD z-score against a brute-force Python model."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import confluex
import numpy as np
from confluex._core import trade_flow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

BUY, SELL, UNKNOWN = 0, 1, 2


@dataclass
class RefTrade:
    seq: int
    ts: int  # stamp used for windowing: max(ts, clock)
    px: int
    qty: int
    side: int
    large: bool


@dataclass
class RefFlow:
    """Plain model: keeps every trade and recomputes every statistic from scratch."""

    windows: list[int]
    large_lots: int
    capacity: int
    sample_ns: int
    zidx: int
    lookback: int
    min_samples: int
    clip: float
    trades: list[RefTrade] = field(default_factory=list)
    clock: int | None = None
    floor: int = 0  # trades with seq < floor were evicted early (ring full)
    next_sample: int = 0
    samples: deque[int] = field(default_factory=deque)
    last_z: float = 0.0
    out_of_order: int = 0
    truncated: int = 0

    def held(self, k: int, now: int) -> list[RefTrade]:
        w = self.windows[k]
        return [t for t in self.trades if t.seq >= self.floor and now - t.ts < w]

    def sample(self, b: int) -> None:
        delta = sum(
            t.qty if t.side == BUY else -t.qty if t.side == SELL else 0
            for t in self.held(self.zidx, b)
        )
        self.samples.append(delta)
        if len(self.samples) > self.lookback:
            self.samples.popleft()

    def move(self, now: int) -> None:
        sampled = False
        while self.next_sample <= now:
            self.sample(self.next_sample)
            self.next_sample += self.sample_ns
            sampled = True
        if sampled:  # z of the latest sample against the window including it
            self.last_z = ref_z(list(self.samples), self.samples[-1], self.min_samples, self.clip)
        self.clock = now

    def start(self, now: int) -> None:
        self.clock = now
        self.next_sample = (now // self.sample_ns + 1) * self.sample_ns

    def push(self, ts: int, px: int, qty: int, side: int) -> None:
        if self.clock is None:
            self.start(ts)
        elif ts < self.clock:
            self.out_of_order += 1
            ts = self.clock
        else:
            self.move(ts)
        assert self.clock is not None
        longest = self.held(len(self.windows) - 1, self.clock)
        if len(longest) == self.capacity:
            self.floor = longest[0].seq + 1
            self.truncated += 1
        large = self.large_lots > 0 and qty >= self.large_lots
        self.trades.append(RefTrade(len(self.trades), ts, px, qty, side, large))

    def advance(self, now: int) -> None:
        if self.clock is None:
            self.start(now)
        elif now > self.clock:
            self.move(now)

    def stats(self, k: int) -> dict[str, object]:
        assert self.clock is not None
        held = self.held(k, self.clock)

        def qty(side: int, large_only: bool = False) -> int:
            return sum(t.qty for t in held if t.side == side and (t.large or not large_only))

        def notional(side: int) -> float:
            return float(sum(t.px * t.qty for t in held if t.side == side))

        return {
            "buy_qty": qty(BUY),
            "sell_qty": qty(SELL),
            "unknown_qty": qty(UNKNOWN),
            "buy_notional": notional(BUY),
            "sell_notional": notional(SELL),
            "unknown_notional": notional(UNKNOWN),
            "count": len(held),
            "large_count": sum(1 for t in held if t.large),
            "large_buy_qty": qty(BUY, True),
            "large_sell_qty": qty(SELL, True),
        }

    def cvd(self) -> int:
        return sum(t.qty if t.side == BUY else -t.qty if t.side == SELL else 0 for t in self.trades)


def ref_z(window: list[int] | list[float], x: float, min_samples: int, clip: float) -> float:
    """Clipped population z of x against `window` (exact mean/variance via Fraction)."""
    if len(window) < min_samples:
        return 0.0
    vals = [Fraction(v) for v in window]
    mean = sum(vals, Fraction(0)) / len(vals)
    var = sum(((v - mean) ** 2 for v in vals), Fraction(0)) / len(vals)
    if var == 0:
        return 0.0
    z = float(Fraction(x) - mean) / math.sqrt(float(var))
    return max(-clip, min(clip, z))


# --- strategies ------------------------------------------------------------------------------

WINDOW_SETS = [[5], [3, 10], [2, 7, 20, 60], [1, 4, 16, 64, 128, 256, 512, 1000]]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, object]:
    windows = draw(st.sampled_from(WINDOW_SETS))
    lookback = draw(st.integers(2, 12))
    return {
        "windows_ns": windows,
        "large_trade_lots": draw(st.sampled_from([0, 5, 20])),
        "capacity": draw(st.sampled_from([1, 2, 4, 8, 64, 1024])),
        "zscore_sample_ns": draw(st.sampled_from([1, 3, 10, 25])),
        "zscore_window_index": draw(st.integers(0, len(windows) - 1)),
        "zscore_lookback": lookback,
        "zscore_min_samples": draw(st.integers(2, lookback)),
        "zscore_clip": draw(st.sampled_from([0.5, 3.0])),
    }


# One step: ("t", dt, px, qty, side) pushes a trade dt after the previous stamp (dt < 0 is a
# late trade), ("a", dt) advances the clock. Bursts (dt = 0) and gaps are both likely.
steps = st.one_of(
    st.tuples(
        st.just("t"),
        st.one_of(st.just(0), st.integers(-8, 12), st.integers(50, 400)),
        st.integers(1, 1000),
        st.one_of(st.integers(1, 30), st.just(20)),
        st.sampled_from([BUY, SELL, UNKNOWN]),
    ),
    st.tuples(st.just("a"), st.integers(-5, 80)),
)
starts = st.one_of(st.just(0), st.integers(-(10**6), 10**6), st.just(10**18))


def make_pair(cfg: dict[str, object]) -> tuple[tf.TradeFlow, RefFlow]:
    flow = tf.TradeFlow(tf.FlowConfig(**cfg))  # type: ignore[arg-type]
    ref = RefFlow(
        windows=list(cfg["windows_ns"]),  # type: ignore[call-overload]
        large_lots=int(cfg["large_trade_lots"]),  # type: ignore[call-overload]
        capacity=int(cfg["capacity"]),  # type: ignore[call-overload]
        sample_ns=int(cfg["zscore_sample_ns"]),  # type: ignore[call-overload]
        zidx=int(cfg["zscore_window_index"]),  # type: ignore[call-overload]
        lookback=int(cfg["zscore_lookback"]),  # type: ignore[call-overload]
        min_samples=int(cfg["zscore_min_samples"]),  # type: ignore[call-overload]
        clip=float(cfg["zscore_clip"]),  # type: ignore[arg-type]
    )
    return flow, ref


def assert_same(flow: tf.TradeFlow, ref: RefFlow) -> None:
    for k in range(flow.window_count()):
        w = flow.window(k)
        got = {name: getattr(w, name) for name in ref.stats(k)}
        assert got == ref.stats(k), f"window {k}"
        assert w.delta == w.buy_qty - w.sell_qty
    assert flow.cvd() == ref.cvd()
    assert flow.total_count() == len(ref.trades)
    assert flow.out_of_order() == ref.out_of_order
    assert flow.truncated() == ref.truncated
    assert math.isclose(flow.last_cvd_z(), ref.last_z, rel_tol=1e-9, abs_tol=1e-9)
    z = flow.cvd_zscore()
    assert z.count() == len(ref.samples)


@settings(max_examples=150)
@given(cfg=configs(), start=starts, ops=st.lists(steps, max_size=60))
def test_windows_cvd_and_zscore_match_brute_force_after_every_step(
    cfg: dict[str, object], start: int, ops: list[tuple[object, ...]]
) -> None:
    flow, ref = make_pair(cfg)
    ts = start
    for op in ops:
        if op[0] == "t":
            _, dt, px, qty, side = op
            ts += int(dt)  # type: ignore[call-overload]
            flow.push(ts, px, qty, side)  # type: ignore[arg-type]
            ref.push(ts, int(px), int(qty), int(side))  # type: ignore[call-overload]
        else:
            ts += int(op[1])  # type: ignore[call-overload]
            flow.advance(ts)
            ref.advance(ts)
        assert_same(flow, ref)


@settings(max_examples=60)
@given(cfg=configs(), start=starts, ops=st.lists(steps, max_size=80))
def test_push_many_equals_one_push_per_record(
    cfg: dict[str, object], start: int, ops: list[tuple[object, ...]]
) -> None:
    trades = [op for op in ops if op[0] == "t"]
    arr = np.zeros(len(trades), dtype=confluex.trade_event_dtype)
    ts = start
    for i, (_, dt, px, qty, side) in enumerate(trades):
        ts += int(dt)  # type: ignore[call-overload]
        arr[i] = (ts, px, qty, 1000 + i, 7, side, 0, 0)
    one = tf.TradeFlow(tf.FlowConfig(**cfg))  # type: ignore[arg-type]
    batch = tf.TradeFlow(tf.FlowConfig(**cfg))  # type: ignore[arg-type]

    for rec in arr:
        one.push(int(rec["ts_ns"]), int(rec["px_ticks"]), int(rec["qty_lots"]), int(rec["side"]))
    batch.push_many(arr)

    for k in range(one.window_count()):
        a, b = one.window(k), batch.window(k)
        assert window_fields(a) == window_fields(b)
    assert (one.cvd(), one.truncated(), one.out_of_order(), one.last_cvd_z()) == (
        batch.cvd(),
        batch.truncated(),
        batch.out_of_order(),
        batch.last_cvd_z(),
    )


@settings(max_examples=40)
@given(
    gaps=st.lists(st.integers(0, 5_000), min_size=1, max_size=12),
    lookback=st.integers(2, 6),
)
def test_long_gap_samples_equal_one_sample_per_period_crossed(
    gaps: list[int], lookback: int
) -> None:
    cfg = {
        "windows_ns": [7, 30],
        "zscore_sample_ns": 3,
        "zscore_window_index": 1,
        "zscore_lookback": lookback,
        "zscore_min_samples": 2,
        "capacity": 64,
    }
    flow, ref = make_pair(
        {**cfg, "large_trade_lots": 0, "zscore_clip": 3.0}  # type: ignore[dict-item]
    )
    ts = 0
    for i, gap in enumerate(gaps):
        ts += gap
        side = BUY if i % 3 else SELL
        flow.push(ts, 100, 1 + i, side)
        ref.push(ts, 100, 1 + i, side)
    assert_same(flow, ref)
    z = flow.cvd_zscore()
    window = list(ref.samples)
    if window:
        assert math.isclose(z.mean(), float(Fraction(sum(window), len(window))), abs_tol=1e-9)


def window_fields(w: object) -> tuple[object, ...]:
    names = (
        "buy_qty",
        "sell_qty",
        "unknown_qty",
        "buy_notional",
        "sell_notional",
        "unknown_notional",
        "count",
        "large_count",
        "large_buy_qty",
        "large_sell_qty",
    )
    return tuple(getattr(w, f) for f in names)


big = st.one_of(st.integers(1, 1000), st.integers(2**40, 2**63 - 1))
# Sizes up to the core's bound (kMaxTradeLots = 2^48): prices up to 2^63 - 1 still make
# notionals near 2^111.
big_qty = st.one_of(st.integers(1, 1000), st.integers(2**40, 2**48))


@settings(max_examples=60)
@given(
    large=st.sampled_from([0, 2**45]),
    trades=st.lists(
        st.tuples(st.integers(0, 400), big, big_qty, st.sampled_from([BUY, SELL, UNKNOWN])),
        max_size=40,
    ),
)
def test_push_many_equals_one_push_per_record_with_notionals_past_2_pow_64(
    large: int, trades: list[tuple[int, int, int, int]]
) -> None:
    # The batch loop keeps 128-bit notionals as two 64-bit words with an explicit carry;
    # products near 2^126 carry on almost every trade.
    cfg = tf.FlowConfig(windows_ns=[100, 1000, 5000], large_trade_lots=large, zscore_sample_ns=300)
    arr = np.zeros(len(trades), dtype=confluex.trade_event_dtype)
    ts = 0
    for i, (dt, px, qty, side) in enumerate(trades):
        ts += dt
        arr[i] = (ts, px, qty, i, 0, side, 0, 0)
    one = tf.TradeFlow(cfg)
    batch = tf.TradeFlow(cfg)

    for rec in arr:
        one.push(int(rec["ts_ns"]), int(rec["px_ticks"]), int(rec["qty_lots"]), int(rec["side"]))
    batch.push_many(arr)

    for k in range(one.window_count()):
        assert window_fields(one.window(k)) == window_fields(batch.window(k))
    assert (one.cvd(), one.total_count(), one.last_cvd_z()) == (
        batch.cvd(),
        batch.total_count(),
        batch.last_cvd_z(),
    )
