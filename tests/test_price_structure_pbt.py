"""Property tests: the C++ PriceStructure against a plain-Python reference of each detector.

The reference follows the contract in csrc/include/confluex/price_structure.hpp line by line
(pivot swings confirmed N bars late, HH/HL state, BOS / CHoCH, nearest swing levels, order
blocks, fair value gaps, the swing range with sweeps, EMA trend position). Discrete outputs
(events, levels, zone counts, trend) must be identical; continuous ones equal to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from confluex._core import structure
from hypothesis import given, settings
from hypothesis import strategies as st

EV = structure.EVENTS
KEYS = structure.SUB_SCORE_KEYS
NAN = float("nan")
EMA_PERIODS = (10.0, 20.0, 50.0, 100.0, 200.0)


def clip(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else (hi if v > hi else v)


def proximity(c: float, low: float, high: float) -> float:
    dist = low - c if c < low else c - high
    return 100.0 - min(5.0 * (100.0 * dist / c), 100.0)


def zone_score(
    c: float,
    bull: list[tuple[float, float]],
    bear: list[tuple[float, float]],
    in_bull: float,
    in_bear: float,
) -> float:
    ib = any(lo <= c <= hi for lo, hi in bull)
    is_ = any(lo <= c <= hi for lo, hi in bear)
    if ib and is_:
        return 50.0
    if ib:
        return in_bull
    if is_:
        return in_bear
    pb = max([proximity(c, lo, hi) for lo, hi in bull if not lo <= c <= hi], default=0.0)
    ps = max([proximity(c, lo, hi) for lo, hi in bear if not lo <= c <= hi], default=0.0)
    return 50.0 + (pb - ps) / 4.0


@dataclass
class Ref:
    """Plain-Python price structure; each detector is a method over the full bar history."""

    n: int = 3
    decay: float = 10.0
    bars: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    atr: float = 0.0
    tr_sum: float = 0.0
    ema: list[float] = field(default_factory=lambda: [0.0] * 5)
    levels: list[float] = field(default_factory=list)  # confirmed swing levels, newest last
    highs: list[float] = field(default_factory=list)  # newest first
    lows: list[float] = field(default_factory=list)
    high_kind: int = 0
    low_kind: int = 0
    struct_high: float | None = None
    struct_low: float | None = None
    break_dir: int = 0
    break_age: int = 0
    sfp_dir: int = 0
    sfp_age: int = 0
    bull_ob: list[tuple[float, float]] = field(default_factory=list)
    bear_ob: list[tuple[float, float]] = field(default_factory=list)
    bull_gap: list[tuple[float, float]] = field(default_factory=list)
    bear_gap: list[tuple[float, float]] = field(default_factory=list)

    def swings(self, t: int) -> tuple[bool, bool]:
        """Pivot at t - n: strictly beyond the n bars before it, at least as far as the n after."""
        n = self.n
        if t < 2 * n:
            return False, False
        c = t - n
        hc, lc = self.bars[c][1], self.bars[c][2]
        left = self.bars[c - n : c]
        right = self.bars[c + 1 : t + 1]
        is_high = all(hc > b[1] for b in left) and all(hc >= b[1] for b in right)
        is_low = all(lc < b[2] for b in left) and all(lc <= b[2] for b in right)
        return is_high, is_low

    def update(self, o: float, h: float, l: float, c: float, v: float) -> dict[str, object]:  # noqa: E741
        t = len(self.bars)
        self.bars.append((o, h, l, c, v))
        ev = 0
        sub = dict.fromkeys(KEYS, NAN)
        out: dict[str, object] = {"swing_high": NAN, "swing_low": NAN}
        # ATR(14) Wilder and EMAs
        pc = self.bars[t - 1][3] if t else 0.0
        tr = h - l if t == 0 else max(h - l, abs(h - pc), abs(l - pc))
        if t < 14:
            self.tr_sum += tr
            if t == 13:
                self.atr = self.tr_sum / 14.0
        else:
            self.atr = self.atr + (tr - self.atr) / 14.0
        for i, p in enumerate(EMA_PERIODS):
            self.ema[i] = c if t == 0 else self.ema[i] + (c - self.ema[i]) / ((p + 1.0) / 2.0)
        # swings
        is_high, is_low = self.swings(t)
        if is_high:
            sh = self.bars[t - self.n][1]
            ev |= EV["SWING_HIGH"]
            out["swing_high"] = sh
            if self.highs:
                hh = sh > self.highs[0]
                ev |= EV["HIGHER_HIGH"] if hh else EV["LOWER_HIGH"]
                self.high_kind = 1 if hh else -1
            self.highs = [sh, *self.highs][:3]
            self.struct_high = sh
            self.levels = [*self.levels, sh][-12:]
        if is_low:
            sl = self.bars[t - self.n][2]
            ev |= EV["SWING_LOW"]
            out["swing_low"] = sl
            if self.lows:
                hl = sl > self.lows[0]
                ev |= EV["HIGHER_LOW"] if hl else EV["LOWER_LOW"]
                self.low_kind = 1 if hl else -1
            self.lows = [sl, *self.lows][:3]
            self.struct_low = sl
            self.levels = [*self.levels, sl][-12:]
        trend = (
            1
            if self.high_kind == self.low_kind == 1
            else (-1 if self.high_kind == self.low_kind == -1 else 0)
        )
        # market structure
        if self.break_dir:
            self.break_age += 1
        if self.struct_high is not None and c > self.struct_high:
            ev |= EV["CHOCH_UP"] if trend == -1 else EV["BOS_UP"]
            self.struct_high, self.break_dir, self.break_age = None, 1, 0
        if self.struct_low is not None and c < self.struct_low:
            ev |= EV["CHOCH_DOWN"] if trend == 1 else EV["BOS_DOWN"]
            self.struct_low, self.break_dir, self.break_age = None, -1, 0
        if self.highs or self.lows:
            ms = 50.0 + 12.5 * self.high_kind + 12.5 * self.low_kind
            if self.break_dir and self.break_age < self.decay:
                ms += 10.0 * self.break_dir * (1.0 - self.break_age / self.decay)
            sub["market_structure"] = clip(ms, 0.0, 100.0)
        # support / resistance
        below = [x for x in self.levels if x < c]
        above = [x for x in self.levels if x > c]
        out["support"] = max(below) if below else NAN
        out["resistance"] = min(above) if above else NAN
        if below and above:
            p = (c - max(below)) / (min(above) - max(below))
            sub["support_resistance"] = 50.0 + 30.0 * (1.0 - 2.0 * p)
        # order blocks
        self.bull_ob = [z for z in self.bull_ob if not c < z[0]]
        self.bear_ob = [z for z in self.bear_ob if not c > z[1]]
        if t >= 5:
            p3 = self.bars[t - 3 : t]
            p5 = self.bars[t - 5 : t]
            mean_range = sum(b[1] - b[2] for b in reversed(p3)) / 3.0
            mean_vol = sum(b[4] for b in reversed(p5)) / 5.0
            impulsive = (h - l) > 1.5 * mean_range and mean_vol > 0 and v >= 1.5 * mean_vol
            zone = (min(b[2] for b in p3), max(b[1] for b in p3))
            if impulsive and c > o * (1.0 + 0.005):
                self.bull_ob = [*self.bull_ob, zone][-8:]
                ev |= EV["BULL_ORDER_BLOCK"]
            elif impulsive and c < o * (1.0 - 0.005):
                self.bear_ob = [*self.bear_ob, zone][-8:]
                ev |= EV["BEAR_ORDER_BLOCK"]
            sub["order_blocks"] = zone_score(c, self.bull_ob, self.bear_ob, 75.0, 25.0)
        # fair value gaps
        self.bull_gap = [z for z in self.bull_gap if not l <= z[0]]
        self.bear_gap = [z for z in self.bear_gap if not h >= z[1]]
        if t >= 2:
            b2 = self.bars[t - 2]
            if l > b2[1]:
                self.bull_gap = [*self.bull_gap, (b2[1], l)][-8:]
                ev |= EV["BULL_GAP"]
            elif h < b2[2]:
                self.bear_gap = [*self.bear_gap, (h, b2[2])][-8:]
                ev |= EV["BEAR_GAP"]
            sub["fair_value_gaps"] = zone_score(c, self.bull_gap, self.bear_gap, 70.0, 30.0)
        # range
        out["range_high"] = out["range_low"] = NAN
        if self.sfp_dir:
            self.sfp_age += 1
        if t >= 13 and self.highs and self.lows:
            rh, rl = max(self.highs), min(self.lows)
            if rh > rl and (rh - rl) >= 2.0 * self.atr:
                out["range_high"], out["range_low"] = rh, rl
                sweep_low = l < rl * 1.0 and c > rl
                sweep_high = h > rh * 1.0 and c < rh
                ev |= (EV["SWEEP_LOW"] if sweep_low else 0) | (
                    EV["SWEEP_HIGH"] if sweep_high else 0
                )
                if sweep_low or sweep_high:
                    self.sfp_dir = 0 if (sweep_low and sweep_high) else (1 if sweep_low else -1)
                    self.sfp_age = 0
                p = clip((c - rl) / (rh - rl), 0.0, 1.0)
                q = 75.0 if p < 0.25 else 65.0 if p < 0.5 else 35.0 if p < 0.75 else 25.0
                if self.sfp_dir and self.sfp_age < self.decay:
                    q += 20.0 * self.sfp_dir * (1.0 - self.sfp_age / self.decay)
                sub["range_analysis"] = clip(q, 0.0, 100.0)
        # trend position (signed alignment)
        ready = [(i, e) for i, e in enumerate(self.ema) if t + 1 >= EMA_PERIODS[i]]
        if ready:
            k = len(ready)
            pos = sum(100.0 * (c - e) / e for _, e in ready) / k
            align = sum((c > e) - (c < e) for _, e in ready) / k
            short = [e for i, e in ready if i < 2]
            long_ = [e for i, e in ready if i >= 2]
            mom = 0.0
            if short and long_:
                mom = 25.0 * math.tanh(
                    5.0 * ((sum(short) / len(short)) / (sum(long_) / len(long_)) - 1.0)
                )
            sub["trend_position"] = clip(
                50.0 + clip(5.0 * pos, -15.0, 15.0) + mom + 10.0 * align, 0.0, 100.0
            )
        avail = [sub[k] for k in KEYS if not math.isnan(sub[k])]
        out.update(
            events=ev,
            trend=trend,
            sub=sub,
            score=sum(avail) / len(avail) if avail else 50.0,
            has_data=bool(avail),
            n_bull_ob=len(self.bull_ob),
            n_bear_ob=len(self.bear_ob),
            n_bull_gap=len(self.bull_gap),
            n_bear_gap=len(self.bear_gap),
        )
        return out


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@st.composite
def bar_series(draw: st.DrawFn) -> list[tuple[float, float, float, float, float]]:
    """A random walk on a 0.5 grid with wicks and volumes: ties and gaps happen often."""
    n = draw(st.integers(min_value=1, max_value=260))
    steps = draw(st.lists(st.integers(-6, 6), min_size=n, max_size=n))
    wicks = draw(
        st.lists(
            st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(-3, 3)),
            min_size=n,
            max_size=n,
        )
    )
    vols = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    out, px = [], 500.0
    for s, (up, dn, body), vol in zip(steps, wicks, vols, strict=True):
        o = px
        c = max(1.0, o + 0.5 * s + body * 0.5)
        h = max(o, c) + 0.5 * up
        lo = max(0.5, min(o, c) - 0.5 * dn)
        out.append((o, h, lo, c, float(vol)))
        px = c
    return out


@settings(max_examples=150)
@given(bar_series(), st.integers(min_value=1, max_value=5))
def test_price_structure_matches_the_python_reference(
    bars: list[tuple[float, ...]], n: int
) -> None:
    cpp = structure.PriceStructure(structure.StructureConfig(swing_bars=n))
    ref = Ref(n=n)
    got = cpp.update_many(
        np.arange(len(bars), dtype=np.int64) * 60_000_000_000, np.array(bars, dtype=np.float64)
    )
    for i, b in enumerate(bars):
        want = ref.update(*b)
        g = got[i]
        assert int(g["events"]) == want["events"], (i, int(g["events"]), want["events"])
        assert int(g["trend"]) == want["trend"], i
        for k in ("n_bull_ob", "n_bear_ob", "n_bull_gap", "n_bear_gap"):
            assert int(g[k]) == want[k], (i, k)
        for k in ("swing_high", "swing_low", "support", "resistance", "range_high", "range_low"):
            assert same(float(g[k]), want[k]), (i, k, float(g[k]), want[k])  # type: ignore[arg-type]
        subs = want["sub"]
        assert isinstance(subs, dict)
        for j, key in enumerate(KEYS):
            assert same(float(g["sub"][j]), subs[key]), (i, key, float(g["sub"][j]), subs[key])
        assert same(float(g["score"]), want["score"]), i  # type: ignore[arg-type]
        assert bool(g["has_data"]) == want["has_data"]
