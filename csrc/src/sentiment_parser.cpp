// Sentiment stream parsers: Binance markPrice / forceOrder, Bybit tickers / allLiquidation.
#include "confluex/sentiment_parser.hpp"

#include <charconv>
#include <new>

#include "confluex/sentiment.hpp"
#include "parser_scan.hpp"

namespace confluex::feed {

namespace {

using detail::Err;
using detail::Slot;
using detail::VType;

// The members of one object that a message kind reads, by name; the bit i of `present`
// says names[i] was met. Low message rates (1/s per symbol) make a linear name match fine.
template <std::size_t N> struct Members {
    const std::array<std::string_view, N>& names;
    std::array<Slot, N> slot{};
    std::uint32_t present = 0;

    [[nodiscard]] bool has(std::size_t i) const noexcept { return (present >> i) & 1U; }
    [[nodiscard]] const Slot& operator[](std::size_t i) const noexcept { return slot[i]; }
};

// collect()
// Scans the object at p ('{') into m; other members are validated and skipped; a repeated
// member that is read is Malformed.
template <std::size_t N> Err collect(const char*& p, const char* end, Members<N>& m, int depth) {
    if (p >= end || *p != '{') {
        return Err::Malformed;
    }
    return detail::for_each_member(p, end, [&](std::string_view key, const char*& q) -> Err {
        for (std::size_t i = 0; i < N; ++i) {
            if (key == m.names[i]) {
                if (m.has(i)) {
                    return Err::Malformed;
                }
                m.present |= 1U << i;
                return detail::read_slot(q, end, m.slot[i], depth + 1);
            }
        }
        return detail::skip_value(q, end, depth + 1) ? Err::None : Err::Malformed;
    });
}

// Reads the object a slot points at.
template <std::size_t N>
Err collect_slot(const Slot& s, const char* end, Members<N>& m, int depth) {
    if (s.type != VType::Obj) {
        return Err::Malformed;
    }
    const char* p = s.ptr;
    return collect(p, end, m, depth);
}

// A decimal string ("-0.000212", "11794.15") to double. Empty strings are absent
// (present = false). Anything but -?digits(.digits)? is Malformed.
Err str_double(const Slot& s, double& out, bool& present) noexcept {
    if (s.type != VType::Str) {
        return Err::Malformed;
    }
    const std::string_view v = s.str();
    present = !v.empty();
    if (!present) {
        return Err::None;
    }
    std::size_t i = v[0] == '-' ? 1 : 0;
    const std::size_t int_start = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
        ++i;
    }
    if (i == int_start) {
        return Err::Malformed;
    }
    if (i < v.size()) {
        if (v[i] != '.') {
            return Err::Malformed;
        }
        const std::size_t frac_start = ++i;
        while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
            ++i;
        }
        if (i == frac_start || i != v.size()) {
            return Err::Malformed;
        }
    }
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size()) {
        return Err::Malformed;
    }
    return Err::None;
}

// A required, non-empty decimal string.
Err need_double(const Slot& s, double& out) noexcept {
    bool present = false;
    if (const Err e = str_double(s, out, present); e != Err::None) {
        return e;
    }
    return present ? Err::None : Err::Malformed;
}

// An optional decimal string: sets `bit` in fields when present and non-empty.
Err opt_double(bool has, const Slot& s, double& out, std::uint32_t bit,
               std::uint32_t& fields) noexcept {
    if (!has) {
        return Err::None;
    }
    bool present = false;
    if (const Err e = str_double(s, out, present); e != Err::None) {
        return e;
    }
    if (present) {
        fields |= bit;
    }
    return Err::None;
}

// A JSON integer, or (Bybit) a string of 1..18 digits.
Err slot_int(const Slot& s, std::int64_t& out, bool allow_string) noexcept {
    if (s.type == VType::Int) {
        out = s.n;
        return Err::None;
    }
    if (allow_string && s.type == VType::Str && s.n > 0 && s.n <= 18) {
        std::int64_t v = 0;
        for (const char c : s.str()) {
            if (c < '0' || c > '9') {
                return Err::Malformed;
            }
            v = v * 10 + (c - '0');
        }
        out = v;
        return Err::None;
    }
    return Err::Malformed;
}

bool is_str(const Slot& s) noexcept { return s.type == VType::Str; }

