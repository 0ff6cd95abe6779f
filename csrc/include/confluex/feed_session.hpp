// confluex/feed_session.hpp
//
// Provides FeedSession: raw exchange messages in, updated scores out. It owns the venue
// parser, keeps each symbol's book synchronised (Binance's buffered snapshot procedure,
// Bybit's snapshot/delta rules), checks the book against the exchange's own bookTicker,
// recomputes the score after every message that changed a symbol, and measures every stage
// with a monotonic clock.
//
// Design:
//   - Per symbol, a sync phase. AwaitingSnapshot and Resyncing buffer depth records (bounded,
//     drops counted) until a snapshot arrives (in-stream: a Binance REST line in a capture or
//     a Bybit snapshot message; or on_snapshot() from a REST fetch). The snapshot is applied,
//     then the buffer: the book's sequence rule drops what the snapshot already contains and
//     checks that the first kept message straddles it. A gap, overlap or crossed book moves
//     only that symbol to Resyncing; needs_snapshot() tells the feed to fetch a new one.
//   - bookTicker check (the oracle): a ticker with id t is comparable with the book between
//     depth messages k and k+1 when u_k <= t < U_{k+1}, so tickers are held until the next
//     depth message shows U_{k+1} and are then compared with the book before it is applied,
//     and only when that message passes the sequence check: a ticker whose id falls in a gap
//     (or before an overlap or id jump) is never compared with a book that does not represent
//     it, it is counted in ticker_unverifiable, like a ticker that arrives while not synced.
//     A mismatch therefore means exactly "the book claimed sync and was wrong".
//     A ticker inside message k+1 (U_{k+1} <= t < u_{k+1}) has no exact book state, but every
//     level that message does not touch had the same size all through [u_k, u_{k+1}]: so its
//     best bid (ask) level, when untouched and held by the book, must have the ticker's size
//     in the book before the message, and an untouched book level better than the ticker's
//     price must not exist. (A level absent before and after may have lived inside the batch:
//     Binance reports no level created and deleted within one message, so it is not compared.)
//     On the real captures these checks found 0 mismatches in 123k (spot + USD-M).
//     These level checks make nearly every ticker useful (the exact states are 1-6 % of them)
//     and raise the detection of a silently wrong level size (tests/test_feed_oracle.py).
//   - Frozen-book guards: the book refuses an update id jump beyond kMaxUpdateIdJump
//     (OutOfSync(IdJump)), and when a synced symbol that has applied a delta since its
//     snapshot receives max_stale_messages depth messages in a row none of which applies (the
//     book's last id is ahead of the stream: a corrupt id got in), the book is marked
//     OutOfSync(Stalled) and the symbol resyncs. Before the first applied delta stale messages
//     are Binance's documented drop (a snapshot ahead of the stream), unless the snapshot's id
//     is more than kMaxUpdateIdJump ahead of them (then Stalled at once).
//   - Trades are deduplicated per symbol by venue trade id over the last trade_dedup_window
//     ids (a redelivered trade would otherwise count twice in CVD and the score); duplicates
//     are counted in duplicate_trades. Memory: a ring and a hash table of that many ids.
//   - Latency stages, per message: parse (bytes -> records), apply (records -> book/trade
//     windows), recompute (score), total (bytes -> updated score). Only messages that changed
//     a symbol record apply/recompute/total.
//   - Threading: single-threaded, like the Engine it drives (one session per engine thread).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_parser.hpp"
#include "confluex/latency.hpp"
#include "confluex/sentiment_parser.hpp"
#include "confluex/symbol_table.hpp"

