"""Trading hot path: ScoreUpdate -> MarketMonitor decision -> ConfluencePositionSizing intent.

Pure Python. The input is a *synthetic* score stream (there is no recorded score stream yet):
per symbol, a mean-reverting random walk around 50 with occasional trending excursions past
the thresholds, one update every 100 ms per symbol, reliability mostly 1 with some low-data
stretches, prices a random walk. Two streams are timed:

- ``synthetic-mixed``: the realistic mix (mostly neutral, some signals, drops by hysteresis,
  cooldown and reliability);
- ``synthetic-all-signals``: every update alternates LONG/SHORT far past the thresholds with
  cooldown 0, so every update goes through the full path and yields an OrderIntent (the worst
  case for the p99).

The budget is p99 <= 50 us per update. pytest-benchmark times whole streams (divide by the
stream length); per-update percentiles come from a perf_counter_ns loop outside
pytest-benchmark, printed by ``python bench/bench_monitor.py`` and by the ``percentiles``
test (run it with ``-s`` to see them).

Run timed: ``python -m pytest bench/bench_monitor.py``; as a test: ``--benchmark-disable``.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass

import pytest
from confluex.trading import (
    ConfluencePositionSizing,
    MarketMonitor,
    OrderIntent,
    ScoreUpdate,
    TradeParameters,
    TradingConfig,
    load_config,
)

TARGET_P99_NS = 50_000
N_UPDATES = 20_000
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT")
BALANCE = 10_000.0


def synthetic_mixed_stream(n: int = N_UPDATES, seed: int = 7) -> list[ScoreUpdate]:
    """Synthetic: OU-like scores around 50 with trending bursts, 100 ms apart per symbol."""
    rng = random.Random(seed)
    state = {s: [50.0, 100.0 * (i + 1), 0.0] for i, s in enumerate(SYMBOLS)}  # score, px, drift
    out = []
    for i in range(n):
        sym = SYMBOLS[i % len(SYMBOLS)]
        st = state[sym]
        if rng.random() < 0.002:  # a regime starts or ends
            st[2] = rng.choice((-0.6, 0.0, 0.0, 0.6))
        st[0] += 0.05 * (50.0 - st[0]) + st[2] + rng.gauss(0.0, 2.0)
        st[0] = min(100.0, max(0.0, st[0]))
        st[1] *= math.exp(rng.gauss(0.0, 2e-4))
        reliability = 1.0 if rng.random() > 0.05 else rng.uniform(0.0, 0.5)
        ts = (i // len(SYMBOLS)) * 100_000_000
        out.append(ScoreUpdate(sym, ts, st[0], st[0], 0.0, reliability, st[1]))
    return out


def synthetic_all_signals_stream(n: int = N_UPDATES) -> list[ScoreUpdate]:
    """Synthetic: alternating strong LONG / SHORT so every update yields an intent."""
    return [
        ScoreUpdate(SYMBOLS[0], i, 85.0 if i % 2 else 15.0, 0.0, 0.0, 0.9, 60_000.0 + i)
        for i in range(n)
    ]


@dataclass
class Pipeline:
    monitor: MarketMonitor
    sizing: ConfluencePositionSizing

    @classmethod
    def build(cls, config: TradingConfig) -> Pipeline:
        return cls(
            MarketMonitor.from_config(config), ConfluencePositionSizing.from_config(config, "swap")
        )

    def step(self, u: ScoreUpdate) -> OrderIntent | None:
        params = self.monitor.on_score(u)
        if type(params) is TradeParameters:
            r = self.sizing.decide(u, BALANCE, params)
            if type(r) is OrderIntent:
                return r
        return None


def mixed_config() -> TradingConfig:
    return load_config()


def all_signals_config() -> TradingConfig:
    return load_config({"monitor": {"cooldown_s": 0}})


def run_stream(pipe: Pipeline, stream: list[ScoreUpdate]) -> int:
    step = pipe.step
    n = 0
    for u in stream:
        if step(u) is not None:
            n += 1
    return n


def per_update_ns(config: TradingConfig, stream: list[ScoreUpdate]) -> list[int]:
    """Per-call perf_counter_ns of Pipeline.step over one pass, after one warm-up pass."""
    clock = time.perf_counter_ns
    run_stream(Pipeline.build(config), stream)  # warm-up: caches, allocator, branch history
    step = Pipeline.build(config).step
    lat = []
    append = lat.append
    for u in stream:
        t0 = clock()
        step(u)
        append(clock() - t0)
    return lat


def percentile(sorted_ns: list[int], q: float) -> int:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))]


def summary(name: str, lat: list[int]) -> str:
    s = sorted(lat)
    return (
        f"{name}: n={len(s)} p50={percentile(s, 0.50) / 1e3:.2f}us "
        f"p90={percentile(s, 0.90) / 1e3:.2f}us p99={percentile(s, 0.99) / 1e3:.2f}us "
        f"max={s[-1] / 1e3:.1f}us (target p99 <= {TARGET_P99_NS / 1e3:.0f}us)"
    )


# ------------------------------------------------------------------------------- benchmarks


@pytest.mark.benchmark(group="monitor")
def test_monitor_pipeline_synthetic_mixed(benchmark):
    stream = synthetic_mixed_stream()
    config = mixed_config()

    intents = benchmark.pedantic(
        lambda pipe: run_stream(pipe, stream),
        setup=lambda: ((Pipeline.build(config),), {}),
        rounds=5,
    )

    pipe = Pipeline.build(config)
    assert run_stream(pipe, stream) == intents
    c = pipe.monitor.counters
    assert c.updates == len(stream)
    assert c.signals > 0 and c.neutral > c.signals and c.dropped > 0
    assert 0 < intents <= c.signals


@pytest.mark.benchmark(group="monitor")
def test_monitor_pipeline_synthetic_all_signals(benchmark):
    stream = synthetic_all_signals_stream()
    config = all_signals_config()

    intents = benchmark.pedantic(
        lambda pipe: run_stream(pipe, stream),
        setup=lambda: ((Pipeline.build(config),), {}),
        rounds=5,
    )

    assert intents == len(stream)


def test_percentiles_per_update_against_the_50us_budget(capsys):
    mixed = per_update_ns(mixed_config(), synthetic_mixed_stream(5_000))
    signals = per_update_ns(all_signals_config(), synthetic_all_signals_stream(5_000))

    with capsys.disabled():
        print("\n" + summary("synthetic-mixed", mixed))
        print(summary("synthetic-all-signals", signals))
    # The p99 budget is reported, not asserted (a shared 2-core VM is too noisy for a hard
    # p99 gate); the median must sit far inside it.
    assert percentile(sorted(signals), 0.5) < TARGET_P99_NS


def main() -> int:
    streams = [
        ("synthetic-mixed", mixed_config(), synthetic_mixed_stream()),
        ("synthetic-all-signals", all_signals_config(), synthetic_all_signals_stream()),
    ]
    for name, config, stream in streams:
        pipe = Pipeline.build(config)
        wall, cpu = time.perf_counter(), time.process_time()
        intents = run_stream(pipe, stream)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        # On a shared VM, wall/update exceeds cpu/update by the time other processes held
        # the core (whole scheduler slices, which land above the per-call p99).
        print(
            f"{name}: {intents} intents from {len(stream)} updates; "
            f"wall {wall / len(stream) * 1e6:.2f}us/update, "
            f"cpu {cpu / len(stream) * 1e6:.2f}us/update; {pipe.monitor.counters}"
        )
        print(summary(name, per_update_ns(config, stream)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
