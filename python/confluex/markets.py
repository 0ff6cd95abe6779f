"""Markets at the Python edge: ticks and lots to prices, venue and ccxt symbols, instruments.

The core counts prices in integer ticks and sizes in integer lots (:class:`Instrument`). This
module is the one place that turns them back into numbers and strings, names a venue symbol
the ccxt way and builds an :class:`Instrument` from a ccxt market:

- :class:`Scale`: ticks (lots) -> float, correctly rounded (``6183763`` ticks of ``0.01`` is
  ``61837.63``, never ``61837.630000000005``), one value or a whole NumPy array, and the exact
  decimal string (:meth:`Scale.format`). ``Instrument.ticks_to_price`` rounds the same way.
- :func:`unified_symbol` / :func:`venue_symbol`: ``BTCUSDT`` <-> ``BTC/USDT`` (spot) or
  ``BTC/USDT:USDT`` (linear swap).
- :func:`instrument_from_market` and :func:`precision_to_decimal`: a ccxt market's price and
  amount precision as exact decimal tick and lot sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._core.instrument import Instrument

__all__ = [
    "QUOTE_CURRENCIES",
    "Scale",
    "format_price",
    "instrument_from_market",
    "precision_to_decimal",
    "quote_of",
    "unified_symbol",
    "venue_symbol",
]

MarketType = Literal["spot", "swap"]

#: Quote currencies recognised at the end of a venue symbol, tried in order (TUSD is left out:
#: it would turn XBTUSD into XB/TUSD).
QUOTE_CURRENCIES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "BTC", "ETH", "BNB", "EUR")


class Scale:
    """Integer units of a decimal step (ticks of a tick size, lots of a lot size) -> numbers.

    The step is held as ``mantissa * 10**-scale``; a value is ``units * mantissa / 10**scale``
    in float64, which is exact up to the one final division and so correctly rounded (while
    ``|units * mantissa| < 2**53``, i.e. any realistic price or size).

    Parameters
    ----------
    step
        The step as a decimal string (``"0.01"``, ``"0.5"``, ``"1"``): ``Instrument``'s
        ``tick_size_str`` or ``lot_size_str``.
    """

    __slots__ = ("_den", "_exp", "_mul", "step", "step_str")

    def __init__(self, step: str) -> None:
        try:
            d = Decimal(step)
        except (InvalidOperation, TypeError):
            raise ValueError(
                f"step must be a decimal string such as '0.01', was {step!r}"
            ) from None
        if not d.is_finite() or d <= 0:
            raise ValueError(f"step must be a positive decimal, was {step!r}")
        _, digits, exp = d.normalize().as_tuple()
        assert isinstance(exp, int)  # finite
        mantissa = int("".join(map(str, digits)))
        self._exp = exp
        self._mul = float(mantissa * 10**exp) if exp >= 0 else float(mantissa)
        self._den = 1.0 if exp >= 0 else float(10**-exp)
        self.step = float(d)
        self.step_str = step

    @classmethod
    def ticks(cls, instrument: Instrument) -> Scale:
        """The price scale of an instrument (its tick size)."""
        return cls(instrument.tick_size_str)

    @classmethod
    def lots(cls, instrument: Instrument) -> Scale:
        """The quantity scale of an instrument (its lot size)."""
        return cls(instrument.lot_size_str)

    def __call__(self, units: int) -> float:
        """One value: ``units * step``, correctly rounded."""
        return units * self._mul / self._den

    def array(self, units: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """A whole array at once (the same rounding as one value)."""
        out: npt.NDArray[np.float64] = units.astype(np.float64) * self._mul / self._den
        return out

    def values(self, units: npt.NDArray[np.int64]) -> list[float]:
        """An array as a list of Python floats."""
        out: list[float] = self.array(units).tolist()
        return out

    def format(self, units: int) -> str:
        """The exact decimal string with the step's decimals (``6183000`` -> ``"61830.00"``)."""
        return format(Decimal(self.step_str) * units, "f")

    def __repr__(self) -> str:
        return f"Scale({self.step_str!r})"


