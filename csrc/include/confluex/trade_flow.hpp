// confluex/trade_flow.hpp
//
// Provides TradeFlow: running statistics of the taker trade stream over up to 8 nested time
// windows (default 1 s, 5 s, 30 s, 5 min), cumulative volume delta since start, and a
// rolling z-score of one window's volume delta sampled on a fixed event-time grid. These are
// the inputs of the orderflow and volume components (flow_signals.hpp, reference-system
// §3.2-§3.3).
//
// Design:
// - One ring of trades is shared by every window. Each window owns a read index (`tail`) into
//   the ring. Window w holds the trades with ts in (now - w, now]: a trade stamped exactly
//   now - w is already out. `now` is the event-time clock: the largest timestamp pushed or
//   advanced to; stored timestamps are max(ts, clock) so the ring is time-ordered.
// - Sums are prefix sums: one running total over every trade ever pushed, and, stored in the
//   ring beside each trade's timestamp, the total *before* that trade. A window's stats are
//   `total - prefix[tail]`. A push adds the trade once (not once per window) and evicting a
//   trade from a window is only `++tail`: no per-window arithmetic at all.
// - Eviction is lazy: a window's tail is moved up to the clock when the window is read
//   (window()), when the z-score samples it, and when the ring is full. The window contents
//   are exactly those of evicting at every push (eviction only depends on the clock, which
//   only moves forward), but the per-window "how many trades expired?" loop exit, a branch
//   no predictor can learn on bursty real trades (~15 cycles per window per push when done
//   eagerly), is paid once per read instead of once per push. push() is branch-free on its
//   common path; every tail moves over each trade once: amortised O(1), no allocation.
// - window(i) keeps its last result keyed by (head, tail): reading the same window again with
//   no push or eviction in between (the orderflow and volume components share windows)
//   costs the eviction check only.
// - All sums are integers with wrapping (mod 2^64 / 2^128) arithmetic; a difference of two
//   such sums is exact whenever the true window value fits, so nothing drifts however long
//   the stream runs. Notional (price ticks * lots) is 128-bit and converted to double only
//   when a window is read (correctly rounded below 2^64, else within 1 ulp).
// - Unknown aggressor sides are never guessed (reference-system §1): they count in
//   `unknown_qty`, `count` and VWAP but in neither buy nor sell volume, delta or imbalance.
//
// Performance (2-vCPU VM, real BTCUSDT spot trades, 4 windows, bench/cpp/bench_trade_flow.cpp):
// push_many ~8.5 ns/trade with large-trade statistics off (the default; ~12.5 ns with them
// on), push() ~13.7 ns. The batch loop for the default keeps every sum in its own 64-bit
// register (128-bit notionals as lo/hi words with an explicit carry): as u128 GCC spills them
// and each trade waits on store forwarding. Reads are O(1) per window plus the lazy scan.
//
// The ring grows on demand (FlowConfig::capacity): a fresh flow pays its allocations during
// its first pushes (push_many over a fresh 20k-trade replay 11.4-12.6 ns/trade, was 7.7-8.3
// with the whole ring allocated by the constructor; constructor + pushes 11 ns, was 21);
// warm pushes are unchanged. An idle engine thread calls reserve_ahead(), which grows the ring
// once the live trades fill half of it, so that a burst does not pay the growth (a copy of
// every live trade, up to ~100 us for a 16k-trade ring) on the message path.
//
// Threading: not synchronised; one thread owns an instance, readers included (window() is
// logically const but completes pending evictions and fills a cache inside the object).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "confluex/types.hpp"
#include "confluex/zscore.hpp"

