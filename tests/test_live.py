"""LiveFeed against a loopback Binance replaying the real spot capture (no internet).

Every test runs a real WebSocket server and REST endpoint on 127.0.0.1 (tests/loopback_exchange.py)
and the real client stack: websockets, ccxt's load_markets and raw depth endpoint, FeedSession.
Frames are stamped with their capture time (LiveFeed's frame_ts hook) so the live engine can be
compared bit for bit with a FeedSession.replay of the same capture.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import signal
import zlib
from functools import cache
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import _core
from confluex.feeds.files import replay as replay_capture
from confluex.feeds.live import Backoff, LiveFeed, Recorder
from confluex.live_view import add_live_arguments, render_view, run_live
from confluex.markets import format_price, instrument_from_market, precision_to_decimal
from loopback_exchange import (
    Capture,
    Faults,
    LoopbackExchange,
    eventually,
    load_capture,
    received_all,
    spawn_live_cli,
    stamps,
)

S = _core.session
SPOT = Path("spot/btcusdt_20240808.gz")
TICK, LOT = "0.01", "0.00000001"
NO_RATE_LIMIT = {"enableRateLimit": False}  # ccxt spaces 1000-level snapshots 2.5 s apart


@cache
def capture(
    root: Path, symbols: tuple[str, ...] = ("BTCUSDT",), max_lines: int | None = None
) -> Capture:
    return load_capture(root / SPOT, symbols, max_lines)


def replay_reference(root: Path) -> tuple[_core.engine.Engine, int, S.FeedSession]:
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument(TICK, LOT))
    session = S.FeedSession(engine, S.Venue.binance_spot)
    session.add_symbol("BTCUSDT", sym)
    session.replay(gzip.open(root / SPOT).read())
    return engine, sym, session


def assert_same_book(a: _core.engine.Engine, ia: int, b: _core.engine.Engine, ib: int) -> None:
    (abids, aasks), (bbids, basks) = a.top(ia, 100), b.top(ib, 100)
    assert len(abids) == 100 and len(aasks) == 100
    np.testing.assert_array_equal(abids, bbids)
    np.testing.assert_array_equal(aasks, basks)


def test_live_feed_over_loopback_ends_equal_to_a_replay_of_the_same_capture(hft_data: Path) -> None:
    cap = capture(hft_data)
    ref, rsym, ref_session = replay_reference(hft_data)
    updates: dict[str, int] = {}

    def on_update(symbol: str, result: _core.aggregator.ConfluenceResult) -> None:
        assert 0.0 <= result.score <= 100.0
        updates[symbol] = updates.get(symbol, 0) + 1

    async def main() -> LiveFeed:
        async with LoopbackExchange(cap) as ex:
            feed = LiveFeed(
                "binance",
                ["BTC/USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                on_update=on_update,
                stale_seconds=0,
            )
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            assert ex.depth_requests == {"BTCUSDT": 1}
            assert ex.subscribed == [{"btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker"}]
            return feed

    feed = asyncio.run(main())
    sid = feed.symbol_id("BTC/USDT")
    health = feed.stats("BTC/USDT")

    inst = feed.engine.instrument(sid)
    assert (inst.tick_size_str, inst.lot_size_str) == (TICK, LOT)  # ccxt market + feed decimals
    assert_same_book(feed.engine, sid, ref, rsym)
    assert feed.engine.cvd(sid) == ref.cvd(rsym)
    assert feed.engine.score(sid) == ref.score(rsym)
    assert health["phase"] == S.SyncPhase.synced
    assert health["snapshots_applied"] == 1 and health["desyncs"] == 0
    assert health["ticker_mismatches"] == 0
    assert health["ticker_checks"] > 100  # those before the snapshot cannot be checked
    assert health["trade_messages"] == ref_session.health(rsym).trade_messages
    assert updates["BTC/USDT"] >= health["depth_messages"] + health["trade_messages"] - 100
    assert feed.connections == 1 and feed.reconnects == 0


def test_usdm_futures_feed_over_loopback_ends_equal_to_a_replay(hft_data: Path) -> None:
    path = hft_data / "usdm_2024-07" / "btcusdt_20240718.gz"
    cap = load_capture(path)
    ref = confluex.Engine()
    rsym = ref.add_symbol("BTCUSDT", confluex.Instrument("0.1", "0.001"))
    ref_session = S.FeedSession(ref, S.Venue.binance_futures)
    ref_session.add_symbol("BTCUSDT", rsym)
    ref_session.replay(gzip.open(path).read())

    async def main() -> LiveFeed:
        async with LoopbackExchange(cap, tick="0.1", lot="0.001", futures=True) as ex:
            feed = LiveFeed(
                "binance-futures",
                ["BTC/USDT:USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                stale_seconds=0,
            )
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            assert ex.depth_requests == {"BTCUSDT": 1}
            return feed

    feed = asyncio.run(main())
    sid = feed.symbol_id("BTC/USDT:USDT")
    health = feed.stats("BTC/USDT:USDT")
    inst = feed.engine.instrument(sid)

    assert (inst.tick_size_str, inst.lot_size_str) == ("0.1", "0.001")
    assert health["phase"] == S.SyncPhase.synced and health["desyncs"] == 0
    assert health["ticker_mismatches"] == 0 and health["ticker_checks"] > 0
    assert_same_book(feed.engine, sid, ref, rsym)
    assert feed.engine.cvd(sid) == ref.cvd(rsym)
    assert feed.engine.score(sid) == ref.score(rsym)


def test_dropped_depth_message_resyncs_only_that_symbol_and_ends_in_sync(hft_data: Path) -> None:
    cap = capture(hft_data, ("BTCUSDT", "ETHUSDT"))
    eth_depth = [ln.index for ln in cap.lines if ln.symbol == "ETHUSDT" and "@depth" in ln.stream]
    dropped = eth_depth[200]

    async def main() -> tuple[LiveFeed, LoopbackExchange]:
        async with LoopbackExchange(cap, faults=Faults(drop={dropped})) as ex:
            feed = LiveFeed(
                "binance",
                ["BTC/USDT", "ETH/USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                stale_seconds=0,
            )
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            return feed, ex

    feed, ex = asyncio.run(main())
    eth, btc = feed.stats("ETH/USDT"), feed.stats("BTC/USDT")

    assert eth["desyncs"] == 1 and eth["snapshots_applied"] == 2
    assert btc["desyncs"] == 0 and btc["snapshots_applied"] == 1
    assert ex.depth_requests == {"BTCUSDT": 1, "ETHUSDT": 2}
    assert eth["phase"] == btc["phase"] == S.SyncPhase.synced
    for sym, venue_sym in (("ETH/USDT", "ETHUSDT"), ("BTC/USDT", "BTCUSDT")):
        sid, rid = feed.symbol_id(sym), ex.ref_ids[venue_sym]
        assert_same_book(feed.engine, sid, ex.reference, rid)
        assert feed.engine.cvd(sid) == ex.reference.cvd(rid)


def test_recorded_session_replays_bit_exact(hft_data: Path, tmp_path: Path) -> None:
    # Two symbols and a dropped depth message: the recording holds both streams, the REST
    # snapshots of both (tagged with their symbol) and the ETH resync's second snapshot.
    cap = capture(hft_data, ("BTCUSDT", "ETHUSDT"))
    eth_depth = [ln.index for ln in cap.lines if ln.symbol == "ETHUSDT" and "@depth" in ln.stream]
    record = tmp_path / "session.gz"

    async def main() -> LiveFeed:
        async with LoopbackExchange(cap, faults=Faults(drop={eth_depth[200]})) as ex:
            feed = LiveFeed(
                "binance",
                ["BTC/USDT", "ETH/USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                stale_seconds=0,
                session_config=S.SessionConfig(series_interval_ns=0),
                record=record,
            )
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the whole capture")
            feed.stop()
            await task
            return feed

    feed = asyncio.run(main())
    assert feed.recorder is not None
    frames = sum(st.frames for st in feed.by_symbol.values())
    snapshots = sum(st.snapshot_requests for st in feed.by_symbol.values())
    assert feed.recorder.lines >= frames + 3  # every frame, 3 snapshots (ETH twice)

    res = replay_capture([record], series_interval_ns=0)
    assert res.messages == feed.recorder.lines and snapshots == 3
    assert not any(res.parser_errors.values())
    assert res.series.tobytes() == feed.session.series().tobytes()
    assert res.signals.tobytes() == feed.session.signals().tobytes()
    for sym, venue_sym in (("BTC/USDT", "BTCUSDT"), ("ETH/USDT", "ETHUSDT")):
        sid, rid = feed.symbol_id(sym), res.symbols[venue_sym].symbol_id
        assert_same_book(feed.engine, sid, res.engine, rid)
        assert feed.engine.score(sid) == res.engine.score(rid)
        assert feed.engine.cvd(sid) == res.engine.cvd(rid)
        assert feed.session.health(sid) == res.symbols[venue_sym].health
    assert res.symbols["ETHUSDT"].health.desyncs == 1


def test_record_to_an_unwritable_path_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "missing_dir" / "rec.gz"
    with pytest.raises(ValueError, match="missing_dir"):
        LiveFeed("binance", ["BTC/USDT"], record=bad)


def test_dropped_connection_reconnects_with_backoff_resyncs_and_ends_in_sync(
    hft_data: Path,
) -> None:
    cap = capture(hft_data)
    ref, rsym, _ = replay_reference(hft_data)
    close_after = len(cap.lines) // 4
    backoff = Backoff(base=0.02, cap=0.5, jitter=0.5, rng=random.Random(7))
    expected_delay = 0.02 * (1 - 0.5 * random.Random(7).random())

    async def main() -> tuple[LiveFeed, LoopbackExchange]:
        async with LoopbackExchange(cap, faults=Faults(close_after=close_after)) as ex:
            feed = LiveFeed(
                "binance",
                ["BTC/USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                backoff=backoff,
                stale_seconds=0,
            )
            task = asyncio.create_task(feed.run())
            await eventually(received_all(feed, ex), what="the whole capture after a reconnect")
            feed.stop()
            await task
            return feed, ex

    feed, ex = asyncio.run(main())
    sid = feed.symbol_id("BTC/USDT")
    health = feed.stats("BTC/USDT")

    assert ex.connections == feed.connections == 2 and feed.reconnects == 1
    assert feed.reconnect_delays == [pytest.approx(expected_delay)]
    assert health["snapshots_applied"] == 2  # the first sync, then the resync after reconnecting
    assert ex.depth_requests == {"BTCUSDT": 2}
    assert health["phase"] == S.SyncPhase.synced and health["ticker_mismatches"] == 0
    assert_same_book(feed.engine, sid, ref, rsym)
    assert feed.engine.cvd(sid) == ref.cvd(rsym)
    assert feed.engine.score(sid) == ref.score(rsym)


def test_refused_connections_back_off_exponentially_with_jitter() -> None:
    sleeps: list[float] = []
    feed: LiveFeed | None = None

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)
        if len(sleeps) == 4 and feed is not None:
            feed.stop()
        await asyncio.sleep(0)

    async def main() -> LiveFeed:
        nonlocal feed
        # A port nobody listens on: every connect is refused at once.
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        feed = LiveFeed(
            "binance",
            ["BTC/USDT"],
            ws_url=f"ws://127.0.0.1:{port}/stream",
            instruments={"BTC/USDT": confluex.Instrument(TICK, LOT)},
            backoff=Backoff(base=0.1, cap=0.3, jitter=0.25, rng=random.Random(3)),
            sleep=fake_sleep,
            stale_seconds=0,
        )
        feed._rest = _NoRest()  # instruments overridden: no market load, no snapshot needed
        await feed.run()
        return feed

    feed = asyncio.run(main())
    rng = random.Random(3)
    expected = [min(0.3, 0.1 * 2**n) * (1 - 0.25 * rng.random()) for n in range(4)]

    assert sleeps == pytest.approx(expected)
    assert feed.reconnect_delays == pytest.approx(expected)
    assert feed.connections == 0 and feed.last_error is not None


class _NoRest:
    """Stands in for the ccxt client where a test needs none; records that it was closed."""

    closed = False

    async def close(self) -> None:
        self.closed = True


def test_stale_watchdog_resyncs_a_paused_symbol_only(hft_data: Path) -> None:
    cap = capture(hft_data, ("BTCUSDT", "ETHUSDT"), 8000)
    pause_at = len(cap.lines) // 3

    async def main() -> tuple[LiveFeed, LoopbackExchange, int]:
        faults = Faults(throttle=0.001, throttle_only_while_paused=True)
        async with LoopbackExchange(cap, faults=faults) as ex:
            feed = LiveFeed(
                "binance",
                ["BTC/USDT", "ETH/USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                stale_seconds=0.2,
            )
            task = asyncio.create_task(feed.run())
            await eventually(lambda: ex.cursor >= pause_at, what="the pause point")
            assert all(
                feed.session.phase(st.symbol_id) == S.SyncPhase.synced for st in feed.by_id.values()
            )
            ex.pause("ETHUSDT")
            eth = feed.by_symbol["ETH/USDT"]
            await eventually(lambda: eth.stale_resyncs >= 1, what="the watchdog")
            btc_stale_while_flowing = feed.by_symbol["BTC/USDT"].stale_resyncs
            await eventually(lambda: not eth.fetching, what="the ETH snapshot")
            ex.resume("ETHUSDT")
            await eventually(received_all(feed, ex), what="the rest of the capture")
            feed.stop()
            await task
            return feed, ex, btc_stale_while_flowing

    feed, ex, btc_stale = asyncio.run(main())
    eth = feed.stats("ETH/USDT")

    assert btc_stale == 0
    assert eth["stale_resyncs"] >= 1 and eth["snapshots_applied"] >= 2
    assert ex.depth_requests["ETHUSDT"] >= 2
    assert eth["phase"] == S.SyncPhase.synced and eth["ticker_mismatches"] == 0
    for sym, venue_sym in (("ETH/USDT", "ETHUSDT"), ("BTC/USDT", "BTCUSDT")):
        sid, rid = feed.symbol_id(sym), ex.ref_ids[venue_sym]
        assert_same_book(feed.engine, sid, ex.reference, rid)
        assert feed.engine.cvd(sid) == ex.reference.cvd(rid)


def test_cancellation_closes_socket_tasks_and_ccxt_client(hft_data: Path) -> None:
    cap = capture(hft_data, ("BTCUSDT",), 6000)

    async def main() -> None:
        async with LoopbackExchange(cap, faults=Faults(throttle=0.001)) as ex:
            feed = LiveFeed(
                "binance",
                ["BTC/USDT"],
                ws_url=ex.ws_url,
                rest_url=ex.rest_url,
                rest_options=NO_RATE_LIMIT,
                frame_ts=stamps(cap),
                stale_seconds=5,
            )
            task = asyncio.create_task(feed.run())
            await eventually(
                lambda: (
                    bool(feed.by_symbol)
                    and feed.session.phase(feed.symbol_id("BTC/USDT")) == S.SyncPhase.synced
                ),
                what="sync",
            )
            rest = feed._rest
            assert rest is not None and feed._tasks  # watchdog running

            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

            assert not ex.done  # cancelled mid-stream
            assert feed._tasks == set() and feed._ws is None and feed._rest is None
            assert rest.session is None or rest.session.closed
            await eventually(lambda: ex.closed_connections == ex.connections == 1, what="close")
            mine = [
                t
                for t in asyncio.all_tasks()
                if "LiveFeed" in getattr(t.get_coro(), "__qualname__", "") and not t.done()
            ]
            assert mine == []

    asyncio.run(main())


def test_ctrl_c_stops_the_cli_cleanly_with_a_summary(hft_data: Path, tmp_path: Path) -> None:
    cap = capture(hft_data, ("BTCUSDT",), 6000)

    async def main() -> tuple[int, str, LoopbackExchange]:
        async with LoopbackExchange(cap, faults=Faults(throttle=0.002)) as ex:
            proc = await spawn_live_cli(ex)
            await eventually(lambda: ex.depth_requests.get("BTCUSDT", 0) == 1, 30, "the CLI's sync")
            await eventually(lambda: ex.sent > 500, what="streaming")
            proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), 20)
            await eventually(lambda: ex.closed_connections == ex.connections, what="socket closed")
            assert proc.returncode is not None
            return proc.returncode, out.decode() + err.decode(), ex

    code, output, ex = asyncio.run(main())

    assert code == 130, output
    assert "Traceback" not in output, output
    assert "BTC/USDT" in output and "synced" in output
    assert not ex.done


def test_render_view_shows_each_symbol_row(hft_data: Path) -> None:
    feed = LiveFeed(
        "binance", ["BTC/USDT"], instruments={"BTC/USDT": confluex.Instrument(TICK, LOT)}
    )

    async def setup() -> None:
        await feed.start()

    asyncio.run(setup())
    sid = feed.symbol_id("BTC/USDT")
    data = gzip.open(hft_data / SPOT).read()
    for ln in data.split(b"\n")[:3000]:
        ts, _, msg = ln.partition(b" ")
        if b"lastUpdateId" in msg:
            feed.session.on_snapshot(sid, msg, int(ts))
        elif msg:
            feed.session.on_message(msg, int(ts))

    screen = render_view(feed)
    row = next(line for line in screen.splitlines() if line.startswith("BTC/USDT"))
    bid = feed.engine.best_bid(sid)

    assert bid is not None
    assert f"{feed.engine.score(sid):.1f}" in row
    assert format_price(feed.engine.instrument(sid), bid[0]) in row
    assert format_price(confluex.Instrument("0.01", LOT), 6183000) == "61830.00"
    assert "synced" in row


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        (0.01, 4, "0.01"),
        (1e-05, 4, "0.00001"),
        (1e-08, 4, "0.00000001"),
        (10.0, 4, "10"),
        (0.1, 4, "0.1"),
        (2, 2, "0.01"),
        (0, 2, "1"),
        ("0.001", 4, "0.001"),
    ],
)
def test_precision_to_decimal_is_exact_in_both_ccxt_modes(
    value: float | int | str, mode: int, expected: str
) -> None:
    assert precision_to_decimal(value, mode) == expected


@pytest.mark.parametrize(("value", "mode"), [(3, 3), (-0.01, 4), (1.5, 2), (float("nan"), 4)])
def test_precision_to_decimal_refuses_what_defines_no_step(value: float, mode: int) -> None:
    with pytest.raises(ValueError, match="was"):
        precision_to_decimal(value, mode)


def test_spot_lot_follows_the_depth_feed_decimals_only_when_finer() -> None:
    market = {"symbol": "BTC/USDT", "precision": {"price": 0.01, "amount": 1e-05}}
    coarse_feed = {"symbol": "X/USDT", "precision": {"price": 0.1, "amount": 1e-09}}

    spot = instrument_from_market(market, 4, feed_qty_decimals=8)
    plain = instrument_from_market(market, 4)
    finer_step = instrument_from_market(coarse_feed, 4, feed_qty_decimals=8)

    assert (spot.tick_size_str, spot.lot_size_str) == ("0.01", "0.00000001")
    assert plain.lot_size_str == "0.00001"
    assert finer_step.lot_size_str == "0.000000001"


def test_bad_options_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="was 'kraken'"):
        LiveFeed("kraken", ["BTC/USDT"])
    with pytest.raises(ValueError, match="was -1"):
        LiveFeed("binance", ["BTC/USDT"], stale_seconds=-1)
    with pytest.raises(ValueError, match="all spot or all linear"):
        LiveFeed("bybit", ["BTC/USDT", "ETH/USDT:USDT"])


def test_cli_reports_an_unreachable_rest_endpoint_without_a_traceback() -> None:
    import argparse
    import io

    parser = argparse.ArgumentParser()
    add_live_arguments(parser)
    args = parser.parse_args(
        [
            "--symbols",
            "BTC/USDT",
            "--ws-url",
            "not a url",
            "--rest-url",
            "http://127.0.0.1:9",
            "--no-view",
        ]
    )
    out, err = io.StringIO(), io.StringIO()

    code = run_live(args, out, err)

    assert code == 1, err.getvalue()
    assert err.getvalue().startswith("confluex live: ") and "Traceback" not in err.getvalue()
    assert out.getvalue() == ""  # errors go to stderr, never to the view's stream


def test_bybit_stream_subscribes_and_syncs_from_in_stream_snapshots(hft_data: Path) -> None:
    import zipfile

    from websockets.asyncio.server import ServerConnection, serve

    sample = hft_data.parent / "nautilus_trader" / "bybit" / "xrpusdt-ob500.data.zip"
    with zipfile.ZipFile(sample) as zf:
        lines = [ln for ln in zf.read(zf.namelist()[0]).split(b"\n") if ln]
    requests: list[dict[str, object]] = []

    async def handler(ws: ServerConnection) -> None:
        async for msg in ws:
            req = json.loads(msg)
            requests.append(req)
            if req["op"] == "subscribe":
                await ws.send(json.dumps({"success": True, "op": "subscribe", "conn_id": "x"}))
                for ln in lines:
                    await ws.send(ln, text=True)

    async def main() -> LiveFeed:
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            feed = LiveFeed(
                "bybit",
                ["XRP/USDT:USDT"],
                ws_url=f"ws://127.0.0.1:{port}/v5/public/linear",
                instruments={"XRP/USDT:USDT": confluex.Instrument("0.0001", "1")},
                stale_seconds=0,
            )
            task = asyncio.create_task(feed.run())
            await eventually(
                lambda: bool(feed.by_symbol) and feed.by_symbol["XRP/USDT:USDT"].frames == 50
            )
            feed.stop()
            await task
            return feed

    feed = asyncio.run(main())
    health = feed.stats("XRP/USDT:USDT")
    sid = feed.symbol_id("XRP/USDT:USDT")
    bid, ask = feed.engine.best_bid(sid), feed.engine.best_ask(sid)

    assert requests[0] == {
        "op": "subscribe",
        "args": ["orderbook.200.XRPUSDT", "publicTrade.XRPUSDT"],
    }
    assert health["snapshot_messages"] == 1 and health["depth_messages"] == 49
    assert health["phase"] == S.SyncPhase.synced and health["desyncs"] == 0
    assert bid is not None and ask is not None and bid[0] < ask[0]


def test_recorder_flushes_every_n_lines_so_a_killed_session_keeps_them(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec.gz", flush_every=3)
    for i in range(7):
        rec.frame(1000 + i, b'{"stream":"btcusdt@trade","data":{}}')
    rec.snapshot(2000, "BTCUSDT", b'{"lastUpdateId":1,"bids":[],"asks":[]}')
    # Not closed: what a reader sees now is what a SIGKILL would leave behind.
    with open(tmp_path / "rec.gz", "rb") as fh:
        seen = zlib.decompressobj(wbits=31).decompress(fh.read()).splitlines()
    assert len(seen) == 6  # two flushes of three lines
    assert seen[0] == b'1000 {"stream":"btcusdt@trade","data":{}}'
    rec.close()
    lines = gzip.open(tmp_path / "rec.gz").read().splitlines()
    assert lines[-1] == b'2000 {"s":"BTCUSDT","lastUpdateId":1,"bids":[],"asks":[]}'
    assert len(lines) == rec.lines == 8
