"""Gate: the native Binance parser must be >= 20x faster than ccxt's own handling.

Both paths take the same real spot BTCUSDT depth + trade messages (raw bytes, capture order):
- C++: BinanceParser.parse_lines -> book and trade record arrays;
- ccxt 4.5.x offline: json.loads + binance.handle_order_book_message (book seeded with the REST
  snapshot) / binance.handle_trade, as ccxt.pro runs them for every message.
Each path is timed REPEATS times; medians are compared. Also prints the C++ cost per message
kind (depth, trade, the largest depth message) against the targets. Exit status 1 on failure.

Run: python bench/gate_feed_parser.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_feed_parser import Capture, Ccxt, new_parser

REPEATS = 7
REQUIRED = 20.0


def median_s(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    cap = Capture()
    lines = sorted(cap.depth_lines + cap.trade_lines, key=lambda ln: int(ln.partition(b" ")[0]))
    buf = b"\n".join(lines) + b"\n"
    messages = [ln.partition(b" ")[2] for ln in lines]
    n = len(messages)

    def cpp() -> None:
        _, trades, _, counters = new_parser().parse_lines(buf)
        assert sum(counters.errors.values()) == 0 and len(trades) == len(cap.trade_lines)

    ccxt = Ccxt()
    try:
        book = ccxt.seeded_book(cap.snapshot)

        def ccxt_path() -> None:
            handle_book = ccxt.ex.handle_order_book_message
            handle_trade = ccxt.ex.handle_trade
            client = ccxt.client
            for raw in messages:
                msg = json.loads(raw)
                if "@depth" in msg["stream"]:
                    handle_book(None, msg["data"], book)
                else:
                    handle_trade(client, msg["data"])

        t_cpp = median_s(cpp)
        t_ccxt = median_s(ccxt_path, repeats=3)
    finally:
        ccxt.close()

    # Per-kind C++ costs (batch / messages; includes line splitting and record stores).
    biggest = max(cap.depth_lines, key=len)
    per = {
        "depth": (median_s(lambda: new_parser().parse_lines(cap.depth_buf)), len(cap.depth_lines)),
        "trade": (median_s(lambda: new_parser().parse_lines(cap.trade_buf)), len(cap.trade_lines)),
        "largest depth": (median_s(lambda: new_parser().parse_lines((biggest + b"\n") * 200)), 200),
    }
    levels = new_parser().parse(biggest.partition(b" ")[2], 0)[0].n_book

    ratio = t_ccxt / t_cpp
    print(f"messages: {n} (depth {len(cap.depth_lines)}, trade {len(cap.trade_lines)})")
    print(f"C++  parse_lines : {t_cpp / n * 1e9:9.0f} ns/message (median of {REPEATS})")
    print(f"ccxt json+handler: {t_ccxt / n * 1e9:9.0f} ns/message (median of 3)")
    for name, (t, count) in per.items():
        extra = f" ({levels} levels)" if name == "largest depth" else ""
        print(f"C++ {name:13s}: {t / count * 1e9:9.0f} ns/message{extra}")
    print(f"speed-up: {ratio:.1f}x (required >= {REQUIRED:.0f}x)")
    return 0 if ratio >= REQUIRED else 1


if __name__ == "__main__":
    sys.exit(main())
