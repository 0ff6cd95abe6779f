// Parser memory bounds (issue 7, item 13): every prefix of real and synthetic messages is
// parsed from a heap buffer of exactly its size, so under the asan preset a read of even one
// byte past the end fails the test. The real lines come from the hftbacktest Binance captures;
// the Bybit and fine-grid messages are SYNTHETIC, written from the venues' documented schemas.
#undef NDEBUG
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "capture_support.hpp"
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
using confluex::feed::SymbolTable;

// The first `per_kind` lines of each stream kind (depth, trade, bookTicker, snapshot) of a
// gzip capture, without their "<ns> " prefix.
std::vector<std::string> sample_lines(const std::string& path, int per_kind) {
    const std::string data = confluex::test::gunzip(path);
    EXPECT_FALSE(data.empty()) << path;
    int depth = 0;
    int trade = 0;
    int ticker = 0;
    int snap = 0;
    std::vector<std::string> out;
    std::string_view rest = data;
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        const auto sp = line.find(' ');
        if (sp == std::string_view::npos) {
            continue;
        }
        line.remove_prefix(sp + 1);
        int* count = line.find("@depth") != std::string_view::npos         ? &depth
                     : line.find("@trade") != std::string_view::npos       ? &trade
                     : line.find("@bookTicker") != std::string_view::npos  ? &ticker
                     : line.find("lastUpdateId") != std::string_view::npos ? &snap
                                                                           : nullptr;
        if (count != nullptr && (*count)++ < per_kind) {
            // Depth messages and the snapshot are long: their first 240 bytes, and their first
            // 120 joined to their last 120, put every kind of value at a buffer end without
            // the quadratic cost of every prefix of a whole message.
            if (line.size() > 400) {
                out.emplace_back(line.substr(0, 240));
                out.emplace_back(std::string(line.substr(0, 120)) +
                                 std::string(line.substr(line.size() - 120)));
            } else {
                out.emplace_back(line);
            }
        }
    }
    return out;
}

template <class Parse> void every_prefix_in_an_exact_buffer(const std::string& msg, Parse&& parse) {
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    for (std::size_t len = 0; len <= msg.size(); ++len) {
        // Exactly len bytes on the heap: ASan poisons the byte after them.
        const std::unique_ptr<char[]> exact(new char[len == 0 ? 1 : len]);
        std::memcpy(exact.get(), msg.data(), len);
        book.clear();
        trades.clear();
        const auto r = parse(std::string_view(exact.get(), len), book, trades);
        if (len < msg.size() && !r.ok()) {
            EXPECT_TRUE(book.empty() && trades.empty()) << "a refused message left records";
        }
    }
}

// SYNTHETIC: a coin with a 1e-9 tick and lot (meme-coin grids), so that values with 8 integer
// digits and a fraction take the parser's two-part SWAR path at the end of the buffer.
SymbolTable tables() {
    SymbolTable t;
    t.add("BTCUSDT", 0, Instrument::from_strings("0.01", "0.00000001"));
    t.add("PEPEUSDT", 1, Instrument::from_strings("0.000000001", "0.000000001"));
    t.add("BTCUSD_PERP", 2, Instrument::from_strings("0.1", "1"));
    return t;
}

const std::vector<std::string>& synthetic_binance() {
    static const std::vector<std::string> msgs = {
        R"({"stream":"pepeusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"PEPEUSDT","U":5,"u":6,"b":[["12345678.5","12345678.5"]],"a":[["12345679.123456789","1"]]}})",
        R"({"stream":"pepeusdt@trade","data":{"e":"trade","E":1,"s":"PEPEUSDT","t":9,"p":"12345678.5","q":"12345678.5","T":1,"m":true,"M":true}})",
        R"({"u":7,"s":"PEPEUSDT","b":"12345678.5","B":"12345678.5","a":"12345679.5","A":"12345678.5"})",
        R"({"stream":"btcusd_perp@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSD_PERP","ps":"BTCUSD","U":5,"u":6,"pu":4,"b":[["60000.1","12"]],"a":[["60000.2","3"]]}})",
        R"({"e":"trade","E":1,"s":"PEPEUSDT","t":9223372036854775807,"p":"1.000000001","q":"9223372036.854775807","T":1,"m":false})",
    };
    return msgs;
}

