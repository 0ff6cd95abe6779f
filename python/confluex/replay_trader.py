"""Paper trading over a replay: scores -> MarketMonitor -> sizing -> Executor -> PaperExchange.

``PaperTrader`` is the ``on_message`` hook of :func:`confluex.feeds.files.replay`. After every
message of a symbol it

1. feeds the book to the trading layer when a position is open and the top of the book
   changed: ``PaperExchange.on_book_update`` (native stops, trailing stops and resting
   take-profits trigger there), ``Executor.on_price`` (client-side stops and take-profits),
   then ``Executor.sync`` (books the fills of native exits);
2. throttles the score: a :class:`ScoreUpdate` goes to the monitor only when the
   quality-adjusted score differs from the last one sent for that symbol, or when
   ``heartbeat_ms`` of *data* time have passed since it (so a cooldown that expires while the
   score stands still is still seen). Repeating an unchanged score carries no other new
   information for the monitor. Updates are skipped while the symbol's book is not in sync;
3. runs ``MarketMonitor.on_score``; a signal goes to the sizing manager (``confluence`` or
   ``executor``) with the free quote balance, and an intent to ``Executor.open``;
4. with an execution algorithm (``algo``: ``auto``, ``twap``, ``vwap``, ``pov`` or ``ac``;
   ``--algo`` or ``[execution] algo``), the intent becomes a parent order
   (``Executor.open_parent``) that the trader steps at most once per ``algo_step_s`` of data
   time. The market volume it sees is what the engine took in: at each message that brought
   trades (``Engine.stats(sym).trades`` moved by n), the new lots are the growth of the
   shortest trade-flow window (1 s, 5 s, 30 s, 5 min) whose trade count grew by exactly n,
   i.e. that lost no old trade meanwhile; when every window lost one, the largest growth (a
   lower bound) is taken and counted in ``volume_gaps`` (52 of 9,757 trade messages on the
   spot capture of 2024-08-08, 0.05 % of its volume). The expected rate is the 5-minute
   window's volume over the time it has covered. The report lists each parent's slippage
   against its arrival mid and its participation.

The paper exchange fills against the engine's live book (``engine.top(sym, 50)`` converted
with the symbol's instrument) and every clock in the path (exchange, executor, risk manager,
order journal, alert timestamps) is the replay's data time: two runs over the same files give
the same trades. Client order ids are the one exception: they are random by design (they must
never repeat at a venue) and are left out of :meth:`PaperReport.trade_tuples`.

The Executor is asynchronous; the replay is not. One private event loop lives for the whole
replay and each executor call runs to completion on it (``run_until_complete``): against the
paper exchange nothing ever waits, so the order of events is the order of the data. When the
calling thread already runs an event loop (``asyncio.run``, Jupyter), a loop cannot be run
inside it: the trader then runs its private loop on one worker thread of its own and waits for
each call there, so the same code works from async code, one call at a time, in the same
order. From async code, prefer :func:`replay_paper_async`, which runs the whole replay in a
worker thread and does not block the caller's loop.

Paper is the only mode: the exchange is always a :class:`PaperExchange`, there is no live path.
Venue symbols map to ccxt unified symbols by venue: ``binance_spot`` -> ``BTC/USDT`` (spot:
a SHORT is rejected as ``spot markets cannot short``), ``binance_futures`` and ``bybit`` ->
``BTC/USDT:USDT`` (linear swap). ``market_type`` overrides this for research.
Tardis CSV inputs are batch-ingested by the replay (no per-message hook): they are not traded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from .engine import EngineLike, score_update, signal_event_dtype
from .markets import Scale, quote_of, unified_symbol
from .trading.alerts import AlertServer
from .trading.algos import (
    ALGOS,
    AlgoConfig,
    ExecutionAlgorithmConfluence,
    MarketState,
    ParentReport,
)
from .trading.config import MarketType, RiskConfig, TradingConfig, load_config
from .trading.execution import Executor, FillEvent
from .trading.monitor import MarketMonitor
from .trading.paper_venue import Level, PaperExchange, PaperMarket
from .trading.risk import RiskLimits, RiskManager
from .trading.sizing import ConfluencePositionSizing, ExecutorSizing, SizingManager
from .trading.store import OrderJournal
from .trading.types import Rejection, ScoreUpdate, Signal, TradeParameters

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = [
    "BOOK_DEPTH",
    "MARKET_RULES",
    "VENUE_MARKET_TYPE",
    "DataClock",
    "EngineLike",
    "FillRecord",
    "PaperReport",
    "PaperTrader",
    "SizingName",
    "parse_host_port",
    "replay_paper",
    "replay_paper_async",
    "risk_manager",
    "trader_from_args",
    "unified_symbol",
]

SizingName = Literal["confluence", "executor"]
T = TypeVar("T")

#: Levels per side the paper exchange sees (a market order walks at most this deep).
BOOK_DEPTH = 50

#: Market type traded by default per replay venue.
VENUE_MARKET_TYPE: dict[str, MarketType] = {
    "binance_spot": "spot",
    "binance_futures": "swap",
    "bybit": "swap",
}


@dataclass(frozen=True, slots=True)
class _Rules:
    amount_step: float
    min_amount: float
    min_cost: float
    taker_fee: float
    maker_fee: float


#: Order-side rules per (market type, venue symbol): Binance BTCUSDT spot trades in steps of
#: 0.00001 BTC with a 5 USDT minimum notional and 0.1 % fees (no BNB discount); USD-M in
#: steps of 0.001 with a 100 USDT minimum and 0.05 % taker / 0.02 % maker (VIP 0).
#: Unlisted symbols use the engine's tick and lot, a 5 quote minimum and these fees.
MARKET_RULES: dict[tuple[MarketType, str], _Rules] = {
    ("spot", "BTCUSDT"): _Rules(0.00001, 0.00001, 5.0, 0.001, 0.001),
    ("spot", "ETHUSDT"): _Rules(0.0001, 0.0001, 5.0, 0.001, 0.001),
    ("swap", "BTCUSDT"): _Rules(0.001, 0.001, 100.0, 0.0005, 0.0002),
    ("swap", "ETHUSDT"): _Rules(0.001, 0.001, 20.0, 0.0005, 0.0002),
}
_DEFAULT_FEES: dict[MarketType, tuple[float, float]] = {
    "spot": (0.001, 0.001),
    "swap": (0.0005, 0.0002),
}

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
#: The engine's trade-flow window whose volume gives the expected rate (the 5-minute one).
_RATE_WINDOW = 3
_FLUSH_EVERY = 256  # messages between event-loop turns when serving unpaced


class DataClock:
    """Milliseconds of data time: the latest message's timestamp (never goes backwards).

    Every clock of the paper path reads this one, so a replay is deterministic. Pass the same
    instance to an ``AlertServer(clock=...)`` to stamp alerts with data time too.
    """

    __slots__ = ("ms",)

    def __init__(self, ms: int = 0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, ts_ns: int) -> None:
        """Move to ``ts_ns`` (nanoseconds) unless that is in the past."""
        ms = ts_ns // 1_000_000
        if ms > self.ms:
            self.ms = ms


@dataclass(slots=True)
class _Symbol:
    """Per-symbol state of the trader."""

    symbol_id: int
    venue: str
    name: str
    unified: str
    market_type: MarketType
    quote: str
    px: Scale
    qty: Scale
    last_score: float = math.nan
    last_sent_ns: int = -(1 << 62)
    last_top: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)
    book_gen: int = -1
    volume: float = 0.0  # cumulative market volume (base) the engine took in
    volume_ts_ns: int = -1
    trades_seen: int = 0
    windows: list[tuple[int, int]] | None = None
    first_ns: int = -1
    next_step_ns: int = -(1 << 62)
    book: tuple[list[Level], list[Level]] = ([], [])


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One confirmed fill as the report lists it (``time_ms`` is data time)."""

    time_ms: int
    symbol: str
    trade_type: str
    side: str
    price: float
    amount: float
    fee: float
    realized_pnl: float
    reason: str
    order_id: str
    client_order_id: str


