"""Gate: the replay's hot path with the shared Redis cache attached, as a ratio to without.

Both runs replay the bundled Binance spot sample (real data) through the engine and the
paper trader, in the same process, interleaved, best of three each:

- without: ``replay(on_message=trader.on_message)``, what ``confluex replay --paper`` runs;
- with: the same, plus ``--redis``'s EngineScorePublisher (L1 + bounded queue on the hot path)
  and its writer thread batching to a real redis-server (Debian, started here on a free
  loopback port, no persistence).

A second pair without the trader (a bare score-reading hook vs the publisher) shows the
publisher's own cost against the smallest Python hook. The gate is on the paper pair: with
Redis it may cost at most MAX_RATIO times without. Exit 1 on failure; without redis-server the
gate is skipped (exit 0) unless CONFLUEX_REQUIRE_REDIS=1.

Run: python bench/gate_redis.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from confluex._core.engine import Engine
from confluex.cache import ConfluenceHFTCache, EngineScorePublisher
from confluex.feeds.files import replay
from confluex.replay_trader import PaperTrader
from confluex.trading import load_config
from redis_server import RedisServer

MAX_RATIO = 1.25


def run(url: str | None, paper: bool) -> tuple[float, Any]:
    engine = Engine()
    config = load_config()
    trader = PaperTrader(engine, config) if paper else None
    cache = None
    if trader is not None:
        hook: Callable[[Any, int, int], None] = trader.on_message
    else:
        score = engine.score

        def hook(session: Any, sid: int, ts: int) -> None:
            score(sid)

    if url is not None:
        cache = ConfluenceHFTCache(url).start()
        hook = EngineScorePublisher(
            cache, engine, name=lambda sid: "BTC/USDT", then=trader.on_message if trader else None
        ).on_message
    t0 = time.perf_counter()
    replay(None, engine=engine, on_message=hook)
    elapsed = time.perf_counter() - t0
    if trader is not None:
        trader.finish()
        trader.close()
    if cache is not None:
        cache.close()
        assert cache.stats.dropped == 0 and cache.stats.written > 0, cache.stats
    return elapsed, cache


def main() -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        print("gate_redis: redis-server is not installed (apt-get install redis-server)")
        return 1 if os.environ.get("CONFLUEX_REQUIRE_REDIS") == "1" else 0
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(binary, Path(tmp))
        server.start()
        try:
            results: dict[tuple[bool, bool], float] = {}
            writes: dict[bool, Any] = {}
            for _ in range(3):  # interleaved: a noisy neighbour slows one round, not the ratio
                for paper in (True, False):
                    for attached in (False, True):
                        t, cache = run(server.url if attached else None, paper)
                        key = (paper, attached)
                        results[key] = min(results.get(key, t), t)
                        if cache is not None:
                            writes[paper] = cache.stats
        finally:
            server.stop()
    for paper, label in ((True, "paper trader"), (False, "bare hook   ")):
        without, with_ = results[(paper, False)], results[(paper, True)]
        print(
            f"{label}: without Redis {without * 1e3:.0f} ms, with Redis {with_ * 1e3:.0f} ms, "
            f"ratio {with_ / without:.2f} ({writes[paper].written:,} writes in "
            f"{writes[paper].batches:,} batches, {writes[paper].dropped} dropped)"
        )
    ratio = results[(True, True)] / results[(True, False)]
    print(f"paper replay with Redis / without: {ratio:.2f} (required <= {MAX_RATIO})")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
