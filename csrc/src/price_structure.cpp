// PriceStructure: causal, incremental swings / structure / zones per closed bar.
#include "confluex/price_structure.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "confluex/errors.hpp"
#include "view_util.hpp"

namespace confluex {

namespace {

using detail::clip;
using detail::num;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::array<double, 5> kEmaPeriods = {10.0, 20.0, 50.0, 100.0, 200.0};
constexpr std::uint64_t kAtrPeriod = 14;

// 100 at the zone, falling 5 points per 1 % of distance from its nearest edge, 0 beyond 20 %.
double proximity(double c, double low, double high) noexcept {
    const double dist = c < low ? low - c : c - high;
    const double pct = 100.0 * dist / c;
    return 100.0 - std::min(5.0 * pct, 100.0);
}

} // namespace

std::optional<std::size_t> structure_sub_index(std::string_view key) noexcept {
    return detail::key_index(kStructureKeys, key);
}

void PriceStructureConfig::validate() const {
    if (swing_bars < 1 || swing_bars > 32) {
        throw InvalidConfig("swing_bars must be in 1..32, was " + std::to_string(swing_bars));
    }
    const std::pair<const char*, double> mults[] = {{"ob_body", ob_body},
                                                    {"ob_range_mult", ob_range_mult},
                                                    {"ob_volume_mult", ob_volume_mult},
                                                    {"range_min_atr", range_min_atr},
                                                    {"sweep_min", sweep_min}};
    for (const auto& [name, v] : mults) {
        if (!std::isfinite(v) || v < 0.0) {
            throw InvalidConfig(std::string(name) + " must be finite and >= 0, was " + num(v));
        }
    }
    if (event_decay_bars < 1) {
        throw InvalidConfig("event_decay_bars must be >= 1, was 0");
    }
    detail::check_weights(weights, kStructureKeys, "price-structure");
}

void PriceStructureConfig::set_weight(std::string_view key, double weight) {
    detail::set_keyed_weight(weights, kStructureKeys, key, weight, "price-structure");
}

template <std::size_t N> void PriceStructure::ZoneRing<N>::push(Zone v) noexcept {
    if (n == N) {
        std::copy(z.begin() + 1, z.end(), z.begin());
        --n;
    }
    z[n++] = v;
}

template <std::size_t N>
template <class Pred>
void PriceStructure::ZoneRing<N>::erase_if(Pred p) noexcept {
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!p(z[i])) {
            z[k++] = z[i];
        }
    }
    n = k;
}

PriceStructure::PriceStructure(const PriceStructureConfig& cfg) : cfg_(cfg) {
    cfg_.validate();
    last_.score = 50.0;
    last_.sub.fill(kNaN);
    last_.swing_high = last_.swing_low = last_.support = last_.resistance = kNaN;
    last_.range_high = last_.range_low = kNaN;
}

