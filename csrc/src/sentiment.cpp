// Sentiment: per-symbol derivative-data and bar-based sentiment with honest missing data.
#include "confluex/sentiment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "confluex/errors.hpp"
#include "confluex/sentiment_parser.hpp"
#include "view_util.hpp"

namespace confluex {

namespace {

using detail::clip;
using detail::num;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kYearNs = 365.0 * 86400.0 * 1e9;

// The reference system's "sigmoid transform" T(v; s): 50 -> 50, pushed towards 0 / 100.
double sigmoid_transform(double v, double s) noexcept {
    return 100.0 / (1.0 + std::exp(-((v - 50.0) / 50.0) / s));
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        --q;
    }
    return q;
}

} // namespace

std::optional<std::size_t> sentiment_sub_index(std::string_view key) noexcept {
    return detail::key_index(kSentimentKeys, key);
}

void SentimentConfig::validate() const {
    const std::pair<const char*, std::int64_t> spans[] = {
        {"funding_max_age_ns", funding_max_age_ns},
        {"long_short_max_age_ns", long_short_max_age_ns},
        {"open_interest_max_age_ns", open_interest_max_age_ns},
        {"open_interest_window_ns", open_interest_window_ns},
        {"liquidation_window_ns", liquidation_window_ns},
        {"liquidation_short_window_ns", liquidation_short_window_ns}};
    for (const auto& [name, v] : spans) {
        if (v <= 0) {
            throw InvalidConfig(std::string(name) + " must be > 0, was " + std::to_string(v));
        }
    }
    if (liquidation_window_ns < static_cast<std::int64_t>(Sentiment::kLiqBuckets)) {
        throw InvalidConfig("liquidation_window_ns must be >= 60 ns, was " +
                            std::to_string(liquidation_window_ns));
    }
    if (liquidation_short_window_ns > liquidation_window_ns) {
        throw InvalidConfig("liquidation_short_window_ns must be <= liquidation_window_ns, was " +
                            std::to_string(liquidation_short_window_ns));
    }
    if (volatility_bars < 2 || volatility_bars > 4096) {
        throw InvalidConfig("volatility_bars must be in 2..4096, was " +
                            std::to_string(volatility_bars));
    }
    if (activity_fast < 1 || activity_slow <= activity_fast || activity_slow > 4096) {
        throw InvalidConfig("activity periods must satisfy 1 <= fast < slow <= 4096, was fast=" +
                            std::to_string(activity_fast) +
                            " slow=" + std::to_string(activity_slow));
    }
    detail::check_weights(weights, kSentimentKeys, "sentiment");
}

void SentimentConfig::set_weight(std::string_view key, double weight) {
    detail::set_keyed_weight(weights, kSentimentKeys, key, weight, "sentiment");
}