namespace confluex::feed {

enum class Venue : std::uint8_t { BinanceSpot = 0, BinanceFutures = 1, Bybit = 2 };
enum class SyncPhase : std::uint8_t { AwaitingSnapshot = 0, Synced = 1, Resyncing = 2 };
enum class Stage : std::uint8_t { Parse = 0, Apply = 1, Recompute = 2, Total = 3 };
inline constexpr std::size_t kStageCount = 4;

struct SessionConfig {
    double long_threshold = 70.0;  // a LONG signal fires when the score crosses up to this
    double short_threshold = 35.0; // a SHORT signal fires when the score crosses down to this
    // Score series: one point per symbol at most every interval of event time; 0 records every
    // update, a negative value records none.
    std::int64_t series_interval_ns = 100'000'000;
    std::size_t max_buffered_records = 1U << 20; // per symbol while waiting for a snapshot
    std::size_t max_pending_tickers = 256;       // per symbol, awaiting the next depth message
    // The score series and the signal list keep the last max_series_points / max_signals
    // entries (of every symbol together); older ones are dropped and counted
    // (series_dropped(), signals_dropped()). 0 keeps none. Readers that want everything drain
    // them with take_series() / take_signals() more often than the bound fills.
    std::size_t max_series_points = std::size_t{1} << 16; // 56 bytes each: 3.5 MiB at most
    std::size_t max_signals = std::size_t{1} << 14;       // 32 bytes each: 512 KiB at most
    // Consecutive depth messages of a synced symbol that apply nothing (Stale), after one that
    // applied, before the book is declared frozen and resynced; 0 disables the guard.
    std::size_t max_stale_messages = 20;
    // Trade ids remembered per symbol for deduplication; 0 disables it.
    std::size_t trade_dedup_window = 1024;
};

struct SymbolHealth {
    std::uint64_t depth_messages = 0;
    std::uint64_t snapshot_messages = 0;
    std::uint64_t trade_messages = 0;
    std::uint64_t ticker_messages = 0;
    std::uint64_t parse_errors = 0;      // messages of this symbol the parser or engine refused
    std::uint64_t desyncs = 0;           // gap, overlap or crossed book: resync needed
    std::uint64_t snapshots_applied = 0; // first sync plus every resync
    std::uint64_t buffered_dropped = 0;  // records dropped from a full pre-snapshot buffer
    std::uint64_t ticker_checks = 0;
    std::uint64_t ticker_mismatches = 0;
    std::uint64_t ticker_level_checks = 0; // of ticker_checks: the level checks (see Design)
    std::uint64_t ticker_unverifiable = 0; // arrived while not synced, or fell in a gap
    std::uint64_t stale_messages = 0;      // depth messages a synced book ignored as Stale
    std::uint64_t duplicate_trades = 0;    // trades dropped as repeats of a recent trade id
    std::uint64_t long_signals = 0;
    std::uint64_t short_signals = 0;
    std::int64_t last_book_ts_ns = 0;
    std::int64_t last_trade_ts_ns = 0;
    SyncPhase phase = SyncPhase::AwaitingSnapshot;
    DesyncReason last_desync = DesyncReason::None; // why the symbol last left Synced
};

// One point of a symbol's score time series (a POD row, viewed by NumPy).
struct ScorePoint {
    std::int64_t ts_ns;
    std::uint32_t symbol_id;
    std::uint32_t reserved;
    double mid_px; // NaN when a side is empty
    double score;
    double score_raw;
    double confidence;
    double reliability;
    double components[kComponentCount]; // component scores in Component order; NaN without data
};
static_assert(std::is_trivially_copyable_v<ScorePoint> && sizeof(ScorePoint) == 104);

// A threshold crossing: +1 LONG (score rose to >= long), -1 SHORT (fell to <= short).
struct SignalEvent {
    std::int64_t ts_ns;
    std::uint32_t symbol_id;
    std::int32_t direction;
    double score;
    double mid_px;
};
static_assert(std::is_trivially_copyable_v<SignalEvent> && sizeof(SignalEvent) == 32);

// The outcome of one message of a batch (on_messages()): ParseResult without the ticker, as a
// POD row for NumPy (message_result_dtype).
struct MessageResult {
    std::int64_t exchange_ts_ms;  // -1 when absent
    std::int64_t first_update_id; // kNoUpdateId unless depth or snapshot
    std::int64_t last_update_id;
    std::uint32_t symbol_id; // kNoSymbol when unknown
    std::uint32_t n_book;
    std::uint32_t n_trades;
    std::uint8_t kind;  // MsgKind
    std::uint8_t error; // ParseError (0: None)
    std::uint16_t reserved;
};
static_assert(std::is_trivially_copyable_v<MessageResult> && sizeof(MessageResult) == 40);

// to_message_result()
// Returns the batch row of a ParseResult.
[[nodiscard]] inline MessageResult to_message_result(const ParseResult& r) noexcept {
    return MessageResult{r.exchange_ts_ms,
                         r.first_update_id,
                         r.last_update_id,
                         r.symbol_id,
                         r.n_book,
                         r.n_trades,
                         static_cast<std::uint8_t>(r.kind),
                         static_cast<std::uint8_t>(r.error),
                         0};
}

namespace detail {

// The last `cap` items pushed, in a ring that grows to `cap` as items arrive (no memory is
// reserved up front); pushing into a full ring overwrites the oldest item and counts it.
// Storage is a list of fixed chunks of kChunk items, allocated as the ring fills: a push
// never copies the items already held (a growing std::vector would copy up to cap items at
// each doubling, a multi-millisecond stall on the message path at the default 65,536 points).
template <class T> class TailRing {
  public:
    static constexpr std::size_t kChunk = 256;

    explicit TailRing(std::size_t cap) : cap_(cap) {}
    void push(const T& v) {
        if (size_ < cap_) {
            if (size_ / kChunk == chunks_.size()) { // a new chunk (drain() keeps the old ones)
                add_chunk();
            }
            at(size_) = v;
            ++size_;
            return;
        }
        ++dropped_;
        if (cap_ == 0) {
            return;
        }
        at(head_) = v;
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
    }
    // Returns the items, oldest first.
    [[nodiscard]] std::vector<T> ordered() const {
        std::vector<T> out;
        out.reserve(size_);
        for (std::size_t i = head_; i < size_; ++i) {
            out.push_back(at(i));
        }
        for (std::size_t i = 0; i < head_; ++i) {
            out.push_back(at(i));
        }
        return out;
    }
    // Returns the items, oldest first, and empties the ring (releasing its memory).
    [[nodiscard]] std::vector<T> take() {
        std::vector<T> out = ordered();
        clear();
        return out;
    }
    // Allocates the next chunk now when the last one is at least half used and none is
    // spare (for an idle thread: the push that would need it then allocates nothing). Out of
    // memory: nothing changes.
    void reserve_ahead() noexcept {
        const std::size_t used = size_ < cap_ ? size_ : 0; // a full ring needs no more
        if (used == 0 || (used + kChunk / 2) / kChunk < chunks_.size() ||
            chunks_.size() * kChunk >= cap_) {
            return;
        }
        try {
            add_chunk();
        } catch (const std::bad_alloc&) {
            // The push that needs the chunk allocates it, as without this call.
        }
    }
    // Calls f(item) oldest first, then empties the ring keeping its memory: the next pushes
    // allocate nothing (take() frees it).
    template <class F> void drain(F&& f) {
        for (std::size_t i = head_; i < size_; ++i) {
            f(at(i));
        }
        for (std::size_t i = 0; i < head_; ++i) {
            f(at(i));
        }
        size_ = 0;
        head_ = 0;
    }
    void clear() noexcept {
        std::vector<std::unique_ptr<T[]>>().swap(chunks_);
        size_ = 0;
        head_ = 0;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
    // Chunks of kChunk items allocated (memory held: chunks() * kChunk items).
    [[nodiscard]] std::size_t chunks() const noexcept { return chunks_.size(); }

  private:
    // Appends one chunk of kChunk items (throws std::bad_alloc, the ring unchanged).
    void add_chunk() {
        if (chunks_.size() == chunks_.capacity()) {
            chunks_.reserve(std::max<std::size_t>(16, 2 * chunks_.size()));
        }
        chunks_.push_back(std::make_unique<T[]>(kChunk));
    }
    [[nodiscard]] T& at(std::size_t i) noexcept { return chunks_[i / kChunk][i % kChunk]; }
    [[nodiscard]] const T& at(std::size_t i) const noexcept {
        return chunks_[i / kChunk][i % kChunk];
    }

    std::size_t cap_;
    std::vector<std::unique_ptr<T[]>> chunks_;
    std::size_t size_ = 0;
    std::size_t head_ = 0; // oldest item once the ring is full
    std::uint64_t dropped_ = 0;
};

} // namespace detail

class FeedSession {
  public:
    // FeedSession::FeedSession()
    // Binds a session to an engine (which must outlive it) and a venue.
    // REQUIRES: long_threshold > short_threshold, both in [0, 100]; else InvalidConfig.
    FeedSession(Engine& engine, Venue venue, SessionConfig cfg = {});
    ~FeedSession();
    FeedSession(const FeedSession&) = delete;
    FeedSession& operator=(const FeedSession&) = delete;

