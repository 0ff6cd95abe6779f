// C++ microbenchmark of the signal kernels on real Binance BTCUSDT books, without Python:
// imbalance over the top 10, the orderbook component and one aggregator compute.
//
// These loops used to live in the production module (benchmark_*_loop_ns helpers bound in
// confluex._core); timing code does not belong in what users import, so it lives here.
//
// Run like:
//   python bench/cpp/dump_book_records.py /tmp/pbook        # writes spot.book, usdm.book
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include bench/cpp/bench_signals.cpp
//       csrc/src/order_book.cpp csrc/src/book_signals.cpp csrc/src/aggregator.cpp
//       csrc/src/component.cpp -o /tmp/bench_signals          (one command line)
//   /tmp/bench_signals /tmp/pbook/spot.book
//
// Reports, per kernel, the best of 7 rounds of (kLoop calls on each of up to 300 top-25 books
// taken at evenly spaced depth messages), in ns per call.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "book_records.hpp"
#include "confluex/aggregator.hpp"
#include "confluex/book_signals.hpp"
#include "confluex/component.hpp"
#include "confluex/order_book.hpp"

using namespace confluex;
using confluex::bench::read_records;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kDepth = 25;
constexpr std::size_t kBooks = 300;
constexpr int kLoop = 500;
constexpr int kRounds = 7;

struct Snapshot {
    std::vector<Level> bids;
    std::vector<Level> asks;
    [[nodiscard]] BookView view() const {
        BookView v;
        v.bids = bids.data();
        v.n_bids = bids.size();
        v.asks = asks.data();
        v.n_asks = asks.size();
        return v;
    }
};

// Replays the records into a book and keeps the top kDepth levels after evenly spaced messages.
std::vector<Snapshot> snapshots(const std::vector<BookLevelEvent>& rec) {
    std::size_t messages = 0;
    for (const auto& r : rec) {
        messages += (r.flags & book_flags::kEndOfMessage) != 0 ? 1U : 0U;
    }
    const std::size_t every = std::max<std::size_t>(1, messages / kBooks);
    OrderBook book;
    std::vector<Level> bids;
    std::vector<Level> asks;
    std::vector<Snapshot> out;
    std::size_t seen = 0;
    for (const auto& r : rec) {
        if ((r.flags & book_flags::kNoLevel) == 0) {
            (r.side == 0 ? bids : asks).push_back({r.px_ticks, r.qty_lots});
        }
        if ((r.flags & book_flags::kEndOfMessage) == 0) {
            continue;
        }
        if ((r.flags & book_flags::kSnapshot) != 0) {
            book.apply_snapshot(bids, asks, r.update_id);
        } else {
            (void)book.apply_delta(bids, asks, r.update_id, r.prev_update_id);
        }
        bids.clear();
        asks.clear();
        if (++seen % every == 0 && book.in_sync() && out.size() < kBooks) {
            Snapshot s;
            s.bids.resize(kDepth);
            s.asks.resize(kDepth);
            s.bids.resize(book.copy_top(BookSide::Bid, kDepth, s.bids.data()));
            s.asks.resize(book.copy_top(BookSide::Ask, kDepth, s.asks.data()));
            out.push_back(std::move(s));
        }
    }
    return out;
}

template <class F> double best_ns_per_call(const std::vector<Snapshot>& books, F&& kernel) {
    double best = 1e300;
    for (int round = 0; round < kRounds; ++round) {
        const auto t0 = Clock::now();
        for (const Snapshot& s : books) {
            const BookView v = s.view();
            for (int i = 0; i < kLoop; ++i) {
                kernel(v);
            }
        }
        const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
        best = std::min(best, ns / static_cast<double>(books.size() * kLoop));
    }
    return best;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s records.book\n", argv[0]);
        return 2;
    }
    const std::vector<Snapshot> books = snapshots(read_records(argv[1]));
    if (books.empty()) {
        std::fprintf(stderr, "no in-sync book in %s\n", argv[1]);
        return 1;
    }
    volatile double sink = 0.0; // keeps every call observable to the optimiser

    const double imb =
        best_ns_per_call(books, [&](const BookView& v) { sink = signals::imbalance(v, 10); });

    const signals::OrderbookSignalsConfig cfg{};
    signals::OfiWindow ofi;
    ofi.on_quote(0, Level{100, 5}, Level{101, 5}); // a non-empty window: the OFI sub-score runs
    ComponentScore out;
    const double comp = best_ns_per_call(books, [&](const BookView& v) {
        signals::compute_orderbook_component(
            v, signals::depth_ratio(v, cfg.depth_band_pct).value_or(0.0), ofi, cfg, out);
        sink = out.score;
    });

    const ConfluenceAggregator agg;
    std::array<ComponentScore, kComponentCount> comps{};
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        comps[c].score = 40.0 + 5.0 * static_cast<double>(c);
        comps[c].has_data = true;
    }
    const double aggregate =
        best_ns_per_call(books, [&](const BookView&) { sink = agg.compute(comps).score; });

    std::printf("books %zu (top %zu), %d calls each, best of %d rounds\n", books.size(), kDepth,
                kLoop, kRounds);
    std::printf("imbalance top 10          %8.2f ns/call\n", imb);
    std::printf("orderbook component       %8.2f ns/call (incl. depth_ratio)\n", comp);
    std::printf("aggregator compute        %8.2f ns/call\n", aggregate);
    static_cast<void>(sink);
    return 0;
}
