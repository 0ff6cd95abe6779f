"""The ``confluex`` command.

``confluex replay [FILES...]`` replays recorded market data (default: the bundled 3-minute
Binance spot BTCUSDT sample) through the native path and prints a per-symbol summary with
latency percentiles; ``--out DIR`` also writes the score series and a chart.
``confluex live`` streams a venue's public feed (see ``confluex live --help``).

Conventions: errors are one line on stderr (``confluex <command>: <what>, was <value>``) and a
non-zero exit: 2 for bad options or input, 1 for a run that failed (or whose data did not fit
the instrument), 130 for Ctrl-C. Logs (``-v``, ``--log-level``, ``--log-file``) go to stderr
with UTC time and level; library modules only create loggers, this module configures them.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np

from . import __version__
from .backtest_report import FillLike, backtest_of, draw_fills, paper_fills_by_id, write_report
from .cache import ConfluenceHFTCache, EngineScorePublisher, format_cache_stats
from .engine import (
    COMPONENT_NAMES,
    PROFILES,
    ConfluexError,
    Engine,
    engine_config,
    engine_from_config,
)
from .feeds.files import ReplayResult, replay, sample_path
from .hft.replay_hook import HFT_CSV_COLUMNS, HFTReplayScorer, format_hft, hft_columns
from .hft.replay_hook import PROFILES as HFT_PROFILES
from .history_inputs import load_ohlcv, warm_up
from .market_making import market_maker_from_args
from .markets import unified_symbol
from .replay_trader import VENUE_MARKET_TYPE, PaperTrader, trader_from_args
from .sentiment_inputs import load_funding, load_open_interest
from .trading.config import load_config

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "configure_logging", "main"]

log = logging.getLogger(__name__)

EXIT_FAILED = 1  # the run failed, or its data did not fit the instrument
EXIT_USAGE = 2  # bad option or input (argparse's code too)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)

#: Default ceiling on the share of messages that may fail to parse before a replay is declared
#: failed: with the right instrument real captures have none, with a wrong --tick most fail.
MAX_ERROR_RATE = 0.01

_STAGES = (
    ("parse", "parse (bytes -> records)"),
    ("apply", "book apply / trade push"),
    ("recompute", "signal recompute"),
    ("total", "raw message -> score"),
)


class Progress:
    """A tqdm progress bar on stderr (bytes read, rate and ETA); silent when disabled.

    Called as ``progress(done, total)`` by :func:`confluex.feeds.files.replay`.
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        if self._bar is None:
            from tqdm import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(
                total=total,
                desc="replaying",
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
            )
        if total != self._bar.total:
            self._bar.total = total
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


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
    if res.interrupted:
        out.append("  interrupted (Ctrl-C): the figures below cover the messages replayed so far")
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
            # Readings the profile computes but does not weight (e.g. the reference extras
            # under standard): shown apart, so they are neither hidden nor mistaken for votes.
            unw = ", ".join(f"{k} {comp.sub[k]:.1f}" for k in comp.unweighted)
            unw = f"  unweighted [{unw}]" if unw else ""
            out.append(f"    {name:<16}{comp.score:6.2f}  w {r.weights[name]:.2f}  [{subs}]{unw}")
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


def write_outputs(
    res: ReplayResult,
    out_dir: Path,
    fills: Mapping[int, Sequence[FillLike]] | None = None,
    hft: np.ndarray[Any, np.dtype[np.void]] | None = None,
) -> list[Path]:
    """Write scores.csv, signals.csv and chart.png into ``out_dir``; return their paths.

    ``fills`` (per engine symbol id) are drawn on the chart's price panels. ``hft`` (the
    ``--hft`` series, ``HFTReplayScorer.series()``) adds the composite columns to scores.csv:
    each row's symbol's last composite at or before the row's time.
    """
    extra = hft_columns(res.series, hft) if hft is not None else None
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
                *COMPONENT_NAMES,
                *(HFT_CSV_COLUMNS if extra is not None else ()),
            ]
        )
        for k, row in enumerate(res.series):
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
                    # one column per component; empty while it has no data
                    *("" if math.isnan(c) else f"{c:.4f}" for c in row["components"]),
                    *(extra[k] if extra is not None else ()),
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
    written.append(_chart(res, out_dir / "chart.png", fills or {}))
    return written


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


