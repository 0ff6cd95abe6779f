"""The paper replay from async code: inside ``asyncio.run`` (as in Jupyter) and awaited.

Before, the trader ran its private loop with ``run_until_complete`` in the caller's thread,
which raises "Cannot run the event loop while another loop is running" under a running loop.
Real data: the USD-M BTCUSDT capture of 2024-07-18 with the "active" test configuration.
"""

from __future__ import annotations

import asyncio
import threading

from confluex import Engine
from confluex.feeds.files import replay
from confluex.replay_trader import PaperTrader, replay_paper, replay_paper_async
from confluex.trading import load_config
from test_replay_trader import ACTIVE, REFERENCE, USDM, paper_replay


def test_trader_runs_inside_asyncio_run_with_the_same_trades() -> None:
    baseline, trader = paper_replay(USDM)
    trader.close()

    async def main() -> tuple[list[tuple[object, ...]], float, set[str]]:
        engine = Engine(REFERENCE)  # as paper_replay builds it
        with PaperTrader(engine, load_config(ACTIVE)) as inner:
            replay([USDM], engine=engine, on_message=inner.on_message)
            report = inner.finish()
        names = {t.name for t in threading.enumerate()}
        return report.trade_tuples(), report.identity_error, names

    trades, identity_error, threads = asyncio.run(main())

    assert baseline.fills and trades == baseline.trade_tuples()
    assert identity_error <= 1e-9
    assert not any(n.startswith("confluex-paper") for n in threads)  # close() ended the worker


def test_sync_entry_point_detects_a_running_loop() -> None:
    expected = replay_paper([USDM], config=load_config(ACTIVE))

    async def main() -> list[tuple[object, ...]]:
        return replay_paper([USDM], config=load_config(ACTIVE)).trade_tuples()

    assert expected.fills and asyncio.run(main()) == expected.trade_tuples()


def test_async_entry_point_leaves_the_callers_loop_serving() -> None:
    expected = replay_paper([USDM], config=load_config(ACTIVE)).trade_tuples()

    async def main() -> tuple[list[tuple[object, ...]], int]:
        ticks = 0
        done = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        beat = asyncio.create_task(heartbeat())
        report = await replay_paper_async([USDM], config=load_config(ACTIVE))
        done.set()
        await beat
        return report.trade_tuples(), ticks

    trades, ticks = asyncio.run(main())

    assert trades == expected
    assert ticks >= 10  # the loop kept turning while the replay ran (about a second)
