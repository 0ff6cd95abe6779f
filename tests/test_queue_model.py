"""The paper queue model: fills only from real trades, after the queue ahead is traded through."""

from __future__ import annotations

import math

import pytest
from confluex.trading.queue_model import QueueModel, Side
from hypothesis import given, settings
from hypothesis import strategies as st


class Book:
    """A visible book as the model reads it: {(side, price): lots}."""

    def __init__(self, levels: dict[tuple[Side, int], float] | None = None) -> None:
        self.levels = dict(levels or {})

    def __call__(self, side: Side, px: int) -> float | None:
        return self.levels.get((side, px), 0.0)


def test_order_fills_only_after_the_queue_ahead_is_traded_through() -> None:
    book = Book({("buy", 100): 30})
    qm = QueueModel("worst")
    order = qm.place("buy", 100, 5, ts_ns=0)
    qm.advance(0, book)
    assert order.ahead_lots == 30 and order.queue_at_entry == 30
    # 29 lots of sells at our price: the queue ahead shrinks, nothing fills
    assert qm.on_trade(1, 100, 20, "sell") == []
    assert qm.on_trade(2, 100, 9, "sell") == []
    assert order.ahead_lots == 1
    # buys (the other side) and sells at a lower-priority price never touch a bid
    assert qm.on_trade(3, 100, 50, "buy") == []
    assert qm.on_trade(3, 101, 50, "sell") == []
    # the next 3 lots: 1 clears the queue ahead, 2 fill us
    fills = qm.on_trade(4, 100, 3, "sell")
    assert [(f.qty_lots, f.price_ticks, f.through) for f in fills] == [(2, 100, False)]
    assert order.remaining_lots == 3
    fills = qm.on_trade(5, 100, 10, "sell")
    assert [f.qty_lots for f in fills] == [3]
    assert qm.get(order.order_id) is None  # filled: gone


def test_book_moving_through_the_price_without_a_trade_fills_nothing() -> None:
    book = Book({("sell", 105): 4})
    qm = QueueModel("pro_rata")
    order = qm.place("sell", 105, 2, ts_ns=0)
    qm.advance(0, book)
    # the bids climb to and above our ask, the asks at 105 vanish: no print, no fill
    book.levels = {("buy", 106): 10, ("sell", 107): 3}
    qm.on_depth(book)
    assert order.filled_lots == 0 and order.ahead_lots == 0
    assert qm.on_trade(1, 104, 5, "buy") == []  # a buy below our ask does not reach it


def test_trade_through_the_price_fills_up_to_the_print() -> None:
    book = Book({("buy", 100): 50})
    qm = QueueModel("worst")
    order = qm.place("buy", 100, 10, ts_ns=0)
    qm.advance(0, book)
    fills = qm.on_trade(1, 99, 4, "sell")  # printed below our bid: the level was swept
    assert [(f.qty_lots, f.through) for f in fills] == [(4, True)]
    assert order.ahead_lots == 0 and order.remaining_lots == 6


def test_cancels_pro_rata_shrink_the_queue_ahead_but_at_worst_they_do_not() -> None:
    results = {}
    for model in ("pro_rata", "worst"):
        book = Book({("buy", 100): 40})
        qm = QueueModel(model)  # type: ignore[arg-type]
        order = qm.place("buy", 100, 1, ts_ns=0)
        qm.advance(0, book)
        book.levels[("buy", 100)] = 60  # 20 join behind us
        qm.on_depth(book)
        book.levels[("buy", 100)] = 30  # 30 cancel
        qm.on_depth(book)
        results[model] = order.ahead_lots
    assert results["worst"] == 30  # only capped by the level
    assert results["pro_rata"] == pytest.approx(40 - 30 * 40 / 60)


def test_traded_lots_explain_the_next_level_shrink_instead_of_cancels() -> None:
    book = Book({("sell", 200): 10})
    qm = QueueModel("pro_rata")
    order = qm.place("sell", 200, 1, ts_ns=0)
    qm.advance(0, book)
    qm.on_trade(1, 200, 4, "buy")  # 4 traded: ahead 10 -> 6
    book.levels[("sell", 200)] = 6  # the depth diff that shows those 4 lots gone
    qm.on_depth(book)
    assert order.ahead_lots == 6  # not counted twice


def test_latency_delays_joining_and_cancels() -> None:
    book = Book({("buy", 100): 0})
    qm = QueueModel("worst", latency_ns=10)
    order = qm.place("buy", 100, 2, ts_ns=0)
    assert qm.on_trade(5, 100, 5, "sell") == []  # not at the venue yet
    qm.advance(10, book)
    assert order.active
    qm.cancel(order.order_id, ts_ns=20)
    fills = qm.on_trade(25, 100, 1, "sell")  # the cancel is still on its way
    assert [f.qty_lots for f in fills] == [1]
    qm.advance(30, book)
    assert qm.get(order.order_id) is None and qm.canceled == 1