// ---------------------------------------------------------------------------- Binance ----

constexpr std::array<std::string_view, 13> kBnTop = {
    "stream", "data", "e", "E", "s", "p", "i", "r", "T", "o", "id", "result", "P"};
enum BnTop : std::size_t {
    bt_stream,
    bt_data,
    bt_e,
    bt_E,
    bt_s,
    bt_p,
    bt_i,
    bt_r,
    bt_T,
    bt_o,
    bt_id,
    bt_result,
    bt_P
};
constexpr std::array<std::string_view, 8> kBnOrder = {"s", "S", "q", "p", "ap", "z", "T", "X"};
enum BnOrder : std::size_t { bo_s, bo_S, bo_q, bo_p, bo_ap, bo_z, bo_T, bo_X };

// Parses a markPriceUpdate / forceOrder event whose members are in `ev`.
Err binance_event(Members<13>& ev, std::string_view stream_symbol, bool wrapped,
                  SentimentMsgKind want, const SymbolTable& table, const char* end,
                  std::int64_t ts_ns, SentimentParseResult& r, std::vector<LiquidationEvent>& out) {
    if (!ev.has(bt_e)) {
        return Err::MissingField;
    }
    if (!is_str(ev[bt_e])) {
        return Err::Malformed;
    }
    const std::string_view e = ev[bt_e].str();
    SentimentMsgKind kind = SentimentMsgKind::Unknown;
    if (e == "markPriceUpdate") {
        kind = SentimentMsgKind::MarkPrice;
    } else if (e == "forceOrder") {
        kind = SentimentMsgKind::Liquidation;
    } else {
        return Err::UnknownStream;
    }
    if (wrapped && kind != want) {
        return Err::Malformed; // the data's event disagrees with its stream
    }
    r.kind = kind;
    if (!ev.has(bt_E)) {
        return Err::MissingField;
    }
    if (const Err x = slot_int(ev[bt_E], r.exchange_ts_ms, false); x != Err::None) {
        return x;
    }
    if (kind == SentimentMsgKind::MarkPrice) {
        if (!ev.has(bt_s) || !ev.has(bt_p)) {
            return Err::MissingField;
        }
        if (!is_str(ev[bt_s]) || (wrapped && !detail::iequals(ev[bt_s].str(), stream_symbol))) {
            return Err::Malformed;
        }
        const SymbolTable::Entry* entry = table.find(ev[bt_s].str());
        if (entry == nullptr) {
            return Err::UnknownSymbol;
        }
        r.symbol_id = entry->symbol_id;
        MarkUpdate& m = r.mark;
        m.ts_ns = ts_ns;
        m.exchange_ts_ms = r.exchange_ts_ms;
        m.symbol_id = entry->symbol_id;
        m.snapshot = 1;
        Err x = need_double(ev[bt_p], m.mark_price);
        if (x != Err::None) {
            return x;
        }
        m.fields |= mark_fields::kMarkPrice;
        if ((x = opt_double(ev.has(bt_i), ev[bt_i], m.index_price, mark_fields::kIndexPrice,
                            m.fields)) != Err::None ||
            (x = opt_double(ev.has(bt_r), ev[bt_r], m.funding_rate, mark_fields::kFundingRate,
                            m.fields)) != Err::None) {
            return x;
        }
        if (ev.has(bt_T)) {
            std::int64_t t = 0;
            if ((x = slot_int(ev[bt_T], t, false)) != Err::None) {
                return x;
            }
            if (t > 0) {
                m.next_funding_ms = t;
                m.fields |= mark_fields::kNextFundingTime;
            }
        }
        return Err::None;
    }
    // forceOrder
    if (!ev.has(bt_o)) {
        return Err::MissingField;
    }
    Members<8> o{kBnOrder};
    if (const Err x = collect_slot(ev[bt_o], end, o, 2); x != Err::None) {
        return x;
    }
    if (!o.has(bo_s) || !o.has(bo_S) || !o.has(bo_q) || !o.has(bo_p) || !o.has(bo_T)) {
        return Err::MissingField;
    }
    if (!is_str(o[bo_s]) || !is_str(o[bo_S]) ||
        (wrapped && !detail::iequals(o[bo_s].str(), stream_symbol))) {
        return Err::Malformed;
    }
    const SymbolTable::Entry* entry = table.find(o[bo_s].str());
    if (entry == nullptr) {
        return Err::UnknownSymbol;
    }
    r.symbol_id = entry->symbol_id;
    LiquidationEvent le{ts_ns, 0, 0.0, 0.0, entry->symbol_id, 0, {0, 0, 0}};
    const std::string_view side = o[bo_S].str();
    if (side == "SELL") {
        le.side = static_cast<std::uint8_t>(LiquidatedSide::Long);
    } else if (side == "BUY") {
        le.side = static_cast<std::uint8_t>(LiquidatedSide::Short);
    } else {
        return Err::Malformed;
    }
    Err x = slot_int(o[bo_T], le.trade_time_ms, false);
    if (x != Err::None) {
        return x;
    }
    double q = 0.0;
    double p = 0.0;
    if ((x = need_double(o[bo_q], q)) != Err::None || (x = need_double(o[bo_p], p)) != Err::None) {
        return x;
    }
    double ap = 0.0;
    double z = 0.0;
    std::uint32_t got = 0;
    if ((x = opt_double(o.has(bo_ap), o[bo_ap], ap, 1U, got)) != Err::None ||
        (x = opt_double(o.has(bo_z), o[bo_z], z, 2U, got)) != Err::None) {
        return x;
    }
    if (q < 0.0 || p < 0.0 || ap < 0.0 || z < 0.0) {
        return Err::Malformed;
    }
    const bool filled = got == 3U && ap > 0.0 && z > 0.0;
    le.price = filled ? ap : p;
    le.qty = filled ? z : q;
    out.push_back(le);
    r.n_liquidations = 1;
    return Err::None;
}

