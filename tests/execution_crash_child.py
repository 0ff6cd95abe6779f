"""Child process of the crash scenarios in test_execution_faults.py.

Runs an Executor (ccxt's real binance class) against the parent's venue simulator with a
file journal, opens one protected long, then waits; the parent SIGKILLs it at the moment
under test. Usage: ``python execution_crash_child.py BASE_URL JOURNAL_PATH``.
"""

from __future__ import annotations

import asyncio
import sys

from confluex.trading.execution import Executor
from confluex.trading.store import OrderJournal
from execution_helpers import FAST, binance, intent


async def main(base_url: str, journal_path: str) -> None:
    ex = binance(base_url, timeout_ms=60_000)
    executor = Executor(ex, settings=FAST, journal=OrderJournal(journal_path), live=True)
    await executor.start()
    await executor.open(intent(stop=95.0))
    await asyncio.sleep(3600)  # not reached in the scenarios: the parent kills us first


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