def test_one_print_never_fills_more_than_its_size_across_orders() -> None:
    book = Book({("buy", 100): 0, ("buy", 99): 0})
    qm = QueueModel("worst")
    qm.place("buy", 100, 5, 0)
    qm.place("buy", 99, 5, 0)
    qm.advance(0, book)
    fills = qm.on_trade(1, 98, 7, "sell")
    assert [(f.price_ticks, f.qty_lots) for f in fills] == [(100, 5), (99, 2)]


def test_fills_are_whole_amount_steps() -> None:
    book = Book({("buy", 100): 7})
    qm = QueueModel("pro_rata", step_lots=5)
    order = qm.place("buy", 100, 10, 0)
    qm.advance(0, book)
    book.levels[("buy", 100)] = 10  # 3 join behind us
    qm.on_depth(book)
    book.levels[("buy", 100)] = 5  # 5 cancel, pro-rata: a fractional queue ahead
    qm.on_depth(book)
    assert order.ahead_lots == pytest.approx(3.5)
    assert qm.on_trade(1, 100, 12, "sell")[0].qty_lots == 5  # 8.5 past the queue: one step
    assert [f.qty_lots for f in qm.on_trade(2, 99, 9, "sell")] == [5]
    with pytest.raises(ValueError, match="multiple of 5"):
        qm.place("buy", 100, 7, 3)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="cancels"):
        QueueModel("fifo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latency_ns"):
        QueueModel(latency_ns=-1)
    with pytest.raises(ValueError, match="step_lots"):
        QueueModel(step_lots=0)
    qm = QueueModel()
    with pytest.raises(ValueError, match="qty_lots"):
        qm.place("buy", 1, 0, 0)
    with pytest.raises(ValueError, match="side"):
        qm.place("bid", 1, 1, 0)  # type: ignore[arg-type]


events = st.lists(
    st.one_of(
        st.tuples(
            st.just("trade"),
            st.integers(95, 105),
            st.integers(1, 20),
            st.sampled_from(["buy", "sell"]),
        ),
        st.tuples(
            st.just("depth"),
            st.integers(95, 105),
            st.integers(0, 60),
            st.sampled_from(["buy", "sell"]),
        ),
        st.tuples(
            st.just("place"),
            st.integers(95, 105),
            st.integers(1, 10),
            st.sampled_from(["buy", "sell"]),
        ),
        st.tuples(
            st.just("cancel"),
            st.integers(0, 10),
            st.integers(0, 0),
            st.sampled_from(["buy", "sell"]),
        ),
    ),
    max_size=80,
)


@settings(max_examples=200)
@given(seq=events, model=st.sampled_from(["pro_rata", "worst"]), latency=st.integers(0, 3))
def test_queue_model_invariants(
    seq: list[tuple[str, int, int, str]], model: str, latency: int
) -> None:
    book = Book({(s, p): 10.0 for s in ("buy", "sell") for p in range(95, 106)})  # type: ignore[misc]
    qm = QueueModel(model, latency_ns=latency)  # type: ignore[arg-type]
    placed: dict[int, int] = {}
    filled: dict[int, int] = {}
    for ts, (kind, px, n, side) in enumerate(seq):
        qm.advance(ts, book)
        if kind == "trade":
            before = {o.order_id: (o.side, o.price_ticks, o.active) for o in qm.orders}
            fills = qm.on_trade(ts, px, n, side)  # type: ignore[arg-type]
            assert sum(f.qty_lots for f in fills) <= n  # a print fills at most its size
            for f in fills:
                o_side, o_px, active = before[f.order_id]
                assert active and o_side != side  # the passive side, once at the venue
                # only at or through our price: a bid fills on sells at or below it
                assert (px <= o_px) if o_side == "buy" else (px >= o_px)
                filled[f.order_id] = filled.get(f.order_id, 0) + f.qty_lots
        elif kind == "depth":
            book.levels[(side, px)] = float(n)  # type: ignore[index]
            qm.on_depth(book)
        elif kind == "place":
            placed[qm.place(side, px, n, ts).order_id] = n  # type: ignore[arg-type]
        elif placed:
            qm.cancel(sorted(placed)[px % len(placed)], ts)
        for o in qm.orders:
            assert 0 <= o.filled_lots < o.qty_lots
            if o.active:
                assert o.ahead_lots >= 0
                level = book(o.side, o.price_ticks)
                assert level is not None
                if kind == "depth" and not math.isnan(o.level_lots):
                    assert o.ahead_lots <= level
    for oid, lots in filled.items():
        assert lots <= placed[oid]
