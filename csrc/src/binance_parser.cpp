// BinanceParser: combined streams, raw events, REST snapshot, capture lines.
#include <cstring>
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

struct BinanceCtx : detail::ScanCtx {
    BinanceCtx(std::vector<BookLevelEvent>& out, const SymbolTable& t) noexcept : ScanCtx(out), table(t) {}
    const SymbolTable& table;
    bool lock_entry = false;    // parse_snapshot(): the caller named the symbol
    bool stream_seen = false;   // a top-level "stream" string was routed
    bool entry_named = false;   // entry came from the stream, "s" or the caller
    bool data_scanned = false;  // the "data" object was scanned while routing was known
    MsgKind stream_kind = MsgKind::Unknown;
    std::string_view stream_symbol;
};

// Routes a stream name "<symbol>@<kind>[@...]" to a kind and a table entry.
void route_stream(std::string_view stream, BinanceCtx& ctx) noexcept {
    ctx.stream_seen = true;
    const std::size_t at = stream.find('@');
    ctx.stream_symbol = stream.substr(0, at == std::string_view::npos ? 0 : at);
    const std::string_view rest = at == std::string_view::npos ? std::string_view() : stream.substr(at + 1);
    if (rest == "trade") {
        ctx.stream_kind = MsgKind::Trade;
    } else if (rest == "bookTicker") {
        ctx.stream_kind = MsgKind::BookTicker;
    } else if (rest.starts_with("depth") && (rest.size() == 5 || rest[5] == '@')) {
        ctx.stream_kind = MsgKind::Depth;  // diff depth at any speed; "depth20" is partial depth
    } else {
        ctx.stream_kind = MsgKind::Unknown;
    }
    if (!ctx.lock_entry) {
        ctx.entry = ctx.table.find(ctx.stream_symbol);
        ctx.entry_named = true;
    }
}

// Scans the top-level object: routes "stream" as soon as it is read (so a following "data"
// converts in one pass) and, for raw events, resolves "s".
Err scan_top(const char*& p, const char* end, Fields& f, Fields& data, BinanceCtx& ctx) {
    return detail::for_each_member(p, end, [&](std::string_view key, const char*& q) CONFLUEX_INLINE_LAMBDA -> Err {
        const Key k = detail::key_of(key);
        if (k == detail::kNoKey) {
            return detail::skip_value(q, end, 1) ? Err::None : Err::Malformed;
        }
        if (!f.mark(k)) {
            return Err::Malformed;
        }
        Slot& s = f.slot[k];
        switch (k) {
            case detail::k_b:
            case detail::k_a:
            case detail::k_bids:
            case detail::k_asks:
                return detail::level_member(k, q, end, f, ctx);
            case detail::k_data:
                if (ctx.stream_seen && *q == '{') {
                    s.ptr = q;
                    s.type = VType::Obj;
                    ctx.data_scanned = true;
                    return detail::scan_inner(q, end, data, ctx);
                }
                break;
            default:
                break;
        }
        if (const Err e = detail::read_slot(q, end, s, 1); e != Err::None) {
            return e;
        }
        if (k == detail::k_stream && s.type == VType::Str) {
            route_stream(s.str(), ctx);
        } else if (k == detail::k_s && s.type == VType::Str && !ctx.stream_seen && !ctx.lock_entry) {
            ctx.entry = ctx.table.find(s.str());
            ctx.entry_named = true;
        }
        return Err::None;
    });
}

Err convert(const Slot& s, const Decimal& unit, std::int64_t& out, const char* end) noexcept {
    return detail::slot_units(s, unit, out, end);
}

