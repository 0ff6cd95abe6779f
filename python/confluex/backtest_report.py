"""Backtest report of a paper replay: the trade list and its performance figures.

A *trade* is one round trip of one symbol: from the fill that opens a position from flat to
the fill that brings it back to flat (scale-ins and partial exits belong to the same trade; a
fill that flips the position closes one trade and opens the next with the rest, its fee split
pro rata). Prices are the fills' average prices, so the figures follow from the fills alone.

Figures, over closed trades (a trade still open at the end is listed but not counted):

- ``gross_pnl``: sum over trades of ``direction * (exit value - entry value)``; ``net_pnl``:
  gross minus the fees of the trade's fills. ``fees`` is the total of every fill's fee.
- ``win_rate``: trades with net PnL > 0 over all trades.
- ``profit_factor``: sum of the net PnL of winners over the absolute sum of the losers'
  (``inf`` with no loser; None when both sums are 0).
- ``max_drawdown`` / ``max_drawdown_pct``: the largest fall from a running peak of the
  closed-trade equity curve (starting equity, then the equity after each trade's exit, in exit
  order), in quote currency and as a percentage of that peak. Intra-trade swings are not
  marked to market, so this is the drawdown of realised equity.
- ``sharpe_per_trade``: mean over standard deviation (sample, n - 1) of the per-trade
  returns ``net_pnl / equity before the trade's exit``. It is **per trade and not
  annualised**: trade times are irregular, so no fixed period count applies (multiply by
  ``sqrt(trades per year)`` for an annual figure if the trade rate is stationary). None with
  fewer than two trades or zero variance.
- ``exposure``: the share of the replay's data time with at least one position open (the
  union of the trades' ``[entry, exit]`` intervals over ``end - start``).

Writing (:func:`write_report`): ``trades.csv``, ``trades.parquet`` when pyarrow is installed
(``pip install 'confluex[parquet]'``; otherwise a note says it was skipped) and
``report.json`` with the figures, their definitions, the trades and the fills.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from .replay_trader import FillRecord, PaperReport

__all__ = [
    "PARQUET_HINT",
    "BacktestReport",
    "FillLike",
    "Trade",
    "backtest_of",
    "build_report",
    "draw_fills",
    "paper_fills_by_id",
    "round_trips",
    "write_report",
]

#: What to install for ``trades.parquet``.
PARQUET_HINT = "pyarrow is not installed: pip install 'confluex[parquet]'"

TRADE_COLUMNS = (
    "number",
    "symbol",
    "direction",
    "entry_time",
    "exit_time",
    "entry_ms",
    "exit_ms",
    "amount",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "fees",
    "net_pnl",
    "return_pct",
    "holding_s",
    "fills",
    "exit_reason",
)

_REL_TOL = 1e-9


class FillLike(Protocol):
    """What the report reads from a fill (``confluex.replay_trader.FillRecord`` has it)."""

    @property
    def time_ms(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def price(self) -> float: ...
    @property
    def amount(self) -> float: ...
    @property
    def fee(self) -> float: ...
    @property
    def reason(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip of one symbol (see the module docstring)."""

    number: int
    symbol: str
    direction: Literal["long", "short"]
    entry_ms: int
    exit_ms: int | None  # None: still open at the end
    amount: float  # total amount entered
    entry_price: float  # average entry price
    exit_price: float | None  # average exit price (of what was exited)
    gross_pnl: float
    fees: float
    net_pnl: float
    return_pct: float | None  # net PnL over equity before the exit, in %
    fills: int
    exit_reason: str

    @property
    def closed(self) -> bool:
        return self.exit_ms is not None

    @property
    def holding_s(self) -> float | None:
        return (self.exit_ms - self.entry_ms) / 1e3 if self.exit_ms is not None else None

    def row(self) -> dict[str, Any]:
        """The trade as a flat row (the columns of ``trades.csv``)."""
        d = asdict(self)
        d["entry_time"] = _iso(self.entry_ms)
        d["exit_time"] = _iso(self.exit_ms) if self.exit_ms is not None else None
        d["holding_s"] = self.holding_s
        return {k: d[k] for k in TRADE_COLUMNS}


@dataclass
class _Open:
    symbol: str
    sign: float  # +1 long, -1 short
    entry_ms: int
    entry_qty: float = 0.0
    entry_value: float = 0.0
    exit_qty: float = 0.0
    exit_value: float = 0.0
    fees: float = 0.0
    fills: int = 0
    last_ms: int = 0
    reason: str = ""

    def position(self) -> float:
        return self.entry_qty - self.exit_qty


