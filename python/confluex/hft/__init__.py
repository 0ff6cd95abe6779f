"""Confluence as a component score inside an HFT system (the HFT note, docs/hft.md).

Every class the note names lives here with its method names. The per-update arithmetic runs
in the C++ core (``confluex._core.hft``: no allocation per update, the GIL released for the
batch calls); this layer adds the note's dictionary-shaped API, symbol names and defaults.

Conventions: a directional value is in [-1, 1] (+1 bullish), a strength or probability-like
value in [0, 1], NaN means "not available" (never read as neutral), and every time is in
nanoseconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._core import hft as _hft
from ..engine import Engine

ConfluenceComponent = _hft.ConfluenceComponent
ConfluenceInputs = _hft.ConfluenceInputs
CompositeScore = _hft.CompositeScore
HftInputs = _hft.HftInputs
HftScoringConfig = _hft.HftScoringConfig
MultiTimeframeConfig = _hft.MultiTimeframeConfig
NormalizerConfig = _hft.NormalizerConfig
OnlineICCombiner = _hft.OnlineICCombiner
OnlineICConfig = _hft.OnlineICConfig
PortfolioConfig = _hft.PortfolioConfig
ScoreNormalizer = _hft.ScoreNormalizer
StreamingConfig = _hft.StreamingConfig
TimeframeScore = _hft.TimeframeScore
UpdateType = _hft.UpdateType
EngineInputsConfig = _hft.EngineInputsConfig

TIMEFRAMES = ("1s", "5s", "30s", "5m")
TIMEFRAME_WEIGHTS = {"1s": 0.4, "5s": 0.3, "30s": 0.2, "5m": 0.1}

FLAGS = {
    "no_liquidity": _hft.FLAG_NO_LIQUIDITY,
    "liquidity_unknown": _hft.FLAG_LIQUIDITY_UNKNOWN,
    "volatility_unknown": _hft.FLAG_VOLATILITY_UNKNOWN,
    "drawdown_limit": _hft.FLAG_DRAWDOWN_LIMIT,
    "exposure_limit": _hft.FLAG_EXPOSURE_LIMIT,
    "no_confluence_data": _hft.FLAG_NO_CONFLUENCE_DATA,
    "spread_unknown": _hft.FLAG_SPREAD_UNKNOWN,
    "inventory_limit": _hft.FLAG_INVENTORY_LIMIT,
}

# The note's ultra-fast profile (reference-system §13 item 34). The component weights apply to
# Engine.set_weights(); the other keys document the note's intent and how confluex meets it.
hft_ultra_fast_config: dict[str, Any] = {
    "weights": {
        "orderbook": 0.60,
        "orderflow": 0.35,
        "volume": 0.05,  # the trade-based volume component (no OHLCV needed)
        "price_structure": 0.00,
        "technical": 0.00,
        "sentiment": 0.00,
    },
    "orderbook_depth": 5,
    "lookback_periods": 10,
    "update_frequency": 0.1,  # seconds: StreamingConfig.min_trade_interval_ns = 100 ms
    "signal_sensitivity": 0.5,
    "confidence_threshold": 0.3,  # below it, execution urgency is reported as "low"
    "use_approximations": False,  # exact kernels already run in ~100 ns
    "parallel_processing": False,  # one engine thread per venue; see docs/hft.md
    "cache_intermediate": True,  # the engine recomputes lazily what events made stale
}


def flag_names(flags: int) -> list[str]:
    """Returns the names of the flag bits set in ``flags``."""
    return [name for name, bit in FLAGS.items() if flags & bit]


def apply_ultra_fast_config(engine: Engine) -> None:
    """Sets the ultra-fast profile's component weights on every symbol of ``engine``."""
    engine.set_weights(dict(hft_ultra_fast_config["weights"]))


def streaming_config_ultra_fast() -> StreamingConfig:
    """Returns a StreamingConfig at the profile's update frequency (100 ms)."""
    cfg = StreamingConfig()
    interval = int(hft_ultra_fast_config["update_frequency"] * 1e9)
    cfg.min_trade_interval_ns = interval
    cfg.min_quote_interval_ns = interval
    return cfg


def component_dict(c: ConfluenceComponent) -> dict[str, float]:
    """Returns the note's dictionary form of a confluence component."""
    return {
        "directional_bias": c.directional_bias,
        "signal_strength": c.signal_strength,
        "reliability": c.reliability,
        "confidence": c.confidence,
        "momentum": c.momentum,
        "mean_reversion": c.mean_reversion,
    }


