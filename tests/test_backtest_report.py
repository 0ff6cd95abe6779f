"""Backtest report: round trips and figures against a plain-Python reference, files, the CLI.

The known trade list below is synthetic (named so); the end-to-end check replays the real
USD-M BTCUSDT capture of 2024-07-18 as a perpetual.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluex.backtest_report import (
    PARQUET_HINT,
    BacktestReport,
    backtest_of,
    build_report,
    draw_fills,
    paper_fills_by_id,
    write_report,
)
from confluex.cli import main
from hypothesis import given
from hypothesis import strategies as st
from test_replay_trader import USDM, paper_replay


@dataclass(frozen=True)
class Fill:
    time_ms: int
    symbol: str
    side: str
    price: float
    amount: float
    fee: float
    reason: str = ""
    trade_type: str = "entry"


# A synthetic trade list: a winning long, a losing short closed in two fills, a small win.
KNOWN = [
    Fill(10_000, "S", "buy", 100.0, 1.0, 0.10),
    Fill(20_000, "S", "sell", 110.0, 1.0, 0.11, "take_profit", "exit"),
    Fill(30_000, "S", "sell", 50.0, 2.0, 0.10),
    Fill(40_000, "S", "buy", 55.0, 1.0, 0.05, "stop", "exit"),
    Fill(50_000, "S", "buy", 60.0, 1.0, 0.06, "stop", "exit"),
    Fill(60_000, "S", "buy", 10.0, 1.0, 0.0),
    Fill(70_000, "S", "sell", 12.0, 1.0, 0.0, "end", "exit"),
]


def reference(
    nets: list[float], intervals: list[tuple[int, int]], equity0: float, start: int, end: int
) -> dict[str, Any]:
    """Plain-Python figures from per-trade net PnL (in exit order) and holding intervals."""
    n = len(nets)
    won = sum(x for x in nets if x > 0)
    lost = -sum(x for x in nets if x < 0)
    equity, peak, dd, dd_pct, returns = equity0, equity0, 0.0, 0.0, []
    for x in nets:
        returns.append(x / equity)
        equity += x
        peak = max(peak, equity)
        dd = max(dd, peak - equity)
        dd_pct = max(dd_pct, (peak - equity) / peak * 100)
    sharpe = None
    if n >= 2:
        mean = sum(returns) / n
        var = sum((r - mean) ** 2 for r in returns) / (n - 1)
        sharpe = mean / math.sqrt(var) if var > 0 else None
    covered = set()  # exposure on a 1 ms grid: slow but obviously right
    for a, b in intervals:
        covered.update(range(max(a, start), min(b, end)))
    return {
        "trades": n,
        "win_rate": sum(1 for x in nets if x > 0) / n if n else None,
        "profit_factor": won / lost if lost > 0 else (math.inf if won > 0 else None),
        "net_pnl": sum(nets),
        "max_drawdown": dd,
        "max_drawdown_pct": dd_pct,
        "sharpe_per_trade": sharpe,
        "exposure": len(covered) / (end - start),
        "final_equity": equity,
    }


def test_known_trade_list_gives_the_hand_computed_figures() -> None:
    rep = build_report(KNOWN, 1_000.0, 0, 100_000)
    m = rep.metrics()

    assert [(t.direction, t.entry_ms, t.exit_ms, t.fills) for t in rep.trades] == [
        ("long", 10_000, 20_000, 2),
        ("short", 30_000, 50_000, 3),
        ("long", 60_000, 70_000, 2),
    ]
    assert [t.gross_pnl for t in rep.trades] == pytest.approx([10.0, -15.0, 2.0])
    assert [t.net_pnl for t in rep.trades] == pytest.approx([9.79, -15.21, 2.0])
    assert rep.trades[1].exit_price == pytest.approx(57.5)
    assert [t.exit_reason for t in rep.trades] == ["take_profit", "stop", "end"]
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["profit_factor"] == pytest.approx(11.79 / 15.21)
    assert m["fees"] == pytest.approx(0.42)
    assert m["net_pnl"] == pytest.approx(-3.42)
    assert m["max_drawdown"] == pytest.approx(15.21)  # 1009.79 -> 994.58
    assert m["max_drawdown_pct"] == pytest.approx(15.21 / 1009.79 * 100)
    assert m["exposure"] == pytest.approx(0.4)  # 10 s + 20 s + 10 s of 100 s
    assert m["final_equity"] == pytest.approx(996.58)
    returns = [9.79 / 1000, -15.21 / 1009.79, 2.0 / 994.58]
    mean = sum(returns) / 3
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert m["sharpe_per_trade"] == pytest.approx(mean / sd)
    ref = reference(
        [9.79, -15.21, 2.0],
        [(10_000, 20_000), (30_000, 50_000), (60_000, 70_000)],
        1_000.0,
        0,
        100_000,
    )
    for key, value in ref.items():
        assert m[key] == pytest.approx(value), key


def test_a_fill_that_flips_closes_one_trade_and_opens_the_next() -> None:
    fills = [
        Fill(1_000, "S", "buy", 100.0, 1.0, 0.1),
        Fill(2_000, "S", "sell", 110.0, 3.0, 0.3, "flip"),  # 1 closes the long, 2 open a short
        Fill(3_000, "S", "buy", 100.0, 2.0, 0.2, "cover"),
    ]
    rep = build_report(fills, 1_000.0, 0, 4_000)

    assert [(t.direction, t.amount) for t in rep.trades] == [("long", 1.0), ("short", 2.0)]
    assert [t.net_pnl for t in rep.trades] == pytest.approx([10.0 - 0.2, 20.0 - 0.4])
    assert rep.metrics()["fees"] == pytest.approx(0.6)


def test_open_trade_is_listed_but_not_counted() -> None:
    fills = [*KNOWN[:2], Fill(80_000, "S", "sell", 20.0, 1.0, 0.01)]
    rep = build_report(fills, 1_000.0, 0, 100_000)
    m = rep.metrics()

    assert (m["trades"], m["open_trades"]) == (1, 1)
    assert rep.trades[-1].exit_ms is None and rep.trades[-1].exit_reason == "open"
    assert m["exposure"] == pytest.approx((10_000 + 20_000) / 100_000)  # open to the end
    assert m["win_rate"] == 1.0 and m["profit_factor"] == math.inf
    assert rep.to_json()["metrics"]["profit_factor"] == "inf"
    assert "inf (no losing trade)" in rep.format()


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="starting equity"):
        build_report(KNOWN, 0.0, 0, 1)
    with pytest.raises(ValueError, match="end must not precede start"):
        build_report(KNOWN, 1.0, 10, 1)
    with pytest.raises(ValueError, match="amount and price > 0"):
        build_report([Fill(1, "S", "buy", 100.0, -1.0, 0.0)], 1.0, 0, 10)


_fill_lists = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 200),  # price
        st.integers(1, 5),  # amount
        st.integers(1, 20_000),  # ms after the previous fill
    ),
    min_size=1,
    max_size=30,
)


@given(_fill_lists)
def test_figures_match_the_plain_python_reference(
    raw: list[tuple[str, str, int, int, int]],
) -> None:
    fills, t = [], 1_000
    for sym, side, px, qty, dt in raw:
        t += dt
        fills.append(Fill(t, sym, side, float(px), float(qty), px * qty * 0.001))
    # close whatever is open at the end, so every trade is closed
    net_pos: dict[str, float] = {}
    for f in fills:
        net_pos[f.symbol] = net_pos.get(f.symbol, 0.0) + (
            f.amount if f.side == "buy" else -f.amount
        )
    for sym, pos in sorted(net_pos.items()):
        if pos:
            t += 1_000
            fills.append(Fill(t, sym, "sell" if pos > 0 else "buy", 50.0, abs(pos), 0.0))
    end = t + 5_000
    rep = build_report(fills, 10_000.0, 0, end)
    m = rep.metrics()
    # the reference gets the trades' nets in exit order and their intervals
    closed = sorted(rep.closed, key=lambda tr: (tr.exit_ms, tr.number))
    ref = reference(
        [tr.net_pnl for tr in closed],
        [(tr.entry_ms, tr.exit_ms or end) for tr in closed],
        10_000.0,
        0,
        end,
    )

    cash = sum((f.price * f.amount) * (1 if f.side == "sell" else -1) - f.fee for f in fills)
    assert m["net_pnl"] == pytest.approx(cash, abs=1e-6)  # flat at the end: PnL is the cash
    assert m["fees"] == pytest.approx(sum(f.fee for f in fills))
    for key, value in ref.items():
        if value is None or value == math.inf:
            assert m[key] == value, key
        else:
            assert m[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_report_files_round_trip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow.parquet")
    rep = build_report(KNOWN, 1_000.0, 0, 100_000)
    paths, notes = write_report(rep, tmp_path)

    assert [p.name for p in paths] == ["trades.csv", "trades.parquet", "report.json"] and not notes
    rows = read_csv(tmp_path / "trades.csv")
    table = pa.read_table(tmp_path / "trades.parquet").to_pylist()
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [float(r["net_pnl"]) for r in rows] == pytest.approx([9.79, -15.21, 2.0])
    assert [r["net_pnl"] for r in table] == pytest.approx([9.79, -15.21, 2.0])
    assert table[0]["entry_time"] == rows[0]["entry_time"] == "1970-01-01T00:00:10.000Z"
    assert doc["metrics"]["win_rate"] == pytest.approx(2 / 3)
    assert "not annualised" in doc["definitions"]["sharpe_per_trade"]
    assert len(doc["fills"]) == len(KNOWN) and len(doc["trades"]) == 3


def test_missing_pyarrow_skips_parquet_with_a_clear_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    paths, notes = write_report(build_report(KNOWN, 1_000.0, 0, 100_000), tmp_path)

    assert [p.name for p in paths] == ["trades.csv", "report.json"]
    assert notes == [f"trades.parquet skipped: {PARQUET_HINT}"]
    assert "pip install 'confluex[parquet]'" in notes[0]


def test_fills_are_drawn_at_their_time_and_price() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    drawn = draw_fills(ax, KNOWN)
    points = sorted(
        (round(float(x), 9), float(y)) for c in ax.collections for x, y in c.get_offsets()
    )
    plt.close(fig)

    expected = sorted((round(float(mdates.date2num(_dt(f.time_ms))), 9), f.price) for f in KNOWN)
    assert drawn == len(KNOWN) and points == expected


def _dt(ms: int) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1e3, tz=timezone.utc)


TIGHT = """
[confluence.thresholds]
long = 65
short = 35
neutral_buffer = 3