@dataclass
class PaperReport:
    """What a paper replay did: decisions, fills, PnL and the accounting identity."""

    sizing: str
    markets: dict[str, str]  # unified symbol -> "spot, taker 0.1 %, ..."
    messages: int
    updates: int
    not_in_sync: int
    signals: int
    intents: int
    entries: int
    orders: int
    rejections: dict[str, dict[str, int]]
    fills: list[FillRecord]
    starting_equity: float
    realized_pnl: float
    unrealized_pnl: float
    unrealized_before_close: float
    fees: float
    final_equity: float
    balance: float
    positions_at_mark: float
    open_positions: dict[str, float]
    close_rejections: list[str] = field(default_factory=list)
    start_ms: int = 0  # data time of the first and last message
    end_ms: int = 0
    symbol_ids: dict[str, int] = field(default_factory=dict)  # unified symbol -> engine id
    algo: str = "market"
    parents: list[ParentReport] = field(default_factory=list)

    @property
    def identity_lhs(self) -> float:
        """Quote balance + positions marked to market."""
        return self.balance + self.positions_at_mark

    @property
    def identity_rhs(self) -> float:
        """Starting equity + realised + unrealised PnL - fees."""
        return self.starting_equity + self.realized_pnl + self.unrealized_pnl - self.fees

    @property
    def identity_error(self) -> float:
        """Relative error of the accounting identity (0 when it holds exactly)."""
        return abs(self.identity_lhs - self.identity_rhs) / max(abs(self.starting_equity), 1.0)

    def trade_tuples(self) -> list[tuple[object, ...]]:
        """The fills without the (random) client order ids: equal across identical runs."""
        return [
            (
                f.time_ms,
                f.symbol,
                f.trade_type,
                f.side,
                f.price,
                f.amount,
                f.fee,
                f.realized_pnl,
                f.reason,
                f.order_id,
            )
            for f in self.fills
        ]

    def format(self) -> str:
        """The human report printed after the replay summary."""
        out = [f"paper trading  [{self.sizing} sizing, paper exchange, data-time clock]"]
        for sym, desc in self.markets.items():
            out.append(f"  market     {sym}: {desc}")
        out.append(
            f"  decisions  messages {self.messages:,}, score updates {self.updates:,} "
            f"(not in sync {self.not_in_sync:,}), signals {self.signals}, intents "
            f"{self.intents}, entries {self.entries}, orders {self.orders}, fills "
            f"{len(self.fills)}"
        )
        for stage in ("monitor", "sizing", "execution"):
            counts = self.rejections.get(stage, {})
            text = ", ".join(f"{k} {v:,}" for k, v in counts.items()) if counts else "none"
            out.append(f"  rejected   {stage}: {text}")
        if self.fills:
            out.append(
                f"  {'time (UTC)':<25}{'symbol':<15}{'type':<6}{'side':<5}{'price':>12}"
                f"{'amount':>12}{'fee':>10}{'pnl':>10}  order  reason"
            )
            for f in self.fills:
                out.append(
                    f"  {_iso(f.time_ms):<25}{f.symbol:<15}{f.trade_type:<6}{f.side:<5}"
                    f"{f.price:>12.8g}{f.amount:>12.8g}{f.fee:>10.4f}{f.realized_pnl:>10.4f}"
                    f"  {f.order_id:<5}  {f.reason}"
                )
        else:
            out.append("  trades     none")
        if self.algo != "market":
            out.append(f"  execution  {self.algo}: {len(self.parents)} parent orders")
            for r in self.parents:
                out.append(f"    {r.format()}")
        out.append(
            f"  pnl        realised {self.realized_pnl:,.4f}, unrealised "
            f"{self.unrealized_pnl:,.4f} (marked at the end before the final close: "
            f"{self.unrealized_before_close:,.4f}), fees {self.fees:,.4f}, net "
            f"{self.realized_pnl + self.unrealized_pnl - self.fees:,.4f}"
        )
        if self.open_positions:
            left = ", ".join(f"{s} {a:g}" for s, a in self.open_positions.items())
            out.append(f"  open       {left} ({'; '.join(self.close_rejections)})")
        out.append(
            f"  equity     start {self.starting_equity:,.4f} -> final {self.final_equity:,.4f}"
        )
        verdict = "OK" if self.identity_error <= 1e-9 else "MISMATCH"
        out.append(
            f"  check      balance + positions at mark {self.identity_lhs:,.6f} == start + pnl - "
            f"fees {self.identity_rhs:,.6f} (relative error {self.identity_error:.1e}) {verdict}"
        )
        return "\n".join(out)


