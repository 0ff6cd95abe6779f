// FeedSession: parse -> sync -> apply -> recompute, per message, with stage latencies.
#include "confluex/feed_session.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "confluex/errors.hpp"
#include "confluex/prefetch.hpp"
#include "line_stamp.hpp"

namespace confluex::feed {

namespace {

std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The stage clock: the timestamp counter when it ticks at a constant rate through every
// power state (CPUID 0x80000007 EDX bit 8, "invariant TSC"; Linux's constant_tsc +
// nonstop_tsc), else steady_clock in ns. A counter read costs ~7 ns where steady_clock's costs
// ~16 (the vDSO's fenced rdtsc and scaling), and on_message reads the clock four times.
bool invariant_tsc() noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    if (__get_cpuid_max(0x80000000U, nullptr) < 0x80000007U) {
        return false;
    }
    __cpuid(0x80000007U, a, b, c, d);
    return ((d >> 8U) & 1U) != 0;
#else
    return false;
#endif
}

const bool kTsc = invariant_tsc();

std::int64_t stage_ticks() noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (kTsc) [[likely]] {
        return static_cast<std::int64_t>(__rdtsc());
    }
#endif
    return steady_ns();
}

// A (counter, steady_clock) pair read back to back: of three tries, the one whose two counter
// reads around the clock read lie closest (a preemption between them would skew the pair).
struct ClockPair {
    std::int64_t ticks;
    std::int64_t ns;
};

ClockPair clock_pair() noexcept {
    ClockPair best{0, 0};
    std::int64_t best_gap = std::numeric_limits<std::int64_t>::max();
    for (int i = 0; i < 3; ++i) {
        const std::int64_t t0 = stage_ticks();
        const std::int64_t ns = steady_ns();
        const std::int64_t t1 = stage_ticks();
        if (t1 - t0 < best_gap) {
            best_gap = t1 - t0;
            best = ClockPair{t0 + (t1 - t0) / 2, ns};
        }
    }
    return best;
}

const ClockPair kClockOrigin = clock_pair(); // at library load

// Nanoseconds per stage clock tick: the counter's rate against steady_clock since the library
// loaded (at least 1 ms of it, waited for when asked sooner), so the pair reads' error stays
// under 1e-4 of the rate.
double ns_per_tick() noexcept {
    if (!kTsc) {
        return 1.0;
    }
    constexpr std::int64_t kMinSpanNs = 1'000'000;
    while (steady_ns() - kClockOrigin.ns < kMinSpanNs) {
    }
    const ClockPair now = clock_pair();
    const std::int64_t ticks = now.ticks - kClockOrigin.ticks;
    return ticks <= 0 ? 1.0
                      : static_cast<double>(now.ns - kClockOrigin.ns) / static_cast<double>(ticks);
}

// The last `window` trade ids of one symbol, for deduplication: a ring in arrival order plus
// an open-addressing (linear probing) table of twice the window, rounded up to a power of two.
// Allocated on the first insert, so a symbol without trades costs nothing.
class RecentIds {
  public:
    explicit RecentIds(std::size_t window) noexcept : window_(window) {}

    // Returns true when id is among the remembered ones; otherwise remembers it (forgetting the
    // oldest when full) and returns false. kEmpty (INT64_MIN, never a venue id) is never held.
    bool seen_or_insert(std::int64_t id) {
        if (window_ == 0 || id == kEmpty) {
            return false;
        }
        if (table_.empty()) {
            std::size_t cap = 2;
            while (cap < 2 * window_) {
                cap <<= 1U;
            }
            table_.assign(cap, kEmpty);
            ring_.assign(window_, kEmpty);
        }
        std::size_t i = slot(id);
        while (table_[i] != kEmpty) {
            if (table_[i] == id) {
                return true;
            }
            i = (i + 1) & (table_.size() - 1);
        }
        if (ring_[head_] != kEmpty) {
            erase(ring_[head_]);
            i = slot(id); // the erase may have shifted entries: probe again
            while (table_[i] != kEmpty) {
                i = (i + 1) & (table_.size() - 1);
            }
        }
        table_[i] = id;
        ring_[head_] = id;
        head_ = head_ + 1 == window_ ? 0 : head_ + 1;
        return false;
    }

  private:
    static constexpr std::int64_t kEmpty = std::numeric_limits<std::int64_t>::min();

