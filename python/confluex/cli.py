"""The ``confluex`` command.

``confluex replay [FILES...]`` replays recorded market data (default: the bundled 3-minute
Binance spot BTCUSDT sample) through the native path and prints a per-symbol summary with
latency percentiles; ``--out DIR`` also writes the score series and a chart.
``confluex live`` streams a venue's public feed (see ``confluex live --help``).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import math
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from .engine import engine_from_config
from .paper_trading import PaperTrader, trader_from_args
from .replay import ReplayResult, replay
from .trading.config import load_config

__all__ = ["main"]

_STAGES = (
    ("parse", "parse (bytes -> records)"),
    ("apply", "book apply / trade push"),
    ("recompute", "signal recompute"),
    ("total", "raw message -> score"),
)


class Progress:
    """A one-line progress bar on stderr (silent when stderr is not a terminal)."""

    def __init__(self, enabled: bool, stream: TextIO = sys.stderr) -> None:
        self.enabled = enabled
        self.stream = stream
        self.last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        pct = int(100 * done / total)
        if pct == self.last:
            return
        self.last = pct
        bar = "#" * (pct // 4) + "." * (25 - pct // 4)
        self.stream.write(f"\r  replaying [{bar}] {pct:3d}%")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.last >= 0:
            self.stream.write("\r" + " " * 48 + "\r")
            self.stream.flush()


def _fmt_ns(ns: float) -> str:
    if ns >= 1_000_000:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:,.2f} us"
    return f"{ns:,.0f} ns"


def _classify(score: float, long_t: float, short_t: float) -> str:
    return "LONG" if score >= long_t else "SHORT" if score <= short_t else "NEUTRAL"


def format_summary(res: ReplayResult, signals_from: str = "") -> str:
    """The human summary printed at the end of a replay.

    The per-symbol signal counts are those of ``res.signals`` (the rows of signals.csv):
    the session's threshold crossings, or what ``signals_from`` names (the paper trader's
    MarketMonitor signals with ``--paper``).
    """
    long_t, short_t = res.thresholds
    out: list[str] = []
    files = ", ".join(s.path.name for s in res.sources)
    out.append(
        f"confluex replay: {res.messages:,} messages from {files} in {res.elapsed_s:.3f} s "
        f"({res.rate:,.0f} msg/s, {1e6 / res.rate if res.rate else 0:.2f} us/msg)"
    )
    if res.filtered:
        out.append(f"  {res.filtered:,} messages of other symbols filtered out")
    errors = {k: v for k, v in res.parser_errors.items() if v}
    out.append(
        "  parse errors: "
        + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "none")
    )
    for rep in res.symbols.values():
        h, st, r = rep.health, rep.stats, rep.result
        inferred = " (inferred from the data)" if rep.inferred else ""
        out.append("")
        out.append(f"{rep.name}  [{rep.venue}, tick {rep.tick}, lot {rep.lot}{inferred}]")
        if h is not None:
            out.append(
                f"  messages   depth {h.depth_messages:,}  trades {h.trade_messages:,}  "
                f"bookTicker {h.ticker_messages:,}  snapshots {h.snapshot_messages}  "
                f"errors {h.parse_errors}"
            )
            out.append(
                f"  book       {h.phase.name}, {st.levels_applied:,} level updates, "
                f"gaps {st.gaps}, desyncs {h.desyncs}, resyncs {max(h.snapshots_applied - 1, 0)}, "
                f"crossed {st.crossed}, bookTicker checks {h.ticker_checks:,} / mismatches "
                f"{h.ticker_mismatches}"
            )
        else:
            out.append(f"  book       {st.messages_applied:,} messages, trades {st.trades:,}")
        verdict = _classify(r.score, long_t, short_t)
        out.append(
            f"  score      {r.score:6.2f} {verdict:<7} (raw {r.score_raw:.2f}, confidence "
            f"{r.confidence:.3f}, consensus {r.consensus:.3f}, reliability {r.reliability:.2f})"
        )
        for name, comp in rep.components.items():
            if not comp.has_data:
                continue
            weights = comp.weights
            subs = ", ".join(f"{k} {v:.1f}" for k, v in comp.sub.items() if weights.get(k, 0) > 0)
            out.append(f"    {name:<16}{comp.score:6.2f}  w {r.weights[name]:.2f}  [{subs}]")
        missing = [n for n, c in rep.components.items() if not c.has_data]
        if missing:
            out.append(f"    no data: {', '.join(missing)}")
        if h is not None or signals_from:
            mine = res.signals[res.signals["symbol_id"] == rep.symbol_id]
            longs = int((mine["direction"] > 0).sum())
            source = signals_from or "crossings"
            out.append(
                f"  signals    LONG {longs}  SHORT {len(mine) - longs}  "
                f"({source} of {long_t:g} / {short_t:g})"
            )
    if res.latency:
        out.append("")
        out.append(
            "latency, in-process monotonic clock    count      p50      p99    p99.9      max"
        )
        for key, label in _STAGES:
            s = res.latency.get(key)
            if not s or not s["count"]:
                continue
            out.append(
                f"  {label:<34}{s['count']:>8,} {_fmt_ns(s['p50']):>8} {_fmt_ns(s['p99']):>8} "
                f"{_fmt_ns(s['p999']):>8} {_fmt_ns(s['max']):>8}"
            )
    return "\n".join(out)


def write_outputs(res: ReplayResult, out_dir: Path) -> list[Path]:
    """Write scores.csv, signals.csv and chart.png into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    scores = out_dir / "scores.csv"
    with scores.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "time_utc",
                "ts_ns",
                "symbol",
                "mid",
                "score",
                "score_raw",
                "confidence",
                "reliability",
            ]
        )
        for row in res.series:
            w.writerow(
                [
                    _iso(int(row["ts_ns"])),
                    int(row["ts_ns"]),
                    res.names.get(int(row["symbol_id"]), str(row["symbol_id"])),
                    "" if math.isnan(row["mid_px"]) else f"{row['mid_px']:.8g}",
                    f"{row['score']:.4f}",
                    f"{row['score_raw']:.4f}",
                    f"{row['confidence']:.4f}",
                    f"{row['reliability']:.4f}",
                ]
            )
    written.append(scores)
    signals = out_dir / "signals.csv"
    with signals.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time_utc", "ts_ns", "symbol", "signal", "score", "mid"])
        for row in res.signals:
            w.writerow(
                [
                    _iso(int(row["ts_ns"])),
                    int(row["ts_ns"]),
                    res.names.get(int(row["symbol_id"]), str(row["symbol_id"])),
                    "LONG" if row["direction"] > 0 else "SHORT",
                    f"{row['score']:.4f}",
                    "" if math.isnan(row["mid_px"]) else f"{row['mid_px']:.8g}",
                ]
            )
    written.append(signals)
    written.append(_chart(res, out_dir / "chart.png"))
    return written


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


