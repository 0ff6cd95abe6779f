// confluex/bar_builder.hpp
//
// Provides BarBuilder: per-symbol OHLCV bars (with taker buy/sell volume, trade count and
// VWAP) at several timeframes at once, built from trades in O(1) per trade, plus warm-up from
// ccxt `fetch_ohlcv` history.
//
// Design:
// - Every timeframe is a multiple of the finest one (level 0). A trade updates only the
//   forming level-0 bar: one compare and a handful of adds, no allocation. When a bar closes
//   (the first trade or `advance` at or past its end), it is folded into the forming bar of
//   the levels it is the source of (a level's source is the coarsest finer level whose span
//   divides its span: 1s -> 5s -> 30s -> 1m -> 5m -> 30m -> 4h by default), so coarser bars
//   cost nothing per trade and each closed bar is folded once.
// - Closed bars live in one fixed ring per level (capacity set at construction). A closed bar
//   never changes; `closed_count(level)` is the total number of bars a level ever closed, so a
//   consumer reads what is new since its last look with `bar(level, back)`.
// - `forming(level)` peeks the forming bar of any level (level 0 merged in) without closing it.
//
// Gaps: a span of a level in which no trade (and no history bar) fell closes as a gap bar,
// flags kGap: open = high = low = close = vwap = the previous bar's close, all volumes and the
// trade count 0. Gap bars are real bars for the indicators (an exchange's kline stream reports
// the same). When more spans are skipped at once than the ring holds, only the newest
// `capacity` gap bars are stored, but `closed_count` still counts every one (they are all the
// same bar but for `open_ns`).
//
// Late trades (ts before the forming level-0 bar's start, e.g. a venue's out-of-order print)
// are folded into the forming bar and counted by `late_trades()`; a closed bar is never
// rewritten. Trades with an unknown aggressor count in `volume` only and set kNoSides (when
// their size is not 0).
//
// Not thread-safe: one thread owns an instance (the symbol's engine thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "confluex/bar.hpp"
#include "confluex/types.hpp"

namespace confluex {

inline constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// Configuration of a BarBuilder.
struct BarBuilderConfig {
    // Strictly ascending; each a positive multiple of the first. Default 1s 5s 30s 1m 5m 30m 4h.
    std::vector<std::int64_t> timeframes_ns{
        1 * kNsPerSecond,   5 * kNsPerSecond,    30 * kNsPerSecond,   60 * kNsPerSecond,
        300 * kNsPerSecond, 1800 * kNsPerSecond, 14400 * kNsPerSecond};
    std::size_t capacity = 1024; // closed bars kept per timeframe

    // BarBuilderConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

// Returns the timeframe, in ns, of a ccxt `fetch_ohlcv` list: `expected_ns` when given (> 0),
// else the smallest spacing between consecutive rows. Throws InvalidEvent when there are fewer
// than 2 rows (1 with expected_ns), open times are not strictly ascending integer ms, or an
// open time is not a multiple of the timeframe (so every spacing is one too).
// REQUIRES: rows is n x 6 row-major ([ms, o, h, l, c, v]).
std::int64_t infer_timeframe_ns(std::span<const double> rows, std::int64_t expected_ns = 0);

class BarBuilder {
  public:
    explicit BarBuilder(BarBuilderConfig config = {});

    // BarBuilder::on_trade()
    // Adds one trade. `price` > 0 and `qty` >= 0, both finite, `ts_ns` >= 0; otherwise throws
    // InvalidEvent and changes nothing. Closes every bar whose span ended at or before ts_ns.
    void on_trade(std::int64_t ts_ns, double price, double qty, Aggressor side) {
        if (!(price > 0.0 && price < kMaxValue && qty >= 0.0 && qty < kMaxValue && ts_ns >= 0))
            [[unlikely]] {
            reject(ts_ns, price, qty);
        }
        if (ts_ns >= hot_end_ns_) [[unlikely]] {
            roll(ts_ns);
            start_level0(ts_ns, price);
        }
        if (ts_ns < f0_.open_ns) [[unlikely]] {
            ++late_;
        }
        Bar& b = f0_;
        b.high = price > b.high ? price : b.high;
        b.low = price < b.low ? price : b.low;
        b.close = price;
        b.volume += qty;
        b.quote_volume += price * qty;
        b.trades += 1;
        // Indexed, not branched: a taker side is a coin flip that a branch mispredicts half the
        // time. Copied into f0_ (and kNoSides set) when the bar is read or closed.
        f0_sides_[static_cast<std::uint8_t>(side) > 2 ? 2 : static_cast<std::uint8_t>(side)] += qty;
    }

    // BarBuilder::on_trades()
    // Adds TradeEvent records in order, prices and sizes scaled by tick_size and lot_size.
    // The batch is validated first; a bad record throws InvalidEvent naming its index and
    // nothing is applied.
    void on_trades(std::span<const TradeEvent> trades, double tick_size, double lot_size);

    // BarBuilder::advance()
    // Moves the clock to now_ns with no trade: closes every bar whose span ended at or before
    // now_ns (as gap bars where no trade fell). A time before the clock is a no-op.
    void advance(std::int64_t now_ns);

