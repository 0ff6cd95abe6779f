"""``confluex research``: how much each signal tells about the next mid-price move.

Replays captures (sharded by capture, symbol and profile; on Ray or serially), samples the
engine every 100 ms and measures rank ICs with block-bootstrap intervals, IC decay, partial ICs
against book baselines, threshold crossings, calibration, saturation and warm-up; and causal
weight fitting (:mod:`confluex.research.fit`). See docs/research.md.
"""

from __future__ import annotations

from .analysis import AnalysisConfig, analyze, horizon_label
from .report import build_report, markdown, summary_table, write_html, write_json
from .runner import Capture, Shard, parse_capture, plan_shards, run_shard, run_shards
from .sampling import BASELINES, Samples, sample_capture

__all__ = [
    "BASELINES",
    "AnalysisConfig",
    "Capture",
    "Samples",
    "Shard",
    "analyze",
    "build_report",
    "horizon_label",
    "markdown",
    "parse_capture",
    "plan_shards",
    "run_shard",
    "run_shards",
    "sample_capture",
    "summary_table",
    "write_html",
    "write_json",
]


def __dir__() -> list[str]:
    return __all__
