"""``confluex live --metrics-port``: a real HTTP scrape of the Prometheus endpoint.

The feed runs against the loopback Binance (tests/loopback_exchange.py) replaying the real
spot capture; the endpoint is started on 127.0.0.1 port 0, scraped with a real aiohttp HTTP
request, and the exposition text is parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp
import pytest
from confluex._core.session import SymbolHealth
from confluex.feeds.live import LiveFeed
from confluex.feeds.live_sharded import ShardedLiveFeed
from confluex.metrics import CONTENT_TYPE, LiveMetrics
from confluex.trading.execution import Executor
from confluex.trading.paper_venue import PaperExchange, PaperMarket
from confluex.trading.types import OrderIntent, Side
from loopback_exchange import (
    Faults,
    LoopbackExchange,
    eventually,
    load_capture,
    loopback_feed,
    spawn_live_cli,
)
from prometheus_client.parser import text_string_to_metric_families

SPOT = Path("spot/btcusdt_20240808.gz")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int) -> tuple[str, Samples]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        assert resp.status == 200
        ctype = resp.headers["Content-Type"]
        text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return ctype, samples


def test_scrape_reports_the_feed_counters_latency_and_book_health(hft_data: Path) -> None:
    cap = load_capture(hft_data / SPOT, ("BTCUSDT",), 4000)
    sym = (("symbol", "BTC/USDT"),)

    async def main() -> tuple[str, Samples, LiveFeed, int]:
        async with LoopbackExchange(cap) as ex:
            feed = loopback_feed(ex)
            metrics = LiveMetrics(feed)
            port = await metrics.serve("127.0.0.1", 0)
            task = asyncio.create_task(feed.run())
            expected = ex.expected_lines("BTCUSDT")
            await eventually(
                lambda: (
                    "BTC/USDT" in feed.by_symbol
                    and feed.by_symbol["BTC/USDT"].frames == expected
                    and not feed.by_symbol["BTC/USDT"].fetching
                ),
                what="the capture",
            )
            ctype, samples = await scrape(port)
            feed.stop()
            await task
            await metrics.close()
            return ctype, samples, feed, expected

    ctype, samples, feed, expected = asyncio.run(main())
    h = feed.session.health(feed.symbol_id("BTC/USDT"))
    lat = feed.session.latency()["total"]
    exch = (("exchange", "binance"),)

    assert ctype == CONTENT_TYPE
    assert samples[("confluex_frames_total", sym)] == expected > 1000
    assert samples[("confluex_messages_total", (("kind", "depth"), *sym))] == h.depth_messages
    assert samples[("confluex_book_synced", sym)] == 1.0
    assert samples[("confluex_book_desyncs_total", sym)] == 0
    assert samples[("confluex_ring_dropped_total", sym)] == h.buffered_dropped
    assert samples[("confluex_ticker_checks_total", sym)] == h.ticker_checks > 0
    assert samples[("confluex_ticker_mismatches_total", sym)] == 0
    assert samples[("confluex_connections_total", exch)] == 1
    assert samples[("confluex_reconnects_total", exch)] == 0
    # every frame was timed into the histogram; its +Inf bucket holds them all
    assert samples[("confluex_message_latency_seconds_count", exch)] == expected
    assert samples[("confluex_message_latency_seconds_bucket", (*exch, ("le", "+Inf")))] == expected
    assert 0 < samples[("confluex_message_latency_seconds_sum", exch)] < expected * 0.01
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in samples.items()
        if name == "confluex_message_latency_seconds_bucket"
    )
    counts = [v for _, v in buckets]
    assert len(buckets) == 12 and counts == sorted(counts) and counts[0] < counts[-1]
    total = (("stage", "total"),)
    assert samples[("confluex_stage_latency_seconds_count", total)] == lat["count"] > 0
    p99 = samples[("confluex_stage_latency_seconds", (("quantile", "0.99"), *total))]
    assert p99 == pytest.approx(lat["p99"] / 1e9)
    assert 0.0 <= samples[("confluex_score", sym)] <= 100.0


def test_scrape_of_a_threaded_feed_reports_shard_counters_and_published_health(
    hft_data: Path,
) -> None:
    cap = load_capture(hft_data / SPOT, ("BTCUSDT",), 4000)
    sym = (("symbol", "BTC/USDT"),)

    async def main() -> tuple[Samples, ShardedLiveFeed, SymbolHealth]:
        async with LoopbackExchange(cap) as ex:
            feed = loopback_feed(ex, threads=2)
            assert isinstance(feed, ShardedLiveFeed)
            metrics = LiveMetrics(feed)
            port = await metrics.serve("127.0.0.1", 0)
            task = asyncio.create_task(feed.run())

            def processed() -> bool:  # the shard has processed and published every frame
                st = feed.by_symbol.get("BTC/USDT")
                if st is None or not feed.latest or not ex.done:
                    return False
                ref = ex.ref_session.health(ex.ref_ids["BTCUSDT"])  # every line sent
                h = feed.sharded.health(st.symbol_id)
                return (
                    h.depth_messages == ref.depth_messages
                    and h.ticker_messages == ref.ticker_messages
                    and st.frames == h.depth_messages + h.trade_messages
                )

            await eventually(processed, what="the capture, processed on the shard")
            _, samples = await scrape(port)  # while the engine threads run
            feed.stop()
            await task
            await metrics.close()
            return samples, feed, ex.ref_session.health(ex.ref_ids["BTCUSDT"])

    samples, feed, ref = asyncio.run(main())
    sid = feed.symbol_id("BTC/USDT")
    h = feed.sharded.health(sid)  # the session's own, after the run
    stats = feed.sharded.stats()
    exch = (("exchange", "binance"),)

    # the health the shard published while running is the session's final health
    assert samples[("confluex_messages_total", (("kind", "depth"), *sym))] == h.depth_messages
    assert samples[("confluex_messages_total", (("kind", "trade"), *sym))] == h.trade_messages
    assert samples[("confluex_ticker_checks_total", sym)] == h.ticker_checks > 0
    assert samples[("confluex_ticker_mismatches_total", sym)] == 0
    assert samples[("confluex_book_synced", sym)] == 1.0
    assert samples[("confluex_book_desyncs_total", sym)] == 0
    assert samples[("confluex_score", sym)] == float(feed.latest[sid]["score"])
    assert samples[("confluex_connections_total", exch)] == 1
    # score records counted and timed (push -> record on the loop)
    frames = feed.by_symbol["BTC/USDT"].frames
    assert samples[("confluex_frames_total", sym)] == frames == h.depth_messages + h.trade_messages
    assert samples[("confluex_message_latency_seconds_count", exch)] == frames
    # per-shard counters: the symbol's shard processed every frame, no drop, no overflow
    shard = (("shard", str(feed.sharded.pipeline.shard_of(sid))),)
    other = (("shard", str(1 - feed.sharded.pipeline.shard_of(sid))),)
    assert samples[("confluex_shard_frames_total", shard)] == stats[int(shard[0][1])].frames
    assert samples[("confluex_shard_frames_total", other)] == 0
    assert samples[("confluex_shard_symbols", shard)] == 1
    for key in ("input_dropped", "overflow_resyncs", "output_dropped", "errors"):
        assert samples[(f"confluex_shard_{key}_total", shard)] == 0, key
    for key in ("sleeps", "wakeups", "warm_passes"):
        assert (f"confluex_shard_{key}_total", shard) in samples, key
    assert samples[("confluex_overflow_resyncs_total", sym)] == 0
    assert ref.depth_messages == h.depth_messages


def test_executor_orders_and_fills_are_counted() -> None:
    feed = LiveFeed("binance", ["BTC/USDT"])  # not started: only the trading metrics move
    metrics = LiveMetrics(feed)
    book = ([(99.99, 100.0)], [(100.01, 100.0)])
    venue = PaperExchange(
        [PaperMarket("BTC/USDT", "BTC", "USDT")],
        lambda s: book,
        balances={"USDT": 10_000.0},
        clock=lambda: 0,
    )

    async def main() -> Samples:
        port = await metrics.serve("127.0.0.1", 0)
        executor = Executor(venue, on_order=metrics.on_order, on_fill=metrics.on_fill)
        await executor.start()
        await executor.open(
            OrderIntent("BTC/USDT", Side.BUY, 1000.0, 100.0, None, None, None, 72.0, 0, "m", "m")
        )
        _, samples = await scrape(port)
        await metrics.close()
        return samples

    samples = asyncio.run(main())
    fill = (("side", "buy"), ("symbol", "BTC/USDT"), ("trade_type", "entry"))

    assert samples[("confluex_fills_total", fill)] == 1
    assert samples[("confluex_orders_total", (("status", "closed"), ("symbol", "BTC/USDT")))] >= 1
    assert samples[("confluex_filled_notional_total", (("symbol", "BTC/USDT"),))] == (
        pytest.approx(10.0 * 100.01, rel=1e-3)
    )


@pytest.mark.parametrize("args", [(), ("--threads", "2")], ids=("single", "threads2"))
def test_cli_live_serves_metrics_and_logs_to_stderr(hft_data: Path, args: tuple[str, ...]) -> None:
    cap = load_capture(hft_data / SPOT, ("BTCUSDT",), 6000)

    async def main() -> tuple[int, Samples, str, str]:
        async with LoopbackExchange(cap, faults=Faults(throttle=0.002)) as ex:
            proc = await spawn_live_cli(
                ex, "--metrics-port", "0", *args, command=("confluex", "-v", "live")
            )
            assert proc.stderr is not None
            seen: list[str] = []
            while not any("/metrics" in ln for ln in seen):
                line = await asyncio.wait_for(proc.stderr.readline(), 30)
                assert line, "".join(seen)
                seen.append(line.decode())
            url = next(ln for ln in seen if "/metrics" in ln).split("http://", 1)[1]
            port = int(url.split("/", 1)[0].rsplit(":", 1)[1])
            await eventually(lambda: ex.depth_requests.get("BTCUSDT", 0) == 1, what="sync")
            await eventually(lambda: ex.sent > 500, what="streaming")
            _, samples = await scrape(port)
            proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode is not None
            return proc.returncode, samples, out.decode(), "".join(seen) + err.decode()

    code, samples, out, err = asyncio.run(main())

    assert code == 130, err
    assert "Traceback" not in out + err
    assert samples[("confluex_frames_total", (("symbol", "BTC/USDT"),))] > 0
    assert "confluex.feeds.live: binance: connected to" in err  # INFO lines with -v, on stderr
    assert "BTC/USDT: book synced from the snapshot" in err
    logged = [ln for ln in err.splitlines() if "confluex.feeds.live:" in ln]
    assert logged and all(
        re.match(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING) +confluex\.feeds\.live: ", ln
        )
        for ln in logged
    ), logged
    assert "BTC/USDT" in out and "confluex live:" not in out