def round_trips(fills: Iterable[FillLike]) -> list[tuple[_Open, bool]]:
    """Group fills into round trips per symbol, in fill order; ``(trip, closed)`` pairs."""
    trips: list[tuple[_Open, bool]] = []
    open_: dict[str, _Open] = {}
    for f in sorted(fills, key=lambda f: f.time_ms):  # stable: same-ms fills keep their order
        if not (f.amount > 0 and f.price > 0):
            raise ValueError(f"a fill needs amount and price > 0, was {f.amount} at {f.price}")
        sign = 1.0 if f.side == "buy" else -1.0
        qty, fee = f.amount, f.fee
        trip = open_.get(f.symbol)
        if trip is None:
            trip = open_[f.symbol] = _Open(f.symbol, sign, f.time_ms)
        if sign == trip.sign:
            trip.entry_qty += qty
            trip.entry_value += qty * f.price
            trip.fees += fee
            trip.fills += 1
            trip.last_ms = f.time_ms
            continue
        closing = min(qty, trip.position())
        rest = qty - closing
        if rest <= _REL_TOL * qty:
            closing, rest = qty, 0.0
        trip.exit_qty += closing
        trip.exit_value += closing * f.price
        trip.fees += fee * closing / qty
        trip.fills += 1
        trip.last_ms = f.time_ms
        trip.reason = f.reason
        if trip.position() <= _REL_TOL * trip.entry_qty:
            trips.append((trip, True))
            del open_[f.symbol]
            if rest > 0:  # flipped: the rest opens the next trade
                nxt = open_[f.symbol] = _Open(f.symbol, sign, f.time_ms)
                nxt.entry_qty, nxt.entry_value = rest, rest * f.price
                nxt.fees, nxt.fills, nxt.last_ms = fee * rest / qty, 1, f.time_ms
    trips.extend((t, False) for t in open_.values())
    return trips


@dataclass
class BacktestReport:
    """The trade list and figures of one backtest (see the module docstring)."""

    trades: list[Trade]
    starting_equity: float
    start_ms: int
    end_ms: int
    fees: float
    equity_curve: list[float] = field(default_factory=list)  # start, then after each exit
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def closed(self) -> list[Trade]:
        return [t for t in self.trades if t.closed]

    @property
    def open_trades(self) -> int:
        return sum(1 for t in self.trades if not t.closed)

    @property
    def net_pnl(self) -> float:
        return sum(t.net_pnl for t in self.closed)

    @property
    def gross_pnl(self) -> float:
        return sum(t.gross_pnl for t in self.closed)

    @property
    def wins(self) -> int:
        return sum(1 for t in self.closed if t.net_pnl > 0)

    @property
    def losses(self) -> int:
        return sum(1 for t in self.closed if t.net_pnl < 0)

    @property
    def win_rate(self) -> float | None:
        n = len(self.closed)
        return self.wins / n if n else None

    @property
    def profit_factor(self) -> float | None:
        won = sum(t.net_pnl for t in self.closed if t.net_pnl > 0)
        lost = -sum(t.net_pnl for t in self.closed if t.net_pnl < 0)
        if lost > 0:
            return won / lost
        return math.inf if won > 0 else None

    @property
    def max_drawdown(self) -> float:
        dd, _ = self._drawdown()
        return dd

    @property
    def max_drawdown_pct(self) -> float:
        _, pct = self._drawdown()
        return pct

    def _drawdown(self) -> tuple[float, float]:
        peak, dd, pct = -math.inf, 0.0, 0.0
        for eq in self.equity_curve:
            peak = max(peak, eq)
            if peak - eq > dd:
                dd = peak - eq
            if peak > 0:
                pct = max(pct, (peak - eq) / peak * 100.0)
        return dd, pct

    @property
    def sharpe_per_trade(self) -> float | None:
        returns = [t.return_pct / 100.0 for t in self.closed if t.return_pct is not None]
        if len(returns) < 2:
            return None
        sd = statistics.stdev(returns)
        return statistics.fmean(returns) / sd if sd > 0 else None

    @property
    def exposure(self) -> float | None:
        span = self.end_ms - self.start_ms
        if span <= 0:
            return None
        intervals = sorted(
            (t.entry_ms, t.exit_ms if t.exit_ms is not None else self.end_ms) for t in self.trades
        )
        covered, cur_start, cur_end = 0, None, None
        for a, b in intervals:
            a, b = max(a, self.start_ms), min(b, self.end_ms)
            if b <= a:
                continue
            if cur_end is None or a > cur_end:
                if cur_end is not None and cur_start is not None:
                    covered += cur_end - cur_start
                cur_start, cur_end = a, b
            else:
                cur_end = max(cur_end, b)
        if cur_end is not None and cur_start is not None:
            covered += cur_end - cur_start
        return covered / span

    def metrics(self) -> dict[str, Any]:
        """The figures as a dict (``profit_factor`` may be ``inf``)."""
        closed = self.closed
        wins = [t.net_pnl for t in closed if t.net_pnl > 0]
        losses = [t.net_pnl for t in closed if t.net_pnl < 0]
        holds = [t.holding_s for t in closed if t.holding_s is not None]
        return {
            "trades": len(closed),
            "open_trades": self.open_trades,
            "wins": len(wins),
            "losses": len(losses),
            "win_rate": self.win_rate,
            "gross_pnl": self.gross_pnl,
            "fees": self.fees,
            "net_pnl": self.net_pnl,
            "profit_factor": self.profit_factor,
            "average_win": statistics.fmean(wins) if wins else None,
            "average_loss": statistics.fmean(losses) if losses else None,
            "expectancy": self.net_pnl / len(closed) if closed else None,
            "max_drawdown": self.max_drawdown,
            "max_drawdown_pct": self.max_drawdown_pct,
            "sharpe_per_trade": self.sharpe_per_trade,
            "exposure": self.exposure,
            "average_holding_s": statistics.fmean(holds) if holds else None,
            "starting_equity": self.starting_equity,
            "final_equity": self.equity_curve[-1] if self.equity_curve else self.starting_equity,
            "start_time": _iso(self.start_ms),
            "end_time": _iso(self.end_ms),
        }

    def to_json(self) -> dict[str, Any]:
        """``report.json``: figures, their definitions, trades and fills (``inf`` as "inf")."""
        metrics = {k: ("inf" if v == math.inf else v) for k, v in self.metrics().items()}
        return {
            "metrics": metrics,
            "definitions": DEFINITIONS,
            "trades": [t.row() for t in self.trades],
            "fills": self.fills,
        }

    def format(self) -> str:
        """The figures as printed after the paper-trading report."""
        m = self.metrics()
        out = ["backtest report  [round trips; figures over closed trades]"]
        if not m["trades"]:
            out.append("  trades     none closed")
            return "\n".join(out)
        pf = m["profit_factor"]
        pf_text = "inf (no losing trade)" if pf == math.inf else _num(pf, ".3f")
        out += [
            f"  trades     {m['trades']} closed ({m['wins']} won, {m['losses']} lost"
            + (f", {m['open_trades']} still open" if m["open_trades"] else "")
            + f"), win rate {_pct(m['win_rate'])}",
            f"  pnl        gross {m['gross_pnl']:,.4f}, fees {m['fees']:,.4f}, net "
            f"{m['net_pnl']:,.4f}; profit factor {pf_text}; expectancy "
            f"{_num(m['expectancy'], ',.4f')} per trade",
            f"  drawdown   max {m['max_drawdown']:,.4f} ({m['max_drawdown_pct']:.4f} % of peak, "
            "closed-trade equity)",
            f"  sharpe     {_num(m['sharpe_per_trade'], '.4f')} per trade (mean/stdev of "
            "per-trade returns, not annualised)",
            f"  exposure   {_pct(m['exposure'])} of {(self.end_ms - self.start_ms) / 1e3:,.1f} s "
            f"of data time in a position; average holding "
            f"{_num(m['average_holding_s'], ',.1f')} s",
        ]
        return "\n".join(out)


