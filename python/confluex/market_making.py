"""Market making on paper over a replay: GLFT quotes, online estimates, queue-aware fills.

:class:`MarketMaker` is a replay hook (``replay(..., on_raw=mm.on_raw)``); for every symbol of a
line capture (Binance or Bybit) it

1. **estimates online**, O(1) per message, in the native core (``confluex._core.mm``):
   sigma of the mid (``MidVolatility``: decayed realised variance of 100 ms mid changes,
   ticks per sqrt(second)) and the trade arrival intensity ``lambda(delta) = A exp(-k delta)``
   (``TradeIntensity``: decayed counts of trades reaching each of a few distance buckets from
   the mid, and a closed-form log-linear least-squares fit, no curve fitting);
2. **quotes** with the GLFT approximation (``glft_quote``, formulas in ``docs/market_making.md``
   and ``csrc/include/confluex/mm_quoting.hpp``): half-spread ``c1 + sigma c2 / 2`` around the
   reservation price ``mid + alpha - sigma c2 q``, where ``q`` is the inventory in orders and
   ``alpha`` is the engine's confluence score (0-100) turned into an expected move:
   ``alpha_gain * (score - 50) / 50 * sigma * sqrt(alpha_horizon_s)``. The inventory skews both
   prices (through ``q``) and sizes (the side that adds to the inventory shrinks linearly to 0
   at ``max_inventory``), and no quote can take the inventory past ``max_inventory``;
3. **fills on paper** through :class:`confluex.trading.queue_model.QueueModel`: each quote
   joins the back of the visible queue at its price after ``latency_ms``; only real trades at
   or through its price fill it, after the queue ahead is traded through. Fills are maker
   fills at the quote's price and pay the market's maker fee;
4. **reports** (:class:`MMReport`) PnL (realised, unrealised at the mid, fees), the inventory
   path, fill rates, spread captured, adverse selection (the mid's move 1 s and 5 s after
   each fill) and writes a chart.

Requotes happen when the top of the book changes and at least every ``requote_ms`` of data
time. A quote whose price is unchanged keeps its order (and its queue position); a changed
price cancels the order (effective after the latency) and places a new one at the back of
the new level's queue. Quoting waits ``warmup_s`` of data and until both estimators are ready;
it stops (orders canceled) while the book is out of sync.

Contract markets: the quotes, the queue and the inventory are in the feed's amount unit, which
on a contract market is contracts of ``contractSize`` base units (ccxt's market, given through
``markets``; without one a symbol's contract size is 1, as on Binance spot and USD-M and Bybit
linear). Every money figure (order notional, fees, cash, PnL, the risk notionals) multiplies
by it, and the report's amounts are in base units (contracts x contract size), so a quote on a
contract market carries the same base exposure and notional as on a market in base units. An
inverse contract market (Binance COIN-M, Bybit inverse, or a ccxt market with ``inverse``) is
refused with :class:`UnsupportedMarket` naming it: its contracts are worth a fixed quote
amount and settle in the base currency, which nothing here accounts in.

Accounting is a linear position per symbol (spot is treated like a linear contract on a base
holding: the report's PnL is the quote-currency value change of the quotes' trades), with an
average entry price for realised PnL and the identity ``cash + position * mid == realised +
unrealised - fees`` checked at the end. Everything runs on data time: two runs over the same
files give the same fills.

Risk: given the ``[risk]`` section (``confluex replay --strategy mm`` always gives it), every
quote placement passes the directional path's pre-trade check (:class:`~confluex.trading.risk.
RiskManager`, built by :func:`confluex.replay_trader.risk_manager`) at its worst case, a quote
that can only reduce the inventory passing as an exit does, and every other symbol counted at
its worst case too (a flat symbol with live quotes holds one of the ``max_active_positions``;
the symbols that quote first keep their slots); refusals are counted by reason in the report,
and the fills are booked into the same manager (its daily PnL). The parameters are the
``[mm]`` section (:class:`~confluex.trading.config.MMConfig`).

The fills are decided by the queue model, not by :class:`~confluex.trading.paper_venue.
PaperExchange`, whose resting limits fill as soon as the book crosses them (no queue): a maker
strategy's result depends mostly on that difference.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._core.feed import BinanceParser, BybitParser, MsgKind, ParseResult, SymbolTable
from ._core.mm import GlftConfig, MidVolatility, Quote, TradeIntensity, glft_quote
from ._core.session import FeedSession, Venue
from ._core.types import trade_event_dtype
from .markets import Scale
from .replay_trader import (
    _DEFAULT_FEES,
    MARKET_RULES,
    VENUE_MARKET_TYPE,
    DataClock,
    _reason_key,
    risk_manager,
)
from .trading.config import MarketType, MMConfig, RiskConfig, TradingConfig
from .trading.fills import contract_size, inverse_refusal
from .trading.queue_model import QueueFill, QueueModel, Side

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .engine import Engine
    from .trading.risk import RiskManager
    from .trading.types import Rejection

__all__ = [
    "MMConfig",
    "MMFill",
    "MMReport",
    "MMSymbolReport",
    "MarketMaker",
    "UnsupportedMarket",
    "chart",
    "market_maker_from_args",
    "replay_mm",
]

_BOOK_DEPTH = 50  # levels per side read for queue positions
_SERIES_CAP = 100_000  # chart rows per symbol; beyond it the sampling interval doubles
_BOOK_KINDS = (MsgKind.Depth, MsgKind.Snapshot)
#: Bybit's inverse contracts: ``BTCUSD`` (perpetual), ``BTCUSDH25`` (dated); linear ones end
#: in USDT or USDC (``BTCPERP``, ``BTC-27DEC24``).
_BYBIT_INVERSE = re.compile(r"[A-Z0-9]+USD(?:[FGHJKMNQUVXZ]\d{2})?")


class UnsupportedMarket(ValueError):
    """A market the market maker cannot account in its units (an inverse contract market)."""


def _inverse_refusal(key: str, market: Mapping[str, Any] | None) -> str | None:
    """Why the symbol ``key`` (``venue:NAME``) cannot be quoted, else None."""
    if market is not None:
        detail = inverse_refusal(market)
        return f"{key}: {detail}" if detail is not None else None
    venue, _, name = key.partition(":")
    if venue == "binance_coinm" or (venue == "bybit" and _BYBIT_INVERSE.fullmatch(name)):
        return (
            f"{key}: inverse contract market (contracts of a fixed USD amount, settled in the "
            f"base currency) is not supported: quote sizes, inventory, PnL and risk limits are "
            f"in the quote currency"
        )
    return None


@dataclass(frozen=True, slots=True)
class MMFill:
    """One maker fill with its mid then and the mid ``markouts_s`` later (NaN: replay ended)."""

    ts_ns: int
    side: Side
    price: float
    qty: float
    fee: float
    mid: float
    through: bool
    queue_at_entry: float  # lots ahead when the order joined
    mids_after: tuple[float, ...]

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def captured(self) -> float:
        """Half-spread earned against the mid at the fill, in quote (positive = good)."""
        return self.sign * (self.mid - self.price) * self.qty


@dataclass
class MMSymbolReport:
    """What the market maker did on one symbol (money in the quote currency; amounts in base
    units: contracts x ``contract_size`` on a contract market)."""

    symbol: str
    venue: str
    market_type: str
    tick: float
    maker_fee: float
    order_qty: float
    max_inventory: float
    duration_s: float
    quoting_s: float  # data time with at least one quote live
    two_sided_s: float
    requotes: int
    orders_placed: int
    orders_canceled: int
    orders_filled: int  # orders with at least one fill
    quoted_qty: float
    fills: list[MMFill]
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    cash: float
    position: float
    last_mid: float
    inventory_min: float
    inventory_max: float
    inventory_mean_abs: float  # time-weighted
    sigma_ticks: float  # last estimates
    intensity_a: float
    intensity_k: float
    half_spread_ticks: float
    markouts_s: tuple[float, ...]
    # quote placements the [risk] limits refused, by reason (numbers masked); counted, never
    # dropped silently: the refused side is not quoted at that decision
    quotes_refused: dict[str, int] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict, repr=False)
    contract_size: float = 1.0  # base units in one lot-unit of the feed (1: not contracts)

    # ------------------------------------------------------------------ derived figures
    @property
    def net_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl - self.fees

    @property
    def identity_error(self) -> float:
        """|cash + position * mid - (realised + unrealised - fees)| (0 when it holds)."""
        mark = self.cash + (self.position * self.last_mid if self.position else 0.0)
        return abs(mark - self.net_pnl)

    @property
    def filled_qty(self) -> float:
        return sum(f.qty for f in self.fills)

    @property
    def volume(self) -> float:
        return sum(f.qty * f.price for f in self.fills)

    @property
    def fill_ratio(self) -> float:
        """Filled quantity / quoted quantity."""
        return self.filled_qty / self.quoted_qty if self.quoted_qty > 0 else math.nan

    @property
    def order_fill_rate(self) -> float:
        """Orders with a fill / orders placed."""
        return self.orders_filled / self.orders_placed if self.orders_placed else math.nan

    @property
    def spread_captured(self) -> float:
        return sum(f.captured for f in self.fills)

    def _per_fill(self, values: list[float]) -> float:
        return float(np.mean(values)) if values else math.nan

    def captured_ticks(self) -> float:
        """Mean half-spread captured per fill, in ticks."""
        return self._per_fill([f.sign * (f.mid - f.price) / self.tick for f in self.fills])

    def adverse_ticks(self, k: int) -> tuple[float, int]:
        """Mean signed mid move ``markouts_s[k]`` after the fills, in ticks (negative: against
        the fill), and the number of fills it covers."""
        moves = [
            f.sign * (f.mids_after[k] - f.mid) / self.tick
            for f in self.fills
            if not math.isnan(f.mids_after[k])
        ]
        return self._per_fill(moves), len(moves)

    def markout_ticks(self, k: int) -> float:
        """Mean markout (mid ``markouts_s[k]`` after minus fill price, signed), in ticks."""
        return self._per_fill(
            [
                f.sign * (f.mids_after[k] - f.price) / self.tick
                for f in self.fills
                if not math.isnan(f.mids_after[k])
            ]
        )

    def bps(self, ticks: float) -> float:
        return ticks * self.tick / self.last_mid * 1e4 if self.last_mid > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The headline figures (JSON-ready; the fills and the series are left out)."""
        out: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("fills", "series")
        }
        out["markouts_s"] = list(self.markouts_s)
        out["quotes_refused_total"] = sum(self.quotes_refused.values())
        buys = [f for f in self.fills if f.side == "buy"]
        out.update(
            fills=len(self.fills),
            buy_fills=len(buys),
            sell_fills=len(self.fills) - len(buys),
            filled_qty=self.filled_qty,
            volume=self.volume,
            fill_ratio=self.fill_ratio,
            order_fill_rate=self.order_fill_rate,
            net_pnl=self.net_pnl,
            gross_pnl=self.realized_pnl + self.unrealized_pnl,
            spread_captured=self.spread_captured,
            spread_captured_ticks_per_fill=self.captured_ticks(),
            identity_error=self.identity_error,
        )
        for k, h in enumerate(self.markouts_s):
            move, n = self.adverse_ticks(k)
            out[f"adverse_{h:g}s_ticks"] = move
            out[f"adverse_{h:g}s_bps"] = self.bps(move)
            out[f"markout_{h:g}s_ticks"] = self.markout_ticks(k)
            out[f"markout_{h:g}s_fills"] = n
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}

    def format(self) -> str:
        buys = sum(1 for f in self.fills if f.side == "buy")
        dur = max(self.duration_s, 1e-9)
        out = [
            f"  {self.symbol} ({self.venue}, {self.market_type}): maker fee {self.maker_fee:.4%}, "
            f"order {self.order_qty:g}, max inventory {self.max_inventory:g}",
            f"  quotes     {self.requotes:,} requotes, {self.orders_placed:,} orders placed, "
            f"{self.orders_canceled:,} canceled; quoting {100 * self.quoting_s / dur:.1f} % of "
            f"{self.duration_s:.1f} s (two-sided {100 * self.two_sided_s / dur:.1f} %)",
            f"  fills      {len(self.fills):,} (buy {buys}, sell {len(self.fills) - buys}), "
            f"{self.filled_qty:g} filled of {self.quoted_qty:g} quoted "
            f"({_pct(self.fill_ratio)}); orders with a fill {_pct(self.order_fill_rate)}; "
            f"through-price fills {sum(1 for f in self.fills if f.through)}",
            f"  pnl        realised {self.realized_pnl:,.4f}, unrealised "
            f"{self.unrealized_pnl:,.4f} "
            f"(mark-to-market at mid {self.last_mid:,.8g}), fees {self.fees:,.4f} (maker), "
            f"net {self.net_pnl:,.4f} (gross {self.realized_pnl + self.unrealized_pnl:,.4f})",
            f"  spread     captured {self.spread_captured:,.4f} in total, "
            f"{self.captured_ticks():.2f} ticks ({self.bps(self.captured_ticks()):.3f} bps) "
            f"per fill against the mid at the fill",
        ]
        for k, h in enumerate(self.markouts_s):
            move, n = self.adverse_ticks(k)
            out.append(
                f"  adverse    {h:g} s after the fills: mid moved {move:+.2f} ticks "
                f"({self.bps(move):+.3f} bps) for the fill (negative = against it), markout "
                f"{self.markout_ticks(k):+.2f} ticks, over {n} fills"
            )
        out += [
            f"  inventory  final {self.position:g}, min {self.inventory_min:g}, max "
            f"{self.inventory_max:g}, mean |inventory| {self.inventory_mean_abs:g} "
            f"(time-weighted)",
            f"  estimates  sigma {self.sigma_ticks:.3g} ticks/sqrt(s) "
            f"({self.bps(self.sigma_ticks):.3g} bps), A {self.intensity_a:.3g}/s, k "
            f"{self.intensity_k:.3g}/tick, half-spread {self.half_spread_ticks:.3g} ticks "
            f"({self.bps(self.half_spread_ticks):.3g} bps)",
            *(
                [f"  risk       {sum(self.quotes_refused.values()):,} quote placements refused:"]
                + [f"             {n:,} x {reason}" for reason, n in self.quotes_refused.items()]
                if self.quotes_refused
                else []
            ),
            f"  check      cash + position at mid == realised + unrealised - fees: error "
            f"{self.identity_error:.1e} {'OK' if self.identity_error <= 1e-6 else 'MISMATCH'}",
        ]
        return "\n".join(out)


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.2f} %"


