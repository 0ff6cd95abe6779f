"""Trade alerts and trading events over WebSocket (protocol: ``docs/api/websocket.md``).

``AlertServer`` accepts clients on ``ws://host:port/``; a client authenticates with a
shared token in its first message (compared in constant time; a missing or wrong token
closes the connection with code 4001, no authentication within ``auth_timeout_s`` with
4002), subscribes to channels (``trade_alerts``, ``signals``, ``orders``, ``positions``,
``hft_scores``)
with optional symbol filters, and receives JSON messages.

Publishing never waits for a client: ``publish`` is a plain (sync) call that serialises a
message once and puts it on each matching client's bounded queue; a per-client task drains
the queue into the socket. A client whose queue is full is too slow: it is dropped (closed
with 4029 and counted in ``dropped_clients``) and the others keep receiving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .execution import FillEvent, Position

__all__ = ["CHANNELS", "AlertServer", "CloseCode", "trade_alert_message"]

log = logging.getLogger(__name__)

CHANNELS = ("trade_alerts", "signals", "orders", "positions", "hft_scores")


class CloseCode:
    """WebSocket close codes this server uses (4000-4999 are application codes)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down
    UNAUTHORIZED = 4001  # missing or wrong token
    AUTH_TIMEOUT = 4002  # no authenticate message in time
    HEARTBEAT_TIMEOUT = 4008  # no pong to the server's ping in time
    INTERNAL_ERROR = 1011  # a server bug (never a client's input)
    TOO_SLOW = 4029  # send queue overflowed: the client does not keep up


def _now_ms() -> int:
    return int(time.time() * 1000)


#: Deepest JSON nesting a client message may have. Real messages nest 3 deep; the limit is
#: checked before decoding, so a hostile message never reaches the recursive decoder.
MAX_NESTING = 32


def _nesting(text: str) -> int:
    """Upper bound of the JSON nesting of ``text`` (brackets inside strings count too)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:  # C-speed fast path: real messages
        return 0
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_NESTING:
                    break
        elif ch in "]}":
            depth -= 1
    return deepest


def _decode(raw: str | bytes) -> dict[str, Any] | None:
    """The message as a JSON object, or None when it is not one (bad UTF-8, too deep...)."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    if _nesting(text) > MAX_NESTING:
        return None
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return msg if isinstance(msg, dict) else None


def _token_bytes(token: str) -> bytes:
    # A JSON string may hold a lone surrogate ("\ud800"), which strict UTF-8 cannot encode;
    # such a token can never equal ours, but it must be compared, not crash the handler.
    return token.encode("utf-8", "surrogatepass")


def _peer(ws: ServerConnection) -> str:
    addr = ws.remote_address
    return f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else "?"


def trade_alert_message(fill: FillEvent) -> dict[str, Any]:
    """The ``trade_alerts`` message for one confirmed fill (reference §7.3 fields)."""
    return {
        "channel": "trade_alerts",
        "type": "trade_execution",
        "event": fill.event,
        "symbol": fill.symbol,
        "data": {
            "order_id": fill.order_id,
            "client_order_id": fill.client_order_id,
            "symbol": fill.symbol,
            "side": fill.side,
            "trade_type": fill.trade_type,
            "filled_amount": fill.filled_amount,
            "average_fill_price": fill.average_fill_price,
            "remaining": fill.remaining,
            "fee": {"cost": fill.fee_cost, "currency": fill.fee_currency},
            "position_size_usd": fill.position_size_usd,
            "confluence_score": fill.confluence_score,
            "stop_loss": fill.stop_loss,
            "take_profit": fill.take_profit,
            "exchange": fill.exchange,
            "simulated": fill.simulated,
            "transaction_id": fill.transaction_id,
            "realized_pnl": fill.realized_pnl,
        },
        "timestamp": fill.timestamp,
    }


