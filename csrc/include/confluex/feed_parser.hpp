// confluex/feed_parser.hpp
//
// Provides the native exchange-message parsers: raw WebSocket / REST bytes in, engine records
// (BookLevelEvent, TradeEvent, BookTicker) out, with no allocation per message beyond the
// growth of the caller's output vectors and no Python object anywhere.
//
//   BinanceParser  combined streams ({"stream":..,"data":{..}}) and raw event objects:
//                  depthUpdate (spot U/u, USD-M pu/u), trade, bookTicker, the REST depth
//                  snapshot {"lastUpdateId":..,"bids":..,"asks":..}, request replies.
//   BybitParser    v5 public topics: orderbook.N.SYMBOL (snapshot / delta),
//                  publicTrade.SYMBOL (several trades per message), op replies (pong,
//                  subscribe acks).
//
// Design:
//   - One pass over the bytes with a hand-written scanner. Keys are matched wherever they
//     appear, so key order and JSON whitespace are free; the canonical exchange order is
//     the fast path because the symbol (hence the Instrument) is known before the level
//     arrays, which are then converted straight from the bytes into records. A level array
//     met before its symbol is validated, remembered and converted once the object is done.
//   - Decimal strings convert exactly to ticks / lots (Instrument semantics: a value off the
//     grid is rejected, never rounded).
//   - The scanner is a strict JSON validator: anything json.loads rejects is rejected
//     (bad UTF-8, control characters in strings, leading zeros, trailing bytes...). It is
//     stricter than json.loads in three documented ways: duplicate keys the parser reads
//     are Malformed (json.loads keeps the last), keys with escapes are Malformed, and
//     escapes inside the string values it reads (symbol, stream, decimals) are Malformed.
//     Values it does not read may contain anything valid. Nesting deeper than 64 is Malformed.
//   - All-or-nothing: on any error nothing stays appended to the output vectors, the
//     error is returned and counted (per kind of error, and per symbol when the symbol is
//     known). parse() never throws.
//   - The first error found is the one reported; ids and symbols are checked after the
//     whole object has been scanned, immediate level conversion can report OffGrid earlier.
//
// Record conventions (see types.hpp):
//   - Every record of a message carries the caller's ts_ns (receive time), or for line
//     batches the time of the line (see parse_lines()).
//   - Depth: update_id = u; prev_update_id = U - 1 (Binance spot), pu (Binance USD-M),
//     u - 1 (Bybit delta: checked on the Bybit sample, every delta's u is the previous
//     message's u + 1, and the first delta's u is the snapshot's u + 1; `seq` is a
//     cross-sequence and not used). Bids first, then asks, each in message order; the last
//     record has kEndOfMessage; a message without levels is one record flagged
//     kNoLevel | kEndOfMessage (px = qty = 0).
//   - Snapshot: every record has kSnapshot, update_id = lastUpdateId (Binance) / u (Bybit),
//     prev_update_id = kNoUpdateId. An empty snapshot is one kNoLevel record. A Bybit
//     orderbook message with u == 1 is a snapshot whatever its type (Bybit sends one after a
//     service restart and asks clients to overwrite their book).
//   - Trade: Binance side = m ? Sell : Buy (m = buyer is maker, so the aggressor sold);
//     trade_id = t. Bybit side = S ("Buy" / "Sell", the taker side); trade_id = the id
//     itself when `i` is all digits and fits int64 (spot, inverse), otherwise FNV-1a-64 of
//     the id bytes with the top bit cleared (linear ids are UUIDs): deterministic and
//     non-negative, collision probability 2^-63 per pair, not ordered.
//
// Threading: a parser is single-threaded (it owns counters). It copies the SymbolTable at
// construction, so later changes to the caller's table do not reach it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "confluex/symbol_table.hpp"
#include "confluex/types.hpp"

