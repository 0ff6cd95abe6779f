"""Shared-score cache (confluex.cache): the hot-path call, and whether L3 tables pay.

- ``cache-hot-path``: ConfluenceHFTCache.cache_score (L1 store + bounded queue append) per
  call, against the plain dict store it replaces; the writer thread runs against an
  unreachable address here (its drops are counted), so only the producer's side is timed.
  The end-to-end ratio with a real redis-server is bench/gate_redis.py.
- ``l3-lookup``: the HFT note's L3 "pre-computed lookup tables" for the per-score quantities
  (directional bias (s - 50) / 50, strength |s - 50| / 50, the adaptive normaliser
  tanh(k (s - 50) / 50)) against computing them. In Python the table (quantise, index, unpack)
  is slower than the arithmetic, so the cache has no L3 (see the module docstring).

Run timed: ``python -m pytest bench/bench_cache.py``; as a test: ``--benchmark-disable``.
"""

from __future__ import annotations

import math
import random

import pytest
from confluex.cache import ConfluenceHFTCache

N = 10_000
SCORES = [random.Random(3).uniform(0.0, 100.0) for _ in range(N)]
K = 1.3  # the adaptive normaliser's low-volatility gain
TABLE = [
    ((i / 100 - 50.0) / 50.0, abs(i / 100 - 50.0) / 50.0, math.tanh(K * (i / 100 - 50.0) / 50.0))
    for i in range(10_001)
]


def computed(scores: list[float]) -> float:
    total = 0.0
    tanh = math.tanh
    for s in scores:
        bias = (s - 50.0) / 50.0
        total += bias + abs(bias) + tanh(K * bias)
    return total


def looked_up(scores: list[float]) -> float:
    total = 0.0
    table = TABLE
    for s in scores:
        bias, strength, norm = table[int(s * 100.0 + 0.5)]
        total += bias + strength + norm
    return total


@pytest.mark.benchmark(group="l3-lookup")
def test_l3_computed(benchmark):
    total = benchmark(computed, SCORES)
    assert total == pytest.approx(looked_up(SCORES), abs=N * 3e-4)  # the table's quantisation


@pytest.mark.benchmark(group="l3-lookup")
def test_l3_lookup_table(benchmark):
    total = benchmark(looked_up, SCORES)
    assert total == pytest.approx(computed(SCORES), abs=N * 3e-4)


RECORDS = [
    {"score": s, "score_raw": s, "reliability": 1.0, "ts_ns": i} for i, s in enumerate(SCORES)
]


def store_in_dict(store: dict[str, dict[str, float]]) -> int:
    for r in RECORDS:
        store["BTC/USDT"] = r
    return len(store)


def store_in_cache(cache: ConfluenceHFTCache) -> int:
    put = cache.cache_score
    for r in RECORDS:
        put("BTC/USDT", r)
    return cache.stats.queued


@pytest.mark.benchmark(group="cache-hot-path")
def test_hot_path_dict_store(benchmark):
    assert benchmark(store_in_dict, {}) == 1


@pytest.mark.benchmark(group="cache-hot-path")
def test_hot_path_cache_score(benchmark):
    cache = ConfluenceHFTCache("redis://127.0.0.1:1/0", queue_size=10 * N).start()
    try:
        queued = benchmark(store_in_cache, cache)
    finally:
        cache.close()
    assert queued >= N and cache.stats.dropped_full == 0
    assert cache.get_cached_score("BTC/USDT") is not None
