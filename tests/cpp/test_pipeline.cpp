// The threaded pipeline (pipeline.hpp), run under the default, asan and tsan presets: real
// spot and USD-M captures sharded over two engine threads must give the single-threaded
// sessions' series and signals exactly; a full input ring must surface as a counted resync of
// the symbol; a confluex error on one frame must come back as an Error record while the shard
// goes on; finish/stop/wake must neither hang nor leak. Under TSan these are the data-race
// checks of the producer -> shard -> consumer hand-offs.
#undef NDEBUG
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "capture_support.hpp"
#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/pipeline.hpp"
#include "confluex/pipeline_collector.hpp"
#include "confluex/spsc_ring.hpp"

namespace {

using confluex::Engine;
using confluex::Instrument;
using confluex::SpscRing;
using confluex::feed::FeedSession;
using confluex::feed::LineFormat;
using confluex::feed::ScorePoint;
using confluex::feed::SignalEvent;
using confluex::feed::SyncPhase;
using confluex::feed::Venue;
using confluex::pipeline::Collector;
using confluex::pipeline::ErrorCode;
using confluex::pipeline::FrameKind;
using confluex::pipeline::OutKind;
using confluex::pipeline::OutRecord;
using confluex::pipeline::Pipeline;
using confluex::pipeline::PipelineConfig;
using confluex::pipeline::PushStatus;
using confluex::pipeline::WaitPolicy;
using confluex::test::gunzip;

// The first `max_lines` lines of a capture (TSan runs ~10x slower: a prefix keeps it short).
std::string head_lines(const std::string& data, std::size_t max_lines) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < max_lines && pos != std::string::npos; ++i) {
        pos = data.find('\n', pos);
        if (pos != std::string::npos) {
            ++pos;
        }
    }
    return pos == std::string::npos ? data : data.substr(0, pos);
}

constexpr std::size_t kLines = 12000;

struct Captures {
    std::string spot;
    std::string usdm;
};

Captures load() {
    const std::string dir = CONFLUEX_DATA_DIR;
    return {head_lines(gunzip(dir + "/hftbacktest/spot/btcusdt_20240808.gz"), kLines),
            head_lines(gunzip(dir + "/hftbacktest/usdm_2024-07/btcusdt_20240718.gz"), kLines)};
}

Instrument spot_inst() { return Instrument::from_strings("0.01", "0.00000001"); }
Instrument usdm_inst() { return Instrument::from_strings("0.1", "0.001"); }

