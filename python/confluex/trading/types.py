"""Value types shared by the trading layer: score updates in, order intents out.

Everything here is immutable: an update or an intent, once made, is never changed.

The build compiles this module with Cython (see ``types.pxd``): ``ScoreUpdate``,
``TradeParameters`` and ``OrderIntent`` then become extension types with typed, read-only
fields, about ten times cheaper to make than a frozen dataclass. They keep the dataclass
surface (``dataclasses.fields``/``replace``/``asdict``, ``==``, ``hash``, ``repr``, pickling);
a compiled instance rejects assignment with AttributeError and converts float fields to
``float``. Cython's dataclass has no ``slots`` option, so those three are declared without it.
A field added to one of them goes into ``types.pxd`` too (the build stops and says so:
"C attributes cannot be added in implementation part of extension type").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "OrderIntent",
    "RejectReason",
    "Rejection",
    "ScoreUpdate",
    "Side",
    "Signal",
    "TradeParameters",
]


class Signal(enum.Enum):
    """Direction classified from a score against the single threshold source."""

    LONG = "LONG"
    SHORT = "SHORT"
    NEUTRAL = "NEUTRAL"


class Side(enum.Enum):
    """Order side, as ccxt spells it."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class ScoreUpdate:
    """One engine score for one symbol, as the MarketMonitor consumes it.

    ``score`` is the quality-adjusted 0-100 confluence score (thresholds apply to it),
    ``score_raw`` the weighted mean before quality adjustment, ``confidence`` the §2.6
    directional confidence (0-1), ``reliability`` the data completeness (0-1), ``price``
    the mid price in quote currency. ``symbol`` is the ccxt unified symbol ("BTC/USDT").
    """

    symbol: str
    ts_ns: int
    score: float
    score_raw: float
    confidence: float
    reliability: float
    price: float


@dataclass(frozen=True)
class TradeParameters:
    """MarketMonitor trade parameters for one signal (reference-system §5.2, fixed)."""

    symbol: str
    signal: Signal
    score: float
    confidence: float
    reliability: float
    entry_price: float
    stop_loss: float
    take_profit: float
    risk_reward: float
    risk_pct: float
    risk_amount: float
    quote_size: float


@dataclass(frozen=True)
class OrderIntent:
    """A sized, not yet sent, order decision.

    ``quote_size`` is the notional in quote currency; conversion to a base amount with the
    market's precision and limits happens at execution, where a size that rounds to zero or
    falls under the venue minimum is rejected with a reason.
    """

    symbol: str
    side: Side
    quote_size: float
    reference_price: float
    stop_loss: float | None
    take_profit: float | None
    trailing_stop_pct: float | None
    score: float
    ts_ns: int
    manager: str
    reason: str


class RejectReason(enum.Enum):
    """Why an update did not become a signal, or an intent not an order (the value is the
    stable text). The first group is the decision layer's (MarketMonitor, sizing), the second
    the execution side's (RiskManager, Executor, order routing)."""

    NEUTRAL_BAND = "neutral band"
    LOW_RELIABILITY = "reliability"
    HYSTERESIS = "hysteresis"
    COOLDOWN = "cooldown"
    INVALID_PRICE = "invalid price"
    DIRECTION_CONFLICT = "direction conflict"
    SPOT_SHORT = "spot markets cannot short"
    ZERO_SIZE = "zero size"

    INVALID_ORDER = "invalid order"
    BELOW_MINIMUM = "below venue minimum"
    UNKNOWN_MARKET = "unknown market"
    RISK_LIMIT = "risk limit"
    HALTED = "trading halted"
    POSITION_OPEN = "position already open"
    NOT_RECONCILED = "not reconciled"
    ORDER_FAILED = "order failed"
    ORDER_STATE_UNKNOWN = "order state unknown"


@dataclass(frozen=True, slots=True)
class Rejection:
    """No signal, no order, or an order not sent, and why (safe to log and publish).

    ``reason`` is machine-readable; ``detail`` is human-readable and may be empty; ``symbol``
    is the market concerned, empty where the caller already knows it (the monitor and the
    sizing managers answer about the update they were given).
    """

    reason: RejectReason
    detail: str = ""
    symbol: str = ""
