// C++ benchmark of the threaded pipeline (pipeline.hpp) on the real hftbacktest captures
// (tests/data/hftbacktest), without Python:
//
//   1. Frame -> score through the pipeline at recorded pace (what `confluex live` sees): one
//      shard holds USD-M BTCUSDT, synced untimed on 2024-07-18 (it holds the REST snapshot);
//      the main thread then pushes every 2024-07-19 frame at its recorded receive time offset
//      from the first one, over the first pace_seconds seconds (default 60; 301 is the whole
//      day); it sleeps between frames, as a socket reader blocks in its read (its own wake-up
//      delay is not in the figure: the frame's time is stamped at push). A consumer thread
//      drains records blocked in Pipeline::wait(). The
//      latency is Score record done_ns - the frame's push time (recv_ns), i.e. ring hand-off,
//      wake-up, parse, sync, apply, recompute and the record; reported for depth + trade and
//      for depth, once per wait policy (argument 3, comma-separated; default
//      "spin_yield,blocking_old"):
//        spin_yield    the PipelineConfig default (what live runs: poll with yields, block
//                      after 1 s or when the core is contended; warm pass every 100 us and after a
//                      yield that gave the core away);
//        busy_poll     never yields (one core per shard);
//        blocking      block on the condition variable at once (spin_ns 0);
//        blocking_old  the old pipeline default: poll 20 us, then block, no warm pass;
//        nowarm        spin_yield without warm passes.
//   2. The same through the pipeline flat out, one frame in flight (push, wait until the shard
//      processed it, push the next): the pipeline's own cost without queueing.
//   3. Scaling 1 -> 2 shards, lossless replay of two symbols: Binance spot BTCUSDT (both
//      spot files) and USD-M BTCUSDT (both files), the real captures (two venues of one
//      coin, the only symbols tests/data holds), fed interleaved in 256 KiB chunks through
//      feed_lines() as `confluex replay --threads N` does, a consumer thread draining. Wait
//      policy blocking (what replay uses) and spin_yield. Throughput in messages/s (median
//      of 3 rounds) against one thread running both FeedSessions; the series point count
//      is checked equal to the single-threaded one.
//
// Run like:
//   g++ -std=c++20 -O3 -march=x86-64-v2 -DNDEBUG -Icsrc/include -g bench/cpp/bench_pipeline.cpp
//       csrc/src/*.cpp -o /tmp/bench_pipeline -lpthread      (one command line)
//   /tmp/bench_pipeline [tests/data/hftbacktest] [pace_seconds] [policies] [all|latency|scaling]
// On a machine shared with other work, latency tails measure the other work: note the load.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/instrument.hpp"
#include "confluex/pipeline.hpp"
#include "confluex/pipeline_collector.hpp"

#include "bench_util.hpp"

using namespace confluex;
using namespace confluex::feed;
using namespace confluex::pipeline;
using Clock = std::chrono::steady_clock;
using confluex::bench::Dist;
using confluex::bench::dist;
using confluex::bench::gunzip;
using Line = confluex::bench::CaptureLine;

