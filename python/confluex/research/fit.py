"""Causal, horizon-aware fitting of the confluence score's weights.

The score of the graded profiles is a weighted mean of sub-score deviations
``d_i = (s_i - 50) / 50`` (each component the weighted mean of its sub-scores, the score the
weighted mean of the components: with component weight ``W_c = sum of beta_i over c`` and
sub-score weights ``beta_i`` the two levels multiply out to ``sum_i beta_i d_i / sum beta``).
:func:`fit_weights` learns the ``beta`` for one forward horizon:

- target: the rank of the forward mid return ``mid(t + h) / mid(t) - 1``, standardised per
  capture (rank IC is what the score is judged by; ranks make one burst not dominate);
- model: non-negative ridge least squares of the target on the standardised deviations,
  solved by cyclic coordinate descent (every sub-score is built so that "higher = up", so a
  negative weight would mean the data contradicts the design; non-negativity plus ridge keeps
  the fit to a few dominant, stable inputs);
- walk-forward: each capture's time axis is cut into ``folds`` blocks; block ``f`` is scored
  with weights fitted on blocks ``< f`` of every capture only, with an embargo of the horizon
  between them (the forward return of the last training row must be known before the first
  scored row). The out-of-sample rank IC of the combination and of the input that was best
  on the training blocks are reported per block; nothing of block ``f`` or later enters its
  weights;
- the shipped weights are the fit on every block (all data known at fitting time).

:func:`replay_samples` turns a recorded capture into :class:`Samples` (100 ms grid of every
sub-score of the orderflow, orderbook and volume components plus the book mid), so that::

    python -m confluex.research.fit --horizon 1 tests/data/hftbacktest

prints the fitted weights as a profile (see docs/score.md for how the shipped ``fitted_1s``
and ``fitted_5s`` profiles were produced). The function needs NumPy only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FIT_COMPONENTS",
    "Samples",
    "fit_weights",
    "profile_weights",
    "rank_ic",
    "replay_samples",
]

#: The components whose sub-scores are fitted (the ones the book and trades feed; the bar
#: views need hours of bars, which no bundled capture holds, so their weight stays 0).
FIT_COMPONENTS: tuple[str, ...] = ("orderflow", "orderbook", "volume")

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Samples:
    """One capture sampled on a fixed grid, oldest first.

    ``names`` are ``"component.sub"`` (e.g. ``"orderbook.microprice"``); ``x[:, j]`` holds
    sub-score ``names[j]`` (0-100) at each grid point, ``mid`` the mid price there, and
    ``step_ns`` the grid step.
    """

    names: tuple[str, ...]
    x: F64
    mid: F64
    step_ns: int

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.x.shape[1] != len(self.names):
            raise ValueError(
                f"x must be (n, {len(self.names)}) for {len(self.names)} names, was {self.x.shape}"
            )
        if self.mid.shape != (self.x.shape[0],):
            raise ValueError(f"mid must be ({self.x.shape[0]},), was {self.mid.shape}")
        if self.step_ns <= 0:
            raise ValueError(f"step_ns must be > 0, was {self.step_ns}")


def _ranks(a: F64) -> F64:
    """Average ranks (ties share their mean rank), like scipy.stats.rankdata."""
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    edges = np.flatnonzero(np.diff(s) != 0) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(s)]))
    r = np.empty(len(a), dtype=np.float64)
    r[order] = np.repeat((starts + ends - 1) / 2.0 + 1.0, ends - starts)
    return r


def _std(a: F64) -> F64:
    sd = float(a.std())
    return (a - a.mean()) / sd if sd > 0 else np.zeros_like(a)


def rank_ic(x: F64, y: F64) -> float:
    """Spearman rank correlation of ``x`` and ``y`` over the rows where both are finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    rx, ry = _std(_ranks(x[ok])), _std(_ranks(y[ok]))
    if not rx.any() or not ry.any():
        return float("nan")
    return float(np.mean(rx * ry))


def _nn_ridge(x: F64, y: F64, l2: float, sweeps: int = 200) -> F64:
    """argmin ||y - x b||^2 / n + l2 ||b||^2 subject to b >= 0 (cyclic coordinate descent)."""
    n, k = x.shape
    g = x.T @ x / n
    c = x.T @ y / n
    b = np.zeros(k)
    for _ in range(sweeps):
        delta = 0.0
        for j in range(k):
            if g[j, j] <= 0:
                continue
            r = c[j] - g[j] @ b + g[j, j] * b[j]
            nb = max(0.0, r / (g[j, j] + l2))
            delta = max(delta, abs(nb - b[j]))
            b[j] = nb
        if delta < 1e-10:
            break
    return b


def _design(s: Samples, steps: int, lo: int, hi: int) -> tuple[F64, F64]:
    """Deviations and forward-return ranks of rows [lo, hi) whose forward return is known."""
    hi = min(hi, len(s.mid) - steps)
    if hi <= lo:
        return np.empty((0, len(s.names))), np.empty(0)
    fwd = s.mid[lo + steps : hi + steps] / s.mid[lo:hi] - 1.0
    x = (s.x[lo:hi] - 50.0) / 50.0
    ok = np.isfinite(fwd) & np.isfinite(x).all(axis=1)
    return x[ok], _std(_ranks(fwd[ok]))


