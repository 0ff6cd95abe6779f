"""The paper venue against ccxt's own structure validators (ccxt/test/exchange/base).

ccxt ships the validators its exchange test-suite runs on every structure a venue returns
(``test_order``, ``test_trade``, ``test_balance``, ``test_position``, ``test_market``, ...). They
take ``(exchange, skipped_properties, method, entry, ...)``, where ``exchange`` is a ccxt
exchange instance used for its helpers (``safe_string``, ``iso8601``, ``currency`` ...). Here
that instance is ccxt's base ``Exchange`` loaded with the paper venue's own markets and
currencies, so the market/currency checks read the paper venue's data. Nothing is skipped.

Two sources of structures: a scripted session on a synthetic book (every order type and state,
named synthetic), and paper replays of real captures (the USD-M BTCUSDT capture of 2024-07-18
and the bundled spot sample), validated after every message that changed the venue's state.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import ccxt
import pytest
from confluex import Engine
from confluex._core.engine import EngineConfig
from confluex.feeds.files import replay
from confluex.replay_trader import PaperTrader, SizingName
from confluex.trading import load_config
from confluex.trading.config import MarketType
from confluex.trading.paper_venue import Level, PaperExchange, PaperMarket
from hypothesis import given
from hypothesis import strategies as st
from test_paper_venue import perp_market
from test_replay_trader import ACTIVE, CASES

T = TypeVar("T")
V = importlib.import_module("ccxt.test.exchange.base")  # ccxt's validators (not collected)
SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"
T0 = 1_721_260_800_000  # 2024-07-18T00:00:00Z: the validators refuse timestamps before 2009
SKIP: dict[str, Any] = {}  # nothing skipped


class Checker:
    """Runs ccxt's validators on the structures of one paper exchange; counts what it checked."""

    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex
        self.v = ccxt.Exchange({"id": "paper"})
        self.v.set_markets(ex.markets, getattr(ex, "currencies", None))
        self.counts: dict[str, int] = {}

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def order(self, o: dict[str, Any], method: str = "createOrder") -> None:
        V.test_order(self.v, SKIP, method, o, o["symbol"], self.ex.milliseconds())
        V.test_shared_methods.assert_order_state(
            self.v, SKIP, method, o, o["status"], strict_check=True
        )
        self._count("order")

    def trade(self, t: dict[str, Any], method: str = "fetchMyTrades") -> None:
        public = method == "fetchTrades"
        V.test_trade(self.v, SKIP, method, t, t["symbol"], self.ex.milliseconds(), public)
        self._count("trade")

    def balance(self, b: dict[str, Any]) -> None:
        V.test_balance(self.v, SKIP, "fetchBalance", b)
        self._count("balance")

    def position(self, p: dict[str, Any]) -> None:
        V.test_position(self.v, SKIP, "fetchPositions", p, p["symbol"], self.ex.milliseconds())
        self._count("position")

    def market(self, m: dict[str, Any]) -> None:
        V.test_market(self.v, SKIP, "loadMarkets", m)
        self._count("market")

    def currency(self, c: dict[str, Any]) -> None:
        V.test_currency(self.v, SKIP, "fetchCurrencies", c)
        self._count("currency")

    async def everything(self) -> None:
        """Validate every structure the venue can return right now."""
        ex = self.ex
        for m in (await ex.load_markets()).values():
            self.market(m)
        for c in ex.currencies.values():
            self.currency(c)
        for o in await ex.fetch_orders():
            self.order(o, "fetchOrders")
        for method, fetch in (
            ("fetchOpenOrders", ex.fetch_open_orders),
            ("fetchClosedOrders", ex.fetch_closed_orders),
            ("fetchCanceledOrders", ex.fetch_canceled_orders),
        ):
            for o in await fetch():
                self.order(o, method)
        for t in await ex.fetch_my_trades():
            self.trade(t, "fetchMyTrades")
        self.balance(await ex.fetch_balance())
        for p in await ex.fetch_positions():
            self.position(p)
        for sym in ex.symbols:
            book = await ex.fetch_order_book(sym)
            V.test_order_book(self.v, SKIP, "fetchOrderBook", book, sym)
            V.test_ticker(self.v, SKIP, "fetchTicker", await ex.fetch_ticker(sym), sym)
            for t in await ex.fetch_trades(sym):
                self.trade(t, "fetchTrades")
            for candle in await ex.fetch_ohlcv(sym, "1m"):
                V.test_ohlcv(self.v, SKIP, "fetchOHLCV", candle, sym, ex.milliseconds())
            self._count("market data")


class Book:
    """A mutable synthetic two-symbol book."""

    def __init__(self) -> None:
        self.sides: dict[str, tuple[list[Level], list[Level]]] = {
            SPOT: ([(61826.12, 0.5), (61826.0, 2.0)], [(61826.13, 0.4), (61826.5, 3.0)]),
            PERP: ([(61820.1, 0.5), (61820.0, 2.0)], [(61820.2, 0.4), (61821.0, 3.0)]),
        }

    def __call__(self, symbol: str) -> tuple[list[Level], list[Level]]:
        return self.sides[symbol]

    def shift(self, symbol: str, delta: float) -> None:
        bids, asks = self.sides[symbol]
        self.sides[symbol] = (
            [(round(p + delta, 2), q) for p, q in bids],
            [(round(p + delta, 2), q) for p, q in asks],
        )


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


