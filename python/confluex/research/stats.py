"""Statistics kernels of ``confluex research`` (NumPy only, deterministic).

Every kernel takes plain float arrays and returns plain floats or arrays; NaN marks "no
value" (a constant input has no rank correlation). The property tests
(tests/test_pbt_research.py) check each one against a plain-Python or scipy reference.

- :func:`rankdata`, :func:`spearman`, :func:`pearson`: rank IC (average ranks for ties, as
  ``scipy.stats.spearmanr``);
- :func:`partial_spearman`: rank IC of x with y holding z fixed;
- :func:`block_length`, :func:`block_bootstrap_indices`, :func:`bootstrap_ic`: moving-block
  bootstrap percentile intervals;
- :func:`effective_n`: the number of effectively independent pairs (Bartlett);
- :func:`forward_returns`, :func:`crossings`, :func:`calibration`, :func:`saturation`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "block_bootstrap_indices",
    "block_length",
    "bootstrap_ic",
    "calibration",
    "crossings",
    "effective_n",
    "forward_returns",
    "partial_spearman",
    "pearson",
    "rankdata",
    "saturation",
    "spearman",
]

Floats = npt.NDArray[np.float64]


def rankdata(x: npt.ArrayLike) -> Floats:
    """Ranks 1..n of ``x``, ties sharing their average rank (``scipy.stats.rankdata``)."""
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    if n == 0:
        return np.zeros(0)
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    # Runs of equal values: each run gets the mean of the ranks it spans.
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    ends = np.concatenate((starts[1:], [n]))
    avg = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(n)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def pearson(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Pearson correlation; NaN when either side is constant or fewer than 3 pairs."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.size != b.size:
        raise ValueError(f"x and y must have the same length, was {a.size} and {b.size}")
    if a.size < 3:
        return math.nan
    da = a - a.mean()
    db = b - b.mean()
    den = math.sqrt(float(da @ da) * float(db @ db))
    if den == 0.0:
        return math.nan
    return float(np.clip((da @ db) / den, -1.0, 1.0))


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman rank correlation (the rank IC); NaN when a side is constant."""
    return pearson(rankdata(x), rankdata(y))


def partial_spearman(x: npt.ArrayLike, y: npt.ArrayLike, z: npt.ArrayLike) -> float:
    """Rank correlation of ``x`` and ``y`` holding ``z`` fixed (first-order partial on ranks).

    NaN when any pair is undefined or ``x`` or ``y`` is fully explained by ``z``.
    """
    rxy, rxz, ryz = spearman(x, y), spearman(x, z), spearman(y, z)
    if math.isnan(rxy) or math.isnan(rxz) or math.isnan(ryz):
        return math.nan
    den = (1.0 - rxz * rxz) * (1.0 - ryz * ryz)
    if den <= 1e-12:
        return math.nan
    return float(np.clip((rxy - rxz * ryz) / math.sqrt(den), -1.0, 1.0))


