"""Protective orders: stop loss, trailing stop and take profit, native or client-side.

The stop loss and the trailing stop use ccxt's unified params (``stopLossPrice``,
``trailingPercent``, ``reduceOnly``) when the venue supports them (``exchange.has``);
otherwise ``ClientStops`` emulates them from the prices the engine feeds to
``Executor.on_price`` and fires a reduce market order. ``trailing_mode="replace"`` keeps a
native fixed stop and cancels/replaces it as the price moves (cancel first, then place: on
spot the stop locks the balance, so the new stop cannot be placed while the old one lives;
the gap is one round trip). On spot markets the stop and a take-profit limit would both lock
the same base balance, so when a native stop is placed the take profit is watched
client-side (as Binance users do with OCO); on derivatives both are native and reduce-only.
``OrderIntent.trailing_stop_pct`` is a fraction (0.02 = 2 %), as the position manager's
``trailing_stop_pct`` config. A native order the venue refuses falls back to client-side
protection rather than leave the position naked.

``protect`` installs only what is missing, so the same call re-installs protection after a
failed exit or a restart. Protective orders and exits are sized from what the venue holds
(the base balance on spot, the open contracts on derivatives), never from more.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

from .fills import TERMINAL, FillLedger, Position
from .orders import ExecutionSettings, OrderRouter
from .types import Rejection

__all__ = ["ClientStop", "ClientStops", "Protector", "StopTrigger"]

log = logging.getLogger(__name__)


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


class Protector:
    """Places, moves, polls and cancels the protection of positions on one exchange.

    The caller holds the symbol's lock around every call.
    """

    def __init__(
        self,
        exchange: Any,
        settings: ExecutionSettings,
        router: OrderRouter,
        ledger: FillLedger,
    ) -> None:
        self._ex = exchange
        self.settings = settings
        self._router = router
        self._ledger = ledger
        self.exchange_name = str(getattr(exchange, "id", "unknown"))
        self.client_stops = ClientStops()

    def resolve_modes(self, pos: Position) -> None:
        s = self.settings
        has = self._router.has
        native_stop = has("createStopLossOrder", "createStopOrder", "createTriggerOrder")
        if pos.trailing_pct is not None:
            native_trail = has("createTrailingPercentOrder")
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

    @staticmethod
    def exit_params(pos: Position) -> dict[str, Any]:
        return {"reduceOnly": True} if pos.contract else {}

    def exit_amount(self, pos: Position) -> float:
        return float(self._ex.amount_to_precision(pos.symbol, pos.amount))

    async def size_from_holdings(self, pos: Position) -> None:
        """Shrink the position to what the venue holds: the base balance on spot (fees,
        outside sells), the open contracts on derivatives. Unknown holdings change nothing."""
        try:
            if not pos.contract and self._router.has("fetchBalance"):
                balance = await self._ex.fetch_balance()
                base = self._ex.market(pos.symbol)["base"]
                held = float((balance.get("total") or {}).get(base) or 0.0)
            elif pos.contract and self._router.has("fetchPositions"):
                rows = await self._ex.fetch_positions([pos.symbol])
                held = sum(
                    abs(float(r.get("contracts") or 0.0))
                    for r in rows
                    if r.get("symbol") == pos.symbol and r.get("side") in (pos.direction, None)
                )
            else:
                return
        except (ccxt.BaseError, KeyError, TypeError, ValueError) as exc:
            log.warning("holdings of %s unknown (%s); sizing from fills", pos.symbol, exc)
            return
        if held < pos.amount:
            log.warning(
                "%s: booked %g but %g held; protecting and exiting what is held",
                pos.symbol,
                pos.amount,
                held,
            )
            pos.amount = held

    async def protect(self, pos: Position) -> None:
        """Install the stop / trailing stop / take profit that ``pos`` lacks.

        Pieces already in place (a native order id, a client stop) are kept, so this both
        protects a new position and re-installs protection that was taken down.
        """
        await self.size_from_holdings(pos)
        if self._ledger.is_flat(pos):
            return
        self.resolve_modes(pos)
        ref = pos.trail_extreme if pos.trail_extreme is not None else pos.entry_price
        if pos.stop_mode == "native" and pos.stop_order_id is None:
            if pos.trail_mode == "native":
                assert pos.trailing_pct is not None
                params = {**self.exit_params(pos), "trailingPercent": pos.trailing_pct * 100}
                if self.exchange_name.startswith("binance") and not pos.contract:
                    params["stopLossOrTakeProfit"] = "stopLoss"  # ccxt binance spot trailing
                await self.place_stop(pos, params)
            else:
                if pos.trail_mode == "replace":
                    assert pos.trailing_pct is not None
                    pos.trail_extreme = ref
                    pos.stop_loss = self.trail_level(pos, ref)
                assert pos.stop_loss is not None
                await self.place_stop(
                    pos, {**self.exit_params(pos), "stopLossPrice": pos.stop_loss}
                )
        if pos.tp_mode == "native" and pos.tp_order_id is None:
            assert pos.take_profit is not None
            sent = await self._router.submit(
                pos.symbol,
                "limit",
                pos.exit_side,
                self.exit_amount(pos),
                pos.take_profit,
                self.exit_params(pos),
                "take_profit",
            )
            if isinstance(sent, Rejection):
                log.error("take profit not placed on %s: %s", pos.symbol, sent.detail)
                pos.tp_mode = "client"
            else:
                pos.tp_order_id = str(sent["id"])
        client_stop = pos.stop_mode == "client" and (
            pos.stop_loss is not None or pos.trailing_pct is not None
        )
        if (client_stop or pos.tp_mode == "client") and pos.symbol not in self.client_stops:
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

    def adopt(self, pos: Position, orders: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Take over open protective orders found at the venue (after a restart).

        ``orders`` are (purpose, order) pairs, oldest first. The newest stop and take profit
        whose remaining amount covers the position are kept; the ids of the others are
        returned for cancelling.
        """
        self.resolve_modes(pos)
        amount = self.exit_amount(pos)
        stale: list[str] = []
        for purpose, order in reversed(orders):
            oid = str(order["id"])
            if oid in (pos.stop_order_id, pos.tp_order_id):
                continue  # already ours
            left = float(order.get("remaining") or order.get("amount") or 0.0)
            fits = abs(left - amount) <= max(1e-12, 1e-9 * amount)
            if not fits:
                stale.append(oid)
            elif purpose == "stop" and pos.stop_mode == "native" and not pos.stop_order_id:
                pos.stop_order_id = oid
            elif purpose == "take_profit" and pos.tp_mode == "native" and not pos.tp_order_id:
                pos.tp_order_id = oid
            else:
                stale.append(oid)
        return stale

    def trail_level(self, pos: Position, extreme: float) -> float:
        assert pos.trailing_pct is not None
        k = pos.trailing_pct
        raw = extreme * (1 - k) if pos.direction == "long" else extreme * (1 + k)
        return float(self._ex.price_to_precision(pos.symbol, raw))

    async def place_stop(self, pos: Position, params: dict[str, Any]) -> None:
        sent = await self._router.submit(
            pos.symbol,
            "market",
            pos.exit_side,
            self.exit_amount(pos),
            None,
            params,
            "stop",
            trigger=pos.contract,
        )
        if isinstance(sent, Rejection):
            # fall back to client-side protection rather than leave the position naked
            log.error(
                "native stop not placed on %s (%s); emulating client-side", pos.symbol, sent.detail
            )
            pos.stop_mode = "client"
            pos.stop_order_id = None
            if pos.trail_mode in ("native", "replace"):
                pos.trail_mode = "client"
            return
        pos.stop_order_id = str(sent["id"])

    async def trail(self, pos: Position, px: float) -> None:
        """Move a cancel/replace trailing stop to follow ``px`` (a new extreme)."""
        pos.trail_extreme = px
        level = self.trail_level(pos, px)
        assert pos.stop_loss is not None and pos.stop_order_id is not None
        moved = level > pos.stop_loss if pos.direction == "long" else level < pos.stop_loss
        if not moved:
            return
        old = pos.stop_order_id
        if not await self._router.cancel(old, pos.symbol, trigger=pos.contract):
            # the old stop is gone: it may have filled; book that instead of replacing
            await self.sync_order(pos, old, "stop")
            return
        pos.stop_order_id = None
        pos.stop_loss = level
        await self.place_stop(pos, {**self.exit_params(pos), "stopLossPrice": level})
        if pos.stop_mode == "client":
            self.client_stops.set(
                ClientStop(
                    symbol=pos.symbol,
                    exit_side=pos.exit_side,
                    stop_price=level,
                    trailing_pct=pos.trailing_pct,
                    extreme=px,
                    take_profit=pos.take_profit if pos.tp_mode == "client" else None,
                )
            )

    async def sync(self, pos: Position) -> None:
        """Poll the position's native stop / take profit and book their fills."""
        if pos.stop_order_id is not None:
            await self.sync_order(pos, pos.stop_order_id, "stop")
        if pos.tp_order_id is not None and self._ledger.positions.get(pos.symbol) is pos:
            await self.sync_order(pos, pos.tp_order_id, "take_profit")

    async def sync_order(self, pos: Position, order_id: str, kind: str) -> None:
        order = await self._router.fetch_order(
            order_id, pos.symbol, trigger=pos.contract and kind == "stop"
        )
        if order is None:
            return
        await self._ledger.book(order, "exit")
        if str(order.get("status")) in TERMINAL:
            if kind == "stop":
                pos.stop_order_id = None
            else:
                pos.tp_order_id = None
        if self._ledger.is_flat(pos):
            await self.cancel(pos)
            self.drop_if_flat(pos)

    async def cancel(self, pos: Position) -> None:
        """Cancel the native protective orders (booking fills) and the client stop."""
        await self.cancel_native(pos)
        self.client_stops.remove(pos.symbol)

    async def cancel_native(self, pos: Position) -> None:
        """Cancel the native protective orders, booking what they filled meanwhile."""
        for attr, trigger in (("stop_order_id", pos.contract), ("tp_order_id", False)):
            oid = getattr(pos, attr)
            if oid is None:
                continue
            if not await self._router.cancel(oid, pos.symbol, trigger=trigger):
                order = await self._router.fetch_order(oid, pos.symbol, trigger=trigger)
                if order is not None:
                    await self._ledger.book(order, "exit")
            setattr(pos, attr, None)

    def drop_if_flat(self, pos: Position) -> None:
        if self._ledger.drop_if_flat(pos):
            self.client_stops.remove(pos.symbol)
