"""The --funding / --open-interest loaders: the real funding file, and typed errors."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import ccxt
import pytest
from confluex._core import sentiment
from confluex.sentiment_inputs import (
    SentimentInputError,
    load_funding,
    load_open_interest,
    risk_tiers_from_ccxt,
)

FUNDING = (
    Path(__file__).resolve().parent / "data" / "freqtrade" / "xrp_usdt_usdt_8h_funding_rate.json.gz"
)


def test_loads_the_real_funding_file() -> None:
    rows = load_funding(FUNDING)
    raw = json.loads(gzip.decompress(FUNDING.read_bytes()))
    assert [(r.time_ms, r.value) for r in rows] == [(int(t), float(v)) for t, v in raw]
    assert len(rows) == 91 and rows[0].ts_ns == 1637193600017 * 1_000_000
    gaps = {b.time_ms - a.time_ms for a, b in itertools.pairwise(rows)}
    assert all(abs(g - 8 * 3600 * 1000) < 1000 for g in gaps)  # 8-hourly


def test_plain_json_and_gzip_whatever_the_name(tmp_path: Path) -> None:
    rows = [[1700000000000, 12.5], [1700000300000, 13]]
    plain = tmp_path / "oi.json.gz"  # plain JSON despite the name
    plain.write_text(json.dumps(rows))
    packed = tmp_path / "oi.bin"
    packed.write_bytes(gzip.compress(json.dumps(rows).encode()))
    for p in (plain, packed):
        assert [(r.time_ms, r.value) for r in load_open_interest(p)] == [
            (1700000000000, 12.5),
            (1700000300000, 13.0),
        ]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{}", "expected a JSON list"),
        ("[]", "holds no"),
        ("[[1700000000000]]", r"row 0 must be \[time_ms"),
        ('[[1700000000000, "0.1"]]', "must be a number, was '0.1'"),
        ("[[1700000000000, NaN]]", "must be finite, was nan"),
        ("[[1700000000, 0.1]]", "Unix milliseconds .* was 1700000000"),
        ("[[1700000000000.5, 0.1]]", "integer of ms, was 1700000000000.5"),
        ("[[1700000000000, 1], [1700000000000, 2]]", "row 1 time must be after"),
        ("[[1700000000000, -5]]", "open interest must be >= 0, was -5"),
        ("[[1700000000000, true]]", "must be a number, was True"),
        ("not json", "not JSON"),
    ],
)
def test_bad_files_raise_naming_the_file_and_value(
    tmp_path: Path, content: str, match: str
) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(SentimentInputError, match=match) as err:
        load_open_interest(p)
    assert str(p) in str(err.value)


def test_negative_funding_is_valid_and_missing_file_is_typed(tmp_path: Path) -> None:
    p = tmp_path / "f.json"
    p.write_text("[[1700000000000, -0.0003]]")
    assert load_funding(p)[0].value == -0.0003
    with pytest.raises(SentimentInputError, match="cannot read"):
        load_funding(tmp_path / "missing.json")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(SentimentInputError, match="gzip"):
        load_funding(bad)


def _bybit_tiers() -> list[dict[str, Any]]:
    """SYNTHETIC risk-limit rows in Bybit's documented v5 shape, parsed by ccxt's bybit class."""
    ex = ccxt.bybit()
    market = ex.safe_market_structure(
        {
            "id": "BTCUSDT",
            "symbol": "BTC/USDT:USDT",
            "settle": "USDT",
            "contract": True,
            "type": "swap",
        }
    )
    info = [
        {"id": 1, "symbol": "BTCUSDT", "riskLimitValue": "2000000", "maintenanceMargin": "0.005",
         "initialMargin": "0.01", "isLowestRisk": 1, "maxLeverage": "100.00"},
        {"id": 2, "symbol": "BTCUSDT", "riskLimitValue": "2600000", "maintenanceMargin": "0.0056",
         "initialMargin": "0.0116", "isLowestRisk": 0, "maxLeverage": "86.20"},
    ]  # fmt: skip
    tiers: list[dict[str, Any]] = ex.parse_market_leverage_tiers(info, market)
    return tiers


def test_risk_tiers_from_ccxt_feed_the_risk_sub_score() -> None:
    tiers = risk_tiers_from_ccxt(_bybit_tiers())
    assert [
        (t.risk_limit_value, t.max_leverage, t.initial_margin, t.maintenance_margin) for t in tiers
    ] == [
        (2_000_000.0, 100.0, 0.01, 0.005),
        (2_600_000.0, 86.2, 0.0116, 0.0056),
    ]
    s = sentiment.Sentiment()
    s.set_risk_tiers(tiers)
    want = 0.4 * (100 - 10) + 0.3 * 100 + 0.3 * (50 * 2 / 35 + 50 * 2.6e6 / 1.2e9)
    assert s.reading(0).sub["risk"] == pytest.approx(want)
    no_info = [{k: v for k, v in t.items() if k != "info"} for t in _bybit_tiers()]
    assert risk_tiers_from_ccxt(no_info)[1].initial_margin == pytest.approx(1 / 86.2)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("maxLeverage", 0, "maxLeverage must be > 0, was 0"),
        ("maxNotional", None, "maxNotional .* was None"),
    ],
)
def test_bad_ccxt_tiers_raise_naming_the_value(field: str, value: object, match: str) -> None:
    tiers = _bybit_tiers()
    tiers[1][field] = value
    with pytest.raises(SentimentInputError, match=f"tier 1: {match}"):
        risk_tiers_from_ccxt(tiers)
