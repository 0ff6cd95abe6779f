// confluex/tardis_csv.hpp
//
// Provides parse_tardis_rows(): whole lines of a Tardis.dev CSV (incremental_book_L2 or
// trades; the header excluded) -> engine records, each price and amount converted exactly by
// its symbol's Instrument. The Python replay streams a file through it chunk by chunk, and
// groups the book rows into messages (vectorised) from what this returns.
//
// Design: one pass over the bytes, fields cut at commas in place (Tardis CSVs have no quoting),
// no allocation per row; rows of symbols not in the table are skipped and counted.
// Threading: a free function over caller-owned state; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "confluex/symbol_table.hpp"
#include "confluex/types.hpp"

namespace confluex::feed {

// Which Tardis CSV: incremental_book_L2 (exchange,symbol,timestamp,local_timestamp,
// is_snapshot,side,price,amount) or trades (exchange,symbol,timestamp,local_timestamp,id,
// side,price,amount).
enum class TardisKind : std::uint8_t { Book = 0, Trades = 1 };

struct TardisBatch {
    // Book: one record per routed row, in row order: ts_ns = timestamp (us) * 1000, side 0 bid
    // / 1 ask, flags kSnapshot on is_snapshot rows; update_id 0 and prev_update_id kNoUpdateId
    // (the caller numbers messages and sets kEndOfMessage).
    std::vector<BookLevelEvent> book;
    // Trades: one record per routed row; side 0 buy, 1 sell, 2 anything else (unknown);
    // trade_id = the row's index among the lines parsed (0-based).
    std::vector<TradeEvent> trades;
    std::size_t rows = 0;    // non-empty lines parsed
    std::size_t skipped = 0; // rows whose symbol is not in the table
};

// parse_tardis_rows()
// Parses every non-empty line of `data` (a trailing '\r' is ignored) and appends to `out`.
// Throws InvalidEvent naming the line (first_line is the number of data's first line) and
// the bad value: a field count other than 8, a timestamp that is not an unsigned integer of
// microseconds representable in ns, an is_snapshot other than true/false, a book side other
// than bid/ask, or a price/amount off the symbol's tick/lot grid. `out` then holds the rows
// before the bad one.
void parse_tardis_rows(std::string_view data, TardisKind kind, const SymbolTable& table,
                       std::size_t first_line, TardisBatch& out);

} // namespace confluex::feed
