// confluex/hft_scoring.hpp
//
// Provides the per-update kernels of the HFT note's HFTScoringEngine, MultiTimeframeHFTScore
// and MarketMakingHFTIntegration: the confluence component (directional bias, strength,
// reliability, confidence, momentum, mean reversion), the multi-timeframe composite, the HFT
// composite (directional bias, execution urgency, risk-adjusted opportunity, inventory impact,
// each with its breakdown) and the market-making scores. All are noexcept, allocation-free and
// pure except HftScorer, which only keeps its configuration and the last result.
//
// Conventions: a directional value is in [-1, 1] (+1 bullish); NaN means "not available" and
// such an input is left out of every weighted mean (its weight is not counted), never read as
// a neutral 0 that would drag the mean toward 0.
//
// 1. Confluence component (get_confluence_component), from ConfluenceInputs:
//    directional_bias = clip((s - 50)/50), signal_strength = |directional_bias|,
//    reliability (data completeness), confidence (aggregator §2.6) passed through.
//    momentum = weighted mean of the available terms, clipped to [-1, 1]:
//      .35 flow persistence  P = mean(f) * |Σ f| / Σ |f| over f in {flow_short, flow_medium,
//                            flow_long}: the mean trade-flow imbalance, kept whole only when
//                            every window leans the same way (0 when they cancel);
//      .25 cvd               the CVD z-score sub-score, (cvd_zscore - 50)/50;
//      .20 ofi               the order-flow-imbalance sub-score, (ofi - 50)/50;
//      .20 technical         (technical - 50)/50 when a technical component is supplied.
//    mean_reversion = weighted mean of the available terms (positive: expect a move up back
//    toward value), clipped to [-1, 1]:
//      .40 microprice        (microprice - 50)/50: mid reverts toward the size-weighted
//                            microprice (the best-level queue imbalance);
//      .30 overextension     -(flow_short - flow_long)/2: a short-window burst against the
//                            longer flow tends to fade;
//      .15 rsi               (30 - rsi)/30 below 30, -(rsi - 70)/30 above 70, else 0;
//      .15 range             1 - 2 range_position (top of the range -> -1).
//    Either is 0 when none of its terms is available.
// 2. Multi-timeframe (combine_timeframes): per timeframe k a directional x_k, strength |x_k|
//    and confidence c_k in [0, 1]; with weights w_k (.4/.3/.2/.1 for 1s/5s/30s/5m):
//      composite_directional = Σ w c x / Σ w c,  composite_strength = Σ w c |x| / Σ w c,
//      timeframe_alignment   = |Σ w c x| / Σ w c |x|  (1 = every timeframe agrees in sign),
//    each 0 when its denominator is 0. Renormalised on purpose: the note's Σ w c x shrinks
//    toward 0 whenever confidence is low, mixing "weak signal" with "little evidence"; the
//    evidence is reported separately as weight_confidence = Σ w c / Σ w.
//    timeframe_scores() derives x_k, c_k from a TradeFlow: x_k = tanh(e_k imbalance_k /
//    flow_sensitivity), c_k = e_k = min(1, trades_k / min_trades) for window k (the engine's
//    1 s, 5 s, 30 s and 5 min windows); the 1 s timeframe also reads the book:
//    x = (1 - b) x_flow + b book_directional, c = (1 - b) e + b, b = book_share_1s, when the
//    book direction is available.
// 3. Composite (HftScorer::calculate_composite_score), from HftInputs:
//    micro = mean of the available {tanh(ofi / ofi_sensitivity), queue_imbalance}
//    D0 = Σ_p w_p x_p / Σ_p w_p over the available parts p: confluence (w_confluence, when
//         reliability > 0), microstructure (w_microstructure), timeframes (w_timeframe, when
//         Σ w c > 0); 0 when none.
//    inventory_impact I = -clip(position / max_position) (0 when max_position <= 0): + means
//         the book is short and buying reduces it.
//    directional_bias D = clip(D0 + inventory_weight I)
//    execution_urgency = |D| * confirmation * spread_factor, confirmation = 0.5 + 0.5
//         max(0, sign(D) micro) (the book pushing the same way: act before the price moves),
//         spread_factor = spread_ref_bps / (spread_ref_bps + spread_bps) (1 when unknown).
//    risk_adjusted_opportunity = base * (1 - vol_penalty_weight vp) * liquidity_bonus
//         * (1 - corr_penalty_weight |corr|) * drawdown_factor * exposure_factor, with
//         base = |D0| reliability, vp = min(vol / vol_ref, 1), liquidity_bonus =
//         min(min(bid_depth, ask_depth) / liquidity_ref, 1), drawdown_factor =
//         1 - clip(drawdown / max_drawdown, 0, 1), exposure_factor = 1 - clip(exposure /
//         exposure_limit, 0, 1) for a trade that would add to the position (1 otherwise).
//    Unknown inputs (NaN volatility, depth or spread) leave their factor at 1 and set a flag;
//    zero liquidity sets kFlagNoLiquidity, never silently: base_opportunity keeps the value
//    before the adjustments.
// 4. Market making (market_making_scores), from the component c and I:
//    inventory_bias = clip(c.directional_bias + I), spread_adjustment = 1 - c.reliability,
//    size_multiplier = c.signal_strength c.reliability, price_skew = 0.5 inventory_bias,
//    activity_level = c.signal_strength. With a flat book (I = 0) these are the note's exact
//    formulas; the note's "inventory_bias" never read the inventory (fixed here), and its
//    price_skew labels ("-1 = skew bids") contradicted its own inventory_bias sign: here
//    price_skew > 0 shifts both quotes up (bid more aggressive, offer further away).
//
// Threading: free functions are pure; an HftScorer is owned by one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "confluex/trade_flow.hpp"

