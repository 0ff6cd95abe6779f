"""Loopback simulator of the Binance spot REST API, enough for ccxt's binance class.

It serves on 127.0.0.1 (random port) the endpoints ccxt's request building, signing and
parsing use for spot trading: ``GET /api/v3/exchangeInfo``, ``/api/v3/time``,
``/api/v3/depth``, signed ``POST/GET/DELETE /api/v3/order``, ``GET /api/v3/openOrders``,
``/api/v3/allOrders``, ``/api/v3/account``, ``/api/v3/myTrades``. Signed requests are
checked as Binance does: ``X-MBX-APIKEY`` must name a known key (else -2015) and
``signature`` must be the hex HMAC-SHA256 of the rest of the query string or form body with
the secret (else HTTP 400 ``{"code":-1022,...}``, which ccxt maps to AuthenticationError).

Fees in BNB (``pay_fees_in_bnb(price)``): every fill's fee is charged in BNB instead, 0.075 %
of its quote value at ``price`` (Binance's 25 % BNB discount), and the venue lists BNBUSDT
(unless ``list_bnb=False``), whose ``GET /api/v3/ticker/24hr`` answers ``lastPrice`` =
``price``; ``ticker_requests`` counts those calls.

Matching: market orders walk the simulator's book (thin book: partial fill, status
EXPIRED); LIMIT rests and fills at its price when ``set_book`` crosses it; LIMIT_MAKER
(ccxt's ``postOnly`` on spot) is a LIMIT refused with -2010 when it would take on arrival; STOP_LOSS
triggers on the best bid (sell) or ask (buy) and executes as a market order. Taker fee
0.1 %: buyers pay it in the base asset, sellers in the quote asset (Binance without BNB).
Balances lock behind open orders, so a stop and a take profit cannot both hold the same
base balance (as on Binance).

``recvWindow`` is enforced as Binance does: a signed request that reaches the venue more than
``recvWindow`` ms (default 5000) after its ``timestamp`` is refused with -1021 and not
processed.

Faults for tests:

- ``delay_order_response_s`` (with ``delay_posts``, the 1-based numbers of the order POSTs it
  applies to; None: all): the order is accepted and stored, then the response is held back,
  so a client timeout happens after acceptance;
- ``late_next`` / ``land_delay_s``: the next N order POSTs reach the venue ``land_delay_s``
  late (the network held them): they are processed then, recvWindow check included, after
  the client has timed out;
- ``drop_next``: the next N order POSTs are lost (never processed; the client times out);
- ``stall_lookups``: order lookups (``GET /order``, ``openOrders``, ``allOrders``) hang past
  any client timeout;
- ``ack_only_next``: the next N accepted orders are answered with Binance's ACK response
  (ids only, no status or fills) although they are processed in full;
- ``rate_limit_next``: answer the next N order POSTs with HTTP 429 / -1003 without
  processing them.

``order_posts`` counts POST /order requests received; ``orders_accepted`` those accepted;
``late_refused`` the late ones refused for recvWindow.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

FEE = 0.001


async def eventually(
    cond: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
) -> None:
    """Poll ``cond`` until it holds; fail after ``timeout`` seconds (tests use it, not sleeps)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@dataclass
class SimOrder:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    qty: float
    price: float
    stop_price: float
    time_ms: int
    status: str = "NEW"
    executed: float = 0.0
    quote: float = 0.0
    fills: list[dict[str, Any]] = field(default_factory=list)
    locked_asset: str | None = None
    locked: float = 0.0
    trailing_delta_bips: int = 0
    extreme: float = 0.0


@dataclass
class SimSymbol:
    symbol: str
    base: str
    quote: str
    tick: str = "0.01"
    step: str = "0.00001"
    min_qty: str = "0.00001"
    min_notional: str = "5"