// Interprets a scanned message; appends its records. `forced` is parse_snapshot()'s entry.
ParseResult binance_message(const SymbolTable& table, bool futures, std::string_view msg, std::int64_t ts_ns,
                            std::vector<BookLevelEvent>& book, std::vector<TradeEvent>& trades,
                            const Entry* forced) {
    ParseResult r;
    const std::size_t book_start = book.size();
    BinanceCtx ctx(book, table);
    ctx.entry = forced != nullptr ? forced : table.only();
    ctx.lock_entry = forced != nullptr;
    ctx.entry_named = forced != nullptr;
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
        if (ctx.stream_seen && forced == nullptr) {
            r.kind = ctx.stream_kind;
        }
        if (ctx.entry_named && ctx.entry != nullptr) {
            r.symbol_id = ctx.entry->symbol_id;
        }
        return r;
    }

    // Route: which object holds the event, its kind and its symbol.
    const Fields* ev = &top;
    const Entry* entry = nullptr;
    if (forced != nullptr) {
        r.kind = MsgKind::Snapshot;
        entry = forced;
    } else if (top.has(detail::k_stream) && top.has(detail::k_data)) {
        if (top[detail::k_stream].type != VType::Str || top[detail::k_data].type != VType::Obj) {
            r.error = Err::Malformed;
            return r;
        }
        if (!ctx.data_scanned) {
            const char* q = top[detail::k_data].ptr;
            if (e = detail::scan_inner(q, end, data, ctx); e != Err::None) {
                r.error = e;
                return r;
            }
        }
        ev = &data;
        entry = ctx.entry;
        if (entry != nullptr) {
            r.symbol_id = entry->symbol_id;
        }
        r.kind = ctx.stream_kind;
        if (r.kind == MsgKind::Unknown) {
            r.error = Err::UnknownStream;
            return r;
        }
        if (entry == nullptr) {
            r.error = Err::UnknownSymbol;
            return r;
        }
        if (data.has(detail::k_s) && (data[detail::k_s].type != VType::Str ||
                                      !detail::iequals(data[detail::k_s].str(), ctx.stream_symbol))) {
            r.error = Err::Malformed;
            return r;
        }
    } else {
        if (top.has(detail::k_e)) {
            const Slot& ev_type = top[detail::k_e];
            if (ev_type.type != VType::Str) {
                r.error = Err::Malformed;
                return r;
            }
            const std::string_view t = ev_type.str();
            r.kind = t == "depthUpdate" ? MsgKind::Depth
                     : t == "trade"     ? MsgKind::Trade
                     : t == "bookTicker" ? MsgKind::BookTicker
                                         : MsgKind::Unknown;
        } else if (top.has(detail::k_lastUpdateId)) {
            r.kind = MsgKind::Snapshot;
        } else if (top.has(detail::k_u) && top.has(detail::k_b) && top[detail::k_b].type == VType::Str) {
            r.kind = MsgKind::BookTicker;
        } else if (top.has(detail::k_id)) {
            r.kind = MsgKind::Control;
            book.resize(book_start);
            return r;
        }
        if (r.kind == MsgKind::Unknown) {
            r.error = Err::UnknownStream;
            return r;
        }
        if (r.kind == MsgKind::Snapshot) {
            entry = table.only();
        } else {
            if (e = need(top, detail::k_s, VType::Str); e != Err::None) {
                r.error = e;
                return r;
            }
            entry = table.find(top[detail::k_s].str());
        }
        if (entry == nullptr) {
            r.error = Err::UnknownSymbol;
            return r;
        }
        r.symbol_id = entry->symbol_id;
    }
    r.symbol_id = entry->symbol_id;
    const Fields& f = *ev;
    if (f.has(detail::k_E) && f[detail::k_E].type == VType::Int) {
        r.exchange_ts_ms = f[detail::k_E].n;
    }
    const Instrument& inst = entry->instrument;

    switch (r.kind) {
        case MsgKind::Depth: {
            if ((e = need(f, detail::k_u, VType::Int)) != Err::None ||
                (e = need(f, futures ? detail::k_pu : detail::k_U, VType::Int)) != Err::None ||
                (e = detail::take_levels(f, detail::k_b, detail::k_a, *entry, ctx, book_start, end)) !=
                    Err::None) {
                r.error = e;
                return r;
            }
            std::int64_t prev = 0;
            if (futures) {
                prev = f[detail::k_pu].n;
            } else if (f[detail::k_U].n == std::numeric_limits<std::int64_t>::min()) {
                r.error = Err::Malformed;
                return r;
            } else {
                prev = f[detail::k_U].n - 1;
            }
            detail::finish_book(book, book_start, ts_ns, f[detail::k_u].n, prev, entry->symbol_id, 0);
            r.n_book = static_cast<std::uint32_t>(book.size() - book_start);
            r.last_update_id = f[detail::k_u].n;
            r.first_update_id = f.has(detail::k_U) && f[detail::k_U].type == VType::Int ? f[detail::k_U].n : prev + 1;
            return r;
        }
        case MsgKind::Snapshot: {
            if ((e = need(f, detail::k_lastUpdateId, VType::Int)) != Err::None ||
                (e = detail::take_levels(f, detail::k_bids, detail::k_asks, *entry, ctx, book_start, end)) !=
                    Err::None) {
                r.error = e;
                return r;
            }
            detail::finish_book(book, book_start, ts_ns, f[detail::k_lastUpdateId].n, kNoUpdateId,
                                entry->symbol_id, book_flags::kSnapshot);
            r.n_book = static_cast<std::uint32_t>(book.size() - book_start);
            r.first_update_id = r.last_update_id = f[detail::k_lastUpdateId].n;
            return r;
        }
        case MsgKind::Trade: {
            book.resize(book_start);
            TradeEvent t{ts_ns, 0, 0, 0, entry->symbol_id, 0, 0, 0};
            if ((e = need(f, detail::k_t, VType::Int)) != Err::None ||
                (e = need(f, detail::k_p, VType::Str)) != Err::None ||
                (e = need(f, detail::k_q, VType::Str)) != Err::None ||
                (e = need(f, detail::k_m, VType::Bool)) != Err::None ||
                (e = convert(f[detail::k_p], inst.tick_decimal(), t.px_ticks, end)) != Err::None ||
                (e = convert(f[detail::k_q], inst.lot_decimal(), t.qty_lots, end)) != Err::None) {
                r.error = e;
                return r;
            }
            t.trade_id = f[detail::k_t].n;
            // m: the buyer is the maker, so the taker (aggressor) sold.
            t.side = static_cast<std::uint8_t>(f[detail::k_m].n != 0 ? Aggressor::Sell : Aggressor::Buy);
            trades.push_back(t);
            r.n_trades = 1;
            return r;
        }
        case MsgKind::BookTicker: {
            book.resize(book_start);
            BookTicker& bt = r.ticker;
            bt = BookTicker{ts_ns, 0, entry->symbol_id, 0, 0, 0, 0, 0};
            if ((e = need(f, detail::k_u, VType::Int)) != Err::None ||
                (e = need(f, detail::k_b, VType::Str)) != Err::None ||
                (e = need(f, detail::k_B, VType::Str)) != Err::None ||
                (e = need(f, detail::k_a, VType::Str)) != Err::None ||
                (e = need(f, detail::k_A, VType::Str)) != Err::None ||
                (e = convert(f[detail::k_b], inst.tick_decimal(), bt.bid_px, end)) != Err::None ||
                (e = convert(f[detail::k_B], inst.lot_decimal(), bt.bid_qty, end)) != Err::None ||
                (e = convert(f[detail::k_a], inst.tick_decimal(), bt.ask_px, end)) != Err::None ||
                (e = convert(f[detail::k_A], inst.lot_decimal(), bt.ask_qty, end)) != Err::None) {
                r.error = e;
                return r;
            }
            bt.update_id = f[detail::k_u].n;
            return r;
        }
        case MsgKind::Control:
        case MsgKind::Unknown:
            break;
    }
    r.error = Err::UnknownStream;
    return r;
}

