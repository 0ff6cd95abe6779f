"""Safe order primitives: send without duplicating, look up by client id, poll, cancel.

Every order gets a client order id that is journaled (fsync) *before* the request is sent.
After a timeout or network error the order is looked up by that id before anything is resent,
and it is resent (with the same id) only when the venue answered "no such order". If the
lookup itself cannot get an answer the order is reported as unknown and *not* resent; the
journal keeps it for recovery. Rate limits (``ccxt.RateLimitExceeded``,
``ccxt.DDoSProtection``: HTTP 429/418) back off exponentially and go through the same
lookup-then-resend path with the same id. ``ccxt.InsufficientFunds`` and other venue
rejections are final: no retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

from .fills import TERMINAL
from .risk import Rejection
from .store import OrderJournal, new_client_order_id

__all__ = ["ExecutionSettings", "OrderRouter", "Unknown", "type_of"]

log = logging.getLogger(__name__)


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


class Unknown(Exception):
    """The venue could not tell whether an order exists (lookups kept failing)."""


def type_of(exc: BaseException) -> type[Exception]:
    """The ccxt error class to re-raise a (redacted) copy of ``exc`` as."""
    cls = type(exc)
    return cls if issubclass(cls, Exception) else ccxt.ExchangeError


class OrderRouter:
    """The order primitives of one exchange; every message goes through ``describe``.

    ``on_order`` is called with each order dict whose (status, filled) changed.
    """

    def __init__(
        self,
        exchange: Any,
        settings: ExecutionSettings,
        journal: OrderJournal,
        *,
        describe: Callable[[BaseException], str],
        on_order: Callable[[dict[str, Any]], None],
    ) -> None:
        self._ex = exchange
        self.settings = settings
        self.journal = journal
        self._describe = describe
        self._on_order = on_order
        self._order_state: dict[str, tuple[Any, Any]] = {}

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
        return Rejection(symbol, reason)

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
    ) -> dict[str, Any] | Rejection:
        """Send one order without ever duplicating it (see the module docstring)."""
        cid = new_client_order_id(self.settings.client_id_prefix)
        self.journal.record_intent(
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
                    return Rejection(symbol, msg)
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

    async def find_by_client_id(
        self, symbol: str, cid: str, *, trigger: bool = False
    ) -> dict[str, Any] | None:
        """The venue's order with client id ``cid``; None only if the venue says it is absent.

        Raises ``Unknown`` when no lookup got an answer within ``max_attempts``.
        """
        extra: dict[str, Any] = {"trigger": True} if trigger else {}
        for attempt in range(1, self.settings.max_attempts + 1):
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
        raise Unknown(cid)

    async def fetch_order(
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
