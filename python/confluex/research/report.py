"""The research report: report.json, report.html (+ PNG charts), the summary table and the
docs page (docs/research.md), all from the same dict."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .analysis import AnalysisConfig, horizon_label
from .sampling import BASELINES

__all__ = ["build_report", "markdown", "summary_table", "write_html", "write_json"]

SCHEMA = 1
_SCORES = ("score", "score_raw")


def build_report(
    results: Sequence[dict[str, Any]], cfg: AnalysisConfig, profiles: Sequence[str | None]
) -> dict[str, Any]:
    """The whole report: settings, then one section per shard keyed capture:symbol:profile."""
    return {
        "schema": SCHEMA,
        "interval_ms": cfg.interval_ns // 1_000_000,
        "horizons": [horizon_label(h) for h in cfg.horizons_ns],
        "thresholds": {"long": cfg.long_threshold, "short": cfg.short_threshold},
        "bootstrap": {
            "method": "moving block, percentile",
            "replicates": cfg.replicates,
            "level": cfg.level,
            "seed": cfg.seed,
        },
        "profiles": [p or "default" for p in profiles],
        "shards": {f"{r['capture']}:{r['symbol']}:{r['profile']}": r for r in results},
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    """report.json (keys sorted, NaN never written: a missing number is null)."""
    path.write_text(json.dumps(report, indent=1, sort_keys=True, allow_nan=False) + "\n")


# --- choosing rows ----------------------------------------------------------------------------


def _is_input(name: str) -> bool:
    return name not in _SCORES and not name.startswith("baseline.")


def best_input(shard: dict[str, Any], horizon: str) -> str | None:
    """The component or sub-score with the highest IC at ``horizon`` (picked in hindsight)."""
    cands = [
        (blk[horizon]["ic"], name)
        for name, blk in shard["signals"].items()
        if _is_input(name) and blk[horizon]["ic"] is not None
    ]
    return max(cands)[1] if cands else None


def _rows(shard: dict[str, Any], horizons: Sequence[str], top_subs: int | None) -> list[str]:
    sig = shard["signals"]
    constant = set(shard["constant"])
    comps = [n for n in sig if _is_input(n) and "." not in n and n not in constant]
    subs = [n for n in sig if _is_input(n) and "." in n and n not in constant]
    if top_subs is not None and horizons:
        h = horizons[0]
        subs.sort(key=lambda n: -abs(sig[n][h]["ic"] or 0.0))
        subs = subs[:top_subs]
    return [*_SCORES, *comps, *subs, *BASELINES]


def _fmt_ic(blk: dict[str, Any], ci: bool = True) -> str:
    if blk["ic"] is None:
        return "-"
    text = f"{blk['ic']:+.3f}"
    if ci and blk["ci_low"] is not None:
        text += f" [{blk['ci_low']:+.2f},{blk['ci_high']:+.2f}]"
    return text


def summary_table(report: dict[str, Any], top_subs: int = 6) -> str:
    """The plain-text IC table printed at the end of a run (one block per shard)."""
    horizons = report["horizons"]
    out: list[str] = []
    for key, shard in report["shards"].items():
        out.append(
            f"{key}  ({shard['samples']} samples, {shard['span_s']:.0f} s, "
            f"mid from {shard['mid_source']})"
        )
        width = max(len(n) for n in _rows(shard, horizons, top_subs)) + 2
        head = "signal".ljust(width) + "".join(f"{'IC ' + h + ' [95% CI]':>24}" for h in horizons)
        out.append(head)
        for name in _rows(shard, horizons, top_subs):
            cells = "".join(f"{_fmt_ic(shard['signals'][name][h]):>24}" for h in horizons)
            out.append(name.ljust(width) + cells)
        sat = shard["saturation"]["score"]
        warm = shard["warmup"]["score"]
        out.append(
            f"score at 0/100: {_pct(_sum(sat['at_0'], sat['at_100']))}; first 30 s pinned: "
            f"{_pct(warm['pinned_share'])}; best baseline: "
            + ", ".join(f"{h} {shard['best_baseline'][h]}" for h in horizons)
        )
        out.append("")
    return "\n".join(out)


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


# --- HTML and charts ---------------------------------------------------------------------------


def _slug(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key)


def write_charts(report: dict[str, Any], out: Path) -> dict[str, dict[str, str]]:
    """decay_<shard>.png (IC by horizon with 95 % intervals) and calibration_<shard>.png (mean
    forward return by score band) for every shard; returns the file names per shard key."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizons = report["horizons"]
    files: dict[str, dict[str, str]] = {}
    for key, shard in report["shards"].items():
        sig = shard["signals"]
        names = list(_SCORES)
        for h in horizons[:1]:
            best = best_input(shard, h)
            if best is not None:
                names.append(best)
        names += [n for n in sig if "." not in n and _is_input(n) and n not in shard["constant"]]
        names += list(BASELINES)
        names = list(dict.fromkeys(names))
        fig, ax = plt.subplots(figsize=(7, 4))
        xs = list(range(len(horizons)))
        for i, name in enumerate(names):
            ys = [sig[name][h]["ic"] for h in horizons]
            if all(y is None for y in ys):
                continue
            y = [math.nan if v is None else v for v in ys]
            lo = [
                0.0 if sig[name][h]["ci_low"] is None else y[j] - sig[name][h]["ci_low"]
                for j, h in enumerate(horizons)
            ]
            hi = [
                0.0 if sig[name][h]["ci_high"] is None else sig[name][h]["ci_high"] - y[j]
                for j, h in enumerate(horizons)
            ]
            shift = [x + (i - len(names) / 2) * 0.02 for x in xs]
            ax.errorbar(shift, y, yerr=[lo, hi], marker="o", capsize=3, label=name)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_xticks(xs, horizons)
        ax.set_xlabel("horizon")
        ax.set_ylabel("rank IC (95 % block-bootstrap CI)")
        ax.set_title(f"IC decay: {key}", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        decay = f"decay_{_slug(key)}.png"
        fig.savefig(out / decay, dpi=90)
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(7, 4))
        for h in horizons:
            rows = shard["calibration"].get("score", {}).get(h, [])
            mids = [(r["low"] + r["high"]) / 2 for r in rows if r["n"]]
            vals = [r["mean_bp"] for r in rows if r["n"]]
            ax.plot(mids, vals, marker="o", label=f"score, {h}")
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_xlabel("score band (deciles of 0-100)")
        ax.set_ylabel("mean forward return (bp)")
        ax.set_title(f"Calibration: {key}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        calib = f"calibration_{_slug(key)}.png"
        fig.savefig(out / calib, dpi=90)
        plt.close(fig)
        files[key] = {"decay": decay, "calibration": calib}
    return files


def write_html(report: dict[str, Any], out: Path) -> Path:
    """report.html beside its PNG charts in ``out``."""
    charts = write_charts(report, out)
    horizons = report["horizons"]
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>confluex research</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "td:first-child{text-align:left}</style></head><body>",
        "<h1>confluex research</h1>",
        f"<p>Grid {report['interval_ms']} ms; horizons {esc(', '.join(horizons))}; "
        f"{report['bootstrap']['replicates']} moving-block bootstrap replicates "
        f"(seed {report['bootstrap']['seed']}).</p>",
    ]
    for key, shard in report["shards"].items():
        parts.append(f"<h2>{esc(key)}</h2>")
        parts.append(
            f"<p>{shard['samples']} samples over {shard['span_s']:.0f} s, "
            f"mid from {esc(shard['mid_source'])}, venue {esc(shard['venue'])}</p>"
        )
        parts.append("<table><tr><th>signal</th>")
        parts += [f"<th>IC {esc(h)} [95 % CI] (n_eff, partial)</th>" for h in horizons]
        parts.append("</tr>")
        for name in _rows(shard, horizons, None):
            parts.append(f"<tr><td>{esc(name)}</td>")
            for h in horizons:
                blk = shard["signals"][name][h]
                extra = ""
                if blk["ic"] is not None:
                    extra = f" ({blk['n_eff']}, {_opt(blk['partial_ic'])})"
                parts.append(f"<td>{esc(_fmt_ic(blk) + extra)}</td>")
            parts.append("</tr>")
        parts.append("</table>")
        parts.append(f"<img src='{charts[key]['decay']}' alt='IC decay'>")
        parts.append(f"<img src='{charts[key]['calibration']}' alt='calibration'>")
        parts.append(_crossings_html(shard, horizons))
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path