def inputs_from_engine(
    engine: Engine,
    symbol_id: int,
    *,
    position: float = 0.0,
    max_position: float = 0.0,
    volatility: float = math.nan,
    drawdown: float = 0.0,
    max_drawdown: float = 0.0,
    exposure: float = 0.0,
    exposure_limit: float = 0.0,
    correlation: float = 0.0,
    technical: float | None = None,
    rsi: float | None = None,
    range_position: float | None = None,
    config: EngineInputsConfig | None = None,
) -> HftInputs:
    """Builds the HftInputs of one engine symbol.

    The confluence, microstructure and timeframe fields come from the engine's public state
    (``_core.hft.inputs_from_engine``: result, orderflow/orderbook sub-scores, top of book,
    OFI, trade-flow windows). Inventory (``position`` from the executor or the paper venue)
    and risk figures are the caller's; optional technical (0-100 score), RSI and range
    position feed momentum and mean reversion when supplied. The result is validated.
    """
    inputs = _hft.inputs_from_engine(engine, symbol_id, config or EngineInputsConfig())
    inputs.position = position
    inputs.max_position = max_position
    inputs.volatility = volatility
    inputs.drawdown = drawdown
    inputs.max_drawdown = max_drawdown
    inputs.exposure = exposure
    inputs.exposure_limit = exposure_limit
    inputs.correlation = correlation
    conf = inputs.confluence
    if technical is not None:
        conf.technical = (technical - 50.0) / 50.0
    if rsi is not None:
        conf.rsi = rsi
    if range_position is not None:
        conf.range_position = range_position
    inputs.confluence = conf
    inputs.validate()
    return inputs


class HFTScoringEngine(_hft.HftScorer):
    """Multi-factor HFT scoring: confluence is one component among microstructure, inventory
    and risk (the note's HFTScoringEngine).

    ``calculate_composite_score(inputs)`` is the core call itself (no Python layer in between)
    and returns a CompositeScore: directional_bias (-1..1), execution_urgency (0..1),
    risk_adjusted_opportunity (0..1) and inventory_impact (-1..1), each with its breakdown
    fields (see ``breakdown``).
    """

    def __init__(self, config: HftScoringConfig | None = None) -> None:
        super().__init__(config or HftScoringConfig())

    @staticmethod
    def normalize_directional(score: float) -> float:
        """Converts a 0-100 score to -1 (bearish) .. +1 (bullish)."""
        return max(-1.0, min(1.0, (score - 50.0) / 50.0))

    @staticmethod
    def normalize_strength(score: float) -> float:
        """Converts a 0-100 score to 0 (weak) .. 1 (strong)."""
        return min(1.0, abs(score - 50.0) / 50.0)

    @staticmethod
    def get_confluence_component(inputs: ConfluenceInputs | HftInputs) -> dict[str, float]:
        """Returns directional_bias, signal_strength, reliability, confidence, momentum and
        mean_reversion (definitions in docs/hft.md)."""
        conf = inputs.confluence if isinstance(inputs, HftInputs) else inputs
        return component_dict(_hft.extract_confluence_component(conf))

    @staticmethod
    def get_microstructure_component(score: CompositeScore) -> dict[str, float]:
        """Returns the microstructure part of a composite: its directional contribution and
        the urgency factors it drives."""
        return {
            "directional_contribution": score.dir_microstructure,
            "urgency_confirmation": score.urgency_confirmation,
            "urgency_spread_factor": score.urgency_spread_factor,
            "liquidity_bonus": score.liquidity_bonus,
        }

    @staticmethod
    def get_inventory_component(score: CompositeScore) -> dict[str, float]:
        """Returns the inventory part of a composite."""
        return {
            "inventory_impact": score.inventory_impact,
            "inventory_utilisation": score.inventory_utilisation,
            "directional_contribution": score.dir_inventory,
        }

    @staticmethod
    def get_risk_component(score: CompositeScore) -> dict[str, float]:
        """Returns the risk factors of a composite's opportunity."""
        return {
            "volatility_penalty": score.volatility_penalty,
            "correlation_penalty": score.correlation_penalty,
            "drawdown_factor": score.drawdown_factor,
            "exposure_factor": score.exposure_factor,
        }

    @classmethod
    def breakdown(cls, score: CompositeScore) -> dict[str, Any]:
        """Returns the four outputs with their breakdowns and flags as plain dicts."""
        return {
            "directional_bias": {
                "value": score.directional_bias,
                "confluence": score.dir_confluence,
                "microstructure": score.dir_microstructure,
                "timeframe": score.dir_timeframe,
                "inventory": score.dir_inventory,
            },
            "execution_urgency": {
                "value": score.execution_urgency,
                "signal": score.urgency_signal,
                "confirmation": score.urgency_confirmation,
                "spread_factor": score.urgency_spread_factor,
            },
            "risk_adjusted_opportunity": {
                "value": score.risk_adjusted_opportunity,
                "base": score.base_opportunity,
                "liquidity_bonus": score.liquidity_bonus,
                **cls.get_risk_component(score),
            },
            "inventory_impact": {
                "value": score.inventory_impact,
                "utilisation": score.inventory_utilisation,
            },
            "confluence": component_dict(score.confluence),
            "flags": flag_names(score.flags),
        }