@dataclass
class MMReport:
    """The market maker's report over every symbol it quoted."""

    config: MMConfig
    symbols: list[MMSymbolReport]
    messages: int
    # the [risk] limits the quotes were checked against and the risk manager's state at the
    # end (None: no limits); daily_pnl is what the fills booked into it
    risk: dict[str, Any] | None = None

    @property
    def net_pnl(self) -> float:
        return sum(s.net_pnl for s in self.symbols)

    def to_dict(self) -> dict[str, Any]:
        cfg = asdict(self.config)
        cfg["markouts_s"] = list(self.config.markouts_s)
        return {
            "strategy": "mm",
            "quoting": "GLFT",
            "config": cfg,
            "messages": self.messages,
            "net_pnl": self.net_pnl,
            "risk": self.risk,
            "symbols": [s.to_dict() for s in self.symbols],
        }

    def format(self) -> str:
        c = self.config
        head = (
            f"market making  [GLFT quotes, gamma {c.gamma:g}; queue-model fills ({c.cancels} "
            f"cancels, latency {c.latency_ms:g} ms); data-time clock]"
        )
        if self.risk is not None:
            r = self.risk
            limits = ", ".join(f"{k} {v:g}" for k, v in r["limits"].items()) or "none"
            head += (
                f"\n  risk       [risk] limits: {limits}; daily pnl booked {r['daily_pnl']:,.4f}"
                + ("; halted" if r["halted"] else "")
            )
        if not self.symbols:
            return (
                head
                + "\n  nothing quoted: no symbol of a line capture (Binance, Bybit) was replayed"
            )
        return "\n".join([head, *(s.format() for s in self.symbols)])


