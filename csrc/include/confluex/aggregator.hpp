// confluex/aggregator.hpp
//
// Provides ConfluenceAggregator: combines the six component scores (component.hpp) into the
// 0-100 confluence score with a quality adjustment, plus the direction, consensus, confidence
// and data-completeness (reliability) behind it. Two rules (AggregatorConfig::rule):
// - ScoreRule::Reference (the default of AggregatorConfig, the "reference" profile): the
//   reference system's quality-adjusted score, §2.6, kept for parity. It has gaps: the dampen
//   path caps |score - 50| at 50 |D| |D| and the amplify path starts above 50 + 25, so no
//   score falls between 65 and 75 or 25 and 35 (issue 11), and the amplifier clips to 0/100.
// - ScoreRule::Graded (the engine's "standard" and fitted profiles): a continuous, monotone
//   quality adjustment, and component weights scaled by their warm-up (below).
//
// Reference formulas (§2.6), over the set A of components that have data, with effective weights
// w_c = W_c / Σ_{A} W (W = configured weights normalised to sum 1):
//   n_c = clip((S_c - 50)/50, -1, 1), and n_c = 0 when S_c is not finite
//   D = clip(Σ w_c n_c, -1, 1)                    direction
//   B = 50 + 50 D                                 score_raw
//   V = Σ w_c (n_c - D)^2                         disagreement (weighted variance)
//   consensus  = clip(exp(-2V), 0, 1)
//   confidence = clip(|D| consensus, 0, 1)
//   dev = B - 50
//   amplify if confidence > amplify_confidence and consensus > amplify_consensus:
//     factor = min(1 + (confidence - amplify_confidence) max_amplification
//                      / (1 - amplify_confidence),
//                  1 + max_amplification)
//     score = clip(50 + dev factor, 0, 100)
//   else dampen: score = 50 + dev confidence
//   quality_impact = B - score
// With the defaults (0.50, 0.75, 0.15) this is exactly the reference's Oct-2025 rule.
//
// Deliberate deviations from the reference (documented, not accidental):
// 1. A component without data is excluded, and the weights are renormalised over the
//    components that have data. The reference instead either failed the whole analysis (any
//    missing component -> default 50, §2.1 step 3) or, in the HFT note, counted it as a
//    neutral 50 that drags the score toward 50 and inflates consensus.
// 2. `reliability` is data completeness: Σ W_c over components with data, in [0, 1]. The
//    reference counted components whose score was not exactly 50.0 (§2.1 step 5), which is
//    1.0 almost always and says nothing about missing inputs.
// 3. With no component having data (or only zero-weight ones): score = score_raw = 50,
//    direction 0, consensus 0, confidence 0, disagreement 0, reliability 0. The formula would
//    give consensus exp(0) = 1, which would claim full agreement among no one.
// 4. Scores are not validated here: compute() is noexcept and must stay robust, so a
//    non-finite score counts as neutral (n = 0, as the reference says) and a finite score
//    outside [0, 100] is clipped through n (as the reference does). Rejecting such scores is
//    the job of whoever accepts them from outside (the engine's setter throws InvalidEvent).
//
// Graded formulas, with warm weights u_c = W_c warmup_c over the components with data
// (warmup_c in [0, 1], ComponentScore::warmup; a component with warmup 0 counts as without
// data), w_c = u_c / Σ u:
//   n_c, D, B and V as above (with these w_c)
//   consensus  = exp(-2V)
//   q          = consensus_floor + (1 - consensus_floor) consensus   in [floor, 1]
//   score      = 50 + 50 D q                                          never clipped
//   reliability = Σ u_c (data completeness including warm-up), in [0, 1]
//   confidence = |D| consensus reliability
//   quality_impact = B - score
// score is continuous in every input and, for fixed consensus, strictly monotone in D, so
// every value in (50 - 50q, 50 + 50q) is reachable and a threshold is a graded level of
// D q. It equals 0 or 100 only when every warm component reads exactly 0 or 100 (no
// non-saturating kernel does); no amplifier clips it. During warm-up a component enters with
// the share of its weight that is warm, so one early component cannot speak for all six.
//
// Threading: compute() is const and touches no shared state; set_weights() needs exclusive
// access.
#pragma once

