"""Gate: a full confluex replay must be >= 20x faster than ccxt's own handling of the same messages.

confluex path: FeedSession.replay of the real spot BTCUSDT capture (2024-08-08 + 09): raw bytes
-> C++ parser -> Binance sync -> book / trade windows -> signals -> score recomputed after every
message (and the bookTicker oracle checks on top), with the default profile (``confluex.Engine()``,
``standard``: what ``confluex replay`` runs).
ccxt path (4.5.x, offline): json.loads + binance.handle_order_book_message (book seeded with the
REST snapshot) / binance.handle_trade for the same depth and trade messages; no signals at all,
so the comparison favours ccxt. Best of three interleaved rounds of each path, in the same
process. Exit 1 on failure.

Run: python bench/gate_replay.py
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import confluex
from bench_feed_parser import Capture, Ccxt
from confluex import Engine
from confluex._core.session import FeedSession, Venue
from gate_feed_parser import median_s

REQUIRED = 20.0
HFT = Path(__file__).resolve().parents[1] / "tests" / "data" / "hftbacktest"


def main() -> int:
    full = b"".join(
        gzip.open(HFT / "spot" / f).read() for f in ("btcusdt_20240808.gz", "btcusdt_20240809.gz")
    )
    latency: dict[str, dict[str, float]] = {}

    def confluex_replay(data: bytes) -> None:
        engine = Engine()
        sym = engine.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))
        session = FeedSession(engine, Venue.binance_spot)
        session.add_symbol("BTCUSDT", sym)
        session.replay(data)
        health = session.health(sym)
        assert health.ticker_mismatches == 0 and health.desyncs == 0
        if data is full:
            latency.update(session.latency())

    cap = Capture()
    lines = sorted(cap.depth_lines + cap.trade_lines, key=lambda ln: int(ln.partition(b" ")[0]))
    messages = [ln.partition(b" ")[2] for ln in lines]
    # The same depth and trade messages for both paths, plus the REST snapshot line first.
    snapshot_line = next(ln for ln in full.splitlines() if b"lastUpdateId" in ln[:80])
    same = b"\n".join([snapshot_line, *lines]) + b"\n"
    ccxt = Ccxt()
    try:
        book = ccxt.seeded_book(cap.snapshot)
        handle_book, handle_trade = ccxt.ex.handle_order_book_message, ccxt.ex.handle_trade

        def ccxt_path() -> None:
            for raw in messages:
                msg = json.loads(raw)
                if "@depth" in msg["stream"]:
                    handle_book(None, msg["data"], book)
                else:
                    handle_trade(ccxt.client, msg["data"])

        t_full = median_s(lambda: confluex_replay(full), 5)
        # Interleaved rounds, best of each: a noisy neighbour slows one round, not the ratio.
        rounds = [
            (median_s(lambda: confluex_replay(same), 1), median_s(ccxt_path, 1)) for _ in range(3)
        ]
        t_cfx = min(r[0] for r in rounds)
        t_ccxt = min(r[1] for r in rounds)
    finally:
        ccxt.close()

    n, n_all = len(messages), full.count(b"\n")
    ratio = t_ccxt / t_cfx
    total = latency["total"]
    rate = n_all / t_full
    print(f"confluex, whole capture: {n_all:,} msgs in {t_full * 1e3:.1f} ms = {rate:,.0f} msg/s")
    for name, t in (("confluex", t_cfx), ("ccxt    ", t_ccxt)):
        print(f"{name}, depth+trade: {n:,} msgs, {t / n * 1e6:.2f} us/msg = {n / t:,.0f} msg/s")
    print(
        f"raw message -> score (whole capture): p50 {total['p50']:.0f} ns, "
        f"p99 {total['p99']:.0f} ns, p99.9 {total['p999']:.0f} ns, max {total['max']:.0f} ns"
    )
    print(f"speed-up on the same messages: {ratio:.1f}x (required >= {REQUIRED:.0f}x)")
    return 0 if ratio >= REQUIRED else 1


if __name__ == "__main__":
    sys.exit(main())
