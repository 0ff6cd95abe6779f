// No heap allocation on the message path once an idle engine thread has made room ahead
// (FeedSession::reserve_ahead, which Pipeline's warm pass runs): the real Binance USD-M capture
// (hftbacktest BTCUSDT, 2024-07-18 syncs the book, 2024-07-19 is fed message by message) with
// reserve_ahead() before each message, as the engine thread runs it while it waits for the
// next frame. Every allocation of this test executable is counted (its own operator new).
// Also: NodeStock reuses nodes, and the reservations change no result (TradeFlow,
// StackedImbalance, OrderBook against the same streams fed without them).
#undef NDEBUG
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "alloc_hooks.hpp"
#include "capture_support.hpp"
#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/node_stock.hpp"
#include "confluex/order_book.hpp"
#include "confluex/stacked_imbalance.hpp"
#include "confluex/trade_flow.hpp"

namespace {

using confluex::Aggressor;
using confluex::BookSide;
using confluex::Engine;
using confluex::EngineConfig;
using confluex::Instrument;
using confluex::Level;
using confluex::OrderBook;
using confluex::StackedImbalance;
using confluex::TradeFlow;
using confluex::feed::FeedSession;
using confluex::feed::SyncPhase;
using confluex::feed::Venue;
using confluex::test::g_allocs;
using confluex::test::gunzip;
using confluex::test::split_lines;
using confluex::test::ts_and_json;

struct Replay {
    std::uint64_t allocs = 0;   // inside on_message, over 2024-07-19
    std::uint64_t messages = 0; // 2024-07-19 lines fed
    double score = 0.0;
    bool synced = false;
};

// Syncs on 2024-07-18, then feeds 2024-07-19 counting the allocations inside on_message;
// with `ahead`, reserve_ahead() runs before every message (outside the count).
void report(const char* profile, const Replay& without, const Replay& with) {
    std::printf("%s: allocations inside on_message over %llu messages: %llu without "
                "reserve_ahead(), %llu with\n",
                profile, static_cast<unsigned long long>(with.messages),
                static_cast<unsigned long long>(without.allocs),
                static_cast<unsigned long long>(with.allocs));
}

Replay replay_usdm(bool ahead, bool extras) {
    const std::string day1 =
        gunzip(CONFLUEX_DATA_DIR "/hftbacktest/usdm_2024-07/btcusdt_20240718.gz");
    const std::string day2 =
        gunzip(CONFLUEX_DATA_DIR "/hftbacktest/usdm_2024-07/btcusdt_20240719.gz");
    EXPECT_FALSE(day1.empty() || day2.empty()) << "real data missing under " << CONFLUEX_DATA_DIR;
    EngineConfig cfg;
    cfg.flow_extras.enabled = extras;
    Engine engine(cfg);
    const auto sym = engine.add_symbol("BTCUSDT", Instrument::from_strings("0.1", "0.001"));
    FeedSession session(engine, Venue::BinanceFutures);
    session.add_symbol("BTCUSDT", sym);
    for (const std::string_view line : split_lines(day1)) {
        if (!line.empty()) {
            const auto [ts, json] = ts_and_json(line);
            (void)session.on_message(json, ts);
        }
    }
    const std::vector<std::string_view> lines = split_lines(day2);
    std::vector<std::pair<std::int64_t, std::string_view>> msgs;
    msgs.reserve(lines.size());
    for (const std::string_view line : lines) {
        if (!line.empty()) {
            msgs.push_back(ts_and_json(line));
        }
    }
    Replay out;
    for (const auto& [ts, json] : msgs) {
        if (ahead) {
            session.reserve_ahead();
        }
        const std::uint64_t before = g_allocs;
        (void)session.on_message(json, ts);
        out.allocs += g_allocs - before;
        ++out.messages;
    }
    out.score = engine.result(sym).score;
    out.synced = session.health(sym).phase == SyncPhase::Synced;
    return out;
}

// The day with and without reserve_ahead(): the count must see the growth the message path
// makes when nothing reserves it (more than `at_least` allocations: the check can fail), and
// none once reserve_ahead() runs; the score must not change.
void expect_no_allocations_after_reserve_ahead(const char* profile, bool extras,
                                               std::uint64_t at_least) {
    const Replay without = replay_usdm(false, extras);
    const Replay with = replay_usdm(true, extras);
    report(profile, without, with);
    ASSERT_TRUE(without.synced && with.synced);
    ASSERT_GT(with.messages, 50000U);
    EXPECT_GT(without.allocs, at_least);
    EXPECT_EQ(with.allocs, 0U);
    EXPECT_EQ(with.score, without.score);
}

TEST(HotPathAllocations, UsdmDayAllocatesNothingOnTheMessagePathAfterReserveAhead) {
    // Without it: the trade ring's growth, overflow-map nodes, the score series' chunks.
    expect_no_allocations_after_reserve_ahead("standard profile", false, 0);
}

TEST(HotPathAllocations, ReferenceProfileUsdmDayAllocatesNothingAfterReserveAhead) {
    // The orderflow extras add the stacked-imbalance levels: one map node per new traded
    // price level, thousands over the day without a stock.
    expect_no_allocations_after_reserve_ahead("reference profile", true, 1000);
}

TEST(NodeStock, ErasedNodesAreReusedAndReserveAheadFillsHalf) {
    using Map = std::map<std::int64_t, std::int64_t>;
    confluex::detail::NodeStock<Map, 8> stock;
    Map m;
    EXPECT_EQ(stock.size(), 0U);
    stock.reserve_ahead();
    EXPECT_EQ(stock.size(), 4U);
    const std::uint64_t before = g_allocs;
    for (std::int64_t k = 0; k < 4; ++k) {
        stock.insert(m, m.lower_bound(k), k, 10 * k);
    }
    EXPECT_EQ(g_allocs, before) << "four inserts, four spare nodes";
    EXPECT_EQ(stock.size(), 0U);
    stock.insert(m, m.lower_bound(9), 9, 90);
    EXPECT_EQ(g_allocs, before + 1) << "no spare node left: allocates";
    const std::int64_t* const node_of_2 = &m.find(2)->second;
    stock.erase(m, m.find(2));
    EXPECT_EQ(stock.size(), 1U);
    const auto it = stock.insert(m, m.lower_bound(7), 7, 70);
    EXPECT_EQ(&it->second, node_of_2) << "the erased level's node carries the new one";
    EXPECT_EQ(g_allocs, before + 1);
    EXPECT_EQ(m, (Map{{0, 0}, {1, 10}, {3, 30}, {7, 70}, {9, 90}}));
    // Beyond its capacity the stock frees what it is given.
    for (std::int64_t k = 100; k < 120; ++k) {
        stock.insert(m, m.end(), k, k);
    }
    for (std::int64_t k = 100; k < 120; ++k) {
        stock.erase(m, m.find(k));
    }
    EXPECT_EQ(stock.size(), 8U);
}

TEST(ReserveAhead, ChangesNoBookStateOverRandomOverflowChurn) {
    // Prices far outside a 2^8-tick window land in the overflow map, whose inserts take
    // spare nodes after reserve_ahead(); the two books must agree level for level.
    confluex::BookConfig cfg;
    cfg.window_bits = 8;
    OrderBook a(cfg);
    OrderBook b(cfg);
    std::vector<Level> bids;
    std::vector<Level> asks;
    for (std::int64_t i = 0; i < 50; ++i) {
        bids.push_back(Level{10'000 - i, 5});
        asks.push_back(Level{10'001 + i, 5});
    }
    a.apply_snapshot(bids, asks, 1);
    b.apply_snapshot(bids, asks, 1);
    std::mt19937_64 rng(7);
    std::int64_t id = 1;
    for (int msg = 0; msg < 3000; ++msg) {
        std::vector<Level> mb;
        std::vector<Level> ma;
        for (int k = 0; k < 8; ++k) {
            const auto far = static_cast<std::int64_t>(rng() % 4000);
            const auto qty = static_cast<std::int64_t>(rng() % 3); // 0 deletes
            (rng() % 2 == 0 ? mb : ma)
                .push_back(rng() % 2 == 0 ? Level{9'000 - far, qty} : Level{11'000 + far, qty});
        }
        std::erase_if(mb, [](const Level& l) { return l.px >= 10'001; });
        std::erase_if(ma, [](const Level& l) { return l.px <= 10'000; });
        std::sort(mb.begin(), mb.end(), [](const Level& x, const Level& y) { return x.px < y.px; });
        std::sort(ma.begin(), ma.end(), [](const Level& x, const Level& y) { return x.px < y.px; });
        mb.erase(std::unique(mb.begin(), mb.end(),
                             [](const Level& x, const Level& y) { return x.px == y.px; }),
                 mb.end());
        ma.erase(std::unique(ma.begin(), ma.end(),
                             [](const Level& x, const Level& y) { return x.px == y.px; }),
                 ma.end());
        b.reserve_ahead();
        ASSERT_EQ(a.apply_delta(mb, ma, id + 1, id), b.apply_delta(mb, ma, id + 1, id));
        ++id;
    }
    EXPECT_GT(b.spare_nodes(BookSide::Bid) + b.spare_nodes(BookSide::Ask), 0U);
    for (const BookSide side : {BookSide::Bid, BookSide::Ask}) {
        ASSERT_EQ(a.level_count(side), b.level_count(side));
        std::vector<Level> la(a.level_count(side));
        std::vector<Level> lb(b.level_count(side));
        ASSERT_EQ(a.copy_top(side, la.size(), la.data()), b.copy_top(side, lb.size(), lb.data()));
        for (std::size_t i = 0; i < la.size(); ++i) {
            ASSERT_EQ(la[i].px, lb[i].px);
            ASSERT_EQ(la[i].qty, lb[i].qty);
        }
    }
}

TEST(ReserveAhead, ChangesNoTradeFlowOrStackedImbalanceReading) {
    // The same random trade stream into two of each, one of them reserving ahead between
    // trades: every window and reading must be equal after each trade, and the reserving
    // one must have grown its rings before the pushes that would have.
    TradeFlow fa;
    TradeFlow fb;
    StackedImbalance sa{confluex::StackedImbalanceConfig{}};
    StackedImbalance sb{confluex::StackedImbalanceConfig{}};
    std::mt19937_64 rng(11);
    std::int64_t ts = 1'000'000'000;
    for (int i = 0; i < 20000; ++i) {
        ts += static_cast<std::int64_t>(rng() % 3'000'000); // up to 3 ms apart
        const auto px = static_cast<std::int64_t>(600'000 + rng() % 400);
        const auto qty = static_cast<std::int64_t>(1 + rng() % 50);
        const Aggressor side = rng() % 2 == 0 ? Aggressor::Buy : Aggressor::Sell;
        fb.reserve_ahead();
        sb.reserve_ahead();
        fa.push(ts, px, qty, side);
        fb.push(ts, px, qty, side);
        sa.push(ts, px, qty, side);
        sb.push(ts, px, qty, side);
        if (i % 97 == 0) {
            for (std::size_t w = 0; w < fa.window_count(); ++w) {
                const auto& x = fa.window(w);
                const auto& y = fb.window(w);
                ASSERT_EQ(x.count, y.count);
                ASSERT_EQ(x.buy_qty, y.buy_qty);
                ASSERT_EQ(x.sell_qty, y.sell_qty);
            }
            const auto ra = sa.compute();
            const auto rb = sb.compute();
            ASSERT_EQ(ra.score, rb.score);
            ASSERT_EQ(ra.confidence, rb.confidence);
        }
    }
    EXPECT_EQ(fa.truncated(), fb.truncated());
    EXPECT_EQ(sa.evicted_early(), sb.evicted_early());
    EXPECT_GE(fb.ring_size(), fa.ring_size());
}

} // namespace