def _window_count(window: Callable[[int, int], Any], symbol_id: int) -> int:
    """How many trade-flow windows the engine keeps (it raises IndexError past the last)."""
    n = 0
    while True:
        try:
            window(symbol_id, n)
        except IndexError:
            return n
        n += 1


def _iso(ms: int) -> str:
    when = datetime.fromtimestamp(ms / 1e3, tz=timezone.utc)
    return when.isoformat(timespec="milliseconds").removesuffix("+00:00")


def risk_manager(config: RiskConfig, clock: Callable[[], int]) -> RiskManager:
    """The ``[risk]`` section as the RiskManager of a replay on ``clock`` (data time).

    An absent limit is no limit; ``kill_switch = true`` starts it halted. The directional
    trader and the market maker (``confluex.market_making``) both check their orders here.
    """
    risk = RiskManager(
        RiskLimits(
            max_active_positions=config.max_active_positions,
            max_order_notional=config.max_order_notional or math.inf,
            max_symbol_notional=config.max_symbol_notional or math.inf,
            max_total_notional=config.max_total_notional,
            daily_loss_limit=config.daily_loss_limit or math.inf,
            max_orders_per_window=config.max_orders_per_window,
            order_window_ms=round(config.order_window_s * 1000),
        ),
        clock=clock,
    )
    if config.kill_switch:
        risk.halt("risk.kill_switch is set in the configuration")
    return risk


def _reason_key(text: str) -> str:
    """An execution rejection's text with its numbers masked, so alike reasons count together."""
    return _NUMBER.sub("#", text)


