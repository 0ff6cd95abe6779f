"""Price structure on real bars: no rewrites, one canonical key set, the signed trend alignment.

Real data: freqtrade's 1-minute bars (tests/data/freqtrade/unittest_btc_1m.json.gz) and
1-second bars built here from the trades of a real Binance capture (tests/data/hftbacktest).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from confluex._core import structure
from confluex._core.exceptions import InvalidConfig, InvalidEvent

DATA = Path(__file__).resolve().parent / "data"
EV = structure.EVENTS
CANONICAL = (
    "support_resistance",
    "order_blocks",
    "trend_position",
    "market_structure",
    "range_analysis",
    "fair_value_gaps",
)

Bars = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


def freqtrade_bars() -> Bars:
    rows = json.loads(
        gzip.decompress((DATA / "freqtrade" / "unittest_btc_1m.json.gz").read_bytes())
    )
    a = np.array(rows, dtype=np.float64)
    return (a[:, 0].astype(np.int64) * 1_000_000), np.ascontiguousarray(a[:, 1:6])


def trade_bars(span_ms: int = 1000) -> Bars:
    """A small bar builder: the @trade messages of a real capture -> OHLCV bars by trade time."""
    path = DATA / "hftbacktest" / "spot" / "btcusdt_20240808.gz"
    bars: dict[int, list[float]] = {}
    with gzip.open(path, "rt") as f:
        for line in f:
            if "@trade" not in line:
                continue
            d = json.loads(line.split(" ", 1)[1])["data"]
            px, qty, key = float(d["p"]), float(d["q"]), d["T"] // span_ms
            b = bars.get(key)
            if b is None:
                bars[key] = [px, px, px, px, qty]
            else:
                b[1], b[2], b[3], b[4] = max(b[1], px), min(b[2], px), px, b[4] + qty
    keys = sorted(bars)
    open_ns = np.array([k * span_ms * 1_000_000 for k in keys], dtype=np.int64)
    return open_ns, np.array([bars[k] for k in keys], dtype=np.float64)


REAL = {"freqtrade_1m": freqtrade_bars, "binance_trades_1s": trade_bars}


def equal_readings(a: npt.NDArray[np.void], b: npt.NDArray[np.void]) -> bool:
    names = a.dtype.names
    assert names is not None
    for name in names:
        x, y = a[name], b[name]
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


@pytest.mark.parametrize("source", sorted(REAL), ids=sorted(REAL))
def test_recomputing_after_every_bar_never_rewrites_a_published_reading(source: str) -> None:
    open_ns, ohlcv = REAL[source]()
    n = min(len(open_ns), 1500)
    open_ns, ohlcv = open_ns[:n], np.ascontiguousarray(ohlcv[:n])
    published = structure.PriceStructure().update_many(open_ns, ohlcv)
    # Every prefix, recomputed from scratch, reproduces exactly what was published for it.
    for k in range(1, n + 1):
        again = structure.PriceStructure().update_many(open_ns[:k], ohlcv[:k])
        assert equal_readings(again, published[:k]), (
            f"{source}: a reading changed when recomputed on {k} bars"
        )
    # And one bar at a time (the live path) publishes the same readings as the batch.
    ps = structure.PriceStructure()
    for i in range(n):
        r = ps.update(int(open_ns[i]), *map(float, ohlcv[i]))
        assert r.events == int(published[i]["events"])
        assert r.score == float(published[i]["score"])
    # The run is not trivial: swings, breaks and zones all happened.
    ev = np.bitwise_or.reduce(published["events"])
    for name in ("SWING_HIGH", "SWING_LOW", "HIGHER_HIGH", "LOWER_LOW", "BULL_GAP", "BEAR_GAP"):
        assert ev & EV[name], name
    assert ev & (EV["BOS_UP"] | EV["CHOCH_UP"]) and ev & (EV["BOS_DOWN"] | EV["CHOCH_DOWN"])


def test_a_centered_pivot_detector_does_rewrite_on_the_same_bars() -> None:
    """The property the test above checks is not vacuous: a look-ahead (shift(-n) / centered
    window) swing detector, as published smart-money-concepts libraries use, changes its past
    readings when more bars arrive; ours publishes a swing N bars late and never changes it."""
    open_ns, ohlcv = freqtrade_bars()
    high = ohlcv[:600, 1]
    n = 3

    def centered(h: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(h), dtype=bool)
        for i in range(len(h)):
            w = h[max(0, i - n) : i + n + 1]  # i + n + 1 looks ahead
            out[i] = h[i] == w.max()
        return out

    full = centered(high)
    rewrites = sum(int(np.any(centered(high[:k]) != full[:k])) for k in range(n + 1, len(high)))
    assert rewrites > 0
    ours_full = structure.PriceStructure().update_many(
        open_ns[:600], np.ascontiguousarray(ohlcv[:600])
    )
    for k in range(n + 1, 600, 7):
        ours = structure.PriceStructure().update_many(open_ns[:k], np.ascontiguousarray(ohlcv[:k]))
        assert np.array_equal(ours["events"], ours_full["events"][:k])
        assert np.array_equal(ours["swing_high"], ours_full["swing_high"][:k], equal_nan=True)


def test_swings_are_published_swing_bars_late_at_the_pivot_level() -> None:
    open_ns, ohlcv = freqtrade_bars()
    for n in (2, 5):
        r = structure.PriceStructure(structure.StructureConfig(swing_bars=n)).update_many(
            open_ns, ohlcv
        )
        idx = np.flatnonzero(r["events"] & EV["SWING_HIGH"])
        assert len(idx) > 50
        for t in idx:
            c = t - n
            assert r["swing_high"][t] == ohlcv[c, 1]
            assert ohlcv[c, 1] >= ohlcv[c - n : t + 1, 1].max()


def test_sub_score_keys_are_the_one_canonical_set() -> None:
    assert structure.SUB_SCORE_KEYS == CANONICAL
    assert set(structure.StructureConfig().weights) == set(CANONICAL)


@pytest.mark.parametrize("key", ["institutional_zones", "structure_breaks", "volume_profile"])
def test_a_weight_under_a_key_the_view_does_not_emit_is_rejected(key: str) -> None:
    # §3.5: the reference emitted order blocks / market structure under keys the weights did
    # not know, and dropped them silently. A key mismatch is now an error naming the key.
    with pytest.raises(InvalidConfig, match=key):
        structure.StructureConfig(weights={key: 0.2})
    cfg = structure.StructureConfig()
    with pytest.raises(InvalidConfig, match=key):
        cfg.weights = {key: 0.2}
    assert cfg.weights == dict.fromkeys(CANONICAL, 1.0)  # unchanged


def test_order_blocks_and_market_structure_count_in_the_score() -> None:
    # §3.5 bug: order blocks and market structure never reached the mean (51.58 = the mean
    # of the other four). Here the score is the weighted mean of ALL available sub-scores.
    open_ns, ohlcv = freqtrade_bars()
    base = structure.PriceStructure().update_many(open_ns, ohlcv)
    sub = base["sub"]
    avail = ~np.isnan(sub)
    assert avail[:, CANONICAL.index("order_blocks")].mean() > 0.99
    assert avail[:, CANONICAL.index("market_structure")].mean() > 0.99
    mean = np.where(avail, sub, 0).sum(axis=1) / np.maximum(avail.sum(axis=1), 1)
    ok = base["has_data"].astype(bool)
    assert np.allclose(base["score"][ok], mean[ok], rtol=0, atol=1e-9)
    for key in ("order_blocks", "market_structure"):
        heavy = structure.PriceStructure(structure.StructureConfig(weights={key: 5.0})).update_many(
            open_ns, ohlcv
        )
        j = CANONICAL.index(key)
        moved = (np.abs(heavy["score"] - base["score"]) > 1e-6) & (
            np.abs(sub[:, j] - base["score"]) > 1e-6
        )
        assert moved.sum() > 100, key
    ps = structure.PriceStructure()
    ps.update_many(open_ns[:500], ohlcv[:500])
    comp = ps.component()
    assert {"order_blocks", "market_structure"} <= set(comp.sub)
    assert comp.weights["order_blocks"] > 0 and comp.weights["market_structure"] > 0


def _geometric(n: int, g: float) -> Bars:
    c = 100.0 * g ** np.arange(n)
    o = np.concatenate([[c[0]], c[:-1]])
    ohlcv = np.stack(
        [o, np.maximum(o, c) * 1.0001, np.minimum(o, c) * 0.9999, c, np.full(n, 10.0)], axis=1
    )
    return np.arange(n, dtype=np.int64) * 60_000_000_000, np.ascontiguousarray(ohlcv)


def test_a_clean_downtrend_reads_as_bearish_as_an_uptrend_reads_bullish() -> None:
    # §3.5 bug: alignment = |sum of signs| / k, so a clean downtrend also got +10. With the
    # signed alignment the trend-position readings of mirror trends are mirror images.
    up = structure.PriceStructure().update_many(*_geometric(300, 1.002))
    down = structure.PriceStructure().update_many(*_geometric(300, 1 / 1.002))
    j = CANONICAL.index("trend_position")
    tp_up, tp_down = up["sub"][-1, j], down["sub"][-1, j]
    assert tp_up > 70 and tp_down < 30
    assert abs((tp_up - 50) + (tp_down - 50)) < 1.0


def test_bad_bars_raise_naming_the_value_and_change_nothing() -> None:
    ps = structure.PriceStructure()
    ps.update(0, 10.0, 11.0, 9.0, 10.5, 1.0)
    before = ps.bars
    with pytest.raises(InvalidEvent, match="high=8"):
        ps.update(60, 10.0, 8.0, 9.0, 10.0, 1.0)
    with pytest.raises(InvalidEvent, match="nan"):
        ps.update(60, 10.0, 11.0, 9.0, math.nan, 1.0)
    with pytest.raises(InvalidEvent, match="-1"):
        ps.update(60, 10.0, 11.0, 9.0, 10.0, -1.0)
    with pytest.raises(InvalidEvent, match="open_ns must increase"):
        ps.update(0, 10.0, 11.0, 9.0, 10.0, 1.0)
    assert ps.bars == before
    with pytest.raises(InvalidConfig, match="swing_bars"):
        structure.StructureConfig(swing_bars=0)
    with pytest.raises(InvalidConfig, match="all be 0"):
        structure.StructureConfig(weights=dict.fromkeys(CANONICAL, 0.0))
    with pytest.raises(ValueError, match="ohlcv"):
        ps.update_many(np.zeros(3, dtype=np.int64), np.zeros((3, 4)))


def test_warm_up_sub_scores_are_missing_not_neutral() -> None:
    ps = structure.PriceStructure()
    first = ps.update(0, 10.0, 11.0, 9.0, 10.5, 1.0)
    # After one bar no detector has the history it needs: every sub-score is NaN and the
    # component says "no data", never a made-up 50 that would count as a reading.
    assert all(math.isnan(v) for v in first.sub.values()) and not first.has_data
    assert ps.component().to_dict() == {"score": 50.0, "has_data": False, "sub": {}, "weights": {}}
    for i in range(1, 10):
        r = ps.update(i, 10.0, 11.0, 9.0, 10.5, 1.0)
    # Ten bars: the fair value gaps (3 bars), order blocks (6) and EMA(10) trend position exist.
    assert {k for k, v in r.sub.items() if not math.isnan(v)} == {
        "fair_value_gaps",
        "order_blocks",
        "trend_position",
    }
    assert set(ps.component().sub) == {"fair_value_gaps", "order_blocks", "trend_position"}


def test_reading_dtype_matches_the_cpp_layout() -> None:
    size, offsets = structure.reading_layout()
    dt = structure.reading_dtype
    assert dt.itemsize == size
    fields = dt.fields
    assert fields is not None
    for name, off in offsets.items():
        assert fields[name][1] == off, name


def _resample(open_ns: npt.NDArray[np.int64], ohlcv: npt.NDArray[np.float64], minutes: int) -> Bars:
    key = open_ns // (minutes * 60_000_000_000)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    rows = [
        (
            ohlcv[a, 0],
            ohlcv[a:b, 1].max(),
            ohlcv[a:b, 2].min(),
            ohlcv[b - 1, 3],
            ohlcv[a:b, 4].sum(),
        )
        for a, b in zip(starts, ends, strict=True)
    ]
    return key[starts] * minutes * 60_000_000_000, np.array(rows, dtype=np.float64)


def test_timeframes_combine_per_key_with_renormalised_weights() -> None:
    # §3.7: per-timeframe sub-scores combined .4/.3/.2/.1, renormalised over the timeframes
    # that have the sub-score (the 4 h view of 9.5 days has no valid range, for one).
    open_ns, ohlcv = freqtrade_bars()
    last = []
    for minutes in (1, 5, 30, 240):
        t, x = (open_ns, ohlcv) if minutes == 1 else _resample(open_ns, ohlcv, minutes)
        ps = structure.PriceStructure()
        ps.update_many(t, x)
        last.append(ps.last)
    tfw = [0.4, 0.3, 0.2, 0.1]
    got = structure.combine_timeframes(last, tfw)
    assert any(
        math.isnan(r.sub[k]) for r in last for k in CANONICAL
    )  # renormalisation is exercised
    want = {}
    for k in CANONICAL:
        pairs = [(w, r.sub[k]) for w, r in zip(tfw, last, strict=True) if not math.isnan(r.sub[k])]
        if pairs:
            want[k] = sum(w * v for w, v in pairs) / sum(w for w, _ in pairs)
    assert got.sub == pytest.approx(want)
    assert got.score == pytest.approx(sum(want.values()) / len(want))
    assert got.has_data
    with pytest.raises(InvalidConfig, match="one weight per reading"):
        structure.combine_timeframes(last, tfw[:3])
    with pytest.raises(InvalidConfig, match=r"was -0\.5"):
        structure.combine_timeframes(last, [0.4, 0.3, 0.2, -0.5])
