// confluex/zscore.hpp
//
// Provides RollingZScore: the z-score of a value against the last `lookback` values of a
// stream, winsorised to +-clip, with a warm-up period (reference-system §3.2 "CVD z-score
// normalisation": lookback 200, min 30 samples, clip 3, tanh fallback before warm-up; the
// fallback lives with the caller, see flow_signals.hpp).
//
// Design: the window is a fixed ring of doubles allocated at construction (no allocation in
// update()). Mean and variance come from running sums of *shifted* values d = x - K, where the
// shift K is a value of the stream itself. A plain running sum of x and x^2 loses every digit
// when the values sit on a large offset (1e9 + noise: x^2 ~ 1e18, variance ~ 1); shifting by a
// nearby value keeps the squares at the scale of the spread. Adding and removing values leaves
// rounding residue in the sums: about eps times the sum of the magnitudes of every term added
// or removed since the sums were last computed from the ring. That residue is tracked (`mag_`),
// and the sums are recomputed from the ring with K = the newest value every `lookback`
// updates (amortised O(1)) and as soon as the residue could exceed ~1e-9 of the window's own
// sum of squares: when an outlier leaves the window (185364 among values of ~0.01, say), the
// variance that is left is far below what subtracting its square rounds away, and the sums
// are rebuilt instead of trusted.
//
// A window whose values are all equal has stddev exactly 0 (tracked by a run length of equal
// newest values, not inferred from a rounded variance), so a constant stream scores z = 0
// instead of +-clip from residue / residue.
//
// Threading: not synchronised; one thread owns an instance.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "confluex/errors.hpp"

namespace confluex {

class RollingZScore {
  public:
    // RollingZScore::RollingZScore()
    // Builds an empty normaliser.
    // REQUIRES: lookback >= 2, 2 <= min_samples <= lookback, clip > 0 (finite); otherwise
    // throws InvalidConfig naming the value.
    explicit RollingZScore(std::size_t lookback = 200, std::size_t min_samples = 30,
                           double clip = 3.0)
        : buf_((validate(lookback, min_samples, clip), lookback)), min_samples_(min_samples),
          clip_(clip) {}

    // RollingZScore::validate()
    // Throws InvalidConfig naming the first parameter out of its domain (see the constructor).
    static void validate(std::size_t lookback, std::size_t min_samples, double clip) {
        if (lookback < 2) {
            throw InvalidConfig("RollingZScore: lookback must be >= 2, was " +
                                std::to_string(lookback));
        }
        if (min_samples < 2 || min_samples > lookback) {
            throw InvalidConfig("RollingZScore: min_samples must be in [2, lookback=" +
                                std::to_string(lookback) + "], was " + std::to_string(min_samples));
        }
        if (!(clip > 0.0) || !std::isfinite(clip)) {
            throw InvalidConfig("RollingZScore: clip must be finite and > 0, was " +
                                std::to_string(clip));
        }
    }

    // RollingZScore::update()
    // Pushes x (evicting the oldest value once `lookback` are held) and returns the z-score of
    // x against the window *including* x, clipped to [-clip, clip]; 0 until ready() or while
    // stddev() == 0.
    // REQUIRES: x finite, else throws InvalidEvent and the state is unchanged. Deviations
    // |x - K| within ~[1e-150, 1e150] (K a recent value), so that their squares neither
    // underflow nor overflow.
    double update(double x) {
        if (!std::isfinite(x)) {
            throw InvalidEvent("RollingZScore::update: value must be finite, was " +
                               std::to_string(x));
        }
        const std::size_t cap = buf_.size();
        if (count_ == 0) {
            shift_ = x;
        }
        if (count_ == cap) {
            const double y = buf_[head_] - shift_;
            s1_ -= y;
            s2_ -= y * y;
            mag_ += y * y;
        } else {
            ++count_;
        }
        buf_[head_] = x;
        head_ = head_ + 1 == cap ? 0 : head_ + 1;
        const double d = x - shift_;
        s1_ += d;
        s2_ += d * d;
        mag_ += d * d;
        run_ = (run_ > 0 && x == last_) ? std::min(run_ + 1, cap) : 1;
        last_ = x;
        if (++since_rebase_ >= cap || (mag_ > kResidueRatio * s2_ && !constant())) {
            rebase();
        }
        return zscore(x);
    }