    [[nodiscard]] std::size_t slot(std::int64_t id) const noexcept {
        // splitmix64 finaliser: Binance ids are consecutive, which linear probing needs mixed.
        auto z = static_cast<std::uint64_t>(id) + 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
        return static_cast<std::size_t>(z ^ (z >> 31U)) & (table_.size() - 1);
    }

    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    void erase(std::int64_t id) noexcept {
        const std::size_t mask = table_.size() - 1;
        std::size_t i = slot(id);
        while (table_[i] != id) {
            i = (i + 1) & mask;
        }
        std::size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (table_[j] == kEmpty) {
                break;
            }
            const std::size_t home = slot(table_[j]);
            // Move table_[j] into the hole at i unless its home lies cyclically in (i, j].
            const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                table_[i] = table_[j];
                i = j;
            }
        }
        table_[i] = kEmpty;
    }

    std::size_t window_;
    std::size_t head_ = 0;
    std::vector<std::int64_t> ring_;
    std::vector<std::int64_t> table_;
};

} // namespace

struct FeedSession::PerSymbol {
    bool routed = false; // add_symbol() was called for this engine symbol
    SymbolHealth health{};
    std::vector<BookLevelEvent> buffer;  // depth records held while not synced
    std::vector<BookTicker> pending;     // tickers awaiting the next depth message
    RecentIds trade_ids{0};              // the last trade_dedup_window trade ids
    std::size_t stale_run = 0;           // consecutive Stale depth messages while synced
    bool applied_since_snapshot = false; // a delta applied after the last snapshot
    std::int64_t last_series_ts = std::numeric_limits<std::int64_t>::min();
    int region = 0; // +1 at/above long, -1 at/below short, 0 between
};

// warm()'s parse rehearsal (see feed_session.hpp).
struct FeedSession::WarmParse {
    SymbolTable table;
    std::unique_ptr<BinanceParser> parser;
    std::string msg;
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    std::size_t symbols = 0; // table_ size it was built for
};

FeedSession::FeedSession(Engine& engine, Venue venue, SessionConfig cfg)
    : engine_(engine), venue_(venue), cfg_(cfg), series_(cfg.max_series_points),
      signals_(cfg.max_signals) {
    if (!(cfg_.long_threshold > cfg_.short_threshold) || cfg_.short_threshold < 0.0 ||
        cfg_.long_threshold > 100.0) {
        throw InvalidConfig("thresholds must satisfy 0 <= short < long <= 100, was long=" +
                            std::to_string(cfg_.long_threshold) +
                            ", short=" + std::to_string(cfg_.short_threshold));
    }
    if (venue_ != Venue::BinanceSpot && venue_ != Venue::BinanceFutures && venue_ != Venue::Bybit) {
        throw InvalidConfig("unknown venue, was " + std::to_string(static_cast<int>(venue_)));
    }
    rebuild_parser();
}

FeedSession::~FeedSession() = default;

void FeedSession::rebuild_parser() {
    if (venue_ == Venue::Bybit) {
        bybit_ = std::make_unique<BybitParser>(table_);
        bybit_sentiment_ = std::make_unique<feed::BybitSentimentParser>(table_);
    } else {
        binance_ = std::make_unique<BinanceParser>(table_, venue_ == Venue::BinanceFutures);
        binance_sentiment_ = std::make_unique<feed::BinanceSentimentParser>(table_);
    }
}

namespace {

// Whether a message is one of the derivative streams, from its first bytes: the combined
// stream's name or the event type come first in what the venues send and what --record wrote.
// Whether s holds a 'P' or an 'O' (16 bytes at a time: the two compares of one load).
bool has_p_or_o(std::string_view s) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= s.size(); i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('P')),
                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('O')))) != 0) {
            return true;
        }
    }
#endif
    for (; i < s.size(); ++i) {
        if (s[i] == 'P' || s[i] == 'O') {
            return true;
        }
    }
    return false;
}

bool is_sentiment_stream(std::string_view raw, bool bybit) noexcept {
    const std::string_view head = raw.substr(0, 96);
    // Every Binance needle has a 'P' (markPrice) or an 'O' (forceOrder): one pass over the
    // head for either rules out nearly every message before the four searches (each of which
    // restarts at every '"' of the head).
    if (!bybit && !has_p_or_o(head)) {
        return false;
    }
    if (bybit) {
        return head.find("\"tickers.") != std::string_view::npos ||
               head.find("\"allLiquidation.") != std::string_view::npos;
    }
    return head.find("@markPrice") != std::string_view::npos ||
           head.find("@forceOrder") != std::string_view::npos ||
           head.find("\"markPriceUpdate\"") != std::string_view::npos ||
           head.find("\"forceOrder\"") != std::string_view::npos;
}

} // namespace

