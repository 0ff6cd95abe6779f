"""Executor against ccxt's real binance class talking to a loopback Binance spot simulator.

Also: sizing, spot-short refusal, live-mode guards and credential redaction, client stops.
Coroutines run with ``asyncio.run`` (no pytest-asyncio).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import venue_sim as sim_mod
from confluex.trading import Rejection, RejectReason
from confluex.trading.execution import (
    ClientStop,
    ClientStops,
    ExecutionSettings,
    Executor,
    FillEvent,
    Position,
)
from confluex.trading.paper_venue import PaperExchange, PaperMarket
from confluex.trading.store import OrderJournal
from confluex.trading.types import Side
from execution_helpers import FAST, KEY, SECRET, intent, journal_entry, posts, run, venue


# ---------------------------------------------------------------------- venue scenarios
def test_market_entry_fills_and_position_is_net_of_base_fee() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, fills):
            pos = await executor.open(intent(quote=1000.0, price=100.0))

            assert isinstance(pos, Position)
            assert sim.orders_accepted == 1
            sent = posts(sim)[0]
            assert (sent["type"], sent["side"], sent["quantity"]) == ("MARKET", "BUY", "10")
            assert pos.amount == pytest.approx(10.0 * (1 - sim_mod.FEE))
            assert pos.entry_price == pytest.approx(100.01)
            assert [(f.trade_type, f.event) for f in fills] == [("entry", "filled")]
            assert fills[0].client_order_id == sent["newClientOrderId"]

    run(main)


def test_stop_loss_is_native_stop_and_take_profit_watched_client_side_on_spot() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, fills):
            pos = await executor.open(intent(stop=95.0, tp=110.0))
            assert isinstance(pos, Position)
            stop = posts(sim)[1]
            sim.set_book("BTCUSDT", [(110.5, 50.0)], [(110.6, 50.0)])
            await executor.on_price("BTC/USDT", 110.5, 110.6)

            assert (stop["type"], stop["side"], stop["stopPrice"]) == ("STOP_LOSS", "SELL", "95")
            assert "reduceOnly" not in stop  # invalid on spot (reference §6.2 defect 3)
            assert float(stop["quantity"]) == pytest.approx(9.99)
            assert executor.positions == {}
            stop_order = sim.orders[min(sim.orders) + 1]
            assert stop_order.status == "CANCELED"
            assert [f.trade_type for f in fills] == ["entry", "exit"]
            assert fills[1].realized_pnl > 0

    run(main)


def test_take_profit_alone_is_a_native_gtc_limit_order() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, fills):
            await executor.open(intent(tp=110.0))
            tp = posts(sim)[1]
            sim.set_book("BTCUSDT", [(111.0, 50.0)], [(111.1, 50.0)])
            await executor.sync()

            assert (tp["type"], tp["side"], tp["price"], tp["timeInForce"]) == (
                "LIMIT",
                "SELL",
                "110",
                "GTC",
            )
            assert executor.positions == {}
            assert fills[-1].trade_type == "exit" and fills[-1].average_fill_price == 110.0

    run(main)


def test_native_stop_fill_is_booked_by_sync() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, fills):
            await executor.open(intent(stop=95.0))
            sim.set_book("BTCUSDT", [(94.0, 50.0)], [(94.1, 50.0)])
            await executor.sync()

            assert executor.positions == {}
            assert fills[-1].trade_type == "exit"
            assert fills[-1].realized_pnl == pytest.approx((94.0 - 100.01) * 9.99)

    run(main)


def test_trailing_stop_is_cancelled_and_replaced_as_price_rises() -> None:
    async def main() -> None:
        settings = dataclasses.replace(FAST, trailing_mode="replace")
        async with venue(settings=settings) as (sim, _ex, executor, _fills):
            await executor.open(intent(trail=0.02))
            first = posts(sim)[1]
            await executor.on_price("BTC/USDT", 105.0, 105.1)
            await executor.on_price("BTC/USDT", 104.0, 104.1)  # lower: no move
            stops = [o for o in sim.orders.values() if o.type == "STOP_LOSS"]

            assert first["stopPrice"] == "98.01"  # 100.01 * 0.98
            assert [(o.status, o.stop_price) for o in stops] == [
                ("CANCELED", 98.01),
                ("NEW", 102.9),
            ]
            sim.set_book("BTCUSDT", [(102.5, 50.0)], [(102.6, 50.0)])
            await executor.sync()
            assert executor.positions == {}

    run(main)


def test_native_trailing_stop_uses_trailing_delta_and_triggers_at_the_venue() -> None:
    async def main() -> None:
        settings = dataclasses.replace(FAST, trailing_mode="native")
        async with venue(settings=settings) as (sim, _ex, executor, fills):
            await executor.open(intent(trail=0.02))
            trail = posts(sim)[1]
            for bid in (110.0, 108.0):  # 108 > 110 * 0.98 = 107.8: still open
                sim.set_book("BTCUSDT", [(bid, 50.0)], [(bid + 0.1, 50.0)])
            await executor.sync()
            still_open = "BTC/USDT" in executor.positions
            sim.set_book("BTCUSDT", [(107.7, 50.0)], [(107.8, 50.0)])
            await executor.sync()

            assert (trail["type"], trail["side"], trail["trailingDelta"]) == (
                "STOP_LOSS",
                "SELL",
                "200",
            )
            assert "stopPrice" not in trail
            assert still_open and executor.positions == {}
            assert fills[-1].average_fill_price == 107.7

    run(main)


def test_partial_fill_position_is_filled_amount_only() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, fills):
            sim.set_book("BTCUSDT", [(99.99, 10.0)], [(100.01, 3.0)])
            pos = await executor.open(intent(quote=1000.0))

            assert isinstance(pos, Position)
            assert pos.amount == pytest.approx(3.0 * (1 - sim_mod.FEE))
            assert fills[0].event == "partially_filled"
            assert fills[0].filled_amount == pytest.approx(3.0)

    run(main)


def test_timeout_after_acceptance_finds_order_by_client_id_without_resending() -> None:
    async def main() -> None:
        async with venue(timeout_ms=300) as (sim, _ex, executor, _fills):
            sim.delay_order_response_s = 1.0
            pos = await executor.open(intent())

            assert isinstance(pos, Position)
            assert sim.order_posts == 1 and sim.orders_accepted == 1
            lookups = [p for m, path, p in sim.requests if m == "GET" and path.endswith("/order")]
            assert lookups[0]["origClientOrderId"] == posts(sim)[0]["newClientOrderId"]

    run(main)


def test_rate_limit_backs_off_and_succeeds_with_the_same_client_id() -> None:
    async def main() -> None:
        async with venue() as (sim, _ex, executor, _fills):
            sim.rate_limit_next = 2
            pos = await executor.open(intent())

            assert isinstance(pos, Position)
            assert sim.order_posts == 3 and sim.orders_accepted == 1
            assert len({p["newClientOrderId"] for p in posts(sim)}) == 1

    run(main)


def test_insufficient_funds_is_rejected_without_retry() -> None:
    async def main() -> None:
        async with venue({"USDT": 50.0, "BTC": 0.0}) as (sim, _ex, executor, fills):
            res = await executor.open(intent(quote=1000.0))

            assert isinstance(res, Rejection)
            assert "insufficient" in res.detail.lower()
            assert sim.order_posts == 1
            assert fills == [] and executor.positions == {}

    run(main)


def test_bad_signature_surfaces_authentication_error_without_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        async with venue(secret=SECRET + "-wrong") as (sim, ex, executor, _fills):
            with pytest.raises(ccxt.AuthenticationError) as info:
                await executor.open(intent())

            assert sim.orders_accepted == 0
            text = str(info.value) + repr(info.value) + repr(executor) + caplog.text
            assert ex.secret not in text and KEY not in text
            assert "-1022" in str(info.value)

    caplog.set_level(logging.DEBUG)
    run(main)


# ---------------------------------------------------------------------- guards and sizing
class LeakyExchange(PaperExchange):
    """A paper venue posing as live whose errors echo the credentials (worst case)."""

    def __init__(self, *a: Any, **k: Any) -> None:
        super().__init__(*a, **k)
        self.paper = False
        self.apiKey = KEY
        self.secret = SECRET
        self.fail: list[Exception] = []

    async def create_order(self, *a: Any, **k: Any) -> dict[str, Any]:
        if self.fail:
            raise self.fail.pop(0)
        return await super().create_order(*a, **k)


def _paper(cls: type[PaperExchange] = PaperExchange, **kw: Any) -> PaperExchange:
    book = ([(99.99, 100.0)], [(100.01, 100.0)])
    markets = [
        PaperMarket("BTC/USDT", "BTC", "USDT"),
        PaperMarket(
            "BTC/USDT:USDT",
            "BTC",
            "USDT",
            kind="swap",
            amount_step=0.001,
            min_amount=0.001,
            price_step=0.1,
        ),
    ]
    return cls(markets, lambda s: book, balances={"USDT": 10_000.0}, clock=lambda: 0, **kw)


def test_secret_echoed_by_venue_errors_is_redacted_from_reasons_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        ex = _paper(LeakyExchange)
        assert isinstance(ex, LeakyExchange)
        ex.fail = [
            ccxt.RequestTimeout(f"timeout sig {SECRET}"),
            ccxt.ExchangeError(f"bad key {KEY} secret {SECRET}"),
        ]
        executor = Executor(ex, settings=FAST, live=True)
        await executor.start()
        res = await executor.open(intent())

        assert isinstance(res, Rejection)
        assert SECRET not in res.detail and KEY not in res.detail
        assert SECRET not in caplog.text and KEY not in caplog.text
        assert "***" in res.detail

    caplog.set_level(logging.DEBUG)
    run(main)


def test_live_exchange_is_refused_without_live_flag_or_credentials() -> None:
    live = ccxt_async.binance({"apiKey": KEY, "secret": SECRET})
    keyless = ccxt_async.binance()
    try:
        with pytest.raises(ValueError, match="live=True"):
            Executor(live)
        with pytest.raises(ValueError, match="credentials"):
            Executor(keyless, live=True)
        accepted = Executor(live, live=True)
        assert SECRET not in repr(accepted)
    finally:
        asyncio.run(live.close())
        asyncio.run(keyless.close())


@pytest.mark.parametrize(
    ("quote", "price", "needle"),
    [(0.0001, 100.0, "rounds to zero"), (4.0, 100.0, "minimum cost"), (-1.0, 100.0, "> 0")],
    ids=("rounds_to_zero", "under_min_cost", "negative"),
)
def test_unsendable_size_is_rejected_and_never_sent(
    quote: float, price: float, needle: str
) -> None:
    async def main() -> None:
        ex = _paper()
        executor = Executor(ex, settings=FAST)
        await executor.start()
        res = await executor.open(intent(quote=quote, price=price))

        assert isinstance(res, Rejection) and needle in res.detail
        assert await ex.fetch_orders() == []

    run(main)


def test_short_on_spot_is_rejected_but_allowed_on_derivatives() -> None:
    async def main() -> None:
        ex = _paper()
        executor = Executor(ex, settings=FAST)
        await executor.start()
        spot = await executor.open(intent(side=Side.SELL))
        perp = await executor.open(intent(side=Side.SELL, symbol="BTC/USDT:USDT"))

        assert (
            isinstance(spot, Rejection)
            and spot.reason is RejectReason.SPOT_SHORT
            and "spot" in spot.detail
        )
        assert isinstance(perp, Position) and perp.direction == "short"
        assert perp.amount == pytest.approx(10.0)

    run(main)


def test_derivative_stop_and_take_profit_are_native_reduce_only() -> None:
    async def main() -> None:
        ex = _paper()
        executor = Executor(ex, settings=FAST)
        await executor.start()
        await executor.open(intent(side=Side.SELL, symbol="BTC/USDT:USDT", stop=105.0, tp=90.0))
        opens = await ex.fetch_open_orders("BTC/USDT:USDT")

        assert sorted(
            (o["type"], o["side"], o["reduceOnly"], o["stopLossPrice"], o["price"]) for o in opens
        ) == [("limit", "buy", True, None, 90.0), ("market", "buy", True, 105.0, None)]

    run(main)


def test_journal_is_durable_before_each_send_and_resolved_after(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    seen_on_disk: list[bool] = []

    class CheckingExchange(PaperExchange):
        async def create_order(self, *a: Any, **k: Any) -> dict[str, Any]:
            cid = (a[5] if len(a) > 5 else k["params"])["clientOrderId"]
            seen_on_disk.append(cid in path.read_text())  # written (and fsync-ed) already
            return await super().create_order(*a, **k)

    async def main() -> None:
        journal = OrderJournal(path)
        executor = Executor(_paper(CheckingExchange), settings=FAST, journal=journal)
        await executor.start()
        await executor.open(intent(stop=95.0))
        journal.close()

    run(main)
    reopened = OrderJournal(path)
    reopened.close()
    events = [line.split('"event":"')[1].split('"')[0] for line in path.read_text().splitlines()]

    assert seen_on_disk == [True, True]  # entry and stop
    assert len(reopened) == 2 and reopened.unresolved() == []
    assert events == ["intent", "ack", "intent", "ack"]


def test_start_resolves_journaled_orders_the_venue_never_got(tmp_path: Path) -> None:
    async def main() -> None:
        path = tmp_path / "orders.jsonl"
        crashed = OrderJournal(path)
        journal_entry(crashed, "cfxdeadbeef")
        crashed.close()
        journal = OrderJournal(path)
        executor = Executor(_paper(), settings=FAST, journal=journal)
        await executor.start()

        entry = journal.get("cfxdeadbeef")
        journal.close()
        assert entry is not None and entry.final and entry.status == "absent"

    run(main)


# ---------------------------------------------------------------------- client stops
def test_client_stop_fires_on_bid_for_long_and_ask_for_short() -> None:
    stops = ClientStops()
    stops.set(ClientStop("L", exit_side="sell", stop_price=95.0))
    stops.set(ClientStop("S", exit_side="buy", stop_price=105.0))

    assert stops.update("L", 95.5, 94.0) is None  # the ask does not matter for a long
    long_hit = stops.update("L", 95.0, 95.1)
    assert stops.update("S", 106.0, 104.9) is None
    short_hit = stops.update("S", 104.0, 105.0)
    assert long_hit is not None and long_hit.kind == "stop"
    assert short_hit is not None and short_hit.kind == "stop"
    assert "L" not in stops and "S" not in stops


def test_client_trailing_stop_follows_the_high_and_fires_on_retrace() -> None:
    stops = ClientStops()
    stops.set(ClientStop("X", exit_side="sell", trailing_pct=0.02, extreme=100.0))

    fired = [stops.update("X", px, px + 0.1) for px in (101.0, 110.0, 108.0, 107.7)]
    assert fired[:3] == [None, None, None]
    assert fired[3] is not None and fired[3].kind == "trailing"  # 107.7 <= 110 * 0.98


def test_client_stop_on_paper_flattens_with_reduce_market_order() -> None:
    async def main() -> None:
        book = {"b": [(99.99, 100.0)], "a": [(100.01, 100.0)]}
        ex = PaperExchange(
            [PaperMarket("BTC/USDT", "BTC", "USDT")],
            lambda s: (book["b"], book["a"]),
            balances={"USDT": 10_000.0},
            clock=lambda: 0,
        )
        settings = ExecutionSettings(stop_mode="client", fill_poll_interval_s=0.01)
        fills: list[FillEvent] = []
        executor = Executor(ex, settings=settings, on_fill=fills.append)
        await executor.start()
        await executor.open(intent(stop=95.0))
        assert await ex.fetch_open_orders() == []  # nothing resting at the venue
        book["b"], book["a"] = [(94.9, 100.0)], [(95.0, 100.0)]
        await executor.on_price("BTC/USDT", 94.9, 95.0)

        assert executor.positions == {}
        assert fills[-1].trade_type == "exit" and fills[-1].average_fill_price == 94.9

    run(main)
