// C++ benchmark of the per-level cost and the tail latency of FeedSession on the real Binance
// USD-M BTCUSDT capture (hftbacktest, tests/data/hftbacktest/usdm_2024-07), without Python.
//
// Run like:
//   g++ -std=c++20 -O3 -march=x86-64-v2 -DNDEBUG -Icsrc/include -g
//       bench/cpp/bench_session_latency.cpp csrc/src/*.cpp -o /tmp/bench_session_latency
//   (one command line)
//   /tmp/bench_session_latency [tests/data/hftbacktest] [pace_seconds]
//
// The engine runs the native default config with the orderflow/orderbook extras off (the
// standard profile's work per message; EXTRAS=1 in the environment: with them, the reference
// profile's work).
// The book is synced by replaying 2024-07-18 (it holds the REST snapshot) untimed; the timed
// part is 2024-07-19 (5,696 depth messages, 57 levels on average, up to 894; 9,727 trades;
// 45,147 bookTickers).
//   1. Per level, flat out (kRounds rounds, median and best):
//        parse: BinanceParser::parse() of every depth message / levels;
//        apply: what FeedSession runs on every depth message's records (Engine::
//        ingest_parsed_message(), or ingest_book() in builds before it) / levels: the book work
//        of a message: validation, sequence check, level stores, top-K cache, best price;
//      over all depth messages, over those of >= 40 levels, and over synthetic tail messages of
//      2,000 levels: the REST snapshot's 1,000 bid and 1,000 ask levels (real prices and sizes)
//      written as depthUpdate messages with ids that follow the book (SYNTHETIC: no such
//      message is in the capture; its largest has 894 levels).
//   2. Raw message -> score: FeedSession::on_message() (parse, sync, apply, recompute), one
//      steady_clock pair per message, as p50 / p99 / p99.9 / max over the messages that changed
//      a symbol (depth and trade; bookTickers are also fed and timed separately):
//        flat out: every 2024-07-19 message back to back, kRounds rounds;
//        recorded pace (--speed 1): each message fed at its recorded receive time offset from
//        the first one, over the first pace_seconds seconds of the day (default 60; 0 skips
//        it; 301 is the whole day), once per wait mode (argument 3, comma-separated; default
//        "spin_yield,sleep"):
//          spin_yield / busy_poll / blocking: the gap before each message is waited exactly as
//            an idle pipeline engine thread waits for its next frame with that WaitPolicy
//            (pipeline::idle_poll with the PipelineConfig defaults: poll with yields, block
//            after 1 s or when the core is contended; a warm pass, FeedSession::reserve_ahead()
//            and FeedSession::warm(), every 100 us and after a yield that gave the core away).
//            spin_yield is what `confluex live` runs, so this is the figure live sees; when the
//            policy blocks, the thread sleeps until the message is due (a wake-up at once);
//          sleep: the old figure: sleep until 200 us before the message, then spin;
//          none: no pacing, the same messages back to back (flat out over the same span);
//          control: the platform's own tail, no message processed: a constant workload
//            (FeedSession::warm()) at each message's due time, busy-polled, and the same
//            workload back to back. What pacing adds to it is the machine's, not confluex's.
//        Each pace run also reports the stage breakdown, the heap allocations made while
//        messages were processed (operator new is counted), and the book's recenters and
//        window resizes during the run.
//      The synthetic 2,000-level tail message through on_message() is reported on its own.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_parser.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/instrument.hpp"
#include "confluex/pipeline.hpp"
#include "confluex/symbol_table.hpp"

#include "bench_util.hpp"

// Every heap allocation of the process is counted (the bench is single-threaded): the pace
// runs report how many happened while messages were processed.
namespace {
std::uint64_t g_allocs = 0;
void* counted_alloc(std::size_t n, std::size_t align) {
    ++g_allocs;
    void* p = align <= alignof(std::max_align_t)
                  ? std::malloc(n == 0 ? 1 : n)
                  : std::aligned_alloc(align, (n + align - 1) / align * align);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    return p;
}
} // namespace
void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace confluex;
using namespace confluex::feed;
using Clock = std::chrono::steady_clock;
using confluex::bench::Dist;
using confluex::bench::dist;
using confluex::bench::gunzip;

