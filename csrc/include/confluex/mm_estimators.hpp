// confluex/mm_estimators.hpp
//
// Provides the online estimators a market maker quotes from, each O(1) per observation:
//
// - MidVolatility: sigma of the mid price in ticks per sqrt(second), from mid changes sampled
//   on a data-time grid (`sample_ns`, 0 = every observation). Realised variance with an
//   exponential time decay of half-life `half_life_s`:
//       S <- S * w + r^2,   T <- T * w + dt,   w = exp(-dt / tau), tau = half_life / ln 2,
//       sigma^2 = S / T   (ticks^2 per second)
//   where r is the mid change (ticks) over one sample interval of dt seconds. S and T decay
//   together, so sigma^2 is a time-weighted mean of r^2 / dt with weights that halve every
//   half-life; a quiet minute (r = 0) lowers it, a burst raises it within one sample.
// - TradeIntensity: the arrival intensity lambda(delta) = A * exp(-k * delta) of market trades
//   reaching a distance delta (ticks) from the mid. `buckets` thresholds
//   delta_i = 0.5 + i * bucket_ticks (delta_0 = the touch of a one-tick spread); a trade at
//   distance d counts in every bucket with delta_i <= d (a quote at delta_i would have been
//   reached). Counts decay like S above, the decayed elapsed time T is shared, and
//   lambda_i = c_i / (2 T) per side (trades of both aggressor sides are pooled, halved).
//   fit() is the closed-form least-squares line through (delta_i, ln lambda_i) over the
//   buckets holding at least `min_count` decayed trades: k = -slope, A = exp(intercept). No
//   iteration and no curve fitting: O(buckets), a fixed small number (<= kMaxBuckets).
//
// Time: observations carry data time (ns). A timestamp before the previous one is taken as
// dt = 0 and counted (out_of_order()); it never rewinds the state.
//
// Threading: not synchronised; one thread owns an instance.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace detail {

// Decay factor exp(-dt / tau) of `dt_ns` for a half-life of `half_life_s` seconds.
inline double decay(std::int64_t dt_ns, double half_life_s) noexcept {
    constexpr double kLn2 = 0.69314718055994530942;
    return std::exp(-static_cast<double>(dt_ns) * 1e-9 * kLn2 / half_life_s);
}

inline std::string num(double v) { return std::to_string(v); }

} // namespace detail

class MidVolatility {
  public:
    // MidVolatility::MidVolatility()
    // Builds an empty estimator.
    // REQUIRES: half_life_s finite and > 0; sample_ns >= 0; min_samples >= 1. Otherwise throws
    // InvalidConfig naming the value.
    explicit MidVolatility(double half_life_s = 30.0, std::int64_t sample_ns = 100'000'000,
                           std::int64_t min_samples = 10)
        : half_life_s_(half_life_s), sample_ns_(sample_ns), min_samples_(min_samples) {
        if (!(half_life_s > 0.0) || !std::isfinite(half_life_s)) {
            throw InvalidConfig("MidVolatility: half_life_s must be finite and > 0, was " +
                                detail::num(half_life_s));
        }
        if (sample_ns < 0) {
            throw InvalidConfig("MidVolatility: sample_ns must be >= 0, was " +
                                std::to_string(sample_ns));
        }
        if (min_samples < 1) {
            throw InvalidConfig("MidVolatility: min_samples must be >= 1, was " +
                                std::to_string(min_samples));
        }
    }

    // MidVolatility::update()
    // Observes the mid `mid_ticks` at data time `ts_ns`. The first observation anchors the
    // grid; later ones add one return once `sample_ns` has passed since the last sample.
    // REQUIRES: mid_ticks finite, else throws InvalidEvent and the state is unchanged.
    void update(std::int64_t ts_ns, double mid_ticks) {
        if (!std::isfinite(mid_ticks)) {
            throw InvalidEvent("MidVolatility::update: mid must be finite, was " +
                               detail::num(mid_ticks));
        }
        if (!anchored_) {
            anchored_ = true;
            last_ts_ = ts_ns;
            last_mid_ = mid_ticks;
            return;
        }
        std::int64_t dt = ts_ns - last_ts_;
        if (dt < 0) {
            ++out_of_order_;
            dt = 0;
        }
        if (dt < sample_ns_ || (dt == 0 && mid_ticks == last_mid_)) {
            return;
        }
        const double w = detail::decay(dt, half_life_s_);
        const double r = mid_ticks - last_mid_;
        s_ = s_ * w + r * r;
        t_ = t_ * w + static_cast<double>(dt) * 1e-9;
        ++samples_;
        last_ts_ = ts_ns > last_ts_ ? ts_ns : last_ts_;
        last_mid_ = mid_ticks;
    }

