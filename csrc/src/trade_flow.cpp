// TradeFlow and FlowConfig: the out-of-line (cold or batch) parts. The per-trade hot path is
// inline in trade_flow.hpp.
#include "confluex/trade_flow.hpp"

#include <algorithm>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {

__extension__ typedef __int128 i128;

constexpr std::int64_t kMinTs = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxTs = std::numeric_limits<std::int64_t>::max();

std::int64_t saturate(i128 v) noexcept {
    if (v > kMaxTs) {
        return kMaxTs;
    }
    if (v < kMinTs) {
        return kMinTs;
    }
    return static_cast<std::int64_t>(v);
}

// The first multiple of p strictly after t (floor division also for negative t).
std::int64_t next_grid_time(std::int64_t t, std::int64_t p) noexcept {
    std::int64_t q = t / p;
    if (t % p < 0) {
        --q;
    }
    return saturate(static_cast<i128>(q) * p + p);
}

constexpr std::uint64_t kNoView = ~std::uint64_t{0};

const FlowConfig& validated(const FlowConfig& cfg) {
    cfg.validate();
    return cfg;
}

} // namespace

Aggressor to_aggressor(std::int64_t side) {
    if (side < 0 || side > 2) {
        throw InvalidEvent("side must be 0 (buy), 1 (sell) or 2 (unknown), was " +
                           std::to_string(side));
    }
    return static_cast<Aggressor>(side);
}

void FlowConfig::validate() const {
    const std::size_t n = windows_ns.size();
    if (n < 1 || n > kMaxFlowWindows) {
        throw InvalidConfig("FlowConfig: windows_ns must hold 1 to 8 windows, was " +
                            std::to_string(n));
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (windows_ns[i] <= 0) {
            throw InvalidConfig("FlowConfig: windows_ns[" + std::to_string(i) +
                                "] must be > 0, was " + std::to_string(windows_ns[i]));
        }
        if (i > 0 && windows_ns[i] <= windows_ns[i - 1]) {
            throw InvalidConfig("FlowConfig: windows_ns must be strictly increasing, windows_ns[" +
                                std::to_string(i) + "] was " + std::to_string(windows_ns[i]) +
                                " after " + std::to_string(windows_ns[i - 1]));
        }
    }
    if (large_trade_lots < 0) {
        throw InvalidConfig("FlowConfig: large_trade_lots must be >= 0, was " +
                            std::to_string(large_trade_lots));
    }
    if (capacity == 0 || (capacity & (capacity - 1)) != 0 || capacity > (std::size_t{1} << 30)) {
        throw InvalidConfig("FlowConfig: capacity must be a power of two in [1, 2^30], was " +
                            std::to_string(capacity));
    }
    if (zscore_sample_ns <= 0) {
        throw InvalidConfig("FlowConfig: zscore_sample_ns must be > 0, was " +
                            std::to_string(zscore_sample_ns));
    }
    if (zscore_window_index >= n) {
        throw InvalidConfig("FlowConfig: zscore_window_index must be < " + std::to_string(n) +
                            " (the number of windows), was " + std::to_string(zscore_window_index));
    }
    RollingZScore::validate(zscore_lookback, zscore_min_samples, zscore_clip);
}

TradeFlow::TradeFlow(FlowConfig cfg)
    : cfg_(validated(cfg)), n_windows_(cfg_.windows_ns.size()), large_lots_(cfg_.large_trade_lots),
      now_(kMinTs), start_(kMinTs), next_sample_ns_(kMaxTs),
      zscore_(cfg_.zscore_lookback, cfg_.zscore_min_samples, cfg_.zscore_clip),
      ts_(std::min(cfg_.capacity, kInitialFlowRing)),
      prefix_(std::min(cfg_.capacity, kInitialFlowRing)) {
    for (std::size_t k = 0; k < n_windows_; ++k) {
        window_ns_[k] = cfg_.windows_ns[k];
    }
    view_head_.fill(kNoView);
}

void TradeFlow::throw_bad_trade(Ticks px, Lots qty, std::uint8_t side, const std::size_t* index) {
    const std::string where = index != nullptr
                                  ? "TradeFlow::push_many: record " + std::to_string(*index) + ": "
                                  : std::string("TradeFlow::push: ");
    if (px <= 0) {
        throw InvalidEvent(where + "px must be > 0, was " + std::to_string(px));
    }
    if (qty <= 0) {
        throw InvalidEvent(where + "qty must be > 0, was " + std::to_string(qty));
    }
    if (qty > kMaxTradeLots) {
        throw InvalidEvent(where + "qty must be at most 2^48 lots, was " + std::to_string(qty));
    }
    throw InvalidEvent(where + "side must be 0 (buy), 1 (sell) or 2 (unknown), was " +
                       std::to_string(side));
}

