"""confluex.hft behaviour: the HFT note's bugs fixed, typed errors, and the engine bridge on a
real capture."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import _core, hft

S = _core.session
HFT = Path(__file__).resolve().parent / "data" / "hftbacktest"


def inputs(score: float = 70.0, reliability: float = 0.8) -> hft.HftInputs:
    i = hft.HftInputs()
    c = i.confluence
    c.score, c.reliability, c.confidence = score, reliability, 0.5
    i.spread_bps, i.bid_depth, i.ask_depth = 1.0, 2e5, 2e5
    i.ofi, i.queue_imbalance = 0.4, 0.3
    return i


# --- ScoreNormalizer ---------------------------------------------------------------------------


def test_zscore_read_does_not_append_to_the_history() -> None:
    n = hft.ScoreNormalizer()
    for s in range(40):
        n.update(float(s))
    before = (n.count, n.mean, n.stddev)
    first = n.normalize_zscore(90.0)
    for _ in range(100):
        assert n.normalize_zscore(90.0) == first  # the note's version drifted: each read appended
    assert (n.count, n.mean, n.stddev) == before


def test_zscore_window_is_exact_rolling_and_falls_back_below_min_samples() -> None:
    cfg = hft.NormalizerConfig()
    cfg.window, cfg.min_samples = 50, 30
    n = hft.ScoreNormalizer(cfg)
    for _ in range(29):
        n.update(80.0)
    assert n.normalize_zscore(75.0) == pytest.approx(0.5)  # fallback (75 - 50)/50
    n.update(80.0)
    assert n.normalize_zscore(75.0) == 0.0  # sigma 0: every score equal
    for s in np.linspace(0, 100, 200):
        n.update(float(s))
    window = np.linspace(0, 100, 200)[-50:]
    assert n.count == 50
    assert n.mean == pytest.approx(window.mean(), abs=1e-9)
    assert n.stddev == pytest.approx(window.std(), abs=1e-9)


def test_adaptive_interpolates_between_the_volatility_thresholds() -> None:
    n = hft.ScoreNormalizer()
    assert n.sensitivity(0.001) == 1.3
    assert n.sensitivity(0.05) == 0.7
    assert n.sensitivity(0.0125) == pytest.approx(1.0)
    assert n.sensitivity(0.00499) == pytest.approx(1.3, abs=1e-3)  # continuous at 0.005
    for c in (100.0, 101.0, 99.0, 102.0):
        n.update_bar_close(c)
    assert n.volatility == pytest.approx(float(np.std([0.01, 99 / 101 - 1, 102 / 99 - 1])))
    assert n.normalize_adaptive(80.0) == n.normalize_adaptive(80.0, n.volatility)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_normalizer_rejects_a_non_finite_score_and_stays_unchanged(bad: float) -> None:
    n = hft.ScoreNormalizer()
    n.update(60.0)
    with pytest.raises(confluex.InvalidEvent, match="score must be finite, was"):
        n.update(bad)
    with pytest.raises(confluex.InvalidEvent, match=r"scores\[1\] must be finite"):
        n.update_many(np.array([1.0, bad]))
    assert n.count == 1


def test_normalizer_config_errors_name_the_value() -> None:
    cfg = hft.NormalizerConfig()
    cfg.min_samples = 5000
    with pytest.raises(
        confluex.InvalidConfig, match=r"min_samples must be in \[1, window\], was 5000"
    ):
        hft.ScoreNormalizer(cfg)


# --- ScoreCombiner -----------------------------------------------------------------------------


def test_ensemble_with_zero_total_confidence_is_zero_not_nan() -> None:
    r = hft.ScoreCombiner.ensemble_combination(
        {"confluence": {"score": 0.8, "confidence": 0.0}, "ml": {"score": -0.4, "confidence": 0.0}}
    )
    assert r == {
        "composite": 0.0,
        "confidence": 0.0,
        "individual_weights": {"confluence": 0.0, "ml": 0.0},
    }


def test_ensemble_confidence_falls_when_confident_models_disagree() -> None:
    agree = hft.ScoreCombiner.ensemble_combination(
        {"a": {"score": 0.6, "confidence": 0.9}, "b": {"score": 0.6, "confidence": 0.9}}
    )
    disagree = hft.ScoreCombiner.ensemble_combination(
        {"a": {"score": 0.6, "confidence": 0.9}, "b": {"score": -0.6, "confidence": 0.9}}
    )
    assert agree["confidence"] == pytest.approx(0.9)
    assert disagree["composite"] == 0.0
    assert disagree["confidence"] < 0.5 * agree["confidence"]


def test_combiner_errors_are_typed() -> None:
    with pytest.raises(KeyError, match="no weight"):
        hft.ScoreCombiner.linear_combination({"a": 1.0}, {})
    with pytest.raises(
        confluex.InvalidEvent, match=r"confidences\[0\] must be finite and >= 0, was -1"
    ):
        hft.ScoreCombiner.ensemble_combination({"a": {"score": 1.0, "confidence": -1.0}})
    with pytest.raises(ValueError, match="needs input names"):
        hft.ScoreCombiner().ic_weighted_combination({"a": 1.0})


def test_online_ic_weights_use_only_the_past() -> None:
    rng = np.random.default_rng(7)
    n = 600
    ts = np.arange(n, dtype=np.int64) * 250_000_000
    scores = rng.uniform(-1, 1, size=(n, 2))
    mids = 100 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    cfg = hft.OnlineICConfig()
    cfg.min_realised = 20
    out, _ = hft.online_ic_run(ts, scores, mids, cfg)
    # Rewriting the future (mids from row 400, scores from row 401) changes nothing up to row
    # 400 (row 400 is combined before its mid is observed).
    scores2, mids2 = scores.copy(), mids.copy()
    scores2[401:] = rng.uniform(-1, 1, size=(n - 401, 2))
    mids2[400:] *= 1.01
    out2, _ = hft.online_ic_run(ts, scores2, mids2, cfg)
    assert np.array_equal(out[:401], out2[:401])
    assert not np.array_equal(out[401:], out2[401:])


def test_online_ic_learns_which_input_predicts() -> None:
    # Synthetic (named as such): input 0 is the next 1 s return plus noise, input 1 is noise.
    rng = np.random.default_rng(3)
    n = 3000
    rets = rng.normal(0, 1e-4, n)
    mids = 100 * np.exp(np.cumsum(np.concatenate([[0.0], rets[:-1]])))
    fwd = np.concatenate([mids[1:] / mids[:-1] - 1, [0.0]])
    scores = np.column_stack([np.tanh(fwd / 1e-4 + rng.normal(0, 1, n)), rng.uniform(-1, 1, n)])
    cfg = hft.OnlineICConfig()
    cfg.horizon_ns = 1_000_000_000
    sc = hft.ScoreCombiner(cfg, names=["signal", "noise"])
    for i in range(n):
        sc.observe(i * 1_000_000_000, {"signal": scores[i, 0], "noise": scores[i, 1]}, mids[i])
    assert sc.ics["signal"] > 0.4 > abs(sc.ics["noise"])
    assert sc.ic_weights["signal"] > 0.99


# --- multi-timeframe ---------------------------------------------------------------------------


def test_multi_timeframe_low_confidence_does_not_shrink_the_composite() -> None:
    tf = [hft.TimeframeScore(0.6, 0.1) for _ in range(4)]
    r = hft.MultiTimeframeHFTScore().calculate_multi_tf_score(tf)
    # The note's sum(w c x) would read 0.06 here; renormalised it is the agreed 0.6, and the
    # lack of evidence is reported separately.
    assert r["composite_directional"] == pytest.approx(0.6)
    assert r["weight_confidence"] == pytest.approx(0.1)
    assert r["timeframe_alignment"] == pytest.approx(1.0)
    assert set(r["individual_scores"]) == {"1s", "5s", "30s", "5m"}


def test_multi_timeframe_weights_are_checked() -> None:
    with pytest.raises(ValueError, match="must name exactly"):
        hft.MultiTimeframeHFTScore({"1s": 1.0})
    with pytest.raises(confluex.InvalidConfig, match="weights must be finite and >= 0, was -1"):
        hft.MultiTimeframeHFTScore({"1s": -1.0, "5s": 1.0, "30s": 1.0, "5m": 1.0})


# --- composite, market making, risk ------------------------------------------------------------


def test_composite_outputs_and_breakdown() -> None:
    i = inputs()
    i.position, i.max_position = 2.0, 4.0
    r = hft.HFTScoringEngine().calculate_composite_score(i)
    b = hft.HFTScoringEngine.breakdown(r)
    assert b["inventory_impact"]["value"] == -0.5  # long half the limit: selling reduces it
    assert b["directional_bias"]["inventory"] == pytest.approx(-0.125)
    assert 0 < r.directional_bias < 1 and 0 < r.execution_urgency < 1
    assert 0 < r.risk_adjusted_opportunity < 1
    assert b["flags"] == ["volatility_unknown"]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("spread_bps", -1.0, "spread_bps out of range, was -1"),
        ("correlation", 2.0, "correlation out of range, was 2"),
        ("position", math.inf, "position out of range, was inf"),
        ("max_drawdown", math.nan, "max_drawdown out of range, was nan"),
    ],
)
def test_composite_rejects_bad_inputs_by_name(field: str, value: float, match: str) -> None:
    e = hft.HFTScoringEngine()
    good = e.calculate_composite_score(inputs())
    i = inputs(score=20.0)
    setattr(i, field, value)
    with pytest.raises(confluex.InvalidEvent, match=match):
        e.calculate_composite_score(i)
    assert e.calculate_composite_score(inputs()).directional_bias == good.directional_bias


def test_zero_liquidity_is_flagged_not_silently_zero() -> None:
    comp = hft._hft.extract_confluence_component(inputs().confluence)
    r = hft.RiskAdjustedConfluenceHFT()
    zero = r.calculate_risk_adjusted_opportunity(comp, volatility=0.01, liquidity=0.0)
    unknown = r.calculate_risk_adjusted_opportunity(comp, volatility=0.01, liquidity=math.nan)
    assert zero["risk_adjusted_opportunity"] == 0.0
    assert zero["flags"] == ["no_liquidity"]
    assert zero["base_opportunity"] == pytest.approx(0.4 * 0.8)  # the opportunity is kept
    # Unknown liquidity is not read as zero (the note multiplied by it).
    assert unknown["risk_adjusted_opportunity"] == pytest.approx(0.32 * (1 - 0.3 * 0.5))
    assert unknown["flags"] == ["liquidity_unknown"]
    i = inputs()
    i.bid_depth = 0.0
    assert "no_liquidity" in hft.flag_names(
        hft.HFTScoringEngine().calculate_composite_score(i).flags
    )


def test_market_making_with_a_flat_book_is_the_note_formula() -> None:
    comp = hft._hft.extract_confluence_component(inputs(score=80.0, reliability=0.6).confluence)
    m = hft.MarketMakingHFTIntegration.calculate_making_scores(comp)
    assert m == pytest.approx(
        {
            "inventory_bias": 0.6,
            "spread_adjustment": 0.4,
            "size_multiplier": 0.36,
            "price_skew": 0.3,
            "activity_level": 0.6,
        }
    )
    # A long inventory at its limit pulls the bias (and the skew) down: quotes move to sell.
    long = hft.MarketMakingHFTIntegration.calculate_making_scores(comp, position=5, max_position=5)
    assert long["inventory_bias"] == pytest.approx(-0.4)
    assert long["price_skew"] == pytest.approx(-0.2)


def test_execution_strategy_thresholds() -> None:
    comp = hft.ConfluenceComponent()
    comp.directional_bias, comp.signal_strength, comp.reliability = 0.9, 0.9, 0.8
    s = hft.ExecutionAlgorithmConfluence.determine_execution_strategy({"side": "buy"}, comp)
    assert (s["algorithm"], s["urgency"], s["participation_rate"]) == (
        "aggressive_twap",
        "high",
        0.3,
    )
    comp.signal_strength, comp.directional_bias = 0.2, 0.2
    s = hft.ExecutionAlgorithmConfluence.determine_execution_strategy({}, comp)
    assert (s["algorithm"], s["urgency"], s["participation_rate"]) == (
        "passive_participation",
        "low",
        0.1,
    )


def test_fast_volume_delta() -> None:
    v = np.array([1.0, 2.0, 3.0, 4.0])
    side = np.array([1.0, -1.0, 0.0, 1.0])
    assert hft._hft.fast_volume_delta(v, side) == pytest.approx((5 - 2) / 7)
    assert hft._hft.fast_volume_delta(v[:0], side[:0]) == 0.0
    with pytest.raises(confluex.InvalidEvent, match=r"volume\[0\] must be finite and >= 0, was -1"):
        hft._hft.fast_volume_delta(np.array([-1.0]), np.array([1.0]))


# --- portfolio ---------------------------------------------------------------------------------


def test_portfolio_reranks_on_every_update() -> None:
    p = hft.PortfolioHFTScoring(["BTC", "ETH", "SOL"])
    strong = hft._hft.extract_confluence_component(inputs(score=90.0).confluence)
    weak = hft._hft.extract_confluence_component(inputs(score=60.0).confluence)
    p.update("ETH", weak, 0.01, 1.0)
    p.update("BTC", strong, 0.01, 1.0)
    assert p.rank_opportunities() == ["BTC", "ETH", "SOL"]
    p.update("BTC", weak, 0.03, 0.5)  # BTC weakens: it drops below ETH at once
    assert p.rank_opportunities() == ["ETH", "BTC", "SOL"]
    table = p.score_portfolio_opportunities()
    assert table["ETH"]["position_sizing_multiplier"] == 1.0
    assert 0 < table["BTC"]["position_sizing_multiplier"] < 1
    assert table["SOL"]["scored"] is False
    with pytest.raises(KeyError, match="unknown symbol 'XRP'"):
        p.update("XRP", weak)


def test_portfolio_correlation_penalises_a_symbol_that_moves_with_the_others() -> None:
    rng = np.random.default_rng(1)
    p = hft.PortfolioHFTScoring(["A", "B", "C"])
    for _ in range(200):
        common = rng.normal(0, 1e-3)
        p.update_returns({"A": common + rng.normal(0, 1e-4), "B": common, "C": rng.normal(0, 1e-3)})
    assert p.get_portfolio_correlation("A") > 0.5
    assert abs(p.get_portfolio_correlation("C")) < 0.3
    comp = hft._hft.extract_confluence_component(inputs().confluence)
    p.update("A", comp, 0.01, 1.0)
    p.update("C", comp, 0.01, 1.0)
    assert p.rank_opportunities()[0] == "C"
    with pytest.raises(confluex.InvalidEvent, match="returns must be finite, was nan"):
        p.update_returns({"A": math.nan, "B": 0.0, "C": 0.0})


# --- streaming policy --------------------------------------------------------------------------


def test_streaming_throttles_trades_counts_quotes_and_reports_latency_in_ns() -> None:
    calls: list[str] = []
    s = hft.StreamingConfluenceHFT(
        calculate=lambda sym: calls.append(sym) or {"directional": 0.1},
        clock_ns=lambda: 1_000_250_000_000,
    )
    s.add_symbol("BTCUSDT")
    t0 = 1_000_000_000_000
    trades = [
        s.process_market_update(
            {"type": "trade", "symbol": "BTCUSDT", "timestamp": t0 + k * 10_000_000}
        )
        for k in range(25)
    ]
    # The note never stored the last update, so all 25 trades recalculated; 100 ms throttle: 3.
    assert sum(r is not None for r in trades) == 3
    assert s.last_update_ns("BTCUSDT") == t0 + 200_000_000
    q = s.process_market_update(
        {"type": "quote", "symbol": "BTCUSDT", "timestamp": t0 + 300_000_000}
    )
    assert q is not None  # quotes count
    b = s.process_market_update(
        {"type": "orderbook", "symbol": "BTCUSDT", "timestamp": t0 + 300_000_001}
    )
    assert b is not None and b["update_latency_ns"] == 250_000_000 - 300_000_001
    assert s.counters("BTCUSDT") == {"trade": (25, 3), "orderbook": (1, 1), "quote": (1, 1)}
    assert len(calls) == 5
    with pytest.raises(ValueError, match="update type must be"):
        s.should_recalculate("BTCUSDT", "ticker", t0)
    with pytest.raises(KeyError, match="call add_symbol first"):
        s.should_recalculate("ETHUSDT", "trade", t0)


def test_ultra_fast_profile() -> None:
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))
    hft.apply_ultra_fast_config(engine)
    for c in ("orderflow", "orderbook", "volume", "price_structure", "technical", "sentiment"):
        engine.set_component(sym, c, 60.0)
    w = engine.result(sym).weights
    assert w == pytest.approx(
        {
            "orderbook": 0.6,
            "orderflow": 0.35,
            "volume": 0.05,
            "price_structure": 0.0,
            "technical": 0.0,
            "sentiment": 0.0,
        }
    )
    cfg = hft.streaming_config_ultra_fast()
    assert cfg.min_trade_interval_ns == 100_000_000 == cfg.min_quote_interval_ns


# --- engine bridge on a real capture -----------------------------------------------------------


def test_inputs_from_engine_on_the_real_spot_capture() -> None:
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument("0.01", "0.00000001"))
    session = S.FeedSession(engine, S.Venue.binance_spot)
    session.add_symbol("BTCUSDT", sym)
    session.replay(gzip.open(HFT / "spot/btcusdt_20240808.gz").read())
    assert engine.in_sync(sym)
    i = hft.inputs_from_engine(engine, sym, position=0.5, max_position=1.0, volatility=0.001)
    r = engine.result(sym)
    assert i.confluence.score == r.score and i.confluence.reliability == r.reliability
    bb, ba = engine.best_bid(sym), engine.best_ask(sym)
    assert bb is not None and ba is not None
    assert i.spread_bps == pytest.approx(1e4 * (ba[0] - bb[0]) / ((ba[0] + bb[0]) / 2))
    bids, asks = engine.top(sym, 5)
    assert i.bid_depth == pytest.approx(float((bids[:, 0] * bids[:, 1]).sum()) * 0.01 * 1e-8)
    assert i.ask_depth == pytest.approx(float((asks[:, 0] * asks[:, 1]).sum()) * 0.01 * 1e-8)
    assert all(tf.confidence > 0 for tf in i.timeframes)
    assert i.position == 0.5
    score = hft.HFTScoringEngine().calculate_composite_score(i)
    assert -1 <= score.directional_bias <= 1 and 0 <= score.risk_adjusted_opportunity <= 1
    assert score.inventory_impact == -0.5
    with pytest.raises(confluex.UnknownSymbol):
        hft.inputs_from_engine(engine, 7)
