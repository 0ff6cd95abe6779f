// confluex/hft_combiner.hpp
//
// Provides the HFT note's ScoreCombiner kernels (stateless: linear, ensemble, rank) and
// OnlineICCombiner, which weights its inputs by their recent rank information coefficient
// (IC) against realised forward returns.
//
// Formulas, for n inputs s_i (already normalised to [-1, 1]):
//   linear:   Σ w_i s_i (the note's form; weights are used as given).
//   ensemble: c_i >= 0 the confidences, C = Σ c_i. C = 0 gives composite 0, confidence 0 and
//             all weights 0 (never 0/0). Otherwise v_i = c_i / C, composite D = Σ v_i s_i and
//             ensemble confidence = (Σ c_i^2 / C) * exp(-2 Σ v_i (s_i - D)^2): the
//             confidence-weighted mean confidence times the consensus of the inputs (the same
//             consensus form as the confluence aggregator, §2.6). It is in [0, 1] when every
//             c_i is, and falls when confident inputs disagree.
//   rank:     ranks r_i = 0..n-1 by ascending score, tied scores sharing their average rank
//             (so the result does not depend on the order the inputs are listed in, which the
//             note's stable sort did); weights (r_i + 1)/n as in the note, then divided by
//             their sum (n + 1)/2, so the result is a weighted mean in [min s, max s] (the
//             note's unnormalised sum could leave [-1, 1]).
//
// OnlineICCombiner (causal): every observe(ts, scores, mid) first *realises* the pending
// observations at least horizon_ns old: their forward return r = mid / mid_then - 1 is now
// known. For each realised observation and input i, u_i = (rank percentile of s_i among the
// previous rank_window realised values of input i - 50)/50 and u_r the same for r, both from
// an OrderStatTree (exact rank, O(log n)), then the observation enters those windows. The
// rank IC of input i is the exponentially weighted correlation of (u_i, u_r) with half-life
// `halflife` realised observations. Weights: w_i = exp((IC_i - max_j IC_j) / temperature) for
// the inputs with IC_i > floor, 0 for the others, normalised to sum 1; equal weights 1/n
// until min_realised observations were realised or when no input clears the floor.
// combine() = Σ w_i s_i. Why a softmax and not w_i proportional to IC_i: on the real captures
// (tests/test_hft_ic.py) the inputs are correlated and their ICs differ by a factor 3, and
// proportional weights let a weak input dilute the strong one (combined IC 0.04-0.07 below
// the best input on the USD-M capture); the softmax leans on the input that has been best
// recently while still moving weight when the ICs cross (temperature -> inf gives equal
// weights, -> 0 picks the best input).
// Only observations whose return is known enter the IC: nothing is learned from the future.
//
// Threading: the free functions are pure; an OnlineICCombiner is owned by one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "confluex/hft_order_stats.hpp"

namespace confluex::hft {

inline constexpr std::size_t kMaxCombinerInputs = 16;

// combine_linear()
// Returns Σ w_i s_i over n inputs. REQUIRES: n <= kMaxCombinerInputs.
[[nodiscard]] double combine_linear(const double* scores, const double* weights,
                                    std::size_t n) noexcept;

struct EnsembleResult {
    double composite = 0.0;
    double confidence = 0.0;
    std::array<double, kMaxCombinerInputs> weights{}; // v_i, 0 beyond n
    std::size_t n = 0;
};

// combine_ensemble()
// Returns the ensemble combination above. REQUIRES: n <= kMaxCombinerInputs, confidences >= 0.
[[nodiscard]] EnsembleResult combine_ensemble(const double* scores, const double* confidences,
                                              std::size_t n) noexcept;

// combine_rank()
// Returns the rank-weighted mean above; 0 for n = 0. REQUIRES: n <= kMaxCombinerInputs.
[[nodiscard]] double combine_rank(const double* scores, std::size_t n) noexcept;

struct OnlineICConfig {
    std::size_t n_inputs = 3;                // 1..kMaxCombinerInputs
    std::int64_t horizon_ns = 5'000'000'000; // forward-return horizon, > 0
    std::size_t rank_window = 500;           // realised values ranked against, >= 2
    double halflife = 500.0;         // EW half-life of the IC, in realised observations, > 0
    double floor = 0.0;              // an input needs IC > floor for a weight, in [-1, 1)
    double temperature = 0.05;       // softmax temperature over the ICs, finite, > 0
    std::size_t min_realised = 100;  // equal weights before this many, >= 1
    std::size_t max_pending = 65536; // observations waiting for their return, >= 1

    // OnlineICConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

class OnlineICCombiner {
  public:
    // OnlineICCombiner::OnlineICCombiner()
    // Validates cfg (InvalidConfig) and allocates every buffer once.
    explicit OnlineICCombiner(OnlineICConfig cfg = {});

    // OnlineICCombiner::observe()
    // Realises the pending observations with ts <= ts_ns - horizon_ns against mid, then queues
    // (ts_ns, scores, mid). When the queue is full the oldest pending observation is dropped
    // and counted in dropped(). Throws InvalidEvent (state unchanged) for a non-finite score,
    // a mid that is not finite and > 0, or a ts_ns older than the last one.
    // REQUIRES: scores has n_inputs values.
    void observe(std::int64_t ts_ns, const double* scores, double mid);

    // OnlineICCombiner::combine()
    // Returns Σ w_i s_i with the current weights (they sum to 1). REQUIRES: n_inputs values.
    [[nodiscard]] double combine(const double* scores) const noexcept;

    [[nodiscard]] double weight(std::size_t i) const noexcept { return weights_[i]; }
    // Returns the EW rank IC of input i (0 before any realised observation).
    [[nodiscard]] double ic(std::size_t i) const noexcept;
    [[nodiscard]] std::size_t realised() const noexcept { return realised_; }
    [[nodiscard]] std::size_t pending() const noexcept { return pending_n_; }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }
    [[nodiscard]] const OnlineICConfig& config() const noexcept { return cfg_; }

  private:
    struct Ew { // exponentially weighted moments of (x, y)
        double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    };
    void realise(std::size_t slot, double mid) noexcept;
    double rank_u(const detail::OrderStatTree& t, double v) const noexcept;
    void push_window(std::size_t k, double v) noexcept;
    void refresh_weights() noexcept;

    OnlineICConfig cfg_;
    double alpha_;
    // Pending ring: ts, mid and n scores per slot.
    std::vector<std::int64_t> pend_ts_;
    std::vector<double> pend_mid_;
    std::vector<double> pend_scores_;
    std::size_t pend_head_ = 0; // oldest
    std::size_t pending_n_ = 0;
    std::int64_t last_ts_ = INT64_MIN;
    // Rank windows: inputs 0..n-1, then the return at index n.
    std::vector<std::unique_ptr<detail::OrderStatTree>> trees_;
    std::vector<double> win_vals_; // (n + 1) rings of rank_window values
    std::uint64_t win_seq_ = 0;
    std::array<Ew, kMaxCombinerInputs> ew_{};
    double ew_w_ = 0.0; // total EW weight so far (bias correction of the first samples)
    std::array<double, kMaxCombinerInputs> weights_{};
    std::size_t realised_ = 0;
    std::uint64_t dropped_ = 0;
};

} // namespace confluex::hft
