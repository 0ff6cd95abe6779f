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

- ``postOnly`` limits that would cross on arrival are rejected with
  ``ccxt.OrderImmediatelyFillable`` (Binance: "Order would immediately match and take").

Structures are ccxt's unified ones and pass ccxt's own validators (``ccxt/test/exchange/base``,
run by ``tests/test_paper_conformance.py``): orders carry ``datetime``, ``postOnly``,
``stopPrice``/``triggerPrice``, ``fee`` and ``fees``; a canceled order keeps ``remaining =
amount - filled``; balances satisfy ``free + used == total`` exactly (amounts are reported on a
1e-8 grid); prices and amounts are rounded by ccxt's ``decimal_to_precision`` (ROUND for prices,
half away from zero: 61826.125 -> 61826.13; TRUNCATE for amounts) exactly as a ccxt exchange
rounds them.

Market data: ``fetch_order_book`` and ``fetch_ticker`` read the live book; ``fetch_trades`` and
``fetch_ohlcv`` read the venue's public tape, which holds the paper fills (on the taker's side)
plus any market prints the caller feeds with :meth:`PaperExchange.record_trade`. The tape keeps
the last ``tape_size`` prints per symbol and counts the ones it dropped.

Accounting: spot markets move balances (the base asset keeps an average cost so realised
PnL is defined); derivative markets (``swap``: one-way, linear, quote-margined) keep one
signed position per symbol with an average entry, realised PnL credited to the quote
balance. A swap's amounts are contracts of ``contract_size`` base units each (ccxt's
``contractSize``; OKX's BTC-USDT-SWAP is 0.01 BTC): every money figure (cost, fee, margin,
PnL, notional) is contracts times price times ``contract_size``, and the book's amounts are
contracts too. The identity ``quote balance + spot holdings at mark + derivative unrealised PnL ==
starting equity + realised + unrealised - fees`` holds after every event (tested).
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information
from ccxt.base.decimal_to_precision import (  # type: ignore[import-untyped]
    NO_PADDING,
    ROUND,
    TICK_SIZE,
    TRUNCATE,
    decimal_to_precision,
)

__all__ = ["BookFn", "Level", "PaperExchange", "PaperMarket"]

Level = tuple[float, float]
BookFn = Callable[[str], tuple[Sequence[Level], Sequence[Level]]]

_OPEN = "open"
_CLOSED = "closed"
_CANCELED = "canceled"
_EPS = 1e-12
#: Balances are reported on this grid so that ``free + used == total`` holds exactly.
_BALANCE_STEP = Decimal("0.00000001")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
#: Public prints kept per symbol for ``fetch_trades`` / ``fetch_ohlcv``.
TAPE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class PaperMarket:
    """One tradable market. ``kind`` is ``spot`` or ``swap`` (linear, quote-margined).

    ``contract_size`` is the base amount of one contract of a swap (ccxt's ``contractSize``);
    a spot market's is 1.
    """

    symbol: str
    base: str
    quote: str
    kind: Literal["spot", "swap"] = "spot"
    amount_step: float = 0.00001
    price_step: float = 0.01
    min_amount: float = 0.00001
    min_cost: float = 5.0
    contract_size: float = 1.0

    def __post_init__(self) -> None:
        cs = self.contract_size
        if not (cs > 0 and math.isfinite(cs)):
            raise ValueError(f"contract_size must be a finite number > 0, was {cs}")
        if self.kind == "spot" and cs != 1.0:
            raise ValueError(f"a spot market's contract_size is 1, was {cs} ({self.symbol})")

    def to_ccxt(self, taker: float | None = None, maker: float | None = None) -> dict[str, Any]:
        """The market as a ccxt unified market structure (TICK_SIZE precision mode).

        ``taker``/``maker`` are the fee rates the venue charges on it.
        """
        swap = self.kind == "swap"
        settle = self.quote if swap else None
        return {
            "id": self.market_id,
            "lowercaseId": self.market_id.lower(),
            "symbol": self.symbol,
            "base": self.base,
            "quote": self.quote,
            "settle": settle,
            "baseId": self.base,
            "quoteId": self.quote,
            "settleId": settle,
            "type": self.kind,
            "subType": "linear" if swap else None,
            "spot": not swap,
            "margin": False,
            "swap": swap,
            "future": False,
            "option": False,
            "index": None,
            "active": True,
            "contract": swap,
            "linear": True if swap else None,
            "inverse": False if swap else None,
            "taker": taker,
            "maker": maker,
            "contractSize": self.contract_size if swap else None,
            "expiry": None,
            "expiryDatetime": None,
            "strike": None,
            "optionType": None,
            "precision": {"amount": self.amount_step, "price": self.price_step},
            "limits": {
                "amount": {"min": self.min_amount, "max": None},
                "price": {"min": None, "max": None},
                "cost": {"min": self.min_cost, "max": None},
                "leverage": {"min": None, "max": None},
            },
            "marginModes": {"cross": swap, "isolated": False},
            "created": None,
            "percentage": True,
            "tierBased": False,
            "feeSide": "quote",
            "info": {},
        }

    @property
    def market_id(self) -> str:
        """The venue id of the market: ``BTCUSDT`` for ``BTC/USDT`` and ``BTC/USDT:USDT``."""
        return f"{self.base}{self.quote}"


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
    post_only: bool = False
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
    trades: list[dict[str, Any]] = field(default_factory=list)
    datetime: str = ""  # iso8601 of timestamp, computed once


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
    opened_ms: int = 0
    updated_ms: int = 0


