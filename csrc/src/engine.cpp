// Engine: per-symbol state, batch validation and lazy score recomputation.
#include "confluex/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "confluex/errors.hpp"
#include "confluex/prefetch.hpp"
#include "confluex/sentiment_parser.hpp"

namespace confluex {

struct Engine::Views {
    explicit Views(const EngineConfig& cfg)
        : bars(cfg.bars), tech(cfg.technical),
          vview(cfg.volume_view), ps{PriceStructure(cfg.structure), PriceStructure(cfg.structure),
                                     PriceStructure(cfg.structure), PriceStructure(cfg.structure)},
          sent(cfg.sentiment) {
        for (std::size_t i = 0; i < levels.size(); ++i) {
            const auto lv = cfg.view_timeframes_ns[i] > 0 ? bars.level_of(cfg.view_timeframes_ns[i])
                                                          : std::optional<std::size_t>{};
            levels[i] = lv ? static_cast<int>(*lv) : -1;
        }
    }

    BarBuilder bars;
    TechnicalView tech;
    VolumeView vview;
    std::array<PriceStructure, 4> ps;
    std::array<std::uint64_t, 4> ps_seen{};
    Sentiment sent;
    std::array<int, 4> levels{-1, -1, -1, -1};
    std::uint64_t level0_seen = 0; // level-0 bars closed at the last view sync
    ComponentScore vol_bars{};     // the bar view's volume component
    // Orderflow extras from the views (NaN: no data).
    double oi_quadrant = std::numeric_limits<double>::quiet_NaN();
    double cvd_divergence = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> div_delta, div_volume, div_close; // scratch, oldest first
};

struct Engine::SymbolState {
    SymbolState(std::string n, const Instrument& inst, const EngineConfig& cfg)
        : name(std::move(n)), instrument(inst), book(cfg.book), flow(cfg.flow),
          ofi(cfg.ofi_window_ns, cfg.ofi_capacity), stacked(cfg.stacked) {}