class PaperTrader:
    """Drives the trading layer from a replay; see the module docstring.

    Parameters
    ----------
    engine
        The engine the replay feeds (pass the same one to ``replay(engine=...)``).
    config
        Trading configuration (``load_config``); default: the built-in defaults.
    sizing
        ``"confluence"`` (ConfluencePositionSizing) or ``"executor"`` (ExecutorSizing).
    balance
        Starting quote balance; default ``config.monitor.account_balance``.
    market_type
        Force ``"spot"`` or ``"swap"`` for every symbol (default: from the venue).
    heartbeat_ms
        Data time after which an unchanged score is sent to the monitor again.
    server
        An ``AlertServer`` to publish ``signals``, ``orders``, ``trade_alerts`` and
        ``positions`` on; it runs on this trader's event loop (see :meth:`start`).
    speed
        With a server: pace the replay at ``speed`` x data time while serving (the replay
        itself must then run unpaced).
    fees
        ``(taker, maker)`` override for every market.
    clock
        The data-time clock (share it with the server); default: a new one.
    algo
        ``market``, ``auto``, ``twap``, ``vwap``, ``pov`` or ``ac`` (default: the config's
        ``[execution] algo``): how entries are executed (see the module docstring).
    """

    def __init__(
        self,
        engine: EngineLike,
        config: TradingConfig | None = None,
        *,
        sizing: SizingName = "confluence",
        balance: float | None = None,
        market_type: MarketType | None = None,
        heartbeat_ms: float = 1000.0,
        server: AlertServer | None = None,
        speed: float | None = None,
        fees: tuple[float, float] | None = None,
        clock: DataClock | None = None,
        algo: str | None = None,
    ) -> None:
        if sizing not in ("confluence", "executor"):
            raise ValueError(f"sizing must be 'confluence' or 'executor', was {sizing!r}")
        if market_type not in (None, "spot", "swap"):
            raise ValueError(f"market_type must be 'spot' or 'swap', was {market_type!r}")
        if not heartbeat_ms > 0:
            raise ValueError(f"heartbeat_ms must be > 0, was {heartbeat_ms!r}")
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0, was {speed!r}")
        self.engine = engine
        self.config = config if config is not None else load_config()
        self.algo = algo if algo is not None else self.config.execution.algo
        if self.algo not in ("market", "auto", *ALGOS):
            raise ValueError(
                f"algo must be one of market, auto, {', '.join(ALGOS)}, was {self.algo!r}"
            )
        ex_cfg = self.config.execution
        self.algo_config = AlgoConfig(
            slices=ex_cfg.algo_slices,
            step_s=ex_cfg.algo_step_s,
            horizon_override_s=ex_cfg.algo_horizon_s,
        )
        self._selector = ExecutionAlgorithmConfluence(self.algo_config)
        self._step_ns = round(ex_cfg.algo_step_s * 1e9)
        self.sizing_name: SizingName = sizing
        self.balance = float(
            balance if balance is not None else self.config.monitor.account_balance
        )
        if not (self.balance > 0 and math.isfinite(self.balance)):
            raise ValueError(f"balance must be a finite number > 0, was {balance!r}")
        self.market_type = market_type
        self.heartbeat_ns = round(heartbeat_ms * 1e6)
        self.server = server
        self.speed = speed
        self.fees = fees
        self.monitor = MarketMonitor.from_config(self.config, account_balance=self.balance)
        self._sizers: dict[MarketType, SizingManager] = {}
        self._loop = asyncio.new_event_loop()
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._start_ms: int | None = None
        self.clock = clock if clock is not None else DataClock()
        self._gen = 0
        self._messages = 0
        self._symbols: dict[int, _Symbol | None] = {}
        self._by_unified: dict[str, _Symbol] = {}
        self._open: set[str] = set()
        self._working: set[str] = set()
        self.volume_gaps = 0
        self._n_windows = -1
        self._exchange: PaperExchange | None = None
        self._executor: Executor | None = None
        self._journal: OrderJournal | None = None
        self._fills: list[FillRecord] = []
        self._entry_reason: dict[str, str] = {}
        self._updates = 0
        self._not_in_sync = 0
        self._intents = 0
        self._entries = 0
        self._sizing_rej: Counter[str] = Counter()
        self._exec_rej: Counter[str] = Counter()
        self._first_ts: int | None = None
        self._signal_rows: list[tuple[int, int, int, float, float]] = []
        self._wall0 = 0.0
        self._finished: PaperReport | None = None

    # ------------------------------------------------------------------ lifecycle
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on the private loop (see the module docstring)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop runs in this thread: run ours here
            return self._loop.run_until_complete(coro)
        # a loop runs in this thread: run ours on the worker thread and wait for it there
        if self._worker is None:
            self._worker = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="confluex-paper"
            )
        return self._worker.submit(self._loop.run_until_complete, coro).result()

    def start_server(self) -> None:
        """Start the alert server (if any) on this trader's loop; read its ``port`` after."""
        if self.server is not None:
            self._run(self.server.start())

    def wait_for_subscriber(self, timeout_s: float) -> bool:
        """Serve until a client has subscribed to a channel, at most ``timeout_s`` (wall time).

        Returns whether one did. For dashboards that must see the replay from its start.
        """
        if self.server is None or timeout_s <= 0:
            return False
        return self._run(self._wait_for_subscriber(timeout_s))

    async def _wait_for_subscriber(self, timeout_s: float) -> bool:
        assert self.server is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(subs for subs in self.server.subscriptions()):
                return True
            await asyncio.sleep(0.01)
        return False

    def close(self, *, linger_s: float = 0.5) -> None:
        """Stop the server (after ``linger_s`` to let queued messages out) and the loop."""
        if self._loop.is_closed():
            return
        if self.server is not None:
            self._run(asyncio.sleep(linger_s))
            self._run(self.server.stop())
        self._run(self._loop.shutdown_asyncgens())
        self._loop.close()
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    def __enter__(self) -> PaperTrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        """Build markets, exchange and executor from the symbols the replay registered."""
        markets: list[PaperMarket] = []
        for sym in range(self.engine.symbol_count):
            st = self._make_symbol(sym)
            self._symbols[sym] = st
            if st is None:
                continue
            self._by_unified[st.unified] = st
            rules = self._rules(st)
            markets.append(
                PaperMarket(
                    st.unified,
                    st.unified.split("/")[0],
                    st.quote,
                    kind=st.market_type,
                    amount_step=rules.amount_step,
                    price_step=st.px.step,
                    min_amount=rules.min_amount,
                    min_cost=rules.min_cost,
                )
            )
        # One fee schedule per exchange: the first market's (a replay is one venue in practice).
        first = next((self._rules(s) for s in self._by_unified.values()), None)
        taker, maker = (
            self.fees
            if self.fees is not None
            else ((first.taker_fee, first.maker_fee) if first else _DEFAULT_FEES["spot"])
        )
        quotes = {m.quote for m in markets} or {"USDT"}
        self._exchange = PaperExchange(
            markets,
            self._book,
            balances={q: self.balance for q in sorted(quotes)},
            taker_fee=taker,
            maker_fee=maker,
            clock=self.clock,
        )
        self._taker, self._maker = taker, maker
        self._journal = OrderJournal(None, clock=self.clock)
        risk = risk_manager(self.config.risk, self.clock)
        server = self.server
        self._executor = Executor(
            self._exchange,
            settings=self.config.execution,  # the one config's [execution] section
            journal=self._journal,
            risk=risk,
            live=False,
            on_fill=self._on_fill,
            on_order=server.publish_order if server is not None else None,
            on_position=server.publish_position if server is not None else None,
            clock=self.clock,
            algo_config=self.algo_config,
        )
        self._run(self._executor.start())

    def _make_symbol(self, sym: int) -> _Symbol | None:
        venue, _, name = self.engine.symbol_name(sym).partition(":")
        mtype = self.market_type or VENUE_MARKET_TYPE.get(venue)
        if mtype is None:
            return None
        unified = unified_symbol(name, mtype)
        if unified is None:
            return None
        inst = self.engine.instrument(sym)
        quote = quote_of(unified)
        return _Symbol(
            sym,
            venue,
            name,
            unified,
            mtype,
            quote,
            Scale.ticks(inst),
            Scale.lots(inst),
        )

    def _rules(self, st: _Symbol) -> _Rules:
        known = MARKET_RULES.get((st.market_type, st.name))
        if known is not None:
            return known
        taker, maker = _DEFAULT_FEES[st.market_type]
        return _Rules(st.qty.step, st.qty.step, 5.0, taker, maker)

    def _sizer(self, market_type: MarketType) -> SizingManager:
        sizer = self._sizers.get(market_type)
        if sizer is None:
            cls = ConfluencePositionSizing if self.sizing_name == "confluence" else ExecutorSizing
            sizer = self._sizers[market_type] = cls.from_config(self.config, market_type)
        return sizer

    # ------------------------------------------------------------------ the book
    def _book(self, unified: str) -> tuple[list[Level], list[Level]]:
        st = self._by_unified[unified]
        if st.book_gen != self._gen:
            bids, asks = self.engine.top(st.symbol_id, BOOK_DEPTH)
            st.book = (
                list(zip(st.px.values(bids[:, 0]), st.qty.values(bids[:, 1]), strict=True)),
                list(zip(st.px.values(asks[:, 0]), st.qty.values(asks[:, 1]), strict=True)),
            )
            st.book_gen = self._gen
        return st.book

    # ------------------------------------------------------------------ the hook
    def on_message(self, session: object, symbol_id: int, ts_ns: int) -> None:
        """The replay hook: ``replay(..., engine=trader.engine, on_message=trader.on_message)``."""
        if self._executor is None:
            self._setup()
        self._messages += 1
        self._gen += 1
        self.clock.advance(ts_ns)
        if self._start_ms is None:
            self._start_ms = self.clock.ms
        if self.server is not None:
            self._pace(ts_ns)
        st = self._symbols.get(symbol_id)
        if st is None:
            return
        engine = self.engine
        if self.algo != "market":
            self._meter(st, ts_ns)
        if st.unified in self._open:
            top = (engine.best_bid(symbol_id), engine.best_ask(symbol_id))
            if top != st.last_top:
                st.last_top = top
                self._run(self._book_changed(st))
            if st.unified in self._working and ts_ns >= st.next_step_ns:
                st.next_step_ns = ts_ns + self._step_ns
                self._run(self._step_parents(st))
        score = engine.score(symbol_id)
        if score == st.last_score and ts_ns - st.last_sent_ns < self.heartbeat_ns:
            return
        if not engine.in_sync(symbol_id):
            self._not_in_sync += 1
            return
        st.last_score = score
        st.last_sent_ns = ts_ns
        self._on_score(st, ts_ns)

    def _meter(self, st: _Symbol, ts_ns: int) -> None:
        """Count the market volume the engine took in (see the module docstring)."""
        if st.first_ns < 0:
            st.first_ns = ts_ns
        st.volume_ts_ns = ts_ns
        stats = getattr(self.engine, "stats", None)
        window = getattr(self.engine, "window", None)
        if stats is None or window is None:
            return
        trades = int(stats(st.symbol_id).trades)
        if trades == st.trades_seen:
            return
        new = trades - st.trades_seen
        if self._n_windows < 0:
            self._n_windows = _window_count(window, st.symbol_id)
        now = [
            (int(w.count), int(w.total_qty))
            for w in (window(st.symbol_id, i) for i in range(self._n_windows))
        ]
        if st.windows is None:  # the first trades: the shortest window holds them all
            lots = now[0][1]
        else:
            deltas = [(c - c0, q - q0) for (c0, q0), (c, q) in zip(st.windows, now, strict=True)]
            exact = [dq for dc, dq in deltas if dc == new]  # a window that lost no trade
            if exact:
                lots = exact[0]
            else:  # every window lost trades meanwhile: the best lower bound, counted
                self.volume_gaps += 1
                lots = max(0, max(dq for _dc, dq in deltas))
        st.volume += st.qty(lots)
        st.trades_seen, st.windows = trades, now

    def _window(self, symbol_id: int, index: int) -> int:
        """Traded lots in one of the engine's trade-flow windows (0 for an engine without)."""
        window = getattr(self.engine, "window", None)
        return int(window(symbol_id, index).total_qty) if window is not None else 0

    def market(self, symbol: str) -> MarketState:
        """What a parent order on ``symbol`` (unified) sees now: the touch, the cumulative
        market volume metered from the engine since the replay started, the expected rate."""
        return self._market_state(self._by_unified[symbol])

    def _market_state(self, st: _Symbol) -> MarketState:
        bids, asks = self._book(st.unified)
        covered_s = min(300.0, (st.volume_ts_ns - st.first_ns) / 1e9)
        rate = 0.0
        if covered_s >= 1.0 and self._n_windows > _RATE_WINDOW:
            rate = st.qty(self._window(st.symbol_id, _RATE_WINDOW)) / covered_s
        return MarketState(
            ts_ms=self.clock.ms,
            bid=bids[0][0] if bids else None,
            ask=asks[0][0] if asks else None,
            volume=st.volume,
            volume_rate=rate,
        )

    async def _step_parents(self, st: _Symbol) -> None:
        assert self._executor is not None
        await self._executor.step_parents(st.unified, self._market_state(st))
        self._after_execution()

    def _pace(self, ts_ns: int) -> None:
        """Serving: keep the event loop turning, and sleep on it to pace at ``speed``."""
        if self._first_ts is None:
            self._first_ts = ts_ns
            self._wall0 = time.perf_counter()
        if self.speed is not None:
            due = (ts_ns - self._first_ts) / 1e9 / self.speed
            lag = due - (time.perf_counter() - self._wall0)
            if lag > 0:
                self._run(asyncio.sleep(lag))
                return
        if self._messages % _FLUSH_EVERY == 0:
            self._run(asyncio.sleep(0))

    def _on_score(self, st: _Symbol, ts_ns: int) -> None:
        res = self.engine.result(st.symbol_id)
        bb = self.engine.best_bid(st.symbol_id)
        ba = self.engine.best_ask(st.symbol_id)
        price = (st.px(bb[0]) + st.px(ba[0])) / 2.0 if bb and ba else math.nan
        update = score_update(res, st.unified, ts_ns, price)
        self._updates += 1
        params = self.monitor.on_score(update)
        if isinstance(params, Rejection):
            return
        direction = 1 if params.signal is Signal.LONG else -1
        self._signal_rows.append((ts_ns, st.symbol_id, direction, update.score, update.price))
        if self.server is not None:
            self._publish_signal(update, params)
        self._run(self._decide(st, update, params))

    def _publish_signal(self, update: ScoreUpdate, params: TradeParameters) -> None:
        assert self.server is not None
        self.server.publish(
            "signals",
            {
                "signal": params.signal.value,
                "score": update.score,
                "score_raw": update.score_raw,
                "confidence": update.confidence,
                "reliability": update.reliability,
                "price": update.price,
                "stop_loss": params.stop_loss,
                "take_profit": params.take_profit,
            },
            symbol=update.symbol,
        )

    # ------------------------------------------------------------------ async steps
    async def _decide(self, st: _Symbol, update: ScoreUpdate, params: TradeParameters) -> None:
        ex, executor = self._exchange, self._executor
        assert ex is not None and executor is not None
        balance = await ex.fetch_balance()
        free = max(float(balance["free"].get(st.quote, 0.0)), 0.0)
        intent = self._sizer(st.market_type).decide(update, free, params)
        if isinstance(intent, Rejection):
            self._sizing_rej[intent.reason.value] += 1
            return
        self._intents += 1
        self._entry_reason[st.unified] = intent.reason
        if self.algo == "market":
            res: Any = await executor.open(intent)
        else:
            res = await executor.open_parent(
                intent, self._strategy(st, update, intent), self._market_state(st)
            )
        if isinstance(res, Rejection):
            self._exec_rej[_reason_key(res.detail)] += 1
        else:
            self._entries += 1
        self._after_execution()

    def _strategy(self, st: _Symbol, update: ScoreUpdate, intent: Any) -> Any:
        """The execution strategy of an intent: the selection from the score (bias
        (s - 50) / 50, strength |bias|, reliability), its scheduler forced by ``algo``."""
        bias = max(-1.0, min(1.0, (update.score - 50.0) / 50.0))
        market = self._market_state(st)
        mid = market.mid
        half_spread = (
            (market.ask - market.bid) / 2.0 / mid * 1e4
            if mid and market.ask is not None and market.bid is not None
            else 0.0
        )
        strategy = self._selector.strategy(
            {
                "side": intent.side.value,
                "amount": intent.quote_size / intent.reference_price,
                "arrival_price": mid,
                "volume_rate": market.volume_rate or None,
                "half_spread_bps": half_spread,
            },
            {
                "signal_strength": abs(bias),
                "directional_bias": bias,
                "reliability": max(0.0, min(1.0, update.reliability)),
            },
        )
        return strategy if self.algo == "auto" else strategy.with_algo(self.algo)  # type: ignore[arg-type]

    async def _book_changed(self, st: _Symbol) -> None:
        ex, executor = self._exchange, self._executor
        assert ex is not None and executor is not None
        ex.on_book_update(st.unified)
        bids, asks = self._book(st.unified)
        await executor.on_price(
            st.unified, bids[0][0] if bids else None, asks[0][0] if asks else None
        )
        await executor.sync()
        self._after_execution()

    def _after_execution(self) -> None:
        assert self._executor is not None and self._exchange is not None
        self._working = {p.symbol for p in self._executor.parents()}
        self._open = set(self._executor.positions) | self._working
        equity = self._exchange.equity()
        if equity > 0 and math.isfinite(equity):
            self.monitor.set_balance(equity)

    def _on_fill(self, fill: FillEvent) -> None:
        if fill.trade_type == "entry":
            reason = self._entry_reason.get(fill.symbol, "entry")
        else:
            entry = self._journal.get(fill.client_order_id) if self._journal else None
            reason = str(entry.intent.get("purpose", "exit")) if entry is not None else "exit"
        self._fills.append(
            FillRecord(
                time_ms=fill.timestamp,
                symbol=fill.symbol,
                trade_type=fill.trade_type,
                side=fill.side,
                price=fill.average_fill_price,
                amount=fill.filled_amount,
                fee=fill.fee_cost,
                realized_pnl=fill.realized_pnl,
                reason=reason,
                order_id=fill.order_id,
                client_order_id=fill.client_order_id,
            )
        )
        if self.server is not None:
            self.server.publish_fill(fill)

    # ------------------------------------------------------------------ the end
    def signal_events(self) -> npt.NDArray[np.void]:
        """The monitor's signals so far as ``signal_event_dtype`` rows (what signals.csv lists)."""
        return np.array(self._signal_rows, dtype=signal_event_dtype)

    @property
    def fills(self) -> list[FillRecord]:
        """Fills so far, in order."""
        return list(self._fills)

    @property
    def exchange(self) -> PaperExchange | None:
        """The paper exchange (None until the first message)."""
        return self._exchange

    @property
    def executor(self) -> Executor | None:
        """The executor (None until the first message)."""
        return self._executor

    @property
    def journal(self) -> OrderJournal | None:
        """The in-memory order journal (every order sent, by client order id)."""
        return self._journal

    def finish(self) -> PaperReport:
        """Close every position at the last book (data time) and report. Idempotent."""
        if self._finished is not None:
            return self._finished
        if self._executor is None:
            self._setup()
        ex, executor = self._exchange, self._executor
        assert ex is not None and executor is not None
        self._gen += 1
        self._run(executor.stop_parents(None, "end_of_replay"))
        unrealized_before = ex.unrealized_pnl()
        left = self._run(executor.close_all("end_of_replay"))
        self._after_execution()
        balances = self._run(ex.fetch_balance())
        quote_total = sum(float(balances["total"].get(q, 0.0)) for q in self._quotes())
        equity = ex.equity()
        self._finished = PaperReport(
            sizing=self.sizing_name,
            markets={
                s.unified: f"{s.market_type} ({s.venue} {s.name}), taker {self._taker:.4%}, "
                f"maker {self._maker:.4%}"
                for s in self._by_unified.values()
            },
            messages=self._messages,
            updates=self._updates,
            not_in_sync=self._not_in_sync,
            signals=self.monitor.counters.signals,
            intents=self._intents,
            entries=self._entries,
            orders=len(self._run(ex.fetch_orders())),
            rejections=self._rejections(),
            fills=list(self._fills),
            starting_equity=ex.starting_equity,
            realized_pnl=ex.realized_pnl,
            unrealized_pnl=ex.unrealized_pnl(),
            unrealized_before_close=unrealized_before,
            fees=ex.fees_paid,
            final_equity=equity,
            balance=quote_total,
            positions_at_mark=equity - quote_total,
            open_positions={s: p.amount for s, p in executor.positions.items()},
            close_rejections=[r.detail for r in left],
            start_ms=self._start_ms if self._start_ms is not None else self.clock.ms,
            end_ms=self.clock.ms,
            symbol_ids={s.unified: s.symbol_id for s in self._by_unified.values()},
            algo=self.algo,
            parents=executor.parent_reports(),
        )
        return self._finished

    def _quotes(self) -> list[str]:
        return sorted({s.quote for s in self._by_unified.values()} or {"USDT"})

    def _rejections(self) -> dict[str, dict[str, int]]:
        c = self.monitor.counters
        monitor = {
            "neutral band": c.neutral,
            "reliability": c.low_reliability,
            "hysteresis": c.hysteresis,
            "cooldown": c.cooldown,
            "invalid price": c.invalid_price,
        }
        return {
            "monitor": {k: v for k, v in monitor.items() if v},
            "sizing": dict(sorted(self._sizing_rej.items())),
            "execution": dict(sorted(self._exec_rej.items())),
        }


