"""PaperExchange: book-walk fills, resting limits, triggers, fees, and the equity identity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import ccxt
import pytest
from confluex.trading.paper import Level, PaperExchange, PaperMarket
from hypothesis import given, settings
from hypothesis import strategies as st

T = TypeVar("T")
SPOT = "BTC/USDT"
PERP = "BTC/USDT:USDT"


class Book:
    """A mutable two-symbol book the paper exchange reads through ``__call__``."""

    def __init__(self) -> None:
        self.sides: dict[str, tuple[list[Level], list[Level]]] = {
            SPOT: ([(99.0, 5.0)], [(101.0, 5.0)]),
            PERP: ([(99.0, 5.0)], [(101.0, 5.0)]),
        }

    def __call__(self, symbol: str) -> tuple[list[Level], list[Level]]:
        return self.sides[symbol]

    def set(self, symbol: str, bids: list[Level], asks: list[Level]) -> None:
        self.sides[symbol] = (bids, asks)


def make(balances: dict[str, float] | None = None, **kw: Any) -> tuple[PaperExchange, Book]:
    book = Book()
    ex = PaperExchange(
        [
            PaperMarket(SPOT, "BTC", "USDT", amount_step=0.001, min_amount=0.001, min_cost=1.0),
            PaperMarket(
                PERP, "BTC", "USDT", kind="swap", amount_step=0.001, min_amount=0.001, min_cost=1.0
            ),
        ],
        book,
        balances=balances or {"USDT": 10_000.0},
        clock=lambda: 1_000,
        **kw,
    )
    run(ex.load_markets())
    return ex, book


def run(aw: Awaitable[T]) -> T:
    async def wrap() -> T:
        return await aw

    return asyncio.run(wrap())


def test_market_buy_walks_levels_and_pays_taker_fee() -> None:
    ex, book = make(taker_fee=0.001)
    book.set(SPOT, [(99.0, 5.0)], [(100.0, 1.0), (101.0, 2.0)])
    order = run(ex.create_order(SPOT, "market", "buy", 2.5))
    bal = run(ex.fetch_balance())

    cost = 100.0 * 1.0 + 101.0 * 1.5
    assert (order["status"], order["filled"]) == ("closed", 2.5)
    assert order["average"] == pytest.approx(cost / 2.5)
    assert order["fee"]["cost"] == pytest.approx(cost * 0.001)
    assert bal["total"]["USDT"] == pytest.approx(10_000.0 - cost * 1.001)
    assert bal["total"]["BTC"] == pytest.approx(2.5)


def test_market_order_on_thin_book_fills_partially_and_cancels_the_rest() -> None:
    ex, book = make()
    book.set(SPOT, [(99.0, 5.0)], [(101.0, 3.0)])
    order = run(ex.create_order(SPOT, "market", "buy", 5.0))

    assert (order["status"], order["filled"], order["remaining"]) == ("canceled", 3.0, 0.0)
    assert run(ex.fetch_open_orders()) == []


def test_limit_order_rests_then_fills_at_its_price_with_maker_fee() -> None:
    ex, book = make(maker_fee=0.0002)
    order = run(ex.create_order(SPOT, "limit", "buy", 2.0, 100.0))
    locked = run(ex.fetch_balance())["used"]["USDT"]
    book.set(SPOT, [(98.0, 5.0)], [(99.5, 5.0)])
    ex.on_book_update(SPOT)
    done = run(ex.fetch_order(order["id"]))

    assert order["status"] == "open" and locked > 200.0
    assert (done["status"], done["average"]) == ("closed", 100.0)
    assert done["fee"]["cost"] == pytest.approx(200.0 * 0.0002)
    assert run(ex.fetch_balance())["used"]["USDT"] == pytest.approx(0.0)


def test_spot_stop_loss_triggers_on_bid_and_sells_at_market() -> None:
    ex, book = make()
    run(ex.create_order(SPOT, "market", "buy", 1.0))
    stop = run(ex.create_order(SPOT, "market", "sell", 1.0, None, {"stopLossPrice": 95.0}))
    book.set(SPOT, [(96.0, 5.0)], [(97.0, 5.0)])
    ex.on_book_update(SPOT)
    untouched = run(ex.fetch_order(stop["id"]))["status"]
    book.set(SPOT, [(94.0, 5.0)], [(94.5, 5.0)])
    ex.on_book_update(SPOT)
    fired = run(ex.fetch_order(stop["id"]))

    assert untouched == "open"
    assert (fired["status"], fired["average"]) == ("closed", 94.0)


def test_trailing_stop_follows_best_bid_and_triggers_on_retrace() -> None:
    ex, book = make()
    run(ex.create_order(SPOT, "market", "buy", 1.0))
    trail = run(ex.create_order(SPOT, "market", "sell", 1.0, None, {"trailingPercent": 2.0}))
    statuses = []
    for bid in (105.0, 110.0, 108.0, 107.7):
        book.set(SPOT, [(bid, 5.0)], [(bid + 1, 5.0)])
        ex.on_book_update(SPOT)
        statuses.append(run(ex.fetch_order(trail["id"]))["status"])

    assert statuses == ["open", "open", "open", "closed"]  # 107.7 <= 110 * 0.98 = 107.8


def test_reduce_only_is_capped_at_the_position_and_refused_on_spot() -> None:
    ex, _ = make()
    run(ex.create_order(PERP, "market", "sell", 2.0))
    close = run(ex.create_order(PERP, "market", "buy", 5.0, None, {"reduceOnly": True}))
    positions = run(ex.fetch_positions())

    assert close["filled"] == pytest.approx(2.0)
    assert positions == []
    with pytest.raises(ccxt.InvalidOrder, match="reduceOnly"):
        run(ex.create_order(SPOT, "market", "sell", 1.0, None, {"reduceOnly": True}))


def test_short_derivative_position_realises_pnl_on_cover() -> None:
    ex, book = make(taker_fee=0.0)
    run(ex.create_order(PERP, "market", "sell", 1.0))  # at bid 99
    book.set(PERP, [(89.0, 5.0)], [(90.0, 5.0)])
    unrealized = run(ex.fetch_positions())[0]["unrealizedPnl"]
    run(ex.create_order(PERP, "market", "buy", 1.0))  # at ask 90

    assert unrealized == pytest.approx(99.0 - 89.5)
    assert ex.realized_pnl == pytest.approx(9.0)
    assert run(ex.fetch_balance())["total"]["USDT"] == pytest.approx(10_009.0)


def test_insufficient_funds_and_duplicate_client_ids_are_refused() -> None:
    ex, _ = make({"USDT": 50.0})
    with pytest.raises(ccxt.InsufficientFunds):
        run(ex.create_order(SPOT, "market", "buy", 1.0))
    with pytest.raises(ccxt.InsufficientFunds):
        run(ex.create_order(SPOT, "market", "sell", 1.0))
    run(ex.create_order(SPOT, "limit", "buy", 0.1, 90.0, {"clientOrderId": "abc"}))
    with pytest.raises(ccxt.InvalidOrder, match="duplicate"):
        run(ex.create_order(SPOT, "limit", "buy", 0.1, 90.0, {"clientOrderId": "abc"}))


def test_orders_are_found_by_client_id_and_cancel_releases_funds() -> None:
    ex, _ = make()
    placed = run(ex.create_order(SPOT, "limit", "buy", 1.0, 90.0, {"clientOrderId": "cid1"}))
    found = run(ex.fetch_order("", SPOT, {"clientOrderId": "cid1"}))
    run(ex.cancel_order(placed["id"], SPOT))

    assert found["id"] == placed["id"]
    assert run(ex.fetch_order(placed["id"]))["status"] == "canceled"
    assert run(ex.fetch_balance())["free"]["USDT"] == pytest.approx(10_000.0)
    with pytest.raises(ccxt.OrderNotFound):
        run(ex.fetch_order("", SPOT, {"clientOrderId": "nope"}))
    with pytest.raises(ccxt.OrderNotFound):
        run(ex.cancel_order(placed["id"], SPOT))


def test_amount_and_price_precision_follow_market_steps() -> None:
    ex, _ = make()

    assert ex.amount_to_precision(SPOT, 1.23456) == "1.234"
    assert ex.price_to_precision(SPOT, 100.005) == "100"  # half-even at 0.01 -> 100.00
    assert ex.price_to_precision(SPOT, 100.016) == "100.02"


_ops = st.lists(
    st.tuples(
        st.sampled_from(["spot_buy", "spot_sell", "perp_buy", "perp_sell", "limit", "move"]),
        st.floats(0.01, 3.0),
        st.floats(80.0, 120.0),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60)
@given(_ops)
def test_equity_identity_holds_after_every_event(ops: list[tuple[str, float, float]]) -> None:
    ex, book = make({"USDT": 100_000.0}, taker_fee=0.001, maker_fee=0.0002)
    for kind, amount, px in ops:
        try:
            if kind == "move":
                for sym in (SPOT, PERP):
                    book.set(sym, [(px, 2.0), (px - 1, 2.0)], [(px + 0.5, 2.0), (px + 2, 2.0)])
                    ex.on_book_update(sym)
            elif kind == "limit":
                run(ex.create_order(SPOT, "limit", "buy", amount, px))
            else:
                sym = SPOT if kind.startswith("spot") else PERP
                run(ex.create_order(sym, "market", kind.split("_")[1], amount))
        except ccxt.InsufficientFunds:
            pass

        expected = ex.starting_equity + ex.realized_pnl + ex.unrealized_pnl() - ex.fees_paid
        assert ex.equity() == pytest.approx(expected, rel=1e-9, abs=1e-6)