DEFINITIONS = {
    "trade": "round trip of one symbol, flat to flat; figures over closed trades",
    "win_rate": "trades with net PnL > 0 / trades",
    "profit_factor": "sum of winners' net PnL / |sum of losers' net PnL|",
    "max_drawdown": "largest fall from a running peak of the closed-trade equity curve",
    "sharpe_per_trade": "mean / sample stdev of per-trade returns (net PnL / equity before "
    "the exit); per trade, not annualised",
    "exposure": "share of data time with at least one position open",
    "fees": "sum of every fill's fee, quote currency",
}


def build_report(
    fills: Sequence[FillLike], starting_equity: float, start_ms: int, end_ms: int
) -> BacktestReport:
    """Trades and figures from the fills of a backtest (see the module docstring)."""
    if not (starting_equity > 0 and math.isfinite(starting_equity)):
        raise ValueError(f"starting equity must be a finite number > 0, was {starting_equity}")
    if end_ms < start_ms:
        raise ValueError(f"end must not precede start, was {start_ms} -> {end_ms}")
    trips = round_trips(fills)
    # equity after each exit, in exit order, gives each trade's return base
    order = sorted((i for i, (_, c) in enumerate(trips) if c), key=lambda i: trips[i][0].last_ms)
    equity = starting_equity
    curve = [equity]
    returns: dict[int, float] = {}
    nets: dict[int, tuple[float, float]] = {}
    for i in order:
        trip = trips[i][0]
        gross = trip.sign * (trip.exit_value - trip.entry_value)
        net = gross - trip.fees
        nets[i] = (gross, net)
        returns[i] = net / equity * 100.0
        equity += net
        curve.append(equity)
    trades: list[Trade] = []
    by_entry = sorted(range(len(trips)), key=lambda i: trips[i][0].entry_ms)
    for number, idx in enumerate(by_entry, start=1):
        trip, closed = trips[idx]
        if closed:
            gross, net = nets[idx]
        else:  # realised part of a trade still open
            avg_in = trip.entry_value / trip.entry_qty
            gross = trip.sign * (trip.exit_value - avg_in * trip.exit_qty)
            net = gross - trip.fees
        trades.append(
            Trade(
                number=number,
                symbol=trip.symbol,
                direction="long" if trip.sign > 0 else "short",
                entry_ms=trip.entry_ms,
                exit_ms=trip.last_ms if closed else None,
                amount=trip.entry_qty,
                entry_price=trip.entry_value / trip.entry_qty,
                exit_price=trip.exit_value / trip.exit_qty if trip.exit_qty > 0 else None,
                gross_pnl=gross,
                fees=trip.fees,
                net_pnl=net,
                return_pct=returns.get(idx),
                fills=trip.fills,
                exit_reason=trip.reason if closed else "open",
            )
        )
    return BacktestReport(
        trades=trades,
        starting_equity=starting_equity,
        start_ms=start_ms,
        end_ms=end_ms,
        fees=sum(f.fee for f in fills),
        equity_curve=curve,
        fills=[_fill_row(f) for f in fills],
    )


