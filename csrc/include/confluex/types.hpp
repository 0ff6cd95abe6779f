// confluex/types.hpp
//
// Provides the vocabulary types shared by every concept of the core: integer price ticks and
// quantity lots, book sides, aggressor sides, the POD event records that batch ingestion and
// the SpscRing move around, and the contiguous top-of-book view the signal kernels read.
//
// Prices and sizes are integers in the core (ticks and lots of an Instrument). Floats appear
// only at the Python edge. An empty side is explicit: `std::optional` in C++ APIs and the
// documented sentinel `kNoPrice` inside POD records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace confluex {

using Ticks = std::int64_t; // price in instrument ticks
using Lots = std::int64_t;  // quantity in instrument lots

// Sentinel for "no price" inside POD records (an empty book side).
inline constexpr Ticks kNoPrice = std::numeric_limits<Ticks>::min();
// Sentinel for "no update id" (no sequence check requested).
inline constexpr std::int64_t kNoUpdateId = -1;

enum class BookSide : std::uint8_t { Bid = 0, Ask = 1 };

// The side of the aggressor (taker) of a trade. Unknown sides are never guessed: they count
// in total volume but in neither buy nor sell volume (reference-system §1 randomised them).
enum class Aggressor : std::uint8_t { Buy = 0, Sell = 1, Unknown = 2 };

// One price level.
struct Level {
    Ticks px;
    Lots qty;
};
static_assert(std::is_standard_layout_v<Level> && sizeof(Level) == 16);

// Flags of a BookLevelEvent.
namespace book_flags {
inline constexpr std::uint8_t kEndOfMessage = 1U << 0; // last record of its exchange message
inline constexpr std::uint8_t kSnapshot = 1U << 1;     // record belongs to a full snapshot
inline constexpr std::uint8_t kNoLevel = 1U << 2;      // carries ids only (an empty message)
} // namespace book_flags

// One L2 level update, as batch ingestion and the SpscRing carry it.
//
// Records of one exchange message are consecutive and share `update_id` and
// `prev_update_id`; the last one has kEndOfMessage. `qty_lots` is the absolute size of the
// level after the update; 0 deletes it. `prev_update_id` is the id the book must have applied
// last for this message to be contiguous: Binance spot `U - 1`, Binance futures `pu`, Bybit
// `u - 1`; kNoUpdateId disables the check.
struct BookLevelEvent {
    std::int64_t ts_ns;
    std::int64_t px_ticks;
    std::int64_t qty_lots;
    std::int64_t update_id;
    std::int64_t prev_update_id;
    std::uint32_t symbol_id;
    std::uint8_t side;  // BookSide
    std::uint8_t flags; // book_flags
    std::uint16_t reserved;
};
static_assert(std::is_trivially_copyable_v<BookLevelEvent> && sizeof(BookLevelEvent) == 48);

// One trade.
struct TradeEvent {
    std::int64_t ts_ns;
    std::int64_t px_ticks;
    std::int64_t qty_lots;
    std::int64_t trade_id;
    std::uint32_t symbol_id;
    std::uint8_t side; // Aggressor
    std::uint8_t flags;
    std::uint16_t reserved;
};
static_assert(std::is_trivially_copyable_v<TradeEvent> && sizeof(TradeEvent) == 40);

// A contiguous view of the best levels of both sides, best first. Valid until the next
// mutation of the book it came from.
struct BookView {
    const Level* bids = nullptr;
    std::size_t n_bids = 0;
    const Level* asks = nullptr;
    std::size_t n_asks = 0;
};

} // namespace confluex
