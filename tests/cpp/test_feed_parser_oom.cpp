// BinanceParser / BybitParser when an output vector cannot grow: parse() must report
// OutOfMemory and leave both outputs exactly as they were (all-or-nothing), never terminate.
// The allocation failure is injected by replacing the global operator new of this test
// executable: once armed, the n-th allocation from then on throws std::bad_alloc.
#undef NDEBUG
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "alloc_hooks.hpp"
#include "confluex/feed_parser.hpp"
#include "confluex/instrument.hpp"
#include "confluex/symbol_table.hpp"

namespace {

using confluex::BookLevelEvent;
using confluex::Instrument;
using confluex::TradeEvent;
using confluex::feed::BinanceParser;
using confluex::feed::BybitParser;
using confluex::feed::ParseError;
using confluex::feed::ParseResult;
using confluex::feed::SymbolTable;
using confluex::test::g_allocs_until_failure;

SymbolTable btc_table() {
    SymbolTable t;
    t.add("BTCUSDT", 7, Instrument::from_strings("0.01", "0.00001"));
    return t;
}

// A Binance combined-stream depth message with `n` bids and `n` asks.
std::string binance_depth(int n, bool with_space) {
    std::string bids;
    std::string asks;
    for (int i = 0; i < n; ++i) {
        const std::string sep = i == 0 ? "" : (with_space ? ", " : ",");
        bids += sep + "[\"" + std::to_string(60000 - i) + ".01\",\"0.00" + std::to_string(100 + i) +
                "\"]";
        asks += sep + "[\"" + std::to_string(60001 + i) + ".02\",\"1.5\"]";
    }
    return R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":20,"b":[)" +
           bids + R"(],"a":[)" + asks + "]}}";
}

std::vector<BookLevelEvent> full_book_vector() {
    // Existing records at full capacity, so the first appended record must reallocate.
    std::vector<BookLevelEvent> v(3, BookLevelEvent{1, 2, 3, 4, 5, 6, 0, 0, 0});
    v.shrink_to_fit();
    return v;
}

// Parses `msg` with the k-th allocation failing, for every k until one parse succeeds;
// every failing parse must be OutOfMemory with the outputs untouched.
template <class Parse>
void expect_all_or_nothing_under_oom(Parse&& parse, std::uint32_t expected_records) {
    bool succeeded = false;
    for (long k = 0; k < 64 && !succeeded; ++k) {
        std::vector<BookLevelEvent> book = full_book_vector();
        std::vector<TradeEvent> trades;
        const std::vector<BookLevelEvent> book_before = book;
        g_allocs_until_failure = k;
        const ParseResult r = parse(book, trades);
        const bool failure_fired = g_allocs_until_failure < 0;
        g_allocs_until_failure = -1;
        if (r.ok()) {
            EXPECT_FALSE(failure_fired) << "k was " << k;
            EXPECT_EQ(r.n_book + r.n_trades, expected_records);
            succeeded = true;
            continue;
        }
        EXPECT_TRUE(failure_fired) << "k was " << k;
        EXPECT_EQ(r.error, ParseError::OutOfMemory) << "k was " << k;
        EXPECT_EQ(r.n_book, 0U);
        EXPECT_EQ(r.n_trades, 0U);
        ASSERT_EQ(book.size(), book_before.size()) << "k was " << k;
        for (std::size_t i = 0; i < book.size(); ++i) {
            EXPECT_EQ(book[i].px_ticks, book_before[i].px_ticks);
            EXPECT_EQ(book[i].qty_lots, book_before[i].qty_lots);
        }
        EXPECT_TRUE(trades.empty());
    }
    EXPECT_TRUE(succeeded);
}

TEST(FeedParserOom, binance_depth_fast_path_reports_out_of_memory_and_keeps_outputs) {
    const SymbolTable table = btc_table();
    BinanceParser parser(table, false);
    const std::string msg = binance_depth(40, false);
    expect_all_or_nothing_under_oom(
        [&](auto& book, auto& trades) { return parser.parse(msg, 5, book, trades); }, 80);
    EXPECT_GE(parser.counters().errors[static_cast<std::size_t>(ParseError::OutOfMemory)], 1U);
}

TEST(FeedParserOom, binance_depth_general_path_reports_out_of_memory_and_keeps_outputs) {
    const SymbolTable table = btc_table();
    BinanceParser parser(table, false);
    const std::string msg = binance_depth(40, true); // whitespace: not the literal fast path
    expect_all_or_nothing_under_oom(
        [&](auto& book, auto& trades) { return parser.parse(msg, 5, book, trades); }, 80);
}

TEST(FeedParserOom, binance_snapshot_reports_out_of_memory_and_keeps_outputs) {
    const SymbolTable table = btc_table();
    BinanceParser parser(table, false);
    const std::string msg =
        R"({"lastUpdateId":99,"bids":[["60000.01","0.5"],["59999.00","1"]],"asks":[["60001.00","2"]]})";
    expect_all_or_nothing_under_oom(
        [&](auto& book, auto&) { return parser.parse_snapshot(msg, 7, 5, book); }, 3);
}

TEST(FeedParserOom, binance_trade_reports_out_of_memory_and_keeps_outputs) {
    const SymbolTable table = btc_table();
    BinanceParser parser(table, false);
    const std::string msg =
        R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"60000.01","q":"0.00100","T":1,"m":true,"M":true}})";
    expect_all_or_nothing_under_oom(
        [&](auto& book, auto& trades) { return parser.parse(msg, 5, book, trades); }, 1);
}

TEST(FeedParserOom, bybit_orderbook_reports_out_of_memory_and_keeps_outputs) {
    const SymbolTable table = btc_table();
    BybitParser parser(table);
    const std::string msg =
        R"({"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["60000.01","0.5"],["59999.00","0"]],"a":[["60001.00","2"]],"u":3,"seq":4},"cts":1})";
    expect_all_or_nothing_under_oom(
        [&](auto& book, auto& trades) { return parser.parse(msg, 5, book, trades); }, 3);
}

} // namespace
