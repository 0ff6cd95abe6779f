// confluex/sentiment_parser.hpp
//
// Provides the native parsers of the derivative-data streams that feed Sentiment:
//
//   BinanceSentimentParser  USD-M futures "<sym>@markPrice" / "<sym>@markPrice@1s"
//                           (markPriceUpdate: mark, index, funding rate, next funding time)
//                           and "<sym>@forceOrder" (forceOrder: one liquidation order),
//                           combined-stream wrapped ({"stream":..,"data":..}) or raw.
//   BybitSentimentParser    v5 public "tickers.<SYMBOL>" (snapshot / delta: mark, index,
//                           funding rate, next funding time, open interest and its value)
//                           and "allLiquidation.<SYMBOL>" (a list of liquidations).
//
// Conventions (those of feed_parser.hpp): one pass of the strict JSON scanner shared with
// the book parsers; keys in any order; a duplicate key the parser reads is Malformed;
// parse() never throws; all-or-nothing (on any error nothing stays appended to the output
// vector); every rejected message is counted by ParseError and, when its symbol is known,
// by symbol.
//
// Record conventions:
//   - Decimal strings become doubles (these are rates and notionals, not book prices).
//     A field the venue sends as "" (Binance "r" of a delivery contract) or omits (Bybit
//     delta: "unchanged") is absent: its bit in MarkUpdate::fields is clear. Binance "T":0
//     (no next funding) is absent too.
//   - Liquidated side: Binance forceOrder "S":"SELL" is the venue selling a LONG position,
//     "BUY" a short. Bybit allLiquidation "S" is the POSITION side: "Buy" = a long was
//     liquidated, "Sell" = a short (the two venues use opposite conventions).
//   - Liquidation quantity: Binance uses the filled accumulated quantity "z" at the average
//     price "ap" when both are positive, else the order's "q" at "p"; Bybit "v" at "p"
//     (the bankruptcy price).
//   - ts_ns is the caller's receive time; exchange_ts_ms is Binance "E" / Bybit "ts".
//
// Threading: a parser is single-threaded. It copies the SymbolTable at construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "confluex/feed_parser.hpp"
#include "confluex/symbol_table.hpp"

namespace confluex::feed {

enum class SentimentMsgKind : std::uint8_t { MarkPrice, Ticker, Liquidation, Control, Unknown };
inline constexpr std::size_t kSentimentMsgKindCount = 5;

// to_string()
// Returns the enumerator name ("MarkPrice").
[[nodiscard]] const char* to_string(SentimentMsgKind k) noexcept;

// Bits of MarkUpdate::fields.
namespace mark_fields {
inline constexpr std::uint32_t kMarkPrice = 1U << 0;
inline constexpr std::uint32_t kIndexPrice = 1U << 1;
inline constexpr std::uint32_t kFundingRate = 1U << 2;
inline constexpr std::uint32_t kNextFundingTime = 1U << 3;
inline constexpr std::uint32_t kOpenInterest = 1U << 4;
inline constexpr std::uint32_t kOpenInterestValue = 1U << 5;
} // namespace mark_fields

// Mark price / ticker update of one symbol; only the fields whose bit is set were sent.
struct MarkUpdate {
    std::int64_t ts_ns;
    std::int64_t exchange_ts_ms;
    std::int64_t next_funding_ms;
    double mark_price;
    double index_price;
    double funding_rate;
    double open_interest;       // contracts / base units (Bybit)
    double open_interest_value; // quote units (Bybit)
    std::uint32_t symbol_id;
    std::uint32_t fields;  // mark_fields bits
    std::uint8_t snapshot; // 1: Binance markPriceUpdate or Bybit "snapshot"; 0: Bybit "delta"
    std::uint8_t reserved[7];
};
static_assert(std::is_trivially_copyable_v<MarkUpdate> && sizeof(MarkUpdate) == 80);

// One liquidation (a POD row for batches).
struct LiquidationEvent {
    std::int64_t ts_ns;         // receive time
    std::int64_t trade_time_ms; // Binance o.T / Bybit data[].T
    double price;
    double qty;
    std::uint32_t symbol_id;
    std::uint8_t side; // LiquidatedSide: 1 long liquidated, 2 short liquidated
    std::uint8_t reserved[3];
};
static_assert(std::is_trivially_copyable_v<LiquidationEvent> && sizeof(LiquidationEvent) == 40);

struct SentimentParseResult {
    SentimentMsgKind kind = SentimentMsgKind::Unknown;
    ParseError error = ParseError::None;
    std::uint32_t symbol_id = kNoSymbol;
    std::uint32_t n_liquidations = 0; // records appended to the output vector
    std::int64_t exchange_ts_ms = -1;
    MarkUpdate mark{}; // valid when kind is MarkPrice or Ticker and no error

    [[nodiscard]] bool ok() const noexcept { return error == ParseError::None; }
};

struct SentimentParserCounters {
    std::array<std::uint64_t, kSentimentMsgKindCount> messages{}; // parsed, by kind
    std::array<std::uint64_t, kParseErrorCount> errors{};         // rejected, by ParseError
    std::uint64_t liquidations = 0;
};

namespace detail {
class SentimentStats {
  public:
    explicit SentimentStats(std::uint32_t id_bound) : symbol_errors_(id_bound, 0) {}
    void count(const SentimentParseResult& r) noexcept;
    [[nodiscard]] const SentimentParserCounters& counters() const noexcept { return c_; }
    [[nodiscard]] const std::vector<std::uint64_t>& symbol_errors() const noexcept {
        return symbol_errors_;
    }

  private:
    SentimentParserCounters c_;
    std::vector<std::uint64_t> symbol_errors_;
};
} // namespace detail

namespace detail {
// What both venue parsers hold: their copy of the symbol table and their counters.
class SentimentParserBase {
  public:
    [[nodiscard]] const SentimentParserCounters& counters() const noexcept {
        return stats_.counters();
    }
    // Errors of messages whose symbol was known, indexed by symbol id.
    [[nodiscard]] const std::vector<std::uint64_t>& symbol_errors() const noexcept {
        return stats_.symbol_errors();
    }

  protected:
    explicit SentimentParserBase(const SymbolTable& symbols)
        : symbols_(symbols), stats_(symbols.id_bound()) {}
    SymbolTable symbols_;
    SentimentStats stats_;
};
} // namespace detail

class BinanceSentimentParser : public detail::SentimentParserBase {
  public:
    explicit BinanceSentimentParser(const SymbolTable& symbols) : SentimentParserBase(symbols) {}

    // BinanceSentimentParser::parse()
    // Parses one message: a combined-stream wrapper whose stream is "<sym>@markPrice",
    // "<sym>@markPrice@1s" or "<sym>@forceOrder" (the data's symbol must agree), or the raw
    // event object (dispatch on "e"), or a request reply ("id" without "e": Control).
    // Appends one LiquidationEvent for a forceOrder.
    SentimentParseResult parse(std::string_view msg, std::int64_t ts_ns,
                               std::vector<LiquidationEvent>& liq_out) noexcept;
};

class BybitSentimentParser : public detail::SentimentParserBase {
  public:
    explicit BybitSentimentParser(const SymbolTable& symbols) : SentimentParserBase(symbols) {}

    // BybitSentimentParser::parse()
    // Parses one message: "tickers.<SYMBOL>" (snapshot or delta; data.symbol must agree),
    // "allLiquidation.<SYMBOL>" (every data[].s must agree), or an op reply (Control).
    SentimentParseResult parse(std::string_view msg, std::int64_t ts_ns,
                               std::vector<LiquidationEvent>& liq_out) noexcept;
};

} // namespace confluex::feed
