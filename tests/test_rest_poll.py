"""Live REST warm-up and polling: ccxt's real Binance classes against the loopback venue.

The loopback serves the real USD-M BTCUSDT capture of 2024-07-18 on its stream, and over REST
(tests/loopback_exchange.py, Binance's documented response formats):
- klines: REAL bars of other markets and dates (freqtrade's 1-minute unittest bars and XRP/USDT
  5-minute futures bars), timestamps SHIFTED to end just before the capture and prices
  RESCALED to the capture's price level;
- funding: REAL XRP/USDT 8-hourly funding rates, SHIFTED the same way;
- open interest and the long/short ratio: SYNTHETIC series (no capture holds them), named so.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import math
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
import pytest
from confluex import Instrument, engine_config, engine_from_config
from confluex.feeds.live import LiveFeed, _rebase_urls
from confluex.feeds.live_sharded import ShardedLiveFeed
from confluex.feeds.rest_poll import RestPollConfig, RestPoller
from loopback_exchange import (
    Capture,
    LoopbackExchange,
    RestData,
    eventually,
    load_capture,
    loopback_feed,
    received_all,
    spawn_live_cli,
)

USDM = Path("usdm_2024-07") / "btcusdt_20240718.gz"
NO_RATE_LIMIT = {"enableRateLimit": False}
SYMBOL = "BTC/USDT:USDT"
FAST = RestPollConfig(
    timeframes=("1m", "5m"),
    funding_interval=0.02,
    open_interest_interval=0.02,
    long_short_interval=0.02,
)


@cache
def usdm_capture(root: Path) -> Capture:
    return load_capture(root / USDM)


def first_price(cap: Capture) -> float:
    for ln in cap.lines:
        msg = json.loads(ln.payload)["data"]
        if msg.get("e") == "trade":
            return float(msg["p"])
    raise AssertionError("no trade in the capture")


def rest_data(root: Path, cap: Capture) -> RestData:
    start_ms = cap.lines[0].ts_ns // 1_000_000
    px = first_price(cap)

    def shifted(name: str, step: int, n: int) -> list[list[float]]:
        rows = json.loads(gzip.decompress((root.parent / "freqtrade" / name).read_bytes()))[-n:]
        end = start_ms // step * step - step  # the last bar closes before the capture
        shift = end - int(rows[-1][0])
        scale = px / float(rows[-1][4])
        return [[r[0] + shift, *(v * scale for v in r[1:5]), r[5]] for r in rows]

    funding = json.loads(
        gzip.decompress(
            (root.parent / "freqtrade" / "xrp_usdt_usdt_8h_funding_rate.json.gz").read_bytes()
        )
    )
    fshift = start_ms - 3_600_000 - funding[-1][0]
    base = start_ms // 300_000 * 300_000
    # SYNTHETIC: open interest rising 0.1 % per 5 minutes over 3 hours, and a long share of
    # 55-60 %; stamped on Binance's 5-minute statistics grid.
    grid = [base - 300_000 * k for k in range(36, -1, -1)]
    return RestData(
        klines={
            "1m": shifted("unittest_btc_1m.json.gz", 60_000, 300),
            "5m": shifted("xrp_usdt_usdt_5m_futures.json.gz", 300_000, 300),
        },
        funding=[(int(ms) + fshift, float(rate)) for ms, rate in funding],
        open_interest=[(ms, 80_000.0 * (1.001**i)) for i, ms in enumerate(grid)],
        long_short=[
            (ms, 0.55 + 0.001 * (i % 50), 0.45 - 0.001 * (i % 50)) for i, ms in enumerate(grid)
        ],
        mark_price=px,
    )


def start_ms(cap: Capture) -> int:
    return cap.lines[0].ts_ns // 1_000_000


@contextlib.asynccontextmanager
async def usdm_venue(root: Path) -> AsyncIterator[tuple[LoopbackExchange, RestData]]:
    """The loopback USD-M venue of these tests: the capture on its stream, :func:`rest_data`
    over REST (a fresh copy: tests append to it), "now" at the capture's start."""
    cap = usdm_capture(root)
    data = rest_data(root, cap)
    async with LoopbackExchange(cap, tick="0.1", lot="0.001", futures=True, rest_data=data) as ex:
        ex.server_time_ms = start_ms(cap)
        yield ex, data