void TradeFlow::push_many(const TradeEvent* events, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const TradeEvent& e = events[i];
        if (e.px_ticks <= 0 || e.qty_lots <= 0 || e.qty_lots > kMaxTradeLots || e.side > 2)
            [[unlikely]] {
            throw_bad_trade(e.px_ticks, e.qty_lots, e.side, &i);
        }
    }
    push_validated(events, n);
}

void TradeFlow::push_validated(const TradeEvent* events, std::size_t n) noexcept {
    std::size_t i = 0;
    while (i < n) {
        if (started_) {
            i = large_lots_ > 0 ? push_run<true>(events, i, n) : push_run<false>(events, i, n);
        }
        if (i < n) { // the event that ended the run: clock start, z-score sample or full ring
            const TradeEvent& e = events[i];
            push_unchecked(e.ts_ns, e.px_ticks, e.qty_lots, e.side);
            ++i;
        }
    }
}

template <bool kLarge>
std::size_t TradeFlow::push_run(const TradeEvent* events, std::size_t i, std::size_t n) noexcept {
    if constexpr (!kLarge) {
        return push_run_plain(events, i, n);
    }
    // The state lives in locals for the run: as members, every field would make a
    // store-to-load round trip per trade because the ring stores may alias `*this`.
    detail::FlowSums sums = total_;
    std::uint64_t head = head_;
    std::int64_t now = now_;
    std::uint64_t late = 0;
    const std::int64_t next_sample = next_sample_ns_;
    const std::uint64_t full_at = floor_ + ts_.size();
    const std::uint64_t mask = ts_.size() - 1;
    std::int64_t* const ts = ts_.data();
    detail::FlowSums* const prefix = prefix_.data();
    const Lots large = large_lots_;
    for (; i < n; ++i) {
        const TradeEvent& e = events[i];
        const std::int64_t t = e.ts_ns < now ? now : e.ts_ns;
        if (t >= next_sample || head == full_at) [[unlikely]] {
            break;
        }
        late += static_cast<std::uint64_t>(e.ts_ns < now);
        now = t;
        const std::uint64_t slot = head & mask;
        ts[slot] = t;
        prefix[slot].assign_from<kLarge>(sums);
        sums.add<kLarge>(e.px_ticks, e.qty_lots, e.side, kLarge && e.qty_lots >= large);
        ++head;
    }
    total_ = sums;
    head_ = head;
    now_ = now;
    out_of_order_ += late;
    return i;
}

