"""Indicator kernels: TA-Lib parity on real bars, plain-Python references, the public module.

TA-Lib (PyPI `TA-Lib`, tests only) is the reference for RSI, MACD, ATR, CCI, WILLR, OBV, AD,
SMA, EMA and AO (= TA-Lib SMA5 - SMA34 of MEDPRICE), on the real freqtrade bars.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import confluex.indicators as ind
import numpy as np
import pytest
import talib
from confluex._core.exceptions import InvalidConfig, InvalidEvent
from hypothesis import given
from hypothesis import strategies as st

DATA = Path(__file__).resolve().parent / "data" / "freqtrade"
FILES = (
    "xrp_usdt_usdt_5m_futures.json.gz",
    "unittest_btc_1m.json.gz",
    "xrp_usdt_usdt_1h_futures.json.gz",
)


def load(name: str) -> tuple[np.ndarray, ...]:
    with gzip.open(DATA / name, "rt") as fh:
        rows = np.array(json.load(fh), dtype=np.float64)
    return tuple(rows.T[1:])  # o, h, l, c, v


def assert_parity(
    ours: np.ndarray, ref: np.ndarray, first: int, mask: np.ndarray | None = None
) -> None:
    """NaN exactly where TA-Lib's lookback is; then equal within 1e-9 of the value's scale."""
    assert np.isnan(ours[:first]).all(), "a value before TA-Lib's first output"
    assert not np.isnan(ours[first:]).any()
    a, b = ours[first:], ref[first:]
    if mask is not None:
        a, b = a[mask[first:]], b[mask[first:]]
    scale = max(float(np.median(np.abs(b))), 1e-300)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale)


@pytest.fixture(params=FILES, ids=("xrp_5m", "alt_1m", "xrp_1h"))
def bars(request: pytest.FixtureRequest) -> tuple[np.ndarray, ...]:
    return load(request.param)


def flat_windows(h: np.ndarray, lo: np.ndarray, n: int) -> np.ndarray:
    """True where the n-bar window ending here has a range (TA-Lib then reads 0)."""
    hh = talib.MAX(h, n)
    ll = talib.MIN(lo, n)
    return np.nan_to_num(hh - ll, nan=1.0) > 0


def test_rsi_macd_ema_sma_equal_talib(bars: tuple[np.ndarray, ...]) -> None:
    o, h, lo, c, v = bars
    assert_parity(ind.batch(ind.RSI(14), o, h, lo, c, v), talib.RSI(c, 14), 14)
    ours = ind.batch(ind.MACD(12, 26, 9), o, h, lo, c, v)
    ref = talib.MACD(c, 12, 26, 9)
    for k in range(3):
        assert_parity(ours[:, k], ref[k], 33)
    assert_parity(ind.batch(ind.EMA(30), o, h, lo, c, v), talib.EMA(c, 30), 29)
    assert_parity(ind.batch(ind.SMA(30), o, h, lo, c, v), talib.SMA(c, 30), 29)


def test_atr_cci_willr_ao_equal_talib(bars: tuple[np.ndarray, ...]) -> None:
    o, h, lo, c, v = bars
    assert_parity(ind.batch(ind.ATR(14), o, h, lo, c, v), talib.ATR(h, lo, c, 14), 14)
    assert_parity(ind.batch(ind.CCI(20), o, h, lo, c, v), talib.CCI(h, lo, c, 20), 19)
    assert_parity(
        ind.batch(ind.WilliamsR(14), o, h, lo, c, v),
        talib.WILLR(h, lo, c, 14),
        13,
        flat_windows(h, lo, 14),
    )
    med = talib.MEDPRICE(h, lo)
    assert_parity(
        ind.batch(ind.AO(5, 34), o, h, lo, c, v), talib.SMA(med, 5) - talib.SMA(med, 34), 33
    )


def test_obv_and_adl_equal_talib(bars: tuple[np.ndarray, ...]) -> None:
    o, h, lo, c, v = bars
    assert_parity(ind.batch(ind.OBV(), o, h, lo, c, v), talib.OBV(c, v), 0)
    assert_parity(ind.batch(ind.ADL(), o, h, lo, c, v), talib.AD(h, lo, c, v), 0)


def test_incremental_update_equals_batch_and_continues_after_it() -> None:
    o, h, lo, c, v = load(FILES[0])
    for make in (
        lambda: ind.RSI(14),
        lambda: ind.CCI(20),
        lambda: ind.ATR(14),
        lambda: ind.CMF(20),
    ):
        inc = make()
        seq = [inc.update(*row) for row in zip(o, h, lo, c, v, strict=True)]
        half = make()
        first = ind.batch(half, o[:500], h[:500], lo[:500], c[:500], v[:500])
        rest = ind.batch(half, o[500:], h[500:], lo[500:], c[500:], v[500:])
        np.testing.assert_array_equal(np.array(seq), np.concatenate([first, rest]))
        assert inc.value == seq[-1] and inc.ready
    macd = ind.MACD()
    for row in zip(o, h, lo, c, v, strict=True):
        macd.update(*row)
    ref = talib.MACD(c, 12, 26, 9)
    assert (macd.value, macd.signal, macd.hist) == (ref[0][-1], ref[1][-1], ref[2][-1])


def test_kernels_are_price_scale_free() -> None:
    # A coin priced 1e-7 of XRP gets the same RSI, CCI and W%R, and MACD/ATR scaled by 1e-7.
    o, h, lo, c, v = load(FILES[0])
    k = 1e-7
    for make, first in (
        (lambda: ind.RSI(14), 14),
        (lambda: ind.CCI(20), 19),
        (lambda: ind.WilliamsR(14), 13),
    ):
        big = ind.batch(make(), o, h, lo, c, v)[first:]
        small = ind.batch(make(), o * k, h * k, lo * k, c * k, v)[first:]
        np.testing.assert_allclose(small, big, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        ind.batch(ind.ATR(14), o * k, h * k, lo * k, c * k, v)[14:],
        ind.batch(ind.ATR(14), o, h, lo, c, v)[14:] * k,
        rtol=1e-9,
    )


def test_flat_series_rsi_reads_neutral_where_talib_reads_zero() -> None:
    # TA-Lib's RSI of a flat series is 0 ("oversold"); nothing moved, so it is 50 here.
    x = np.full(30, 5.0)
    assert (talib.RSI(x, 14)[14:] == 0.0).all()
    assert (ind.batch(ind.RSI(14), x, x, x, x, x)[14:] == 50.0).all()
    assert (ind.batch(ind.CCI(20), x, x, x, x, x)[19:] == 0.0).all()


# ---- plain-Python references for the kernels TA-Lib does not have ---------------------------
def ref_cmf(h: list[float], lo: list[float], c: list[float], v: list[float], n: int) -> list[float]:
    out = []
    for i in range(len(c)):
        if i + 1 < n:
            out.append(math.nan)
            continue
        mfv = vol = 0.0
        for j in range(i + 1 - n, i + 1):
            rng = h[j] - lo[j]
            clv = ((c[j] - lo[j]) - (h[j] - c[j])) / rng if rng > 0 else 0.0
            mfv += clv * v[j]
            vol += v[j]
        out.append(mfv / vol if vol > 0 else 0.0)
    return out


def ref_vwap(
    h: list[float], lo: list[float], c: list[float], v: list[float], n: int
) -> list[float]:
    out = []
    for i in range(len(c)):
        js = range(max(0, i + 1 - n) if n else 0, i + 1)
        sv = sum(v[j] for j in js)
        out.append(sum((h[j] + lo[j] + c[j]) / 3 * v[j] for j in js) / sv if sv > 0 else math.nan)
    return out


def ref_rvol(v: list[float], n: int, cap: float) -> list[float]:
    out, ema = [math.nan], math.nan
    k = 2 / (n + 1)
    for i in range(1, len(v) + 1):
        if i == n:
            ema = sum(v[:n]) / n
        elif i > n:
            ema = (v[i - 1] - ema) * k + ema
        if i == len(v):
            break
        base = ema if i >= n else sum(v[:i]) / i
        out.append(min(v[i] / base, cap) if base > 0 else (cap if v[i] > 0 else 1.0))
    return out


bar_series = st.lists(
    st.tuples(
        st.floats(1.0, 100.0, allow_nan=False),
        st.floats(0.0, 5.0, allow_nan=False),
        st.floats(0.0, 1.0, allow_nan=False),
        st.floats(0.0, 50.0, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
).map(
    lambda rows: tuple(
        np.array(col)
        for col in zip(
            *[(lo + rng * f, lo + rng, lo, lo + rng * f, vol) for lo, rng, f, vol in rows],
            strict=True,
        )
    )
)


@given(bars=bar_series, n=st.integers(1, 25))
def test_cmf_and_vwap_equal_reference(bars: tuple[np.ndarray, ...], n: int) -> None:
    o, h, lo, c, v = bars
    args = (list(h), list(lo), list(c), list(v))
    np.testing.assert_allclose(
        ind.batch(ind.CMF(n), o, h, lo, c, v), ref_cmf(*args, n), rtol=1e-9, atol=1e-12
    )
    for period in (0, n):
        np.testing.assert_allclose(
            ind.batch(ind.VWAP(period), o, h, lo, c, v), ref_vwap(*args, period), rtol=1e-9
        )


@given(
    vols=st.lists(st.floats(0.0, 1000.0, allow_nan=False), min_size=1, max_size=80),
    n=st.integers(1, 30),
)
def test_relative_volume_equals_reference(vols: list[float], n: int) -> None:
    v = np.array(vols)
    ours = ind.batch(ind.RelativeVolume(n, 1, 10.0), v, v, v, v, v)
    np.testing.assert_allclose(ours, ref_rvol(vols, n, 10.0), rtol=1e-9, atol=1e-12)


def test_relative_volume_warm_up_uses_the_mean_of_bars_so_far() -> None:
    rv = ind.RelativeVolume(30, 3)
    for vol in (10.0, 20.0, 30.0):
        rv.update(1, 1, 1, 1, vol)
    assert not rv.ready and rv.value == pytest.approx(30.0 / 15.0)
    rv.update(1, 1, 1, 1, 40.0)
    assert rv.ready and rv.baseline == pytest.approx(20.0) and rv.value == pytest.approx(2.0)


def test_bad_bar_raises_invalid_event_and_changes_nothing() -> None:
    rsi = ind.RSI(2)
    for x in (1.0, 2.0, 3.0):
        rsi.update(x, x, x, x, 1.0)
    before = rsi.value
    with pytest.raises(InvalidEvent, match="was open=nan"):
        rsi.update(math.nan, 1, 1, 1, 1)
    with pytest.raises(InvalidEvent, match="high >= low"):
        rsi.update(1, 1, 2, 1, 1)
    with pytest.raises(InvalidEvent, match=r"bar 2: .*volume=-1"):
        ind.batch(rsi, np.ones(3), np.ones(3), np.ones(3), np.ones(3), np.array([1.0, 1.0, -1.0]))
    assert rsi.value == before


def test_bad_periods_raise_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match=r"period must be in .* was 1"):
        ind.RSI(1)
    with pytest.raises(InvalidConfig, match="fast must be < slow, was fast=26 slow=12"):
        ind.MACD(26, 12)
    with pytest.raises(ValueError, match="equal length"):
        ind.batch(ind.OBV(), np.ones(3), np.ones(3), np.ones(3), np.ones(2), np.ones(3))


def test_public_module_exports_the_incremental_classes() -> None:
    for name in ("RSI", "MACD", "AO", "WilliamsR", "ATR", "CCI", "OBV", "ADL", "CMF", "VWAP"):
        assert name in ind.__all__
        obj = getattr(ind, name)()
        assert math.isnan(obj.value) and not obj.ready
        obj.update(1.0, 1.0, 1.0, 1.0, 1.0)
        obj.reset()
        assert not obj.ready
    assert dir(ind) == sorted(ind.__all__)