class MultiTimeframeHFTScore:
    """Confluence across the 1s/5s/30s/5m timeframes, weighted .4/.3/.2/.1.

    The composite is renormalised, sum(w c x) / sum(w c): the note's sum(w c x) shrank toward 0
    whenever confidence was low; the amount of evidence is reported separately as
    ``weight_confidence``.
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        w = dict(TIMEFRAME_WEIGHTS if weights is None else weights)
        if set(w) != set(TIMEFRAMES):
            raise ValueError(f"timeframe weights must name exactly {TIMEFRAMES}, was {sorted(w)}")
        self.timeframe_weights = {tf: float(w[tf]) for tf in TIMEFRAMES}
        cfg = MultiTimeframeConfig()
        cfg.weights = [self.timeframe_weights[tf] for tf in TIMEFRAMES]
        cfg.validate()
        self._weights = cfg.weights

    def prepare_timeframe_data(self, engine: Engine, symbol_id: int) -> list[TimeframeScore]:
        """Returns the per-timeframe scores of one engine symbol (trade-flow windows, with
        the book blended into 1 s)."""
        return list(_hft.inputs_from_engine(engine, symbol_id, EngineInputsConfig()).timeframes)

    def calculate_multi_tf_score(
        self, data: Engine | Sequence[TimeframeScore], symbol_id: int = 0
    ) -> dict[str, Any]:
        """Returns composite_directional, composite_strength, timeframe_alignment,
        weight_confidence and individual_scores {tf: {directional, strength, confidence}}."""
        tfs = self.prepare_timeframe_data(data, symbol_id) if isinstance(data, Engine) else data
        r = _hft.combine_timeframes(list(tfs), self._weights)
        return {
            "composite_directional": r.composite_directional,
            "composite_strength": r.composite_strength,
            "timeframe_alignment": r.timeframe_alignment,
            "weight_confidence": r.weight_confidence,
            "individual_scores": {
                tf: {
                    "directional": s.directional,
                    "strength": s.strength,
                    "confidence": s.confidence,
                }
                for tf, s in zip(TIMEFRAMES, r.individual, strict=True)
            },
        }

    def calculate_timeframe_alignment(self, tf_scores: Sequence[TimeframeScore]) -> float:
        """Returns |sum w c x| / sum w c |x|: 1 when every timeframe leans the same way."""
        return float(_hft.combine_timeframes(list(tf_scores), self._weights).timeframe_alignment)


class ScoreCombiner:
    """Combines confluence with other model outputs (all scores already in [-1, 1])."""

    def __init__(self, ic_config: OnlineICConfig | None = None, names: Sequence[str] = ()) -> None:
        self._names = list(names)
        self._ic: OnlineICCombiner | None = None
        if self._names:
            cfg = ic_config or OnlineICConfig()
            cfg.n_inputs = len(self._names)
            self._ic = OnlineICCombiner(cfg)

    @staticmethod
    def linear_combination(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
        """Returns sum(score * weight); every scored model needs a weight."""
        missing = [k for k in scores if k not in weights]
        if missing:
            raise KeyError(f"no weight for model(s) {missing}")
        names = list(scores)
        return float(_hft.combine_linear([scores[k] for k in names], [weights[k] for k in names]))

    @staticmethod
    def ensemble_combination(scores: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
        """Confidence-weighted ensemble of {model: {"score", "confidence"}}.

        Returns composite, confidence (confidence-weighted mean confidence times the
        consensus exp(-2 weighted variance)) and individual_weights. A total confidence of 0
        gives composite 0 and confidence 0 (never 0/0).
        """
        names = list(scores)
        r = _hft.combine_ensemble(
            [scores[k]["score"] for k in names], [scores[k]["confidence"] for k in names]
        )
        return {
            "composite": r.composite,
            "confidence": r.confidence,
            "individual_weights": dict(zip(names, r.weights, strict=True)),
        }

    @classmethod
    def calculate_ensemble_confidence(
        cls, model_scores: Mapping[str, float], model_confidences: Mapping[str, float]
    ) -> float:
        """Returns the ensemble confidence of ensemble_combination."""
        names = list(model_scores)
        return float(
            _hft.combine_ensemble(
                [model_scores[k] for k in names], [model_confidences[k] for k in names]
            ).confidence
        )

    @staticmethod
    def rank_based_combination(scores: Mapping[str, float]) -> float:
        """Rank-weighted mean: weights (rank + 1)/n by ascending score (ties share their
        average rank), normalised to sum 1."""
        return float(_hft.combine_rank(list(scores.values())))

    def observe(self, ts_ns: int, scores: Mapping[str, float], mid: float) -> None:
        """Feeds the online IC-weighted method one observation (scores by name, mid price)."""
        self._ic_combiner().observe(ts_ns, [scores[k] for k in self._names], mid)

    def ic_weighted_combination(self, scores: Mapping[str, float]) -> float:
        """Returns sum(w s) with weights following each input's recent rank IC (causal)."""
        return float(self._ic_combiner().combine([scores[k] for k in self._names]))

    @property
    def ic_weights(self) -> dict[str, float]:
        """Current IC weights by input name."""
        return dict(zip(self._names, self._ic_combiner().weights, strict=True))

    @property
    def ics(self) -> dict[str, float]:
        """Current exponentially weighted rank ICs by input name."""
        return dict(zip(self._names, self._ic_combiner().ics, strict=True))

    def _ic_combiner(self) -> OnlineICCombiner:
        if self._ic is None:
            raise ValueError("the IC-weighted method needs input names: ScoreCombiner(names=[...])")
        return self._ic