ParseResult FeedSession::on_sentiment(std::string_view raw, std::int64_t ts_ns) {
    liq_buf_.clear();
    const feed::SentimentParseResult sr = venue_ == Venue::Bybit
                                              ? bybit_sentiment_->parse(raw, ts_ns, liq_buf_)
                                              : binance_sentiment_->parse(raw, ts_ns, liq_buf_);
    ParseResult r{};
    r.kind = MsgKind::Control; // not book or trades: nothing to score here
    r.error = sr.error;
    r.symbol_id = sr.symbol_id;
    r.exchange_ts_ms = sr.exchange_ts_ms;
    const std::uint32_t sym = sr.symbol_id;
    if (!sr.ok() || sym >= symbols_.size() || !symbols_[sym].routed ||
        !engine_.config().bar_views) {
        return r;
    }
    try {
        if (sr.kind == feed::SentimentMsgKind::MarkPrice ||
            sr.kind == feed::SentimentMsgKind::Ticker) {
            engine_.on_mark(sym, sr.mark);
        }
        for (const feed::LiquidationEvent& e : liq_buf_) {
            engine_.on_liquidation_event(sym, e);
        }
    } catch (const InvalidEvent&) {
        // An out-of-order sample (e.g. a funding time before the previous one): refused by the
        // sentiment view, state unchanged, counted as this symbol's parse error.
        ++symbols_[sym].health.parse_errors;
    }
    return r;
}

void FeedSession::add_symbol(std::string_view venue_symbol, std::uint32_t symbol_id) {
    const Instrument& inst = engine_.instrument(symbol_id); // throws UnknownSymbol
    table_.add(venue_symbol, symbol_id, inst);              // throws InvalidConfig on duplicates
    if (symbols_.size() <= symbol_id) {
        symbols_.resize(symbol_id + 1);
    }
    if (!symbols_[symbol_id].routed) {
        symbols_[symbol_id].trade_ids = RecentIds(cfg_.trade_dedup_window);
    }
    symbols_[symbol_id].routed = true;
    rebuild_parser();
}

FeedSession::PerSymbol& FeedSession::state(std::uint32_t sym) {
    if (sym >= symbols_.size() || !symbols_[sym].routed) {
        throw UnknownSymbol("symbol id not routed by this session, was " + std::to_string(sym));
    }
    return symbols_[sym];
}

const FeedSession::PerSymbol& FeedSession::state(std::uint32_t sym) const {
    return const_cast<FeedSession*>(this)->state(sym); // NOLINT: same lookup
}

LatencyHistogram FeedSession::latency(Stage s) const {
    const LatencyHistogram& h = latency_[static_cast<std::size_t>(s)];
    return kTsc ? h.scaled(ns_per_tick()) : h;
}

const SymbolHealth& FeedSession::health(std::uint32_t sym) const { return state(sym).health; }

bool FeedSession::needs_snapshot(std::uint32_t sym) const {
    return state(sym).health.phase != SyncPhase::Synced;
}

void FeedSession::request_resync(std::uint32_t sym) {
    PerSymbol& ps = state(sym);
    if (ps.health.phase == SyncPhase::Synced) {
        ps.health.phase = SyncPhase::Resyncing;
        ps.health.last_desync = DesyncReason::Manual;
        ps.pending.clear();
        ps.stale_run = 0;
    }
}

const ParserCounters& FeedSession::parser_counters() const noexcept {
    return venue_ == Venue::Bybit ? bybit_->counters() : binance_->counters();
}

void FeedSession::clear_series() noexcept {
    series_.clear();
    signals_.clear();
}

ParseResult FeedSession::parse(std::string_view raw, std::int64_t ts_ns) {
    book_buf_.clear();
    trade_buf_.clear();
    return venue_ == Venue::Bybit ? bybit_->parse(raw, ts_ns, book_buf_, trade_buf_)
                                  : binance_->parse(raw, ts_ns, book_buf_, trade_buf_);
}

