// confluex/hft_normalizer.hpp
//
// Provides ScoreNormalizer (the HFT note's ScoreNormalizer, one per symbol): turns a 0-100
// confluence score into [-1, 1] by three methods over a rolling history of scores, and
// RollingMoments, the exact rolling mean/variance it is built on.
//
// Design:
// - update() and the normalize_*() reads are separate calls. A read never changes the state
//   (the note's normalize_zscore appended the score it normalised, normalize_percentile did
//   not, so the two methods saw different histories). To reproduce the note's z-score, call
//   update(s) and then normalize_zscore(s).
// - One ring holds the last max(window, percentile_window) scores. The z-score uses the last
//   `window` of them through RollingMoments (Welford add and remove: exact rolling, the window
//   really drops its oldest score); the percentile uses the last `percentile_window` through an
//   OrderStatTree (exact rank in O(log n)). The tree is brought up to date lazily, by the next
//   percentile read: update() itself costs only the z-score path, a caller that never reads
//   percentiles never pays for them, and one that reads after every update pays O(log n) per
//   update as before (after more than percentile_window updates without a read, the read
//   rebuilds the tree from the ring, O(n log n) once). Reads are logically const.
// - Formulas (n = scores in the relevant window, s = the score read):
//   fallback(s)          = clip((s - 50)/50, -1, 1)
//   normalize_zscore(s)  = fallback(s) when n < min_samples; 0 when sigma <= sigma_epsilon *
//                          max(1, |mean|) (sigma = 0 up to rounding: a window of equal scores);
//                          else tanh(((s - mean)/sigma)/2), sigma the population std (np.std).
//   normalize_percentile(s) = fallback(s) when n < percentile_window; else (p - 50)/50 with
//                          p = scipy.stats.percentileofscore(window, s, kind="rank")
//                            = (L + R + [R > L]) * 50 / n, L = #{x < s}, R = #{x <= s}.
//   normalize_adaptive(s, vol) = tanh(((s - 50)/50) k(vol)), where vol is the std of 1-bar
//                          simple returns (update_bar_close() keeps it) and k interpolates
//                          linearly between (low_volatility, low_vol_sensitivity) and
//                          (high_volatility, high_vol_sensitivity): 1.3 at or below 0.005,
//                          0.7 at or above 0.02, 1.0 at the midpoint 0.0125. The note's step
//                          function (1.3 / 1.0 / 0.7) jumped by 30% at each threshold.
// - Rounding: the rolling update (Welford add; once the window is full, a one-step replace of
//   the oldest value, which needs no division) accumulates rounding; the moments are
//   recomputed exactly (two passes over the ring) once every `window` replacements, so the
//   error never grows with the length of the stream. That update costs O(window) once per
//   window (amortised O(1)). tanh is detail::tanh_abs_error_4e16 (one exp, within 4e-16).
//
// Threading: not synchronised; one thread owns an instance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "confluex/hft_order_stats.hpp"

namespace confluex::hft {

// RollingMoments: mean and population variance of the last `capacity` values.
class RollingMoments {
  public:
    // RollingMoments::RollingMoments()
    // REQUIRES: capacity >= 1 (InvalidConfig otherwise).
    explicit RollingMoments(std::size_t capacity);

    // RollingMoments::add()
    // Adds x, evicting the oldest value when full. REQUIRES: x finite.
    void add(double x) noexcept;

    [[nodiscard]] std::size_t count() const noexcept { return n_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return buf_.size(); }
    [[nodiscard]] double mean() const noexcept { return n_ ? mean_ : 0.0; }
    // Returns the population variance (ddof = 0), 0 with fewer than 2 values.
    [[nodiscard]] double variance() const noexcept;
    // Returns sqrt(variance()).
    [[nodiscard]] double stddev() const noexcept;
    void clear() noexcept;

  private:
    void recompute() noexcept;

