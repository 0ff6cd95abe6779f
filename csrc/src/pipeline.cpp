// Pipeline: per-shard engine threads fed through SPSC rings (see pipeline.hpp).
#include "confluex/pipeline.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "confluex/errors.hpp"
#include "line_stamp.hpp"

namespace confluex::pipeline {

namespace {

using feed::FeedSession;
using feed::kNoSymbol;
using feed::MsgKind;
using feed::ParseResult;
using feed::SyncPhase;

constexpr std::size_t kChunkBytes = sizeof(FrameChunk);
constexpr std::size_t kBatchFrames = 64; // frames per loop turn before the flags are checked
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::int64_t now_ns() noexcept { return steady_now_ns(); }

std::size_t chunks_for(std::size_t len) noexcept {
    return (kFrameHeaderBytes + len + kChunkBytes - 1) / kChunkBytes;
}

std::size_t venue_index(Venue v) {
    const auto i = static_cast<std::size_t>(v);
    if (i >= kVenueCount) {
        throw InvalidConfig("venue must be 0..2, was " + std::to_string(i));
    }
    return i;
}

const char* venue_name(Venue v) noexcept {
    switch (v) {
    case Venue::BinanceSpot:
        return "binance_spot";
    case Venue::BinanceFutures:
        return "binance_futures";
    case Venue::Bybit:
        return "bybit";
    }
    return "venue";
}

// The string value after the key that starts at `at` ("key" : "value"), or empty.
std::string_view string_value(std::string_view f, std::size_t at, std::size_t key_len) noexcept {
    std::size_t i = at + key_len;
    auto skip_ws = [&] {
        while (i < f.size() && (f[i] == ' ' || f[i] == '\t' || f[i] == '\r' || f[i] == '\n')) {
            ++i;
        }
    };
    skip_ws();
    if (i >= f.size() || f[i] != ':') {
        return {};
    }
    ++i;
    skip_ws();
    if (i >= f.size() || f[i] != '"') {
        return {};
    }
    ++i;
    const std::size_t end = f.find('"', i);
    if (end == std::string_view::npos) {
        return {};
    }
    return f.substr(i, end - i);
}

ErrorCode code_of(const std::exception_ptr& p) {
    try {
        std::rethrow_exception(p);
    } catch (const InvalidEvent&) {
        return ErrorCode::InvalidEvent;
    } catch (const BookCrossed&) {
        return ErrorCode::BookCrossed;
    } catch (const CapacityExceeded&) {
        return ErrorCode::CapacityExceeded;
    } catch (const UnknownSymbol&) {
        return ErrorCode::UnknownSymbol;
    } catch (const InvalidConfig&) {
        return ErrorCode::InvalidConfig;
    } catch (...) {
        return ErrorCode::Other;
    }
}

// A record of `kind` for a symbol with no score in it (NaN prices and scores).
OutRecord blank_record(OutKind kind, std::uint32_t symbol_id, std::int64_t ts_ns,
                       std::int64_t recv_ns) noexcept {
    OutRecord rec{};
    rec.ts_ns = ts_ns;
    rec.recv_ns = recv_ns;
    rec.symbol_id = symbol_id;
    rec.kind = kind;
    rec.mid_px = rec.score = rec.score_raw = rec.confidence = rec.reliability = kNaN;
    std::fill(std::begin(rec.components), std::end(rec.components), kNaN);
    return rec;
}

// The header of a frame pushed now.
FrameHeader header(FrameKind kind, Venue venue, std::uint32_t symbol_id, std::size_t len,
                   std::int64_t ts_ns) noexcept {
    FrameHeader h{};
    h.ts_ns = ts_ns;
    h.recv_ns = now_ns();
    h.len = static_cast<std::uint32_t>(len);
    h.symbol_id = symbol_id;
    h.kind = kind;
    h.venue = venue;
    return h;
}

void check_power_of_two(std::size_t v, std::size_t min, const char* what) {
    if (v < min || (v & (v - 1)) != 0) {
        throw InvalidConfig(std::string(what) + " must be a power of two >= " +
                            std::to_string(min) + ", was " + std::to_string(v));
    }
}

} // namespace

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::int64_t involuntary_switches() noexcept {
#if defined(__linux__)
    rusage r{};
    if (getrusage(RUSAGE_THREAD, &r) == 0) {
        return static_cast<std::int64_t>(r.ru_nivcsw);
    }
#endif
    return -1;
}

namespace detail {

std::string_view frame_symbol(std::string_view f) noexcept {
    const std::string_view head = f.substr(0, 256);
    if (const auto at = head.find("\"stream\""); at != std::string_view::npos) {
        const std::string_view v = string_value(f, at, 8);
        return v.substr(0, v.find('@'));
    }
    if (const auto at = head.find("\"topic\""); at != std::string_view::npos) {
        const std::string_view v = string_value(f, at, 7);
        const auto dot = v.rfind('.');
        return dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
    }
    if (const auto at = head.find("\"s\""); at != std::string_view::npos) {
        return string_value(f, at, 3);
    }
    return {};
}

std::uint64_t shard_hash(Venue venue, std::string_view venue_symbol) noexcept {
    std::uint64_t h = 14695981039346656037ULL;
    auto mix = [&h](unsigned char c) {
        h ^= c;
        h *= 1099511628211ULL;
    };
    for (const char* p = venue_name(venue); *p != '\0'; ++p) {
        mix(static_cast<unsigned char>(*p));
    }
    mix(':');
    for (const char c : venue_symbol) {
        mix(static_cast<unsigned char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
    }
    return h;
}

} // namespace detail

struct Pipeline::Symbol {
    std::string name;
    std::string venue_symbol;
    Venue venue;
    std::uint32_t shard;
    std::uint32_t local;
    // Producer: frames of this symbol refused since the shard last resynced it.
    std::atomic<std::uint64_t> overflow_pending{0};
    // Shard: the sync phase after the symbol's latest frame.
    std::atomic<std::uint8_t> phase{static_cast<std::uint8_t>(SyncPhase::AwaitingSnapshot)};
};

struct Pipeline::Shard {
    Shard(std::uint32_t i, const PipelineConfig& cfg)
        : index(i), input(cfg.input_chunks), output(cfg.output_capacity),
          engine(std::make_unique<Engine>(cfg.engine)) {}