Err binance_parse(std::string_view msg, std::int64_t ts_ns, const SymbolTable& table,
                  SentimentParseResult& r, std::vector<LiquidationEvent>& out) {
    const char* p = msg.data();
    const char* const end = p + msg.size();
    detail::skip_ws(p, end);
    Members<13> top{kBnTop};
    if (const Err e = collect(p, end, top, 0); e != Err::None) {
        return e;
    }
    if (!detail::at_end(p, end)) {
        return Err::Malformed;
    }
    if (top.has(bt_stream)) {
        if (!is_str(top[bt_stream])) {
            return Err::Malformed;
        }
        const std::string_view stream = top[bt_stream].str();
        const std::size_t at = stream.find('@');
        if (at == std::string_view::npos) {
            return Err::UnknownStream;
        }
        const std::string_view sym = stream.substr(0, at);
        const std::string_view rest = stream.substr(at + 1);
        SentimentMsgKind want = SentimentMsgKind::Unknown;
        if (rest == "markPrice" || rest == "markPrice@1s") {
            want = SentimentMsgKind::MarkPrice;
        } else if (rest == "forceOrder") {
            want = SentimentMsgKind::Liquidation;
        } else {
            return Err::UnknownStream;
        }
        r.kind = want;
        if (const SymbolTable::Entry* entry = table.find(sym); entry != nullptr) {
            r.symbol_id = entry->symbol_id;
        }
        if (!top.has(bt_data)) {
            return Err::MissingField;
        }
        Members<13> data{kBnTop};
        if (const Err e = collect_slot(top[bt_data], end, data, 1); e != Err::None) {
            return e;
        }
        return binance_event(data, sym, true, want, table, end, ts_ns, r, out);
    }
    if (top.has(bt_e)) {
        return binance_event(top, {}, false, SentimentMsgKind::Unknown, table, end, ts_ns, r, out);
    }
    if (top.has(bt_id)) {
        r.kind = SentimentMsgKind::Control;
        return Err::None;
    }
    return Err::UnknownStream;
}

// ------------------------------------------------------------------------------ Bybit ----

constexpr std::array<std::string_view, 7> kByTop = {"topic", "type",    "ts", "data",
                                                    "op",    "success", "cs"};
enum ByTop : std::size_t { yt_topic, yt_type, yt_ts, yt_data, yt_op, yt_success, yt_cs };
constexpr std::array<std::string_view, 7> kByTicker = {
    "symbol",          "markPrice",    "indexPrice",       "fundingRate",
    "nextFundingTime", "openInterest", "openInterestValue"};
