// TradeFlow and the engine at the edges of the wire's integer range (issue 7, item 13): a
// trade of 2^63 - 1 lots (a corrupt or hostile size the parser reads as a valid int64) is
// refused with InvalidEvent, and the largest accepted size (kMaxTradeLots) in any number
// overflows no signed integer (the asan preset runs UBSan with -fno-sanitize-recover, so an
// overflow fails the test). SYNTHETIC trades.
#undef NDEBUG
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "confluex/engine.hpp"
#include "confluex/errors.hpp"
#include "confluex/trade_flow.hpp"

namespace {

using confluex::Aggressor;
using confluex::Engine;
using confluex::FlowConfig;
using confluex::Instrument;
using confluex::TradeEvent;
using confluex::TradeFlow;

constexpr std::int64_t kMax = confluex::kMaxTradeLots;
constexpr std::int64_t kWire = std::numeric_limits<std::int64_t>::max();

void read_everything(const TradeFlow& f) {
    for (std::size_t i = 0; i < f.window_count(); ++i) {
        const auto w = f.window(i);
        (void)w.delta();
        (void)w.total_qty();
        (void)w.imbalance();
        (void)w.vwap_ticks();
    }
    (void)f.cvd();
}

} // namespace

TEST(TradeFlowExtremes, SizeBeyondTheBoundIsRefusedAndChangesNothing) {
    TradeFlow f;
    EXPECT_THROW(f.push(1, 100, kWire, Aggressor::Buy), confluex::InvalidEvent);
    EXPECT_THROW(f.push(1, 100, kMax + 1, Aggressor::Buy), confluex::InvalidEvent);
    const TradeEvent t{1, 100, kWire, 1, 0, 0, 0, 0};
    EXPECT_THROW(f.push_many(&t, 1), confluex::InvalidEvent);
    Engine e;
    const auto sym = e.add_symbol("X", Instrument::from_strings("0.01", "1"));
    const TradeEvent te{1, 100, kWire, 1, sym, 0, 0, 0};
    EXPECT_THROW(e.ingest_trades(&te, 1), confluex::InvalidEvent);
    EXPECT_EQ(f.total_count(), 0U);
    EXPECT_EQ(e.flow(sym).total_count(), 0U);
}

TEST(TradeFlowExtremes, MaximalTradeSizesDoNotOverflow) {
    FlowConfig cfg;
    cfg.large_trade_lots = 1;
    TradeFlow f(cfg);
    for (int i = 0; i < 40000; ++i) { // 40000 * 2^48 > 2^63: the sums pass INT64_MAX
        f.push(1, kMax, kMax, Aggressor::Buy);
    }
    read_everything(f);
    EXPECT_EQ(f.window(0).buy_qty, std::numeric_limits<std::int64_t>::max());
    f.push(1, kMax, kMax, Aggressor::Buy);
    read_everything(f);
    f.push(2, kMax, kMax, Aggressor::Buy);
    f.push(3, kMax, kMax, Aggressor::Unknown);
    read_everything(f);
    f.push(4, 1, kMax, Aggressor::Sell);
    f.push(5, 1, kMax, Aggressor::Sell);
    f.push(6, 1, kMax, Aggressor::Sell);
    read_everything(f);
    // The sums saturate rather than wrap: the side that traded more stays the larger one.
    const auto w = f.window(0);
    EXPECT_GT(w.buy_qty, 0);
    EXPECT_GT(w.sell_qty, 0);
    EXPECT_GE(w.total_qty(), w.buy_qty);
    EXPECT_LE(std::abs(w.imbalance()), 1.0);
}

TEST(TradeFlowExtremes, EngineScoresMaximalTradesWithoutOverflow) {
    Engine e;
    const auto sym = e.add_symbol("X", Instrument::from_strings("0.01", "1"));
    std::int64_t ts = 1'000'000'000;
    for (int i = 0; i < 40; ++i) {
        const TradeEvent t{ts, kMax, kMax, i, sym, static_cast<std::uint8_t>(i % 3), 0, 0};
        e.ingest_trades(&t, 1);
        ts += 700'000'000;
        const auto& r = e.result(sym);
        EXPECT_TRUE(std::isfinite(r.score)) << i;
    }
    (void)e.flow(sym).cvd();
}