# ---------------------------------------------------------------------- per-symbol state


@dataclass(slots=True)
class _Fill:
    ts_ns: int
    side: Side
    price_ticks: int
    lots: int
    fee: float
    mid_ticks: float
    through: bool
    queue_at_entry: float
    mids_after: list[float]


def _no_trades(msg: bytes, ts: int) -> npt.NDArray[np.void]:
    return np.zeros(0, trade_event_dtype)


class _Symbol:
    """One quoted symbol: estimators, queue, account, series."""

    def __init__(self, mm: MarketMaker, sym: int, venue: str, name: str, engine: Engine) -> None:
        c = mm.config
        self.sym = sym
        self.venue = venue
        self.name = name
        self.key = f"{venue}:{name}"  # the symbol the risk manager sees
        inst = engine.instrument(sym)
        self.px = Scale.ticks(inst)
        self.qty = Scale.lots(inst)
        market = mm.market_of(venue, name)
        refused = _inverse_refusal(self.key, market)
        if refused is not None:
            raise UnsupportedMarket(refused)
        # the feed's amounts (and so the engine's lots) are contracts of this many base units
        self.contract_size = contract_size(market) if market is not None else 1.0
        self.unit = self.qty.step * self.contract_size  # base units in one lot
        self.market_type: MarketType = mm.market_type or VENUE_MARKET_TYPE.get(venue, "spot")
        rules = MARKET_RULES.get((self.market_type, name))
        amount_step = rules.amount_step if rules is not None else self.qty.step
        self.min_cost = rules.min_cost if rules is not None else 5.0
        maker = rules.maker_fee if rules is not None else _DEFAULT_FEES[self.market_type][1]
        if market is not None:  # the market's own rules (amount step in contracts)
            step = (market.get("precision") or {}).get("amount")
            amount_step = float(step) if step else self.qty.step
            cost_min = ((market.get("limits") or {}).get("cost") or {}).get("min")
            self.min_cost = float(cost_min) if cost_min is not None else self.min_cost
            maker = float(market["maker"]) if market.get("maker") is not None else maker
        self.maker_fee = c.maker_fee if c.maker_fee is not None else maker
        self.step_lots = max(1, round(amount_step / self.qty.step))
        self.parse: Callable[[bytes, int], npt.NDArray[np.void]] = _no_trades
        self.queue = QueueModel(c.cancels, round(c.latency_ms * 1e6), self.step_lots)
        self.vol = MidVolatility(c.vol_half_life_s, round(c.vol_sample_ms * 1e6))
        self.intensity: TradeIntensity | None = None  # sized from the first mid
        self.glft: GlftConfig | None = None
        self.start_ns: int | None = None
        self.last_ns = 0
        self.next_quote_ns = 0
        self.top: tuple[int, int] | None = None
        self.mid = math.nan  # ticks
        self.bid_id: int | None = None
        self.ask_id: int | None = None
        self.last_quote: Quote | None = None
        self.requotes = 0
        self.quoted_lots = 0
        self.refused: Counter[str] = Counter()
        self.filled_orders: set[int] = set()
        # account
        self.position = 0  # lots
        self.avg_px = 0.0  # price (not ticks)
        self.cash = 0.0
        self.realized = 0.0
        self.fees = 0.0
        self.fills: list[_Fill] = []
        self.pending: list[deque[tuple[int, int]]] = [deque() for _ in c.markouts_s]
        # time-weighted inventory and quoting time
        self.inv_min = 0
        self.inv_max = 0
        self.abs_inv_time = 0.0
        self.quoting_s = 0.0
        self.two_sided_s = 0.0
        # series for the chart
        self.sample_ns = round(c.sample_ms * 1e6)
        self.next_sample_ns = 0
        self.series: dict[str, list[float]] = {
            k: [] for k in ("t", "mid", "bid", "ask", "inventory", "net_pnl", "fees")
        }

    def base(self, lots: int) -> float:
        """``lots`` in base units (contracts x contract size on a contract market)."""
        qty = self.qty(lots)
        return qty if self.contract_size == 1.0 else qty * self.contract_size


