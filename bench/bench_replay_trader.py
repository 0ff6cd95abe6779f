"""Paper trading on real replays: the decision path per score update and the whole replay.

Input: the score stream the :class:`PaperTrader` actually sends to the MarketMonitor while
replaying the Binance USD-M BTCUSDT capture of 2024-07-18 (real data, ~4 200 throttled
updates from 11 414 messages) and the bundled spot sample, recorded once outside the timed
calls.

Groups:

- ``paper-decision``: ScoreUpdate -> MarketMonitor.on_score -> sizing.decide -> OrderIntent
  over the real stream (default config and the "active" one of the tests, which signals
  more often), against the floor of any decision: a plain-Python threshold classification of
  the same stream. Per-update p50/p99 are printed by ``test_decision_percentiles`` (run with
  ``-s``) and by ``python bench/bench_replay_trader.py``.
- ``paper-replay``: the whole paper replay (line-by-line feed + trader hook + executor +
  paper exchange + final close) against the same line-by-line replay with a no-op Python hook
  and the native chunked replay without any hook; time per message is the mean divided by
  the message count.

Figures on the shared 2-vCPU VM are noisy: other engineers' builds share the cores.
Run timed: ``python -m pytest bench/bench_replay_trader.py``; as a test: ``--benchmark-disable``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluex._core.engine import Engine
from confluex.feeds.files import replay
from confluex.replay_trader import PaperTrader
from confluex.trading import (
    ConfluencePositionSizing,
    MarketMonitor,
    OrderIntent,
    ScoreUpdate,
    TradeParameters,
    TradingConfig,
    load_config,
)

USDM = (
    Path(__file__).resolve().parents[1] / "tests/data/hftbacktest/usdm_2024-07/btcusdt_20240718.gz"
)
BALANCE = 10_000.0
ACTIVE: dict[str, Any] = {
    "confluence": {"thresholds": {"long": 65, "short": 35, "neutral_buffer": 3}},
    "monitor": {"cooldown_s": 5, "long_stop_pct": 0.02, "short_stop_pct": 0.02},
    "position_manager": {"trailing_stop_pct": 0.0003},
}


class RecordingMonitor:
    """Wraps the trader's monitor and keeps every ScoreUpdate it is given."""

    def __init__(self, inner: MarketMonitor) -> None:
        self.inner = inner
        self.updates: list[ScoreUpdate] = []

    def on_score(self, update: ScoreUpdate) -> Any:
        self.updates.append(update)
        return self.inner.on_score(update)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def recorded_stream(path: Path | None) -> list[ScoreUpdate]:
    """The updates a default-config paper replay of ``path`` sends to the monitor."""
    engine = Engine()
    trader = PaperTrader(engine, load_config())
    recorder = RecordingMonitor(trader.monitor)
    trader.monitor = recorder  # type: ignore[assignment]
    replay([path] if path else None, engine=engine, on_message=trader.on_message)
    trader.finish()
    trader.close()
    return recorder.updates


class Pipeline:
    """The decision path alone: monitor, then sizing with a fixed balance."""

    def __init__(self, config: TradingConfig) -> None:
        self.monitor = MarketMonitor.from_config(config)
        self.sizing = ConfluencePositionSizing.from_config(config, "swap")

    def step(self, u: ScoreUpdate) -> OrderIntent | None:
        params = self.monitor.on_score(u)
        if type(params) is TradeParameters:
            r = self.sizing.decide(u, BALANCE, params)
            if type(r) is OrderIntent:
                return r
        return None


def run_stream(pipe: Pipeline, stream: list[ScoreUpdate]) -> int:
    step = pipe.step
    n = 0
    for u in stream:
        if step(u) is not None:
            n += 1
    return n


def classify_reference(stream: list[ScoreUpdate], long_t: float, short_t: float) -> int:
    """Plain-Python floor: classify each update against the thresholds, nothing else."""
    n = 0
    for u in stream:
        s = u.score
        if s >= long_t or s <= short_t:
            n += 1
    return n


def per_update_ns(config: TradingConfig, stream: list[ScoreUpdate]) -> tuple[list[int], list[int]]:
    """(all updates, updates that became intents): perf_counter_ns per step, after a warm-up."""
    clock = time.perf_counter_ns
    run_stream(Pipeline(config), stream)
    step = Pipeline(config).step
    every: list[int] = []
    intents: list[int] = []
    for u in stream:
        t0 = clock()
        r = step(u)
        dt = clock() - t0
        every.append(dt)
        if r is not None:
            intents.append(dt)
    return every, intents


def pct(values: list[int], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] / 1e3 if s else float("nan")


def summary(name: str, lat: list[int]) -> str:
    if not lat:
        return f"{name}: n=0"
    return f"{name}: n={len(lat)} p50={pct(lat, 0.5):.2f}us p99={pct(lat, 0.99):.2f}us"


