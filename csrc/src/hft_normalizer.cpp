#include "confluex/hft_normalizer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "confluex/errors.hpp"
#include "confluex/flow_signals.hpp"

namespace confluex::hft {

namespace {

double fallback(double s) noexcept { return std::clamp((s - 50.0) / 50.0, -1.0, 1.0); }

void require(bool ok, const char* what, double value) {
    if (!ok) {
        throw InvalidConfig(std::string("NormalizerConfig: ") + what + ", was " +
                            std::to_string(value));
    }
}

} // namespace

// --- RollingMoments --------------------------------------------------------------------------

RollingMoments::RollingMoments(std::size_t capacity) {
    if (capacity == 0) {
        throw InvalidConfig("RollingMoments: capacity must be >= 1, was 0");
    }
    buf_.assign(capacity, 0.0);
}

void RollingMoments::add(double x) noexcept {
    const std::size_t cap = buf_.size();
    if (n_ == cap) {
        // Full window: replace the oldest value in one step (n is unchanged, so the update
        // needs no division): mean' = mean + (x - old)/n,
        // M2' = M2 + (x - old)(x - mean' + old - mean).
        const double old = buf_[head_];
        const double mean_old = mean_;
        const double m2_old = m2_;
        mean_ += (x - old) * inv_n_;
        m2_ += (x - old) * (x - mean_ + old - mean_old);
        buf_[head_] = x;
        head_ = head_ + 1 == cap ? 0 : head_ + 1;
        // Rounding of the replacements is bounded by recomputing once per window, and at once
        // when the update cancelled (M2 fell by more than 1e8x, e.g. an outlier leaving a
        // window of equal values): the residue of that subtraction is rounding of the old M2,
        // not spread, and would read as a tiny sigma (z = +-1 for any score off the mean).
        if (++removals_ >= cap || m2_ < 1e-8 * m2_old) {
            removals_ = 0;
            recompute();
        }
        return;
    }
    buf_[head_] = x;
    head_ = head_ + 1 == cap ? 0 : head_ + 1;
    ++n_;
    inv_n_ = 1.0 / static_cast<double>(n_);
    const double d = x - mean_;
    mean_ += d * inv_n_;
    m2_ += d * (x - mean_);
}

void RollingMoments::recompute() noexcept {
    // The ring is full whenever removals happen, so every slot holds a live value.
    double sum = 0.0;
    for (std::size_t i = 0; i < n_; ++i) {
        sum += buf_[i];
    }
    const double m = sum / static_cast<double>(n_);
    double ss = 0.0;
    for (std::size_t i = 0; i < n_; ++i) {
        const double d = buf_[i] - m;
        ss += d * d;
    }
    mean_ = m;
    m2_ = ss;
}

double RollingMoments::variance() const noexcept {
    if (n_ < 2) {
        return 0.0;
    }
    return std::max(m2_, 0.0) / static_cast<double>(n_);
}

double RollingMoments::stddev() const noexcept { return std::sqrt(variance()); }

void RollingMoments::clear() noexcept {
    inv_n_ = 0.0;
    head_ = 0;
    n_ = 0;
    removals_ = 0;
    mean_ = 0.0;
    m2_ = 0.0;
}

// --- NormalizerConfig ------------------------------------------------------------------------

void NormalizerConfig::validate() const {
    require(window >= 1, "window must be >= 1", static_cast<double>(window));
    require(min_samples >= 1 && min_samples <= window, "min_samples must be in [1, window]",
            static_cast<double>(min_samples));
    require(percentile_window >= 1 && percentile_window <= (std::size_t{1} << 24),
            "percentile_window must be in [1, 2^24]", static_cast<double>(percentile_window));
    require(volatility_window >= 2, "volatility_window must be >= 2",
            static_cast<double>(volatility_window));
    require(std::isfinite(sigma_epsilon) && sigma_epsilon >= 0,
            "sigma_epsilon must be finite and >= 0", sigma_epsilon);
    require(std::isfinite(low_volatility) && low_volatility > 0,
            "low_volatility must be finite and > 0", low_volatility);
    require(std::isfinite(high_volatility) && high_volatility > low_volatility,
            "high_volatility must be finite and > low_volatility", high_volatility);
    require(std::isfinite(low_vol_sensitivity) && low_vol_sensitivity > 0,
            "low_vol_sensitivity must be finite and > 0", low_vol_sensitivity);
    require(std::isfinite(high_vol_sensitivity) && high_vol_sensitivity > 0,
            "high_vol_sensitivity must be finite and > 0", high_vol_sensitivity);
}

// --- ScoreNormalizer -------------------------------------------------------------------------

ScoreNormalizer::ScoreNormalizer(NormalizerConfig cfg)
    : cfg_((cfg.validate(), cfg)), moments_(cfg_.window), ranks_(cfg_.percentile_window),
      pct_ring_(2 * cfg_.percentile_window, 0.0), returns_(cfg_.volatility_window) {}

void ScoreNormalizer::update(double score) {
    if (!std::isfinite(score)) {
        throw InvalidEvent("ScoreNormalizer.update: score must be finite, was " +
                           std::to_string(score));
    }
    update_unchecked(score);
}

void ScoreNormalizer::update_unchecked(double score) noexcept {
    moments_.add(score);
    pct_ring_[static_cast<std::size_t>(seq_ % pct_ring_.size())] = score;
    ++seq_;
}

void ScoreNormalizer::sync_ranks() const noexcept {
    const std::uint64_t p = cfg_.percentile_window;
    const std::size_t ring = pct_ring_.size(); // 2p: values of seqs [seq_ - 2p, seq_)
    if (seq_ - tree_seq_ > p) {
        // More than a window behind: the values to erase may be gone; rebuild from the last p.
        ranks_.clear();
        for (std::uint64_t q = seq_ - p; q < seq_; ++q) {
            ranks_.insert(pct_ring_[static_cast<std::size_t>(q % ring)], q);
        }
    } else {
        for (std::uint64_t q = tree_seq_; q < seq_; ++q) {
            if (q >= p) {
                ranks_.erase(pct_ring_[static_cast<std::size_t>((q - p) % ring)], q - p);
            }
            ranks_.insert(pct_ring_[static_cast<std::size_t>(q % ring)], q);
        }
    }
    tree_seq_ = seq_;
}

void ScoreNormalizer::update_bar_close(double close) {
    if (!std::isfinite(close) || close <= 0) {
        throw InvalidEvent("ScoreNormalizer.update_bar_close: close must be finite and > 0, was " +
                           std::to_string(close));
    }
    if (prev_close_ > 0) {
        returns_.add(close / prev_close_ - 1.0);
    }
    prev_close_ = close;
}

double ScoreNormalizer::normalize_zscore(double score) const noexcept {
    if (std::isnan(score)) {
        return score;
    }
    if (moments_.count() < cfg_.min_samples) {
        return fallback(score);
    }
    const double m = moments_.mean();
    const double sd = moments_.stddev();
    if (!(sd > cfg_.sigma_epsilon * std::max(1.0, std::fabs(m)))) {
        return 0.0;
    }
    return detail::tanh_abs_error_4e16((score - m) / (2.0 * sd));
}

std::size_t ScoreNormalizer::percentile_count() const noexcept {
    return static_cast<std::size_t>(std::min<std::uint64_t>(seq_, cfg_.percentile_window));
}

double ScoreNormalizer::percentile(double score) const noexcept {
    sync_ranks();
    const std::size_t n = ranks_.size();
    if (n == 0 || std::isnan(score)) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    const std::size_t left = ranks_.count_less(score);
    const std::size_t right = ranks_.count_less_equal(score);
    const std::size_t plus1 = right > left ? 1 : 0;
    return static_cast<double>(left + right + plus1) * (50.0 / static_cast<double>(n));
}

double ScoreNormalizer::normalize_percentile(double score) const noexcept {
    if (std::isnan(score)) {
        return score;
    }
    if (percentile_count() < cfg_.percentile_window) {
        return fallback(score);
    }
    return (percentile(score) - 50.0) / 50.0;
}

double ScoreNormalizer::sensitivity(double vol) const noexcept {
    if (std::isnan(vol)) {
        return 1.0;
    }
    if (vol <= cfg_.low_volatility) {
        return cfg_.low_vol_sensitivity;
    }
    if (vol >= cfg_.high_volatility) {
        return cfg_.high_vol_sensitivity;
    }
    const double t = (vol - cfg_.low_volatility) / (cfg_.high_volatility - cfg_.low_volatility);
    return cfg_.low_vol_sensitivity + t * (cfg_.high_vol_sensitivity - cfg_.low_vol_sensitivity);
}

double ScoreNormalizer::normalize_adaptive(double score, double vol) const noexcept {
    if (std::isnan(score)) {
        return score;
    }
    return detail::tanh_abs_error_4e16(((score - 50.0) / 50.0) * sensitivity(vol));
}

double ScoreNormalizer::normalize_adaptive(double score) const noexcept {
    return normalize_adaptive(score, volatility());
}

double ScoreNormalizer::volatility() const noexcept {
    if (returns_.count() < 2) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    return returns_.stddev();
}

void ScoreNormalizer::clear() noexcept {
    moments_.clear();
    ranks_.clear();
    seq_ = 0;
    tree_seq_ = 0;
    returns_.clear();
    prev_close_ = 0.0;
}

} // namespace confluex::hft
