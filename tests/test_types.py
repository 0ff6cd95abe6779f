"""The NumPy dtypes of the POD event records match the C++ layout byte for byte."""

from __future__ import annotations

import confluex
import numpy as np
import pytest
from confluex import _core


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        ("level", confluex.level_dtype),
        ("book_level_event", confluex.book_level_event_dtype),
        ("trade_event", confluex.trade_event_dtype),
    ],
    ids=("level", "book_level_event", "trade_event"),
)
def test_dtype_matches_cpp_sizeof_and_offsetof(name: str, dtype: np.dtype) -> None:
    cpp = _core.types.cpp_layouts()[name]

    assert dtype.itemsize == cpp["itemsize"]
    assert {f: dtype.fields[f][1] for f in dtype.names} == cpp["offsets"]
