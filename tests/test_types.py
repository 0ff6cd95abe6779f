"""The NumPy dtypes of the POD records match their documented layout byte for byte.

The expectation is written out here from the structs in ``csrc/include/confluex/types.hpp``,
``feed_parser.hpp`` and ``feed_session.hpp`` (field order, C++ type, offset, sizeof), not taken
from the extension: PYBIND11_NUMPY_DTYPE and ``cpp_layouts()`` both derive from the
compiler's ``offsetof``, so comparing them only with each other could never catch a layout
change. Both are compared with this independent contract instead.
"""

from __future__ import annotations

import confluex
import numpy as np
import pytest
from confluex import _core


def spec(itemsize: int, *fields: tuple[str, str, int]) -> np.dtype:
    names, formats, offsets = zip(*fields, strict=True)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})


I8, U4, I4, U2, U1, F8 = "<i8", "<u4", "<i4", "<u2", "u1", "<f8"

LEVEL = spec(16, ("px", I8, 0), ("qty", I8, 8))
BOOK_LEVEL_EVENT = spec(
    48,
    ("ts_ns", I8, 0),
    ("px_ticks", I8, 8),
    ("qty_lots", I8, 16),
    ("update_id", I8, 24),
    ("prev_update_id", I8, 32),
    ("symbol_id", U4, 40),
    ("side", U1, 44),
    ("flags", U1, 45),
    ("reserved", U2, 46),
)
TRADE_EVENT = spec(
    40,
    ("ts_ns", I8, 0),
    ("px_ticks", I8, 8),
    ("qty_lots", I8, 16),
    ("trade_id", I8, 24),
    ("symbol_id", U4, 32),
    ("side", U1, 36),
    ("flags", U1, 37),
    ("reserved", U2, 38),
)
BOOK_TICKER = spec(
    56,
    ("ts_ns", I8, 0),
    ("update_id", I8, 8),
    ("symbol_id", U4, 16),
    ("reserved", U4, 20),
    ("bid_px", I8, 24),
    ("bid_qty", I8, 32),
    ("ask_px", I8, 40),
    ("ask_qty", I8, 48),
)
SCORE_POINT = spec(
    104,
    ("ts_ns", I8, 0),
    ("symbol_id", U4, 8),
    ("reserved", U4, 12),
    ("mid_px", F8, 16),
    ("score", F8, 24),
    ("score_raw", F8, 32),
    ("confidence", F8, 40),
    ("reliability", F8, 48),
    ("components", (F8, (6,)), 56),
)
SIGNAL_EVENT = spec(
    32,
    ("ts_ns", I8, 0),
    ("symbol_id", U4, 8),
    ("direction", I4, 12),
    ("score", F8, 16),
    ("mid_px", F8, 24),
)
MESSAGE_RESULT = spec(
    40,
    ("exchange_ts_ms", I8, 0),
    ("first_update_id", I8, 8),
    ("last_update_id", I8, 16),
    ("symbol_id", U4, 24),
    ("n_book", U4, 28),
    ("n_trades", U4, 32),
    ("kind", U1, 36),
    ("error", U1, 37),
    ("reserved", U2, 38),
)


def offsets(dtype: np.dtype) -> dict[str, int]:
    assert dtype.fields is not None
    return {name: dtype.fields[name][1] for name in dtype.names or ()}


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (confluex.level_dtype, LEVEL),
        (confluex.book_level_event_dtype, BOOK_LEVEL_EVENT),
        (confluex.trade_event_dtype, TRADE_EVENT),
        (confluex.book_ticker_dtype, BOOK_TICKER),
        (confluex.score_point_dtype, SCORE_POINT),
        (confluex.signal_event_dtype, SIGNAL_EVENT),
        (confluex.message_result_dtype, MESSAGE_RESULT),
    ],
    ids=(
        "level",
        "book_level_event",
        "trade_event",
        "book_ticker",
        "score_point",
        "signal_event",
        "message_result",
    ),
)
def test_dtype_equals_the_documented_layout(dtype: np.dtype, expected: np.dtype) -> None:
    assert dtype.names == expected.names
    assert dtype.itemsize == expected.itemsize
    assert offsets(dtype) == offsets(expected)
    assert dtype == expected  # field types too


@pytest.mark.parametrize(
    ("name", "expected"),
    [("level", LEVEL), ("book_level_event", BOOK_LEVEL_EVENT), ("trade_event", TRADE_EVENT)],
    ids=("level", "book_level_event", "trade_event"),
)
def test_compiler_layout_equals_the_documented_layout(name: str, expected: np.dtype) -> None:
    cpp = _core.types.cpp_layouts()[name]

    assert cpp["itemsize"] == expected.itemsize
    assert cpp["offsets"] == offsets(expected)


def test_book_ticker_compiler_layout_equals_the_documented_layout() -> None:
    size, cpp_offsets = _core.feed.book_ticker_layout()

    assert size == BOOK_TICKER.itemsize
    assert cpp_offsets == offsets(BOOK_TICKER)


def test_message_result_compiler_layout_equals_the_documented_layout() -> None:
    size, cpp_offsets = _core.session.message_result_layout()

    assert size == MESSAGE_RESULT.itemsize
    assert cpp_offsets == offsets(MESSAGE_RESULT)
