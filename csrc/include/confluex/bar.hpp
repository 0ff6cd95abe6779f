// confluex/bar.hpp
//
// Provides the OHLCV bar record that the bar builder produces and that every bar-based view
// (technical, volume, price structure, sentiment's volatility) consumes.
//
// Prices are in instrument price units (ticks * tick size) as double, because the indicator
// kernels (RSI, MACD, ATR, ...) are defined on real-valued series and must equal TA-Lib's on
// the same bars; volumes are base-asset quantities. A bar covers [open_ns, open_ns + span) of
// its timeframe, aligned to multiples of the span since the Unix epoch.
#pragma once

#include <cstdint>
#include <type_traits>

namespace confluex {

// Flags of a Bar.
namespace bar_flags {
inline constexpr std::uint8_t kGap = 1U
                                     << 0; // no trade in the span: OHLC = previous close, volumes 0
inline constexpr std::uint8_t kHistory =
    1U << 1; // loaded from history (load_history), not built from trades
inline constexpr std::uint8_t kNoSides = 1U
                                         << 2; // buy/sell volume unknown (history bars carry none)
} // namespace bar_flags

// One OHLCV bar. `vwap` = quote_volume / volume (the close when volume is 0).
struct Bar {
    std::int64_t open_ns; // start of the span, aligned to the timeframe
    double open;
    double high;
    double low;
    double close;
    double volume;       // base quantity, all aggressors (unknown sides included)
    double buy_volume;   // base quantity bought by takers
    double sell_volume;  // base quantity sold by takers
    double quote_volume; // sum of price * quantity
    double vwap;
    std::uint32_t trades;
    std::uint8_t flags; // bar_flags
    std::uint8_t reserved[3];
};
static_assert(std::is_trivially_copyable_v<Bar> && sizeof(Bar) == 88);

} // namespace confluex
