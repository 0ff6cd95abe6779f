// C++ microbenchmark of BinanceParser (and FeedSession on the largest depth message) on the
// real Binance BTCUSDT captures, without Python.
//
// Run like:
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include -g
//       bench/cpp/bench_feed_parser.cpp csrc/src/*.cpp -o /tmp/bench_feed_parser
//   (one command line)
//   /tmp/bench_feed_parser [tests/data/hftbacktest]
//   perf record -g /tmp/bench_feed_parser    # where the time goes
//
// Reports the median and the best of kRounds rounds (each round parses every message once, in
// capture order; the best is the code's own cost on a shared VM):
//   - spot depth: ns per message of parse() over every depth message (and over the messages
//     of 30..42 levels, the "~36-level message" of the performance note);
//   - spot trade: ns per message of parse();
//   - parse_lines() over the depth / trade buffers (what gate_feed_parser.py times, minus Python);
//   - spot: parse() of the depth message with the most levels;
//   - USD-M 2024-07-19: parse() of the depth message with the most levels, and FeedSession
//     on_message() of it on a book synced by replaying the capture up to it (ids rewritten each
//     round so every repeat is the next message of the sequence).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_parser.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/instrument.hpp"
#include "confluex/symbol_table.hpp"

#include "bench_util.hpp"

using namespace confluex;
using namespace confluex::feed;
using Clock = std::chrono::steady_clock;
using confluex::bench::gunzip;
using Line = confluex::bench::CaptureLine;

namespace {

constexpr int kRounds = 21;

// Median and best of a set of timings (the VM is shared: the best shows the code's own cost).
struct Stat {
    double med;
    double best;
};

Stat stat(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front()};
}

SymbolTable table(const char* tick, const char* lot) {
    SymbolTable t;
    t.add("BTCUSDT", 0, Instrument::from_strings(tick, lot));
    return t;
}

// Median over rounds of (time to parse every message once) / message count, in ns.
Stat per_message(BinanceParser& parser, const std::vector<std::string_view>& msgs,
                 std::size_t& records) {
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    book.reserve(1 << 20);
    trades.reserve(1 << 20);
    std::vector<double> ns;
    for (int r = 0; r < kRounds; ++r) {
        book.clear();
        trades.clear();
        const auto t0 = Clock::now();
        for (const std::string_view m : msgs) {
            const ParseResult res = parser.parse(m, 0, book, trades);
            if (!res.ok()) {
                std::fprintf(stderr, "parse error %s\n", to_string(res.error));
                std::exit(1);
            }
            // Keep the vectors from growing without bound across a round: the records of one
            // message are what the caller consumes before the next.
            if (book.size() > (1 << 19)) {
                book.clear();
            }
            if (trades.size() > (1 << 19)) {
                trades.clear();
            }
        }
        const auto t1 = Clock::now();
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                     static_cast<double>(msgs.size()));
    }
    records = book.size() + trades.size();
    return stat(ns);
}

Stat per_line(BinanceParser& parser, const std::string& buf, std::size_t n_lines) {
    std::vector<double> ns;
    for (int r = 0; r < kRounds; ++r) {
        LineBatch out;
        const auto t0 = Clock::now();
        const std::size_t good = parser.parse_lines(buf, out);
        const auto t1 = Clock::now();
        if (good != n_lines) {
            std::fprintf(stderr, "parse_lines: %zu of %zu lines\n", good, n_lines);
            std::exit(1);
        }
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                     static_cast<double>(n_lines));
    }
    return stat(ns);
}

// Copies the messages back to back into `store`; returns views of the copies.
std::vector<std::string_view> pack(const std::vector<std::string_view>& msgs, std::string& store) {
    std::size_t total = 0;
    for (const std::string_view m : msgs) {
        total += m.size();
    }
    store.reserve(total);
    for (const std::string_view m : msgs) {
        store.append(m);
    }
    std::vector<std::string_view> out;
    std::size_t at = 0;
    for (const std::string_view m : msgs) {
        out.emplace_back(store.data() + at, m.size());
        at += m.size();
    }
    return out;
}

std::size_t count_levels(std::string_view json) {
    // Each level is one '[' inside b / a (the message has no other arrays).
    return static_cast<std::size_t>(std::count(json.begin(), json.end(), '[')) - 2;
}

// Rewrites the integer value of "key": in place, keeping its width.
void set_int(std::string& msg, const char* key, std::int64_t v) {
    const std::size_t at = msg.find(key);
    const std::size_t s = at + std::strlen(key);
    std::size_t e = s;
    while (e < msg.size() && msg[e] >= '0' && msg[e] <= '9') {
        ++e;
    }
    std::string digits = std::to_string(v);
    if (digits.size() != e - s) {
        std::fprintf(stderr, "id width changed\n");
        std::exit(1);
    }
    msg.replace(s, e - s, digits);
}

std::int64_t get_int(std::string_view msg, const char* key) {
    const std::size_t at = msg.find(key);
    return std::stoll(std::string(msg.substr(at + std::strlen(key), 20)));
}

} // namespace

