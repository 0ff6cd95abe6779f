#include "confluex/hft_portfolio.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "confluex/errors.hpp"

namespace confluex::hft {

namespace {

void cfg_check(bool ok, const char* what, double v) {
    if (!ok) {
        throw InvalidConfig(std::string("PortfolioConfig: ") + what + ", was " + std::to_string(v));
    }
}

void ev_check(bool ok, const char* what, double v) {
    if (!ok) {
        throw InvalidEvent(std::string("PortfolioHFTScoring: ") + what + ", was " +
                           std::to_string(v));
    }
}

} // namespace

void PortfolioConfig::validate() const {
    cfg_check(std::isfinite(vol_ref) && vol_ref > 0, "vol_ref must be finite and > 0", vol_ref);
    cfg_check(vol_penalty_weight >= 0 && vol_penalty_weight <= 1,
              "vol_penalty_weight must be in [0, 1]", vol_penalty_weight);
    cfg_check(corr_penalty_weight >= 0 && corr_penalty_weight <= 1,
              "corr_penalty_weight must be in [0, 1]", corr_penalty_weight);
    cfg_check(std::isfinite(corr_halflife) && corr_halflife > 0,
              "corr_halflife must be finite and > 0", corr_halflife);
    cfg_check(min_corr_samples >= 2, "min_corr_samples must be >= 2",
              static_cast<double>(min_corr_samples));
}

RiskAdjustedOpportunity risk_adjusted_opportunity(double strength, double reliability,
                                                  double volatility, double liquidity,
                                                  double correlation,
                                                  const PortfolioConfig& cfg) noexcept {
    RiskAdjustedOpportunity r;
    r.base_opportunity = strength * reliability;
    if (std::isnan(volatility)) {
        r.flags |= kFlagVolatilityUnknown;
    } else {
        r.volatility_penalty = std::min(volatility / cfg.vol_ref, 1.0);
    }
    if (std::isnan(liquidity)) {
        r.flags |= kFlagLiquidityUnknown;
        r.liquidity_bonus = 1.0;
    } else {
        r.liquidity_bonus = std::min(liquidity, 1.0);
        if (!(liquidity > 0.0)) {
            r.flags |= kFlagNoLiquidity;
        }
    }
    r.correlation_penalty = std::isnan(correlation) ? 0.0 : std::min(std::fabs(correlation), 1.0);
    r.risk_adjusted_opportunity =
        r.base_opportunity * (1.0 - cfg.vol_penalty_weight * r.volatility_penalty) *
        r.liquidity_bonus * (1.0 - cfg.corr_penalty_weight * r.correlation_penalty);
    return r;
}

PortfolioScorer::PortfolioScorer(std::size_t n, PortfolioConfig cfg)
    : cfg_((cfg.validate(), cfg)), alpha_(1.0 - std::exp2(-1.0 / cfg_.corr_halflife)) {
    if (n == 0 || n > (std::size_t{1} << 16)) {
        throw InvalidConfig("PortfolioHFTScoring: n_symbols must be in [1, 65536], was " +
                            std::to_string(n));
    }
    opp_.resize(n);
    comp_.resize(n);
    vol_.assign(n, kNaN);
    liq_.assign(n, kNaN);
    pcorr_.assign(n, 0.0);
    order_.resize(n);
    pos_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        order_[i] = static_cast<std::uint32_t>(i);
        pos_[i] = static_cast<std::uint32_t>(i);
        opp_[i].rank = static_cast<std::uint32_t>(i);
    }
    s_.assign(n, 0.0);
    sxy_.assign(n * n, 0.0);
    row_.assign(n, 0.0);
}

void PortfolioScorer::check_sym(std::size_t sym) const {
    if (sym >= opp_.size()) {
        throw UnknownSymbol("PortfolioHFTScoring: symbol id must be < " +
                            std::to_string(opp_.size()) + ", was " + std::to_string(sym));
    }
}

void PortfolioScorer::rescore(std::size_t sym) noexcept {
    const ConfluenceComponent& c = comp_[sym];
    SymbolOpportunity& o = opp_[sym];
    const RiskAdjustedOpportunity r = risk_adjusted_opportunity(
        c.signal_strength, c.reliability, vol_[sym], liq_[sym], pcorr_[sym], cfg_);
    o.rank_score =
        0.4 * std::fabs(c.directional_bias) + 0.4 * c.reliability + 0.2 * std::fabs(c.momentum);
    o.risk_adjusted_score = r.risk_adjusted_opportunity;
    o.execution_priority = r.risk_adjusted_opportunity * (0.5 + 0.5 * std::fabs(c.momentum));
    o.base_opportunity = r.base_opportunity;
    o.volatility_penalty = r.volatility_penalty;
    o.liquidity_bonus = r.liquidity_bonus;
    o.correlation_penalty = r.correlation_penalty;
    o.correlation = pcorr_[sym];
    o.momentum = c.momentum;
    o.flags = r.flags;
    o.scored = true;
}

bool PortfolioScorer::better(std::uint32_t a, std::uint32_t b) const noexcept {
    const SymbolOpportunity& x = opp_[a];
    const SymbolOpportunity& y = opp_[b];
    if (x.scored != y.scored) {
        return x.scored;
    }
    if (x.risk_adjusted_score != y.risk_adjusted_score) {
        return x.risk_adjusted_score > y.risk_adjusted_score;
    }
    if (x.rank_score != y.rank_score) {
        return x.rank_score > y.rank_score;
    }
    return a < b;
}