namespace confluex {

inline constexpr std::size_t kMaxFlowWindows = 8;
// First size of a TradeFlow's trade ring (it grows on demand up to FlowConfig::capacity).
inline constexpr std::size_t kInitialFlowRing = 64;

// The largest trade size accepted, in lots (2^48 = 2.8e14: 2.8 million BTC at a 1e-8 lot, or
// $5 billion of a coin priced $2e-5 with a lot of 1). A larger size is a corrupt or hostile
// value (a wire "q" of 2^63 - 1 lots once overflowed the window sums): refused as InvalidEvent.
// With it a window's sizes fit uint64 for up to 65,536 trades (the default ring), and every
// WindowStats field is exact while its value fits int64, saturated at INT64_MAX beyond.
inline constexpr Lots kMaxTradeLots = Lots{1} << 48;

// Configuration of a TradeFlow. Checked by validate() (and by the TradeFlow constructor).
struct FlowConfig {
    // Window lengths in ns: 1..8 of them, each > 0, strictly increasing.
    std::vector<std::int64_t> windows_ns{1'000'000'000, 5'000'000'000, 30'000'000'000,
                                         300'000'000'000};
    // A trade with qty >= this is "large"; 0 disables the large-trade statistics. >= 0.
    Lots large_trade_lots = 0;
    // Trade ring capacity: a power of two in [1, 2^30], the most the ring may hold. The ring
    // starts at min(capacity, kInitialFlowRing) trades and grows 4x (up to capacity) whenever
    // it is full while its oldest trade is still inside the longest window, so it holds what
    // the longest window needs (104 bytes per trade, at most 4x over). Only when it is full at
    // `capacity` (or a growth cannot be allocated) is that oldest trade evicted early from
    // every window still holding it, and counted in TradeFlow::truncated().
    std::size_t capacity = std::size_t{1} << 16;
    // CVD z-score sampling period in ns of event time (> 0).
    std::int64_t zscore_sample_ns = 1'000'000'000;
    // Index of the window whose volume delta is sampled (< windows_ns.size(); 30 s default).
    std::size_t zscore_window_index = 2;
    // RollingZScore parameters (see zscore.hpp for their domain).
    std::size_t zscore_lookback = 200;
    std::size_t zscore_min_samples = 30;
    double zscore_clip = 3.0;

    // FlowConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

// Statistics of one window. Quantities in lots, notionals in ticks*lots.
struct WindowStats {
    Lots buy_qty = 0;
    Lots sell_qty = 0;
    Lots unknown_qty = 0;
    double buy_notional = 0.0;
    double sell_notional = 0.0;
    double unknown_notional = 0.0; // unknown-side trades still have a price: VWAP uses them
    std::uint64_t count = 0;       // trades of every side
    std::uint64_t large_count = 0; // large trades of every side
    Lots large_buy_qty = 0;
    Lots large_sell_qty = 0;

    // WindowStats::delta()
    // Returns buy_qty - sell_qty.
    [[nodiscard]] Lots delta() const noexcept { return buy_qty - sell_qty; }
    // WindowStats::total_qty()
    // Returns the volume of every side, unknown included (saturated at INT64_MAX).
    [[nodiscard]] Lots total_qty() const noexcept {
        Lots sum = 0;
        if (__builtin_add_overflow(buy_qty, sell_qty, &sum) ||
            __builtin_add_overflow(sum, unknown_qty, &sum)) [[unlikely]] {
            return std::numeric_limits<Lots>::max();
        }
        return sum;
    }
    // WindowStats::imbalance()
    // Returns (buy - sell) / (buy + sell) in [-1, 1]; 0 when no sided volume. In double: the
    // sided sum of two int64 sizes may not fit one.
    [[nodiscard]] double imbalance() const noexcept {
        const double b = static_cast<double>(buy_qty);
        const double s = static_cast<double>(sell_qty);
        return b + s > 0.0 ? (b - s) / (b + s) : 0.0;
    }
    // WindowStats::vwap_ticks()
    // Returns the volume-weighted average price in ticks over every trade; nullopt when empty.
    [[nodiscard]] std::optional<double> vwap_ticks() const noexcept {
        const Lots q = total_qty();
        if (q <= 0) {
            return std::nullopt;
        }
        return (buy_notional + sell_notional + unknown_notional) / static_cast<double>(q);
    }
};

// to_aggressor()
// Returns the Aggressor of an integer side code (0 buy, 1 sell, 2 unknown). Throws
// InvalidEvent naming the value for any other code (it is never guessed or clamped).
[[nodiscard]] Aggressor to_aggressor(std::int64_t side);

namespace detail {

__extension__ typedef unsigned __int128 u128; // -pedantic-errors rejects a plain __int128

// Sums over a prefix of the trade sequence, in wrapping integer arithmetic. Unknown-side sums
// are derived (all - buy - sell). add() uses masks rather than `sums[side] += ...`: an indexed
// read-modify-write chains consecutive same-side trades through store forwarding.
struct FlowSums {
    u128 notional = 0;
    u128 buy_notional = 0;
    u128 sell_notional = 0;
    std::uint64_t qty = 0;
    std::uint64_t buy_qty = 0;
    std::uint64_t sell_qty = 0;
    std::uint64_t large_count = 0;
    std::uint64_t large_buy_qty = 0;
    std::uint64_t large_sell_qty = 0;

    // Field-wise copy: keeps every load of a field the same width as the store that wrote it
    // (see push_unchecked()).
    void assign(const FlowSums& o) noexcept { assign_from<true>(o); }

    // Without kLarge the large-trade fields are neither read nor written (they stay 0).
    template <bool kLarge = true> void assign_from(const FlowSums& o) noexcept {
        notional = o.notional;
        buy_notional = o.buy_notional;
        sell_notional = o.sell_notional;
        qty = o.qty;
        buy_qty = o.buy_qty;
        sell_qty = o.sell_qty;
        if constexpr (kLarge) {
            large_count = o.large_count;
            large_buy_qty = o.large_buy_qty;
            large_sell_qty = o.large_sell_qty;
        }
    }

    template <bool kLarge = true>
    void add(std::int64_t px, std::int64_t lots, std::uint8_t side, bool large) noexcept {
        const auto q = static_cast<std::uint64_t>(lots);
        const u128 n = static_cast<u128>(static_cast<std::uint64_t>(px)) * q;
        const std::uint64_t mb = std::uint64_t{0} - static_cast<std::uint64_t>(side == 0);
        const std::uint64_t ms = std::uint64_t{0} - static_cast<std::uint64_t>(side == 1);
        qty += q;
        buy_qty += q & mb;
        sell_qty += q & ms;
        notional += n;
        buy_notional += n & ((static_cast<u128>(mb) << 64) | mb);
        sell_notional += n & ((static_cast<u128>(ms) << 64) | ms);
        if constexpr (kLarge) {
            const std::uint64_t ml = std::uint64_t{0} - static_cast<std::uint64_t>(large);
            large_count += static_cast<std::uint64_t>(large);
            large_buy_qty += q & mb & ml;
            large_sell_qty += q & ms & ml;
        }
    }
};

// Nearest-ish double of a 128-bit value: exact rounding when it fits 64 bits (always, for
// notionals below 1.8e19 ticks*lots), else within 1 ulp; avoids libgcc's slow __floatuntidf.
inline double to_double(u128 v) noexcept {
    const auto hi = static_cast<std::uint64_t>(v >> 64);
    const auto lo = static_cast<std::uint64_t>(v);
    return hi == 0 ? static_cast<double>(lo)
                   : static_cast<double>(hi) * 18446744073709551616.0 + static_cast<double>(lo);
}

} // namespace detail

class TradeFlow {
  public:
    // TradeFlow::TradeFlow()
    // Builds an empty flow; allocates the ring and the z-score window once.
    // REQUIRES: cfg.validate() passes; otherwise throws InvalidConfig.
    explicit TradeFlow(FlowConfig cfg = {});

    // TradeFlow::push()
    // Adds one trade: moves the clock, samples the z-score for each grid time the clock
    // crossed, then counts the trade in every window, in cvd() and total_count() (trades that
    // left a window at the new clock are out of it from now on; see Design on laziness). A ts
    // earlier than the clock is accepted but stamped with the clock (so windows stay time-ordered)
    // and counted in out_of_order(). REQUIRES: px > 0, qty > 0, side in {0, 1, 2}; otherwise throws
    // InvalidEvent naming the value and the state is unchanged.
    void push(std::int64_t ts_ns, Ticks px, Lots qty, Aggressor side) {
        check_trade(px, qty, static_cast<std::uint8_t>(side));
        push_unchecked(ts_ns, px, qty, static_cast<std::uint8_t>(side));
    }

    // TradeFlow::push_many()
    // Pushes n TradeEvents in order (symbol_id, trade_id and flags are ignored). The whole
    // batch is validated first: a bad record throws InvalidEvent naming its index and value,
    // and no record of the batch is applied.
    void push_many(const TradeEvent* events, std::size_t n);

    // TradeFlow::advance()
    // Moves the clock to now_ns with no trade (windows then exclude what expired) and samples
    // the z-score for each grid time crossed. A now_ns at or before the clock does nothing (time
    // never goes back).
    void advance(std::int64_t now_ns) noexcept {
        if (!started_) {
            start_clock(now_ns);
            return;
        }
        if (now_ns <= now_) {
            return;
        }
        if (now_ns >= next_sample_ns_) {
            sample_until(now_ns);
        }
        now_ = now_ns;
    }

    // TradeFlow::window_count()
    // Returns the number of windows.
    [[nodiscard]] std::size_t window_count() const noexcept { return n_windows_; }
    // TradeFlow::window_ns()
    // Returns the length of window i in ns. Throws std::out_of_range when i >= window_count().
    [[nodiscard]] std::int64_t window_ns(std::size_t i) const;
    // TradeFlow::window()
    // Returns the statistics of window i at the current clock. The reference is to a cache
    // inside the TradeFlow, refreshed by each call for that i; it does not follow later
    // pushes. Throws std::out_of_range when i >= window_count().
    [[nodiscard]] const WindowStats& window(std::size_t i) const;

    // TradeFlow::cvd()
    // Returns the cumulative volume delta (buy - sell lots) since start or reset().
    [[nodiscard]] Lots cvd() const noexcept {
        return static_cast<Lots>(total_.buy_qty - total_.sell_qty);
    }
    // TradeFlow::total_count()
    // Returns the number of trades pushed since start or reset().
    [[nodiscard]] std::uint64_t total_count() const noexcept { return head_; }
    // TradeFlow::last_ts_ns()
    // Returns the clock: the largest timestamp pushed or advanced to (INT64_MIN before any).
    [[nodiscard]] std::int64_t last_ts_ns() const noexcept { return now_; }
    // TradeFlow::start_ts_ns()
    // Returns the clock's first value (first trade or advance; INT64_MIN before any). Lets
    // readers tell a window that is not yet covered by the stream from a quiet one.
    [[nodiscard]] std::int64_t start_ts_ns() const noexcept { return start_; }
    // TradeFlow::truncated()
    // Returns the number of trades evicted early because the ring was full.
    [[nodiscard]] std::uint64_t truncated() const noexcept { return truncated_; }
    // TradeFlow::ring_size()
    // Returns the current size of the trade ring (grows up to config().capacity).
    [[nodiscard]] std::size_t ring_size() const noexcept { return ts_.size(); }
    // TradeFlow::memory_bytes()
    // Returns the bytes held by the object and its ring.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return sizeof(*this) + ts_.capacity() * sizeof(std::int64_t) +
               prefix_.capacity() * sizeof(detail::FlowSums) +
               cfg_.zscore_lookback * sizeof(double);
    }
    // TradeFlow::out_of_order()
    // Returns the number of trades stamped earlier than the clock.
    [[nodiscard]] std::uint64_t out_of_order() const noexcept { return out_of_order_; }

    // TradeFlow::cvd_zscore()
    // Returns the normaliser fed with window[zscore_window_index].delta() at every multiple
    // of zscore_sample_ns the clock crosses. Sample for grid time b = the window's delta at
    // time b over the trades pushed before the clock reached b (a trade stamped exactly b is
    // in the next sample). When the clock jumps over k grid times, k samples are taken (only
    // the last `lookback` of them, which is equivalent: older ones would be evicted at once).
    [[nodiscard]] const RollingZScore& cvd_zscore() const noexcept { return zscore_; }
    // TradeFlow::last_cvd_z()
    // Returns the z-score of the latest sample (0 before any or before warm-up).
    [[nodiscard]] double last_cvd_z() const noexcept { return last_cvd_z_; }

    [[nodiscard]] const FlowConfig& config() const noexcept { return cfg_; }

    // TradeFlow::reserve_ahead()
    // For an idle owner: brings the windows to the clock (as any read does) and, when the
    // live trades fill at least half the ring and it is below config().capacity, grows it
    // now (4x, up to capacity) instead of on the push that would find it full. Changes no
    // statistic. Out of memory: the ring stays as it is.
    void reserve_ahead() noexcept;
    // TradeFlow::reset()
    // Returns to the empty state (clock unset, counters 0); config and buffers are kept.
    void reset() noexcept;

  private:
    // Engine hands validated same-symbol runs to push_validated() (no second validation).
    friend class Engine;

    static void check_trade(Ticks px, Lots qty, std::uint8_t side) {
        if (px <= 0 || qty <= 0 || qty > kMaxTradeLots || side > 2) [[unlikely]] {
            throw_bad_trade(px, qty, side, nullptr);
        }
    }
    [[noreturn]] static void throw_bad_trade(Ticks px, Lots qty, std::uint8_t side,
                                             const std::size_t* index);

    void push_unchecked(std::int64_t ts, Ticks px, Lots qty, std::uint8_t side) noexcept {
        if (!started_) [[unlikely]] {
            start_clock(ts);
        }
        out_of_order_ += static_cast<std::uint64_t>(ts < now_);
        ts = ts < now_ ? now_ : ts; // cmov: stamps a late trade with the clock
        if (ts >= next_sample_ns_) [[unlikely]] {
            sample_until(ts);
        }
        now_ = ts;
        if (head_ - floor_ == ts_.size()) [[unlikely]] {
            make_room();
        }
        const std::size_t i = head_ & (ts_.size() - 1);
        ts_[i] = ts;
        // Through a local: field-wise loads of total_ forward from the previous push's
        // field-wise stores; a 96-byte struct copy would use vector loads spanning several
        // scalar stores, which cannot be forwarded (a ~20-cycle stall per push).
        detail::FlowSums sums;
        sums.assign(total_);
        prefix_[i].assign(sums);
        sums.add(px, qty, side, large_lots_ > 0 && qty >= large_lots_);
        total_.assign(sums);
        ++head_;
    }

    // Moves window k's tail past every trade with now - ts >= w_k.
    void evict_window(std::size_t k, std::int64_t now) const noexcept {
        const std::size_t mask = ts_.size() - 1;
        const auto w = static_cast<std::uint64_t>(window_ns_[k]);
        const std::int64_t* ts = ts_.data();
        std::uint64_t t = tail_[k];
        // Unsigned difference: exact for ts <= now, no overflow near INT64_MIN.
        while (t != head_ &&
               static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(ts[t & mask]) >= w) {
            ++t;
        }
        tail_[k] = t;
    }

    // Prefix sums before trade `seq` (total_ when seq == head_).
    [[nodiscard]] const detail::FlowSums& prefix(std::uint64_t seq) const noexcept {
        return seq == head_ ? total_ : prefix_[seq & (ts_.size() - 1)];
    }

    // Pushes n trades already validated (px > 0, qty > 0, side <= 2), in order.
    void push_validated(const TradeEvent* events, std::size_t n) noexcept;
    // Pushes events[i..n) while none needs the slow path; returns the index it stopped at.
    // kLarge: large-trade statistics enabled (large_lots_ > 0); otherwise their sums stay 0.
    template <bool kLarge>
    std::size_t push_run(const TradeEvent* events, std::size_t i, std::size_t n) noexcept;
    std::size_t push_run_plain(const TradeEvent* events, std::size_t i, std::size_t n) noexcept;
    void start_clock(std::int64_t now) noexcept;
    void sample_until(std::int64_t now) noexcept;
    void make_room() noexcept;
    // Evicts every window to the clock and returns the oldest live trade's sequence number.
    std::uint64_t oldest_live() noexcept;
    // Grows the ring 4x (up to capacity), keeping trades [oldest, head_) at their sequence
    // positions; false (ring unchanged) when the memory cannot be had.
    bool grow_ring(std::uint64_t oldest) noexcept;
    [[nodiscard]] Lots window_delta(std::size_t k) const noexcept {
        const detail::FlowSums& p = prefix(tail_[k]);
        return static_cast<Lots>((total_.buy_qty - p.buy_qty) - (total_.sell_qty - p.sell_qty));
    }

    FlowConfig cfg_;
    std::size_t n_windows_;
    Lots large_lots_;
    std::array<std::int64_t, kMaxFlowWindows> window_ns_{};
    // Sequence number of the oldest trade not yet evicted from window k (lazy: may lag).
    mutable std::array<std::uint64_t, kMaxFlowWindows> tail_{};
    detail::FlowSums total_{};
    std::uint64_t head_ = 0;  // sequence number of the next trade
    std::uint64_t floor_ = 0; // <= every tail_: the ring is full when head_ - floor_ == size
    std::int64_t now_;
    std::int64_t start_;
    bool started_ = false;
    std::int64_t next_sample_ns_; // next grid time to sample at
    std::uint64_t truncated_ = 0;
    std::uint64_t out_of_order_ = 0;
    double last_cvd_z_ = 0.0;
    RollingZScore zscore_;
    std::vector<std::int64_t> ts_;         // ring: stamps (max(ts, clock))
    std::vector<detail::FlowSums> prefix_; // ring: sums before each trade
    mutable std::array<WindowStats, kMaxFlowWindows> view_{};
    // view_[k] is the window [view_tail_[k], view_head_[k]); a ~0 head marks no view.
    mutable std::array<std::uint64_t, kMaxFlowWindows> view_head_{};
    mutable std::array<std::uint64_t, kMaxFlowWindows> view_tail_{};
};

} // namespace confluex
