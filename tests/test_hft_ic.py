"""The online IC-weighted combiner on the real Binance captures (tests/data/hftbacktest).

Method: each capture is replayed through FeedSession in 250 ms slices of receive time; after
each slice the engine's orderflow, orderbook and volume component scores (as (s - 50)/50) and
the mid price are sampled, plus the HFT component's momentum and mean reversion. The forward
return of a sample is mid(t + 1 s)/mid(t) - 1. The combiner runs causally over the samples
(each row is combined with weights learned from rows whose return was already known). Its
Spearman rank IC against the forward return is compared, on the rows after its warm-up, with
the IC of each input over the same rows; the best input is picked in hindsight, which the
combiner cannot do, so it is allowed a small tolerance.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import confluex
import numpy as np
import numpy.typing as npt
import pytest
from confluex import _core, hft
from scipy.stats import spearmanr
from test_feed_session import CAPTURES, raw

S = _core.session
HFT = Path(__file__).resolve().parent / "data" / "hftbacktest"

STEP_NS = 250_000_000
HORIZON_STEPS = 4  # 1 s
# Columns of a sample row.
TS, MID, ORDERFLOW, ORDERBOOK, VOLUME, MOMENTUM, MEAN_REVERSION = range(7)
TOLERANCE = 0.025


@cache
def samples(kind: str) -> npt.NDArray[np.float64]:
    files, tick, lot, venue = CAPTURES[kind]
    data = raw(files, HFT)
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument(tick, lot))
    session = S.FeedSession(engine, venue)
    session.add_symbol("BTCUSDT", sym)
    lines = [ln for ln in data.split(b"\n") if ln]
    stamps = [int(ln[: ln.index(b" ")]) for ln in lines]
    rows = []
    i, t = 0, stamps[0] + STEP_NS
    while i < len(lines):
        j = i
        while j < len(lines) and stamps[j] < t:
            j += 1
        if j > i:
            session.replay(b"\n".join(lines[i:j]) + b"\n")
        i = j
        bb, ba = engine.best_bid(sym), engine.best_ask(sym)
        if bb and ba and engine.in_sync(sym):
            comp = hft.HFTScoringEngine.get_confluence_component(
                hft.inputs_from_engine(engine, sym)
            )
            rows.append(
                (
                    t,
                    (bb[0] + ba[0]) / 2,
                    (engine.component(sym, "orderflow").score - 50) / 50,
                    (engine.component(sym, "orderbook").score - 50) / 50,
                    (engine.component(sym, "volume").score - 50) / 50,
                    comp["momentum"],
                    comp["mean_reversion"],
                )
            )
        t += STEP_NS
    return np.array(rows, dtype=np.float64)


def forward_returns(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mid = a[:, MID]
    return mid[HORIZON_STEPS:] / mid[:-HORIZON_STEPS] - 1


def ic(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    return float(spearmanr(x, y).statistic)


@pytest.mark.parametrize("kind", ["spot", "usdm"])
def test_online_ic_combination_is_not_worse_than_its_best_input(kind: str) -> None:
    a = samples(kind)
    cols = [ORDERFLOW, ORDERBOOK, VOLUME]
    cfg = hft.OnlineICConfig()
    cfg.horizon_ns = HORIZON_STEPS * STEP_NS
    combined, comb = hft.online_ic_run(a[:, TS].astype(np.int64), a[:, cols].copy(), a[:, MID], cfg)
    fwd = forward_returns(a)
    warm = cfg.min_realised + HORIZON_STEPS + 1
    n = len(fwd)
    assert n - warm > 1000, "the capture must leave > 1000 evaluated samples"
    input_ics = [ic(a[warm:n, c], fwd[warm:]) for c in cols]
    combined_ic = ic(combined[warm:n], fwd[warm:])
    equal_ic = ic(a[warm:n, cols].mean(axis=1), fwd[warm:])
    figures = (
        f"{kind}: combined {combined_ic:.3f}, inputs {np.round(input_ics, 3)}, equal {equal_ic:.3f}"
    )
    assert combined_ic >= max(input_ics) - TOLERANCE, figures
    assert combined_ic > equal_ic, figures
    # The weights are learned, not left at the equal start.
    assert comb.realised > 1000 and max(comb.weights) > 0.5, comb.weights


@pytest.mark.parametrize("kind", ["spot", "usdm"])
def test_momentum_and_mean_reversion_carry_information(kind: str) -> None:
    a = samples(kind)
    fwd = forward_returns(a)
    n = len(fwd)
    # Both are signed forecasts of the next move: positive rank IC at 1 s on both captures.
    assert ic(a[:n, MEAN_REVERSION], fwd) > 0.1
    assert ic(a[:n, MOMENTUM], fwd) > 0.05
