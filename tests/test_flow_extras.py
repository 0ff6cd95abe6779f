"""The orderflow / orderbook extras inside the engine, on the real captures in tests/data.

Sub-scores (reference-system §3.1, §3.2, §4): orderflow gets stacked_imbalance, oi_quadrant and
cvd_divergence; orderbook gets absorption_exhaustion and liquidity. Each is excluded (weight 0)
while it lacks data, never a neutral 50 that votes. Also: the hft_ultra_fast profile's
"lookback 10" mapped to its trade-flow windows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from confluex import (
    FLAG_END_OF_MESSAGE,
    HFT_ULTRA_FAST_LOOKBACK_S,
    Engine,
    EngineConfig,
    Instrument,
    engine_config,
    engine_from_config,
    hft_flow_windows_ns,
    signals,
)
from confluex._core.bars import BarBuilder, BarBuilderConfig
from confluex.feeds.capture import BinanceCapture, load_binance_capture
from confluex.feeds.files import ReplayResult, replay
from confluex.trading import ConfigError, load_config

SPOT = Path("spot") / "btcusdt_20240808.gz"  # 346 s, 9757 trades
S = 1_000_000_000


def reference(**extras: object) -> EngineConfig:
    """The reference profile, where the extras carry the reference system's weights (the
    fitted profiles, ``standard`` included, compute and report them with weight 0)."""
    cfg = engine_config(profile="reference")
    fx = cfg.flow_extras
    for k, v in extras.items():
        setattr(fx, k, v)
    cfg.flow_extras = fx
    return cfg


def replay_capture(root: Path, rel: Path, cfg: EngineConfig) -> tuple[ReplayResult, int]:
    res = replay([root / rel], engine=Engine(cfg))
    (rep,) = res.symbols.values()
    return res, rep.symbol_id


@cache
def spot_capture(root: Path) -> BinanceCapture:
    return load_binance_capture([root / SPOT], Instrument("0.01", "0.00000001"))


def test_real_capture_gives_every_extra_data_and_a_directional_reading(hft_data: Path) -> None:
    cfg = reference()
    cfg.view_timeframes_ns = [5 * S, 30 * S, 60 * S, 300 * S]  # 5 s base: 20 bars in 100 s
    res, sym = replay_capture(hft_data, SPOT, cfg)
    engine = res.engine

    book = engine.component(sym, "orderbook")
    flow = engine.component(sym, "orderflow")

    assert book.weights["absorption_exhaustion"] == 0.08 and book.weights["liquidity"] == 0.12
    assert flow.weights["stacked_imbalance"] == 0.10 and flow.weights["cvd_divergence"] == 0.05
    assert flow.weights["oi_quadrant"] == 0.0  # no open-interest input: excluded, not 50
    assert book.unweighted == [] and flow.unweighted == []  # reference weights every reading
    for comp, key in ((book, "absorption_exhaustion"), (book, "liquidity")):
        assert 0.0 < comp.sub[key] < 100.0
    for key in ("stacked_imbalance", "cvd_divergence"):
        assert 0.0 <= flow.sub[key] <= 100.0
    # A weighted mean of its sub-scores, the extras included.
    for comp in (book, flow):
        w = comp.weights
        assert comp.score == pytest.approx(
            50 + sum(w[k] * (comp.sub[k] - 50) for k in w) / sum(w.values()), abs=1e-9
        )


def test_engine_stacked_imbalance_equals_the_kernel_over_the_same_trades(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    cfg = reference()
    stacked = cfg.stacked
    stacked.refresh_ns = 0  # recompute at every read: comparable with a fresh kernel
    cfg.stacked = stacked
    engine = Engine(cfg)
    sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
    kernel = signals.StackedImbalance(signals.StackedImbalanceConfig())
    engine.ingest_trades(cap.trades)
    for t in cap.trades:
        kernel.push(int(t["ts_ns"]), int(t["px_ticks"]), int(t["qty_lots"]), int(t["side"]))

    flow = engine.component(sym, "orderflow")

    r = kernel.compute()
    assert r.has_data and r.trades >= 100
    assert flow.sub["stacked_imbalance"] == r.score
    assert flow.weights["stacked_imbalance"] == 0.10


def test_engine_cvd_divergence_equals_the_kernel_over_the_base_bars(hft_data: Path) -> None:
    cap = spot_capture(hft_data)
    cfg = reference()
    cfg.view_timeframes_ns = [5 * S, 30 * S, 60 * S, 300 * S]
    engine = Engine(cfg)
    sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
    engine.ingest_trades(cap.trades)
    bars = BarBuilder(BarBuilderConfig())
    bars.on_trades(cap.trades, 0.01, 0.00000001)

    flow = engine.component(sym, "orderflow")

    level = bars.level_of(5 * S)
    assert level is not None
    b = bars.bars(level, 20)  # oldest first
    sided = (b["flags"] & signals_no_sides()) == 0
    delta = np.where(sided, b["buy_volume"] - b["sell_volume"], 0.0)
    volume = np.where(sided, b["buy_volume"] + b["sell_volume"], 0.0)
    expected = signals.cvd_divergence_score(delta, volume, np.ascontiguousarray(b["close"]))
    assert flow.sub["cvd_divergence"] == pytest.approx(expected, abs=1e-12)
    assert flow.weights["cvd_divergence"] == 0.05


def signals_no_sides() -> int:
    from confluex._core.bars import FLAG_NO_SIDES

    return FLAG_NO_SIDES


def test_cvd_divergence_is_excluded_until_the_base_timeframe_has_enough_bars(
    hft_data: Path,
) -> None:
    cap = spot_capture(hft_data)
    engine = Engine(reference())  # 1 m base: a 346 s capture closes 5 bars < 20
    sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
    engine.ingest_trades(cap.trades)

    flow = engine.component(sym, "orderflow")

    assert flow.weights["cvd_divergence"] == 0.0 and flow.sub["cvd_divergence"] == 50.0


def test_oi_quadrant_reads_rising_open_interest_with_the_price_trend() -> None:
    # SYNTHETIC inputs (no capture holds open interest): two hours of 1-minute history bars,
    # rising or falling, and open interest rising 5 % over the last hour.
    def run(direction: float) -> float:
        engine = engine_from_config(profile="reference")
        sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
        t0 = 1_699_999_980_000  # aligned to the minute
        closes = [100.0 * (1 + direction * 0.0002 * i) for i in range(121)]
        rows = np.array(
            [[t0 + 60_000 * i, c, c * 1.001, c * 0.999, c, 5.0] for i, c in enumerate(closes)]
        )
        engine.load_history(sym, rows)
        for k, oi in enumerate([1000.0, 1010.0, 1030.0, 1050.0]):
            engine.on_open_interest(sym, (t0 + 60_000 * (60 + 20 * k)) * 1_000_000, oi)
        now = (t0 + 60_000 * 121) * 1_000_000
        for i in range(20):  # orderflow needs trades (min_trades) to have data at all
            engine.push_trade(sym, now + i, round(closes[-1] * 100), 100_000, i % 2)
        flow = engine.component(sym, "orderflow")
        assert flow.weights["oi_quadrant"] == 0.10
        return float(flow.sub["oi_quadrant"])

    assert run(+1.0) > 60.0  # price up, OI up: new longs
    assert run(-1.0) < 40.0  # price down, OI up: new shorts


def test_a_single_open_interest_sample_gives_the_quadrant_no_data() -> None:
    # Reference bug (§3.2): with only the current OI known it assumed previous = 0.98 x current,
    # a synthetic +2.04 % that always read "OI rising". Here one sample is no change known.
    engine = engine_from_config(profile="reference")
    sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
    t0 = 1_699_999_980_000  # aligned to the minute
    rows = np.array(
        [[t0 + 60_000 * i, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 5.0] for i in range(121)]
    )
    engine.load_history(sym, rows)
    now = (t0 + 60_000 * 121) * 1_000_000
    engine.on_open_interest(sym, now - 1_000_000_000, 1000.0)
    for i in range(20):
        engine.push_trade(sym, now + i, 22_000, 100_000, i % 2)

    flow = engine.component(sym, "orderflow")

    assert flow.weights["oi_quadrant"] == 0.0 and flow.sub["oi_quadrant"] == 50.0
    assert flow.has_data


def test_extras_switched_off_leave_the_original_sub_scores_and_exclude_the_extras(
    hft_data: Path,
) -> None:
    on, s_on = replay_capture(hft_data, SPOT, reference())
    off, s_off = replay_capture(hft_data, SPOT, reference(enabled=False))

    for name, extras in (
        ("orderbook", ("absorption_exhaustion", "liquidity")),
        ("orderflow", ("stacked_imbalance", "oi_quadrant", "cvd_divergence")),
    ):
        a, b = on.engine.component(s_on, name), off.engine.component(s_off, name)
        for k in a.sub:
            if k in extras:
                assert b.weights[k] == 0.0
            else:
                assert a.sub[k] == b.sub[k] and a.weights[k] == b.weights[k], (name, k)
    assert (
        on.engine.component(s_on, "orderbook").score
        != off.engine.component(s_off, "orderbook").score
    )


def test_standard_profile_computes_the_extras_with_weight_zero_and_an_unchanged_score(
    hft_data: Path,
) -> None:
    # The fitted weights (docs/score.md) were learned without the extras: standard reports
    # them (sub-scores, research) but does not weight them, so its score is the one the
    # extras switched off give, bit for bit.
    def standard(enabled: bool) -> EngineConfig:
        cfg = engine_config(profile="standard")
        cfg.view_timeframes_ns = [5 * S, 30 * S, 60 * S, 300 * S]
        fx = cfg.flow_extras
        fx.enabled = enabled
        cfg.flow_extras = fx
        return cfg

    on, s_on = replay_capture(hft_data, SPOT, standard(True))
    off, s_off = replay_capture(hft_data, SPOT, standard(False))

    book = on.engine.component(s_on, "orderbook")
    flow = on.engine.component(s_on, "orderflow")
    for comp, keys in ((book, ("absorption_exhaustion", "liquidity")), (flow, EXTRAS_FLOW)):
        for k in keys:
            assert comp.weights[k] == 0.0
    # computed all the same, and reported as readings the profile does not weight
    assert {"absorption_exhaustion", "liquidity"} <= set(book.unweighted)
    assert {"stacked_imbalance", "cvd_divergence"} <= set(flow.unweighted)
    assert "oi_quadrant" not in flow.unweighted  # no open-interest input: no reading
    assert 0.0 < book.sub["liquidity"] < 100.0 and book.sub["liquidity"] != 50.0
    assert book.sub["absorption_exhaustion"] != 50.0
    assert flow.sub["stacked_imbalance"] != 50.0
    assert on.engine.result(s_on).score == off.engine.result(s_off).score


EXTRAS_FLOW = ("stacked_imbalance", "oi_quadrant", "cvd_divergence")


@pytest.mark.parametrize(
    ("profile", "default"),
    [
        ("reference", True),
        ("standard", False),
        ("fitted_1s", False),
        ("fitted_5s", False),
        ("hft_ultra_fast", False),
    ],
)
def test_extras_are_computed_where_the_profile_weights_them_unless_asked(
    profile: str, default: bool, tmp_path: Path
) -> None:
    # They cost about 0.8 us per depth message (bench/gate_replay.py with and without), so a
    # profile that gives them weight 0 does not compute them unless the config or the caller
    # asks; the argument wins over the config, the config over the profile.
    assert engine_config(profile=profile).flow_extras.enabled is default
    for asked in (True, False):
        assert engine_config(profile=profile, extras=asked).flow_extras.enabled is asked
        toml = tmp_path / f"{profile}_{asked}.toml"
        toml.write_text(f"[confluence]\nextras = {str(asked).lower()}\n")
        config = load_config(toml)
        assert engine_config(config, profile=profile).flow_extras.enabled is asked
        assert engine_config(config, profile=profile, extras=not asked).flow_extras.enabled is (
            not asked
        )


def test_extras_switch_in_the_config_must_be_a_boolean(tmp_path: Path) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text('[confluence]\nextras = "yes"\n')
    with pytest.raises(ConfigError, match=r"confluence\.extras must be true or false, was 'yes'"):
        load_config(toml)


# --- hft_ultra_fast "lookback 10" -------------------------------------------------------------


def test_hft_lookback_maps_to_the_trade_flow_windows() -> None:
    cfg = engine_config(profile="hft_ultra_fast")

    assert HFT_ULTRA_FAST_LOOKBACK_S == 10.0
    assert list(cfg.flow.windows_ns) == [1 * S, 5 * S, 10 * S] == hft_flow_windows_ns()
    assert cfg.flow.zscore_window_index == 2
    assert list(engine_config(profile="standard").flow.windows_ns) == [S, 5 * S, 30 * S, 300 * S]
    with pytest.raises(ValueError, match=r"lookback_s must be finite and >= 0\.01, was 0"):
        hft_flow_windows_ns(0)


def test_changing_the_hft_lookback_changes_the_orderflow_reading() -> None:
    # SYNTHETIC trades: selling 30-40 s before the read, buying in the last 8 s.
    def orderflow(lookback_s: float) -> float:
        engine = Engine(engine_config(profile="hft_ultra_fast", hft_lookback_s=lookback_s))
        sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
        for i in range(40):
            engine.push_trade(sym, 10 * S + i * S // 4, 5_000_000, 100_000, 1)
        for i in range(16):
            engine.push_trade(sym, 42 * S + i * S // 2, 5_000_000, 100_000, 0)
        engine.advance(sym, 50 * S)
        return float(engine.component(sym, "orderflow").sub["imbalance_long"])

    ten, sixty = orderflow(10.0), orderflow(60.0)

    assert ten > 80.0  # the last 10 s hold only the buying
    assert sixty < 50.0  # the last 60 s are dominated by the earlier selling


# --- event time only: the cached extras do not depend on when the score is read ----------------

USDM = Path("usdm_2024-07") / "btcusdt_20240718.gz"


def _reading(engine: Engine, sym: int) -> tuple[float, ...]:
    r = engine.result(sym)
    flow, book = engine.component(sym, "orderflow"), engine.component(sym, "orderbook")
    # -1: the component has no sub-scores yet (no data: nothing computed).
    return (
        r.score,
        r.score_raw,
        flow.sub.get("stacked_imbalance", -1.0),
        flow.weights.get("stacked_imbalance", -1.0),
        book.sub.get("liquidity", -1.0),
        book.weights.get("liquidity", -1.0),
        book.sub.get("absorption_exhaustion", -1.0),
    )


def _ingest_reading_every(cap: BinanceCapture, every: int | None) -> tuple[tuple[float, ...], dict]:
    """Feeds the capture to an engine (reference profile: extras weighted) message by message
    in event-time order, each trade on its own, reading the score after every ``every``-th
    message (None: only at the end); returns the last reading and those taken."""
    engine = Engine(engine_config(profile="reference"))
    sym = engine.add_symbol("BTCUSDT", Instrument("0.1", "0.001"))
    ends = np.flatnonzero(cap.book["flags"] & FLAG_END_OF_MESSAGE) + 1
    starts = np.concatenate([[0], ends[:-1]])
    # Each stream keeps its arrival order (its clock made monotone); the two are merged by time.
    book_ts = np.maximum.accumulate(cap.book["ts_ns"][ends - 1])
    trade_ts = np.maximum.accumulate(cap.trades["ts_ns"])
    order = np.argsort(np.concatenate([book_ts, trade_ts]), kind="stable")
    reads: dict[int, tuple[float, ...]] = {}
    for count, k in enumerate(order, 1):
        if k < len(ends):
            engine.ingest_book(cap.book[starts[k] : ends[k]])
        else:
            engine.ingest_trades(cap.trades[k - len(ends) : k - len(ends) + 1])
        if every is not None and count % every == 0:
            reads[count] = _reading(engine, sym)
    return _reading(engine, sym), reads


def test_cached_extras_are_a_function_of_event_time_not_of_the_read_cadence(
    hft_data: Path,
) -> None:
    # Live reads the score after every message, a replay batches and reads at other points:
    # the stacked imbalance (5 s grid) and the liquidity bands (1 s grid) must not see the
    # difference (before the fix they were refreshed when a read found them 5 s / 1 s old).
    cap = load_binance_capture([hft_data / USDM], Instrument("0.1", "0.001"))
    every, every_read = _ingest_reading_every(cap, 1)
    sparse, sparse_reads = _ingest_reading_every(cap, 53)
    at_end, _ = _ingest_reading_every(cap, None)

    assert every == sparse == at_end  # bit for bit, not approx
    assert len(sparse_reads) > 50
    for k, reading in sparse_reads.items():
        assert every_read[k] == reading, k
    # The extras had data and were weighted (a no-data 50 would make the test vacuous).
    assert every[3] > 0.0 and every[5] > 0.0
    assert len({r[2] for r in every_read.values()}) > 5  # the 5 s grid moved the reading
    assert len({r[4] for r in every_read.values()}) > 20