def _fit(blocks: list[tuple[F64, F64]], l2: float) -> F64:
    """Non-negative ridge on the stacked blocks; returns beta in deviation units.

    Each block (one capture's rows) is centred on its own mean before stacking, so a level
    that differs between captures (one market's deeper bid side) is not read as information.
    """
    x = np.vstack([b[0] - b[0].mean(axis=0) for b in blocks])
    y = np.concatenate([b[1] for b in blocks])
    sd = x.std(axis=0)
    scale = np.where(sd > 0, sd, 1.0)
    beta_std = _nn_ridge(x / scale, y, l2)
    beta_std[sd == 0] = 0.0
    return beta_std / scale


def _prune(beta: F64, min_weight: float) -> F64:
    """beta / sum with shares below min_weight set to 0 (the largest always kept)."""
    total = float(beta.sum())
    if not total > 0:
        return np.zeros_like(beta)
    w: F64 = beta / total
    w[(w < min_weight) & (w < w.max())] = 0.0
    out: F64 = w / float(w.sum())
    return out


def _mean_ic(blocks: list[tuple[F64, F64]], j: int) -> float:
    ics = [rank_ic(x[:, j], y) for x, y in blocks]
    ok = [v for v in ics if np.isfinite(v)]
    return float(np.mean(ok)) if ok else float("-inf")


