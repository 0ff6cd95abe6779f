// ConfluenceAggregator (see aggregator.hpp).
#include "confluex/aggregator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

void validate_weights(const std::array<double, kComponentCount>& w) {
    double sum = 0.0;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        if (!std::isfinite(w[c]) || !(w[c] >= 0.0)) {
            throw InvalidConfig("AggregatorConfig.weights[" + std::string(kComponentNames[c]) +
                                "] must be finite and >= 0, was " + fmt(w[c]));
        }
        sum += w[c];
    }
    if (!(sum > 0.0) || !std::isfinite(sum)) {
        throw InvalidConfig("AggregatorConfig.weights must have a finite positive sum, was " +
                            fmt(sum));
    }
}

std::array<double, kComponentCount>
normalised(const std::array<double, kComponentCount>& w) noexcept {
    double sum = 0.0;
    for (double x : w) {
        sum += x;
    }
    std::array<double, kComponentCount> out{};
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        out[c] = w[c] / sum;
    }
    return out;
}

} // namespace

void AggregatorConfig::validate() const {
    validate_weights(weights);
    if (!(amplify_confidence >= 0.0 && amplify_confidence < 1.0)) {
        throw InvalidConfig("AggregatorConfig.amplify_confidence must be in [0, 1), was " +
                            fmt(amplify_confidence));
    }
    if (!(amplify_consensus >= 0.0 && amplify_consensus <= 1.0)) {
        throw InvalidConfig("AggregatorConfig.amplify_consensus must be in [0, 1], was " +
                            fmt(amplify_consensus));
    }
    if (!std::isfinite(max_amplification) || !(max_amplification >= 0.0)) {
        throw InvalidConfig("AggregatorConfig.max_amplification must be finite and >= 0, was " +
                            fmt(max_amplification));
    }
    if (!(consensus_floor >= 0.0 && consensus_floor <= 1.0)) {
        throw InvalidConfig("AggregatorConfig.consensus_floor must be in [0, 1], was " +
                            fmt(consensus_floor));
    }
    if (rule != ScoreRule::Reference && rule != ScoreRule::Graded) {
        throw InvalidConfig("AggregatorConfig.rule must be reference or graded, was " +
                            std::to_string(static_cast<int>(rule)));
    }
}

namespace {

struct Agreement {
    double direction; // D = clamp(S1 / S0, -1, 1)
    double variance;  // Var = Σ W (n - D)² / S0 (reported as disagreement)
    double consensus; // exp(-2 Var)
};

// agreement()
// Returns the weighted direction, variance and consensus of the normalised component scores `n`
// under the raw weights `weight` (S0 = Σ weight > 0, S1 = Σ weight n), and leaves `weight`
// normalised by S0. Both rules share it, operation for operation (replays stay bit-exact).
Agreement agreement(std::array<double, kComponentCount>& weight,
                    const std::array<double, kComponentCount>& n, double s0, double s1) noexcept {
    // Divide rather than multiply by 1/s0: a subnormal s0 (tiny weights) has no finite inverse.
    const double d = std::clamp(s1 / s0, -1.0, 1.0);
    double v = 0.0;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        const double e = n[c] - d;
        v += weight[c] * e * e;
    }
    v /= s0;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        weight[c] /= s0;
    }
    return {d, v, std::clamp(std::exp(-2.0 * v), 0.0, 1.0)};
}

} // namespace

ConfluenceAggregator::ConfluenceAggregator(AggregatorConfig cfg) : cfg_(cfg) {
    cfg_.validate();
    cfg_.weights = normalised(cfg_.weights);
}

void ConfluenceAggregator::set_weights(const std::array<double, kComponentCount>& w) {
    validate_weights(w);
    cfg_.weights = normalised(w);
}

ConfluenceResult ConfluenceAggregator::compute(
    const std::array<ComponentScore, kComponentCount>& comps) const noexcept {
    std::array<double, kComponentCount> scores{};
    std::array<double, kComponentCount> warm{};
    std::uint8_t mask = 0;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        scores[c] = comps[c].score;
        warm[c] = comps[c].warmup;
        mask = static_cast<std::uint8_t>(mask | (comps[c].has_data ? 1U << c : 0U));
    }
    return compute_warm(scores, mask, warm);
}

ConfluenceResult ConfluenceAggregator::compute_warm(
    const std::array<double, kComponentCount>& scores, std::uint8_t has_data_mask,
    const std::array<double, kComponentCount>& warmup) const noexcept {
    if (cfg_.rule == ScoreRule::Graded) {
        return graded(scores, has_data_mask, warmup);
    }
    return compute_scores(scores, has_data_mask);
}