def _chart(res: ReplayResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    long_t, short_t = res.thresholds
    ids = sorted({int(i) for i in res.series["symbol_id"]}) or [0]
    fig, axes = plt.subplots(
        2 * len(ids), 1, figsize=(12, 5.5 * len(ids)), sharex=True, squeeze=False
    )
    for k, sym in enumerate(ids):
        rows = res.series[res.series["symbol_id"] == sym]
        sig = res.signals[res.signals["symbol_id"] == sym]
        t = np.array([datetime.fromtimestamp(x / 1e9, tz=timezone.utc) for x in rows["ts_ns"]])
        ts = np.array([datetime.fromtimestamp(x / 1e9, tz=timezone.utc) for x in sig["ts_ns"]])
        name = res.names.get(sym, str(sym))
        ax_px, ax_sc = axes[2 * k][0], axes[2 * k + 1][0]
        ax_px.plot(t, rows["mid_px"], color="#1f3b73", lw=1.0, label="mid price")
        longs, shorts = sig[sig["direction"] > 0], sig[sig["direction"] < 0]
        ax_px.scatter(
            ts[sig["direction"] > 0],
            longs["mid_px"],
            marker="^",
            color="#1a9850",
            s=60,
            zorder=3,
            label="LONG signal",
        )
        ax_px.scatter(
            ts[sig["direction"] < 0],
            shorts["mid_px"],
            marker="v",
            color="#d73027",
            s=60,
            zorder=3,
            label="SHORT signal",
        )
        ax_px.set_ylabel("price")
        ax_px.set_title(f"{name}: mid price and confluence signals")
        ax_px.legend(loc="upper left", fontsize=8)
        ax_px.grid(alpha=0.3)
        ax_sc.plot(t, rows["score"], color="#5e3c99", lw=0.9, label="score (quality-adjusted)")
        ax_sc.plot(t, rows["score_raw"], color="#999999", lw=0.6, alpha=0.8, label="score_raw")
        ax_sc.axhline(long_t, color="#1a9850", ls="--", lw=1, label=f"long {long_t:g}")
        ax_sc.axhline(short_t, color="#d73027", ls="--", lw=1, label=f"short {short_t:g}")
        ax_sc.axhline(50, color="black", lw=0.5)
        ax_sc.fill_between(t, short_t, long_t, color="#eeeeee", zorder=0)
        ax_sc.set_ylim(0, 100)
        ax_sc.set_ylabel("score 0-100")
        ax_sc.legend(loc="upper left", fontsize=8, ncol=5)
        ax_sc.grid(alpha=0.3)
    fmt = mdates.DateFormatter("%H:%M:%S", tz=timezone.utc)  # type: ignore[no-untyped-call]
    axes[-1][0].xaxis.set_major_formatter(fmt)
    axes[-1][0].set_xlabel("time (UTC)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _replay_command(args: argparse.Namespace) -> int:
    if (args.tick is None) != (args.lot is None):
        print("confluex replay: --tick and --lot go together", file=sys.stderr)
        return 2
    progress = Progress(enabled=not args.no_progress and sys.stderr.isatty())
    trader: PaperTrader | None = None
    try:
        # One config drives everything: the engine's weights, the session's signal thresholds
        # (--long/--short override the config's pair), the monitor and the sizing.
        config = load_config(args.config, preset=args.preset).with_thresholds(
            long=args.long, short=args.short
        )
        thresholds = config.confluence.thresholds
        engine = engine_from_config(config)
        if args.paper or args.serve is not None:
            trader = trader_from_args(
                args, engine, lambda note: print(note, flush=True), config=config
            )
        res = replay(
            args.files or None,
            symbols=args.symbols.split(",") if args.symbols else None,
            speed=None if args.serve is not None else args.speed,  # the server paces instead
            tick=args.tick,
            lot=args.lot,
            long_threshold=thresholds.long,
            short_threshold=thresholds.short,
            series_interval_ns=int(args.series_ms * 1_000_000),
            progress=progress,
            engine=engine,
            on_message=trader.on_message if trader is not None else None,
        )
        progress.close()
        if trader is not None:
            # With --paper the signals are the trader's (the MarketMonitor's, after its
            # reliability, hysteresis and cooldown gates): one count in the summary, the
            # report and signals.csv.
            res.signals = trader.signal_events()
        print(format_summary(res, "MarketMonitor signals" if trader is not None else ""))
        if args.out:
            paths = write_outputs(res, Path(args.out))
            print("\nwrote " + ", ".join(str(p) for p in paths))
        if trader is not None:
            print("\n" + trader.finish().format(), flush=True)
    except (OSError, ValueError) as exc:
        progress.close()
        print(f"confluex replay: {exc}", file=sys.stderr)
        return 2
    finally:
        if trader is not None:
            trader.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="confluex", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser(
        "replay",
        help="replay recorded market data (default: the bundled Binance sample)",
        description=(
            "Replay captures through the native path and summarise scores, book health and latency."
        ),
    )
    rp.add_argument(
        "files", nargs="*", help="capture files (.gz, plain, .zip); default: the bundled sample"
    )
    rp.add_argument(
        "--out", metavar="DIR", help="also write scores.csv, signals.csv and chart.png here"
    )
    rp.add_argument("--symbols", help="comma-separated venue symbols to keep, e.g. BTCUSDT")
    rp.add_argument(
        "--speed",
        type=float,
        help="pace at SPEED x the recorded time (default: as fast as possible)",
    )
    rp.add_argument("--tick", help="tick size for every symbol (with --lot), e.g. 0.01")
    rp.add_argument("--lot", help="lot size for every symbol (with --tick), e.g. 0.00000001")
    rp.add_argument(
        "--long",
        type=float,
        help="LONG threshold; overrides confluence.thresholds.long of the config (default 70)",
    )
    rp.add_argument(
        "--short",
        type=float,
        help="SHORT threshold; overrides confluence.thresholds.short of the config (default 35)",
    )
    rp.add_argument(
        "--series-ms",
        type=float,
        default=100.0,
        help="score series sampling, ms of data time (default 100)",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    pt = rp.add_argument_group("paper trading (see confluex.paper_trading)")
    pt.add_argument(
        "--paper", action="store_true", help="paper-trade the scores and print a trading report"
    )
    rp.add_argument(
        "--config",
        metavar="PATH",
        help="config TOML: thresholds, component weights and (with --paper) trading "
        "(default: built-in)",
    )
    rp.add_argument("--preset", metavar="NAME", help="config preset, e.g. paper, conservative")
    pt.add_argument(
        "--balance", type=float, help="starting quote balance (default: monitor.account_balance)"
    )
    pt.add_argument(
        "--sizing",
        choices=("confluence", "executor"),
        default="confluence",
        help="sizing manager (default confluence)",
    )
    pt.add_argument(
        "--market-type",
        choices=("spot", "swap"),
        help="trade every symbol as this market type (default: from the venue)",
    )
    pt.add_argument(
        "--serve",
        nargs="?",
        const="127.0.0.1:8765",
        metavar="HOST:PORT",
        help="implies --paper: publish signals, orders, trade_alerts and positions over "
        "WebSocket on loopback (default 127.0.0.1:8765; token from CONFLUEX_WS_TOKEN or "
        "generated and printed); paced by --speed",
    )
    pt.add_argument(
        "--serve-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --serve: wait up to SECONDS for a subscribed client before replaying",
    )
    rp.set_defaults(func=_replay_command)
    try:
        live = importlib.import_module("confluex.live")
    except ImportError:  # pragma: no cover - a build without the live feed module
        live = None
    if live is not None and hasattr(live, "add_live_arguments"):
        lp = sub.add_parser("live", help="stream a venue's public feed into the engine")
        live.add_live_arguments(lp)
        lp.set_defaults(func=live.run_live)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
