"""Safe order primitives: send without duplicating, look up by client id, poll, cancel.

Every order gets a client order id that is journaled (fsync) *before* the request is sent.
After a timeout or network error the order is looked up by that id before anything is resent,
and it is resent (with the same id) only when the venue answered "no such order". If the
lookup itself cannot get an answer the order is reported as unknown and *not* resent; the
journal keeps it for recovery. Rate limits (``ccxt.RateLimitExceeded``,
``ccxt.DDoSProtection``: HTTP 429/418) back off exponentially and go through the same
lookup-then-resend path with the same id. ``ccxt.InsufficientFunds`` and other venue
rejections are final: no retry.

A lookup that says "absent" is only conclusive once the original request can no longer land:
signed requests carry ``recvWindow = recv_window_ms`` (Binance and Bybit refuse a request
that reaches them later than that after signing), and the lookup waits ``lookup_grace_s``
(> the window) after the error, which came after the signing. An order whose intent could
not be journaled is never sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

from .config import ExecutionConfig
from .fills import TERMINAL
from .store import JournalEntry, JournalError, OrderJournal, new_client_order_id
from .types import Rejection, RejectReason

__all__ = ["ExecutionSettings", "OrderRouter", "Unknown", "Unresolved", "type_of"]

log = logging.getLogger(__name__)


# The validated ``[execution]`` config section is the Executor's settings object.
ExecutionSettings = ExecutionConfig


_T = TypeVar("_T")


class _Exhausted:
    """Every attempt of a retried call failed with a network error."""


_EXHAUSTED = _Exhausted()


class Unknown(Exception):
    """The venue could not tell whether an order exists (lookups kept failing)."""


@dataclass(frozen=True, slots=True)
class Unresolved(Rejection):
    """A Rejection whose order may exist at the venue: its symbol must be reconciled."""

    client_order_id: str = ""


def type_of(exc: BaseException) -> type[Exception]:
    """The ccxt error class to re-raise a (redacted) copy of ``exc`` as."""
    cls = type(exc)
    return cls if issubclass(cls, Exception) else ccxt.ExchangeError


class OrderRouter:
    """The order primitives of one exchange; every message goes through ``describe``.

    ``on_order`` is called with each order dict whose (status, filled) changed; ``on_send``
    (optional) once per order submitted, before it is sent (the risk manager's order rate).
    """

    def __init__(
        self,
        exchange: Any,
        settings: ExecutionSettings,
        journal: OrderJournal,
        *,
        describe: Callable[[BaseException], str],
        on_order: Callable[[dict[str, Any]], None],
        on_send: Callable[[], None] | None = None,
    ) -> None:
        self._ex = exchange
        self._on_send = on_send
        self.settings = settings
        self.journal = journal
        self._describe = describe
        self._on_order = on_order
        self._order_state: dict[str, tuple[Any, Any]] = {}
        options = getattr(exchange, "options", None)
        if isinstance(options, dict) and "recvWindow" in options:
            options["recvWindow"] = settings.recv_window_ms  # ccxt binance, bybit, ...

    def has(self, *names: str) -> bool:
        has = getattr(self._ex, "has", {}) or {}
        return any(bool(has.get(n)) for n in names)

    def order_update(self, order: dict[str, Any]) -> None:
        """Notify ``on_order`` when the order's (status, filled) changed since last time."""
        key = (order.get("status"), order.get("filled"))
        oid = str(order.get("id"))
        if self._order_state.get(oid) != key:
            self._order_state[oid] = key
            self._on_order(order)

    def reject(self, cid: str, symbol: str, reason: str, status: str = "rejected") -> Rejection:
        self.journal.record_final(cid, status, reason)
        log.warning("order %s on %s: %s", cid, symbol, reason)
        return Rejection(RejectReason.ORDER_FAILED, reason, symbol)

    async def submit(
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
        context: dict[str, Any] | None = None,
        client_order_id: str | None = None,
    ) -> dict[str, Any] | Rejection:
        """Send one order without ever duplicating it (see the module docstring).

        ``client_order_id``: a caller-derived id (a parent order's child), else a fresh one;
        either way it is journaled before the request leaves. Returns the venue's order, a
        ``Rejection``, or an ``Unresolved`` rejection when the order may exist at the venue
        but no lookup could tell.
        """
        cid = client_order_id or new_client_order_id(self.settings.client_id_prefix)
        try:
            self.journal.record_intent(
                cid,
                symbol=symbol,
                side=side,
                type=type,
                amount=amount,
                price=price,
                purpose=purpose,
                params=dict(params),
                context=context,
            )
        except JournalError as exc:
            msg = f"{purpose} order not sent: its intent could not be journaled ({exc})"
            log.error(msg)
            return Rejection(RejectReason.ORDER_FAILED, msg, symbol)
        req = {**params, "clientOrderId": cid}
        if self._on_send is not None:
            self._on_send()
        attempt = 0
        while True:
            attempt += 1
            try:
                order: dict[str, Any] = await self._ex.create_order(
                    symbol, type, side, amount, price, req
                )
            except ccxt.InsufficientFunds as exc:
                return self.reject(cid, symbol, f"insufficient funds: {self._describe(exc)}")
            except (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended) as exc:
                msg = self._describe(exc)
                self.journal.record_final(cid, "rejected", msg)
                log.error("order %s refused by the venue: %s", cid, msg)
                raise type_of(exc)(msg) from None
            except ccxt.NetworkError as exc:
                rate_limited = isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection))
                delay = self.settings.backoff(attempt)
                if not rate_limited:
                    # the request may still be in flight: it was signed before this error, so
                    # after the grace (> recvWindow) the venue refuses it if it lands now
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
                    found = await self.find_by_client_id(symbol, cid, trigger=trigger)
                except Unknown:
                    msg = f"order {cid} state unknown after {self._describe(exc)}; not resent"
                    log.error(msg)
                    return Unresolved(RejectReason.ORDER_STATE_UNKNOWN, msg, symbol, cid)
                if found is not None:
                    self.journal.record_ack(cid, str(found["id"]), str(found.get("status")))
                    return found
                if attempt >= self.settings.max_attempts:
                    return self.reject(
                        cid,
                        symbol,
                        f"not accepted after {attempt} attempts: {self._describe(exc)}",
                        status="absent",
                    )
                continue
            except ccxt.ExchangeError as exc:
                return self.reject(cid, symbol, f"rejected by the venue: {self._describe(exc)}")
            self.journal.record_ack(cid, str(order.get("id")), str(order.get("status")))
            if order.get("clientOrderId") is None:
                order["clientOrderId"] = cid
            self.order_update(order)
            return order

    async def _retrying(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T | _Exhausted:
        """``call()`` retried with backoff on network errors, up to ``max_attempts`` times."""
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                return await call()
            except ccxt.NetworkError as exc:
                log.warning("%s attempt %d: %s", what, attempt, self._describe(exc))
                await asyncio.sleep(self.settings.backoff(attempt))
        return _EXHAUSTED

    async def find_by_client_id(
        self, symbol: str, cid: str, *, trigger: bool = False
    ) -> dict[str, Any] | None:
        """The venue's order with client id ``cid``; None only if the venue says it is absent.

        Raises ``Unknown`` when no lookup got an answer within ``max_attempts``.
        """
        extra: dict[str, Any] = {"trigger": True} if trigger else {}

        async def lookup() -> dict[str, Any] | None:
            try:
                if self.has("fetchOrder"):
                    try:
                        order: dict[str, Any] = await self._ex.fetch_order(
                            "", symbol, {"clientOrderId": cid, **extra}
                        )
                        return order
                    except (ccxt.NotSupported, ccxt.ArgumentsRequired):
                        pass
                for fetch in ("fetch_open_orders", "fetch_orders"):
                    if hasattr(self._ex, fetch):
                        orders: list[dict[str, Any]] = await getattr(self._ex, fetch)(symbol)
                        for o in orders:
                            if o.get("clientOrderId") == cid:
                                return o
                return None
            except ccxt.OrderNotFound:
                return None

        found = await self._retrying(f"lookup of {cid}", lookup)
        if isinstance(found, _Exhausted):
            raise Unknown(cid)
        return found

    async def resolve(self, entry: JournalEntry, *, trigger: bool = False) -> dict[str, Any] | None:
        """The venue's order of a journaled intent; None only once it can no longer land.

        An "absent" answer for a request sent less than ``lookup_grace_s`` ago is not trusted:
        the lookup is repeated after the rest of the grace. Raises ``Unknown``.
        """
        found = await self.find_by_client_id(entry.symbol, entry.client_order_id, trigger=trigger)
        if found is None:
            age_s = time.time() - entry.sent_ms / 1000
            if age_s < self.settings.lookup_grace_s:
                await asyncio.sleep(self.settings.lookup_grace_s - age_s)
                found = await self.find_by_client_id(
                    entry.symbol, entry.client_order_id, trigger=trigger
                )
        return found

    async def order_trades(self, order_id: str, symbol: str) -> list[dict[str, Any]] | None:
        """The trades (fills, with their fees) of one order; None if the venue cannot say."""
        try:
            if self.has("fetchOrderTrades"):
                trades: list[dict[str, Any]] = await self._ex.fetch_order_trades(order_id, symbol)
                return trades
            if self.has("fetchMyTrades"):
                mine: list[dict[str, Any]] = await self._ex.fetch_my_trades(symbol)
                return [t for t in mine if str(t.get("order")) == order_id]
        except ccxt.BaseError as exc:
            log.warning("trades of order %s: %s", order_id, self._describe(exc))
        return None

    async def conversion_rate(self, currency: str, quote: str) -> float | None:
        """The price of one ``currency`` in ``quote`` (a fee charged in a third currency, e.g.
        Binance's BNB): the last trade of the venue's ``currency/quote`` market, else its mid;
        None when the venue lists no such market or cannot say."""
        symbol = f"{currency}/{quote}"
        if symbol not in (getattr(self._ex, "markets", None) or {}):
            return None
        try:
            t: dict[str, Any] = await self._ex.fetch_ticker(symbol)
        except ccxt.BaseError as exc:
            log.warning("price of %s (a fee currency): %s", symbol, self._describe(exc))
            return None
        last = t.get("last")
        if last is not None and float(last) > 0.0:
            return float(last)
        bid, ask = t.get("bid"), t.get("ask")
        if bid is not None and ask is not None and 0.0 < float(bid) <= float(ask):
            return (float(bid) + float(ask)) / 2.0
        return None

    async def fetch_order(
        self, order_id: str, symbol: str, *, trigger: bool = False
    ) -> dict[str, Any] | None:
        """Read-only order poll with retries (safe to repeat); None if it keeps failing."""
        extra: dict[str, Any] = {"trigger": True} if trigger else {}

        async def poll() -> dict[str, Any]:
            order: dict[str, Any] = await self._ex.fetch_order(order_id, symbol, extra)
            return order

        found = await self._retrying(f"fetch_order {order_id}", poll)
        return None if isinstance(found, _Exhausted) else found

    async def confirm(self, order: dict[str, Any], symbol: str) -> dict[str, Any]:
        """Poll until the order is terminal (or the fill timeout cancels the rest)."""
        deadline = time.monotonic() + self.settings.fill_timeout_s
        while str(order.get("status")) not in TERMINAL:
            if time.monotonic() >= deadline:
                await self.cancel(str(order["id"]), symbol)
                latest = await self.fetch_order(str(order["id"]), symbol)
                return latest or order
            await asyncio.sleep(self.settings.fill_poll_interval_s)
            latest = await self.fetch_order(str(order["id"]), symbol)
            if latest is not None:
                order = latest
        return order

    async def cancel(self, order_id: str, symbol: str, *, trigger: bool = False) -> bool:
        """Cancel; False if the venue no longer has it open (filled or gone)."""
        extra: dict[str, Any] = {"trigger": True} if trigger else {}

        async def cancel() -> bool:
            try:
                await self._ex.cancel_order(order_id, symbol, extra)
                return True
            except ccxt.OrderNotFound:
                return False
            except ccxt.ExchangeError as exc:  # not a NetworkError: those are retried
                log.warning("cancel %s: %s", order_id, self._describe(exc))
                return False

        done = await self._retrying(f"cancel {order_id}", cancel)
        return done is True