def block_length(n: int, horizon_steps: int) -> int:
    """Moving-block length for ``n`` pairs whose forward returns span ``horizon_steps`` samples.

    Overlapping forward returns are correlated over ``horizon_steps`` lags, so a block holds at
    least two horizons; it never drops below n^(1/3) (the usual rate for the mean) and never
    exceeds n / 4 (at least four blocks).
    """
    if n < 1:
        raise ValueError(f"n must be positive, was {n}")
    cube_root: float = float(n) ** (1.0 / 3.0)
    length = max(2 * horizon_steps, math.ceil(cube_root))
    return max(1, min(length, n // 4 if n >= 4 else 1))


def block_bootstrap_indices(
    n: int, block: int, replicates: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """``replicates`` x ``n`` moving-block resample indices.

    Each row chains blocks ``start, start+1, ..., start+block-1`` with starts drawn uniformly
    from ``0 .. n-block`` and is cut to ``n``.
    """
    if n < 1 or block < 1 or block > n or replicates < 1:
        raise ValueError(
            f"need 1 <= block <= n and replicates >= 1, was n={n} block={block} "
            f"replicates={replicates}"
        )
    per_row = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(replicates, per_row))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(replicates, -1)
    return idx[:, :n].astype(np.int64)


def bootstrap_ic(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    indices: npt.NDArray[np.int64],
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the rank IC over resamples ``indices`` (rows of positions).

    The ranks are taken once over the full sample and each resample's IC is the Pearson
    correlation of those ranks (rank-then-resample: no re-ranking per replicate). Resamples
    where a side is constant are skipped; (NaN, NaN) when none is left.
    """
    rx = rankdata(x)
    ry = rankdata(y)
    ics = _row_pearson(rx[indices], ry[indices])
    ics = ics[~np.isnan(ics)]
    if ics.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(ics, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _row_pearson(a: Floats, b: Floats) -> Floats:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (NaN if constant)."""
    da = a - a.mean(axis=1, keepdims=True)
    db = b - b.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", da, db)
    den = np.sqrt(np.einsum("ij,ij->i", da, da) * np.einsum("ij,ij->i", db, db))
    out = np.full(a.shape[0], math.nan)
    ok = den > 0
    out[ok] = np.clip(num[ok] / den[ok], -1.0, 1.0)
    return out


def _autocorr(a: Floats, max_lag: int) -> Floats:
    """Autocorrelations at lags 1..max_lag (0 for a constant series)."""
    d = a - a.mean()
    var = float(d @ d)
    if var == 0.0:
        return np.zeros(max_lag)
    return np.array([float(d[:-k] @ d[k:]) / var for k in range(1, max_lag + 1)])


def effective_n(x: npt.ArrayLike, y: npt.ArrayLike, max_lag: int) -> float:
    """Effectively independent pairs behind a correlation of two autocorrelated series.

    Bartlett's approximation: n / (1 + 2 * sum_k w_k rho_x(k) rho_y(k)) over lags 1..max_lag,
    with the triangular weights w_k = 1 - k / (max_lag + 1) (which keep the sum positive), on
    the ranks. Clamped to [1, n].
    """
    rx = rankdata(x)
    ry = rankdata(y)
    n = rx.size
    if n < 3:
        return float(n)
    lags = max(0, min(max_lag, n - 2))
    if lags == 0:
        return float(n)
    w = 1.0 - np.arange(1, lags + 1) / (lags + 1.0)
    factor = 1.0 + 2.0 * float(np.sum(w * _autocorr(rx, lags) * _autocorr(ry, lags)))
    return float(min(n, max(1.0, n / factor))) if factor > 0 else float(n)


def forward_returns(mid: npt.ArrayLike, steps: int) -> Floats:
    """mid[i + steps] / mid[i] - 1 for each i (NaN where either mid is missing or off the end)."""
    m = np.asarray(mid, dtype=np.float64)
    if steps < 1:
        raise ValueError(f"steps must be positive, was {steps}")
    out = np.full(m.size, math.nan)
    if m.size > steps:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:-steps] = m[steps:] / m[:-steps] - 1.0
    out[~np.isfinite(out)] = math.nan
    return out


def crossings(
    score: npt.ArrayLike, fwd: npt.ArrayLike, level: float, direction: int, gap: int
) -> dict[str, float | int]:
    """What follows a threshold crossing, declustered.

    ``direction`` +1: the score rises to or above ``level`` (from below); -1: it falls to or
    below ``level`` (from above). A crossing counts only when at least ``gap`` samples passed
    since the last counted one in that direction (declustering: one event per horizon), and
    only where its forward return is known. Returns the event count, the hit rate (share of
    events whose return has the crossing's sign) and the mean signed return in basis points.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, was {direction}")
    s = np.asarray(score, dtype=np.float64)
    r = np.asarray(fwd, dtype=np.float64)
    prev, cur = s[:-1], s[1:]
    with np.errstate(invalid="ignore"):
        hit = (prev < level) & (cur >= level) if direction == 1 else (prev > level) & (cur <= level)
    events: list[int] = []
    last = -(10**18)
    for i in np.flatnonzero(hit) + 1:
        if i - last >= gap and not math.isnan(r[i]):
            events.append(int(i))
            last = int(i)
    if not events:
        return {"n": 0, "hit_rate": math.nan, "mean_bp": math.nan}
    signed = direction * r[np.array(events)]
    return {
        "n": len(events),
        "hit_rate": float(np.mean(signed > 0)),
        "mean_bp": float(np.mean(signed) * 1e4),
    }


def calibration(
    score: npt.ArrayLike, fwd: npt.ArrayLike, edges: npt.ArrayLike | None = None
) -> list[dict[str, float | int]]:
    """Score band -> count, up rate (share of forward returns > 0) and mean return (bp).

    ``edges`` default to the deciles of the 0-100 scale (0, 10, ..., 100); the last band is
    closed (holds 100). Pairs with a missing score or return are left out.
    """
    s = np.asarray(score, dtype=np.float64)
    r = np.asarray(fwd, dtype=np.float64)
    e = np.linspace(0.0, 100.0, 11) if edges is None else np.asarray(edges, dtype=np.float64)
    ok = ~(np.isnan(s) | np.isnan(r))
    s, r = s[ok], r[ok]
    rows: list[dict[str, float | int]] = []
    for k in range(e.size - 1):
        last = k == e.size - 2
        mask = (s >= e[k]) & ((s <= e[k + 1]) if last else (s < e[k + 1]))
        n = int(mask.sum())
        rows.append(
            {
                "low": float(e[k]),
                "high": float(e[k + 1]),
                "n": n,
                "up_rate": float(np.mean(r[mask] > 0)) if n else math.nan,
                "mean_bp": float(np.mean(r[mask]) * 1e4) if n else math.nan,
            }
        )
    return rows


def saturation(values: npt.ArrayLike, near: float = 1.0) -> dict[str, float]:
    """Shares of the (non-missing) samples at exactly 0, exactly 100, within ``near`` of either
    end (a logistic map saturates there without touching the rail), and at the observed
    minimum or maximum (a clip shows as a pile-up there; a continuous signal has ~2/n)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"at_0": math.nan, "at_100": math.nan, "near_rails": math.nan, "at_clip": math.nan}
    lo, hi = v.min(), v.max()
    at_clip = float(np.mean((v == lo) | (v == hi))) if hi > lo else 1.0
    return {
        "at_0": float(np.mean(v == 0.0)),
        "at_100": float(np.mean(v == 100.0)),
        "near_rails": float(np.mean((v <= near) | (v >= 100.0 - near))),
        "at_clip": at_clip,
    }