namespace confluex::hft {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr std::size_t kTimeframeCount = 4;
inline constexpr std::array<const char*, kTimeframeCount> kTimeframeNames = {"1s", "5s", "30s",
                                                                             "5m"};

// Flags of a CompositeScore (bits).
inline constexpr std::uint32_t kFlagNoLiquidity = 1U << 0;
inline constexpr std::uint32_t kFlagLiquidityUnknown = 1U << 1;
inline constexpr std::uint32_t kFlagVolatilityUnknown = 1U << 2;
inline constexpr std::uint32_t kFlagDrawdownLimit = 1U << 3;
inline constexpr std::uint32_t kFlagExposureLimit = 1U << 4;
inline constexpr std::uint32_t kFlagNoConfluenceData = 1U << 5;
inline constexpr std::uint32_t kFlagSpreadUnknown = 1U << 6;
inline constexpr std::uint32_t kFlagInventoryLimit = 1U << 7;

struct ConfluenceInputs {
    double score = 50.0;          // quality-adjusted confluence score, [0, 100]
    double reliability = 0.0;     // data completeness, [0, 1]
    double confidence = 0.0;      // aggregator confidence (§2.6), [0, 1]
    double flow_short = kNaN;     // (imbalance_short - 50)/50 of the orderflow component
    double flow_medium = kNaN;    // (imbalance_medium - 50)/50
    double flow_long = kNaN;      // (imbalance_long - 50)/50
    double cvd = kNaN;            // (cvd_zscore - 50)/50
    double ofi = kNaN;            // (ofi - 50)/50 of the orderbook component
    double microprice = kNaN;     // (microprice - 50)/50 of the orderbook component
    double technical = kNaN;      // (technical - 50)/50, optional
    double rsi = kNaN;            // [0, 100], optional
    double range_position = kNaN; // [0, 1], optional
};

struct ConfluenceComponent {
    double directional_bias = 0.0;
    double signal_strength = 0.0;
    double reliability = 0.0;
    double confidence = 0.0;
    double momentum = 0.0;
    double mean_reversion = 0.0;
};

struct TimeframeScore {
    double directional = 0.0;
    double strength = 0.0;
    double confidence = 0.0;
};

struct MultiTimeframeResult {
    std::array<TimeframeScore, kTimeframeCount> individual{};
    double composite_directional = 0.0;
    double composite_strength = 0.0;
    double timeframe_alignment = 0.0;
    double weight_confidence = 0.0; // Σ w c / Σ w in [0, 1]
};

struct MultiTimeframeConfig {
    std::array<double, kTimeframeCount> weights{0.4, 0.3, 0.2, 0.1};
    double flow_sensitivity = 0.35; // as FlowSignalsConfig::sensitivity
    std::uint64_t min_trades = 10;  // evidence e = min(1, n / min_trades)
    double book_share_1s = 0.5;     // b, in [0, 1]

    // MultiTimeframeConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

struct MarketMakingScores {
    double inventory_bias = 0.0;
    double spread_adjustment = 1.0;
    double size_multiplier = 0.0;
    double price_skew = 0.0;
    double activity_level = 0.0;
};

struct HftInputs {
    ConfluenceInputs confluence{};
    // microstructure
    double spread_bps = kNaN;      // >= 0
    double bid_depth = kNaN;       // quote notional of the best levels, >= 0
    double ask_depth = kNaN;       // quote notional of the best levels, >= 0
    double ofi = kNaN;             // OfiWindow::normalized()
    double queue_imbalance = kNaN; // best-level (qb - qa)/(qb + qa), [-1, 1]
    std::array<TimeframeScore, kTimeframeCount> timeframes{}; // confidence 0 = absent
    // inventory
    double position = 0.0;     // signed, base units
    double max_position = 0.0; // > 0 to enable the inventory terms
    // risk
    double volatility = kNaN;    // std of 1-bar returns, >= 0
    double drawdown = 0.0;       // current drawdown fraction, >= 0
    double max_drawdown = 0.0;   // limit, > 0 to enable
    double exposure = 0.0;       // gross exposure, >= 0
    double exposure_limit = 0.0; // > 0 to enable
    double correlation = 0.0;    // with the portfolio, [-1, 1]
};

struct HftScoringConfig {
    double w_confluence = 0.45;
    double w_microstructure = 0.30;
    double w_timeframe = 0.25;
    double inventory_weight = 0.25;
    double ofi_sensitivity = 0.5;
    double spread_ref_bps = 2.0;
    double liquidity_ref = 100'000.0; // quote notional per side that counts as fully liquid
    double vol_ref = 0.02;
    double vol_penalty_weight = 0.3;
    double corr_penalty_weight = 0.2;
    MultiTimeframeConfig timeframe{};

    // HftScoringConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain (weights finite, >= 0,
    // w_* with a positive sum; references finite and > 0; penalty weights in [0, 1]).
    void validate() const;
};

struct CompositeScore {
    double directional_bias = 0.0;
    double execution_urgency = 0.0;
    double risk_adjusted_opportunity = 0.0;
    double inventory_impact = 0.0;
    // directional breakdown: contributions that sum to D before clipping
    double dir_confluence = 0.0;
    double dir_microstructure = 0.0;
    double dir_timeframe = 0.0;
    double dir_inventory = 0.0;
    // urgency breakdown
    double urgency_signal = 0.0; // |D|
    double urgency_confirmation = 0.5;
    double urgency_spread_factor = 1.0;
    // opportunity breakdown
    double base_opportunity = 0.0;
    double volatility_penalty = 0.0;
    double liquidity_bonus = 1.0;
    double correlation_penalty = 0.0;
    double drawdown_factor = 1.0;
    double exposure_factor = 1.0;
    // inventory breakdown
    double inventory_utilisation = 0.0; // |position| / max_position
    std::uint32_t flags = 0;
    ConfluenceComponent confluence{};
    MultiTimeframeResult timeframes{};
    MarketMakingScores market_making{};
};

// extract_confluence_component()
// Returns the confluence component of section 1.
[[nodiscard]] ConfluenceComponent extract_confluence_component(const ConfluenceInputs& in) noexcept;

// combine_timeframes()
// Returns the multi-timeframe composite of section 2 (individual strengths recomputed as |x|).
[[nodiscard]] MultiTimeframeResult
combine_timeframes(const std::array<TimeframeScore, kTimeframeCount>& tf,
                   const std::array<double, kTimeframeCount>& weights) noexcept;

// timeframe_scores()
// Returns the per-timeframe scores of section 2 from the first 4 windows of `flow` (a window
// the flow does not have gets confidence 0) and the book direction (NaN: no book).
// REQUIRES: cfg.validate() passed.
[[nodiscard]] std::array<TimeframeScore, kTimeframeCount>
timeframe_scores(const TradeFlow& flow, double book_directional,
                 const MultiTimeframeConfig& cfg) noexcept;

// market_making_scores()
// Returns the market-making scores of section 4.
[[nodiscard]] MarketMakingScores market_making_scores(const ConfluenceComponent& c,
                                                      double inventory_impact) noexcept;

// validate_inputs()
// Throws InvalidEvent naming the first field out of its domain: score in [0, 100];
// reliability, confidence in [0, 1]; directional signals NaN or in [-1, 1]; rsi NaN or in
// [0, 100]; range_position NaN or in [0, 1]; spread, depths, volatility NaN or >= 0; ofi NaN
// or finite; queue_imbalance NaN or in [-1, 1]; timeframe directional in [-1, 1] and
// confidence in [0, 1]; position finite; max_position, drawdown, max_drawdown, exposure,
// exposure_limit finite and >= 0; correlation in [-1, 1].
void validate_inputs(const HftInputs& in);

// compute_composite()
// Fills `out` with the composite of section 3 (and the component, timeframes and market-
// making scores it is built from). REQUIRES: validate_inputs(in) and cfg.validate() passed.
void compute_composite(const HftInputs& in, const HftScoringConfig& cfg,
                       CompositeScore& out) noexcept;

// HftScorer: the HFTScoringEngine's state (its config and last result).
class HftScorer {
  public:
    // HftScorer::HftScorer()
    // Validates cfg (InvalidConfig).
    explicit HftScorer(HftScoringConfig cfg = {});
    // HftScorer::calculate_composite_score()
    // Validates `in` (InvalidEvent, last result unchanged), computes and returns the composite.
    const CompositeScore& calculate_composite_score(const HftInputs& in);
    [[nodiscard]] const CompositeScore& last() const noexcept { return last_; }
    [[nodiscard]] const HftScoringConfig& config() const noexcept { return cfg_; }

  private:
    HftScoringConfig cfg_;
    CompositeScore last_{};
};

// fast_volume_delta()
// Returns (buy - sell)/(buy + sell) over n (volume, side) rows, side > 0 buy, side < 0 sell
// (0 is unknown and ignored); 0 when no sided volume. The note's OptimizedHFTConfluence
// fast_volume_delta_calculation, without its float-equality trap. REQUIRES: volumes >= 0.
[[nodiscard]] double fast_volume_delta(const double* volume, const double* side,
                                       std::size_t n) noexcept;

} // namespace confluex::hft
