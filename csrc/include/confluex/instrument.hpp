// confluex/instrument.hpp
//
// Provides Instrument: the tick size and lot size of a tradable symbol, and exact conversion
// between exchange decimal strings and integer ticks / lots.
//
// Design: sizes are held as an integer mantissa and a decimal scale (0.01 = 1e-2,
// 0.00001 = 1e-5, 0.5 = 5e-1), so "61837.63000000" -> 6183763 ticks is exact integer
// arithmetic with no float rounding drift. A string that is not a whole number of ticks
// (lots) is rejected, never rounded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "confluex/types.hpp"

namespace confluex {

// A non-negative decimal number as mantissa * 10^-scale.
struct Decimal {
    std::uint64_t mantissa = 0;
    int scale = 0; // digits after the decimal point, 0..18
};

// parse_decimal()
// Parses an unsigned decimal string ("61837.63000000", "0.001", "5", "1e-5" is rejected).
// Returns false (and leaves `out` unchanged) on anything but digits with at most one '.',
// on more than 19 significant digits or more than 18 decimals (trailing zeros of the fraction
// count for neither: "1000000000.0000000000" is 10^9).
[[nodiscard]] bool parse_decimal(std::string_view s, Decimal& out) noexcept;

class Instrument {
  public:
    // Instrument::from_strings()
    // Builds an instrument from decimal strings of the tick and lot sizes.
    // REQUIRES: both strictly positive decimals; otherwise throws InvalidConfig naming the value.
    static Instrument from_strings(std::string_view tick_size, std::string_view lot_size);

    // Instrument::price_to_ticks()
    // Returns the exact number of ticks of a decimal price string. Throws InvalidEvent when
    // the string is not a decimal, is negative, or is not a whole number of ticks.
    [[nodiscard]] Ticks price_to_ticks(std::string_view px) const;
    // Instrument::qty_to_lots()
    // Returns the exact number of lots of a decimal quantity string (same rules).
    [[nodiscard]] Lots qty_to_lots(std::string_view qty) const;

    // Noexcept variants for parsers: return false instead of throwing.
    [[nodiscard]] bool try_price_to_ticks(std::string_view px, Ticks& out) const noexcept;
    [[nodiscard]] bool try_qty_to_lots(std::string_view qty, Lots& out) const noexcept;

    // Instrument::price_to_ticks(double)
    // Returns the nearest tick of a float price. Throws InvalidEvent for NaN, inf, negative
    // values or values further than 1e-6 tick from a tick (a float that is not on the grid).
    [[nodiscard]] Ticks price_to_ticks(double px) const;
    [[nodiscard]] Lots qty_to_lots(double qty) const;

    // Instrument::ticks_to_price()
    // Returns t * tick_size correctly rounded: computed as t * mantissa / 10^scale, where the
    // product is exact while |t * mantissa| < 2^53, so only the one division rounds (6183763
    // ticks of 0.01 is 61837.63, not the 61837.630000000005 of t * 0.01). confluex.Scale
    // rounds the same way in Python.
    [[nodiscard]] double ticks_to_price(Ticks t) const noexcept {
        return static_cast<double>(t) * tick_mant_ / tick_pow_;
    }
    // Instrument::lots_to_qty()
    // Returns l * lot_size, correctly rounded (as ticks_to_price()).
    [[nodiscard]] double lots_to_qty(Lots l) const noexcept {
        return static_cast<double>(l) * lot_mant_ / lot_pow_;
    }

    [[nodiscard]] double tick_size() const noexcept { return tick_; }
    [[nodiscard]] double lot_size() const noexcept { return lot_; }
    [[nodiscard]] const Decimal& tick_decimal() const noexcept { return tick_dec_; }
    [[nodiscard]] const Decimal& lot_decimal() const noexcept { return lot_dec_; }
    [[nodiscard]] std::string tick_size_str() const;
    [[nodiscard]] std::string lot_size_str() const;

  private:
    Instrument(Decimal tick, Decimal lot) noexcept;

    Decimal tick_dec_;
    Decimal lot_dec_;
    double tick_;
    double lot_;
    double tick_mant_; // tick_dec_ as mantissa / 10^scale, both exact doubles
    double tick_pow_;
    double lot_mant_;
    double lot_pow_;
};

namespace detail {
// 10^0 .. 10^19, the scale factors of Decimal (shared with the feed parsers).
inline constexpr std::uint64_t kPow10[20] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
    10000000000000000000ULL,
};

// Converts a decimal to a whole number of `unit`s. Returns false when it is not whole or
// overflows int64.
[[nodiscard]] bool decimal_to_units(const Decimal& value, const Decimal& unit,
                                    std::int64_t& out) noexcept;
[[nodiscard]] std::string decimal_to_string(const Decimal& d);
} // namespace detail

} // namespace confluex
