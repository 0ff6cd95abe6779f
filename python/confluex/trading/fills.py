"""Fill accounting: positions are built from confirmed fills only, fees included.

``FillLedger.apply`` books the not-yet-seen part of an order's fills into the symbol's
``Position`` and emits a ``FillEvent``: entries add to the position (on spot net of a fee
charged in the base asset, as Binance spot does without BNB), exits reduce it and realise PnL.
On a contract market no fee is taken from the amount: the venue charges it to the margin
balance (ccxt reports it in the settle currency on linear swaps, in the base on inverse ones)
and the position holds every contract filled; a base-currency fee is valued in quote at the
fill price, like any other fee. Each
order's booked fill is remembered per order id, so polling the same order again never books
it twice.

Fees: an order fetched by id or client id (rather than the create response) often carries no
fee (Binance's ``GET /api/v3/order`` has no ``fills``); ``book`` then takes the fee from the
order's trades (``fetch_order_trades``, else ``fetch_my_trades`` filtered by order id), so a
fee charged in the base asset is never booked as held.

A fee charged in a third currency (Binance's BNB discount, a venue's fee token) is neither base
nor quote: ``book`` values it at the venue's ``<currency>/<quote>`` price from ``fee_rate``
(``OrderRouter.conversion_rate``: the ticker, cached for ``RATE_TTL_MS``). Where no price is
known the fee is not booked as quote (one BNB is not one USDT): it is kept per currency in
``Position.unpriced_fees`` and the first one of each currency is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .types import OrderIntent, Side

if TYPE_CHECKING:
    from .risk import RiskManager

__all__ = [
    "RATE_TTL_MS",
    "TERMINAL",
    "EntryPlan",
    "FillEvent",
    "FillLedger",
    "OrderFees",
    "Position",
    "contract_size",
    "fee_of",
    "inverse_refusal",
]

#: How long FillLedger reuses a third fee currency's price (ms of the ledger's clock).
RATE_TTL_MS = 60_000

log = logging.getLogger(__name__)

TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")


def contract_size(market: Mapping[str, Any]) -> float:
    """Base units in one unit of an order's amount on ``market``: ccxt's ``contractSize`` on
    a contract market (OKX BTC-USDT-SWAP: 0.01), 1 on spot. A linear amount's quote notional
    is amount x price x this."""
    if not market.get("contract"):
        return 1.0
    return float(market.get("contractSize") or 1.0)


def inverse_refusal(market: Mapping[str, Any]) -> str | None:
    """Why ``market`` is refused when it is an inverse contract market (its contracts worth a
    fixed quote amount, settled in the base currency: nothing here accounts in its units),
    else None."""
    if not market.get("inverse"):
        return None
    return (
        f"inverse contract market (contractSize {market.get('contractSize')} "
        f"{market.get('quote')}, settled in {market.get('settle')}) is not supported: "
        f"sizing, positions, PnL and risk limits are in the quote currency"
    )


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One confirmed fill (or fill increment) of an order: the ``trade_alerts`` payload."""

    event: Literal["filled", "partially_filled"]
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    trade_type: Literal["entry", "exit"]
    filled_amount: float
    average_fill_price: float
    remaining: float
    #: the fee in the market's quote currency (a base or third currency's fee valued in it;
    #: an unpriced third currency's left out: ``Position.unpriced_fees``)
    fee_cost: float
    #: the currency the venue charged the fee in (what ``fee_cost`` was converted from)
    fee_currency: str | None
    position_size_usd: float
    confluence_score: float | None
    stop_loss: float | None
    take_profit: float | None
    exchange: str
    simulated: bool
    transaction_id: str
    realized_pnl: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """What a position opened by an entry order is meant to be: journaled with the entry, so
    that a restart can rebuild the position with its protection."""

    direction: Literal["long", "short"]
    score: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_pct: float | None = None

    @classmethod
    def of(cls, intent: OrderIntent) -> EntryPlan:
        return cls(
            direction="long" if intent.side is Side.BUY else "short",
            score=intent.score,
            stop_loss=intent.stop_loss,
            take_profit=intent.take_profit,
            trailing_pct=intent.trailing_stop_pct,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EntryPlan:
        direction: Literal["long", "short"] = "short" if d.get("direction") == "short" else "long"

        def num(key: str) -> float | None:
            v = d.get(key)
            return float(v) if isinstance(v, (int, float)) else None

        keys = ("score", "stop_loss", "take_profit", "trailing_pct")
        return cls(direction, *(num(k) for k in keys))


@dataclass(slots=True)
class Position:
    """A position built from confirmed fills only.

    ``amount`` is in the market's amount unit (contracts on a contract market), each of
    ``contract_size`` base units: money figures (``notional``, realised PnL) multiply by it.
    """

    symbol: str
    direction: Literal["long", "short"]
    amount: float
    entry_price: float
    contract: bool
    opened_ms: int
    score: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_pct: float | None = None
    trail_mode: str | None = None  # native | replace | client
    stop_mode: str | None = None  # native | client
    tp_mode: str | None = None  # native | client
    stop_order_id: str | None = None
    tp_order_id: str | None = None
    trail_extreme: float | None = None
    realized_pnl: float = 0.0
    fees: float = 0.0
    #: fees in a third currency whose price in quote was not known: currency -> amount
    unpriced_fees: dict[str, float] = field(default_factory=dict)
    seen_fill: dict[str, float] = field(default_factory=dict)
    contract_size: float = 1.0

    @property
    def exit_side(self) -> str:
        return "sell" if self.direction == "long" else "buy"

    @property
    def notional(self) -> float:
        """Quote notional at entry: amount x entry price x contract size."""
        return self.amount * self.entry_price * self.contract_size


def _reported_fees(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The fee entries of the order structure that carry a cost (ccxt: ``fees``, else
    ``fee``)."""
    fees = order.get("fees") or ([order["fee"]] if order.get("fee") else [])
    return [f for f in fees if f and f.get("cost") is not None]


def has_fee(order: Mapping[str, Any]) -> bool:
    """Whether the order structure reports its fee (a fee of 0 counts)."""
    return bool(_reported_fees(order))


class OrderFees(NamedTuple):
    """An order's fees, split by how they are booked."""

    quote: float  #: in quote: quote fees, base fees at the fill price, priced third ones
    base: float  #: charged in the base currency (taken from a spot buy)
    currency: str | None  #: the (last) fee currency the order reports
    unpriced: dict[str, float]  #: third-currency fees without a price: currency -> amount


def fee_of(
    order: Mapping[str, Any],
    market: Mapping[str, Any],
    avg: float,
    rates: Mapping[str, float] | None = None,
) -> OrderFees:
    """``order``'s fees: a base fee valued at the fill price ``avg``, a third currency's at
    ``rates[currency]`` (its price in quote) or else left unpriced; a fee without a currency
    counts as quote."""
    quote_fee = base_fee = 0.0
    currency: str | None = None
    unpriced: dict[str, float] = {}
    base, quote = market.get("base"), market.get("quote")
    for f in _reported_fees(order):
        cost = float(f["cost"])
        ccy = f.get("currency")
        currency = ccy or currency
        if ccy is not None and ccy == base:
            base_fee += cost
            quote_fee += cost * avg
        elif ccy is None or ccy == quote:
            quote_fee += cost
        elif rates is not None and ccy in rates:
            quote_fee += cost * rates[ccy]
        else:
            unpriced[ccy] = unpriced.get(ccy, 0.0) + cost
    return OrderFees(quote_fee, base_fee, currency, unpriced)


class FillLedger:
    """Open positions by symbol, updated from orders' confirmed fills.

    Parameters
    ----------
    market
        ``symbol -> ccxt market dict`` (base currency, ``contract``).
    clock
        Milliseconds since the epoch.
    risk
        Receives every fill's realised PnL and fee (daily loss limit).
    notify
        ``notify(kind, value)`` with kind ``"order"`` / ``"fill"`` / ``"position"``.
    """

    def __init__(
        self,
        *,
        market: Callable[[str], dict[str, Any]],
        clock: Callable[[], int],
        risk: RiskManager | None,
        exchange_name: str,
        simulated: bool,
        notify: Callable[[str, Any], None],
        trades: Callable[[str, str], Awaitable[list[dict[str, Any]] | None]] | None = None,
        fee_rate: Callable[[str, str], Awaitable[float | None]] | None = None,
    ) -> None:
        self.positions: dict[str, Position] = {}
        self._trades = trades
        self._fee_rate = fee_rate
        self._rates: dict[tuple[str, str], tuple[int, float]] = {}  # (ccy, quote) -> (ms, px)
        self._unpriced_logged: set[str] = set()
        self._market = market
        self._clock = clock
        self._risk = risk
        self._exchange_name = exchange_name
        self._simulated = simulated
        self._notify = notify

    def min_amount(self, symbol: str) -> float:
        limits = self._market(symbol).get("limits") or {}
        return float((limits.get("amount") or {}).get("min") or 0.0)

    def is_flat(self, pos: Position) -> bool:
        """No amount left, or less than the venue minimum (dust that cannot be sold)."""
        return pos.amount <= 0 or pos.amount < self.min_amount(pos.symbol)

    def drop_if_flat(self, pos: Position) -> bool:
        """Forget ``pos`` if it is flat; True if it was dropped."""
        if self.is_flat(pos) and self.positions.get(pos.symbol) is pos:
            del self.positions[pos.symbol]
            self._notify("flat", pos.symbol)
            return True
        return False

    async def book(
        self,
        order: dict[str, Any],
        trade_type: Literal["entry", "exit"],
        plan: EntryPlan | None = None,
    ) -> Position | None:
        """``apply`` after completing a fee the order structure lacks from its trades."""
        if float(order.get("filled") or 0.0) > 0 and not has_fee(order) and self._trades:
            trades = await self._trades(str(order["id"]), str(order["symbol"]))
            if trades:
                fees = [f for t in trades for f in (t.get("fees") or [t.get("fee")]) if f]
                order = {**order, "fees": fees, "fee": None}
            else:
                log.warning("no fee known for order %s on %s", order["id"], order["symbol"])
        return self.apply(order, trade_type, plan, await self._third_rates(order))

    async def fee_in_quote(self, order: dict[str, Any]) -> float:
        """``order``'s whole fee in quote, priced as ``book`` prices it (an unpriced third
        currency's fee is left out)."""
        market = self._market(str(order["symbol"]))
        avg = float(order.get("average") or order.get("price") or 0.0)
        return fee_of(order, market, avg, await self._third_rates(order)).quote

    async def _third_rates(self, order: dict[str, Any]) -> dict[str, float]:
        """Prices in quote of ``order``'s third fee currencies that ``fee_rate`` knows."""
        market = self._market(str(order["symbol"]))
        thirds = fee_of(order, market, 0.0).unpriced  # no rates: every third currency
        if not thirds or self._fee_rate is None:
            return {}
        quote = str(market.get("quote"))
        now = self._clock()
        rates: dict[str, float] = {}
        for ccy in sorted(thirds):
            cached = self._rates.get((ccy, quote))
            if cached is not None and now - cached[0] < RATE_TTL_MS:
                rates[ccy] = cached[1]
                continue
            price = await self._fee_rate(ccy, quote)
            if price is not None and price > 0.0:
                self._rates[(ccy, quote)] = (now, price)
                rates[ccy] = price
        return rates

    def apply(
        self,
        order: dict[str, Any],
        trade_type: Literal["entry", "exit"],
        plan: EntryPlan | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> Position | None:
        """Book the not-yet-seen part of ``order``'s fills into the position; emit a FillEvent.

        ``rates``: prices in quote of the order's third fee currencies (see ``book``)."""
        symbol = str(order["symbol"])
        oid = str(order["id"])
        filled_total = float(order.get("filled") or 0.0)
        pos = self.positions.get(symbol)
        seen = pos.seen_fill.get(oid, 0.0) if pos is not None else 0.0
        delta = filled_total - seen
        if delta <= 1e-15:
            return pos
        market = self._market(symbol)
        avg = float(order.get("average") or order.get("price") or 0.0)
        fees = fee_of(order, market, avg, rates)
        share = delta / filled_total
        fee, base_fee, fee_ccy = fees.quote * share, fees.base * share, fees.currency
        now = self._clock()
        realized = 0.0
        if trade_type == "entry":
            # spot: a base fee is taken from what was bought; a contract market charges every
            # fee to the margin balance, never to the contracts held (a position net of it
            # would leave fee / contractSize contracts open at the venue after the exit)
            net = delta if market.get("contract") else delta - base_fee
            if pos is None:
                assert plan is not None
                pos = Position(
                    symbol=symbol,
                    direction=plan.direction,
                    amount=net,
                    entry_price=avg,
                    contract=bool(market.get("contract")),
                    opened_ms=now,
                    contract_size=contract_size(market),
                    score=plan.score,
                    stop_loss=plan.stop_loss,
                    take_profit=plan.take_profit,
                    trailing_pct=plan.trailing_pct,
                )
                self.positions[symbol] = pos
            else:
                pos.entry_price = (pos.entry_price * pos.amount + avg * delta) / (pos.amount + net)
                pos.amount += net
        else:
            if pos is None:
                log.error("exit fill of order %s on %s without a position", oid, symbol)
                return None
            qty = min(delta, pos.amount)
            sign = 1.0 if pos.direction == "long" else -1.0
            realized = (avg - pos.entry_price) * qty * sign * pos.contract_size
            pos.amount -= qty
            pos.realized_pnl += realized
        pos.fees += fee
        for ccy, amount in fees.unpriced.items():
            pos.unpriced_fees[ccy] = pos.unpriced_fees.get(ccy, 0.0) + amount * share
            if ccy not in self._unpriced_logged:
                self._unpriced_logged.add(ccy)
                log.warning(
                    "fee of order %s on %s in %s: no %s/%s price known, kept unpriced "
                    "(Position.unpriced_fees), not booked as %s",
                    oid, symbol, ccy, ccy, market.get("quote"), market.get("quote"),
                )  # fmt: skip
        pos.seen_fill[oid] = filled_total
        if self._risk is not None:
            self._risk.record_fill(realized, fee)
        status = str(order.get("status"))
        remaining = order.get("remaining")
        event = FillEvent(
            event="filled" if status == "closed" else "partially_filled",
            order_id=oid,
            client_order_id=str(order.get("clientOrderId") or ""),
            symbol=symbol,
            side=str(order.get("side")),
            trade_type=trade_type,
            filled_amount=delta,
            average_fill_price=avg,
            remaining=float(remaining) if remaining is not None else 0.0,
            fee_cost=fee,
            fee_currency=fee_ccy,
            position_size_usd=delta * avg * pos.contract_size,
            confluence_score=pos.score,
            stop_loss=pos.stop_loss,
            take_profit=pos.take_profit,
            exchange=self._exchange_name,
            simulated=self._simulated,
            transaction_id=f"{oid}:{filled_total:g}",
            realized_pnl=realized,
            timestamp=now,
        )
        log.info("%s %s %s %g @ %g (order %s)", trade_type, event.event, symbol, delta, avg, oid)
        self._notify("order", order)
        self._notify("fill", event)
        self._notify("position", pos)
        return pos
