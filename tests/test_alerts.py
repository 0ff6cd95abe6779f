"""AlertServer with real ``websockets`` clients on loopback (coroutines via asyncio.run)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from confluex.trading.alerts import CHANNELS, AlertServer, CloseCode
from confluex.trading.execution import Executor, FillEvent
from confluex.trading.paper_venue import PaperExchange, PaperMarket
from confluex.trading.types import OrderIntent, Side
from venue_sim import eventually
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TOKEN = "alerts-token-1234567890"
TRADE_ALERT_FIELDS = {
    "order_id",
    "client_order_id",
    "symbol",
    "side",
    "trade_type",
    "filled_amount",
    "average_fill_price",
    "remaining",
    "fee",
    "position_size_usd",
    "confluence_score",
    "stop_loss",
    "take_profit",
    "exchange",
    "simulated",
    "transaction_id",
    "realized_pnl",
}


@asynccontextmanager
async def server(**kw: Any) -> AsyncIterator[AlertServer]:
    srv = AlertServer(TOKEN, port=0, **kw)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def recv_json(ws: ClientConnection, timeout: float = 2.0) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return msg


@asynccontextmanager
async def client(
    srv: AlertServer, channels: list[str] | None = None, symbols: list[str] | None = None, **kw: Any
) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://127.0.0.1:{srv.port}", **kw) as ws:
        await ws.send(json.dumps({"action": "authenticate", "token": TOKEN}))
        assert (await recv_json(ws))["event"] == "authenticated"
        if channels:
            params = {"symbols": symbols} if symbols else {}
            await ws.send(
                json.dumps({"action": "subscribe", "channels": channels, "params": params})
            )
            assert (await recv_json(ws))["event"] == "subscribed"
        yield ws


def fill_event(symbol: str = "BTC/USDT") -> FillEvent:
    return FillEvent(
        event="filled",
        order_id="1",
        client_order_id="cfx1",
        symbol=symbol,
        side="buy",
        trade_type="entry",
        filled_amount=1.0,
        average_fill_price=100.0,
        remaining=0.0,
        fee_cost=0.1,
        fee_currency="USDT",
        position_size_usd=100.0,
        confluence_score=75.0,
        stop_loss=95.0,
        take_profit=110.0,
        exchange="paper",
        simulated=True,
        transaction_id="1:1",
        realized_pnl=0.0,
        timestamp=1,
    )


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=("missing", "wrong"))
def test_connection_without_valid_token_is_closed_with_4001(token: str | None) -> None:
    async def main() -> None:
        async with server() as srv:
            async with connect(f"ws://127.0.0.1:{srv.port}") as ws:
                first: dict[str, Any] = {"action": "authenticate"}
                if token is not None:
                    first["token"] = token
                await ws.send(json.dumps(first))
                err = await recv_json(ws)
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2.0)

            assert err == {
                "event": "error",
                "code": 401,
                "message": "unauthorized",
                "timestamp": err["timestamp"],
            }
            assert ws.close_code == CloseCode.UNAUTHORIZED
            assert srv.client_count == 0

    asyncio.run(main())


def test_subscription_symbol_filter_delivers_only_matching_symbols() -> None:
    async def main() -> None:
        async with (
            server() as srv,
            client(srv, ["signals"], ["ETH/USDT"]) as eth,
            client(srv, ["signals"]) as every,
        ):
            srv.publish("signals", {"score": 80}, symbol="BTC/USDT")
            srv.publish("signals", {"score": 20}, symbol="ETH/USDT")
            srv.publish("orders", {"id": "x"}, symbol="ETH/USDT")  # not subscribed

            got_eth = await recv_json(eth)
            got_all = [await recv_json(every), await recv_json(every)]
            await eth.send(json.dumps({"action": "ping"}))
            assert (await recv_json(eth))["event"] == "pong"  # nothing else was queued

            assert (got_eth["symbol"], got_eth["data"]) == ("ETH/USDT", {"score": 20})
            assert [m["symbol"] for m in got_all] == ["BTC/USDT", "ETH/USDT"]

    asyncio.run(main())


def test_unsubscribe_stops_delivery() -> None:
    async def main() -> None:
        async with server() as srv, client(srv, ["positions"]) as ws:
            await ws.send(json.dumps({"action": "unsubscribe", "channels": ["positions"]}))
            ack = await recv_json(ws)
            srv.publish("positions", {"amount": 1.0}, symbol="BTC/USDT")
            await ws.send(json.dumps({"action": "ping"}))

            assert ack["event"] == "unsubscribed"
            assert (await recv_json(ws))["event"] == "pong"

    asyncio.run(main())


def test_message_nobody_subscribed_to_is_never_encoded() -> None:
    """The engine may publish every score on ``hft_scores``; with no subscriber for a channel
    and symbol the message is counted and dropped before any JSON is built (an object that
    json cannot encode shows whether it was)."""

    class Unencodable:
        pass

    async def main() -> None:
        async with server() as srv, client(srv, ["hft_scores"], ["ETH/USDT"]) as ws:
            before = srv.published
            assert srv.publish("hft_scores", {"x": Unencodable()}, symbol="BTC/USDT") == 0
            assert srv.publish("signals", {"x": Unencodable()}, symbol="ETH/USDT") == 0
            assert srv.published == before + 2
            with pytest.raises(TypeError, match="Unencodable"):
                srv.publish("hft_scores", {"x": Unencodable()}, symbol="ETH/USDT")
            assert srv.publish("hft_scores", {"score": 61.5}, symbol="ETH/USDT") == 1
            assert (await recv_json(ws))["data"] == {"score": 61.5}

    asyncio.run(main())


def test_unknown_channel_and_bad_json_get_error_messages() -> None:
    async def main() -> None:
        async with server() as srv, client(srv) as ws:
            await ws.send(json.dumps({"action": "subscribe", "channels": ["nope"]}))
            unknown = await recv_json(ws)
            await ws.send("{not json")
            bad = await recv_json(ws)

            assert (unknown["event"], unknown["code"]) == ("error", 404)
            assert (bad["event"], bad["code"]) == ("error", 400)

    asyncio.run(main())


def test_paper_fill_produces_exactly_one_trade_alert_with_documented_fields() -> None:
    async def main() -> None:
        book = ([(99.99, 100.0)], [(100.01, 100.0)])
        ex = PaperExchange(
            [PaperMarket("BTC/USDT", "BTC", "USDT")],
            lambda s: book,
            balances={"USDT": 10_000.0},
            clock=lambda: 0,
        )
        async with server() as srv, client(srv, ["trade_alerts"]) as ws:
            executor = Executor(ex, on_fill=srv.publish_fill)
            await executor.start()
            await executor.open(
                OrderIntent(
                    "BTC/USDT", Side.BUY, 1000.0, 100.0, None, None, None, 72.0, 0, "test", "test"
                )
            )
            alert = await recv_json(ws)
            await ws.send(json.dumps({"action": "ping"}))
            after = await recv_json(ws)

            assert after["event"] == "pong"  # exactly one alert came before it
            assert (alert["channel"], alert["type"], alert["event"]) == (
                "trade_alerts",
                "trade_execution",
                "filled",
            )
            assert set(alert["data"]) == TRADE_ALERT_FIELDS
            assert alert["data"]["trade_type"] == "entry" and alert["data"]["simulated"] is True
            assert alert["data"]["filled_amount"] == pytest.approx(10.0)
            assert alert["data"]["confluence_score"] == 72.0

    asyncio.run(main())


def test_executor_hooks_publish_order_and_position_updates() -> None:
    async def main() -> None:
        book = ([(99.99, 100.0)], [(100.01, 100.0)])
        ex = PaperExchange(
            [PaperMarket("BTC/USDT", "BTC", "USDT")],
            lambda s: book,
            balances={"USDT": 10_000.0},
            clock=lambda: 0,
        )
        async with server() as srv, client(srv, ["orders", "positions"]) as ws:
            executor = Executor(ex, on_order=srv.publish_order, on_position=srv.publish_position)
            await executor.start()
            await executor.open(
                OrderIntent(
                    "BTC/USDT", Side.BUY, 1000.0, 100.0, None, None, None, 72.0, 0, "t", "t"
                )
            )
            got = [await recv_json(ws), await recv_json(ws)]
            await ws.send(json.dumps({"action": "ping"}))

            assert (await recv_json(ws))["event"] == "pong"  # one order update, one position
            assert [m["channel"] for m in got] == ["orders", "positions"]
            assert (got[0]["data"]["status"], got[0]["data"]["filled"]) == ("closed", 10.0)
            assert got[1]["data"]["direction"] == "long"
            assert got[1]["data"]["amount"] == pytest.approx(10.0)

    asyncio.run(main())


def test_slow_client_is_dropped_without_blocking_other_subscribers() -> None:
    async def main() -> None:
        async with (
            server(queue_size=16) as srv,
            client(srv, ["trade_alerts"]) as fast,
            client(srv, ["trade_alerts"], max_queue=1) as slow,
        ):
            received = 0

            async def reader() -> None:
                nonlocal received
                while True:
                    await fast.recv()
                    received += 1

            task = asyncio.create_task(reader())
            sent = 0
            while srv.dropped_clients == 0 and sent < 50_000:
                srv.publish_fill(fill_event())  # sync; never waits for a client
                sent += 1
                if sent % 4 == 0:
                    await asyncio.sleep(0)
            await eventually(lambda: received == sent, timeout=10)
            task.cancel()
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(slow.recv(), 5)

            assert srv.dropped_clients == 1
            assert srv.client_count == 1
            assert slow.close_code in (CloseCode.TOO_SLOW, 1006)

    asyncio.run(main())


def test_server_pings_a_silent_client_and_closes_it_without_pong() -> None:
    async def main() -> None:
        async with (
            server(heartbeat_interval_s=0.05, heartbeat_timeout_s=0.1) as srv,
            client(srv) as ws,
        ):
            ping = await recv_json(ws)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 2.0)

            assert ping["event"] == "ping"
            assert ws.close_code == CloseCode.HEARTBEAT_TIMEOUT

    asyncio.run(main())


def test_token_is_required_and_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFLUEX_WS_TOKEN", TOKEN)
    srv = AlertServer.from_env()
    monkeypatch.delenv("CONFLUEX_WS_TOKEN")

    assert TOKEN not in repr(srv)
    with pytest.raises(ValueError, match="CONFLUEX_WS_TOKEN"):
        AlertServer.from_env()
    with pytest.raises(ValueError, match="unknown channel"):
        srv.publish("market_data", {})
    assert set(CHANNELS) == {"trade_alerts", "signals", "orders", "positions", "hft_scores"}


# --- hostile input: every bad message gets its documented answer, never a traceback ----------

DEEP_JSON = "[" * 30_000 + "]" * 30_000  # 60 KB: under max_size, far over the decoder's stack
HOSTILE_FIRST_MESSAGES = {
    "lone_surrogate_token": '{"action": "authenticate", "token": "\\ud800"}',
    "deep_json": DEEP_JSON,
    "deep_object_token": '{"action": "authenticate", "token": ' + "[" * 5000 + "]" * 5000 + "}",
    "number_token": '{"action": "authenticate", "token": 12345}',
    "json_array": '["authenticate"]',
    "binary_not_utf8": b"\xff\xfe{",
}


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [], [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.mark.parametrize(
    "first", list(HOSTILE_FIRST_MESSAGES.values()), ids=list(HOSTILE_FIRST_MESSAGES)
)
def test_hostile_first_message_is_refused_with_4001_and_no_traceback(
    first: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> tuple[dict[str, Any], int | None, int]:
        async with server() as srv:
            async with connect(f"ws://127.0.0.1:{srv.port}", max_size=None) as ws:
                await ws.send(first)
                err = await recv_json(ws)
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2.0)
            return err, ws.close_code, srv.client_count

    err, code, clients = asyncio.run(main())

    assert (err["event"], err["code"]) == ("error", 401)
    assert code == CloseCode.UNAUTHORIZED
    assert clients == 0
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    "message",
    [
        DEEP_JSON,
        '{"action": "subscribe", "channels": ["signals"], "params": {"x": '
        + "[" * 990
        + "]" * 990
        + "}}",
        '{"action": "\\ud800"}',
        b"\xff",
    ],
    ids=("deep_json", "deep_params", "surrogate_action", "binary_not_utf8"),
)
def test_hostile_message_after_authentication_gets_400_and_the_connection_stays(
    message: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with server() as srv, client(srv, max_size=None) as ws:
            await ws.send(message)
            err = await recv_json(ws)
            await ws.send(
                json.dumps(
                    {
                        "action": "subscribe",
                        "channels": ["signals"],
                        "params": {"symbols": ["\ud800"]},
                    }
                )
            )
            sub = await recv_json(ws)
            srv.publish("signals", {"score": 1.0}, symbol="\ud800")
            data = await recv_json(ws)
            return err, sub, data

    err, sub, data = asyncio.run(main())

    assert (err["event"], err["code"]) == ("error", 400)
    assert sub["event"] == "subscribed" and sub["params"] == {"symbols": ["\ud800"]}
    assert data["channel"] == "signals" and data["symbol"] == "\ud800"
    assert_no_traceback(caplog)


def test_client_vanishing_right_after_authenticating_is_no_server_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> AlertServer:
        async with server() as srv:
            for _ in range(10):
                ws = await connect(f"ws://127.0.0.1:{srv.port}")
                await ws.send(json.dumps({"action": "authenticate", "token": TOKEN}))
                ws.transport.abort()  # gone before the server answers "authenticated"
            await eventually(lambda: srv.client_count == 0, timeout=5)
            await asyncio.sleep(0.2)  # let every handler finish
            async with client(srv, ["signals"]) as ws:  # the server still serves
                srv.publish("signals", {"score": 2.0})
                assert (await recv_json(ws))["data"] == {"score": 2.0}
            return srv

    asyncio.run(main())

    assert_no_traceback(caplog)


def test_oversized_message_is_closed_with_1009() -> None:
    async def main() -> int | None:
        async with server() as srv, client(srv, max_size=None) as ws:
            await ws.send('{"action": "ping", "pad": "' + "x" * 70_000 + '"}')
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 2.0)
            return ws.close_code

    assert asyncio.run(main()) == 1009