    std::string name;
    Instrument instrument;
    OrderBook book;
    TradeFlow flow;
    signals::OfiWindow ofi;
    std::array<ComponentScore, kComponentCount> comps{};
    std::array<bool, kComponentCount> external{};
    std::array<double, kComponentCount> external_score{};
    ConfluenceResult result{};
    SymbolStats stats{};
    // Bar views (EngineConfig::bar_views), allocated at the symbol's first trade, history or
    // sentiment input: an idle symbol costs only its book and windows.
    std::unique_ptr<Views> views;
    ComponentScore vol_flow{}; // the trade-flow volume component
    // Stacked imbalance: the window, and its reading at the last multiple of
    // stacked.refresh_ns of event time that a trade (or advance()) reached; stacked_next is the
    // next such grid point (see stacked_clock()).
    StackedImbalance stacked;
    StackedImbalanceResult stacked_last{};
    std::int64_t stacked_next = std::numeric_limits<std::int64_t>::min();
    // Liquidity depth-band balance of the book as it stood at the last multiple of
    // flow_extras.liquidity_refresh_ns that a book message (or advance()) reached, and after
    // each snapshot (see liquidity_clock()).
    double liquidity_raw = std::numeric_limits<double>::quiet_NaN();
    std::int64_t liquidity_next = std::numeric_limits<std::int64_t>::min();
    bool bars_dirty = true;
    bool sent_dirty = true;
    bool book_dirty = true;
    bool flow_dirty = true;
    bool result_dirty = true;
};

namespace {

std::string idx_prefix(const char* what, std::size_t i) {
    return std::string(what) + " " + std::to_string(i) + ": ";
}

void set_external(ComponentScore& c, double score) noexcept {
    c = ComponentScore{};
    c.score = score;
    c.has_data = true;
}

constexpr std::size_t kDrainChunk = 4096;

// The event-time grid of the cached extras: the multiple of period (> 0) at or below ts, and
// the one after it (saturating at the int64 ends).
std::int64_t grid_floor(std::int64_t ts, std::int64_t period) noexcept {
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    const std::int64_t r = ts % period; // in (-period, period)
    if (r >= 0) {
        return ts - r;
    }
    return ts - kMin < period + r ? kMin : ts - r - period;
}

std::int64_t grid_after(std::int64_t floor, std::int64_t period) noexcept {
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    return floor > kMax - period ? kMax : floor + period;
}

// The volume component: bar_weight x the bar view + (1 - bar_weight) x the trade-flow volume
// when the bar view has data (its sub-scores kept, scaled, plus one "trade_flow" sub-score);
// the trade-flow volume alone otherwise.
void blend_volume(const ComponentScore& bars, const ComponentScore& flow, double bar_weight,
                  ComponentScore& out) noexcept {
    if (!bars.has_data || bar_weight <= 0.0) {
        out = flow;
        return;
    }
    if (!flow.has_data || bar_weight >= 1.0) {
        out = bars;
        return;
    }
    out = ComponentScore{};
    out.has_data = true;
    out.score = bar_weight * bars.score + (1.0 - bar_weight) * flow.score;
    out.warmup = bar_weight * bars.warmup + (1.0 - bar_weight) * flow.warmup;
    double wsum = 0.0;
    for (std::size_t i = 0; i < bars.n_sub; ++i) {
        wsum += bars.sub_weight[i];
    }
    std::size_t n = 0;
    for (std::size_t i = 0; i < bars.n_sub && n + 1 < kMaxSubScores; ++i) {
        out.sub[n] = bars.sub[i];
        out.sub_weight[n] = wsum > 0.0 ? bar_weight * bars.sub_weight[i] / wsum : 0.0;
        out.sub_name[n] = bars.sub_name[i];
        ++n;
    }
    out.sub[n] = flow.score;
    out.sub_weight[n] = 1.0 - bar_weight;
    out.sub_name[n] = "trade_flow";
    out.n_sub = static_cast<std::uint8_t>(n + 1);
}

} // namespace

Engine::Engine(EngineConfig cfg)
    : cfg_(std::move(cfg)), aggregator_(cfg_.aggregator), book_consts_(cfg_.book_signals) {
    // Construct one of each per-symbol part now so that a bad config fails here, at
    // construction, with its InvalidConfig, and not at the first add_symbol().
    [[maybe_unused]] const OrderBook book_probe(cfg_.book);
    cfg_.book.top_cache = std::max(cfg_.book.top_cache, book_view_levels());
    [[maybe_unused]] const TradeFlow flow_probe(cfg_.flow);
    [[maybe_unused]] const signals::OfiWindow ofi_probe(cfg_.ofi_window_ns, cfg_.ofi_capacity);
    cfg_.stacked.validate();
    cfg_.flow_extras.validate();
    if (cfg_.bar_views) {
        cfg_.bars.validate();
        cfg_.technical.validate();
        cfg_.volume_view.validate();
        cfg_.structure.validate();
        cfg_.sentiment.validate();
        const BarBuilder probe(cfg_.bars);
        for (std::size_t i = 0; i < cfg_.view_timeframes_ns.size(); ++i) {
            const std::int64_t tf = cfg_.view_timeframes_ns[i];
            if (tf != 0 && !probe.level_of(tf)) {
                throw InvalidConfig("view_timeframes_ns[" + std::to_string(i) +
                                    "] must be 0 or one of the bar timeframes, was " +
                                    std::to_string(tf));
            }
        }
        for (const double w : cfg_.structure_timeframe_weights) {
            if (!std::isfinite(w) || w < 0.0) {
                throw InvalidConfig("structure_timeframe_weights must be finite and >= 0, was " +
                                    std::to_string(w));
            }
        }
        if (!(cfg_.volume_bar_weight >= 0.0 && cfg_.volume_bar_weight <= 1.0)) {
            throw InvalidConfig("volume_bar_weight must be within [0, 1], was " +
                                std::to_string(cfg_.volume_bar_weight));
        }
    }
    scratch_bids_.reserve(1024);
    scratch_asks_.reserve(1024);
}

Engine::~Engine() = default;

std::uint32_t Engine::add_symbol(std::string_view name, const Instrument& instrument) {
    if (name.empty()) {
        throw InvalidConfig("symbol name must be non-empty, was ''");
    }
    std::string key(name);
    if (ids_.contains(key)) {
        throw InvalidConfig("symbol already registered, was '" + key + "'");
    }
    if (symbols_.size() >= static_cast<std::size_t>(UINT32_MAX)) {
        throw CapacityExceeded("too many symbols");
    }
    const auto id = static_cast<std::uint32_t>(symbols_.size());
    symbols_.push_back(std::make_unique<SymbolState>(key, instrument, cfg_));
    ids_.emplace(std::move(key), id);
    return id;
}

std::uint32_t Engine::symbol_id(std::string_view name) const {
    const auto it = ids_.find(std::string(name));
    if (it == ids_.end()) {
        throw UnknownSymbol("unknown symbol, was '" + std::string(name) + "'");
    }
    return it->second;
}

Engine::SymbolState& Engine::at(std::uint32_t sym) {
    if (sym >= symbols_.size()) {
        throw UnknownSymbol("unknown symbol id, was " + std::to_string(sym) + " (" +
                            std::to_string(symbols_.size()) + " registered)");
    }
    return *symbols_[sym];
}

const Engine::SymbolState& Engine::at(std::uint32_t sym) const {
    return const_cast<Engine*>(this)->at(sym); // NOLINT: same lookup, const result
}

const std::string& Engine::symbol_name(std::uint32_t sym) const { return at(sym).name; }
const Instrument& Engine::instrument(std::uint32_t sym) const { return at(sym).instrument; }
const OrderBook& Engine::book(std::uint32_t sym) const { return at(sym).book; }
const TradeFlow& Engine::flow(std::uint32_t sym) const { return at(sym).flow; }
const signals::OfiWindow& Engine::ofi(std::uint32_t sym) const { return at(sym).ofi; }
const StackedImbalance& Engine::stacked(std::uint32_t sym) const { return at(sym).stacked; }
const SymbolStats& Engine::stats(std::uint32_t sym) const { return at(sym).stats; }

// --- per-event ----------------------------------------------------------------------------

void Engine::after_book_message(SymbolState& s, std::int64_t ts_ns) noexcept {
    s.stats.last_event_ts_ns = std::max(s.stats.last_event_ts_ns, ts_ns);
    if (s.book.in_sync()) {
        s.ofi.on_quote(ts_ns, s.book.best_bid(), s.book.best_ask());
    }
    s.book_dirty = true;
    s.result_dirty = true;
}

void Engine::apply_snapshot(std::uint32_t sym, std::span<const Level> bids,
                            std::span<const Level> asks, std::int64_t update_id,
                            std::int64_t ts_ns) {
    SymbolState& s = at(sym);
    liquidity_clock(s, ts_ns);
    s.book.apply_snapshot(bids, asks, update_id); // throws with the book unchanged
    ++s.stats.snapshots;
    // Order-flow imbalance across a resync would difference two unrelated books.
    s.ofi.reset();
    // The bands of the book before a resync describe another book: re-read them now (at
    // ingestion, so live and replay agree).
    if (cfg_.flow_extras.enabled && cfg_.flow_extras.liquidity_refresh_ns > 0) {
        s.liquidity_raw = liquidity_now(s);
    }
    after_book_message(s, ts_ns);
}

ApplyResult Engine::apply_depth(std::uint32_t sym, std::span<const Level> bids,
                                std::span<const Level> asks, std::int64_t update_id,
                                std::int64_t prev_update_id, std::int64_t ts_ns) {
    SymbolState& s = at(sym);
    liquidity_clock(s, ts_ns);
    return after_depth(s, s.book.apply_delta(bids, asks, update_id, prev_update_id), ts_ns);
}

void Engine::mark_out_of_sync(std::uint32_t sym, DesyncReason reason) {
    SymbolState& s = at(sym);
    s.book.mark_out_of_sync(reason);
    after_book_message(s, s.stats.last_event_ts_ns);
}

ApplyResult Engine::after_depth(SymbolState& s, ApplyResult r, std::int64_t ts_ns) noexcept {
    ++s.stats.book_messages;
    // Stale and not-synced messages left the book as it was; anything else changed it (or its
    // sync state).
    if (r != ApplyResult::Stale && r != ApplyResult::NotSynced) {
        after_book_message(s, ts_ns);
    }
    return r;
}

void Engine::after_trades(SymbolState& s, std::size_t count, std::int64_t last_ts_ns) noexcept {
    s.stats.trades += count;
    s.stats.last_event_ts_ns = std::max(s.stats.last_event_ts_ns, last_ts_ns);
    s.flow_dirty = true;
    s.result_dirty = true;
    if (s.views && s.views->bars.closed_count(0) != s.views->level0_seen) {
        s.bars_dirty = true;
    }
}

void Engine::push_trade(std::uint32_t sym, std::int64_t ts_ns, Ticks px, Lots qty, Aggressor side) {
    SymbolState& s = at(sym);
    s.flow.push(ts_ns, px, qty, side); // throws with the windows unchanged
    if (cfg_.flow_extras.enabled) {
        stacked_clock(s, ts_ns);
        s.stacked.push_unchecked(ts_ns, px, qty, side); // valid: the flow accepted it
    }
    if (cfg_.bar_views) {
        // Valid: the flow accepted it (price > 0, qty > 0).
        views(s).bars.on_trade(ts_ns, s.instrument.ticks_to_price(px),
                               s.instrument.lots_to_qty(qty), side);
    }
    after_trades(s, 1, ts_ns);
}

void Engine::advance(std::uint32_t sym, std::int64_t now_ns) {
    SymbolState& s = at(sym);
    if (now_ns <= s.stats.last_event_ts_ns) {
        return;
    }
    s.stats.last_event_ts_ns = now_ns;
    s.flow.advance(now_ns);
    if (cfg_.flow_extras.enabled) {
        stacked_clock(s, now_ns);
        liquidity_clock(s, now_ns);
    }
    s.stacked.advance(now_ns);
    s.ofi.advance(now_ns);
    if (s.views) {
        s.views->bars.advance(now_ns);
        s.bars_dirty = s.bars_dirty || s.views->bars.closed_count(0) != s.views->level0_seen;
        s.sent_dirty = true;
    }
    s.flow_dirty = true;
    s.book_dirty = true;
    s.result_dirty = true;
}

// --- batch --------------------------------------------------------------------------------

void Engine::validate_book_events(const BookLevelEvent* ev, std::size_t n) const {
    std::size_t msg_start = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const BookLevelEvent& e = ev[i];
        if (e.symbol_id >= symbols_.size()) {
            throw UnknownSymbol(idx_prefix("book event", i) + "unknown symbol id, was " +
                                std::to_string(e.symbol_id));
        }
        if (i > msg_start) {
            const BookLevelEvent& h = ev[msg_start];
            if (e.symbol_id != h.symbol_id || e.update_id != h.update_id ||
                e.prev_update_id != h.prev_update_id ||
                ((e.flags ^ h.flags) & book_flags::kSnapshot) != 0) {
                throw InvalidEvent(
                    idx_prefix("book event", i) +
                    "records of one message must share symbol, ids and snapshot flag "
                    "(message started at record " +
                    std::to_string(msg_start) + "), was update_id " + std::to_string(e.update_id));
            }
        }
        if ((e.flags & book_flags::kNoLevel) == 0) {
            if (e.side > 1) {
                throw InvalidEvent(idx_prefix("book event", i) +
                                   "side must be 0 (bid) or 1 (ask), was " +
                                   std::to_string(e.side));
            }
            if (e.px_ticks <= 0) {
                throw InvalidEvent(idx_prefix("book event", i) + "price must be positive, was " +
                                   std::to_string(e.px_ticks) + " ticks");
            }
            if (e.qty_lots < 0) {
                throw InvalidEvent(idx_prefix("book event", i) + "qty must be non-negative, was " +
                                   std::to_string(e.qty_lots) + " lots");
            }
        }
        if ((e.flags & book_flags::kEndOfMessage) != 0) {
            msg_start = i + 1;
        }
    }
    if (msg_start != n) {
        throw InvalidEvent(
            idx_prefix("book event", n - 1) +
            "batch ends inside a message (its last record lacks FLAG_END_OF_MESSAGE)");
    }
}

