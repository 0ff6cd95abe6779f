// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp, built and run by .ci/fuzz): the
// symbol table they parse against, and the checks every parse must pass.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_parser.hpp"
#include "confluex/instrument.hpp"
#include "confluex/symbol_table.hpp"

namespace confluex::fuzz {

// The real captures' instruments, plus a fine grid that reaches the parser's long-decimal
// paths and a COIN-M contract symbol.
inline feed::SymbolTable table() {
    feed::SymbolTable t;
    t.add("BTCUSDT", 0, Instrument::from_strings("0.01", "0.00000001"));
    t.add("ETHUSDT", 1, Instrument::from_strings("0.1", "0.001"));
    t.add("PEPEUSDT", 2, Instrument::from_strings("0.000000001", "0.000000001"));
    t.add("BTCUSD_PERP", 3, Instrument::from_strings("0.1", "1"));
    t.add("XRPUSDT", 4, Instrument::from_strings("0.0001", "1"));
    return t;
}

// A parse is all-or-nothing and its records are what the parser documents: exact
// non-negative ticks and lots, sides in range. (Zero prices or trade sizes are the engine's to
// refuse, with InvalidEvent: the session counts them as the symbol's bad message.)
inline void check(const feed::ParseResult& r, const std::vector<BookLevelEvent>& book,
                  const std::vector<TradeEvent>& trades) {
    if (!r.ok()) {
        if (!book.empty() || !trades.empty()) {
            std::abort();  // a refused message left records behind
        }
        return;
    }
    if (book.size() != r.n_book || trades.size() != r.n_trades) {
        std::abort();
    }
    for (const BookLevelEvent& e : book) {
        if ((e.flags & book_flags::kNoLevel) == 0 && (e.px_ticks < 0 || e.qty_lots < 0 || e.side > 1)) {
            std::abort();
        }
    }
    for (const TradeEvent& e : trades) {
        if (e.px_ticks < 0 || e.qty_lots < 0 || e.side > 2) {
            std::abort();
        }
    }
}

// A book that claims sync is never crossed.
inline void check_book(const Engine& engine, std::uint32_t sym) {
    const OrderBook& b = engine.book(sym);
    const auto bb = b.best_bid();
    const auto ba = b.best_ask();
    if (b.in_sync() && bb && ba && bb->px >= ba->px) {
        std::abort();
    }
}

}  // namespace confluex::fuzz