// Parses "<ns>" (optional '-', digits, fits int64).
bool parse_ns(std::string_view s, std::int64_t& out) noexcept {
    const char* p = s.data();
    const char* const end = p + s.size();
    std::int64_t v = 0;
    if (detail::scan_number(p, end, v) != detail::NumKind::Int || p != end) {
        return false;
    }
    out = v;
    return true;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view strip(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace

BinanceParser::BinanceParser(const SymbolTable& symbols, bool futures)
    : symbols_(symbols), futures_(futures), stats_(symbols.id_bound()) {}

ParseResult BinanceParser::parse(std::string_view msg, std::int64_t ts_ns, std::vector<BookLevelEvent>& book_out,
                                 std::vector<TradeEvent>& trade_out) noexcept {
    const std::size_t book_start = book_out.size();
    const std::size_t trade_start = trade_out.size();
    ParseResult r;
    try {
        r = binance_message(symbols_, futures_, msg, ts_ns, book_out, trade_out, nullptr);
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

ParseResult BinanceParser::parse_snapshot(std::string_view json, std::uint32_t symbol_id, std::int64_t ts_ns,
                                          std::vector<BookLevelEvent>& book_out) noexcept {
    const std::size_t book_start = book_out.size();
    ParseResult r;
    const Entry* entry = symbols_.find_id(symbol_id);
    if (entry == nullptr) {
        r.kind = MsgKind::Snapshot;
        r.error = ParseError::UnknownSymbol;
    } else {
        std::vector<TradeEvent> no_trades;
        try {
            r = binance_message(symbols_, futures_, json, ts_ns, book_out, no_trades, entry);
        } catch (const std::bad_alloc&) {
            r.error = ParseError::OutOfMemory;
        }
        r.symbol_id = symbol_id;
    }
    if (!r.ok()) {
        book_out.resize(book_start);
        r.n_book = 0;
    }
    stats_.count(r);
    return r;
}

std::size_t BinanceParser::parse_lines(std::string_view data, LineBatch& out) noexcept {
    std::size_t good = 0;
    while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        const std::string_view line = strip(data.substr(0, nl));
        data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
        if (line.empty()) {
            continue;
        }
        const std::size_t sp = line.find(' ');
        std::int64_t ts = 0;
        if (sp == std::string_view::npos || !parse_ns(line.substr(0, sp), ts)) {
            ParseResult bad;
            bad.error = ParseError::Malformed;
            stats_.count(bad);
            continue;
        }
        const ParseResult r = parse(line.substr(sp + 1), ts, out.book, out.trades);
        if (!r.ok()) {
            continue;
        }
        if (r.kind == MsgKind::BookTicker) {
            try {
                out.tickers.push_back(r.ticker);
            } catch (const std::bad_alloc&) {
                continue;  // counted as parsed; the row is lost (documented: out of memory)
            }
        }
        ++good;
    }
    return good;
}

}  // namespace confluex::feed