class BinanceSpotSim:
    """The simulated venue; ``await start()`` then read ``base_url``."""

    def __init__(self, api_key: str, secret: str, balances: dict[str, float]) -> None:
        self.api_key = api_key
        self.secret = secret.encode()
        self.symbols = {"BTCUSDT": SimSymbol("BTCUSDT", "BTC", "USDT")}
        self.books: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {
            "BTCUSDT": ([(99.99, 10.0)], [(100.01, 10.0)])
        }
        self.free = dict(balances)
        self.locked: dict[str, float] = {k: 0.0 for k in balances}
        self.orders: dict[int, SimOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(1)
        self.delay_order_response_s = 0.0
        self.delay_posts: set[int] | None = None
        self.late_next = 0
        self.land_delay_s = 0.0
        self.late_refused = 0
        self.drop_next = 0
        self.stall_lookups = False
        self.ack_only_next = 0
        self.rate_limit_next = 0
        self.order_posts = 0
        self.orders_accepted = 0
        self.bnb_price: float | None = None
        self.ticker_requests = 0
        self._stopping = asyncio.Event()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ server
    async def start(self) -> None:
        app = web.Application()
        r = app.router
        r.add_get("/api/v3/exchangeInfo", self.exchange_info)
        r.add_get("/api/v3/time", self.time)
        r.add_get("/api/v3/depth", self.depth)
        r.add_get("/api/v3/ticker/24hr", self.ticker_24hr)
        r.add_post("/api/v3/order", self.signed(self.post_order))
        r.add_get("/api/v3/order", self.signed(self.get_order))
        r.add_delete("/api/v3/order", self.signed(self.delete_order))
        r.add_get("/api/v3/openOrders", self.signed(self.open_orders))
        r.add_get("/api/v3/allOrders", self.signed(self.all_orders))
        r.add_get("/api/v3/account", self.signed(self.account))
        r.add_get("/api/v3/myTrades", self.signed(self.my_trades))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        self._stopping.set()  # release held requests
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def point(self, exchange: Any) -> None:
        """Aim a ccxt binance instance at this simulator (spot only)."""
        point(exchange, self.base_url)

    async def hold(self, seconds: float) -> None:
        """Sleep ``seconds`` (cut short when the simulator stops)."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def pay_fees_in_bnb(self, price: float, *, list_bnb: bool = True) -> None:
        """Charge every later fill's fee in BNB at ``price`` (see the module docstring)."""
        self.bnb_price = price
        if list_bnb:
            self.symbols["BNBUSDT"] = SimSymbol("BNBUSDT", "BNB", "USDT")
            self.books["BNBUSDT"] = ([(price - 0.1, 100.0)], [(price + 0.1, 100.0)])

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        """Binance's ``GET /api/v3/ticker/24hr?symbol=`` (the fields ccxt parses)."""
        self.ticker_requests += 1
        sym = request.query.get("symbol", "")
        if sym not in self.books:
            return self.error(400, -1121, "Invalid symbol.")
        bids, asks = self.books[sym]
        bid, ask = bids[0][0], asks[0][0]
        last = self.bnb_price if sym == "BNBUSDT" and self.bnb_price else (bid + ask) / 2
        now = int(time.time() * 1000)
        body = {
            "symbol": sym,
            "priceChange": "0",
            "priceChangePercent": "0",
            "weightedAvgPrice": f"{last:.8f}",
            "prevClosePrice": f"{last:.8f}",
            "lastPrice": f"{last:.8f}",
            "lastQty": "1",
            "bidPrice": f"{bid:.8f}",
            "bidQty": f"{bids[0][1]:.8f}",
            "askPrice": f"{ask:.8f}",
            "askQty": f"{asks[0][1]:.8f}",
            "openPrice": f"{last:.8f}",
            "highPrice": f"{last:.8f}",
            "lowPrice": f"{last:.8f}",
            "volume": "0",
            "quoteVolume": "0",
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": 0,
            "lastId": 0,
            "count": 0,
        }
        return web.json_response(body)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def error(status: int, code: int, msg: str) -> web.Response:
        return web.json_response({"code": code, "msg": msg}, status=status)

    def signed(self, handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            raw = (
                request.query_string
                if request.method in ("GET", "DELETE")
                else (await request.text())
            )
            late = False
            if request.method == "POST" and request.path.endswith("/order"):
                if self.drop_next > 0:  # lost on the way: never processed
                    self.drop_next -= 1
                    await self.hold(30.0)
                    return self.error(503, -1000, "lost")
                if self.late_next > 0:  # held by the network, lands after the client gave up
                    self.late_next -= 1
                    late = True
                    await self.hold(self.land_delay_s)
            elif (
                self.stall_lookups
                and request.method == "GET"
                and request.path.endswith(("/order", "/openOrders", "/allOrders"))
            ):
                await self.hold(30.0)
                return self.error(503, -1000, "stalled")
            if request.headers.get("X-MBX-APIKEY") != self.api_key:
                return self.error(401, -2015, "Invalid API-key, IP, or permissions for action.")
            payload, sep, signature = raw.rpartition("&signature=")
            expected = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
            if not sep or not hmac.compare_digest(signature, expected):
                return self.error(400, -1022, "Signature for this request is not valid.")
            params = dict(parse_qsl(payload, keep_blank_values=True))
            recv = int(params.get("recvWindow", "5000"))
            if abs(int(time.time() * 1000) - int(params.get("timestamp", "0"))) > recv:
                self.late_refused += late
                return self.error(
                    400, -1021, "Timestamp for this request is outside of the recvWindow."
                )
            self.requests.append((request.method, request.path, params))
            result: web.StreamResponse = await handler(params)
            return result

        return wrapper

    def set_book(
        self, symbol: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]]
    ) -> None:
        """Replace the book and run resting limit / stop orders against it."""
        self.books[symbol] = (bids, asks)
        for o in list(self.orders.values()):
            if o.symbol != symbol or o.status not in ("NEW", "PARTIALLY_FILLED"):
                continue
            if o.type == "STOP_LOSS":
                best = bids[0][0] if o.side == "SELL" and bids else (asks[0][0] if asks else None)
                if best is None:
                    continue
                if o.trailing_delta_bips:  # trailing: follow the best price, trigger on retrace
                    sell = o.side == "SELL"
                    if o.extreme == 0.0 or (best > o.extreme if sell else best < o.extreme):
                        o.extreme = best
                    k = o.trailing_delta_bips / 10_000
                    o.stop_price = o.extreme * (1 - k if sell else 1 + k)
                hit = best <= o.stop_price if o.side == "SELL" else best >= o.stop_price
                if hit:
                    self._unlock(o)
                    self._match(o, limit=None)
                    if o.status != "FILLED":
                        o.status = "EXPIRED"
            elif o.type == "LIMIT":
                self._unlock(o)
                self._match(o, limit=o.price, maker=True)
                if o.status in ("NEW", "PARTIALLY_FILLED"):
                    self._lock(o)

    def _lock(self, o: SimOrder) -> None:
        s = self.symbols[o.symbol]
        left = o.qty - o.executed
        if o.side == "SELL":
            asset, amount = s.base, left
        else:
            px = o.price or (self.books[o.symbol][1][0][0] if self.books[o.symbol][1] else 0.0)
            asset, amount = s.quote, left * px
        self.free[asset] = self.free.get(asset, 0.0) - amount
        self.locked[asset] = self.locked.get(asset, 0.0) + amount
        o.locked_asset, o.locked = asset, amount

    def _unlock(self, o: SimOrder) -> None:
        if o.locked_asset is not None:
            self.free[o.locked_asset] += o.locked
            self.locked[o.locked_asset] -= o.locked
            o.locked_asset, o.locked = None, 0.0

    def _match(self, o: SimOrder, limit: float | None, maker: bool = False) -> None:
        """Fill against the book; a resting (maker) order fills at its own limit price."""
        s = self.symbols[o.symbol]
        bids, asks = self.books[o.symbol]
        levels = asks if o.side == "BUY" else bids
        for px, qty in levels:
            left = o.qty - o.executed
            if left <= 1e-12:
                break
            if limit is not None and (px > limit if o.side == "BUY" else px < limit):
                break
            take = min(left, qty)
            if maker and limit is not None:
                px = limit
            if self.bnb_price is not None:
                fee, fee_asset = take * px * FEE * 0.75 / self.bnb_price, "BNB"
                self.free["BNB"] = self.free.get("BNB", 0.0) - fee
                sign = 1.0 if o.side == "BUY" else -1.0
                self.free[s.quote] -= sign * take * px
                self.free[s.base] = self.free.get(s.base, 0.0) + sign * take
            elif o.side == "BUY":
                fee, fee_asset = take * FEE, s.base
                self.free[s.quote] -= take * px
                self.free[s.base] = self.free.get(s.base, 0.0) + take - fee
            else:
                fee, fee_asset = take * px * FEE, s.quote
                self.free[s.base] -= take
                self.free[s.quote] += take * px - fee
            tid = next(self._trade_ids)
            fill = {
                "price": f"{px:.8f}",
                "qty": f"{take:.8f}",
                "commission": f"{fee:.8f}",
                "commissionAsset": fee_asset,
                "tradeId": tid,
            }
            o.fills.append(fill)
            o.executed += take
            o.quote += take * px
            self.trades.append(
                {
                    "symbol": o.symbol,
                    "id": tid,
                    "orderId": o.order_id,
                    "orderListId": -1,
                    "price": fill["price"],
                    "qty": fill["qty"],
                    "quoteQty": f"{take * px:.8f}",
                    "commission": fill["commission"],
                    "commissionAsset": fee_asset,
                    "time": int(time.time() * 1000),
                    "isBuyer": o.side == "BUY",
                    "isMaker": maker,
                    "isBestMatch": True,
                }
            )
        if o.qty - o.executed <= 1e-12:
            o.status = "FILLED"
        elif o.executed > 0:
            o.status = "PARTIALLY_FILLED"

    def order_json(self, o: SimOrder, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderListId": -1,
            "clientOrderId": o.client_order_id,
            "price": f"{o.price:.8f}",
            "origQty": f"{o.qty:.8f}",
            "executedQty": f"{o.executed:.8f}",
            "cummulativeQuoteQty": f"{o.quote:.8f}",
            "status": o.status,
            "timeInForce": "GTC",
            "type": o.type,
            "side": o.side,
            "stopPrice": f"{o.stop_price:.8f}",
            "time": o.time_ms,
            "updateTime": o.time_ms,
            "isWorking": o.type != "STOP_LOSS" or o.status != "NEW",
            "workingTime": o.time_ms,
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }
        if full:
            out["transactTime"] = o.time_ms
            out["fills"] = o.fills
        return out

    def _find(self, params: dict[str, str]) -> SimOrder | None:
        cid = params.get("origClientOrderId")
        for o in self.orders.values():
            if o.symbol != params.get("symbol"):
                continue
            if cid is not None and o.client_order_id == cid:
                return o
            if cid is None and str(o.order_id) == params.get("orderId"):
                return o
        return None

    # ------------------------------------------------------------------ public
    async def exchange_info(self, request: web.Request) -> web.Response:
        syms = []
        for s in self.symbols.values():
            syms.append(
                {
                    "symbol": s.symbol,
                    "status": "TRADING",
                    "baseAsset": s.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": s.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": [
                        "LIMIT",
                        "LIMIT_MAKER",
                        "MARKET",
                        "STOP_LOSS",
                        "STOP_LOSS_LIMIT",
                        "TAKE_PROFIT",
                        "TAKE_PROFIT_LIMIT",
                    ],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "otoAllowed": True,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": True,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": s.tick,
                            "maxPrice": "1000000.00",
                            "tickSize": s.tick,
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": s.min_qty,
                            "maxQty": "9000.00000000",
                            "stepSize": s.step,
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": s.min_notional,
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": [
                        "EXPIRE_TAKER",
                        "EXPIRE_MAKER",
                        "EXPIRE_BOTH",
                    ],
                }
            )
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": syms,
            }
        )

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    async def depth(self, request: web.Request) -> web.Response:
        bids, asks = self.books[request.query["symbol"]]
        return web.json_response(
            {
                "lastUpdateId": 1,
                "bids": [[f"{p:.8f}", f"{q:.8f}"] for p, q in bids],
                "asks": [[f"{p:.8f}", f"{q:.8f}"] for p, q in asks],
            }
        )

    # ------------------------------------------------------------------ private
    async def post_order(self, p: dict[str, str]) -> web.Response:
        self.order_posts += 1
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return self.error(
                429, -1003, "Too many requests; current limit of IP is 6000 requests per minute."
            )
        symbol = p["symbol"]
        if symbol not in self.symbols:
            return self.error(400, -1121, "Invalid symbol.")
        cid = p.get("newClientOrderId") or f"sim{next(self._ids)}"
        if any(
            o.client_order_id == cid and o.status in ("NEW", "PARTIALLY_FILLED")
            for o in self.orders.values()
        ):
            return self.error(400, -2010, "Duplicate order sent.")
        typ, side = p["type"], p["side"]
        if typ == "LIMIT_MAKER":
            bids, asks = self.books[symbol]
            top = asks if p["side"] == "BUY" else bids
            best = top[0][0] if top else None
            px = float(p.get("price", 0))
            if best is not None and (px >= best if p["side"] == "BUY" else px <= best):
                return self.error(400, -2010, "Order would immediately match and take.")
            typ = "LIMIT"
        if typ not in ("MARKET", "LIMIT", "STOP_LOSS"):
            return self.error(400, -1116, "Invalid orderType.")
        if "quantity" not in p:
            return self.error(
                400,
                -1102,
                "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
            )
        qty = float(p["quantity"])
        s = self.symbols[symbol]
        bids, asks = self.books[symbol]
        ref = float(p.get("price") or (asks[0][0] if side == "BUY" else bids[0][0]))
        if qty * ref < float(s.min_notional):
            return self.error(400, -1013, "Filter failure: NOTIONAL")
        if (side == "BUY" and self.free.get(s.quote, 0.0) < qty * ref * (1 + FEE)) or (
            side == "SELL" and self.free.get(s.base, 0.0) < qty - 1e-12
        ):
            return self.error(400, -2010, "Account has insufficient balance for requested action.")
        o = SimOrder(
            next(self._ids),
            cid,
            symbol,
            side,
            typ,
            qty,
            float(p.get("price", 0)),
            float(p.get("stopPrice", 0)),
            int(time.time() * 1000),
        )
        if "trailingDelta" in p:
            if typ != "STOP_LOSS":
                return self.error(400, -1013, "Filter failure: TRAILING_DELTA")
            o.trailing_delta_bips = int(p["trailingDelta"])
            o.extreme = bids[0][0] if side == "SELL" else asks[0][0]
            k = o.trailing_delta_bips / 10_000
            o.stop_price = o.extreme * (1 - k if side == "SELL" else 1 + k)
        elif typ == "STOP_LOSS" and "stopPrice" not in p:
            return self.error(400, -1102, "Mandatory parameter 'stopPrice' was not sent.")
        self.orders[o.order_id] = o
        self.orders_accepted += 1
        if typ == "MARKET":
            self._match(o, limit=None)
            if o.status != "FILLED":
                o.status = "EXPIRED"  # the unfilled rest of a market order expires
        elif typ == "LIMIT":
            self._match(o, limit=o.price)
            if o.status != "FILLED":
                self._lock(o)
        else:
            self._lock(o)
        body = self.order_json(o, full=True)
        if self.ack_only_next > 0:  # newOrderRespType=ACK: ids only
            self.ack_only_next -= 1
            body = {k: body[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId")}
            body["transactTime"] = o.time_ms
        if self.delay_order_response_s > 0 and (
            self.delay_posts is None or self.order_posts in self.delay_posts
        ):
            await self.hold(self.delay_order_response_s)
        return web.json_response(body)

    async def get_order(self, p: dict[str, str]) -> web.Response:
        o = self._find(p)
        if o is None:
            return self.error(400, -2013, "Order does not exist.")
        return web.json_response(self.order_json(o))

    async def delete_order(self, p: dict[str, str]) -> web.Response:
        o = self._find(p)
        if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
            return self.error(400, -2011, "Unknown order sent.")
        self._unlock(o)
        o.status = "CANCELED"
        out = self.order_json(o)
        out["origClientOrderId"] = o.client_order_id
        return web.json_response(out)

    async def open_orders(self, p: dict[str, str]) -> web.Response:
        return web.json_response(
            [
                self.order_json(o)
                for o in self.orders.values()
                if o.status in ("NEW", "PARTIALLY_FILLED")
                and ("symbol" not in p or o.symbol == p["symbol"])
            ]
        )

    async def all_orders(self, p: dict[str, str]) -> web.Response:
        return web.json_response(
            [self.order_json(o) for o in self.orders.values() if o.symbol == p.get("symbol")]
        )

    async def account(self, p: dict[str, str]) -> web.Response:
        return web.json_response(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "updateTime": int(time.time() * 1000),
                "accountType": "SPOT",
                "permissions": ["SPOT"],
                "balances": [
                    {
                        "asset": a,
                        "free": f"{self.free[a]:.8f}",
                        "locked": f"{self.locked.get(a, 0.0):.8f}",
                    }
                    for a in self.free
                ],
            }
        )

    async def my_trades(self, p: dict[str, str]) -> web.Response:
        return web.json_response(
            [
                t
                for t in self.trades
                if t["symbol"] == p.get("symbol")
                and ("orderId" not in p or str(t["orderId"]) == p["orderId"])
            ]
        )

    def held(self, asset: str) -> float:
        """Free plus locked balance of ``asset``."""
        return self.free.get(asset, 0.0) + self.locked.get(asset, 0.0)


def point(exchange: Any, base_url: str) -> None:
    """Aim a ccxt binance instance at a simulator at ``base_url`` (spot only)."""
    # every API section points here (unknown ones 404), so nothing reaches the internet
    exchange.urls["api"] = {key: f"{base_url}/unmapped/{key}" for key in exchange.urls["api"]}
    for key in ("public", "private"):
        exchange.urls["api"][key] = f"{base_url}/api/v3"
    exchange.options["fetchMarkets"] = {"types": ["spot"]}
    exchange.options["fetchCurrencies"] = False
    exchange.options["fetchMargins"] = False