@functools.lru_cache(maxsize=64)
def _decimals(step: float) -> int:
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _snap(value: float, step: float) -> float:
    """``value`` on the ``step`` grid (removes the float noise that sums of steps gather).

    ``round(x, d)`` returns the double nearest to the d-decimal number, which is what the
    exact decimal product ``k * step`` converts to (tested against Decimal).
    """
    return round(round(value / step) * step, _decimals(step))


def _snap_down(value: float, step: float) -> float:
    """``value`` floored to the ``step`` grid (a hair of float noise below a step counts)."""
    q = value / step
    k = round(q)
    if abs(q - k) > 1e-9 * max(1.0, abs(q)):  # not a grid value plus noise: floor it
        k = math.floor(q)
    return round(k * step, _decimals(step))


def _iso8601(ms: int) -> str:
    """ccxt's ``iso8601`` (``2024-07-18T00:00:00.123Z``) at a tenth of its cost."""
    when = _EPOCH + datetime.timedelta(milliseconds=ms)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _balance(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_BALANCE_STEP)


def _currency(code: str) -> dict[str, Any]:
    """A ccxt unified currency structure (balances are kept to 1e-8)."""
    return {
        "id": code,
        "code": code,
        "name": code,
        "active": True,
        "deposit": None,
        "withdraw": None,
        "fee": None,
        "precision": float(_BALANCE_STEP),
        "limits": {"amount": {"min": None, "max": None}, "withdraw": {"min": None, "max": None}},
        "networks": {},
        "info": {},
    }


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
    tape_size
        Public prints kept per symbol for ``fetch_trades`` and ``fetch_ohlcv``.
    """

    id = "paper"
    name = "Paper"
    precisionMode = TICK_SIZE
    paddingMode = NO_PADDING
    timeframes: ClassVar[dict[str, str]] = {
        tf: tf for tf in ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
    }

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
        tape_size: int = TAPE_SIZE,
    ) -> None:
        if tape_size < 1:
            raise ValueError(f"tape_size must be >= 1, was {tape_size}")
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
        self.currencies: dict[str, dict[str, Any]] = {}
        self.has: dict[str, bool] = {
            name: True
            for name in (
                "cancelAllOrders",
                "cancelOrder",
                "createLimitBuyOrder",
                "createLimitOrder",
                "createLimitSellOrder",
                "createMarketBuyOrder",
                "createMarketBuyOrderWithCost",
                "createMarketOrder",
                "createMarketOrderWithCost",
                "createMarketSellOrder",
                "createMarketSellOrderWithCost",
                "createOrder",
                "createPostOnlyOrder",
                "createReduceOnlyOrder",
                "createStopLimitOrder",
                "createStopLossOrder",
                "createStopMarketOrder",
                "createStopOrder",
                "createTakeProfitOrder",
                "createTrailingPercentOrder",
                "createTriggerOrder",
                "editOrder",
                "fetchBalance",
                "fetchCanceledOrders",
                "fetchClosedOrders",
                "fetchMarkets",
                "fetchMyTrades",
                "fetchOHLCV",
                "fetchOpenOrders",
                "fetchOrder",
                "fetchOrderBook",
                "fetchOrders",
                "fetchPositions",
                "fetchTicker",
                "fetchTickers",
                "fetchTrades",
            )
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
        self._tape_size = tape_size
        self._tape: dict[str, deque[dict[str, Any]]] = {}
        self._tape_ids = itertools.count(1)
        self.tape_dropped = 0
        self._start_balances = dict(balances)
        self.realized_pnl = 0.0
        self.fees_paid = 0.0
        self.starting_equity = 0.0

    # ------------------------------------------------------------------ markets
    async def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        """Build the market structures and, once, the starting balances."""
        if self.markets and not reload:
            return self.markets
        self.markets = {
            s: m.to_ccxt(self._taker, self._maker) for s, m in self._market_defs.items()
        }
        self.symbols = sorted(self.markets)
        codes = sorted({c for m in self._market_defs.values() for c in (m.base, m.quote)})
        self.currencies = {code: _currency(code) for code in codes}
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
        """Amount truncated to the market's step by ccxt's ``decimal_to_precision``.

        Raises ``ccxt.InvalidOrder`` when it truncates to 0, as a ccxt exchange does.
        """
        out = self._amount_str(symbol, amount)
        if out == "0":
            step = self._def(symbol).amount_step
            raise ccxt.InvalidOrder(
                f"paper amount of {symbol} must be greater than minimum amount precision of "
                f"{step}, was {amount}"
            )
        return out

    def _amount_str(self, symbol: str, amount: float) -> str:
        step = self._def(symbol).amount_step
        out: str = decimal_to_precision(amount, TRUNCATE, step, TICK_SIZE, NO_PADDING)
        return out

    def price_to_precision(self, symbol: str, price: float) -> str:
        """Price rounded to the market's tick by ccxt's ``decimal_to_precision`` (ROUND).

        Ties go away from zero as in ccxt: 61826.125 at tick 0.01 is ``61826.13``. Raises
        ``ccxt.InvalidOrder`` when it rounds to 0, as a ccxt exchange does.
        """
        step = self._def(symbol).price_step
        out: str = decimal_to_precision(price, ROUND, step, TICK_SIZE, NO_PADDING)
        if out == "0":
            raise ccxt.InvalidOrder(
                f"paper price of {symbol} must be greater than minimum price precision of "
                f"{step}, was {price}"
            )
        return out

    @staticmethod
    def iso8601(timestamp: int | None) -> str | None:
        """``2024-07-18T00:00:00.123Z`` for milliseconds since the epoch (ccxt's format)."""
        if timestamp is None:
            return None
        return _iso8601(int(timestamp))

    def milliseconds(self) -> int:
        """The venue clock (data time in a replay)."""
        return self._clock()

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
        """Unified balance structure: ``free``/``used``/``total`` per currency.

        Amounts are reported on a 1e-8 grid with ``free = total - used`` computed in decimal,
        so ``free + used == total`` holds exactly (ccxt's validator checks it in decimal).
        """
        await self.load_markets()
        now = self._clock()
        out: dict[str, Any] = {
            "free": {},
            "used": {},
            "total": {},
            "info": {},
            "timestamp": now,
            "datetime": self.iso8601(now),
        }
        for ccy, total in self._cash.items():
            used = self._cash_used.get(ccy, 0.0) + self._margin_used(ccy)
            self._put_balance(out, ccy, used, total)
        for ccy, h in self._holdings.items():
            self._put_balance(out, ccy, h.used, h.total)
        return out

    @staticmethod
    def _put_balance(out: dict[str, Any], ccy: str, used: float, total: float) -> None:
        d_total, d_used = _balance(total), _balance(used)
        if d_used <= 0:  # release noise below the grid, and -0
            d_used = Decimal(0).quantize(_BALANCE_STEP)
        free, used_f, total_f = float(d_total - d_used), float(d_used), float(d_total)
        out["free"][ccy] = free
        out["used"][ccy] = used_f
        out["total"][ccy] = total_f
        out[ccy] = {"free": free, "used": used_f, "total": total_f}

    def _margin_used(self, ccy: str) -> float:
        used = 0.0
        for sym, pos in self._positions.items():
            mdef = self._market_defs[sym]
            if mdef.quote == ccy:
                used += abs(pos.amount) * pos.entry * mdef.contract_size / self._leverage
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
        return (mark - pos.entry) * pos.amount * self._market_defs[symbol].contract_size

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
        if not (isinstance(amount, (int, float)) and amount > 0 and amount < float("inf")):
            raise ccxt.InvalidOrder(f"paper order amount must be a number > 0, was {amount!r}")
        amount = float(self._amount_str(symbol, amount))
        if amount <= 0 or amount < mdef.min_amount - _EPS:
            raise ccxt.InvalidOrder(
                f"paper amount below the minimum {mdef.min_amount} for {symbol}, was {amount}"
            )
        if type == "limit":
            if price is None or price <= 0:
                raise ccxt.InvalidOrder(f"paper limit order needs a price > 0, was {price}")
            price = float(self.price_to_precision(symbol, price))
        post_only = bool(p.get("postOnly", False)) or p.get("timeInForce") == "PO"
        if post_only and type != "limit":
            raise ccxt.InvalidOrder(f"paper postOnly needs a limit order, was {type!r}")
        reduce_only = bool(p.get("reduceOnly", False))
        if reduce_only and mdef.kind == "spot":
            raise ccxt.InvalidOrder("paper reduceOnly is only valid on derivative markets")
        cid = str(p.get("clientOrderId") or f"paper-{next(self._ids)}")
        if cid in self._by_client_id and self._orders[self._by_client_id[cid]].status == _OPEN:
            raise ccxt.InvalidOrder(f"paper duplicate clientOrderId, was {cid}")
        now = self._clock()
        order = _Order(
            id=str(next(self._ids)),
            client_order_id=cid,
            symbol=symbol,
            type=type,
            side=side,
            amount=amount,
            price=price,
            timestamp=now,
            datetime=_iso8601(now),
            reduce_only=reduce_only,
            post_only=post_only,
        )
        self._parse_trigger(order, p)
        if post_only and order.trigger_kind is None and self._would_take(order):
            raise ccxt.OrderImmediatelyFillable(
                f"paper postOnly order would immediately match and take, was {side} at {price}"
            )
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

    def _would_take(self, order: _Order) -> bool:
        best = self._best(order.symbol, order.side)
        return (
            best is not None
            and order.price is not None
            and (self._crosses(order.side, best, order.price))
        )

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
        px = (order.price if order.price is not None else ref) * mdef.contract_size
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
        step = self._market_defs[order.symbol].amount_step
        fills: list[tuple[float, float]] = []
        for px, qty in levels:
            if remaining <= _EPS:
                break
            if order.price is not None and not self._crosses(order.side, px, order.price):
                break
            take = _snap_down(min(remaining, qty), step)
            if take <= 0:
                continue  # a level thinner than one step
            # a resting (maker) limit fills at its own price, a taker at the level's
            fills.append((order.price if not taker and order.price is not None else px, take))
            remaining = _snap(remaining - take, step)
        for px, qty in fills:
            self._apply_fill(order, px, qty, taker)
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
        remaining = _snap(order.amount - order.filled, self._market_defs[order.symbol].amount_step)
        if not order.reduce_only:
            return remaining
        pos = self._positions.get(order.symbol)
        held = pos.amount if pos is not None else 0.0
        reducing = held < 0 if order.side == "buy" else held > 0
        return min(remaining, abs(held)) if reducing else 0.0

    def _apply_fill(self, order: _Order, px: float, qty: float, taker: bool) -> None:
        mdef = self._market_defs[order.symbol]
        step = mdef.amount_step
        fee_rate = self._taker if taker else self._maker
        cost = px * qty * mdef.contract_size  # quote currency (spot: contract_size 1)
        fee = cost * fee_rate
        now = self._clock()
        realized = 0.0
        if mdef.kind == "spot":
            h = self._holdings.setdefault(mdef.base, _Holding())
            if order.side == "buy":
                new_total = _snap(h.total + qty, step)
                h.avg_cost = (h.avg_cost * h.total + px * qty) / new_total
                h.total = new_total
                self._cash[mdef.quote] -= px * qty + fee
            else:
                realized = (px - h.avg_cost) * qty
                h.total = _snap(h.total - qty, step)
                self._cash[mdef.quote] += px * qty - fee
        else:
            realized = self._apply_position(order.symbol, order.side, px, qty)
            realized *= mdef.contract_size
            self._cash[mdef.quote] += realized - fee
        self.realized_pnl += realized
        self.fees_paid += fee
        order.filled = _snap(order.filled + qty, step)
        order.cost += cost
        order.fee += fee
        order.last_trade_ts = now
        trade = {
            "id": str(next(self._trade_ids)),
            "order": order.id,
            "clientOrderId": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side,
            "type": order.type,
            "takerOrMaker": "taker" if taker else "maker",
            "price": px,
            "amount": qty,
            "cost": cost,
            "fee": {"cost": fee, "currency": mdef.quote, "rate": fee_rate},
            "fees": [{"cost": fee, "currency": mdef.quote, "rate": fee_rate}],
            "timestamp": now,
            "datetime": self.iso8601(now),
            "info": {"realizedPnl": realized},
        }
        self._trades.append(trade)
        order.trades.append(trade)
        # the print on the public tape is on the taker's side
        tape_side = order.side if taker else ("sell" if order.side == "buy" else "buy")
        self.record_trade(order.symbol, now, px, qty, tape_side)

    def _apply_position(self, symbol: str, side: str, px: float, qty: float) -> float:
        pos = self._positions.setdefault(symbol, _Position())
        step = self._market_defs[symbol].amount_step
        signed = qty if side == "buy" else -qty
        now = self._clock()
        pos.updated_ms = now
        realized = 0.0
        if pos.amount == 0 or (pos.amount > 0) == (signed > 0):
            if pos.amount == 0:
                pos.opened_ms = now
            new_amount = _snap(pos.amount + signed, step)
            pos.entry = (pos.entry * abs(pos.amount) + px * qty) / abs(new_amount)
            pos.amount = new_amount
            return 0.0
        closing = min(qty, abs(pos.amount))
        direction = 1.0 if pos.amount > 0 else -1.0
        realized = (px - pos.entry) * closing * direction
        pos.amount = _snap(pos.amount + signed, step)
        if abs(pos.amount) <= _EPS:
            pos.amount, pos.entry = 0.0, 0.0
        elif (pos.amount > 0) != (direction > 0):
            pos.entry = px  # flipped: the excess opened at this fill's price
            pos.opened_ms = now
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

    async def _orders_in(
        self,
        status: str,
        symbol: str | None,
        since: int | None,
        limit: int | None,
        params: Mapping[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """The orders of ``fetch_orders`` in one unified status, the last ``limit`` of them."""
        orders = await self.fetch_orders(symbol, since, None, params)
        out = [o for o in orders if o["status"] == status]
        return out[-limit:] if limit else out

    async def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Open orders (optionally of one symbol)."""
        return await self._orders_in(_OPEN, symbol, since, limit, params)

    async def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Executions (unified trade structures), oldest first."""
        out = [
            _copy_trade(t)
            for t in self._trades
            if (symbol is None or t["symbol"] == symbol)
            and (since is None or t["timestamp"] >= since)
        ]
        return out[-limit:] if limit else out

    async def fetch_closed_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Fully filled orders (optionally of one symbol), oldest first."""
        return await self._orders_in(_CLOSED, symbol, since, limit, params)

    async def fetch_canceled_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Canceled orders, including market orders whose unfilled rest was cancelled."""
        return await self._orders_in(_CANCELED, symbol, since, limit, params)

    async def fetch_positions(
        self, symbols: Sequence[str] | None = None, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Open derivative positions (unified position structures, cross margin).

        ``initialMargin`` is the entry notional over the leverage; ``collateral`` is that
        margin plus the unrealised PnL. The paper venue does not liquidate, so
        ``liquidationPrice`` and the maintenance fields are None.
        """
        out: list[dict[str, Any]] = []
        for sym, pos in self._positions.items():
            if pos.amount == 0 or (symbols is not None and sym not in symbols):
                continue
            mark = self._mid(sym)
            contracts = abs(pos.amount)
            cs = self._market_defs[sym].contract_size
            margin = contracts * pos.entry * cs / self._leverage
            upnl = self._unrealized(sym)
            out.append(
                {
                    "id": None,
                    "symbol": sym,
                    "timestamp": pos.updated_ms,
                    "datetime": self.iso8601(pos.updated_ms),
                    "lastUpdateTimestamp": pos.updated_ms,
                    "side": "long" if pos.amount > 0 else "short",
                    "contracts": contracts,
                    "contractSize": cs,
                    "entryPrice": pos.entry,
                    "markPrice": mark if mark is not None else pos.entry,
                    "lastPrice": None,
                    "notional": contracts * cs * (mark if mark is not None else pos.entry),
                    "leverage": self._leverage,
                    "collateral": margin + upnl,
                    "initialMargin": margin,
                    "initialMarginPercentage": 1.0 / self._leverage,
                    "maintenanceMargin": None,
                    "maintenanceMarginPercentage": None,
                    "positionMargin": margin,
                    "unrealizedPnl": upnl,
                    "realizedPnl": None,
                    "liquidationPrice": None,
                    "marginRatio": None,
                    "marginMode": "cross",
                    "hedged": False,
                    "percentage": upnl / margin * 100.0 if margin > 0 else 0.0,
                    "stopLossPrice": None,
                    "takeProfitPrice": None,
                    "info": {"openedMs": pos.opened_ms},
                }
            )
        return out

    # ------------------------------------------------------------------ more order methods
    async def cancel_all_orders(
        self, symbol: str | None = None, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Cancel every open order (of ``symbol``, or all); returns the canceled orders."""
        if symbol is not None:
            self._def(symbol)
        out = []
        for order in list(self._orders.values()):
            if order.status == _OPEN and (symbol is None or order.symbol == symbol):
                self._release(order)
                order.status = _CANCELED
                out.append(self._to_ccxt(order))
        return out

    async def edit_order(
        self,
        id: str,
        symbol: str,
        type: str,
        side: str,
        amount: float | None = None,
        price: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Replace an open order (cancel-replace, as Binance spot does): a new order id.

        ``amount``/``price`` default to the old order's remaining amount and price; its
        trigger, ``reduceOnly`` and ``postOnly`` carry over unless ``params`` override them.
        If the new order is refused (``InvalidOrder``, ``InsufficientFunds``...), the old one
        stays open, unchanged.
        """
        old = self._lookup(id, params if params and "clientOrderId" in params else None)
        if old.status != _OPEN:
            raise ccxt.OrderNotFound(f"paper order {old.id} is {old.status}, not open")
        if old.symbol != symbol:
            raise ccxt.BadRequest(f"paper order {old.id} is on {old.symbol}, was {symbol}")
        p: dict[str, Any] = {"reduceOnly": old.reduce_only, "postOnly": old.post_only}
        if old.trigger_kind == "trailing" and not old.triggered:
            p["trailingPercent"] = old.trailing_percent
            if old.trailing_activation is not None:
                p["trailingTriggerPrice"] = old.trailing_activation
        elif old.trigger_kind == "stop" and not old.triggered:
            p["stopLossPrice"] = old.trigger_price
        elif old.trigger_kind == "take_profit" and not old.triggered:
            p["takeProfitPrice"] = old.trigger_price
        p.update({k: v for k, v in (params or {}).items() if k != "clientOrderId"})
        new_amount = amount if amount is not None else old.amount - old.filled
        new_price = price if price is not None else (old.price if type == "limit" else None)
        self._release(old)
        old.status = _CANCELED
        try:
            return await self.create_order(symbol, type, side, new_amount, new_price, p)
        except Exception:
            old.status = _OPEN
            self._reserve(old, self._market_defs[old.symbol], self._mid(symbol) or 0.0)
            raise

    async def _create_with(
        self,
        method: str,
        key: str,
        value: Any,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        params: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """``create_order`` with ``params[key] = value`` (required: None is refused)."""
        if value is None:
            raise ccxt.ArgumentsRequired(f"paper {method}() requires a {key}")
        return await self.create_order(
            symbol, type, side, amount, price, {**(params or {}), key: value}
        )

    async def create_limit_order(
        self,
        symbol: str,
        side: str,
        amount: float,
        price: float,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``create_order(symbol, 'limit', side, amount, price, params)``."""
        return await self.create_order(symbol, "limit", side, amount, price, params)

    async def create_market_order(
        self,
        symbol: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``create_order(symbol, 'market', side, amount, None, params)``."""
        return await self.create_order(symbol, "market", side, amount, None, params)

    async def create_limit_buy_order(
        self, symbol: str, amount: float, price: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A limit buy."""
        return await self.create_order(symbol, "limit", "buy", amount, price, params)

    async def create_limit_sell_order(
        self, symbol: str, amount: float, price: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A limit sell."""
        return await self.create_order(symbol, "limit", "sell", amount, price, params)

    async def create_market_buy_order(
        self, symbol: str, amount: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A market buy."""
        return await self.create_order(symbol, "market", "buy", amount, None, params)

    async def create_market_sell_order(
        self, symbol: str, amount: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A market sell."""
        return await self.create_order(symbol, "market", "sell", amount, None, params)

    async def create_post_only_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A maker-only limit (refused with ``OrderImmediatelyFillable`` if it would take)."""
        return await self._create_with(
            "createPostOnlyOrder", "postOnly", True, symbol, type, side, amount, price, params
        )

    async def create_reduce_only_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An order that may only reduce a derivative position."""
        return await self._create_with(
            "createReduceOnlyOrder", "reduceOnly", True, symbol, type, side, amount, price, params
        )

    async def create_stop_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        triggerPrice: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A stop triggering at ``triggerPrice`` (ccxt sends it as ``stopPrice``)."""
        return await self._create_with(
            "createStopOrder", "stopPrice", triggerPrice, symbol, type, side, amount, price, params
        )

    async def create_stop_limit_order(
        self,
        symbol: str,
        side: str,
        amount: float,
        price: float,
        triggerPrice: float,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A stop that becomes a limit at ``price`` once ``triggerPrice`` trades."""
        return await self.create_stop_order(
            symbol, "limit", side, amount, price, triggerPrice, params
        )

    async def create_stop_market_order(
        self,
        symbol: str,
        side: str,
        amount: float,
        triggerPrice: float,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A stop that becomes a market order once ``triggerPrice`` trades."""
        return await self.create_stop_order(
            symbol, "market", side, amount, None, triggerPrice, params
        )

    async def create_trigger_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        triggerPrice: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A stop-like trigger order (``params.triggerPrice``)."""
        return await self._create_with(
            "createTriggerOrder",
            "triggerPrice",
            triggerPrice,
            symbol,
            type,
            side,
            amount,
            price,
            params,
        )

    async def create_stop_loss_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        stopLossPrice: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A stop loss (``params.stopLossPrice``)."""
        return await self._create_with(
            "createStopLossOrder",
            "stopLossPrice",
            stopLossPrice,
            symbol,
            type,
            side,
            amount,
            price,
            params,
        )

    async def create_take_profit_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        takeProfitPrice: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A take-profit trigger (``params.takeProfitPrice``)."""
        return await self._create_with(
            "createTakeProfitOrder",
            "takeProfitPrice",
            takeProfitPrice,
            symbol,
            type,
            side,
            amount,
            price,
            params,
        )

    async def create_trailing_percent_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        trailingPercent: float | None = None,
        trailingTriggerPrice: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A trailing stop ``trailingPercent`` % behind the best price since activation."""
        if trailingPercent is None:
            raise ccxt.ArgumentsRequired(
                "paper createTrailingPercentOrder() requires a trailingPercent"
            )
        extra: dict[str, Any] = {**(params or {}), "trailingPercent": trailingPercent}
        if trailingTriggerPrice is not None:
            extra["trailingTriggerPrice"] = trailingTriggerPrice
        return await self.create_order(symbol, type, side, amount, price, extra)

    async def create_market_order_with_cost(
        self, symbol: str, side: str, cost: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A market order for ``cost`` of quote currency, sized by walking the current book.

        The amount is what ``cost`` buys (or, for a sell, what must be sold to receive it)
        at the book's levels, truncated to the amount step.
        """
        await self.load_markets()
        if not (isinstance(cost, (int, float)) and cost > 0 and math.isfinite(cost)):
            raise ccxt.InvalidOrder(f"paper order cost must be a number > 0, was {cost!r}")
        if side not in ("buy", "sell"):
            raise ccxt.InvalidOrder(f"paper order side must be buy or sell, was {side!r}")
        bids, asks = self._sides(symbol)
        amount, left = 0.0, float(cost)
        cs = self._def(symbol).contract_size
        for px, qty in asks if side == "buy" else bids:
            take = min(qty, left / (px * cs))
            amount += take
            left -= take * px * cs
            if left <= _EPS * max(1.0, cost):
                break
        return await self.create_order(symbol, "market", side, amount, None, params)

    async def create_market_buy_order_with_cost(
        self, symbol: str, cost: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A market buy spending ``cost`` of quote currency."""
        return await self.create_market_order_with_cost(symbol, "buy", cost, params)

    async def create_market_sell_order_with_cost(
        self, symbol: str, cost: float, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A market sell receiving ``cost`` of quote currency."""
        return await self.create_market_order_with_cost(symbol, "sell", cost, params)

    # ------------------------------------------------------------------ market data
    async def fetch_markets(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The unified markets as a list."""
        return list((await self.load_markets()).values())

    async def fetch_order_book(
        self, symbol: str, limit: int | None = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The live book as a unified order book (``limit`` levels per side, or all)."""
        await self.load_markets()
        self._def(symbol)
        if limit is not None and limit < 1:
            raise ccxt.BadRequest(f"paper order book limit must be >= 1, was {limit}")
        bids, asks = self._sides(symbol)
        now = self._clock()
        return {
            "symbol": symbol,
            "bids": [[float(px), float(qty)] for px, qty in list(bids)[:limit]],
            "asks": [[float(px), float(qty)] for px, qty in list(asks)[:limit]],
            "timestamp": now,
            "datetime": self.iso8601(now),
            "nonce": None,
        }

    async def fetch_ticker(
        self, symbol: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Top of the live book plus 24 h statistics of the public tape (data time)."""
        await self.load_markets()
        self._def(symbol)
        bids, asks = self._sides(symbol)
        now = self._clock()
        prints = [t for t in self._tape.get(symbol, ()) if t["timestamp"] > now - 86_400_000]
        last = prints[-1]["price"] if prints else None
        open_ = prints[0]["price"] if prints else None
        cs = self._def(symbol).contract_size  # volumes in base units, amounts in contracts
        base_vol = sum(t["amount"] for t in prints) * cs if prints else None
        quote_vol = sum(t["cost"] for t in prints) if prints else None
        change = last - open_ if last is not None and open_ is not None else None
        return {
            "symbol": symbol,
            "timestamp": now,
            "datetime": self.iso8601(now),
            "high": max(t["price"] for t in prints) if prints else None,
            "low": min(t["price"] for t in prints) if prints else None,
            "bid": bids[0][0] if bids else None,
            "bidVolume": bids[0][1] if bids else None,
            "ask": asks[0][0] if asks else None,
            "askVolume": asks[0][1] if asks else None,
            "vwap": quote_vol / base_vol if base_vol else None,
            "open": open_,
            "close": last,
            "last": last,
            "previousClose": None,
            "change": change,
            "percentage": change / open_ * 100.0 if change is not None and open_ else None,
            "average": (open_ + last) / 2.0 if open_ is not None and last is not None else None,
            "baseVolume": base_vol,
            "quoteVolume": quote_vol,
            "markPrice": self._mid(symbol),
            "indexPrice": None,
            "info": {},
        }

    async def fetch_tickers(
        self, symbols: Sequence[str] | None = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Tickers of ``symbols`` (default: every market)."""
        await self.load_markets()
        return {s: await self.fetch_ticker(s) for s in (symbols or self.symbols)}

    def record_trade(
        self, symbol: str, timestamp: int, price: float, amount: float, side: str | None
    ) -> None:
        """Append a market print to the public tape (``side`` is the taker's, or None).

        The paper fills are recorded here too. Each symbol keeps the last ``tape_size``
        prints; older ones are dropped and counted in ``tape_dropped``.
        """
        self._def(symbol)
        if not (price > 0 and amount > 0 and math.isfinite(price) and math.isfinite(amount)):
            raise ValueError(f"a print needs price and amount > 0, was {price} x {amount}")
        if side not in ("buy", "sell", None):
            raise ValueError(f"a print's side is buy, sell or None, was {side!r}")
        tape = self._tape.setdefault(symbol, deque(maxlen=self._tape_size))
        if len(tape) == self._tape_size:
            self.tape_dropped += 1
        tape.append(
            {
                "id": str(next(self._tape_ids)),
                "order": None,
                "symbol": symbol,
                "type": None,
                "side": side,
                "takerOrMaker": "taker" if side is not None else None,
                "price": price,
                "amount": amount,
                "cost": price * amount * self._def(symbol).contract_size,
                "fee": None,
                "fees": [],
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                "info": {},
            }
        )

    async def fetch_trades(
        self,
        symbol: str,
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Public prints of ``symbol`` from the tape, oldest first."""
        await self.load_markets()
        self._def(symbol)
        out = [
            _copy_trade(t)
            for t in self._tape.get(symbol, ())
            if since is None or t["timestamp"] >= since
        ]
        return out[:limit] if limit else out

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[list[float]]:
        """Candles ``[ts, open, high, low, close, volume]`` built from the public tape.

        Only periods with prints have a candle (no forward-filled empty candles).
        """
        await self.load_markets()
        self._def(symbol)
        if timeframe not in self.timeframes:
            raise ccxt.BadRequest(
                f"paper timeframe must be one of {', '.join(self.timeframes)}, was {timeframe!r}"
            )
        period = int(ccxt.Exchange.parse_timeframe(timeframe)) * 1000
        candles: dict[int, list[float]] = {}
        cs = self._def(symbol).contract_size  # the volume in base units, amounts in contracts
        for t in self._tape.get(symbol, ()):
            if since is not None and t["timestamp"] < since:
                continue
            start = t["timestamp"] // period * period
            px, qty = t["price"], t["amount"] * cs
            c = candles.get(start)
            if c is None:
                candles[start] = [start, px, px, px, px, qty]
            else:
                c[2], c[3], c[4], c[5] = max(c[2], px), min(c[3], px), px, c[5] + qty
        out = [candles[k] for k in sorted(candles)]
        return out[:limit] if limit else out

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
        average = o.cost / (o.filled * mdef.contract_size) if o.filled > 0 else None
        fee = {"cost": o.fee, "currency": mdef.quote}
        if o.post_only:
            tif = "PO"
        else:
            tif = "IOC" if o.type == "market" else "GTC"
        stop = o.trigger_price if o.trigger_kind in ("stop", "trailing") else None
        return {
            "id": o.id,
            "clientOrderId": o.client_order_id,
            "timestamp": o.timestamp,
            "datetime": o.datetime,
            "lastTradeTimestamp": o.last_trade_ts,
            "lastUpdateTimestamp": o.last_trade_ts or o.timestamp,
            "symbol": o.symbol,
            "type": o.type,
            "timeInForce": tif,
            "postOnly": o.post_only,
            "reduceOnly": o.reduce_only,
            "side": o.side,
            "price": o.price if o.price is not None else average,
            "average": average,
            "amount": o.amount,
            "filled": o.filled,
            "remaining": _snap(o.amount - o.filled, mdef.amount_step),
            "cost": o.cost,
            "status": o.status,
            "fee": fee,
            "fees": [dict(fee)],
            "trades": [_copy_trade(t) for t in o.trades],
            "triggerPrice": o.trigger_price,
            "stopPrice": o.trigger_price,
            "stopLossPrice": stop,
            "takeProfitPrice": o.trigger_price if o.trigger_kind == "take_profit" else None,
            "info": {
                "trigger_kind": o.trigger_kind,
                "trailingPercent": o.trailing_percent,
                "triggered": o.triggered,
            },
        }


def _copy_trade(t: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a trade structure that shares no mutable part with the venue's record."""
    out = dict(t)
    if out.get("fee") is not None:
        out["fee"] = dict(out["fee"])
    out["fees"] = [dict(f) for f in out.get("fees") or []]
    out["info"] = dict(out.get("info") or {})
    return out
