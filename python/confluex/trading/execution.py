"""Order execution through an async ccxt-style exchange, built for money safety.

The same ``Executor`` drives a real ``ccxt.async_support.<venue>`` instance and the
``PaperExchange``. It orchestrates four parts, each in its own module:

- ``orders.OrderRouter``: send without ever duplicating an order (client order ids journaled
  before sending, lookup before any resend, backoff on rate limits), poll, cancel;
- ``fills.FillLedger``: positions from confirmed fills only (the order's
  ``filled``/``average``/``status``, polled until terminal), partial fills and fees included;
- ``protection.Protector``: stop loss, trailing stop and take profit, native or client-side;
- ``redaction``: credentials never appear in logs, reprs or messages;
- ``algos.AlgoRunner``: parent orders (TWAP, VWAP, POV, Almgren-Chriss) whose children are
  entries of the same journal, reconciled on restart like any entry, then resumed.

The rules kept here:

- **Shorts only on derivatives.** A sell intent on a spot market is rejected with a reason.
- **Sizing** converts the intent's quote size to a base amount with the market's precision
  and limits (contracts of ``contractSize`` base units on a contract market); a size that
  rounds to zero or is under ``limits.amount.min`` or ``limits.cost.min`` is rejected and
  never sent. Inverse contract markets (sized and settled in the base currency) are refused:
  sizing, positions, PnL and the risk limits are all in the quote currency.
- **Paper by default.** A non-paper exchange is refused unless ``live=True`` and the
  exchange carries credentials.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

from .algos import AlgoConfig, AlgoRunner, ExecutionStrategy, MarketState, ParentOrder
from .fills import (
    TERMINAL,
    EntryPlan,
    FillEvent,
    FillLedger,
    Position,
    contract_size,
    inverse_refusal,
)
from .orders import ExecutionSettings, OrderRouter, Unknown, Unresolved
from .protection import ClientStop, ClientStops, Protector, StopTrigger
from .redaction import guard_output, redact, register_secrets, secrets_of
from .risk import RiskManager
from .store import OrderJournal
from .types import OrderIntent, Rejection, RejectReason, Side

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
    algo_config
        Parameters of the execution algorithms (default: from ``settings``).
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
        algo_config: AlgoConfig | None = None,
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
        self._listeners: dict[str, Callable[[Any], object] | None] = {
            "fill": on_fill,
            "order": on_order,
            "position": on_position,
        }
        self._clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self._locks: dict[str, asyncio.Lock] = {}
        self._unreconciled: set[str] = set()
        # entries between their risk check and their outcome: symbol -> notional (see exposures)
        self._inflight: dict[str, float] = {}
        self._killing = False
        self.exchange_name = str(getattr(exchange, "id", "unknown"))
        register_secrets(secrets_of(exchange))
        guard_output(exchange)
        self._router = OrderRouter(
            exchange,
            self.settings,
            self._journal,
            describe=self._describe,
            on_order=lambda order: self._notify("order", order),
            on_send=risk.record_order if risk is not None else None,
        )
        self._ledger = FillLedger(
            market=self._market,
            clock=self._clock,
            risk=risk,
            exchange_name=self.exchange_name,
            simulated=self._paper,
            notify=self._on_ledger,
            trades=self._router.order_trades,
            fee_rate=self._router.conversion_rate,
        )
        self._positions = self._ledger.positions
        self._protector = Protector(exchange, self.settings, self._router, self._ledger)
        self.client_stops: ClientStops = self._protector.client_stops
        s = self.settings
        self._algos = AlgoRunner(
            exchange,
            self._journal,
            self._router,
            self._ledger,
            self._protector,
            config=algo_config
            or AlgoConfig(
                slices=s.algo_slices, step_s=s.algo_step_s, horizon_override_s=s.algo_horizon_s
            ),
            client_id_prefix=s.client_id_prefix,
            clock=self._clock,
            on_done=self._parent_done,
        )

    def __repr__(self) -> str:
        mode = "paper" if self._paper else "live"
        return (
            f"Executor(exchange={self.exchange_name!r}, mode={mode}, "
            f"positions={sorted(self._positions)})"
        )

    # ------------------------------------------------------------------ helpers
    def redact(self, text: str) -> str:
        """``text`` with the exchange's credentials masked."""
        return redact(text, secrets_of(self._ex))

    def _describe(self, exc: BaseException) -> str:
        return self.redact(f"{type(exc).__name__}: {exc}")

    def _on_ledger(self, kind: str, value: Any) -> None:
        if kind == "order":
            self._router.order_update(value)
        elif kind == "flat":
            self._settle(str(value))
        else:
            self._notify(kind, value)

    def _notify(self, kind: str, value: Any) -> None:
        listener = self._listeners.get(kind)
        if listener is None:
            return
        try:
            listener(value)
        except Exception as exc:  # a broken listener must not break execution
            log.error("listener failed: %s", self._describe(exc))

    def _lock(self, symbol: str) -> asyncio.Lock:
        return self._locks.setdefault(symbol, asyncio.Lock())

    @property
    def positions(self) -> dict[str, Position]:
        """Open positions by symbol (a copy of the mapping)."""
        return dict(self._positions)

    def exposures(self) -> dict[str, float]:
        """Absolute notional per symbol that is, or may become, a position.

        Every notional is in quote currency: amount x price x the market's ``contractSize`` on
        a contract market. A booked open position counts its notional at entry. An entry whose
        risk check passed counts its whole notional (at its reference price) from that check
        until its outcome is known: booked, refused, or ended with nothing filled. Entries on
        different symbols run concurrently (one lock per symbol): without this, each would be
        checked against the positions booked before the other's fill, and both would pass
        ``max_active_positions`` or a notional limit. An entry whose state is unknown keeps its
        reservation until its symbol is reconciled (its worst case is the whole amount). A
        working parent order counts its whole amount at its arrival price. Per symbol the
        largest of these counts. Exits never consult this: reducing orders pass every check.
        """
        out = {s: p.notional for s, p in self._positions.items() if p.amount > 0}
        for parent in self._algos.active():
            csize = contract_size(self._market(parent.symbol))
            worst = parent.amount * parent.arrival_price * csize
            out[parent.symbol] = max(out.get(parent.symbol, 0.0), worst)
        for symbol, notional in self._inflight.items():
            out[symbol] = max(out.get(symbol, 0.0), notional)
        return out

    @asynccontextmanager
    async def _entering(self, symbol: str) -> AsyncIterator[None]:
        """Around an entry (under its lock): its reservation ends with it (see exposures).

        ``_entry_checks`` makes the reservation; it is kept when the entry's state is unknown
        (the symbol is unreconciled) and ended by the reconciliation. An entry cancelled
        after its reservation (its task cancelled, e.g. at shutdown, while its order may be at
        the venue) leaves its state unknown too: the symbol is marked unreconciled, so no new
        entry is sent on it and the next ``sync`` or entry rebuilds what the order filled, and
        protects it, from the venue.
        """
        try:
            yield
        except asyncio.CancelledError:
            if symbol in self._inflight:
                self._unreconciled.add(symbol)
            raise
        finally:
            self._release(symbol)

    def _release(self, symbol: str) -> None:
        if symbol not in self._unreconciled:
            self._inflight.pop(symbol, None)

    def _market(self, symbol: str) -> dict[str, Any]:
        m: dict[str, Any] = self._ex.market(symbol)
        return m

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load markets, enable the client rate limiter, reconcile journaled symbols.

        Every symbol with journaled orders since its last ``flat`` record is reconciled from
        the venue (see ``reconcile``); a symbol that cannot be reconciled now stays refused
        for new entries until a later ``sync``/``open``/``close`` reconciles it.
        """
        self._ex.enableRateLimit = True
        await self._ex.load_markets()
        parents = {p.symbol for p in self._journal.open_parents()}
        for symbol in sorted(set(self._journal.open_symbols()) | parents):
            self._unreconciled.add(symbol)
            async with self._lock(symbol):
                await self._reconcile_now(symbol)

    @property
    def unreconciled(self) -> frozenset[str]:
        """Symbols whose venue state is not known: no new entry is sent on them."""
        return frozenset(self._unreconciled)

    async def _reconcile_now(self, symbol: str) -> bool:
        """Reconcile ``symbol`` if it needs it; True when its state is known. Hold its lock."""
        if symbol not in self._unreconciled:
            return True
        try:
            ok = await self._reconcile(symbol)
            if ok:  # the parents left open by the previous process carry on
                await self._algos.resume(symbol)
        except Unknown as exc:
            log.warning("%s not reconciled yet: order %s state unknown", symbol, exc)
            ok = False
        if ok:
            self._unreconciled.discard(symbol)
            self._release(symbol)  # booked or flat now: no longer in flight
        return ok

    async def _reconcile(self, symbol: str) -> bool:
        """Rebuild ``symbol``'s position and protection from the venue.

        Every journaled order since the symbol's last ``flat`` is looked up by client id
        (an absent answer only counts once the request can no longer land); the position is
        rebuilt from the entries' and exits' fills (fees from the trades), capped on spot by
        the balance held; open protective orders are adopted, the rest of the protection is
        re-placed. Raises ``Unknown`` when a lookup gets no answer.
        """
        found: list[tuple[str, dict[str, Any]]] = []
        plan: EntryPlan | None = None
        for entry in self._journal.since_flat(symbol):
            purpose = str(entry.intent.get("purpose"))
            order = await self._router.resolve(entry, trigger=self._is_trigger(entry.intent))
            if order is None:
                self._journal.record_final(entry.client_order_id, "absent", "not at the venue")
                continue
            if entry.order_id is None:
                self._journal.record_ack(
                    entry.client_order_id, str(order["id"]), str(order.get("status"))
                )
            status = str(order.get("status"))
            if (entry.intent.get("context") or {}).get("parent") and status not in TERMINAL:
                # a parent's child left working by the previous process: its parent decides
                # afresh, so take it down and book what it filled
                await self._router.cancel(str(order["id"]), symbol)
                order = await self._router.fetch_order(str(order["id"]), symbol) or order
                status = str(order.get("status"))
            if purpose not in ("stop", "take_profit") and status not in TERMINAL:
                log.warning("%s: %s order %s still working", symbol, purpose, order["id"])
                return False  # an entry or exit can still fill: not settled yet
            if purpose == "entry":
                plan = EntryPlan.from_dict(entry.intent.get("context") or {})
            found.append((purpose, order))
        # booking is idempotent per order (``Position.seen_fill``): on a position still in
        # memory only the fills not booked yet are added (and reported)
        for purpose, order in found:
            if purpose == "entry":
                await self._ledger.book(order, "entry", plan)
        for purpose, order in found:
            if purpose != "entry":
                await self._ledger.book(order, "exit")
        working = [
            (purpose, order)
            for purpose, order in found
            if purpose in ("stop", "take_profit") and str(order.get("status")) not in TERMINAL
        ]
        pos = self._positions.get(symbol)
        if pos is not None:
            await self._protector.size_from_holdings(pos)
        if pos is None or self._ledger.is_flat(pos):
            for _purpose, order in working:
                await self._router.cancel(str(order["id"]), symbol, trigger=self._contract(symbol))
            if pos is None or not self._ledger.drop_if_flat(pos):
                self._settle(symbol)
            return True
        for oid in self._protector.adopt(pos, working):
            await self._router.cancel(oid, symbol, trigger=pos.contract)
        await self._protector.protect(pos)
        log.warning(
            "%s reconciled: %s %g @ %g, stop %s",
            symbol,
            pos.direction,
            pos.amount,
            pos.entry_price,
            pos.stop_order_id or pos.stop_mode,
        )
        return True

    def _is_trigger(self, intent: dict[str, Any]) -> bool:
        return intent.get("purpose") == "stop" and self._contract(str(intent.get("symbol")))

    def _contract(self, symbol: str) -> bool:
        return bool(self._market(symbol).get("contract"))

    def _settle(self, symbol: str) -> None:
        """Journal that ``symbol`` is flat (its orders no longer matter for recovery)."""
        try:
            self._journal.record_flat(symbol)
        except OSError as exc:  # recovery then re-checks the symbol: safe, only slower
            log.error("could not journal %s flat: %s", symbol, exc)

    # ------------------------------------------------------------------ sizing
    def quote_to_amount(self, symbol: str, quote_size: float, price: float) -> float | Rejection:
        """Base amount for ``quote_size`` at ``price`` with the market's precision and limits.

        On a contract market the amount is in contracts of ``contractSize`` base units. An
        inverse market (its contracts worth a fixed quote amount, settled in the base currency)
        is refused with ``UNKNOWN_MARKET``: nothing here accounts in its units.
        """
        if not (quote_size > 0 and math.isfinite(quote_size)):
            return Rejection(
                RejectReason.INVALID_ORDER, f"quote size must be > 0, was {quote_size}", symbol
            )
        if not (price > 0 and math.isfinite(price)):
            return Rejection(
                RejectReason.INVALID_PRICE, f"reference price must be > 0, was {price}", symbol
            )
        market = self._market(symbol)
        inverse = inverse_refusal(market)
        if inverse is not None:
            return Rejection(RejectReason.UNKNOWN_MARKET, inverse, symbol)
        csize = contract_size(market)
        raw = quote_size / price / csize
        try:
            amount = float(self._ex.amount_to_precision(symbol, raw))
        except (ccxt.InvalidOrder, ccxt.ArgumentsRequired) as exc:
            return Rejection(
                RejectReason.ZERO_SIZE,
                f"size {raw:g} rounds to zero at the market precision ({self._describe(exc)})",
                symbol,
            )
        if amount <= 0:
            return Rejection(
                RejectReason.ZERO_SIZE,
                f"size {raw:g} rounds to zero at the market precision",
                symbol,
            )
        limits = market.get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        if min_amount is not None and amount < float(min_amount):
            return Rejection(
                RejectReason.BELOW_MINIMUM,
                f"amount {amount:g} is under the venue minimum {min_amount}",
                symbol,
            )
        min_cost = (limits.get("cost") or {}).get("min")
        if min_cost is not None and amount * price * csize < float(min_cost):
            return Rejection(
                RejectReason.BELOW_MINIMUM,
                f"notional {amount * price * csize:.8g} is under the venue minimum cost {min_cost}",
                symbol,
            )
        return amount

    # ------------------------------------------------------------------ open
    async def _entry_checks(self, intent: OrderIntent) -> float | Rejection:
        """The checks every entry passes, under its symbol's lock, before anything is sent.

        Reconciled, no position or parent on the symbol, a known market, no spot short, a size
        the venue accepts, and the risk limits on the whole amount. Returns the amount.

        The risk check sees ``exposures()``, in-flight entries included; once it passes, the
        entry's notional is reserved in the same synchronous step (no ``await`` in between,
        so no other entry can be checked without it). Run it inside ``_entering``.
        """
        symbol = intent.symbol
        if not await self._reconcile_now(symbol):
            return self._not_reconciled(symbol)
        refused = self._open_refusal(symbol)
        if refused is not None:
            return refused
        try:
            market = self._market(symbol)
        except ccxt.BadSymbol as exc:
            return Rejection(
                RejectReason.UNKNOWN_MARKET, f"unknown market: {self._describe(exc)}", symbol
            )
        if intent.side is Side.SELL and not market.get("contract"):
            return Rejection(
                RejectReason.SPOT_SHORT,
                "cannot short a spot market; shorts need a derivatives market (e.g. BTC/USDT:USDT)",
                symbol,
            )
        amount = self.quote_to_amount(symbol, intent.quote_size, intent.reference_price)
        if isinstance(amount, Rejection):
            return amount
        if self._risk is not None:
            notional = amount * intent.reference_price * contract_size(market)
            rej = self._risk.check(symbol, notional, reduces=False, exposures=self.exposures())
            if rej is not None:
                return rej
            self._inflight[symbol] = notional
        return amount

    async def open(self, intent: OrderIntent) -> Position | Rejection:
        """Enter with a market order, then place the stop / trailing stop / take profit."""
        symbol = intent.symbol
        async with self._lock(symbol), self._entering(symbol):
            amount = await self._entry_checks(intent)
            if isinstance(amount, Rejection):
                return amount
            plan = EntryPlan.of(intent)
            sent = await self._router.submit(
                symbol,
                "market",
                intent.side.value,
                amount,
                None,
                {},
                "entry",
                context=plan.as_dict(),
            )
            if isinstance(sent, Unresolved):
                self._unreconciled.add(symbol)
            if isinstance(sent, Rejection):
                return sent
            final = await self._router.confirm(sent, symbol)
            pos = await self._ledger.book(final, "entry", plan)
            if str(final.get("status")) not in TERMINAL:
                # no answer on the order's state: what it filled is unknown, not "nothing"
                self._unreconciled.add(symbol)
                if pos is not None:
                    await self._protector.protect(pos)
                return Unresolved(
                    RejectReason.ORDER_STATE_UNKNOWN,
                    f"entry order {final.get('id')} state unknown (last seen "
                    f"{final.get('status')}, {final.get('filled') or 0:g} filled); "
                    f"{symbol} is reconciled before any new order",
                    symbol,
                    str(final.get("clientOrderId") or ""),
                )
            if pos is None:
                self._settle(symbol)
                return Rejection(
                    RejectReason.ORDER_FAILED,
                    f"entry order {final.get('id')} ended "
                    f"{final.get('status')} with nothing filled",
                    symbol,
                )
            await self._protector.protect(pos)
            return pos

    def _open_refusal(self, symbol: str) -> Rejection | None:
        if symbol in self._positions:
            return Rejection(
                RejectReason.POSITION_OPEN, "a position is already open on this symbol", symbol
            )
        if self._algos.active(symbol):
            return Rejection(
                RejectReason.POSITION_OPEN, "a parent order is working on this symbol", symbol
            )
        return None

    # ------------------------------------------------------------------ parent orders
    async def open_parent(
        self, intent: OrderIntent, strategy: ExecutionStrategy, market: MarketState
    ) -> ParentOrder | Rejection:
        """Enter through an execution algorithm instead of one market order.

        The same checks as :meth:`open` (reconciled, no position or parent on the symbol,
        market, spot shorts, sizing, risk on the whole parent), then the parent is journaled
        and takes its first step. Feed it with :meth:`step_parents` (or :meth:`run_parent`);
        every child fill is an entry fill of the position, protected as it grows.
        """
        symbol = intent.symbol
        # once created, a working parent counts in exposures by itself
        async with self._lock(symbol), self._entering(symbol):
            amount = await self._entry_checks(intent)
            if isinstance(amount, Rejection):
                return amount
            parent = self._algos.create(
                symbol, intent.side.value, amount, EntryPlan.of(intent), strategy, market
            )
            if isinstance(parent, Rejection):
                return parent
            await self._algos.step(parent, market)
            return parent

    async def step_parents(self, symbol: str, market: MarketState) -> None:
        """One decision of every working parent on ``symbol`` (at most one per ``step_s``
        of ``market.ts_ms`` each, except the first)."""
        if not self._algos.active(symbol):
            return
        async with self._lock(symbol):
            for parent in self._algos.active(symbol):
                await self._algos.step(parent, market)

    async def run_parent(
        self,
        parent: ParentOrder,
        market: Callable[[], Awaitable[MarketState]],
        interval_s: float | None = None,
    ) -> ParentOrder:
        """Drive ``parent`` until it ends (live): ``market()`` is awaited before each step."""
        wait = self._algos.config.step_s if interval_s is None else interval_s
        while parent.active:
            state = await market()
            async with self._lock(parent.symbol):
                if parent.active:
                    await self._algos.step(parent, state)
            if parent.active:
                await asyncio.sleep(wait)
        return parent

    async def stop_parents(self, symbol: str | None = None, status: str = "stopped") -> None:
        """End the working parents (of ``symbol``, or all): their children are cancelled."""
        for parent in self._algos.active(symbol):
            async with self._lock(parent.symbol):
                if parent.active:
                    await self._algos.stop(parent, status)

    def parents(self, symbol: str | None = None) -> list[ParentOrder]:
        """The working parent orders (of ``symbol``, or all)."""
        return self._algos.active(symbol)

    def parent_reports(self) -> list[Any]:
        """Slippage and participation of every parent so far (``algos.ParentReport``)."""
        return self._algos.reports()

    async def _parent_done(self, parent: ParentOrder) -> None:
        if parent.status == "unresolved" or parent.child_unknown:
            self._unreconciled.add(parent.symbol)
        elif parent.symbol not in self._positions and not self._algos.active(parent.symbol):
            self._settle(parent.symbol)

    def _not_reconciled(self, symbol: str) -> Rejection:
        return Rejection(
            RejectReason.NOT_RECONCILED,
            f"{symbol} is not reconciled with the venue (an order's state is unknown); "
            f"nothing is sent on it until it is",
            symbol,
        )

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
            await self._protector.trail(pos, px)

    # ------------------------------------------------------------------ sync native exits
    async def sync(self) -> None:
        """Reconcile unknown symbols, poll native stop / take-profit orders, book their fills.

        Call periodically.
        """
        for symbol in sorted(self._unreconciled):
            async with self._lock(symbol):
                await self._reconcile_now(symbol)
        for symbol, pos in list(self._positions.items()):
            async with self._lock(symbol):
                if self._positions.get(symbol) is pos:
                    await self._protector.sync(pos)

    # ------------------------------------------------------------------ close
    async def close(self, symbol: str, reason: str = "close") -> Position | Rejection | None:
        """Flatten ``symbol`` with a reduce market order, protected until the exit is filled.

        On spot the native stop / take profit lock the balance the exit sells, so they are
        cancelled first; on derivatives they stay (reduce-only). A client stop stays armed
        throughout. If the exit is refused, unknown or only partly filled, the protection is
        re-installed for what is left (and an unknown exit makes the symbol unreconciled).

        Returns None when flat, the remaining ``Position`` if the exit filled partially, or
        a ``Rejection``.
        """
        await self.stop_parents(symbol, "closed")
        async with self._lock(symbol):
            if not await self._reconcile_now(symbol):
                known = self._positions.get(symbol)
                if known is not None:  # a client stop that fired into this is re-armed
                    await self._protector.protect(known)
                return self._not_reconciled(symbol)
            pos = self._positions.get(symbol)
            if pos is None:
                return None
            if not pos.contract:
                await self._protector.cancel_native(pos)
            await self._protector.size_from_holdings(pos)
            if self._ledger.is_flat(pos):
                await self._protector.cancel(pos)
                self._protector.drop_if_flat(pos)
                return None
            sent = await self._router.submit(
                symbol,
                "market",
                pos.exit_side,
                self._protector.exit_amount(pos),
                None,
                self._protector.exit_params(pos),
                f"exit:{reason}",
            )
            if isinstance(sent, Rejection):
                if isinstance(sent, Unresolved):
                    self._unreconciled.add(symbol)
                await self._protector.protect(pos)
                return sent
            final = await self._router.confirm(sent, symbol)
            await self._ledger.book(final, "exit")
            if str(final.get("status")) not in TERMINAL:
                self._unreconciled.add(symbol)
            if self._ledger.is_flat(pos):
                await self._protector.cancel(pos)
                self._protector.drop_if_flat(pos)
            else:
                if pos.contract:  # re-size the reduce-only orders to what is left
                    await self._protector.cancel_native(pos)
                await self._protector.protect(pos)
            left = self._positions.get(symbol)
            if symbol in self._unreconciled:
                return Unresolved(
                    RejectReason.ORDER_STATE_UNKNOWN,
                    f"exit order {final.get('id')} state unknown; {symbol} stays protected "
                    f"and is reconciled before any new order",
                    symbol,
                    str(final.get("clientOrderId") or ""),
                )
        await self._after_exit()
        return left

    async def close_all(self, reason: str = "close_all") -> list[Rejection]:
        """Close every position; returns the rejections (empty when all went flat)."""
        out: list[Rejection] = []
        await self.stop_parents(None, "closed")
        for symbol in list(self._positions):
            res = await self.close(symbol, reason)
            if isinstance(res, Rejection):
                out.append(res)
            elif isinstance(res, Position):
                out.append(
                    Rejection(
                        RejectReason.ORDER_FAILED,
                        f"exit partially filled, {res.amount:g} left",
                        symbol,
                    )
                )
        return out

    async def cancel_all(self) -> None:
        """Cancel every open order on the symbols this executor trades (protection too)."""
        for pos in list(self._positions.values()):
            async with self._lock(pos.symbol):
                await self._protector.cancel(pos)
        await self._cancel_open_orders(set(self._locks))

    async def _cancel_open_orders(self, symbols: set[str]) -> None:
        for symbol in symbols:
            try:
                opens: list[dict[str, Any]] = await self._ex.fetch_open_orders(symbol)
            except ccxt.BaseError as exc:
                log.warning("fetch_open_orders %s: %s", symbol, self._describe(exc))
                continue
            for o in opens:
                await self._router.cancel(str(o["id"]), symbol)

    async def kill_switch(self, reason: str = "kill switch") -> list[Rejection]:
        """Halt new entries, cancel all orders, flatten every position."""
        if self._killing:
            return []
        self._killing = True
        try:
            if self._risk is not None:
                self._risk.halt(reason)
            log.error("kill switch: %s", reason)
            await self.stop_parents(None, "killed")  # no child works once this returns
            # close() keeps each position protected until its exit is filled; only then are
            # the orders left on the traded symbols cancelled
            left = await self.close_all(reason="kill_switch")
            await self._cancel_open_orders(set(self._locks) - set(self._positions))
            return left
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
