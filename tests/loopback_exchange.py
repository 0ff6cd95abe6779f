"""A loopback Binance: a WebSocket combined-stream server and a REST endpoint on 127.0.0.1.

Replays a real capture from ``tests/data/hftbacktest`` (each line is what Binance sent on the
combined stream) as fast as the client reads it, and serves over REST:

- ``/api/v3/exchangeInfo`` (``/fapi/v1/exchangeInfo``): enough of Binance's answer for ccxt's
  ``load_markets()`` to build the served symbols' markets;
- ``/api/v3/depth`` (``/fapi/v1/depth``): the capture's own REST snapshot line the first time
  a symbol asks (served once the stream has passed the point where it was taken), and later
  a fresh snapshot of a reference book: a FeedSession fed with every line the server has
  emitted, including the ones it dropped on purpose, exactly as a real exchange's book moves
  on while a client misses messages.

More than one symbol: extra symbols are the same capture with the symbol renamed
(``ETHUSDT``), interleaved line by line, each with its own reference book.

With ``rest_data`` (:class:`RestData`) it also serves the market-data REST calls that the live
warm-up and polling make (confluex.feeds.rest_poll), in Binance's documented response formats:
``/klines`` (spot and USD-M), and on USD-M ``/fapi/v1/premiumIndex`` (current funding),
``/fapi/v1/fundingRate`` (funding history), ``/fapi/v1/openInterest``,
``/futures/data/openInterestHist`` and ``/futures/data/globalLongShortAccountRatio``. "Current"
values are the latest samples at or before ``server_time_ms``; ``rest_failures[path] = n``
makes the next n calls of that path fail with a Binance error body, and a path in
``rest_hang`` (klines) never answers until the exchange closes (a hung venue). Without
``rest_data`` none of these routes exists: the venue answers 404, as one without klines would.

Fault injection for tests: ``drop`` (line indices emitted to the reference but not sent),
``close_after`` (close the socket after a line, once), ``pause(symbol)`` / ``resume(symbol)``
(hold one symbol's lines while the others flow).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import confluex
from aiohttp import web
from confluex import _core
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    from confluex.feeds.live import LiveFeed

S = _core.session

SPOT_BTC_EXCHANGE_INFO = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 8,
    "baseCommissionPrecision": 8,
    "quoteCommissionPrecision": 8,
    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
    "icebergAllowed": True,
    "ocoAllowed": True,
    "quoteOrderQtyMarketAllowed": True,
    "allowTrailingStop": True,
    "cancelReplaceAllowed": True,
    "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": True,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "0.01000000",
            "maxPrice": "1000000.00000000",
            "tickSize": "0.01000000",
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": "0.00001000",
            "maxQty": "9000.00000000",
            "stepSize": "0.00001000",
        },
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": "83.12000000",
            "stepSize": "0.00000000",
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": 10,
            "maxTrailingAboveDelta": 2000,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ],
    "permissions": [],
    "permissionSets": [["SPOT", "MARGIN"]],
    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
}


USDM_BTC_EXCHANGE_INFO = {
    "symbol": "BTCUSDT",
    "pair": "BTCUSDT",
    "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000,
    "onboardDate": 1569398400000,
    "status": "TRADING",
    "maintMarginPercent": "2.5000",
    "requiredMarginPercent": "5.0000",
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
    "marginAsset": "USDT",
    "pricePrecision": 2,
    "quantityPrecision": 3,
    "baseAssetPrecision": 8,
    "quotePrecision": 8,
    "underlyingType": "COIN",
    "underlyingSubType": ["PoW"],
    "triggerProtect": "0.0500",
    "liquidationFee": "0.012500",
    "marketTakeBound": "0.05",
    "maxMoveOrderLimit": 10000,
    "filters": [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": "556.80",
            "maxPrice": "4529764",
            "tickSize": "0.10",
        },
        {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
}


def stream_key(stream: str) -> str:
    """'btcusdt@depth@0ms' -> 'btcusdt@depth': a subscription at any speed gets the diffs."""
    return "@".join(stream.split("@")[:2])


@dataclass
class Line:
    index: int
    ts_ns: int
    symbol: str  # venue symbol, upper case
    stream: str  # combined-stream name
    payload: bytes  # the raw JSON Binance sent


@dataclass
class Capture:
    """A capture split into stream lines and each symbol's REST snapshot."""

    lines: list[Line]
    snapshots: dict[str, tuple[int, bytes]]  # symbol -> (index of the first line after it, json)
    snapshot_ts: dict[str, int]


