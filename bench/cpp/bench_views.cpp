// C++ microbenchmark of the bar builder and the technical kernels, without Python.
//
// Run like:
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include bench/cpp/bench_views.cpp
//       csrc/src/bar_builder.cpp csrc/src/indicators.cpp csrc/src/technical.cpp
//       csrc/src/volume_view.cpp -o /tmp/bench_views                   (one command line)
//   /tmp/bench_views
//
// Inputs are synthetic (named so): a deterministic random walk of trades, 20 trades a second
// on average in bursts (exponential gaps), as BTCUSDT's spot tape in the hftbacktest capture;
// and a random walk of bars. Reports the median and best chunk (bar builder, indicators) or the
// best of 7 rounds (the rest):
//   - BarBuilder::on_trade, all 7 default timeframes (1s..4h): ns per trade;
//   - IndicatorSet::update (RSI, MACD, AO, W%R, ATR, CCI on one timeframe): ns per closed bar;
//   - TechnicalView::compute over 4 ready timeframes and VolumeView::on_bar + compute: ns.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

#include "confluex/bar_builder.hpp"
#include "confluex/technical.hpp"
#include "confluex/volume_view.hpp"

using namespace confluex;
using Clock = std::chrono::steady_clock;

namespace {

struct Rng {
    std::uint64_t s = 0x9E3779B97F4A7C15ULL;
    double uniform() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
    }
};

struct Trade {
    std::int64_t ts;
    double px, qty;
    Aggressor side;
};

template <class F> double best_ns(int rounds, std::size_t n, F&& f) {
    double best = 1e300;
    for (int r = 0; r < rounds; ++r) {
        const auto t0 = Clock::now();
        f();
        const auto t1 = Clock::now();
        best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() /
                                  static_cast<double>(n));
    }
    return best;
}

// Runs step(i) for i in [0, n) in chunks of `chunk` and returns the median and the minimum
// ns per step over the chunks: on a shared VM a preempted chunk is an outlier, not the cost.
template <class F>
std::pair<double, double> chunked_ns(std::size_t n, std::size_t chunk, F&& step) {
    std::vector<double> per;
    for (std::size_t i = 0; i + chunk <= n; i += chunk) {
        const auto t0 = Clock::now();
        for (std::size_t k = i; k < i + chunk; ++k) {
            step(k);
        }
        const auto t1 = Clock::now();
        per.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                      static_cast<double>(chunk));
    }
    std::sort(per.begin(), per.end());
    return {per[per.size() / 2], per.front()};
}

} // namespace

int main() {
    Rng rng;
    constexpr std::size_t kTrades = 5'000'000;
    std::vector<Trade> trades(kTrades);
    std::int64_t ts = 1'723'161'254'000'000'000;
    double px = 60'000.0;
    for (auto& t : trades) {
        ts += static_cast<std::int64_t>(-std::log(1.0 - rng.uniform()) * 50e6); // mean 50 ms
        px *= 1.0 + (rng.uniform() - 0.5) * 2e-4;
        t = Trade{ts, std::round(px * 100.0) / 100.0, 0.001 + rng.uniform(),
                  rng.uniform() < 0.5 ? Aggressor::Buy : Aggressor::Sell};
    }
    double sink = 0.0;
    for (int round = 0; round < 3; ++round) {
        BarBuilder b;
        const auto [med, lo] = chunked_ns(kTrades, 4096, [&](std::size_t i) {
            const Trade& t = trades[i];
            b.on_trade(t.ts, t.px, t.qty, t.side);
        });
        sink += static_cast<double>(b.closed_count(0));
        std::printf("BarBuilder::on_trade, 7 timeframes: median %.2f ns/trade, best chunk %.2f "
                    "(%zu synthetic trades, %.1f h)\n",
                    med, lo, kTrades, static_cast<double>(ts - trades[0].ts) / 3.6e12);
    }

    constexpr std::size_t kBars = 1'000'000;
    std::vector<Bar> bars(kBars);
    double c = 100.0;
    for (std::size_t i = 0; i < kBars; ++i) {
        const double o = c;
        c *= 1.0 + (rng.uniform() - 0.5) * 0.01;
        Bar b{};
        b.open = o;
        b.close = c;
        b.high = std::max(o, c) * (1.0 + rng.uniform() * 0.002);
        b.low = std::min(o, c) * (1.0 - rng.uniform() * 0.002);
        b.volume = 1.0 + rng.uniform() * 10.0;
        b.buy_volume = b.volume * rng.uniform();
        b.sell_volume = b.volume - b.buy_volume;
        b.vwap = (b.high + b.low + b.close) / 3.0;
        bars[i] = b;
    }
    for (int round = 0; round < 3; ++round) {
        IndicatorSet set;
        const auto [med, lo] = chunked_ns(kBars, 1024, [&](std::size_t i) { set.update(bars[i]); });
        sink += set.rsi.value();
        std::printf("IndicatorSet::update (RSI MACD AO W%%R ATR CCI), one timeframe: median %.2f "
                    "ns/bar, best chunk %.2f\n",
                    med, lo);
    }

    TechnicalView view;
    for (std::size_t slot = 0; slot < kTechTimeframes; ++slot) {
        for (std::size_t i = 0; i < 100; ++i) {
            view.on_bar(slot, bars[i]);
        }
    }
    constexpr std::size_t kCompute = 200'000;
    const double tech_ns = best_ns(7, kCompute, [&] {
        ComponentScore out;
        for (std::size_t i = 0; i < kCompute; ++i) {
            view.compute(out);
            sink += out.score;
        }
    });
    std::printf("TechnicalView::compute, 4 ready timeframes: %.1f ns\n", tech_ns);

    const double vol_ns = best_ns(7, kBars, [&] {
        VolumeView v;
        for (const Bar& b : bars) {
            v.on_bar(0, b);
        }
        sink += v.adl().value();
    });
    std::printf("VolumeView::on_bar (base): %.1f ns/bar\n", vol_ns);
    VolumeView vv;
    for (std::size_t i = 0; i < 200; ++i) {
        for (std::size_t slot = 0; slot < 4; ++slot) {
            vv.on_bar(slot, bars[i]);
        }
    }
    constexpr std::size_t kVolCompute = 50'000;
    const double vc_ns = best_ns(7, kVolCompute, [&] {
        ComponentScore out;
        for (std::size_t i = 0; i < kVolCompute; ++i) {
            vv.compute(out);
            sink += out.score;
        }
    });
    std::printf("VolumeView::compute (profile of 100 bars x 50 bins): %.1f ns\n", vc_ns);
    return sink == 42.0 ? 1 : 0;
}
