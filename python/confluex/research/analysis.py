"""From one shard's samples to its report section (a JSON-ready dict, deterministic).

For every signal (score, score_raw, the components, their sub-scores, the book baselines) and
every horizon: rank IC against the forward mid return, a moving-block bootstrap percentile
interval, the effective number of independent pairs and the partial IC holding the best
baseline fixed. For score and score_raw: declustered threshold crossings and a calibration
table. For every signal: saturation shares and warm-up statistics.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import stats
from .sampling import BASELINES, Samples

__all__ = ["AnalysisConfig", "analyze", "horizon_label"]

#: Below this many valid pairs a signal gets no IC at that horizon.
MIN_PAIRS = 30
#: Signals that get crossings and calibration tables.
SCORE_SIGNALS: tuple[str, ...] = ("score", "score_raw")
#: The warm-up window (from the first sample).
WARMUP_NS = 30_000_000_000


@dataclass(frozen=True)
class AnalysisConfig:
    """What to measure: horizons (ns), the grid, thresholds, bootstrap size and seed."""

    horizons_ns: tuple[int, ...]
    interval_ns: int = 100_000_000
    long_threshold: float = 70.0
    short_threshold: float = 35.0
    replicates: int = 500
    level: float = 0.95
    seed: int = 20240808


def horizon_label(ns: int) -> str:
    """1_000_000_000 -> "1s", 300e9 -> "5m", 250e6 -> "250ms"."""
    for unit, size in (("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    return f"{ns}ns"


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _ic_block(
    x: npt.NDArray[np.float64],
    fwd: npt.NDArray[np.float64],
    steps: int,
    cfg: AnalysisConfig,
    key: str,
) -> dict[str, Any]:
    ok = ~(np.isnan(x) | np.isnan(fwd))
    n = int(ok.sum())
    out: dict[str, Any] = {"ic": None, "ci_low": None, "ci_high": None, "n": n, "n_eff": None}
    if n < MIN_PAIRS:
        return out
    xs, ys = x[ok], fwd[ok]
    ic = stats.spearman(xs, ys)
    out["ic"] = _num(ic)
    if math.isnan(ic):
        return out
    block = stats.block_length(n, steps)
    # The same resamples for every signal of a shard at a horizon (common random numbers),
    # seeded from the shard and the horizon only: a shard's numbers do not depend on where or
    # in which order it runs.
    rng = np.random.default_rng([cfg.seed, zlib.crc32(key.encode()), steps, n])
    lo, hi = _bootstrap(xs, ys, n, block, cfg, rng)
    out["ci_low"], out["ci_high"] = _num(lo), _num(hi)
    out["n_eff"] = _num(round(stats.effective_n(xs, ys, max_lag=min(2 * steps, n // 4)), 1))
    return out


def _bootstrap(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    n: int,
    block: int,
    cfg: AnalysisConfig,
    rng: np.random.Generator,
) -> tuple[float, float]:
    idx = stats.block_bootstrap_indices(n, block, cfg.replicates, rng)
    return stats.bootstrap_ic(xs, ys, idx, cfg.level)


def analyze(samples: Samples, cfg: AnalysisConfig, key: str) -> dict[str, Any]:
    """The report section of one shard; ``key`` names the shard (and seeds its bootstrap)."""
    for h in cfg.horizons_ns:
        if h % cfg.interval_ns or h <= 0:
            raise ValueError(
                f"horizon must be a positive multiple of the {horizon_label(cfg.interval_ns)} "
                f"grid, was {horizon_label(h)}"
            )
    labels = [horizon_label(h) for h in cfg.horizons_ns]
    steps_of = {lab: h // cfg.interval_ns for lab, h in zip(labels, cfg.horizons_ns, strict=True)}
    fwd = {lab: stats.forward_returns(samples.mid, s) for lab, s in steps_of.items()}
    names = list(samples.values)
    varying = [n for n in names if _varies(samples.values[n])]

    signals: dict[str, dict[str, Any]] = {}
    for name in names:
        x = samples.values[name]
        signals[name] = {
            lab: _ic_block(x, fwd[lab], steps_of[lab], cfg, key)
            if name in varying
            else {"ic": None, "ci_low": None, "ci_high": None, "n": 0, "n_eff": None}
            for lab in labels
        }

    best: dict[str, str | None] = {}
    for lab in labels:
        cands = [
            (abs(signals[b][lab]["ic"]), b) for b in BASELINES if signals[b][lab]["ic"] is not None
        ]
        best[lab] = max(cands)[1] if cands else None
        z_name = best[lab]
        for name in names:
            block = signals[name][lab]
            block["partial_ic"] = None
            if z_name is None or block["ic"] is None or name == z_name:
                continue
            x, z, f = samples.values[name], samples.values[z_name], fwd[lab]
            ok = ~(np.isnan(x) | np.isnan(z) | np.isnan(f))
            if ok.sum() >= MIN_PAIRS:
                block["partial_ic"] = _num(stats.partial_spearman(x[ok], f[ok], z[ok]))

    crossings: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    for name in SCORE_SIGNALS:
        if name not in samples.values:
            continue
        x = samples.values[name]
        crossings[name] = {
            side: {
                lab: _clean(
                    stats.crossings(x, fwd[lab], level, direction, gap=max(1, steps_of[lab]))
                )
                for lab in labels
            }
            for side, level, direction in (
                ("long", cfg.long_threshold, 1),
                ("short", cfg.short_threshold, -1),
            )
        }
        calibration[name] = {
            lab: [_clean(row) for row in stats.calibration(x, fwd[lab])] for lab in labels
        }

    ts = samples.ts_ns
    valid = ~np.isnan(samples.mid)
    return {
        "venue": samples.venue,
        "mid_source": samples.mid_source,
        "messages": samples.messages,
        "samples": int(ts.size),
        "samples_with_mid": int(valid.sum()),
        "span_s": float((ts[-1] - ts[0]) / 1e9) if ts.size else 0.0,
        "first_ts_ns": int(ts[0]) if ts.size else None,
        "signals": signals,
        "best_baseline": best,
        "crossings": crossings,
        "calibration": calibration,
        "saturation": {n: _clean(stats.saturation(samples.values[n])) for n in names},
        "warmup": {n: _warmup(ts, samples.values[n]) for n in names},
        "constant": [n for n in names if n not in varying],
    }


def _varies(x: npt.NDArray[np.float64]) -> bool:
    v = x[~np.isnan(x)]
    return bool(v.size > 1 and v.min() < v.max())


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _num(v) if isinstance(v, float) else v for k, v in d.items()}


def _warmup(ts: npt.NDArray[np.int64], x: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The first 30 s: samples with a value, share pinned at exactly 0 or 100, the last pinned
    second, and when the value first left its first reading."""
    if ts.size == 0:
        return {"n": 0, "pinned_share": None, "last_pinned_s": None, "first_move_s": None}
    in_window = ts - ts[0] < WARMUP_NS
    v = x[in_window]
    t = (ts[in_window] - ts[0]) / 1e9
    have = ~np.isnan(v)
    pinned = have & ((v == 0.0) | (v == 100.0))
    moved = np.flatnonzero(have & (v != v[have][0])) if have.any() else np.zeros(0, np.int64)
    return {
        "n": int(have.sum()),
        "pinned_share": _num(float(pinned.sum() / have.sum())) if have.any() else None,
        "last_pinned_s": _num(float(t[pinned][-1])) if pinned.any() else None,
        "first_move_s": _num(float(t[moved[0]])) if moved.size else None,
    }