    std::uint32_t index;
    SpscRing<FrameChunk> input;
    SpscRing<OutRecord> output;
    std::unique_ptr<Engine> engine;
    std::array<std::unique_ptr<FeedSession>, kVenueCount> sessions{};
    std::vector<std::uint32_t> global_of_local;
    std::vector<FrameChunk> scratch; // engine thread: the frame being processed
    std::thread thread;

    // Sleep/wake of the engine thread (see Design: Waking).
    std::mutex mu;
    std::condition_variable cv;
    std::atomic<std::uint32_t> sleeping{0};
    std::atomic<bool> overflow{false}; // producer: some symbol has overflow_pending
    // Producer: chunks queued by feed_lines() since this shard's last wake check.
    std::size_t unwoken_chunks = 0;
    // Engine thread: records published since the consumer was last notified.
    bool notify_pending = false;

    // Engine-thread counters (relaxed: statistics).
    std::atomic<std::uint64_t> frames{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> output_records{0};
    std::atomic<std::uint64_t> output_dropped{0};
    std::atomic<std::uint64_t> overflow_resyncs{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<std::uint64_t> sleeps{0};
    std::atomic<std::uint64_t> warm_passes{0};
    // Producer-thread counters.
    std::atomic<std::uint64_t> input_dropped{0};
    std::atomic<std::uint64_t> unrouted{0};
    std::atomic<std::uint64_t> wakeups{0};

    // The health snapshot (see Design: Health): SymbolHealth by local id, written by the
    // engine thread (and add_symbol() before start) under health_mu, read by health().
    mutable std::mutex health_mu;
    std::vector<feed::SymbolHealth> health;
    bool health_dirty = false;  // engine thread: frames processed since the last publish
    std::int64_t health_ns = 0; // engine thread: when it last published

    LatencyHistogram latency;   // engine thread; read after join
    std::exception_ptr failure; // written by the engine thread before `ended` (release)
    std::atomic<bool> failed{false};
    std::atomic<bool> ended{false};
};

Pipeline::Pipeline(PipelineConfig cfg) : cfg_(std::move(cfg)) {
    if (cfg_.shards < 1 || cfg_.shards > kMaxShards) {
        throw InvalidConfig("shards must be in [1, " + std::to_string(kMaxShards) + "], was " +
                            std::to_string(cfg_.shards));
    }
    check_power_of_two(cfg_.input_chunks, 64, "input_chunks");
    check_power_of_two(cfg_.output_capacity, 2, "output_capacity");
    if (static_cast<std::uint8_t>(cfg_.wait.policy) > 2) {
        throw InvalidConfig("wait policy must be 0..2, was " +
                            std::to_string(static_cast<int>(cfg_.wait.policy)));
    }
    for (const auto& [v, what] :
         {std::pair{cfg_.wait.spin_ns, "spin_ns"}, std::pair{cfg_.wait.park_ns, "park_ns"},
          std::pair{cfg_.wait.warm_ns, "warm_ns"}}) {
        if (v < 0) {
            throw InvalidConfig(std::string(what) + " must be >= 0, was " + std::to_string(v));
        }
    }
    // A throw-away session validates the session config here, not on an engine thread.
    {
        Engine probe(cfg_.engine);
        FeedSession check(probe, Venue::BinanceSpot, cfg_.session);
    }
    shards_.reserve(cfg_.shards);
    for (std::uint32_t i = 0; i < cfg_.shards; ++i) {
        shards_.push_back(std::make_unique<Shard>(i, cfg_));
    }
#if defined(__linux__)
    notify_read_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (notify_read_fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    notify_write_fd_ = notify_read_fd_;
#else
    int fds[2];
    if (::pipe(fds) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe");
    }
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    notify_read_fd_ = fds[0];
    notify_write_fd_ = fds[1];
#endif
}

Pipeline::~Pipeline() {
    stop();
    if (notify_write_fd_ >= 0 && notify_write_fd_ != notify_read_fd_) {
        ::close(notify_write_fd_);
    }
    if (notify_read_fd_ >= 0) {
        ::close(notify_read_fd_);
    }
}

std::uint32_t Pipeline::add_symbol(Venue venue, std::string_view venue_symbol,
                                   const Instrument& inst, std::string_view name, int shard) {
    if (started_) {
        throw InvalidConfig("add_symbol() must come before start(), was after it for " +
                            std::string(venue_symbol));
    }
    const std::size_t vi = venue_index(venue);
    if (shard >= static_cast<int>(cfg_.shards)) {
        throw InvalidConfig("shard must be < " + std::to_string(cfg_.shards) + ", was " +
                            std::to_string(shard));
    }
    const auto target =
        shard >= 0
            ? static_cast<std::uint32_t>(shard)
            : static_cast<std::uint32_t>(detail::shard_hash(venue, venue_symbol) % cfg_.shards);
    std::string engine_name(name);
    if (engine_name.empty()) {
        engine_name = std::string(venue_name(venue)) + ":" + std::string(venue_symbol);
    }
    for (const auto& s : symbols_) {
        if (s->name == engine_name) {
            throw InvalidConfig("symbol name already registered, was " + engine_name);
        }
    }
    const auto global = static_cast<std::uint32_t>(symbols_.size());
    // Validates the venue symbol (and refuses a duplicate) before anything changes.
    feed::SymbolTable table = tables_[vi];
    table.add(venue_symbol, global, inst);
    Shard& sh = *shards_[target];
    const std::uint32_t local = sh.engine->add_symbol(engine_name, inst);
    if (!sh.sessions[vi]) {
        sh.sessions[vi] = std::make_unique<FeedSession>(*sh.engine, venue, cfg_.session);
    }
    sh.sessions[vi]->add_symbol(venue_symbol, local);
    sh.global_of_local.resize(std::max<std::size_t>(sh.global_of_local.size(), local + 1U),
                              kNoSymbol);
    sh.global_of_local[local] = global;
    {
        const std::lock_guard<std::mutex> lock(sh.health_mu);
        sh.health.resize(sh.global_of_local.size());
        sh.health[local] = sh.sessions[vi]->health(local);
    }
    tables_[vi] = std::move(table);
    auto sym = std::make_unique<Symbol>();
    sym->name = std::move(engine_name);
    sym->venue_symbol = std::string(venue_symbol);
    sym->venue = venue;
    sym->shard = target;
    sym->local = local;
    symbols_.push_back(std::move(sym));
    if (first_shard_[vi] < 0 || static_cast<std::int32_t>(target) < first_shard_[vi]) {
        first_shard_[vi] = static_cast<std::int32_t>(target);
    }
    ++venue_symbols_[vi];
    return global;
}

void Pipeline::start() {
    if (started_) {
        throw InvalidConfig("the pipeline was already started");
    }
    started_ = true;
    for (auto& sp : shards_) {
        Shard& s = *sp;
        s.scratch.resize(1024);
        s.thread = std::thread([this, &s] { run_shard(s); });
    }
}

// --- producer side ------------------------------------------------------------------------

void Pipeline::require_running(const char* what) const {
    if (!started_ || joined_ || closing_.load(std::memory_order_relaxed)) {
        throw InvalidConfig(std::string(what) + " needs a started, unfinished pipeline, was " +
                            (started_ ? "finished" : "not started"));
    }
    rethrow_if_failed();
}

Pipeline::Shard& Pipeline::route(Venue venue, std::string_view frame, std::uint32_t& symbol_id) {
    const std::size_t vi = venue_index(venue);
    symbol_id = kNoSymbol;
    const std::string_view text = detail::frame_symbol(frame);
    if (!text.empty()) {
        if (const auto* e = tables_[vi].find(text); e != nullptr) {
            symbol_id = e->symbol_id;
            return *shards_[symbols_[symbol_id]->shard];
        }
    }
    // No symbol (or an unknown one): the venue's first shard, which holds the venue's only
    // symbol when there is one (the symbol-less REST snapshot line of a capture); that symbol
    // then owns the frame for overflow accounting.
    if (venue_symbols_[vi] == 1) {
        symbol_id = tables_[vi].entries().front().symbol_id;
    }
    return *shards_[static_cast<std::size_t>(first_shard_[vi])];
}

PushStatus Pipeline::enqueue(Shard& s, const FrameHeader& h, std::string_view payload,
                             std::uint32_t symbol_id, bool defer_wake) {
    const std::size_t n = chunks_for(payload.size());
    if (n > s.input.capacity()) {
        throw CapacityExceeded("frame does not fit the input ring (" +
                               std::to_string(s.input.capacity() * kChunkBytes) + " bytes), was " +
                               std::to_string(payload.size()) + " bytes");
    }
    if (staging_.size() < n) {
        staging_.resize(std::max(n, staging_.size() * 2));
    }
    auto* bytes = reinterpret_cast<unsigned char*>(staging_.data());
    std::memcpy(bytes, &h, sizeof h);
    if (!payload.empty()) {
        std::memcpy(bytes + kFrameHeaderBytes, payload.data(), payload.size());
    }
    if (cfg_.lossless) {
        // Wait for room (checked first, so the ring's dropped() never counts a retry); a
        // shard asleep with deferred frames is woken first (it is the one to make room).
        if (s.input.free_slots() < n) {
            wake(s);
        }
        for (unsigned spins = 0; s.input.free_slots() < n; ++spins) {
            if (abort_.load(std::memory_order_relaxed)) {
                return PushStatus::Dropped;
            }
            rethrow_if_failed();
            if (spins < 64) {
                std::this_thread::yield();
            } else {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
    }
    if (!s.input.try_push_all(staging_.data(), n)) {
        s.input_dropped.store(s.input_dropped.load(std::memory_order_relaxed) + 1,
                              std::memory_order_relaxed);
        if (symbol_id != kNoSymbol) {
            symbols_[symbol_id]->overflow_pending.fetch_add(1, std::memory_order_relaxed);
            // release: the pending count is visible to the shard that sees the flag.
            s.overflow.store(true, std::memory_order_release);
        }
        // The ring is full: the shard has work, but it may sleep on deferred frames.
        wake(s);
        return PushStatus::Dropped;
    }
    s.unwoken_chunks += n;
    if (!defer_wake || s.unwoken_chunks >= s.input.capacity() / 16) {
        wake(s);
    }
    return PushStatus::Accepted;
}

void Pipeline::wake(Shard& s) {
    if (s.unwoken_chunks == 0) {
        return;
    }
    s.unwoken_chunks = 0;
    // An RMW, not a load: `sleeping` then has one modification order with idle_wait()'s
    // exchange. If this read comes first, that exchange reads from it (acq_rel both ways) and
    // so sees every frame pushed before it; if it comes after, we see 1 and notify under the
    // shard's mutex. (Fences would do too, but ThreadSanitizer cannot check them.)
    if (s.sleeping.fetch_add(0, std::memory_order_acq_rel) != 0) {
        s.wakeups.store(s.wakeups.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        const std::lock_guard<std::mutex> lock(s.mu);
        s.cv.notify_one();
    }
}

PushStatus Pipeline::push(Venue venue, std::string_view frame, std::int64_t ts_ns) {
    require_running("push()");
    const std::size_t vi = venue_index(venue);
    if (first_shard_[vi] < 0) {
        Shard& s0 = *shards_[0];
        s0.unrouted.store(s0.unrouted.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
        return PushStatus::Unrouted;
    }
    std::uint32_t symbol_id = kNoSymbol;
    Shard& s = route(venue, frame, symbol_id);
    return enqueue(s, header(FrameKind::Message, venue, kNoSymbol, frame.size(), ts_ns), frame,
                   symbol_id);
}

PushStatus Pipeline::push_snapshot(std::uint32_t symbol_id, std::string_view json,
                                   std::int64_t ts_ns) {
    require_running("push_snapshot()");
    const Symbol& y = sym(symbol_id);
    return enqueue(*shards_[y.shard],
                   header(FrameKind::Snapshot, y.venue, symbol_id, json.size(), ts_ns), json,
                   symbol_id);
}

PushStatus Pipeline::request_resync(std::uint32_t symbol_id) {
    require_running("request_resync()");
    const Symbol& y = sym(symbol_id);
    return enqueue(*shards_[y.shard], header(FrameKind::Resync, y.venue, symbol_id, 0, 0), {},
                   symbol_id);
}

PushStatus Pipeline::push_input(const char* what, FrameKind kind, std::uint32_t symbol_id,
                                std::int64_t ts_ns, std::initializer_list<double> values) {
    require_running(what);
    const Symbol& y = sym(symbol_id);
    std::array<double, 2> v{};
    assert(values.size() <= v.size());
    std::copy(values.begin(), values.end(), v.begin());
    const std::string_view payload(reinterpret_cast<const char*>(v.data()),
                                   values.size() * sizeof(double));
    // No symbol for the overflow accounting: a refused sample is counted and returned as
    // Dropped, but it says nothing about the book, so it does not resync the symbol.
    return enqueue(*shards_[y.shard], header(kind, y.venue, symbol_id, payload.size(), ts_ns),
                   payload, kNoSymbol);
}

PushStatus Pipeline::push_funding(std::uint32_t symbol_id, std::int64_t ts_ns, double rate) {
    return push_input("push_funding()", FrameKind::Funding, symbol_id, ts_ns, {rate});
}

PushStatus Pipeline::push_open_interest(std::uint32_t symbol_id, std::int64_t ts_ns, double value) {
    return push_input("push_open_interest()", FrameKind::OpenInterest, symbol_id, ts_ns, {value});
}

PushStatus Pipeline::push_long_short(std::uint32_t symbol_id, std::int64_t ts_ns, double long_share,
                                     double short_share) {
    return push_input("push_long_short()", FrameKind::LongShort, symbol_id, ts_ns,
                      {long_share, short_share});
}

std::size_t Pipeline::feed_lines(Venue venue, std::string_view data, feed::LineFormat format) {
    require_running("feed_lines()");
    const std::size_t vi = venue_index(venue);
    // Every shard with deferred frames is woken when this returns (or throws).
    struct WakeAll {
        Pipeline& p;
        ~WakeAll() {
            for (auto& sp : p.shards_) {
                p.wake(*sp);
            }
        }
    } wake_all{*this};
    std::size_t fed = 0;
    feed::detail::for_each_stamped_line(data, format, [&](std::string_view line, std::int64_t ts) {
        // an empty line (bad stamp) is counted as Malformed by the venue's first shard, as
        // replay() does
        if (first_shard_[vi] < 0) {
            (void)push(venue, line, ts); // counted as unrouted
            return;
        }
        std::uint32_t symbol_id = kNoSymbol;
        Shard& s = route(venue, line, symbol_id);
        if (enqueue(s, header(FrameKind::Message, venue, kNoSymbol, line.size(), ts), line,
                    symbol_id, true) == PushStatus::Accepted) {
            ++fed;
        }
    });
    return fed;
}

void Pipeline::finish() {
    if (started_ && !joined_) {
        // release: every frame pushed before is visible to a shard that sees the flag.
        closing_.store(true, std::memory_order_release);
        join_all();
    }
    joined_ = true;
    rethrow_if_failed();
}

void Pipeline::stop() noexcept {
    if (!started_ || joined_) {
        joined_ = true;
        return;
    }
    abort_.store(true, std::memory_order_release);
    join_all();
}

void Pipeline::join_all() noexcept {
    for (auto& sp : shards_) {
        Shard& s = *sp;
        {
            const std::lock_guard<std::mutex> lock(s.mu);
            s.cv.notify_one();
        }
    }
    for (auto& sp : shards_) {
        if (sp->thread.joinable()) {
            sp->thread.join();
        }
    }
    joined_ = true;
}

// --- engine threads --------------------------------------------------------------------------

void Pipeline::run_shard(Shard& s) noexcept {
    try {
        process(s);
    } catch (...) {
        s.failure = std::current_exception();
        // release: `failure` is written before any thread can see `failed`.
        s.failed.store(true, std::memory_order_release);
    }
    publish_health(s, true); // the final state, whatever ended the thread
    s.ended.store(true, std::memory_order_release);
    // An ending shard always wakes the consumer, armed or not, so wait() sees the end.
    armed_.store(0, std::memory_order_relaxed);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto w = ::write(notify_write_fd_, &one, sizeof one);
}

void Pipeline::process(Shard& s) {
    for (;;) {
        std::size_t n = 0;
        while (n < kBatchFrames) {
            const FrameChunk* first = s.input.front();
            if (first == nullptr) {
                break;
            }
            FrameHeader h;
            std::memcpy(&h, first, sizeof h);
            const std::size_t chunks = chunks_for(h.len);
            if (const FrameChunk* whole = s.input.front_n(chunks); whole != nullptr) {
                // In place: the chunks stay ours until discard().
                process_frame(s, h,
                              std::string_view(reinterpret_cast<const char*>(whole->bytes) +
                                                   kFrameHeaderBytes,
                                               h.len));
                s.input.discard(chunks);
            } else {
                // The frame wraps around the ring's end: copied out, contiguous.
                if (s.scratch.size() < chunks) {
                    s.scratch.resize(std::max(chunks, s.scratch.size() * 2));
                }
                [[maybe_unused]] const std::size_t got = s.input.pop_n(s.scratch.data(), chunks);
                assert(got == chunks && "a frame is published whole");
                process_frame(s, h,
                              std::string_view(reinterpret_cast<const char*>(s.scratch.data()) +
                                                   kFrameHeaderBytes,
                                               h.len));
            }
            // Counted once processed (a reader of `frames` knows the frame is done).
            s.frames.store(s.frames.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            ++n;
            if (abort_.load(std::memory_order_relaxed)) {
                return;
            }
        }
        // acquire: pairs with the producer's release store after a refused frame.
        if (s.overflow.load(std::memory_order_relaxed) &&
            s.overflow.exchange(false, std::memory_order_acq_rel)) {
            handle_overflow(s);
        }
        // One notification per batch (the batch ends when the ring is empty, so a frame
        // that arrives alone is announced as soon as it is processed).
        if (s.notify_pending) {
            s.notify_pending = false;
            notify_consumer();
        }
        if (n > 0) {
            // After the records are out: the health snapshot every kHealthPeriodNs while
            // frames keep coming; when the shard goes idle, idle_wait() publishes it (see
            // Design: Health).
            s.health_dirty = true;
            if (now_ns() - s.health_ns >= kHealthPeriodNs) {
                publish_health(s, false);
            }
            continue;
        }
        if (abort_.load(std::memory_order_acquire)) {
            return;
        }
        // acquire: pairs with finish()'s release store; every frame pushed before it is then
        // visible to the empty() check below.
        if (closing_.load(std::memory_order_acquire) && s.input.empty()) {
            if (s.overflow.exchange(false, std::memory_order_acq_rel)) {
                handle_overflow(s);
            }
            return;
        }
        idle_wait(s);
    }
}

void Pipeline::idle_wait(Shard& s) {
    const auto ready = [&] {
        return !s.input.empty() || s.overflow.load(std::memory_order_relaxed) ||
               closing_.load(std::memory_order_relaxed) || abort_.load(std::memory_order_relaxed);
    };
    // A health snapshot the batch could not publish (a reader held it) is retried while idle,
    // and published for certain before the thread sleeps.
    if (s.health_dirty) {
        publish_health(s, false);
    }
    const auto warm_pass = [&] {
        if (s.health_dirty) {
            publish_health(s, false);
        }
        warm(s);
    };
    if (idle_poll(cfg_.wait, ready, warm_pass)) {
        return;
    }
    if (s.health_dirty) {
        publish_health(s, true);
    }
    std::unique_lock<std::mutex> lock(s.mu);
    // acq_rel RMW: see wake(). A producer either reads 1 here (and notifies under the mutex,
    // which we hold until the wait releases it) or its frame is visible to ready() below.
    (void)s.sleeping.exchange(1, std::memory_order_acq_rel);
    if (!ready()) {
        s.sleeps.store(s.sleeps.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        // The timeout is a backstop only; every state change notifies.
        s.cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    s.sleeping.store(0, std::memory_order_relaxed);
}

void Pipeline::warm(Shard& s) noexcept {
    for (const auto& session : s.sessions) {
        if (session) {
            session->reserve_ahead();
            session->warm();
        }
    }
    s.warm_passes.store(s.warm_passes.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
}

void Pipeline::publish_health(Shard& s, bool wait) noexcept {
    std::unique_lock<std::mutex> lock(s.health_mu, std::defer_lock);
    if (wait) {
        lock.lock();
    } else if (!lock.try_lock()) {
        return; // a reader holds it: the next batch publishes (health_dirty stays set)
    }
    for (std::uint32_t local = 0; local < s.global_of_local.size(); ++local) {
        const std::uint32_t global = s.global_of_local[local];
        if (global != kNoSymbol) {
            const auto vi = static_cast<std::size_t>(symbols_[global]->venue);
            s.health[local] = s.sessions[vi]->health(local);
        }
    }
    lock.unlock();
    s.health_dirty = false;
    s.health_ns = now_ns();
}

void Pipeline::apply_input(Shard& s, const FrameHeader& h, std::string_view payload) {
    std::array<double, 2> v{};
    assert(payload.size() <= sizeof v && "a REST input carries at most two doubles");
    std::memcpy(v.data(), payload.data(), std::min(payload.size(), sizeof v));
    const Symbol& y = *symbols_[h.symbol_id];
    OutRecord rec = blank_record(OutKind::Input, h.symbol_id, h.ts_ns, h.recv_ns);
    rec.count = static_cast<std::uint64_t>(h.kind);
    try {
        Engine& e = *s.engine;
        if (h.kind == FrameKind::Funding) {
            e.on_funding(y.local, h.ts_ns, v[0]);
        } else if (h.kind == FrameKind::OpenInterest) {
            e.on_open_interest(y.local, h.ts_ns, v[0]);
        } else {
            e.on_long_short(y.local, h.ts_ns, v[0], v[1]);
        }
    } catch (const Error&) {
        // Refused (InvalidEvent: a bad value; InvalidConfig: no bar views): state unchanged.
        rec.code = static_cast<std::uint8_t>(code_of(std::current_exception()));
    }
    rec.phase = y.phase.load(std::memory_order_relaxed);
    rec.done_ns = now_ns();
    emit(s, rec);
}

void Pipeline::process_frame(Shard& s, const FrameHeader& h, std::string_view payload) {
    s.bytes.store(s.bytes.load(std::memory_order_relaxed) + payload.size(),
                  std::memory_order_relaxed);
    FeedSession* session = s.sessions[static_cast<std::size_t>(h.venue)].get();
    assert(session != nullptr && "frames are routed to a shard with a session of their venue");
    std::uint32_t local = kNoSymbol;
    try {
        switch (h.kind) {
        case FrameKind::Message: {
            const ParseResult r = session->on_message(payload, h.ts_ns);
            after_message(s, *session, r, h);
            return;
        }
        case FrameKind::Snapshot: {
            local = symbols_[h.symbol_id]->local;
            const ParseResult r = session->on_snapshot(local, payload, h.ts_ns);
            OutRecord rec = blank_record(OutKind::Snapshot, h.symbol_id, h.ts_ns, h.recv_ns);
            rec.code = r.ok() && !session->needs_snapshot(local) ? 1 : 0;
            rec.count = static_cast<std::uint64_t>(r.error);
            after_message(s, *session, r, h);
            rec.phase = static_cast<std::uint8_t>(session->health(local).phase);
            rec.done_ns = now_ns();
            emit(s, rec);
            return;
        }
        case FrameKind::Resync: {
            local = symbols_[h.symbol_id]->local;
            session->request_resync(local);
            symbols_[h.symbol_id]->phase.store(
                static_cast<std::uint8_t>(session->health(local).phase), std::memory_order_release);
            OutRecord rec = blank_record(OutKind::Resync, h.symbol_id, h.ts_ns, h.recv_ns);
            rec.code = static_cast<std::uint8_t>(ResyncReason::Requested);
            rec.phase = static_cast<std::uint8_t>(session->health(local).phase);
            rec.done_ns = now_ns();
            emit(s, rec);
            return;
        }
        case FrameKind::Funding:
        case FrameKind::OpenInterest:
        case FrameKind::LongShort:
            apply_input(s, h, payload);
            return;
        }
    } catch (const Error&) {
        // A confluex error on one frame: reported for its symbol, the shard goes on.
        s.errors.store(s.errors.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        OutRecord rec = blank_record(OutKind::Error, h.symbol_id, h.ts_ns, h.recv_ns);
        rec.code = static_cast<std::uint8_t>(code_of(std::current_exception()));
        rec.done_ns = now_ns();
        emit(s, rec);
    }
}

void Pipeline::after_message(Shard& s, FeedSession& session, const ParseResult& r,
                             const FrameHeader& h) {
    if (r.symbol_id == kNoSymbol || r.symbol_id >= s.global_of_local.size()) {
        publish_taken(s, session);
        return;
    }
    const std::uint32_t local = r.symbol_id;
    const std::uint32_t global = s.global_of_local[local];
    const SyncPhase phase = session.health(local).phase;
    // release: a reader of the phase sees the state this frame left (statistics only).
    symbols_[global]->phase.store(static_cast<std::uint8_t>(phase), std::memory_order_release);
    const bool changed = r.ok() && (r.kind == MsgKind::Depth || r.kind == MsgKind::Trade ||
                                    r.kind == MsgKind::Snapshot);
    // A score record after a stream message, and after a pushed REST snapshot once it has
    // synced the book (LiveFeed's on_update is called then too; code 1 marks it).
    const bool rest_sync = h.kind == FrameKind::Snapshot && !session.needs_snapshot(local);
    if (changed && cfg_.emit_scores && (h.kind == FrameKind::Message || rest_sync)) {
        Engine& e = *s.engine;
        const ConfluenceResult& res = e.result(local);
        OutRecord rec{};
        rec.ts_ns = h.ts_ns;
        rec.recv_ns = h.recv_ns;
        rec.symbol_id = global;
        rec.kind = OutKind::Score;
        rec.phase = static_cast<std::uint8_t>(phase);
        rec.code = rest_sync ? 1 : 0;
        rec.count = static_cast<std::uint64_t>(r.kind);
        rec.mid_px = kNaN;
        const OrderBook& book = e.book(local);
        if (book.in_sync()) {
            const auto bb = book.best_bid();
            const auto ba = book.best_ask();
            if (bb && ba) {
                const Instrument& inst = e.instrument(local);
                rec.mid_px = 0.5 * (inst.ticks_to_price(bb->px) + inst.ticks_to_price(ba->px));
            }
        }
        rec.score = res.score;
        rec.score_raw = res.score_raw;
        rec.confidence = res.confidence;
        rec.reliability = res.reliability;
        for (std::size_t c = 0; c < kComponentCount; ++c) {
            rec.components[c] = (res.has_data_mask >> c) & 1U ? res.component_score[c] : kNaN;
        }
        rec.done_ns = now_ns();
        if (!rest_sync) { // the push -> score latency of stream frames
            s.latency.record(rec.done_ns - h.recv_ns);
        }
        emit(s, rec);
    }
    if (changed) {
        publish_taken(s, session);
    }
}

void Pipeline::publish_taken(Shard& s, FeedSession& session) {
    // The session records series points and crossings; they leave through the output ring at
    // once (drain_* allocates nothing: the session keeps its buffers).
    session.drain_series([&](const feed::ScorePoint& p) {
        OutRecord rec{};
        rec.ts_ns = p.ts_ns;
        rec.symbol_id = s.global_of_local[p.symbol_id];
        rec.kind = OutKind::Point;
        rec.mid_px = p.mid_px;
        rec.score = p.score;
        rec.score_raw = p.score_raw;
        rec.confidence = p.confidence;
        rec.reliability = p.reliability;
        std::copy(std::begin(p.components), std::end(p.components), std::begin(rec.components));
        rec.done_ns = now_ns();
        emit(s, rec);
    });
    session.drain_signals([&](const feed::SignalEvent& e) {
        OutRecord rec = blank_record(OutKind::Signal, s.global_of_local[e.symbol_id], e.ts_ns, 0);
        rec.direction = static_cast<std::int8_t>(e.direction);
        rec.mid_px = e.mid_px;
        rec.score = e.score;
        rec.done_ns = now_ns();
        emit(s, rec);
    });
}

void Pipeline::handle_overflow(Shard& s) {
    for (std::uint32_t local = 0; local < s.global_of_local.size(); ++local) {
        const std::uint32_t global = s.global_of_local[local];
        if (global == kNoSymbol) {
            continue;
        }
        Symbol& y = *symbols_[global];
        // acquire: pairs with the flag's release store (the count is read after the flag).
        const std::uint64_t lost = y.overflow_pending.exchange(0, std::memory_order_acq_rel);
        if (lost == 0) {
            continue;
        }
        FeedSession& session = *s.sessions[static_cast<std::size_t>(y.venue)];
        session.request_resync(local);
        s.overflow_resyncs.store(s.overflow_resyncs.load(std::memory_order_relaxed) + 1,
                                 std::memory_order_relaxed);
        const auto phase = static_cast<std::uint8_t>(session.health(local).phase);
        y.phase.store(phase, std::memory_order_release);
        OutRecord rec = blank_record(OutKind::Resync, global, 0, 0);
        rec.code = static_cast<std::uint8_t>(ResyncReason::Overflow);
        rec.count = lost;
        rec.phase = phase;
        rec.done_ns = now_ns();
        emit(s, rec);
    }
}

void Pipeline::emit(Shard& s, const OutRecord& rec) {
    if (cfg_.lossless) {
        // Wait for room; free_slots() is exact enough (a lower bound) and keeps dropped() honest.
        for (unsigned spins = 0; s.output.free_slots() == 0; ++spins) {
            if (abort_.load(std::memory_order_relaxed)) {
                break;
            }
            notify_consumer();
            if (spins < 64) {
                std::this_thread::yield();
            } else {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
    }
    if (s.output.try_push(rec)) {
        s.output_records.store(s.output_records.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
    } else {
        s.output_dropped.store(s.output_dropped.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
    }
    s.notify_pending = true; // process() notifies once per batch
}

void Pipeline::notify_consumer() noexcept {
    // Always the RMW (see enqueue()): if it precedes arm()'s exchange in armed_'s order, that
    // exchange reads from it and the consumer then sees our record; otherwise we read 1.
    if (armed_.exchange(0, std::memory_order_acq_rel) != 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto w = ::write(notify_write_fd_, &one, sizeof one);
    }
}

// --- consumer side ---------------------------------------------------------------------------

std::size_t Pipeline::drain(OutRecord* dst, std::size_t max) noexcept {
    std::size_t got = 0;
    for (auto& sp : shards_) {
        if (got == max) {
            break;
        }
        got += sp->output.pop_n(dst + got, max - got);
    }
    return got;
}

std::size_t Pipeline::pending() const noexcept {
    std::size_t n = 0;
    for (const auto& sp : shards_) {
        n += sp->output.size();
    }
    return n;
}

bool Pipeline::arm() noexcept {
    // acq_rel RMW: pairs with notify_consumer()'s exchange (see there).
    (void)armed_.exchange(1, std::memory_order_acq_rel);
    for (const auto& sp : shards_) {
        if (!sp->output.empty()) {
            return false;
        }
    }
    return true;
}

void Pipeline::ack() noexcept {
    std::uint64_t v = 0;
    while (::read(notify_read_fd_, &v, sizeof v) > 0) {
#if defined(__linux__)
        break; // an eventfd read resets its counter
#endif
    }
}

bool Pipeline::wait(int timeout_ms) {
    rethrow_if_failed();
    if (!arm()) {
        return true;
    }
    if (!ended()) {
        pollfd p{notify_read_fd_, POLLIN, 0};
        int rc = 0;
        do {
            rc = ::poll(&p, 1, timeout_ms);
        } while (rc < 0 && errno == EINTR);
        ack();
    }
    rethrow_if_failed();
    for (const auto& sp : shards_) {
        if (!sp->output.empty()) {
            return true;
        }
    }
    return false;
}

// --- reads ---------------------------------------------------------------------------------

const Pipeline::Symbol& Pipeline::sym(std::uint32_t symbol_id) const {
    if (symbol_id >= symbols_.size()) {
        throw UnknownSymbol("pipeline symbol id must be < " + std::to_string(symbols_.size()) +
                            ", was " + std::to_string(symbol_id));
    }
    return *symbols_[symbol_id];
}

std::uint32_t Pipeline::shard_of(std::uint32_t symbol_id) const { return sym(symbol_id).shard; }
std::uint32_t Pipeline::local_id(std::uint32_t symbol_id) const { return sym(symbol_id).local; }
const std::string& Pipeline::symbol_name(std::uint32_t symbol_id) const {
    return sym(symbol_id).name;
}
Venue Pipeline::venue_of(std::uint32_t symbol_id) const { return sym(symbol_id).venue; }

feed::SyncPhase Pipeline::phase(std::uint32_t symbol_id) const {
    // acquire: pairs with the engine thread's release store.
    return static_cast<SyncPhase>(sym(symbol_id).phase.load(std::memory_order_acquire));
}

ShardStats Pipeline::stats(std::uint32_t shard) const {
    if (shard >= shards_.size()) {
        throw InvalidConfig("shard must be < " + std::to_string(shards_.size()) + ", was " +
                            std::to_string(shard));
    }
    const Shard& s = *shards_[shard];
    constexpr auto r = std::memory_order_relaxed; // statistics
    ShardStats out;
    out.frames = s.frames.load(r);
    out.bytes = s.bytes.load(r);
    out.input_dropped = s.input_dropped.load(r);
    out.output_records = s.output_records.load(r);
    out.output_dropped = s.output_dropped.load(r);
    out.overflow_resyncs = s.overflow_resyncs.load(r);
    out.errors = s.errors.load(r);
    out.unrouted = s.unrouted.load(r);
    out.sleeps = s.sleeps.load(r);
    out.wakeups = s.wakeups.load(r);
    out.warm_passes = s.warm_passes.load(r);
    out.symbols = static_cast<std::uint32_t>(s.engine->symbol_count());
    return out;
}

feed::SymbolHealth Pipeline::health(std::uint32_t symbol_id) const {
    const Symbol& y = sym(symbol_id);
    const Shard& s = *shards_[y.shard];
    const std::lock_guard<std::mutex> lock(s.health_mu);
    return s.health[y.local];
}

bool Pipeline::ended() const noexcept {
    return std::all_of(shards_.begin(), shards_.end(), [this](const auto& sp) {
        return !started_ || sp->ended.load(std::memory_order_acquire);
    });
}

bool Pipeline::failed() const noexcept {
    return std::any_of(shards_.begin(), shards_.end(),
                       [](const auto& sp) { return sp->failed.load(std::memory_order_acquire); });
}

void Pipeline::rethrow_if_failed() const {
    for (const auto& sp : shards_) {
        // acquire: pairs with the release store after `failure` was written.
        if (sp->failed.load(std::memory_order_acquire)) {
            std::rethrow_exception(sp->failure);
        }
    }
}

void Pipeline::require_joined(const char* what) const {
    if (started_ && !joined_) {
        throw InvalidConfig(std::string(what) +
                            " reads a shard's engine: call it before start() or after finish() "
                            "or stop(), was while the engine threads run");
    }
}

Engine& Pipeline::engine(std::uint32_t shard) {
    require_joined("engine()");
    if (shard >= shards_.size()) {
        throw InvalidConfig("shard must be < " + std::to_string(shards_.size()) + ", was " +
                            std::to_string(shard));
    }
    return *shards_[shard]->engine;
}

feed::FeedSession* Pipeline::session(std::uint32_t shard, Venue venue) {
    require_joined("session()");
    if (shard >= shards_.size()) {
        throw InvalidConfig("shard must be < " + std::to_string(shards_.size()) + ", was " +
                            std::to_string(shard));
    }
    return shards_[shard]->sessions[venue_index(venue)].get();
}

const LatencyHistogram& Pipeline::latency(std::uint32_t shard) const {
    require_joined("latency()");
    if (shard >= shards_.size()) {
        throw InvalidConfig("shard must be < " + std::to_string(shards_.size()) + ", was " +
                            std::to_string(shard));
    }
    return shards_[shard]->latency;
}

} // namespace confluex::pipeline