int main(int argc, char** argv) {
    const std::string root = argc > 1 ? argv[1] : "tests/data/hftbacktest";
    // Optional second argument: "trade" or "depth" times only that (for perf record).
    const std::string only = argc > 2 ? argv[2] : "";

    // --- spot: every depth / trade message of the two days -----------------------------------
    const std::string spot =
        gunzip(root + "/spot/btcusdt_20240808.gz") + gunzip(root + "/spot/btcusdt_20240809.gz");
    const std::vector<Line> spot_lines = confluex::bench::capture_lines(spot);
    std::vector<std::string_view> depth, depth36, trade;
    std::string depth_buf, trade_buf;
    std::size_t depth_levels = 0;
    for (const Line& l : spot_lines) {
        const std::string_view head = l.json.substr(0, 40);
        if (head.find("@depth") != std::string_view::npos) {
            depth.push_back(l.json);
            depth_buf.append(l.full).push_back('\n');
            const std::size_t n = count_levels(l.json);
            depth_levels += n;
            if (n >= 30 && n <= 42) {
                depth36.push_back(l.json);
            }
        } else if (head.find("@trade") != std::string_view::npos) {
            trade.push_back(l.json);
            trade_buf.append(l.full).push_back('\n');
        }
    }
    // Messages back to back in capture order (as a receive buffer or parse_lines() sees them),
    // not scattered among the bookTicker lines of the capture.
    std::string depth_store, depth36_store, trade_store;
    depth = pack(depth, depth_store);
    depth36 = pack(depth36, depth36_store);
    trade = pack(trade, trade_store);
    const SymbolTable spot_table = table("0.01", "0.00000001");
    BinanceParser spot_parser(spot_table, false);
    std::size_t recs = 0;
    if (only == "trade" || only == "depth") {
        for (int i = 0; i < 10; ++i) {
            (void)per_message(spot_parser, only == "trade" ? trade : depth, recs);
        }
        return 0;
    }
    const Stat t_depth = per_message(spot_parser, depth, recs);
    const Stat t_depth36 = per_message(spot_parser, depth36, recs);
    const Stat t_trade = per_message(spot_parser, trade, recs);
    const Stat t_depth_lines = per_line(spot_parser, depth_buf, depth.size());
    const Stat t_trade_lines = per_line(spot_parser, trade_buf, trade.size());
    std::printf("spot depth parse()        : %8.1f ns/message, best %8.1f (%zu messages, %.1f "
                "levels avg)\n",
                t_depth.med, t_depth.best, depth.size(),
                static_cast<double>(depth_levels) / static_cast<double>(depth.size()));
    std::printf("spot depth 30-42 levels   : %8.1f ns/message, best %8.1f (%zu messages)\n",
                t_depth36.med, t_depth36.best, depth36.size());
    std::printf("spot trade parse()        : %8.1f ns/message, best %8.1f (%zu messages)\n",
                t_trade.med, t_trade.best, trade.size());
    std::printf("spot depth parse_lines()  : %8.1f ns/line,    best %8.1f\n", t_depth_lines.med,
                t_depth_lines.best);
    std::printf("spot trade parse_lines()  : %8.1f ns/line,    best %8.1f\n", t_trade_lines.med,
                t_trade_lines.best);

    const std::string_view spot_big =
        *std::max_element(depth.begin(), depth.end(),
                          [](auto a, auto b) { return count_levels(a) < count_levels(b); });
    const Stat t_spot_big =
        per_message(spot_parser, std::vector<std::string_view>(200, spot_big), recs);
    std::printf("spot largest depth parse(): %8.1f ns/message, best %8.1f (%zu levels)\n",
                t_spot_big.med, t_spot_big.best, count_levels(spot_big));

    // --- USD-M: the largest depth message, parsed and applied ---------------------------------
    const std::string prev_day = gunzip(root + "/usdm_2024-07/btcusdt_20240718.gz");
    const std::string day = gunzip(root + "/usdm_2024-07/btcusdt_20240719.gz");
    const std::vector<Line> lines = confluex::bench::capture_lines(day);
    std::size_t big = 0;
    std::size_t big_levels = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].json.substr(0, 40).find("@depth") != std::string_view::npos) {
            const std::size_t n = count_levels(lines[i].json);
            if (n > big_levels) {
                big_levels = n;
                big = i;
            }
        }
    }
    const SymbolTable fut_table = table("0.1", "0.001");
    BinanceParser fut_parser(fut_table, true);
    const std::vector<std::string_view> big_msgs(200, lines[big].json);
    const Stat t_big = per_message(fut_parser, big_msgs, recs);
    std::printf("usdm largest depth parse(): %8.1f ns/message, best %8.1f (%zu levels)\n",
                t_big.med, t_big.best, big_levels);

    Engine engine;
    const std::uint32_t sym =
        engine.add_symbol("BTCUSDT", Instrument::from_strings("0.1", "0.001"));
    FeedSession session(engine, Venue::BinanceFutures);
    session.add_symbol("BTCUSDT", sym);
    session.replay(prev_day, LineFormat::NsPrefixed);
    for (std::size_t i = 0; i < big; ++i) {
        (void)session.on_message(lines[i].json, lines[i].ts);
    }
    if (session.needs_snapshot(sym)) {
        std::fprintf(stderr, "book not synced before the largest message\n");
        return 1;
    }
    std::string msg(lines[big].json);
    const std::int64_t span = get_int(msg, "\"u\":") - get_int(msg, "\"U\":");
    std::vector<double> ns;
    for (int r = 0; r < 201; ++r) {
        const std::int64_t last = engine.book(sym).last_update_id();
        set_int(msg, "\"pu\":", last);
        set_int(msg, "\"U\":", last + 1);
        set_int(msg, "\"u\":", last + 1 + span);
        const auto t0 = Clock::now();
        const ParseResult res = session.on_message(msg, lines[big].ts);
        const auto t1 = Clock::now();
        if (!res.ok() || session.needs_snapshot(sym) ||
            engine.book(sym).last_update_id() != last + 1 + span) {
            std::fprintf(stderr, "on_message did not apply the message\n");
            return 1;
        }
        ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    const Stat t_apply = stat(ns);
    std::printf("usdm largest on_message() : %8.1f ns/message, best %8.1f (parse + apply + "
                "recompute, %zu runs)\n",
                t_apply.med, t_apply.best, ns.size());
    return 0;
}