def paper_replay(path: Path | None, config: TradingConfig) -> tuple[int, float, int]:
    engine = Engine()
    trader = PaperTrader(engine, config)
    res = replay([path] if path else None, engine=engine, on_message=trader.on_message)
    report = trader.finish()
    trader.close()
    return res.messages, report.identity_error, len(report.fills)


def noop_hook_replay(path: Path | None) -> int:
    def hook(session: object, sym: int, ts: int) -> None:
        return None

    return replay([path] if path else None, on_message=hook).messages


def fast_replay(path: Path | None) -> int:
    return replay([path] if path else None).messages


@pytest.fixture(scope="module")
def usdm_stream() -> list[ScoreUpdate]:
    return recorded_stream(USDM)


# ------------------------------------------------------------------ paper-decision


@pytest.mark.benchmark(group="paper-decision")
def test_decision_default_config_real_usdm_stream(benchmark: Any, usdm_stream: Any) -> None:
    config = load_config()
    intents = benchmark.pedantic(
        lambda pipe: run_stream(pipe, usdm_stream),
        setup=lambda: ((Pipeline(config),), {}),
        rounds=5,
    )

    pipe = Pipeline(config)
    assert run_stream(pipe, usdm_stream) == intents
    assert pipe.monitor.counters.updates == len(usdm_stream) > 1000
    assert 0 < intents <= pipe.monitor.counters.signals


@pytest.mark.benchmark(group="paper-decision")
def test_decision_active_config_real_usdm_stream(benchmark: Any, usdm_stream: Any) -> None:
    config = load_config(ACTIVE)
    intents = benchmark.pedantic(
        lambda pipe: run_stream(pipe, usdm_stream),
        setup=lambda: ((Pipeline(config),), {}),
        rounds=5,
    )

    assert intents == run_stream(Pipeline(config), usdm_stream) > 3


@pytest.mark.benchmark(group="paper-decision")
def test_decision_reference_threshold_classification(benchmark: Any, usdm_stream: Any) -> None:
    directional = benchmark(classify_reference, usdm_stream, 70.0, 35.0)

    pipe = Pipeline(load_config())
    run_stream(pipe, usdm_stream)
    assert directional == pipe.monitor.counters.updates - pipe.monitor.counters.neutral


def test_decision_percentiles(usdm_stream: Any, capsys: Any) -> None:
    every, intents = per_update_ns(load_config(), usdm_stream)
    a_every, a_intents = per_update_ns(load_config(ACTIVE), usdm_stream)

    with capsys.disabled():
        print()
        print(summary("usdm default config, every update", every))
        print(summary("usdm default config, updates that sized an intent", intents))
        print(summary("usdm active config, every update", a_every))
        print(summary("usdm active config, updates that sized an intent", a_intents))
    assert len(every) == len(usdm_stream) and intents


# ------------------------------------------------------------------ paper-replay


@pytest.mark.benchmark(group="paper-replay")
def test_replay_paper_trader_usdm(benchmark: Any) -> None:
    config = load_config(ACTIVE)
    messages, error, fills = benchmark.pedantic(
        paper_replay, args=(USDM, config), rounds=3, iterations=1
    )

    assert messages == fast_replay(USDM) and fills >= 2 and error <= 1e-9


@pytest.mark.benchmark(group="paper-replay")
def test_replay_noop_hook_reference_usdm(benchmark: Any) -> None:
    messages = benchmark.pedantic(noop_hook_replay, args=(USDM,), rounds=3, iterations=1)

    assert messages == fast_replay(USDM)


@pytest.mark.benchmark(group="paper-replay")
def test_replay_native_no_hook_usdm(benchmark: Any) -> None:
    messages = benchmark.pedantic(fast_replay, args=(USDM,), rounds=3, iterations=1)

    assert messages > 10_000


def main() -> int:
    stream = recorded_stream(USDM)
    for name, config in (("default", load_config()), ("active", load_config(ACTIVE))):
        every, intents = per_update_ns(config, stream)
        print(summary(f"usdm {name} config, every update", every))
        print(summary(f"usdm {name} config, updates that sized an intent", intents))
    for path, label in ((USDM, "usdm"), (None, "spot sample")):
        rows = []
        for name in ("paper trader", "no-op hook", "native, no hook"):
            best = float("inf")
            n = 0
            for _ in range(3):
                t0 = time.perf_counter()
                if name == "paper trader":
                    n = paper_replay(path, load_config(ACTIVE))[0]
                elif name == "no-op hook":
                    n = noop_hook_replay(path)
                else:
                    n = fast_replay(path)
                best = min(best, time.perf_counter() - t0)
            rows.append(f"{name} {best * 1e3:.1f} ms ({best / n * 1e6:.2f} us/msg)")
        print(f"{label} replay, best of 3, {n} messages: " + "; ".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
