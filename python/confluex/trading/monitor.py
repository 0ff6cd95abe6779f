"""MarketMonitor: score updates in, signals with risk-based trade parameters out.

The monitor classifies each :class:`ScoreUpdate` against the single threshold source
(``confluence.thresholds``), gates it (reliability, hysteresis, per-symbol cooldown) and, for
a signal that passes, returns :class:`TradeParameters` per reference-system §5.2 with the
short-side fixes. Anything that does not become a signal comes back as a :class:`Rejection`
with a machine-readable reason, and is counted.

Time is the update's own ``ts_ns``: the monitor never reads a clock, so replays and live
feeds behave the same.
"""

from __future__ import annotations

import math

from .config import MonitorConfig, Thresholds, TradingConfig
from .types import Rejection, RejectReason, ScoreUpdate, Signal, TradeParameters

__all__ = ["MarketMonitor", "MonitorCounters"]


# Shared instances for the hot path: a rejection without detail allocates nothing.
_NEUTRAL = Rejection(RejectReason.NEUTRAL_BAND)
_RELIABILITY = Rejection(RejectReason.LOW_RELIABILITY)
_HYSTERESIS = Rejection(RejectReason.HYSTERESIS)
_COOLDOWN = Rejection(RejectReason.COOLDOWN)
_PRICE = Rejection(RejectReason.INVALID_PRICE)


class MonitorCounters:
    """What the monitor did with the updates it saw; every drop has its counter."""

    __slots__ = (
        "cooldown",
        "hysteresis",
        "invalid_price",
        "low_reliability",
        "neutral",
        "signals",
        "updates",
    )

    def __init__(self) -> None:
        self.updates = 0
        self.signals = 0
        self.neutral = 0
        self.low_reliability = 0
        self.hysteresis = 0
        self.cooldown = 0
        self.invalid_price = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {
            name: getattr(self, name)
            for name in (
                "updates",
                "signals",
                "neutral",
                "low_reliability",
                "hysteresis",
                "cooldown",
                "invalid_price",
            )
        }

    @property
    def dropped(self) -> int:
        """Directional updates that did not become a signal (neutral ones not included)."""
        return self.low_reliability + self.hysteresis + self.cooldown + self.invalid_price

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.as_dict().items())
        return f"MonitorCounters({fields})"


class _SymbolState:
    __slots__ = ("last_signal_ns", "long_armed", "short_armed")

    def __init__(self) -> None:
        self.long_armed = True
        self.short_armed = True
        self.last_signal_ns: int | None = None


