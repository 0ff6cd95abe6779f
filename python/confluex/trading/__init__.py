"""Trading layer: validated config, signal decision (MarketMonitor) and position sizing.

Pure Python: score updates from the engine come in as :class:`ScoreUpdate`, and sized,
not-yet-sent orders go out as :class:`OrderIntent` (or a :class:`Rejection` with a reason).
"""

from __future__ import annotations

from .config import (
    ComponentWeights,
    ConfigError,
    ConfluenceConfig,
    Credentials,
    ExchangeConfig,
    ExecutionConfig,
    ExecutorConfig,
    MarketType,
    MonitorConfig,
    PositionManagerConfig,
    RiskConfig,
    ScalingThreshold,
    Thresholds,
    TradingConfig,
    available_presets,
    load_config,
)
from .monitor import MarketMonitor, MonitorCounters, Rejection, RejectReason
from .sizing import ConfluencePositionSizing, ExecutorSizing, SizingManager
from .types import OrderIntent, ScoreUpdate, Side, Signal, TradeParameters

__all__ = [
    "ComponentWeights",
    "ConfigError",
    "ConfluenceConfig",
    "ConfluencePositionSizing",
    "Credentials",
    "ExchangeConfig",
    "ExecutionConfig",
    "ExecutorConfig",
    "ExecutorSizing",
    "MarketMonitor",
    "MarketType",
    "MonitorConfig",
    "MonitorCounters",
    "OrderIntent",
    "PositionManagerConfig",
    "RejectReason",
    "Rejection",
    "RiskConfig",
    "ScalingThreshold",
    "ScoreUpdate",
    "Side",
    "Signal",
    "SizingManager",
    "Thresholds",
    "TradeParameters",
    "TradingConfig",
    "available_presets",
    "load_config",
]
