// C++ microbenchmark of the Engine book path on the real Binance BTCUSDT captures, without
// Python: batch ingestion (Engine::ingest_book) and the lazy recompute after a depth message.
//
// Run like:
//   python bench/cpp/dump_book_records.py /tmp/pbook        # writes spot.book, usdm.book
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include bench/cpp/bench_engine.cpp
//       csrc/src/*.cpp -o /tmp/bench_engine          (one command line; the engine's bar
//       views need the bar, indicator, structure and sentiment sources too)
//   /tmp/bench_engine /tmp/pbook/spot.book [scores.out]
//
// Reports (best of 7 rounds, each a fresh engine over the whole capture):
//   - ingest: ns per record of one ingest_book() call over every record (and of its
//     validate_book_events() pass alone);
//   - per-message ingest: median over messages of (ingest_book(message) time / its records);
//   - recompute: median ns of result() right after each depth message, and the amortised
//     difference (ingest + result per message) - (ingest per message), per message.
// With a second argument, writes the score and orderbook sub-scores after every message as
// raw doubles, so two builds can be compared bit for bit (cmp old.out new.out).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "book_records.hpp"
#include "confluex/engine.hpp"

using namespace confluex;
using confluex::bench::read_records;
using Clock = std::chrono::steady_clock;

namespace {

struct Msg {
    std::size_t start;
    std::size_t n;
};

double ns_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
}

std::unique_ptr<Engine> make(std::uint32_t& sym) {
    auto e = std::make_unique<Engine>();
    sym = e->add_symbol("BTCUSDT", Instrument::from_strings("0.01", "0.00000001"));
    return e;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s records.book [scores.out]\n", argv[0]);
        return 2;
    }
    const std::vector<BookLevelEvent> rec = read_records(argv[1]);
    std::vector<Msg> msgs;
    for (std::size_t i = 0, s = 0; i < rec.size(); ++i) {
        if ((rec[i].flags & book_flags::kEndOfMessage) != 0) {
            msgs.push_back({s, i + 1 - s});
            s = i + 1;
        }
    }
    constexpr int kRounds = 7;
    double best_batch = 1e300;
    double best_validate = 1e300;
    double best_msg_only = 1e300;
    double best_msg_result = 1e300;
    std::vector<double> per_level;
    std::vector<double> recompute;
    double sink = 0.0;
    for (int round = 0; round < kRounds; ++round) {
        {
            std::uint32_t sym = 0;
            auto holder = make(sym);
            Engine& e = *holder;
            auto t0 = Clock::now();
            e.validate_book_events(rec.data(), rec.size());
            best_validate = std::min(best_validate, ns_since(t0));
            t0 = Clock::now();
            e.ingest_book(rec.data(), rec.size());
            best_batch = std::min(best_batch, ns_since(t0));
            sink += e.score(sym);
        }
        {
            std::uint32_t sym = 0;
            auto holder = make(sym);
            Engine& e = *holder;
            const auto t0 = Clock::now();
            for (const Msg& m : msgs) {
                e.ingest_book(rec.data() + m.start, m.n);
            }
            best_msg_only = std::min(best_msg_only, ns_since(t0));
            sink += e.score(sym);
        }
        {
            std::uint32_t sym = 0;
            auto holder = make(sym);
            Engine& e = *holder;
            const auto t0 = Clock::now();
            for (const Msg& m : msgs) {
                e.ingest_book(rec.data() + m.start, m.n);
                sink += e.score(sym);
            }
            best_msg_result = std::min(best_msg_result, ns_since(t0));
        }
        if (round == kRounds - 1) {
            std::uint32_t sym = 0;
            auto holder = make(sym);
            Engine& e = *holder;
            for (const Msg& m : msgs) {
                auto t0 = Clock::now();
                e.ingest_book(rec.data() + m.start, m.n);
                per_level.push_back(ns_since(t0) / static_cast<double>(m.n));
                t0 = Clock::now();
                sink += e.score(sym);
                recompute.push_back(ns_since(t0));
            }
        }
    }
    std::vector<double> clock_pair;
    for (int i = 0; i < 10000; ++i) {
        const auto t0 = Clock::now();
        clock_pair.push_back(ns_since(t0));
    }
    const auto nm = static_cast<double>(msgs.size());
    std::printf("records %zu messages %zu\n", rec.size(), msgs.size());
    std::printf("ingest_book whole batch      : %7.2f ns/record (best of %d)\n",
                best_batch / static_cast<double>(rec.size()), kRounds);
    std::printf("  of which validation        : %7.2f ns/record\n",
                best_validate / static_cast<double>(rec.size()));
    std::printf("ingest_book per message      : %7.2f ns/record amortised, median %.2f ns/record\n",
                best_msg_only / static_cast<double>(rec.size()), median(per_level));
    double mean = 0.0;
    for (const double x : recompute) {
        mean += x / static_cast<double>(recompute.size());
    }
    std::vector<double> sorted = recompute;
    std::sort(sorted.begin(), sorted.end());
    std::printf(
        "recompute after depth message: median %.1f ns (incl. %.1f ns clock pair), p90 %.1f, "
        "mean %.1f, amortised %.1f ns\n",
        median(recompute), median(clock_pair), sorted[sorted.size() * 9 / 10], mean,
        (best_msg_result - best_msg_only) / nm);
    {
        // Steady-state breakdown on the final book of one replay (warm caches): the full
        // recompute (clear_component marks every component stale), and its orderbook kernel.
        std::uint32_t sym = 0;
        auto holder = make(sym);
        Engine& e = *holder;
        e.ingest_book(rec.data(), rec.size());
        constexpr int kReps = 200000;
        double best_full = 1e300;
        double best_kernel = 1e300;
        const EngineConfig& cfg = e.config();
        ComponentScore out{};
        for (int round = 0; round < kRounds; ++round) {
            auto t0 = Clock::now();
            for (int i = 0; i < kReps; ++i) {
                e.clear_component(sym, Component::Orderbook);
                sink += e.score(sym);
            }
            best_full = std::min(best_full, ns_since(t0) / kReps);
            const BookView top = e.book(sym).top(25);
            t0 = Clock::now();
            for (int i = 0; i < kReps; ++i) {
                signals::compute_orderbook_component(top, 0.25 + 1e-9 * i, e.ofi(sym),
                                                     cfg.book_signals, out);
                sink += out.score;
            }
            best_kernel = std::min(best_kernel, ns_since(t0) / kReps);
        }
        std::printf("steady recompute (all components): %.1f ns; orderbook kernel alone: %.1f ns\n",
                    best_full, best_kernel);
    }
    if (argc > 2) {
        std::uint32_t sym = 0;
        auto holder = make(sym);
        Engine& e = *holder;
        std::vector<double> out;
        for (const Msg& m : msgs) {
            e.ingest_book(rec.data() + m.start, m.n);
            const ConfluenceResult& r = e.result(sym);
            out.push_back(r.score);
            out.push_back(r.score_raw);
            const ComponentScore& c = e.component(sym, Component::Orderbook);
            out.push_back(c.score);
            for (std::size_t i = 0; i < c.n_sub; ++i) {
                out.push_back(c.sub[i]);
                out.push_back(c.sub_weight[i]);
            }
        }
        std::ofstream f(argv[2], std::ios::binary);
        f.write(reinterpret_cast<const char*>(out.data()),
                static_cast<std::streamsize>(out.size() * sizeof(double)));
        std::printf("wrote %zu doubles to %s\n", out.size(), argv[2]);
    }
    return sink == 12345.678 ? 1 : 0;
}