def live_feed(
    ex: LoopbackExchange, *, threads: int | None = None, profile: str | None = None, **kw: Any
) -> LiveFeed:
    """:func:`loopback_feed` with the engine of a scoring ``profile``."""
    if profile is not None and threads is None:
        kw["engine"] = engine_from_config(profile=profile)
    elif profile is not None:
        kw["engine_config"] = engine_config(profile=profile)
    return loopback_feed(ex, threads=threads, **kw)


def test_live_feed_warms_up_from_rest_history_and_polls_sentiment_inputs(hft_data: Path) -> None:
    async def main() -> tuple[LiveFeed, RestData]:
        async with usdm_venue(hft_data) as (ex, data):
            now_ms = ex.server_time_ms
            # reference: the OI quadrant is weighted there (weight > 0 = it had data)
            feed = live_feed(ex, profile="reference", rest_poll=FAST)
            task = asyncio.create_task(feed.run())
            await eventually(
                lambda: (
                    feed.poller is not None and feed.poller.calls.get("fetchOpenInterest", 0) > 0
                ),
                what="the warm-up and a first poll",
            )
            assert feed.poller is not None
            history_oi = feed.poller.fed[(SYMBOL, "open_interest")]
            # A new open-interest sample appears on the venue: the next poll feeds it.
            data.open_interest.append((now_ms + 30_000, data.open_interest[-1][1] * 1.002))
            ex.server_time_ms = now_ms + 60_000
            await eventually(
                lambda: (
                    feed.poller is not None
                    and feed.poller.fed[(SYMBOL, "open_interest")] == history_oi + 1
                ),
                what="the polled open interest",
            )
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            return feed, data

    feed, data = asyncio.run(main())
    poller = feed.poller
    assert poller is not None
    sid = feed.symbol_id(SYMBOL)
    assert poller.fed[(SYMBOL, "ohlcv:1m")] == 299  # 300 rows, the last (forming) one dropped
    assert poller.fed[(SYMBOL, "ohlcv:5m")] == 299
    assert poller.fed[(SYMBOL, "funding")] >= 1
    assert poller.fed[(SYMBOL, "long_short")] == len(data.long_short)
    assert poller.calls["fetchFundingRate"] >= 1 and poller.calls["fetchOpenInterest"] >= 1
    assert poller.errors == {}
    assert feed.engine.bars_closed(sid, 60_000_000_000) >= 299
    result = feed.engine.result(sid)
    assert result.has_data["sentiment"]
    sent = feed.engine.component(sid, "sentiment")
    for key in ("funding_rate", "open_interest", "long_short_ratio"):
        assert sent.weights[key] > 0, key
    flow = feed.engine.component(sid, "orderflow")
    assert flow.weights["oi_quadrant"] > 0  # OI history + history closes: the quadrant reads
    assert flow.sub["oi_quadrant"] != 50.0


def readings(engine: Any, sid: int) -> dict[str, tuple[bool, float | None, dict[str, Any]]]:
    """Each component's reading: has data, score and sub-scores (NaN as None)."""

    def num(v: float) -> float | None:
        return None if math.isnan(v) else v

    out = {}
    for name in engine.result(sid).components:
        c = engine.component(sid, name)
        out[name] = (c.has_data, num(c.score), {k: num(v) for k, v in c.sub.items()})
    return out


