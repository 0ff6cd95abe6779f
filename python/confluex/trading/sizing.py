"""The two confluence sizing managers of the reference system, with sizes in quote currency.

Both turn a :class:`ScoreUpdate` and the account balance into an :class:`OrderIntent`
(``quote_size`` is a notional in quote currency: the reference passed this amount as a base
quantity, turning 1000 USDT into a 1000 BTC order) or a :class:`Rejection` with a reason.

Shared rules, applied in this order:

1. a non-finite or non-positive price is rejected (``invalid price``);
2. the manager's own direction rule (see each class) gives BUY, SELL or a rejection;
3. the one ``position_manager.min_confluence_score`` gate: BUY needs ``score >= min``,
   SELL needs ``score <= 100 - min`` (``below min score``);
4. when trade parameters from the MarketMonitor are given, their direction must agree
   (``direction conflict``);
5. a SELL on a spot market is rejected (``spot markets cannot short``);
6. ``reliability < monitor.min_reliability`` is rejected (``reliability``);
7. ``pct = base + points_beyond_threshold * scale_factor``, capped at ``max_position_pct``;
   ``quote_size = balance * pct``; a zero balance is rejected (``zero size``).
"""

from __future__ import annotations

import math
from typing import ClassVar

from .config import MarketType, TradingConfig
from .monitor import Rejection, RejectReason
from .types import OrderIntent, ScoreUpdate, Side, Signal, TradeParameters

__all__ = ["ConfluencePositionSizing", "ExecutorSizing", "SizingManager"]

_PRICE = Rejection(RejectReason.INVALID_PRICE)
_RELIABILITY = Rejection(RejectReason.LOW_RELIABILITY)
_ZERO = Rejection(RejectReason.ZERO_SIZE, "balance is 0")


class SizingManager:
    """Common machinery of the two managers; subclasses give the direction rule.

    ``long_threshold``/``short_threshold`` are where scaling starts: each point beyond them
    adds ``scale_factor`` to ``base_position_pct``.
    """

    name: ClassVar[str] = "sizing"

    __slots__ = (
        "_base",
        "_long_thr",
        "_max",
        "_min_long",
        "_min_rel",
        "_min_short",
        "_scale",
        "_short_thr",
        "market_type",
        "trailing_stop_pct",
    )

    def __init__(
        self,
        *,
        long_threshold: float,
        short_threshold: float,
        base_position_pct: float = 0.03,
        scale_factor: float = 0.01,
        max_position_pct: float = 0.10,
        min_confluence_score: float = 70.0,
        min_reliability: float = 0.0,
        market_type: MarketType = "swap",
        trailing_stop_pct: float | None = None,
    ) -> None:
        if not 0.0 <= short_threshold < long_threshold <= 100.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= short < long <= 100, was "
                f"long={long_threshold!r}, short={short_threshold!r}"
            )
        if not 0.0 < base_position_pct <= max_position_pct <= 1.0:
            raise ValueError(
                f"position fractions must satisfy 0 < base <= max <= 1, was "
                f"base={base_position_pct!r}, max={max_position_pct!r}"
            )
        if not 0.0 <= scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be in [0, 1], was {scale_factor!r}")
        if not 50.0 < min_confluence_score <= 100.0:
            raise ValueError(
                f"min_confluence_score must be in (50, 100], was {min_confluence_score!r}"
            )
        if not 0.0 <= min_reliability <= 1.0:
            raise ValueError(f"min_reliability must be in [0, 1], was {min_reliability!r}")
        if market_type not in ("spot", "swap"):
            raise ValueError(f"market_type must be 'spot' or 'swap', was {market_type!r}")
        if trailing_stop_pct is not None and not 0.0 < trailing_stop_pct < 1.0:
            raise ValueError(f"trailing_stop_pct must be in (0, 1), was {trailing_stop_pct!r}")
        self._long_thr = float(long_threshold)
        self._short_thr = float(short_threshold)
        self._base = float(base_position_pct)
        self._scale = float(scale_factor)
        self._max = float(max_position_pct)
        self._min_long = float(min_confluence_score)
        self._min_short = 100.0 - float(min_confluence_score)
        self._min_rel = float(min_reliability)
        self.market_type: MarketType = market_type
        self.trailing_stop_pct = trailing_stop_pct

    # ---------------------------------------------------------------------------------------
    def _direction(self, score: float) -> Side | Rejection:  # pragma: no cover - abstract
        raise NotImplementedError

    def position_pct(self, side: Side, score: float) -> float:
        """Fraction of the balance for ``side`` at ``score``, ignoring every gate.

        ``base + (score - long_threshold) * scale`` for a BUY beyond the long threshold,
        ``base + (short_threshold - score) * scale`` for a SELL beyond the short one, ``base``
        otherwise; capped at ``max_position_pct``.
        """
        if side is Side.BUY:
            beyond = score - self._long_thr
        else:
            beyond = self._short_thr - score
        pct = self._base + beyond * self._scale if beyond > 0.0 else self._base
        return pct if pct < self._max else self._max

    def decide(
        self, update: ScoreUpdate, balance: float, params: TradeParameters | None = None
    ) -> OrderIntent | Rejection:
        """Sizes ``update`` against ``balance`` (quote currency, >= 0): an intent or why not.

        ``params`` are the MarketMonitor's trade parameters for the same update, if any: their
        stop-loss and take-profit are carried into the intent.
        """
        if not (balance >= 0.0 and balance < math.inf):
            raise ValueError(f"balance must be a finite number >= 0, was {balance!r}")
        price = update.price
        if not 0.0 < price < math.inf:
            return _PRICE
        score = update.score
        side = self._direction(score)
        if isinstance(side, Rejection):
            return side
        if side is Side.BUY:
            if score < self._min_long:
                return Rejection(
                    RejectReason.BELOW_MIN_SCORE,
                    f"long needs score >= {self._min_long:g}, was {score:g}",
                )
            wanted = Signal.LONG
        else:
            if score > self._min_short:
                return Rejection(
                    RejectReason.BELOW_MIN_SCORE,
                    f"short needs score <= {self._min_short:g}, was {score:g}",
                )
            if self.market_type == "spot":
                return Rejection(RejectReason.SPOT_SHORT, f"{update.symbol} is a spot market")
            wanted = Signal.SHORT
        if params is not None and params.signal is not wanted:
            return Rejection(
                RejectReason.DIRECTION_CONFLICT,
                f"monitor says {params.signal.value}, {self.name} says "
                f"{wanted.value} at score {score:g}",
            )
        if update.reliability < self._min_rel:
            return _RELIABILITY
        if balance == 0.0:
            return _ZERO
        pct = self.position_pct(side, score)
        return OrderIntent(
            symbol=update.symbol,
            side=side,
            quote_size=balance * pct,
            reference_price=price,
            stop_loss=None if params is None else params.stop_loss,
            take_profit=None if params is None else params.take_profit,
            trailing_stop_pct=self.trailing_stop_pct,
            score=score,
            ts_ns=update.ts_ns,
            manager=self.name,
            reason=f"{wanted.value} score {score:g}: {pct * 100:.4g}% of balance",
        )


