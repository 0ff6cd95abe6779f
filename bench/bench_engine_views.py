"""Standard-profile engine benchmarks: the six components from warm state.

The engine is warmed on the real Binance USD-M BTCUSDT capture of 2024-07-18 (3 minutes) with
history bars and funding that are REAL but of another symbol and date, timestamps SHIFTED to
end just before the capture (freqtrade's XRP/USDT 5-minute bars and 8-hourly funding of
2021-11, see tests/test_engine_views.py): every component then has data.

Groups (same run, the reference path beside each):
- ``views-trade-recompute``: one trade pushed, then ``score(sym)`` (the lazy recompute of
  orderflow and the trade-flow volume, the volume blend and the aggregator; a bar view is
  recomputed only when a bar closes), standard vs hft_ultra_fast.
- ``views-depth-recompute``: one depth message (``apply_depth``) then ``score(sym)``, standard
  vs hft_ultra_fast.
  Both groups also run ``standard-no-extras``: the standard profile with the orderflow /
  orderbook extras off (``flow_extras.enabled = False``: no stacked-imbalance window, OI
  quadrant, price-CVD divergence, absorption/exhaustion or liquidity bands), i.e. the cost
  before they were added, beside the cost with them. The depth step advances event time by
  1 ms per message, so the liquidity bands (refreshed once per second of event time) and the
  stacked-imbalance reading (every 5 s) are refreshed at their real cadence.
- ``views-full-analysis``: a full six-component analysis from warm state (every component
  marked stale: technical over four timeframes, price structure combined over four, the bar
  volume view, sentiment, orderbook, orderflow, aggregator). The reference system takes
  1.2-1.4 s per analysis (spec/reference-system.md); the ratio is that over this figure.

Figures include one or two Python -> C++ binding calls (~100-200 ns each).
Run timed: ``python -m pytest bench/bench_engine_views.py --benchmark-disable-gc``.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from confluex import Engine, engine_config
from confluex.feeds.files import replay

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
CAPTURE = DATA / "hftbacktest" / "usdm_2024-07" / "btcusdt_20240718.gz"
CAPTURE_START_MS = 1_721_347_020_984


@cache
def _shifted() -> tuple[np.ndarray, list[list[float]]]:
    bars = json.loads(
        gzip.decompress((DATA / "freqtrade" / "xrp_usdt_usdt_5m_futures.json.gz").read_bytes())
    )
    end = CAPTURE_START_MS // 300_000 * 300_000 - 300_000
    shift = end - bars[-1][0]
    rows = np.array([[r[0] + shift, *r[1:]] for r in bars], dtype=np.float64)
    funding = json.loads(
        gzip.decompress((DATA / "freqtrade" / "xrp_usdt_usdt_8h_funding_rate.json.gz").read_bytes())
    )
    fshift = CAPTURE_START_MS - 3_600_000 - funding[-1][0]
    return rows, [[r[0] + fshift, r[1]] for r in funding]


def warm(profile: str) -> tuple[Engine, int]:
    rows, funding = _shifted()
    extras = profile != "standard-no-extras"
    profile = profile.removesuffix("-no-extras")

    def prepare(engine: Engine, sym: int, name: str) -> None:
        if profile == "standard":
            engine.load_history(sym, rows)
            for ms, rate in funding:
                engine.on_funding(sym, int(ms) * 1_000_000, rate)

    cfg = engine_config(profile=profile)
    fx = cfg.flow_extras
    fx.enabled = extras
    cfg.flow_extras = fx
    res = replay([CAPTURE], engine=Engine(cfg), prepare=prepare)
    (rep,) = res.symbols.values()
    if profile == "standard":
        assert rep.result.reliability == pytest.approx(1.0)
    return res.engine, rep.symbol_id


PROFILES = ["standard", "standard-no-extras", "hft_ultra_fast"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.benchmark(group="views-trade-recompute")
def test_trade_then_score(benchmark, profile: str) -> None:
    engine, sym = warm(profile)
    ts = [engine.stats(sym).last_event_ts_ns]
    px = engine.best_bid(sym)[0]

    def step() -> float:
        ts[0] += 1_000  # 1 us apart: no bar closes, as between most trades
        engine.push_trade(sym, ts[0], px, 1, 0)
        return engine.score(sym)

    benchmark(step)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.benchmark(group="views-depth-recompute")
def test_depth_then_score(benchmark, profile: str) -> None:
    engine, sym = warm(profile)
    bid_px, bid_qty = engine.best_bid(sym)
    uid = [engine.stats(sym).last_update_id]
    empty = np.zeros((0, 2), dtype=np.int64)
    ts = [engine.stats(sym).last_event_ts_ns]

    def step() -> float:
        prev = uid[0]
        uid[0] += 1
        ts[0] += 1_000_000  # 1 ms apart
        qty = bid_qty + (uid[0] & 1)  # alternate the best bid's size
        engine.apply_depth(
            sym, np.array([[bid_px, qty]], dtype=np.int64), empty, uid[0], prev, ts[0]
        )
        return engine.score(sym)

    benchmark(step)


@pytest.mark.benchmark(group="views-full-analysis")
def test_full_six_component_analysis(benchmark) -> None:
    engine, sym = warm("standard")

    def step() -> float:
        # clear_component of a component nobody set marks every component of the symbol
        # stale: the next read recomputes all six and the aggregator.
        engine.clear_component(sym, "technical")
        r = engine.result(sym)
        return r.reliability

    assert benchmark(step) == pytest.approx(1.0)