namespace {

constexpr int kRounds = 9;

struct Line {
    std::string_view json;
    std::int64_t ts;
    bool depth;
    bool ticker;
};

std::vector<Line> split_lines(const std::string& data) {
    std::vector<Line> out;
    for (const auto& l : confluex::bench::capture_lines(data)) {
        const std::string_view head = l.json.substr(0, 40);
        out.push_back({l.json, l.ts, head.find("@depth") != std::string_view::npos,
                       head.find("@bookTicker") != std::string_view::npos});
    }
    return out;
}

struct Stat {
    double med;
    double best;
};

Stat stat(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front()};
}

double since(Clock::time_point t0) {
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

void print_stages(const FeedSession& s) {
    const char* names[] = {"parse", "apply", "recompute", "total"};
    for (std::size_t i = 0; i < kStageCount; ++i) {
        const LatencyHistogram& h = s.latency(static_cast<Stage>(i));
        std::printf("    stage %-9s: n %6llu  mean %7.2f  p50 %7.2f  p99 %7.2f  p99.9 %7.2f us\n",
                    names[i], static_cast<unsigned long long>(h.count()), h.mean() / 1e3,
                    static_cast<double>(h.percentile(0.5)) / 1e3,
                    static_cast<double>(h.percentile(0.99)) / 1e3,
                    static_cast<double>(h.percentile(0.999)) / 1e3);
    }
}

void print_dist(const char* name, const Dist& d) {
    std::printf("%-34s: n %6zu  mean %7.2f  p50 %7.2f  p99 %7.2f  p99.9 %7.2f  max %8.2f us\n",
                name, d.n, d.mean / 1e3, d.p50 / 1e3, d.p99 / 1e3, d.p999 / 1e3, d.max / 1e3);
}

std::size_t count_levels(std::string_view json) {
    return static_cast<std::size_t>(std::count(json.begin(), json.end(), '[')) - 2;
}

const Instrument kInst = Instrument::from_strings("0.1", "0.001");

// The engine's config: the native default with the extras off (what the product's default,
// the standard profile, computes per message: its fitted weights live in Python and do not
// change the work), or with them (EXTRAS=1: the reference profile's work).
EngineConfig bench_config() {
    EngineConfig cfg;
    cfg.flow_extras.enabled = std::getenv("EXTRAS") != nullptr;
    cfg.aggregator.rule = cfg.flow_extras.enabled ? ScoreRule::Reference : ScoreRule::Graded;
    return cfg;
}

struct Synced {
    Engine engine{bench_config()};
    std::uint32_t sym;
    FeedSession session;
    Synced() : sym(engine.add_symbol("BTCUSDT", kInst)), session(engine, Venue::BinanceFutures) {
        session.add_symbol("BTCUSDT", sym);
    }
};

// The REST snapshot's levels (real prices and sizes), for the SYNTHETIC tail messages.
struct SnapLevels {
    std::vector<BookLevelEvent> recs;
    Ticks mid2 = 0; // best bid + best ask, in ticks
};

SnapLevels snapshot_levels(BinanceParser& parser, std::string_view snap) {
    SnapLevels out;
    (void)parser.parse_snapshot(snap, 0, 0, out.recs);
    Ticks bb = 0, ba = INT64_MAX;
    for (const auto& e : out.recs) {
        if (e.side == 0) {
            bb = std::max(bb, e.px_ticks);
        } else {
            ba = std::min(ba, e.px_ticks);
        }
    }
    out.mid2 = bb + ba;
    return out;
}

// A depthUpdate of the snapshot's 1,000 + 1,000 levels (SYNTHETIC message of real levels),
// shifted so that the snapshot's mid sits on the book's current mid (the book stays uncrossed
// and the levels land where a big real message would), with ids that follow `last`.
std::string tail_message(const SnapLevels& snap, const OrderBook* ob, std::int64_t last) {
    Ticks shift = 0;
    if (ob != nullptr && ob->best_bid() && ob->best_ask()) {
        shift = (ob->best_bid_px() + ob->best_ask_px() - snap.mid2) / 2;
    }
    std::string side[2];
    char buf[64];
    for (const auto& e : snap.recs) {
        const Ticks px = e.px_ticks + shift;
        std::snprintf(buf, sizeof buf, R"(["%lld.%lld0","%lld.%03lld"])",
                      static_cast<long long>(px / 10), static_cast<long long>(px % 10),
                      static_cast<long long>(e.qty_lots / 1000),
                      static_cast<long long>(e.qty_lots % 1000));
        std::string& s = side[e.side];
        s += s.empty() ? "[" : ",";
        s += buf;
    }
    return R"({"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1721347201585,)"
           R"("T":1721347201533,"s":"BTCUSDT","U":)" +
           std::to_string(last + 1) + R"(,"u":)" + std::to_string(last + 1) + R"(,"pu":)" +
           std::to_string(last) + R"(,"b":)" + side[0] + R"(],"a":)" + side[1] + "]}}";
}