enum ByTicker : std::size_t { yk_symbol, yk_mark, yk_index, yk_funding, yk_next, yk_oi, yk_oiv };
constexpr std::array<std::string_view, 5> kByLiq = {"T", "s", "S", "v", "p"};
enum ByLiq : std::size_t { yl_T, yl_s, yl_S, yl_v, yl_p };

Err bybit_liquidations(const Slot& data, const char* end, const SymbolTable::Entry& entry,
                       std::string_view topic_sym, std::int64_t ts_ns,
                       std::vector<LiquidationEvent>& out, std::uint32_t& n) {
    if (data.type != VType::Arr) {
        return Err::Malformed;
    }
    const char* p = data.ptr + 1;
    detail::skip_ws(p, end);
    if (p < end && *p == ']') {
        return Err::None;
    }
    for (;;) {
        Members<5> m{kByLiq};
        if (const Err e = collect(p, end, m, 2); e != Err::None) {
            return e;
        }
        for (std::size_t i = 0; i < kByLiq.size(); ++i) {
            if (!m.has(i)) {
                return Err::MissingField;
            }
        }
        if (!is_str(m[yl_s]) || !is_str(m[yl_S]) || !detail::iequals(m[yl_s].str(), topic_sym)) {
            return Err::Malformed;
        }
        LiquidationEvent le{ts_ns, 0, 0.0, 0.0, entry.symbol_id, 0, {0, 0, 0}};
        const std::string_view side = m[yl_S].str();
        if (side == "Buy") {
            le.side = static_cast<std::uint8_t>(LiquidatedSide::Long);
        } else if (side == "Sell") {
            le.side = static_cast<std::uint8_t>(LiquidatedSide::Short);
        } else {
            return Err::Malformed;
        }
        Err x = slot_int(m[yl_T], le.trade_time_ms, false);
        if (x != Err::None || (x = need_double(m[yl_v], le.qty)) != Err::None ||
            (x = need_double(m[yl_p], le.price)) != Err::None) {
            return x;
        }
        if (le.qty < 0.0 || le.price < 0.0) {
            return Err::Malformed;
        }
        out.push_back(le);
        ++n;
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
            return Err::None;
        }
        return Err::Malformed;
    }
}