def fit_weights(
    samples: Sequence[Samples],
    horizon_s: float,
    *,
    folds: int = 5,
    l2: float = 0.5,
    min_weight: float = 0.01,
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """Fits the sub-score weights of the score for one forward horizon (see the module doc).

    ``samples``: one :class:`Samples` per capture, all with the same ``names`` and step.
    ``horizon_s``: forward horizon in seconds (a whole number of steps). ``folds``: walk-forward
    blocks per capture (>= 2). ``l2``: ridge penalty on standardised inputs (0.5 was chosen on
    the walk-forward blocks: out-of-sample IC was flat in it at 1 s and best at 0.5-2 at 5 s).
    Weights below ``min_weight`` of the total are dropped (set to 0; the largest is always
    kept) and the rest renormalised, in the walk-forward fits as in the final one. ``exclude``:
    ``"component.sub"`` names never given weight (e.g. a sub-score merged into another).

    Returns a dict: ``weights`` (``"component.sub"`` -> weight, summing to 1), ``components``
    (component -> its share), ``subs`` (component -> {sub: weight within it}), ``horizon_s``,
    ``n`` (rows fitted) and ``walk_forward``: per scored block, the out-of-sample rank IC of the
    combination (``ic``) and of the input best on the training blocks (``ic_best_input``, with
    its name), fitted only on earlier blocks.

    Raises ValueError naming the bad argument.
    """
    if not samples:
        raise ValueError("samples must hold at least one capture, was empty")
    names = samples[0].names
    step = samples[0].step_ns
    for s in samples:
        if s.names != names or s.step_ns != step:
            raise ValueError("every Samples must have the same names and step_ns")
    steps = round(horizon_s * 1e9 / step)
    if steps < 1 or abs(steps * step - horizon_s * 1e9) > 1e-6 * step:
        raise ValueError(f"horizon_s must be a whole number of steps, was {horizon_s}")
    if folds < 2:
        raise ValueError(f"folds must be >= 2, was {folds}")
    if not (l2 >= 0 and np.isfinite(l2)):
        raise ValueError(f"l2 must be finite and >= 0, was {l2}")
    unknown = [e for e in exclude if e not in names]
    if unknown:
        raise ValueError(f"exclude names unknown sub-scores, was {unknown}")
    keep = np.array([nm not in exclude for nm in names])

    def masked(blocks: list[tuple[F64, F64]]) -> list[tuple[F64, F64]]:
        return [(x * keep, y) for x, y in blocks]

    cuts = [np.linspace(0, len(s.mid), folds + 1).astype(int) for s in samples]
    walk: list[dict[str, Any]] = []
    for f in range(1, folds):
        # Train rows end `steps` before the block so that their forward returns are known.
        train = masked(
            [_design(s, steps, 0, int(c[f]) - steps) for s, c in zip(samples, cuts, strict=True)]
        )
        train = [b for b in train if len(b[1]) > 10]
        if not train:
            continue
        beta = _prune(_fit(train, l2), min_weight)
        in_ic = [_mean_ic(train, j) if keep[j] else -np.inf for j in range(len(names))]
        best = int(np.argmax(in_ic))
        for s, c in zip(samples, cuts, strict=True):
            x, y = _design(s, steps, int(c[f]), int(c[f + 1]))
            if len(y) <= 10:
                continue
            walk.append(
                {
                    "block": f,
                    "n": len(y),
                    "ic": rank_ic(x @ beta, y) if beta.any() else float("nan"),
                    "ic_best_input": rank_ic(x[:, best], y),
                    "best_input": names[best],
                }
            )
    full = masked([_design(s, steps, 0, len(s.mid)) for s in samples])
    w = _prune(_fit(full, l2), min_weight)
    if not w.any():
        raise ValueError("no input has a positive relation to the forward return; nothing to fit")
    weights = {nm: float(v) for nm, v in zip(names, w, strict=True)}
    return {
        "horizon_s": horizon_s,
        "n": int(sum(len(b[1]) for b in full)),
        "weights": weights,
        **profile_weights(weights),
        "walk_forward": walk,
    }


def profile_weights(weights: Mapping[str, float]) -> dict[str, Any]:
    """Splits ``"component.sub"`` weights into the engine's two levels.

    Returns ``components`` (component -> sum of its sub-score weights) and ``subs``
    (component -> {sub: weight}, as given; each component normalises its own).
    """
    comps: dict[str, float] = {}
    subs: dict[str, dict[str, float]] = {}
    for name, w in weights.items():
        comp, sub = name.split(".", 1)
        comps[comp] = comps.get(comp, 0.0) + w
        subs.setdefault(comp, {})[sub] = w
    return {"components": comps, "subs": subs}


def replay_samples(
    data: bytes,
    venue: str,
    tick: str,
    lot: str,
    *,
    profile: str = "fitted_1s",
    step_ns: int = 100_000_000,
    symbol: str = "BTCUSDT",
) -> Samples:
    """Replays one raw capture (``<local_ns> <json>`` lines) and samples it every ``step_ns``.

    ``venue`` is ``"binance_spot"`` or ``"binance_futures"``; the engine is built with
    ``profile`` (its sub-score maps matter, its weights do not: every sub-score is sampled).
    Rows before the book is synced, or while it is out of sync, are left out.
    """
    from .. import engine as eng

    session_mod = eng.FeedSession
    engine = eng.Engine(eng.engine_config(profile=profile))
    sym = engine.add_symbol(symbol, eng.Instrument(tick, lot))
    session = session_mod(engine, getattr(eng.Venue, venue), eng.SessionConfig())
    session.add_symbol(symbol, sym)
    lines = [ln for ln in data.split(b"\n") if ln]
    stamps = np.array([int(ln[: ln.index(b" ")]) for ln in lines], dtype=np.int64)
    rows: list[dict[str, float]] = []
    mids: list[float] = []
    i, t = 0, int(stamps[0]) + step_ns
    while i < len(lines):
        j = int(np.searchsorted(stamps, t, side="left"))
        if j > i:
            session.replay(b"\n".join(lines[i:j]) + b"\n")
        i = j
        bb, ba = engine.best_bid(sym), engine.best_ask(sym)
        if bb and ba and engine.in_sync(sym):
            row: dict[str, float] = {}
            for comp in FIT_COMPONENTS:
                for sub, v in engine.component(sym, comp).sub.items():
                    row[f"{comp}.{sub}"] = v
            rows.append(row)
            mids.append((bb[0] + ba[0]) / 2.0)
        t += step_ns
    if not rows:
        raise ValueError("the capture never synced a book; nothing to sample")
    # A sub-score absent from a row (one that joins later) reads neutral there.
    names = sorted({k for row in rows for k in row})
    x = np.array([[row.get(nm, 50.0) for nm in names] for row in rows])
    return Samples(tuple(names), x, np.array(mids), step_ns)


def _captures(root: Path) -> list[tuple[str, bytes, str, str, str]]:
    """The bundled hftbacktest captures under ``root`` (see tests/data/hftbacktest)."""
    spec = [
        ("spot", ("spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"), "binance_spot",
         "0.01", "0.00000001"),
        ("usdm", ("usdm_2024-07/btcusdt_20240718.gz", "usdm_2024-07/btcusdt_20240719.gz"),
         "binance_futures", "0.1", "0.001"),
    ]  # fmt: skip
    out = []
    for name, files, venue, tick, lot in spec:
        data = b"".join(gzip.open(root / f).read() for f in files)
        out.append((name, data, venue, tick, lot))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m confluex.research.fit [--horizon S] DIR``: fits and prints JSON."""
    p = argparse.ArgumentParser(prog="python -m confluex.research.fit")
    p.add_argument("root", type=Path, help="tests/data/hftbacktest (the bundled captures)")
    p.add_argument("--horizon", type=float, default=1.0, help="forward horizon in seconds")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--l2", type=float, default=0.5)
    p.add_argument("--exclude", default="volume.notional_pressure")
    args = p.parse_args(argv)
    samples = [
        replay_samples(data, venue, tick, lot) for _, data, venue, tick, lot in _captures(args.root)
    ]
    exclude = [e for e in args.exclude.split(",") if e]
    res = fit_weights(samples, args.horizon, folds=args.folds, l2=args.l2, exclude=exclude)
    json.dump(res, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