// Applies one parsed message as FeedSession does (ingest_parsed_message(); ingest_book() in
// builds before it existed, which is what the session called then).
template <class E> std::size_t apply_message(E& engine, const std::vector<BookLevelEvent>& m) {
    if constexpr (requires { engine.ingest_parsed_message(m.data(), m.size()); }) {
        return engine.ingest_parsed_message(m.data(), m.size());
    } else {
        return engine.ingest_book(m.data(), m.size());
    }
}

// Empties the session's stage histograms (builds without reset_latency() keep them).
template <class S> void reset_stages(S& session) {
    if constexpr (requires { session.reset_latency(); }) {
        session.reset_latency();
    }
}

// The old pacing: sleeps until 200 us before `deadline`, then spins.
void wait_until_sleep(Clock::time_point deadline) {
    const auto now = Clock::now();
    if (deadline - now > std::chrono::microseconds(300)) {
        std::this_thread::sleep_until(deadline - std::chrono::microseconds(200));
    }
    while (Clock::now() < deadline) {
    }
}

// Waits until `deadline` as an idle engine thread waits for its next frame under `w`
// (pipeline::idle_poll, warm passes over the session: reserve_ahead() then warm(), as
// Pipeline::warm runs them); where the policy blocks, sleeps until the deadline (the
// producer's notify would wake it then).
void wait_until_policy(Clock::time_point deadline, const pipeline::WaitConfig& w,
                       FeedSession& session) {
    const auto ready = [&] { return Clock::now() >= deadline; };
    const auto warm_pass = [&] {
        session.reserve_ahead();
        session.warm();
    };
    if (!pipeline::idle_poll(w, ready, warm_pass)) {
        std::this_thread::sleep_until(deadline);
    }
}

} // namespace

