"""Shards and where they run: serially in this process, or as Ray tasks.

A shard is one (capture, symbol, profile): a capture is one file or several files that
continue each other (a directory, or ``a.gz+b.gz``), replayed in order through one engine.
Files are not split by time: a Binance diff-depth capture syncs its book from the one REST
snapshot near its start, so a later time slice cannot be replayed without the prefix before
it; a time shard would need that whole prefix as its warm-up and would cost what the serial
replay costs. Shards are therefore independent by construction and a shard's numbers depend
only on its input (the bootstrap is seeded from the capture, symbol and horizon), so the Ray
run and the serial run give identical reports.

Ray: an embedded local instance (``ray.init()``) unless ``address`` joins a cluster (the
cluster's nodes need confluex installed and the files at the same paths). An instance that was
already initialised by the caller is used as is and left running.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..feeds.files import detect
from .analysis import AnalysisConfig, analyze
from .sampling import sample_capture

__all__ = ["Capture", "Shard", "plan_shards", "run_shard", "run_shards"]


@dataclass(frozen=True)
class Capture:
    """One capture: a display name and its files, in replay order."""

    name: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Shard:
    """One unit of work: a capture's symbol under one scoring profile."""

    capture: Capture
    symbol: str
    profile: str | None
    config: AnalysisConfig

    @property
    def key(self) -> str:
        return f"{self.capture.name}:{self.symbol}:{self.profile or 'default'}"

    @property
    def seed_key(self) -> str:
        # Without the profile: two profiles of a shard share the bootstrap draws.
        return f"{self.capture.name}:{self.symbol}"


def parse_capture(arg: str) -> Capture:
    """A FILES argument as a capture: a file, ``a+b`` (files that continue each other) or a
    directory (its files in name order). Raises ValueError naming a missing path."""
    if "+" in arg and not Path(arg).exists():
        files = [Path(p) for p in arg.split("+")]
        name = "+".join(p.name for p in files)
    else:
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            files = [p for p in files if p.suffix in (".gz", ".zip", ".txt", ".jsonl", ".csv")]
            if not files:
                raise ValueError(f"no capture file in directory, was {arg!r}")
            name = path.name
        else:
            files = [path]
            name = path.name
    for f in files:
        if not f.is_file():
            raise ValueError(f"no such capture file, was {str(f)!r}")
    return Capture(name, tuple(str(f) for f in files))


def plan_shards(
    captures: Sequence[Capture],
    profiles: Sequence[str | None],
    config: AnalysisConfig,
    symbols: Sequence[str] | None = None,
) -> list[Shard]:
    """Every (capture, symbol, profile), symbols as detected in the capture's files."""
    names: dict[str, int] = {}
    shards: list[Shard] = []
    wanted = {s.upper().replace("/", "") for s in symbols} if symbols else None
    for cap in captures:
        # Same file names in different folders: keep the names unique.
        count = names.get(cap.name, 0)
        names[cap.name] = count + 1
        named = cap if count == 0 else Capture(f"{cap.name}#{count + 1}", cap.files)
        found: set[str] = set()
        for f in cap.files:
            found.update(detect(f).symbols)
        chosen = sorted(found if wanted is None else found & wanted)
        if not chosen:
            raise ValueError(
                f"{cap.name}: no symbol to research: filter {sorted(wanted or [])} matched none "
                f"of {sorted(found)}"
            )
        for sym in chosen:
            for profile in profiles:
                shards.append(Shard(named, sym, profile, config))
    return shards


def run_shard(shard: Shard) -> dict[str, Any]:
    """Replays and analyses one shard; the result is a JSON-ready dict (deterministic)."""
    samples = sample_capture(
        shard.capture.files,
        shard.symbol,
        profile=shard.profile,
        interval_ns=shard.config.interval_ns,
    )
    out = {
        "capture": shard.capture.name,
        "files": [Path(f).name for f in shard.capture.files],
        "symbol": shard.symbol,
        "profile": shard.profile or "default",
    }
    out.update(analyze(samples, shard.config, shard.seed_key))
    return out


def run_shards(
    shards: Sequence[Shard],
    *,
    serial: bool = False,
    address: str | None = None,
    progress: bool = True,
    num_cpus: int | None = None,
) -> list[dict[str, Any]]:
    """Runs every shard and returns their results in ``shards`` order.

    ``serial`` runs them one after the other in this process; otherwise each is a Ray task
    (``address`` joins a running cluster, default an embedded local instance). A progress bar
    (tqdm, on stderr) counts finished shards.
    """
    from tqdm import tqdm  # type: ignore[import-untyped]

    bar = tqdm(
        total=len(shards), desc="research", unit="shard", disable=not progress, file=sys.stderr
    )
    try:
        if serial:
            results = []
            for shard in shards:
                results.append(run_shard(shard))
                bar.update(1)
            return results
        return _run_on_ray(shards, address, num_cpus, bar)
    finally:
        bar.close()


def _run_on_ray(
    shards: Sequence[Shard], address: str | None, num_cpus: int | None, bar: Any
) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ValueError(
            "Ray is not installed: pip install 'confluex[research]', or run with --serial"
        ) from None

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_shard)
        refs = [task.remote(s) for s in shards]
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                ray.get(done)  # a failed shard fails now, not after the others
                bar.update(len(done))
            return [dict(r) for r in ray.get(refs)]
        except ray.exceptions.RayTaskError as exc:
            # A shard's bad input (ValueError naming it) reaches the user as itself.
            if isinstance(exc.cause, (ValueError, OSError)):
                raise exc.cause from None
            raise
    finally:
        if started_here:
            ray.shutdown()
