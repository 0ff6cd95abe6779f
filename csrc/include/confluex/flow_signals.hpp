// confluex/flow_signals.hpp
//
// Provides the two trade-based confluence components computed from a TradeFlow:
// - orderflow (reference-system §3.2): multi-window trade-flow imbalance, CVD z-score with the
//   reference's tanh fallback before warm-up, and large-trade imbalance;
// - volume (replaces §3.3's "volume_delta", which was a non-directional size ratio that read
//   45 in bullish and bearish markets alike): the true directional buy/sell volume delta, its
//   notional twin, and relative activity as a multiplier of the directional deviation.
//
// Conventions shared by every sub-score (all are directional, 50 = neutral):
// - g(v) = 50 + 50 * tanh(v / sensitivity) maps a signed imbalance v in [-1, 1] to (0, 100).
//   tanh (not the reference's linear 50 + 50v) because real imbalances over seconds to minutes
//   sit mostly in +-0.3 where a linear map is flat; g is odd around 50, so swapping buy and
//   sell maps s -> 100 - s, and balanced flow (v = 0) gives exactly 50.
// - Evidence shrink e(n) = min(1, n / min_trades): an imbalance computed from n trades is
//   multiplied by e(n) before g, so a window holding 2 trades cannot read 0 or 100.
// - A component score is 50 + sum w_i (s_i - 50) / sum w_i (the weighted mean written around
//   50 so that all-neutral sub-scores give exactly 50, with no rounding residue).
// - has_data is false when the longest window holds fewer than min_trades trades; the score
//   and every sub-score are then 50 (the sub-score names and weights are still filled).
// Unknown-side trades count in activity and evidence but never in a direction.
// tanh is evaluated with one exp (detail::tanh_abs_error_4e16): every sub-score is within
// 2.5e-14 of the one std::tanh gives (a few ulp of 50), while g(0) stays exactly 50 and
// g(-v) = 100 - g(v) as before.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "confluex/component.hpp"
#include "confluex/trade_flow.hpp"

namespace confluex {

namespace detail {

// tanh_abs_error_4e16()
// Returns tanh(x) within 4e-16 absolute error (tested against long-double tanhl in
// tests/cpp/test_flow_signals.cpp), exactly odd, 0 at 0, +-1 for large |x|, NaN for NaN.
// Why: glibc's tanh goes through expm1 and cost ~70% of a component recompute; the scores
// only need absolute accuracy (50 + 50 tanh), which 1 - 2 / (e^2|x| + 1) keeps: the exp is
// within 1 ulp and the final subtraction is exact (Sterbenz) whenever it cancels.
[[nodiscard]] inline double tanh_abs_error_4e16(double x) noexcept {
    const double a = std::fabs(x);
    const double t = 1.0 - 2.0 / (std::exp(2.0 * a) + 1.0); // exp overflow to inf gives 1
    return std::copysign(t, x);
}

} // namespace detail

// Orderflow sub-score weights (sum 1). The CVD z-score carries the most weight because it is
// the only normalised (regime-aware) measure; the three imbalances cover 1 s / 30 s / 5 min by
// default (windows 0, n/2 and n-1). large_trades gets weight 0 when no large buy or sell trade
// is in the longest window (including when large-trade stats are disabled).
inline constexpr std::array<const char*, 5> kOrderflowSubNames = {
    "imbalance_short", "imbalance_medium", "imbalance_long", "cvd_zscore", "large_trades"};
inline constexpr std::array<double, 5> kOrderflowWeights = {0.15, 0.20, 0.15, 0.35, 0.15};

// Volume sub-score weights (sum 1): volume delta and notional pressure over the longest window,
// and the volume delta over the medium window (n/2) for the shorter-term push.
inline constexpr std::array<const char*, 3> kVolumeSubNames = {"volume_delta", "notional_pressure",
                                                               "volume_delta_medium"};
inline constexpr std::array<double, 3> kVolumeWeights = {0.45, 0.35, 0.20};

struct FlowSignalsConfig {
    // Trades the longest window needs for has_data, and the evidence count under which an
    // imbalance is shrunk linearly toward 0 (see e(n) above). >= 1.
    std::uint64_t min_trades = 10;
    // Imbalance at which g() reaches 50 +- 50 tanh(1) (~ 50 +- 38). Finite, > 0.
    double sensitivity = 0.35;
    // CVD sub-score before the z-score is ready: 50 + 50 tanh(gain * delta%), delta% the
    // imbalance of the z-score window; 3 is the reference's constant. Finite, > 0.
    double cvd_fallback_gain = 3.0;
    // Sub-score weights in kOrderflowSubNames / kVolumeSubNames order: finite, >= 0, with a
    // positive sum. The defaults are the constants above (the reference profile's).
    std::array<double, 5> orderflow_weights = kOrderflowWeights;
    std::array<double, 3> volume_weights = kVolumeWeights;
    // true: each sub-score's weight is scaled by its window's coverage,
    // min(1, (last trade - first trade) / window span), and cvd_zscore's by 0 until the
    // z-score is ready (until then it reads 50, not the tanh fallback, which saturates), so a
    // window that still spans "since start" (every window holding the same few trades) does
    // not count as a full reading; the component reports the warm share of its weight as
    // ComponentScore::warmup. false (the reference): warmup 1, the fallback as above.
    bool warmup = false;

    // FlowSignalsConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

// relative_activity()
// Returns rv = (volume rate of window 0) / (volume rate of the longest window), unknown sides
// included, where a window's rate is its volume over the part of it the stream covers
// (min(w, now - start)); 1 when the longest window is empty or no time has elapsed.
[[nodiscard]] double relative_activity(const TradeFlow& flow) noexcept;

// activity_multiplier()
// Returns m(rv) = 2 (1 + rv) / (3 + rv): 1 at normal activity, 2/3 when the short window is
// silent, -> 2 in a burst. It scales the signed imbalance inside g(), so it can strengthen or
// weaken a direction but never creates one (m * 0 = 0) and keeps every score in (0, 100).
[[nodiscard]] double activity_multiplier(double rv) noexcept;

// compute_orderflow_component()
// Fills `out` with the orderflow component:
//   imbalance_short/medium/long = g(e(n_k) * imbalance_k) for windows 0, n/2, n-1;
//   cvd_zscore = 50 + 50 z / clip with z = flow.last_cvd_z() once cvd_zscore().ready(), else
//                50 + 50 tanh(cvd_fallback_gain * imbalance of the z-score window);
//   large_trades = g(e(large_count) * (LB - LS) / (LB + LS)) over the longest window.
// REQUIRES: cfg.validate() passes.
void compute_orderflow_component(const TradeFlow& flow, const FlowSignalsConfig& cfg,
                                 ComponentScore& out) noexcept;

// compute_volume_component()
// Fills `out` with the volume component, with m = activity_multiplier(relative_activity()):
//   volume_delta = g(m * e(n) * (B - S) / (B + S)) over the longest window;
//   notional_pressure = g(m * e(n) * (BN - SN) / (BN + SN)) over the longest window (price-
//                       weighted, so a push that lifts price through levels weighs more);
//   volume_delta_medium = the volume_delta formula over window n/2.
// REQUIRES: cfg.validate() passes.
void compute_volume_component(const TradeFlow& flow, const FlowSignalsConfig& cfg,
                              ComponentScore& out) noexcept;

} // namespace confluex