int main(int argc, char** argv) {
    const std::string root = argc > 1 ? argv[1] : "tests/data/hftbacktest";
    const double pace_s = argc > 2 ? std::stod(argv[2]) : 60.0;
    const std::string prev_day = gunzip(root + "/usdm_2024-07/btcusdt_20240718.gz");
    const std::string day_buf = gunzip(root + "/usdm_2024-07/btcusdt_20240719.gz");
    const std::vector<Line> day = split_lines(day_buf);
    const std::vector<Line> prev = split_lines(prev_day);
    std::string_view snap;
    for (const Line& l : prev) {
        if (l.json.starts_with(R"({"lastUpdateId")")) {
            snap = l.json;
        }
    }

    std::vector<std::string_view> depth, depth40;
    std::size_t levels = 0, levels40 = 0;
    for (const Line& l : day) {
        if (l.depth) {
            depth.push_back(l.json);
            const std::size_t n = count_levels(l.json);
            levels += n;
            if (n >= 40) {
                depth40.push_back(l.json);
                levels40 += n;
            }
        }
    }
    std::printf("USD-M BTCUSDT 2024-07-19: %zu depth messages, %.1f levels avg; %zu of >= 40 "
                "levels (%.1f avg)\n",
                depth.size(), static_cast<double>(levels) / static_cast<double>(depth.size()),
                depth40.size(),
                static_cast<double>(levels40) / static_cast<double>(depth40.size()));

    // --- 1. per level: parse ----------------------------------------------------------------
    SymbolTable table;
    table.add("BTCUSDT", 0, kInst);
    BinanceParser parser(table, true);
    const SnapLevels snap_lv = snapshot_levels(parser, snap);
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    book.reserve(1 << 16);
    // The cost of one Clock::now() pair, subtracted from every per-message timing.
    double timer_ns = 1e18;
    for (int i = 0; i < 100000; ++i) {
        const auto t0 = Clock::now();
        timer_ns = std::min(timer_ns, since(t0));
    }
    // Per message, the fastest of kRounds timings (minus the timer's own cost): on a shared VM
    // the other rounds carry preemptions and other tenants' cache traffic. Also the median
    // over rounds of the plain sum.
    auto parse_per_level = [&](const std::vector<std::string_view>& msgs, std::size_t lv) {
        std::vector<double> best(msgs.size(), 1e18);
        std::vector<double> sums;
        for (int r = 0; r < kRounds; ++r) {
            double sum = 0;
            for (std::size_t i = 0; i < msgs.size(); ++i) {
                book.clear();
                const auto t0 = Clock::now();
                const bool ok = parser.parse(msgs[i], 0, book, trades).ok();
                const double t = since(t0) - timer_ns;
                if (!ok) {
                    std::fprintf(stderr, "parse error\n");
                    std::exit(1);
                }
                best[i] = std::min(best[i], t);
                sum += t;
            }
            sums.push_back(sum);
        }
        double b = 0;
        for (const double t : best) {
            b += t;
        }
        return Stat{stat(sums).med / static_cast<double>(lv), b / static_cast<double>(lv)};
    };
    const Stat p_all = parse_per_level(depth, levels);
    const Stat p_40 = parse_per_level(depth40, levels40);
    const std::string tail0 = tail_message(snap_lv, nullptr, 1);
    const std::size_t tail_levels = count_levels(tail0);
    const Stat p_tail =
        parse_per_level(std::vector<std::string_view>(200, tail0), 200 * tail_levels);
    std::printf("(per level: median of round sums, and in brackets the sum of per-message bests; "
                "timer pair %.1f ns subtracted)\n",
                timer_ns);
    std::printf("parse ns/level   all depth %6.2f (best %6.2f)  >=40 levels %6.2f (best %6.2f)  "
                "synthetic %zu-level %6.2f (best %6.2f)\n",
                p_all.med, p_all.best, p_40.med, p_40.best, tail_levels, p_tail.med, p_tail.best);

    // --- 1. per level: apply ----------------------------------------------------------------
    // Records of every 2024-07-19 depth message, parsed once; each round re-syncs a fresh
    // engine on 2024-07-18 (untimed) and times apply_message() message by message.
    std::vector<std::vector<BookLevelEvent>> recs;
    for (const std::string_view m : depth) {
        book.clear();
        (void)parser.parse(m, 0, book, trades);
        recs.push_back(book);
    }
    std::vector<double> best_msg(recs.size(), 1e18), best_tail(50, 1e18);
    std::vector<double> a_all, a_40, a_tail;
    for (int r = 0; r < kRounds; ++r) {
        Synced s;
        s.session.replay(prev_day, LineFormat::NsPrefixed);
        if (s.session.needs_snapshot(s.sym)) {
            std::fprintf(stderr, "not synced after 2024-07-18\n");
            return 1;
        }
        double t_all = 0, t_40 = 0;
        for (std::size_t i = 0; i < recs.size(); ++i) {
            const auto& m = recs[i];
            const auto t0 = Clock::now();
            (void)apply_message(s.engine, m);
            const double t = since(t0) - timer_ns;
            best_msg[i] = std::min(best_msg[i], t);
            t_all += t;
            t_40 += m.size() >= 40 ? t : 0.0;
        }
        if (!s.engine.book(s.sym).in_sync()) {
            std::fprintf(stderr, "book out of sync after 2024-07-19\n");
            return 1;
        }
        a_all.push_back(t_all / static_cast<double>(levels));
        a_40.push_back(t_40 / static_cast<double>(levels40));
        // Tail: the snapshot's 2,000 levels as 50 successive messages.
        double t_tail = 0;
        for (std::size_t k = 0; k < 50; ++k) {
            book.clear();
            const std::string msg =
                tail_message(snap_lv, &s.engine.book(s.sym), s.engine.book(s.sym).last_update_id());
            (void)parser.parse(msg, 0, book, trades);
            const auto t0 = Clock::now();
            (void)apply_message(s.engine, book);
            const double t = since(t0) - timer_ns;
            best_tail[k] = std::min(best_tail[k], t);
            t_tail += t;
            if (!s.engine.book(s.sym).in_sync()) {
                std::fprintf(stderr, "tail message desynced the book\n");
                return 1;
            }
        }
        a_tail.push_back(t_tail / static_cast<double>(50 * tail_levels));
        (void)s.engine.result(s.sym);
    }
    if (std::getenv("DIAG") != nullptr) {
        // Least squares of the per-message best against the level count.
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        const auto nn = static_cast<double>(recs.size());
        for (std::size_t i = 0; i < recs.size(); ++i) {
            const auto x = static_cast<double>(recs[i].size());
            sx += x;
            sy += best_msg[i];
            sxx += x * x;
            sxy += x * best_msg[i];
        }
        const double slope = (nn * sxy - sx * sy) / (nn * sxx - sx * sx);
        std::printf("apply fit: %.1f ns per message + %.2f ns per level\n", (sy - slope * sx) / nn,
                    slope);
    }
    double b_all = 0, b_40 = 0, b_tail = 0;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        b_all += best_msg[i];
        b_40 += recs[i].size() >= 40 ? best_msg[i] : 0.0;
    }
    for (const double t : best_tail) {
        b_tail += t;
    }
    const Stat ap_all{stat(a_all).med, b_all / static_cast<double>(levels)};
    const Stat ap_40{stat(a_40).med, b_40 / static_cast<double>(levels40)};
    const Stat ap_tail{stat(a_tail).med, b_tail / static_cast<double>(50 * tail_levels)};
    std::printf("apply ns/level   all depth %6.2f (best %6.2f)  >=40 levels %6.2f (best %6.2f)  "
                "synthetic %zu-level %6.2f (best %6.2f)\n",
                ap_all.med, ap_all.best, ap_40.med, ap_40.best, tail_levels, ap_tail.med,
                ap_tail.best);

    // --- 2. raw message -> score, flat out ----------------------------------------------------
    std::vector<double> lat, lat_depth, lat_ticker, lat_tail;
    for (int r = 0; r < kRounds; ++r) {
        Synced s;
        s.session.replay(prev_day, LineFormat::NsPrefixed);
        reset_stages(s.session);
        for (const Line& l : day) {
            const auto t0 = Clock::now();
            (void)s.session.on_message(l.json, l.ts);
            const double t = since(t0);
            if (std::getenv("DIAG") != nullptr && l.depth && t > 20000) {
                std::printf("slow %.1f us levels %zu\n", t / 1e3, count_levels(l.json));
            }
            (l.ticker ? lat_ticker : lat).push_back(t);
            if (l.depth) {
                lat_depth.push_back(t);
            }
        }
        for (int k = 0; k < 20; ++k) {
            const std::string msg =
                tail_message(snap_lv, &s.engine.book(s.sym), s.engine.book(s.sym).last_update_id());
            const auto t0 = Clock::now();
            (void)s.session.on_message(msg, day.back().ts);
            lat_tail.push_back(since(t0));
        }
        if (s.session.needs_snapshot(s.sym)) {
            std::fprintf(stderr, "flat-out replay lost sync\n");
            return 1;
        }
        if (r == 0) {
            std::printf("  stages of round 1 (2024-07-19 + 20 synthetic tail messages):\n");
            print_stages(s.session);
        }
    }
    print_dist("flat out: depth + trade -> score", dist(lat));
    print_dist("flat out: depth -> score", dist(lat_depth));
    print_dist("flat out: bookTicker", dist(lat_ticker));
    print_dist("flat out: synthetic 2000-level", dist(lat_tail));

    // --- 2. raw message -> score, at recorded pace ---------------------------------------------
    const std::string modes = argc > 3 ? argv[3] : "spin_yield,sleep";
    for (std::size_t at = 0; pace_s > 0 && at < modes.size();) {
        const std::size_t comma = std::min(modes.find(',', at), modes.size());
        const std::string mode = modes.substr(at, comma - at);
        at = comma + 1;
        pipeline::WaitConfig w{}; // the PipelineConfig defaults
        if (mode == "busy_poll") {
            w.policy = pipeline::WaitPolicy::BusyPoll;
        } else if (mode == "blocking") {
            w.policy = pipeline::WaitPolicy::Blocking;
        } else if (mode == "spin_yield_nowarm") {
            w.warm_ns = 0;
        } else if (mode == "control") {
            // The platform's own tail: a constant workload (FeedSession::warm(), ~1-2 us, the
            // same state every time) at each message's due time, busy-polled, against the same
            // workload back to back. No message is processed.
            w.policy = pipeline::WaitPolicy::BusyPoll;
            w.warm_ns = 0;
        } else if (mode != "spin_yield" && mode != "sleep" && mode != "none") {
            std::fprintf(stderr, "unknown wait mode %s\n", mode.c_str());
            return 2;
        }
        Synced s;
        s.session.replay(prev_day, LineFormat::NsPrefixed);
        std::vector<double> pl, pl_depth;
        pl.reserve(day.size());
        pl_depth.reserve(day.size());
        reset_stages(s.session);
        const BookCounters before = s.engine.book(s.sym).counters();
        std::uint64_t allocs = 0;
        const std::int64_t ts0 = day.front().ts;
        const auto start = Clock::now() + std::chrono::milliseconds(1);
        for (const Line& l : day) {
            const std::int64_t off = l.ts - ts0;
            if (static_cast<double>(off) > pace_s * 1e9) {
                break;
            }
            const auto deadline = start + std::chrono::nanoseconds(off);
            if (mode == "none") {
                // no pacing: the same messages back to back (the flat-out reference)
            } else if (mode == "sleep") {
                wait_until_sleep(deadline);
            } else {
                wait_until_policy(deadline, w, s.session);
            }
            if (mode == "control") {
                const auto t0 = Clock::now();
                s.session.warm();
                pl.push_back(since(t0));
                continue;
            }
            const std::uint64_t a0 = g_allocs;
            const auto t0 = Clock::now();
            (void)s.session.on_message(l.json, l.ts);
            const double t = since(t0);
            allocs += g_allocs - a0;
            if (!l.ticker) {
                pl.push_back(t);
            }
            if (l.depth) {
                pl_depth.push_back(t);
            }
        }
        const BookCounters& after = s.engine.book(s.sym).counters();
        char name[64];
        if (mode == "control") {
            std::vector<double> flat;
            for (std::size_t k = 0; k < pl.size(); ++k) {
                const auto t0 = Clock::now();
                s.session.warm();
                flat.push_back(since(t0));
            }
            std::printf("pace x1 (%.0f s), platform control (no message processed):\n", pace_s);
            print_dist("  constant workload, at recorded pace", dist(pl));
            print_dist("  constant workload, back to back", dist(flat));
            continue;
        }
        std::printf("pace x1 (%.0f s), wait %s%s:\n", pace_s, mode.c_str(),
                    mode == "spin_yield" ? " (what live runs)"
                                         : (mode == "sleep" ? " (old: sleep, then spin)" : ""));
        std::snprintf(name, sizeof name, "  pace %s: depth + trade", mode.c_str());
        print_dist(name, dist(pl));
        std::snprintf(name, sizeof name, "  pace %s: depth", mode.c_str());
        print_dist(name, dist(pl_depth));
        print_stages(s.session);
        if (mode == "spin_yield") {
            // What one warm pass costs (a frame that arrives during one waits for its end).
            const auto w0 = Clock::now();
            for (int k = 0; k < 10000; ++k) {
                s.session.warm();
            }
            std::printf("    warm pass (FeedSession::warm): %.0f ns each\n", since(w0) / 1e4);
        }
        std::printf("    allocations while processing: %llu; book recenters %llu, resizes %llu\n",
                    static_cast<unsigned long long>(allocs),
                    static_cast<unsigned long long>(after.recenters - before.recenters),
                    static_cast<unsigned long long>(after.resizes - before.resizes));
    }
    return 0;
}