# ---------------------------------------------------------------------- one-call entry points


def replay_paper(
    paths: Sequence[str | Path] | None = None,
    *,
    config: TradingConfig | None = None,
    sizing: SizingName = "confluence",
    balance: float | None = None,
    market_type: MarketType | None = None,
    symbols: Sequence[str] | None = None,
    heartbeat_ms: float = 1000.0,
    fees: tuple[float, float] | None = None,
    algo: str | None = None,
) -> PaperReport:
    """Paper-trade a replay of ``paths`` (default: the bundled sample) and return the report.

    Works from synchronous code and from inside a running event loop (``asyncio.run``,
    Jupyter), where it blocks that loop until the replay ends; from async code prefer
    :func:`replay_paper_async`. Arguments are those of :class:`PaperTrader` and
    :func:`confluex.feeds.files.replay`.
    """
    from .engine import Engine
    from .feeds.files import replay

    engine = Engine()
    with PaperTrader(
        engine,
        config,
        sizing=sizing,
        balance=balance,
        market_type=market_type,
        heartbeat_ms=heartbeat_ms,
        fees=fees,
        algo=algo,
    ) as trader:
        replay(paths, symbols=symbols, engine=engine, on_message=trader.on_message)
        return trader.finish()


async def replay_paper_async(
    paths: Sequence[str | Path] | None = None,
    *,
    config: TradingConfig | None = None,
    sizing: SizingName = "confluence",
    balance: float | None = None,
    market_type: MarketType | None = None,
    symbols: Sequence[str] | None = None,
    heartbeat_ms: float = 1000.0,
    fees: tuple[float, float] | None = None,
) -> PaperReport:
    """:func:`replay_paper` for async code: the replay runs in a worker thread, so the
    caller's event loop keeps serving while it runs. Gives the same trades as the sync call.
    """
    return await asyncio.to_thread(
        replay_paper,
        paths,
        config=config,
        sizing=sizing,
        balance=balance,
        market_type=market_type,
        symbols=symbols,
        heartbeat_ms=heartbeat_ms,
        fees=fees,
    )