async def warm_poll_stream(root: Path, threads: int | None) -> tuple[LiveFeed, Any, int]:
    """The warm-up, a first round of polls, the whole capture, then two polled open-interest
    samples (a refused negative one, then a good one): the same sequence for every feed."""
    async with usdm_venue(root) as (ex, data):
        now_ms = ex.server_time_ms
        ex.pause("BTCUSDT")  # the first polls go in before the stream
        feed = live_feed(ex, threads=threads, profile="reference", rest_poll=FAST)
        task = asyncio.create_task(feed.run())

        def polled(method: str, n: int = 1) -> bool:
            return feed.poller is not None and feed.poller.calls.get(method, 0) >= n

        await eventually(
            lambda: all(polled(m) for m in ("fetchFundingRate", "fetchOpenInterest")),
            what="the first polls",
        )
        await eventually(lambda: polled("fetchLongShortRatioHistory", 2), what="the lsr poll")
        ex.resume("BTCUSDT")
        await eventually(received_all(feed, ex), what="the whole capture")
        assert feed.poller is not None
        poller = feed.poller
        oi = poller.fed[(SYMBOL, "open_interest")]
        # SYNTHETIC: a negative open interest (the engine refuses it), then a good one.
        data.open_interest.append((now_ms + 30_000, -1.0))
        ex.server_time_ms = now_ms + 60_000
        await eventually(lambda: poller.errors.get("open_interest", 0) == 1, what="a refusal")
        polls = poller.calls["fetchOpenInterest"]
        await eventually(lambda: polled("fetchOpenInterest", polls + 2), what="two more polls")
        data.open_interest.append((now_ms + 90_000, data.open_interest[-2][1] * 1.002))
        ex.server_time_ms = now_ms + 120_000
        await eventually(lambda: poller.fed[(SYMBOL, "open_interest")] == oi + 1, what="the OI")
        feed.stop()
        await task  # a threaded feed's shards process every queued sample before it returns
    sid = feed.symbol_id(SYMBOL)
    if isinstance(feed, ShardedLiveFeed):
        engine, local = feed.sharded.engine_of(sid)
        return feed, engine, local
    return feed, feed.engine, sid


def test_threaded_live_feed_warms_up_polls_and_reads_as_the_single_threaded_one(
    hft_data: Path,
) -> None:
    single, s_engine, s_sid = asyncio.run(warm_poll_stream(hft_data, None))
    sharded, t_engine, t_sid = asyncio.run(warm_poll_stream(hft_data, 2))
    assert isinstance(sharded, ShardedLiveFeed)
    sp, tp = single.poller, sharded.poller
    assert sp is not None and tp is not None
    sid = sharded.symbol_id(SYMBOL)

    # the same REST inputs reached the engine of the symbol's shard, in the same order
    assert tp.warmup_status == sp.warmup_status == "done"
    assert sharded.stats(SYMBOL)["rest_warmup"] == "done"
    assert tp.fed == sp.fed and tp.fed[(SYMBOL, "ohlcv:1m")] == 299
    assert tp.errors == sp.errors == {"open_interest": 1}  # the negative sample, refused
    assert sharded.inputs_refused == {sid: 1}
    # polled samples went through the ring: funding at "now", then the good OI sample
    assert sharded.inputs_applied[sid] >= 2
    assert t_engine.bars_closed(t_sid, 60_000_000_000) == s_engine.bars_closed(
        s_sid, 60_000_000_000
    )
    # ... so the views read the same
    t_read, s_read = readings(t_engine, t_sid), readings(s_engine, s_sid)
    assert t_read == s_read
    for name in ("technical", "volume", "sentiment", "price_structure"):
        assert t_read[name][0], name  # history and REST inputs: data
    assert t_engine.component(t_sid, "orderflow").weights["oi_quadrant"] > 0
    assert t_engine.result(t_sid).score == s_engine.result(s_sid).score