void FeedSession::check_tickers(PerSymbol& ps, std::uint32_t sym, std::int64_t next_first_id,
                                std::int64_t next_last_id) {
    if (ps.pending.empty()) {
        return;
    }
    // bookTicker is pushed in real time while depth is batched, so a ticker usually arrives
    // before the depth message that brings the book to its id: keep it until then. The caller
    // has checked that this next message is contiguous (no gap), and book_buf_ holds it.
    const OrderBook& book = engine_.book(sym);
    const std::int64_t current = book.last_update_id();
    const auto bb = book.best_bid();
    const auto ba = book.best_ask();
    // Whether the message in book_buf_ sets a level: a sorted copy of each side's prices,
    // built at the first question (a scan per question cost tickers x levels per message).
    bool sorted = false;
    const auto touched = [this, &sorted](std::uint8_t side, Ticks px) {
        if (!sorted) {
            touched_px_[0].clear();
            touched_px_[1].clear();
            for (const BookLevelEvent& e : book_buf_) {
                if ((e.flags & book_flags::kNoLevel) == 0) {
                    touched_px_[e.side & 1U].push_back(e.px_ticks);
                }
            }
            for (std::vector<Ticks>& v : touched_px_) {
                if (!std::is_sorted(v.begin(), v.end())) {
                    std::sort(v.begin(), v.end());
                }
            }
            sorted = true;
        }
        const std::vector<Ticks>& v = touched_px_[side];
        return std::binary_search(v.begin(), v.end(), px);
    };
    std::size_t kept = 0;
    for (const BookTicker& t : ps.pending) {
        if (next_first_id != kNoUpdateId && t.update_id >= next_last_id) {
            ps.pending[kept++] = t; // an exact state comes later (after this message)
            continue;
        }
        if (t.update_id < current) {
            continue; // the book had already moved past it
        }
        ++ps.health.ticker_checks;
        bool same = false;
        if (next_first_id == kNoUpdateId || t.update_id < next_first_id) {
            same = bb && ba && bb->px == t.bid_px && bb->qty == t.bid_qty && ba->px == t.ask_px &&
                   ba->qty == t.ask_qty;
        } else {
            // Inside the next message: only the levels it leaves untouched are known at t.
            ++ps.health.ticker_level_checks;
            same = true;
            // A level absent before and after the message may have lived inside it (Binance
            // reports no level that was created and deleted within one batch): only a level
            // the book holds is compared.
            const Lots bid_q = touched(0, t.bid_px) ? 0 : book.level_qty(BookSide::Bid, t.bid_px);
            const Lots ask_q = touched(1, t.ask_px) ? 0 : book.level_qty(BookSide::Ask, t.ask_px);
            same = (bid_q == 0 || bid_q == t.bid_qty) && (ask_q == 0 || ask_q == t.ask_qty);
            if (bb && bb->px > t.bid_px && !touched(0, bb->px)) {
                same = false; // an untouched bid better than the venue's best bid
            }
            if (ba && ba->px < t.ask_px && !touched(1, ba->px)) {
                same = false;
            }
        }
        if (!same) {
            ++ps.health.ticker_mismatches;
        }
    }
    ps.pending.resize(kept);
}

void FeedSession::desynced(PerSymbol& ps, std::uint32_t sym) {
    ps.health.phase = SyncPhase::Resyncing;
    ps.health.last_desync = engine_.book(sym).desync_reason();
    ++ps.health.desyncs;
    ps.health.ticker_unverifiable += ps.pending.size();
    ps.pending.clear();
    ps.stale_run = 0;
}

void FeedSession::ingest_trades(PerSymbol& ps) {
    // Validated first, so a refused batch (it throws) remembers none of its ids.
    engine_.validate_trade_events(trade_buf_.data(), trade_buf_.size());
    std::size_t kept = 0;
    for (const TradeEvent& t : trade_buf_) {
        if (ps.trade_ids.seen_or_insert(t.trade_id)) {
            ++ps.health.duplicate_trades;
            continue;
        }
        trade_buf_[kept++] = t;
    }
    trade_buf_.resize(kept);
    if (kept != 0) {
        engine_.ingest_trades(trade_buf_.data(), trade_buf_.size());
    }
}

