"""PaperExchange: book-walk fills, resting limits, triggers, fees, and the equity identity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
import pytest
from confluex.trading import paper_venue as paper_mod
from confluex.trading.paper_venue import Level, PaperExchange, PaperMarket
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

    # ccxt keeps remaining = amount - filled on a canceled order (the venue reports EXPIRED)
    assert (order["status"], order["filled"], order["remaining"]) == ("canceled", 3.0, 2.0)
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
    assert ex.price_to_precision(SPOT, 100.005) == "100.01"  # ccxt ROUND: ties away from zero
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


# ---------------------------------------------------------------------- ccxt method surface


@pytest.mark.parametrize(
    ("method", "args", "expected"),
    [
        ("create_limit_order", (SPOT, "buy", 0.5, 90.0), ("limit", "buy", "open")),
        ("create_market_order", (SPOT, "buy", 0.5), ("market", "buy", "closed")),
        ("create_limit_buy_order", (SPOT, 0.5, 90.0), ("limit", "buy", "open")),
        ("create_limit_sell_order", (SPOT, 0.5, 110.0), ("limit", "sell", "open")),
        ("create_market_buy_order", (SPOT, 0.5), ("market", "buy", "closed")),
        ("create_market_sell_order", (PERP, 0.5), ("market", "sell", "closed")),
        ("create_stop_market_order", (SPOT, "sell", 0.5, 95.0), ("market", "sell", "open")),
        ("create_stop_limit_order", (SPOT, "sell", 0.5, 94.0, 95.0), ("limit", "sell", "open")),
        (
            "create_trigger_order",
            (SPOT, "market", "sell", 0.5, None, 95.0),
            ("market", "sell", "open"),
        ),
        (
            "create_stop_loss_order",
            (SPOT, "market", "sell", 0.5, None, 95.0),
            ("market", "sell", "open"),
        ),
        (
            "create_take_profit_order",
            (SPOT, "market", "sell", 0.5, None, 120.0),
            ("market", "sell", "open"),
        ),
        (
            "create_trailing_percent_order",
            (SPOT, "market", "sell", 0.5, None, 1.0),
            ("market", "sell", "open"),
        ),
        ("create_post_only_order", (SPOT, "limit", "buy", 0.5, 95.0), ("limit", "buy", "open")),
        ("create_reduce_only_order", (PERP, "market", "buy", 0.5), ("market", "buy", "canceled")),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_create_order_helpers_place_what_ccxt_names_them(
    method: str, args: tuple[Any, ...], expected: tuple[str, str, str]
) -> None:
    ex, _ = make({"USDT": 10_000.0, "BTC": 1.0})
    order = run(getattr(ex, method)(*args))

    assert (order["type"], order["side"], order["status"]) == expected
    assert order["amount"] == 0.5 and order["symbol"] == args[0]
    if "stop" in method or "trigger" in method or "take_profit" in method:
        assert order["triggerPrice"] == order["stopPrice"] is not None
    assert order["postOnly"] is (method == "create_post_only_order")
    assert order["reduceOnly"] is (method == "create_reduce_only_order")


def test_post_only_limit_that_would_take_is_refused() -> None:
    ex, _ = make()
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="would immediately match"):
        run(ex.create_post_only_order(SPOT, "limit", "buy", 1.0, 101.0))
    maker = run(ex.create_order(SPOT, "limit", "buy", 1.0, 100.0, {"postOnly": True}))

    assert (maker["status"], maker["timeInForce"]) == ("open", "PO")
    assert run(ex.fetch_orders()) == [maker]  # the refused one left no trace


def test_cancel_all_orders_cancels_the_symbols_open_orders_and_frees_funds() -> None:
    ex, _ = make()
    a = run(ex.create_limit_buy_order(SPOT, 1.0, 90.0))
    b = run(ex.create_limit_buy_order(SPOT, 1.0, 91.0))
    c = run(ex.create_limit_buy_order(PERP, 1.0, 91.0))
    done = run(ex.cancel_all_orders(SPOT))
    left = run(ex.fetch_open_orders())
    bal = run(ex.fetch_balance())

    assert sorted(o["id"] for o in done) == sorted([a["id"], b["id"]])
    assert all(o["status"] == "canceled" and o["remaining"] == 1.0 for o in done)
    assert [o["id"] for o in left] == [c["id"]]
    assert bal["used"]["USDT"] == 0.0  # spot reservations released (perp limits lock none)
    assert run(ex.cancel_all_orders()) and run(ex.fetch_open_orders()) == []


def test_fetch_closed_and_canceled_orders_split_by_status() -> None:
    ex, book = make()
    book.set(SPOT, [(99.0, 5.0)], [(101.0, 1.0)])
    full = run(ex.create_market_buy_order(SPOT, 1.0))
    partial = run(ex.create_market_buy_order(SPOT, 2.0))  # only 1.0 on the book
    resting = run(ex.create_limit_buy_order(SPOT, 1.0, 90.0))

    assert [o["id"] for o in run(ex.fetch_closed_orders())] == [full["id"]]
    assert [o["id"] for o in run(ex.fetch_canceled_orders(SPOT))] == [partial["id"]]
    assert [o["id"] for o in run(ex.fetch_open_orders())] == [resting["id"]]


def test_edit_order_replaces_price_and_amount_with_a_new_order() -> None:
    ex, book = make()
    old = run(ex.create_limit_buy_order(SPOT, 1.0, 90.0))
    new = run(ex.edit_order(old["id"], SPOT, "limit", "buy", 2.0, 95.0))
    used = run(ex.fetch_balance())["used"]["USDT"]
    book.set(SPOT, [(93.0, 5.0)], [(94.0, 5.0)])
    ex.on_book_update(SPOT)

    assert new["id"] != old["id"]
    assert run(ex.fetch_order(old["id"]))["status"] == "canceled"
    assert (new["amount"], new["price"], new["status"]) == (2.0, 95.0, "open")
    assert used == pytest.approx(2.0 * 95.0 * 1.001)  # the old reservation was released
    assert run(ex.fetch_order(new["id"]))["status"] == "closed"


def test_edit_order_that_is_refused_leaves_the_old_order_untouched() -> None:
    ex, _ = make({"USDT": 1_000.0})
    old = run(ex.create_limit_buy_order(SPOT, 1.0, 90.0))
    used_before = run(ex.fetch_balance())["used"]["USDT"]
    with pytest.raises(ccxt.InsufficientFunds):
        run(ex.edit_order(old["id"], SPOT, "limit", "buy", 50.0, 90.0))

    assert run(ex.fetch_order(old["id"]))["status"] == "open"
    assert run(ex.fetch_balance())["used"]["USDT"] == pytest.approx(used_before)
    with pytest.raises(ccxt.OrderNotFound):
        run(ex.edit_order("nope", SPOT, "limit", "buy", 1.0, 90.0))


def test_stop_order_edit_keeps_its_trigger() -> None:
    ex, _ = make({"USDT": 10_000.0, "BTC": 1.0})
    stop = run(ex.create_stop_loss_order(SPOT, "market", "sell", 0.5, None, 95.0))
    moved = run(ex.edit_order(stop["id"], SPOT, "market", "sell", 0.8))

    assert (moved["stopPrice"], moved["amount"], moved["status"]) == (95.0, 0.8, "open")


def test_market_order_with_cost_buys_what_the_cost_pays_for_at_the_book() -> None:
    ex, book = make(taker_fee=0.0)
    book.set(SPOT, [(99.0, 5.0)], [(100.0, 1.0), (102.0, 5.0)])
    order = run(ex.create_market_buy_order_with_cost(SPOT, 304.0))  # 100 x 1 + 102 x 2

    assert order["filled"] == pytest.approx(3.0)
    assert order["cost"] == pytest.approx(304.0)
    with pytest.raises(ccxt.InvalidOrder, match="cost"):
        run(ex.create_market_order_with_cost(SPOT, "buy", -1.0))


def test_order_book_and_ticker_read_the_live_book() -> None:
    ex, book = make()
    book.set(SPOT, [(99.0, 1.0), (98.0, 2.0), (97.0, 3.0)], [(101.0, 4.0), (102.0, 5.0)])
    ob = run(ex.fetch_order_book(SPOT, 2))
    ticker = run(ex.fetch_ticker(SPOT))

    assert ob["bids"] == [[99.0, 1.0], [98.0, 2.0]] and ob["asks"] == [[101.0, 4.0], [102.0, 5.0]]
    assert (ob["symbol"], ob["timestamp"], ob["datetime"]) == (
        SPOT,
        1_000,
        "1970-01-01T00:00:01.000Z",
    )
    assert (ticker["bid"], ticker["bidVolume"], ticker["ask"], ticker["askVolume"]) == (
        99.0,
        1.0,
        101.0,
        4.0,
    )
    assert ticker["last"] is None  # nothing traded yet
    with pytest.raises(ccxt.BadSymbol):
        run(ex.fetch_order_book("ETH/USDT"))


def test_public_tape_holds_fills_on_the_takers_side_and_feeds_ticker_and_candles() -> None:
    ex, book = make()
    clock = {"ms": 1_721_260_800_000}
    ex._clock = lambda: clock["ms"]
    ex.record_trade(SPOT, clock["ms"], 100.0, 2.0, "sell")
    clock["ms"] += 30_000
    run(ex.create_market_buy_order(SPOT, 1.0))  # taker buy at 101
    clock["ms"] += 40_000  # next minute
    run(ex.create_limit_buy_order(SPOT, 1.0, 100.0))
    book.set(SPOT, [(98.0, 5.0)], [(99.0, 5.0)])
    ex.on_book_update(SPOT)  # our resting buy fills as maker: the taker sold
    trades = run(ex.fetch_trades(SPOT))
    candles = run(ex.fetch_ohlcv(SPOT, "1m"))
    ticker = run(ex.fetch_ticker(SPOT))

    assert [(t["price"], t["amount"], t["side"]) for t in trades] == [
        (100.0, 2.0, "sell"),
        (101.0, 1.0, "buy"),
        (100.0, 1.0, "sell"),
    ]
    t0 = 1_721_260_800_000
    assert candles == [
        [t0, 100.0, 101.0, 100.0, 101.0, 3.0],
        [t0 + 60_000, 100.0, 100.0, 100.0, 100.0, 1.0],
    ]
    assert (ticker["open"], ticker["high"], ticker["low"], ticker["last"]) == (
        100.0,
        101.0,
        100.0,
        100.0,
    )
    assert ticker["baseVolume"] == 4.0 and ticker["vwap"] == pytest.approx(401.0 / 4.0)
    assert run(ex.fetch_trades(SPOT, since=t0 + 1, limit=1)) == [trades[1]]
    with pytest.raises(ccxt.BadRequest, match="timeframe"):
        run(ex.fetch_ohlcv(SPOT, "7m"))


def test_tape_is_bounded_and_counts_what_it_dropped() -> None:
    ex, _ = make(tape_size=3)
    for i in range(5):
        ex.record_trade(SPOT, 1_000 + i, 100.0 + i, 1.0, None)
    with pytest.raises(ValueError, match="price and amount > 0"):
        ex.record_trade(SPOT, 1_000, float("nan"), 1.0, "buy")

    assert [t["price"] for t in run(ex.fetch_trades(SPOT))] == [102.0, 103.0, 104.0]
    assert ex.tape_dropped == 2


def test_amount_that_truncates_to_zero_is_refused_like_ccxt() -> None:
    ex, _ = make()
    with pytest.raises(ccxt.InvalidOrder, match="minimum amount precision"):
        ex.amount_to_precision(SPOT, 0.0004)
    with pytest.raises(ccxt.InvalidOrder, match="amount must be a number > 0"):
        run(ex.create_order(SPOT, "market", "buy", float("nan")))


def test_balances_sum_exactly_after_reservations_and_releases() -> None:
    ex, _ = make({"USDT": 1_000_000.0})
    for amount, px in ((0.341, 99.7), (0.017, 98.3), (0.123, 97.1)):
        run(ex.create_order(SPOT, "limit", "buy", amount, px))
    run(ex.create_order(SPOT, "market", "buy", 0.037))
    bal = run(ex.fetch_balance())

    for ccy in bal["total"]:
        free, used, total = (Decimal(repr(bal[k][ccy])) for k in ("free", "used", "total"))
        assert free + used == total, ccy


def test_trigger_helpers_require_their_trigger_price() -> None:
    ex, _ = make({"USDT": 10_000.0, "BTC": 1.0})
    with pytest.raises(ccxt.ArgumentsRequired, match="stopLossPrice"):
        run(ex.create_stop_loss_order(SPOT, "market", "sell", 0.5))
    with pytest.raises(ccxt.ArgumentsRequired, match="trailingPercent"):
        run(ex.create_trailing_percent_order(SPOT, "market", "sell", 0.5))

    assert run(ex.fetch_orders()) == []


@given(
    st.integers(0, 10**9),
    st.sampled_from([0.00001, 0.0001, 0.001, 0.01, 0.1, 0.5, 1.0, 5.0]),
    st.floats(-0.49, 0.49),
)
def test_step_snapping_equals_exact_decimal_arithmetic(k: int, step: float, noise: float) -> None:
    exact = float(Decimal(k) * Decimal(repr(step)))
    noisy = (k + noise * 1e-6) * step  # float noise far below half a step

    assert paper_mod._snap(noisy, step) == exact
    assert paper_mod._snap_down(exact, step) == exact


@given(st.integers(1_230_940_800_001, 2_147_483_647_999))
def test_iso8601_equals_ccxt(ms: int) -> None:
    assert PaperExchange.iso8601(ms) == ccxt.Exchange.iso8601(ms)


# ---------------------------------------------------------------------- contract size


def perp_market(contract_size: float, **extra: Any) -> PaperMarket:
    """The BTC/USDT linear swap in contracts of ``contract_size`` BTC: its amount step and
    minimum are 0.001 BTC in contracts (the test venues' other fields in ``extra``)."""
    step = 0.001 / contract_size
    return PaperMarket(
        PERP,
        "BTC",
        "USDT",
        kind="swap",
        amount_step=step,
        min_amount=step,
        contract_size=contract_size,
        **extra,
    )


def _perp_venue(contract_size: float, contracts: float) -> tuple[PaperExchange, Book]:
    """A swap whose amounts are contracts of ``contract_size`` BTC, its book ``contracts``
    deep per level (the same BTC depth for every contract size)."""
    book = Book()
    book.set(PERP, [(99.0, contracts)], [(101.0, contracts)])
    ex = PaperExchange(
        [perp_market(contract_size, min_cost=1.0)],
        book,
        balances={"USDT": 10_000.0},
        clock=lambda: 1_000,
        taker_fee=0.001,
    )
    run(ex.load_markets())
    return ex, book


@pytest.mark.parametrize("contract_size", [0.01, 100.0], ids=("cs_0.01", "cs_100"))
def test_contracts_of_a_contract_size_account_as_that_many_base_units(
    contract_size: float,
) -> None:
    # 2 BTC short then covered, on a swap of 1 BTC contracts and on one of contract_size
    results = []
    for cs in (1.0, contract_size):
        ex, book = _perp_venue(cs, 5.0 / cs)
        sold = run(ex.create_order(PERP, "market", "sell", 2.0 / cs))  # at bid 99
        book.set(PERP, [(89.0, 5.0 / cs)], [(90.0, 5.0 / cs)])
        [pos] = run(ex.fetch_positions())
        used = run(ex.fetch_balance())["used"]["USDT"]
        bought = run(ex.create_order(PERP, "market", "buy", 2.0 / cs))  # at ask 90
        results.append((ex, sold, pos, used, bought))

    (ex1, sold1, pos1, used1, bought1), (ex, sold, pos, used, bought) = results
    assert ex.markets[PERP]["contractSize"] == contract_size
    assert sold["amount"] == pytest.approx(2.0 / contract_size)
    # ccxt's linear rule: cost = filled x contractSize x average
    assert sold["cost"] == pytest.approx(sold["filled"] * contract_size * sold["average"])
    assert (sold["average"], sold["cost"], sold["fee"]["cost"]) == pytest.approx(
        (sold1["average"], sold1["cost"], sold1["fee"]["cost"])
    )
    assert sold["trades"][0]["cost"] == pytest.approx(198.0)
    assert pos["contracts"] == pytest.approx(2.0 / contract_size)
    assert pos["contractSize"] == contract_size
    for key in ("notional", "unrealizedPnl", "initialMargin", "collateral"):
        assert pos[key] == pytest.approx(pos1[key]), key
    assert pos["notional"] == pytest.approx(2.0 * 89.5)
    assert used == pytest.approx(used1) and used == pytest.approx(198.0)
    assert bought["cost"] == pytest.approx(bought1["cost"]) == pytest.approx(180.0)
    assert ex.realized_pnl == pytest.approx(ex1.realized_pnl) == pytest.approx(18.0)
    assert ex.fees_paid == pytest.approx(ex1.fees_paid) == pytest.approx(0.378)
    assert run(ex.fetch_balance())["total"]["USDT"] == pytest.approx(10_000.0 + 18.0 - 0.378)
    assert ex.equity() == pytest.approx(ex.starting_equity + ex.realized_pnl - ex.fees_paid)


def test_margin_check_counts_the_contract_size() -> None:
    ex, _ = _perp_venue(100.0, 1_000.0)

    with pytest.raises(ccxt.InsufficientFunds):  # 2 contracts of 100 BTC: 20,200 of margin
        run(ex.create_order(PERP, "market", "buy", 2.0))
    run(ex.create_order(PERP, "market", "buy", 0.5))  # 0.5 contract: 5,050

    assert run(ex.fetch_balance())["used"]["USDT"] == pytest.approx(5_050.0)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kind": "swap", "contract_size": 0.0}, "contract_size must be a finite number > 0"),
        ({"kind": "swap", "contract_size": float("nan")}, "was nan"),
        ({"kind": "spot", "contract_size": 2.0}, "a spot market's contract_size is 1, was 2.0"),
    ],
    ids=("zero", "nan", "spot"),
)
def test_bad_contract_size_is_refused_naming_it(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PaperMarket(PERP, "BTC", "USDT", **kw)
