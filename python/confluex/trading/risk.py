"""Pre-trade risk limits, daily PnL from fills, and the kill switch state.

``RiskManager.check`` runs before every order the Executor sends and returns a
``Rejection`` with a reason, or None. Orders that only reduce exposure (exits, stops) pass
every check, the halt included, so a breached limit never traps a position; the kill switch
itself flattens through the Executor (``Executor.kill_switch``), which marks the manager
halted so that every further opening intent is rejected until ``reset()``.

Daily PnL is realised PnL minus fees from confirmed fills, bucketed by the UTC day of the
injected clock (milliseconds since the epoch); it restarts at 0 at each UTC midnight.

The order rate counts every order sent (``record_order``: exits and protection too, as a
venue counts them) over a sliding window of the same clock; once ``max_orders_per_window``
were sent within ``order_window_ms``, opening orders are rejected until the oldest leaves
the window (reducing orders still pass). The count keeps at most that many timestamps.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .types import Rejection, RejectReason

__all__ = ["RiskLimits", "RiskManager"]

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits checked before every opening order (quote currency amounts).

    ``max_active_positions`` counts symbols with a non-zero position (reference §6.4: 5).
    ``max_total_notional`` (None: no limit) caps the gross exposure, the sum over every symbol
    of its absolute notional with this order's included: without it the book can carry
    ``max_active_positions`` times ``max_symbol_notional``. ``daily_loss_limit`` is a
    positive amount: opening orders are rejected once today's realised PnL minus fees is at or
    below ``-daily_loss_limit``. ``max_orders_per_window`` (None: no limit) caps the orders
    sent within ``order_window_ms``.
    """

    max_active_positions: int = 5
    max_order_notional: float = 10_000.0
    max_symbol_notional: float = 20_000.0
    max_total_notional: float | None = None
    daily_loss_limit: float = 500.0
    max_orders_per_window: int | None = None
    order_window_ms: int = 10_000

    def __post_init__(self) -> None:
        if self.max_active_positions < 1:
            raise ValueError(f"max_active_positions must be >= 1, was {self.max_active_positions}")
        cap = self.max_orders_per_window
        if cap is not None and cap < 1:
            raise ValueError(f"max_orders_per_window must be >= 1, was {cap}")
        if self.order_window_ms < 1:
            raise ValueError(f"order_window_ms must be >= 1, was {self.order_window_ms}")
        for name in ("max_order_notional", "max_symbol_notional", "daily_loss_limit"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be > 0, was {value}")
        total = self.max_total_notional
        if total is not None and not total > 0:
            raise ValueError(f"max_total_notional must be > 0, was {total}")


class RiskManager:
    """Checks intents against ``RiskLimits``; tracks daily PnL and the halt flag."""

    def __init__(self, limits: RiskLimits, *, clock: Callable[[], int] | None = None) -> None:
        self.limits = limits
        self._clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self._day = self._today()
        self._daily_pnl = 0.0
        self._halted_reason: str | None = None
        # send times of the last max_orders_per_window orders: enough to tell whether that
        # many were sent within the window
        self._sent: deque[int] = deque(maxlen=limits.max_orders_per_window or 0)

    def __repr__(self) -> str:
        return (
            f"RiskManager(limits={self.limits!r}, daily_pnl={self.daily_pnl:.2f}, "
            f"halted={self.halted})"
        )

    def _today(self) -> int:
        return self._clock() // _DAY_MS

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day = day
            self._daily_pnl = 0.0

    @property
    def daily_pnl(self) -> float:
        """Today's (UTC, by the injected clock) realised PnL minus fees."""
        self._roll()
        return self._daily_pnl

    @property
    def halted(self) -> bool:
        """True after ``halt()`` until ``reset()``."""
        return self._halted_reason is not None

    def record_fill(self, realized_pnl: float, fee: float) -> None:
        """Book one confirmed fill's realised PnL and fee (quote currency) into today."""
        self._roll()
        self._daily_pnl += realized_pnl - fee

    def record_order(self) -> None:
        """Count one order sent now (any order: the window's limit counts them all)."""
        if self.limits.max_orders_per_window is not None:
            self._sent.append(self._clock())

    def orders_in_window(self) -> int:
        """Orders sent within the last ``order_window_ms`` (at most ``max_orders_per_window``)."""
        horizon = self._clock() - self.limits.order_window_ms
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
        return len(sent)

    def daily_loss_breached(self) -> bool:
        """Today's PnL is at or below the negative daily loss limit."""
        self._roll()  # as daily_pnl does, without a property lookup on every order's check
        return self._daily_pnl <= -self.limits.daily_loss_limit

    def halt(self, reason: str) -> None:
        """Reject every further opening intent until ``reset()`` (the kill switch sets this)."""
        self._halted_reason = reason

    def reset(self) -> None:
        """Lift the halt (an operator decision; daily PnL is kept)."""
        self._halted_reason = None

    def check(
        self,
        symbol: str,
        notional: float,
        *,
        reduces: bool,
        exposures: Mapping[str, float],
        sending: bool = True,
    ) -> Rejection | None:
        """Check one order of ``notional`` (quote) on ``symbol``.

        ``exposures`` maps each symbol with an open position to its absolute notional (a
        caller with resting orders passes each symbol's worst case instead, as if they filled:
        the market maker does, so a flat symbol with live quotes counts as active). Their sum
        plus ``notional`` is the gross exposure ``max_total_notional`` caps.
        ``reduces`` marks an order that only reduces an existing position: it always passes
        (flattening must work while halted). ``sending=False`` re-checks an order already
        resting at the venue: the order rate does not apply to it.
        """
        if reduces:
            return None
        if self._halted_reason is not None:
            return Rejection(RejectReason.HALTED, f"trading halted: {self._halted_reason}", symbol)
        if not notional > 0:
            return Rejection(
                RejectReason.INVALID_ORDER, f"order notional must be > 0, was {notional}", symbol
            )
        lim = self.limits
        if notional > lim.max_order_notional:
            return Rejection(
                RejectReason.RISK_LIMIT,
                f"order notional {notional:.2f} exceeds max_order_notional "
                f"{lim.max_order_notional:.2f}",
                symbol,
            )
        current = exposures.get(symbol, 0.0)
        if current + notional > lim.max_symbol_notional:
            return Rejection(
                RejectReason.RISK_LIMIT,
                f"symbol notional {current + notional:.2f} would exceed max_symbol_notional "
                f"{lim.max_symbol_notional:.2f}",
                symbol,
            )
        cap_total = lim.max_total_notional
        if cap_total is not None:
            total = sum(exposures.values()) + notional
            if total > cap_total:
                return Rejection(
                    RejectReason.RISK_LIMIT,
                    f"total notional {total:.2f} would exceed max_total_notional {cap_total:.2f}",
                    symbol,
                )
        active = sum(1 for v in exposures.values() if v > 0)
        if current <= 0 and active >= lim.max_active_positions:
            return Rejection(
                RejectReason.RISK_LIMIT,
                f"{active} active positions, max_active_positions is {lim.max_active_positions}",
                symbol,
            )
        if self.daily_loss_breached():
            return Rejection(
                RejectReason.RISK_LIMIT,
                f"daily loss limit reached: pnl {self.daily_pnl:.2f} <= "
                f"-{lim.daily_loss_limit:.2f}",
                symbol,
            )
        cap = lim.max_orders_per_window
        if sending and cap is not None and self.orders_in_window() >= cap:
            return Rejection(
                RejectReason.RISK_LIMIT,
                f"{cap} orders sent in the last {lim.order_window_ms / 1000:g} s, "
                f"max_orders_per_window is {cap}",
                symbol,
            )
        return None
