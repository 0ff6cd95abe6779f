"""Shared helpers of the execution scenario tests: a ccxt binance Executor on the simulator."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import ccxt.async_support as ccxt_async
import venue_sim as sim_mod
from confluex.trading.algos import (
    AlgoConfig,
    ExecutionAlgorithmConfluence,
    ExecutionStrategy,
    MarketState,
)
from confluex.trading.execution import ExecutionSettings, Executor, FillEvent
from confluex.trading.store import OrderJournal
from confluex.trading.types import OrderIntent, Side

KEY = "test-api-key-0123456789"
SECRET = "SECRET-do-not-leak-7f3a9c1e5b"
# Short timings; recvWindow 250 ms < lookup grace 300 ms, as the config requires.
FAST = ExecutionSettings(
    backoff_initial_s=0.01,
    backoff_max_s=0.05,
    recv_window_ms=250,
    lookup_grace_s=0.3,
    fill_poll_interval_s=0.01,
    fill_timeout_s=2.0,
)


def intent(
    side: Side = Side.BUY,
    quote: float = 1000.0,
    price: float = 100.0,
    stop: float | None = None,
    tp: float | None = None,
    trail: float | None = None,
    symbol: str = "BTC/USDT",
) -> OrderIntent:
    return OrderIntent(
        symbol=symbol,
        side=side,
        quote_size=quote,
        reference_price=price,
        stop_loss=stop,
        take_profit=tp,
        trailing_stop_pct=trail,
        score=75.0,
        ts_ns=0,
        manager="test",
        reason="test",
    )


def strategy(
    algo: str,
    *,
    horizon_s: float = 10.0,
    rate: float = 0.3,
    urgency: float = 0.9,
    limit: float | None = None,
    limit_bps: float = 20.0,
) -> ExecutionStrategy:
    s = ExecutionAlgorithmConfluence(AlgoConfig(horizon_override_s=horizon_s)).strategy(
        {"side": "buy"}, {"signal_strength": 0.9, "directional_bias": 0.9, "reliability": 1.0}
    )
    return dataclasses.replace(
        s.with_algo(algo),  # type: ignore[arg-type]
        participation_rate=rate,
        urgency_value=urgency,
        price_limit=limit,
        price_limit_bps=limit_bps,
    )


def book(sim: Any) -> tuple[float, float]:
    """The simulator's best BTCUSDT bid and ask."""
    bids, asks = sim.books["BTCUSDT"]
    return bids[0][0], asks[0][0]


def state(sim: Any, ts_ms: int, synthetic_volume: float = 0.0, rate: float = 0.0) -> MarketState:
    """The market an algorithm sees at ``ts_ms``: the simulator's BTCUSDT touch."""
    bid, ask = book(sim)
    return MarketState(ts_ms, bid, ask, synthetic_volume, rate)


def binance(base_url: str, *, secret: str = SECRET, timeout_ms: int = 2000) -> Any:
    """ccxt's real async binance class aimed at a simulator."""
    ex = ccxt_async.binance(
        {"apiKey": KEY, "secret": secret, "timeout": timeout_ms, "enableRateLimit": True}
    )
    sim_mod.point(ex, base_url)
    return ex


@asynccontextmanager
async def venue(
    balances: dict[str, float] | None = None,
    *,
    secret: str = SECRET,
    settings: ExecutionSettings = FAST,
    timeout_ms: int = 2000,
    journal: OrderJournal | None = None,
    verbose: bool = False,
) -> AsyncIterator[tuple[Any, Any, Executor, list[FillEvent]]]:
    sim = sim_mod.BinanceSpotSim(KEY, SECRET, balances or {"USDT": 10_000.0, "BTC": 0.0})
    await sim.start()
    ex = binance(sim.base_url, secret=secret, timeout_ms=timeout_ms)
    ex.verbose = verbose
    fills: list[FillEvent] = []
    try:
        executor = Executor(ex, settings=settings, journal=journal, live=True, on_fill=fills.append)
        await executor.start()
        yield sim, ex, executor, fills
    finally:
        await ex.close()
        await sim.stop()


def journal_entry(journal: OrderJournal, cid: str) -> None:
    """Journal the intent of a 1 BTC market buy under client id ``cid``."""
    journal.record_intent(
        cid,
        symbol="BTC/USDT",
        side="buy",
        type="market",
        amount=1.0,
        price=None,
        purpose="entry",
    )


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


def posts(sim: Any) -> list[dict[str, str]]:
    return [p for m, path, p in sim.requests if m == "POST" and path.endswith("/order")]
