"""``confluex research``: the argument parser and the command (cli.py only hooks it in)."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path

from ..engine import PROFILES
from ..feeds.files import sample_path
from ..trading.config import TradingConfig
from .analysis import AnalysisConfig, horizon_label
from .report import build_report, markdown, summary_table, write_html, write_json
from .runner import parse_capture, plan_shards, run_shards

__all__ = ["add_research_arguments", "parse_horizons", "run_research"]

DEFAULT_HORIZONS = "1s,5s,30s,5m"
_UNITS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_HORIZON = re.compile(r"(\d+)(ms|s|m|h)")


def parse_horizons(text: str, interval_ns: int = 100_000_000) -> tuple[int, ...]:
    """Horizons "1s,5s,30s,5m" -> ns, sorted, each a positive multiple of the grid.

    Raises ValueError naming the bad item.
    """
    out: set[int] = set()
    for item in text.split(","):
        m = _HORIZON.fullmatch(item.strip())
        if m is None or int(m.group(1)) == 0:
            raise ValueError(
                f"--horizons items are a positive number with ms, s, m or h, was {item!r}"
            )
        ns = int(m.group(1)) * _UNITS[m.group(2)]
        if ns % interval_ns:
            raise ValueError(
                f"--horizons items must be multiples of the {horizon_label(interval_ns)} "
                f"sampling grid, was {item!r}"
            )
        out.add(ns)
    return tuple(sorted(out))


def _profile(name: str) -> str:
    if name not in PROFILES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(PROFILES)}, was {name!r}")
    return name


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, was {text!r}")
    return value


def add_research_arguments(rp: argparse.ArgumentParser) -> None:
    """The ``research`` subcommand's options."""
    rp.add_argument(
        "files",
        nargs="*",
        metavar="FILES",
        help="captures to replay: a file, files that continue each other joined with '+' "
        "(a.gz+b.gz), or a directory (its files in name order, one capture); default: the "
        "bundled sample",
    )
    rp.add_argument(
        "--horizons",
        default=DEFAULT_HORIZONS,
        help=f"forward-return horizons, multiples of 100 ms (default {DEFAULT_HORIZONS})",
    )
    rp.add_argument(
        "--out",
        default="out/research",
        metavar="DIR",
        help="where report.json, report.html and the charts go (default out/research)",
    )
    rp.add_argument(
        "--profile",
        type=_profile,
        help="scoring profile (default: the engine's default profile)",
    )
    rp.add_argument(
        "--compare",
        type=_profile,
        metavar="PROFILE",
        help="also run PROFILE on every capture, side by side with --profile (before/after)",
    )
    rp.add_argument(
        "--symbol",
        action="append",
        default=[],
        metavar="SYMBOL",
        help="only these venue symbols (repeatable; default: every symbol of every capture)",
    )
    rp.add_argument(
        "--address",
        metavar="RAY_ADDRESS",
        help="join this Ray cluster (e.g. auto, ray://head:10001) instead of starting an "
        "embedded local Ray; the nodes need confluex and the files at the same paths",
    )
    rp.add_argument(
        "--num-cpus", type=_positive_int, help="CPUs of the embedded local Ray (default: all)"
    )
    rp.add_argument(
        "--serial", action="store_true", help="run the shards in this process, without Ray"
    )
    rp.add_argument(
        "--bootstrap",
        type=_positive_int,
        default=500,
        metavar="N",
        help="bootstrap replicates per interval (default 500)",
    )
    rp.add_argument("--seed", type=int, default=20240808, help="bootstrap seed")
    rp.add_argument(
        "--markdown",
        metavar="PATH",
        help="also write the docs page (docs/research.md) generated from this run",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    rp.add_argument("--no-html", action="store_true", help="skip report.html and its charts")


def run_research(args: argparse.Namespace) -> int:
    """Runs ``confluex research``; returns the exit code (bad input raises ValueError)."""
    thresholds = TradingConfig().confluence.thresholds
    cfg = AnalysisConfig(
        horizons_ns=parse_horizons(args.horizons),
        long_threshold=thresholds.long,
        short_threshold=thresholds.short,
        replicates=args.bootstrap,
        seed=args.seed,
    )
    profiles: list[str | None] = [args.profile]
    if args.compare is not None:
        if args.compare == args.profile:
            raise ValueError(f"--compare must differ from --profile, was {args.compare!r}")
        profiles.append(args.compare)
    captures = [parse_capture(a) for a in (args.files or [str(sample_path())])]
    shards = plan_shards(captures, profiles, cfg, args.symbol or None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = run_shards(
        shards,
        serial=args.serial,
        address=args.address,
        progress=not args.no_progress and sys.stderr.isatty(),
        num_cpus=args.num_cpus,
    )
    elapsed = time.perf_counter() - started
    report = build_report(results, cfg, profiles)
    write_json(report, out / "report.json")
    if not args.no_html:
        write_html(report, out)
    if args.markdown:
        command = "confluex research " + " ".join(shlex.quote(a) for a in _replay_args(args))
        Path(args.markdown).write_text(markdown(report, command))
    print(summary_table(report))
    where = "serially" if args.serial else "on Ray"
    print(f"{len(shards)} shards {where} in {elapsed:.1f} s; report: {out / 'report.json'}")
    return 0


def _replay_args(args: argparse.Namespace) -> list[str]:
    """The options that shape the numbers, for the docs page's command line."""
    out = list(args.files)
    out += ["--horizons", args.horizons]
    if args.profile:
        out += ["--profile", args.profile]
    if args.compare:
        out += ["--compare", args.compare]
    for s in args.symbol:
        out += ["--symbol", s]
    if args.bootstrap != 500:
        out += ["--bootstrap", str(args.bootstrap)]
    if args.seed != 20240808:
        out += ["--seed", str(args.seed)]
    out += ["--markdown", args.markdown]
    return out
