// StackedImbalance (algorithm and deviations in stacked_imbalance.hpp).
#include "confluex/stacked_imbalance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "confluex/errors.hpp"
#include "confluex/trade_flow.hpp"

namespace confluex {

void StackedImbalanceConfig::validate() const {
    const std::string p = "StackedImbalanceConfig.";
    if (!(imbalance_threshold > 0.0 && imbalance_threshold <= 1.0)) {
        throw InvalidConfig(p + "imbalance_threshold must be within (0, 1], was " +
                            std::to_string(imbalance_threshold));
    }
    if (min_stack_length < 1) {
        throw InvalidConfig(p + "min_stack_length must be >= 1, was " +
                            std::to_string(min_stack_length));
    }
    if (min_trades_per_level < 1) {
        throw InvalidConfig(p + "min_trades_per_level must be >= 1, was " +
                            std::to_string(min_trades_per_level));
    }
    if (min_total_trades < 1) {
        throw InvalidConfig(p + "min_total_trades must be >= 1, was " +
                            std::to_string(min_total_trades));
    }
    if (window_ns <= 0) {
        throw InvalidConfig(p + "window_ns must be > 0, was " + std::to_string(window_ns));
    }
    if (max_stale_ns <= 0) {
        throw InvalidConfig(p + "max_stale_ns must be > 0, was " + std::to_string(max_stale_ns));
    }
    if (!(max_expected_strength > 0.0) || !std::isfinite(max_expected_strength)) {
        throw InvalidConfig(p + "max_expected_strength must be finite and > 0, was " +
                            std::to_string(max_expected_strength));
    }
    if (level_ticks < 1) {
        throw InvalidConfig(p + "level_ticks must be >= 1, was " + std::to_string(level_ticks));
    }
    if (refresh_ns < 0) {
        throw InvalidConfig(p + "refresh_ns must be >= 0, was " + std::to_string(refresh_ns));
    }
    if (capacity < 1 || capacity > (std::size_t{1} << 26) || (capacity & (capacity - 1)) != 0) {
        throw InvalidConfig(p + "capacity must be a power of two in [1, 2^26], was " +
                            std::to_string(capacity));
    }
}

StackedImbalance::StackedImbalance(StackedImbalanceConfig cfg)
    : cfg_(cfg), now_(std::numeric_limits<std::int64_t>::min()),
      newest_trade_ts_(std::numeric_limits<std::int64_t>::min()) {
    cfg_.validate();
    ring_.resize(std::min<std::size_t>(cfg_.capacity, 64));
}

void StackedImbalance::check(Ticks px, Lots qty, Aggressor side) {
    if (px <= 0) {
        throw InvalidEvent("StackedImbalance::push: px must be > 0, was " + std::to_string(px));
    }
    if (qty <= 0 || qty > kMaxTradeLots) {
        throw InvalidEvent("StackedImbalance::push: qty must be in (0, 2^48] lots, was " +
                           std::to_string(qty));
    }
    if (static_cast<std::uint8_t>(side) > 2) {
        throw InvalidEvent("StackedImbalance::push: side must be 0 (buy), 1 (sell) or 2 "
                           "(unknown), was " +
                           std::to_string(static_cast<unsigned>(side)));
    }
}

void StackedImbalance::add(const Entry& e, int sign) noexcept {
    auto it = levels_.lower_bound(e.level);
    if (it == levels_.end() || it->first != e.level) {
        // A spare node, else an allocation (bad_alloc terminates, as on any noexcept path).
        it = spare_.insert(levels_, it, e.level, LevelSums{});
    }
    LevelSums& s = it->second;
    // Wrap-around: a level's sums are exact whenever their true value fits int64.
    const auto q = static_cast<std::uint64_t>(e.qty);
    const std::uint64_t b = e.side == Aggressor::Buy ? 2 * q : (e.side == Aggressor::Sell ? 0 : q);
    const std::uint64_t s2 = e.side == Aggressor::Sell ? 2 * q : (e.side == Aggressor::Buy ? 0 : q);
    if (sign > 0) {
        s.buy2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.buy2) + b);
        s.sell2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.sell2) + s2);
        ++s.count;
    } else {
        s.buy2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.buy2) - b);
        s.sell2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(s.sell2) - s2);
        if (--s.count == 0) {
            spare_.erase(levels_, it);
        }
    }
}