void FeedSession::apply_snapshot_records(PerSymbol& ps, std::uint32_t sym) {
    ++ps.health.snapshot_messages;
    engine_.ingest_book(book_buf_.data(), book_buf_.size());
    if (!engine_.book(sym).in_sync()) {
        return; // refused (crossed or duplicate levels): counted by the engine, still waiting
    }
    ++ps.health.snapshots_applied;
    ps.pending.clear();
    ps.health.phase = SyncPhase::Synced;
    ps.stale_run = 0;
    ps.applied_since_snapshot = false;
    if (!ps.buffer.empty()) {
        // The book drops what the snapshot already holds and checks the straddle.
        ps.applied_since_snapshot = engine_.ingest_book(ps.buffer.data(), ps.buffer.size()) != 0;
        ps.buffer.clear();
        if (!engine_.book(sym).in_sync()) {
            desynced(ps, sym);
        }
    }
}

void FeedSession::apply_depth_records(PerSymbol& ps, std::uint32_t sym, const ParseResult& r) {
    if (ps.health.phase != SyncPhase::Synced) {
        if (ps.buffer.size() + book_buf_.size() > cfg_.max_buffered_records) {
            // Keep the newest messages: after the snapshot only those can still apply. Drop
            // whole messages from the front (records up to an end-of-message flag).
            std::size_t cut = 0;
            const std::size_t need =
                ps.buffer.size() + book_buf_.size() - cfg_.max_buffered_records;
            while (cut < ps.buffer.size() && cut < need) {
                while (cut < ps.buffer.size() &&
                       (ps.buffer[cut].flags & book_flags::kEndOfMessage) == 0) {
                    ++cut;
                }
                cut += cut < ps.buffer.size() ? 1U : 0U; // include the end-of-message record
            }
            ps.health.buffered_dropped += cut;
            ps.buffer.erase(ps.buffer.begin(),
                            ps.buffer.begin() + static_cast<std::ptrdiff_t>(cut));
            if (book_buf_.size() > cfg_.max_buffered_records) {
                ps.health.buffered_dropped += book_buf_.size();
                return;
            }
        }
        ps.buffer.insert(ps.buffer.end(), book_buf_.begin(), book_buf_.end());
        return;
    }
    const OrderBook& book = engine_.book(sym);
    const BookLevelEvent& head = book_buf_.front();
    const ApplyResult seq = book.check_sequence(head.update_id, head.prev_update_id);
    if (seq == ApplyResult::Applied) {
        check_tickers(ps, sym, r.first_update_id, r.last_update_id);
    }
    // Throws (book unchanged) for levels the engine refuses: counted by the caller.
    // book_buf_ is one message of this session's parser: only its prices need checking.
    const std::size_t applied = engine_.ingest_parsed_message(book_buf_.data(), book_buf_.size());
    if (!book.in_sync()) {
        desynced(ps, sym); // the pending tickers fell in the gap: unverifiable
        return;
    }
    if (applied != 0 || seq != ApplyResult::Stale) {
        ps.stale_run = 0;
        ps.applied_since_snapshot = ps.applied_since_snapshot || applied != 0;
        return;
    }
    ++ps.health.stale_messages;
    if (cfg_.max_stale_messages == 0) {
        return;
    }
    if (!ps.applied_since_snapshot) {
        // Binance's procedure drops the messages a newer snapshot already holds: a REST
        // snapshot ahead of the stream makes any number of them stale, legitimately. Only an
        // id of the snapshot implausibly far ahead of the stream is a frozen book.
        const auto ahead = static_cast<std::uint64_t>(book.last_update_id()) -
                           static_cast<std::uint64_t>(head.update_id);
        if (ahead <= static_cast<std::uint64_t>(kMaxUpdateIdJump)) {
            return;
        }
    } else if (++ps.stale_run < cfg_.max_stale_messages) {
        return;
    }
    // Depth keeps arriving and none of it applies: the book's last id is ahead of the stream
    // (a corrupt id got in), so the book is frozen while claiming sync.
    engine_.mark_out_of_sync(sym, DesyncReason::Stalled);
    desynced(ps, sym);
}