namespace {

void print_dist(const std::string& name, const Dist& d) {
    std::printf("%-44s: n %6zu  mean %7.2f  p50 %7.2f  p99 %7.2f  p99.9 %7.2f  max %8.2f us\n",
                name.c_str(), d.n, d.mean / 1e3, d.p50 / 1e3, d.p99 / 1e3, d.p999 / 1e3,
                d.max / 1e3);
}

const Instrument kUsdm = Instrument::from_strings("0.1", "0.001");
const Instrument kSpot = Instrument::from_strings("0.01", "0.00000001");

bool policy_of(const std::string& name, WaitConfig& w) {
    w = WaitConfig{};
    if (name == "spin_yield") {
        return true;
    }
    if (name == "busy_poll") {
        w.policy = WaitPolicy::BusyPoll;
    } else if (name == "blocking") {
        w.policy = WaitPolicy::Blocking;
    } else if (name == "blocking_old") {
        w.policy = WaitPolicy::Blocking;
        w.spin_ns = 20'000;
        w.warm_ns = 0;
    } else if (name == "nowarm") {
        w.warm_ns = 0;
    } else {
        return false;
    }
    return true;
}

// The producer sleeps until a frame is due, as a socket reader blocks in its read.
void wait_until(Clock::time_point deadline) { std::this_thread::sleep_until(deadline); }

// Section 1 / 2: frame -> score through a one-shard pipeline.
void latency_run(const std::string& name, const WaitConfig& w, const std::string& prev_day,
                 const std::vector<Line>& day, double pace_s) {
    PipelineConfig cfg;
    cfg.lossless = true; // never fills at pace; flat out it keeps the run deterministic
    cfg.wait = w;
    Pipeline p(cfg);
    (void)p.add_symbol(Venue::BinanceFutures, "BTCUSDT", kUsdm);
    p.start();
    Collector consumer(p);
    p.feed_lines(Venue::BinanceFutures, prev_day, LineFormat::NsPrefixed);
    // Wait until the shard has processed the untimed day (frames counts what it consumed).
    const std::size_t prev_lines = confluex::bench::capture_lines(prev_day).size();
    while (p.stats(0).frames < prev_lines) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::uint64_t pushed = p.stats(0).frames;
    const std::int64_t ts0 = day.front().ts;
    const auto start = Clock::now() + std::chrono::milliseconds(5);
    for (const Line& l : day) {
        const std::int64_t off = l.ts - ts0;
        if (pace_s > 0) {
            if (static_cast<double>(off) > pace_s * 1e9) {
                break;
            }
            wait_until(start + std::chrono::nanoseconds(off));
        }
        (void)p.push(Venue::BinanceFutures, l.json, l.ts);
        ++pushed;
        if (pace_s <= 0) {
            while (p.stats(0).frames < pushed) {
                std::this_thread::yield();
            }
        }
    }
    p.finish();
    consumer.join();
    std::vector<double> all, depth;
    for (const OutRecord& r : consumer.records) {
        if (r.kind != OutKind::Score || r.ts_ns < ts0) {
            continue;
        }
        const double t = static_cast<double>(r.done_ns - r.recv_ns);
        all.push_back(t);
        if (r.count == static_cast<std::uint64_t>(MsgKind::Depth)) {
            depth.push_back(t);
        }
    }
    const ShardStats st = p.stats(0);
    print_dist(name + ": depth + trade", dist(all));
    print_dist(name + ": depth", dist(depth));
    std::printf("    shard: sleeps %llu, wake-ups sent %llu, warm passes %llu, dropped %llu\n",
                static_cast<unsigned long long>(st.sleeps),
                static_cast<unsigned long long>(st.wakeups),
                static_cast<unsigned long long>(st.warm_passes),
                static_cast<unsigned long long>(st.input_dropped));
}

// Section 3: one two-symbol replay; returns seconds, sets the series point count.
double sharded_run(std::uint32_t shards, const WaitConfig& w,
                   const std::vector<std::string_view>& spot_chunks,
                   const std::vector<std::string_view>& usdm_chunks, std::size_t& points) {
    PipelineConfig cfg;
    cfg.shards = shards;
    cfg.lossless = true;
    cfg.emit_scores = false;
    cfg.wait = w;
    cfg.session.max_series_points = 1 << 20;
    cfg.session.max_signals = 1 << 20;
    Pipeline p(cfg);
    (void)p.add_symbol(Venue::BinanceSpot, "BTCUSDT", kSpot, {}, 0);
    (void)p.add_symbol(Venue::BinanceFutures, "BTCUSDT", kUsdm, {}, shards > 1 ? 1 : 0);
    p.start();
    Collector consumer(p);
    const auto t0 = Clock::now();
    const std::size_t longest = std::max(spot_chunks.size(), usdm_chunks.size());
    for (std::size_t k = 0; k < longest; ++k) {
        if (k < spot_chunks.size()) {
            p.feed_lines(Venue::BinanceSpot, spot_chunks[k], LineFormat::NsPrefixed);
        }
        if (k < usdm_chunks.size()) {
            p.feed_lines(Venue::BinanceFutures, usdm_chunks[k], LineFormat::NsPrefixed);
        }
    }
    p.finish();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    consumer.join();
    points = static_cast<std::size_t>(
        std::count_if(consumer.records.begin(), consumer.records.end(),
                      [](const OutRecord& r) { return r.kind == OutKind::Point; }));
    return s;
}

std::vector<std::string_view> chunks_of(const std::string& data, std::size_t size) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start < data.size()) {
        const std::size_t cut = data.find('\n', std::min(data.size(), start + size));
        const std::size_t end = cut == std::string::npos ? data.size() : cut + 1;
        out.emplace_back(data.data() + start, end - start);
        start = end;
    }
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    const std::string root = argc > 1 ? argv[1] : "tests/data/hftbacktest";
    const double pace_s = argc > 2 ? std::stod(argv[2]) : 60.0;
    const std::string policies = argc > 3 ? argv[3] : "spin_yield,blocking_old";
    const std::string sections = argc > 4 ? argv[4] : "all"; // all, latency or scaling
    const bool latency = sections != "scaling";
    const bool scaling = sections != "latency";
    const std::string prev_day = gunzip(root + "/usdm_2024-07/btcusdt_20240718.gz");
    const std::string day_buf = gunzip(root + "/usdm_2024-07/btcusdt_20240719.gz");
    const std::vector<Line> day = confluex::bench::capture_lines(day_buf);

    // --- 1. and 2. frame -> score ---------------------------------------------------------
    for (std::size_t at = 0; latency && pace_s > 0 && at < policies.size();) {
        const std::size_t comma = std::min(policies.find(',', at), policies.size());
        const std::string name = policies.substr(at, comma - at);
        at = comma + 1;
        WaitConfig w;
        if (!policy_of(name, w)) {
            std::fprintf(stderr, "unknown policy %s\n", name.c_str());
            return 2;
        }
        char label[96];
        std::snprintf(label, sizeof label, "pipeline pace x1 (%.0f s), %s", pace_s, name.c_str());
        latency_run(label, w, prev_day, day, pace_s);
    }
    if (latency) {
        // Flat out with the first policy of the list.
        const std::string first = policies.substr(0, policies.find(','));
        WaitConfig w;
        if (!policy_of(first.empty() ? "spin_yield" : first, w)) {
            return 2;
        }
        latency_run("pipeline flat out, 1 in flight, " + (first.empty() ? "spin_yield" : first), w,
                    prev_day, day, 0);
    }

    // --- 3. scaling ------------------------------------------------------------------------
    if (!scaling) {
        return 0;
    }
    const std::string spot =
        gunzip(root + "/spot/btcusdt_20240808.gz") + gunzip(root + "/spot/btcusdt_20240809.gz");
    const std::string usdm = prev_day + day_buf;
    const auto spot_chunks = chunks_of(spot, 1 << 18);
    const auto usdm_chunks = chunks_of(usdm, 1 << 18);
    const std::size_t messages = static_cast<std::size_t>(
        std::count(spot.begin(), spot.end(), '\n') + std::count(usdm.begin(), usdm.end(), '\n'));
    // Reference: one thread, one engine, one session per venue.
    std::vector<double> ref_s;
    std::size_t ref_points = 0;
    for (int r = 0; r < 3; ++r) {
        SessionConfig sc;
        sc.max_series_points = 1 << 20;
        sc.max_signals = 1 << 20;
        Engine engine;
        FeedSession a(engine, Venue::BinanceSpot, sc);
        FeedSession b(engine, Venue::BinanceFutures, sc);
        a.add_symbol("BTCUSDT", engine.add_symbol("spot", kSpot));
        b.add_symbol("BTCUSDT", engine.add_symbol("usdm", kUsdm));
        const auto t0 = Clock::now();
        const std::size_t longest = std::max(spot_chunks.size(), usdm_chunks.size());
        for (std::size_t k = 0; k < longest; ++k) {
            if (k < spot_chunks.size()) {
                a.replay(spot_chunks[k], LineFormat::NsPrefixed);
            }
            if (k < usdm_chunks.size()) {
                b.replay(usdm_chunks[k], LineFormat::NsPrefixed);
            }
        }
        ref_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        ref_points = a.series().size() + b.series().size();
    }
    const double ref = median(ref_s);
    std::printf("scaling: spot BTCUSDT (2 files) + USD-M BTCUSDT (2 files), %zu messages, "
                "hardware threads %u\n",
                messages, std::thread::hardware_concurrency());
    std::printf("  single-threaded FeedSessions      : %8.0f msgs/s (%.3f s)\n",
                static_cast<double>(messages) / ref, ref);
    for (const char* name : {"blocking", "spin_yield"}) {
        WaitConfig w;
        (void)policy_of(name, w);
        double one = 0;
        for (const std::uint32_t shards : {1U, 2U}) {
            std::vector<double> t;
            std::size_t points = 0;
            for (int r = 0; r < 3; ++r) {
                t.push_back(sharded_run(shards, w, spot_chunks, usdm_chunks, points));
            }
            const double s = median(t);
            one = shards == 1 ? s : one;
            std::printf("  %u shard%s, %-10s             : %8.0f msgs/s (%.3f s)%s%s\n", shards,
                        shards == 1 ? " " : "s", name, static_cast<double>(messages) / s, s,
                        shards == 2 ? "  x" : "", shards == 2 ? "" : "");
            if (shards == 2) {
                std::printf("      2 / 1 shards: %.2fx\n", one / s);
            }
            if (points != ref_points) {
                std::fprintf(stderr, "series points %zu != single-threaded %zu\n", points,
                             ref_points);
                return 1;
            }
        }
    }
    return 0;
}
