"""Plain-Python references of the market-making kernels (``confluex._core.mm``).

Written from the formulas in ``csrc/include/confluex/mm_estimators.hpp`` and
``mm_quoting.hpp``, one observation at a time with no shortcuts, for the property tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LN2 = math.log(2.0)


def decay(dt_ns: int, half_life_s: float) -> float:
    return math.exp(-dt_ns * 1e-9 * LN2 / half_life_s)


class RefVolatility:
    def __init__(self, half_life_s: float, sample_ns: int, min_samples: int) -> None:
        self.h, self.sample_ns, self.min_samples = half_life_s, sample_ns, min_samples
        self.last: tuple[int, float] | None = None
        self.s = self.t = 0.0
        self.samples = 0

    def update(self, ts: int, mid: float) -> None:
        if self.last is None:
            self.last = (ts, mid)
            return
        last_ts, last_mid = self.last
        dt = max(ts - last_ts, 0)
        if dt < self.sample_ns or (dt == 0 and mid == last_mid):
            return
        w = decay(dt, self.h)
        self.s = self.s * w + (mid - last_mid) ** 2
        self.t = self.t * w + dt * 1e-9
        self.samples += 1
        self.last = (max(ts, last_ts), mid)

    def sigma(self) -> float:
        if self.samples >= self.min_samples and self.t > 0:
            return math.sqrt(self.s / self.t)
        return math.nan


class RefIntensity:
    def __init__(self, buckets: int, width: float, half_life_s: float, min_count: float) -> None:
        self.n, self.width, self.h, self.min_count = buckets, width, half_life_s, min_count
        self.c = [0.0] * buckets
        self.t = 0.0
        self.last: int | None = None

    def threshold(self, i: int) -> float:
        return 0.5 + i * self.width

    def advance(self, ts: int) -> None:
        if self.last is None:
            self.last = ts
            return
        dt = ts - self.last
        if dt <= 0:
            return
        w = decay(dt, self.h)
        self.c = [c * w for c in self.c]
        self.t = self.t * w + dt * 1e-9
        self.last = ts

    def on_trade(self, ts: int, distance: float) -> None:
        self.advance(ts)
        for i in range(self.n):
            if self.threshold(i) > distance + 1e-9:
                break
            self.c[i] += 1.0

    def fit(self) -> tuple[float, float] | None:
        """(A, k) of the least-squares line through (threshold, ln rate), or None."""
        if not self.t > 0:
            return None
        pts = [
            (self.threshold(i), math.log(c / (2.0 * self.t)))
            for i, c in enumerate(self.c)
            if c >= self.min_count
        ]
        if len(pts) < 2:
            return None
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        sxx = sum((x - mx) ** 2 for x, _ in pts)
        if not sxx > 0:
            return None
        slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
        if not slope < 0:
            return None
        return math.exp(my - slope * mx), -slope


@dataclass
class RefQuote:
    reservation: float
    half_spread: float
    skew: float
    alpha: float
    bid: int
    ask: int
    bid_lots: int
    ask_lots: int


def ref_glft_quote(
    *,
    gamma: float,
    order_lots: int,
    max_inventory_lots: int,
    size_step_lots: int,
    alpha_gain: float,
    alpha_horizon_s: float,
    max_depth_ticks: float,
    mid: float,
    best_bid: int,
    best_ask: int,
    inventory: int,
    sigma: float,
    a: float,
    k: float,
    score: float,
) -> RefQuote:
    gk = gamma / k
    c1 = math.log1p(gk) / gamma
    c2 = math.sqrt(gamma / (2.0 * a * k) * math.pow(1.0 + gk, k / gamma + 1.0))
    half = c1 + 0.5 * sigma * c2
    skew = sigma * c2
    conviction = 0.0 if math.isnan(score) else min(1.0, max(-1.0, (score - 50) / 50))
    alpha = alpha_gain * conviction * sigma * math.sqrt(alpha_horizon_s)
    q = inventory / order_lots
    r = mid + alpha - (0.0 if q == 0 else skew * q)
    bid = min(max(math.floor(r - half), math.floor(mid - max_depth_ticks)), best_ask - 1)
    ask = max(min(math.ceil(r + half), math.ceil(mid + max_depth_ticks)), best_bid + 1)
    bid = min(bid, ask - 1)

    def floor_step(lots: float) -> int:
        return math.floor(lots / size_step_lots + 1e-9) * size_step_lots if lots > 0 else 0

    ratio = inventory / max_inventory_lots
    bid_lots = floor_step(order_lots * min(1.0, 1 - ratio))
    ask_lots = floor_step(order_lots * min(1.0, 1 + ratio))
    bid_room = max_inventory_lots - inventory
    ask_room = max_inventory_lots + inventory
    bid_lots = max(
        0, min(bid_lots, bid_room // size_step_lots * size_step_lots if bid_room > 0 else 0)
    )
    ask_lots = max(
        0, min(ask_lots, ask_room // size_step_lots * size_step_lots if ask_room > 0 else 0)
    )
    return RefQuote(r, half, skew, alpha, bid, ask, bid_lots, ask_lots)
