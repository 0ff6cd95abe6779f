"""Resident bytes per Engine symbol, measured with RSS (and the engine's own accounting).

Cases, each in a fresh process (RSS growth / symbols):
- ``idle``: 1,000 symbols added at defaults, no data.
- ``spot_book`` / ``usdm_book``: 100 symbols, each fed the real BTCUSDT capture
  (tests/data/hftbacktest; spot 2024-08-08, USD-M 2024-07-18) through a FeedSession: its REST
  snapshot, every depth diff and trade.

Run like: ``python bench/bench_symbol_memory.py``. As a pytest file (``pytest bench
--benchmark-disable``) it checks the idle case against a bound.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HFT = ROOT / "tests" / "data" / "hftbacktest"
CASES = {
    "idle": (1000, None, "", ""),
    "spot_book": (100, HFT / "spot" / "btcusdt_20240808.gz", "0.01", "0.00000001"),
    "usdm_book": (100, HFT / "usdm_2024-07" / "btcusdt_20240718.gz", "0.1", "0.001"),
}

SCRIPT = """
import gzip, sys
from confluex import Instrument
from confluex._core.engine import Engine
from confluex._core.session import FeedSession, Venue

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096

n, path, tick, lot = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = gzip.open(path).read() if path != "-" else b""
venue = Venue.binance_futures if b'"pu":' in data[:1 << 20] else Venue.binance_spot
engine = Engine()
sessions = []
before = rss()
for i in range(n):
    sym = engine.add_symbol(f"S{i}", Instrument(tick or "0.01", lot or "0.00001"))
    if data:
        s = FeedSession(engine, venue)
        s.add_symbol("BTCUSDT", sym)
        s.replay(data)
        s.clear_series()
        sessions.append(s)
after = rss()
stats = engine.stats(0)
print((after - before) // n, getattr(stats, "memory_bytes", -1))
"""


def measure(case: str) -> tuple[int, int]:
    n, path, tick, lot = CASES[case]
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(n), str(path) if path else "-", tick, lot],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_idle_symbols_cost_kilobytes_not_megabytes() -> None:
    rss_per_symbol, accounted = measure("idle")
    assert rss_per_symbol < 128 * 1024 and 0 < accounted < 64 * 1024


def main() -> None:
    for case in CASES:
        rss, accounted = measure(case)
        acc = f"{accounted / 1024:.0f} KiB" if accounted >= 0 else "n/a"
        print(
            f"{case:10s} {CASES[case][0]:5d} symbols: RSS {rss / 1024:8.0f} KiB/symbol,"
            f" engine.stats().memory_bytes {acc}"
        )


if __name__ == "__main__":
    main()
