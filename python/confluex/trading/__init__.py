"""Trading layer: validated config, signal decision (MarketMonitor) and position sizing,
ccxt execution, the paper exchange, risk limits and WebSocket trade alerts.

Pure Python: score updates from the engine come in as :class:`ScoreUpdate`, and sized,
not-yet-sent orders go out as :class:`OrderIntent` (or a :class:`Rejection` with a reason).
The execution side (:class:`Executor`, :class:`PaperExchange`, :class:`RiskManager`,
:class:`AlertServer` and their companions) is imported on first use, so importing the
decision layer does not load ccxt or websockets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import (
    ComponentWeights,
    ConfigError,
    ConfluenceConfig,
    Credentials,
    ExchangeConfig,
    ExecutionConfig,
    ExecutorConfig,
    MarketType,
    MMConfig,
    MonitorConfig,
    PositionManagerConfig,
    RiskConfig,
    ScalingThreshold,
    Thresholds,
    TradingConfig,
    available_presets,
    load_config,
)
from .monitor import MarketMonitor, MonitorCounters
from .sizing import ConfluencePositionSizing, ExecutorSizing, SizingManager
from .types import OrderIntent, Rejection, RejectReason, ScoreUpdate, Side, Signal, TradeParameters

if TYPE_CHECKING:
    from .alerts import AlertServer
    from .execution import ExecutionSettings, Executor, FillEvent
    from .paper_venue import PaperExchange, PaperMarket
    from .risk import RiskLimits, RiskManager
    from .store import OrderJournal

# Name -> submodule of the lazily imported execution side.
_LAZY = {
    "AlertServer": "alerts",
    "ExecutionSettings": "execution",
    "Executor": "execution",
    "FillEvent": "execution",
    "OrderJournal": "store",
    "PaperExchange": "paper_venue",
    "PaperMarket": "paper_venue",
    "RiskLimits": "risk",
    "RiskManager": "risk",
}

__all__ = [
    "AlertServer",
    "ComponentWeights",
    "ConfigError",
    "ConfluenceConfig",
    "ConfluencePositionSizing",
    "Credentials",
    "ExchangeConfig",
    "ExecutionConfig",
    "ExecutionSettings",
    "Executor",
    "ExecutorConfig",
    "ExecutorSizing",
    "FillEvent",
    "MMConfig",
    "MarketMonitor",
    "MarketType",
    "MonitorConfig",
    "MonitorCounters",
    "OrderIntent",
    "OrderJournal",
    "PaperExchange",
    "PaperMarket",
    "PositionManagerConfig",
    "RejectReason",
    "Rejection",
    "RiskConfig",
    "RiskLimits",
    "RiskManager",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
