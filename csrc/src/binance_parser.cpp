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
    BinanceCtx(std::vector<BookLevelEvent>& out, const SymbolTable& t) noexcept
        : ScanCtx(out), table(t) {}
    const SymbolTable& table;
    bool lock_entry = false;   // parse_snapshot(): the caller named the symbol
    bool stream_seen = false;  // a top-level "stream" string was routed
    bool entry_named = false;  // entry came from the stream, "s" or the caller
    bool data_scanned = false; // the "data" object was scanned while routing was known
    MsgKind stream_kind = MsgKind::Unknown;
    std::string_view stream_symbol;
};

// Routes a stream name "<symbol>@<kind>[@...]" to a kind and a table entry.
void route_stream(std::string_view stream, BinanceCtx& ctx) noexcept {
    ctx.stream_seen = true;
    const std::size_t at = stream.find('@');
    ctx.stream_symbol = stream.substr(0, at == std::string_view::npos ? 0 : at);
    const std::string_view rest =
        at == std::string_view::npos ? std::string_view() : stream.substr(at + 1);
    if (rest == "trade") {
        ctx.stream_kind = MsgKind::Trade;
    } else if (rest == "bookTicker") {
        ctx.stream_kind = MsgKind::BookTicker;
    } else if (rest.starts_with("depth") && (rest.size() == 5 || rest[5] == '@')) {
        ctx.stream_kind = MsgKind::Depth; // diff depth at any speed; "depth20" is partial depth
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
            } else if (k == detail::k_s && s.type == VType::Str && !ctx.stream_seen &&
                       !ctx.lock_entry) {
                ctx.entry = ctx.table.find(s.str());
                ctx.entry_named = true;
            }
            return Err::None;
        });
}

Err convert(const Slot& s, const Decimal& unit, std::int64_t& out, const char* end) noexcept {
    return detail::slot_units(s, unit, out, end);
}

