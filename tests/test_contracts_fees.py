"""Fees booked by the ``FillLedger`` on contract markets whose ``contractSize`` is not 1.

A contract market's amount is a number of contracts; the venue charges the fee to the margin
balance, never to the contracts held. ccxt reports that fee in the settle currency on linear
swaps (OKX ``feeCcy``, Bybit ``settle``) and in the base currency on inverse ones (Bybit:
``base if inverse else settle``). So the ledger must hold every contract filled whatever the
fee's currency, and book the fee in quote. On spot, a fee charged in the base asset is taken
from what was bought (what the account then holds), as before.

The orders are OKX order payloads parsed by ccxt's own ``okx`` class (``parse_order``), with a
hand-built market table (no network). The payloads are SYNTHETIC, written here in OKX's
``GET /api/v5/trade/order`` format; the one with a base-currency fee on a linear swap is a
case OKX does not produce (it charges USDT there), standing for any venue that charges the
base, e.g. an inverse market's fee.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
from confluex.trading.fills import EntryPlan, FillEvent, FillLedger, Position
from confluex.trading.paper_venue import PaperMarket
from confluex.trading.risk import RiskLimits, RiskManager

SWAP = "BTC/USDT:USDT"  # OKX BTC-USDT-SWAP: contracts of 0.01 BTC
BIG = "PEPE/USDT:USDT"  # contracts of 100,000 PEPE (synthetic size)
SPOT = "BTC/USDT"


def _market(symbol: str, okx_id: str, cs: float | None) -> dict[str, Any]:
    """The paper venue's ccxt market structure, under OKX's instrument id."""
    base = symbol.split("/")[0]
    if cs is None:
        paper = PaperMarket(symbol, base, "USDT", amount_step=1e-8, min_amount=1e-8)
    else:
        paper = PaperMarket(
            symbol, base, "USDT", kind="swap", amount_step=1.0, min_amount=1.0, contract_size=cs
        )
    return {**paper.to_ccxt(), "id": okx_id}


def okx() -> Any:
    ex = ccxt.okx()
    ex.set_markets(
        [
            _market(SWAP, "BTC-USDT-SWAP", 0.01),
            _market(BIG, "PEPE-USDT-SWAP", 100_000.0),
            _market(SPOT, "BTC-USDT", None),
        ]
    )
    return ex


def okx_order(inst: str, sz: str, px: str, fee: str, fee_ccy: str) -> dict[str, Any]:
    """A filled market buy in OKX's order format (OKX signs a fee charged as negative)."""
    return {
        "instId": inst,
        "instType": "SPOT" if inst.count("-") == 1 else "SWAP",
        "ordId": f"{inst}-1",
        "clOrdId": "cfx1",
        "ordType": "market",
        "side": "buy",
        "posSide": "net",
        "tdMode": "cash" if inst.count("-") == 1 else "cross",
        "state": "filled",
        "sz": sz,
        "accFillSz": sz,
        "fillSz": sz,
        "avgPx": px,
        "fillPx": px,
        "px": "",
        "fee": f"-{fee}",
        "feeCcy": fee_ccy,
        "cTime": "1721260800000",
        "uTime": "1721260800100",
        "fillTime": "1721260800100",
    }


#: OKX instrument, symbol, contracts filled, average price, contract size
CONTRACTS = pytest.mark.parametrize(
    ("inst", "symbol", "sz", "px", "cs"),
    [("BTC-USDT-SWAP", SWAP, "30", "60000.1", 0.01), ("PEPE-USDT-SWAP", BIG, "3", "0.00001", 1e5)],
)


def book(order: dict[str, Any]) -> tuple[Position, FillEvent, RiskManager]:
    ex = okx()
    events: list[FillEvent] = []
    risk = RiskManager(RiskLimits(), clock=lambda: 0)
    ledger = FillLedger(
        market=ex.market,
        clock=lambda: 0,
        risk=risk,
        exchange_name="okx",
        simulated=True,
        notify=lambda kind, value: events.append(value) if kind == "fill" else None,
    )
    parsed = ex.parse_order(order)
    pos = ledger.apply(parsed, "entry", EntryPlan("long"))
    assert pos is not None and len(events) == 1
    return pos, events[0], risk


@CONTRACTS
def test_settle_currency_fee_leaves_the_contracts_whole(
    inst: str, symbol: str, sz: str, px: str, cs: float
) -> None:
    notional = float(sz) * float(px) * cs  # 18,000.03 / 3.0 USDT
    fee = round(0.0005 * notional, 12)
    pos, event, risk = book(okx_order(inst, sz, px, f"{fee}", "USDT"))

    assert pos.symbol == symbol and pos.contract_size == cs
    assert pos.amount == float(sz)  # every contract filled is held
    assert pos.notional == pytest.approx(notional)
    assert pos.fees == pytest.approx(fee) and event.fee_cost == pytest.approx(fee)
    assert event.fee_currency == "USDT" and event.filled_amount == float(sz)
    assert risk.daily_pnl == pytest.approx(-fee)


@CONTRACTS
def test_base_currency_fee_on_a_contract_market_is_not_taken_from_the_contracts(
    inst: str, symbol: str, sz: str, px: str, cs: float
) -> None:
    base = float(sz) * cs  # 0.3 BTC / 300,000 PEPE bought
    fee_base = 0.0005 * base  # charged in the base currency, from the margin balance
    pos, event, risk = book(okx_order(inst, sz, px, f"{fee_base:.12g}", symbol.split("/")[0]))

    # the venue holds 30 (3) contracts: a position of 30 - 0.00015 (or of 30 - 0.015, the fee
    # in contracts) would leave that much open at the venue once it is closed
    assert pos.amount == float(sz)
    assert pos.entry_price == float(px)
    fee_quote = fee_base * float(px)  # valued at the fill price: 0.0005 of the notional
    assert fee_quote == pytest.approx(0.0005 * float(sz) * float(px) * cs)
    assert pos.fees == pytest.approx(fee_quote) and event.fee_cost == pytest.approx(fee_quote)
    assert event.fee_currency == symbol.split("/")[0]
    assert risk.daily_pnl == pytest.approx(-fee_quote)


def test_base_currency_fee_on_spot_is_taken_from_what_was_bought() -> None:
    # OKX spot charges a buy's fee in the base asset: the account holds 0.3 - 0.0003 BTC
    pos, event, _ = book(okx_order("BTC-USDT", "0.3", "60000.1", "0.0003", "BTC"))

    assert pos.contract_size == 1.0
    assert pos.amount == pytest.approx(0.3 - 0.0003)
    assert pos.fees == pytest.approx(0.0003 * 60000.1)
    assert event.filled_amount == pytest.approx(0.3) and event.fee_currency == "BTC"