    // FeedSession::add_symbol()
    // Routes the venue's symbol text ("BTCUSDT") to an engine symbol, using its Instrument.
    // Add symbols before feeding messages.
    void add_symbol(std::string_view venue_symbol, std::uint32_t symbol_id);

    // FeedSession::on_message()
    // Parses and applies one raw message received at ts_ns. Never throws for bad bytes: the
    // error is returned and counted (per symbol when the symbol is known).
    ParseResult on_message(std::string_view raw, std::int64_t ts_ns);
    // FeedSession::on_messages()
    // Feeds n messages in order, exactly as n on_message() calls would (same books, scores,
    // counters and latencies); message i is received at ts_ns[i], or at ts_ns[0] for every
    // message when ts_stride is 0. Writes message i's outcome to out[i] when out is not null.
    // Returns the number of messages parsed without error.
    // REQUIRES: msgs[0..n) valid; ts_ns has n entries (1 when ts_stride is 0).
    std::size_t on_messages(const std::string_view* msgs, const std::int64_t* ts_ns, std::size_t n,
                            MessageResult* out = nullptr, std::size_t ts_stride = 1);
    // FeedSession::on_snapshot()
    // Applies a REST depth snapshot (Binance JSON) for one symbol, then its buffered deltas.
    ParseResult on_snapshot(std::uint32_t symbol_id, std::string_view json, std::int64_t ts_ns);
    // FeedSession::replay()
    // Feeds every line of a capture buffer; returns the number of lines fed.
    std::size_t replay(std::string_view data, LineFormat format);