std::size_t Engine::apply_book_message(const BookLevelEvent* first, std::size_t n) {
    SymbolState& s = *symbols_[first->symbol_id];
    const std::int64_t ts = first[n - 1].ts_ns;
    liquidity_clock(s, ts);
    if ((first->flags & book_flags::kSnapshot) == 0) {
        // validate_book_events() checked every level: apply the records in place, without
        // per-side copies or a second validation.
        const ApplyResult r = after_depth(
            s, s.book.apply_delta_records(first, n, first->update_id, first->prev_update_id), ts);
        return r == ApplyResult::Applied ? 1 : 0;
    }
    scratch_bids_.clear();
    scratch_asks_.clear();
    for (std::size_t i = 0; i < n; ++i) {
        const BookLevelEvent& e = first[i];
        if ((e.flags & book_flags::kNoLevel) != 0) {
            continue;
        }
        (e.side == 0 ? scratch_bids_ : scratch_asks_).push_back(Level{e.px_ticks, e.qty_lots});
    }
    try {
        apply_snapshot(first->symbol_id, scratch_bids_, scratch_asks_, first->update_id, ts);
    } catch (const Error&) {
        // Duplicate levels or a crossed snapshot are only detectable on the whole message;
        // the book refused it unchanged. Counted, not thrown, so a replay keeps going.
        ++s.stats.rejected_snapshots;
        return 0;
    }
    return 1;
}

