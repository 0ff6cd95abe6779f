"""Benchmark: the price-structure update per closed bar, C++ vs the plain-Python reference.

Input: the real 1-minute bars of tests/data/freqtrade/unittest_btc_1m.json.gz (13 681 bars).
`update_many` loops in C++ over all bars, so total time / bars is the per-bar update cost
(plus one array allocation per call, amortised). The reference is the property tests'
plain-Python model of the same detectors, on the first 2 000 bars.

Run like:
    pytest bench/bench_structure.py --benchmark-only --benchmark-disable-gc -s
    pytest bench/bench_structure.py --benchmark-disable          # once, as correctness tests
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest
from confluex._core import structure

ROOT = Path(__file__).resolve().parents[1]
BARS = ROOT / "tests" / "data" / "freqtrade" / "unittest_btc_1m.json.gz"
N_REF = 2000


@lru_cache(maxsize=1)
def real_bars() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    if not BARS.is_file():
        pytest.fail(f"real data not found at {BARS}")
    a = np.array(json.loads(gzip.decompress(BARS.read_bytes())), dtype=np.float64)
    return a[:, 0].astype(np.int64) * 1_000_000, np.ascontiguousarray(a[:, 1:6])


def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ps_ref", ROOT / "tests" / "test_price_structure_pbt.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ps_ref"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.benchmark(group="structure-update-per-bar")
def test_bench_structure_cpp(benchmark) -> None:  # type: ignore[no-untyped-def]
    open_ns, ohlcv = real_bars()

    def run() -> npt.NDArray[np.void]:
        return structure.PriceStructure().update_many(open_ns, ohlcv)

    out = benchmark(run)
    assert len(out) == len(open_ns) and out["has_data"][-1]
    if benchmark.stats is not None:
        per_bar = benchmark.stats.stats.min / len(open_ns) * 1e9
        benchmark.extra_info["ns_per_bar_min"] = per_bar
        print(f"\nprice structure: {per_bar:.1f} ns per closed bar (min, {len(open_ns)} bars)")


@pytest.mark.benchmark(group="structure-update-per-bar")
def test_bench_structure_python_reference(benchmark) -> None:  # type: ignore[no-untyped-def]
    _, ohlcv = real_bars()
    ref = reference()
    rows = [tuple(map(float, r)) for r in ohlcv[:N_REF]]

    def run() -> list[dict[str, object]]:
        r = ref.Ref()
        return [r.update(*b) for b in rows]

    out = benchmark.pedantic(run, rounds=3, iterations=1)
    cpp = structure.PriceStructure().update_many(
        real_bars()[0][:N_REF], np.ascontiguousarray(ohlcv[:N_REF])
    )
    assert [o["events"] for o in out] == cpp["events"].tolist()
    if benchmark.stats is not None:
        print(
            f"\npython reference: {benchmark.stats.stats.min / N_REF * 1e9:.0f} ns per closed bar"
        )
