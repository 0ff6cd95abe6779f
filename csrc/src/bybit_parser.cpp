// BybitParser: v5 public orderbook / publicTrade topics and op replies.
#include <limits>
#include <new>

#include "confluex/feed_parser.hpp"
#include "parser_scan.hpp"

namespace confluex::feed {

namespace {

using detail::Err;
using detail::Fields;
using detail::Key;
using detail::need;
using detail::Slot;
using detail::VType;
using Entry = SymbolTable::Entry;

enum class Route : std::uint8_t { None, Book, Trade, Unknown };

struct BybitCtx : detail::ScanCtx {
    BybitCtx(std::vector<BookLevelEvent>& out, const SymbolTable& t,
             std::vector<TradeEvent>& tr) noexcept
        : ScanCtx(out), table(t), trades(tr) {}
    const SymbolTable& table;
    std::vector<TradeEvent>& trades;
    Route route = Route::None;
    std::string_view topic_symbol;
    bool data_done = false; // the data value was converted while scanning
};

// Routes "orderbook.<depth>.<SYMBOL>" and "publicTrade.<SYMBOL>".
void route_topic(std::string_view topic, BybitCtx& ctx) noexcept {
    const std::size_t dot = topic.find('.');
    const std::string_view head = topic.substr(0, dot);
    const std::size_t last = topic.rfind('.');
    ctx.topic_symbol = last == std::string_view::npos ? std::string_view() : topic.substr(last + 1);
    if (head == "orderbook" && last != dot) {
        ctx.route = Route::Book;
    } else if (head == "publicTrade" && last == dot && dot != std::string_view::npos) {
        ctx.route = Route::Trade;
    } else {
        ctx.route = Route::Unknown;
    }
    ctx.entry = ctx.route == Route::Unknown ? nullptr : ctx.table.find(ctx.topic_symbol);
}

// Converts the publicTrade data array at p ('[') into records (ts left 0).
Err parse_trades(const char*& p, const char* end, const Entry& entry, std::string_view topic_symbol,
                 std::vector<TradeEvent>& out) {
    ++p;
    detail::skip_ws(p, end);
    if (p < end && *p == ']') {
        ++p;
        return Err::None;
    }
    const Instrument& inst = entry.instrument;
    for (;;) {
        if (p >= end || *p != '{') {
            return Err::Malformed;
        }
        Fields f;
        Err e = detail::for_each_member(
            p, end, [&](std::string_view key, const char*& q) CONFLUEX_INLINE_LAMBDA -> Err {
                const Key k = detail::key_of(key);
                if (k == detail::kNoKey) {
                    return detail::skip_value(q, end, 3) ? Err::None : Err::Malformed;
                }
                if (!f.mark(k)) {
                    return Err::Malformed;
                }
                return detail::read_slot(q, end, f.slot[k], 3);
            });
        if (e != Err::None) {
            return e;
        }
        TradeEvent t{0, 0, 0, 0, entry.symbol_id, 0, 0, 0};
        if ((e = need(f, detail::k_S, VType::Str)) != Err::None ||
            (e = need(f, detail::k_v, VType::Str)) != Err::None ||
            (e = need(f, detail::k_p, VType::Str)) != Err::None ||
            (e = need(f, detail::k_i, VType::Str)) != Err::None ||
            (e = detail::slot_units(f[detail::k_p], inst.tick_decimal(), t.px_ticks, end)) !=
                Err::None ||
            (e = detail::slot_units(f[detail::k_v], inst.lot_decimal(), t.qty_lots, end)) !=
                Err::None) {
            return e;
        }
        const std::string_view side = f[detail::k_S].str();
        if (side == "Buy") {
            t.side = static_cast<std::uint8_t>(Aggressor::Buy);
        } else if (side == "Sell") {
            t.side = static_cast<std::uint8_t>(Aggressor::Sell);
        } else {
            return Err::Malformed;
        }
        if (f.has(detail::k_s) && (f[detail::k_s].type != VType::Str ||
                                   !detail::iequals(f[detail::k_s].str(), topic_symbol))) {
            return Err::Malformed;
        }
        t.trade_id = detail::bybit_trade_id(f[detail::k_i].str());
        out.push_back(t);
        detail::skip_ws(p, end);
        if (p >= end) {
            return Err::Malformed;
        }
        if (*p == ',') {
            ++p;
            detail::skip_ws(p, end);
            continue;
        }
        if (*p == ']') {
            ++p;
            return Err::None;
        }
        return Err::Malformed;
    }
}

// Scans the top-level object; once the topic is routed, "data" converts in the same pass.
Err scan_top(const char*& p, const char* end, Fields& f, Fields& data, BybitCtx& ctx) {
    return detail::for_each_member(
        p, end, [&](std::string_view key, const char*& q) CONFLUEX_INLINE_LAMBDA -> Err {
            const Key k = detail::key_of(key);
            if (k == detail::kNoKey) {
                return detail::skip_value(q, end, 1) ? Err::None : Err::Malformed;
            }
            if (!f.mark(k)) {
                return Err::Malformed;
            }
            Slot& s = f.slot[k];
            if (k == detail::k_data) {
                s.ptr = q;
                if (ctx.route == Route::Book && *q == '{') {
                    s.type = VType::Obj;
                    ctx.data_done = true;
                    return detail::scan_inner(q, end, data, ctx);
                }
                if (ctx.route == Route::Trade && *q == '[' && ctx.entry != nullptr) {
                    s.type = VType::Arr;
                    ctx.data_done = true;
                    return parse_trades(q, end, *ctx.entry, ctx.topic_symbol, ctx.trades);
                }
            }
            if (const Err e = detail::read_slot(q, end, s, 1); e != Err::None) {
                return e;
            }
            if (k == detail::k_topic && s.type == VType::Str) {
                route_topic(s.str(), ctx);
            }
            return Err::None;
        });
}

ParseResult bybit_message(const SymbolTable& table, std::string_view msg, std::int64_t ts_ns,
                          bool ts_from_message, std::vector<BookLevelEvent>& book,
                          std::vector<TradeEvent>& trades, detail::LevelShapes* shapes) {
    ParseResult r;
    const std::size_t book_start = book.size();
    const std::size_t trade_start = trades.size();
    BybitCtx ctx(book, table, trades);
    ctx.shapes = shapes;
    ctx.entries = table.entries().data();
    const char* p = msg.data();
    const char* const end = p + msg.size();
    detail::skip_ws(p, end);
    if (p >= end || *p != '{') {
        r.error = Err::Malformed;
        return r;
    }
    Fields top;
    Fields data;
    Err e = scan_top(p, end, top, data, ctx);
    if (e == Err::None && !detail::at_end(p, end)) {
        e = Err::Malformed;
    }
    if (e != Err::None) {
        r.error = e;
        if (ctx.route == Route::Book || ctx.route == Route::Trade) {
            r.kind = ctx.route == Route::Trade ? MsgKind::Trade : MsgKind::Depth;
            r.symbol_id = ctx.entry != nullptr ? ctx.entry->symbol_id : kNoSymbol;
        }
        return r;
    }
    if (top.has(detail::k_ts) && top[detail::k_ts].type == VType::Int) {
        r.exchange_ts_ms = top[detail::k_ts].n;
    }
    if (!top.has(detail::k_topic)) {
        if (top.has(detail::k_op) || top.has(detail::k_success)) {
            r.kind = MsgKind::Control;
            return r;
        }
        r.error = Err::UnknownStream;
        return r;
    }
    if (top[detail::k_topic].type != VType::Str) {
        r.error = Err::Malformed;
        return r;
    }
    if (ctx.route == Route::Unknown) {
        r.error = Err::UnknownStream;
        return r;
    }
    r.kind = ctx.route == Route::Trade ? MsgKind::Trade : MsgKind::Depth;
    const Entry* entry = ctx.entry;
    if (entry == nullptr) {
        r.error = Err::UnknownSymbol;
        return r;
    }
    r.symbol_id = entry->symbol_id;
    if (ts_from_message) {
        if ((e = need(top, detail::k_ts, VType::Int)) != Err::None) {
            r.error = e;
            return r;
        }
        if (__builtin_mul_overflow(top[detail::k_ts].n, std::int64_t{1'000'000}, &ts_ns)) {
            r.error = Err::Malformed;
            return r;
        }
    }
    if (!top.has(detail::k_data)) {
        r.error = Err::MissingField;
        return r;
    }
    const Slot& d = top[detail::k_data];

    if (ctx.route == Route::Trade) {
        book.resize(book_start);
        if (d.type != VType::Arr) {
            r.error = Err::Malformed;
            return r;
        }
        if (!ctx.data_done) {
            const char* q = d.ptr;
            if ((e = parse_trades(q, end, *entry, ctx.topic_symbol, trades)) != Err::None) {
                r.error = e;
                return r;
            }
        }
        for (std::size_t i = trade_start; i < trades.size(); ++i) {
            trades[i].ts_ns = ts_ns;
        }
        r.n_trades = static_cast<std::uint32_t>(trades.size() - trade_start);
        return r;
    }

    if (d.type != VType::Obj) {
        r.error = Err::Malformed;
        return r;
    }
    if (!ctx.data_done) {
        const char* q = d.ptr;
        if ((e = detail::scan_inner(q, end, data, ctx)) != Err::None) {
            r.error = e;
            return r;
        }
    }
    if ((e = need(top, detail::k_type, VType::Str)) != Err::None ||
        (e = need(data, detail::k_u, VType::Int)) != Err::None) {
        r.error = e;
        return r;
    }
    const std::string_view type = top[detail::k_type].str();
    const std::int64_t u = data[detail::k_u].n;
    // Bybit: u == 1 is a snapshot sent after a service restart, whatever the type says.
    const bool snapshot = type == "snapshot" || u == 1;
    if ((!snapshot && type != "delta") ||
        (data.has(detail::k_s) && (data[detail::k_s].type != VType::Str ||
                                   !detail::iequals(data[detail::k_s].str(), ctx.topic_symbol))) ||
        (!snapshot && u == std::numeric_limits<std::int64_t>::min())) {
        r.error = Err::Malformed;
        return r;
    }
    if ((e = detail::take_levels(data, detail::k_b, detail::k_a, *entry, ctx, book_start, end)) !=
        Err::None) {
        r.error = e;
        return r;
    }
    r.kind = snapshot ? MsgKind::Snapshot : MsgKind::Depth;
    detail::finish_book(book, book_start, ts_ns, u, snapshot ? kNoUpdateId : u - 1,
                        entry->symbol_id, snapshot ? book_flags::kSnapshot : std::uint8_t{0});
    r.n_book = static_cast<std::uint32_t>(book.size() - book_start);
    r.first_update_id = r.last_update_id = u;
    return r;
}

} // namespace

BybitParser::BybitParser(const SymbolTable& symbols)
    : symbols_(symbols), stats_(symbols.id_bound()),
      shapes_(detail::new_level_shapes(symbols.size())) {}

ParseResult BybitParser::parse(std::string_view msg, std::int64_t ts_ns,
                               std::vector<BookLevelEvent>& book_out,
                               std::vector<TradeEvent>& trade_out) noexcept {
    return parse_impl(msg, ts_ns, false, book_out, trade_out);
}

ParseResult BybitParser::parse_impl(std::string_view msg, std::int64_t ts_ns, bool ts_from_message,
                                    std::vector<BookLevelEvent>& book_out,
                                    std::vector<TradeEvent>& trade_out) noexcept {
    const std::size_t book_start = book_out.size();
    const std::size_t trade_start = trade_out.size();
    ParseResult r;
    try {
        r = bybit_message(symbols_, msg, ts_ns, ts_from_message, book_out, trade_out,
                          shapes_.get());
    } catch (const std::bad_alloc&) {
        r.error = ParseError::OutOfMemory;
    }
    if (!r.ok()) {
        book_out.resize(book_start);
        trade_out.resize(trade_start);
        r.n_book = 0;
        r.n_trades = 0;
    }
    stats_.count(r);
    return r;
}

std::size_t BybitParser::parse_lines(std::string_view data, LineFormat format,
                                     LineBatch& out) noexcept {
    std::size_t good = 0;
    while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
        while (!line.empty() && detail::is_ws(line.back())) {
            line.remove_suffix(1);
        }
        while (!line.empty() && detail::is_ws(line.front())) {
            line.remove_prefix(1);
        }
        if (line.empty()) {
            continue;
        }
        std::int64_t ts = 0;
        if (format == LineFormat::NsPrefixed) {
            const std::size_t sp = line.find(' ');
            const char* p = line.data();
            const char* const ns_end = p + (sp == std::string_view::npos ? 0 : sp);
            if (sp == std::string_view::npos ||
                detail::scan_number(p, ns_end, ts) != detail::NumKind::Int || p != ns_end) {
                ParseResult bad;
                bad.error = ParseError::Malformed;
                stats_.count(bad);
                continue;
            }
            line.remove_prefix(sp + 1);
        }
        const ParseResult r =
            parse_impl(line, ts, format == LineFormat::JsonOnly, out.book, out.trades);
        good += r.ok() ? 1U : 0U;
    }
    return good;
}

} // namespace confluex::feed