std::size_t Engine::ingest_book(const BookLevelEvent* ev, std::size_t n) {
    validate_book_events(ev, n);
    std::size_t applied = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if ((ev[i].flags & book_flags::kEndOfMessage) != 0) {
            applied += apply_book_message(ev + start, i + 1 - start);
            start = i + 1;
        }
    }
    return applied;
}

std::size_t Engine::ingest_parsed_message(const BookLevelEvent* ev, std::size_t n) {
#ifndef NDEBUG
    validate_book_events(ev, n);
#endif
    bool zero_px = false;
    for (std::size_t i = 0; i < n; ++i) {
        zero_px |= (ev[i].px_ticks <= 0) & ((ev[i].flags & book_flags::kNoLevel) == 0);
    }
    if (zero_px) [[unlikely]] {
        validate_book_events(ev, n); // throws, naming the record
    }
    return n == 0 ? 0 : apply_book_message(ev, n);
}

void Engine::validate_trade_events(const TradeEvent* ev, std::size_t n) const {
    for (std::size_t i = 0; i < n; ++i) {
        const TradeEvent& e = ev[i];
        if (e.symbol_id >= symbols_.size()) {
            throw UnknownSymbol(idx_prefix("trade", i) + "unknown symbol id, was " +
                                std::to_string(e.symbol_id));
        }
        if (e.px_ticks <= 0) {
            throw InvalidEvent(idx_prefix("trade", i) + "price must be positive, was " +
                               std::to_string(e.px_ticks) + " ticks");
        }
        if (e.qty_lots <= 0) {
            throw InvalidEvent(idx_prefix("trade", i) + "qty must be positive, was " +
                               std::to_string(e.qty_lots) + " lots");
        }
        if (e.qty_lots > kMaxTradeLots) {
            throw InvalidEvent(idx_prefix("trade", i) + "qty must be at most 2^48 lots, was " +
                               std::to_string(e.qty_lots) + " lots");
        }
        if (e.side > 2) {
            throw InvalidEvent(idx_prefix("trade", i) +
                               "side must be 0 (buy), 1 (sell) or 2 (unknown), was " +
                               std::to_string(e.side));
        }
    }
}