bool same_double(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(Pipeline, TwoShardsGiveTheSingleThreadedSeriesAndSignals) {
    const Captures c = load();
    if (c.spot.empty() || c.usdm.empty()) {
        GTEST_SKIP() << "real data not found under " << CONFLUEX_DATA_DIR;
    }
    // Reference: one engine, one session per venue, as `confluex replay` runs them.
    Engine engine;
    const auto s_spot = engine.add_symbol("binance_spot:BTCUSDT", spot_inst());
    const auto s_usdm = engine.add_symbol("binance_futures:BTCUSDT", usdm_inst());
    FeedSession spot(engine, Venue::BinanceSpot);
    FeedSession usdm(engine, Venue::BinanceFutures);
    spot.add_symbol("BTCUSDT", s_spot);
    usdm.add_symbol("BTCUSDT", s_usdm);
    spot.replay(c.spot, LineFormat::NsPrefixed);
    usdm.replay(c.usdm, LineFormat::NsPrefixed);
    std::map<std::uint32_t, std::vector<ScorePoint>> want_series;
    std::map<std::uint32_t, std::vector<SignalEvent>> want_signals;
    for (auto* s : {&spot, &usdm}) {
        for (const auto& p : s->series()) {
            want_series[p.symbol_id].push_back(p);
        }
        for (const auto& e : s->signals()) {
            want_signals[e.symbol_id].push_back(e);
        }
    }
    ASSERT_GT(want_series[s_spot].size(), 100U);
    ASSERT_GT(want_series[s_usdm].size(), 100U);

    PipelineConfig cfg;
    cfg.shards = 2;
    cfg.lossless = true;
    cfg.output_capacity = 256; // small: the shards must wait for the consumer
    cfg.input_chunks = 1024;
    Pipeline p(cfg);
    const auto g_spot = p.add_symbol(Venue::BinanceSpot, "BTCUSDT", spot_inst(), {}, 0);
    const auto g_usdm = p.add_symbol(Venue::BinanceFutures, "BTCUSDT", usdm_inst(), {}, 1);
    p.start();
    Collector out(p);
    // Interleave the two files chunk by chunk, as two sockets would.
    std::string_view a = c.spot;
    std::string_view b = c.usdm;
    while (!a.empty() || !b.empty()) {
        for (auto* v : {&a, &b}) {
            const auto cut = v->find('\n', std::min<std::size_t>(v->size(), 20000));
            const std::size_t n = cut == std::string_view::npos ? v->size() : cut + 1;
            p.feed_lines(v == &a ? Venue::BinanceSpot : Venue::BinanceFutures, v->substr(0, n),
                         LineFormat::NsPrefixed);
            v->remove_prefix(n);
        }
    }
    p.finish();
    out.join();

    std::map<std::uint32_t, std::vector<OutRecord>> got_series;
    std::map<std::uint32_t, std::vector<OutRecord>> got_signals;
    std::size_t scores = 0;
    for (const auto& r : out.records) {
        if (r.kind == OutKind::Point) {
            got_series[r.symbol_id].push_back(r);
        } else if (r.kind == OutKind::Signal) {
            got_signals[r.symbol_id].push_back(r);
        } else if (r.kind == OutKind::Score) {
            ++scores;
            ASSERT_GE(r.done_ns, r.recv_ns);
        }
    }
    const std::map<std::uint32_t, std::uint32_t> to_global{{s_spot, g_spot}, {s_usdm, g_usdm}};
    for (const auto& [ref, glob] : to_global) {
        const auto& want = want_series[ref];
        const auto& got = got_series[glob];
        ASSERT_EQ(want.size(), got.size()) << "symbol " << ref;
        for (std::size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(want[i].ts_ns, got[i].ts_ns) << i;
            ASSERT_TRUE(same_double(want[i].score, got[i].score)) << i;
            ASSERT_TRUE(same_double(want[i].score_raw, got[i].score_raw)) << i;
            ASSERT_TRUE(same_double(want[i].mid_px, got[i].mid_px)) << i;
            ASSERT_TRUE(same_double(want[i].confidence, got[i].confidence)) << i;
            for (std::size_t k = 0; k < confluex::kComponentCount; ++k) {
                ASSERT_TRUE(same_double(want[i].components[k], got[i].components[k])) << i;
            }
        }
        const auto& ws = want_signals[ref];
        const auto& gs = got_signals[glob];
        ASSERT_EQ(ws.size(), gs.size());
        for (std::size_t i = 0; i < ws.size(); ++i) {
            ASSERT_EQ(ws[i].ts_ns, gs[i].ts_ns);
            ASSERT_EQ(ws[i].direction, gs[i].direction);
            ASSERT_TRUE(same_double(ws[i].score, gs[i].score));
        }
    }
    EXPECT_GT(scores, 1000U);
    for (std::uint32_t i = 0; i < 2; ++i) {
        const auto st = p.stats(i);
        EXPECT_EQ(st.input_dropped, 0U);
        EXPECT_EQ(st.output_dropped, 0U);
        EXPECT_EQ(st.symbols, 1U);
    }
    // The shards' engines hold the same books as the reference.
    EXPECT_EQ(p.engine(0).book(0).best_bid()->px, engine.book(s_spot).best_bid()->px);
    EXPECT_EQ(p.engine(1).book(0).best_ask()->px, engine.book(s_usdm).best_ask()->px);
}

TEST(Pipeline, InputOverflowIsCountedAndResyncsTheSymbol) {
    const Captures c = load();
    if (c.usdm.empty()) {
        GTEST_SKIP() << "real data not found under " << CONFLUEX_DATA_DIR;
    }
    PipelineConfig cfg;
    cfg.input_chunks = 1024; // 64 KiB: the REST snapshot fits, a burst of frames cannot
    cfg.wait.spin_ns = 0;
    Pipeline p(cfg);
    const auto sym = p.add_symbol(Venue::BinanceFutures, "BTCUSDT", usdm_inst());
    p.start();
    Collector out(p);
    std::uint64_t dropped = 0;
    std::size_t pos = 0;
    for (int burst = 0; burst < 4 && pos < c.usdm.size(); ++burst) {
        for (int i = 0; i < 500 && pos < c.usdm.size(); ++i) {
            const auto nl = c.usdm.find('\n', pos);
            const std::string_view line(c.usdm.data() + pos, nl - pos);
            pos = nl + 1;
            const auto [ts, json] = confluex::test::ts_and_json(line);
            dropped += p.push(Venue::BinanceFutures, json, ts) == PushStatus::Dropped ? 1U : 0U;
        }
    }
    p.finish();
    out.join();
    ASSERT_GT(dropped, 0U) << "the burst should overflow a 64 KiB ring";
    EXPECT_EQ(p.stats(0).input_dropped, dropped);
    std::uint64_t reported = 0;
    std::size_t resyncs = 0;
    for (const auto& r : out.records) {
        if (r.kind == OutKind::Resync) {
            EXPECT_EQ(r.symbol_id, sym);
            EXPECT_EQ(r.code,
                      static_cast<std::uint8_t>(confluex::pipeline::ResyncReason::Overflow));
            reported += r.count;
            ++resyncs;
        }
    }
    EXPECT_EQ(reported, dropped) << "every lost frame is reported in a Resync record";
    EXPECT_EQ(p.stats(0).overflow_resyncs, resyncs);
    EXPECT_GE(p.session(0, Venue::BinanceFutures)->health(0).desyncs +
                  p.session(0, Venue::BinanceFutures)->health(0).snapshots_applied,
              0U);
    // The last resync left the symbol without a trusted book (no snapshot followed it).
    EXPECT_TRUE(p.needs_snapshot(sym));
}

TEST(Pipeline, ConfluexErrorOnOneFrameBecomesAnErrorRecord) {
    PipelineConfig cfg;
    Pipeline p(cfg);
    const auto by = p.add_symbol(Venue::Bybit, "BTCUSDT", Instrument::from_strings("0.1", "0.001"));
    p.start();
    // A REST snapshot for a Bybit symbol: FeedSession::on_snapshot throws InvalidConfig.
    ASSERT_EQ(p.push_snapshot(by, R"({"lastUpdateId":1,"bids":[],"asks":[]})", 1),
              PushStatus::Accepted);
    ASSERT_EQ(
        p.push(
            Venue::Bybit,
            R"({"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1.000"]],"a":[["100.5","2.000"]],"u":5,"seq":1}})",
            2),
        PushStatus::Accepted);
    p.finish();
    std::vector<OutRecord> recs(64);
    recs.resize(p.drain(recs.data(), recs.size()));
    ASSERT_GE(recs.size(), 2U);
    EXPECT_EQ(recs[0].kind, OutKind::Error);
    EXPECT_EQ(recs[0].symbol_id, by);
    EXPECT_EQ(recs[0].code,
              static_cast<std::uint8_t>(confluex::pipeline::ErrorCode::InvalidConfig));
    EXPECT_EQ(p.stats(0).errors, 1U);
    bool scored = false;
    for (const auto& r : recs) {
        scored = scored || (r.kind == OutKind::Score && r.symbol_id == by &&
                            r.phase == static_cast<std::uint8_t>(SyncPhase::Synced));
    }
    EXPECT_TRUE(scored) << "the shard goes on after the error";
    EXPECT_FALSE(p.failed());
}

TEST(Pipeline, ArmedConsumerIsWokenThroughTheFd) {
    PipelineConfig cfg;
    cfg.shards = 2;
    Pipeline p(cfg);
    const auto sym =
        p.add_symbol(Venue::Bybit, "BTCUSDT", Instrument::from_strings("0.1", "0.001"), {}, 1);
    p.start();
    EXPECT_FALSE(p.wait(5)) << "nothing published yet";
    ASSERT_TRUE(p.arm());
    pollfd fd{p.notify_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&fd, 1, 0), 0);
    ASSERT_EQ(
        p.push(
            Venue::Bybit,
            R"({"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1.000"]],"a":[["100.5","2.000"]],"u":5,"seq":1}})",
            2),
        PushStatus::Accepted);
    EXPECT_EQ(::poll(&fd, 1, 5000), 1) << "the shard writes the fd of an armed consumer";
    p.ack();
    OutRecord rec{};
    ASSERT_EQ(p.drain(&rec, 1), 1U);
    EXPECT_EQ(rec.symbol_id, sym);
    EXPECT_EQ(rec.kind, OutKind::Score);
    EXPECT_DOUBLE_EQ(rec.mid_px, 100.25);
    EXPECT_EQ(p.phase(sym), SyncPhase::Synced);
    p.stop();
    EXPECT_TRUE(p.ended());
    EXPECT_THROW((void)p.push(Venue::Bybit, "{}", 3), confluex::InvalidConfig);
}

