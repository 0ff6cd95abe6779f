// C++ microbenchmark of the HFT integration kernels (hft_*.hpp), without Python: the cost per
// update of the normaliser (z-score and percentile paths), the combiners, the multi-timeframe
// composite, the full HFT composite and the online IC combiner.
//
// Run like:
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include bench/cpp/bench_hft.cpp
//       csrc/src/hft_normalizer.cpp csrc/src/hft_combiner.cpp csrc/src/hft_scoring.cpp
//       csrc/src/hft_portfolio.cpp csrc/src/hft_streaming.cpp csrc/src/trade_flow.cpp
//       csrc/src/instrument.cpp -o /tmp/bench_hft          (one command line)
//   /tmp/bench_hft
//
// Inputs are synthetic (a fixed-seed random walk of scores in [0, 100] and random directional
// inputs), generated before the timed loops; each figure is the best of 7 rounds of 10^6 calls,
// in ns per call, and a checksum of the results is printed so the loops cannot be elided.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "confluex/hft_combiner.hpp"
#include "confluex/hft_normalizer.hpp"
#include "confluex/hft_portfolio.hpp"
#include "confluex/hft_scoring.hpp"
#include "confluex/hft_streaming.hpp"

namespace h = confluex::hft;

namespace {

constexpr std::size_t kN = 1'000'000;
constexpr int kRounds = 7;

template <class F> double best_ns(F&& body) {
    double best = 1e300;
    for (int r = 0; r < kRounds; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        body();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() /
                                  static_cast<double>(kN));
    }
    return best;
}

} // namespace

int main() {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<double> scores(kN);
    double s = 50.0;
    for (auto& x : scores) {
        s = std::clamp(s + 3.0 * u(rng), 0.0, 100.0);
        x = s;
    }
    std::vector<std::array<double, 4>> four(kN);
    for (auto& a : four) {
        for (auto& x : a) {
            x = u(rng);
        }
    }
    double sink = 0.0;

    {
        h::NormalizerConfig cfg;
        // Default config: the percentile tree is updated lazily, by percentile reads only.
        h::ScoreNormalizer n(cfg);
        const double ns = best_ns([&] {
            for (const double x : scores) {
                n.update_unchecked(x);
                sink += n.normalize_zscore(x);
            }
        });
        std::printf("normaliser update + zscore (window 1000)       %7.1f ns\n", ns);
    }
    for (const std::size_t pw : {std::size_t{100}, std::size_t{1000}}) {
        h::NormalizerConfig cfg;
        cfg.percentile_window = pw;
        h::ScoreNormalizer n(cfg);
        const double ns = best_ns([&] {
            for (const double x : scores) {
                n.update_unchecked(x);
                sink += n.normalize_percentile(x);
            }
        });
        std::printf("normaliser update + percentile (window %4zu)   %7.1f ns\n", pw, ns);
    }
    {
        const std::array<double, 4> w{0.4, 0.3, 0.2, 0.1};
        const double ns = best_ns([&] {
            for (const auto& a : four) {
                sink += h::combine_linear(a.data(), w.data(), 4);
            }
        });
        std::printf("combine_linear (4 inputs)                      %7.1f ns\n", ns);
        const double ns2 = best_ns([&] {
            for (const auto& a : four) {
                const std::array<double, 4> c{std::fabs(a[0]), std::fabs(a[1]), std::fabs(a[2]),
                                              std::fabs(a[3])};
                sink += h::combine_ensemble(a.data(), c.data(), 4).composite;
            }
        });
        std::printf("combine_ensemble (4 inputs)                    %7.1f ns\n", ns2);
        const double ns3 = best_ns([&] {
            for (const auto& a : four) {
                sink += h::combine_rank(a.data(), 4);
            }
        });
        std::printf("combine_rank (4 inputs)                        %7.1f ns\n", ns3);
    }
    {
        h::OnlineICConfig cfg;
        cfg.n_inputs = 4;
        cfg.horizon_ns = 1'000'000'000;
        h::OnlineICCombiner c(cfg);
        std::int64_t ts = 0;
        double mid = 100.0;
        const double ns = best_ns([&] {
            for (const auto& a : four) {
                ts += 250'000'000;
                mid *= 1.0 + 1e-4 * a[0];
                sink += c.combine(a.data());
                c.observe(ts, a.data(), mid);
            }
        });
        std::printf("online IC combine + observe (4 inputs)         %7.1f ns\n", ns);
    }
    {
        const std::array<double, 4> w{0.4, 0.3, 0.2, 0.1};
        const double ns = best_ns([&] {
            std::array<h::TimeframeScore, 4> tf{};
            for (const auto& a : four) {
                for (std::size_t k = 0; k < 4; ++k) {
                    tf[k].directional = a[k];
                    tf[k].confidence = 0.5 + 0.5 * a[3 - k];
                }
                sink += h::combine_timeframes(tf, w).composite_directional;
            }
        });
        std::printf("multi-timeframe composite                      %7.1f ns\n", ns);
    }
    {
        const h::HftScoringConfig cfg;
        h::HftInputs in;
        in.confluence.reliability = 0.8;
        in.confluence.confidence = 0.4;
        in.confluence.flow_short = 0.2;
        in.confluence.flow_medium = 0.1;
        in.confluence.flow_long = 0.05;
        in.confluence.cvd = 0.3;
        in.confluence.ofi = 0.1;
        in.confluence.microprice = -0.2;
        in.spread_bps = 0.5;
        in.bid_depth = 1e5;
        in.ask_depth = 2e5;
        in.ofi = 0.3;
        in.queue_imbalance = 0.2;
        in.position = 0.3;
        in.max_position = 1.0;
        in.volatility = 0.004;
        in.max_drawdown = 0.1;
        in.drawdown = 0.02;
        in.exposure = 5e4;
        in.exposure_limit = 1e5;
        for (auto& t : in.timeframes) {
            t.confidence = 1.0;
        }
        h::CompositeScore out;
        const double ns = best_ns([&] {
            for (std::size_t i = 0; i < kN; ++i) {
                in.confluence.score = scores[i];
                in.timeframes[0].directional = four[i][0];
                in.timeframes[1].directional = four[i][1];
                h::validate_inputs(in);
                h::compute_composite(in, cfg, out);
                sink += out.risk_adjusted_opportunity;
            }
        });
        std::printf("full composite (validate + compute)            %7.1f ns\n", ns);
    }
    {
        h::StreamingPolicy p;
        const auto sym = p.add_symbol();
        std::int64_t ts = 0;
        const double ns = best_ns([&] {
            for (std::size_t i = 0; i < kN; ++i) {
                ts += 7'000'000;
                sink += p.should_recalculate(sym, static_cast<h::UpdateType>(i % 3), ts) ? 1 : 0;
            }
        });
        std::printf("streaming should_recalculate                   %7.1f ns\n", ns);
    }
    std::printf("checksum %.6g\n", sink);
    return 0;
}