std::size_t Engine::ingest_trades(const TradeEvent* ev, std::size_t n) {
    validate_trade_events(ev, n);
    // Replays are mostly long runs of one symbol: hand each run to the flow's batch loop
    // (already validated) and update the symbol's counters once per run.
    std::size_t i = 0;
    while (i < n) {
        const std::uint32_t sym = ev[i].symbol_id;
        std::int64_t last_ts = ev[i].ts_ns;
        std::size_t j = i + 1;
        for (; j < n && ev[j].symbol_id == sym; ++j) {
            last_ts = std::max(last_ts, ev[j].ts_ns);
        }
        SymbolState& s = *symbols_[sym];
        s.flow.push_validated(ev + i, j - i);
        if (cfg_.flow_extras.enabled) {
            for (std::size_t k = i; k < j; ++k) {
                stacked_clock(s, ev[k].ts_ns);
                s.stacked.push_unchecked(ev[k].ts_ns, ev[k].px_ticks, ev[k].qty_lots,
                                         static_cast<Aggressor>(ev[k].side));
            }
        }
        if (cfg_.bar_views) {
            BarBuilder& bars = views(s).bars;
            for (std::size_t k = i; k < j; ++k) {
                bars.on_trade(ev[k].ts_ns, s.instrument.ticks_to_price(ev[k].px_ticks),
                              s.instrument.lots_to_qty(ev[k].qty_lots),
                              static_cast<Aggressor>(ev[k].side));
            }
        }
        after_trades(s, j - i, last_ts);
        i = j;
    }
    return n;
}

std::size_t Engine::drain_book(SpscRing<BookLevelEvent>& ring, std::size_t max_events) {
    std::size_t popped = 0;
    while (popped < max_events) {
        const std::size_t pending = drain_book_buf_.size();
        const std::size_t want = std::min(kDrainChunk, max_events - popped);
        drain_book_buf_.resize(pending + want);
        const std::size_t got = ring.pop_n(drain_book_buf_.data() + pending, want);
        drain_book_buf_.resize(pending + got);
        popped += got;
        // Apply every complete message; keep a trailing partial one for the next pop.
        std::size_t end = drain_book_buf_.size();
        while (end > 0 && (drain_book_buf_[end - 1].flags & book_flags::kEndOfMessage) == 0) {
            --end;
        }
        if (end > 0) {
            try {
                ingest_book(drain_book_buf_.data(), end);
            } catch (...) {
                drain_book_buf_.erase(drain_book_buf_.begin(),
                                      drain_book_buf_.begin() + static_cast<std::ptrdiff_t>(end));
                throw;
            }
            drain_book_buf_.erase(drain_book_buf_.begin(),
                                  drain_book_buf_.begin() + static_cast<std::ptrdiff_t>(end));
        }
        if (got < want) {
            break;
        }
    }
    return popped;
}

std::size_t Engine::drain_trades(SpscRing<TradeEvent>& ring, std::size_t max_events) {
    std::size_t popped = 0;
    drain_trade_buf_.resize(kDrainChunk);
    while (popped < max_events) {
        const std::size_t want = std::min(kDrainChunk, max_events - popped);
        const std::size_t got = ring.pop_n(drain_trade_buf_.data(), want);
        popped += got;
        ingest_trades(drain_trade_buf_.data(), got);
        if (got < want) {
            break;
        }
    }
    return popped;
}

// --- components and reads ------------------------------------------------------------------

void Engine::set_component(std::uint32_t sym, Component c, double score) {
    SymbolState& s = at(sym);
    const auto i = static_cast<std::size_t>(c);
    if (i >= kComponentCount) {
        throw InvalidEvent("component index out of range, was " + std::to_string(i));
    }
    if (!std::isfinite(score) || score < 0.0 || score > 100.0) {
        throw InvalidEvent("component '" + std::string(kComponentNames[i]) +
                           "' score must be finite and within [0, 100], was " +
                           std::to_string(score));
    }
    s.external[i] = true;
    s.external_score[i] = score;
    set_external(s.comps[i], score);
    s.result_dirty = true;
}

void Engine::clear_component(std::uint32_t sym, Component c) {
    SymbolState& s = at(sym);
    const auto i = static_cast<std::size_t>(c);
    if (i >= kComponentCount) {
        throw InvalidEvent("component index out of range, was " + std::to_string(i));
    }
    s.external[i] = false;
    s.comps[i] = ComponentScore{};
    s.book_dirty = s.flow_dirty = s.result_dirty = true;
    s.bars_dirty = s.sent_dirty = cfg_.bar_views;
}

Engine::Views& Engine::views(SymbolState& s) {
    if (!s.views) [[unlikely]] {
        s.views = std::make_unique<Views>(cfg_);
    }
    return *s.views;
}