void FeedSession::after_update(PerSymbol& ps, std::uint32_t sym, std::int64_t ts_ns) {
    const ConfluenceResult& res = engine_.result(sym);
    const double score = res.score;
    const int region = score >= cfg_.long_threshold ? 1 : (score <= cfg_.short_threshold ? -1 : 0);
    const bool want_point = cfg_.series_interval_ns >= 0 &&
                            (ps.last_series_ts == std::numeric_limits<std::int64_t>::min() ||
                             ts_ns - ps.last_series_ts >= cfg_.series_interval_ns);
    if (region == ps.region && !want_point) {
        return;
    }
    double mid = std::nan("");
    const OrderBook& book = engine_.book(sym);
    if (book.in_sync()) {
        const auto bb = book.best_bid();
        const auto ba = book.best_ask();
        if (bb && ba) {
            mid = 0.5 * (engine_.instrument(sym).ticks_to_price(bb->px) +
                         engine_.instrument(sym).ticks_to_price(ba->px));
        }
    }
    if (region != ps.region) {
        if (region != 0) {
            signals_.push(SignalEvent{ts_ns, sym, region, score, mid});
            ++(region > 0 ? ps.health.long_signals : ps.health.short_signals);
        }
        ps.region = region;
    }
    if (want_point) {
        ps.last_series_ts = ts_ns;
        ScorePoint pt{ts_ns,           sym, 0, mid, score, res.score_raw, res.confidence,
                      res.reliability, {}};
        for (std::size_t c = 0; c < kComponentCount; ++c) {
            pt.components[c] = (res.has_data_mask >> c) & 1U
                                   ? res.component_score[c]
                                   : std::numeric_limits<double>::quiet_NaN();
        }
        series_.push(pt);
    }
}

ParseResult FeedSession::on_message(std::string_view raw, std::int64_t ts_ns) {
    if (is_sentiment_stream(raw, venue_ == Venue::Bybit)) [[unlikely]] {
        return on_sentiment(raw, ts_ns);
    }
    const std::int64_t t0 = stage_ticks();
    ParseResult r = parse(raw, ts_ns);
    const std::int64_t t1 = stage_ticks();
    latency_[static_cast<std::size_t>(Stage::Parse)].record(t1 - t0);
    const std::uint32_t sym = r.symbol_id;
    PerSymbol* ps = sym < symbols_.size() && symbols_[sym].routed ? &symbols_[sym] : nullptr;
    if (!r.ok() || ps == nullptr) {
        if (ps != nullptr) {
            ++ps->health.parse_errors;
        }
        return r;
    }
    bool changed = true;
    try {
        switch (r.kind) {
        case MsgKind::Depth:
            ++ps->health.depth_messages;
            ps->health.last_book_ts_ns = ts_ns;
            apply_depth_records(*ps, sym, r);
            break;
        case MsgKind::Snapshot:
            ps->health.last_book_ts_ns = ts_ns;
            apply_snapshot_records(*ps, sym);
            break;
        case MsgKind::Trade:
            ++ps->health.trade_messages;
            ps->health.last_trade_ts_ns = ts_ns;
            ingest_trades(*ps);
            changed = !trade_buf_.empty();
            break;
        case MsgKind::BookTicker:
            ++ps->health.ticker_messages;
            changed = false;
            if (ps->health.phase != SyncPhase::Synced) {
                ++ps->health.ticker_unverifiable;
            } else if (r.ticker.update_id >= engine_.book(sym).last_update_id() &&
                       ps->pending.size() < cfg_.max_pending_tickers) {
                ps->pending.push_back(r.ticker);
            }
            break;
        default:
            changed = false;
            break;
        }
    } catch (const Error&) {
        // Records the parser accepted but the engine refused (e.g. a zero price): the batch
        // validation left the engine unchanged; counted as this symbol's bad message.
        ++ps->health.parse_errors;
        return r;
    }
    const std::int64_t t2 = stage_ticks();
    if (!changed) {
        return r;
    }
    latency_[static_cast<std::size_t>(Stage::Apply)].record(t2 - t1);
    after_update(*ps, sym, ts_ns);
    const std::int64_t t3 = stage_ticks();
    latency_[static_cast<std::size_t>(Stage::Recompute)].record(t3 - t2);
    latency_[static_cast<std::size_t>(Stage::Total)].record(t3 - t0);
    return r;
}

std::size_t FeedSession::on_messages(const std::string_view* msgs, const std::int64_t* ts_ns,
                                     std::size_t n, MessageResult* out, std::size_t ts_stride) {
    std::size_t good = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + 1 < n) {
            // The next frame's bytes, while this one is processed (frames of a batch are
            // separate buffers: a cold first touch otherwise stalls each message's header).
            const std::string_view next = msgs[i + 1];
            for (std::size_t off = 0; off < next.size(); off += 64) {
                __builtin_prefetch(next.data() + off);
            }
        }
        const ParseResult r = on_message(msgs[i], ts_ns[i * ts_stride]);
        good += r.ok() ? 1U : 0U;
        if (out != nullptr) {
            out[i] = to_message_result(r);
        }
    }
    return good;
}

