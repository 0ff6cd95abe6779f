"""The two confluence sizing managers of the reference system, with sizes in quote currency.

Both turn a :class:`ScoreUpdate` and the account balance into an :class:`OrderIntent`
(``quote_size`` is a notional in quote currency: the reference passed this amount as a base
quantity, turning 1000 USDT into a 1000 BTC order) or a :class:`Rejection` with a reason.

Shared rules, applied in this order:

1. a non-finite or non-positive price is rejected (``invalid price``);
2. the entry rule of the one threshold source, ``confluence.thresholds`` (the same pair the
   engine's signals and the MarketMonitor use): BUY when ``score >= long``, SELL when
   ``score <= short``, otherwise ``neutral band``;
3. a SELL on a spot market is rejected (``spot markets cannot short``);
4. when trade parameters from the MarketMonitor are given, their direction must agree
   (``direction conflict``);
5. ``reliability < monitor.min_reliability`` is rejected (``reliability``);
6. ``pct = base + points_beyond_scaling_start * scale_factor``, capped at
   ``max_position_pct``; ``quote_size = balance * pct``; a zero balance is rejected
   (``zero size``).

The two managers differ only in where scaling starts and in the trailing stop (see each
class).
"""

from __future__ import annotations

import math
from typing import ClassVar

from .config import MarketType, TradingConfig
from .types import OrderIntent, Rejection, RejectReason, ScoreUpdate, Side, Signal, TradeParameters

__all__ = ["ConfluencePositionSizing", "ExecutorSizing", "SizingManager"]

_PRICE = Rejection(RejectReason.INVALID_PRICE)
_RELIABILITY = Rejection(RejectReason.LOW_RELIABILITY)
_ZERO = Rejection(RejectReason.ZERO_SIZE, "balance is 0")


class SizingManager:
    """Common machinery of the two managers; subclasses differ in how they are configured.

    ``long_threshold``/``short_threshold`` are the entry thresholds (``confluence.thresholds``
    in a config). ``scaling_threshold`` is ``(long, short)``: where scaling starts, each point
    beyond it adding ``scale_factor`` to ``base_position_pct``; None starts it at the entry
    thresholds.
    """

    name: ClassVar[str] = "sizing"

    __slots__ = (
        "_base",
        "_long_thr",
        "_max",
        "_min_rel",
        "_scale",
        "_scale_long",
        "_scale_short",
        "_short_thr",
        "market_type",
        "trailing_stop_pct",
    )

    def __init__(
        self,
        *,
        long_threshold: float,
        short_threshold: float,
        scaling_threshold: tuple[float, float] | None = None,
        base_position_pct: float = 0.03,
        scale_factor: float = 0.01,
        max_position_pct: float = 0.10,
        min_reliability: float = 0.0,
        market_type: MarketType = "swap",
        trailing_stop_pct: float | None = None,
    ) -> None:
        if not 0.0 <= short_threshold < long_threshold <= 100.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= short < long <= 100, was "
                f"long={long_threshold!r}, short={short_threshold!r}"
            )
        scale_long, scale_short = (
            scaling_threshold
            if scaling_threshold is not None
            else (long_threshold, short_threshold)
        )
        if not 0.0 <= scale_short < scale_long <= 100.0:
            raise ValueError(
                f"scaling thresholds must satisfy 0 <= short < long <= 100, was "
                f"long={scale_long!r}, short={scale_short!r}"
            )
        if not 0.0 < base_position_pct <= max_position_pct <= 1.0:
            raise ValueError(
                f"position fractions must satisfy 0 < base <= max <= 1, was "
                f"base={base_position_pct!r}, max={max_position_pct!r}"
            )
        if not 0.0 <= scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be in [0, 1], was {scale_factor!r}")
        if not 0.0 <= min_reliability <= 1.0:
            raise ValueError(f"min_reliability must be in [0, 1], was {min_reliability!r}")
        if market_type not in ("spot", "swap"):
            raise ValueError(f"market_type must be 'spot' or 'swap', was {market_type!r}")
        if trailing_stop_pct is not None and not 0.0 < trailing_stop_pct < 1.0:
            raise ValueError(f"trailing_stop_pct must be in (0, 1), was {trailing_stop_pct!r}")
        self._long_thr = float(long_threshold)
        self._short_thr = float(short_threshold)
        self._scale_long = float(scale_long)
        self._scale_short = float(scale_short)
        self._base = float(base_position_pct)
        self._scale = float(scale_factor)
        self._max = float(max_position_pct)
        self._min_rel = float(min_reliability)
        self.market_type: MarketType = market_type
        self.trailing_stop_pct = trailing_stop_pct

    # ---------------------------------------------------------------------------------------
    @property
    def thresholds(self) -> tuple[float, float]:
        """The entry thresholds ``(long, short)``."""
        return (self._long_thr, self._short_thr)

    def position_pct(self, side: Side, score: float) -> float:
        """Fraction of the balance for ``side`` at ``score``, ignoring every gate.

        ``base + (score - scaling_long) * scale`` for a BUY beyond the scaling start,
        ``base + (scaling_short - score) * scale`` for a SELL beyond it, ``base`` otherwise;
        capped at ``max_position_pct``.
        """
        if side is Side.BUY:
            beyond = score - self._scale_long
        else:
            beyond = self._scale_short - score
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
        if score >= self._long_thr:
            side, wanted = Side.BUY, Signal.LONG
        elif score <= self._short_thr:
            if self.market_type == "spot":
                return Rejection(RejectReason.SPOT_SHORT, f"{update.symbol} is a spot market")
            side, wanted = Side.SELL, Signal.SHORT
        else:
            return Rejection(
                RejectReason.NEUTRAL_BAND,
                f"{self._short_thr:g} < score {score:g} < {self._long_thr:g}",
            )
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
        # Positional, in field order: the compiled extension type parses keywords ~10x slower.
        return OrderIntent(
            update.symbol,
            side,
            balance * pct,  # quote_size
            price,  # reference_price
            None if params is None else params.stop_loss,
            None if params is None else params.take_profit,
            self.trailing_stop_pct,
            score,
            update.ts_ns,
            self.name,  # manager
            f"{wanted.value} score {score:g}: {pct * 100:.4g}% of balance",  # reason
        )