def load_capture(
    path: Path, symbols: tuple[str, ...] = ("BTCUSDT",), max_lines: int | None = None
) -> Capture:
    """Reads a BTCUSDT capture; symbols after the first are renamed copies, interleaved."""
    raw = [ln for ln in gzip.open(path).read().split(b"\n") if ln]
    if max_lines is not None:
        raw = raw[:max_lines]
    lines: list[Line] = []
    snapshots: dict[str, tuple[int, bytes]] = {}
    snapshot_ts: dict[str, int] = {}
    for ln in raw:
        ts_b, _, msg = ln.partition(b" ")
        for sym in symbols:
            if b"lastUpdateId" in msg:
                snapshots[sym] = (len(lines), msg)
                snapshot_ts[sym] = int(ts_b)
                continue
            data = rename(msg, sym)
            stream = json.loads(data)["stream"]
            lines.append(Line(len(lines), int(ts_b), sym, stream, data))
    return Capture(lines, snapshots, snapshot_ts)


def rename(msg: bytes, sym: str) -> bytes:
    if sym == "BTCUSDT":
        return msg
    return msg.replace(b"btcusdt@", sym.lower().encode() + b"@").replace(
        b'"s":"BTCUSDT"', b'"s":"' + sym.encode() + b'"'
    )


def fmt(units: int, step: str) -> str:
    return format(Decimal(step) * units, "f")


def rest_snapshot_json(engine: _core.engine.Engine, sym: int, tick: str, lot: str) -> bytes:
    """A Binance REST depth snapshot of an engine's whole book, prices as exchange decimals."""
    bids, asks = engine.top(sym, 1_000_000)
    out = {
        "lastUpdateId": engine.stats(sym).last_update_id,
        "bids": [[fmt(int(p), tick), fmt(int(q), lot)] for p, q in bids],
        "asks": [[fmt(int(p), tick), fmt(int(q), lot)] for p, q in asks],
    }
    return json.dumps(out).encode()


@dataclass
class RestData:
    """What the REST market-data endpoints serve (times in ms, oldest first).

    klines: ccxt timeframe -> [open_ms, open, high, low, close, volume] rows;
    funding: (funding_ms, rate); open_interest: (ms, base quantity); long_short: (ms,
    long account share, short account share).
    """

    klines: dict[str, list[list[float]]] = field(default_factory=dict)
    funding: list[tuple[int, float]] = field(default_factory=list)
    open_interest: list[tuple[int, float]] = field(default_factory=list)
    long_short: list[tuple[int, float, float]] = field(default_factory=list)
    mark_price: float = 0.0


TIMEFRAME_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
                "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}  # fmt: skip


def _window(rows: list, ts: Callable[[object], int], q: Mapping[str, str], limit: int) -> list:
    """Binance's startTime / endTime / limit selection: the latest `limit` rows in range."""
    lo = int(q.get("startTime", -(2**62)))
    hi = int(q.get("endTime", 2**62))
    sel = [r for r in rows if lo <= ts(r) <= hi]
    n = min(int(q.get("limit", limit)), 1500)
    return sel[:n] if "startTime" in q else sel[-n:]


@dataclass
class Faults:
    drop: set[int] = field(default_factory=set)  # line indices not sent (still emitted)
    close_after: int | None = None  # close the connection after sending this line, once
    throttle: float = 0.0  # seconds to sleep after each line (0: as fast as possible)
    throttle_only_while_paused: bool = False


