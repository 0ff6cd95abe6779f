"""Order execution through an async ccxt-style exchange, built for money safety.

The same ``Executor`` drives a real ``ccxt.async_support.<venue>`` instance and the
``PaperExchange``. The rules it keeps, and why:

- **Never duplicate an order.** Each order gets a client order id that is journaled (fsync)
  *before* the request is sent. After a timeout or network error the order is looked up by
  that id before anything is resent, and it is resent (with the same id) only when the
  venue answered "no such order". If the lookup itself cannot get an answer the order is
  reported as unknown and *not* resent; the journal keeps it for recovery (``start``).
  ``lookup_grace_s`` waits before the lookup so that a request still in flight lands
  first; on Binance, a request older than ``recvWindow`` is refused by the venue, so a
  grace of ``recvWindow`` makes the lookup conclusive.
- **Rate limits** (``ccxt.RateLimitExceeded``, ``ccxt.DDoSProtection``: HTTP 429/418) back
  off exponentially and go through the same lookup-then-resend path with the same id.
  ``ccxt.InsufficientFunds`` and other venue rejections are final: no retry.
- **Positions come from confirmed fills** (the order's ``filled``/``average``/``status``,
  polled until terminal), partial fills included, never from submissions.
- **Shorts only on derivatives.** A sell intent on a spot market is rejected with a reason.
- **Sizing** converts the intent's quote size to a base amount with the market's precision
  and limits; a size that rounds to zero or is under ``limits.amount.min`` or
  ``limits.cost.min`` is rejected and never sent.
- **Paper by default.** A non-paper exchange is refused unless ``live=True`` and the
  exchange carries credentials. Credentials never appear in logs, reprs or messages: every
  message that leaves this module goes through ``redact``.

Protective orders: the stop loss and the trailing stop use ccxt's unified params
(``stopLossPrice``, ``trailingPercent``, ``reduceOnly``) when the venue supports them
(``exchange.has``); otherwise ``ClientStops`` emulates them from the prices the engine
feeds to ``on_price`` and fires a reduce market order. ``trailing_mode="replace"`` keeps a
native fixed stop and cancels/replaces it as the price moves (cancel first, then place:
on spot the stop locks the balance, so the new stop cannot be placed while the old one
lives; the gap is one round trip). On spot markets the stop and a take-profit limit would
both lock the same base balance, so when a native stop is placed the take profit is
watched client-side (as Binance users do with OCO); on derivatives both are native and
reduce-only. ``OrderIntent.trailing_stop_pct`` is a fraction (0.02 = 2 %), as the position
manager's ``trailing_stop_pct`` config.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

from .risk import Rejection, RiskManager
from .store import OrderJournal, new_client_order_id
from .types import OrderIntent, Side

__all__ = [
    "ClientStop",
    "ClientStops",
    "ExecutionSettings",
    "Executor",
    "FillEvent",
    "Position",
    "StopTrigger",
    "redact",
]

log = logging.getLogger(__name__)

_TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")
_CREDENTIAL_ATTRS = ("apiKey", "secret", "password", "uid", "privateKey", "walletAddress", "token")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-trivial secret replaced by ``***``."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text


class _RedactingFilter(logging.Filter):
    """Masks registered credentials in log records (ccxt's DEBUG log prints API-key headers)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            masked = redact(msg, self.secrets)
            if masked != msg:
                record.msg, record.args = masked, None
        return True


_LOG_FILTER = _RedactingFilter()
_FILTERED_LOGGERS = (__name__, "ccxt.base.exchange", "ccxt.async_support.base.exchange")


def _register_secrets(secrets: Iterable[str]) -> None:
    _LOG_FILTER.secrets.update(s for s in secrets if s and len(s) >= 4)
    for name in _FILTERED_LOGGERS:
        lg = logging.getLogger(name)
        if _LOG_FILTER not in lg.filters:
            lg.addFilter(_LOG_FILTER)


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    """Executor behaviour (the config layer maps its keys onto this)."""

    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    lookup_grace_s: float = 1.0
    fill_poll_interval_s: float = 0.25
    fill_timeout_s: float = 15.0
    stop_mode: Literal["auto", "native", "client"] = "auto"
    trailing_mode: Literal["auto", "native", "replace", "client"] = "auto"
    client_id_prefix: str = "cfx"
    kill_on_daily_loss: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, was {self.max_attempts}")
        for name in (
            "backoff_initial_s",
            "backoff_max_s",
            "lookup_grace_s",
            "fill_poll_interval_s",
            "fill_timeout_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, was {getattr(self, name)}")

    def backoff(self, attempt: int) -> float:
        """Exponential backoff before retry number ``attempt`` (1-based), capped."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** (attempt - 1))


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
    fee_cost: float
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


@dataclass(slots=True)
class Position:
    """A position built from confirmed fills only."""

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
    seen_fill: dict[str, float] = field(default_factory=dict)

    @property
    def exit_side(self) -> str:
        return "sell" if self.direction == "long" else "buy"

    @property
    def notional(self) -> float:
        return self.amount * self.entry_price


@dataclass(frozen=True, slots=True)
class StopTrigger:
    """A client-side stop, trailing stop or take profit that fired."""

    symbol: str
    kind: Literal["stop", "trailing", "take_profit"]
    price: float


@dataclass(slots=True)
class ClientStop:
    """Emulated protection for one position. ``exit_side`` is the side that closes it."""

    symbol: str
    exit_side: str
    stop_price: float | None = None
    trailing_pct: float | None = None
    take_profit: float | None = None
    extreme: float | None = None


class ClientStops:
    """Client-side stops, trailing stops and take profits, fed with best quotes.

    A sell-side exit (long position) watches the best bid, a buy-side exit the best ask:
    the price the reduce market order would trade at. ``update`` returns the trigger to
    act on (at most one per symbol and call) and removes the stop that fired.
    """

    def __init__(self) -> None:
        self._stops: dict[str, ClientStop] = {}

    def set(self, stop: ClientStop) -> None:
        """Install or replace the protection of ``stop.symbol``."""
        if stop.trailing_pct is not None and not 0 < stop.trailing_pct < 1:
            raise ValueError(f"trailing_pct must be a fraction in (0, 1), was {stop.trailing_pct}")
        self._stops[stop.symbol] = stop

    def get(self, symbol: str) -> ClientStop | None:
        return self._stops.get(symbol)

    def remove(self, symbol: str) -> None:
        self._stops.pop(symbol, None)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._stops

    def update(self, symbol: str, bid: float | None, ask: float | None) -> StopTrigger | None:
        """Feed the best quotes; returns the trigger that fired, if any."""
        st = self._stops.get(symbol)
        if st is None:
            return None
        sell = st.exit_side == "sell"
        px = bid if sell else ask
        if px is None or not math.isfinite(px) or px <= 0:
            return None
        trig = self._check(st, px, sell)
        if trig is not None:
            del self._stops[symbol]
        return trig

    @staticmethod
    def _check(st: ClientStop, px: float, sell: bool) -> StopTrigger | None:
        if st.trailing_pct is not None:
            if st.extreme is None or (px > st.extreme if sell else px < st.extreme):
                st.extreme = px
            level = st.extreme * (1 - st.trailing_pct if sell else 1 + st.trailing_pct)
            if st.stop_price is not None:
                level = max(level, st.stop_price) if sell else min(level, st.stop_price)
            if (px <= level) if sell else (px >= level):
                return StopTrigger(st.symbol, "trailing", px)
        elif st.stop_price is not None and (
            (px <= st.stop_price) if sell else (px >= st.stop_price)
        ):
            return StopTrigger(st.symbol, "stop", px)
        if st.take_profit is not None and (
            (px >= st.take_profit) if sell else (px <= st.take_profit)
        ):
            return StopTrigger(st.symbol, "take_profit", px)
        return None


class _Unknown(Exception):
    """The venue could not tell whether an order exists (lookups kept failing)."""


class Executor:
    """Places, protects and closes positions on one exchange; see the module docstring.

    Parameters
    ----------
    exchange
        An async ccxt exchange or a ``PaperExchange`` (anything with ``paper = True``).
    settings
        ``ExecutionSettings``.
    journal
        ``OrderJournal`` for client order ids (in-memory if omitted; pass a path-backed one
        for crash recovery).
    risk
        ``RiskManager`` checked before every opening order (none: no limits).
    live
        Must be True to accept a non-paper exchange (which must also carry credentials).
    on_fill
        Called with every ``FillEvent`` (e.g. ``AlertServer.publish_fill``); must not block.
    on_order, on_position
        Called with every accepted/updated ccxt order dict and with the ``Position`` after each
        fill (e.g. ``AlertServer.publish_order`` / ``publish_position``); must not block.
    clock
        Milliseconds since the epoch.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        settings: ExecutionSettings | None = None,
        journal: OrderJournal | None = None,
        risk: RiskManager | None = None,
        live: bool = False,
        on_fill: Callable[[FillEvent], object] | None = None,
        on_order: Callable[[dict[str, Any]], object] | None = None,
        on_position: Callable[[Position], object] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._paper = bool(getattr(exchange, "paper", False))
        if not self._paper:
            if not live:
                raise ValueError(
                    "refusing a live exchange: paper trading is the default; construct the "
                    "Executor with live=True to trade real funds"
                )
            if not (getattr(exchange, "apiKey", None) and getattr(exchange, "secret", None)):
                raise ValueError("refusing a live exchange without API credentials")
        self._ex = exchange
        self.settings = settings or ExecutionSettings()
        self._journal = journal if journal is not None else OrderJournal(None)
        self._risk = risk
        self._on_fill = on_fill
        self._on_order = on_order
        self._on_position = on_position
        self._order_state: dict[str, tuple[Any, Any]] = {}
        self._clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self._positions: dict[str, Position] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.client_stops = ClientStops()
        self._killing = False
        self.exchange_name = str(getattr(exchange, "id", "unknown"))
        _register_secrets(self._secrets())

    def __repr__(self) -> str:
        mode = "paper" if self._paper else "live"
        return (
            f"Executor(exchange={self.exchange_name!r}, mode={mode}, "
            f"positions={sorted(self._positions)})"
        )

    # ------------------------------------------------------------------ helpers
    def _secrets(self) -> list[str]:
        return [str(v) for a in _CREDENTIAL_ATTRS if (v := getattr(self._ex, a, None))]

    def redact(self, text: str) -> str:
        """``text`` with the exchange's credentials masked."""
        return redact(text, self._secrets())

    def _describe(self, exc: BaseException) -> str:
        return self.redact(f"{type(exc).__name__}: {exc}")

    def _lock(self, symbol: str) -> asyncio.Lock:
        return self._locks.setdefault(symbol, asyncio.Lock())

    @property
    def positions(self) -> dict[str, Position]:
        """Open positions by symbol (a copy of the mapping)."""
        return dict(self._positions)

    def exposures(self) -> dict[str, float]:
        """Absolute notional (at entry) per symbol with an open position."""
        return {s: p.notional for s, p in self._positions.items() if p.amount > 0}

    def _market(self, symbol: str) -> dict[str, Any]:
        m: dict[str, Any] = self._ex.market(symbol)
        return m

    def _has(self, *names: str) -> bool:
        has = getattr(self._ex, "has", {}) or {}
        return any(bool(has.get(n)) for n in names)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load markets, enable the client rate limiter, resolve journaled orders."""
        self._ex.enableRateLimit = True
        await self._ex.load_markets()
        for entry in self._journal.unresolved():
            symbol = str(entry.intent.get("symbol"))
            try:
                found = await self._find_by_client_id(symbol, entry.client_order_id)
            except _Unknown:
                log.warning("order %s still unknown at start", entry.client_order_id)
                continue
            if found is None:
                self._journal.record_final(entry.client_order_id, "absent", "not at venue")
            else:
                self._journal.record_ack(
                    entry.client_order_id, str(found["id"]), str(found.get("status"))
                )

    # ------------------------------------------------------------------ sizing
    def quote_to_amount(self, symbol: str, quote_size: float, price: float) -> float | Rejection:
        """Base amount for ``quote_size`` at ``price`` with the market's precision and limits."""
        if not (quote_size > 0 and math.isfinite(quote_size)):
            return Rejection(symbol, f"quote size must be > 0, was {quote_size}")
        if not (price > 0 and math.isfinite(price)):
            return Rejection(symbol, f"reference price must be > 0, was {price}")
        market = self._market(symbol)
        csize = float(market.get("contractSize") or 1.0) if market.get("contract") else 1.0
        raw = quote_size / price / csize
        try:
            amount = float(self._ex.amount_to_precision(symbol, raw))
        except (ccxt.InvalidOrder, ccxt.ArgumentsRequired) as exc:
            return Rejection(
                symbol,
                f"size {raw:g} rounds to zero at the market precision ({self._describe(exc)})",
            )
        if amount <= 0:
            return Rejection(symbol, f"size {raw:g} rounds to zero at the market precision")
        limits = market.get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        if min_amount is not None and amount < float(min_amount):
            return Rejection(symbol, f"amount {amount:g} is under the venue minimum {min_amount}")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_cost is not None and amount * price * csize < float(min_cost):
            return Rejection(
                symbol,
                f"notional {amount * price * csize:.8g} is under the venue minimum cost {min_cost}",
            )
        return amount

    # ------------------------------------------------------------------ safe submit
    async def _submit(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None,
        params: Mapping[str, Any],
        purpose: str,
        *,
        trigger: bool = False,
    ) -> dict[str, Any] | Rejection:
        """Send one order without ever duplicating it (see the module docstring)."""
        cid = new_client_order_id(self.settings.client_id_prefix)
        self._journal.record_intent(
            cid,
            symbol=symbol,
            side=side,
            type=type,
            amount=amount,
            price=price,
            purpose=purpose,
            params=dict(params),
        )
        req = {**params, "clientOrderId": cid}
        attempt = 0
        while True:
            attempt += 1
            try:
                order: dict[str, Any] = await self._ex.create_order(
                    symbol, type, side, amount, price, req
                )
            except ccxt.InsufficientFunds as exc:
                return self._reject(cid, symbol, f"insufficient funds: {self._describe(exc)}")
            except (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended) as exc:
                msg = self._describe(exc)
                self._journal.record_final(cid, "rejected", msg)
                log.error("order %s refused by the venue: %s", cid, msg)
                raise type_of(exc)(msg) from None
            except ccxt.NetworkError as exc:
                rate_limited = isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection))
                delay = self.settings.backoff(attempt)
                if not rate_limited:
                    delay = max(delay, self.settings.lookup_grace_s)
                log.warning(
                    "order %s attempt %d: %s; looking it up in %.2fs",
                    cid,
                    attempt,
                    self._describe(exc),
                    delay,
                )
                await asyncio.sleep(delay)
                try:
                    found = await self._find_by_client_id(symbol, cid, trigger=trigger)
                except _Unknown:
                    msg = f"order {cid} state unknown after {self._describe(exc)}; not resent"
                    log.error(msg)
                    return Rejection(symbol, msg)
                if found is not None:
                    self._journal.record_ack(cid, str(found["id"]), str(found.get("status")))
                    return found
                if attempt >= self.settings.max_attempts:
                    return self._reject(
                        cid,
                        symbol,
                        f"not accepted after {attempt} attempts: {self._describe(exc)}",
                        status="absent",
                    )
                continue
            except ccxt.ExchangeError as exc:
                return self._reject(cid, symbol, f"rejected by the venue: {self._describe(exc)}")
            self._journal.record_ack(cid, str(order.get("id")), str(order.get("status")))
            if order.get("clientOrderId") is None:
                order["clientOrderId"] = cid
            self._order_update(order)
            return order

    def _order_update(self, order: dict[str, Any]) -> None:
        """Notify ``on_order`` when the order's (status, filled) changed since last time."""
        key = (order.get("status"), order.get("filled"))
        oid = str(order.get("id"))
        if self._order_state.get(oid) != key:
            self._order_state[oid] = key
            self._notify(self._on_order, order)

    def _notify(self, listener: Callable[[Any], object] | None, value: Any) -> None:
        if listener is None:
            return
        try:
            listener(value)
        except Exception as exc:  # a broken listener must not break execution
            log.error("listener failed: %s", self._describe(exc))

    def _reject(self, cid: str, symbol: str, reason: str, status: str = "rejected") -> Rejection:
        self._journal.record_final(cid, status, reason)
        log.warning("order %s on %s: %s", cid, symbol, reason)
        return Rejection(symbol, reason)

    async def _find_by_client_id(
        self, symbol: str, cid: str, *, trigger: bool = False
    ) -> dict[str, Any] | None:
        """The venue's order with client id ``cid``; None only if the venue says it is absent.

        Raises ``_Unknown`` when no lookup got an answer within ``max_attempts``.
        """
        extra: dict[str, Any] = {"trigger": True} if trigger else {}
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                if self._has("fetchOrder"):
                    try:
                        order: dict[str, Any] = await self._ex.fetch_order(
                            "", symbol, {"clientOrderId": cid, **extra}
                        )
                        return order
                    except (ccxt.NotSupported, ccxt.ArgumentsRequired):
                        pass
                for fetch in ("fetch_open_orders", "fetch_orders"):
                    if not hasattr(self._ex, fetch):
                        continue
                    orders: list[dict[str, Any]] = await getattr(self._ex, fetch)(symbol)
                    for o in orders:
                        if o.get("clientOrderId") == cid:
                            return o
                return None
            except ccxt.OrderNotFound:
                return None
            except ccxt.NetworkError as exc:
                log.warning("lookup of %s attempt %d: %s", cid, attempt, self._describe(exc))
                await asyncio.sleep(self.settings.backoff(attempt))
        raise _Unknown(cid)

    async def _fetch_order(
        self, order_id: str, symbol: str, *, trigger: bool = False
    ) -> dict[str, Any] | None:
        """Read-only order poll with retries (safe to repeat); None if it keeps failing."""
        extra: dict[str, Any] = {"trigger": True} if trigger else {}
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                order: dict[str, Any] = await self._ex.fetch_order(order_id, symbol, extra)
                return order
            except ccxt.NetworkError as exc:
                log.warning("fetch_order %s attempt %d: %s", order_id, attempt, self._describe(exc))
                await asyncio.sleep(self.settings.backoff(attempt))
        return None

    async def _confirm(self, order: dict[str, Any], symbol: str) -> dict[str, Any]:
        """Poll until the order is terminal (or the fill timeout cancels the rest)."""
        deadline = time.monotonic() + self.settings.fill_timeout_s
        while str(order.get("status")) not in _TERMINAL:
            if time.monotonic() >= deadline:
                await self._cancel(str(order["id"]), symbol)
                latest = await self._fetch_order(str(order["id"]), symbol)
                return latest or order
            await asyncio.sleep(self.settings.fill_poll_interval_s)
            latest = await self._fetch_order(str(order["id"]), symbol)
            if latest is not None:
                order = latest
        return order

    async def _cancel(self, order_id: str, symbol: str, *, trigger: bool = False) -> bool:
        """Cancel; False if the venue no longer has it open (filled or gone)."""
        extra: dict[str, Any] = {"trigger": True} if trigger else {}
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                await self._ex.cancel_order(order_id, symbol, extra)
                return True
            except ccxt.OrderNotFound:
                return False
            except ccxt.NetworkError as exc:
                log.warning("cancel %s attempt %d: %s", order_id, attempt, self._describe(exc))
                await asyncio.sleep(self.settings.backoff(attempt))
            except ccxt.ExchangeError as exc:
                log.warning("cancel %s: %s", order_id, self._describe(exc))
                return False
        return False

    # ------------------------------------------------------------------ fills
    def _fee_in_quote(
        self, order: dict[str, Any], market: dict[str, Any], avg: float
    ) -> tuple[float, float, str | None]:
        """(fee in quote, fee taken from the base amount, fee currency) of an order."""
        fees = order.get("fees") or ([order["fee"]] if order.get("fee") else [])
        quote_fee = base_fee = 0.0
        currency: str | None = None
        for f in fees:
            if not f or f.get("cost") is None:
                continue
            cost = float(f["cost"])
            currency = f.get("currency") or currency
            if f.get("currency") == market.get("base"):
                base_fee += cost
                quote_fee += cost * avg
            else:
                quote_fee += cost
        return quote_fee, base_fee, currency

    def _apply(
        self,
        order: dict[str, Any],
        trade_type: Literal["entry", "exit"],
        intent: OrderIntent | None = None,
    ) -> Position | None:
        """Book the not-yet-seen part of ``order``'s fills into the position; emit a FillEvent."""
        symbol = str(order["symbol"])
        oid = str(order["id"])
        filled_total = float(order.get("filled") or 0.0)
        pos = self._positions.get(symbol)
        seen = pos.seen_fill.get(oid, 0.0) if pos is not None else 0.0
        delta = filled_total - seen
        if delta <= 1e-15:
            return pos
        market = self._market(symbol)
        avg = float(order.get("average") or order.get("price") or 0.0)
        quote_fee_total, base_fee_total, fee_ccy = self._fee_in_quote(order, market, avg)
        share = delta / filled_total
        fee, base_fee = quote_fee_total * share, base_fee_total * share
        now = self._clock()
        realized = 0.0
        if trade_type == "entry":
            net = delta - base_fee
            if pos is None:
                assert intent is not None
                pos = Position(
                    symbol=symbol,
                    direction="long" if intent.side is Side.BUY else "short",
                    amount=net,
                    entry_price=avg,
                    contract=bool(market.get("contract")),
                    opened_ms=now,
                    score=intent.score,
                    stop_loss=intent.stop_loss,
                    take_profit=intent.take_profit,
                    trailing_pct=intent.trailing_stop_pct,
                )
                self._positions[symbol] = pos
            else:
                pos.entry_price = (pos.entry_price * pos.amount + avg * delta) / (pos.amount + net)
                pos.amount += net
        else:
            if pos is None:
                log.error("exit fill of order %s on %s without a position", oid, symbol)
                return None
            qty = min(delta, pos.amount)
            sign = 1.0 if pos.direction == "long" else -1.0
            realized = (avg - pos.entry_price) * qty * sign
            pos.amount -= qty
            pos.realized_pnl += realized
        pos.fees += fee
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
            position_size_usd=delta * avg,
            confluence_score=pos.score,
            stop_loss=pos.stop_loss,
            take_profit=pos.take_profit,
            exchange=self.exchange_name,
            simulated=self._paper,
            transaction_id=f"{oid}:{filled_total:g}",
            realized_pnl=realized,
            timestamp=now,
        )
        log.info("%s %s %s %g @ %g (order %s)", trade_type, event.event, symbol, delta, avg, oid)
        self._order_update(order)
        self._notify(self._on_fill, event)
        self._notify(self._on_position, pos)
        return pos

    def _min_amount(self, symbol: str) -> float:
        limits = self._market(symbol).get("limits") or {}
        return float((limits.get("amount") or {}).get("min") or 0.0)

    def _drop_if_flat(self, pos: Position) -> None:
        dust = pos.amount <= 0 or pos.amount < self._min_amount(pos.symbol)
        if dust and self._positions.get(pos.symbol) is pos:
            del self._positions[pos.symbol]
            self.client_stops.remove(pos.symbol)

    # ------------------------------------------------------------------ open
    async def open(self, intent: OrderIntent) -> Position | Rejection:
        """Enter with a market order, then place the stop / trailing stop / take profit."""
        symbol = intent.symbol
        async with self._lock(symbol):
            if symbol in self._positions:
                return Rejection(symbol, "a position is already open on this symbol")
            try:
                market = self._market(symbol)
            except ccxt.BadSymbol as exc:
                return Rejection(symbol, f"unknown market: {self._describe(exc)}")
            if intent.side is Side.SELL and not market.get("contract"):
                return Rejection(
                    symbol,
                    "cannot short a spot market; shorts need a derivatives "
                    "market (e.g. BTC/USDT:USDT)",
                )
            amount = self.quote_to_amount(symbol, intent.quote_size, intent.reference_price)
            if isinstance(amount, Rejection):
                return amount
            notional = amount * intent.reference_price
            if self._risk is not None:
                rej = self._risk.check(symbol, notional, reduces=False, exposures=self.exposures())
                if rej is not None:
                    return rej
            sent = await self._submit(
                symbol, "market", intent.side.value, amount, None, {}, "entry"
            )
            if isinstance(sent, Rejection):
                return sent
            final = await self._confirm(sent, symbol)
            pos = self._apply(final, "entry", intent)
            if pos is None:
                return Rejection(
                    symbol,
                    f"entry order {final.get('id')} ended "
                    f"{final.get('status')} with nothing filled",
                )
            await self._protect(pos)
            return pos

    # ------------------------------------------------------------------ protection
    def _resolve_modes(self, pos: Position) -> None:
        s = self.settings
        native_stop = self._has("createStopLossOrder", "createStopOrder", "createTriggerOrder")
        if pos.trailing_pct is not None:
            native_trail = self._has("createTrailingPercentOrder")
            mode = s.trailing_mode
            if mode == "auto":
                mode = "native" if native_trail else ("replace" if native_stop else "client")
            pos.trail_mode = mode
            pos.stop_mode = "native" if mode in ("native", "replace") else "client"
        elif pos.stop_loss is not None:
            mode = s.stop_mode
            if mode == "auto":
                mode = "native" if native_stop else "client"
            pos.stop_mode = mode
        if pos.take_profit is not None:
            # spot: a native stop already locks the base balance, so the TP is watched here
            spot_locked = not pos.contract and pos.stop_mode == "native"
            pos.tp_mode = "client" if spot_locked else "native"

    def _exit_params(self, pos: Position) -> dict[str, Any]:
        return {"reduceOnly": True} if pos.contract else {}

    def _exit_amount(self, pos: Position) -> float:
        return float(self._ex.amount_to_precision(pos.symbol, pos.amount))

    async def _protect(self, pos: Position) -> None:
        self._resolve_modes(pos)
        ref = pos.entry_price
        if pos.stop_mode == "native":
            if pos.trail_mode == "native":
                assert pos.trailing_pct is not None
                params = {**self._exit_params(pos), "trailingPercent": pos.trailing_pct * 100}
                if self.exchange_name.startswith("binance") and not pos.contract:
                    params["stopLossOrTakeProfit"] = "stopLoss"  # ccxt binance spot trailing
                await self._place_stop(pos, params)
            else:
                if pos.trail_mode == "replace":
                    assert pos.trailing_pct is not None
                    pos.trail_extreme = ref
                    pos.stop_loss = self._trail_level(pos, ref)
                assert pos.stop_loss is not None
                await self._place_stop(
                    pos, {**self._exit_params(pos), "stopLossPrice": pos.stop_loss}
                )
        if pos.tp_mode == "native":
            assert pos.take_profit is not None
            sent = await self._submit(
                pos.symbol,
                "limit",
                pos.exit_side,
                self._exit_amount(pos),
                pos.take_profit,
                self._exit_params(pos),
                "take_profit",
            )
            if isinstance(sent, Rejection):
                log.error("take profit not placed on %s: %s", pos.symbol, sent.reason)
                pos.tp_mode = "client"
            else:
                pos.tp_order_id = str(sent["id"])
        client_stop = pos.stop_mode == "client" and (
            pos.stop_loss is not None or pos.trailing_pct is not None
        )
        if client_stop or pos.tp_mode == "client":
            self.client_stops.set(
                ClientStop(
                    symbol=pos.symbol,
                    exit_side=pos.exit_side,
                    stop_price=pos.stop_loss if client_stop else None,
                    trailing_pct=pos.trailing_pct if client_stop else None,
                    take_profit=pos.take_profit if pos.tp_mode == "client" else None,
                    extreme=ref if pos.trailing_pct is not None else None,
                )
            )

    def _trail_level(self, pos: Position, extreme: float) -> float:
        assert pos.trailing_pct is not None
        k = pos.trailing_pct
        raw = extreme * (1 - k) if pos.direction == "long" else extreme * (1 + k)
        return float(self._ex.price_to_precision(pos.symbol, raw))

    async def _place_stop(self, pos: Position, params: dict[str, Any]) -> None:
        sent = await self._submit(
            pos.symbol,
            "market",
            pos.exit_side,
            self._exit_amount(pos),
            None,
            params,
            "stop",
            trigger=pos.contract,
        )
        if isinstance(sent, Rejection):
            # fall back to client-side protection rather than leave the position naked
            log.error(
                "native stop not placed on %s (%s); emulating client-side", pos.symbol, sent.reason
            )
            pos.stop_mode = "client"
            pos.stop_order_id = None
            if pos.trail_mode in ("native", "replace"):
                pos.trail_mode = "client"
            return
        pos.stop_order_id = str(sent["id"])

    # ------------------------------------------------------------------ price feed
    async def on_price(self, symbol: str, bid: float | None, ask: float | None) -> None:
        """Feed best quotes: fires client-side stops, moves cancel/replace trailing stops."""
        trig = self.client_stops.update(symbol, bid, ask)
        if trig is not None:
            log.info("client %s triggered on %s at %g", trig.kind, symbol, trig.price)
            await self.close(symbol, reason=trig.kind)
            return
        pos = self._positions.get(symbol)
        if pos is None or pos.trail_mode != "replace" or pos.stop_order_id is None:
            return
        px = bid if pos.direction == "long" else ask
        if px is None or pos.trail_extreme is None:
            return
        better = px > pos.trail_extreme if pos.direction == "long" else px < pos.trail_extreme
        if not better:
            return
        async with self._lock(symbol):
            if self._positions.get(symbol) is not pos or pos.stop_order_id is None:
                return
            pos.trail_extreme = px
            level = self._trail_level(pos, px)
            assert pos.stop_loss is not None
            moved = level > pos.stop_loss if pos.direction == "long" else level < pos.stop_loss
            if not moved:
                return
            old = pos.stop_order_id
            if not await self._cancel(old, symbol, trigger=pos.contract):
                # the old stop is gone: it may have filled; book that instead of replacing
                await self._sync_order(pos, old, "stop")
                return
            pos.stop_order_id = None
            pos.stop_loss = level
            await self._place_stop(pos, {**self._exit_params(pos), "stopLossPrice": level})
            if pos.stop_mode == "client":
                self.client_stops.set(
                    ClientStop(
                        symbol=symbol,
                        exit_side=pos.exit_side,
                        stop_price=level,
                        trailing_pct=pos.trailing_pct,
                        extreme=px,
                        take_profit=pos.take_profit if pos.tp_mode == "client" else None,
                    )
                )

    # ------------------------------------------------------------------ sync native exits
    async def sync(self) -> None:
        """Poll native stop / take-profit orders and book their fills (call periodically)."""
        for symbol, pos in list(self._positions.items()):
            async with self._lock(symbol):
                if self._positions.get(symbol) is not pos:
                    continue
                if pos.stop_order_id is not None:
                    await self._sync_order(pos, pos.stop_order_id, "stop")
                if pos.tp_order_id is not None and self._positions.get(symbol) is pos:
                    await self._sync_order(pos, pos.tp_order_id, "take_profit")

    async def _sync_order(self, pos: Position, order_id: str, kind: str) -> None:
        order = await self._fetch_order(
            order_id, pos.symbol, trigger=pos.contract and kind == "stop"
        )
        if order is None:
            return
        self._apply(order, "exit")
        if str(order.get("status")) in _TERMINAL:
            if kind == "stop":
                pos.stop_order_id = None
            else:
                pos.tp_order_id = None
        if pos.amount <= 0 or pos.amount < self._min_amount(pos.symbol):
            await self._cancel_protection(pos)
            self._drop_if_flat(pos)

    async def _cancel_protection(self, pos: Position) -> None:
        for attr, trigger in (("stop_order_id", pos.contract), ("tp_order_id", False)):
            oid = getattr(pos, attr)
            if oid is None:
                continue
            if not await self._cancel(oid, pos.symbol, trigger=trigger):
                await self._sync_order_once(pos, oid, trigger)
            setattr(pos, attr, None)
        self.client_stops.remove(pos.symbol)

    async def _sync_order_once(self, pos: Position, oid: str, trigger: bool) -> None:
        order = await self._fetch_order(oid, pos.symbol, trigger=trigger)
        if order is not None:
            self._apply(order, "exit")

    # ------------------------------------------------------------------ close
    async def close(self, symbol: str, reason: str = "close") -> Position | Rejection | None:
        """Cancel the protective orders and flatten ``symbol`` with a reduce market order.

        Returns None when flat, the remaining ``Position`` if the exit filled partially, or
        a ``Rejection``.
        """
        async with self._lock(symbol):
            pos = self._positions.get(symbol)
            if pos is None:
                return None
            await self._cancel_protection(pos)
            if pos.amount <= 0 or pos.amount < self._min_amount(symbol):
                self._drop_if_flat(pos)
                return None
            sent = await self._submit(
                symbol,
                "market",
                pos.exit_side,
                self._exit_amount(pos),
                None,
                self._exit_params(pos),
                f"exit:{reason}",
            )
            if isinstance(sent, Rejection):
                return sent
            final = await self._confirm(sent, symbol)
            self._apply(final, "exit")
            self._drop_if_flat(pos)
            left = self._positions.get(symbol)
        await self._after_exit()
        return left

    async def close_all(self, reason: str = "close_all") -> list[Rejection]:
        """Close every position; returns the rejections (empty when all went flat)."""
        out: list[Rejection] = []
        for symbol in list(self._positions):
            res = await self.close(symbol, reason)
            if isinstance(res, Rejection):
                out.append(res)
            elif isinstance(res, Position):
                out.append(Rejection(symbol, f"exit partially filled, {res.amount:g} left"))
        return out

    async def cancel_all(self) -> None:
        """Cancel every open order on the symbols this executor trades."""
        for pos in list(self._positions.values()):
            async with self._lock(pos.symbol):
                await self._cancel_protection(pos)
        symbols = set(self._locks)
        for symbol in symbols:
            try:
                opens: list[dict[str, Any]] = await self._ex.fetch_open_orders(symbol)
            except ccxt.BaseError as exc:
                log.warning("fetch_open_orders %s: %s", symbol, self._describe(exc))
                continue
            for o in opens:
                await self._cancel(str(o["id"]), symbol)

    async def kill_switch(self, reason: str = "kill switch") -> list[Rejection]:
        """Halt new entries, cancel all orders, flatten every position."""
        if self._killing:
            return []
        self._killing = True
        try:
            if self._risk is not None:
                self._risk.halt(reason)
            log.error("kill switch: %s", reason)
            await self.cancel_all()
            return await self.close_all(reason="kill_switch")
        finally:
            self._killing = False

    async def _after_exit(self) -> None:
        risk = self._risk
        if (
            risk is not None
            and self.settings.kill_on_daily_loss
            and not risk.halted
            and risk.daily_loss_breached()
        ):
            await self.kill_switch("daily loss limit")


def type_of(exc: BaseException) -> type[Exception]:
    """The ccxt error class to re-raise a (redacted) copy of ``exc`` as."""
    cls = type(exc)
    return cls if issubclass(cls, Exception) else ccxt.ExchangeError
