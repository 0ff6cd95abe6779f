// confluex/pipeline.hpp
//
// Provides Pipeline: the threaded engine. Raw exchange frames go in through one SpscRing per
// shard; one engine thread per shard drains its ring (parse, book sync, book, signals, score,
// through its own FeedSession and Engine) and publishes scores, series points, threshold
// crossings, resyncs and errors through one output SpscRing per shard, which a consumer thread
// drains in batches, woken through a file descriptor (eventfd on Linux, a pipe elsewhere) that
// an event loop can watch (asyncio's loop.add_reader), or by wait().
//
// Design:
//   - Sharding. Every symbol belongs to exactly one shard (explicitly, or by a stable FNV-1a
//     hash of "venue:symbol" so the assignment does not depend on registration order). A shard
//     owns an Engine and one FeedSession per venue among its symbols; nothing is shared
//     between shards, so a shard's thread touches no lock on the data path. Symbol ids given
//     out by add_symbol() are global and dense; each shard has its own dense engine ids.
//   - Routing. push() reads the symbol out of the frame's first bytes (Binance "stream" /
//     "s", Bybit "topic") and looks it up in the venue's SymbolTable (no allocation). A frame
//     that names no registered symbol (a reply, an unknown symbol, the symbol-less Binance REST
//     snapshot line of a one-symbol capture) goes to the venue's first shard, which is what a
//     single FeedSession would have done with it.
//   - Input ring. Frames are variable-length; the ring holds 64-byte chunks and a frame takes
//     whole consecutive chunks: a 32-byte FrameHeader, then the payload. A frame is pushed all
//     or nothing (SpscRing::try_push_all), so the consumer never sees half a frame.
//   - Overflow. A frame refused by a full input ring (live mode) is counted per shard and per
//     symbol and the symbol is resynced by its shard (FeedSession::request_resync, which makes
//     the feed fetch a snapshot), and a Resync record (reason kOverflow, with the count) goes
//     out: a lost frame is never silent. An output record refused by a full output ring is
//     counted (stats().output_dropped). In lossless mode (replay) producer and shards wait for
//     room instead, so nothing is dropped and results equal a single-threaded replay's.
//   - Waiting (WaitPolicy). What an idle shard does decides the latency of the next frame: a
//     thread that slept wakes milliseconds later under load (the scheduler), and even on an
//     idle machine it resumes on a cold core (L1/L2 refilled, a lower clock). So a latency
//     engine keeps its shard hot while it waits:
//       BusyPoll   polls its ring forever (a pause per poll): the best latency, one core per
//                  shard at 100 %;
//       SpinYield  polls for spin_ns, then polls with a sched_yield() between polls while
//                  those return at once (no other thread wants the core), and blocks after
//                  park_ns idle or as soon as a yield gave the core away: on a contended core
//                  a yielding thread waits behind the others for its turn (milliseconds under
//                  CFS), while a blocked one is woken with priority. A yield that took long is
//                  taken as "gave the core away" only when the thread's involuntary context
//                  switches (getrusage RUSAGE_THREAD, Linux) show that another thread ran: on
//                  a VM the hypervisor stalls a vCPU for 3-10 us every 50-80 us, which makes
//                  ~300 yields a second look slow on an idle machine (measured: 598 of 9.8 M
//                  in 2 s, with 6 switches), and each would have blocked a hot shard. The
//                  default: on a core of its own a live shard stays hot; on a shared one it
//                  blocks as Blocking;
//       Blocking   polls for spin_ns, then blocks (the lowest CPU; the right mode for a
//                  lossless replay, where the shard rarely waits and the reader needs the CPU).
//     While it polls, every warm_ns (0: never), and right after a yield that gave the core to
//     another thread, the shard runs a warm pass (~1 us): it prefetches its hot state (each
//     symbol's book top-K cache, best-price bitmap words and slots, signal and score state;
//     the session's record buffers) and rehearses the recompute kernels and a parse into
//     scratch outputs (Engine::warm, FeedSession::warm), so a frame after a long gap does not
//     start on cold caches. Nothing a result depends on changes. A frame that arrives during a
//     pass waits for its end: the period keeps that to a small share of frames.
//     A blocked shard is woken by the producer, which notifies it only when it sleeps (a flag
//     both sides update with acq_rel RMWs, so the two orders of "push" and "go to sleep" are
//     both safe: a push is never missed). feed_lines() defers those wake-ups: it wakes a
//     sleeping shard once a batch of frames is queued (1/16 of its ring) and at its return,
//     not per frame. The consumer arms a flag (same RMW pattern) before it waits; a shard that
//     published records checks it once per batch of frames (a batch ends when its ring is
//     empty, or after 64 frames) and writes the fd only when it was armed, so a busy consumer
//     costs the shards one atomic exchange per batch and no system call, and a lone frame is
//     announced as soon as it is processed.
//   - Zero copy. A frame whose chunks do not wrap around the ring's end is parsed where it
//     lies (the common case); a wrapped one is copied out first.
//   - REST inputs. A live feed polls the sentiment inputs (funding, open interest, long/short
//     ratio) over REST while the shards run; push_funding() / push_open_interest() /
//     push_long_short() queue each sample as a control frame in the owning shard's ring, so
//     the shard's engine thread applies it (Engine::on_funding ...) in order with the
//     symbol's frames, and answers with an Input record (applied, or refused with the
//     error's code). No other thread touches a running shard's engine. A sample refused by a
//     full ring is counted (input_dropped) and returned as Dropped; it does not resync the
//     book. Bar history (Engine::load_history) is loaded before start() through engine().
//   - Health. When the shard goes idle (idle_wait(), once the ring is empty after a batch),
//     and at least every kHealthPeriodNs while frames keep coming, a shard copies the
//     SymbolHealth of its symbols into a snapshot under a per-shard mutex that it only
//     try-locks on the data path (a reader holding it delays the copy to the idle loop's
//     next try; before the thread blocks, it waits for the lock): health() reads it from any
//     thread, at most one batch or kHealthPeriodNs old. The copy comes after the batch's
//     records are out, so it adds nothing to their latency (a frame that arrives meanwhile
//     waits for it).
//   - Errors. A confluex::Error raised while applying one frame (e.g. a REST snapshot pushed
//     for a Bybit symbol) becomes an Error record for that symbol and the shard goes on. Any
//     other exception stops the shard; rethrow_if_failed() (and push, wait, finish) rethrows
//     it on the caller's thread, so it surfaces with its own type.
//   - Lifetime. start() launches the threads. finish() lets every shard process what its
//     ring holds, then joins; stop() joins without processing the rest; the destructor stops.
//     Before start() and after finish()/stop(), the shards' engines and sessions may be used
//     (engine(), session()) from the producer thread.
//
// Threading contract: add_symbol(), start(), finish(), stop() and the producer calls (push(),
// push_snapshot(), the REST inputs push_funding() ..., request_resync(), feed_lines()) come
// from one producer thread at a time (callers serialise them, e.g. Python's GIL); drain(),
// arm() and wait() come from one consumer thread at a time. stats(), phase(), needs_snapshot() and
// health() may be called from any thread (snapshots).
#pragma once

