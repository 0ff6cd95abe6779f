"""Paper trading over replays: engine scores -> monitor -> sizing -> executor -> paper exchange.

Real data: the bundled Binance spot sample and the USD-M BTCUSDT capture of 2024-07-18.
The "active" configuration below (thresholds 65/35, 5 s cooldown, 2 bp stops, 3 bp trailing
stop) makes these 3-minute captures trade several times, so stops, trailing stops and
take-profits trigger inside the replay; the defaults trade at most once on them.
"""

from __future__ import annotations

import gzip
import math
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluex import Engine
from confluex.cli import main
from confluex.engine import engine_config
from confluex.feeds.files import replay, sample_path
from confluex.replay_trader import (
    PaperReport,
    PaperTrader,
    SizingName,
    parse_host_port,
    unified_symbol,
)
from confluex.trading import RejectReason, load_config
from confluex.trading.config import MarketType
from serve_client import cli_command, serve_replay
from test_alerts import TRADE_ALERT_FIELDS  # the documented trade_alerts fields

USDM = Path(__file__).resolve().parent / "data/hftbacktest/usdm_2024-07/btcusdt_20240718.gz"
ACTIVE: dict[str, Any] = {
    "confluence": {"thresholds": {"long": 65, "short": 35, "neutral_buffer": 3}},
    "monitor": {
        "cooldown_s": 5,
        "long_stop_pct": 0.02,
        "short_stop_pct": 0.02,
        "risk_reward": 1.5,
    },
    "position_manager": {"trailing_stop_pct": 0.0003},
}

# Written against the reference system's formula (profile "reference"), not the default.
REFERENCE = engine_config(profile="reference")


def paper_replay(
    path: Path | None,
    *,
    sizing: SizingName = "confluence",
    market_type: MarketType | None = None,
    config: dict[str, Any] | None = None,
    heartbeat_ms: float = 1000.0,
) -> tuple[PaperReport, PaperTrader]:
    engine = Engine(REFERENCE)
    trader = PaperTrader(
        engine,
        load_config(ACTIVE if config is None else config),
        sizing=sizing,
        market_type=market_type,
        heartbeat_ms=heartbeat_ms,
    )
    replay([path] if path else None, engine=engine, on_message=trader.on_message)
    report = trader.finish()
    return report, trader


def run(trader: PaperTrader, coro: Any) -> Any:
    return trader._loop.run_until_complete(coro)


CASES = [
    pytest.param(USDM, "confluence", None, id="usdm_confluence"),
    pytest.param(USDM, "executor", None, id="usdm_executor"),
    pytest.param(None, "confluence", None, id="spot_sample_confluence"),
    pytest.param(None, "executor", "swap", id="spot_sample_as_swap_executor"),
]


@pytest.mark.parametrize(("path", "sizing", "market_type"), CASES)
def test_paper_replay_trades_and_the_equity_identity_holds(
    path: Path | None, sizing: SizingName, market_type: MarketType | None
) -> None:
    report, trader = paper_replay(path, sizing=sizing, market_type=market_type)
    trader.close()

    assert report.fills, report.format()
    assert report.entries >= 1 and report.orders >= 2 * report.entries
    assert report.fees > 0 and report.fees == pytest.approx(sum(f.fee for f in report.fills))
    rel = abs(report.identity_lhs - report.identity_rhs) / report.starting_equity
    assert rel <= 1e-6
    assert report.identity_error <= 1e-6
    assert report.final_equity == pytest.approx(report.identity_lhs, rel=1e-12)
    assert report.unrealized_pnl == 0.0 and not report.open_positions  # flat at the end
    assert report.starting_equity == 10_000.0


@pytest.mark.parametrize(("path", "sizing", "market_type"), CASES)
def test_every_venue_fill_is_booked_once_and_reflected_in_positions(
    path: Path | None, sizing: SizingName, market_type: MarketType | None
) -> None:
    report, trader = paper_replay(path, sizing=sizing, market_type=market_type)
    ex, executor, journal = trader.exchange, trader.executor, trader.journal
    assert ex is not None and executor is not None and journal is not None
    orders = run(trader, ex.fetch_orders())
    venue_trades = run(trader, ex.fetch_my_trades())
    venue_positions = run(trader, ex.fetch_positions())
    trader.close()

    # every execution at the venue appears exactly once in the fills, order by order
    booked: Counter[str] = Counter()
    for f in report.fills:
        booked[f.order_id] += 1
    filled = {o["id"]: o["filled"] for o in orders if o["filled"] > 0}
    per_order = {oid: sum(f.amount for f in report.fills if f.order_id == oid) for oid in filled}
    assert set(booked) == set(filled)
    for oid, amount in filled.items():
        assert per_order[oid] == pytest.approx(amount, rel=1e-12)
    assert sum(t["amount"] for t in venue_trades) == pytest.approx(
        sum(f.amount for f in report.fills), rel=1e-12
    )
    # positions follow the fills: entries open, exits never exceed what is open, flat at the end
    net = 0.0
    for f in report.fills:
        net += f.amount if f.trade_type == "entry" else -f.amount
        assert net >= -1e-12, f
    assert net == pytest.approx(0.0, abs=1e-12)
    assert executor.positions == {}
    assert venue_positions == []
    # realised PnL and fees agree between the executor's fills and the exchange's books
    assert sum(f.realized_pnl for f in report.fills) == pytest.approx(report.realized_pnl)
    assert sum(f.fee for f in report.fills) == pytest.approx(report.fees)


