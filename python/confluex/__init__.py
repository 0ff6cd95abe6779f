"""confluex: microsecond crypto microstructure signals and a 0-100 confluence score.

The compiled core lives in the private module ``confluex._core``; this package re-exports
its public types and adds the Python-side ergonomics (validation, unit conversion, enums).
"""

from __future__ import annotations

try:
    from . import _core  # noqa: F401 - fail early, with a hint, on a broken build
except ImportError as exc:  # pragma: no cover - only hit on a broken install
    raise ImportError(
        "confluex's compiled core (confluex._core) could not be imported. "
        "Did you forget to build it? Run `pip install -ve .` in the source tree."
    ) from exc

from ._core.exceptions import (
    BookCrossed,
    CapacityExceeded,
    ConfluexError,
    InvalidConfig,
    InvalidEvent,
    UnknownSymbol,
)
from ._core.instrument import Instrument
from ._core.types import book_level_event_dtype, level_dtype, trade_event_dtype

__version__ = "0.1.0"

__all__ = [
    "BookCrossed",
    "CapacityExceeded",
    "ConfluexError",
    "Instrument",
    "InvalidConfig",
    "InvalidEvent",
    "UnknownSymbol",
    "__version__",
    "book_level_event_dtype",
    "level_dtype",
    "trade_event_dtype",
]


def __dir__() -> list[str]:
    return __all__