def test_failed_polls_are_counted_and_never_stop_the_feed(
    hft_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SECRET-SENTINEL-0123456789"

    async def main() -> LiveFeed:
        async with usdm_venue(hft_data) as (ex, _):
            ex.rest_failures["/fapi/v1/openInterest"] = 3
            ex.rest_failures["/fapi/v1/fundingRate"] = 1  # the warm-up's history call
            feed = live_feed(
                ex,
                rest_options={
                    **NO_RATE_LIMIT,
                    "apiKey": "KEY-" + secret,
                    "secret": secret,
                    # With keys ccxt would load currencies from a private endpoint.
                    "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False},
                },
                rest_poll=FAST,
            )
            task = asyncio.create_task(feed.run())
            await eventually(
                lambda: (
                    feed.poller is not None and feed.poller.calls.get("fetchOpenInterest", 0) >= 1
                ),
                what="a successful poll after the failures",
            )
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            return feed

    with caplog.at_level(logging.DEBUG):
        feed = asyncio.run(main())
    poller = feed.poller
    assert poller is not None
    assert poller.errors == {"fetchOpenInterest": 3, "fetchFundingRateHistory": 1}
    assert feed.stats(SYMBOL)["frames"] > 0 and feed.engine.in_sync(feed.symbol_id(SYMBOL))
    assert secret not in caplog.text


def rest_client(ex: LoopbackExchange) -> ccxt_async.binanceusdm:
    rest = ccxt_async.binanceusdm(
        {**NO_RATE_LIMIT, "options": {"fetchMarkets": {"types": ["linear"]}}}
    )
    rest.urls["api"] = _rebase_urls(rest.urls["api"], ex.rest_url)
    return rest


def test_a_method_the_exchange_lacks_is_skipped_with_one_log_line(
    hft_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> RestPoller:
        async with usdm_venue(hft_data) as (ex, _):
            rest = rest_client(ex)
            try:
                rest.has = {**rest.has, "fetchLongShortRatioHistory": False}
                engine = engine_from_config(profile="standard")
                sid = engine.add_symbol(SYMBOL, Instrument("0.1", "0.001"))
                poller = RestPoller(rest, engine, {SYMBOL: sid}, FAST)
                await poller.warm_up()
                for _ in range(3):
                    await poller.poll_long_short()
                await poller.poll_open_interest()
                assert "/futures/data/globalLongShortAccountRatio" not in ex.rest_requests
                return poller
            finally:
                await rest.close()

    with caplog.at_level(logging.INFO, logger="confluex.feeds.rest_poll"):
        poller = asyncio.run(main())
    assert poller.skipped == {"fetchLongShortRatioHistory"}
    lines = [r for r in caplog.records if "fetchLongShortRatioHistory" in r.getMessage()]
    assert len(lines) == 1
    assert (SYMBOL, "long_short") not in poller.fed
    assert poller.fed[(SYMBOL, "open_interest")] >= 1  # the others still run


def test_an_engine_without_bar_views_turns_rest_inputs_off_without_errors(
    hft_data: Path,
) -> None:
    async def main() -> RestPoller:
        async with usdm_venue(hft_data) as (ex, _):
            rest = rest_client(ex)
            try:
                engine = engine_from_config(profile="hft_ultra_fast")
                sid = engine.add_symbol(SYMBOL, Instrument("0.1", "0.001"))
                poller = RestPoller(rest, engine, {SYMBOL: sid}, FAST)
                await poller.warm_up()
                await asyncio.wait_for(poller.run(), timeout=5)  # returns: nothing to poll
                return poller
            finally:
                await rest.close()

    poller = asyncio.run(main())
    assert poller.errors == {}
    assert poller.calls.get("fetchOHLCV", 0) == 1  # the first refusal switched it off
    assert poller.fed == {}


def test_rest_poll_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="history_limit must be >= 1, was 0"):
        RestPollConfig(history_limit=0)
    with pytest.raises(ValueError, match="funding_interval must be finite and >= 0, was -1"):
        RestPollConfig(funding_interval=-1)


# --- a missing or hung warm-up never stalls start-up or shutdown ---------------------------------

SPOT = Path("spot") / "btcusdt_20240808.gz"


@cache
def spot_capture(root: Path, max_lines: int | None = None) -> Capture:
    return load_capture(root / SPOT, ("BTCUSDT",), max_lines)


def test_a_venue_without_klines_does_not_stall_and_the_views_report_no_data(
    hft_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cap = spot_capture(hft_data, 3000)

    async def main() -> LiveFeed:
        async with LoopbackExchange(cap) as ex:  # no rest_data: /api/v3/klines answers 404
            feed = live_feed(ex, rest_poll=RestPollConfig())
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the stream after a failed warm-up")
            feed.stop()
            await task
            assert ex.rest_requests.get("/api/v3/klines", 0) == 0  # no route: aiohttp's 404
            return feed

    with caplog.at_level(logging.WARNING, logger="confluex.feeds.rest_poll"):
        feed = asyncio.run(main())

    poller = feed.poller
    assert poller is not None
    assert poller.errors == {"fetchOHLCV": 4}  # one per timeframe, each counted
    assert poller.warmup_status.startswith("partial: 4 calls failed")
    assert feed.stats("BTC/USDT")["rest_warmup"] == poller.warmup_status
    assert any("fetchOHLCV BTC/USDT" in r.getMessage() for r in caplog.records)
    sid = feed.symbol_id("BTC/USDT")
    assert not feed.engine.component(sid, "technical").has_data  # no history: no data, not 50
    assert "technical" not in [n for n, ok in feed.engine.result(sid).has_data.items() if ok]


@pytest.mark.parametrize("threads", [None, 2], ids=("single", "threads2"))
def test_a_hung_klines_endpoint_is_bounded_and_the_feed_streams(
    hft_data: Path, threads: int | None
) -> None:
    cap = spot_capture(hft_data, 3000)
    config = RestPollConfig(warmup_timeout=0.5)  # the call alone would wait ccxt's 10 s

    async def main() -> LiveFeed:
        async with LoopbackExchange(cap, rest_data=RestData()) as ex:
            ex.rest_hang.add("/api/v3/klines")
            feed = live_feed(ex, threads=threads, rest_poll=config)
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the stream past a hung warm-up")
            feed.stop()
            await task
            assert ex.rest_requests["/api/v3/klines"] == 1  # the first call hung
            return feed

    feed = asyncio.run(main())

    assert feed.poller is not None
    assert feed.poller.warmup_status == "timed out after 0.5 s at fetchOHLCV BTC/USDT 1m"
    assert feed.stats("BTC/USDT")["desyncs"] == 0
    assert feed.stats("BTC/USDT")["snapshots_applied"] == 1


@pytest.mark.parametrize("args", [(), ("--threads", "2")], ids=("single", "threads2"))
def test_ctrl_c_during_a_hung_warm_up_exits_promptly(hft_data: Path, args: tuple[str, ...]) -> None:
    import signal

    cap = spot_capture(hft_data, 3000)

    async def main() -> tuple[int, str]:
        async with LoopbackExchange(cap, rest_data=RestData()) as ex:
            ex.rest_hang.add("/api/v3/klines")
            proc = await spawn_live_cli(ex, *args)
            await eventually(
                lambda: ex.rest_requests.get("/api/v3/klines", 0) == 1, what="the warm-up call"
            )
            proc.send_signal(signal.SIGINT)
            # Well inside the CLI's 10 s call timeout: Ctrl-C cancels the hung call itself.
            out, err = await asyncio.wait_for(proc.communicate(), 8)
            assert ex.connections == 0  # the stream never opened
            assert proc.returncode is not None
            return proc.returncode, out.decode() + err.decode()

    code, output = asyncio.run(main())

    assert code == 130, output
    assert "Traceback" not in output, output
    assert "BTC/USDT" in output
