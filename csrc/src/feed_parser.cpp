// SymbolTable, parser counters and the pieces both venue parsers share.
#include "confluex/feed_parser.hpp"

#include <string>

#include "confluex/errors.hpp"
#include "parser_scan.hpp"

namespace confluex::feed {

namespace {

inline char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// FNV-1a over the ASCII-lower-cased bytes.
std::uint64_t hash_symbol(std::string_view s) noexcept {
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : s) {
        h ^= static_cast<unsigned char>(lower(c));
        h *= 1099511628211ULL;
    }
    return h;
}

std::string printable(std::string_view s) {
    std::string out = "'";
    for (const char c : s.substr(0, 80)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    out += s.size() > 80 ? "...'" : "'";
    return out;
}

} // namespace

void SymbolTable::add(std::string_view venue_symbol, std::uint32_t symbol_id,
                      const Instrument& inst) {
    if (venue_symbol.empty() || venue_symbol.size() > kMaxVenueSymbolLength) {
        throw InvalidConfig("venue symbol must have 1 to 64 characters, was " +
                            printable(venue_symbol));
    }
    for (const char c : venue_symbol) {
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            throw InvalidConfig("venue symbol must be printable ASCII without spaces, quotes or "
                                "backslashes, was " +
                                printable(venue_symbol));
        }
    }
    if (symbol_id > kMaxSymbolId) {
        throw InvalidConfig("symbol_id must be at most " + std::to_string(kMaxSymbolId) + ", was " +
                            std::to_string(symbol_id));
    }
    if (find(venue_symbol) != nullptr) {
        throw InvalidConfig("venue symbol already in the table (case-insensitive), was " +
                            printable(venue_symbol));
    }
    if (find_id(symbol_id) != nullptr) {
        throw InvalidConfig("symbol_id already in the table, was " + std::to_string(symbol_id));
    }
    std::string key(venue_symbol);
    for (char& c : key) {
        c = lower(c);
    }
    // Reserve everything first so a bad_alloc leaves the table unchanged.
    std::vector<std::uint32_t> ids = id_to_entry_;
    if (ids.size() <= symbol_id) {
        ids.resize(symbol_id + 1, 0);
    }
    entries_.reserve(entries_.size() + 1);
    entries_.push_back(Entry{std::string(venue_symbol), std::move(key), symbol_id, inst});
    ids[symbol_id] = static_cast<std::uint32_t>(entries_.size());
    id_to_entry_ = std::move(ids);
    id_bound_ = std::max(id_bound_, symbol_id + 1);
    if (slots_.size() < 2 * entries_.size()) {
        rehash(std::max<std::size_t>(16, 4 * entries_.size()));
    } else {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = hash_symbol(entries_.back().key) & mask;
        while (slots_[i] != 0) {
            i = (i + 1) & mask;
        }
        slots_[i] = static_cast<std::uint32_t>(entries_.size());
    }
}

void SymbolTable::rehash(std::size_t slot_count) {
    std::size_t n = 1;
    while (n < slot_count) {
        n <<= 1;
    }
    std::vector<std::uint32_t> slots(n, 0);
    const std::size_t mask = n - 1;
    for (std::size_t e = 0; e < entries_.size(); ++e) {
        std::size_t i = hash_symbol(entries_[e].key) & mask;
        while (slots[i] != 0) {
            i = (i + 1) & mask;
        }
        slots[i] = static_cast<std::uint32_t>(e + 1);
    }
    slots_ = std::move(slots);
}

const SymbolTable::Entry* SymbolTable::find(std::string_view venue_symbol) const noexcept {
    if (slots_.empty()) {
        return nullptr;
    }
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash_symbol(venue_symbol) & mask;
    while (const std::uint32_t e = slots_[i]) {
        const Entry& entry = entries_[e - 1];
        if (detail::iequals(entry.key, venue_symbol)) {
            return &entry;
        }
        i = (i + 1) & mask;
    }
    return nullptr;
}

const SymbolTable::Entry* SymbolTable::find_id(std::uint32_t symbol_id) const noexcept {
    if (symbol_id >= id_to_entry_.size() || id_to_entry_[symbol_id] == 0) {
        return nullptr;
    }
    return &entries_[id_to_entry_[symbol_id] - 1];
}

const char* to_string(MsgKind k) noexcept {
    switch (k) {
    case MsgKind::Depth:
        return "Depth";
    case MsgKind::Snapshot:
        return "Snapshot";
    case MsgKind::Trade:
        return "Trade";
    case MsgKind::BookTicker:
        return "BookTicker";
    case MsgKind::Control:
        return "Control";
    case MsgKind::Unknown:
        return "Unknown";
    }
    return "?";
}

const char* to_string(ParseError e) noexcept {
    switch (e) {
    case ParseError::None:
        return "None";
    case ParseError::Malformed:
        return "Malformed";
    case ParseError::MissingField:
        return "MissingField";
    case ParseError::OffGrid:
        return "OffGrid";
    case ParseError::UnknownStream:
        return "UnknownStream";
    case ParseError::UnknownSymbol:
        return "UnknownSymbol";
    case ParseError::OutOfMemory:
        return "OutOfMemory";
    }
    return "?";
}

namespace detail {

void ParserStats::count(const ParseResult& r) noexcept {
    if (r.error == ParseError::None) {
        ++counters_.messages[static_cast<std::size_t>(r.kind)];
        counters_.book_records += r.n_book;
        counters_.trade_records += r.n_trades;
        counters_.tickers += r.kind == MsgKind::BookTicker ? 1U : 0U;
        return;
    }
    ++counters_.errors[static_cast<std::size_t>(r.error)];
    if (r.symbol_id < symbol_errors_.size()) {
        ++symbol_errors_[r.symbol_id];
    }
}

void LevelShapesDelete::operator()(LevelShapes* p) const noexcept { delete[] p; }

LevelShapesPtr new_level_shapes(std::size_t n) { return LevelShapesPtr(new LevelShapes[n]); }

std::int64_t bybit_trade_id(std::string_view id) noexcept {
    if (!id.empty() && id.size() <= 19) {
        std::int64_t v = 0;
        bool digits = true;
        for (const char c : id) {
            if (c < '0' || c > '9' || __builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, c - '0', &v)) {
                digits = false;
                break;
            }
        }
        if (digits) {
            return v;
        }
    }
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : id) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return static_cast<std::int64_t>(h & 0x7fffffffffffffffULL);
}

} // namespace detail

} // namespace confluex::feed
