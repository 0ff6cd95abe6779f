"""Write the engine book records of the real Binance BTCUSDT captures for bench_engine.cpp.

Run like: ``python bench/cpp/dump_book_records.py /tmp/pbook`` (writes spot.book, usdm.book:
raw BookLevelEvent rows, the layout of ``confluex._core.types`` book records).
"""

from __future__ import annotations

import sys
from pathlib import Path

import confluex
from confluex.feeds.capture import load_binance_capture

HFT = Path(__file__).resolve().parents[2] / "tests" / "data" / "hftbacktest"
CAPTURES = {
    "spot": (("spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"), "0.01", "0.00000001"),
    "usdm": (
        ("usdm_2024-07/btcusdt_20240718.gz", "usdm_2024-07/btcusdt_20240719.gz"),
        "0.1",
        "0.001",
    ),
}


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (files, tick, lot) in CAPTURES.items():
        cap = load_binance_capture([HFT / f for f in files], confluex.Instrument(tick, lot))
        cap.book.tofile(out / f"{name}.book")
        print(name, len(cap.book), "records")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pbook")