StructureReading PriceStructure::update(const Bar& bar) {
    const double o = bar.open;
    const double h = bar.high;
    const double l = bar.low;
    const double c = bar.close;
    const double v = bar.volume;
    if (!std::isfinite(o) || !std::isfinite(h) || !std::isfinite(l) || !std::isfinite(c) ||
        !std::isfinite(v)) {
        throw InvalidEvent("bar prices and volume must be finite, was open=" + num(o) + " high=" +
                           num(h) + " low=" + num(l) + " close=" + num(c) + " volume=" + num(v));
    }
    if (!(l > 0.0) || l > o || l > c || h < o || h < c) {
        throw InvalidEvent("bar must have 0 < low <= open, close <= high, was open=" + num(o) +
                           " high=" + num(h) + " low=" + num(l) + " close=" + num(c));
    }
    if (v < 0.0) {
        throw InvalidEvent("bar volume must be >= 0, was " + num(v));
    }
    if (count_ > 0 && bar.open_ns <= last_open_ns_) {
        throw InvalidEvent("bar open_ns must increase, was " + std::to_string(bar.open_ns) +
                           " after " + std::to_string(last_open_ns_));
    }

    namespace ev = structure_events;
    const std::uint64_t t = count_;
    const std::uint64_t n_ready = t + 1;
    StructureReading r{};
    r.open_ns = bar.open_ns;
    r.sub.fill(kNaN);
    r.swing_high = r.swing_low = r.support = r.resistance = r.range_high = r.range_low = kNaN;

    // ATR(14), Wilder: the mean of the first 14 true ranges, then x += (tr - x) / 14.
    const double tr =
        t == 0 ? h - l : std::max({h - l, std::abs(h - prev_close_), std::abs(l - prev_close_)});
    if (t < kAtrPeriod) {
        tr_sum_ += tr;
        if (t + 1 == kAtrPeriod) {
            atr_ = tr_sum_ / static_cast<double>(kAtrPeriod);
        }
    } else {
        atr_ += (tr - atr_) / static_cast<double>(kAtrPeriod);
    }
    const bool atr_ready = n_ready >= kAtrPeriod;

    // EMAs seeded with the first close; x += (c - x) / ((p + 1) / 2) is the usual alpha = 2 / (p +
    // 1).
    for (std::size_t i = 0; i < ema_.size(); ++i) {
        ema_[i] = t == 0 ? c : ema_[i] + (c - ema_[i]) / ((kEmaPeriods[i] + 1.0) / 2.0);
    }

    // --- swings: the pivot N bars back is confirmed now -------------------------------------
    const std::uint64_t N = cfg_.swing_bars;
    const std::uint64_t W = 2 * N + 1;
    win_[t % W] = Pivot{h, l};
    if (t >= 2 * N) {
        const std::uint64_t cidx = t - N;
        const Pivot pc = win_[cidx % W];
        bool is_high = true;
        bool is_low = true;
        for (std::uint64_t j = cidx - N; j <= t; ++j) {
            if (j == cidx) {
                continue;
            }
            const Pivot& pj = win_[j % W];
            if (j < cidx) {
                is_high = is_high && pc.high > pj.high;
                is_low = is_low && pc.low < pj.low;
            } else {
                is_high = is_high && pc.high >= pj.high;
                is_low = is_low && pc.low <= pj.low;
            }
        }
        auto push_level = [this](double lv) {
            if (n_levels_ < kMaxLevels) {
                levels_[n_levels_++] = lv;
            } else {
                levels_[level_head_] = lv;
                level_head_ = (level_head_ + 1) % kMaxLevels;
            }
        };
        if (is_high) {
            r.events |= ev::kSwingHigh;
            r.swing_high = pc.high;
            if (n_highs_ > 0) {
                const bool hh = pc.high > highs_[0];
                r.events |= hh ? ev::kHigherHigh : ev::kLowerHigh;
                high_kind_ = hh ? 1 : -1;
            }
            std::copy_backward(highs_.begin(), highs_.end() - 1, highs_.end());
            highs_[0] = pc.high;
            n_highs_ = std::min(n_highs_ + 1, kRangeSwings);
            struct_high_ = pc.high;
            struct_high_live_ = true;
            push_level(pc.high);
        }
        if (is_low) {
            r.events |= ev::kSwingLow;
            r.swing_low = pc.low;
            if (n_lows_ > 0) {
                const bool hl = pc.low > lows_[0];
                r.events |= hl ? ev::kHigherLow : ev::kLowerLow;
                low_kind_ = hl ? 1 : -1;
            }
            std::copy_backward(lows_.begin(), lows_.end() - 1, lows_.end());
            lows_[0] = pc.low;
            n_lows_ = std::min(n_lows_ + 1, kRangeSwings);
            struct_low_ = pc.low;
            struct_low_live_ = true;
            push_level(pc.low);
        }
    }
    const int trend =
        (high_kind_ == 1 && low_kind_ == 1) ? 1 : ((high_kind_ == -1 && low_kind_ == -1) ? -1 : 0);
    r.trend = static_cast<std::int8_t>(trend);
    const double decay = static_cast<double>(cfg_.event_decay_bars);

    // --- market structure: HH/HL state plus break of structure / change of character --------
    if (break_dir_ != 0) {
        ++break_age_;
    }
    if (struct_high_live_ && c > struct_high_) {
        r.events |= trend == -1 ? ev::kChochUp : ev::kBosUp;
        struct_high_live_ = false;
        break_dir_ = 1;
        break_age_ = 0;
    }
    if (struct_low_live_ && c < struct_low_) {
        r.events |= trend == 1 ? ev::kChochDown : ev::kBosDown;
        struct_low_live_ = false;
        break_dir_ = -1;
        break_age_ = 0;
    }
    if (n_highs_ + n_lows_ > 0) {
        double ms = 50.0 + 12.5 * high_kind_ + 12.5 * low_kind_;
        if (break_dir_ != 0 && static_cast<double>(break_age_) < decay) {
            ms += 10.0 * break_dir_ * (1.0 - static_cast<double>(break_age_) / decay);
        }
        r.sub[static_cast<std::size_t>(StructureSub::MarketStructure)] = clip(ms, 0.0, 100.0);
    }

    // --- support / resistance: nearest swing levels around the close -------------------------
    {
        double sup = -std::numeric_limits<double>::infinity();
        double res = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < n_levels_; ++i) {
            const double lv = levels_[i];
            if (lv < c && lv > sup) {
                sup = lv;
            }
            if (lv > c && lv < res) {
                res = lv;
            }
        }
        if (std::isfinite(sup)) {
            r.support = sup;
        }
        if (std::isfinite(res)) {
            r.resistance = res;
        }
        if (std::isfinite(sup) && std::isfinite(res)) {
            const double p = (c - sup) / (res - sup);
            r.sub[static_cast<std::size_t>(StructureSub::SupportResistance)] =
                50.0 + 30.0 * (1.0 - 2.0 * p);
        }
    }

    // --- order blocks: invalidate on a close through the zone, then detect at this bar --------
    bull_ob_.erase_if([c](const Zone& z) { return c < z.low; });
    bear_ob_.erase_if([c](const Zone& z) { return c > z.high; });
    if (t >= 5) {
        const Bar& b1 = prev_[0];
        const Bar& b2 = prev_[1];
        const Bar& b3 = prev_[2];
        const double mean_range =
            ((b1.high - b1.low) + (b2.high - b2.low) + (b3.high - b3.low)) / 3.0;
        const double mean_vol =
            (b1.volume + b2.volume + b3.volume + prev_[3].volume + prev_[4].volume) / 5.0;
        const bool impulsive = (h - l) > cfg_.ob_range_mult * mean_range && mean_vol > 0.0 &&
                               v >= cfg_.ob_volume_mult * mean_vol;
        const Zone zone{std::min({b1.low, b2.low, b3.low}), std::max({b1.high, b2.high, b3.high})};
        if (impulsive && c > o * (1.0 + cfg_.ob_body)) {
            bull_ob_.push(zone);
            r.events |= ev::kBullOrderBlock;
        } else if (impulsive && c < o * (1.0 - cfg_.ob_body)) {
            bear_ob_.push(zone);
            r.events |= ev::kBearOrderBlock;
        }
    }
    auto zone_score = [c](const auto& bull, const auto& bear, double in_bull, double in_bear) {
        bool ib = false;
        bool is = false;
        double pb = 0.0;
        double ps = 0.0;
        for (std::size_t i = 0; i < bull.n; ++i) {
            const Zone& z = bull.z[i];
            if (c >= z.low && c <= z.high) {
                ib = true;
            } else {
                pb = std::max(pb, proximity(c, z.low, z.high));
            }
        }
        for (std::size_t i = 0; i < bear.n; ++i) {
            const Zone& z = bear.z[i];
            if (c >= z.low && c <= z.high) {
                is = true;
            } else {
                ps = std::max(ps, proximity(c, z.low, z.high));
            }
        }
        if (ib && is) {
            return 50.0;
        }
        if (ib) {
            return in_bull;
        }
        if (is) {
            return in_bear;
        }
        return 50.0 + (pb - ps) / 4.0;
    };
    if (t >= 5) {
        r.sub[static_cast<std::size_t>(StructureSub::OrderBlocks)] =
            zone_score(bull_ob_, bear_ob_, 75.0, 25.0);
    }

    // --- fair value gaps: fill first, then a gap between bar t-2 and this bar -----------------
    bull_gap_.erase_if([l](const Zone& z) { return l <= z.low; });
    bear_gap_.erase_if([h](const Zone& z) { return h >= z.high; });
    if (t >= 2) {
        const Bar& b2 = prev_[1];
        if (l > b2.high) {
            bull_gap_.push(Zone{b2.high, l});
            r.events |= ev::kBullGap;
        } else if (h < b2.low) {
            bear_gap_.push(Zone{h, b2.low});
            r.events |= ev::kBearGap;
        }
        r.sub[static_cast<std::size_t>(StructureSub::FairValueGaps)] =
            zone_score(bull_gap_, bear_gap_, 70.0, 30.0);
    }

    // --- range: the last swings' span, swing failures and sweeps ------------------------------
    if (sfp_dir_ != 0) {
        ++sfp_age_;
    }
    if (atr_ready && n_highs_ > 0 && n_lows_ > 0) {
        const double rh = *std::max_element(highs_.begin(),
                                            highs_.begin() + static_cast<std::ptrdiff_t>(n_highs_));
        const double rl =
            *std::min_element(lows_.begin(), lows_.begin() + static_cast<std::ptrdiff_t>(n_lows_));
        if (rh > rl && (rh - rl) >= cfg_.range_min_atr * atr_) {
            r.range_high = rh;
            r.range_low = rl;
            const bool sweep_low = l < rl * (1.0 - cfg_.sweep_min) && c > rl;
            const bool sweep_high = h > rh * (1.0 + cfg_.sweep_min) && c < rh;
            if (sweep_low) {
                r.events |= ev::kSweepLow;
            }
            if (sweep_high) {
                r.events |= ev::kSweepHigh;
            }
            if (sweep_low || sweep_high) {
                sfp_dir_ = sweep_low && sweep_high ? 0 : (sweep_low ? 1 : -1);
                sfp_age_ = 0;
            }
            const double p = clip((c - rl) / (rh - rl), 0.0, 1.0);
            double q = p < 0.25 ? 75.0 : (p < 0.5 ? 65.0 : (p < 0.75 ? 35.0 : 25.0));
            if (sfp_dir_ != 0 && static_cast<double>(sfp_age_) < decay) {
                q += 20.0 * sfp_dir_ * (1.0 - static_cast<double>(sfp_age_) / decay);
            }
            r.sub[static_cast<std::size_t>(StructureSub::RangeAnalysis)] = clip(q, 0.0, 100.0);
        }
    }

    // --- trend position: distance from the EMAs, their slope, signed alignment ----------------
    {
        int k = 0;
        double pos = 0.0;
        double align = 0.0;
        double s_sum = 0.0;
        double l_sum = 0.0;
        int ns = 0;
        int nl = 0;
        for (std::size_t i = 0; i < ema_.size(); ++i) {
            if (static_cast<double>(n_ready) < kEmaPeriods[i]) {
                continue;
            }
            const double e = ema_[i];
            ++k;
            pos += 100.0 * (c - e) / e;
            align += c > e ? 1.0 : (c < e ? -1.0 : 0.0);
            if (i < 2) {
                s_sum += e;
                ++ns;
            } else {
                l_sum += e;
                ++nl;
            }
        }
        if (k > 0) {
            pos /= k;
            align /= k;
            const double mom = (ns > 0 && nl > 0)
                                   ? 25.0 * std::tanh(5.0 * ((s_sum / ns) / (l_sum / nl) - 1.0))
                                   : 0.0;
            const double s = 50.0 + clip(5.0 * pos, -15.0, 15.0) + mom + 10.0 * align;
            r.sub[static_cast<std::size_t>(StructureSub::TrendPosition)] = clip(s, 0.0, 100.0);
        }
    }

    // --- the component score ------------------------------------------------------------------
    double used = 0.0;
    r.score = detail::weighted_mean(r.sub, cfg_.weights, used);
    r.has_data = used > 0.0 ? 1 : 0;
    r.n_bull_ob = static_cast<std::uint8_t>(bull_ob_.n);
    r.n_bear_ob = static_cast<std::uint8_t>(bear_ob_.n);
    r.n_bull_gap = static_cast<std::uint8_t>(bull_gap_.n);
    r.n_bear_gap = static_cast<std::uint8_t>(bear_gap_.n);

    std::copy_backward(prev_.begin(), prev_.end() - 1, prev_.end());
    prev_[0] = bar;
    prev_close_ = c;
    last_open_ns_ = bar.open_ns;
    ++count_;
    last_ = r;
    return r;
}