class MarketMakingHFTIntegration:
    """Market-making scores from the confluence component (and the inventory when known)."""

    @staticmethod
    def calculate_making_scores(
        component: ConfluenceComponent, position: float = 0.0, max_position: float = 0.0
    ) -> dict[str, float]:
        """Returns inventory_bias, spread_adjustment, size_multiplier, price_skew and
        activity_level. With no position (or no max_position) these are the note's formulas;
        otherwise inventory_bias adds the inventory impact -clip(position / max_position)."""
        if not (math.isfinite(position) and math.isfinite(max_position) and max_position >= 0):
            raise ValueError(
                f"position must be finite and max_position finite and >= 0, was {position}, "
                f"{max_position}"
            )
        impact = -max(-1.0, min(1.0, position / max_position)) if max_position > 0 else 0.0
        m = _hft.market_making_scores(component, impact)
        return {
            "inventory_bias": m.inventory_bias,
            "spread_adjustment": m.spread_adjustment,
            "size_multiplier": m.size_multiplier,
            "price_skew": m.price_skew,
            "activity_level": m.activity_level,
        }


class RiskAdjustedConfluenceHFT:
    """The note's risk-adjusted opportunity, with missing liquidity flagged instead of zeroing
    the opportunity silently."""

    def __init__(self, config: PortfolioConfig | None = None) -> None:
        self._config = config or PortfolioConfig()
        self._config.validate()

    def calculate_risk_adjusted_opportunity(
        self,
        component: ConfluenceComponent,
        volatility: float,
        liquidity: float,
        correlation: float = 0.0,
    ) -> dict[str, Any]:
        """Returns risk_adjusted_opportunity, base_opportunity, risk_adjustments and flags."""
        r = _hft.risk_adjusted_opportunity(
            component.signal_strength,
            component.reliability,
            volatility,
            liquidity,
            correlation,
            self._config,
        )
        return {
            "risk_adjusted_opportunity": r.risk_adjusted_opportunity,
            "base_opportunity": r.base_opportunity,
            "risk_adjustments": {
                "volatility_penalty": r.volatility_penalty,
                "liquidity_bonus": r.liquidity_bonus,
                "correlation_penalty": r.correlation_penalty,
            },
            "flags": flag_names(r.flags),
        }