def run(aw: Awaitable[T]) -> T:
    async def wrap() -> T:
        return await aw

    return asyncio.run(wrap())


def make() -> tuple[PaperExchange, Book, Clock, Checker]:
    book, clock = Book(), Clock()
    ex = PaperExchange(
        [
            PaperMarket(SPOT, "BTC", "USDT", amount_step=0.00001, min_amount=0.00001),
            PaperMarket(PERP, "BTC", "USDT", kind="swap", amount_step=0.001, min_amount=0.001),
        ],
        book,
        balances={"USDT": 1_000_000.0, "BTC": 0.3},
        taker_fee=0.001,
        maker_fee=0.0002,
        clock=clock,
    )
    run(ex.load_markets())
    return ex, book, clock, Checker(ex)


def test_the_validators_run_and_catch_what_the_issue_listed() -> None:
    # the structures the paper venue returned before: without these fields ccxt's
    # validators fail, so a harness that silently passed would be caught here
    ex, _, _, chk = make()
    order = run(ex.create_order(SPOT, "limit", "buy", 0.01, 61000.0))
    market = dict(ex.markets[PERP])
    balance = run(ex.fetch_balance())

    for key in ("datetime", "postOnly", "stopPrice"):
        broken = {k: v for k, v in order.items() if k != key}
        with pytest.raises(AssertionError, match=key):
            chk.order(broken)
    with pytest.raises(AssertionError, match="remaining"):
        chk.order({**order, "remaining": -1.0})
    with pytest.raises(AssertionError, match="subType"):
        chk.market({**market, "subType": "spot"})
    with pytest.raises(AssertionError, match="free and used do not sum to total"):
        chk.balance({**balance, "free": {**balance["free"], "USDT": 0.1 + 0.2}})


