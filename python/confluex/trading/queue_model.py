"""Queue position of resting paper orders, driven by a replay's real trades and depth.

A paper limit order does not exist at the venue, so whether it would have filled depends on
where it would have stood in the queue at its price. :class:`QueueModel` tracks that from the
market data alone (the model of hftbacktest's queue models, in integer lots):

1. **Joining.** An order placed at data time ``t`` becomes active at ``t + latency_ns`` and
   joins the *back* of the visible queue at its price on its side: ``ahead`` = the level's
   visible quantity then (0 for a price inside the spread; ``inf`` when the price is deeper
   than the book the caller can see, until a later depth read says otherwise).
2. **Trades at the price.** A trade of ``x`` lots at the order's price, by an aggressor on
   the other side, first consumes the queue ahead (``ahead -= min(ahead, x)``); only the part
   of ``x`` left after the queue ahead is exhausted fills the order. The traded lots are
   remembered to explain a later shrink of the level in the depth stream.
3. **Trades through the price.** A trade at a price worse for the passive side than the
   order's (a sell printing below a bid, a buy above an ask) means the whole level was taken:
   ``ahead = 0`` and the order fills up to the print's size.
4. **Depth changes at the price** (``on_depth``, after every book message): a shrink of the
   level by ``d`` lots is first explained by the traded lots remembered in step 2; the rest
   are cancels. With ``cancels="pro_rata"`` cancels come from everywhere in the queue, so the
   queue ahead shrinks by ``cancels * ahead / level``; with ``cancels="worst"`` (the
   risk-averse model) they come from behind the order and ``ahead`` only shrinks when the
   level drops below it. Either way ``ahead <= level`` afterwards. A growing level adds
   orders behind, never ahead.
5. **Cancels** requested at ``t`` take effect at ``t + latency_ns``: the order can still fill
   in between.

Only printed trades fill an order: a book that moves through an order's price without a
trade there fills nothing, and one print never fills more than its own size across all the
orders it reaches (in price-time priority). The Binance depth and trade streams are separate
and either may arrive first; a trade seen before the depth diff that shows it is matched by
step 4, a depth diff seen before its trade counts once as a cancel and once as the trade
(optimistic by at most that diff, and only with ``pro_rata``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["CancelModel", "LevelFn", "QueueFill", "QueueModel", "QueueOrder", "Side"]

Side = Literal["buy", "sell"]
CancelModel = Literal["pro_rata", "worst"]
#: ``level(side, price_ticks)`` -> visible lots at that price on that side of the book (0 when
#: the price holds nothing on that side), or None when the price is beyond the known depth.
LevelFn = Callable[[Side, int], float | None]


@dataclass(slots=True)
class QueueOrder:
    """One resting paper order and its queue position (lots)."""

    order_id: int
    side: Side
    price_ticks: int
    qty_lots: int
    placed_ns: int
    active_ns: int
    filled_lots: int = 0
    ahead_lots: float = math.nan  # visible lots ahead (NaN until active)
    queue_at_entry: float = math.nan  # ahead_lots when it became active
    level_lots: float = math.nan  # the level's visible lots at the last read
    traded_lots: float = 0.0  # lots traded at the price not yet matched by a level shrink
    cancel_ns: int | None = None
    active: bool = False

    @property
    def remaining_lots(self) -> int:
        """Lots still to fill."""
        return self.qty_lots - self.filled_lots

    @property
    def done(self) -> bool:
        """Filled completely."""
        return self.filled_lots >= self.qty_lots


@dataclass(frozen=True, slots=True)
class QueueFill:
    """A (maker) fill of a paper order at its own price."""

    order_id: int
    side: Side
    price_ticks: int
    qty_lots: int
    ts_ns: int
    through: bool  # filled by a trade through the price (else: queue ahead traded through)
    queue_at_entry: float  # lots ahead of the order when it joined the queue


class QueueModel:
    """The resting paper orders of one symbol; see the module docstring.

    Parameters
    ----------
    cancels
        ``"pro_rata"`` or ``"worst"``: where cancels at the order's level come from.
    latency_ns
        Data time between a place or cancel request and its effect at the venue.
    step_lots
        The venue's amount step in lots: fills are whole steps (the queue ahead, shrunk
        pro-rata, is fractional; a fill never is).
    """

    def __init__(
        self, cancels: CancelModel = "pro_rata", latency_ns: int = 0, step_lots: int = 1
    ) -> None:
        if cancels not in ("pro_rata", "worst"):
            raise ValueError(f"cancels must be 'pro_rata' or 'worst', was {cancels!r}")
        if not (isinstance(latency_ns, int) and latency_ns >= 0):
            raise ValueError(f"latency_ns must be an int >= 0, was {latency_ns!r}")
        if not (isinstance(step_lots, int) and step_lots >= 1):
            raise ValueError(f"step_lots must be an int >= 1, was {step_lots!r}")
        self.cancels: CancelModel = cancels
        self.step_lots = step_lots
        self.latency_ns = latency_ns
        self._orders: dict[int, QueueOrder] = {}
        self._ids = itertools.count(1)
        self.placed = 0
        self.canceled = 0

    @property
    def orders(self) -> list[QueueOrder]:
        """Live orders (pending or active), in placement order."""
        return list(self._orders.values())

    def get(self, order_id: int) -> QueueOrder | None:
        """The live order ``order_id`` (None once filled or canceled)."""
        return self._orders.get(order_id)

    def place(self, side: Side, price_ticks: int, qty_lots: int, ts_ns: int) -> QueueOrder:
        """Send a limit order; it joins the queue at ``ts_ns + latency_ns``."""
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', was {side!r}")
        if not (qty_lots > 0 and qty_lots % self.step_lots == 0):
            raise ValueError(
                f"qty_lots must be a positive multiple of {self.step_lots}, was {qty_lots!r}"
            )
        order = QueueOrder(
            next(self._ids), side, int(price_ticks), int(qty_lots), ts_ns, ts_ns + self.latency_ns
        )
        self._orders[order.order_id] = order
        self.placed += 1
        return order

    def cancel(self, order_id: int, ts_ns: int) -> None:
        """Request a cancel; it takes effect at ``ts_ns + latency_ns`` (a no-op when gone)."""
        order = self._orders.get(order_id)
        if order is not None and order.cancel_ns is None:
            order.cancel_ns = ts_ns + self.latency_ns

    def advance(self, ts_ns: int, level: LevelFn) -> None:
        """Apply the activations and cancels due at ``ts_ns``."""
        for order in list(self._orders.values()):
            if order.cancel_ns is not None and order.cancel_ns <= ts_ns:
                del self._orders[order.order_id]
                self.canceled += 1
            elif not order.active and order.active_ns <= ts_ns:
                lots = level(order.side, order.price_ticks)
                order.active = True
                order.ahead_lots = math.inf if lots is None else float(lots)
                order.queue_at_entry = order.ahead_lots
                order.level_lots = math.nan if lots is None else float(lots)

    def on_trade(
        self, ts_ns: int, price_ticks: int, qty_lots: int, aggressor: Side
    ) -> list[QueueFill]:
        """A market trade of ``qty_lots`` at ``price_ticks``; returns the fills it caused."""
        passive: Side = "buy" if aggressor == "sell" else "sell"
        sign = 1 if passive == "buy" else -1
        # price-time priority among our orders: better price first, then earlier
        queue = sorted(
            (o for o in self._orders.values() if o.active and o.side == passive),
            key=lambda o: (-sign * o.price_ticks, o.active_ns, o.order_id),
        )
        fills: list[QueueFill] = []
        used = 0
        for order in queue:
            if price_ticks == order.price_ticks:
                order.traded_lots += qty_lots
                consumed = min(order.ahead_lots, qty_lots)
                order.ahead_lots -= consumed
                avail = qty_lots - consumed - used
                through = False
            elif sign * (order.price_ticks - price_ticks) > 0:  # printed through our price
                order.ahead_lots = 0.0
                avail = qty_lots - used
                through = True
            else:
                continue
            lots = int(min(order.remaining_lots, max(avail, 0))) // self.step_lots * self.step_lots
            if lots <= 0:
                continue
            used += lots
            order.filled_lots += lots
            fills.append(
                QueueFill(
                    order.order_id,
                    passive,
                    order.price_ticks,
                    lots,
                    ts_ns,
                    through,
                    order.queue_at_entry,
                )
            )
            if order.done:
                del self._orders[order.order_id]
        return fills

    def on_depth(self, level: LevelFn) -> None:
        """The book changed: re-read each active order's level and update its queue ahead."""
        for order in self._orders.values():
            if not order.active:
                continue
            new = level(order.side, order.price_ticks)
            if new is None:
                continue
            new = float(new)
            prev = order.level_lots
            if math.isnan(prev):
                order.level_lots = new
                order.ahead_lots = min(order.ahead_lots, new)
                continue
            shrink = prev - new
            if shrink > 0:
                explained = min(order.traded_lots, shrink)
                order.traded_lots -= explained
                cancels = shrink - explained
                if self.cancels == "pro_rata" and cancels > 0 and order.ahead_lots > 0:
                    base = max(prev - explained, order.ahead_lots, 1e-12)
                    order.ahead_lots -= cancels * order.ahead_lots / base
            order.ahead_lots = max(0.0, min(order.ahead_lots, new))
            order.level_lots = new