void PortfolioScorer::place(std::size_t sym) noexcept {
    const auto id = static_cast<std::uint32_t>(sym);
    std::size_t p = pos_[sym];
    // Move up while better than the predecessor, then down while worse than the successor.
    while (p > 0 && better(id, order_[p - 1])) {
        order_[p] = order_[p - 1];
        pos_[order_[p]] = static_cast<std::uint32_t>(p);
        --p;
    }
    while (p + 1 < order_.size() && better(order_[p + 1], id)) {
        order_[p] = order_[p + 1];
        pos_[order_[p]] = static_cast<std::uint32_t>(p);
        ++p;
    }
    order_[p] = id;
    pos_[sym] = static_cast<std::uint32_t>(p);
    // Ranks of the symbols between the old and the new place changed by one; refresh them
    // all (O(N), the same order as the moves).
    for (std::size_t i = 0; i < order_.size(); ++i) {
        opp_[order_[i]].rank = static_cast<std::uint32_t>(i);
    }
}

void PortfolioScorer::update(std::size_t sym, const ConfluenceComponent& c, double volatility,
                             double liquidity) {
    check_sym(sym);
    ev_check(c.directional_bias >= -1 && c.directional_bias <= 1,
             "directional_bias must be in [-1, 1]", c.directional_bias);
    ev_check(c.signal_strength >= 0 && c.signal_strength <= 1, "signal_strength must be in [0, 1]",
             c.signal_strength);
    ev_check(c.reliability >= 0 && c.reliability <= 1, "reliability must be in [0, 1]",
             c.reliability);
    ev_check(c.momentum >= -1 && c.momentum <= 1, "momentum must be in [-1, 1]", c.momentum);
    ev_check(std::isnan(volatility) || (std::isfinite(volatility) && volatility >= 0),
             "volatility must be NaN or finite and >= 0", volatility);
    ev_check(std::isnan(liquidity) || (std::isfinite(liquidity) && liquidity >= 0),
             "liquidity must be NaN or finite and >= 0", liquidity);
    comp_[sym] = c;
    vol_[sym] = volatility;
    liq_[sym] = liquidity;
    rescore(sym);
    place(sym);
}

double PortfolioScorer::cov(std::size_t i, std::size_t j) const noexcept {
    const std::size_t n = opp_.size();
    const double mi = s_[i] / sw_;
    const double mj = s_[j] / sw_;
    return sxy_[i * n + j] / sw_ - mi * mj;
}

void PortfolioScorer::update_returns(const double* r, std::size_t n) {
    if (n != opp_.size()) {
        throw InvalidEvent("PortfolioHFTScoring.update_returns: expected " +
                           std::to_string(opp_.size()) + " returns, was " + std::to_string(n));
    }
    for (std::size_t i = 0; i < n; ++i) {
        ev_check(std::isfinite(r[i]), "returns must be finite", r[i]);
    }
    const double keep = 1.0 - alpha_;
    sw_ = keep * sw_ + 1.0;
    for (std::size_t i = 0; i < n; ++i) {
        s_[i] = keep * s_[i] + r[i];
        for (std::size_t j = 0; j < n; ++j) {
            sxy_[i * n + j] = keep * sxy_[i * n + j] + r[i] * r[j];
        }
    }
    ++bars_;
    // Portfolio correlation of each symbol with the basket of the others, from row sums.
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        double row = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            row += cov(i, j);
        }
        row_[i] = row;
        total += row;
    }
    for (std::size_t i = 0; i < n; ++i) {
        pcorr_[i] = 0.0;
        if (n < 2 || bars_ < cfg_.min_corr_samples) {
            continue;
        }
        const double vi = cov(i, i);
        const double c_ib = row_[i] - vi;              // (n-1) cov(r_i, basket)
        const double v_b = total - 2.0 * row_[i] + vi; // (n-1)^2 var(basket)
        if (vi > 1e-300 && v_b > 1e-300) {
            pcorr_[i] = std::clamp(c_ib / std::sqrt(vi * v_b), -1.0, 1.0);
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (opp_[i].scored) {
            rescore(i);
        }
    }
    std::sort(order_.begin(), order_.end(),
              [this](std::uint32_t a, std::uint32_t b) { return better(a, b); });
    for (std::size_t i = 0; i < n; ++i) {
        pos_[order_[i]] = static_cast<std::uint32_t>(i);
        opp_[order_[i]].rank = static_cast<std::uint32_t>(i);
    }
}

SymbolOpportunity PortfolioScorer::opportunity(std::size_t sym) const {
    check_sym(sym);
    SymbolOpportunity o = opp_[sym];
    const double top = opp_[order_[0]].risk_adjusted_score;
    o.position_multiplier = top > 0.0 ? o.risk_adjusted_score / top : 0.0;
    return o;
}

double PortfolioScorer::correlation(std::size_t i, std::size_t j) const {
    check_sym(i);
    check_sym(j);
    if (bars_ < cfg_.min_corr_samples) {
        return 0.0;
    }
    const double vi = cov(i, i);
    const double vj = cov(j, j);
    if (!(vi > 1e-300) || !(vj > 1e-300)) {
        return 0.0;
    }
    return std::clamp(cov(i, j) / std::sqrt(vi * vj), -1.0, 1.0);
}

double PortfolioScorer::portfolio_correlation(std::size_t i) const {
    check_sym(i);
    return pcorr_[i];
}

} // namespace confluex::hft
