"""Gate: the Cython-compiled decision path against its own pure-Python source, same run.

Path per update: ScoreUpdate -> MarketMonitor.on_score -> ConfluencePositionSizing.decide ->
RiskManager.check -> OrderIntent. The compiled modules are the ones ``import confluex``
gives (CMake option CONFLUEX_CYTHON); the pure ones are the same ``.py`` files executed
beside them (tests/pure_trading.py). Streams (synthetic, as in bench/bench_monitor.py):

- ``all-signals``: alternating strong LONG / SHORT with cooldown 0, so every update goes the
  whole way and becomes an intent (the case the issue's 11-25 us p99 was measured on);
- ``mixed``: the realistic mix, mostly neutral.

Per-update perf_counter_ns. Each side replays each stream ROUNDS times, interleaved with
the other side, every replay on a fresh decision path after a ``gc.collect()``: every replay
does the same work update for update, collector passes included. The gate reads each
update's minimum over the replays, so what it measures is the code's own tail (the first
update, the collector, a list that grows) and not the platform's: this 2-vCPU VM interrupts
a running thread every 50-80 us for 3-10 us, which on a 1.6 us update makes a p99 of
5-9 us whatever the code does (a constant 1.2 us pure-Python workload timed the same way
shows p99 2-5 us; the gate prints it as the platform control). The raw p99 of the best
replay is printed beside it.

The gate: the compiled p99 on ``all-signals`` is at least REQUIRED times lower than the
pure one (a build that silently fell back to the .py files scores 1x). The compiled p99 is
printed against the 2 us target (reported, not gated: a shared VM's tail is its
neighbours'). What remains of the compiled path is mostly the intent's reason string (two
float formats, ~40 %) and building the two result objects.

Run: python bench/gate_decision_path.py
"""

from __future__ import annotations

import gc
import importlib
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_monitor import SYMBOLS, synthetic_mixed_stream
from confluex.trading import load_config
from pure_trading import COMPILED_MODULES, is_compiled, load_pure

REQUIRED = 2.5
TARGET_P99_NS = 2_000
N = 20_000
ROUNDS = 5
BALANCE = 10_000.0


class DecisionPath:
    """One module set's decision path, built fresh per round."""

    def __init__(self, mods: Any, config: Any) -> None:
        self.types = mods.types
        self.monitor = mods.monitor.MarketMonitor.from_config(config)
        self.sizing = mods.sizing.ConfluencePositionSizing.from_config(config, "swap")
        limits = mods.risk.RiskLimits(max_order_notional=1e9, max_symbol_notional=1e9)
        self.risk = mods.risk.RiskManager(limits, clock=lambda: 1_700_000_000_000)
        self.exposures = {"ETH/USDT:USDT": 1_000.0, "SOL/USDT:USDT": 0.0}

    def step_fn(self) -> Any:
        on_score, decide, check = self.monitor.on_score, self.sizing.decide, self.risk.check
        params_t, intent_t = self.types.TradeParameters, self.types.OrderIntent
        exposures = self.exposures

        def step(u: Any) -> Any:
            params = on_score(u)
            if type(params) is params_t:
                intent = decide(u, BALANCE, params)
                if type(intent) is intent_t and (
                    check(intent.symbol, intent.quote_size, reduces=False, exposures=exposures)
                    is None
                ):
                    return intent
            return None

        return step


def streams(types: Any) -> dict[str, list[Any]]:
    """The same updates as instances of ``types.ScoreUpdate``."""
    signals = [
        types.ScoreUpdate(SYMBOLS[0], i, 85.0 if i % 2 else 15.0, 0.0, 0.0, 0.9, 60_000.0 + i)
        for i in range(N)
    ]
    mixed = [
        types.ScoreUpdate(u.symbol, u.ts_ns, u.score, u.score_raw, 0.0, u.reliability, u.price)
        for u in synthetic_mixed_stream(N)
    ]
    return {"all-signals": signals, "mixed": mixed}