// Interprets a scanned message; appends its records. `forced` is parse_snapshot()'s entry;
// `shapes` the parser's shape sets, one per table entry.
ParseResult binance_message(const SymbolTable& table, bool futures, std::string_view msg,
                            std::int64_t ts_ns, std::vector<BookLevelEvent>& book,
                            std::vector<TradeEvent>& trades, const Entry* forced,
                            detail::LevelShapes* shapes) {
    ParseResult r;
    const std::size_t book_start = book.size();
    BinanceCtx ctx(book, table);
    ctx.shapes = shapes;
    ctx.entries = table.entries().data();
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
        if (data.has(detail::k_s) &&
            (data[detail::k_s].type != VType::Str ||
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
            r.kind = t == "depthUpdate"  ? MsgKind::Depth
                     : t == "trade"      ? MsgKind::Trade
                     : t == "bookTicker" ? MsgKind::BookTicker
                                         : MsgKind::Unknown;
        } else if (top.has(detail::k_lastUpdateId)) {
            r.kind = MsgKind::Snapshot;
        } else if (top.has(detail::k_u) && top.has(detail::k_b) &&
                   top[detail::k_b].type == VType::Str) {
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
            // A REST snapshot names no symbol; a recorded one may carry a leading "s" (it
            // converted the levels that follow it: see scan_top()).
            entry = ctx.entry_named ? ctx.entry : table.only();
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
        r.first_update_id =
            f.has(detail::k_U) && f[detail::k_U].type == VType::Int ? f[detail::k_U].n : prev + 1;
        return r;
    }
    case MsgKind::Snapshot: {
        if ((e = need(f, detail::k_lastUpdateId, VType::Int)) != Err::None ||
            (e = detail::take_levels(f, detail::k_bids, detail::k_asks, *entry, ctx, book_start,
                                     end)) != Err::None) {
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
        t.side =
            static_cast<std::uint8_t>(f[detail::k_m].n != 0 ? Aggressor::Sell : Aggressor::Buy);
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

// ---- Fast path: a combined-stream message in Binance's own key order ----------------------
//
// Binance writes every trade and depthUpdate with the same keys in the same order and no
// whitespace. fast_stream() matches that exact layout literally and succeeds only when the
// message is complete and valid; it returns false at the first byte that deviates (other
// order, whitespace, extra or missing key, another value type, any conversion error) and the
// caller then runs the general scanner from scratch, which decides every error. What the fast
// path accepts is therefore accepted by the general path with the same records and result:
// every byte is matched literally or by the general path's own scanners (scan_string,
// scan_number, scan_units, parse_levels), keys appear once each, and only whitespace may
// follow the top-level object.

// Cursor over one message.
struct Lit {
    const char* p;
    const char* end;

    // Consumes `s` (a compile-time literal) when the bytes at p are exactly `s`.
    template <std::size_t N> [[gnu::always_inline]] bool lit(const char (&s)[N]) noexcept {
        constexpr std::size_t n = N - 1;
        if (static_cast<std::size_t>(end - p) < n || !detail::same_bytes(p, s)) {
            return false;
        }
        p += n;
        return true;
    }
    [[gnu::always_inline]] bool integer(std::int64_t& v) noexcept {
        return detail::scan_number(p, end, v) == detail::NumKind::Int;
    }
    [[gnu::always_inline]] bool boolean(bool& v) noexcept {
        if (lit("true")) {
            v = true;
            return true;
        }
        v = false;
        return lit("false");
    }
    // A string without escapes; p is past the opening quote, then past the closing one.
    [[gnu::always_inline]] bool plain_string(std::string_view& out) noexcept {
        bool esc = false;
        return detail::scan_string(p, end, out, esc) && !esc;
    }
};

// Trade body, from just past `"data":{"e":"`.
bool fast_trade(Lit& c, const Entry& entry, std::string_view stream_symbol, std::int64_t ts_ns,
                std::vector<TradeEvent>& trades, ParseResult& r) {
    std::int64_t ets = 0;
    std::int64_t tid = 0;
    std::int64_t ignored = 0;
    std::string_view sym;
    bool m = false;
    bool big_m = false;
    TradeEvent t{ts_ns, 0, 0, 0, entry.symbol_id, 0, 0, 0};
    const Instrument& inst = entry.instrument;
    if (!c.lit(R"(trade","E":)") || !c.integer(ets) || !c.lit(R"(,"s":")") ||
        !c.plain_string(sym) || !detail::iequals(sym, stream_symbol) || !c.lit(R"(,"t":)") ||
        !c.integer(tid) || !c.lit(R"(,"p":")") ||
        detail::scan_units(c.p, c.end, inst.tick_decimal(), t.px_ticks) != Err::None ||
        !c.lit(R"(,"q":")") ||
        detail::scan_units(c.p, c.end, inst.lot_decimal(), t.qty_lots) != Err::None ||
        !c.lit(R"(,"T":)") || !c.integer(ignored) || !c.lit(R"(,"m":)") || !c.boolean(m) ||
        !c.lit(R"(,"M":)") || !c.boolean(big_m) || !c.lit("}}") || !detail::at_end(c.p, c.end)) {
        return false;
    }
    t.trade_id = tid;
    t.side = static_cast<std::uint8_t>(m ? Aggressor::Sell : Aggressor::Buy);
    trades.push_back(t);
    r.kind = MsgKind::Trade;
    r.symbol_id = entry.symbol_id;
    r.exchange_ts_ms = ets;
    r.n_trades = 1;
    return true;
}

// depthUpdate body, from just past `"data":{"e":"`: spot E,s,U,u,b,a; USD-M E,T,s,U,u,pu,b,a.
bool fast_depth(Lit& c, const Entry& entry, std::string_view stream_symbol, bool futures,
                std::int64_t ts_ns, std::vector<BookLevelEvent>& book, ParseResult& r,
                detail::LevelShapes& shapes) {
    std::int64_t ets = 0;
    std::int64_t ignored = 0;
    std::int64_t first = 0;
    std::int64_t last = 0;
    std::int64_t pu = 0;
    std::string_view sym;
    if (!c.lit(R"(depthUpdate","E":)") || !c.integer(ets)) {
        return false;
    }
    if (c.lit(R"(,"T":)") && !c.integer(ignored)) {
        return false;
    }
    if (!c.lit(R"(,"s":")") || !c.plain_string(sym) || !detail::iequals(sym, stream_symbol) ||
        !c.lit(R"(,"U":)") || !c.integer(first) || !c.lit(R"(,"u":)") || !c.integer(last)) {
        return false;
    }
    const bool has_pu = c.lit(R"(,"pu":)");
    if (has_pu && !c.integer(pu)) {
        return false;
    }
    std::int64_t prev = 0;
    if (futures) {
        if (!has_pu) {
            return false;
        }
        prev = pu;
    } else {
        if (first == std::numeric_limits<std::int64_t>::min()) {
            return false;
        }
        prev = first - 1;
    }
    const std::size_t start = book.size();
    const Instrument& inst = entry.instrument;
    if (!c.lit(R"(,"b":[)")) {
        return false;
    }
    --c.p; // parse_levels() starts at the '['
    if (detail::parse_levels_final(c.p, c.end, BookSide::Bid, inst, entry.symbol_id, book, ts_ns,
                                   last, prev, shapes) != Err::None ||
        !c.lit(R"(,"a":[)")) {
        return false;
    }
    --c.p;
    if (detail::parse_levels_final(c.p, c.end, BookSide::Ask, inst, entry.symbol_id, book, ts_ns,
                                   last, prev, shapes) != Err::None ||
        !c.lit("}}") || !detail::at_end(c.p, c.end)) {
        return false;
    }
    if (book.size() == start) {
        detail::finish_book(book, start, ts_ns, last, prev, entry.symbol_id, 0);
    } else {
        book.back().flags = book_flags::kEndOfMessage;
    }
    r.kind = MsgKind::Depth;
    r.symbol_id = entry.symbol_id;
    r.exchange_ts_ms = ets;
    r.n_book = static_cast<std::uint32_t>(book.size() - start);
    r.first_update_id = first;
    r.last_update_id = last;
    return true;
}

// fast_stream()
// Parses a trade or depthUpdate combined-stream message in Binance's key order; false (with
// the outputs possibly grown, for the caller to cut back) when anything deviates.
bool fast_stream(const SymbolTable& table, bool futures, std::string_view msg, std::int64_t ts_ns,
                 std::vector<BookLevelEvent>& book, std::vector<TradeEvent>& trades, ParseResult& r,
                 BinanceParser::StreamMemo& memo, detail::LevelShapes* shapes) {
    Lit c{msg.data(), msg.data() + msg.size()};
    std::string_view stream;
    if (!c.lit(R"({"stream":")") || !c.plain_string(stream)) {
        return false;
    }
    // Stream names are short: a plain loop and fixed-size compares beat the library calls.
    std::size_t at = 0;
    while (at < stream.size() && stream[at] != '@') {
        ++at;
    }
    if (at == stream.size()) {
        return false;
    }
    const std::string_view symbol = stream.substr(0, at);
    const std::string_view rest = stream.substr(at + 1);
    const Entry* entry = nullptr;
    if (memo.len != 0 && symbol.size() == memo.len &&
        detail::same_short(symbol.data(), memo.key.data(), memo.len)) [[likely]] {
        entry = &table.entries()[memo.index];
    } else {
        entry = table.find(symbol);
        if (entry != nullptr && symbol.size() <= memo.key.size()) {
            std::memcpy(memo.key.data(), symbol.data(), symbol.size());
            memo.len = symbol.size();
            memo.index = static_cast<std::size_t>(entry - table.entries().data());
        }
    }
    if (entry == nullptr || !c.lit(R"(,"data":{"e":")")) {
        return false;
    }
    if (rest.size() == 5 && detail::same_bytes(rest.data(), "trade")) {
        return fast_trade(c, *entry, symbol, ts_ns, trades, r);
    }
    if (rest.size() >= 5 && detail::same_bytes(rest.data(), "depth") &&
        (rest.size() == 5 || rest[5] == '@')) {
        return fast_depth(c, *entry, symbol, futures, ts_ns, book, r,
                          shapes[entry - table.entries().data()]);
    }
    return false;
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

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view strip(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

} // namespace

BinanceParser::BinanceParser(const SymbolTable& symbols, bool futures)
    : symbols_(symbols), futures_(futures), stats_(symbols.id_bound()),
      shapes_(detail::new_level_shapes(symbols.size())) {}

ParseResult BinanceParser::parse(std::string_view msg, std::int64_t ts_ns,
                                 std::vector<BookLevelEvent>& book_out,
                                 std::vector<TradeEvent>& trade_out) noexcept {
    const std::size_t book_start = book_out.size();
    const std::size_t trade_start = trade_out.size();
    ParseResult r;
    try {
        if (!fast_stream(symbols_, futures_, msg, ts_ns, book_out, trade_out, r, memo_,
                         shapes_.get())) {
            book_out.resize(book_start);
            trade_out.resize(trade_start);
            r = binance_message(symbols_, futures_, msg, ts_ns, book_out, trade_out, nullptr,
                                shapes_.get());
        }
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

ParseResult BinanceParser::parse_snapshot(std::string_view json, std::uint32_t symbol_id,
                                          std::int64_t ts_ns,
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
            r = binance_message(symbols_, futures_, json, ts_ns, book_out, no_trades, entry,
                                shapes_.get());
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
                continue; // counted as parsed; the row is lost (documented: out of memory)
            }
        }
        ++good;
    }
    return good;
}

} // namespace confluex::feed