template <std::size_t N>
const Sentiment::TimedValue* Sentiment::Ring<N>::at_or_before(std::int64_t ts) const noexcept {
    // Samples are in time order: binary search for the last one with ts_ns <= ts.
    std::size_t lo = 0;
    std::size_t hi = n;
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (at(mid).ts_ns <= ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? nullptr : &at(lo - 1);
}

Sentiment::Sentiment(const SentimentConfig& cfg)
    : cfg_(cfg), bucket_ns_(0), vol_pct_(kNaN), act_ratio_(kNaN) {
    cfg_.validate();
    bucket_ns_ = cfg_.liquidation_window_ns / static_cast<std::int64_t>(kLiqBuckets);
    for (auto& b : liq_) {
        b = LiqBucket{-1, 0.0, 0.0};
    }
    rets_.assign(cfg_.volatility_bars, 0.0);
    act_closes_.assign(cfg_.activity_fast + 1, 0.0);
}

void Sentiment::on_funding(std::int64_t ts_ns, double rate) {
    if (!std::isfinite(rate)) {
        throw InvalidEvent("funding rate must be finite, was " + num(rate));
    }
    if (funding_.n > 0 && ts_ns < funding_.back().ts_ns) {
        throw InvalidEvent("funding samples must be in time order, was " + std::to_string(ts_ns) +
                           " after " + std::to_string(funding_.back().ts_ns));
    }
    funding_.push(TimedValue{ts_ns, rate});
}

void Sentiment::on_long_short(std::int64_t ts_ns, double long_share, double short_share) {
    if (!std::isfinite(long_share) || !std::isfinite(short_share) || long_share < 0.0 ||
        short_share < 0.0 || long_share + short_share <= 0.0) {
        throw InvalidEvent("long/short shares must be finite, >= 0 and not both 0, was long=" +
                           num(long_share) + " short=" + num(short_share));
    }
    has_lsr_ = true;
    lsr_ts_ = ts_ns;
    long_fraction_ = long_share / (long_share + short_share);
}

void Sentiment::on_liquidation(std::int64_t ts_ns, LiquidatedSide side, double notional) {
    if (!std::isfinite(notional) || notional < 0.0) {
        throw InvalidEvent("liquidation notional must be finite and >= 0, was " + num(notional));
    }
    if (side != LiquidatedSide::Long && side != LiquidatedSide::Short) {
        throw InvalidEvent("liquidated side must be Long or Short, was " +
                           std::to_string(static_cast<int>(side)));
    }
    const std::int64_t idx = floor_div(ts_ns, bucket_ns_);
    const std::int64_t newest_idx = floor_div(liq_newest_, bucket_ns_);
    if (liq_source_ && idx <= newest_idx - static_cast<std::int64_t>(kLiqBuckets)) {
        throw InvalidEvent("liquidation at " + std::to_string(ts_ns) +
                           " ns is older than the liquidation window before the newest event at " +
                           std::to_string(liq_newest_));
    }
    constexpr auto kB = static_cast<std::int64_t>(kLiqBuckets);
    LiqBucket& b = liq_[static_cast<std::size_t>(((idx % kB) + kB) % kB)];
    if (b.index != idx) {
        b = LiqBucket{idx, 0.0, 0.0};
    }
    (side == LiquidatedSide::Long ? b.long_notional : b.short_notional) += notional;
    if (!liq_source_ || ts_ns > liq_newest_) {
        liq_newest_ = ts_ns;
    }
    liq_source_ = true;
}

void Sentiment::set_liquidation_source(std::int64_t ts_ns) noexcept {
    if (!liq_source_) {
        liq_newest_ = ts_ns;
    }
    liq_source_ = true;
}

void Sentiment::on_open_interest(std::int64_t ts_ns, double value) {
    if (!std::isfinite(value) || value < 0.0) {
        throw InvalidEvent("open interest must be finite and >= 0, was " + num(value));
    }
    if (oi_.n > 0 && ts_ns < oi_.back().ts_ns) {
        throw InvalidEvent("open interest samples must be in time order, was " +
                           std::to_string(ts_ns) + " after " + std::to_string(oi_.back().ts_ns));
    }
    oi_.push(TimedValue{ts_ns, value});
}

void Sentiment::set_risk_tiers(std::span<const RiskTier> tiers) {
    for (const RiskTier& t : tiers) {
        if (!std::isfinite(t.risk_limit_value) || !std::isfinite(t.max_leverage) ||
            !std::isfinite(t.initial_margin) || !std::isfinite(t.maintenance_margin) ||
            t.max_leverage <= 0.0 || t.risk_limit_value < 0.0 || t.initial_margin < 0.0 ||
            t.maintenance_margin < 0.0) {
            throw InvalidEvent(
                "risk tier values must be finite, >= 0, max_leverage > 0, was limit=" +
                num(t.risk_limit_value) + " max_leverage=" + num(t.max_leverage) +
                " initial_margin=" + num(t.initial_margin));
        }
    }
    tiers_.assign(tiers.begin(), tiers.end());
    if (tiers_.empty()) {
        return;
    }
    // Reference §3.6: the first (smallest) tier's initial margin and leverage, the tier count
    // and the largest limit.
    const RiskTier* first = &tiers_.front();
    double max_limit = 0.0;
    for (const RiskTier& t : tiers_) {
        if (t.risk_limit_value < first->risk_limit_value) {
            first = &t;
        }
        max_limit = std::max(max_limit, t.risk_limit_value);
    }
    const double n = static_cast<double>(tiers_.size());
    const double s =
        0.4 * (100.0 - 1000.0 * first->initial_margin) +
        0.3 * std::min(first->max_leverage, 100.0) +
        0.3 * (50.0 * std::min(1.0, n / 35.0) + 50.0 * std::min(1.0, max_limit / 1.2e9));
    risk_score_ = clip(s, 0.0, 100.0);
}

void Sentiment::on_mark(const feed::MarkUpdate& m) {
    // Open interest first: it is the call that can refuse (time order), and the funding
    // rate (finite from the parser) must not be applied when it does.
    if ((m.fields & feed::mark_fields::kOpenInterest) != 0) {
        on_open_interest(m.ts_ns, m.open_interest);
    }
    if ((m.fields & feed::mark_fields::kFundingRate) != 0) {
        on_funding(m.ts_ns, m.funding_rate);
    }
}

void Sentiment::on_liquidation_event(const feed::LiquidationEvent& e) {
    on_liquidation(e.ts_ns, static_cast<LiquidatedSide>(e.side), e.price * e.qty);
}

void Sentiment::on_bar(const Bar& bar) {
    if (!std::isfinite(bar.close) || !(bar.close > 0.0) || !std::isfinite(bar.volume) ||
        bar.volume < 0.0) {
        throw InvalidEvent(
            "bar close must be finite and > 0 and volume finite and >= 0, was close=" +
            num(bar.close) + " volume=" + num(bar.volume));
    }
    if (n_bars_ > 0 && bar.open_ns <= last_open_ns_) {
        throw InvalidEvent("bar open_ns must increase, was " + std::to_string(bar.open_ns) +
                           " after " + std::to_string(last_open_ns_));
    }
    const double c = bar.close;
    const double v = bar.volume;
    if (n_bars_ > 0) {
        const std::int64_t step = bar.open_ns - last_open_ns_;
        span_ns_ = span_ns_ == 0 ? step : std::min(span_ns_, step);
        rets_[ret_head_] = std::log(c / prev_close_);
        ret_head_ = (ret_head_ + 1) % rets_.size();
        n_rets_ = std::min(n_rets_ + 1, rets_.size());
    }
    closes_.push(TimedValue{bar.open_ns, c});
    // Volume EMAs seeded with the first volume.
    if (n_bars_ == 0) {
        vol_fast_ = v;
        vol_slow_ = v;
    } else {
        vol_fast_ += (v - vol_fast_) / ((cfg_.activity_fast + 1.0) / 2.0);
        vol_slow_ += (v - vol_slow_) / ((cfg_.activity_slow + 1.0) / 2.0);
    }
    const std::size_t k = act_closes_.size();
    act_closes_[n_bars_ % k] = c;
    prev_close_ = c;
    last_open_ns_ = bar.open_ns;
    ++n_bars_;

    if (n_rets_ == rets_.size() && span_ns_ > 0) {
        double mean = 0.0;
        for (const double r : rets_) {
            mean += r;
        }
        mean /= static_cast<double>(n_rets_);
        double ss = 0.0;
        for (const double r : rets_) {
            ss += (r - mean) * (r - mean);
        }
        const double sd = std::sqrt(ss / static_cast<double>(n_rets_ - 1));
        vol_pct_ = 100.0 * sd * std::sqrt(kYearNs / static_cast<double>(span_ns_));
    }
    if (n_bars_ >= cfg_.activity_slow && vol_slow_ > 0.0) {
        act_ratio_ = vol_fast_ / vol_slow_;
        const double then = act_closes_[n_bars_ % k]; // the close activity_fast bars ago
        act_dir_ = c > then ? 1.0 : (c < then ? -1.0 : 0.0);
    } else if (n_bars_ >= cfg_.activity_slow) {
        act_ratio_ = kNaN;
    }
}

std::array<double, 2> Sentiment::oi_price_change(std::int64_t now_ns) const noexcept {
    std::array<double, 2> out{kNaN, kNaN};
    const TimedValue* cur = oi_.at_or_before(now_ns);
    if (cur == nullptr || now_ns - cur->ts_ns > cfg_.open_interest_max_age_ns) {
        return out;
    }
    const std::int64_t then = now_ns - cfg_.open_interest_window_ns;
    if (const TimedValue* past = oi_.at_or_before(then); past != nullptr && past->value > 0.0) {
        out[0] = (cur->value - past->value) / past->value;
    }
    const TimedValue* p_now = closes_.at_or_before(now_ns);
    const TimedValue* p_past = closes_.at_or_before(then);
    if (p_now != nullptr && p_past != nullptr && p_past->value > 0.0) {
        out[1] = (p_now->value - p_past->value) / p_past->value;
    }
    return out;
}

SentimentReading Sentiment::reading(std::int64_t now_ns) const noexcept {
    SentimentReading r{};
    r.ts_ns = now_ns;
    r.sub.fill(kNaN);
    r.funding_rate = r.long_fraction = r.open_interest = r.open_interest_change = kNaN;
    r.liq_long_notional = r.liq_short_notional = r.liq_long_notional_short =
        r.liq_short_notional_short = kNaN;
    r.volatility_pct = vol_pct_;
    r.activity_ratio = act_ratio_;

    if (const TimedValue* f = funding_.at_or_before(now_ns);
        f != nullptr && now_ns - f->ts_ns <= cfg_.funding_max_age_ns) {
        r.funding_rate = f->value;
        const double f_pct = clip(100.0 * f->value, -0.2, 0.2);
        r.sub[static_cast<std::size_t>(SentimentSub::FundingRate)] =
            sigmoid_transform(50.0 - 250.0 * f_pct, 0.15);
    }
    if (has_lsr_ && now_ns - lsr_ts_ <= cfg_.long_short_max_age_ns) {
        r.long_fraction = long_fraction_;
        r.sub[static_cast<std::size_t>(SentimentSub::LongShortRatio)] = 100.0 * long_fraction_;
    }
    if (liq_source_) {
        const std::int64_t now_idx = floor_div(now_ns, bucket_ns_);
        const std::int64_t short_k =
            std::max<std::int64_t>(1, cfg_.liquidation_short_window_ns / bucket_ns_);
        double ll = 0.0;
        double ls = 0.0;
        double sl = 0.0;
        double ss = 0.0;
        for (const LiqBucket& b : liq_) {
            if (b.index < 0 || b.index > now_idx ||
                b.index <= now_idx - static_cast<std::int64_t>(kLiqBuckets)) {
                continue;
            }
            ll += b.long_notional;
            ls += b.short_notional;
            if (b.index > now_idx - short_k) {
                sl += b.long_notional;
                ss += b.short_notional;
            }
        }
        r.liq_long_notional = ll;
        r.liq_short_notional = ls;
        r.liq_long_notional_short = sl;
        r.liq_short_notional_short = ss;
        const double total = ll + ls;
        r.sub[static_cast<std::size_t>(SentimentSub::Liquidations)] =
            total > 0.0 ? 100.0 * (1.0 - ll / total) : 50.0;
    }
    if (const TimedValue* cur = oi_.at_or_before(now_ns);
        cur != nullptr && now_ns - cur->ts_ns <= cfg_.open_interest_max_age_ns) {
        r.open_interest = cur->value;
        const TimedValue* past = oi_.at_or_before(now_ns - cfg_.open_interest_window_ns);
        const TimedValue* p_now = closes_.at_or_before(now_ns);
        const TimedValue* p_past = closes_.at_or_before(now_ns - cfg_.open_interest_window_ns);
        if (past != nullptr && past->value > 0.0) {
            r.open_interest_change = (cur->value - past->value) / past->value;
            if (p_now != nullptr && p_past != nullptr) {
                const double dir = p_now->value > p_past->value
                                       ? 1.0
                                       : (p_now->value < p_past->value ? -1.0 : 0.0);
                r.sub[static_cast<std::size_t>(SentimentSub::OpenInterest)] =
                    50.0 + 250.0 * clip(r.open_interest_change, -0.2, 0.2) * dir;
            }
        }
    }
    if (!std::isnan(vol_pct_)) {
        const double v = vol_pct_;
        double s = 0.0;
        if (v <= 30.0) {
            s = 100.0 - v / 30.0 * 20.0;
        } else if (v <= 60.0) {
            s = 80.0 - (v - 30.0) / 30.0 * 30.0;
        } else {
            s = std::max(0.0, 50.0 - (v - 60.0) / 90.0 * 50.0);
        }
        r.sub[static_cast<std::size_t>(SentimentSub::Volatility)] = s;
    }
    if (!std::isnan(act_ratio_)) {
        // tanh(ln x) = (x^2 - 1) / (x^2 + 1): defined at x = 0 as well.
        const double x2 = act_ratio_ * act_ratio_;
        r.sub[static_cast<std::size_t>(SentimentSub::MarketActivity)] =
            50.0 + 25.0 * ((x2 - 1.0) / (x2 + 1.0)) * act_dir_;
    }
    if (!tiers_.empty()) {
        r.sub[static_cast<std::size_t>(SentimentSub::Risk)] = risk_score_;
    }

    double wall = 0.0;
    for (const double w : cfg_.weights) {
        wall += w;
    }
    double used = 0.0;
    r.score = detail::weighted_mean(r.sub, cfg_.weights, used);
    r.has_data = used > 0.0 ? 1 : 0;
    r.reliability = used / wall;
    return r;
}

ComponentScore Sentiment::component(std::int64_t now_ns) const noexcept {
    const SentimentReading r = reading(now_ns);
    return detail::to_component(r.score, r.has_data != 0, r.sub, cfg_.weights, kSentimentKeys);
}

} // namespace confluex