class PortfolioHFTScoring:
    """Per-symbol rank score, risk-adjusted score, execution priority and position multiplier,
    kept ranked across the universe on every update; the portfolio correlation is an
    exponentially weighted covariance of the returns given to ``update_returns``."""

    def __init__(self, universe: Sequence[str], config: PortfolioConfig | None = None) -> None:
        if len(set(universe)) != len(universe) or not universe:
            raise ValueError(f"universe must be non-empty and without duplicates, was {universe}")
        self.universe = list(universe)
        self._ids = {s: i for i, s in enumerate(self.universe)}
        self._core = _hft.PortfolioScorer(len(self.universe), config or PortfolioConfig())

    def update(
        self,
        symbol: str,
        component: ConfluenceComponent,
        volatility: float = math.nan,
        liquidity: float = math.nan,
    ) -> None:
        """Re-scores one symbol and moves it to its place in the ranking."""
        self._core.update(self._id(symbol), component, volatility, liquidity)

    def update_returns(self, returns: Mapping[str, float]) -> None:
        """Adds one bar of returns (one per symbol of the universe)."""
        missing = [s for s in self.universe if s not in returns]
        if missing:
            raise KeyError(f"update_returns needs a return for every symbol, missing {missing}")
        self._core.update_returns(np.array([returns[s] for s in self.universe], dtype=np.float64))

    @staticmethod
    def calculate_rank_score(component: ConfluenceComponent) -> float:
        """Returns 0.4 |directional_bias| + 0.4 reliability + 0.2 |momentum|."""
        return (
            0.4 * abs(component.directional_bias)
            + 0.4 * component.reliability
            + 0.2 * abs(component.momentum)
        )

    def get_portfolio_correlation(self, symbol: str) -> float:
        """Returns the symbol's correlation with the equal-weight basket of the others."""
        return float(self._core.portfolio_correlation(self._id(symbol)))

    def rank_opportunities(self) -> list[str]:
        """Returns the symbols, best opportunity first."""
        return [self.universe[i] for i in self._core.ranking]

    def score_portfolio_opportunities(self) -> dict[str, dict[str, Any]]:
        """Returns {symbol: scores}, in ranking order (best first)."""
        out: dict[str, dict[str, Any]] = {}
        for i in self._core.ranking:
            o = self._core.opportunity(i)
            out[self.universe[i]] = {
                "rank": o.rank,
                "rank_score": o.rank_score,
                "risk_adjusted_score": o.risk_adjusted_score,
                "execution_priority": o.execution_priority,
                "position_sizing_multiplier": o.position_multiplier,
                "base_opportunity": o.base_opportunity,
                "correlation": o.correlation,
                "scored": o.scored,
                "flags": flag_names(o.flags),
            }
        return out

    def _id(self, symbol: str) -> int:
        try:
            return self._ids[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r} (universe: {self.universe})") from None


class ExecutionAlgorithmConfluence:
    """Execution strategy from the confluence component: the note's thresholds, with the time
    horizon and price limit it left undefined (``confluex.trading.algos``, where the
    schedulers that trade the strategy live; docs/execution_algorithms.md)."""

    @staticmethod
    def determine_execution_strategy(
        order: Mapping[str, Any], component: ConfluenceComponent | Mapping[str, float]
    ) -> dict[str, Any]:
        """Returns algorithm, urgency, participation_rate, time_horizon_s, price_limit_bps,
        price_limit and side (see ``trading.algos.ExecutionAlgorithmConfluence``)."""
        from ..trading.algos import ExecutionAlgorithmConfluence as _Selector

        return _Selector().determine_execution_strategy(order, component)