    // RollingZScore::zscore()
    // Returns the clipped z-score of x against the current window without pushing it; 0 until
    // ready(), while stddev() == 0, or for a NaN x.
    [[nodiscard]] double zscore(double x) const noexcept {
        if (!ready()) {
            return 0.0;
        }
        const double sd = stddev();
        if (!(sd > 0.0)) {
            return 0.0;
        }
        // (x - K) - mean(d): both terms are at the scale of the spread, not of the offset.
        const double z = ((x - shift_) - s1_ / static_cast<double>(count_)) / sd;
        if (std::isnan(z)) {
            return 0.0;
        }
        return std::clamp(z, -clip_, clip_);
    }

    // RollingZScore::ready()
    // Returns true once at least min_samples values are held.
    [[nodiscard]] bool ready() const noexcept { return count_ >= min_samples_; }
    // RollingZScore::count()
    // Returns the number of values in the window (at most lookback).
    [[nodiscard]] std::size_t count() const noexcept { return count_; }

    // RollingZScore::mean()
    // Returns the mean of the window; 0 when empty.
    [[nodiscard]] double mean() const noexcept {
        if (count_ == 0) {
            return 0.0;
        }
        if (constant()) {
            return last_;
        }
        return shift_ + s1_ / static_cast<double>(count_);
    }

    // RollingZScore::stddev()
    // Returns the population standard deviation of the window; 0 when empty or constant.
    [[nodiscard]] double stddev() const noexcept {
        if (count_ == 0 || constant()) {
            return 0.0;
        }
        const double n = static_cast<double>(count_);
        const double m = s1_ / n;
        // Residue can make the difference slightly negative on near-constant windows.
        return std::sqrt(std::max(0.0, s2_ / n - m * m));
    }

    [[nodiscard]] std::size_t lookback() const noexcept { return buf_.size(); }
    [[nodiscard]] std::size_t min_samples() const noexcept { return min_samples_; }
    [[nodiscard]] double clip() const noexcept { return clip_; }

    // RollingZScore::reset()
    // Empties the window; the configuration and the allocated ring are kept.
    void reset() noexcept {
        head_ = count_ = run_ = since_rebase_ = 0;
        shift_ = s1_ = s2_ = mag_ = last_ = 0.0;
    }

  private:
    [[nodiscard]] bool constant() const noexcept { return run_ >= count_; }

    // Recomputes the sums from the ring around K = the newest value (drops rounding residue).
    void rebase() noexcept {
        since_rebase_ = 0;
        shift_ = last_;
        double s1 = 0.0;
        double s2 = 0.0;
        // The ring holds exactly count_ values; their order does not matter for the sums.
        for (std::size_t i = 0; i < count_; ++i) {
            const double d = buf_[i] - shift_;
            s1 += d;
            s2 += d * d;
        }
        s1_ = s1;
        s2_ = s2;
        mag_ = s2;
    }

    // The rebase threshold on mag_ / s2_: the residue (~eps * mag_) stays below ~1e-9 of s2_.
    static constexpr double kResidueRatio = 1e6;

    std::vector<double> buf_;
    std::size_t min_samples_;
    double clip_;
    std::size_t head_ = 0;         // next slot to write
    std::size_t count_ = 0;        // values held
    std::size_t run_ = 0;          // newest values equal to last_, capped at lookback
    std::size_t since_rebase_ = 0; // updates since the sums were recomputed
    double shift_ = 0.0;           // K
    double s1_ = 0.0;              // sum of (x - K)
    double s2_ = 0.0;              // sum of (x - K)^2
    double mag_ = 0.0;             // sum of the squares added and removed since the rebase
    double last_ = 0.0;
};

} // namespace confluex