#include <array>
#include <cstdint>

#include "confluex/component.hpp"

namespace confluex {

// How the component scores are combined (see the file comment).
enum class ScoreRule : std::uint8_t {
    Reference = 0, // reference-system §2.6 (amplify / dampen), for parity
    Graded = 1,    // continuous quality factor, warm-up-weighted components
};

struct AggregatorConfig {
    // Component weights in Component order: orderflow, orderbook, volume, price_structure,
    // technical, sentiment (reference HEAD config, §2.2). Normalised to sum 1 on use.
    std::array<double, kComponentCount> weights{0.30, 0.20, 0.18, 0.15, 0.10, 0.07};
    double amplify_confidence = 0.50; // amplify only above this confidence, in [0, 1)
    double amplify_consensus = 0.75;  // ... and above this consensus, in [0, 1]
    double max_amplification = 0.15;  // factor cap is 1 + this, finite and >= 0
    ScoreRule rule = ScoreRule::Reference;
    double consensus_floor = 0.5; // Graded: quality factor at zero consensus, in [0, 1]

    // AggregatorConfig::validate()
    // Throws InvalidConfig naming the first bad value: weights finite and >= 0 with a positive
    // finite sum, amplify_confidence in [0, 1), amplify_consensus in [0, 1],
    // max_amplification finite and >= 0, consensus_floor in [0, 1], rule a known value.
    void validate() const;
};

struct ConfluenceResult {
    double score_raw;      // B = 50 + 50 D
    double score;          // quality-adjusted score (what thresholds and sizing use)
    double direction;      // D in [-1, 1]
    double consensus;      // exp(-2V) in [0, 1]
    double confidence;     // |D| consensus in [0, 1]
    double disagreement;   // V >= 0
    double reliability;    // Σ configured weights of components with data, in [0, 1]
    double quality_impact; // score_raw - score
    std::array<double, kComponentCount> component_score; // S_c as given; 50 without data
    std::array<double, kComponentCount> weight; // effective normalised weights (0 without data)
    std::uint8_t has_data_mask;                 // bit c set when component c has data
};

class ConfluenceAggregator {
  public:
    // ConfluenceAggregator::ConfluenceAggregator()
    // Validates cfg (throws InvalidConfig naming the bad value) and stores it with weights
    // normalised to sum 1.
    explicit ConfluenceAggregator(AggregatorConfig cfg = {});

    // ConfluenceAggregator::set_weights()
    // Replaces the component weights (same validation; strong guarantee: unchanged on throw).
    void set_weights(const std::array<double, kComponentCount>& w);

    // ConfluenceAggregator::compute()
    // Returns the confluence of `comps` (indexed by Component) by the formulas above.
    [[nodiscard]] ConfluenceResult
    compute(const std::array<ComponentScore, kComponentCount>& comps) const noexcept;

    // ConfluenceAggregator::compute_scores()
    // Same as compute() from bare scores and a has-data mask (bit c = component c), for callers
    // that do not hold ComponentScore records.
    // With the Graded rule every component counts as fully warm (warmup 1).
    [[nodiscard]] ConfluenceResult compute_scores(const std::array<double, kComponentCount>& scores,
                                                  std::uint8_t has_data_mask) const noexcept;

    // ConfluenceAggregator::compute_warm()
    // compute_scores() with each component's warm-up in [0, 1] (used by the Graded rule only;
    // NaN or values outside [0, 1] are clipped, NaN to 0).
    [[nodiscard]] ConfluenceResult
    compute_warm(const std::array<double, kComponentCount>& scores, std::uint8_t has_data_mask,
                 const std::array<double, kComponentCount>& warmup) const noexcept;

    // ConfluenceAggregator::config()
    // Returns the configuration in use (weights normalised).
    [[nodiscard]] const AggregatorConfig& config() const noexcept { return cfg_; }

  private:
    [[nodiscard]] ConfluenceResult
    graded(const std::array<double, kComponentCount>& scores, std::uint8_t has_data_mask,
           const std::array<double, kComponentCount>& warmup) const noexcept;

    AggregatorConfig cfg_;
};

} // namespace confluex
