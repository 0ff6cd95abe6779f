"""Paper exchange: the async ccxt-style surface the Executor uses, filled against a live book.

``PaperExchange`` speaks the same methods and unified structures as a
``ccxt.async_support`` exchange (``load_markets``, ``markets``, ``create_order``,
``fetch_order``, ``fetch_balance``, ...), so the Executor runs the same code for paper and
live trading. Fills come from a book callable ``book(symbol) -> (bids, asks)`` (lists of
``(price, amount)``, best first) that the engine supplies.

Fill model (documented because results depend on it):

- Market orders walk the book level by level at the level prices and pay the taker fee. If
  the book is thinner than the order, the unfilled remainder is cancelled: the order ends
  ``canceled`` with ``filled < amount`` (Binance reports such an order as EXPIRED).
- The book is the engine's live book: paper fills do not consume it, so two consecutive
  orders each see the full current book.
- Limit orders that cross on arrival fill as taker up to their limit price; the rest rests
  and fills at its own limit price (maker fee) when ``on_book_update(symbol)`` sees the book
  cross it, up to the quantity available at or better than the limit.
- Stops (``stopLossPrice`` / ``triggerPrice``), take-profit triggers (``takeProfitPrice``)
  and trailing stops (``trailingPercent``, optional ``trailingTriggerPrice`` activation)
  trigger from ``on_book_update``: a sell stop when the best bid is at or below the trigger,
  a buy stop when the best ask is at or above it; a triggered order then executes as a
  market order (limit if it carries a price).
- Fees are charged in the quote currency (Binance charges spot buys in the base asset; the
  quote convention keeps the accounting identity simple).

Accounting: spot markets move balances (the base asset keeps an average cost so realised
PnL is defined); derivative markets (``swap``: one-way, linear, quote-margined) keep one
signed position per symbol with an average entry, realised PnL credited to the quote
balance. The identity ``quote balance + spot holdings at mark + derivative unrealised PnL ==
starting equity + realised + unrealised - fees`` holds after every event (tested).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

__all__ = ["BookFn", "Level", "PaperExchange", "PaperMarket"]

Level = tuple[float, float]
BookFn = Callable[[str], tuple[Sequence[Level], Sequence[Level]]]

_OPEN = "open"
_CLOSED = "closed"
_CANCELED = "canceled"
_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class PaperMarket:
    """One tradable market. ``kind`` is ``spot`` or ``swap`` (linear, quote-margined)."""

    symbol: str
    base: str
    quote: str
    kind: Literal["spot", "swap"] = "spot"
    amount_step: float = 0.00001
    price_step: float = 0.01
    min_amount: float = 0.00001
    min_cost: float = 5.0

    def to_ccxt(self) -> dict[str, Any]:
        """The market as a ccxt unified market structure (TICK_SIZE precision mode)."""
        swap = self.kind == "swap"
        settle = self.quote if swap else None
        return {
            "id": self.symbol.replace("/", "").split(":")[0],
            "symbol": self.symbol,
            "base": self.base,
            "quote": self.quote,
            "settle": settle,
            "type": self.kind,
            "spot": not swap,
            "margin": False,
            "swap": swap,
            "future": False,
            "option": False,
            "contract": swap,
            "linear": True if swap else None,
            "inverse": False if swap else None,
            "contractSize": 1.0 if swap else None,
            "active": True,
            "taker": None,
            "maker": None,
            "precision": {"amount": self.amount_step, "price": self.price_step},
            "limits": {
                "amount": {"min": self.min_amount, "max": None},
                "price": {"min": None, "max": None},
                "cost": {"min": self.min_cost, "max": None},
                "leverage": {"min": None, "max": None},
            },
            "info": {},
        }


@dataclass(slots=True)
class _Order:
    id: str
    client_order_id: str
    symbol: str
    type: str
    side: str
    amount: float
    price: float | None
    timestamp: int
    reduce_only: bool
    trigger_price: float | None = None
    trigger_kind: str | None = None  # "stop" | "take_profit" | "trailing"
    trailing_percent: float | None = None
    trailing_activation: float | None = None
    trailing_extreme: float | None = None
    triggered: bool = False
    filled: float = 0.0
    cost: float = 0.0
    fee: float = 0.0
    status: str = _OPEN
    last_trade_ts: int | None = None
    reserved_base: float = 0.0
    reserved_quote: float = 0.0


@dataclass(slots=True)
class _Holding:
    """A spot base asset: free amount, amount locked by orders, average cost."""

    total: float = 0.0
    used: float = 0.0
    avg_cost: float = 0.0


@dataclass(slots=True)
class _Position:
    """A one-way derivative position: signed amount and average entry."""

    amount: float = 0.0
    entry: float = 0.0


def _step_floor(value: float, step: float) -> Decimal:
    d_step = Decimal(repr(step))
    return (Decimal(repr(value)) / d_step).to_integral_value(rounding=ROUND_DOWN) * d_step


def _step_round(value: float, step: float) -> Decimal:
    d_step = Decimal(repr(step))
    return (Decimal(repr(value)) / d_step).to_integral_value(rounding=ROUND_HALF_EVEN) * d_step


def _fmt(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s


class PaperExchange:
    """A deterministic simulated venue with the async ccxt method surface.

    Parameters
    ----------
    markets
        The tradable markets.
    book
        ``book(symbol) -> (bids, asks)``, each a list of ``(price, amount)`` best first.
    balances
        Starting balances per currency (``{"USDT": 10_000.0}``). Spot base holdings given
        here take the book mid at ``load_markets`` as their cost.
    taker_fee, maker_fee
        Fee rates (fractions of notional).
    clock
        Milliseconds since the epoch; inject a fake clock for determinism.
    leverage
        Derivative leverage used for the margin check (initial margin = notional/leverage).
    """

    id = "paper"
    name = "Paper"

    def __init__(
        self,
        markets: Sequence[PaperMarket],
        book: BookFn,
        *,
        balances: Mapping[str, float],
        taker_fee: float = 0.001,
        maker_fee: float = 0.0002,
        clock: Callable[[], int] | None = None,
        leverage: float = 1.0,
    ) -> None:
        if taker_fee < 0 or maker_fee < 0:
            raise ValueError(f"fee rates must be >= 0, was taker {taker_fee}, maker {maker_fee}")
        if leverage <= 0:
            raise ValueError(f"leverage must be > 0, was {leverage}")
        self._market_defs = {m.symbol: m for m in markets}
        self._book = book
        self._taker = taker_fee
        self._maker = maker_fee
        self._clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self._leverage = leverage
        self.markets: dict[str, dict[str, Any]] = {}
        self.symbols: list[str] = []
        self.has: dict[str, bool] = {
            "cancelOrder": True,
            "createOrder": True,
            "createMarketOrder": True,
            "createLimitOrder": True,
            "createReduceOnlyOrder": True,
            "createStopLossOrder": True,
            "createTakeProfitOrder": True,
            "createTriggerOrder": True,
            "createTrailingPercentOrder": True,
            "fetchBalance": True,
            "fetchMyTrades": True,
            "fetchOpenOrders": True,
            "fetchOrder": True,
            "fetchOrders": True,
            "fetchPositions": True,
        }
        self.enableRateLimit = True
        self.apiKey = ""
        self.secret = ""
        self.paper = True
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._quote_ccy = {m.quote for m in markets}
        self._cash: dict[str, float] = {}
        self._cash_used: dict[str, float] = {}
        self._holdings: dict[str, _Holding] = {}
        self._positions: dict[str, _Position] = {}
        self._orders: dict[str, _Order] = {}
        self._by_client_id: dict[str, str] = {}
        self._trades: list[dict[str, Any]] = []
        self._start_balances = dict(balances)
        self.realized_pnl = 0.0
        self.fees_paid = 0.0
        self.starting_equity = 0.0

    # ------------------------------------------------------------------ markets
    async def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        """Build the market structures and, once, the starting balances."""
        if self.markets and not reload:
            return self.markets
        self.markets = {s: m.to_ccxt() for s, m in self._market_defs.items()}
        self.symbols = sorted(self.markets)
        if not self._cash and not self._holdings:
            self._init_balances()
        return self.markets

    def _init_balances(self) -> None:
        base_mark: dict[str, float] = {}
        for m in self._market_defs.values():
            if m.kind == "spot" and m.base in self._start_balances:
                mid = self._mid(m.symbol)
                if mid is not None:
                    base_mark.setdefault(m.base, mid)
        equity = 0.0
        for ccy, amount in self._start_balances.items():
            if ccy in self._quote_ccy:
                self._cash[ccy] = float(amount)
                self._cash_used[ccy] = 0.0
                equity += float(amount)
            else:
                cost = base_mark.get(ccy, 0.0)
                self._holdings[ccy] = _Holding(total=float(amount), avg_cost=cost)
                equity += float(amount) * cost
        for q in self._quote_ccy:
            self._cash.setdefault(q, 0.0)
            self._cash_used.setdefault(q, 0.0)
        self.starting_equity = equity

    def market(self, symbol: str) -> dict[str, Any]:
        """The unified market of ``symbol`` (raises ``ccxt.BadSymbol`` if unknown)."""
        if symbol not in self.markets:
            raise ccxt.BadSymbol(f"paper does not have market symbol {symbol}")
        return self.markets[symbol]

    def amount_to_precision(self, symbol: str, amount: float) -> str:
        """Amount truncated to the market's step, as ccxt returns it (a string)."""
        return _fmt(_step_floor(amount, self._def(symbol).amount_step))

    def price_to_precision(self, symbol: str, price: float) -> str:
        """Price rounded to the market's tick, as ccxt returns it (a string)."""
        return _fmt(_step_round(price, self._def(symbol).price_step))

    def _def(self, symbol: str) -> PaperMarket:
        if symbol not in self._market_defs:
            raise ccxt.BadSymbol(f"paper does not have market symbol {symbol}")
        return self._market_defs[symbol]

    async def close(self) -> None:
        """Nothing to release; present for parity with ccxt exchanges."""

    # ------------------------------------------------------------------ book helpers
    def _sides(self, symbol: str) -> tuple[Sequence[Level], Sequence[Level]]:
        bids, asks = self._book(symbol)
        return bids, asks

    def _mid(self, symbol: str) -> float | None:
        bids, asks = self._sides(symbol)
        if bids and asks:
            return (bids[0][0] + asks[0][0]) / 2.0
        if bids:
            return bids[0][0]
        if asks:
            return asks[0][0]
        return None

    def mark_price(self, symbol: str) -> float | None:
        """Mid of the current book (one side if the other is empty; None if empty)."""
        return self._mid(symbol)

    # ------------------------------------------------------------------ balances
    async def fetch_balance(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Unified balance structure: ``free``/``used``/``total`` per currency."""
        await self.load_markets()
        out: dict[str, Any] = {"free": {}, "used": {}, "total": {}, "info": {}}
        for ccy, total in self._cash.items():
            used = self._cash_used.get(ccy, 0.0) + self._margin_used(ccy)
            self._put_balance(out, ccy, total - used, used, total)
        for ccy, h in self._holdings.items():
            self._put_balance(out, ccy, h.total - h.used, h.used, h.total)
        return out

    @staticmethod
    def _put_balance(out: dict[str, Any], ccy: str, free: float, used: float, total: float) -> None:
        out["free"][ccy] = free
        out["used"][ccy] = used
        out["total"][ccy] = total
        out[ccy] = {"free": free, "used": used, "total": total}

    def _margin_used(self, ccy: str) -> float:
        used = 0.0
        for sym, pos in self._positions.items():
            if self._market_defs[sym].quote == ccy:
                used += abs(pos.amount) * pos.entry / self._leverage
        return used

    def _free_cash(self, ccy: str) -> float:
        return self._cash.get(ccy, 0.0) - self._cash_used.get(ccy, 0.0) - self._margin_used(ccy)

    def equity(self) -> float:
        """Quote balance + spot holdings at mark + derivative unrealised PnL."""
        eq = sum(self._cash.values())
        for ccy, h in self._holdings.items():
            mark = self._base_mark(ccy)
            eq += h.total * (mark if mark is not None else h.avg_cost)
        return eq + sum(self._unrealized(s) for s in self._positions)

    def unrealized_pnl(self) -> float:
        """Unrealised PnL of spot holdings (against average cost) and derivative positions."""
        total = 0.0
        for ccy, h in self._holdings.items():
            mark = self._base_mark(ccy)
            if mark is not None:
                total += (mark - h.avg_cost) * h.total
        return total + sum(self._unrealized(s) for s in self._positions)

    def _base_mark(self, ccy: str) -> float | None:
        for m in self._market_defs.values():
            if m.kind == "spot" and m.base == ccy:
                return self._mid(m.symbol)
        return None

    def _unrealized(self, symbol: str) -> float:
        pos = self._positions.get(symbol)
        mark = self._mid(symbol)
        if pos is None or mark is None or pos.amount == 0:
            return 0.0
        return (mark - pos.entry) * pos.amount

    # ------------------------------------------------------------------ orders
    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place an order; see the module docstring for the fill model.

        Params: ``clientOrderId``, ``reduceOnly`` (derivatives only), ``stopLossPrice`` /
        ``triggerPrice``, ``takeProfitPrice``, ``trailingPercent`` (with optional
        ``trailingTriggerPrice``). Raises ``ccxt.InvalidOrder``, ``ccxt.InsufficientFunds``,
        ``ccxt.BadSymbol`` like a venue would.
        """
        await self.load_markets()
        p = dict(params or {})
        mdef = self._def(symbol)
        if type not in ("market", "limit"):
            raise ccxt.InvalidOrder(f"paper order type must be market or limit, was {type!r}")
        if side not in ("buy", "sell"):
            raise ccxt.InvalidOrder(f"paper order side must be buy or sell, was {side!r}")
        amount = float(self.amount_to_precision(symbol, amount))
        if amount <= 0 or amount < mdef.min_amount - _EPS:
            raise ccxt.InvalidOrder(
                f"paper amount below the minimum {mdef.min_amount} for {symbol}, was {amount}"
            )
        if type == "limit":
            if price is None or price <= 0:
                raise ccxt.InvalidOrder(f"paper limit order needs a price > 0, was {price}")
            price = float(self.price_to_precision(symbol, price))
        reduce_only = bool(p.get("reduceOnly", False))
        if reduce_only and mdef.kind == "spot":
            raise ccxt.InvalidOrder("paper reduceOnly is only valid on derivative markets")
        cid = str(p.get("clientOrderId") or f"paper-{next(self._ids)}")
        if cid in self._by_client_id and self._orders[self._by_client_id[cid]].status == _OPEN:
            raise ccxt.InvalidOrder(f"paper duplicate clientOrderId, was {cid}")
        order = _Order(
            id=str(next(self._ids)),
            client_order_id=cid,
            symbol=symbol,
            type=type,
            side=side,
            amount=amount,
            price=price,
            timestamp=self._clock(),
            reduce_only=reduce_only,
        )
        self._parse_trigger(order, p)
        ref = self._mid(symbol) or price or 0.0
        self._check_funds(order, mdef, ref)
        self._orders[order.id] = order
        self._by_client_id[cid] = order.id
        if order.trigger_kind is None:
            self._execute(order, taker=True)
        else:
            self._reserve(order, mdef, ref)
            if order.trigger_kind == "trailing":
                self._update_trailing(order)
        return self._to_ccxt(order)

    def _parse_trigger(self, order: _Order, p: Mapping[str, Any]) -> None:
        trailing = p.get("trailingPercent")
        stop = p.get("stopLossPrice", p.get("triggerPrice", p.get("stopPrice")))
        take = p.get("takeProfitPrice")
        if trailing is not None:
            pct = float(trailing)
            if not 0 < pct < 100:
                raise ccxt.InvalidOrder(f"paper trailingPercent must be in (0, 100), was {pct}")
            order.trigger_kind = "trailing"
            order.trailing_percent = pct
            act = p.get("trailingTriggerPrice")
            order.trailing_activation = float(act) if act is not None else None
        elif stop is not None:
            order.trigger_kind = "stop"
            order.trigger_price = float(self.price_to_precision(order.symbol, float(stop)))
        elif take is not None:
            order.trigger_kind = "take_profit"
            order.trigger_price = float(self.price_to_precision(order.symbol, float(take)))

    def _check_funds(self, order: _Order, mdef: PaperMarket, ref: float) -> None:
        """Reject an order the account could not pay for, as a venue does on arrival."""
        if mdef.kind == "spot":
            if order.side == "buy":
                px = order.price if order.price is not None else self._walk_cost_price(order)
                need = order.amount * px * (1 + self._taker)
                if need > self._free_cash(mdef.quote) + _EPS:
                    raise ccxt.InsufficientFunds(
                        "paper Account has insufficient balance for requested action."
                    )
            else:
                h = self._holdings.get(mdef.base, _Holding())
                if order.amount > h.total - h.used + _EPS:
                    raise ccxt.InsufficientFunds(
                        "paper Account has insufficient balance for requested action."
                    )
            return
        if order.reduce_only:
            return
        pos = self._positions.get(order.symbol, _Position())
        signed = order.amount if order.side == "buy" else -order.amount
        opening = max(0.0, abs(pos.amount + signed) - abs(pos.amount))
        px = order.price if order.price is not None else ref
        need = opening * px / self._leverage + order.amount * px * self._taker
        if need > self._free_cash(mdef.quote) + _EPS:
            raise ccxt.InsufficientFunds("paper Margin is insufficient.")

    def _walk_cost_price(self, order: _Order) -> float:
        """Average price a market buy would pay now (worst level if the book is thin)."""
        _, asks = self._sides(order.symbol)
        remaining, cost = order.amount, 0.0
        for px, qty in asks:
            take = min(remaining, qty)
            cost += take * px
            remaining -= take
            if remaining <= _EPS:
                break
        filled = order.amount - remaining
        if filled <= _EPS:
            return asks[0][0] if asks else 0.0
        return cost / filled

    def _reserve(self, order: _Order, mdef: PaperMarket, ref: float) -> None:
        """Lock spot funds behind a resting or conditional order (venues lock them too)."""
        if mdef.kind != "spot":
            return
        remaining = order.amount - order.filled
        if order.side == "sell":
            h = self._holdings.setdefault(mdef.base, _Holding())
            order.reserved_base = remaining
            h.used += remaining
        else:
            px = order.price if order.price is not None else ref
            order.reserved_quote = remaining * px * (1 + self._taker)
            self._cash_used[mdef.quote] = self._cash_used.get(mdef.quote, 0.0) + (
                order.reserved_quote
            )

    def _release(self, order: _Order) -> None:
        mdef = self._market_defs[order.symbol]
        if order.reserved_base:
            self._holdings[mdef.base].used -= order.reserved_base
            order.reserved_base = 0.0
        if order.reserved_quote:
            self._cash_used[mdef.quote] -= order.reserved_quote
            order.reserved_quote = 0.0

    def _execute(self, order: _Order, *, taker: bool) -> None:
        """Fill ``order`` against the book now (market walk, or limit up to its price)."""
        bids, asks = self._sides(order.symbol)
        levels = asks if order.side == "buy" else bids
        self._release(order)
        remaining = self._fillable(order)
        fills: list[tuple[float, float]] = []
        for px, qty in levels:
            if remaining <= _EPS:
                break
            if order.price is not None and not self._crosses(order.side, px, order.price):
                break
            take = min(remaining, qty)
            # a resting (maker) limit fills at its own price, a taker at the level's
            fills.append((order.price if not taker and order.price is not None else px, take))
            remaining -= take
        for px, qty in fills:
            self._apply_fill(order, px, qty, self._taker if taker else self._maker)
        done = order.amount - order.filled <= _EPS
        if done:
            order.status = _CLOSED
        elif order.type == "market" or (order.reduce_only and self._fillable(order) <= _EPS):
            order.status = _CANCELED  # unfilled remainder of a market order is cancelled
        else:
            self._reserve(order, self._market_defs[order.symbol], order.price or 0.0)

    @staticmethod
    def _crosses(side: str, level_px: float, limit_px: float) -> bool:
        return level_px <= limit_px + _EPS if side == "buy" else level_px >= limit_px - _EPS

    def _fillable(self, order: _Order) -> float:
        """Remaining amount, capped for reduce-only orders at the position that is left."""
        remaining = order.amount - order.filled
        if not order.reduce_only:
            return remaining
        pos = self._positions.get(order.symbol, _Position())
        reducing = pos.amount < 0 if order.side == "buy" else pos.amount > 0
        return min(remaining, abs(pos.amount)) if reducing else 0.0

    def _apply_fill(self, order: _Order, px: float, qty: float, fee_rate: float) -> None:
        mdef = self._market_defs[order.symbol]
        fee = px * qty * fee_rate
        now = self._clock()
        realized = 0.0
        if mdef.kind == "spot":
            h = self._holdings.setdefault(mdef.base, _Holding())
            if order.side == "buy":
                new_total = h.total + qty
                h.avg_cost = (h.avg_cost * h.total + px * qty) / new_total
                h.total = new_total
                self._cash[mdef.quote] -= px * qty + fee
            else:
                realized = (px - h.avg_cost) * qty
                h.total -= qty
                self._cash[mdef.quote] += px * qty - fee
        else:
            realized = self._apply_position(order.symbol, order.side, px, qty)
            self._cash[mdef.quote] += realized - fee
        self.realized_pnl += realized
        self.fees_paid += fee
        order.filled += qty
        order.cost += px * qty
        order.fee += fee
        order.last_trade_ts = now
        self._trades.append(
            {
                "id": str(next(self._trade_ids)),
                "order": order.id,
                "clientOrderId": order.client_order_id,
                "symbol": order.symbol,
                "side": order.side,
                "type": order.type,
                "takerOrMaker": "taker" if fee_rate == self._taker else "maker",
                "price": px,
                "amount": qty,
                "cost": px * qty,
                "fee": {"cost": fee, "currency": mdef.quote, "rate": fee_rate},
                "timestamp": now,
                "datetime": None,
                "info": {"realizedPnl": realized},
            }
        )

    def _apply_position(self, symbol: str, side: str, px: float, qty: float) -> float:
        pos = self._positions.setdefault(symbol, _Position())
        signed = qty if side == "buy" else -qty
        realized = 0.0
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):
            new_amount = pos.amount + signed
            pos.entry = (pos.entry * abs(pos.amount) + px * qty) / abs(new_amount)
            pos.amount = new_amount
            return 0.0
        closing = min(qty, abs(pos.amount))
        direction = 1.0 if pos.amount > 0 else -1.0
        realized = (px - pos.entry) * closing * direction
        pos.amount += signed
        if abs(pos.amount) <= _EPS:
            pos.amount, pos.entry = 0.0, 0.0
        elif (pos.amount > 0) != (direction > 0):
            pos.entry = px  # flipped: the excess opened at this fill's price
        return realized

    async def cancel_order(
        self, id: str, symbol: str | None = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Cancel an open order (``ccxt.OrderNotFound`` if unknown or no longer open)."""
        order = self._lookup(id, params)
        if order.status != _OPEN:
            raise ccxt.OrderNotFound(f"paper order {order.id} is {order.status}, not open")
        self._release(order)
        order.status = _CANCELED
        return self._to_ccxt(order)

    def _lookup(self, id: str | None, params: Mapping[str, Any] | None) -> _Order:
        cid = (params or {}).get("clientOrderId")
        if cid is not None:
            oid = self._by_client_id.get(str(cid))
            if oid is None:
                raise ccxt.OrderNotFound(f"paper order with clientOrderId {cid} does not exist")
            return self._orders[oid]
        if id is None or id not in self._orders:
            raise ccxt.OrderNotFound(f"paper order {id} does not exist")
        return self._orders[id]

    async def fetch_order(
        self, id: str, symbol: str | None = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One order by id, or by ``params={'clientOrderId': ...}``."""
        return self._to_ccxt(self._lookup(id, params))

    async def fetch_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """All orders (optionally of one symbol), oldest first."""
        out = [
            self._to_ccxt(o)
            for o in self._orders.values()
            if (symbol is None or o.symbol == symbol) and (since is None or o.timestamp >= since)
        ]
        return out[-limit:] if limit else out

    async def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Open orders (optionally of one symbol)."""
        orders = await self.fetch_orders(symbol, since, None, params)
        out = [o for o in orders if o["status"] == _OPEN]
        return out[-limit:] if limit else out

    async def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Executions (unified trade structures), oldest first."""
        out = [
            dict(t)
            for t in self._trades
            if (symbol is None or t["symbol"] == symbol)
            and (since is None or t["timestamp"] >= since)
        ]
        return out[-limit:] if limit else out

    async def fetch_positions(
        self, symbols: Sequence[str] | None = None, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Open derivative positions (unified position structures)."""
        out: list[dict[str, Any]] = []
        for sym, pos in self._positions.items():
            if pos.amount == 0 or (symbols is not None and sym not in symbols):
                continue
            mark = self._mid(sym)
            out.append(
                {
                    "symbol": sym,
                    "side": "long" if pos.amount > 0 else "short",
                    "contracts": abs(pos.amount),
                    "contractSize": 1.0,
                    "entryPrice": pos.entry,
                    "markPrice": mark,
                    "notional": abs(pos.amount) * (mark or pos.entry),
                    "unrealizedPnl": self._unrealized(sym),
                    "leverage": self._leverage,
                    "marginMode": "cross",
                    "hedged": False,
                    "timestamp": self._clock(),
                    "info": {},
                }
            )
        return out

    # ------------------------------------------------------------------ book events
    def on_book_update(self, symbol: str) -> None:
        """Re-evaluate resting limits, stops and trailing stops of ``symbol`` on a new book."""
        for order in [o for o in self._orders.values() if o.symbol == symbol]:
            if order.status != _OPEN:
                continue
            if order.trigger_kind is not None and not order.triggered:
                if order.trigger_kind == "trailing":
                    self._update_trailing(order)
                if not self._triggered(order):
                    continue
                order.triggered = True
                order.last_trade_ts = self._clock()
                self._release(order)
                self._execute(order, taker=True)
                if order.status == _OPEN and order.type == "market":
                    order.status = _CANCELED
                continue
            if (order.type == "limit" and order.trigger_kind is None) or order.triggered:
                self._release(order)
                self._execute(order, taker=False)
                if order.reduce_only and order.status == _OPEN and self._fillable(order) <= 0:
                    order.status = _CANCELED

    def _best(self, symbol: str, side: str) -> float | None:
        """Price a ``side`` order would trade at: best ask for buys, best bid for sells."""
        bids, asks = self._sides(symbol)
        levels = asks if side == "buy" else bids
        return levels[0][0] if levels else None

    def _update_trailing(self, order: _Order) -> None:
        px = self._best(order.symbol, order.side)
        if px is None:
            return
        if order.trailing_activation is not None and order.trailing_extreme is None:
            active = (
                px >= order.trailing_activation
                if order.side == "sell"
                else px <= order.trailing_activation
            )
            if not active:
                return
        ext = order.trailing_extreme
        if ext is None or (order.side == "sell" and px > ext) or (order.side == "buy" and px < ext):
            order.trailing_extreme = px
        assert order.trailing_extreme is not None and order.trailing_percent is not None
        k = order.trailing_percent / 100.0
        order.trigger_price = order.trailing_extreme * (1 - k if order.side == "sell" else 1 + k)

    def _triggered(self, order: _Order) -> bool:
        px = self._best(order.symbol, order.side)
        trig = order.trigger_price
        if px is None or trig is None:
            return False
        stop_like = order.trigger_kind in ("stop", "trailing")
        if order.side == "sell":
            return px <= trig + _EPS if stop_like else px >= trig - _EPS
        return px >= trig - _EPS if stop_like else px <= trig + _EPS

    # ------------------------------------------------------------------ structures
    def _to_ccxt(self, o: _Order) -> dict[str, Any]:
        mdef = self._market_defs[o.symbol]
        average = o.cost / o.filled if o.filled > 0 else None
        return {
            "id": o.id,
            "clientOrderId": o.client_order_id,
            "timestamp": o.timestamp,
            "datetime": None,
            "lastTradeTimestamp": o.last_trade_ts,
            "symbol": o.symbol,
            "type": o.type,
            "timeInForce": "IOC" if o.type == "market" else "GTC",
            "side": o.side,
            "price": o.price if o.price is not None else average,
            "average": average,
            "amount": o.amount,
            "filled": o.filled,
            "remaining": 0.0 if o.status != _OPEN else o.amount - o.filled,
            "cost": o.cost,
            "status": o.status,
            "fee": {"cost": o.fee, "currency": mdef.quote},
            "trades": [],
            "reduceOnly": o.reduce_only,
            "triggerPrice": o.trigger_price,
            "stopLossPrice": o.trigger_price if o.trigger_kind in ("stop", "trailing") else None,
            "takeProfitPrice": o.trigger_price if o.trigger_kind == "take_profit" else None,
            "info": {
                "trigger_kind": o.trigger_kind,
                "trailingPercent": o.trailing_percent,
                "triggered": o.triggered,
            },
        }