bool StackedImbalance::grow_ring() noexcept {
    std::vector<Entry> next;
    try {
        next.resize(std::min(cfg_.capacity, ring_.size() * 4));
    } catch (...) {
        return false;
    }
    for (std::size_t i = 0; i < size_; ++i) {
        next[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    }
    ring_.swap(next);
    head_ = 0;
    return true;
}

void StackedImbalance::reserve_ahead() noexcept {
    if (size_ == 0) {
        return; // no trade in the window: an idle symbol stays small
    }
    spare_.reserve_ahead();
    if (size_ * 2 >= ring_.size() && ring_.size() < cfg_.capacity) {
        (void)grow_ring();
    }
}

void StackedImbalance::evict_oldest() noexcept {
    add(ring_[head_], -1);
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
}

void StackedImbalance::evict_expired() noexcept {
    const auto w = static_cast<std::uint64_t>(cfg_.window_ns);
    while (size_ > 0 &&
           static_cast<std::uint64_t>(now_) - static_cast<std::uint64_t>(ring_[head_].ts) >= w) {
        evict_oldest();
    }
}

void StackedImbalance::push_unchecked(std::int64_t ts_ns, Ticks px, Lots qty,
                                      Aggressor side) noexcept {
    now_ = std::max(now_, ts_ns);
    newest_trade_ts_ = now_;
    evict_expired();
    if (size_ == ring_.size() && (ring_.size() >= cfg_.capacity || !grow_ring())) {
        evict_oldest();
        ++evicted_early_;
    }
    // Round half up to the nearest multiple of level_ticks (px > 0, so no sign issue).
    const Ticks level = (px + cfg_.level_ticks / 2) / cfg_.level_ticks;
    const Entry e{now_, level, qty, side};
    ring_[(head_ + size_) & (ring_.size() - 1)] = e;
    ++size_;
    add(e, +1);
}

void StackedImbalance::advance(std::int64_t now_ns) noexcept {
    if (now_ns <= now_) {
        return;
    }
    now_ = now_ns;
    evict_expired();
}

StackedImbalanceResult StackedImbalance::compute() const {
    StackedImbalanceResult r{};
    r.trades = size_;
    r.levels = static_cast<std::uint32_t>(levels_.size());
    if (size_ == 0) {
        return r;
    }
    double total = 0.0;
    for (const auto& [lvl, s] : levels_) {
        total += static_cast<double>(s.buy2) + static_cast<double>(s.sell2);
    }
    const double thr = cfg_.imbalance_threshold;
    double bull = 0.0;
    double bear = 0.0;
    double fallback = 0.0;
    std::uint32_t stacks = 0;
    std::uint64_t stack_len_sum = 0;
    int run_dir = 0;
    std::uint32_t run_len = 0;
    double run_abs = 0.0;
    double run_vol = 0.0;
    const auto close_run = [&]() {
        if (run_dir != 0 && run_len >= cfg_.min_stack_length) {
            const double strength = run_abs * std::sqrt(static_cast<double>(run_len));
            const double weighted = total > 0.0 ? strength * (run_vol / total) : 0.0;
            (run_dir > 0 ? bull : bear) += weighted;
            (run_dir > 0 ? r.bullish_stacks : r.bearish_stacks) += 1;
            r.max_stack_length = std::max(r.max_stack_length, run_len);
            ++stacks;
            stack_len_sum += run_len;
        }
        run_dir = 0;
        run_len = 0;
        run_abs = 0.0;
        run_vol = 0.0;
    };
    for (const auto& [lvl, s] : levels_) {
        const double b = static_cast<double>(s.buy2);
        const double sl = static_cast<double>(s.sell2);
        const double vol = b + sl;
        const double u = vol > 0.0 ? (b - sl) / vol : 0.0;
        if (total > 0.0) {
            fallback += u * (vol / total);
        }
        if (std::fabs(u) >= thr) {
            ++r.significant_levels;
        }
        const int dir = u >= thr ? 1 : (u <= -thr ? -1 : 0);
        if (s.count < cfg_.min_trades_per_level || dir == 0) {
            close_run();
            continue;
        }
        if (dir != run_dir) {
            close_run();
            run_dir = dir;
        }
        ++run_len;
        run_abs += std::fabs(u);
        run_vol += vol;
    }
    close_run();
    r.bullish_strength = bull;
    r.bearish_strength = bear;
    const double raw = stacks > 0 ? 50.0 + 50.0 * (bull - bear) / cfg_.max_expected_strength
                                  : 50.0 + 50.0 * 0.6 * fallback;
    r.score = std::clamp(raw, 0.0, 100.0);
    const double clarity =
        stacks > 0 ? std::min(static_cast<double>(stack_len_sum) / stacks / 5.0, 1.0) : 0.3;
    r.confidence =
        0.3 * std::min(static_cast<double>(size_) / 200.0, 1.0) +
        0.3 * static_cast<double>(r.significant_levels) / static_cast<double>(levels_.size()) +
        0.4 * clarity;
    r.has_data = size_ >= cfg_.min_total_trades &&
                 static_cast<std::uint64_t>(now_) - static_cast<std::uint64_t>(newest_trade_ts_) <=
                     static_cast<std::uint64_t>(cfg_.max_stale_ns);
    if (!r.has_data) {
        r.score = 50.0;
    }
    return r;
}

} // namespace confluex
