// confluex/symbol_table.hpp
//
// Provides SymbolTable: the map from an exchange's symbol text ("BTCUSDT", or the lower-case
// "btcusdt" of Binance stream names) to the engine's dense symbol id and the Instrument that
// converts the symbol's decimal strings to ticks and lots. The feed parsers look every
// message's symbol up here.
//
// Design: open addressing over a power-of-two slot array holding indices into a vector of
// entries; the hash and the comparison fold ASCII case on the fly, so `find` on a stream
// prefix allocates nothing and copies nothing. Tables are small (tens of symbols) and built
// once at start-up; `add` rehashes.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "confluex/instrument.hpp"

namespace confluex::feed {

// Symbol id of a message whose symbol is not known (ParseResult::symbol_id).
inline constexpr std::uint32_t kNoSymbol = std::numeric_limits<std::uint32_t>::max();
// Symbol ids are dense engine ids; per-symbol counters are vectors indexed by id, so ids
// are bounded to keep those vectors small.
inline constexpr std::uint32_t kMaxSymbolId = (1U << 20) - 1;
// Longest venue symbol accepted (real ones are under 32 characters).
inline constexpr std::size_t kMaxVenueSymbolLength = 64;

class SymbolTable {
  public:
    struct Entry {
        std::string venue_symbol; // as given to add()
        std::string key;          // ASCII lower-case, what lookups compare against
        std::uint32_t symbol_id;
        Instrument instrument;
    };

    SymbolTable() = default;

    // SymbolTable::add()
    // Registers a venue symbol under an engine symbol id with its instrument.
    // REQUIRES: 1..64 printable ASCII characters without '"', '\\' or spaces; symbol_id <=
    // kMaxSymbolId; neither the symbol (case-insensitively) nor the id already present.
    // Otherwise throws InvalidConfig naming the value (the table is unchanged).
    void add(std::string_view venue_symbol, std::uint32_t symbol_id, const Instrument& inst);

    // SymbolTable::find()
    // Returns the entry of a venue symbol, matched case-insensitively, or nullptr when it is
    // unknown. Allocates nothing. The pointer is valid until the next add().
    [[nodiscard]] const Entry* find(std::string_view venue_symbol) const noexcept;

    // SymbolTable::find_id()
    // Returns the entry registered under an engine symbol id, or nullptr.
    [[nodiscard]] const Entry* find_id(std::uint32_t symbol_id) const noexcept;

    // SymbolTable::only()
    // Returns the single entry when the table holds exactly one, else nullptr. Used for
    // messages that carry no symbol (the Binance REST snapshot in a one-symbol capture).
    [[nodiscard]] const Entry* only() const noexcept {
        return entries_.size() == 1 ? &entries_.front() : nullptr;
    }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] const std::vector<Entry>& entries() const noexcept { return entries_; }
    // Largest registered id plus one (0 when empty): the size of per-symbol counter vectors.
    [[nodiscard]] std::uint32_t id_bound() const noexcept { return id_bound_; }

  private:
    void rehash(std::size_t slot_count);

    std::vector<Entry> entries_;
    std::vector<std::uint32_t> slots_;       // entry index + 1; 0 = empty
    std::vector<std::uint32_t> id_to_entry_; // entry index + 1 by symbol id; 0 = none
    std::uint32_t id_bound_ = 0;
};

} // namespace confluex::feed
