"""Shared scores in Redis (confluex.cache) against a real redis-server (tests/redis_server.py).

Real parts: Debian's redis-server on a free loopback port (no persistence, killed after each
test), redis-py as the other process's client, and the bundled Binance spot sample replayed
through the engine, the paper trader and the CLI.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from confluex import Engine
from confluex.cache import ConfluenceHFTCache, EngineScorePublisher, TTLCache, format_cache_stats
from confluex.cli import main
from confluex.feeds.files import replay
from confluex.replay_trader import PaperTrader
from confluex.trading import load_config
from loopback_exchange import Faults, LoopbackExchange
from redis_server import read_priced_hash
from test_live import capture

SYMBOL = "BTC/USDT"


def eventually(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------------------------
# L1


def test_l1_evicts_the_least_recently_used_and_expires_on_its_ttl():
    clock = FakeClock()
    l1: TTLCache[int] = TTLCache(maxsize=2, ttl_s=1.0, clock=clock)

    l1.set("a", 1)
    l1.set("b", 2)
    assert l1.get("a") == 1  # a is now the most recent
    l1.set("c", 3)  # evicts b
    clock.now += 0.999
    kept = (l1.get("a"), l1.get("b"), l1.get("c"))
    clock.now += 0.001

    assert kept == (1, None, 3)
    assert l1.get("a") is None and l1.get("c") is None and len(l1) == 0


def test_bad_parameters_are_refused_naming_the_value():
    with pytest.raises(ValueError, match="maxsize must be >= 1, was 0"):
        TTLCache(maxsize=0)
    with pytest.raises(ValueError, match="ttl_s must be a finite number > 0, was nan"):
        ConfluenceHFTCache("redis://127.0.0.1:1/0", ttl_s=float("nan"))
    with pytest.raises(ValueError, match="queue_size must be >= 1, was 0"):
        ConfluenceHFTCache("redis://127.0.0.1:1/0", queue_size=0)
    with pytest.raises(ValueError, match="was 'http://x'"):
        ConfluenceHFTCache("http://x")
    with pytest.raises(ValueError, match=r"was 'rediss?x://\*\*\*@h:1/0'") as info:
        ConfluenceHFTCache("redisx://user:s3cret@h:1/0")
    assert "s3cret" not in str(info.value)


def test_the_summary_line_never_shows_the_redis_password():
    cache = ConfluenceHFTCache("redis://user:s3cret@127.0.0.1:1/0")

    line = format_cache_stats(cache)

    assert "s3cret" not in line and "redis://***@127.0.0.1:1/0" in line


# ---------------------------------------------------------------------------------------------
# L2: the hash, the stream


def test_latest_scores_reach_a_hash_with_ttl_that_another_process_reads(redis_server, redis_client):
    with ConfluenceHFTCache(redis_server.url, ttl_s=5.0) as cache:
        cache.cache_score(SYMBOL, {"score": 61.0, "reliability": 1.0, "ts_ns": 1})
        cache.cache_score(SYMBOL, {"score": 72.5, "ts_ns": 2, "price": None})
        cache.cache_score("ETH/USDT", {"score": 40.0, "ts_ns": 2})
        assert cache.flush()
        written = cache.stats.written

    raw = redis_client.hgetall(f"confluex:score:{SYMBOL}")
    ttl_ms = redis_client.pttl(f"confluex:score:{SYMBOL}")
    reader = ConfluenceHFTCache(redis_server.url)  # another process: its L1 is empty
    first = reader.get_cached_score(SYMBOL)
    again = reader.get_cached_score(SYMBOL)

    assert raw == {"score": "72.5", "reliability": "1.0", "ts_ns": "2"}
    assert 0 < ttl_ms <= 5_000
    assert written == 3
    assert first == again == {"score": 72.5, "reliability": 1.0, "ts_ns": 2}
    assert (reader.stats.l2_hits, reader.stats.l1_hits, reader.stats.misses) == (1, 1, 0)
    assert reader.get_cached_score("SOL/USDT") is None and reader.stats.misses == 1
    reader.close()


def test_the_hash_expires_when_its_producer_stops(redis_server, redis_client):
    with ConfluenceHFTCache(redis_server.url, ttl_s=0.05) as cache:
        cache.cache_score(SYMBOL, {"score": 50.0})
        assert cache.flush()
        eventually(lambda: redis_client.exists(f"confluex:score:{SYMBOL}") == 1, what="the write")

        eventually(lambda: redis_client.exists(f"confluex:score:{SYMBOL}") == 0, what="the expiry")


def test_signals_go_to_a_capped_stream_in_order(redis_server, redis_client):
    with ConfluenceHFTCache(redis_server.url, stream_maxlen=10) as cache:
        for i in range(1000):
            cache.publish_signal(SYMBOL, {"signal": "LONG" if i % 2 else "SHORT", "ts_ns": i})
        assert cache.flush()
        entries = cache.read_signals(count=2000)

    length = redis_client.xlen("confluex:signals")
    ts = [fields["ts_ns"] for _, fields in entries]

    assert 10 <= length < 1000  # MAXLEN ~ trims whole nodes: at least 10 kept, most dropped
    assert ts == list(range(1000 - length, 1000))
    assert entries[-1][1] == {"symbol": SYMBOL, "signal": "LONG", "ts_ns": 999}


# ---------------------------------------------------------------------------------------------
# The hot path never waits; outages drop, count and reconnect


def test_the_hot_path_never_waits_on_a_stalled_redis(redis_server, redis_client):
    cache = ConfluenceHFTCache(redis_server.url, queue_size=100, socket_timeout_s=5.0).start()
    cache.cache_score(SYMBOL, {"score": 1.0})
    assert cache.flush()
    redis_client.execute_command("CLIENT", "PAUSE", "30000", "WRITE")  # the server stalls writes
    done = threading.Event()

    def produce() -> None:
        for i in range(20_000):
            cache.cache_score(SYMBOL, {"score": float(i)})
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    finished = done.wait(10.0)  # a producer that waited on the paused server needs >= 30 s
    redis_client.execute_command("CLIENT", "UNPAUSE")
    producer.join()
    cache.close()

    assert finished
    assert cache.stats.dropped_full >= 20_000 - 100 - cache.batch_size
    assert cache.stats.queued + cache.stats.dropped_full == 20_001
    assert cache.get_cached_score(SYMBOL) == {"score": 19_999.0}  # L1 kept up regardless


def test_an_outage_drops_and_counts_writes_then_reconnects(redis_server, redis_client):
    cache = ConfluenceHFTCache(redis_server.url, retry_s=0.01, max_retry_s=0.05).start()
    cache.cache_score(SYMBOL, {"score": 1.0})
    assert cache.flush() and cache.connected

    redis_server.stop()
    i = 0
    while cache.stats.errors == 0 or cache.stats.dropped_outage < 50:
        i += 1
        assert cache.cache_score(SYMBOL, {"score": float(i)})
        time.sleep(0.0005)
    lost = cache.stats.dropped_outage
    redis_server.start()
    while cache.stats.reconnects == 0:
        i += 1
        cache.cache_score(SYMBOL, {"score": float(i)})
        time.sleep(0.001)
    cache.cache_score(SYMBOL, {"score": 1e6})
    cache.close()

    assert lost >= 50 and cache.stats.errors >= 1 and cache.stats.reconnects == 1
    assert cache.connected
    assert cache.stats.queued == cache.stats.written + cache.stats.dropped_outage
    fresh = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert fresh.hget(f"confluex:score:{SYMBOL}", "score") == "1000000.0"
    fresh.close()


def test_an_unreachable_redis_never_stops_the_producer():
    cache = ConfluenceHFTCache("redis://127.0.0.1:1/0", retry_s=0.01).start()  # nothing listens

    accepted = [cache.cache_score(SYMBOL, {"score": float(i)}) for i in range(1_000)]
    cache.close()

    assert all(accepted)
    assert cache.stats.written == 0 and cache.stats.errors >= 1
    assert cache.stats.dropped_outage == 1_000 and not cache.connected
    assert cache.get_cached_score(SYMBOL) == {"score": 999.0}  # L1


# ---------------------------------------------------------------------------------------------
# Replays


ACTIVE: dict[str, Any] = {
    "confluence": {"thresholds": {"long": 65, "short": 35, "neutral_buffer": 3}},
    "monitor": {"cooldown_s": 5, "long_stop_pct": 0.02, "short_stop_pct": 0.02},
}


def paper_replay(
    cache: ConfluenceHFTCache | None, on_message: Callable[[int], None] | None = None
) -> tuple[Any, Any]:
    """The bundled sample through the paper trader, with ``cache`` attached when given."""
    engine = Engine()
    config = load_config(ACTIVE)
    trader = PaperTrader(engine, config)
    hook: Callable[[Any, int, int], None] = trader.on_message
    messages = 0
    if cache is not None:
        th = config.confluence.thresholds
        hook = EngineScorePublisher(
            cache.start(),
            engine,
            long_threshold=th.long,
            short_threshold=th.short,
            name=lambda sid: SYMBOL,
            then=trader.on_message,
        ).on_message

    def counted(session: Any, sid: int, ts: int) -> None:
        nonlocal messages
        messages += 1
        if on_message is not None:
            on_message(messages)
        hook(session, sid, ts)

    res = replay(None, engine=engine, on_message=counted)
    report = trader.finish()
    trader.close()
    if cache is not None:
        cache.close()
    return res, report


def test_a_redis_restart_during_a_paper_replay_keeps_trading_and_counts_the_lost_writes(
    redis_server, redis_client
):
    reference, ref_report = paper_replay(None)
    cache = ConfluenceHFTCache(redis_server.url, retry_s=0.01, max_retry_s=0.05)
    phases: list[str] = []

    def chaos(n: int) -> None:  # runs inside the replay, between two messages
        if n == 5_000:
            redis_server.stop()
            phases.append("stopped")
        elif phases == ["stopped"]:
            if cache.stats.dropped_outage > 100:
                redis_server.start()
                phases.append("restarted")
            else:
                # The writer thread's turn: a replay this fast holds the GIL for long spans, and
                # on a loaded 2-vCPU machine it ended before the writer had seen the outage.
                time.sleep(0.0005)

    res, report = paper_replay(cache, chaos)

    assert phases == ["stopped", "restarted"]
    # Trading went on as if there were no Redis: the same scores, signals and fills.
    assert res.series.tobytes() == reference.series.tobytes()
    assert res.signals.tobytes() == reference.signals.tobytes()
    assert report.fills
    assert [(f.side, f.price, f.amount) for f in report.fills] == [
        (f.side, f.price, f.amount) for f in ref_report.fills
    ]
    st = cache.stats
    assert st.dropped_outage > 100 and st.errors >= 1 and st.reconnects == 1
    assert st.written > 0 and st.queued == st.written + st.dropped_outage
    # The restarted server holds the replay's final score (the last change was written).
    (final,) = [rep.result.score for rep in res.symbols.values()]
    assert redis_client.hget(f"confluex:score:{SYMBOL}", "score") == repr(final)


def test_cli_replay_shares_scores_and_signals_in_redis(redis_server, redis_client, capsys):
    code = main(
        ["replay", "--no-progress", "--redis", redis_server.url, "--long", "60", "--short", "40"]
    )

    out = capsys.readouterr().out
    fields = redis_client.hgetall(f"confluex:score:{SYMBOL}")
    signals = redis_client.xrange("confluex:signals")

    assert code == 0, out
    assert f"shared scores {redis_server.url}: " in out and " 0 dropped" in out
    assert set(fields) >= {"score", "score_raw", "confidence", "reliability", "price", "ts_ns"}
    assert 0.0 <= float(fields["score"]) <= 100.0
    assert signals and {f["signal"] for _, f in signals} <= {"LONG", "SHORT"}
    assert all(f["symbol"] == SYMBOL and f["source"] == "crossing" for _, f in signals)


def test_cli_replay_with_hft_adds_the_composite_to_the_hash(redis_server, redis_client, capsys):
    code = main(["replay", "--no-progress", "--hft", "--redis", redis_server.url])

    capsys.readouterr()
    fields = redis_client.hgetall(f"confluex:score:{SYMBOL}")

    assert code == 0
    assert "score" in fields and any(k.startswith("composite.") for k in fields)


def test_cli_bad_redis_url_is_a_one_line_usage_error(capsys):
    code = main(["replay", "--no-progress", "--redis", "http://127.0.0.1:1"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("confluex replay: ") and "http://127.0.0.1:1" in err
    assert "Traceback" not in err


def test_cli_live_shares_the_feed_scores_in_redis(redis_server, redis_client, hft_data):
    cap = capture(hft_data, ("BTCUSDT",), 6000)

    async def run() -> tuple[int, str]:
        async with LoopbackExchange(cap, faults=Faults(throttle=0.001)) as ex:
            live = ["-m", "confluex", "live", "--symbols", "BTC/USDT", "--no-view"]
            venue = ["--ws-url", ex.ws_url, "--rest-url", ex.rest_url, "--duration", "6"]
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *live,
                *venue,
                "--redis",
                redis_server.url,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
            return await read_priced_hash(redis_client, key, proc, fields)

    key = f"confluex:score:{SYMBOL}"
    fields: dict[str, str] = {}
    code, output = asyncio.run(run())

    assert code == 0, output
    assert f"shared scores {redis_server.url}: " in output and " 0 dropped" in output, output
    assert "Traceback" not in output
    assert 0.0 <= float(fields["score"]) <= 100.0 and float(fields["price"]) > 0
    assert int(fields["ts_ns"]) > 1_600_000_000 * 10**9  # stamped with the wall clock