ConfluenceResult
ConfluenceAggregator::graded(const std::array<double, kComponentCount>& scores,
                             std::uint8_t has_data_mask,
                             const std::array<double, kComponentCount>& warmup) const noexcept {
    ConfluenceResult r{};
    std::array<double, kComponentCount> n{};
    double s0 = 0.0;
    double s1 = 0.0;
    std::uint8_t mask = 0;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        const bool has = ((static_cast<unsigned>(has_data_mask) >> c) & 1U) != 0;
        // NaN warm-up is "not warm"; std::clamp would pass NaN through.
        const double u = std::isfinite(warmup[c]) ? std::clamp(warmup[c], 0.0, 1.0) : 0.0;
        const bool in = has && u > 0.0;
        mask = static_cast<std::uint8_t>(mask | (in ? 1U << c : 0U));
        r.component_score[c] = has ? scores[c] : 50.0;
        const double w = in ? cfg_.weights[c] * u : 0.0;
        r.weight[c] = w;
        const double x = (scores[c] - 50.0) / 50.0;
        n[c] = std::isfinite(x) ? std::clamp(x, -1.0, 1.0) : 0.0;
        s0 += w;
        s1 += w * n[c];
    }
    r.has_data_mask = mask;
    if (!(s0 > 0.0)) {
        for (std::size_t c = 0; c < kComponentCount; ++c) {
            r.weight[c] = 0.0;
        }
        r.score_raw = r.score = 50.0;
        return r;
    }
    const auto [d, v, consensus] = agreement(r.weight, n, s0, s1);
    const double q = cfg_.consensus_floor + (1.0 - cfg_.consensus_floor) * consensus;
    r.reliability = std::min(s0, 1.0);
    r.direction = d;
    r.consensus = consensus;
    r.confidence = std::clamp(std::fabs(d) * consensus * r.reliability, 0.0, 1.0);
    r.disagreement = v;
    r.score_raw = 50.0 + 50.0 * d;
    r.score = 50.0 + 50.0 * d * q;
    r.quality_impact = r.score_raw - r.score;
    return r;
}

ConfluenceResult
ConfluenceAggregator::compute_scores(const std::array<double, kComponentCount>& scores,
                                     std::uint8_t has_data_mask) const noexcept {
    if (cfg_.rule == ScoreRule::Graded) {
        std::array<double, kComponentCount> warm{};
        warm.fill(1.0);
        return graded(scores, has_data_mask, warm);
    }
    ConfluenceResult r{};
    r.has_data_mask = static_cast<std::uint8_t>(has_data_mask & ((1U << kComponentCount) - 1U));

    // The critical path is Σ -> divide -> Σ -> exp; S0 (reliability) and S1 = Σ W n are summed
    // together so only one divide sits between the input and the variance pass.
    std::array<double, kComponentCount> n{};
    double s0 = 0.0;
    double s1 = 0.0;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        const bool has = ((static_cast<unsigned>(r.has_data_mask) >> c) & 1U) != 0;
        r.component_score[c] = has ? scores[c] : 50.0;
        const double w = has ? cfg_.weights[c] : 0.0;
        r.weight[c] = w;
        // A NaN or inf score is neutral (§2.6); std::clamp would pass NaN through.
        const double x = (scores[c] - 50.0) / 50.0;
        n[c] = std::isfinite(x) ? std::clamp(x, -1.0, 1.0) : 0.0;
        s0 += w;
        s1 += w * n[c];
    }
    if (!(s0 > 0.0)) {
        for (std::size_t c = 0; c < kComponentCount; ++c) {
            r.weight[c] = 0.0;
        }
        r.reliability = 0.0;
        r.score_raw = r.score = 50.0;
        return r; // direction, consensus, confidence, disagreement, quality_impact are 0
    }
    r.reliability = std::min(s0, 1.0); // rounding of Σ W over all six can exceed 1
    const auto [d, v, consensus] = agreement(r.weight, n, s0, s1);
    const double confidence = std::clamp(std::fabs(d) * consensus, 0.0, 1.0);
    const double dev = 50.0 * d; // B - 50, without the rounding of going through B
    const double raw = 50.0 + dev;

    double score = 0.0;
    if (confidence > cfg_.amplify_confidence && consensus > cfg_.amplify_consensus) {
        const double factor =
            std::min(1.0 + (confidence - cfg_.amplify_confidence) * cfg_.max_amplification /
                               (1.0 - cfg_.amplify_confidence),
                     1.0 + cfg_.max_amplification);
        score = std::clamp(50.0 + dev * factor, 0.0, 100.0);
    } else {
        score = 50.0 + dev * confidence;
    }

    r.direction = d;
    r.consensus = consensus;
    r.confidence = confidence;
    r.disagreement = v;
    r.score_raw = raw;
    r.score = score;
    r.quality_impact = raw - score;
    return r;
}

} // namespace confluex