def _chart(res: ReplayResult, path: Path, fills: Mapping[int, Sequence[FillLike]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    long_t, short_t = res.thresholds
    ids = sorted({int(i) for i in res.series["symbol_id"]}) or [0]
    fig, axes = plt.subplots(
        3 * len(ids), 1, figsize=(12, 8 * len(ids)), sharex=True, squeeze=False
    )
    for k, sym in enumerate(ids):
        rows = res.series[res.series["symbol_id"] == sym]
        sig = res.signals[res.signals["symbol_id"] == sym]
        t = np.array([datetime.fromtimestamp(x / 1e9, tz=timezone.utc) for x in rows["ts_ns"]])
        ts = np.array([datetime.fromtimestamp(x / 1e9, tz=timezone.utc) for x in sig["ts_ns"]])
        name = res.names.get(sym, str(sym))
        ax_px, ax_sc, ax_co = axes[3 * k][0], axes[3 * k + 1][0], axes[3 * k + 2][0]
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
        draw_fills(ax_px, fills.get(sym, ()))
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
        # components panel: each component's score (gaps while it has no data)
        for i, comp in enumerate(COMPONENT_NAMES):
            ax_co.plot(t, rows["components"][:, i], lw=0.8, label=comp)
        ax_co.axhline(50, color="black", lw=0.5)
        ax_co.set_ylim(0, 100)
        ax_co.set_ylabel("component 0-100")
        ax_co.legend(loc="upper left", fontsize=8, ncol=6)
        ax_co.grid(alpha=0.3)
    fmt = mdates.DateFormatter("%H:%M:%S", tz=timezone.utc)  # type: ignore[no-untyped-call]
    axes[-1][0].xaxis.set_major_formatter(fmt)
    axes[-1][0].set_xlabel("time (UTC)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _check_out_dir(out: str) -> Path:
    """Create ``--out`` and prove it writable before the replay, not after it."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".confluex-write-test-"):
            pass
    except FileExistsError:
        raise ValueError(f"--out must be a directory, was {out!r} (a file)") from None
    except OSError as exc:
        raise ValueError(f"--out directory is not writable, was {out!r}: {exc.strerror}") from None
    return path


def _error_rate_problem(res: ReplayResult, max_rate: float) -> str | None:
    """A one-line diagnosis when too many messages failed to parse, else None."""
    errors = sum(res.parser_errors.values())
    if res.messages <= 0 or errors <= max_rate * res.messages:
        return None
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(res.parser_errors.items()) if v)
    instruments = "; ".join(f"{r.name} tick {r.tick} lot {r.lot}" for r in res.symbols.values())
    hint = ""
    if res.parser_errors.get("OffGrid", 0) * 2 > errors:
        hint = ": prices or sizes are off the instrument's grid, check --tick/--lot"
    return (
        f"{errors:,} of {res.messages:,} messages failed to parse "
        f"({100.0 * errors / res.messages:.1f} %: {kinds}), above --max-error-rate "
        f"{max_rate:g}; instrument {instruments}{hint}"
    )


def _warm_up_inputs(
    args: argparse.Namespace, profile: str
) -> Callable[[Engine, int, str], None] | None:
    """Loads --history / --funding / --open-interest (before the replay: a bad file fails fast)."""
    if not (args.history or args.funding or args.open_interest):
        return None
    if not engine_config(profile=profile).bar_views:
        raise _UsageError(
            "--history, --funding and --open-interest feed the bar-based views, which the "
            f"{profile} profile does not compute, was --profile {profile}"
        )
    try:
        history = [load_ohlcv(f) for f in args.history]
        funding = load_funding(args.funding) if args.funding else []
        oi = load_open_interest(args.open_interest) if args.open_interest else []
    except ValueError as exc:  # HistoryInputError, SentimentInputError
        raise _UsageError(str(exc)) from None

    def prepare(engine: Engine, symbol_id: int, name: str) -> None:
        try:
            warm_up(engine, symbol_id, history=history, funding=funding, open_interest=oi)
        except ConfluexError as exc:
            raise _UsageError(f"warm-up of {name}: {exc}") from None

    return prepare


def _replay_command(args: argparse.Namespace) -> int:
    if (args.tick is None) != (args.lot is None):
        raise _UsageError(
            "--tick and --lot go together, was only "
            + (f"--tick {args.tick}" if args.tick is not None else f"--lot {args.lot}")
        )
    if args.long is not None and args.short is not None and not args.long > args.short:
        raise _UsageError(
            f"--long must be > --short, was --long {args.long:g} --short {args.short:g}"
        )
    if args.out and importlib.util.find_spec("matplotlib") is None:
        raise _UsageError(
            "--out draws chart.png with matplotlib, which is not installed: "
            "pip install 'confluex[plot]'"
        )
    args.hft = args.hft or args.hft_profile is not None  # --hft-profile implies --hft
    _check_threads(args)
    out_dir = _check_out_dir(args.out) if args.out else None
    progress = Progress(enabled=not args.no_progress and sys.stderr.isatty())
    trader: PaperTrader | None = None
    shared: EngineScorePublisher | None = None
    log.info("replaying %s", ", ".join(args.files) if args.files else sample_path().name)
    try:
        # One config drives everything: the engine's weights, the session's signal thresholds
        # (--long/--short override the config's pair), the monitor and the sizing.
        config = load_config(args.config, preset=args.preset).with_thresholds(
            long=args.long, short=args.short
        )
        thresholds = config.confluence.thresholds
        engine = engine_from_config(config, profile=args.profile, extras=args.extras)
        prepare = _warm_up_inputs(args, args.profile or config.confluence.profile)
        mm = market_maker_from_args(args, engine, config)  # --strategy mm (else None)
        if (args.paper or args.serve is not None or args.algo is not None) and mm is None:
            trader = trader_from_args(
                args, engine, lambda note: print(note, flush=True), config=config
            )
        shared = _redis_publisher(args, engine, trader, thresholds)
        scorer = _hft_scorer(args, engine, trader, config, shared) if args.hft else None
        on_message = trader.on_message if trader is not None else None
        res = replay(
            args.files or None,
            symbols=args.symbols.split(",") if args.symbols else None,
            speed=None if args.serve is not None else args.speed,  # the server paces instead
            tick=args.tick,
            lot=args.lot,
            long_threshold=thresholds.long,
            short_threshold=thresholds.short,
            series_interval_ns=round(args.series_ms * 1_000_000),
            progress=progress,
            engine=engine,
            on_message=shared.on_message if shared is not None else on_message,
            interruptible=True,
            on_parsed=scorer.on_parsed if scorer is not None else None,
            prepare=prepare,
            on_raw=mm.on_raw if mm is not None else None,
            threads=args.threads,
            engine_config=engine_config(config, profile=args.profile, extras=args.extras)
            if args.threads
            else None,
        )
        progress.close()
        finals = scorer.finish() if scorer is not None else {}
        paper = trader.finish() if trader is not None else None
        if trader is not None:
            # With --paper the signals are the trader's (the MarketMonitor's, after its
            # reliability, hysteresis and cooldown gates): one count in the summary, the
            # report and signals.csv.
            res.signals = trader.signal_events()
        print(
            format_summary(res, "MarketMonitor signals" if trader is not None else ""), flush=True
        )
        if scorer is not None:
            print("\n" + format_hft(scorer, finals, res.names), flush=True)
        problem = _error_rate_problem(res, args.max_error_rate)
        if problem is not None:
            _fail("replay", problem)
            return EXIT_FAILED
        if out_dir is not None:
            paths = write_outputs(
                res, out_dir, paper_fills_by_id(paper), scorer.series() if scorer else None
            )
            print("\nwrote " + ", ".join(str(p) for p in paths))
        if mm is not None:
            print("\n" + mm.finish().format(), flush=True)
            if out_dir is not None:
                print("\nwrote " + ", ".join(str(p) for p in mm.write(out_dir)))
        if paper is not None:
            print("\n" + paper.format(), flush=True)
            backtest = backtest_of(paper)
            print("\n" + backtest.format(), flush=True)
            if out_dir is not None:
                paths, notes = write_report(backtest, out_dir)
                print("\nwrote " + ", ".join(str(p) for p in paths))
                for note in notes:
                    print(note)
        if shared is not None:
            shared.cache.close()
            print("\n" + format_cache_stats(shared.cache), flush=True)
    finally:
        progress.close()
        if trader is not None:
            trader.close()
        if shared is not None:
            shared.cache.close()
    if res.interrupted:
        _fail("replay", f"interrupted after {res.messages:,} messages")
        return EXIT_INTERRUPTED
    return 0


def _check_threads(args: argparse.Namespace) -> None:
    """--threads runs the sharded replay, which has no per-message hooks and no pacing (so
    nothing to publish --redis from: refused rather than writing nothing)."""
    if args.threads is None:
        return
    if not 1 <= args.threads <= 64:
        raise _UsageError(f"--threads must be in [1, 64], was {args.threads}")
    clash = [
        flag
        for flag, on in (
            ("--speed", args.speed is not None),
            ("--paper", bool(args.paper)),
            ("--serve", args.serve is not None),
            ("--hft", bool(args.hft)),
            ("--redis", bool(getattr(args, "redis", None))),
        )
        if on
    ]
    if clash:
        raise _UsageError(f"--threads cannot be combined with {', '.join(clash)}")


def _ws_symbol(engine_name: str) -> str | None:
    """The WebSocket (ccxt unified) symbol of an engine symbol ``venue:NAME``."""
    venue, _, name = engine_name.partition(":")
    mtype = VENUE_MARKET_TYPE.get(venue)
    return (unified_symbol(name, mtype) if mtype else None) or name


def _redis_publisher(
    args: argparse.Namespace, engine: Engine, trader: PaperTrader | None, thresholds: Any
) -> EngineScorePublisher | None:
    """The ``--redis`` hook: the engine's scores and crossings into the shared cache, after
    the paper trader's own hook; symbols are named as on the WebSocket (``BTC/USDT``)."""
    if not getattr(args, "redis", None):
        return None
    cache = ConfluenceHFTCache(args.redis).start()
    return EngineScorePublisher(
        cache,
        engine,
        long_threshold=thresholds.long,
        short_threshold=thresholds.short,
        name=lambda sid: _ws_symbol(engine.symbol_name(sid)) or engine.symbol_name(sid),
        then=trader.on_message if trader is not None else None,
    )


def _hft_scorer(
    args: argparse.Namespace,
    engine: Engine,
    trader: PaperTrader | None,
    config: Any,
    shared: EngineScorePublisher | None = None,
) -> HFTReplayScorer:
    """The ``--hft`` hook: its profile is ``--hft-profile``, else an HFT one named by
    ``--profile`` (the engine profiles); with ``--paper`` the inventory is the paper venue's
    position (limit: risk.max_symbol_notional), with ``--serve`` it publishes ``hft_scores``."""
    profile = args.hft_profile or getattr(args, "profile", None)
    if profile is not None and profile not in HFT_PROFILES and args.hft_profile is None:
        profile = None  # an engine-only profile: the HFT layer keeps its default
    limit = config.risk.max_symbol_notional or 0.0
    server = trader.server if trader is not None else None

    def inventory(sym: int, mid: float) -> tuple[float, float]:
        executor = trader.executor if trader is not None else None
        pos = (
            executor.positions.get(_ws_symbol(engine.symbol_name(sym)) or "") if executor else None
        )
        amount = 0.0 if pos is None else pos.amount * (1.0 if pos.direction == "long" else -1.0)
        return amount, (limit / mid if limit > 0 and mid > 0 else 0.0)

    def publish(symbol: str | None, data: dict[str, Any]) -> None:
        if server is not None:
            server.publish("hft_scores", data, symbol=symbol)
        if shared is not None:
            shared.on_composite(symbol, data)

    return HFTReplayScorer(
        engine,
        profile=profile,
        series_interval_ns=round(args.series_ms * 1_000_000),
        inventory=inventory if trader is not None else None,
        publish=publish if server is not None or shared is not None else None,
        ws_symbol=_ws_symbol,
    )


# ---------------------------------------------------------------------------------------------
# Argument parsing and the command's conventions


class _UsageError(ValueError):
    """A bad combination of options (exit 2), raised by a command."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    unit: str = "",
) -> Callable[[str], float]:
    """An argparse type: a finite float within bounds, refused with the rule and the value."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}{unit}")
    rule = "a finite number" + (" " + " and ".join(parts) if parts else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, was {text!r}") from None
        ok = math.isfinite(value)
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value <= hi
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {rule}, was {text}")
        return value

    return parse


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _add_common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--version/-v/--log-level/--log-file, before or after the command name.

    On a subcommand the defaults are SUPPRESS, so they do not overwrite what was given before
    the command (argparse copies subparser defaults over the parent's values).
    """
    suppress = {} if top else {"default": argparse.SUPPRESS}
    g = parser.add_argument_group("logging")
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        help="more log output: -v INFO, -vv DEBUG",
        **({"default": 0} if top else suppress),
    )
    g.add_argument(
        "--log-level",
        type=str.upper,
        choices=_LEVELS,
        help="log level (default WARNING; overrides -v)",
        **({"default": None} if top else suppress),
    )
    g.add_argument(
        "--log-file",
        metavar="PATH",
        help="also append the log to PATH",
        **({"default": None} if top else suppress),
    )


class _UTCFormatter(logging.Formatter):
    """``2026-12-05T16:20:57.123Z`` timestamps: UTC, milliseconds, sortable."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{t}.{int(record.msecs):03d}Z"


def configure_logging(
    level: str | int = "WARNING",
    log_file: str | os.PathLike[str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send log records (UTC time, level, logger) to stderr and optionally to a file.

    Replaces the handlers this function installed before (safe to call twice).
    Raises ValueError naming the file when it cannot be opened.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_confluex", False):
            root.removeHandler(h)
            h.close()
    fmt = _UTCFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.StreamHandler(sys.stderr if stream is None else stream)
    ]
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise ValueError(
                f"--log-file cannot be opened, was {os.fspath(log_file)!r}: {exc.strerror}"
            ) from None
    for h in handlers:
        h.setFormatter(fmt)
        h._confluex = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(level)


def _level(args: argparse.Namespace) -> str:
    if args.log_level:
        return str(args.log_level)
    return {0: "WARNING", 1: "INFO"}.get(int(args.verbose or 0), "DEBUG")


def _fail(command: str, message: str) -> None:
    print(f"confluex {command}: {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="confluex",
        description="Crypto market-microstructure signals and a 0-100 confluence score.",
        epilog="exit codes: 0 ok, 1 failed, 2 bad option or input, 130 interrupted (Ctrl-C)",
    )
    parser.add_argument("--version", action="version", version=f"confluex {__version__}")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rp = sub.add_parser(
        "replay",
        help="replay recorded market data (default: the bundled Binance sample)",
        description=(
            "Replay captures through the native path and summarise scores, book health and latency."
        ),
    )
    _add_common(rp, top=False)
    rp.add_argument(
        "files", nargs="*", help="capture files (.gz, plain, .zip); default: the bundled sample"
    )
    rp.add_argument(
        "--out",
        metavar="DIR",
        help="also write scores.csv, signals.csv and chart.png (needs confluex[plot]) here, "
        "checked before the replay; with --paper also trades.csv, trades.parquet (needs pyarrow), "
        "report.json, and the fills on the chart",
    )
    rp.add_argument("--symbols", help="comma-separated venue symbols to keep, e.g. BTCUSDT")
    rp.add_argument(
        "--speed",
        type=_number(0.0, lo_open=True),
        help="pace at SPEED x the recorded time, > 0 (default: as fast as possible)",
    )
    rp.add_argument("--tick", help="tick size for every symbol (with --lot), e.g. 0.01")
    rp.add_argument("--lot", help="lot size for every symbol (with --tick), e.g. 0.00000001")
    rp.add_argument(
        "--long",
        type=_number(0.0, 100.0),
        help="LONG threshold; overrides confluence.thresholds.long of the config (default 70)",
    )
    rp.add_argument(
        "--short",
        type=_number(0.0, 100.0),
        help="SHORT threshold; overrides confluence.thresholds.short of the config (default 35)",
    )
    rp.add_argument(
        "--series-ms",
        type=_number(0.0, 86_400_000.0, lo_open=True, unit=" (one day)"),
        default=100.0,
        help="score series sampling, ms of data time, > 0 (default 100)",
    )
    rp.add_argument(
        "--max-error-rate",
        type=_number(0.0, 1.0),
        default=MAX_ERROR_RATE,
        metavar="FRACTION",
        help="fail (exit 1) when more than this share of messages fails to parse, which means "
        f"the instrument does not fit the data (default {MAX_ERROR_RATE:g})",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    rp.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="replay on N engine threads (symbols sharded round-robin, frames through the "
        "lock-free rings); same series and signals as the single-threaded replay; not with "
        "--speed, --paper, --serve or --hft",
    )
    hg = rp.add_argument_group("HFT composite (see confluex.hft and docs/hft.md)")
    hg.add_argument(
        "--hft",
        action="store_true",
        help="score the HFT composite during the replay (book updates always, trades and "
        "quotes at most every 100 ms), print it per symbol with a portfolio ranking, add its "
        "columns to scores.csv and, with --serve, publish it on the hft_scores channel",
    )
    hg.add_argument(
        "--hft-profile",
        choices=HFT_PROFILES,
        help="HFT profile (default: the one --profile names when it is an HFT profile, else "
        "default); hft_ultra_fast sets the note's ultra-fast weights and 100 ms streaming",
    )
    vw = rp.add_argument_group("scoring profile and the bar-based views")
    vw.add_argument(
        "--profile",
        choices=PROFILES,
        help="standard: the graded score with fitted weights, all six components computed; "
        "fitted_1s/fitted_5s: fitted for that horizon, book and trades only; reference: the "
        "reference system's formula and weights; hft_ultra_fast: orderbook/orderflow/volume "
        "from book and trades only (default: confluence.profile of the config, else standard)",
    )
    vw.add_argument(
        "--extras",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compute the reference system's orderflow/orderbook extras (stacked imbalance, OI "
        "quadrant, price-CVD divergence, absorption/exhaustion, liquidity); shown unweighted "
        "where the profile gives them no weight (default: confluence.extras of the config, "
        "else on for reference only)",
    )
    vw.add_argument(
        "--history",
        metavar="OHLCV_FILE",
        action="append",
        default=[],
        help="warm-up bars for every replayed symbol, repeatable: a JSON list of ccxt "
        "fetch_ohlcv rows [ms, open, high, low, close, volume] (gzip allowed) or a CSV with "
        "the same columns; the timeframe is inferred from the spacing",
    )
    vw.add_argument(
        "--funding",
        metavar="FILE",
        help="funding rates [[time_ms, rate], ...] (gzip allowed) for the sentiment view",
    )
    vw.add_argument(
        "--open-interest",
        metavar="FILE",
        help="open interest [[time_ms, value], ...] (gzip allowed) for the sentiment view",
    )
    pt = rp.add_argument_group("paper trading (see confluex.replay_trader)")
    pt.add_argument(
        "--paper", action="store_true", help="paper-trade the scores and print a trading report"
    )
    rp.add_argument(
        "--config",
        metavar="PATH",
        help="config TOML: thresholds, component weights, (with --paper) trading and (with "
        "--strategy mm) [mm] and [risk] (default: built-in)",
    )
    rp.add_argument("--preset", metavar="NAME", help="config preset, e.g. paper, conservative")
    pt.add_argument(
        "--strategy",
        choices=("confluence", "mm"),
        default="confluence",
        help="confluence: trade the MarketMonitor's signals; mm: market-make with GLFT quotes "
        "and queue-model fills, report PnL, fills, adverse selection and (with --out) "
        "mm_report.json, mm_fills.csv, mm_series.csv, mm_chart.png; parameters from the "
        "config's [mm], quotes checked against its [risk] (implies --paper; see "
        "confluex.market_making)",
    )
    pt.add_argument(
        "--balance",
        type=_number(0.0, lo_open=True),
        help="starting quote balance (default: monitor.account_balance)",
    )
    pt.add_argument(
        "--sizing",
        choices=("confluence", "executor"),
        default="confluence",
        help="sizing manager (default confluence)",
    )
    pt.add_argument(
        "--algo",
        choices=("market", "auto", "twap", "vwap", "pov", "ac"),
        help="execute entries with this algorithm: one market order, the score's choice, "
        "aggressive TWAP, adaptive VWAP, passive participation or Almgren-Chriss (default: "
        "the config's [execution] algo, market; implies --paper); see "
        "docs/execution_algorithms.md",
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
        help="implies --paper: publish signals, orders, trade_alerts and positions (and "
        "hft_scores with --hft) over WebSocket on loopback (default 127.0.0.1:8765; token "
        "from CONFLUEX_WS_TOKEN or generated and printed); paced by --speed",
    )
    pt.add_argument(
        "--serve-wait",
        type=_number(0.0),
        default=0.0,
        metavar="SECONDS",
        help="with --serve: wait up to SECONDS for a subscribed client before replaying",
    )
    rp.add_argument(
        "--redis",
        metavar="URL",
        help="share the latest scores (hash per symbol, TTL 1 s) and signals (a stream) in "
        "Redis, e.g. redis://127.0.0.1:6379/0; an outage drops and counts writes, the "
        "replay goes on (needs confluex[redis])",
    )
    rp.set_defaults(func=_replay_command)
    from .research.cli import add_research_arguments, run_research

    sp = sub.add_parser(
        "research",
        help="measure each signal's rank IC against the future mid return (Ray-sharded)",
        description="Replay captures, sample the engine every 100 ms and report rank ICs with "
        "block-bootstrap intervals, IC decay, partial ICs against book baselines, threshold "
        "crossings, calibration, saturation and warm-up (report.json, report.html).",
    )
    _add_common(sp, top=False)
    add_research_arguments(sp)
    sp.set_defaults(func=run_research)
    try:
        live = importlib.import_module("confluex.live_view")
    except ImportError:  # pragma: no cover - a build without the live feed module
        live = None
    if live is not None and hasattr(live, "add_live_arguments"):
        lp = sub.add_parser("live", help="stream a venue's public feed into the engine")
        _add_common(lp, top=False)
        live.add_live_arguments(lp)
        lp.set_defaults(func=live.run_live)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``confluex`` command; returns the exit code (never raises for a user error)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option (already reported)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command = str(args.command)
    try:
        configure_logging(_level(args), args.log_file)
    except ValueError as exc:
        _fail(command, str(exc))
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        _fail(command, "interrupted")
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as exc:  # ConfigError, bad files, bad options
        _fail(command, str(exc) if isinstance(exc, ValueError) else _os_error(exc))
        return EXIT_USAGE
    except Exception as exc:  # a bug: one line for the user, the traceback only at DEBUG
        _fail(command, f"internal error: {type(exc).__name__}: {exc} (run with -vv for details)")
        log.debug("internal error", exc_info=True)
        return EXIT_FAILED
    return code


def _os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}, was {os.fspath(exc.filename)!r}"
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