std::size_t TradeFlow::push_run_plain(const TradeEvent* events, std::size_t i,
                                      std::size_t n) noexcept {
    // Large-trade statistics disabled: their sums stay 0 in total_ and in every ring slot.
    // Every sum is a separate 64-bit local (the 128-bit notionals as lo/hi words with an
    // explicit carry) so GCC keeps the loop-carried sums in registers; as u128 it spills them
    // and each trade then waits on store-to-load forwarding.
    using detail::u128;
    std::uint64_t qty = total_.qty;
    std::uint64_t buy_qty = total_.buy_qty;
    std::uint64_t sell_qty = total_.sell_qty;
    std::uint64_t n_lo = static_cast<std::uint64_t>(total_.notional);
    std::uint64_t n_hi = static_cast<std::uint64_t>(total_.notional >> 64);
    std::uint64_t b_lo = static_cast<std::uint64_t>(total_.buy_notional);
    std::uint64_t b_hi = static_cast<std::uint64_t>(total_.buy_notional >> 64);
    std::uint64_t s_lo = static_cast<std::uint64_t>(total_.sell_notional);
    std::uint64_t s_hi = static_cast<std::uint64_t>(total_.sell_notional >> 64);
    std::uint64_t head = head_;
    std::int64_t now = now_;
    std::uint64_t late = 0;
    const std::int64_t next_sample = next_sample_ns_;
    const std::uint64_t full_at = floor_ + ts_.size();
    const std::uint64_t mask = ts_.size() - 1;
    std::int64_t* const ts = ts_.data();
    detail::FlowSums* const prefix = prefix_.data();
    for (; i < n; ++i) {
        const TradeEvent& e = events[i];
        const std::int64_t t = e.ts_ns < now ? now : e.ts_ns;
        if (t >= next_sample || head == full_at) [[unlikely]] {
            break;
        }
        late += static_cast<std::uint64_t>(e.ts_ns < now);
        now = t;
        const std::uint64_t slot = head & mask;
        ts[slot] = t;
        detail::FlowSums& p = prefix[slot];
        p.notional = (static_cast<u128>(n_hi) << 64) | n_lo;
        p.buy_notional = (static_cast<u128>(b_hi) << 64) | b_lo;
        p.sell_notional = (static_cast<u128>(s_hi) << 64) | s_lo;
        p.qty = qty;
        p.buy_qty = buy_qty;
        p.sell_qty = sell_qty;
        const auto q = static_cast<std::uint64_t>(e.qty_lots);
        const u128 x = static_cast<u128>(static_cast<std::uint64_t>(e.px_ticks)) * q;
        const auto x_lo = static_cast<std::uint64_t>(x);
        const auto x_hi = static_cast<std::uint64_t>(x >> 64);
        const std::uint64_t mb = std::uint64_t{0} - static_cast<std::uint64_t>(e.side == 0);
        const std::uint64_t ms = std::uint64_t{0} - static_cast<std::uint64_t>(e.side == 1);
        qty += q;
        buy_qty += q & mb;
        sell_qty += q & ms;
        // lo += x; hi += x_hi + carry (GCC emits add/adc).
        n_lo += x_lo;
        n_hi += x_hi + static_cast<std::uint64_t>(n_lo < x_lo);
        b_lo += x_lo & mb;
        b_hi += (x_hi & mb) + static_cast<std::uint64_t>(b_lo < (x_lo & mb));
        s_lo += x_lo & ms;
        s_hi += (x_hi & ms) + static_cast<std::uint64_t>(s_lo < (x_lo & ms));
        ++head;
    }
    total_.notional = (static_cast<u128>(n_hi) << 64) | n_lo;
    total_.buy_notional = (static_cast<u128>(b_hi) << 64) | b_lo;
    total_.sell_notional = (static_cast<u128>(s_hi) << 64) | s_lo;
    total_.qty = qty;
    total_.buy_qty = buy_qty;
    total_.sell_qty = sell_qty;
    head_ = head;
    now_ = now;
    out_of_order_ += late;
    return i;
}

void TradeFlow::start_clock(std::int64_t now) noexcept {
    started_ = true;
    now_ = now;
    start_ = now;
    next_sample_ns_ = next_grid_time(now, cfg_.zscore_sample_ns);
}

void TradeFlow::sample_until(std::int64_t now) noexcept {
    const auto p = static_cast<std::uint64_t>(cfg_.zscore_sample_ns);
    const auto next = static_cast<std::uint64_t>(next_sample_ns_);
    // Grid times next, next + p, ... up to now (now >= next_sample_ns_ here).
    const std::uint64_t crossed = (static_cast<std::uint64_t>(now) - next) / p + 1;
    const std::uint64_t lookback = zscore_.lookback();
    const std::uint64_t first = crossed > lookback ? crossed - lookback : 0;
    const std::size_t j = cfg_.zscore_window_index;
    for (std::uint64_t i = first; i < crossed; ++i) {
        const auto b = static_cast<std::int64_t>(next + i * p); // <= now: no overflow
        evict_window(j, b);
        last_cvd_z_ = zscore_.update(static_cast<double>(window_delta(j)));
    }
    next_sample_ns_ = saturate(static_cast<i128>(next_sample_ns_) +
                               static_cast<i128>(crossed) * static_cast<i128>(p));
}

std::uint64_t TradeFlow::oldest_live() noexcept {
    // Bring every window to the clock: tails are then non-increasing in k, and the longest
    // window's tail is the oldest live trade.
    for (std::size_t k = 0; k < n_windows_; ++k) {
        evict_window(k, now_);
    }
    return tail_[n_windows_ - 1];
}

void TradeFlow::make_room() noexcept {
    // The ring is full only if the oldest live trade is still inside the longest window; a
    // ring that cannot grow (at capacity, or out of memory) truncates that trade.
    const std::uint64_t oldest = oldest_live();
    if (head_ - oldest == ts_.size() && (ts_.size() >= cfg_.capacity || !grow_ring(oldest))) {
        for (std::size_t k = 0; k < n_windows_; ++k) {
            if (tail_[k] == oldest) {
                tail_[k] = oldest + 1;
            }
        }
        ++truncated_;
    }
    floor_ = tail_[n_windows_ - 1];
}