[monitor]
cooldown_s = 1
long_stop_pct = 0.005
short_stop_pct = 0.005
risk_reward = 1.0

[position_manager]
trailing_stop_pct = 0.0003
"""


def test_real_capture_end_to_end_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tight.toml"
    config.write_text(TIGHT)
    out = tmp_path / "out"
    args = ["replay", "--no-progress", "--paper", "--sizing", "executor", "--config", str(config)]
    code = main([*args, "--out", str(out), str(USDM)])
    stdout = capsys.readouterr().out
    doc = json.loads((out / "report.json").read_text())
    rows = read_csv(out / "trades.csv")
    m = doc["metrics"]

    assert code == 0
    assert stdout.index("paper trading") < stdout.index("backtest report")
    assert "per trade (mean/stdev of per-trade returns, not annualised)" in stdout
    assert {p.name for p in out.iterdir()} >= {"chart.png", "trades.csv", "report.json"}
    # the fills-based figures agree with the paper exchange's own books
    assert m["trades"] == len(rows) >= 3
    net_from_exchange = re_float(stdout, r"fees [\d.,]+, net (-?[\d.,]+)")
    assert m["net_pnl"] == pytest.approx(net_from_exchange, abs=1e-4)
    assert m["fees"] == pytest.approx(re_float(stdout, r"fees ([\d.,]+), net"), abs=1e-4)
    ref = reference(
        [float(r["net_pnl"]) for r in rows],
        [(int(r["entry_ms"]), int(r["exit_ms"])) for r in rows],
        m["starting_equity"],
        _ms(m["start_time"]),
        _ms(m["end_time"]),
    )
    for key, value in ref.items():
        if value is None:
            assert m[key] is None, key
        else:
            assert m[key] == pytest.approx(value, rel=1e-9), key


def test_backtest_of_a_paper_replay_matches_the_exchange_books() -> None:
    paper, trader = paper_replay(USDM, sizing="executor")
    trader.close()
    rep: BacktestReport = backtest_of(paper)
    by_id = paper_fills_by_id(paper)

    assert rep.metrics()["trades"] >= 1 and rep.open_trades == 0
    assert rep.gross_pnl == pytest.approx(paper.realized_pnl, abs=1e-9)
    assert rep.net_pnl == pytest.approx(paper.realized_pnl - paper.fees, abs=1e-9)
    assert rep.equity_curve[-1] == pytest.approx(paper.final_equity, rel=1e-12)
    assert sum(len(v) for v in by_id.values()) == len(paper.fills)
    assert 0 < rep.exposure <= 1  # type: ignore[operator]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def re_float(text: str, pattern: str) -> float:
    import re

    m = re.search(pattern, text)
    assert m, pattern
    return float(m.group(1).replace(",", ""))


def _ms(iso: str) -> int:
    from datetime import datetime

    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