    // MidVolatility::variance()
    // Returns sigma^2 in ticks^2 per second; NaN until ready().
    [[nodiscard]] double variance() const noexcept { return ready() ? s_ / t_ : std::nan(""); }

    // MidVolatility::sigma()
    // Returns sigma in ticks per sqrt(second); NaN until ready().
    [[nodiscard]] double sigma() const noexcept { return std::sqrt(variance()); }

    // MidVolatility::ready()
    // Returns true once min_samples returns spanning a positive time were seen.
    [[nodiscard]] bool ready() const noexcept { return samples_ >= min_samples_ && t_ > 0.0; }

    [[nodiscard]] std::int64_t samples() const noexcept { return samples_; }
    [[nodiscard]] std::int64_t out_of_order() const noexcept { return out_of_order_; }
    [[nodiscard]] double half_life_s() const noexcept { return half_life_s_; }
    [[nodiscard]] std::int64_t sample_ns() const noexcept { return sample_ns_; }

  private:
    double half_life_s_;
    std::int64_t sample_ns_;
    std::int64_t min_samples_;
    bool anchored_ = false;
    std::int64_t last_ts_ = 0;
    double last_mid_ = 0.0;
    double s_ = 0.0;
    double t_ = 0.0;
    std::int64_t samples_ = 0;
    std::int64_t out_of_order_ = 0;
};

// The result of TradeIntensity::fit(): lambda(delta) = a * exp(-k * delta), per side and per
// second, delta in ticks. `ok` is false (a = k = NaN) when fewer than two buckets qualify or
// the fitted slope is not negative (k <= 0: no decay, no finite optimal spread).
struct IntensityFit {
    double a = 0.0;
    double k = 0.0;
    std::int64_t buckets = 0;
    bool ok = false;
};

class TradeIntensity {
  public:
    static constexpr std::size_t kMaxBuckets = 32;

    // TradeIntensity::TradeIntensity()
    // Builds an estimator with `buckets` distance thresholds 0.5 + i * bucket_ticks.
    // REQUIRES: 2 <= buckets <= kMaxBuckets; bucket_ticks finite and > 0; half_life_s finite
    // and > 0; min_count finite and > 0. Otherwise throws InvalidConfig naming the value.
    explicit TradeIntensity(std::size_t buckets = 8, double bucket_ticks = 1.0,
                            double half_life_s = 60.0, double min_count = 2.0)
        : n_(buckets), width_(bucket_ticks), half_life_s_(half_life_s), min_count_(min_count) {
        if (buckets < 2 || buckets > kMaxBuckets) {
            throw InvalidConfig("TradeIntensity: buckets must be in [2, 32], was " +
                                std::to_string(buckets));
        }
        if (!(bucket_ticks > 0.0) || !std::isfinite(bucket_ticks)) {
            throw InvalidConfig("TradeIntensity: bucket_ticks must be finite and > 0, was " +
                                detail::num(bucket_ticks));
        }
        if (!(half_life_s > 0.0) || !std::isfinite(half_life_s)) {
            throw InvalidConfig("TradeIntensity: half_life_s must be finite and > 0, was " +
                                detail::num(half_life_s));
        }
        if (!(min_count > 0.0) || !std::isfinite(min_count)) {
            throw InvalidConfig("TradeIntensity: min_count must be finite and > 0, was " +
                                detail::num(min_count));
        }
    }

    // TradeIntensity::advance()
    // Decays the counts to data time `ts_ns` and adds the elapsed time (no trade).
    void advance(std::int64_t ts_ns) noexcept {
        if (!anchored_) {
            anchored_ = true;
            last_ts_ = ts_ns;
            return;
        }
        std::int64_t dt = ts_ns - last_ts_;
        if (dt < 0) {
            ++out_of_order_;
            return;
        }
        if (dt == 0) {
            return;
        }
        const double w = detail::decay(dt, half_life_s_);
        for (std::size_t i = 0; i < n_; ++i) {
            c_[i] *= w;
        }
        t_ = t_ * w + static_cast<double>(dt) * 1e-9;
        last_ts_ = ts_ns;
    }

