// C++ side of bench/gate_session_peers.py: FeedSession::on_message over the same messages (the
// REST snapshot, then every depth message of the real USD-M BTCUSDT capture, 2024-07-18 and
// 2024-07-19, in capture order), each run from a fresh engine synced on the snapshot, without
// Python. Prints the min and median of the runs in ns per message, and the book's state.
//
// Run like (one command line):
//   g++ -std=c++20 -O3 -march=x86-64-v2 -DNDEBUG -Icsrc/include -Ibench/cpp
//       bench/cpp/bench_session_gate.cpp csrc/src/*.cpp -o /tmp/bench_session_gate -lpthread
//   /tmp/bench_session_gate [runs=15] [extras]
// The engine runs the native default config with the graded rule and the extras off (the
// standard profile's work per message; "extras" adds them). TOPK=n and WBITS=n in the
// environment set the books' top_cache and window_bits (to measure those choices).
#include "bench_util.hpp"
#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/instrument.hpp"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
using namespace confluex;
using namespace confluex::feed;
int main(int argc, char** argv) {
    const int rounds = std::max(1, argc > 1 ? std::atoi(argv[1]) : 15);
    const bool extras = argc > 2 && std::string(argv[2]) == "extras";
    std::string d1 = bench::gunzip("tests/data/hftbacktest/usdm_2024-07/btcusdt_20240718.gz");
    std::string d2 = bench::gunzip("tests/data/hftbacktest/usdm_2024-07/btcusdt_20240719.gz");
    std::string_view snap;
    std::vector<std::string_view> msgs;
    std::vector<std::int64_t> ts;
    for (const std::string* d : {&d1, &d2}) {
        for (const auto& l : bench::capture_lines(*d)) {
            if (l.json.starts_with("{\"lastUpdateId\""))
                snap = l.json;
            else if (l.json.substr(0, 40).find("@depth") != std::string_view::npos) {
                msgs.push_back(l.json);
                ts.push_back(l.ts);
            }
        }
    }
    const Instrument inst = Instrument::from_strings("0.1", "0.001");
    std::vector<double> per;
    for (int r = 0; r < rounds; ++r) {
        EngineConfig cfg;
        cfg.flow_extras.enabled = extras;
        if (const char* k = std::getenv("TOPK"))
            cfg.book.top_cache = std::atoi(k);
        if (const char* k = std::getenv("WBITS"))
            cfg.book.window_bits = std::atoi(k);
        cfg.aggregator.rule = ScoreRule::Graded;
        Engine engine(cfg);
        const auto sym = engine.add_symbol("BTCUSDT", inst);
        FeedSession session(engine, Venue::BinanceFutures);
        session.add_symbol("BTCUSDT", sym);
        session.on_snapshot(sym, snap, 0);
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < msgs.size(); ++i)
            session.on_message(msgs[i], ts[i]);
        const double ns =
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
        per.push_back(ns / msgs.size());
        if (r == rounds - 1) {
            const auto& c = engine.book(sym).counters();
            std::printf("wbits %d %d ", engine.book(sym).window_bits(BookSide::Bid),
                        engine.book(sym).window_bits(BookSide::Ask));
            std::printf("msgs %zu levels %lu recenters %lu resizes %lu score %.6f synced %d\n",
                        msgs.size(), (unsigned long)c.levels_applied, (unsigned long)c.recenters,
                        (unsigned long)c.resizes, engine.result(sym).score,
                        (int)engine.book(sym).in_sync());
        }
    }
    std::sort(per.begin(), per.end());
    std::printf("ns/msg min %.1f med %.1f\n", per.front(), per[per.size() / 2]);
}