// The lines of `data` from `first` on (after head_lines(data, first)).
std::string_view tail_from(const std::string& data, std::size_t first) {
    return std::string_view(data).substr(head_lines(data, first).size());
}

TEST(Pipeline, RestInputsAreAppliedOnTheShardInOrderWithItsFrames) {
    const Captures c = load();
    if (c.usdm.empty()) {
        GTEST_SKIP() << "real data not found under " << CONFLUEX_DATA_DIR;
    }
    const std::string data = head_lines(c.usdm, 4000);
    const std::string first = head_lines(data, 2000);
    const std::string_view second = tail_from(data, 2000);
    // SYNTHETIC samples, stamped 1 s before the second half's first line (fresh, not stale).
    const std::int64_t kTs =
        std::stoll(std::string(second.substr(0, second.find(' ')))) - 1'000'000'000;
    // Reference: one engine fed the same inputs in the same order on this thread.
    Engine engine;
    const auto ref_sym = engine.add_symbol("u", usdm_inst());
    FeedSession ref(engine, Venue::BinanceFutures);
    ref.add_symbol("BTCUSDT", ref_sym);
    ref.replay(first, LineFormat::NsPrefixed);
    const auto half = ref.health(ref_sym);
    engine.on_funding(ref_sym, kTs, 0.0001);
    EXPECT_THROW(engine.on_open_interest(ref_sym, kTs, -1.0), confluex::InvalidEvent);
    engine.on_open_interest(ref_sym, kTs, 80'000.0);
    engine.on_long_short(ref_sym, kTs, 0.55, 0.45);
    ref.replay(second, LineFormat::NsPrefixed);

    PipelineConfig cfg;
    cfg.shards = 2;
    cfg.lossless = true;
    Pipeline p(cfg);
    const auto sym = p.add_symbol(Venue::BinanceFutures, "BTCUSDT", usdm_inst(), {}, 1);
    p.start();
    Collector out(p);
    const std::size_t lines = p.feed_lines(Venue::BinanceFutures, first, LineFormat::NsPrefixed);
    // The shard publishes its health when it goes idle (and periodically while busy, so a
    // snapshot may show every depth message while trailing trades are still queued): wait
    // for all three counts, readable while it runs.
    for (int i = 0; i < 5000 && (p.stats(1).frames != lines ||
                                 p.health(sym).depth_messages != half.depth_messages ||
                                 p.health(sym).trade_messages != half.trade_messages);
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(p.stats(1).frames, lines);
    EXPECT_EQ(p.health(sym).depth_messages, half.depth_messages);
    EXPECT_EQ(p.health(sym).trade_messages, half.trade_messages);
    EXPECT_EQ(p.push_funding(sym, kTs, 0.0001), PushStatus::Accepted);
    EXPECT_EQ(p.push_open_interest(sym, kTs, -1.0), PushStatus::Accepted); // refused there
    EXPECT_EQ(p.push_open_interest(sym, kTs, 80'000.0), PushStatus::Accepted);
    EXPECT_EQ(p.push_long_short(sym, kTs, 0.55, 0.45), PushStatus::Accepted);
    EXPECT_THROW((void)p.push_funding(7, kTs, 0.0), confluex::UnknownSymbol);
    (void)p.feed_lines(Venue::BinanceFutures, second, LineFormat::NsPrefixed);
    p.finish();
    out.join();

    std::vector<OutRecord> inputs;
    std::size_t scores_before = 0; // Score records published before the first Input record
    for (const auto& r : out.records) {
        if (r.kind == OutKind::Input) {
            inputs.push_back(r);
        } else if (r.kind == OutKind::Score && inputs.empty()) {
            ++scores_before;
        }
    }
    ASSERT_EQ(inputs.size(), 4U);
    const FrameKind kinds[] = {FrameKind::Funding, FrameKind::OpenInterest, FrameKind::OpenInterest,
                               FrameKind::LongShort};
    const ErrorCode codes[] = {ErrorCode::None, ErrorCode::InvalidEvent, ErrorCode::None,
                               ErrorCode::None};
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        EXPECT_EQ(inputs[i].symbol_id, sym);
        EXPECT_EQ(inputs[i].ts_ns, kTs);
        EXPECT_EQ(inputs[i].count, static_cast<std::uint64_t>(kinds[i])) << i;
        EXPECT_EQ(inputs[i].code, static_cast<std::uint8_t>(codes[i])) << i;
    }
    EXPECT_EQ(scores_before, half.depth_messages + half.trade_messages + half.snapshot_messages)
        << "in order with the frames: after the first half's records, before the second's";
    // ... and the shard's engine ends where the reference does.
    Engine& e = p.engine(1);
    const auto local = p.local_id(sym);
    EXPECT_TRUE(same_double(e.result(local).score, engine.result(ref_sym).score));
    EXPECT_EQ(e.result(local).has_data_mask, engine.result(ref_sym).has_data_mask);
    const auto& got = e.component(local, confluex::Component::Sentiment);
    const auto& want = engine.component(ref_sym, confluex::Component::Sentiment);
    ASSERT_EQ(got.n_sub, want.n_sub);
    double funding_weight = 0.0;
    for (std::size_t i = 0; i < got.n_sub; ++i) {
        EXPECT_TRUE(same_double(got.sub[i], want.sub[i])) << got.sub_name[i];
        EXPECT_TRUE(same_double(got.sub_weight[i], want.sub_weight[i])) << got.sub_name[i];
        if (std::string_view(got.sub_name[i]) == "funding_rate") {
            funding_weight = got.sub_weight[i];
        }
    }
    EXPECT_GT(funding_weight, 0.0) << "the funding rate reached the shard's sentiment view";
    EXPECT_EQ(p.health(sym).depth_messages, ref.health(ref_sym).depth_messages);
    EXPECT_EQ(p.health(sym).snapshots_applied, ref.health(ref_sym).snapshots_applied);
    EXPECT_EQ(p.stats(1).input_dropped, 0U);
}

// The series a one-shard pipeline publishes for the USD-M prefix, fed in chunks.
std::vector<OutRecord> pipeline_series(const std::string& data, PipelineConfig cfg,
                                       confluex::pipeline::ShardStats& stats) {
    Pipeline p(cfg);
    (void)p.add_symbol(Venue::BinanceFutures, "BTCUSDT", usdm_inst());
    p.start();
    Collector out(p);
    std::string_view v = data;
    while (!v.empty()) {
        const auto cut = v.find('\n', std::min<std::size_t>(v.size(), 65536));
        const std::size_t n = cut == std::string_view::npos ? v.size() : cut + 1;
        p.feed_lines(Venue::BinanceFutures, v.substr(0, n), LineFormat::NsPrefixed);
        v.remove_prefix(n);
    }
    p.finish();
    out.join();
    stats = p.stats(0);
    std::vector<OutRecord> series;
    for (const auto& r : out.records) {
        if (r.kind == OutKind::Point) {
            series.push_back(r);
        }
    }
    return series;
}

TEST(Pipeline, EveryWaitPolicyGivesTheSingleThreadedSeries) {
    const Captures c = load();
    if (c.usdm.empty()) {
        GTEST_SKIP() << "real data not found under " << CONFLUEX_DATA_DIR;
    }
    const std::string data = head_lines(c.usdm, 4000);
    Engine engine;
    const auto sym = engine.add_symbol("u", usdm_inst());
    FeedSession ref(engine, Venue::BinanceFutures);
    ref.add_symbol("BTCUSDT", sym);
    ref.replay(data, LineFormat::NsPrefixed);
    const std::vector<ScorePoint> want = ref.series();
    ASSERT_GT(want.size(), 20U);
    struct Case {
        WaitPolicy policy;
        bool lossless; // lossless waits for room; live mode drops (never here: 8 MiB ring)
        std::int64_t spin_ns;
        std::int64_t warm_ns;
    };
    for (const Case k :
         {Case{WaitPolicy::BusyPoll, true, 0, 1'000},
          Case{WaitPolicy::SpinYield, true, 1'000, 5'000},
          Case{WaitPolicy::SpinYield, false, 0, 1'000}, Case{WaitPolicy::Blocking, true, 0, 0},
          Case{WaitPolicy::Blocking, false, 20'000, 2'000}}) {
        SCOPED_TRACE(static_cast<int>(k.policy) * 10 + static_cast<int>(k.lossless));
        PipelineConfig cfg;
        cfg.lossless = k.lossless;
        cfg.input_chunks = std::size_t{1} << 17; // 8 MiB: more than the prefix, never full
        cfg.wait.policy = k.policy;
        cfg.wait.spin_ns = k.spin_ns;
        cfg.wait.warm_ns = k.warm_ns;
        confluex::pipeline::ShardStats st;
        const std::vector<OutRecord> got = pipeline_series(data, cfg, st);
        ASSERT_EQ(st.input_dropped, 0U);
        ASSERT_EQ(got.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            ASSERT_EQ(got[i].ts_ns, want[i].ts_ns) << i;
            ASSERT_TRUE(same_double(got[i].score, want[i].score)) << i;
            ASSERT_TRUE(same_double(got[i].score_raw, want[i].score_raw)) << i;
            ASSERT_TRUE(same_double(got[i].mid_px, want[i].mid_px)) << i;
        }
        if (k.policy == WaitPolicy::BusyPoll) {
            EXPECT_EQ(st.sleeps, 0U); // never blocks (SpinYield does on a contended core)
        }
        if (k.warm_ns == 0) {
            EXPECT_EQ(st.warm_passes, 0U);
        }
    }
}

TEST(Pipeline, WarmPassesLeaveResultsBitIdentical) {
    const Captures c = load();
    if (c.usdm.empty()) {
        GTEST_SKIP() << "real data not found under " << CONFLUEX_DATA_DIR;
    }
    const std::string data = head_lines(c.usdm, 4000);
    // Two sessions on the same messages; one runs a warm pass (FeedSession::warm, with its
    // engine's Engine::warm rehearsal) before every message, as an idle engine thread does.
    Engine e1;
    Engine e2;
    const auto s1 = e1.add_symbol("u", usdm_inst());
    const auto s2 = e2.add_symbol("u", usdm_inst());
    FeedSession plain(e1, Venue::BinanceFutures);
    FeedSession warmed(e2, Venue::BinanceFutures);
    plain.add_symbol("BTCUSDT", s1);
    warmed.add_symbol("BTCUSDT", s2);
    std::string_view v = data;
    std::size_t checked = 0;
    while (!v.empty()) {
        const auto nl = v.find('\n');
        std::string_view line = v.substr(0, nl);
        v.remove_prefix(nl == std::string_view::npos ? v.size() : nl + 1);
        const auto sp = line.find(' ');
        ASSERT_NE(sp, std::string_view::npos);
        const std::int64_t ts = std::stoll(std::string(line.substr(0, sp)));
        line.remove_prefix(sp + 1);
        warmed.warm();
        (void)plain.on_message(line, ts);
        (void)warmed.on_message(line, ts);
        const auto& a = e1.result(s1);
        const auto& b = e2.result(s2);
        ASSERT_TRUE(same_double(a.score, b.score)) << checked;
        ASSERT_TRUE(same_double(a.score_raw, b.score_raw)) << checked;
        for (std::size_t k = 0; k < confluex::kComponentCount; ++k) {
            ASSERT_TRUE(same_double(a.component_score[k], b.component_score[k])) << checked;
        }
        ++checked;
    }
    EXPECT_GT(checked, 3000U);
    EXPECT_TRUE(e2.book(s2).in_sync());
    EXPECT_EQ(plain.parser_counters().messages, warmed.parser_counters().messages)
        << "the warm parse has its own parser";
}

TEST(Pipeline, RejectsBadConfigAndLateSymbols) {
    PipelineConfig cfg;
    cfg.wait.park_ns = -1;
    EXPECT_THROW(Pipeline{cfg}, confluex::InvalidConfig);
    cfg.wait.park_ns = 0;
    cfg.wait.warm_ns = -5;
    EXPECT_THROW(Pipeline{cfg}, confluex::InvalidConfig);
    cfg.wait.warm_ns = 0;
    cfg.wait.policy = static_cast<WaitPolicy>(7);
    EXPECT_THROW(Pipeline{cfg}, confluex::InvalidConfig);
    cfg = PipelineConfig{};
    cfg.shards = 0;
    EXPECT_THROW(Pipeline{cfg}, confluex::InvalidConfig);
    cfg.shards = 1;
    cfg.input_chunks = 100;
    EXPECT_THROW(Pipeline{cfg}, confluex::InvalidConfig);
    Pipeline p;
    EXPECT_THROW(p.add_symbol(Venue::Bybit, "BTCUSDT", usdm_inst(), {}, 3),
                 confluex::InvalidConfig);
    p.add_symbol(Venue::Bybit, "BTCUSDT", usdm_inst());
    EXPECT_THROW(p.add_symbol(Venue::Bybit, "btcusdt", usdm_inst()), confluex::InvalidConfig);
    p.start();
    EXPECT_THROW(p.add_symbol(Venue::Bybit, "ETHUSDT", usdm_inst()), confluex::InvalidConfig);
    EXPECT_THROW((void)p.push_snapshot(7, "{}", 0), confluex::UnknownSymbol);
    std::string big(5U << 20, ' ');
    EXPECT_THROW((void)p.push(Venue::Bybit, big, 0), confluex::CapacityExceeded);
    p.finish();
    p.finish(); // idempotent
}

TEST(Pipeline, FrameSymbolReadsStreamTopicAndEventSymbol) {
    using confluex::pipeline::detail::frame_symbol;
    EXPECT_EQ(frame_symbol(R"({"stream":"btcusdt@depth@100ms","data":{}})"), "btcusdt");
    EXPECT_EQ(frame_symbol(R"({"stream" : "ethusdt@trade","data":{}})"), "ethusdt");
    EXPECT_EQ(frame_symbol(R"({"topic":"orderbook.200.XRPUSDT","data":{}})"), "XRPUSDT");
    EXPECT_EQ(frame_symbol(R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1})"), "BTCUSDT");
    EXPECT_EQ(frame_symbol(R"({"lastUpdateId":1,"bids":[]})"), "");
    EXPECT_EQ(frame_symbol(R"({"stream":)"), "");
    EXPECT_EQ(frame_symbol(""), "");
}

TEST(IdlePoll, ReturnsWhenReadyOrWhenThePolicyBlocks) {
    using confluex::pipeline::idle_poll;
    using confluex::pipeline::WaitConfig;
    int warms = 0;
    const auto warm = [&] { ++warms; };
    // Blocking with no spin budget: block at once; no warm pass without warm_ns.
    WaitConfig w{WaitPolicy::Blocking, 0, 0, 0};
    EXPECT_FALSE(idle_poll(
        w, [] { return false; }, warm));
    EXPECT_EQ(warms, 0);
    // SpinYield parks after park_ns.
    w = WaitConfig{WaitPolicy::SpinYield, 0, 1'000'000, 0};
    EXPECT_FALSE(idle_poll(
        w, [] { return false; }, warm));
    // Every policy returns true as soon as ready() does, and warms every warm_ns meanwhile.
    for (const WaitPolicy policy :
         {WaitPolicy::BusyPoll, WaitPolicy::SpinYield, WaitPolicy::Blocking}) {
        int polls = 0;
        warms = 0;
        w = WaitConfig{policy, 1'000'000'000, 1'000'000'000, 1};
        EXPECT_TRUE(idle_poll(
            w, [&] { return ++polls == 2000; }, warm));
        EXPECT_EQ(polls, 2000);
        EXPECT_GE(warms, 1);
    }
}

#if defined(__linux__)
TEST(IdlePoll, SpinYieldBlocksWhenAnotherThreadWantsTheCore) {
    // A busy thread on the same CPU: the yields hand it the core, the switch count moves,
    // and SpinYield must block (return false) long before park_ns.
    using confluex::pipeline::idle_poll;
    using confluex::pipeline::involuntary_switches;
    using confluex::pipeline::WaitConfig;
    cpu_set_t mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
    std::size_t cpu = 0;
    while (cpu < static_cast<std::size_t>(CPU_SETSIZE) && !CPU_ISSET(cpu, &mine)) {
        ++cpu;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
        GTEST_SKIP() << "cannot pin this thread to one CPU here";
    }
    std::atomic<bool> stop{false};
    std::thread busy([&] {
        (void)sched_setaffinity(0, sizeof one, &one);
        while (!stop.load(std::memory_order_relaxed)) {
        }
    });
    const std::int64_t before = involuntary_switches();
    const auto t0 = std::chrono::steady_clock::now();
    const WaitConfig w{WaitPolicy::SpinYield, 0, 10'000'000'000, 0};
    const bool ready = idle_poll(
        w, [] { return false; }, [] {});
    const auto waited = std::chrono::steady_clock::now() - t0;
    const std::int64_t after = involuntary_switches();
    stop.store(true);
    busy.join();
    (void)sched_setaffinity(0, sizeof mine, &mine);
    EXPECT_FALSE(ready);
    EXPECT_LT(waited, std::chrono::seconds(2));
    EXPECT_GE(before, 0);
    EXPECT_GT(after, before);
}

TEST(IdlePoll, SpinYieldStaysHotWhenNoOtherThreadRuns) {
    // Alone, a yield that looks long (a stalled vCPU: ~300 a second on the project's VMs)
    // is no reason to block: only a moved switch count is. 20 waits of 20 ms: the old rule
    // (block on any yield over 5 us) gave up in nearly all of them on such a VM.
    using confluex::pipeline::idle_poll;
    using confluex::pipeline::WaitConfig;
    const WaitConfig w{WaitPolicy::SpinYield, 0, 10'000'000'000, 0};
    int gave_up = 0;
    for (int trial = 0; trial < 20; ++trial) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        if (!idle_poll(
                w, [&] { return std::chrono::steady_clock::now() >= until; }, [] {})) {
            ++gave_up;
        }
    }
    EXPECT_LE(gave_up, 10) << "SpinYield blocked without another thread wanting the core";
}
#endif

TEST(TailRing, DrainKeepsItsChunksAndReusesThem) {
    // The engine thread drains series points after each message: the next points must go
    // into the chunks it kept, not into new ones (a 30 KB allocation per point, unbounded).
    confluex::feed::detail::TailRing<int> ring(1000);
    for (int i = 0; i < 300; ++i) {
        ring.push(i);
    }
    ASSERT_EQ(ring.chunks(), 2U);
    std::vector<int> got;
    ring.drain([&](int v) { got.push_back(v); });
    ASSERT_EQ(got.size(), 300U);
    EXPECT_EQ(got.front(), 0);
    EXPECT_EQ(got.back(), 299);
    EXPECT_EQ(ring.size(), 0U);
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 300; ++i) {
            ring.push(1000 * round + i);
        }
        EXPECT_EQ(ring.chunks(), 2U) << "round " << round;
        const std::vector<int> items = ring.ordered();
        ASSERT_EQ(items.size(), 300U);
        EXPECT_EQ(items.front(), 1000 * round);
        EXPECT_EQ(items.back(), 1000 * round + 299);
        ring.drain([](int) {});
    }
}

TEST(SpscRing, FrontNReadsInPlaceUnlessTheItemsWrap) {
    SpscRing<std::int64_t> ring(8);
    const std::int64_t v[6] = {1, 2, 3, 4, 5, 6};
    EXPECT_EQ(ring.front_n(1), nullptr) << "empty";
    ASSERT_TRUE(ring.try_push_all(v, 6));
    EXPECT_EQ(ring.front_n(7), nullptr) << "only 6 items";
    const std::int64_t* p = ring.front_n(6);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p[0], 1);
    EXPECT_EQ(p[5], 6);
    ring.discard(5);                         // read index 5: slots 5, 6, 7 then 0, 1 ...
    ASSERT_TRUE(ring.try_push_all(v, 4));    // items at slots 6, 7, 0, 1
    const std::int64_t* q = ring.front_n(3); // slots 5..7: contiguous
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q[0], 6);
    EXPECT_EQ(q[1], 1);
    EXPECT_EQ(ring.front_n(4), nullptr) << "slots 5..8 wrap around the end";
    ring.discard(3);
    EXPECT_EQ(ring.size(), 2U);
    const std::int64_t* r = ring.front_n(2);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r[0], 3);
    EXPECT_EQ(r[1], 4);
}

TEST(SpscRing, TryPushAllPushesEverythingOrNothing) {
    SpscRing<std::int64_t> ring(8);
    const std::int64_t v[6] = {1, 2, 3, 4, 5, 6};
    ASSERT_TRUE(ring.try_push_all(v, 6));
    EXPECT_EQ(ring.free_slots(), 2U);
    EXPECT_FALSE(ring.try_push_all(v, 3));
    EXPECT_EQ(ring.size(), 6U) << "a refused batch leaves nothing behind";
    EXPECT_EQ(ring.dropped(), 3U);
    std::int64_t out[8];
    ASSERT_EQ(ring.pop_n(out, 4), 4U);
    ASSERT_TRUE(ring.try_push_all(v, 6)); // wraps around the end
    ASSERT_EQ(ring.pop_n(out, 8), 8U);
    EXPECT_EQ(out[0], 5);
    EXPECT_EQ(out[2], 1);
    EXPECT_EQ(out[7], 6);
}

} // namespace