def format_price(instrument: Instrument, ticks: int) -> str:
    """A price in ticks as the exchange writes it: exactly the tick size's decimals."""
    return Scale(instrument.tick_size_str).format(ticks)


def unified_symbol(venue_symbol: str, market_type: MarketType) -> str | None:
    """The ccxt unified symbol of ``BTCUSDT``: ``BTC/USDT`` (spot), ``BTC/USDT:USDT`` (swap).

    Returns None when no known quote currency (:data:`QUOTE_CURRENCIES`) ends the name.
    """
    name = venue_symbol.upper()
    for quote in QUOTE_CURRENCIES:
        if name.endswith(quote) and len(name) > len(quote):
            base = name[: -len(quote)]
            return f"{base}/{quote}" if market_type == "spot" else f"{base}/{quote}:{quote}"
    return None


def venue_symbol(unified: str) -> str:
    """``BTC/USDT`` or ``BTC/USDT:USDT`` -> ``BTCUSDT`` (the venue's market id, by convention).

    Raises ValueError naming the value when it is not a unified symbol. Prefer the market's
    own ``id`` when the ccxt markets are loaded.
    """
    pair = unified.split(":", 1)[0]
    base, sep, quote = pair.partition("/")
    if not sep or not base or not quote:
        raise ValueError(f"symbol must be a ccxt unified symbol like 'BTC/USDT', was {unified!r}")
    return base + quote


def quote_of(unified: str) -> str:
    """The quote currency of a unified symbol (``BTC/USDT:USDT`` -> ``USDT``)."""
    return unified.split("/", 1)[1].split(":", 1)[0] if "/" in unified else ""


def precision_to_decimal(value: float | int | str, mode: int) -> str:
    """Returns a ccxt precision value as an exact decimal step string ("0.01").

    ``mode`` is ccxt's ``precisionMode``: TICK_SIZE (4) gives the step itself (a float such as
    ``1e-05``; its shortest repr is the exchange's decimal), DECIMAL_PLACES (2) gives a number
    of decimals. SIGNIFICANT_DIGITS (3) does not define a fixed step and is refused.
    """
    tick_size, decimal_places = 4, 2
    if mode == tick_size:
        d = Decimal(value) if isinstance(value, str) else Decimal(repr(value))
    elif mode == decimal_places:
        places = int(value)
        if places != value:
            raise ValueError(f"decimal places must be an integer, was {value!r}")
        d = Decimal(1).scaleb(-places)
    else:
        raise ValueError(
            f"unsupported ccxt precisionMode (need TICK_SIZE or DECIMAL_PLACES), was {mode}"
        )
    if not d.is_finite() or d <= 0:
        raise ValueError(f"precision must be a positive number, was {value!r}")
    return format(d.normalize(), "f")


def instrument_from_market(
    market: Mapping[str, Any], precision_mode: int, feed_qty_decimals: int | None = None
) -> Instrument:
    """Builds the engine Instrument (tick, lot) of a ccxt market.

    With ``feed_qty_decimals`` the lot is the feed's quantity grid (10**-decimals) whenever
    that is finer than the market's amount step, because the book must hold every quantity
    the depth stream sends (Binance spot: 8 decimals).
    """
    precision = market.get("precision") or {}
    px, amt = precision.get("price"), precision.get("amount")
    if px is None or amt is None:
        raise ValueError(
            f"market {market.get('symbol')!r} has no price/amount precision, was {precision!r}"
        )
    tick = precision_to_decimal(px, precision_mode)
    lot = precision_to_decimal(amt, precision_mode)
    if feed_qty_decimals is not None:
        feed_lot = Decimal(1).scaleb(-feed_qty_decimals)
        lot_d = Decimal(lot)
        if feed_lot < lot_d and lot_d % feed_lot == 0:
            lot = format(feed_lot, "f")
    return Instrument(tick, lot)


def __dir__() -> list[str]:
    return __all__