def backtest_of(paper: PaperReport) -> BacktestReport:
    """The backtest report of a paper replay (its fills, starting equity and data span)."""
    return build_report(paper.fills, paper.starting_equity, paper.start_ms, paper.end_ms)


def paper_fills_by_id(paper: PaperReport | None) -> dict[int, list[FillRecord]]:
    """The fills of a paper replay per engine symbol id (what the chart draws)."""
    out: dict[int, list[FillRecord]] = {}
    if paper is not None:
        for f in paper.fills:
            sid = paper.symbol_ids.get(f.symbol)
            if sid is not None:
                out.setdefault(sid, []).append(f)
    return out


def _fill_row(f: FillLike) -> dict[str, Any]:
    return {
        "time": _iso(f.time_ms),
        "time_ms": f.time_ms,
        "symbol": f.symbol,
        "side": f.side,
        "price": f.price,
        "amount": f.amount,
        "fee": f.fee,
        "reason": f.reason,
    }


def write_report(report: BacktestReport, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write trades.csv, trades.parquet (with pyarrow) and report.json into ``out_dir``.

    Returns the paths written and notes (e.g. that Parquet was skipped without pyarrow).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [t.row() for t in report.trades]
    written: list[Path] = []
    notes: list[str] = []
    path = out_dir / "trades.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(TRADE_COLUMNS))
        w.writeheader()
        w.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    written.append(path)
    try:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        notes.append(f"trades.parquet skipped: {PARQUET_HINT}")
    else:
        path = out_dir / "trades.parquet"
        schema = pa.schema(
            [
                (c, pa.string())
                if c in ("symbol", "direction", "entry_time", "exit_time", "exit_reason")
                else (c, pa.int64())
                if c in ("number", "entry_ms", "exit_ms", "fills")
                else (c, pa.float64())
                for c in TRADE_COLUMNS
            ]
        )
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        written.append(path)
    path = out_dir / "report.json"
    path.write_text(json.dumps(report.to_json(), indent=2, allow_nan=False) + "\n")
    written.append(path)
    return written, notes


def draw_fills(ax: Any, fills: Iterable[FillLike]) -> int:
    """Mark fills on a matplotlib price axis at their time and price.

    Buys are green up-triangles, sells red down-triangles; exits (fills whose ``trade_type``
    is not ``entry``) are drawn hollow. Returns the number of fills drawn.
    """
    pts: dict[tuple[str, bool], tuple[list[datetime], list[float]]] = {}
    n = 0
    for f in fills:
        is_entry = getattr(f, "trade_type", "entry") == "entry"
        xs, ys = pts.setdefault((f.side, is_entry), ([], []))
        xs.append(datetime.fromtimestamp(f.time_ms / 1e3, tz=timezone.utc))
        ys.append(f.price)
        n += 1
    for (side, is_entry), (xs, ys) in sorted(pts.items()):
        color = "#1a9850" if side == "buy" else "#d73027"
        ax.scatter(
            xs,
            ys,
            marker="^" if side == "buy" else "v",
            s=80,
            zorder=4,
            facecolors=color if is_entry else "none",
            edgecolors="black" if is_entry else color,
            linewidths=1.2,
            label=f"{side} fill ({'entry' if is_entry else 'exit'})",
        )
    return n


def _iso(ms: int) -> str:
    when = datetime.fromtimestamp(ms / 1e3, tz=timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.2f} %"


def _num(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def __dir__() -> list[str]:
    return __all__