ComponentScore PriceStructure::component() const noexcept {
    return detail::to_component(last_.score, last_.has_data != 0, last_.sub, cfg_.weights,
                                kStructureKeys);
}

ComponentScore combine_timeframes(std::span<const StructureReading> readings,
                                  std::span<const double> tf_weights,
                                  const PriceStructureConfig& cfg) {
    if (readings.size() != tf_weights.size() || readings.size() > 8) {
        throw InvalidConfig("combine_timeframes needs one weight per reading (at most 8), was " +
                            std::to_string(readings.size()) + " readings and " +
                            std::to_string(tf_weights.size()) + " weights");
    }
    for (const double w : tf_weights) {
        if (!std::isfinite(w) || w < 0.0) {
            throw InvalidConfig("timeframe weights must be finite and >= 0, was " + num(w));
        }
    }
    std::array<double, kStructureSubCount> sub{};
    for (std::size_t k = 0; k < kStructureSubCount; ++k) {
        double acc = 0.0;
        double used = 0.0;
        for (std::size_t i = 0; i < readings.size(); ++i) {
            if (!std::isnan(readings[i].sub[k]) && tf_weights[i] > 0.0) {
                acc += tf_weights[i] * readings[i].sub[k];
                used += tf_weights[i];
            }
        }
        sub[k] = used > 0.0 ? acc / used : std::numeric_limits<double>::quiet_NaN();
    }
    double used = 0.0;
    const double score = detail::weighted_mean(sub, cfg.weights, used);
    return detail::to_component(score, used > 0.0, sub, cfg.weights, kStructureKeys);
}

} // namespace confluex
