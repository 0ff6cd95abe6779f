// confluex/hft_portfolio.hpp
//
// Provides the HFT note's RiskAdjustedConfluenceHFT kernel (risk_adjusted_opportunity()) and
// PortfolioScorer (PortfolioHFTScoring): per-symbol rank score, risk-adjusted score, execution
// priority and position multiplier, kept ranked across the universe on every update, with the
// portfolio correlation kept incrementally as an exponentially weighted covariance of returns.
//
// Formulas (c = the symbol's ConfluenceComponent, hft_scoring.hpp):
//   rank_score          = 0.4 |c.directional_bias| + 0.4 c.reliability + 0.2 |c.momentum|
//   base_opportunity    = c.signal_strength c.reliability
//   volatility_penalty  = min(vol / vol_ref, 1)                  (0 and flagged when vol is NaN)
//   liquidity_bonus     = min(liquidity, 1)                      (1 and flagged when NaN)
//   correlation_penalty = |corr|, corr = the symbol's portfolio correlation
//   risk_adjusted_score = base (1 - 0.3 vp) liquidity_bonus (1 - 0.2 cp)   (the note's form)
//   execution_priority  = risk_adjusted_score (0.5 + 0.5 |c.momentum|)
//   position_multiplier = risk_adjusted_score / max over the universe (0 when that max is 0):
//                         the best opportunity gets full size, the others in proportion.
// Zero liquidity: a liquidity of exactly 0 makes the score 0 (a book that cannot be traded
// has no opportunity), but never silently: kFlagNoLiquidity is set and base_opportunity keeps
// the value before the risk adjustments. An unknown (NaN) liquidity is not read as zero: the
// bonus is 1 and kFlagLiquidityUnknown is set. (The note multiplied by liquidity_bonus, so a
// missing liquidity figure zeroed the opportunity with no trace.)
//
// Ranking: by risk_adjusted_score descending, then rank_score descending, then symbol id
// ascending (a total order, so the ranking is deterministic). update() re-scores one symbol and
// moves it to its place: O(N). update_returns() changes every correlation, so it re-scores all
// symbols and re-sorts: O(N^2) for the covariance plus O(N log N).
//
// Correlation: update_returns() takes one bar of returns, one per symbol. With decay
// a = 1 - 2^(-1/corr_halflife): S_w = (1 - a) S_w + 1, S_i = (1 - a) S_i + r_i,
// S_ij = (1 - a) S_ij + r_i r_j; cov_ij = S_ij / S_w - (S_i / S_w)(S_j / S_w). The portfolio
// correlation of symbol i is the correlation of r_i with the equal-weight basket of the other
// symbols, from the row sums of cov: 0 before min_corr_samples bars or with one symbol.
//
// Threading: owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "confluex/hft_scoring.hpp"

namespace confluex::hft {

struct PortfolioConfig {
    double vol_ref = 0.02;             // finite, > 0
    double vol_penalty_weight = 0.3;   // [0, 1]
    double corr_penalty_weight = 0.2;  // [0, 1]
    double corr_halflife = 100.0;      // bars, finite, > 0
    std::size_t min_corr_samples = 20; // >= 2

    // PortfolioConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

struct RiskAdjustedOpportunity {
    double risk_adjusted_opportunity = 0.0;
    double base_opportunity = 0.0;
    double volatility_penalty = 0.0;
    double liquidity_bonus = 1.0;
    double correlation_penalty = 0.0;
    std::uint32_t flags = 0; // kFlag* of hft_scoring.hpp
};

// risk_adjusted_opportunity()
// Returns the note's risk-adjusted opportunity with the fixes above.
// REQUIRES: cfg.validate() passed.
[[nodiscard]] RiskAdjustedOpportunity
risk_adjusted_opportunity(double signal_strength, double reliability, double volatility,
                          double liquidity, double correlation,
                          const PortfolioConfig& cfg) noexcept;

struct SymbolOpportunity {
    double rank_score = 0.0;
    double risk_adjusted_score = 0.0;
    double execution_priority = 0.0;
    double position_multiplier = 0.0;
    double base_opportunity = 0.0;
    double volatility_penalty = 0.0;
    double liquidity_bonus = 1.0;
    double correlation_penalty = 0.0;
    double correlation = 0.0;
    double momentum = 0.0;
    std::uint32_t flags = 0;
    std::uint32_t rank = 0; // 0 = best
    bool scored = false;    // false until the first update()
};

class PortfolioScorer {
  public:
    // PortfolioScorer::PortfolioScorer()
    // Creates a universe of n_symbols (ids 0..n-1), all unscored. Validates cfg (InvalidConfig;
    // also for n_symbols == 0). Allocates everything once.
    PortfolioScorer(std::size_t n_symbols, PortfolioConfig cfg = {});

    // PortfolioScorer::update()
    // Re-scores one symbol from its component, volatility (NaN: unknown) and liquidity (NaN:
    // unknown), and moves it to its place in the ranking. Throws UnknownSymbol for a bad id,
    // InvalidEvent for a component or value out of range (state unchanged).
    void update(std::size_t sym, const ConfluenceComponent& c, double volatility, double liquidity);

    // PortfolioScorer::update_returns()
    // Adds one bar of returns (n == size(), all finite; InvalidEvent otherwise, unchanged),
    // updates the covariance, then re-scores and re-ranks every scored symbol.
    void update_returns(const double* returns, std::size_t n);

    // PortfolioScorer::opportunity()
    // Returns the symbol's scores, position_multiplier computed against the current best.
    [[nodiscard]] SymbolOpportunity opportunity(std::size_t sym) const;
    // PortfolioScorer::ranking()
    // Returns the symbol ids, best first (unscored symbols last, by id).
    [[nodiscard]] const std::vector<std::uint32_t>& ranking() const noexcept { return order_; }
    // Returns the EW correlation of two symbols' returns (0 before min_corr_samples bars).
    [[nodiscard]] double correlation(std::size_t i, std::size_t j) const;
    // Returns the correlation of symbol i with the equal-weight basket of the others.
    [[nodiscard]] double portfolio_correlation(std::size_t i) const;
    [[nodiscard]] std::size_t size() const noexcept { return opp_.size(); }
    [[nodiscard]] std::size_t bars() const noexcept { return bars_; }
    [[nodiscard]] const PortfolioConfig& config() const noexcept { return cfg_; }

  private:
    void check_sym(std::size_t sym) const;
    void rescore(std::size_t sym) noexcept;
    [[nodiscard]] bool better(std::uint32_t a, std::uint32_t b) const noexcept;
    void place(std::size_t sym) noexcept;
    [[nodiscard]] double cov(std::size_t i, std::size_t j) const noexcept;

    PortfolioConfig cfg_;
    double alpha_;
    std::vector<SymbolOpportunity> opp_;
    std::vector<ConfluenceComponent> comp_;
    std::vector<double> vol_;
    std::vector<double> liq_;
    std::vector<double> pcorr_; // portfolio correlation per symbol, cached per bar
    std::vector<std::uint32_t> order_;
    std::vector<std::uint32_t> pos_; // pos_[sym] = index in order_
    std::vector<double> s_;          // EW sums of returns
    std::vector<double> sxy_;        // EW sums of products, n x n
    std::vector<double> row_;        // scratch: row sums of cov
    double sw_ = 0.0;
    std::size_t bars_ = 0;
};

} // namespace confluex::hft