namespace confluex::feed {

enum class MsgKind : std::uint8_t { Depth, Snapshot, Trade, BookTicker, Control, Unknown };
inline constexpr std::size_t kMsgKindCount = 6;

enum class ParseError : std::uint8_t {
    None,
    Malformed,     // not JSON, or a field of the wrong type / shape, or inconsistent ids
    MissingField,  // a field the message kind requires is absent
    OffGrid,       // a decimal that is not a whole number of ticks / lots (or out of range)
    UnknownStream, // a stream / topic / event type the parser does not handle
    UnknownSymbol, // a symbol the SymbolTable does not hold
    OutOfMemory,   // an output vector could not grow
};
inline constexpr std::size_t kParseErrorCount = 7;

// to_string()
// Returns the enumerator name ("Depth", "OffGrid").
[[nodiscard]] const char* to_string(MsgKind k) noexcept;
[[nodiscard]] const char* to_string(ParseError e) noexcept;

// The exchange's own top of book (Binance bookTicker), a POD row for batches.
struct BookTicker {
    std::int64_t ts_ns;
    std::int64_t update_id;
    std::uint32_t symbol_id;
    std::uint32_t reserved;
    Ticks bid_px;
    Lots bid_qty;
    Ticks ask_px;
    Lots ask_qty;
};
static_assert(std::is_trivially_copyable_v<BookTicker> && sizeof(BookTicker) == 56);

struct ParseResult {
    MsgKind kind = MsgKind::Unknown; // Unknown when it could not be determined
    ParseError error = ParseError::None;
    std::uint32_t symbol_id = kNoSymbol; // kNoSymbol when unknown
    std::uint32_t n_book = 0;            // records appended to book_out
    std::uint32_t n_trades = 0;          // records appended to trade_out
    std::int64_t exchange_ts_ms = -1;    // Binance "E", Bybit "ts"; -1 when absent
    // Depth and snapshot: the message's first and last update ids (Binance U and u, or
    // lastUpdateId twice; Bybit u twice); kNoUpdateId otherwise. A bookTicker with id t is
    // comparable with the book between depth messages k and k+1 when u_k <= t < U_{k+1}.
    std::int64_t first_update_id = kNoUpdateId;
    std::int64_t last_update_id = kNoUpdateId;
    BookTicker ticker{}; // valid when kind == BookTicker and no error

    [[nodiscard]] bool ok() const noexcept { return error == ParseError::None; }
};

struct ParserCounters {
    std::array<std::uint64_t, kMsgKindCount> messages{};  // parsed without error, by MsgKind
    std::array<std::uint64_t, kParseErrorCount> errors{}; // rejected, by ParseError ([None] = 0)
    std::uint64_t book_records = 0;                       // records appended by good messages
    std::uint64_t trade_records = 0;
    std::uint64_t tickers = 0;
};

// Output of a line batch (parse_lines()).
struct LineBatch {
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    std::vector<BookTicker> tickers;
};

// How a capture buffer is laid out, one message per line ('\n', optional '\r').
enum class LineFormat : std::uint8_t {
    NsPrefixed, // "<local receive ns> <json>" (hftbacktest captures); ts = the prefix
    JsonOnly,   // "<json>" (Bybit history files); ts = the message's ms "ts" * 1e6
};

namespace detail {
// Counters shared by both parsers.
class ParserStats {
  public:
    explicit ParserStats(std::uint32_t id_bound) : symbol_errors_(id_bound, 0) {}
    void count(const ParseResult& r) noexcept;
    [[nodiscard]] const ParserCounters& counters() const noexcept { return counters_; }
    [[nodiscard]] const std::vector<std::uint64_t>& symbol_errors() const noexcept {
        return symbol_errors_;
    }

  private:
    ParserCounters counters_;
    std::vector<std::uint64_t> symbol_errors_; // by symbol id, sized at construction
};

// The level layouts a parser learnt, one set per symbol table entry (internal to the
// parsers: see parser_scan.hpp).
struct LevelShapes;
struct LevelShapesDelete {
    void operator()(LevelShapes* p) const noexcept;
};
using LevelShapesPtr = std::unique_ptr<LevelShapes[], LevelShapesDelete>;
// One empty set per entry of a table of n entries.
LevelShapesPtr new_level_shapes(std::size_t n);
} // namespace detail

class BinanceParser {
  public:
    // BinanceParser::BinanceParser()
    // Builds a parser for spot (futures = false: prev_update_id = U - 1) or USD-M / COIN-M
    // futures (futures = true: prev_update_id = pu) streams. Copies the table.
    BinanceParser(const SymbolTable& symbols, bool futures);

