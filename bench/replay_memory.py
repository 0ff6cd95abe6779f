"""Peak RSS of ``confluex replay`` over long inputs, one fresh process per measurement.

Inputs: the four real hftbacktest captures in one run (tests/data/hftbacktest, spot and USD-M
BTCUSDT), and a synthetic Binance spot capture of about --synthetic-mb decompressed MB
(tests/synthetic_capture.py; named synthetic, not recorded data).

Run like: ``python bench/replay_memory.py --synthetic-mb 360``. Prints, per input, the
decompressed size, the peak RSS of the replaying process and the RSS it had before replaying
(imports done), and the replay rate.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
HFT = ROOT / "tests" / "data" / "hftbacktest"
REAL = [
    HFT / "spot" / "btcusdt_20240808.gz",
    HFT / "spot" / "btcusdt_20240809.gz",
    HFT / "usdm_2024-07" / "btcusdt_20240718.gz",
    HFT / "usdm_2024-07" / "btcusdt_20240719.gz",
]

# VmHWM (not ru_maxrss, which a child inherits from its parent across exec), in MB.
SCRIPT = """
import sys, time
from confluex.feeds.files import replay
def hwm():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) // 1024
base = hwm()
t0 = time.perf_counter()
res = replay(sys.argv[1:])
dt = time.perf_counter() - t0
print(base, hwm(), res.messages, f"{dt:.1f}")
"""


def measure(label: str, files: list[Path]) -> None:
    size = 0
    for f in files:
        with gzip.open(f, "rb") as fh:
            while chunk := fh.read(1 << 24):
                size += len(chunk)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, files)], capture_output=True, text=True, check=True
    ).stdout.split()
    base, peak, messages, secs = int(out[0]), int(out[1]), int(out[2]), float(out[3])
    print(
        f"{label}: {size / 1e6:.0f} MB decompressed, {messages} messages in {secs:.1f} s;"
        f" peak RSS {peak} MB (before the replay {base} MB)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synthetic-mb", type=int, default=360)
    ap.add_argument("--dir", default="/tmp")
    args = ap.parse_args()
    measure("four real captures, one run", REAL)
    from synthetic_capture import write_synthetic_capture

    path = Path(args.dir) / f"synthetic_capture_{args.synthetic_mb}mb.gz"
    if not path.exists():
        # ~765 bytes per depth message with its trades
        write_synthetic_capture(path, depth_messages=args.synthetic_mb * 1_000_000 // 765)
    measure(f"synthetic capture {path.name}", [path])


if __name__ == "__main__":
    main()