    // FeedSession::request_resync()
    // Marks a symbol as needing a new snapshot (e.g. a stale-stream watchdog fired).
    void request_resync(std::uint32_t symbol_id);
    [[nodiscard]] bool needs_snapshot(std::uint32_t symbol_id) const;
    [[nodiscard]] const SymbolHealth& health(std::uint32_t symbol_id) const;
    // FeedSession::latency()
    // Returns one stage's histogram in nanoseconds (a copy). The stages are timed with the
    // CPU's timestamp counter where it is invariant (x86-64: a few ns per read, a third of a
    // steady_clock read) and converted here at the rate measured against steady_clock since
    // the library loaded; elsewhere with steady_clock.
    [[nodiscard]] LatencyHistogram latency(Stage s) const;
    // FeedSession::reset_latency()
    // Empties the four stage histograms (e.g. after a warm-up replay).
    void reset_latency() noexcept {
        for (LatencyHistogram& h : latency_) {
            h.reset();
        }
    }
    // FeedSession::series() / signals()
    // Return the last config().max_series_points score points / max_signals threshold
    // crossings recorded (a copy, oldest first).
    [[nodiscard]] std::vector<ScorePoint> series() const { return series_.ordered(); }
    [[nodiscard]] std::vector<SignalEvent> signals() const { return signals_.ordered(); }
    // FeedSession::take_series() / take_signals()
    // Return what series() / signals() would and empty the record (drop counts are kept).
    [[nodiscard]] std::vector<ScorePoint> take_series() { return series_.take(); }
    [[nodiscard]] std::vector<SignalEvent> take_signals() { return signals_.take(); }
    // FeedSession::drain_series() / drain_signals()
    // take_series() / take_signals() without allocating: f(item) for each, oldest first; the
    // session keeps the memory for the next ones (the engine thread's path).
    template <class F> void drain_series(F&& f) { series_.drain(f); }
    template <class F> void drain_signals(F&& f) { signals_.drain(f); }
    // FeedSession::warm()
    // Prefetches the session's hot state (parsers, record buffers, per-symbol state) and its
    // symbols' engine state (Engine::warm) for an idle engine thread's warm pass. Changes
    // nothing.
    void warm() const noexcept;
    // FeedSession::reserve_ahead()
    // For an idle engine thread's warm pass (Pipeline, WaitPolicy): allocates now what the
    // next messages would otherwise allocate on their path: the score series' and signal
    // list's next chunk, the record and ticker-check buffers' room for a message of
    // kReserveRecords levels, and each routed symbol's engine storage
    // (Engine::reserve_ahead). Changes no result.
    void reserve_ahead() noexcept;
    // FeedSession::series_dropped() / signals_dropped()
    // Return how many points / crossings fell out of the bounded record since construction.
    [[nodiscard]] std::uint64_t series_dropped() const noexcept { return series_.dropped(); }
    [[nodiscard]] std::uint64_t signals_dropped() const noexcept { return signals_.dropped(); }
    void clear_series() noexcept;
    [[nodiscard]] const ParserCounters& parser_counters() const noexcept;
    [[nodiscard]] Venue venue() const noexcept { return venue_; }
    [[nodiscard]] const SessionConfig& config() const noexcept { return cfg_; }
    [[nodiscard]] std::uint64_t lines_fed() const noexcept { return lines_; }