    // BinanceParser::parse()
    // Parses one combined-stream message or raw event object and appends its records.
    // Streams: "<sym>@depth" and "<sym>@depth@<speed>" (diff depth), "<sym>@trade",
    // "<sym>@bookTicker"; the stream prefix selects the symbol and a data "s" must agree.
    // Raw objects dispatch on "e" (depthUpdate, trade, bookTicker); without "e" an object
    // with lastUpdateId is a REST snapshot (symbol: the table's only entry, else
    // UnknownSymbol), one with "u" and string "b" a spot bookTicker, one with "id" a
    // request reply (Control). A bookTicker appends nothing; it is returned in the result.
    ParseResult parse(std::string_view msg, std::int64_t ts_ns,
                      std::vector<BookLevelEvent>& book_out,
                      std::vector<TradeEvent>& trade_out) noexcept;

    // BinanceParser::parse_snapshot()
    // Parses the REST depth snapshot of one symbol into kSnapshot records.
    ParseResult parse_snapshot(std::string_view json, std::uint32_t symbol_id, std::int64_t ts_ns,
                               std::vector<BookLevelEvent>& book_out) noexcept;

    // BinanceParser::parse_lines()
    // Parses a capture buffer of "<ns> <json>" lines (LineFormat::NsPrefixed), appending to
    // `out` in line order; bookTickers go to out.tickers. Blank lines are skipped; a line
    // without a valid ns prefix counts as Malformed. Returns the number of lines parsed
    // without error.
    std::size_t parse_lines(std::string_view data, LineBatch& out) noexcept;

    [[nodiscard]] const ParserCounters& counters() const noexcept { return stats_.counters(); }
    // Errors of messages whose symbol was known, indexed by symbol id.
    [[nodiscard]] const std::vector<std::uint64_t>& symbol_errors() const noexcept {
        return stats_.symbol_errors();
    }
    [[nodiscard]] bool futures() const noexcept { return futures_; }
    [[nodiscard]] const SymbolTable& symbols() const noexcept { return symbols_; }

    // The stream prefix of the last message whose symbol was looked up, and its entry's index
    // (a combined stream repeats its few prefixes: one compare instead of a hash and a
    // case-folding compare). An index, not a pointer, so a copied parser stays valid.
    struct StreamMemo {
        std::array<char, 32> key{};
        std::size_t len = 0; // 0: nothing remembered
        std::size_t index = 0;
    };

  private:
    SymbolTable symbols_;
    bool futures_;
    detail::ParserStats stats_;
    StreamMemo memo_;
    // The layouts of each symbol's depth levels, learnt while parsing and kept across
    // messages (by table entry index).
    detail::LevelShapesPtr shapes_;
};

class BybitParser {
  public:
    // BybitParser::BybitParser()
    // Builds a parser for Bybit v5 public streams (spot, linear, inverse share the format).
    explicit BybitParser(const SymbolTable& symbols);

    // BybitParser::parse()
    // Parses one message: orderbook.N.SYMBOL (Snapshot / Depth), publicTrade.SYMBOL (Trade,
    // one record per trade), a message with "op" or "success" and no topic (Control).
    // Every "s" inside data must agree with the topic's symbol.
    ParseResult parse(std::string_view msg, std::int64_t ts_ns,
                      std::vector<BookLevelEvent>& book_out,
                      std::vector<TradeEvent>& trade_out) noexcept;

    // BybitParser::parse_lines()
    // Parses a buffer of lines in `format`; with JsonOnly every record gets the message's
    // "ts" (ms) * 1e6 as ts_ns (a message without "ts" is MissingField). Returns the number
    // of lines parsed without error.
    std::size_t parse_lines(std::string_view data, LineFormat format, LineBatch& out) noexcept;

    [[nodiscard]] const ParserCounters& counters() const noexcept { return stats_.counters(); }
    [[nodiscard]] const std::vector<std::uint64_t>& symbol_errors() const noexcept {
        return stats_.symbol_errors();
    }
    [[nodiscard]] const SymbolTable& symbols() const noexcept { return symbols_; }

  private:
    ParseResult parse_impl(std::string_view msg, std::int64_t ts_ns, bool ts_from_message,
                           std::vector<BookLevelEvent>& book_out,
                           std::vector<TradeEvent>& trade_out) noexcept;

    SymbolTable symbols_;
    detail::ParserStats stats_;
    detail::LevelShapesPtr shapes_; // as BinanceParser's
};

namespace detail {
// bybit_trade_id()
// Returns the int64 trade id of a Bybit id string (see the header comment).
[[nodiscard]] std::int64_t bybit_trade_id(std::string_view id) noexcept;
} // namespace detail

} // namespace confluex::feed
