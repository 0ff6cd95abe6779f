"""BarBuilder: bars from trades and history against the plain-Python reference (bar_reference).

Real data: Binance BTCUSDT trades from the hftbacktest spot capture and the freqtrade 1-minute
bars (aggregated to 5m/30m/4h); synthetic trades come from hypothesis and are named as such.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from bar_reference import GAP, HISTORY, NO_SIDES, RefBar, aggregate_ohlcv, bars_from_trades
from confluex._core.bars import (
    FLAG_GAP,
    FLAG_HISTORY,
    FLAG_NO_SIDES,
    BarBuilder,
    BarBuilderConfig,
    bar_dtype,
    bar_layout,
    infer_timeframe_ns,
)
from confluex._core.exceptions import InvalidConfig, InvalidEvent
from confluex._core.types import trade_event_dtype
from hypothesis import given
from hypothesis import strategies as st

DATA = Path(__file__).resolve().parent / "data"
S = 1_000_000_000
DEFAULT_TF = [1 * S, 5 * S, 30 * S, 60 * S, 300 * S, 1800 * S, 14400 * S]


def assert_same(ours: np.ndarray, ref: list[RefBar], ctx: str) -> None:
    assert len(ours) == len(ref), f"{ctx}: {len(ours)} bars, reference {len(ref)}"
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        where = f"{ctx} bar {i} (open_ns {b.open_ns})"
        assert a["open_ns"] == b.open_ns, where
        for f in ("open", "high", "low", "close"):
            assert a[f] == getattr(b, f), f"{where} {f}"
        for f in ("volume", "buy_volume", "sell_volume", "quote_volume", "vwap"):
            assert a[f] == pytest.approx(getattr(b, f), rel=1e-12, abs=1e-12), f"{where} {f}"
        assert a["trades"] == b.trades, where
        assert a["flags"] == b.flags, where


def test_flag_values_match_reference_constants() -> None:
    assert (FLAG_GAP, FLAG_HISTORY, FLAG_NO_SIDES) == (GAP, HISTORY, NO_SIDES)


def test_bar_dtype_matches_cpp_layout() -> None:
    layout = bar_layout()
    assert bar_dtype.itemsize == layout["itemsize"] == 88
    for name, off in layout["offsets"].items():
        assert bar_dtype.fields[name][1] == off, name


def test_default_config_is_the_seven_timeframes() -> None:
    b = BarBuilder()
    assert [b.timeframe_ns(i) for i in range(b.timeframe_count())] == DEFAULT_TF
    assert b.level_of(60 * S) == 3
    assert b.level_of(7 * S) is None


trade_lists = st.lists(
    st.tuples(
        st.integers(0, 12_000),  # ms since the previous trade (often 0: bursts)
        st.floats(1.0, 1000.0, allow_nan=False).map(lambda x: round(x, 2)),
        st.floats(0.0, 5.0, allow_nan=False).map(lambda x: round(x, 3)),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=80,
)


TIMEFRAME_SETS = (
    [1 * S, 5 * S, 30 * S, 60 * S],
    [1 * S, 3 * S, 5 * S, 15 * S],
    [2 * S, 6 * S, 10 * S, 30 * S],
)


@given(trades=trade_lists, start=st.integers(0, 10**13), tfs=st.sampled_from(TIMEFRAME_SETS))
def test_bars_equal_reference_on_synthetic_trades(
    trades: list[tuple[int, float, float, int]], start: int, tfs: list[int]
) -> None:
    # Synthetic trades; the second and third sets have levels whose source is not the level
    # just below (5s from 1s, 15s from 5s; 10s from 2s, 30s from 10s).
    b = BarBuilder(BarBuilderConfig(timeframes_ns=tfs, capacity=4096))
    ts = start * 1_000
    stamped = []
    for dt, px, qty, side in trades:
        ts += dt * 1_000_000
        stamped.append((ts, px, qty, side))
        b.on_trade(ts, px, qty, side)
    for level, span in enumerate(tfs):
        closed, forming = bars_from_trades(stamped, span)
        assert_same(b.bars(level), closed, f"synthetic {span // S}s")
        assert b.closed_count(level) == len(closed)
        peek = b.forming(level)
        assert peek is not None and forming is not None
        assert_same(peek, [forming], f"forming {span // S}s")


def load_capture_trades(path: Path) -> list[tuple[int, float, float, int]]:
    out = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if "@trade" not in line:
                continue
            d = json.loads(line.split(" ", 1)[1])["data"]
            side = 1 if d["m"] else 0  # buyer is maker: the taker sold
            out.append((int(d["T"]) * 1_000_000, float(d["p"]), float(d["q"]), side))
    return out


def test_bars_from_real_binance_trades_equal_reference(hft_data: Path) -> None:
    trades = []
    for name in ("btcusdt_20240808.gz", "btcusdt_20240809.gz"):
        trades += load_capture_trades(hft_data / "spot" / name)
    assert len(trades) > 5000
    trades.sort(key=lambda t: t[0])  # stable: same-ms trades keep capture order
    b = BarBuilder()
    arr = np.zeros(len(trades), dtype=trade_event_dtype)
    arr["ts_ns"] = [t[0] for t in trades]
    arr["px_ticks"] = [round(t[1] * 100) for t in trades]  # tick 0.01
    arr["qty_lots"] = [round(t[2] * 100_000) for t in trades]  # lot 0.00001
    arr["side"] = [t[3] for t in trades]
    b.on_trades(arr, 0.01, 0.00001)
    exact = [
        (t, r["px_ticks"] * 0.01, r["qty_lots"] * 0.00001, s)
        for (t, _, _, s), r in zip(trades, arr, strict=True)
    ]
    for level in range(5):  # 1s .. 5m (the capture is ~11 minutes)
        closed, forming = bars_from_trades(exact, DEFAULT_TF[level])
        assert len(closed) >= 1
        assert_same(b.bars(level), closed, f"real {DEFAULT_TF[level] // S}s")
        assert_same(b.forming(level), [forming], "real forming")
    one_s = b.bars(0)
    assert (one_s["flags"] & FLAG_GAP).any(), "a quiet second in the capture is a gap bar"
    assert one_s["volume"].sum() + b.forming(0)["volume"].sum() == pytest.approx(
        sum(t[2] for t in exact)
    )


def load_freqtrade_1m() -> list[list[float]]:
    with gzip.open(DATA / "freqtrade" / "unittest_btc_1m.json.gz", "rt") as fh:
        rows: list[list[float]] = json.load(fh)
    return rows


def test_history_1m_aggregates_to_5m_30m_4h_as_reference() -> None:
    rows = load_freqtrade_1m()
    b = BarBuilder(BarBuilderConfig(capacity=20_000))
    tf = b.load_history(np.array(rows, dtype=np.float64))
    assert tf == 60 * S
    assert [b.history_timeframe_ns(i) for i in range(7)] == [0, 0, 0, tf, tf, tf, tf]
    assert [b.size(i) for i in range(3)] == [0, 0, 0]
    for level, span_min in ((3, 1), (4, 5), (5, 30), (6, 240)):
        closed, forming = aggregate_ohlcv(rows, span_min * 60_000)
        assert_same(b.bars(level), closed, f"freqtrade {span_min}m")
        if forming is not None:
            assert_same(b.forming(level), [forming], f"freqtrade forming {span_min}m")
    assert len(b.bars(6)) >= 57


def test_history_then_live_trades_fold_into_the_partial_coarse_bar() -> None:
    rows = [[60_000.0 * i, 10.0, 11.0, 9.0, 10.5, 2.0] for i in range(7)]  # 7 x 1m: 0..7 min
    b = BarBuilder()
    b.load_history(np.array(rows))
    five = b.level_of(300 * S)
    assert five is not None
    assert b.closed_count(five) == 1  # 0-5 min closed; 5-7 min forming from history
    b.on_trade(7 * 60 * S + 5 * S, 12.0, 1.0, 0)  # live, inside the 5-10 min bar
    b.advance(10 * 60 * S)
    last = b.bars(five, 1)[0]
    assert last["open_ns"] == 5 * 60 * S
    assert (last["open"], last["high"], last["close"]) == (10.0, 12.0, 12.0)
    assert last["volume"] == pytest.approx(5.0)
    assert last["buy_volume"] == 1.0
    assert last["flags"] & FLAG_HISTORY and last["flags"] & FLAG_NO_SIDES


def test_gap_bar_holds_previous_close_and_no_volume() -> None:
    b = BarBuilder(BarBuilderConfig(timeframes_ns=[S, 5 * S], capacity=64))
    b.on_trade(0, 100.0, 1.0, 0)
    b.on_trade(S // 2, 101.0, 1.0, 1)
    b.on_trade(3 * S + 1, 99.0, 2.0, 1)  # seconds 1 and 2 have no trade
    bars = b.bars(0)
    assert list(bars["open_ns"]) == [0, S, 2 * S]
    gap = bars[1]
    assert gap["flags"] == FLAG_GAP
    assert (gap["open"], gap["high"], gap["low"], gap["close"], gap["vwap"]) == (101.0,) * 5
    assert (gap["volume"], gap["buy_volume"], gap["sell_volume"], gap["trades"]) == (0, 0, 0, 0)


def test_closed_bars_never_change() -> None:
    b = BarBuilder(BarBuilderConfig(timeframes_ns=[S, 5 * S], capacity=64))
    for i in range(30):
        b.on_trade(i * S // 3, 100.0 + i, 1.0, i % 2)
    before = b.bars(0).copy()
    for i in range(30, 40):
        b.on_trade(9 * S + i, 50.0, 9.0, 0)  # later trades, and late ones into the forming bar
    b.on_trade(5 * S, 1.0, 1.0, 0)  # late: before the forming bar's start
    assert b.late_trades() == 1
    after = b.bars(0)
    assert (after[: len(before)] == before).all()


def test_advance_closes_bars_without_trades() -> None:
    b = BarBuilder(BarBuilderConfig(timeframes_ns=[S, 60 * S], capacity=128))
    b.on_trade(10, 5.0, 1.0, 0)
    assert b.closed_count(0) == 0
    b.advance(S - 1)
    assert b.closed_count(0) == 0
    b.advance(61 * S)
    assert b.closed_count(0) == 61 and b.closed_count(1) == 1
    assert b.bars(1)[0]["volume"] == 1.0
    assert (b.bars(0)[1:]["flags"] == FLAG_GAP).all()


def test_long_gap_counts_every_bar_and_keeps_the_newest() -> None:
    b = BarBuilder(BarBuilderConfig(timeframes_ns=[S], capacity=8))
    b.on_trade(0, 5.0, 1.0, 0)
    b.on_trade(1000 * S, 6.0, 1.0, 0)
    assert b.closed_count(0) == 1000
    bars = b.bars(0)
    assert len(bars) == 8
    assert list(bars["open_ns"]) == [(992 + i) * S for i in range(8)]
    assert (bars["close"] == 5.0).all()


def test_unknown_side_counts_in_volume_only() -> None:
    b = BarBuilder(BarBuilderConfig(timeframes_ns=[S], capacity=8))
    b.on_trade(0, 5.0, 2.0, 2)
    b.on_trade(1, 5.0, 1.0, 0)
    f = b.forming(0)
    assert f is not None
    assert (f["volume"][0], f["buy_volume"][0], f["sell_volume"][0]) == (3.0, 1.0, 0.0)
    assert f["flags"][0] & FLAG_NO_SIDES


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, float("nan"), 1.0, 0), "price must be positive and finite, was nan"),
        ((0, -1.0, 1.0, 0), "price must be positive and finite, was -1"),
        ((0, 1.0, -2.0, 0), "qty must be non-negative and finite, was -2"),
        ((-5, 1.0, 1.0, 0), "ts_ns must be non-negative, was -5"),
    ],
    ids=("nan_price", "negative_price", "negative_qty", "negative_ts"),
)
def test_bad_trade_raises_and_changes_nothing(
    args: tuple[int, float, float, int], match: str
) -> None:
    b = BarBuilder(BarBuilderConfig(timeframes_ns=[S], capacity=8))
    b.on_trade(0, 5.0, 1.0, 0)
    with pytest.raises(InvalidEvent, match=match):
        b.on_trade(*args)
    f = b.forming(0)
    assert f is not None and f["volume"][0] == 1.0 and f["trades"][0] == 1


def test_bad_side_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"side must be 0 .* was 7"):
        BarBuilder().on_trade(0, 1.0, 1.0, 7)


def test_bad_trade_record_in_batch_applies_nothing() -> None:
    arr = np.zeros(3, dtype=trade_event_dtype)
    arr["px_ticks"] = [100, 0, 100]
    arr["qty_lots"] = 1
    b = BarBuilder()
    with pytest.raises(InvalidEvent, match="trade record 1 "):
        b.on_trades(arr, 0.01, 1.0)
    assert b.forming(0) is None


@pytest.mark.parametrize(
    ("tfs", "cap", "match"),
    [
        ([], 8, "must not be empty"),
        ([S, S], 8, "strictly ascending"),
        ([2 * S, 3 * S], 8, r"multiple of the finest timeframe 2000000000, was 3000000000"),
        ([0], 8, "must be positive, was 0"),
        ([S], 0, "capacity must be in"),
    ],
    ids=("empty", "not_ascending", "not_multiple", "zero", "zero_capacity"),
)
def test_bad_config_raises(tfs: list[int], cap: int, match: str) -> None:
    with pytest.raises(InvalidConfig, match=match):
        BarBuilderConfig(timeframes_ns=tfs, capacity=cap)


def test_history_errors_name_the_bad_row() -> None:
    b = BarBuilder()
    with pytest.raises(InvalidEvent, match="row 1: open times must be strictly ascending"):
        b.load_history(np.array([[60_000.0, 1, 1, 1, 1, 1], [0.0, 1, 1, 1, 1, 1]]))
    with pytest.raises(InvalidEvent, match="row 1 is invalid"):
        b.load_history(np.array([[0.0, 1, 1, 1, 1, 1], [60_000.0, 1, 0.5, 1, 1, 1]]))
    with pytest.raises(ValueError, match=r"\(n, 6\) array .* was shape \(2, 5\)"):
        b.load_history(np.zeros((2, 5)))
    with pytest.raises(InvalidEvent, match="at least 2 rows"):
        infer_timeframe_ns(np.array([[0.0, 1, 1, 1, 1, 1]]))
    with pytest.raises(InvalidEvent, match="not aligned to the timeframe 300000 ms"):
        infer_timeframe_ns([[0, 1, 1, 1, 1, 1], [60_000, 1, 1, 1, 1, 1]], 300 * S)
    with pytest.raises(InvalidEvent, match="divides no configured timeframe"):
        BarBuilder(BarBuilderConfig(timeframes_ns=[60 * S])).load_history(
            np.array([[0.0, 1, 1, 1, 1, 1], [7000.0, 1, 1, 1, 1, 1]])
        )
    b.on_trade(0, 1.0, 1.0, 0)
    with pytest.raises(InvalidEvent, match="before the first trade"):
        b.load_history(np.array([[0.0, 1, 1, 1, 1, 1], [60_000.0, 1, 1, 1, 1, 1]]))


def test_history_infers_timeframe_from_spacing_and_fills_holes_with_gaps() -> None:
    rows = [[0.0, 1, 2, 1, 2, 3], [300_000.0, 2, 3, 2, 3, 1], [900_000.0, 3, 3, 1, 1, 4]]
    assert infer_timeframe_ns(np.array(rows)) == 300 * S
    b = BarBuilder()
    b.load_history(np.array(rows))
    five = b.bars(4)
    assert list(five["open_ns"]) == [0, 300 * S, 600 * S, 900 * S]
    assert five[2]["flags"] == FLAG_GAP and five[2]["close"] == 3.0
    assert b.size(3) == 0  # 1m is finer than the history: not filled


def test_history_takes_ccxt_lists_and_a_given_timeframe() -> None:
    b = BarBuilder()
    assert b.load_history([[1_800_000, 1, 2, 0.5, 1.5, 7]], 1800 * S) == 1800 * S  # one row
    assert b.closed_count(5) == 1 and b.bars(5)[0]["volume"] == 7.0
    assert b.forming(6) is not None and b.forming(6)["volume"][0] == 7.0  # 4h: still forming


def test_finer_history_replaces_coarser() -> None:
    b = BarBuilder(BarBuilderConfig(capacity=64))
    hourly = [[3_600_000.0 * i, 1, 1, 1, 1, 1] for i in range(4)]
    b.load_history(np.array(hourly))  # fills 4h only
    assert b.history_timeframe_ns(6) == 3600 * S
    minutes = [[60_000.0 * i, 1, 1, 1, 1, 1] for i in range(30)]
    b.load_history(np.array(minutes))
    assert b.history_timeframe_ns(6) == 60 * S
    assert b.history_timeframe_ns(5) == 60 * S
    b.load_history(np.array(hourly))  # coarser again: does not replace the 1m-built levels
    assert b.history_timeframe_ns(6) == 60 * S
