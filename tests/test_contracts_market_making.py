"""The market maker on contract markets whose ``contractSize`` is not 1, and on inverse ones.

On a contract market the feed's amounts are contracts of ``contractSize`` base units (OKX's
BTC-USDT-SWAP: 0.01 BTC). The market maker is told the contract size by a ccxt market
(``markets``): its quotes, queue and inventory stay in contracts, its money figures and risk
notionals multiply by the size, and its report is in base units. So the same market, recorded
in contracts instead of base units, must be quoted with the same base exposure and notional:
the real USD-M captures of 2024-07-18/19 are replayed as recorded (BTC, contractSize 1) and
rewritten into contracts of 0.001 BTC (every quantity x 1000: a SYNTHETIC transformation of
real data; prices and timestamps untouched). Inverse markets (Binance COIN-M, Bybit inverse, a
ccxt market with ``inverse``) are refused with a typed error naming the market.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluex._core.instrument import Instrument
from confluex.cli import main
from confluex.engine import Engine
from confluex.market_making import (
    MarketMaker,
    MMReport,
    UnsupportedMarket,
    _inverse_refusal,
    _Symbol,
    replay_mm,
)
from confluex.trading.config import RiskConfig
from confluex.trading.queue_model import QueueFill
from test_feed_replay_venues import coinm_capture

#: Contracts of 0.001 BTC, in steps of one contract, with USD-M's 100 USDT minimum and fee.
MILLI = {
    "symbol": "BTC/USDT:USDT",
    "contract": True,
    "linear": True,
    "inverse": False,
    "contractSize": 0.001,
    "precision": {"amount": 1.0, "price": 0.1},
    "limits": {"cost": {"min": 100.0}},
    "maker": 0.0002,
}


def _in_contracts(src: Path, dst: Path, per_base: int) -> Path:
    """``src`` (a Binance capture line file) with every quantity in contracts of
    1 / ``per_base`` base units: depth and snapshot levels, trades and book tickers."""

    def scale(q: str) -> str:
        return format(Decimal(q) * per_base, "f")

    out = []
    for line in gzip.open(src).read().splitlines():
        if not line:
            continue
        ts, _, msg = line.partition(b" ")
        obj = json.loads(msg)
        data = obj.get("data", obj)
        for key in ("b", "a", "bids", "asks"):
            if isinstance(data.get(key), list):
                data[key] = [[px, scale(q)] for px, q in data[key]]
        for key in ("q", "B", "A"):
            if isinstance(data.get(key), str):
                data[key] = scale(data[key])
        out.append(ts + b" " + json.dumps(obj, separators=(",", ":")).encode())
    dst.write_bytes(gzip.compress(b"\n".join(out) + b"\n"))
    return dst


@pytest.fixture(scope="module")
def base_and_contract_runs(
    hft_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[MMReport, MMReport]:
    tmp = tmp_path_factory.mktemp("contracts")
    files = [hft_data / "usdm_2024-07" / f"btcusdt_2024071{d}.gz" for d in (8, 9)]
    contracts = [_in_contracts(f, tmp / f.name, 1000) for f in files]
    risk = RiskConfig(max_symbol_notional=600.0)  # binds: about 9 refusals in 10 quotes
    base = replay_mm(files, risk=risk)
    in_contracts = replay_mm(contracts, risk=risk, markets={"BTCUSDT": MILLI})
    return base, in_contracts


def test_quotes_in_contracts_carry_the_base_exposure_and_notional_of_base_units(
    base_and_contract_runs: tuple[MMReport, MMReport],
) -> None:
    base_run, contract_run = base_and_contract_runs
    [b], [c] = base_run.symbols, contract_run.symbols

    assert (b.contract_size, c.contract_size) == (1.0, 0.001)
    # the quote size: 200 USDT of BTC at ~64,000 is 0.004 BTC, 4 contracts of 0.001
    assert b.order_qty == pytest.approx(0.004) and c.order_qty == pytest.approx(b.order_qty)
    assert c.max_inventory == pytest.approx(b.max_inventory)
    assert len(b.fills) > 50 and len(c.fills) == len(b.fills)
    for fb, fc in zip(b.fills, c.fills, strict=True):
        assert (fc.ts_ns, fc.side, fc.price) == (fb.ts_ns, fb.side, fb.price)
        assert fc.qty == pytest.approx(fb.qty, rel=1e-12)  # base units
        assert fc.fee == pytest.approx(fb.fee, rel=1e-12)  # maker fee on the quote notional
    assert c.volume == pytest.approx(b.volume, rel=1e-12)
    assert c.quoted_qty == pytest.approx(b.quoted_qty, rel=1e-12)
    assert c.orders_placed == b.orders_placed
    assert (c.inventory_min, c.inventory_max) == pytest.approx((b.inventory_min, b.inventory_max))
    for name in ("realized_pnl", "unrealized_pnl", "fees", "cash", "position"):
        assert getattr(c, name) == pytest.approx(getattr(b, name), rel=1e-9, abs=1e-9), name
    assert c.identity_error < 1e-6
    # the notional limit binds at the same quotes: the risk notionals are the same quote sums
    assert b.quotes_refused and c.quotes_refused == b.quotes_refused
    assert contract_run.risk is not None and base_run.risk is not None
    assert contract_run.risk["daily_pnl"] == pytest.approx(base_run.risk["daily_pnl"], rel=1e-9)


def _symbol(cs: float) -> tuple[MarketMaker, _Symbol]:
    """A hand-set symbol (synthetic: no market data) of a coin at 0.5 USDT: in coins (lot 1)
    for ``cs`` 1, else in contracts of ``cs`` coins (lot 1 contract)."""
    market = {"contract": True, "linear": True, "contractSize": cs, "precision": {"amount": 1}}
    engine = Engine()
    mm = MarketMaker(
        engine, risk=RiskConfig(max_order_notional=150.0), markets={"COINUSDT": market}
    )
    sym = engine.add_symbol("bybit:COINUSDT", Instrument("0.0001", "1"))
    st = _Symbol(mm, sym, "bybit", "COINUSDT", engine)
    mm._symbols = {sym: st}
    st.mid = 5_000.0  # 0.5 USDT in ticks of 0.0001
    mm._init_quoting(st)
    return mm, st


def test_hand_set_contracts_of_100_quote_the_notional_of_coins() -> None:
    (mm1, coins), (mm100, contracts) = _symbol(1.0), _symbol(100.0)
    assert coins.glft is not None and contracts.glft is not None

    # 200 USDT at 0.5: 400 coins, or 4 contracts of 100
    assert (coins.glft.order_lots, contracts.glft.order_lots) == (400, 4)
    assert contracts.base(contracts.glft.order_lots) == coins.base(coins.glft.order_lots) == 400
    # the order notional limit (150) sees 200 USDT either way, not 2 for 4 "coins"
    assert mm1._refused(coins, "buy", 5_000, 400, 0)
    assert mm100._refused(contracts, "buy", 5_000, 4, 0)
    assert not mm100._refused(contracts, "buy", 5_000, 2, 0)  # 100 USDT passes
    # a fill of 2 contracts books 200 coins' cash, fee and worst-case exposure
    for st, lots in ((coins, 200), (contracts, 2)):
        fill = QueueFill(1, "buy", 5_000, lots, 0, False, 0.0)
        mm = mm1 if st is coins else mm100
        mm._book_fill(st, fill)
        assert st.cash == pytest.approx(-100.0 - 100.0 * st.maker_fee)
        assert mm._worst_exposure(st) == pytest.approx(100.0)


def test_binance_coinm_capture_is_refused_naming_the_market(tmp_path: Path) -> None:
    path = coinm_capture(tmp_path / "synthetic_btcusd_perp.gz")

    with pytest.raises(UnsupportedMarket, match=r"binance_coinm:BTCUSD_PERP: inverse contract"):
        replay_mm([path])


def test_cli_strategy_mm_on_coinm_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = coinm_capture(tmp_path / "synthetic_btcusd_perp.gz")
    code = main(["replay", str(path), "--strategy", "mm", "--no-progress"])
    err = capsys.readouterr().err.strip()

    assert code != 0 and "Traceback" not in err and len(err.splitlines()) == 1
    assert "binance_coinm:BTCUSD_PERP: inverse contract market" in err


def test_inverse_ccxt_market_is_refused_when_given() -> None:
    # Binance COIN-M's BTCUSD_PERP as ccxt describes it: contracts of 100 USD, settled in BTC
    market: dict[str, Any] = {
        "symbol": "BTC/USD:BTC",
        "quote": "USD",
        "settle": "BTC",
        "contract": True,
        "linear": False,
        "inverse": True,
        "contractSize": 100.0,
    }

    with pytest.raises(UnsupportedMarket) as info:
        MarketMaker(Engine(), markets={"binance_futures:BTCUSD_PERP": market})
    assert str(info.value).startswith(
        "binance_futures:BTCUSD_PERP: inverse contract market (contractSize 100.0 USD, "
        "settled in BTC) is not supported"
    )


@pytest.mark.parametrize(
    ("key", "inverse"),
    [
        ("bybit:BTCUSD", True),
        ("bybit:ETHUSDH25", True),
        ("binance_coinm:ETHUSD_PERP", True),
        ("bybit:BTCUSDT", False),
        ("bybit:BTCPERP", False),
        ("bybit:BTC-27DEC24", False),
        ("binance_futures:BTCUSDT", False),
        ("binance_spot:BTCUSD", False),  # not a contract venue
    ],
)
def test_inverse_venue_symbols_are_told_from_linear_ones(key: str, inverse: bool) -> None:
    assert (_inverse_refusal(key, None) is not None) is inverse