@dataclass(eq=False)
class _Client:
    id: int
    ws: ServerConnection
    queue: asyncio.Queue[str]
    subs: dict[str, frozenset[str] | None] = field(default_factory=dict)
    last_seen: float = field(default_factory=time.monotonic)
    awaiting_pong_since: float | None = None
    dropped: bool = False

    def wants(self, channel: str, symbol: str | None) -> bool:
        if channel not in self.subs:
            return False
        symbols = self.subs[channel]
        return symbols is None or symbol is None or symbol in symbols


class AlertServer:
    """Authenticated pub/sub WebSocket server for trading events.

    Parameters
    ----------
    token
        Shared secret clients send in ``authenticate`` (use ``from_env``).
    host, port
        Bind address (``port=0`` picks a free port; read ``port`` after ``start``).
    queue_size
        Per-client bound on queued messages before the client is dropped as too slow.
    heartbeat_interval_s, heartbeat_timeout_s
        Send ``{"event": "ping"}`` after this much client silence; close with 4008 if no
        message arrives within the timeout after it (reference §7.1: 30 s / 10 s).
    auth_timeout_s
        Time allowed for the ``authenticate`` message.
    """

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        queue_size: int = 1000,
        heartbeat_interval_s: float = 30.0,
        heartbeat_timeout_s: float = 10.0,
        auth_timeout_s: float = 5.0,
        clock: Callable[[], int] | None = None,
    ) -> None:
        if not token:
            raise ValueError("token must be a non-empty string")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, was {queue_size}")
        self._token = token.encode()
        self._host = host
        self._port = port
        self._queue_size = queue_size
        self._hb_interval = heartbeat_interval_s
        self._hb_timeout = heartbeat_timeout_s
        self._auth_timeout = auth_timeout_s
        self._clock: Callable[[], int] = clock or _now_ms
        self._clients: set[_Client] = set()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.dropped_clients = 0
        self.published = 0

    def __repr__(self) -> str:  # never show the token
        return f"AlertServer(host={self._host!r}, port={self.port}, clients={len(self._clients)})"

    @classmethod
    def from_env(cls, var: str = "CONFLUEX_WS_TOKEN", **kwargs: Any) -> AlertServer:
        """Build with the token read from the environment variable ``var``."""
        token = os.environ.get(var, "")
        if not token:
            raise ValueError(f"environment variable {var} is not set")
        return cls(token, **kwargs)

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._server is None:
            return self._port
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def client_count(self) -> int:
        """Authenticated clients currently connected."""
        return len(self._clients)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind and start serving."""
        self._loop = asyncio.get_running_loop()
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            compression=None,
            close_timeout=2,
            ping_interval=None,
            max_size=65536,
        )
        self._heartbeat_task = asyncio.create_task(self._heartbeat())

    async def stop(self) -> None:
        """Close every connection (1001) and stop serving."""
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()

    async def __aenter__(self) -> AlertServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ publishing
    def publish(
        self,
        channel: str,
        data: Mapping[str, Any],
        *,
        symbol: str | None = None,
        event: str = "update",
        type: str | None = None,
    ) -> int:
        """Queue a message for every subscriber of ``channel`` (symbol-filtered); never blocks.

        Returns the number of clients it was queued for. Call it from the server's event
        loop thread (use ``publish_threadsafe`` from other threads).
        """
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel, was {channel!r}")
        msg: dict[str, Any] = {
            "channel": channel,
            "event": event,
            "symbol": symbol,
            "data": dict(data),
            "timestamp": self._clock(),
        }
        if type is not None:
            msg["type"] = type
        return self._fan_out(channel, symbol, lambda: json.dumps(msg, separators=(",", ":")))

    def publish_threadsafe(self, channel: str, data: Mapping[str, Any], **kwargs: Any) -> None:
        """``publish`` from a thread other than the server's loop."""
        if self._loop is None:
            raise RuntimeError("server not started")
        self._loop.call_soon_threadsafe(lambda: self.publish(channel, data, **kwargs))

    def publish_fill(self, fill: FillEvent) -> int:
        """Publish one confirmed fill on ``trade_alerts`` (an ``Executor`` ``on_fill`` hook)."""
        return self._fan_out(
            "trade_alerts",
            fill.symbol,
            lambda: json.dumps(trade_alert_message(fill), separators=(",", ":")),
        )

    def publish_order(self, order: Mapping[str, Any]) -> int:
        """Publish a ccxt order structure on ``orders`` (an ``Executor`` ``on_order`` hook)."""
        keys = (
            "id",
            "clientOrderId",
            "type",
            "side",
            "price",
            "average",
            "amount",
            "filled",
            "remaining",
            "status",
            "stopLossPrice",
            "takeProfitPrice",
            "reduceOnly",
        )
        data = {k: order.get(k) for k in keys}
        return self.publish("orders", data, symbol=order.get("symbol"))

    def publish_position(self, pos: Position) -> int:
        """Publish a position on ``positions`` (an ``Executor`` ``on_position`` hook)."""
        data = {
            "direction": pos.direction,
            "amount": pos.amount,
            "entry_price": pos.entry_price,
            "stop_loss": pos.stop_loss,
            "take_profit": pos.take_profit,
            "trailing_pct": pos.trailing_pct,
            "realized_pnl": pos.realized_pnl,
            "fees": pos.fees,
        }
        return self.publish("positions", data, symbol=pos.symbol)

    def _fan_out(self, channel: str, symbol: str | None, encode: Callable[[], str]) -> int:
        """Queue ``encode()`` for each subscriber; the JSON is built only if one wants it, so a
        channel nobody subscribed to (e.g. ``hft_scores`` on every score) costs no encoding."""
        self.published += 1
        wanted = [c for c in self._clients if not c.dropped and c.wants(channel, symbol)]
        if not wanted:
            return 0
        text = encode()
        n = 0
        for client in wanted:
            try:
                client.queue.put_nowait(text)
                n += 1
            except asyncio.QueueFull:
                self._drop(client)
        return n

    def _drop(self, client: _Client) -> None:
        client.dropped = True
        self._clients.discard(client)
        self.dropped_clients += 1
        log.warning("client %d dropped: send queue full (%d)", client.id, self._queue_size)
        self._spawn(client.ws.close(CloseCode.TOO_SLOW, "too slow"))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ connections
    async def _send(self, ws: ServerConnection, msg: Mapping[str, Any]) -> None:
        await ws.send(json.dumps({**msg, "timestamp": self._clock()}, separators=(",", ":")))

    async def _authenticate(self, ws: ServerConnection) -> bool:
        try:
            raw = await asyncio.wait_for(ws.recv(), self._auth_timeout)
        except asyncio.TimeoutError:
            await ws.close(CloseCode.AUTH_TIMEOUT, "authentication timeout")
            return False
        msg = _decode(raw)
        token = msg.get("token") if msg is not None else None
        ok = (
            msg is not None
            and msg.get("action") == "authenticate"
            and isinstance(token, str)
            and hmac.compare_digest(_token_bytes(token), self._token)
        )
        if not ok:
            await self._send(ws, {"event": "error", "code": 401, "message": "unauthorized"})
            await ws.close(CloseCode.UNAUTHORIZED, "unauthorized")
        return ok

    async def _handle(self, ws: ServerConnection) -> None:
        # Every path out of here is a return: an exception escaping a handler makes websockets
        # close with 1011 and log a traceback, which a client's input must never cause.
        client: _Client | None = None
        sender: asyncio.Task[None] | None = None
        try:
            if not await self._authenticate(ws):
                return
            client = _Client(next(self._ids), ws, asyncio.Queue(self._queue_size))
            await self._send(
                ws,
                {
                    "event": "authenticated",
                    "success": True,
                    "client_id": client.id,
                    "channels": list(CHANNELS),
                },
            )
            self._clients.add(client)
            log.info("client %d authenticated from %s", client.id, _peer(ws))
            sender = asyncio.create_task(self._sender(client))
            async for raw in ws:
                client.last_seen = time.monotonic()
                client.awaiting_pong_since = None
                await self._on_message(client, raw)
        except ConnectionClosed:
            pass  # the client left (or vanished) at any point: nothing to answer
        except Exception as exc:  # a server bug: close 1011 with one log line, no traceback
            log.error(
                "client %s: internal error, closing with 1011: %s: %s",
                client.id if client is not None else "-",
                type(exc).__name__,
                exc,
            )
            log.debug("internal error detail", exc_info=True)
            with contextlib.suppress(Exception):
                await ws.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            if client is not None:
                self._clients.discard(client)
                log.info("client %d disconnected (close code %s)", client.id, ws.close_code)
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def _sender(self, client: _Client) -> None:
        try:
            while True:
                text = await client.queue.get()
                await client.ws.send(text)
        except ConnectionClosed:
            pass

    async def _on_message(self, client: _Client, raw: str | bytes) -> None:
        msg = _decode(raw)
        if msg is None:
            await self._error(client, 400, "message must be a JSON object (UTF-8, nesting <= 32)")
            return
        action = msg.get("action")
        if action in ("subscribe", "unsubscribe"):
            await self._subscription(client, action, msg)
        elif action == "ping":
            await self._reply(client, {"event": "pong"})
        elif action == "pong":
            pass  # liveness already recorded
        elif action == "authenticate":
            await self._error(client, 400, "already authenticated")
        else:
            await self._error(client, 400, f"unknown action, was {action!r}")

    async def _subscription(self, client: _Client, action: str, msg: dict[str, Any]) -> None:
        channels = msg.get("channels")
        params = msg.get("params") or {}
        if not isinstance(channels, list) or not channels or not isinstance(params, dict):
            await self._error(client, 400, "channels must be a non-empty list")
            return
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown:
            await self._error(client, 404, f"unknown channels, was {unknown}")
            return
        symbols = params.get("symbols")
        if symbols is not None and (
            not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols)
        ):
            await self._error(client, 400, "params.symbols must be a list of strings")
            return
        wanted = frozenset(symbols) if symbols else None
        for c in channels:
            if action == "subscribe":
                client.subs[c] = wanted
            else:
                client.subs.pop(c, None)
        # Echo what was understood (not the raw params, which may hold anything).
        echo = {"symbols": symbols} if symbols is not None else {}
        await self._reply(client, {"event": f"{action}d", "channels": channels, "params": echo})

    async def _reply(self, client: _Client, msg: Mapping[str, Any]) -> None:
        # control replies go through the queue too, so they stay ordered with data
        text = json.dumps({**msg, "timestamp": self._clock()}, separators=(",", ":"))
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            self._drop(client)

    async def _error(self, client: _Client, code: int, message: str) -> None:
        await self._reply(client, {"event": "error", "code": code, "message": message})

    async def _heartbeat(self) -> None:
        tick = max(0.01, min(self._hb_interval, self._hb_timeout) / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for client in list(self._clients):
                if client.awaiting_pong_since is not None:
                    if now - client.awaiting_pong_since > self._hb_timeout:
                        self._clients.discard(client)
                        log.info("client %d closed: heartbeat timeout", client.id)
                        self._spawn(
                            client.ws.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
                        )
                elif now - client.last_seen > self._hb_interval:
                    client.awaiting_pong_since = now
                    await self._reply(client, {"event": "ping"})

    def subscriptions(self) -> list[dict[str, Iterable[str] | None]]:
        """Current subscriptions per client (diagnostics)."""
        return [
            {c: (sorted(s) if s is not None else None) for c, s in cl.subs.items()}
            for cl in self._clients
        ]