    std::vector<double> buf_;
    std::size_t head_ = 0; // next slot to write
    std::size_t n_ = 0;
    std::size_t removals_ = 0;
    double mean_ = 0.0;
    double m2_ = 0.0;
    double inv_n_ = 0.0; // 1 / n_, kept so a full window updates without a division
};

struct NormalizerConfig {
    std::size_t window = 1000;           // z-score history, >= 1
    std::size_t min_samples = 30;        // z-score fallback below this, >= 1, <= window
    std::size_t percentile_window = 100; // percentile history, >= 1 (the note's default)
    std::size_t volatility_window = 100; // 1-bar returns kept for the adaptive method, >= 2
    double sigma_epsilon = 1e-9;         // relative sigma treated as 0, finite, >= 0
    double low_volatility = 0.005;       // finite, > 0
    double high_volatility = 0.02;       // finite, > low_volatility
    double low_vol_sensitivity = 1.3;    // finite, > 0
    double high_vol_sensitivity = 0.7;   // finite, > 0

    // NormalizerConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

class ScoreNormalizer {
  public:
    // ScoreNormalizer::ScoreNormalizer()
    // Validates cfg (InvalidConfig) and allocates every buffer once.
    explicit ScoreNormalizer(NormalizerConfig cfg = {});

    // ScoreNormalizer::update()
    // Appends a score to the history. Throws InvalidEvent for a non-finite score (unchanged).
    void update(double score);
    // ScoreNormalizer::update_unchecked()
    // update() without the check. REQUIRES: score finite.
    void update_unchecked(double score) noexcept;

    // ScoreNormalizer::update_bar_close()
    // Records a bar close price; from the second one on, appends the 1-bar simple return
    // close/prev - 1 to the volatility window. Throws InvalidEvent unless close > 0 and finite.
    void update_bar_close(double close);

    // ScoreNormalizer::normalize_zscore() / normalize_percentile() / normalize_adaptive()
    // Return the normalised score in [-1, 1] by the formulas above; no side effect.
    // normalize_adaptive(s) uses volatility(); with fewer than 2 returns it uses k = 1.
    // A NaN score reads NaN.
    [[nodiscard]] double normalize_zscore(double score) const noexcept;
    [[nodiscard]] double normalize_percentile(double score) const noexcept;
    [[nodiscard]] double normalize_adaptive(double score, double volatility) const noexcept;
    [[nodiscard]] double normalize_adaptive(double score) const noexcept;

    // ScoreNormalizer::sensitivity()
    // Returns k(volatility) of the adaptive method (1 for a NaN volatility).
    [[nodiscard]] double sensitivity(double volatility) const noexcept;
    // ScoreNormalizer::percentile()
    // Returns the scipy "rank" percentile (0-100) of score in the percentile window; NaN when
    // the window is empty.
    [[nodiscard]] double percentile(double score) const noexcept;

    [[nodiscard]] std::size_t count() const noexcept { return moments_.count(); }
    [[nodiscard]] std::size_t percentile_count() const noexcept;
    [[nodiscard]] double mean() const noexcept { return moments_.mean(); }
    [[nodiscard]] double stddev() const noexcept { return moments_.stddev(); }
    // Returns the std of the recorded 1-bar returns (NaN with fewer than 2).
    [[nodiscard]] double volatility() const noexcept;
    [[nodiscard]] const NormalizerConfig& config() const noexcept { return cfg_; }
    void clear() noexcept;

  private:
    // Brings the rank tree up to date with the scores added since the last percentile read.
    void sync_ranks() const noexcept;

    NormalizerConfig cfg_;
    RollingMoments moments_;
    // The percentile tree is maintained lazily (see Design): mutable, as reads complete it.
    mutable detail::OrderStatTree ranks_;
    mutable std::uint64_t tree_seq_ = 0; // scores [0, tree_seq_) are applied to ranks_
    std::vector<double> pct_ring_;       // the last 2 * percentile_window scores
    std::uint64_t seq_ = 0;              // scores ever added (the tree's keys are (score, seq))
    RollingMoments returns_;
    double prev_close_ = 0.0;
};

} // namespace confluex::hft
