// C++ microbenchmark of the trade path on the real Binance spot BTCUSDT trades, without Python.
//
// Run like:
//   python bench/bench_trade_flow.py --dump /tmp/trades.bin     # writes the TradeEvent records
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include bench/cpp/bench_trade_flow.cpp
//       csrc/src/*.cpp -o /tmp/bench_trade_flow
//   (one command line)
//   /tmp/bench_trade_flow /tmp/trades.bin [rounds]
//
// Reports medians over rounds (each round replays every trade into fresh state) of:
//   push_many      TradeFlow::push_many, default 4 windows, ns per trade;
//   push           TradeFlow::push one call per trade, ns per trade;
//   ingest 1 sym   Engine::ingest_trades, every trade on one symbol, ns per trade;
//   ingest 2 sym   the same trades alternating in runs of 1..8 over two symbols;
//   recompute      orderflow + volume components after each trade (push + both components,
//                  minus the push-only replay), ns per recompute;
//   recompute hot  both components again on an unchanged flow (no eviction left to do).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/flow_signals.hpp"
#include "confluex/trade_flow.hpp"

using namespace confluex;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<TradeEvent> read_trades(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    if (!f) {
        std::fprintf(stderr, "cannot open %s\n", path.c_str());
        std::exit(2);
    }
    const auto n = static_cast<std::size_t>(f.tellg()) / sizeof(TradeEvent);
    std::vector<TradeEvent> v(n);
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(TradeEvent)));
    return v;
}

double ns_since(Clock::time_point t0) {
    return static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

volatile double g_sink = 0.0;

template <class F> double median_ns_per(int rounds, double per, F&& round) {
    std::vector<double> t;
    for (int r = 0; r < rounds; ++r) {
        t.push_back(round() / per);
    }
    return median(t);
}

std::unique_ptr<Engine> make_engine(std::uint32_t symbols) {
    auto e = std::make_unique<Engine>();
    for (std::uint32_t s = 0; s < symbols; ++s) {
        e->add_symbol("SYM" + std::to_string(s), Instrument::from_strings("0.01", "0.00001"));
    }
    return e;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s TRADES.bin [rounds]\n", argv[0]);
        return 2;
    }
    const std::vector<TradeEvent> trades = read_trades(argv[1]);
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 31;
    const std::size_t n = trades.size();
    const auto per = static_cast<double>(n);
    const FlowConfig fcfg{}; // default 1 s / 5 s / 30 s / 5 min
    const FlowSignalsConfig scfg{};
    std::printf("%zu trades, %d rounds, %zu windows\n", n, rounds, fcfg.windows_ns.size());

    const double push_many = median_ns_per(rounds, per, [&] {
        TradeFlow f(fcfg);
        const auto t0 = Clock::now();
        f.push_many(trades.data(), n);
        const double ns = ns_since(t0);
        g_sink = g_sink + static_cast<double>(f.cvd());
        return ns;
    });
    std::printf("push_many        %7.2f ns/trade (fresh flow: includes first-touch page faults)\n",
                push_many);

    TradeFlow warm(fcfg);
    const double push_many_warm = median_ns_per(rounds, per, [&] {
        warm.reset(); // keeps the buffers: no page faults, as in a long-running process
        const auto t0 = Clock::now();
        warm.push_many(trades.data(), n);
        const double ns = ns_since(t0);
        g_sink = g_sink + static_cast<double>(warm.cvd());
        return ns;
    });
    std::printf("push_many warm   %7.2f ns/trade\n", push_many_warm);

    const double push_many_read = median_ns_per(rounds, per, [&] {
        warm.reset();
        const auto t0 = Clock::now();
        warm.push_many(trades.data(), n);
        g_sink = g_sink + static_cast<double>(warm.cvd()) + warm.window(0).buy_notional;
        const double ns = ns_since(t0);
        return ns;
    });
    std::printf("push_many+read   %7.2f ns/trade (warm, then cvd() and window(0))\n",
                push_many_read);

    const double push = median_ns_per(rounds, per, [&] {
        TradeFlow f(fcfg);
        const auto t0 = Clock::now();
        for (const TradeEvent& e : trades) {
            f.push(e.ts_ns, e.px_ticks, e.qty_lots, static_cast<Aggressor>(e.side));
        }
        const double ns = ns_since(t0);
        g_sink = g_sink + static_cast<double>(f.cvd());
        return ns;
    });
    std::printf("push             %7.2f ns/trade\n", push);

    const double ingest1 = median_ns_per(rounds, per, [&] {
        const auto e = make_engine(1);
        const auto t0 = Clock::now();
        e->ingest_trades(trades.data(), n);
        const double ns = ns_since(t0);
        g_sink = g_sink + static_cast<double>(e->flow(0).cvd());
        return ns;
    });
    std::printf("ingest 1 sym     %7.2f ns/trade\n", ingest1);

    std::vector<TradeEvent> mixed = trades;
    {
        std::uint32_t sym = 0;
        std::size_t i = 0;
        std::uint64_t rng = 88172645463325252ULL;
        while (i < n) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            const std::size_t run = 1 + rng % 8;
            for (std::size_t j = i; j < std::min(n, i + run); ++j) {
                mixed[j].symbol_id = sym;
            }
            i += run;
            sym ^= 1U;
        }
    }
    const double ingest2 = median_ns_per(rounds, per, [&] {
        const auto e = make_engine(2);
        const auto t0 = Clock::now();
        e->ingest_trades(mixed.data(), n);
        const double ns = ns_since(t0);
        g_sink = g_sink + static_cast<double>(e->flow(0).cvd() + e->flow(1).cvd());
        return ns;
    });
    std::printf("ingest 2 sym     %7.2f ns/trade\n", ingest2);

    ComponentScore of{};
    ComponentScore vol{};
    const double with_recompute = median_ns_per(rounds, per, [&] {
        TradeFlow f(fcfg);
        const auto t0 = Clock::now();
        for (const TradeEvent& e : trades) {
            f.push(e.ts_ns, e.px_ticks, e.qty_lots, static_cast<Aggressor>(e.side));
            compute_orderflow_component(f, scfg, of);
            compute_volume_component(f, scfg, vol);
        }
        const double ns = ns_since(t0);
        g_sink = g_sink + of.score + vol.score;
        return ns;
    });
    std::printf("recompute        %7.2f ns (push + both components %.2f ns)\n",
                with_recompute - push, with_recompute);

    TradeFlow loaded(fcfg);
    loaded.push_many(trades.data(), n);
    const int reps = 100000;
    const double hot = median_ns_per(rounds, reps, [&] {
        const auto t0 = Clock::now();
        for (int r = 0; r < reps; ++r) {
            compute_orderflow_component(loaded, scfg, of);
            compute_volume_component(loaded, scfg, vol);
        }
        const double ns = ns_since(t0);
        g_sink = g_sink + of.score + vol.score;
        return ns;
    });
    std::printf("recompute hot    %7.2f ns\n", hot);
    std::printf("(checksum %.6f, orderflow %.12f, volume %.12f)\n", g_sink, of.score, vol.score);
    return 0;
}