class LoopbackExchange:
    """Loopback WS + REST Binance serving one capture; use ``async with``."""

    def __init__(
        self,
        capture: Capture,
        *,
        tick: str = "0.01",
        lot: str = "0.00000001",
        futures: bool = False,
        faults: Faults | None = None,
        rest_data: RestData | None = None,
    ) -> None:
        self.capture = capture
        self.rest_data = rest_data
        self.server_time_ms = 0  # "now" of the current-value REST endpoints
        self.rest_failures: dict[str, int] = {}  # path -> calls left to fail
        self.rest_requests: dict[str, int] = {}  # path -> calls served (failures included)
        # Paths whose REST calls never answer (a hung venue) until the exchange closes.
        self.rest_hang: set[str] = set()
        self._closing = asyncio.Event()
        self.tick, self.lot = tick, lot
        self.futures = futures
        self.faults = faults or Faults()
        self.cursor = 0  # next line to emit
        self.sent = 0
        self.connections = 0
        self.closed_connections = 0
        self.subscribed: list[set[str]] = []
        self.depth_requests: dict[str, int] = {}
        self.snapshots_served: list[tuple[str, int]] = []  # (symbol, lastUpdateId)
        self.symbols = sorted({ln.symbol for ln in capture.lines})
        self.reference = confluex.Engine()
        self.ref_session = S.FeedSession(
            self.reference, S.Venue.binance_futures if futures else S.Venue.binance_spot
        )
        self.ref_ids: dict[str, int] = {}
        for s in self.symbols:
            self.ref_ids[s] = self.reference.add_symbol(s, confluex.Instrument(tick, lot))
            self.ref_session.add_symbol(s, self.ref_ids[s])
        self._paused: set[str] = set()
        self._held: dict[str, deque[Line]] = {s: deque() for s in self.symbols}
        # A test's gates: the stream stops before line stream_gate[0] until stream_gate[1] is
        # set; the REST depth answers wait until depth_gate is set (where a snapshot lands).
        self.stream_gate: tuple[int, asyncio.Event] | None = None
        self.depth_gate: asyncio.Event | None = None
        self._ws_server: Server | None = None
        self._runner: web.AppRunner | None = None
        self._closed_once = False
        self.ws_port = 0
        self.rest_port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> LoopbackExchange:
        self._ws_server = await serve(
            self._handle_ws, "127.0.0.1", 0, compression=None, max_size=None
        )
        self.ws_port = self._ws_server.sockets[0].getsockname()[1] if self._ws_server.sockets else 0
        app = web.Application()
        prefix = "/fapi/v1" if self.futures else "/api/v3"
        app.router.add_get(prefix + "/exchangeInfo", self._exchange_info)
        app.router.add_get(prefix + "/depth", self._depth)
        if self.rest_data is not None:
            app.router.add_get(prefix + "/klines", self._klines)
            if self.futures:
                app.router.add_get("/fapi/v1/premiumIndex", self._premium_index)
                app.router.add_get("/fapi/v1/fundingRate", self._funding_rate)
                app.router.add_get("/fapi/v1/openInterest", self._open_interest)
                app.router.add_get("/futures/data/openInterestHist", self._open_interest_hist)
                app.router.add_get(
                    "/futures/data/globalLongShortAccountRatio", self._long_short_ratio
                )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.rest_port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # releases the hung REST calls
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/stream"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def done(self) -> bool:
        return self.cursor >= len(self.capture.lines) and not any(self._held.values())

    # -- control --------------------------------------------------------------------------------

    def pause(self, symbol: str) -> None:
        self._paused.add(symbol)

    def resume(self, symbol: str) -> None:
        self._paused.discard(symbol)

    def expected_lines(self, symbol: str) -> int:
        """Stream lines of a symbol the client should receive (all but dropped ones)."""
        return sum(
            1
            for ln in self.capture.lines
            if ln.symbol == symbol and ln.index not in self.faults.drop
        )

    # -- emission -------------------------------------------------------------------------------

    def _emit_to_reference(self, line: Line) -> None:
        for sym, (pos, snap) in self.capture.snapshots.items():
            if pos == line.index and sym in self.ref_ids:
                self.ref_session.on_snapshot(self.ref_ids[sym], snap, self.capture.snapshot_ts[sym])
        self.ref_session.on_message(line.payload, line.ts_ns)

    async def _handle_ws(self, ws: ServerConnection) -> None:
        self.connections += 1
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        requested = set(query.get("streams", [""])[0].split("/"))
        self.subscribed.append(requested)
        streams = {stream_key(s) for s in requested}
        try:
            await self._stream(ws, streams)
            await ws.wait_closed()  # end of capture: stay connected, silent, like a quiet market
        except ConnectionClosed:
            pass  # the client went away mid-stream
        finally:
            self.closed_connections += 1

    async def _stream(self, ws: ServerConnection, streams: set[str]) -> None:
        lines = self.capture.lines
        while True:
            line: Line | None = None
            for sym in self.symbols:  # held lines of resumed symbols go first, in order
                if sym not in self._paused and self._held[sym]:
                    line = self._held[sym].popleft()
                    break
            if line is None:
                if self.cursor >= len(lines):
                    if any(self._held.values()):
                        await asyncio.sleep(0.005)  # a symbol is paused: wait for resume()
                        continue
                    return
                gate = self.stream_gate
                if gate is not None and self.cursor == gate[0]:
                    await gate[1].wait()
                line = lines[self.cursor]
                self.cursor += 1
                if line.symbol in self._paused:
                    self._held[line.symbol].append(line)
                    continue
            self._emit_to_reference(line)
            if line.index not in self.faults.drop and stream_key(line.stream) in streams:
                await ws.send(line.payload, text=True)
                self.sent += 1
            if self.faults.throttle and (
                self._paused or not self.faults.throttle_only_while_paused
            ):
                await asyncio.sleep(self.faults.throttle)
            elif self.sent % 64 == 0:
                await asyncio.sleep(0)  # let the REST endpoint answer while streaming
            if self.faults.close_after == line.index and not self._closed_once:
                self._closed_once = True
                await ws.close()
                return

    # -- REST -----------------------------------------------------------------------------------

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = []
        for s in self.symbols:
            template = USDM_BTC_EXCHANGE_INFO if self.futures else SPOT_BTC_EXCHANGE_INFO
            info = json.loads(json.dumps(template))
            info["symbol"], info["baseAsset"] = s, s.removesuffix("USDT")
            if self.futures:
                info["pair"] = s
            symbols.append(info)
        body = {
            "timezone": "UTC",
            "serverTime": 1723161254206,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": symbols,
        }
        return web.json_response(body)

    async def _depth(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol", "")
        if sym not in self.ref_ids:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        n = self.depth_requests.get(sym, 0)
        self.depth_requests[sym] = n + 1
        pos, snap = self.capture.snapshots[sym]
        if n == 0 or not self.reference.in_sync(self.ref_ids[sym]):
            # The capture's snapshot is served once the stream has reached the time it was taken.
            while self.cursor < pos:
                await asyncio.sleep(0.001)
            if self.depth_gate is not None:
                await self.depth_gate.wait()
            body = snap
        else:
            body = rest_snapshot_json(self.reference, self.ref_ids[sym], self.tick, self.lot)
        self.snapshots_served.append((sym, int(json.loads(body)["lastUpdateId"])))
        return web.Response(body=body, content_type="application/json")

    # -- REST market data (rest_data) --------------------------------------------------------

    def _rest_fault(self, request: web.Request) -> web.Response | None:
        path = request.path
        self.rest_requests[path] = self.rest_requests.get(path, 0) + 1
        if self.rest_failures.get(path, 0) > 0:
            self.rest_failures[path] -= 1
            body = {"code": -1000, "msg": "An unknown error occured while processing the request."}
            return web.json_response(body, status=400)
        sym = request.query.get("symbol")
        if sym is not None and sym not in self.ref_ids:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return None

    async def _klines(self, request: web.Request) -> web.Response:
        if (err := self._rest_fault(request)) is not None:
            return err
        if request.path in self.rest_hang:
            await self._closing.wait()
            return web.json_response([], status=503)
        assert self.rest_data is not None
        tf = request.query.get("interval", "1m")
        rows = self.rest_data.klines.get(tf, [])
        step = TIMEFRAME_MS[tf]
        out = [
            [
                int(r[0]),
                f"{r[1]:.8f}",
                f"{r[2]:.8f}",
                f"{r[3]:.8f}",
                f"{r[4]:.8f}",
                f"{r[5]:.8f}",
                int(r[0]) + step - 1,
                f"{r[5] * (r[2] + r[3] + r[4]) / 3:.8f}",
                0,
                "0",
                "0",
                "0",
            ]
            for r in _window(rows, lambda r: int(r[0]), request.query, 500)  # type: ignore[index]
        ]
        return web.json_response(out)

    async def _premium_index(self, request: web.Request) -> web.Response:
        if (err := self._rest_fault(request)) is not None:
            return err
        assert self.rest_data is not None
        now = self.server_time_ms
        past = [f for f in self.rest_data.funding if f[0] <= now]
        rate = past[-1][1] if past else 0.0
        mark = f"{self.rest_data.mark_price:.8f}"
        body = {
            "symbol": request.query.get("symbol", self.symbols[0]),
            "markPrice": mark,
            "indexPrice": mark,
            "estimatedSettlePrice": mark,
            "lastFundingRate": f"{rate:.8f}",
            "interestRate": "0.00010000",
            "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000,
            "time": now,
        }
        return web.json_response(body)

    async def _funding_rate(self, request: web.Request) -> web.Response:
        if (err := self._rest_fault(request)) is not None:
            return err
        assert self.rest_data is not None
        sym = request.query.get("symbol", self.symbols[0])
        rows = [f for f in self.rest_data.funding if f[0] <= self.server_time_ms]
        out = [
            {
                "symbol": sym,
                "fundingTime": ms,
                "fundingRate": f"{rate:.8f}",
                "markPrice": f"{self.rest_data.mark_price:.8f}",
            }
            for ms, rate in _window(rows, lambda f: f[0], request.query, 100)  # type: ignore[index]
        ]
        return web.json_response(out)

    async def _open_interest(self, request: web.Request) -> web.Response:
        if (err := self._rest_fault(request)) is not None:
            return err
        assert self.rest_data is not None
        past = [o for o in self.rest_data.open_interest if o[0] <= self.server_time_ms]
        if not past:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        ms, value = past[-1]
        body = {"openInterest": f"{value:.3f}", "symbol": request.query["symbol"], "time": ms}
        return web.json_response(body)

    async def _open_interest_hist(self, request: web.Request) -> web.Response:
        if (err := self._rest_fault(request)) is not None:
            return err
        assert self.rest_data is not None
        rows = [o for o in self.rest_data.open_interest if o[0] <= self.server_time_ms]
        mark = self.rest_data.mark_price
        out = [
            {
                "symbol": request.query["symbol"],
                "sumOpenInterest": f"{value:.8f}",
                "sumOpenInterestValue": f"{value * mark:.8f}",
                "timestamp": str(ms),  # a string in Binance's USD-M documentation
            }
            for ms, value in _window(rows, lambda o: o[0], request.query, 30)  # type: ignore[index]
        ]
        return web.json_response(out)

    async def _long_short_ratio(self, request: web.Request) -> web.Response:
        if (err := self._rest_fault(request)) is not None:
            return err
        assert self.rest_data is not None
        rows = [x for x in self.rest_data.long_short if x[0] <= self.server_time_ms]
        out = [
            {
                "symbol": request.query["symbol"],
                "longShortRatio": f"{lo / sh:.4f}",
                "longAccount": f"{lo:.4f}",
                "shortAccount": f"{sh:.4f}",
                "timestamp": ms,
            }
            for ms, lo, sh in _window(rows, lambda x: x[0], request.query, 30)  # type: ignore[index]
        ]
        return web.json_response(out)


async def spawn_live_cli(
    ex: LoopbackExchange,
    *args: str,
    command: tuple[str, ...] = ("confluex.live_view", "--exchange", "binance"),
) -> asyncio.subprocess.Process:
    """``python -m <command>`` (default: ``confluex.live_view --exchange binance``) on BTC/USDT
    against ``ex`` with no view, ``args`` appended; stdout and stderr piped, unbuffered."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *command,
        "--symbols",
        "BTC/USDT",
        "--ws-url",
        ex.ws_url,
        "--rest-url",
        ex.rest_url,
        "--no-view",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


# --- a feed on the loopback venue, and waiting on it ----------------------------------------------


async def eventually(cond: Callable[[], bool], timeout: float = 30.0, what: str = "cond") -> None:
    """Polls ``cond`` on the running loop until it holds; fails after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def stamps(cap: Capture) -> Callable[[bytes], int]:
    """A ``frame_ts`` hook: each frame stamped with its capture time."""
    table = {ln.payload: ln.ts_ns for ln in cap.lines}
    return table.__getitem__


def loopback_feed(ex: LoopbackExchange, *, threads: int | None = None, **kw: Any) -> LiveFeed:
    """A LiveFeed on ``ex``'s BTCUSDT (USD-M: BTC/USDT:USDT), with ``threads`` a
    ShardedLiveFeed: frames stamped with their capture time, no watchdog, no rate limit; ``kw``
    adds or overrides feed arguments."""
    from confluex.feeds.live import LiveFeed
    from confluex.feeds.live_sharded import ShardedLiveFeed

    exchange, symbol = (
        ("binance-futures", "BTC/USDT:USDT") if ex.futures else ("binance", "BTC/USDT")
    )
    args: dict[str, Any] = {
        "ws_url": ex.ws_url,
        "rest_url": ex.rest_url,
        "rest_options": {"enableRateLimit": False},
        "frame_ts": stamps(ex.capture),
        "stale_seconds": 0,
        **kw,
    }
    if threads is None:
        return LiveFeed(exchange, [symbol], **args)
    return ShardedLiveFeed(exchange, [symbol], threads=threads, **args)


def received_all(feed: LiveFeed, ex: LoopbackExchange) -> Callable[[], bool]:
    """True once the feed received every line ``ex`` streams and no snapshot is being fetched.

    A threaded feed (ShardedLiveFeed) counts the frames it pushed into its shards' rings (its
    per-symbol ``frames`` count score records)."""

    def cond() -> bool:
        syms = feed.by_symbol.values()
        if not syms or any(st.fetching for st in syms):
            return False
        pushed = getattr(feed, "frames_pushed", None)
        if pushed is not None:
            return bool(pushed >= sum(ex.expected_lines(st.venue_symbol) for st in syms))
        return all(st.frames == ex.expected_lines(st.venue_symbol) for st in syms)

    return cond