const std::vector<std::string>& synthetic_bybit() {
    static const std::vector<std::string> msgs = {
        R"({"topic":"orderbook.50.PEPEUSDT","type":"snapshot","ts":1,"data":{"s":"PEPEUSDT","b":[["12345678.5","12345678.5"]],"a":[["12345679.5","1"]],"u":1,"seq":1},"cts":1})",
        R"({"topic":"orderbook.50.PEPEUSDT","type":"delta","ts":2,"data":{"s":"PEPEUSDT","b":[["12345678.5","0"]],"a":[],"u":2,"seq":2},"cts":2})",
        R"({"topic":"publicTrade.PEPEUSDT","type":"snapshot","ts":3,"data":[{"T":3,"s":"PEPEUSDT","S":"Buy","v":"12345678.5","p":"12345678.5","L":"PlusTick","i":"2290000000068544429","BT":false}]})",
        R"({"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":3,"data":[{"T":3,"s":"BTCUSDT","S":"Sell","v":"0.001","p":"60000.01","L":"MinusTick","i":"0c3dd3a8-b0a2-5ae3-9a4e-3e2f2e5f0c3e","BT":false}]})",
        R"({"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"})",
    };
    return msgs;
}

} // namespace

TEST(ParserBounds, BinanceRealLinesAreNeverReadPastTheirEnd) {
    const SymbolTable t = tables();
    BinanceParser spot(t, false);
    BinanceParser futures(t, true);
    std::vector<std::string> lines =
        sample_lines(CONFLUEX_DATA_DIR "/hftbacktest/spot/btcusdt_20240808.gz", 4);
    const auto usdm =
        sample_lines(CONFLUEX_DATA_DIR "/hftbacktest/usdm_2024-07/btcusdt_20240718.gz", 4);
    lines.insert(lines.end(), usdm.begin(), usdm.end());
    ASSERT_GE(lines.size(), 24U);
    for (const std::string& m : lines) {
        every_prefix_in_an_exact_buffer(m, [&](std::string_view v, auto& b, auto& tr) {
            (void)futures.parse(v, 1, b, tr);
            return spot.parse(v, 1, b, tr);
        });
    }
    EXPECT_GT(spot.counters().errors[static_cast<std::size_t>(ParseError::Malformed)], 1000U);
}

TEST(ParserBounds, ValueEndingTheBufferIsNotReadPastIt) {
    const SymbolTable t = tables();
    BinanceParser spot(t, false);
    BinanceParser futures(t, true);
    for (const std::string& m : synthetic_binance()) {
        every_prefix_in_an_exact_buffer(m, [&](std::string_view v, auto& b, auto& tr) {
            (void)futures.parse(v, 1, b, tr);
            return spot.parse(v, 1, b, tr);
        });
    }
    // The whole synthetic messages parse (the prefixes above were only about bounds).
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    EXPECT_TRUE(spot.parse(synthetic_binance()[0], 1, book, trades).ok());
    EXPECT_TRUE(spot.parse(synthetic_binance()[1], 1, book, trades).ok());
    EXPECT_TRUE(futures.parse(synthetic_binance()[3], 1, book, trades).ok());
}

TEST(ParserBounds, BybitMessagesAreNeverReadPastTheirEnd) {
    const SymbolTable t = tables();
    BybitParser bybit(t);
    for (const std::string& m : synthetic_bybit()) {
        every_prefix_in_an_exact_buffer(
            m, [&](std::string_view v, auto& b, auto& tr) { return bybit.parse(v, 1, b, tr); });
    }
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    for (const std::string& m : synthetic_bybit()) {
        EXPECT_TRUE(bybit.parse(m, 1, book, trades).ok()) << m;
    }
}