def per_update_ns(mods: Any, config: Any, stream: list[Any]) -> tuple[list[int], int]:
    """One timed replay of ``stream``: each update's ns, in stream order, and the intents."""
    step = DecisionPath(mods, config).step_fn()
    for u in stream:  # warm-up pass on its own instances
        step(u)
    step = DecisionPath(mods, config).step_fn()
    gc.collect()  # each replay starts the collector's count at zero: its passes fall alike
    clock = time.perf_counter_ns
    lat = [0] * len(stream)
    intents = 0
    for i, u in enumerate(stream):
        t0 = clock()
        r = step(u)
        lat[i] = clock() - t0
        intents += r is not None
    return lat, intents


def control_ns() -> list[int]:
    """A constant pure-Python workload (~1.2 us) timed as the updates are: the platform's tail."""

    def work() -> int:
        total = 0
        for i in range(40):
            total += i * i
        return total

    clock = time.perf_counter_ns
    lat = [0] * N
    for i in range(N):
        t0 = clock()
        work()
        lat[i] = clock() - t0
    return sorted(lat)


def pct(sorted_ns: list[int], q: float) -> int:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))]


def main() -> int:
    compiled_mods = SimpleNamespace(
        **{n: importlib.import_module(f"confluex.trading.{n}") for n in COMPILED_MODULES}
    )
    pure_mods = load_pure()
    if not all(is_compiled(getattr(compiled_mods, n)) for n in COMPILED_MODULES):
        print("gate_decision_path: the decision modules are not compiled (CONFLUEX_CYTHON=OFF?)")
        return 1
    configs = {"all-signals": load_config({"monitor": {"cooldown_s": 0}}), "mixed": load_config()}
    data = {"compiled": streams(compiled_mods.types), "pure": streams(pure_mods.types)}
    mods = {"compiled": compiled_mods, "pure": pure_mods}
    per_update: dict[tuple[str, str], list[int]] = {}
    raw_p99: dict[tuple[str, str], int] = {}
    made: dict[tuple[str, str], int] = {}
    for _ in range(ROUNDS):  # interleaved: a noisy stretch slows one replay, not one side
        for name in ("all-signals", "mixed"):
            for side in ("compiled", "pure"):
                lat, intents = per_update_ns(mods[side], configs[name], data[side][name])
                key = (name, side)
                assert made.setdefault(key, intents) == intents, f"{key}: replays differ"
                seen = per_update.get(key)
                per_update[key] = lat if seen is None else list(map(min, seen, lat))
                p99 = pct(sorted(lat), 0.99)
                raw_p99[key] = min(raw_p99.get(key, p99), p99)
    best = {
        key: (pct(s := sorted(lat), 0.5), pct(s, 0.99), made[key])
        for key, lat in per_update.items()
    }
    for name in ("all-signals", "mixed"):
        (cp50, cp99, ci), (pp50, pp99, pi) = best[(name, "compiled")], best[(name, "pure")]
        assert ci == pi, f"{name}: compiled made {ci} intents, pure {pi}"
        print(
            f"{name:<12} {ci:>6} intents / {N} updates: compiled p50 {cp50 / 1e3:.2f} us "
            f"p99 {cp99 / 1e3:.2f} us | pure p50 {pp50 / 1e3:.2f} us p99 {pp99 / 1e3:.2f} us "
            f"| p99 ratio {pp99 / cp99:.1f}x | raw p99 with the platform's interruptions: "
            f"{raw_p99[(name, 'compiled')] / 1e3:.2f} / {raw_p99[(name, 'pure')] / 1e3:.2f} us"
        )
    ctl = control_ns()
    print(
        f"platform control (constant workload, one replay): p50 {pct(ctl, 0.5) / 1e3:.2f} us "
        f"p99 {pct(ctl, 0.99) / 1e3:.2f} us p99.9 {pct(ctl, 0.999) / 1e3:.2f} us"
    )
    cp99, pp99 = best[("all-signals", "compiled")][1], best[("all-signals", "pure")][1]
    ratio = pp99 / cp99
    print(
        f"all-signals compiled p99 {cp99 / 1e3:.2f} us (target <= {TARGET_P99_NS / 1e3:.0f} us, "
        f"reported); p99 speed-up {ratio:.1f}x (required >= {REQUIRED:g}x)"
    )
    return 0 if ratio >= REQUIRED else 1


if __name__ == "__main__":
    sys.exit(main())
