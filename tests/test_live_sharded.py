"""ShardedLiveFeed: the live feed on the threaded engine, against a loopback Binance USD-M
replaying the real capture (real websockets and ccxt client stack; no internet)."""

from __future__ import annotations

import argparse
import asyncio
import gzip
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import _core
from confluex.feeds.live_sharded import ShardedLiveFeed
from loopback_exchange import (
    LoopbackExchange,
    eventually,
    load_capture,
    loopback_feed,
    spawn_live_cli,
)
from test_live import assert_same_book

S = _core.session


def test_sharded_live_feed_ends_equal_to_a_replay_of_the_same_capture(hft_data: Path) -> None:
    path = hft_data / "usdm_2024-07" / "btcusdt_20240718.gz"
    cap = load_capture(path)
    ref = confluex.Engine()
    rsym = ref.add_symbol("BTCUSDT", confluex.Instrument("0.1", "0.001"))
    ref_session = S.FeedSession(ref, S.Venue.binance_futures)
    ref_session.add_symbol("BTCUSDT", rsym)
    ref_session.replay(gzip.open(path).read())
    records: list[np.void] = []

    async def main() -> ShardedLiveFeed:
        async with LoopbackExchange(cap, tick="0.1", lot="0.001", futures=True) as ex:
            feed = loopback_feed(ex, threads=2, on_record=lambda _, rec: records.append(rec))
            assert isinstance(feed, ShardedLiveFeed)
            task = asyncio.create_task(feed.run())
            expected = ex.expected_lines("BTCUSDT")
            await eventually(
                lambda: (
                    feed.frames_pushed >= expected
                    and not any(st.fetching for st in feed.by_id.values())
                ),
                what="the whole capture pushed",
            )
            feed.stop()
            await task
            assert ex.depth_requests == {"BTCUSDT": 1}
            return feed

    feed = asyncio.run(main())
    sid = feed.symbol_id("BTC/USDT:USDT")
    health = feed.stats("BTC/USDT:USDT")
    engine, local = feed.sharded.engine_of(sid)

    assert health["phase"] == S.SyncPhase.synced and health["desyncs"] == 0
    assert health["snapshots_applied"] == 1 and health["ticker_mismatches"] == 0
    assert_same_book(engine, local, ref, rsym)
    assert engine.cvd(local) == ref.cvd(rsym)
    assert engine.score(local) == ref.score(rsym)
    assert feed.frames_dropped == 0 and feed.engine_errors == 0
    # every message that changed the symbol came back as a score record, in order, and so
    # did the REST snapshot that synced the book (code 1, as LiveFeed calls on_update then)
    assert len(records) == (
        health["depth_messages"] + health["trade_messages"] + health["snapshots_applied"]
    )
    (synced,) = [i for i, r in enumerate(records) if int(r["code"])]
    assert int(records[synced]["phase"]) == S.SyncPhase.synced.value
    assert all(int(r["phase"]) != S.SyncPhase.synced.value for r in records[:synced])
    assert feed.by_id[sid].frames == len(records) - 1  # frames count stream messages only
    assert records[-1]["score"] == ref.score(rsym)
    assert np.all(np.diff([int(r["ts_ns"]) for r in records]) >= 0)


def test_cli_live_threads_streams_on_the_shards(hft_data: Path) -> None:
    cap = load_capture(hft_data / "spot" / "btcusdt_20240808.gz", ("BTCUSDT",), 4000)

    async def main() -> tuple[int, str]:
        async with LoopbackExchange(cap) as ex:
            proc = await spawn_live_cli(ex, "--threads", "2", "--duration", "6")
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert ex.depth_requests.get("BTCUSDT", 0) >= 1
            assert proc.returncode is not None
            return proc.returncode, out.decode() + err.decode()

    code, output = asyncio.run(main())

    assert code == 0, output
    assert "Traceback" not in output, output
    row = next(line for line in output.splitlines() if line.startswith("BTC/USDT"))
    assert "synced" in row and "threads=2" in output


def test_cli_live_threads_refuses_bad_counts_and_takes_metrics() -> None:
    from confluex.live_view import _check_live_args

    with pytest.raises(ValueError, match="--threads must be in"):
        _check_live_args(argparse.Namespace(threads=0))
    _check_live_args(argparse.Namespace(threads=2, metrics_port=9000))  # scraped in test_metrics
    with pytest.raises(ValueError, match="it needs --threads, was busy_poll"):
        _check_live_args(argparse.Namespace(wait="busy_poll"))
    _check_live_args(argparse.Namespace(threads=2, wait="blocking"))


def test_on_update_set_on_a_threaded_feed_is_refused_naming_on_record() -> None:
    # It would never be called with a score: `live --threads --redis` once set it and wrote
    # nothing to Redis.
    feed = ShardedLiveFeed("binance", ["BTC/USDT"], threads=1)
    assert feed.on_update is None
    with pytest.raises(ValueError, match=r"takes no on_update .*: set on_record, was <function"):
        feed.on_update = lambda symbol, result: None
    with pytest.raises(ValueError, match="takes no on_update"):
        ShardedLiveFeed("binance", ["BTC/USDT"], on_update=lambda symbol, result: None)
    feed.on_update = None  # what LiveFeed's constructor sets
    assert feed.on_update is None
