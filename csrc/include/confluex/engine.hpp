// confluex/engine.hpp
//
// Provides Engine: many symbols, each with its OrderBook, TradeFlow, OFI window, component
// kernels and ConfluenceAggregator, fed per event (live) or in batches of POD records
// (replay, or a producer thread through an SpscRing), read as a ConfluenceResult per symbol.
//
// Design:
//   - Threading: an Engine is single-threaded. Every call on it comes from one thread, the
//     one that applies events. Another thread may produce events only through an
//     SpscRing<BookLevelEvent> / SpscRing<TradeEvent> that this thread drains.
//   - Scores are recomputed lazily: events mark a symbol's components dirty, and the first
//     read after them recomputes only what changed. Ingestion therefore costs what the book
//     and trade windows cost; a read costs one aggregator pass (~100 ns) at most.
//   - Batch calls validate the whole batch before applying any of it (strong guarantee): a
//     bad record raises InvalidEvent naming its index and value, an unknown symbol id raises
//     UnknownSymbol, and the engine is unchanged.
//   - Bar views: with `bar_views` on (the default, the "standard" profile), each symbol also
//     owns a BarBuilder fed by its trades (O(1), no allocation per trade) and the views
//     built on its closed bars: technical, price structure (one per view timeframe,
//     combined), the bar-based volume view (blended into the volume component:
//     volume_bar_weight x bar view + the rest x trade-flow volume, trade flow alone while
//     the bar view has no data) and sentiment (funding, open interest, liquidations from
//     on_funding / on_open_interest / on_mark / on_liquidation, volatility and activity
//     from the base timeframe's bars). They are recomputed at the first read after a bar
//     closes or an input arrives, never per trade. A view without data is excluded by the
//     aggregator (reliability drops); nothing defaults to a neutral 50 with data.
//     `bar_views` off (the "hft_ultra_fast" profile) skips all of it: trades only.
//   - Sequence problems are not errors: a gap, overlap or crossed book flags that symbol's
//     book out of sync (counted, with a reason); its orderbook component then reports no
//     data (it is not trusted) until a new snapshot resyncs it. Other symbols keep running.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "confluex/aggregator.hpp"
#include "confluex/bar_builder.hpp"
#include "confluex/book_signals.hpp"
#include "confluex/component.hpp"
#include "confluex/flow_signals.hpp"
#include "confluex/instrument.hpp"
#include "confluex/order_book.hpp"
#include "confluex/price_structure.hpp"
#include "confluex/sentiment.hpp"
#include "confluex/spsc_ring.hpp"
#include "confluex/stacked_imbalance.hpp"
#include "confluex/technical.hpp"
#include "confluex/trade_flow.hpp"
#include "confluex/types.hpp"
#include "confluex/volume_view.hpp"