    // BarBuilder::load_history()
    // Warms up from closed bars in ccxt `fetch_ohlcv` format (n x 6 row-major, [open_ms, o, h,
    // l, c, v]; buy/sell volumes unknown: flags kHistory | kNoSides; vwap and quote volume from
    // the typical price). The timeframe is `timeframe_ns` when given, else inferred from the
    // spacing (infer_timeframe_ns); missing rows become gap bars. Every level whose
    // timeframe is a multiple of it, and that has no history from a finer timeframe, is
    // rebuilt by aggregating these rows; a coarse bar left incomplete at the end of the history
    // stays forming and the live level-0 bars fold into it. Levels finer than the history are
    // not filled; levels already built from a finer history keep it (so the order of several
    // files does not matter: the finest wins). Must be called before the first trade or
    // advance (the integration drops ccxt's last, still-forming row). Throws InvalidEvent (bad
    // rows, a timeframe dividing no configured one, or called after live data) with no
    // change. Returns the inferred timeframe in ns.
    std::int64_t load_history(std::span<const double> rows, std::int64_t timeframe_ns = 0);

    // BarBuilder::timeframe_count()
    [[nodiscard]] std::size_t timeframe_count() const noexcept { return levels_.size(); }
    // BarBuilder::timeframe_ns()
    // REQUIRES: level < timeframe_count().
    [[nodiscard]] std::int64_t timeframe_ns(std::size_t level) const;
    // BarBuilder::level_of()
    // Returns the level whose timeframe is tf_ns, or nullopt.
    [[nodiscard]] std::optional<std::size_t> level_of(std::int64_t tf_ns) const noexcept;
    // BarBuilder::closed_count()
    // Returns how many bars the level ever closed (history included).
    [[nodiscard]] std::uint64_t closed_count(std::size_t level) const;
    // BarBuilder::size()
    // Returns how many closed bars the level holds (<= capacity).
    [[nodiscard]] std::size_t size(std::size_t level) const;
    // BarBuilder::bar()
    // Returns the closed bar `back` bars ago (0 = the latest). Throws std::out_of_range when
    // back >= size(level).
    [[nodiscard]] const Bar& bar(std::size_t level, std::size_t back) const;
    // BarBuilder::forming()
    // Returns a copy of the level's forming bar (a gap bar in progress when no trade fell in
    // it yet), or nullopt before any data.
    [[nodiscard]] std::optional<Bar> forming(std::size_t level) const;
    // BarBuilder::last_ts_ns()
    [[nodiscard]] std::int64_t last_ts_ns() const noexcept { return clock_ns_; }
    // BarBuilder::late_trades()
    [[nodiscard]] std::uint64_t late_trades() const noexcept { return late_; }
    // BarBuilder::history_timeframe_ns()
    // Returns the timeframe of the history the level was built from, 0 if none.
    [[nodiscard]] std::int64_t history_timeframe_ns(std::size_t level) const;
    [[nodiscard]] const BarBuilderConfig& config() const noexcept { return config_; }
    // BarBuilder::reset()
    // Drops every bar and counter.
    void reset();

  private:
    static constexpr double kMaxValue = 1e300;

    struct Level {
        std::int64_t span_ns = 0;
        std::int64_t open_ns = 0; // start of the forming bar
        bool started = false;     // has a previous close (after the first data)
        bool has_data = false;    // the forming bar holds trades or history
        double last_close = 0.0;
        Bar forming{}; // valid when has_data (coarse levels: level-0 bars folded)
        std::vector<Bar> ring;
        std::size_t head = 0;     // next write slot
        std::size_t count = 0;    // bars held
        std::uint64_t closed = 0; // bars ever closed
        std::int64_t history_span_ns = 0;
        std::size_t source = 0;            // the finer level whose closed bars fold in here
        std::vector<std::size_t> children; // the levels this one's closed bars fold into
    };

    [[noreturn]] static void reject(std::int64_t ts_ns, double price, double qty);
    void roll(std::int64_t ts_ns);
    void start_level0(std::int64_t ts_ns, double price);
    void push_closed(Level& lv, const Bar& b);
    void close_until(Level& lv, std::int64_t t, bool cascade);
    bool peek_data(std::size_t level, Bar& out) const;
    [[nodiscard]] Bar level0_bar() const noexcept;
    static void fold(Level& lv, const Bar& b);
    void check_level(std::size_t level) const;

    BarBuilderConfig config_;
    std::vector<Level> levels_;
    Bar f0_{};                             // forming level-0 bar (hot)
    double f0_sides_[3] = {0.0, 0.0, 0.0}; // f0_'s buy, sell and unknown-side volume
    std::int64_t hot_end_ns_ = 0;          // end of f0_ when it holds data, else 0 (forces roll)
    std::int64_t clock_ns_ = 0;
    std::uint64_t late_ = 0;
    bool live_ = false;
};

// Finalises a bar's vwap from its quote volume (the close when volume is 0).
inline void finish_vwap(Bar& b) noexcept {
    b.vwap = b.volume > 0.0 ? b.quote_volume / b.volume : b.close;
}

} // namespace confluex
