// parse_tardis_rows(): Tardis.dev CSV lines -> engine records. See confluex/tardis_csv.hpp.
#include "confluex/tardis_csv.hpp"

#include <array>
#include <limits>
#include <string>

#include "confluex/errors.hpp"

namespace confluex::feed {

namespace {

constexpr std::size_t kFields = 8;

[[noreturn]] void bad_row(std::size_t line, const std::string& what, std::string_view value) {
    throw InvalidEvent("Tardis CSV line " + std::to_string(line) + ": " + what + ", was '" +
                       std::string(value.substr(0, 80)) + "'");
}

// Microseconds (digits only) -> ns; false when empty, not digits or beyond int64 in ns.
bool us_to_ns(std::string_view s, std::int64_t& out) noexcept {
    if (s.empty() || s.size() > 19) {
        return false;
    }
    std::int64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0'); // <= 19 digits: fits until the check below
        if (v < 0) {
            return false;
        }
    }
    if (v > std::numeric_limits<std::int64_t>::max() / 1000) {
        return false;
    }
    out = v * 1000;
    return true;
}

} // namespace

void parse_tardis_rows(std::string_view data, TardisKind kind, const SymbolTable& table,
                       std::size_t first_line, TardisBatch& out) {
    std::array<std::string_view, kFields> f{};
    std::size_t line_no = first_line;
    while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
        const std::size_t this_line = line_no++;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            continue;
        }
        std::size_t n = 0;
        std::string_view rest = line;
        while (true) {
            const std::size_t comma = rest.find(',');
            if (n < kFields) {
                f[n] = rest.substr(0, comma);
            }
            ++n;
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
        if (n != kFields) {
            bad_row(this_line, "has " + std::to_string(n) + " fields, expected 8", line);
        }
        const std::size_t row = out.rows++;
        const SymbolTable::Entry* e = table.find(f[1]);
        if (e == nullptr) {
            ++out.skipped;
            continue;
        }
        std::int64_t ts = 0;
        if (!us_to_ns(f[2], ts)) {
            bad_row(this_line, "timestamp must be microseconds (digits)", f[2]);
        }
        Ticks px = 0;
        Lots qty = 0;
        if (!e->instrument.try_price_to_ticks(f[6], px)) {
            bad_row(this_line,
                    "price is not a decimal on the tick grid " +
                        detail::decimal_to_string(e->instrument.tick_decimal()),
                    f[6]);
        }
        if (!e->instrument.try_qty_to_lots(f[7], qty)) {
            bad_row(this_line,
                    "amount is not a decimal on the lot grid " +
                        detail::decimal_to_string(e->instrument.lot_decimal()),
                    f[7]);
        }
        if (kind == TardisKind::Book) {
            std::uint8_t flags = 0;
            if (f[4] == "true") {
                flags = book_flags::kSnapshot;
            } else if (f[4] != "false") {
                bad_row(this_line, "is_snapshot must be true or false", f[4]);
            }
            std::uint8_t side = 0;
            if (f[5] == "ask") {
                side = 1;
            } else if (f[5] != "bid") {
                bad_row(this_line, "side must be bid or ask", f[5]);
            }
            out.book.push_back(
                BookLevelEvent{ts, px, qty, 0, kNoUpdateId, e->symbol_id, side, flags, 0});
        } else {
            const std::uint8_t side = f[5] == "buy" ? 0 : f[5] == "sell" ? 1 : 2;
            out.trades.push_back(
                TradeEvent{ts, px, qty, static_cast<std::int64_t>(row), e->symbol_id, side, 0, 0});
        }
    }
}

} // namespace confluex::feed