class ExecutorSizing(SizingManager):
    """TradeExecutor sizing (the sizing review's version, ``643691c``), in quote currency.

    Enters at ``confluence.thresholds`` (70 / 35 by default) and scales from there: base 3 %
    at exactly the threshold, + ``scale_factor`` (1 %) per point beyond it, capped at 10 %.
    Intents carry no trailing stop.
    """

    name: ClassVar[str] = "executor"
    __slots__ = ()

    @classmethod
    def from_config(cls, config: TradingConfig, market_type: MarketType) -> ExecutorSizing:
        """The executor sizing of ``config`` for a ``market_type`` venue."""
        pm, t = config.position_manager, config.confluence.thresholds
        return cls(
            long_threshold=t.long,
            short_threshold=t.short,
            base_position_pct=pm.base_position_pct,
            scale_factor=pm.scale_factor,
            max_position_pct=pm.max_position_pct,
            min_reliability=config.monitor.min_reliability,
            market_type=market_type,
        )


class ConfluencePositionSizing(SizingManager):
    """ConfluenceBasedPositionManager sizing, in quote currency.

    Enters at ``confluence.thresholds`` (70 / 35 by default). Scaling starts at
    ``position_manager.scaling_threshold`` (69 / 31 by default, the review's values; the
    reference code used 75 / 25). Intents carry ``trailing_stop_pct`` (2 %).
    """

    name: ClassVar[str] = "confluence"
    __slots__ = ()

    @classmethod
    def from_config(
        cls, config: TradingConfig, market_type: MarketType
    ) -> ConfluencePositionSizing:
        """The position-manager sizing of ``config`` for a ``market_type`` venue."""
        pm, t = config.position_manager, config.confluence.thresholds
        return cls(
            long_threshold=t.long,
            short_threshold=t.short,
            scaling_threshold=(pm.scaling_threshold.long, pm.scaling_threshold.short),
            base_position_pct=pm.base_position_pct,
            scale_factor=pm.scale_factor,
            max_position_pct=pm.max_position_pct,
            min_reliability=config.monitor.min_reliability,
            market_type=market_type,
            trailing_stop_pct=pm.trailing_stop_pct,
        )