Engine::Views& Engine::views_of(std::uint32_t sym) {
    SymbolState& s = at(sym);
    if (!cfg_.bar_views) {
        throw InvalidConfig("bar views are off in this engine (EngineConfig.bar_views false, the "
                            "hft_ultra_fast profile), was a call for symbol '" +
                            s.name + "'");
    }
    return views(s);
}

std::int64_t Engine::load_history(std::uint32_t sym, std::span<const double> rows,
                                  std::int64_t timeframe_ns) {
    Views& v = views_of(sym);
    const std::int64_t tf = v.bars.load_history(rows, timeframe_ns); // throws unchanged
    SymbolState& s = at(sym);
    s.bars_dirty = s.result_dirty = true;
    return tf;
}

void Engine::on_funding(std::uint32_t sym, std::int64_t ts_ns, double rate) {
    views_of(sym).sent.on_funding(ts_ns, rate);
    SymbolState& s = at(sym);
    s.sent_dirty = s.result_dirty = true;
}

void Engine::on_open_interest(std::uint32_t sym, std::int64_t ts_ns, double value) {
    views_of(sym).sent.on_open_interest(ts_ns, value);
    SymbolState& s = at(sym);
    s.sent_dirty = s.result_dirty = true;
}

void Engine::on_long_short(std::uint32_t sym, std::int64_t ts_ns, double long_share,
                           double short_share) {
    views_of(sym).sent.on_long_short(ts_ns, long_share, short_share);
    SymbolState& s = at(sym);
    s.sent_dirty = s.result_dirty = true;
}

void Engine::on_liquidation(std::uint32_t sym, std::int64_t ts_ns, LiquidatedSide side,
                            double notional) {
    views_of(sym).sent.on_liquidation(ts_ns, side, notional);
    SymbolState& s = at(sym);
    s.sent_dirty = s.result_dirty = true;
}

void Engine::on_mark(std::uint32_t sym, const feed::MarkUpdate& m) {
    views_of(sym).sent.on_mark(m);
    SymbolState& s = at(sym);
    s.sent_dirty = s.result_dirty = true;
}

void Engine::on_liquidation_event(std::uint32_t sym, const feed::LiquidationEvent& e) {
    views_of(sym).sent.on_liquidation_event(e);
    SymbolState& s = at(sym);
    s.sent_dirty = s.result_dirty = true;
}

const BarBuilder& Engine::bars(std::uint32_t sym) const {
    // A symbol's views are allocated at its first use; reading its bars is one.
    return const_cast<Engine*>(this)->views_of(sym).bars; // NOLINT: same lookup, const result
}

TechnicalReport Engine::technical_report(std::uint32_t sym) {
    (void)result(sym);
    TechnicalReport r{};
    ComponentScore tmp{};
    views_of(sym).tech.compute(tmp, &r);
    return r;
}

void Engine::set_weights(const std::array<double, kComponentCount>& w) {
    aggregator_.set_weights(w); // validates; strong guarantee
    for (auto& s : symbols_) {
        s->result_dirty = true;
    }
}

void Engine::recompute(SymbolState& s) {
    constexpr auto kBook = static_cast<std::size_t>(Component::Orderbook);
    constexpr auto kFlow = static_cast<std::size_t>(Component::Orderflow);
    constexpr auto kVol = static_cast<std::size_t>(Component::Volume);
    if (s.book_dirty && !s.external[kBook]) {
        ComponentScore& out = s.comps[kBook];
        const auto bb = s.book.best_bid();
        const auto ba = s.book.best_ask();
        if (s.book.in_sync() && bb && ba) {
            // Depth ratio within ±band % of mid, over occupied levels only.
            const double mid = 0.5 * (static_cast<double>(bb->px) + static_cast<double>(ba->px));
            const double band = mid * cfg_.book_signals.depth_band_pct / 100.0;
            const auto lo = static_cast<Ticks>(std::ceil(mid - band));
            const auto hi = static_cast<Ticks>(std::floor(mid + band));
            const auto db = static_cast<double>(s.book.depth_within(BookSide::Bid, lo, hi));
            const auto da = static_cast<double>(s.book.depth_within(BookSide::Ask, lo, hi));
            const double ratio = (db + da) > 0.0 ? (db - da) / (db + da) : std::nan("");
            const BookView top = s.book.top(book_view_levels());
            const bool extras = cfg_.flow_extras.enabled;
            const double absorption =
                extras ? signals::absorption_exhaustion(top, 25).value_or(std::nan(""))
                       : std::nan("");
            if (extras && cfg_.flow_extras.liquidity_refresh_ns == 0) {
                s.liquidity_raw = liquidity_now(s); // no grid: the current book
            }
            signals::compute_orderbook_component(top, ratio, s.ofi, book_consts_, out, absorption,
                                                 extras ? s.liquidity_raw : std::nan(""));
        } else {
            // An empty or out-of-sync book is not trusted: no data, neutral.
            out = ComponentScore{};
        }
    }
    const bool views_changed = cfg_.bar_views && (s.bars_dirty || s.sent_dirty);
    if (views_changed) {
        sync_views(s);
    }
    if (s.flow_dirty || views_changed) {
        if (s.flow_dirty && cfg_.flow_extras.enabled && cfg_.stacked.refresh_ns == 0) {
            s.stacked_last = s.stacked.compute(); // no grid: the current window
        }
        if (!s.external[kFlow]) {
            OrderflowExtras extras{};
            if (s.stacked_last.has_data) {
                extras.stacked_imbalance = s.stacked_last.score;
            }
            if (s.views) {
                extras.oi_quadrant = s.views->oi_quadrant;
                extras.cvd_divergence = s.views->cvd_divergence;
            }
            compute_orderflow_component(s.flow, cfg_.flow_signals, s.comps[kFlow], extras);
        }
        if (s.flow_dirty) {
            compute_volume_component(s.flow, cfg_.flow_signals, s.vol_flow);
        }
    }
    if ((s.flow_dirty || views_changed) && !s.external[kVol]) {
        static const ComponentScore kNone{};
        blend_volume(s.views ? s.views->vol_bars : kNone, s.vol_flow, cfg_.volume_bar_weight,
                     s.comps[kVol]);
    }
    s.result = aggregator_.compute(s.comps);
    s.book_dirty = s.flow_dirty = s.result_dirty = false;
    s.bars_dirty = s.sent_dirty = false;
    ++s.stats.recomputes;
}

