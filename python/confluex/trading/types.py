"""Value types shared by the trading layer: score updates in, order intents out.

Everything here is immutable: an update or an intent, once made, is never changed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["OrderIntent", "ScoreUpdate", "Side", "Signal", "TradeParameters"]


class Signal(enum.Enum):
    """Direction classified from a score against the single threshold source."""

    LONG = "LONG"
    SHORT = "SHORT"
    NEUTRAL = "NEUTRAL"


class Side(enum.Enum):
    """Order side, as ccxt spells it."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
