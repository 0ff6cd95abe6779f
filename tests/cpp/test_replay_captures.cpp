// The whole native path under the sanitizer presets, on real data: the Binance USD-M capture
// (futures sequence rule, bookTicker oracle) and the Bybit XRPUSDT sample (snapshot + deltas)
// replayed through FeedSession -> Engine -> OrderBook with the book's invariants checked after
// every message; and the OrderBook against a std::map reference under random snapshots and
// deltas spanning its dense window, overflow map and re-centring (SYNTHETIC levels).
#undef NDEBUG
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "capture_support.hpp"
#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/order_book.hpp"

namespace {

using confluex::BookSide;
using confluex::Engine;
using confluex::Instrument;
using confluex::Level;
using confluex::OrderBook;
using confluex::feed::FeedSession;
using confluex::feed::LineFormat;
using confluex::feed::SyncPhase;
using confluex::feed::Venue;
using confluex::test::expect_book_invariants;
using confluex::test::gunzip;

std::uint32_t le(const std::string& s, std::size_t at, int bytes) {
    std::uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) {
        v = (v << 8U) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
    }
    return v;
}

// The first member of a .zip (stored or deflated), from its local file header.
std::string unzip_first(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string zip((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (zip.size() < 30 || le(zip, 0, 4) != 0x04034b50U) {
        return {};
    }
    const auto method = le(zip, 8, 2);
    const std::size_t csize = le(zip, 18, 4);
    const std::size_t usize = le(zip, 22, 4);
    const std::size_t start = 30 + le(zip, 26, 2) + le(zip, 28, 2);
    if (method == 0) {
        return zip.substr(start, usize);
    }
    std::string out(usize, '\0');
    z_stream zs{};
    inflateInit2(&zs, -15); // raw deflate
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + start));
    zs.avail_in = static_cast<uInt>(csize);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(usize);
    const int rc = inflate(&zs, Z_FINISH);
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? out : std::string{};
}

} // namespace

TEST(ReplayCaptures, BinanceUsdmStaysSyncedAndMatchesEveryBookTicker) {
    const std::string data =
        gunzip(CONFLUEX_DATA_DIR "/hftbacktest/usdm_2024-07/btcusdt_20240718.gz");
    ASSERT_FALSE(data.empty()) << "real data missing under " << CONFLUEX_DATA_DIR;
    Engine engine;
    const auto sym = engine.add_symbol("BTCUSDT", Instrument::from_strings("0.1", "0.001"));
    FeedSession session(engine, Venue::BinanceFutures);
    session.add_symbol("BTCUSDT", sym);
    std::string_view rest = data;
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (line.empty()) {
            continue;
        }
        const auto sp = line.find(' ');
        const auto r =
            session.on_message(line.substr(sp + 1), std::stoll(std::string(line.substr(0, sp))));
        ASSERT_TRUE(r.ok()) << line.substr(0, 120);
        expect_book_invariants(engine, sym);
        (void)engine.result(sym);
    }
    const auto& h = session.health(sym);
    EXPECT_EQ(h.phase, SyncPhase::Synced);
    EXPECT_EQ(h.desyncs, 0U);
    EXPECT_EQ(h.ticker_mismatches, 0U);
    EXPECT_GT(h.ticker_checks, 5000U);
    EXPECT_EQ(h.duplicate_trades, 0U);
}