@pytest.mark.parametrize(("path", "sizing", "market_type"), CASES)
def test_positions_match_the_fills_after_every_message(
    path: Path | None, sizing: SizingName, market_type: MarketType | None
) -> None:
    engine = Engine()
    trader = PaperTrader(engine, load_config(ACTIVE), sizing=sizing, market_type=market_type)
    checked = 0
    seen = 0

    def hook(session: object, sym: int, ts: int) -> None:
        nonlocal checked, seen
        trader.on_message(session, sym, ts)
        fills = trader.fills
        if len(fills) == seen:
            return
        seen = len(fills)
        ex, executor = trader.exchange, trader.executor
        assert ex is not None and executor is not None
        for symbol in {f.symbol for f in fills}:
            net = sum(
                (1.0 if f.side == "buy" else -1.0) * f.amount for f in fills if f.symbol == symbol
            )
            pos = executor.positions.get(symbol)
            held = 0.0 if pos is None else pos.amount * (1.0 if pos.direction == "long" else -1.0)
            assert held == pytest.approx(net, abs=1e-12)
            if symbol.endswith(":USDT"):
                venue = run(trader, ex.fetch_positions([symbol]))
                at_venue = sum(
                    p["contracts"] * (1.0 if p["side"] == "long" else -1.0) for p in venue
                )
            else:
                at_venue = run(trader, ex.fetch_balance())["total"].get(symbol.split("/")[0], 0.0)
            assert at_venue == pytest.approx(net, abs=1e-12)
            checked += 1

    replay([path] if path else None, engine=engine, on_message=hook)
    trader.finish()
    trader.close()

    assert checked >= 1  # the final close happens in finish(), after the last message


@pytest.mark.parametrize(("path", "sizing", "market_type"), CASES)
def test_no_order_is_duplicated(
    path: Path | None, sizing: SizingName, market_type: MarketType | None
) -> None:
    report, trader = paper_replay(path, sizing=sizing, market_type=market_type)
    ex, journal = trader.exchange, trader.journal
    assert ex is not None and journal is not None
    orders = run(trader, ex.fetch_orders())
    trader.close()

    client_ids = [o["clientOrderId"] for o in orders]
    assert len(set(client_ids)) == len(client_ids) == report.orders
    assert len({o["id"] for o in orders}) == len(orders)
    assert len(journal) == len(orders)  # every journaled order reached the venue once
    assert all(journal.get(cid) is not None for cid in client_ids)
    transaction_ids = [f"{f.order_id}:{f.client_order_id}:{f.time_ms}" for f in report.fills]
    assert len(set(transaction_ids)) == len(transaction_ids)


def test_two_runs_give_identical_trades() -> None:
    first, t1 = paper_replay(None, sizing="executor", market_type="swap")
    second, t2 = paper_replay(None, sizing="executor", market_type="swap")
    t1.close()
    t2.close()

    assert len(first.fills) >= 4
    assert first.trade_tuples() == second.trade_tuples()
    assert first.format().splitlines()[2:] == second.format().splitlines()[2:]
    # client order ids are random by design (never reused at a venue)
    assert {f.client_order_id for f in first.fills}.isdisjoint(
        f.client_order_id for f in second.fills
    )


def test_exits_trigger_inside_the_replay_on_data_time() -> None:
    report, trader = paper_replay(None, sizing="executor", market_type="swap")
    trader.close()
    with gzip.open(sample_path(), "rb") as fh:
        first_ms = int(fh.readline().split(b" ", 1)[0]) // 1_000_000

    reasons = Counter(f.reason for f in report.fills if f.trade_type == "exit")
    assert reasons["stop"] + reasons["take_profit"] >= 2, reasons
    assert all(first_ms <= f.time_ms <= trader.clock.ms for f in report.fills)
    assert trader.clock.ms - first_ms < 181_000  # a 3-minute capture
    times = [f.time_ms for f in report.fills]
    assert times == sorted(times)


def test_spot_shorts_are_rejected_with_the_documented_reason() -> None:
    report, trader = paper_replay(None)
    trader.close()

    assert report.rejections["sizing"][RejectReason.SPOT_SHORT.value] >= 1
    assert RejectReason.SPOT_SHORT.value == "spot markets cannot short"
    assert report.markets["BTC/USDT"].startswith("spot")
    assert not [f for f in report.fills if f.trade_type == "entry" and f.side == "sell"]
    assert report.fills  # longs still trade


