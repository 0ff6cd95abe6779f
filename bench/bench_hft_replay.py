"""The per-message cost of the ``--hft`` hook during a replay (real data).

Input: the Binance USD-M BTCUSDT capture of 2024-07-18 (11 414 messages: depth, trades,
bookTickers). Group ``hft-replay``: the line-by-line replay with the
:class:`HFTReplayScorer` hook (streaming policy on every message, composite recalculated on
every book update and on trades/quotes at most every 100 ms) against the same line-by-line
replay with a no-op ``on_parsed`` hook, and the native chunked replay with no hook. The
hook's own cost per message is (hook - no-op) / messages; per recalculation it is that
difference divided by the recalculations.

Figures on the shared 2-vCPU VM are noisy: other engineers' builds share the cores.
Run timed: ``python -m pytest bench/bench_hft_replay.py``; as a test: ``--benchmark-disable``;
``python bench/bench_hft_replay.py`` prints best-of-5 figures per message and per
recalculation.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluex._core.engine import Engine
from confluex.feeds.files import replay
from confluex.hft.replay_hook import HFTReplayScorer

USDM = (
    Path(__file__).resolve().parents[1] / "tests/data/hftbacktest/usdm_2024-07/btcusdt_20240718.gz"
)


def hft_replay(path: Path, profile: str = "default") -> tuple[int, int]:
    """Messages replayed and composites recalculated, with the --hft hook."""
    engine = Engine()
    scorer = HFTReplayScorer(engine, profile=profile)
    res = replay([path], engine=engine, on_parsed=scorer.on_parsed)
    scorer.finish()
    return res.messages, scorer.recalculations


def noop_replay(path: Path) -> int:
    """The same line-by-line replay with a hook that does nothing."""

    def noop(session: object, result: object, ts_ns: int) -> None:
        pass

    return replay([path], engine=Engine(), on_parsed=noop).messages


def fast_replay(path: Path) -> int:
    """The native chunked replay (no hook)."""
    return replay([path], engine=Engine()).messages


@pytest.mark.benchmark(group="hft-replay")
def test_replay_with_hft_hook_usdm(benchmark: Any) -> None:
    messages, recalcs = benchmark.pedantic(hft_replay, args=(USDM,), rounds=3, iterations=1)

    assert messages == fast_replay(USDM) and 0 < recalcs < messages


@pytest.mark.benchmark(group="hft-replay")
def test_replay_with_hft_ultra_fast_hook_usdm(benchmark: Any) -> None:
    messages, recalcs = benchmark.pedantic(
        hft_replay, args=(USDM, "hft_ultra_fast"), rounds=3, iterations=1
    )

    assert messages == fast_replay(USDM) and 0 < recalcs < messages


@pytest.mark.benchmark(group="hft-replay")
def test_replay_noop_hook_reference_usdm(benchmark: Any) -> None:
    messages = benchmark.pedantic(noop_replay, args=(USDM,), rounds=3, iterations=1)

    assert messages == fast_replay(USDM)


@pytest.mark.benchmark(group="hft-replay")
def test_replay_native_no_hook_usdm(benchmark: Any) -> None:
    messages = benchmark.pedantic(fast_replay, args=(USDM,), rounds=3, iterations=1)

    assert messages > 10_000


def _best(fn: Any, *args: Any, rounds: int = 5) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    t_hft, (n, recalcs) = _best(hft_replay, USDM)
    t_noop, _ = _best(noop_replay, USDM)
    t_fast, _ = _best(fast_replay, USDM)
    hook = t_hft - t_noop
    print(f"usdm replay, {n} messages, {recalcs} recalculations, best of 5:")
    print(f"  --hft hook      {t_hft * 1e3:8.1f} ms ({t_hft / n * 1e6:.2f} us/msg)")
    print(f"  no-op hook      {t_noop * 1e3:8.1f} ms ({t_noop / n * 1e6:.2f} us/msg)")
    print(f"  native, no hook {t_fast * 1e3:8.1f} ms ({t_fast / n * 1e6:.2f} us/msg)")
    print(
        f"  hook's own cost {hook / n * 1e6:.2f} us/msg, {hook / recalcs * 1e6:.2f} us per "
        "recalculation"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