class MarketMonitor:
    """Per-symbol signal decision and risk-based trade parameters.

    Decision for one update, in order:

    1. classify: ``score >= long`` is LONG, ``score <= short`` is SHORT, otherwise NEUTRAL
       (rejected as ``neutral band``);
    2. a non-finite or non-positive price is rejected (``invalid price``);
    3. ``reliability < min_reliability`` is rejected (``reliability``);
    4. hysteresis (``neutral_buffer``): once a LONG has fired for a symbol, the next LONG
       fires only after some update's score has fallen strictly below
       ``long - neutral_buffer`` (SHORT: risen strictly above ``short + neutral_buffer``).
       Until then the direction is rejected (``hysteresis``). Every update re-arms, whatever
       its reliability; only emitted signals disarm;
    5. per-symbol cooldown: no signal within ``cooldown_s`` of the symbol's last emitted
       signal, in either direction, measured on ``ts_ns`` (``cooldown``).

    A score outside [0, 100] or a reliability outside [0, 1] (NaN included) is a broken
    producer and raises ValueError.
    """

    __slots__ = (
        "_balance",
        "_cooldown_ns",
        "_counters",
        "_default_risk",
        "_long",
        "_long_stop",
        "_max_risk",
        "_min_rel",
        "_min_risk",
        "_rearm_long",
        "_rearm_short",
        "_rr",
        "_short",
        "_short_stop",
        "_states",
        "config",
        "thresholds",
    )

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        config: MonitorConfig | None = None,
        *,
        account_balance: float | None = None,
    ) -> None:
        self.thresholds = thresholds if thresholds is not None else Thresholds()
        self.config = config if config is not None else MonitorConfig()
        t, c = self.thresholds, self.config
        self._long = t.long
        self._short = t.short
        self._rearm_long = t.long - t.neutral_buffer
        self._rearm_short = t.short + t.neutral_buffer
        self._min_rel = c.min_reliability
        self._cooldown_ns = round(c.cooldown_s * 1e9)
        self._default_risk = c.default_risk_pct
        self._min_risk = c.min_risk_pct
        self._max_risk = c.max_risk_pct
        self._long_stop = c.long_stop_pct / 100.0
        self._short_stop = c.short_stop_pct / 100.0
        self._rr = c.risk_reward
        self._balance = c.account_balance
        if account_balance is not None:
            self.set_balance(account_balance)
        self._states: dict[str, _SymbolState] = {}
        self._counters = MonitorCounters()

    @classmethod
    def from_config(
        cls, config: TradingConfig, *, account_balance: float | None = None
    ) -> MarketMonitor:
        """A monitor using ``confluence.thresholds`` and ``[monitor]`` of ``config``."""
        return cls(config.confluence.thresholds, config.monitor, account_balance=account_balance)

    # ---------------------------------------------------------------------------------------
    @property
    def account_balance(self) -> float:
        """Balance in quote currency that risk amounts are a percentage of."""
        return self._balance

    def set_balance(self, balance: float) -> None:
        """Sets the balance risk amounts are computed from (quote currency, > 0)."""
        if not (balance > 0.0 and math.isfinite(balance)):
            raise ValueError(f"account balance must be a finite number > 0, was {balance!r}")
        self._balance = float(balance)

    @property
    def counters(self) -> MonitorCounters:
        """Live counters (updates, signals, and one per drop reason)."""
        return self._counters

    def reset(self, symbol: str | None = None) -> None:
        """Forgets the hysteresis and cooldown state of ``symbol`` (all symbols if None)."""
        if symbol is None:
            self._states.clear()
        else:
            self._states.pop(symbol, None)

    def classify(self, score: float) -> Signal:
        """The direction of ``score`` against the thresholds, with no state or gating."""
        if score >= self._long:
            return Signal.LONG
        if score <= self._short:
            return Signal.SHORT
        return Signal.NEUTRAL

    # ---------------------------------------------------------------------------------------
    def on_score(self, update: ScoreUpdate) -> TradeParameters | Rejection:
        """Decides on one update: trade parameters for a signal, or a counted Rejection."""
        counters = self._counters
        counters.updates += 1
        score = update.score
        reliability = update.reliability
        if not 0.0 <= score <= 100.0:
            raise ValueError(
                f"ScoreUpdate.score must be in [0, 100], was {score!r} ({update.symbol})"
            )
        if not 0.0 <= reliability <= 1.0:
            raise ValueError(
                f"ScoreUpdate.reliability must be in [0, 1], was {reliability!r} ({update.symbol})"
            )
        state = self._states.get(update.symbol)
        if state is None:
            state = self._states[update.symbol] = _SymbolState()
        if score < self._rearm_long:
            state.long_armed = True
        if score > self._rearm_short:
            state.short_armed = True

        if score >= self._long:
            is_long = True
            armed = state.long_armed
        elif score <= self._short:
            is_long = False
            armed = state.short_armed
        else:
            counters.neutral += 1
            return _NEUTRAL
        price = update.price
        if not 0.0 < price < math.inf:
            counters.invalid_price += 1
            return _PRICE
        if reliability < self._min_rel:
            counters.low_reliability += 1
            return _RELIABILITY
        if not armed:
            counters.hysteresis += 1
            return _HYSTERESIS
        ts = update.ts_ns
        last = state.last_signal_ns
        if last is not None and ts - last < self._cooldown_ns:
            counters.cooldown += 1
            return _COOLDOWN

        state.last_signal_ns = ts
        if is_long:
            state.long_armed = False
        else:
            state.short_armed = False
        counters.signals += 1
        return self._parameters(update.symbol, is_long, price, score, reliability)

    def trade_parameters(
        self, symbol: str, signal: Signal, price: float, score: float, reliability: float
    ) -> TradeParameters:
        """Reference §5.2 trade parameters for a LONG or SHORT, with no gating or state.

        confidence = min(|score - 50| / 50, 1); RR = risk_reward * (1 + |score - 50| / 100);
        risk% = clip(default * reliability, min, max); stop = price * (1 -/+ stop%);
        base size = risk_amount / |price - stop| and quote_size = base size * price;
        TP = price +/- RR * |price - stop|.
        """
        if signal is Signal.NEUTRAL:
            raise ValueError("trade parameters need a LONG or SHORT signal, was NEUTRAL")
        if not 0.0 < price < math.inf:
            raise ValueError(f"price must be a finite number > 0, was {price!r}")
        if not 0.0 <= score <= 100.0:
            raise ValueError(f"score must be in [0, 100], was {score!r}")
        if not 0.0 <= reliability <= 1.0:
            raise ValueError(f"reliability must be in [0, 1], was {reliability!r}")
        return self._parameters(symbol, signal is Signal.LONG, price, score, reliability)

    def _parameters(
        self, symbol: str, is_long: bool, price: float, score: float, reliability: float
    ) -> TradeParameters:
        strength = abs(score - 50.0)
        confidence = min(strength / 50.0, 1.0)
        risk_pct = self._default_risk * reliability
        if risk_pct < self._min_risk:
            risk_pct = self._min_risk
        elif risk_pct > self._max_risk:
            risk_pct = self._max_risk
        risk_amount = self._balance * risk_pct / 100.0
        rr = self._rr * (1.0 + strength / 100.0)
        if is_long:
            stop = price * (1.0 - self._long_stop)
            distance = price - stop
            take_profit = price + rr * distance
            signal = Signal.LONG
        else:
            stop = price * (1.0 + self._short_stop)
            distance = stop - price
            take_profit = price - rr * distance
            signal = Signal.SHORT
        # Positional, in field order: the compiled extension type parses keywords ~10x slower.
        return TradeParameters(
            symbol,
            signal,
            score,
            confidence,
            reliability,
            price,  # entry_price
            stop,  # stop_loss
            take_profit,
            rr,  # risk_reward
            risk_pct,
            risk_amount,
            risk_amount / distance * price,  # quote_size
        )
