// Exact decimal <-> tick/lot conversion.
#include "confluex/instrument.hpp"

#include <array>
#include <cmath>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {

__extension__ typedef unsigned __int128 u128; // exact 128-bit intermediate (GCC/Clang)

using detail::kPow10;

double decimal_to_double(const Decimal& d) noexcept {
    return static_cast<double>(d.mantissa) /
           static_cast<double>(kPow10[static_cast<std::size_t>(d.scale)]);
}

std::string quoted(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('\'');
    out.append(s.substr(0, 64));
    if (s.size() > 64) {
        out.append("...");
    }
    out.push_back('\'');
    return out;
}

} // namespace

bool parse_decimal(std::string_view s, Decimal& out) noexcept {
    if (s.empty()) {
        return false;
    }
    std::uint64_t m = 0;
    int digits = 0; // significant digits accumulated (leading zeros skipped)
    int scale = 0;
    int held_zeros = 0; // fraction zeros not yet applied: trailing ones never count
    bool seen_dot = false;
    bool seen_digit = false;
    for (const char c : s) {
        if (c == '.') {
            if (seen_dot) {
                return false;
            }
            seen_dot = true;
            continue;
        }
        if (c < '0' || c > '9') {
            return false;
        }
        seen_digit = true;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (seen_dot) {
            // "1.2300" is 1.23: a fraction zero only counts once a non-zero digit follows it,
            // so trailing zeros neither overflow the mantissa nor hit the scale limit.
            if (d == 0) {
                ++held_zeros;
                continue;
            }
            for (; held_zeros > 0; --held_zeros) {
                if (++scale > 18 || (m != 0 && ++digits > 19)) {
                    return false;
                }
                m *= 10;
            }
            if (++scale > 18) {
                return false;
            }
        }
        if (m == 0 && d == 0) {
            continue; // leading zeros do not count against precision
        }
        if (++digits > 19) {
            return false;
        }
        m = m * 10 + d;
    }
    if (!seen_digit) {
        return false;
    }
    out.mantissa = m;
    out.scale = scale;
    return true;
}

namespace detail {

bool decimal_to_units(const Decimal& value, const Decimal& unit, std::int64_t& out) noexcept {
    // value / unit = (vm * 10^-vs) / (um * 10^-us) = vm * 10^(us - vs) / um.
    if (unit.mantissa == 0) {
        return false;
    }
    const int shift = unit.scale - value.scale;
    // Common case (exchange strings with at most the unit's decimals and < 2^64 scaled): stay
    // in 64-bit arithmetic; a 128-bit division is a library call an order of magnitude slower.
    if (shift >= 0) {
        std::uint64_t num64 = 0;
        if (!__builtin_mul_overflow(value.mantissa, kPow10[static_cast<std::size_t>(shift)],
                                    &num64)) {
            if (num64 % unit.mantissa != 0) {
                return false;
            }
            const std::uint64_t q = num64 / unit.mantissa;
            if (q > static_cast<std::uint64_t>(INT64_MAX)) {
                return false;
            }
            out = static_cast<std::int64_t>(q);
            return true;
        }
    }
    u128 num = value.mantissa;
    u128 den = unit.mantissa;
    if (shift >= 0) {
        num *= kPow10[static_cast<std::size_t>(shift)];
    } else {
        den *= kPow10[static_cast<std::size_t>(-shift)];
    }
    if (num % den != 0) {
        return false;
    }
    const u128 q = num / den;
    if (q > static_cast<u128>(INT64_MAX)) {
        return false;
    }
    out = static_cast<std::int64_t>(q);
    return true;
}

std::string decimal_to_string(const Decimal& d) {
    std::string digits = std::to_string(d.mantissa);
    if (d.scale == 0) {
        return digits;
    }
    const auto scale = static_cast<std::size_t>(d.scale);
    if (digits.size() <= scale) {
        digits.insert(0, scale - digits.size() + 1, '0');
    }
    digits.insert(digits.size() - scale, 1, '.');
    return digits;
}

} // namespace detail

Instrument::Instrument(Decimal tick, Decimal lot) noexcept
    : tick_dec_(tick), lot_dec_(lot), tick_(decimal_to_double(tick)), lot_(decimal_to_double(lot)),
      tick_mant_(static_cast<double>(tick.mantissa)),
      tick_pow_(static_cast<double>(kPow10[static_cast<std::size_t>(tick.scale)])),
      lot_mant_(static_cast<double>(lot.mantissa)),
      lot_pow_(static_cast<double>(kPow10[static_cast<std::size_t>(lot.scale)])) {}

Instrument Instrument::from_strings(std::string_view tick_size, std::string_view lot_size) {
    Decimal tick;
    Decimal lot;
    if (!parse_decimal(tick_size, tick) || tick.mantissa == 0) {
        throw InvalidConfig("tick_size must be a positive decimal, was " + quoted(tick_size));
    }
    if (!parse_decimal(lot_size, lot) || lot.mantissa == 0) {
        throw InvalidConfig("lot_size must be a positive decimal, was " + quoted(lot_size));
    }
    return Instrument(tick, lot);
}

bool Instrument::try_price_to_ticks(std::string_view px, Ticks& out) const noexcept {
    Decimal d;
    return parse_decimal(px, d) && detail::decimal_to_units(d, tick_dec_, out);
}

bool Instrument::try_qty_to_lots(std::string_view qty, Lots& out) const noexcept {
    Decimal d;
    return parse_decimal(qty, d) && detail::decimal_to_units(d, lot_dec_, out);
}

Ticks Instrument::price_to_ticks(std::string_view px) const {
    Ticks out = 0;
    if (!try_price_to_ticks(px, out)) {
        throw InvalidEvent("price must be a non-negative decimal on the tick grid " +
                           tick_size_str() + ", was " + quoted(px));
    }
    return out;
}

Lots Instrument::qty_to_lots(std::string_view qty) const {
    Lots out = 0;
    if (!try_qty_to_lots(qty, out)) {
        throw InvalidEvent("quantity must be a non-negative decimal on the lot grid " +
                           lot_size_str() + ", was " + quoted(qty));
    }
    return out;
}

namespace {
std::int64_t float_to_units(double v, double unit, const char* what, const std::string& grid) {
    if (!std::isfinite(v) || v < 0.0) {
        throw InvalidEvent(std::string(what) + " must be finite and non-negative, was " +
                           std::to_string(v));
    }
    const double units = v / unit;
    const double rounded = std::nearbyint(units);
    if (rounded > 9.2e18) {
        throw InvalidEvent(std::string(what) + " overflows int64 units, was " + std::to_string(v));
    }
    // A float on the grid divides to within a few ulps of an integer; 1e-6 unit is far above
    // that and far below any real off-grid value.
    if (std::fabs(units - rounded) > 1e-6 * std::fmax(1.0, std::fabs(rounded) * 1e-9)) {
        throw InvalidEvent(std::string(what) + " must be a multiple of " + grid + ", was " +
                           std::to_string(v));
    }
    return static_cast<std::int64_t>(rounded);
}
} // namespace

Ticks Instrument::price_to_ticks(double px) const {
    return float_to_units(px, tick_, "price", tick_size_str());
}

Lots Instrument::qty_to_lots(double qty) const {
    return float_to_units(qty, lot_, "quantity", lot_size_str());
}

std::string Instrument::tick_size_str() const { return detail::decimal_to_string(tick_dec_); }
std::string Instrument::lot_size_str() const { return detail::decimal_to_string(lot_dec_); }

} // namespace confluex