TEST(ReplayCaptures, BybitSampleSnapshotAndDeltasStaySynced) {
    const std::string data =
        unzip_first(CONFLUEX_DATA_DIR "/nautilus_trader/bybit/xrpusdt-ob500.data.zip");
    ASSERT_FALSE(data.empty()) << "real data missing under " << CONFLUEX_DATA_DIR;
    Engine engine;
    const auto sym = engine.add_symbol("XRPUSDT", Instrument::from_strings("0.0001", "1"));
    FeedSession session(engine, Venue::Bybit);
    session.add_symbol("XRPUSDT", sym);
    const std::size_t lines = session.replay(data, LineFormat::JsonOnly);
    const auto& h = session.health(sym);
    EXPECT_EQ(lines, 50U);
    EXPECT_EQ(h.phase, SyncPhase::Synced);
    EXPECT_EQ(h.parse_errors, 0U);
    EXPECT_EQ(h.desyncs, 0U);
    expect_book_invariants(engine, sym);
    EXPECT_GT(engine.book(sym).level_count(BookSide::Bid), 100U);
}

TEST(OrderBookReference, RandomSnapshotsAndDeltasMatchAStdMap) {
    std::mt19937_64 rng(7);
    OrderBook book(confluex::BookConfig{8, 8}); // a 256-tick window: overflow and recentring
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
    std::int64_t id = 1;
    for (int round = 0; round < 40; ++round) {
        const std::int64_t mid = 100'000 + static_cast<std::int64_t>(rng() % 5000);
        std::vector<Level> sb;
        std::vector<Level> sa;
        bids.clear();
        asks.clear();
        for (int i = 0; i < 50; ++i) {
            const std::int64_t b = mid - 1 - static_cast<std::int64_t>(rng() % 2000);
            const std::int64_t a = mid + static_cast<std::int64_t>(rng() % 2000);
            if (bids.emplace(b, 1 + static_cast<std::int64_t>(rng() % 100)).second) {
                sb.push_back({b, bids[b]});
            }
            if (asks.emplace(a, 1 + static_cast<std::int64_t>(rng() % 100)).second) {
                sa.push_back({a, asks[a]});
            }
        }
        book.apply_snapshot(sb, sa, id);
        for (int k = 0; k < 300; ++k) {
            std::vector<Level> db;
            std::vector<Level> da;
            const bool bid_side = (rng() & 1U) != 0;
            const std::int64_t best_b = bids.empty() ? mid - 1 : bids.begin()->first;
            const std::int64_t best_a = asks.empty() ? mid : asks.begin()->first;
            const std::int64_t px = bid_side ? best_a - 1 - static_cast<std::int64_t>(rng() % 3000)
                                             : best_b + 1 + static_cast<std::int64_t>(rng() % 3000);
            const std::int64_t qty =
                (rng() % 4 == 0) ? 0 : 1 + static_cast<std::int64_t>(rng() % 100);
            if (bid_side) {
                db.push_back({px, qty});
                qty == 0 ? (void)bids.erase(px) : (void)(bids[px] = qty);
            } else {
                da.push_back({px, qty});
                qty == 0 ? (void)asks.erase(px) : (void)(asks[px] = qty);
            }
            ASSERT_EQ(book.apply_delta(db, da, id + 1, id), confluex::ApplyResult::Applied);
            ++id;
            ASSERT_EQ(book.level_count(BookSide::Bid), bids.size());
            ASSERT_EQ(book.level_count(BookSide::Ask), asks.size());
            const auto view = book.top(8);
            auto bi = bids.begin();
            for (std::size_t i = 0; i < view.n_bids; ++i, ++bi) {
                ASSERT_EQ(view.bids[i].px, bi->first);
                ASSERT_EQ(view.bids[i].qty, bi->second);
            }
            auto ai = asks.begin();
            for (std::size_t i = 0; i < view.n_asks; ++i, ++ai) {
                ASSERT_EQ(view.asks[i].px, ai->first);
                ASSERT_EQ(view.asks[i].qty, ai->second);
            }
        }
        // A jump beyond kMaxUpdateIdJump is refused and puts the book out of sync.
        EXPECT_EQ(book.apply_delta({}, {}, id + confluex::kMaxUpdateIdJump + 1, id),
                  confluex::ApplyResult::IdJump);
        EXPECT_EQ(book.desync_reason(), confluex::DesyncReason::IdJump);
        ++id;
    }
}