void Engine::stacked_clock(SymbolState& s, std::int64_t ts_ns) {
    const std::int64_t period = cfg_.stacked.refresh_ns;
    if (period == 0 || ts_ns < s.stacked_next) [[likely]] {
        return;
    }
    // Every earlier trade and advance() was before stacked_next, so the window's clock is
    // before g: advancing it to g gives the window as it stood at g.
    const std::int64_t g = grid_floor(ts_ns, period);
    s.stacked.advance(g);
    s.stacked_last = s.stacked.compute();
    s.stacked_next = grid_after(g, period);
    s.flow_dirty = s.result_dirty = true;
}

double Engine::liquidity_now(const SymbolState& s) const {
    const auto bb = s.book.best_bid();
    const auto ba = s.book.best_ask();
    if (!s.book.in_sync() || !bb || !ba) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    const double mid = 0.5 * (static_cast<double>(bb->px) + static_cast<double>(ba->px));
    // Widest band first, so the book's tracked band ends on the narrowest one, next to the
    // depth-ratio band queried at every recompute.
    std::array<double, 5> bid_depth{};
    std::array<double, 5> ask_depth{};
    for (std::size_t k = signals::kLiquidityBandsPct.size(); k-- > 0;) {
        const double half = mid * signals::kLiquidityBandsPct[k] / 100.0;
        const auto lo = static_cast<Ticks>(std::ceil(mid - half));
        const auto hi = static_cast<Ticks>(std::floor(mid + half));
        bid_depth[k] = static_cast<double>(s.book.depth_within(BookSide::Bid, lo, hi));
        ask_depth[k] = static_cast<double>(s.book.depth_within(BookSide::Ask, lo, hi));
    }
    return signals::liquidity_balance(bid_depth, ask_depth);
}

void Engine::liquidity_clock(SymbolState& s, std::int64_t ts_ns) {
    const std::int64_t period = cfg_.flow_extras.liquidity_refresh_ns;
    if (!cfg_.flow_extras.enabled || period == 0 || ts_ns < s.liquidity_next) [[likely]] {
        return;
    }
    // Before the message at ts_ns is applied: the book as it stood at the grid point.
    const std::int64_t g = grid_floor(ts_ns, period);
    s.liquidity_raw = liquidity_now(s);
    s.liquidity_next = grid_after(g, period);
    s.book_dirty = s.result_dirty = true;
}

void Engine::update_divergence(Views& v) const {
    v.cvd_divergence = std::numeric_limits<double>::quiet_NaN();
    if (v.levels[0] < 0) {
        return;
    }
    const auto lv = static_cast<std::size_t>(v.levels[0]);
    const std::size_t n = cfg_.flow_extras.divergence_bars;
    if (v.bars.size(lv) < n) {
        return;
    }
    v.div_delta.resize(n);
    v.div_volume.resize(n);
    v.div_close.resize(n);
    std::size_t sided = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const Bar& b = v.bars.bar(lv, n - 1 - i); // oldest first
        const bool has_sides = (b.flags & bar_flags::kNoSides) == 0;
        sided += static_cast<std::size_t>(has_sides && b.volume > 0.0);
        v.div_delta[i] = has_sides ? b.buy_volume - b.sell_volume : 0.0;
        v.div_volume[i] = has_sides ? b.buy_volume + b.sell_volume : 0.0;
        v.div_close[i] = b.close;
    }
    // History bars carry no sides: the CVD trend needs at least half the bars from trades.
    if (2 * sided < n) {
        return;
    }
    v.cvd_divergence =
        cvd_divergence_score(v.div_delta, v.div_volume, v.div_close,
                             cfg_.flow_extras.divergence_recency, cfg_.flow_signals.sensitivity);
}

