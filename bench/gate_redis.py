"""Gate: the replay's hot path with the shared Redis cache attached, as a ratio to without.

Both runs replay the bundled Binance spot sample (real data) through the engine and the
paper trader, in the same process, interleaved, best of five each:

- without: ``replay(on_message=trader.on_message)``, what ``confluex replay --paper`` runs;
- with: the same, plus ``--redis``'s EngineScorePublisher (L1 + bounded queue on the hot path)
  and its writer thread batching to a real redis-server (Debian, started here on a free
  loopback port, no persistence).

A second pair without the trader (a bare score-reading hook vs the publisher) shows the
publisher's own cost against the smallest Python hook. Each run reports the replay thread's
CPU time (the hot path's own work; stable on a shared VM) and its wall time (which adds GIL
hand-overs to the writer thread, and the neighbours' noise). The gate is on the paper pair's
CPU time: with Redis it may cost at most MAX_RATIO times without. Exit 1 on failure; without
redis-server the gate is skipped (exit 0) unless CONFLUEX_REQUIRE_REDIS=1.

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

MAX_RATIO = 1.5


def run(url: str | None, paper: bool) -> tuple[tuple[float, float], Any]:
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
    t0, c0 = time.perf_counter(), time.thread_time()
    replay(None, engine=engine, on_message=hook)
    elapsed = (time.perf_counter() - t0, time.thread_time() - c0)
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
            wall: dict[tuple[bool, bool], float] = {}
            cpu: dict[tuple[bool, bool], float] = {}
            writes: dict[bool, Any] = {}
            for _ in range(5):  # interleaved: a noisy neighbour slows one round, not the ratio
                for paper in (True, False):
                    for attached in (False, True):
                        (w, c), cache = run(server.url if attached else None, paper)
                        key = (paper, attached)
                        wall[key] = min(wall.get(key, w), w)
                        cpu[key] = min(cpu.get(key, c), c)
                        if cache is not None:
                            writes[paper] = cache.stats
        finally:
            server.stop()
    for paper, label in ((True, "paper trader"), (False, "bare hook   ")):
        st = writes[paper]
        print(
            f"{label}: hot thread CPU {cpu[(paper, False)] * 1e3:.0f} -> "
            f"{cpu[(paper, True)] * 1e3:.0f} ms "
            f"(ratio {cpu[(paper, True)] / cpu[(paper, False)]:.2f}),"
            f" wall {wall[(paper, False)] * 1e3:.0f} -> {wall[(paper, True)] * 1e3:.0f} ms "
            f"(ratio {wall[(paper, True)] / wall[(paper, False)]:.2f}); {st.written:,} writes in "
            f"{st.batches:,} batches, {st.dropped} dropped"
        )
    ratio = cpu[(True, True)] / cpu[(True, False)]
    print(
        f"paper replay, hot thread CPU with Redis / without: {ratio:.2f} (required <= {MAX_RATIO})"
    )
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
