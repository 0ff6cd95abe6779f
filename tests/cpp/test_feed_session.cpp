// FeedSession end to end in C++ (run under the default, asan and ubsan presets): the real
// Binance spot capture replayed message by message with the book's invariants checked after
// every message, then thousands of deterministically mutated real messages fed in, which must
// never crash, never leave a synced book crossed, and be counted as errors when refused.
#undef NDEBUG
#include <gtest/gtest.h>
#include <zlib.h>

#include <cassert>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "capture_support.hpp"
#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"

namespace {

using confluex::Engine;
using confluex::Instrument;
using confluex::feed::FeedSession;
using confluex::feed::SyncPhase;
using confluex::feed::Venue;
using confluex::test::expect_book_invariants;
using confluex::test::gunzip;
using confluex::test::split_lines;
using confluex::test::ts_and_json;

class SpotCapture : public ::testing::Test {
  protected:
    void SetUp() override {
        data_ = gunzip(std::string(CONFLUEX_DATA_DIR) + "/hftbacktest/spot/btcusdt_20240808.gz");
        if (data_.empty()) {
            GTEST_SKIP() << "real data not found under " << CONFLUEX_DATA_DIR;
        }
        lines_ = split_lines(data_);
    }
    std::string data_;
    std::vector<std::string_view> lines_;
};

TEST_F(SpotCapture, ReplayKeepsInvariantsAndMatchesBookTicker) {
    Engine engine;
    const auto sym = engine.add_symbol("BTCUSDT", Instrument::from_strings("0.01", "0.00000001"));
    FeedSession session(engine, Venue::BinanceSpot);
    session.add_symbol("BTCUSDT", sym);

    for (const auto line : lines_) {
        const auto [ts, json] = ts_and_json(line);
        const auto r = session.on_message(json, ts);
        ASSERT_TRUE(r.ok()) << line.substr(0, 120);
        expect_book_invariants(engine, sym);
        const double score = engine.result(sym).score;
        ASSERT_GE(score, 0.0);
        ASSERT_LE(score, 100.0);
    }

    const auto& h = session.health(sym);
    EXPECT_EQ(h.phase, SyncPhase::Synced);
    EXPECT_EQ(h.ticker_mismatches, 0U);
    EXPECT_GT(h.ticker_checks, 300U);
    EXPECT_EQ(h.desyncs, 0U);
    EXPECT_EQ(h.parse_errors, 0U);
}

TEST_F(SpotCapture, MutatedMessagesNeverCrashOrCorrupt) {
    Engine engine;
    const auto sym = engine.add_symbol("BTCUSDT", Instrument::from_strings("0.01", "0.00000001"));
    FeedSession session(engine, Venue::BinanceSpot);
    session.add_symbol("BTCUSDT", sym);
    std::size_t i = 0;
    for (; i < lines_.size() / 2; ++i) {
        const auto [ts, json] = ts_and_json(lines_[i]);
        (void)session.on_message(json, ts);
    }
    ASSERT_EQ(session.health(sym).phase, SyncPhase::Synced);

    std::mt19937_64 rng(20240808); // deterministic
    std::uint64_t refused = 0;
    for (int k = 0; k < 20000; ++k) {
        const auto [ts, json] =
            ts_and_json(lines_[i + static_cast<std::size_t>(k) % (lines_.size() - i)]);
        std::string msg(json);
        switch (rng() % 4) {
        case 0: // truncate
            msg.resize(rng() % (msg.size() + 1));
            break;
        case 1: // flip bytes
            for (int f = 0; f < 3; ++f) {
                msg[rng() % msg.size()] = static_cast<char>(rng() & 0xFF);
            }
            break;
        case 2: // duplicate a slice
            msg.insert(rng() % msg.size(), msg.substr(rng() % msg.size(), 16));
            break;
        default: // drop a byte
            msg.erase(rng() % msg.size(), 1);
            break;
        }
        const auto r = session.on_message(msg, ts);
        refused += r.ok() ? 0U : 1U;
        expect_book_invariants(engine, sym);
    }
    EXPECT_GT(refused, 10000U);
    const auto& c = session.parser_counters();
    std::uint64_t errors = 0;
    for (const auto e : c.errors) {
        errors += e;
    }
    EXPECT_EQ(errors, refused);
}

} // namespace