void TradeFlow::reserve_ahead() noexcept {
    if (ts_.size() >= cfg_.capacity) {
        return;
    }
    const std::uint64_t oldest = oldest_live();
    floor_ = oldest; // as make_room() leaves it: the ring is full at oldest + size
    if ((head_ - oldest) * 2 >= ts_.size()) {
        (void)grow_ring(oldest); // out of memory: the push that fills it tries again
    }
}

bool TradeFlow::grow_ring(std::uint64_t oldest) noexcept {
    // x4, not x2: half the copies and allocations on the way up (a fresh 20k-trade replay
    // measured 11 ns/trade including them, vs 41 ns growing x2 and 21 ns for the old ring
    // allocated whole at construction), for at most 4x the trades the window holds.
    const std::size_t n = std::min(ts_.size() * 4, cfg_.capacity);
    std::vector<std::int64_t> ts;
    std::vector<detail::FlowSums> prefix;
    try {
        ts.resize(n);
        prefix.resize(n);
    } catch (const std::bad_alloc&) {
        return false;
    }
    const std::uint64_t old_mask = ts_.size() - 1;
    const std::uint64_t mask = n - 1;
    for (std::uint64_t seq = oldest; seq != head_; ++seq) {
        ts[seq & mask] = ts_[seq & old_mask];
        prefix[seq & mask] = prefix_[seq & old_mask];
    }
    ts_.swap(ts);
    prefix_.swap(prefix);
    return true;
}

std::int64_t TradeFlow::window_ns(std::size_t i) const {
    if (i >= n_windows_) {
        throw std::out_of_range("window index must be < " + std::to_string(n_windows_) + ", was " +
                                std::to_string(i));
    }
    return window_ns_[i];
}

const WindowStats& TradeFlow::window(std::size_t i) const {
    if (i >= n_windows_) {
        throw std::out_of_range("window index must be < " + std::to_string(n_windows_) + ", was " +
                                std::to_string(i));
    }
    evict_window(i, now_);
    WindowStats& v = view_[i];
    if (view_head_[i] == head_ && view_tail_[i] == tail_[i]) {
        return v; // the same trades as the last read (a sequence number is never reused
                  // before reset(), which clears the keys)
    }
    view_head_[i] = head_;
    view_tail_[i] = tail_[i];
    const detail::FlowSums& e = prefix(tail_[i]);
    // Wrapping differences are exact for any window value that fits uint64 (kMaxTradeLots);
    // a value above INT64_MAX saturates rather than turning negative.
    const auto sat = [](std::uint64_t u) noexcept {
        return u > static_cast<std::uint64_t>(std::numeric_limits<Lots>::max())
                   ? std::numeric_limits<Lots>::max()
                   : static_cast<Lots>(u);
    };
    const auto buy = total_.buy_qty - e.buy_qty;
    const auto sell = total_.sell_qty - e.sell_qty;
    v.buy_qty = sat(buy);
    v.sell_qty = sat(sell);
    v.unknown_qty = sat((total_.qty - e.qty) - buy - sell);
    const detail::u128 bn = total_.buy_notional - e.buy_notional;
    const detail::u128 sn = total_.sell_notional - e.sell_notional;
    v.buy_notional = detail::to_double(bn);
    v.sell_notional = detail::to_double(sn);
    v.unknown_notional = detail::to_double((total_.notional - e.notional) - bn - sn);
    v.count = head_ - tail_[i];
    v.large_count = total_.large_count - e.large_count;
    v.large_buy_qty = sat(total_.large_buy_qty - e.large_buy_qty);
    v.large_sell_qty = sat(total_.large_sell_qty - e.large_sell_qty);
    return v;
}

void TradeFlow::reset() noexcept {
    tail_.fill(0);
    view_head_.fill(kNoView);
    total_ = detail::FlowSums{};
    head_ = 0;
    floor_ = 0;
    now_ = kMinTs;
    start_ = kMinTs;
    started_ = false;
    next_sample_ns_ = kMaxTs;
    truncated_ = 0;
    out_of_order_ = 0;
    last_cvd_z_ = 0.0;
    zscore_.reset();
}

} // namespace confluex