def _opt(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def _crossings_html(shard: dict[str, Any], horizons: Sequence[str]) -> str:
    rows = ["<h3>Threshold crossings (declustered)</h3><table><tr><th>signal, side</th>"]
    rows += [f"<th>{html.escape(h)}: n, hit rate, mean bp</th>" for h in horizons]
    rows.append("</tr>")
    for name, sides in shard["crossings"].items():
        for side, per in sides.items():
            cells = "".join(f"<td>{html.escape(_cross(per[h]))}</td>" for h in horizons)
            rows.append(f"<tr><td>{html.escape(name)} {side}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _cross(c: dict[str, Any]) -> str:
    if not c["n"]:
        return "0"
    return f"{c['n']}, {_pct(c['hit_rate'])}, {c['mean_bp']:+.2f}"


# --- the docs page ----------------------------------------------------------------------------

_INTRO = """# Research: what the score is worth

This page is generated by `confluex research` (do not edit it by hand):

```
{command}
```

It measures how much each signal of the engine tells about the next move of the mid price on
the real captures in `tests/data`, and compares the confluence score with its own inputs and
with two plain baselines taken from the book.

## Method

- **Sampling.** Each capture is replayed message by message through the native path
  (`FeedSession`: raw bytes, C++ parser, book sync, engine). Every {interval} ms of receive time
  the engine is read: score, score_raw, the six component scores, every sub-score, and the top of
  the book. A sample holds every message before its grid time and none after. Samples where the
  book is not in sync are left out.
- **Forward return.** mid(t + h) / mid(t) - 1, with the venue's own `bookTicker` mid (the last
  one received) where the data has bookTickers, else the reconstructed book's mid.
- **Rank IC.** Spearman correlation of a signal with the forward return (ties share their
  average rank).
- **95 % interval.** Moving-block bootstrap percentile interval ({replicates} replicates, seeded:
  the numbers are reproducible). Overlapping forward returns are correlated over h / {interval} ms
  samples, so a block holds at least two horizons (and at least n^(1/3) samples, at most n / 4).
  The ranks are taken once on the full sample and each replicate's IC is the correlation of the
  resampled ranks.
- **n_eff.** The number of effectively independent pairs behind the IC (Bartlett:
  n / (1 + 2 sum_k w_k rho_x(k) rho_r(k)), lags up to two horizons, triangular weights): at
  long horizons a few thousand samples are worth a few dozen independent observations.
- **Partial IC.** The signal's rank IC holding the best baseline (the baseline with the larger
  |IC| at that horizon) fixed: what the signal adds to the book's top-of-book.
- **Best input.** In each capture's headline table: the component or sub-score with the highest
  IC at that horizon, picked in hindsight (an upper bound no fixed weighting can be sure to
  reach).
- **Baselines.** `baseline.tob_imbalance` = (bid qty - ask qty) / (bid qty + ask qty) at the
  best prices; `baseline.microprice_mid` = microprice - mid in ticks.
- **Crossings.** The score rising to the long threshold ({long:g}) from below, or falling to the
  short threshold ({short:g}) from above. Declustered: a crossing counts only one horizon after
  the last counted one in the same direction. Hit rate: share of events followed by a return of
  the crossing's sign; mean return in basis points, signed by the direction.
- **Calibration.** Score bands of 10 points: count, share of positive forward returns, mean
  forward return.
- **Saturation.** Share of samples at exactly 0 or 100, within one point of either end (a
  logistic map saturates there without touching the rail), and at the observed minimum or
  maximum (a clip piles samples up there).
- **Warm-up.** The first 30 s of a capture: share of samples pinned at exactly 0 or 100, and the
  last pinned second.
- **Shards and Ray.** Work is split by (capture, symbol, profile) and runs as Ray tasks
  (`--serial` runs the same function in-process: identical numbers). Captures are not split by
  time: a Binance diff-depth capture syncs from the single REST snapshot near its start, so a
  later slice would need the whole prefix as warm-up.
"""


def _md_table(shard: dict[str, Any], horizons: Sequence[str]) -> list[str]:
    first = horizons[0]
    lines = [
        "| signal | "
        + " | ".join(f"IC {h} [95 % CI]" for h in horizons)
        + f" | n / n_eff {first} | partial IC {first} | at 0 or 100 | within 1 of 0/100 |",
        "|---|" + "---|" * (len(horizons) + 4),
    ]
    for name in _rows(shard, horizons, None):
        blk = shard["signals"][name]
        cells = " | ".join(_fmt_ic(blk[h]) for h in horizons)
        b = blk[first]
        n_eff = "-" if b["n_eff"] is None else f"{b['n']} / {b['n_eff']:.0f}"
        sat = shard["saturation"][name]
        pinned = _pct(_sum(sat["at_0"], sat["at_100"]))
        lines.append(
            f"| `{name}` | {cells} | {n_eff} | {_opt(b['partial_ic'])} | {pinned} | "
            f"{_pct(sat.get('near_rails'))} |"
        )
    return lines


def _headline(shards: Sequence[dict[str, Any]], horizons: Sequence[str]) -> list[str]:
    """Score vs best input vs best baseline, one row per profile: the before/after view."""
    lines = [
        "| profile | signal | " + " | ".join(horizons) + " |",
        "|---|---|" + "---|" * len(horizons),
    ]
    for shard in shards:
        prof = shard["profile"]
        for label in ("score", "score_raw", "best input", "best baseline"):
            cells = []
            for h in horizons:
                if label == "best input":
                    name = best_input(shard, h)
                elif label == "best baseline":
                    name = shard["best_baseline"][h]
                else:
                    name = label
                if name is None:
                    cells.append("-")
                    continue
                text = _fmt_ic(shard["signals"][name][h])
                cells.append(text if name == label else f"{text} `{name}`")
            lines.append(f"| {prof} | {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(report: dict[str, Any], command: str) -> str:
    """docs/research.md: the method, then per capture the before/after headline table, the
    score's saturation, warm-up and crossings, and the full IC table of every profile."""
    horizons = report["horizons"]
    out = [
        _INTRO.format(
            command=command,
            interval=report["interval_ms"],
            replicates=report["bootstrap"]["replicates"],
            long=report["thresholds"]["long"],
            short=report["thresholds"]["short"],
        )
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for shard in report["shards"].values():
        groups.setdefault(f"{shard['capture']} ({shard['symbol']})", []).append(shard)
    out.append("## Results\n")
    out.append(f"Profiles: {', '.join(f'`{p}`' for p in report['profiles'])}.\n")
    for title, shards in groups.items():
        first = shards[0]
        out.append(f"### {title}\n")
        out.append(
            f"Files {', '.join(f'`{f}`' for f in first['files'])}; venue {first['venue']}; "
            f"{first['samples']} samples over {first['span_s']:.0f} s; mid from "
            f"{first['mid_source']}.\n"
        )
        out.extend(_headline(shards, horizons))
        out.append("")
        out.append("| profile | score at 0 / 100 | first 30 s pinned | last pinned (s) |")
        out.append("|---|---|---|---|")
        for s in shards:
            sat, warm = s["saturation"]["score"], s["warmup"]["score"]
            last = warm["last_pinned_s"]
            out.append(
                f"| {s['profile']} | {_pct(sat['at_0'])} / {_pct(sat['at_100'])} | "
                f"{_pct(warm['pinned_share'])} | {'-' if last is None else f'{last:.1f}'} |"
            )
        out.append("")
        out.append(
            "| profile | crossing | " + " | ".join(f"{h}: n, hit, bp" for h in horizons) + " |"
        )
        out.append("|---|---|" + "---|" * len(horizons))
        for s in shards:
            for side in ("long", "short"):
                per = s["crossings"]["score"][side]
                cells = " | ".join(_cross(per[h]) for h in horizons)
                out.append(f"| {s['profile']} | {side} | {cells} |")
        out.append("")
        for s in shards:
            out.append(f"#### All signals, profile `{s['profile']}`\n")
            out.extend(_md_table(s, horizons))
            if s["constant"]:
                out.append("")
                out.append("Constant (no IC): " + ", ".join(f"`{n}`" for n in s["constant"]) + ".")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