class MarketMaker:
    """Quotes every replayed symbol of a line capture on paper; see the module docstring.

    Parameters
    ----------
    engine
        The engine the replay feeds (pass it to ``replay(engine=...)`` too).
    config
        :class:`MMConfig`; default: the defaults.
    market_type
        ``"spot"`` or ``"swap"`` for every symbol (fees and order rules); default: from the
        venue (``binance_spot`` spot, ``binance_futures`` and ``bybit`` swap).
    risk
        The ``[risk]`` limits every quote placement is checked against (``RiskManager.check``,
        as the directional path's orders are); the fills are booked into the same manager
        (``record_fill``: the daily PnL). None (the default): no limits.
    markets
        ccxt market structures by replayed symbol (``"binance_futures:BTCUSDT"`` or
        ``"BTCUSDT"``): its ``contractSize`` (the feed's amounts are then contracts), its
        amount step (``precision.amount`` as a step, ccxt's TICK_SIZE mode, in contracts), its
        ``limits.cost.min`` and ``maker`` fee. An ``inverse`` market is refused.

    Raises
    ------
    UnsupportedMarket
        An inverse contract market (among ``markets`` at once; a replayed Binance COIN-M or
        Bybit inverse symbol when its first message arrives), naming it.
    """

    def __init__(
        self,
        engine: Engine,
        config: MMConfig | None = None,
        *,
        market_type: MarketType | None = None,
        risk: RiskConfig | None = None,
        markets: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if market_type not in (None, "spot", "swap"):
            raise ValueError(f"market_type must be 'spot' or 'swap', was {market_type!r}")
        self.markets = dict(markets or {})
        for key, market in self.markets.items():
            refused = _inverse_refusal(key, market)
            if refused is not None:
                raise UnsupportedMarket(refused)
        self.engine = engine
        self.config = config if config is not None else MMConfig()
        self.market_type = market_type
        self.risk_config = risk
        self.clock = DataClock()  # the risk manager's clock: data time (UTC day of the fills)
        self.risk: RiskManager | None = risk_manager(risk, self.clock) if risk is not None else None
        self._symbols: dict[int, _Symbol | None] = {}
        self.messages = 0
        self._report: MMReport | None = None

    # ------------------------------------------------------------------ the hook
    def on_raw(self, session: FeedSession, result: ParseResult, msg: bytes, ts_ns: int) -> None:
        """The replay hook (``replay(..., on_raw=mm.on_raw)``): after every parsed message."""
        self.messages += 1
        self.clock.advance(ts_ns)
        sym = result.symbol_id
        if sym in self._symbols:
            st = self._symbols[sym]
        else:
            st = self._symbols[sym] = self._make_symbol(session, sym)
        if st is None:
            return
        kind = result.kind
        self._tick(st, ts_ns)
        if kind == MsgKind.Trade:
            trades = st.parse(msg, ts_ns)
            for tr in trades:
                self._on_trade(st, ts_ns, int(tr["px_ticks"]), int(tr["qty_lots"]), int(tr["side"]))
        elif kind in _BOOK_KINDS:
            self._on_book(st, ts_ns)
        self._markouts(st, ts_ns)
        self._maybe_quote(st, ts_ns)
        self._sample(st, ts_ns)

    # ------------------------------------------------------------------ setup
    def market_of(self, venue: str, name: str) -> Mapping[str, Any] | None:
        """The ccxt market given for ``venue:name`` (or ``name``), else None."""
        return self.markets.get(f"{venue}:{name}", self.markets.get(name))

    def _make_symbol(self, session: FeedSession, sym: int) -> _Symbol | None:
        venue, _, name = self.engine.symbol_name(sym).partition(":")
        if not name:
            return None
        st = _Symbol(self, sym, venue, name, self.engine)
        # The session's parser keeps its records to itself: a parser of our own, for this one
        # symbol, reads the trades of the (already applied) message again.
        table = SymbolTable()
        table.add(name, sym, self.engine.instrument(sym))
        if session.venue == Venue.bybit:
            bybit = BybitParser(table)
            st.parse = lambda msg, ts: bybit.parse(msg, ts)[2]
        else:
            binance = BinanceParser(table, session.venue == Venue.binance_futures)
            st.parse = lambda msg, ts: binance.parse(msg, ts)[2]
        return st

    def _init_quoting(self, st: _Symbol) -> None:
        """Sizes from the first mid: bucket width, order size, inventory limit, depth cap."""
        c = self.config
        mid_px = st.px(1) * st.mid
        ticks_per_bps = 1e-4 * mid_px / st.px.step
        st.intensity = TradeIntensity(
            c.intensity_buckets,
            max(1.0, c.bucket_bps * ticks_per_bps),
            c.intensity_half_life_s,
            c.min_bucket_count,
        )
        step = st.step_lots
        notional = max(c.order_notional, st.min_cost * 1.0001)
        order_lots = math.ceil(notional / mid_px / st.unit / step) * step
        st.glft = GlftConfig(
            gamma=c.gamma / ticks_per_bps,
            order_lots=order_lots,
            max_inventory_lots=order_lots * c.max_inventory_orders,
            size_step_lots=step,
            alpha_gain=c.alpha_gain,
            alpha_horizon_s=c.alpha_horizon_s,
            max_depth_ticks=max(1.0, c.max_depth_bps * ticks_per_bps),
        )

    # ------------------------------------------------------------------ events
    def _level(self, st: _Symbol) -> Callable[[Side, int], float | None]:
        """``LevelFn`` over the engine's book now (read once, on first use)."""
        book: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []

        def level(side: Side, px: int) -> float | None:
            if not book:
                book.append(self.engine.top(st.sym, _BOOK_DEPTH))
            rows = book[0][0] if side == "buy" else book[0][1]
            if len(rows) == 0:
                return None
            hit = np.flatnonzero(rows[:, 0] == px)
            if len(hit):
                return float(rows[hit[0], 1])
            deeper = px < rows[-1, 0] if side == "buy" else px > rows[-1, 0]
            return None if deeper and len(rows) == _BOOK_DEPTH else 0.0

        return level

    def _tick(self, st: _Symbol, ts_ns: int) -> None:
        """Data time moves to ts_ns: accrue time-weighted figures, apply due queue events."""
        if st.start_ns is None:
            st.start_ns = ts_ns
            st.last_ns = ts_ns
        dt = max(ts_ns - st.last_ns, 0) * 1e-9
        if dt > 0:
            st.abs_inv_time += abs(st.position) * dt
            live = {o.side for o in st.queue.orders if o.active}
            if live:
                st.quoting_s += dt
                if len(live) == 2:
                    st.two_sided_s += dt
        st.last_ns = max(st.last_ns, ts_ns)
        if st.queue.orders:
            st.queue.advance(ts_ns, self._level(st))

    def _on_book(self, st: _Symbol, ts_ns: int) -> None:
        bb, ba = self.engine.best_bid(st.sym), self.engine.best_ask(st.sym)
        if bb is None or ba is None or not self.engine.in_sync(st.sym):
            st.mid = math.nan
            return
        st.mid = (bb[0] + ba[0]) / 2.0
        st.vol.update(ts_ns, st.mid)
        if st.intensity is None:
            self._init_quoting(st)
        if any(o.active for o in st.queue.orders):
            st.queue.on_depth(self._level(st))

    def _on_trade(self, st: _Symbol, ts_ns: int, px: int, lots: int, side: int) -> None:
        if math.isnan(st.mid):
            return
        if st.intensity is not None:
            st.intensity.on_trade(ts_ns, abs(px - st.mid))
        if side == 0:
            aggressor: Side = "buy"
        elif side == 1:
            aggressor = "sell"
        else:  # unknown aggressor: the side of the mid it printed on
            aggressor = "buy" if px > st.mid else "sell"
        for fill in st.queue.on_trade(ts_ns, px, lots, aggressor):
            self._book_fill(st, fill)

    def _book_fill(self, st: _Symbol, fill: QueueFill) -> None:
        price = st.px(fill.price_ticks)
        qty = st.base(fill.qty_lots)
        fee = st.maker_fee * price * qty
        signed = fill.qty_lots if fill.side == "buy" else -fill.qty_lots
        pos = st.position
        realized = 0.0
        if pos and (pos > 0) != (signed > 0):  # reduces (and maybe flips) the position
            closing = min(abs(pos), abs(signed))
            realized = st.base(closing) * (price - st.avg_px) * (1 if pos > 0 else -1)
            st.realized += realized
            if abs(signed) > abs(pos):
                st.avg_px = price
        else:
            total = abs(pos) + abs(signed)
            st.avg_px = (st.avg_px * abs(pos) + price * abs(signed)) / total
        st.position = pos + signed
        if st.position == 0:
            st.avg_px = 0.0
        st.cash -= (qty if signed > 0 else -qty) * price
        st.cash -= fee
        st.fees += fee
        if self.risk is not None:  # where the directional path books its fills (FillLedger)
            self.risk.record_fill(realized, fee)
        st.inv_min = min(st.inv_min, st.position)
        st.inv_max = max(st.inv_max, st.position)
        st.filled_orders.add(fill.order_id)
        index = len(st.fills)
        st.fills.append(
            _Fill(
                fill.ts_ns,
                fill.side,
                fill.price_ticks,
                fill.qty_lots,
                fee,
                st.mid,
                fill.through,
                fill.queue_at_entry,
                [math.nan] * len(self.config.markouts_s),
            )
        )
        for k, h in enumerate(self.config.markouts_s):
            st.pending[k].append((fill.ts_ns + round(h * 1e9), index))

    def _markouts(self, st: _Symbol, ts_ns: int) -> None:
        if math.isnan(st.mid):
            return
        for k, due in enumerate(st.pending):
            while due and due[0][0] <= ts_ns:
                st.fills[due.popleft()[1]].mids_after[k] = st.mid

    # ------------------------------------------------------------------ quoting
    def _maybe_quote(self, st: _Symbol, ts_ns: int) -> None:
        if math.isnan(st.mid) or st.glft is None or st.intensity is None:
            if st.bid_id is not None or st.ask_id is not None:
                self._cancel_quotes(st, ts_ns)  # the book is not usable: stop quoting
            return
        bb, ba = self.engine.best_bid(st.sym), self.engine.best_ask(st.sym)
        assert bb is not None and ba is not None
        top = (bb[0], ba[0])
        if top == st.top and ts_ns < st.next_quote_ns:
            return
        st.top = top
        st.next_quote_ns = ts_ns + round(self.config.requote_ms * 1e6)
        assert st.start_ns is not None
        if ts_ns - st.start_ns < self.config.warmup_s * 1e9 or not st.vol.ready():
            return
        st.intensity.advance(ts_ns)
        fit = st.intensity.fit()
        if not fit.ok:
            return
        quote = glft_quote(
            st.glft,
            st.mid,
            bb[0],
            ba[0],
            st.position,
            st.vol.sigma(),
            fit.a,
            fit.k,
            self.engine.score(st.sym),
        )
        st.last_quote = quote
        st.requotes += 1
        st.bid_id = self._requote(st, "buy", st.bid_id, quote.bid_ticks, quote.bid_lots, ts_ns)
        st.ask_id = self._requote(st, "sell", st.ask_id, quote.ask_ticks, quote.ask_lots, ts_ns)

    def _requote(
        self, st: _Symbol, side: Side, current: int | None, px: int, lots: int, ts_ns: int
    ) -> int | None:
        order = st.queue.get(current) if current is not None else None
        if order is not None and order.price_ticks == px and lots > 0:
            # same price: keep the order and its place in the queue, while the limits allow it
            # (a halt or a daily loss reached since it was placed cancels it)
            left = order.remaining_lots
            if not self._refused(st, side, px, left, self._live_lots(st, side) - left, False):
                return current
            lots = 0
        if order is not None:
            st.queue.cancel(order.order_id, ts_ns)
        if lots <= 0:
            return None
        # Orders still live on this side (canceled, not yet gone) can fill too: the new one
        # only gets the inventory room they leave.
        glft = st.glft
        assert glft is not None
        others = self._live_lots(st, side)
        room = glft.max_inventory_lots - (st.position if side == "buy" else -st.position)
        lots = min(lots, (room - others) // st.step_lots * st.step_lots)
        if lots <= 0 or st.base(lots) * st.px(px) < st.min_cost:
            return None
        if self._refused(st, side, px, lots, others):
            return None
        st.quoted_lots += lots
        if self.risk is not None:
            self.risk.record_order()
        return st.queue.place(side, px, lots, ts_ns).order_id

    @staticmethod
    def _live_lots(st: _Symbol, side: Side) -> int:
        return sum(o.remaining_lots for o in st.queue.orders if o.side == side)

    @staticmethod
    def _worst_exposure(st: _Symbol) -> float:
        """The symbol's absolute notional at its worst: the larger of its open position (at
        average entry, as the Executor counts positions) and, per side, the inventory left if
        every order live on that side (canceled ones inside their latency too) filled.

        A side adding to the position counts the position at average entry plus its orders at
        their prices; a side that first closes the position counts only what it would open,
        at its highest price; a side that cannot pass flat counts nothing (exits).
        """
        lot = st.unit
        worst = abs(st.position) * lot * st.avg_px
        for side, sign in (("buy", 1), ("sell", -1)):
            orders = [o for o in st.queue.orders if o.side == side]
            if not orders:
                continue
            held = sign * st.position  # the inventory in this side's direction (lots)
            grown = held + sum(o.remaining_lots for o in orders)
            if grown <= 0:
                continue
            if held > 0:
                quoted = sum(o.remaining_lots * st.px(o.price_ticks) for o in orders)
                notional = (held * st.avg_px + quoted) * lot
            else:
                notional = grown * lot * max(st.px(o.price_ticks) for o in orders)
            worst = max(worst, notional)
        return worst

    def _refused(
        self, st: _Symbol, side: Side, px: int, lots: int, others: int, sending: bool = True
    ) -> bool:
        """Checks a quote of ``lots`` at ``px`` against the ``[risk]`` limits; counts a refusal.

        The quote is judged at its worst: as if it and every order still live on its side
        (``others`` lots) filled. It only reduces the inventory if even then the inventory does
        not pass flat; then it passes every check, as an exit does. Otherwise its notional (at
        its price) is the order notional, and the inventory the same way after the other
        orders filled is this symbol's exposure. Every other symbol counts at its worst case
        too (:meth:`_worst_exposure`: its open position, or the inventory its live quotes on
        one side would leave if they all filled, whichever is larger), so a flat symbol with
        live quotes holds one of the ``max_active_positions``: quotes on several flat symbols
        can never fill into more positions than the limit. The symbols that quoted first keep
        their slots (their kept quotes are re-checked against the others' worst cases, which
        were refused while the slots were full, so they pass); another symbol gets a slot only
        once one of them is flat with no order live. ``sending=False``: a quote kept at its
        price (already sent), which the order rate does not concern.
        """
        risk = self.risk
        if risk is None:
            return False
        before = (st.position if side == "buy" else -st.position) + others
        price, lot = st.px(px), st.unit
        exposures: dict[str, float] = {}
        for o in self._symbols.values():
            if o is not None and o is not st and (o.position or o.queue.orders):
                worst = self._worst_exposure(o)
                if worst > 0:
                    exposures[o.key] = worst
        if before > 0:
            exposures[st.key] = before * lot * price
        rejection: Rejection | None = risk.check(
            st.key,
            lots * lot * price,
            reduces=before + lots <= 0,
            exposures=exposures,
            sending=sending,
        )
        if rejection is None:
            return False
        st.refused[_reason_key(rejection.detail)] += 1
        return True

    def _cancel_quotes(self, st: _Symbol, ts_ns: int) -> None:
        for oid in (st.bid_id, st.ask_id):
            if oid is not None:
                st.queue.cancel(oid, ts_ns)
        st.bid_id = st.ask_id = None

    # ------------------------------------------------------------------ series
    def _sample(self, st: _Symbol, ts_ns: int) -> None:
        if ts_ns < st.next_sample_ns or math.isnan(st.mid):
            return
        st.next_sample_ns = ts_ns + st.sample_ns
        s = st.series
        if len(s["t"]) >= _SERIES_CAP:  # bounded: keep every other row, sample half as often
            for values in s.values():
                del values[1::2]
            st.sample_ns *= 2
        mid_px = st.px(1) * st.mid
        live = {o.side: o.price_ticks for o in st.queue.orders if o.active and o.cancel_ns is None}
        s["t"].append(ts_ns / 1e9)
        s["mid"].append(mid_px)
        s["bid"].append(st.px(live["buy"]) if "buy" in live else math.nan)
        s["ask"].append(st.px(live["sell"]) if "sell" in live else math.nan)
        s["inventory"].append(st.base(st.position))
        s["net_pnl"].append(st.cash + st.base(st.position) * mid_px)
        s["fees"].append(st.fees)

    # ------------------------------------------------------------------ the end
    def finish(self) -> MMReport:
        """Cancel every quote and report (positions stay open, marked at the last mid)."""
        if self._report is not None:
            return self._report
        reports = []
        for st in self._symbols.values():
            if st is None or st.start_ns is None:
                continue
            reports.append(self._symbol_report(st))
        self._report = MMReport(self.config, reports, self.messages, self._risk_state())
        return self._report

    def _risk_state(self) -> dict[str, Any] | None:
        risk, cfg = self.risk, self.risk_config
        if risk is None or cfg is None:
            return None
        limits = {k: v for k, v in asdict(cfg).items() if v is not None and k != "kill_switch"}
        if cfg.max_orders_per_window is None:
            del limits["order_window_s"]
        return {
            "limits": limits,
            "daily_pnl": risk.daily_pnl,
            "halted": risk.halted,
        }

    def _symbol_report(self, st: _Symbol) -> MMSymbolReport:
        assert st.start_ns is not None
        mid_px = st.px(1) * st.mid if not math.isnan(st.mid) else _last(st.series["mid"])
        pos = st.base(st.position)
        unreal = pos * (mid_px - st.avg_px) if st.position else 0.0
        duration = (st.last_ns - st.start_ns) / 1e9
        fit = st.intensity.fit() if st.intensity is not None else None
        q = st.last_quote
        glft = st.glft
        fills = [
            MMFill(
                f.ts_ns,
                f.side,
                st.px(f.price_ticks),
                st.base(f.lots),
                f.fee,
                st.px(1) * f.mid_ticks,
                f.through,
                f.queue_at_entry,
                tuple(st.px(1) * m for m in f.mids_after),
            )
            for f in st.fills
        ]
        return MMSymbolReport(
            symbol=st.name,
            venue=st.venue,
            market_type=st.market_type,
            tick=st.px.step,
            maker_fee=st.maker_fee,
            order_qty=st.base(glft.order_lots) if glft else math.nan,
            max_inventory=st.base(glft.max_inventory_lots) if glft else math.nan,
            duration_s=duration,
            quoting_s=st.quoting_s,
            two_sided_s=st.two_sided_s,
            requotes=st.requotes,
            orders_placed=st.queue.placed,
            orders_canceled=st.queue.canceled,
            orders_filled=len(st.filled_orders),
            quoted_qty=st.base(st.quoted_lots),
            fills=fills,
            realized_pnl=st.realized,
            unrealized_pnl=unreal,
            fees=st.fees,
            cash=st.cash,
            position=pos,
            last_mid=mid_px,
            inventory_min=st.base(st.inv_min),
            inventory_max=st.base(st.inv_max),
            inventory_mean_abs=st.unit * st.abs_inv_time / duration if duration > 0 else 0.0,
            sigma_ticks=st.vol.sigma(),
            intensity_a=fit.a if fit is not None else math.nan,
            intensity_k=fit.k if fit is not None else math.nan,
            half_spread_ticks=q.half_spread_ticks if q is not None else math.nan,
            markouts_s=self.config.markouts_s,
            quotes_refused=dict(sorted(st.refused.items())),
            series={k: list(v) for k, v in st.series.items()},
            contract_size=st.contract_size,
        )

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write mm_report.json, mm_fills.csv, mm_series.csv (the inventory and PnL path,
        sampled every ``sample_ms``) and mm_chart.png into ``out_dir``."""
        report = self.finish()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "mm_report.json", out / "mm_fills.csv"]
        paths[0].write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
        with paths[1].open("w", newline="") as fh:
            w = csv.writer(fh)
            horizons = [f"mid_after_{h:g}s" for h in self.config.markouts_s]
            w.writerow(
                [
                    "time_utc",
                    "ts_ns",
                    "symbol",
                    "side",
                    "price",
                    "qty",
                    "fee",
                    "mid",
                    "through",
                    "queue_at_entry_lots",
                    *horizons,
                ]
            )
            for s in report.symbols:
                for f in s.fills:
                    w.writerow(
                        [
                            _iso(f.ts_ns),
                            f.ts_ns,
                            s.symbol,
                            f.side,
                            f"{f.price:.10g}",
                            f"{f.qty:.10g}",
                            f"{f.fee:.10g}",
                            f"{f.mid:.10g}",
                            int(f.through),
                            f"{f.queue_at_entry:g}",
                            *(f"{m:.10g}" for m in f.mids_after),
                        ]
                    )
        paths.append(out / "mm_series.csv")
        with paths[-1].open("w", newline="") as fh:
            w = csv.writer(fh)
            columns = ("mid", "bid", "ask", "inventory", "net_pnl", "fees")
            w.writerow(["time_utc", "symbol", *columns])
            for s in report.symbols:
                for i, t in enumerate(s.series["t"]):
                    w.writerow(
                        [
                            _iso(round(t * 1e9)),
                            s.symbol,
                            *(f"{s.series[c][i]:.10g}" for c in columns),
                        ]
                    )
        paths.append(chart(report, out / "mm_chart.png"))
        return paths


def _last(values: list[float]) -> float:
    return values[-1] if values else math.nan


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


def chart(report: MMReport, path: Path) -> Path:
    """Draw the report: per symbol, quotes and fills on the mid, inventory, PnL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    syms = report.symbols or []
    n = max(len(syms), 1)
    fig, axes = plt.subplots(3 * n, 1, figsize=(12, 9 * n), sharex=False, squeeze=False)
    for i, s in enumerate(syms):
        ax_px, ax_inv, ax_pnl = (axes[3 * i + j][0] for j in range(3))
        t = [datetime.fromtimestamp(x, tz=timezone.utc) for x in s.series.get("t", [])]
        ax_px.plot(t, s.series["mid"], color="#1f3b73", lw=0.9, label="mid")
        ax_px.plot(t, s.series["bid"], color="#1a9850", lw=0.6, alpha=0.8, label="our bid")
        ax_px.plot(t, s.series["ask"], color="#d73027", lw=0.6, alpha=0.8, label="our ask")
        for side, marker, color in (("buy", "^", "#006837"), ("sell", "v", "#a50026")):
            fs = [f for f in s.fills if f.side == side]
            ax_px.scatter(
                [datetime.fromtimestamp(f.ts_ns / 1e9, tz=timezone.utc) for f in fs],
                [f.price for f in fs],
                marker=marker,
                color=color,
                s=28,
                zorder=3,
                label=f"{side} fill ({len(fs)})",
            )
        ax_px.set_title(f"{s.symbol} ({s.venue}): GLFT quotes and queue-model fills")
        ax_px.set_ylabel("price")
        ax_px.legend(loc="upper left", fontsize=8, ncol=5)
        ax_inv.step(t, s.series["inventory"], where="post", color="#5e3c99", lw=0.9)
        ax_inv.axhline(s.max_inventory, color="#999999", ls="--", lw=0.8, label="limit")
        ax_inv.axhline(-s.max_inventory, color="#999999", ls="--", lw=0.8)
        ax_inv.axhline(0, color="black", lw=0.5)
        ax_inv.set_ylabel("inventory (base)")
        ax_inv.legend(loc="upper left", fontsize=8)
        ax_pnl.plot(t, s.series["net_pnl"], color="#1f3b73", lw=0.9, label="net PnL at mid")
        gross = [p + f for p, f in zip(s.series["net_pnl"], s.series["fees"], strict=True)]
        ax_pnl.plot(t, gross, color="#66a61e", lw=0.8, label="before fees")
        ax_pnl.plot(t, [-f for f in s.series["fees"]], color="#d95f02", lw=0.8, label="-fees")
        ax_pnl.axhline(0, color="black", lw=0.5)
        ax_pnl.set_ylabel("quote")
        ax_pnl.legend(loc="upper left", fontsize=8, ncol=3)
        fmt = mdates.DateFormatter("%H:%M:%S", tz=timezone.utc)  # type: ignore[no-untyped-call]
        for ax in (ax_px, ax_inv, ax_pnl):
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_formatter(fmt)
        ax_pnl.set_xlabel("time (UTC)")
    if not syms:
        axes[0][0].text(0.5, 0.5, "nothing quoted", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def replay_mm(
    paths: Sequence[str | Path] | None = None,
    config: MMConfig | None = None,
    *,
    symbols: Sequence[str] | None = None,
    market_type: MarketType | None = None,
    risk: RiskConfig | None = None,
    markets: Mapping[str, Mapping[str, Any]] | None = None,
) -> MMReport:
    """Market-make a replay of ``paths`` (default: the bundled sample) and return the report.

    ``risk``: the ``[risk]`` limits the quotes are checked against (default: none);
    ``markets``: ccxt markets by replayed symbol (:class:`MarketMaker`).
    """
    from .engine import Engine
    from .feeds.files import replay

    engine = Engine()
    mm = MarketMaker(engine, config, market_type=market_type, risk=risk, markets=markets)
    replay(paths, symbols=symbols, engine=engine, on_raw=mm.on_raw)
    return mm.finish()


def market_maker_from_args(
    args: Any, engine: Engine, config: TradingConfig | None = None
) -> MarketMaker | None:
    """The ``confluex replay --strategy mm`` market maker (None for another strategy).

    Its parameters are ``config.mm`` and its quotes are checked against ``config.risk`` (the
    ``--config`` / ``--preset`` file's ``[mm]`` and ``[risk]``; default: the built-in
    configuration). ``--market-type`` picks the fee schedule and order rules (it is not an
    ``[mm]`` key; ``mm.maker_fee``, when set, replaces the fee it picks).
    Raises ValueError for options that do not go with it (``--serve``).
    """
    if getattr(args, "strategy", "confluence") != "mm":
        return None
    if getattr(args, "serve", None) is not None:
        raise ValueError(
            f"--strategy mm does not publish alerts, was --serve {args.serve}: drop one of them"
        )
    cfg = config if config is not None else TradingConfig()
    return MarketMaker(
        engine, cfg.mm, market_type=getattr(args, "market_type", None), risk=cfg.risk
    )


def __dir__() -> list[str]:
    return __all__