ParseResult FeedSession::on_snapshot(std::uint32_t sym, std::string_view json, std::int64_t ts_ns) {
    PerSymbol& ps = state(sym);
    if (venue_ == Venue::Bybit) {
        throw InvalidConfig(
            "Bybit books are snapshotted in-stream; on_snapshot() is for Binance REST depth");
    }
    book_buf_.clear();
    ParseResult r = binance_->parse_snapshot(json, sym, ts_ns, book_buf_);
    if (!r.ok()) {
        ++ps.health.parse_errors;
        return r;
    }
    try {
        apply_snapshot_records(ps, sym);
    } catch (const Error&) {
        ++ps.health.parse_errors;
        return r;
    }
    after_update(ps, sym, ts_ns);
    return r;
}

std::size_t FeedSession::replay(std::string_view data, LineFormat format) {
    std::size_t fed = 0;
    detail::for_each_stamped_line(data, format, [&](std::string_view line, std::int64_t ts) {
        (void)on_message(line, ts); // an empty line (bad stamp) is counted as Malformed
        ++fed;
        ++lines_;
    });
    return fed;
}

void FeedSession::reserve_ahead() noexcept {
    series_.reserve_ahead();
    signals_.reserve_ahead();
    try {
        book_buf_.reserve(kReserveRecords);
        trade_buf_.reserve(kReserveTrades);
        for (std::vector<Ticks>& v : touched_px_) {
            v.reserve(kReserveRecords);
        }
    } catch (const std::bad_alloc&) {
        // The message that needs the room allocates it, as without this call.
    }
    for (std::uint32_t sym = 0; sym < symbols_.size(); ++sym) {
        PerSymbol& ps = symbols_[sym];
        if (!ps.routed) {
            continue;
        }
        if (ps.health.ticker_messages != 0) { // a symbol with tickers only
            try {
                ps.pending.reserve(cfg_.max_pending_tickers);
            } catch (const std::bad_alloc&) {
                // As above: the ticker that needs the room allocates it.
            }
        }
        engine_.reserve_ahead(sym);
    }
}

void FeedSession::warm() const noexcept {
    prefetch_range(this, sizeof *this);
    if (venue_ != Venue::Bybit && !table_.entries().empty()) {
        try {
            if (!warm_parse_ || warm_parse_->symbols != table_.entries().size()) {
                auto w = std::make_unique<WarmParse>();
                w->table = table_;
                w->parser =
                    std::make_unique<BinanceParser>(w->table, venue_ == Venue::BinanceFutures);
                const SymbolTable::Entry& e = table_.entries().front();
                std::string levels;
                for (int i = 0; i < 8; ++i) {
                    levels += (i == 0 ? "[\"" : ",[\"") + std::to_string(100 + i) + "\",\"1\"]";
                }
                w->msg = "{\"e\":\"depthUpdate\",\"E\":1,\"T\":1,\"s\":\"" + e.venue_symbol +
                         "\",\"U\":1,\"u\":2,\"pu\":0,\"b\":[" + levels + "],\"a\":[" + levels +
                         "]}";
                w->book.reserve(64);
                w->trades.reserve(8);
                w->symbols = table_.entries().size();
                warm_parse_ = std::move(w);
            }
            WarmParse& w = *warm_parse_;
            w.book.clear();
            w.trades.clear();
            (void)w.parser->parse(w.msg, 0, w.book, w.trades);
        } catch (...) {
            warm_parse_.reset(); // out of memory: no rehearsal this time
        }
    }
    prefetch_range(binance_.get(), binance_ ? sizeof *binance_ : 0);
    prefetch_range(bybit_.get(), bybit_ ? sizeof *bybit_ : 0);
    // The record buffers the next message is parsed into (written: fetched exclusive).
    prefetch_range(book_buf_.data(), book_buf_.capacity() * sizeof(BookLevelEvent), true,
                   std::size_t{8} << 10);
    prefetch_range(trade_buf_.data(), trade_buf_.capacity() * sizeof(TradeEvent), true,
                   std::size_t{4} << 10);
    prefetch_range(symbols_.data(), symbols_.size() * sizeof(PerSymbol));
    for (std::uint32_t sym = 0; sym < symbols_.size(); ++sym) {
        if (symbols_[sym].routed) {
            engine_.warm(sym);
        }
    }
}

} // namespace confluex::feed
