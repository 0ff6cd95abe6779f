"""Shared scores in Redis from the threaded live feed (``confluex live --threads N --redis``).

Real parts: Debian's redis-server on a free loopback port (tests/redis_server.py), the loopback
Binance (tests/loopback_exchange.py) streaming the real spot capture over real WebSockets, and
the C++ engine shards. The single-threaded feed's Redis contents are the reference: a consumer
reading Redis must not be able to tell which mode wrote them.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from confluex import Engine, FeedSession, Instrument, Venue
from confluex._core.session import SyncPhase
from confluex.cache import ConfluenceHFTCache, EngineScorePublisher, score_record_fields
from confluex.cli import main
from confluex.feeds.live import LiveFeed
from confluex.feeds.live_sharded import ShardedLiveFeed
from confluex.pipeline import OutKind, out_record_dtype
from confluex.trading import load_config
from loopback_exchange import (
    Faults,
    LoopbackExchange,
    eventually,
    received_all,
    spawn_live_cli,
    stamps,
)
from redis_server import read_priced_hash
from test_live import LOT, NO_RATE_LIMIT, SPOT, TICK, capture

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
# Inside the capture's score range, so both modes cross them several times.
LONG, SHORT = 52.0, 48.0
# What a consumer can compare: every hash field but the time stamp (see the ts_ns note).
SCORE_FIELDS = ("score", "score_raw", "confidence", "reliability", "price")


def run_feed(
    hft_data: Path, url: str, prefix: str, threads: int | None
) -> tuple[LiveFeed, list[np.void], int]:
    """The capture's first lines, BTC and a renamed ETH copy, through a LiveFeed (threads None)
    or a ShardedLiveFeed, each update published to Redis under ``prefix``; returns the feed,
    the records a threaded feed delivered and the writes the cache queued."""
    cap = capture(hft_data, ("BTCUSDT", "ETHUSDT"), 6000)
    cache = ConfluenceHFTCache(url, prefix=prefix, ttl_s=600.0).start()
    records: list[np.void] = []

    async def go() -> LiveFeed:
        async with LoopbackExchange(cap) as ex:
            kw: dict[str, Any] = {
                "ws_url": ex.ws_url,
                "rest_url": ex.rest_url,
                "rest_options": NO_RATE_LIMIT,
                "frame_ts": stamps(cap),
                "stale_seconds": 0,
            }
            feed: LiveFeed
            if threads is None:
                feed = LiveFeed("binance", SYMBOLS, **kw)
                feed.on_update = EngineScorePublisher(
                    cache,
                    feed.engine,
                    long_threshold=LONG,
                    short_threshold=SHORT,
                    symbol_id=feed.symbol_id,
                ).on_update
            else:
                sharded = ShardedLiveFeed("binance", SYMBOLS, threads=threads, **kw)
                publisher = EngineScorePublisher(
                    cache, None, long_threshold=LONG, short_threshold=SHORT
                )

                def on_record(symbol: str, rec: np.void) -> None:
                    records.append(rec)
                    publisher.on_record(symbol, rec)

                sharded.on_record = on_record
                feed = sharded
            # Where a REST snapshot lands in the stream depends on when its answer arrives, in
            # either mode: the exchange stops the stream at the capture's snapshot and answers
            # the depth requests once the feed has every line before it, then streams the rest
            # once both books are synced, so both modes see the same sequence.
            (at,) = {pos for pos, _ in cap.snapshots.values()}
            ex.stream_gate, ex.depth_gate = (at, asyncio.Event()), asyncio.Event()
            task = asyncio.create_task(feed.run())
            await eventually(lambda: received(feed) == at, what="the lines before the snapshot")
            ex.depth_gate.set()
            await eventually(
                lambda: all(
                    feed.stats(sym)["phase"] == SyncPhase.synced and not st.fetching
                    for sym, st in feed.by_symbol.items()
                ),
                what="both books synced",
            )
            ex.stream_gate[1].set()
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            assert ex.depth_requests == {"BTCUSDT": 1, "ETHUSDT": 1}
            return feed

    try:
        feed = asyncio.run(go())
    finally:
        cache.close()
    assert cache.stats.dropped == 0 and cache.stats.written == cache.stats.queued
    assert feed.callback_errors == 0
    return feed, records, cache.stats.queued


def received(feed: LiveFeed) -> int:
    """Stream lines the feed received (a threaded feed: pushed into its shards' rings)."""
    if isinstance(feed, ShardedLiveFeed):
        return feed.frames_pushed
    return sum(st.frames for st in feed.by_symbol.values())


def signals_of(redis_client: redis.Redis, prefix: str, symbol: str) -> list[dict[str, str]]:
    return [f for _, f in redis_client.xrange(f"{prefix}:signals") if f["symbol"] == symbol]


def test_threaded_feed_writes_the_same_scores_and_signals_as_the_single_threaded_one(
    redis_server, redis_client, hft_data
):
    start = time.time_ns()
    single, _, single_writes = run_feed(hft_data, redis_server.url, "single", None)
    end = time.time_ns()
    threaded, records, threaded_writes = run_feed(hft_data, redis_server.url, "threads", 2)

    assert isinstance(threaded, ShardedLiveFeed) and threaded.engine_errors == 0
    assert threaded.frames_dropped == 0
    # Published at the same points: every message that changed a symbol, and the snapshot
    # that synced its book (one score record with code 1 per symbol).
    assert (
        threaded_writes
        == single_writes
        == len(records) + sum(1 for _ in redis_client.xrange("threads:signals"))
    )
    assert sorted(int(r["symbol_id"]) for r in records if int(r["code"])) == sorted(
        threaded.symbol_id(sym) for sym in SYMBOLS
    )
    for sym in SYMBOLS:
        ref = redis_client.hgetall(f"single:score:{sym}")
        got = redis_client.hgetall(f"threads:score:{sym}")
        assert set(got) == set(ref) == {"ts_ns", *SCORE_FIELDS}, (sym, ref, got)
        assert {k: got[k] for k in SCORE_FIELDS} == {k: ref[k] for k in SCORE_FIELDS}, sym
        # The score the hash holds is the engine's final one, in both modes.
        assert float(ref["score"]) == single.engine.score(single.symbol_id(sym))
        ref_sig, got_sig = (
            signals_of(redis_client, "single", sym),
            signals_of(redis_client, "threads", sym),
        )
        assert len(ref_sig) >= 2, f"{sym}: the thresholds must be crossed to compare signals"
        assert {f["signal"] for f in ref_sig} == {"LONG", "SHORT"}
        assert [{k: v for k, v in f.items() if k != "ts_ns"} for f in got_sig] == [
            {k: v for k, v in f.items() if k != "ts_ns"} for f in ref_sig
        ]
        # ts_ns: the single-threaded feed stamps the wall clock when it publishes, the
        # threaded one the frame's receive stamp (the feed's clock; here the capture's time,
        # frame_ts=stamps). The threaded hash holds its last score record's stamp.
        sid = threaded.symbol_id(sym)
        mine = [r for r in records if int(r["symbol_id"]) == sid]
        assert int(got["ts_ns"]) == int(mine[-1]["ts_ns"])
        assert start < int(ref["ts_ns"]) < end  # wall clock, during the single-threaded run


def test_score_record_fields_are_those_of_the_engine_result(redis_server):
    rec = np.zeros(1, out_record_dtype)[0]
    rec["kind"], rec["symbol_id"], rec["ts_ns"] = int(OutKind.score), 3, 1_723_075_200 * 10**9
    rec["score"], rec["score_raw"], rec["confidence"], rec["reliability"] = 61.5, 64.0, 0.5, 0.9
    rec["mid_px"] = 57_000.125
    fields = score_record_fields(rec)
    assert fields == {
        "score": 61.5,
        "score_raw": 64.0,
        "confidence": 0.5,
        "reliability": 0.9,
        "ts_ns": 1_723_075_200 * 10**9,
        "price": 57_000.125,
    }
    # Plain Python numbers: redis-py writes repr(), and numpy's repr is not a number.
    assert all(type(v) in (int, float) for v in fields.values())
    rec["mid_px"] = np.nan  # the book is not synced: no price, as in the single-threaded hash
    assert "price" not in score_record_fields(rec)

    cache = ConfluenceHFTCache(redis_server.url)
    publisher = EngineScorePublisher(cache, None)
    rec["kind"] = int(OutKind.signal)
    with pytest.raises(ValueError, match="score records, was kind signal"):
        publisher.on_record("BTC/USDT", rec)
    with pytest.raises(TypeError, match="on_message reads the engine"):
        publisher.on_message(None, 0, 0)
    assert cache.pending == 0
    cache.close()


def test_cli_live_threads_shares_the_shard_scores_in_redis(redis_server, redis_client, hft_data):
    cap = capture(hft_data, ("BTCUSDT",), 6000)
    key = "confluex:score:BTC/USDT"
    fields: dict[str, str] = {}
    th = load_config(None).confluence.thresholds

    async def run() -> tuple[int, str]:
        async with LoopbackExchange(cap, faults=Faults(throttle=0.001)) as ex:
            proc = await spawn_live_cli(
                ex,
                "--threads",
                "2",
                "--duration",
                "6",
                "--redis",
                redis_server.url,
                command=("confluex", "live", "--exchange", "binance"),
            )
            return await read_priced_hash(redis_client, key, proc, fields)

    code, output = asyncio.run(run())

    assert code == 0, output
    assert "Traceback" not in output and "threads=2" in output, output
    stats = next(ln for ln in output.splitlines() if ln.startswith("shared scores "))
    assert stats.startswith(f"shared scores {redis_server.url}: ") and " 0 dropped" in stats, stats
    assert int(stats.split(": ")[1].split(" writes")[0].replace(",", "")) > 0, stats
    assert set(fields) == {"ts_ns", *SCORE_FIELDS}, fields
    assert 0.0 <= float(fields["score"]) <= 100.0 and float(fields["price"]) > 0
    assert int(fields["ts_ns"]) > 1_600_000_000 * 10**9  # the feed's wall-clock stamp
    # Crossings of the config's thresholds, as the single-threaded feed publishes them.
    for _, sig in redis_client.xrange("confluex:signals"):
        assert sig["symbol"] == "BTC/USDT" and sig["source"] == "crossing"
        score = float(sig["score"])
        assert score >= th.long if sig["signal"] == "LONG" else score <= th.short


def test_cli_replay_threads_refuses_redis_naming_the_clash(capsys):
    code = main(["replay", "--no-progress", "--threads", "2", "--redis", "redis://127.0.0.1:1/0"])

    err = capsys.readouterr().err
    assert code == 2
    assert err == "confluex replay: --threads cannot be combined with --redis\n", err


def test_no_price_is_published_while_the_book_is_out_of_sync(redis_server, redis_client, hft_data):
    # A depth message lost after the sync: the book keeps its stale levels until it resyncs.
    # The score records carry no mid then (the book is not synced), so neither does the
    # single-threaded publisher (as the session's own series and signals).
    lines = [ln for ln in gzip.open(hft_data / SPOT).read().split(b"\n")[:400] if ln]
    snap = next(i for i, ln in enumerate(lines) if b"lastUpdateId" in ln)
    depth = [i for i, ln in enumerate(lines) if i > snap and b"@depth" in ln]
    engine = Engine()
    sid = engine.add_symbol("BTCUSDT", Instrument(TICK, LOT))
    session = FeedSession(engine, Venue.binance_spot)
    session.add_symbol("BTCUSDT", sid)
    cache = ConfluenceHFTCache(redis_server.url, ttl_s=600.0).start()
    publisher = EngineScorePublisher(cache, engine, symbol_id=lambda _: sid)
    key = "confluex:score:BTC/USDT"
    for i, ln in enumerate(lines[: depth[3] + 1]):
        if i == depth[2]:
            continue  # lost
        ts, _, msg = ln.partition(b" ")
        session.on_message(msg, int(ts))
        if i == depth[1]:  # synced: the mid is published
            publisher.on_update("BTC/USDT", engine.result(sid))
            assert cache.flush()
            synced_price = redis_client.hget(key, "price")
            assert synced_price is not None and float(synced_price) > 0
    assert session.health(sid).desyncs == 1 and not engine.in_sync(sid)
    assert engine.best_bid(sid) is not None and engine.best_ask(sid) is not None  # stale
    redis_client.hdel(key, "price")
    publisher.on_update("BTC/USDT", engine.result(sid))
    cache.close()
    assert redis_client.hexists(key, "score") and not redis_client.hexists(key, "price")
