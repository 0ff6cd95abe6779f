"""Instrument: exact decimal <-> tick/lot conversion at the Python edge."""

from __future__ import annotations

from decimal import Decimal

import confluex
import pytest
from hypothesis import given
from hypothesis import strategies as st


def test_exchange_strings_convert_exactly() -> None:
    spot = confluex.Instrument("0.01", "0.00001")
    usdm = confluex.Instrument("0.1", "0.001")

    assert spot.price_to_ticks("61837.63000000") == 6183763
    assert spot.qty_to_lots("0.00100000") == 100
    assert spot.qty_to_lots("0.00000000") == 0
    assert usdm.price_to_ticks("63947.40") == 639474
    assert usdm.qty_to_lots("569.567") == 569567
    assert spot.tick_size_str == "0.01" and usdm.lot_size_str == "0.001"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("61837.635", "61837.635"),  # off the tick grid
        ("-1.00", "-1.00"),
        ("1e5", "1e5"),
        ("", "''"),
        ("1.2.3", "1.2.3"),
        ("abc", "abc"),
        ("99999999999999999999999", "9999"),  # more digits than int64 holds
    ],
    ids=("off_grid", "negative", "exponent", "empty", "two_dots", "letters", "overflow"),
)
def test_bad_price_string_raises_invalid_event_naming_it(value: str, fragment: str) -> None:
    spot = confluex.Instrument("0.01", "0.00001")

    with pytest.raises(confluex.InvalidEvent) as info:
        spot.price_to_ticks(value)

    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("tick", ["0", "0.000", "-0.01", "x", ""])
def test_zero_or_bad_tick_size_raises_invalid_config(tick: str) -> None:
    with pytest.raises(confluex.InvalidConfig, match="tick_size"):
        confluex.Instrument(tick, "0.001")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.01, 0.005])
def test_bad_float_price_raises(value: float) -> None:
    spot = confluex.Instrument("0.01", "0.00001")

    with pytest.raises(confluex.InvalidEvent):
        spot.price_to_ticks_f(value)


@given(
    ticks=st.integers(min_value=0, max_value=10**12),
    tick=st.sampled_from(["0.01", "0.1", "0.5", "0.00001", "5", "0.0025"]),
    trailing=st.integers(min_value=0, max_value=6),
)
def test_price_string_round_trips_against_decimal_reference(
    ticks: int, tick: str, trailing: int
) -> None:
    inst = confluex.Instrument(tick, "1")
    exact = Decimal(tick) * ticks
    text = format(exact, "f")
    if trailing and "." not in text:
        text += "."
    text += "0" * trailing if "." in text else ""

    assert inst.price_to_ticks(text) == ticks
    assert inst.price_to_ticks_f(float(exact)) == ticks or abs(float(exact)) > 2**52


@given(
    mantissa=st.integers(min_value=1, max_value=10**9),
    scale=st.integers(min_value=0, max_value=10),
)
def test_off_grid_value_is_never_rounded(mantissa: int, scale: int) -> None:
    inst = confluex.Instrument("0.01", "1")
    value = Decimal(mantissa).scaleb(-scale)
    on_grid = (value / Decimal("0.01")) % 1 == 0

    if on_grid:
        assert inst.price_to_ticks(format(value, "f")) == int(value / Decimal("0.01"))
    else:
        with pytest.raises(confluex.InvalidEvent):
            inst.price_to_ticks(format(value, "f"))


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("1000000000.0000000000", 400_000_000_000),  # 20 digits, 10 of them trailing zeros
        ("0.00250000000000000000000", 1),  # 23 decimals, 19 of them trailing zeros
        ("7.5000", 3000),
        ("0.", 0),
    ],
)
def test_trailing_fraction_zeros_count_against_neither_digits_nor_decimals(
    text: str, ticks: int
) -> None:
    # Found by hypothesis: "1000000000.0000000000" overflowed the 19-digit mantissa and was
    # refused as off-grid although it is exactly 4 * 10^11 ticks of 0.0025.
    assert confluex.Instrument("0.0025", "1").price_to_ticks(text) == ticks