def test_every_structure_of_a_scripted_session_passes_ccxt_validators() -> None:
    ex, book, clock, chk = make()
    placed: list[dict[str, Any]] = []

    def step(coro: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        clock.ms += 1_500
        order = run(coro)
        chk.order(order)
        placed.append(order)
        run(chk.everything())
        return order

    step(ex.create_market_buy_order(SPOT, 0.6))  # walks two levels
    step(ex.create_market_sell_order(SPOT, 0.2))
    resting = step(ex.create_limit_buy_order(SPOT, 0.1, 61700.0))
    step(ex.create_post_only_order(SPOT, "limit", "sell", 0.05, 61900.0))
    step(ex.create_limit_sell_order(SPOT, 0.1, 61826.0))  # crosses: taker
    step(ex.create_stop_loss_order(SPOT, "market", "sell", 0.1, None, 61500.0))
    step(ex.create_take_profit_order(SPOT, "limit", "sell", 0.1, 62100.0, 62000.0))
    step(ex.create_trailing_percent_order(SPOT, "market", "sell", 0.05, None, 0.5))
    step(ex.create_market_buy_order_with_cost(SPOT, 1_000.0))
    step(ex.create_market_sell_order(PERP, 0.5))  # open a short
    step(ex.create_market_buy_order(PERP, 0.2))  # partly cover
    step(ex.create_stop_market_order(PERP, "buy", 0.3, 61900.0, {"reduceOnly": True}))
    step(ex.create_reduce_only_order(PERP, "limit", "buy", 0.1, 61000.0))
    step(ex.create_market_buy_order(SPOT, 4.0))  # thin book: partial, rest canceled
    step(ex.edit_order(resting["id"], SPOT, "limit", "buy", 0.2, 61750.0))
    for delta in (-150.0, -200.0, +400.0, +300.0):  # stops, trailing, take-profit trigger
        clock.ms += 60_000
        book.shift(SPOT, delta)
        book.shift(PERP, delta)
        ex.on_book_update(SPOT)
        ex.on_book_update(PERP)
        run(chk.everything())
    clock.ms += 1_000
    for o in run(ex.cancel_all_orders()):
        chk.order(o, "cancelAllOrders")
    run(chk.everything())

    statuses = {o["status"] for o in run(ex.fetch_orders())}
    assert statuses == {"closed", "canceled"}  # cancel_all_orders left nothing open
    assert chk.counts["order"] >= 100 and chk.counts["trade"] >= 50
    assert chk.counts["position"] >= 5 and chk.counts["market"] >= 2
    assert any(o["postOnly"] for o in placed) and any(o["stopPrice"] for o in placed)


def _validated_replay(
    path: Path | None, sizing: SizingName, market_type: MarketType | None
) -> tuple[Checker, PaperTrader, dict[str, int]]:
    # Book and trades only (no bar views): the order count below was set for the scores of
    # those three components on these few-minute captures.
    cfg = EngineConfig()
    cfg.bar_views = False
    engine = Engine(cfg)
    trader = PaperTrader(engine, load_config(ACTIVE), sizing=sizing, market_type=market_type)
    state: dict[str, Any] = {"chk": None, "seen": None}
    changes = {"checked": 0}

    def hook(session: object, symbol_id: int, ts_ns: int) -> None:
        trader.on_message(session, symbol_id, ts_ns)
        ex = trader.exchange
        assert ex is not None
        if state["chk"] is None:
            state["chk"] = Checker(ex)
        # validate whenever the venue's orders, fills or positions changed
        seen = (
            tuple((o.id, o.status, o.filled, o.trigger_price) for o in ex._orders.values()),
            tuple((s, p.amount) for s, p in ex._positions.items()),
        )
        if seen != state["seen"]:
            state["seen"] = seen
            changes["checked"] += 1
            trader._run(state["chk"].everything())

    replay([path] if path else None, engine=engine, on_message=hook)
    trader.finish()
    chk = state["chk"]
    assert chk is not None
    trader._run(chk.everything())
    return chk, trader, changes


@pytest.mark.parametrize(("path", "sizing", "market_type"), CASES)
def test_every_structure_of_a_real_paper_replay_passes_ccxt_validators(
    path: Path | None, sizing: SizingName, market_type: MarketType | None
) -> None:
    chk, trader, changes = _validated_replay(path, sizing, market_type)
    ex = trader.exchange
    assert ex is not None
    orders = trader._run(ex.fetch_orders())

    fills = trader._run(ex.fetch_my_trades())
    assert len(orders) >= 4 and changes["checked"] >= 2
    assert chk.counts["order"] >= 2 * len(orders)  # each one, in every state it was seen in
    assert chk.counts["trade"] >= 2 * len(fills)  # private and public (tape) structures
    if path is not None or market_type == "swap":  # derivative positions while it trades
        assert chk.counts["position"] >= 1
    trader.close()


_prices = st.decimals(
    min_value="0.01", max_value="200000", places=4, allow_nan=False, allow_infinity=False
)


@given(_prices, st.sampled_from([0.01, 0.1, 0.5, 1.0, 0.00001]))
def test_price_and_amount_precision_equal_ccxt(price: Any, step: float) -> None:
    ex = PaperExchange(
        [PaperMarket(SPOT, "BTC", "USDT", amount_step=step, price_step=step, min_amount=step)],
        lambda s: ([], []),
        balances={"USDT": 1.0},
        clock=lambda: T0,
    )
    run(ex.load_markets())
    ref = ccxt.Exchange({"id": "ref"})
    ref.set_markets(ex.markets, ex.currencies)
    value = float(price)

    for name in ("price_to_precision", "amount_to_precision"):
        try:
            expected = getattr(ref, name)(SPOT, value)
        except ccxt.InvalidOrder:  # rounds to 0: both refuse it
            with pytest.raises(ccxt.InvalidOrder, match="must be greater than minimum"):
                getattr(ex, name)(SPOT, value)
        else:
            assert getattr(ex, name)(SPOT, value) == expected


def test_the_issue_example_rounds_like_ccxt() -> None:
    ex, _, _, chk = make()

    assert ex.price_to_precision(SPOT, 61826.125) == "61826.13"
    assert chk.v.price_to_precision(SPOT, 61826.125) == "61826.13"


@pytest.mark.parametrize("contract_size", [0.01, 100.0], ids=("cs_0.01", "cs_100"))
def test_structures_of_a_swap_with_a_contract_size_pass_ccxt_validators(
    contract_size: float,
) -> None:
    book, clock = Book(), Clock()
    bids, asks = book.sides[PERP]
    book.sides[PERP] = (  # the same base depth, in contracts
        [(p, q / contract_size) for p, q in bids],
        [(p, q / contract_size) for p, q in asks],
    )
    ex = PaperExchange(
        [perp_market(contract_size)],
        book,
        balances={"USDT": 1_000_000.0},
        taker_fee=0.001,
        maker_fee=0.0002,
        clock=clock,
    )
    run(ex.load_markets())
    chk = Checker(ex)

    orders = [
        run(ex.create_market_sell_order(PERP, 0.5 / contract_size)),  # open a short
        run(ex.create_market_buy_order(PERP, 0.2 / contract_size)),  # partly cover
        run(ex.create_stop_market_order(PERP, "buy", 0.3 / contract_size, 61900.0)),
        run(ex.create_market_order_with_cost(PERP, "sell", 6_182.0)),
    ]
    clock.ms += 60_000
    book.shift(PERP, +200.0)  # the stop triggers
    ex.on_book_update(PERP)
    for o in orders:
        chk.order(o)
    run(chk.everything())

    [pos] = run(ex.fetch_positions())
    assert pos["contractSize"] == contract_size
    assert pos["notional"] == pytest.approx(pos["contracts"] * contract_size * pos["markPrice"])
    cost_sized = run(ex.fetch_order(orders[3]["id"], PERP))
    # 6,182 of quote is 0.09999 BTC at the bid, 0.099 at the 0.001 BTC step, in contracts
    assert cost_sized["filled"] == pytest.approx(0.099 / contract_size)
    assert cost_sized["cost"] == pytest.approx(0.099 * 61820.1)
    assert chk.counts["position"] >= 1 and chk.counts["trade"] >= 4
