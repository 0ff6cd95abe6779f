"""The --funding / --open-interest loaders: the real funding file, and typed errors."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from confluex.sentiment_inputs import SentimentInputError, load_funding, load_open_interest

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