  private:
    struct PerSymbol;

    PerSymbol& state(std::uint32_t sym);
    const PerSymbol& state(std::uint32_t sym) const;
    ParseResult parse(std::string_view raw, std::int64_t ts_ns);
    void apply_snapshot_records(PerSymbol& ps, std::uint32_t sym);
    void apply_depth_records(PerSymbol& ps, std::uint32_t sym, const ParseResult& r);
    void check_tickers(PerSymbol& ps, std::uint32_t sym, std::int64_t next_first_id,
                       std::int64_t next_last_id);
    void desynced(PerSymbol& ps, std::uint32_t sym);
    void ingest_trades(PerSymbol& ps);
    void after_update(PerSymbol& ps, std::uint32_t sym, std::int64_t ts_ns);
    void rebuild_parser();
    ParseResult on_sentiment(std::string_view raw, std::int64_t ts_ns);

    Engine& engine_;
    Venue venue_;
    SessionConfig cfg_;
    SymbolTable table_;
    std::unique_ptr<BinanceParser> binance_;
    std::unique_ptr<BybitParser> bybit_;
    // Derivative streams (Binance markPrice / forceOrder, Bybit tickers / allLiquidation),
    // recognised by their stream name and routed to the engine's sentiment inputs.
    std::unique_ptr<feed::BinanceSentimentParser> binance_sentiment_;
    std::unique_ptr<feed::BybitSentimentParser> bybit_sentiment_;
    std::vector<feed::LiquidationEvent> liq_buf_;
    std::vector<PerSymbol> symbols_; // indexed by engine symbol id
    // The room reserve_ahead() keeps in the record buffers: a depth message of up to 1,024
    // levels (the bundled USD-M captures' largest has 894) and a trade batch of 64.
    static constexpr std::size_t kReserveRecords = 1024;
    static constexpr std::size_t kReserveTrades = 64;
    std::vector<BookLevelEvent> book_buf_;
    std::vector<TradeEvent> trade_buf_;
    std::array<std::vector<Ticks>, 2> touched_px_;        // check_tickers(): the message's prices
    std::array<LatencyHistogram, kStageCount> latency_{}; // in stage clock ticks
    detail::TailRing<ScorePoint> series_;
    detail::TailRing<SignalEvent> signals_;
    std::uint64_t lines_ = 0;
    // warm(): a parser of its own (its counters are not the session's) and a small depth
    // message of the session's first symbol, parsed into scratch buffers to keep the parse
    // code hot (Binance venues).
    struct WarmParse;
    mutable std::unique_ptr<WarmParse> warm_parse_;
};

} // namespace confluex::feed