void Engine::sync_views(SymbolState& s) {
    constexpr auto kTech = static_cast<std::size_t>(Component::Technical);
    constexpr auto kStruct = static_cast<std::size_t>(Component::PriceStructure);
    constexpr auto kSent = static_cast<std::size_t>(Component::Sentiment);
    if (!s.views) {
        return; // no trade, history or input yet: every view has no data
    }
    Views& v = *s.views;
    if (s.bars_dirty) {
        v.tech.sync(v.bars, v.levels);
        v.vview.sync(v.bars, v.levels);
        std::array<StructureReading, 4> readings{};
        std::array<double, 4> weights{};
        std::size_t n = 0;
        for (std::size_t slot = 0; slot < v.levels.size(); ++slot) {
            if (v.levels[slot] < 0) {
                continue;
            }
            const auto lv = static_cast<std::size_t>(v.levels[slot]);
            const std::uint64_t closed = v.bars.closed_count(lv);
            const std::size_t fresh = static_cast<std::size_t>(
                std::min<std::uint64_t>(closed - v.ps_seen[slot], v.bars.size(lv)));
            for (std::size_t back = fresh; back-- > 0;) {
                const Bar& b = v.bars.bar(lv, back);
                v.ps[slot].update(b);
                if (slot == 0) {
                    v.sent.on_bar(b);
                }
            }
            v.ps_seen[slot] = closed;
            if (v.ps[slot].bars() > 0) {
                readings[n] = v.ps[slot].last();
                weights[n] = cfg_.structure_timeframe_weights[slot];
                ++n;
            }
        }
        if (!s.external[kTech]) {
            v.tech.compute(s.comps[kTech]);
        }
        if (!s.external[kStruct]) {
            s.comps[kStruct] =
                n > 0 ? combine_timeframes(std::span(readings.data(), n),
                                           std::span(weights.data(), n), cfg_.structure)
                      : ComponentScore{};
        }
        v.vview.compute(v.vol_bars);
        v.level0_seen = v.bars.timeframe_count() > 0 ? v.bars.closed_count(0) : 0;
        if (cfg_.flow_extras.enabled) {
            update_divergence(v);
        }
    }
    if (cfg_.flow_extras.enabled) {
        const auto [oi_change, price_change] = v.sent.oi_price_change(s.stats.last_event_ts_ns);
        v.oi_quadrant = oi_quadrant_score(oi_change, price_change, cfg_.flow_extras);
    }
    if (!s.external[kSent]) {
        s.comps[kSent] = v.sent.component(s.stats.last_event_ts_ns);
    }
    s.bars_dirty = s.sent_dirty = false;
}

const ConfluenceResult& Engine::result(std::uint32_t sym) {
    SymbolState& s = at(sym);
    if (s.result_dirty || s.book_dirty || s.flow_dirty || s.bars_dirty) {
        recompute(s);
    }
    return s.result;
}

void Engine::reserve_ahead(std::uint32_t sym) noexcept {
    if (sym >= symbols_.size()) {
        return;
    }
    SymbolState& s = *symbols_[sym];
    s.book.reserve_ahead();
    s.flow.reserve_ahead();
    if (cfg_.flow_extras.enabled) {
        s.stacked.reserve_ahead();
    }
}

void Engine::warm(std::uint32_t sym) const noexcept {
    if (sym >= symbols_.size()) {
        return;
    }
    const SymbolState& s = *symbols_[sym];
    prefetch_range(&s, sizeof s);
    prefetch_range(&aggregator_, sizeof aggregator_);
    prefetch_range(&book_consts_, sizeof book_consts_);
    s.book.warm();
    if (s.views) {
        prefetch_range(s.views.get(), sizeof(Views));
    }
    // Rehearsal: the recompute's kernels run on the symbol's state into scratch outputs, so
    // their code and the state they read are cache-resident when the next message comes. All
    // of them are const (top() may refill the book's lazy top-K cache, which holds exactly the
    // best levels either way): nothing a result depends on changes.
    ComponentScore tmp{};
    if (s.book.in_sync() && s.book.best_bid() && s.book.best_ask()) {
        signals::compute_orderbook_component(s.book.top(book_view_levels()), std::nan(""), s.ofi,
                                             book_consts_, tmp);
    }
    // (The trade-flow kernels are left out: they cost most of a pass, and a trade's own
    // recompute is short.)
    warm_sink_ = tmp.score + aggregator_.compute(s.comps).score;
}

const ComponentScore& Engine::component(std::uint32_t sym, Component c) {
    const auto i = static_cast<std::size_t>(c);
    if (i >= kComponentCount) {
        throw InvalidEvent("component index out of range, was " + std::to_string(i));
    }
    (void)result(sym);
    return at(sym).comps[i];
}

} // namespace confluex