class ExecutorSizing(SizingManager):
    """TradeExecutor sizing (the sizing review's version, ``643691c``), in quote currency.

    BUY when ``score >= executor.buy_threshold`` (68), SELL when ``score <=
    executor.sell_threshold`` (35), otherwise ``neutral band``. Base 3 % at exactly the
    threshold, + ``scale_factor`` (1 %) per point beyond it, capped at 10 %. The min-score gate
    applies on top, so with the default ``min_confluence_score`` 70 the executor's effective
    entries are 70 / 30.
    """

    name: ClassVar[str] = "executor"
    __slots__ = ()

    @classmethod
    def from_config(cls, config: TradingConfig, market_type: MarketType) -> ExecutorSizing:
        """The executor sizing of ``config`` for a ``market_type`` venue."""
        pm = config.position_manager
        return cls(
            long_threshold=config.executor.buy_threshold,
            short_threshold=config.executor.sell_threshold,
            base_position_pct=pm.base_position_pct,
            scale_factor=pm.scale_factor,
            max_position_pct=pm.max_position_pct,
            min_confluence_score=pm.min_confluence_score,
            min_reliability=config.monitor.min_reliability,
            market_type=market_type,
        )

    def _direction(self, score: float) -> Side | Rejection:
        if score >= self._long_thr:
            return Side.BUY
        if score <= self._short_thr:
            return Side.SELL
        return Rejection(
            RejectReason.NEUTRAL_BAND, f"{self._short_thr:g} < score {score:g} < {self._long_thr:g}"
        )


class ConfluencePositionSizing(SizingManager):
    """ConfluenceBasedPositionManager sizing, in quote currency.

    BUY when ``score >= min_confluence_score`` (70), SELL when ``score <= 100 - min`` (30),
    otherwise ``below min score``. Scaling starts at ``position_manager.scaling_threshold``
    (69 / 31 by default, the review's values; the reference code used 75 / 25). Intents carry
    ``trailing_stop_pct`` (2 %).
    """

    name: ClassVar[str] = "confluence"
    __slots__ = ()

    @classmethod
    def from_config(
        cls, config: TradingConfig, market_type: MarketType
    ) -> ConfluencePositionSizing:
        """The position-manager sizing of ``config`` for a ``market_type`` venue."""
        pm = config.position_manager
        return cls(
            long_threshold=pm.scaling_threshold.long,
            short_threshold=pm.scaling_threshold.short,
            base_position_pct=pm.base_position_pct,
            scale_factor=pm.scale_factor,
            max_position_pct=pm.max_position_pct,
            min_confluence_score=pm.min_confluence_score,
            min_reliability=config.monitor.min_reliability,
            market_type=market_type,
            trailing_stop_pct=pm.trailing_stop_pct,
        )

    def _direction(self, score: float) -> Side | Rejection:
        if score >= self._min_long:
            return Side.BUY
        if score <= self._min_short:
            return Side.SELL
        return Rejection(
            RejectReason.BELOW_MIN_SCORE,
            f"{self._min_short:g} < score {score:g} < {self._min_long:g}",
        )