Err bybit_parse(std::string_view msg, std::int64_t ts_ns, const SymbolTable& table,
                SentimentParseResult& r, std::vector<LiquidationEvent>& out) {
    const char* p = msg.data();
    const char* const end = p + msg.size();
    detail::skip_ws(p, end);
    Members<7> top{kByTop};
    if (const Err e = collect(p, end, top, 0); e != Err::None) {
        return e;
    }
    if (!detail::at_end(p, end)) {
        return Err::Malformed;
    }
    if (!top.has(yt_topic)) {
        if (top.has(yt_op) || top.has(yt_success)) {
            r.kind = SentimentMsgKind::Control;
            return Err::None;
        }
        return Err::UnknownStream;
    }
    if (!is_str(top[yt_topic])) {
        return Err::Malformed;
    }
    const std::string_view topic = top[yt_topic].str();
    const std::size_t dot = topic.find('.');
    if (dot == std::string_view::npos) {
        return Err::UnknownStream;
    }
    const std::string_view head = topic.substr(0, dot);
    const std::string_view sym = topic.substr(dot + 1);
    if (head == "tickers") {
        r.kind = SentimentMsgKind::Ticker;
    } else if (head == "allLiquidation") {
        r.kind = SentimentMsgKind::Liquidation;
    } else {
        return Err::UnknownStream;
    }
    const SymbolTable::Entry* entry = table.find(sym);
    if (entry == nullptr) {
        return Err::UnknownSymbol;
    }
    r.symbol_id = entry->symbol_id;
    if (!top.has(yt_ts) || !top.has(yt_data)) {
        return Err::MissingField;
    }
    if (const Err e = slot_int(top[yt_ts], r.exchange_ts_ms, false); e != Err::None) {
        return e;
    }
    if (r.kind == SentimentMsgKind::Liquidation) {
        return bybit_liquidations(top[yt_data], end, *entry, sym, ts_ns, out, r.n_liquidations);
    }
    if (!top.has(yt_type)) {
        return Err::MissingField;
    }
    if (!is_str(top[yt_type])) {
        return Err::Malformed;
    }
    const std::string_view type = top[yt_type].str();
    if (type != "snapshot" && type != "delta") {
        return Err::Malformed;
    }
    Members<7> d{kByTicker};
    if (const Err e = collect_slot(top[yt_data], end, d, 1); e != Err::None) {
        return e;
    }
    if (!d.has(yk_symbol)) {
        return Err::MissingField;
    }
    if (!is_str(d[yk_symbol]) || !detail::iequals(d[yk_symbol].str(), sym)) {
        return Err::Malformed;
    }
    MarkUpdate& m = r.mark;
    m.ts_ns = ts_ns;
    m.exchange_ts_ms = r.exchange_ts_ms;
    m.symbol_id = entry->symbol_id;
    m.snapshot = type == "snapshot" ? 1 : 0;
    Err x = Err::None;
    if ((x = opt_double(d.has(yk_mark), d[yk_mark], m.mark_price, mark_fields::kMarkPrice,
                        m.fields)) != Err::None ||
        (x = opt_double(d.has(yk_index), d[yk_index], m.index_price, mark_fields::kIndexPrice,
                        m.fields)) != Err::None ||
        (x = opt_double(d.has(yk_funding), d[yk_funding], m.funding_rate, mark_fields::kFundingRate,
                        m.fields)) != Err::None ||
        (x = opt_double(d.has(yk_oi), d[yk_oi], m.open_interest, mark_fields::kOpenInterest,
                        m.fields)) != Err::None ||
        (x = opt_double(d.has(yk_oiv), d[yk_oiv], m.open_interest_value,
                        mark_fields::kOpenInterestValue, m.fields)) != Err::None) {
        return x;
    }
    if (d.has(yk_next)) {
        const Slot& s = d[yk_next];
        if (!(s.type == VType::Str && s.n == 0)) {
            if ((x = slot_int(s, m.next_funding_ms, true)) != Err::None) {
                return x;
            }
            m.fields |= mark_fields::kNextFundingTime;
        }
    }
    return Err::None;
}

template <class Impl>
SentimentParseResult run(Impl impl, std::string_view msg, std::int64_t ts_ns,
                         const SymbolTable& table, std::vector<LiquidationEvent>& out,
                         detail::SentimentStats& stats) noexcept {
    SentimentParseResult r;
    const std::size_t start = out.size();
    try {
        r.error = impl(msg, ts_ns, table, r, out);
    } catch (const std::bad_alloc&) {
        r.error = Err::OutOfMemory;
    }
    if (r.error != Err::None) {
        out.resize(start); // shrinking never allocates
        r.n_liquidations = 0;
        r.mark = MarkUpdate{};
    }
    stats.count(r);
    return r;
}

} // namespace

const char* to_string(SentimentMsgKind k) noexcept {
    switch (k) {
    case SentimentMsgKind::MarkPrice:
        return "MarkPrice";
    case SentimentMsgKind::Ticker:
        return "Ticker";
    case SentimentMsgKind::Liquidation:
        return "Liquidation";
    case SentimentMsgKind::Control:
        return "Control";
    case SentimentMsgKind::Unknown:
        return "Unknown";
    }
    return "?";
}

namespace detail {
void SentimentStats::count(const SentimentParseResult& r) noexcept {
    if (r.error == ParseError::None) {
        ++c_.messages[static_cast<std::size_t>(r.kind)];
        c_.liquidations += r.n_liquidations;
        return;
    }
    ++c_.errors[static_cast<std::size_t>(r.error)];
    if (r.symbol_id < symbol_errors_.size()) {
        ++symbol_errors_[r.symbol_id];
    }
}
} // namespace detail

SentimentParseResult
BinanceSentimentParser::parse(std::string_view msg, std::int64_t ts_ns,
                              std::vector<LiquidationEvent>& liq_out) noexcept {
    return run(binance_parse, msg, ts_ns, symbols_, liq_out, stats_);
}

SentimentParseResult BybitSentimentParser::parse(std::string_view msg, std::int64_t ts_ns,
                                                 std::vector<LiquidationEvent>& liq_out) noexcept {
    return run(bybit_parse, msg, ts_ns, symbols_, liq_out, stats_);
}

} // namespace confluex::feed
