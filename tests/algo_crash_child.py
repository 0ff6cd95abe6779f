"""Child process of the mid-schedule crash scenario in test_algos.py.

Runs an Executor (ccxt's real binance class) against the parent's venue simulator with a
file journal and trades a 10 BTC parent; the parent SIGKILLs it mid-schedule. ``twap``: 4
children over 2 s of wall time (killed while child 1's response is held); ``pov``: post-only
children at the touch for half of a synthetic market volume of 40 BTC per second of wall time
(killed while child 0 rests). Usage: ``python algo_crash_child.py BASE_URL JOURNAL_PATH ALGO``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time

from confluex.trading.algos import AlgoConfig, ExecutionAlgorithmConfluence, MarketState
from confluex.trading.execution import Executor
from confluex.trading.store import OrderJournal
from execution_helpers import FAST, binance, intent


async def main(base_url: str, journal_path: str, algo: str) -> None:
    ex = binance(base_url, timeout_ms=60_000)
    settings = dataclasses.replace(FAST, stop_mode="client")
    config = AlgoConfig(slices=4, step_s=0.2, horizon_override_s=2.0)
    executor = Executor(
        ex, settings=settings, journal=OrderJournal(journal_path), live=True, algo_config=config
    )
    await executor.start()
    strategy = ExecutionAlgorithmConfluence(config).strategy(
        {"side": "buy"}, {"signal_strength": 0.9, "directional_bias": 0.9, "reliability": 1.0}
    )
    if algo == "pov":
        strategy = dataclasses.replace(
            strategy.with_algo("pov"), participation_rate=0.5, time_horizon_s=60.0
        )
    t0 = time.time()

    async def market() -> MarketState:
        book = await ex.fetch_order_book("BTC/USDT")
        synthetic_volume = 40.0 * (time.time() - t0)
        return MarketState(
            int(time.time() * 1000), book["bids"][0][0], book["asks"][0][0], synthetic_volume
        )

    parent = await executor.open_parent(intent(), strategy, await market())
    assert not isinstance(parent, type(None))
    await executor.run_parent(parent, market, interval_s=0.05)  # type: ignore[arg-type]
    await asyncio.sleep(3600)  # not reached in the scenario: the parent kills us first


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "twap"))
