"""Tardis CSV ingest: the streaming reader of ``confluex replay`` vs the row-by-row reference.

Group ``tardis-ingest``: a synthetic incremental_book_L2 CSV (named synthetic; deribit
BTC-PERPETUAL layout, tick 0.5, lot 10), ingested into a fresh Engine by
``confluex.feeds.files`` (chunked reads, whole-chunk column splits, one exact conversion per
distinct decimal string) and by the reference (``list(csv.DictReader)`` over the whole file,
tests/tardis_reference.py). Both must give the same book.

Run timed: ``python -m pytest bench/bench_tardis_ingest.py --benchmark-disable-gc``; as a
test: ``--benchmark-disable``. Time and peak RSS of one process per implementation over a
1M-row file: ``python bench/bench_tardis_ingest.py --rows 1000000``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from confluex import Instrument
from confluex._core.engine import Engine
from confluex.feeds.files import replay
from tardis_reference import reference_ingest, write_synthetic_book_csv

ROWS = 100_000  # per benchmark round; the 1M-row figures come from main()


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tardis") / "synthetic_incremental_book_L2.csv"
    write_synthetic_book_csv(str(path), ROWS)
    return path


def run_stream(path: Path) -> Engine:
    return replay([path], tick="0.5", lot="10").engine


def run_reference(path: Path) -> Engine:
    engine = Engine()
    engine.add_symbol("tardis:BTC-PERPETUAL", Instrument("0.5", "10"))
    reference_ingest(engine, path.read_bytes(), {"BTC-PERPETUAL": 0}, True)
    return engine


@pytest.fixture(scope="module")
def reference_top(synthetic_csv: Path) -> Any:
    return run_reference(synthetic_csv).top(0, 50)


@pytest.mark.benchmark(group="tardis-ingest")
def test_stream_ingest(benchmark: Any, synthetic_csv: Path, reference_top: Any) -> None:
    engine = benchmark.pedantic(run_stream, args=(synthetic_csv,), rounds=3, iterations=1)
    top = engine.top(0, 50)
    assert top[0].tolist() == reference_top[0].tolist()
    assert top[1].tolist() == reference_top[1].tolist()


@pytest.mark.benchmark(group="tardis-ingest")
def test_reference_ingest(benchmark: Any, synthetic_csv: Path, reference_top: Any) -> None:
    engine = benchmark.pedantic(run_reference, args=(synthetic_csv,), rounds=1, iterations=1)
    assert engine.top(0, 50)[0].tolist() == reference_top[0].tolist()


def _measure(kind: str, path: str) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    engine = run_stream(Path(path)) if kind == "stream" else run_reference(Path(path))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    with open("/proc/self/status") as fh:  # VmHWM: this process's own peak
        peak_mb = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM")) / 1024
    print(
        f"{kind}: {elapsed:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak_mb:.0f} MB,"
        f" best bid {engine.best_bid(0)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        _measure(*args.measure)
        return
    path = Path(args.dir) / f"synthetic_incremental_book_L2_{args.rows}.csv"
    if not path.exists():
        write_synthetic_book_csv(str(path), args.rows)
    print(f"{path} ({path.stat().st_size / 1e6:.0f} MB, {args.rows} rows)")
    for kind in ("stream", "reference"):
        subprocess.run([sys.executable, __file__, "--measure", kind, str(path)], check=True)


if __name__ == "__main__":
    main()
