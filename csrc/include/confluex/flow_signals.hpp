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
#include <limits>
#include <span>

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

// Orderflow sub-score weights. The CVD z-score carries the most weight because it is the only
// normalised (regime-aware) measure; the three imbalances cover 1 s / 30 s / 5 min by default
// (windows 0, n/2 and n-1). large_trades gets weight 0 when no large buy or sell trade is in
// the longest window (including when large-trade stats are disabled).
// The last three are the reference's extras (§3.2, §4), supplied by the caller through
// OrderflowExtras (the engine computes them from its stacked-imbalance window, the sentiment
// inputs and the base-timeframe bars); each gets weight 0 while it has no data (NaN), so the
// first five keep their documented weights relative to each other.
inline constexpr std::array<const char*, 8> kOrderflowSubNames = {
    "imbalance_short", "imbalance_medium",  "imbalance_long", "cvd_zscore",
    "large_trades",    "stacked_imbalance", "oi_quadrant",    "cvd_divergence"};
inline constexpr std::array<double, 8> kOrderflowWeights = {0.15, 0.20, 0.15, 0.35,
                                                            0.15, 0.10, 0.10, 0.05};

// The reference's orderflow extras as 0-100 sub-scores; NaN = no data (weight 0).
struct OrderflowExtras {
    double stacked_imbalance = std::numeric_limits<double>::quiet_NaN();
    double oi_quadrant = std::numeric_limits<double>::quiet_NaN();
    double cvd_divergence = std::numeric_limits<double>::quiet_NaN();
};

// Parameters of the extras' kernels (validated by validate()).
struct FlowExtrasConfig {
    // OI quadrant: relative OI and price changes (over the sentiment's open_interest_window_ns)
    // at which their tanh reaches tanh(1). Finite, > 0.
    double oi_scale = 0.02;
    double price_scale = 0.01;
    // Weight of the "OI falling" quadrants (short covering, long liquidation) against the
    // "OI rising" ones: the reference's 30/50. In [0, 1].
    double oi_unwind_factor = 0.6;
    // Price-CVD divergence: closed base-timeframe bars read (the reference's 20), and the
    // recency factor of their weights (newest bar largest: the reference gave the *oldest*
    // bar the largest weight, §3.2 BUG). bars in [2, 1024]; recency finite and >= 1.
    std::uint32_t divergence_bars = 20;
    double divergence_recency = 1.2;
    // Event-time grid of the liquidity depth bands (book side), in ns: the engine reads the
    // bands of the book as it stood at each multiple (and after each snapshot), at ingestion
    // (0: every recompute, from the current book). >= 0.
    std::int64_t liquidity_refresh_ns = 1'000'000'000;
    // Engine switch for all five extras (stacked imbalance, OI quadrant, price-CVD divergence,
    // absorption/exhaustion, liquidity): false skips their per-trade and per-recompute work
    // and leaves their sub-scores without data (weight 0), the component scores of before.
    bool enabled = true;

    // FlowExtrasConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

// oi_quadrant_score()
// Returns the open-interest quadrant sub-score from the relative changes of open interest and
// price over the same span: with x = tanh(price_change / price_scale) and
// y = tanh(oi_change / oi_scale),
//   score = 50 + 50 x (max(y, 0) + oi_unwind_factor min(y, 0))
// i.e. price up & OI up (new longs) bullish, price down & OI up (new shorts) bearish, price up
// & OI down (short covering) weakly bearish, price down & OI down (long liquidation) weakly
// bullish: the reference's four cases (§3.2, 50 +- 50q and 50 -+ 30q) made continuous (no
// thresholds, 50 when either change is 0) and antisymmetric in price. Scale-free: relative
// changes. NaN when either input is not finite (no data: the reference's synthetic previous
// OI of 0.98 x current, which always read "OI rising", is not reproduced).
// REQUIRES: cfg.validate() passes.
[[nodiscard]] double oi_quadrant_score(double oi_change, double price_change,
                                       const FlowExtrasConfig& cfg) noexcept;

// cvd_divergence_score()
// Returns the price-CVD divergence sub-score over n bars given oldest first: delta[i] = buy -
// sell volume of bar i, volume[i] = its sided volume (buy + sell), close[i] its close.
//   w_i = recency^i (newest largest);  c = Σ w delta / Σ w volume in [-1, 1] (CVD trend)
//   p = ln(close[n-1]/close[0]) / (mean_i |ln(close[i]/close[i-1])| sqrt(n-1)) (price trend in
//       units of its own bar-to-bar noise; 0 when the closes never move)
//   c~ = tanh(c / sensitivity), p~ = tanh(p), d = -c~ p~ (> 0 iff the trends disagree)
//   score = 50 + 50 sign(c~) max(d, 0)
// Bullish when CVD rises while price falls, bearish for the reverse, 50 when they agree:
// continuous (d -> 0 at each boundary), scale-free (ratios and log returns) and
// antisymmetric (swapping buys and sells and reflecting returns maps s -> 100 - s).
// NaN (no data) when n < 2, a close is not finite and positive, or Σ w volume is 0.
[[nodiscard]] double cvd_divergence_score(std::span<const double> delta,
                                          std::span<const double> volume,
                                          std::span<const double> close, double recency,
                                          double sensitivity) noexcept;

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
    std::array<double, 8> orderflow_weights = kOrderflowWeights;
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
//   stacked_imbalance / oi_quadrant / cvd_divergence = `extras` (weight 0 when NaN).
// REQUIRES: cfg.validate() passes.
void compute_orderflow_component(const TradeFlow& flow, const FlowSignalsConfig& cfg,
                                 ComponentScore& out, const OrderflowExtras& extras = {}) noexcept;

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