namespace confluex {

struct EngineConfig {
    // The engine's books differ from BookConfig's defaults in two ways:
    //  - windows of 2^20 ticks per side once synced (not 2^17): a USD-M book's updates keep
    //    landing far from the mid, and each one the overflow map takes costs a tree walk and a
    //    node (~95 ns per BTCUSDT USD-M depth message); only pages holding levels are resident
    //    (see order_book.hpp, Design);
    //  - a top-K cache of 32 levels per side (not 64): the recompute reads the best
    //    max(25, book_signals.dwi_levels), and every update between them and the cache's end
    //    would be patched into it for nothing (~70 ns per USD-M message). The engine raises
    //    top_cache to what its kernels read when it is smaller, so a view is never clipped.
    BookConfig book{.window_bits = 20, .top_cache = 32};
    FlowConfig flow{};
    signals::OrderbookSignalsConfig book_signals{};
    FlowSignalsConfig flow_signals{};
    AggregatorConfig aggregator{};
    std::int64_t ofi_window_ns = 5'000'000'000;
    std::size_t ofi_capacity = 4096;
    // Bar views (see the file comment). view_timeframes_ns are the base/ltf/mtf/htf
    // timeframes of the views; each must be one of bars.timeframes_ns (or 0: slot unused).
    bool bar_views = true;
    BarBuilderConfig bars{};
    std::array<std::int64_t, 4> view_timeframes_ns{60'000'000'000, 300'000'000'000,
                                                   1'800'000'000'000, 14'400'000'000'000};
    TechnicalConfig technical{};
    VolumeViewConfig volume_view{};
    PriceStructureConfig structure{};
    std::array<double, 4> structure_timeframe_weights{0.4, 0.3, 0.2, 0.1};
    SentimentConfig sentiment{};
    double volume_bar_weight = 0.6; // in [0, 1]
    // The reference's orderflow/orderbook extras (flow_signals.hpp, book_signals.hpp,
    // stacked_imbalance.hpp): the stacked-imbalance window per symbol (every profile; its
    // reading is taken on a stacked.refresh_ns grid of event time at ingestion, see
    // stacked_clock()), and the kernels' parameters. The OI quadrant and price-CVD divergence need
    // bar views (standard profile); without them those sub-scores have no data and are excluded.
    StackedImbalanceConfig stacked{};
    FlowExtrasConfig flow_extras{};
};

// Per-symbol counters beyond the book's own.
struct SymbolStats {
    std::uint64_t book_messages = 0; // depth messages seen (any outcome)
    std::uint64_t snapshots = 0;
    std::uint64_t trades = 0;
    std::uint64_t recomputes = 0; // lazy score recomputations
    std::uint64_t rejected_snapshots =
        0; // batch snapshots the book refused (crossed, duplicate level)
    std::int64_t last_event_ts_ns = 0; // event time of the latest book message or trade
};

class Engine {
  public:
    explicit Engine(EngineConfig cfg = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Engine::add_symbol()
    // Registers a symbol and returns its dense id (0, 1, 2...).
    // REQUIRES: a non-empty name not registered before; otherwise throws InvalidConfig.
    std::uint32_t add_symbol(std::string_view name, const Instrument& instrument);
    // Engine::symbol_id()
    // Returns the id of a registered symbol; throws UnknownSymbol naming it otherwise.
    [[nodiscard]] std::uint32_t symbol_id(std::string_view name) const;
    [[nodiscard]] const std::string& symbol_name(std::uint32_t sym) const;
    [[nodiscard]] const Instrument& instrument(std::uint32_t sym) const;
    [[nodiscard]] std::size_t symbol_count() const noexcept { return symbols_.size(); }

    // --- per-event ingestion (live) ------------------------------------------------------

    // Engine::apply_snapshot()
    // Replaces a symbol's book. Throws InvalidEvent / BookCrossed (book unchanged).
    void apply_snapshot(std::uint32_t sym, std::span<const Level> bids, std::span<const Level> asks,
                        std::int64_t update_id, std::int64_t ts_ns);
    // Engine::apply_depth()
    // Applies one depth message (absolute level sizes, 0 deletes). Returns how the sequence
    // rule classified it (see OrderBook::check_sequence). Throws InvalidEvent (unchanged).
    ApplyResult apply_depth(std::uint32_t sym, std::span<const Level> bids,
                            std::span<const Level> asks, std::int64_t update_id,
                            std::int64_t prev_update_id, std::int64_t ts_ns);
    // Engine::mark_out_of_sync()
    // Puts a symbol's book OutOfSync with `reason` (its data is untrusted until the next
    // snapshot), e.g. when a feed finds it frozen. Throws UnknownSymbol.
    void mark_out_of_sync(std::uint32_t sym, DesyncReason reason);
    // Engine::push_trade()
    // Adds one trade to the symbol's windows. Throws InvalidEvent (unchanged).
    void push_trade(std::uint32_t sym, std::int64_t ts_ns, Ticks px, Lots qty, Aggressor side);
    // Engine::advance()
    // Moves event time forward for one symbol without an event (expires window contents).
    void advance(std::uint32_t sym, std::int64_t now_ns);

    // --- batch ingestion (replay, ring drains) -------------------------------------------

    // Engine::validate_book_events()
    // Throws InvalidEvent / UnknownSymbol for the first bad record of a batch: a bad level,
    // an unknown symbol, records of one message that disagree on symbol or ids, or a batch
    // that ends inside a message (no kEndOfMessage on its last record).
    void validate_book_events(const BookLevelEvent* ev, std::size_t n) const;
    // Engine::ingest_book()
    // Validates, then applies a batch of level records message by message. Returns the
    // number of messages the sequence rule applied (others are counted per symbol).
    std::size_t ingest_book(const BookLevelEvent* ev, std::size_t n);
    // Engine::ingest_parsed_message()
    // ingest_book() for the records of one message as a venue parser (feed_parser.hpp) wrote
    // them: it checks only the one thing a parser lets through, a level price of 0 (then the
    // full validation throws InvalidEvent naming it, nothing applied), and applies. Returns 1
    // when the sequence rule applied the message, else 0.
    // REQUIRES: n >= 1; one message (kEndOfMessage on the last record only), every record with
    // the same known symbol, ids and snapshot flag, side 0 or 1, qty_lots >= 0, px_ticks >= 0
    // (asserted by validate_book_events() in debug builds).
    std::size_t ingest_parsed_message(const BookLevelEvent* ev, std::size_t n);
    void validate_trade_events(const TradeEvent* ev, std::size_t n) const;
    // Engine::ingest_trades()
    // Validates, then applies a batch of trades. Returns n.
    std::size_t ingest_trades(const TradeEvent* ev, std::size_t n);
    // Engine::drain_book() / drain_trades()
    // Pops up to max_events records from a ring and applies them. Consumer thread only.
    // Records are validated in chunks; a bad chunk throws after the chunks before it were
    // applied (those records are gone from the ring either way), so producers should
    // validate. Returns the number of records popped.
    std::size_t drain_book(SpscRing<BookLevelEvent>& ring, std::size_t max_events);
    std::size_t drain_trades(SpscRing<TradeEvent>& ring, std::size_t max_events);

    // --- externally supplied components --------------------------------------------------

    // Engine::set_component()
    // Supplies a component score (technical, price_structure, sentiment, or an override of a
    // native one). REQUIRES: finite and within [0, 100]; otherwise throws InvalidEvent.
    void set_component(std::uint32_t sym, Component c, double score);
    // Engine::clear_component()
    // Removes a supplied component: a native one goes back to the core's own computation,
    // an external one to "no data".
    void clear_component(std::uint32_t sym, Component c);
    // Engine::set_weights()
    // Replaces the aggregator weights of every symbol (validated; strong guarantee).
    void set_weights(const std::array<double, kComponentCount>& w);

    // --- bar views and sentiment inputs ---------------------------------------------------

    // Engine::load_history()
    // Warms the symbol's bars up from ccxt `fetch_ohlcv` rows (n x 6 row-major, closed bars
    // only: drop ccxt's last, still-forming row first). See BarBuilder::load_history; must
    // come before the symbol's first trade. Throws InvalidConfig when bar views are off,
    // InvalidEvent on bad rows (nothing changed). Returns the timeframe in ns.
    std::int64_t load_history(std::uint32_t sym, std::span<const double> rows,
                              std::int64_t timeframe_ns = 0);
    // Engine::on_funding() / on_open_interest() / on_liquidation() / on_mark()
    // Sentiment inputs of one symbol (see Sentiment). Throw InvalidEvent (state unchanged) on
    // bad values, and InvalidConfig when bar views are off.
    void on_funding(std::uint32_t sym, std::int64_t ts_ns, double rate);
    void on_open_interest(std::uint32_t sym, std::int64_t ts_ns, double value);
    void on_long_short(std::uint32_t sym, std::int64_t ts_ns, double long_share,
                       double short_share);
    void on_liquidation(std::uint32_t sym, std::int64_t ts_ns, LiquidatedSide side,
                        double notional);
    void on_mark(std::uint32_t sym, const feed::MarkUpdate& m);
    void on_liquidation_event(std::uint32_t sym, const feed::LiquidationEvent& e);
    // Engine::bars() / technical_report()
    // The symbol's bar builder; the report of its last technical computation. Throw
    // InvalidConfig when bar views are off.
    [[nodiscard]] const BarBuilder& bars(std::uint32_t sym) const;
    [[nodiscard]] TechnicalReport technical_report(std::uint32_t sym);

    // --- reads ---------------------------------------------------------------------------

    // Engine::result()
    // Returns the symbol's confluence result, recomputing what events made stale.
    const ConfluenceResult& result(std::uint32_t sym);
    // Engine::score()
    // Returns the quality-adjusted 0-100 score (result(sym).score).
    double score(std::uint32_t sym) { return result(sym).score; }
    // Engine::component()
    // Returns one component with its sub-score breakdown (recomputed if stale).
    const ComponentScore& component(std::uint32_t sym, Component c);
    [[nodiscard]] const OrderBook& book(std::uint32_t sym) const;
    [[nodiscard]] const TradeFlow& flow(std::uint32_t sym) const;
    [[nodiscard]] const signals::OfiWindow& ofi(std::uint32_t sym) const;
    [[nodiscard]] const StackedImbalance& stacked(std::uint32_t sym) const;
    [[nodiscard]] const SymbolStats& stats(std::uint32_t sym) const;
    [[nodiscard]] const EngineConfig& config() const noexcept { return cfg_; }

    // Engine::warm()
    // Prefetches a symbol's hot state (book top-K and best-price region, windows, component
    // and result state, the aggregator) for an idle engine thread's warm pass (Pipeline,
    // WaitPolicy). Reads nothing, changes nothing; an unknown id is ignored.
    void warm(std::uint32_t sym) const noexcept;
    // Engine::reserve_ahead()
    // For an idle engine thread: allocates now what a symbol's next messages would allocate
    // on their path (the book's spare overflow nodes, the trade ring's next size; see
    // OrderBook::reserve_ahead, TradeFlow::reserve_ahead). Changes no result; an unknown id
    // is ignored.
    void reserve_ahead(std::uint32_t sym) noexcept;

  private:
    struct SymbolState;
    struct Views;

    SymbolState& at(std::uint32_t sym);
    const SymbolState& at(std::uint32_t sym) const;
    // The best levels per side the orderbook kernels read: max(25, dwi_levels).
    [[nodiscard]] std::size_t book_view_levels() const noexcept {
        return std::max<std::size_t>(25, cfg_.book_signals.dwi_levels);
    }
    void after_book_message(SymbolState& s, std::int64_t ts_ns) noexcept;
    // Per-symbol bookkeeping shared by the per-event and batch paths.
    ApplyResult after_depth(SymbolState& s, ApplyResult r, std::int64_t ts_ns) noexcept;
    void after_trades(SymbolState& s, std::size_t count, std::int64_t last_ts_ns) noexcept;
    void recompute(SymbolState& s);
    void sync_views(SymbolState& s);
    // Recomputes the price-CVD divergence sub-score from the base timeframe's closed bars.
    void update_divergence(Views& v) const;
    // The cached extras on their event-time grids (both no-ops with a refresh period of 0,
    // which computes at every recompute instead). stacked_clock(): before a trade at ts_ns (or
    // advance() to it), when ts_ns reaches the next multiple G of stacked.refresh_ns, computes
    // the window as it stood at G (trades before G). liquidity_clock(): likewise before a book
    // message, for the depth bands of the book as it stood at G. Called at ingestion only,
    // never from a read, so the readings are a function of the events alone, whatever the
    // read cadence (live reads after every message, replays at their series points).
    void stacked_clock(SymbolState& s, std::int64_t ts_ns);
    void liquidity_clock(SymbolState& s, std::int64_t ts_ns);
    // The liquidity depth-band balance of the current book (NaN: out of sync or a side empty).
    [[nodiscard]] double liquidity_now(const SymbolState& s) const;
    Views& views(SymbolState& s);
    Views& views_of(std::uint32_t sym);
    std::size_t apply_book_message(const BookLevelEvent* first, std::size_t n);

    EngineConfig cfg_;
    ConfluenceAggregator aggregator_;
    // cfg_.book_signals' per-call constants, derived once (the config is fixed at construction).
    signals::OrderbookKernelConsts book_consts_;
    std::vector<std::unique_ptr<SymbolState>> symbols_;
    std::unordered_map<std::string, std::uint32_t> ids_;
    // Batch snapshots are split into per-side level arrays; reserved once, reused.
    std::vector<Level> scratch_bids_;
    std::vector<Level> scratch_asks_;
    // Ring drains: records popped but not yet applied (a message split across pops).
    std::vector<BookLevelEvent> drain_book_buf_;
    std::vector<TradeEvent> drain_trade_buf_;
    // warm(): where the rehearsal's results go (kept, so the calls are not optimised away).
    mutable double warm_sink_ = 0.0;
};

} // namespace confluex