# ---------------------------------------------------------------------- CLI glue


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) on loopback; raises ValueError otherwise."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"--serve takes HOST:PORT, was {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(
            f"--serve binds loopback only (127.0.0.1, localhost or ::1; put a TLS proxy in "
            f"front to expose it), was {host!r}"
        )
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"--serve port must be in [0, 65535], was {port}")
    return host, port


def trader_from_args(
    args: Any,
    engine: EngineLike,
    announce: Callable[[str], None] = print,
    config: TradingConfig | None = None,
) -> PaperTrader:
    """Build (and, with ``--serve``, start) a trader from ``confluex replay`` arguments.

    When serving, ``announce`` gets the address and, if it was generated, the token, before
    the trader waits ``--serve-wait`` seconds for a subscriber. Raises ValueError
    (``ConfigError`` included) on bad arguments.
    """
    if config is None:
        config = load_config(args.config, preset=args.preset)
    clock = DataClock()
    server: AlertServer | None = None
    token = os.environ.get("CONFLUEX_WS_TOKEN", "")
    generated = not token
    host = ""
    if args.serve is not None:
        host, port = parse_host_port(args.serve)
        if generated:
            token = secrets.token_urlsafe(24)
        server = AlertServer(token, host=host, port=port, clock=clock)
    trader = PaperTrader(
        engine,
        config,
        sizing=args.sizing,
        balance=args.balance,
        market_type=args.market_type,
        server=server,
        speed=args.speed if server is not None else None,
        clock=clock,
        algo=getattr(args, "algo", None),
    )
    if server is not None:
        try:
            trader.start_server()
        except BaseException:
            trader.close(linger_s=0.0)
            raise
        shown = f"token {token}" if generated else "token from CONFLUEX_WS_TOKEN"
        url_host = f"[{host}]" if ":" in host else host
        announce(f"alerts: serving ws://{url_host}:{server.port}/ ({shown})")
        trader.wait_for_subscriber(args.serve_wait)
    return trader


def __dir__() -> list[str]:
    return __all__