def test_futures_capture_can_short() -> None:
    report, trader = paper_replay(USDM)
    trader.close()

    assert "BTC/USDT:USDT" in report.markets
    assert [f for f in report.fills if f.trade_type == "entry" and f.side == "sell"]
    assert RejectReason.SPOT_SHORT.value not in report.rejections["sizing"]


def test_unchanged_scores_are_sent_only_on_the_heartbeat() -> None:
    engine = Engine(REFERENCE)
    trader = PaperTrader(engine, load_config(ACTIVE), heartbeat_ms=1e12)
    seen: list[tuple[float, bool]] = []

    def hook(session: object, sym: int, ts: int) -> None:
        seen.append((engine.score(sym), engine.in_sync(sym)))
        trader.on_message(session, sym, ts)

    replay([USDM], engine=engine, on_message=hook)
    report = trader.finish()
    trader.close()
    every, t2 = paper_replay(USDM, heartbeat_ms=1e-6)
    t2.close()

    expected, last = 0, math.nan
    for score, in_sync in seen:
        if score == last or not in_sync:
            continue
        last = score
        expected += 1
    assert report.updates == expected < len(seen)
    assert every.updates + every.not_in_sync == every.messages == len(seen)


def test_default_config_on_the_sample_runs_and_balances() -> None:
    report, trader = paper_replay(None, config={})
    trader.close()

    assert report.messages > 10_000 and report.updates > 1000
    assert report.signals >= 1
    assert report.identity_error <= 1e-6


def test_unified_symbols_and_serve_addresses() -> None:
    assert unified_symbol("BTCUSDT", "spot") == "BTC/USDT"
    assert unified_symbol("ethusdc", "swap") == "ETH/USDC:USDC"
    assert unified_symbol("XBTUSD", "swap") == "XBT/USD:USD"
    assert unified_symbol("FOO", "spot") is None
    assert parse_host_port("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_host_port("[::1]:8765") == ("::1", 8765)
    with pytest.raises(ValueError, match="loopback"):
        parse_host_port("0.0.0.0:8765")
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_host_port("8765")


# ------------------------------------------------------------------ CLI


def fills_in(stdout: str) -> int:
    m = re.search(r"fills (\d+)", stdout)
    assert m, stdout
    return int(m.group(1))


def test_cli_paper_replay_prints_the_trading_report_after_the_summary() -> None:
    proc = subprocess.run(
        [*cli_command(), "replay", "--paper", "--no-progress", str(USDM)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("latency, in-process") < out.index("paper trading")
    assert "BTC/USDT:USDT: swap (binance_futures BTCUSDT)" in out
    assert fills_in(out) >= 1 and "exit:end_of_replay" in out
    assert re.search(r"check .* OK", out)


def test_cli_without_paper_prints_no_trading_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--no-progress"]) == 0
    out = capsys.readouterr().out

    assert "latency, in-process" in out and "paper trading" not in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--preset", "nosuch"], "unknown preset"),
        (["--serve", "0.0.0.0:8765"], "loopback"),
        (["--paper", "--balance", "-5"], "balance"),
    ],
    ids=("unknown_preset", "non_loopback_serve", "negative_balance"),
)
def test_cli_bad_paper_arguments_are_clear_errors(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "--no-progress", "--paper", *args])

    assert code == 2
    assert needle in capsys.readouterr().err


def test_cli_serve_publishes_signals_and_one_trade_alert_per_fill() -> None:
    served = serve_replay([str(USDM)], ["signals", "orders", "trade_alerts", "positions"])
    messages = served.messages

    assert served.returncode == 0, served.stderr
    out = served.stdout
    assert served.token not in out
    by_channel = Counter(msg.get("channel") for msg in messages)
    assert by_channel["signals"] >= 1
    alerts = [msg for msg in messages if msg.get("channel") == "trade_alerts"]
    fills = fills_in(out)
    assert fills >= 1 and len(alerts) == fills
    assert len({a["data"]["transaction_id"] for a in alerts}) == fills
    for a in alerts:
        assert a["type"] == "trade_execution" and a["event"] in ("filled", "partially_filled")
        assert set(a["data"]) == TRADE_ALERT_FIELDS
        assert a["data"]["simulated"] is True and a["data"]["exchange"] == "paper"
        assert a["symbol"] == a["data"]["symbol"] == "BTC/USDT:USDT"
        assert a["data"]["fee"]["currency"] == "USDT" and a["data"]["fee"]["cost"] > 0
    report_orders = re.findall(
        r"BTC/USDT:USDT\s+(?:entry|exit)\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)", out
    )
    assert [a["data"]["order_id"] for a in alerts] == report_orders
    assert by_channel["positions"] == fills and by_channel["orders"] >= fills
    signal = next(msg for msg in messages if msg.get("channel") == "signals")
    assert signal["data"]["signal"] in ("LONG", "SHORT")
    assert {"score", "score_raw", "confidence", "reliability", "price"} <= set(signal["data"])


def test_cli_serve_on_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["replay", "--no-progress", "--serve", f"127.0.0.1:{port}"])

    assert code == 2
    assert str(port) in capsys.readouterr().err
