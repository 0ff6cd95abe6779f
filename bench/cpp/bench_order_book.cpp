// C++ microbenchmark of OrderBook on the real Binance spot BTCUSDT replay, without Python.
//
// Run like:
//   python bench/gate_order_book.py --dump /tmp/book_dump        # writes the int64 inputs
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include
//       bench/cpp/bench_order_book.cpp csrc/src/order_book.cpp -o /tmp/bench_order_book
//   (one command line)
//   /tmp/bench_order_book /tmp/book_dump
//
// Reports: ns per level update (whole replay, best of N; and the median over messages of
// message time / levels), and ns per top(10) + depth imbalance with a clean and a dirty cache.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "confluex/order_book.hpp"

using namespace confluex;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::int64_t> read_i64(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    const auto n = static_cast<std::size_t>(f.tellg()) / sizeof(std::int64_t);
    std::vector<std::int64_t> v(n);
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()),
           static_cast<std::streamsize>(n * sizeof(std::int64_t)));
    return v;
}

template <class T> std::span<const T> as(const std::vector<std::int64_t>& v) {
    return {reinterpret_cast<const T*>(v.data()), v.size() * sizeof(std::int64_t) / sizeof(T)};
}

double ns_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

double imbalance(const OrderBook& book, std::size_t n) {
    const BookView v = book.top(n);
    Lots b = 0;
    Lots a = 0;
    for (std::size_t i = 0; i < v.n_bids; ++i)
        b += v.bids[i].qty;
    for (std::size_t i = 0; i < v.n_asks; ++i)
        a += v.asks[i].qty;
    return b + a ? static_cast<double>(b - a) / static_cast<double>(b + a) : 0.0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "/tmp/book_dump";
    const bool apply_only = argc > 2 && std::string(argv[2]) == "apply"; // for perf stat
    const auto sb = read_i64(dir + "/snap_bids.i64");
    const auto sa = read_i64(dir + "/snap_asks.i64");
    const auto lv = read_i64(dir + "/levels.i64");
    const auto hd = read_i64(dir + "/headers.i64");
    std::int64_t snap_id = 0;
    std::ifstream(dir + "/snap_id.txt") >> snap_id;
    const auto levels = as<Level>(lv);
    const auto msgs = as<DepthMessage>(hd);
    std::vector<ApplyResult> results(msgs.size());

    // Cost of one timed empty region, subtracted from the per-message figures.
    double clock_ns = 1e300;
    for (int r = 0; r < 5; ++r) {
        double sum = 0;
        for (int i = 0; i < 100000; ++i) {
            const auto t = Clock::now();
            sum += ns_since(t);
        }
        clock_ns = std::min(clock_ns, sum / 100000);
    }

    double best_total = 1e300;
    std::vector<double> per_level;
    double dirty_sum = 0;
    double sink = 0;
    for (int round = 0; round < 7; ++round) {
        OrderBook book;
        book.apply_snapshot(as<Level>(sb), as<Level>(sa), snap_id);
        const auto t0 = Clock::now();
        apply_messages(book, levels, msgs, results);
        best_total = std::min(best_total, ns_since(t0));
        if (apply_only) {
            continue;
        }

        // Per-message timing (clock overhead ~20 ns per message is included).
        OrderBook b2;
        b2.apply_snapshot(as<Level>(sb), as<Level>(sa), snap_id);
        std::size_t off = 0;
        per_level.clear();
        dirty_sum = 0;
        for (const DepthMessage& m : msgs) {
            const auto nb = static_cast<std::size_t>(m.n_bids);
            const auto na = static_cast<std::size_t>(m.n_asks);
            const auto t1 = Clock::now();
            b2.apply_delta(levels.subspan(off, nb), levels.subspan(off + nb, na), m.update_id,
                           m.prev_update_id);
            const double dt = ns_since(t1) - clock_ns;
            if (nb + na > 0)
                per_level.push_back(dt / static_cast<double>(nb + na));
            off += nb + na;
            const auto t2 = Clock::now();
            sink += imbalance(b2, 10); // first read after a message: cache possibly patched/dirty
            dirty_sum += ns_since(t2) - clock_ns;
        }
        if (!book.in_sync() || !b2.in_sync()) {
            std::printf("book out of sync!\n");
            return 1;
        }
    }
    if (apply_only) {
        std::printf("apply: %.2f ns/level (whole replay, best of 7)\n",
                    best_total / static_cast<double>(levels.size()));
        return 0;
    }
    std::nth_element(per_level.begin(), per_level.begin() + static_cast<long>(per_level.size() / 2),
                     per_level.end());
    const double median_msg = per_level[per_level.size() / 2];

    OrderBook book;
    book.apply_snapshot(as<Level>(sb), as<Level>(sa), snap_id);
    apply_messages(book, levels, msgs, results);
    constexpr int kIters = 2'000'000;
    double best_clean = 1e300;
    for (int r = 0; r < 5; ++r) {
        const auto t0 = Clock::now();
        for (int i = 0; i < kIters; ++i) {
            sink += imbalance(book, 10);
            asm volatile("" ::: "memory");
        }
        best_clean = std::min(best_clean, ns_since(t0) / kIters);
    }
    std::printf("levels %zu, messages %zu\n", levels.size(), msgs.size());
    std::printf("apply: %.2f ns/level (whole replay, best of 7)\n",
                best_total / static_cast<double>(levels.size()));
    std::printf("apply: %.2f ns/level (median over messages of msg time / levels; clock %.1f ns "
                "subtracted)\n",
                median_msg, clock_ns);
    std::printf("top(10)+imbalance, clean cache: %.2f ns\n", best_clean);
    std::printf("top(10)+imbalance, first read after each message: %.2f ns\n",
                dirty_sum / static_cast<double>(msgs.size()));
    std::printf("(sink %g)\n", sink);
    return 0;
}