#include <array>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "confluex/latency.hpp"
#include "confluex/spsc_ring.hpp"
#include "confluex/symbol_table.hpp"

namespace confluex::pipeline {

using feed::Venue;
inline constexpr std::size_t kVenueCount = 3;
inline constexpr std::uint32_t kMaxShards = 64;

// One slot of an input ring: a frame takes whole consecutive chunks.
struct alignas(64) FrameChunk {
    unsigned char bytes[64];
};

enum class FrameKind : std::uint8_t {
    Message = 0,  // a raw exchange frame
    Snapshot = 1, // a REST depth snapshot (Binance JSON) for header.symbol_id
    Resync = 2,   // request_resync(header.symbol_id)
    // REST inputs of header.symbol_id at header.ts_ns (payload: the doubles, native order)
    Funding = 3,      // Engine::on_funding(rate)
    OpenInterest = 4, // Engine::on_open_interest(value)
    LongShort = 5,    // Engine::on_long_short(long_share, short_share)
};

// The first 32 bytes of a frame's first chunk; the payload follows.
struct FrameHeader {
    std::int64_t ts_ns;      // the time given with the frame (the session's clock)
    std::int64_t recv_ns;    // steady clock at push: the origin of the pipeline latency
    std::uint32_t len;       // payload bytes
    std::uint32_t symbol_id; // global id (control frames); kNoSymbol for messages
    FrameKind kind;
    Venue venue;
    std::uint8_t reserved[6];
};
static_assert(std::is_trivially_copyable_v<FrameHeader> && sizeof(FrameHeader) == 32);
inline constexpr std::size_t kFrameHeaderBytes = sizeof(FrameHeader);

enum class OutKind : std::uint8_t {
    Score = 0,    // a message (or a REST snapshot that synced the book) changed the symbol:
                  // its score after it (emit_scores)
    Point = 1,    // a point of the symbol's score series (FeedSession series)
    Signal = 2,   // a threshold crossing (direction +1 LONG / -1 SHORT)
    Resync = 3,   // the symbol was resynced; reason says why, count how many frames were lost
    Error = 4,    // applying a frame raised a confluex error (the shard went on)
    Snapshot = 5, // a pushed REST snapshot was applied (flags bit 0: ok) or refused
    Input = 6,    // a pushed REST input was applied (code None) or refused (code: ErrorCode)
};

enum class ResyncReason : std::uint8_t { Overflow = 1, Requested = 2 };

enum class ErrorCode : std::uint8_t {
    None = 0,
    InvalidEvent = 1,
    BookCrossed = 2,
    CapacityExceeded = 3,
    UnknownSymbol = 4,
    InvalidConfig = 5,
    Other = 6,
};

// One output record (a POD row, viewed by NumPy). Which fields mean something depends on
// kind; the others are zero (NaN for prices and scores).
struct OutRecord {
    std::int64_t ts_ns;      // the frame's time (series point / signal: its event time)
    std::int64_t recv_ns;    // steady clock when the frame was pushed (0 for Point/Signal)
    std::int64_t done_ns;    // steady clock when the record was made
    std::uint32_t symbol_id; // global id
    OutKind kind;
    std::int8_t direction; // Signal: +1 / -1
    std::uint8_t phase;    // feed::SyncPhase of the symbol after the frame
    std::uint8_t code;     // Resync: ResyncReason; Error, Input: ErrorCode; Snapshot: 1 = applied;
                           // Score: 1 = after a pushed REST snapshot (0: a stream message)
    std::uint64_t count;   // Resync: frames lost since the last resync; Score: message kind;
                           // Input: the FrameKind of the input
    double mid_px;         // NaN when a side is empty or the book is not synced
    double score;
    double score_raw;
    double confidence;
    double reliability;
    double components[kComponentCount]; // NaN without data
};
static_assert(std::is_trivially_copyable_v<OutRecord> && sizeof(OutRecord) == 128);

// How an idle engine thread waits for its next frame (see Design: Waiting).
enum class WaitPolicy : std::uint8_t { BusyPoll = 0, SpinYield = 1, Blocking = 2 };

// The idle loop's parameters (PipelineConfig's wait fields; also used by the benchmarks so
// that a paced FeedSession waits as an engine thread does).
struct WaitConfig {
    WaitPolicy policy = WaitPolicy::SpinYield;
    std::int64_t spin_ns = 0;             // pure polling before yielding (or blocking)
    std::int64_t park_ns = 1'000'000'000; // SpinYield: idle this long, then block
    std::int64_t warm_ns = 100'000;       // warm pass period while polling (0: none)
};

struct PipelineConfig {
    std::uint32_t shards = 1;
    std::size_t input_chunks = std::size_t{1} << 16;    // per shard, power of two: 4 MiB
    std::size_t output_capacity = std::size_t{1} << 14; // per shard, power of two: 2 MiB
    bool emit_scores = true; // a Score record after every message that changed a symbol
    bool lossless = false;   // wait for room instead of dropping (replay); see Design
    WaitConfig wait{};       // the idle engine thread (see Design: Waiting)
    EngineConfig engine{};
    feed::SessionConfig session{};
};

// The monotonic clock of FrameHeader::recv_ns and OutRecord::done_ns (steady_clock, ns).
[[nodiscard]] std::int64_t steady_now_ns() noexcept;

// involuntary_switches()
// The calling thread's involuntary context switches so far (another thread was given its
// core: a preemption, or a sched_yield() that switched), or -1 where the platform does not
// count them (then every long yield counts as one).
[[nodiscard]] std::int64_t involuntary_switches() noexcept;

// idle_poll()
// The polling part of a WaitConfig: returns true as soon as ready() does, or false when the
// policy says the caller should now block (Blocking after spin_ns; SpinYield after park_ns,
// or as soon as a yield gave the core to another thread; never for BusyPoll). Calls warm() every
// warm_ns while it polls, and at once when the thread lost its core for a while (a yield, or a
// preemption, that took over 5 us: another thread ran there and evicted lines).
template <class Ready, class Warm> bool idle_poll(const WaitConfig& w, Ready&& ready, Warm&& warm) {
    constexpr std::int64_t kAwayNs = 5'000; // a gap this long: the core ran another thread
    const std::int64_t start = steady_now_ns();
    std::int64_t next_warm = w.warm_ns > 0 ? start + w.warm_ns : INT64_MAX;
    std::int64_t last = start;
    std::int64_t switches = INT64_MIN; // read at the first yield (a system call)
    for (;;) {
        for (int k = 0; k < 16; ++k) {
            if (ready()) {
                return true;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            asm volatile("yield");
#endif
        }
        const std::int64_t now = steady_now_ns();
        if (w.warm_ns > 0 && now - last > kAwayNs) {
            next_warm = now; // preempted (or back from a yield that lost the core): warm now
        }
        if (now >= next_warm) {
            warm();
            next_warm = now + w.warm_ns;
        }
        const std::int64_t idle = now - start;
        switch (w.policy) {
        case WaitPolicy::BusyPoll:
            break;
        case WaitPolicy::Blocking:
            if (idle >= w.spin_ns) {
                return false;
            }
            break;
        case WaitPolicy::SpinYield:
            if (idle >= w.park_ns) {
                return false;
            }
            if (idle >= w.spin_ns) {
                if (switches == INT64_MIN) {
                    switches = involuntary_switches();
                }
                std::this_thread::yield();
                // A long yield ran another thread when the switch count moved (a stalled
                // vCPU makes a yield look long too, without a switch). The core is then
                // contended: a thread that keeps yielding waits behind the others for its
                // next turn (ms, with CFS), while a blocked one is woken with priority.
                if (steady_now_ns() - now > kAwayNs &&
                    (switches < 0 || involuntary_switches() != switches)) {
                    return false;
                }
            }
            break;
        }
        last = steady_now_ns();
    }
}

// How often a busy shard republishes its symbols' health (see Design: Health).
inline constexpr std::int64_t kHealthPeriodNs = 1'000'000;

enum class PushStatus : std::uint8_t {
    Accepted = 0,
    Dropped = 1,  // the input ring was full: counted, and the symbol will resync
    Unrouted = 2, // no shard holds a symbol of this venue: counted, not queued
};

struct ShardStats {
    std::uint64_t frames = 0;           // frames processed by the engine thread
    std::uint64_t bytes = 0;            // their payload bytes
    std::uint64_t input_dropped = 0;    // frames refused by the full input ring
    std::uint64_t output_records = 0;   // records published
    std::uint64_t output_dropped = 0;   // records refused by the full output ring
    std::uint64_t overflow_resyncs = 0; // resyncs caused by input_dropped
    std::uint64_t errors = 0;           // Error records (confluex errors on one frame)
    std::uint64_t unrouted = 0;         // frames of a venue without symbols (producer side)
    std::uint64_t sleeps = 0;           // times the engine thread went to sleep
    std::uint64_t wakeups = 0;          // notifications the producer sent a sleeping shard
    std::uint64_t warm_passes = 0;      // warm passes run while idle
    std::uint32_t symbols = 0;
};

namespace detail {

// frame_symbol()
// Returns the venue symbol a frame names in its first bytes (Binance combined "stream" up to
// its '@', Bybit "topic" after its last '.', or a raw event's / tagged snapshot's "s"), or an
// empty view when it names none there.
[[nodiscard]] std::string_view frame_symbol(std::string_view frame) noexcept;

// shard_hash()
// Returns the stable FNV-1a-64 hash of "venue:SYMBOL" (ASCII upper-cased) that assigns a
// symbol to a shard when no shard is given.
[[nodiscard]] std::uint64_t shard_hash(Venue venue, std::string_view venue_symbol) noexcept;

} // namespace detail

class Pipeline {
  public:
    // Pipeline::Pipeline()
    // Builds the shards (rings, engines), no threads yet.
    // REQUIRES: 1 <= shards <= kMaxShards; ring sizes powers of two (input >= 64 chunks,
    // output >= 2); wait: a known policy, spin_ns, park_ns, warm_ns >= 0; valid engine and
    // session configs. Else InvalidConfig.
    explicit Pipeline(PipelineConfig cfg = {});
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    // Pipeline::add_symbol()
    // Registers a venue symbol ("BTCUSDT") on a shard (shard < 0: by detail::shard_hash) under
    // an engine name (empty: "venue:SYMBOL") and returns its global id (0, 1, 2...).
    // REQUIRES: before start(); shard < shards(); the venue symbol and name new. Else
    // InvalidConfig (nothing changed).
    std::uint32_t add_symbol(Venue venue, std::string_view venue_symbol, const Instrument& inst,
                             std::string_view name = {}, int shard = -1);
    // Pipeline::start()
    // Launches one engine thread per shard. REQUIRES: not started. Else InvalidConfig.
    void start();

    // --- producer thread ------------------------------------------------------------------

    // Pipeline::push()
    // Queues one raw frame received at ts_ns for its symbol's shard. Never blocks in live mode
    // (see Design: Overflow); waits for room in lossless mode.
    // REQUIRES: started and not finished; the frame fits a ring (CapacityExceeded otherwise).
    PushStatus push(Venue venue, std::string_view frame, std::int64_t ts_ns);
    // Pipeline::push_snapshot()
    // Queues a REST depth snapshot (Binance JSON) for a symbol. Throws UnknownSymbol.
    PushStatus push_snapshot(std::uint32_t symbol_id, std::string_view json, std::int64_t ts_ns);
    // Pipeline::request_resync()
    // Queues a resync of a symbol (its book is untrusted until a new snapshot).
    PushStatus request_resync(std::uint32_t symbol_id);
    // Pipeline::push_funding() / push_open_interest() / push_long_short()
    // Queues a REST sentiment sample of a symbol, published at ts_ns, for its shard's engine
    // thread (see Design: REST inputs); an Input record answers it. Never blocks in live
    // mode: a full ring returns Dropped (counted, no resync). Throws UnknownSymbol.
    PushStatus push_funding(std::uint32_t symbol_id, std::int64_t ts_ns, double rate);
    PushStatus push_open_interest(std::uint32_t symbol_id, std::int64_t ts_ns, double value);
    PushStatus push_long_short(std::uint32_t symbol_id, std::int64_t ts_ns, double long_share,
                               double short_share);
    // Pipeline::feed_lines()
    // Pushes every line of a capture buffer (LineFormat as FeedSession::replay reads it, with
    // the same time stamps); returns the number of lines pushed (lines refused in live mode
    // are counted as drops, not here).
    std::size_t feed_lines(Venue venue, std::string_view data, feed::LineFormat format);

    // Pipeline::finish()
    // Lets every shard process all queued frames, then joins the threads. Idempotent.
    // In lossless mode the consumer must keep draining meanwhile (or run finish() itself
    // between drains): a shard waits for room in its output ring. Rethrows a shard failure.
    void finish();
    // Pipeline::stop()
    // Joins the threads without processing what is still queued. Idempotent, never throws.
    void stop() noexcept;

    // --- consumer thread ------------------------------------------------------------------

    // Pipeline::drain()
    // Moves up to max records out of the shards' output rings into dst (shard by shard, each
    // shard's records in order) and returns how many. Never blocks.
    std::size_t drain(OutRecord* dst, std::size_t max) noexcept;
    // Pipeline::pending()
    // Returns how many records the output rings hold (a lower bound on the consumer thread).
    [[nodiscard]] std::size_t pending() const noexcept;
    // Pipeline::arm()
    // Asks the shards to write the notify fd at their next record. Returns false when a record
    // is already waiting (drain again instead of waiting).
    [[nodiscard]] bool arm() noexcept;
    // Pipeline::wait()
    // Waits until a record may be waiting, every shard has ended, or timeout_ms passed
    // (< 0: no limit); returns whether records are waiting. Rethrows a shard failure.
    bool wait(int timeout_ms);
    // Pipeline::notify_fd()
    // The fd that becomes readable when a record was published to an armed consumer; read it
    // with ack() before draining.
    [[nodiscard]] int notify_fd() const noexcept { return notify_read_fd_; }
    // Pipeline::ack()
    // Clears the fd's readability.
    void ack() noexcept;

    // --- any thread -----------------------------------------------------------------------

    [[nodiscard]] std::uint32_t shards() const noexcept { return cfg_.shards; }
    [[nodiscard]] std::size_t symbol_count() const noexcept { return symbols_.size(); }
    [[nodiscard]] std::uint32_t shard_of(std::uint32_t symbol_id) const;
    [[nodiscard]] std::uint32_t local_id(std::uint32_t symbol_id) const;
    [[nodiscard]] const std::string& symbol_name(std::uint32_t symbol_id) const;
    [[nodiscard]] Venue venue_of(std::uint32_t symbol_id) const;
    // Pipeline::phase() / needs_snapshot()
    // The symbol's sync phase as its shard last published it (after each of its frames).
    [[nodiscard]] feed::SyncPhase phase(std::uint32_t symbol_id) const;
    [[nodiscard]] bool needs_snapshot(std::uint32_t symbol_id) const {
        return phase(symbol_id) != feed::SyncPhase::Synced;
    }
    [[nodiscard]] ShardStats stats(std::uint32_t shard) const;
    // Pipeline::health()
    // The symbol's feed health as its shard last published it (see Design: Health; before
    // start() and after the threads joined, the session's own). Throws UnknownSymbol.
    [[nodiscard]] feed::SymbolHealth health(std::uint32_t symbol_id) const;
    [[nodiscard]] bool started() const noexcept { return started_; }
    [[nodiscard]] bool joined() const noexcept { return joined_; }
    // Pipeline::ended()
    // True when every engine thread has returned (finished, stopped or failed), or none ran.
    [[nodiscard]] bool ended() const noexcept;
    // Pipeline::failed()
    // True when a shard stopped on an exception (rethrow_if_failed() raises it).
    [[nodiscard]] bool failed() const noexcept;
    void rethrow_if_failed() const;
    [[nodiscard]] const PipelineConfig& config() const noexcept { return cfg_; }

    // --- before start() or after finish() / stop(), from the producer thread -----------

    // Pipeline::engine() / session() / latency()
    // A shard's engine, its session of a venue (nullptr when it has no symbol there), and
    // its push -> record latency histogram; before start() e.g. to warm a symbol up.
    // REQUIRES: the engine threads are not running (InvalidConfig otherwise).
    [[nodiscard]] Engine& engine(std::uint32_t shard);
    [[nodiscard]] feed::FeedSession* session(std::uint32_t shard, Venue venue);
    [[nodiscard]] const LatencyHistogram& latency(std::uint32_t shard) const;

  private:
    struct Shard;
    struct Symbol;

    void run_shard(Shard& s) noexcept;
    void process(Shard& s);
    void process_frame(Shard& s, const FrameHeader& h, std::string_view payload);
    void after_message(Shard& s, feed::FeedSession& session, const feed::ParseResult& r,
                       const FrameHeader& h);
    void publish_taken(Shard& s, feed::FeedSession& session);
    void handle_overflow(Shard& s);
    void emit(Shard& s, const OutRecord& rec);
    void notify_consumer() noexcept;
    void idle_wait(Shard& s);
    void warm(Shard& s) noexcept;
    void publish_health(Shard& s, bool wait) noexcept;
    void apply_input(Shard& s, const FrameHeader& h, std::string_view payload);
    PushStatus push_input(const char* what, FrameKind kind, std::uint32_t symbol_id,
                          std::int64_t ts_ns, std::initializer_list<double> values);
    PushStatus enqueue(Shard& s, const FrameHeader& h, std::string_view payload,
                       std::uint32_t symbol_id, bool defer_wake = false);
    void wake(Shard& s);
    Shard& route(Venue venue, std::string_view frame, std::uint32_t& symbol_id);
    void require_running(const char* what) const;
    void require_joined(const char* what) const;
    const Symbol& sym(std::uint32_t symbol_id) const;
    void join_all() noexcept;

    PipelineConfig cfg_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::vector<std::unique_ptr<Symbol>> symbols_;
    std::array<feed::SymbolTable, kVenueCount> tables_; // venue symbol -> global id
    std::array<std::int32_t, kVenueCount> first_shard_{-1, -1, -1};
    std::array<std::uint32_t, kVenueCount> venue_symbols_{};
    std::vector<FrameChunk> staging_; // producer thread: a frame laid out in chunks
    std::atomic<std::uint32_t> armed_{0};
    std::atomic<bool> closing_{false}; // finish(): process what is queued, then end
    std::atomic<bool> abort_{false};   // stop(): end now
    int notify_read_fd_ = -1;
    int notify_write_fd_ = -1;
    bool started_ = false;
    bool joined_ = false;
};

} // namespace confluex::pipeline