class StreamingConfluenceHFT:
    """Streaming recalculation policy and update processing.

    ``should_recalculate`` always recalculates on orderbook updates and at most once per
    interval (100 ms default, per symbol) on trades and on quotes; the last-update time is
    maintained. ``process_market_update`` calls the injected ``calculate`` callable when the
    policy says so and reports ``update_latency_ns`` = clock_ns() - update timestamp, both in
    ns (the note subtracted milliseconds from seconds).
    """

    def __init__(
        self,
        config: StreamingConfig | None = None,
        calculate: Callable[[str], Any] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._policy = _hft.StreamingPolicy(config or StreamingConfig())
        self._ids: dict[str, int] = {}
        self._calculate = calculate
        self._clock_ns = clock_ns
        self.current_scores: dict[str, Any] = {}

    def add_symbol(self, symbol: str) -> None:
        """Registers a symbol (updates for unknown symbols raise KeyError)."""
        if symbol not in self._ids:
            self._ids[symbol] = self._policy.add_symbol()

    def should_recalculate(self, symbol: str, update_type: str, ts_ns: int) -> bool:
        """Returns whether this update triggers a recalculation (and records it if so)."""
        return bool(
            self._policy.should_recalculate(self._id(symbol), _update_type(update_type), ts_ns)
        )

    def last_update_ns(self, symbol: str) -> int:
        """Returns the time of the symbol's last recalculation (ns)."""
        return int(self._policy.last_update_ns(self._id(symbol)))

    def counters(self, symbol: str) -> dict[str, tuple[int, int]]:
        """Returns {update type: (seen, recalculated)}."""
        return dict(self._policy.counters(self._id(symbol)))

    def process_market_update(self, update: Mapping[str, Any]) -> dict[str, Any] | None:
        """Processes {'type', 'symbol', 'timestamp' (ns)}; returns the new scores or None."""
        symbol = update["symbol"]
        ts_ns = int(update["timestamp"])
        if not self.should_recalculate(symbol, update["type"], ts_ns):
            return None
        if self._calculate is None:
            raise ValueError("StreamingConfluenceHFT needs a calculate callable to score updates")
        scores = self._calculate(symbol)
        self.current_scores[symbol] = scores
        return {
            "symbol": symbol,
            "scores": scores,
            "timestamp": ts_ns,
            "update_latency_ns": self._clock_ns() - ts_ns,
        }

    def _id(self, symbol: str) -> int:
        try:
            return self._ids[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}: call add_symbol first") from None


def _update_type(name: str) -> UpdateType:
    try:
        return {
            "trade": UpdateType.trade,
            "orderbook": UpdateType.orderbook,
            "quote": UpdateType.quote,
        }[name]
    except KeyError:
        raise ValueError(
            f"update type must be 'trade', 'orderbook' or 'quote', was {name!r}"
        ) from None


def online_ic_run(
    ts_ns: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    mids: npt.NDArray[np.float64],
    config: OnlineICConfig | None = None,
) -> tuple[npt.NDArray[np.float64], OnlineICCombiner]:
    """Runs the online IC-weighted combiner over a series (each row combined with the weights
    learned from earlier rows only); returns the combined series and the combiner."""
    cfg = config or OnlineICConfig()
    cfg.n_inputs = int(scores.shape[1])
    comb = OnlineICCombiner(cfg)
    out = comb.run(
        np.ascontiguousarray(ts_ns, dtype=np.int64),
        np.ascontiguousarray(scores, dtype=np.float64),
        np.ascontiguousarray(mids, dtype=np.float64),
    )
    return out, comb


__all__ = [
    "FLAGS",
    "TIMEFRAMES",
    "TIMEFRAME_WEIGHTS",
    "CompositeScore",
    "ConfluenceComponent",
    "ConfluenceInputs",
    "EngineInputsConfig",
    "ExecutionAlgorithmConfluence",
    "HFTScoringEngine",
    "HftInputs",
    "HftScoringConfig",
    "MarketMakingHFTIntegration",
    "MultiTimeframeConfig",
    "MultiTimeframeHFTScore",
    "NormalizerConfig",
    "OnlineICCombiner",
    "OnlineICConfig",
    "PortfolioConfig",
    "PortfolioHFTScoring",
    "RiskAdjustedConfluenceHFT",
    "ScoreCombiner",
    "ScoreNormalizer",
    "StreamingConfig",
    "StreamingConfluenceHFT",
    "TimeframeScore",
    "UpdateType",
    "apply_ultra_fast_config",
    "component_dict",
    "flag_names",
    "hft_ultra_fast_config",
    "inputs_from_engine",
    "online_ic_run",
    "streaming_config_ultra_fast",
]


def __dir__() -> list[str]:
    return __all__