    // TradeIntensity::on_trade()
    // Advances to `ts_ns`, then counts one trade at `distance_ticks` from the mid in every
    // bucket whose threshold it reaches.
    // REQUIRES: distance_ticks finite and >= 0, else throws InvalidEvent and the state is
    // unchanged.
    void on_trade(std::int64_t ts_ns, double distance_ticks) {
        if (!(distance_ticks >= 0.0) || !std::isfinite(distance_ticks)) {
            throw InvalidEvent("TradeIntensity::on_trade: distance must be finite and >= 0, was " +
                               detail::num(distance_ticks));
        }
        advance(ts_ns);
        for (std::size_t i = 0; i < n_; ++i) {
            if (at(i) > distance_ticks + 1e-9) {
                break;
            }
            c_[i] += 1.0;
        }
        ++trades_;
    }

    // TradeIntensity::threshold()
    // Returns bucket i's distance threshold in ticks.
    // REQUIRES: i < buckets(), else throws InvalidEvent.
    [[nodiscard]] double threshold(std::size_t i) const {
        check(i);
        return at(i);
    }

    // TradeIntensity::count()
    // Returns bucket i's decayed trade count.
    // REQUIRES: i < buckets(), else throws InvalidEvent.
    [[nodiscard]] double count(std::size_t i) const {
        check(i);
        return c_[i];
    }

    // TradeIntensity::rate()
    // Returns bucket i's intensity per side and per second; NaN before any elapsed time.
    // REQUIRES: i < buckets(), else throws InvalidEvent.
    [[nodiscard]] double rate(std::size_t i) const {
        check(i);
        return t_ > 0.0 ? c_[i] / (2.0 * t_) : std::nan("");
    }

    // TradeIntensity::fit()
    // Returns the least-squares fit of ln lambda_i = ln A - k * delta_i over the buckets with
    // count >= min_count (see IntensityFit for when it is not ok).
    [[nodiscard]] IntensityFit fit() const noexcept {
        IntensityFit f;
        if (!(t_ > 0.0)) {
            f.a = f.k = std::nan("");
            return f;
        }
        double n = 0.0;
        double sx = 0.0;
        double sy = 0.0;
        double sxx = 0.0;
        double sxy = 0.0;
        for (std::size_t i = 0; i < n_; ++i) {
            if (!(c_[i] >= min_count_)) {
                continue;
            }
            const double x = at(i);
            const double y = std::log(c_[i] / (2.0 * t_));
            n += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
        f.buckets = static_cast<std::int64_t>(n);
        const double den = n * sxx - sx * sx;
        if (n < 2.0 || !(den > 0.0)) {
            f.a = f.k = std::nan("");
            return f;
        }
        const double slope = (n * sxy - sx * sy) / den;
        const double intercept = (sy - slope * sx) / n;
        if (!(slope < 0.0) || !std::isfinite(slope) || !std::isfinite(intercept)) {
            f.a = f.k = std::nan("");
            return f;
        }
        f.k = -slope;
        f.a = std::exp(intercept);
        f.ok = true;
        return f;
    }

    [[nodiscard]] std::size_t buckets() const noexcept { return n_; }
    [[nodiscard]] double bucket_ticks() const noexcept { return width_; }
    [[nodiscard]] double half_life_s() const noexcept { return half_life_s_; }
    [[nodiscard]] double min_count() const noexcept { return min_count_; }
    // TradeIntensity::elapsed_s()
    // Returns the decayed elapsed time T in seconds (the rates' denominator, before the 2).
    [[nodiscard]] double elapsed_s() const noexcept { return t_; }
    [[nodiscard]] std::int64_t trades() const noexcept { return trades_; }
    [[nodiscard]] std::int64_t out_of_order() const noexcept { return out_of_order_; }

  private:
    [[nodiscard]] double at(std::size_t i) const noexcept {
        return 0.5 + static_cast<double>(i) * width_;
    }

    void check(std::size_t i) const {
        if (i >= n_) {
            throw InvalidEvent("TradeIntensity: bucket index must be < " + std::to_string(n_) +
                               ", was " + std::to_string(i));
        }
    }

    std::size_t n_;
    double width_;
    double half_life_s_;
    double min_count_;
    std::array<double, kMaxBuckets> c_{};
    double t_ = 0.0;
    bool anchored_ = false;
    std::int64_t last_ts_ = 0;
    std::int64_t trades_ = 0;
    std::int64_t out_of_order_ = 0;
};

} // namespace confluex
