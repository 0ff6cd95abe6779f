#include "confluex/hft_scoring.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "confluex/errors.hpp"

namespace confluex::hft {

namespace {

double clip1(double x) noexcept { return std::clamp(x, -1.0, 1.0); }

// Weighted mean over the available (non-NaN) terms; 0 when none is.
struct WMean {
    double num = 0.0;
    double den = 0.0;
    void add(double w, double x) noexcept {
        if (!std::isnan(x)) {
            num += w * x;
            den += w;
        }
    }
    [[nodiscard]] double value() const noexcept { return den > 0.0 ? num / den : 0.0; }
};

double sign_of(double x) noexcept { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }

void check(bool ok, const char* field, double v) {
    if (!ok) {
        throw InvalidEvent(std::string("HftInputs.") + field + " out of range, was " +
                           std::to_string(v));
    }
}
bool nan_or_in(double v, double lo, double hi) noexcept {
    return std::isnan(v) || (v >= lo && v <= hi);
}
bool nan_or_nonneg(double v) noexcept { return std::isnan(v) || (v >= 0 && std::isfinite(v)); }
bool finite_nonneg(double v) noexcept { return std::isfinite(v) && v >= 0; }

void config_check(bool ok, const char* what, double v) {
    if (!ok) {
        throw InvalidConfig(std::string(what) + ", was " + std::to_string(v));
    }
}

} // namespace

// --- 1. confluence component -----------------------------------------------------------------

ConfluenceComponent extract_confluence_component(const ConfluenceInputs& in) noexcept {
    ConfluenceComponent c;
    c.directional_bias = clip1((in.score - 50.0) / 50.0);
    c.signal_strength = std::fabs(c.directional_bias);
    c.reliability = in.reliability;
    c.confidence = in.confidence;

    // Flow persistence: mean imbalance times its sign agreement across windows.
    double fsum = 0.0;
    double fabs_sum = 0.0;
    int fn = 0;
    for (const double f : {in.flow_short, in.flow_medium, in.flow_long}) {
        if (!std::isnan(f)) {
            fsum += f;
            fabs_sum += std::fabs(f);
            ++fn;
        }
    }
    double persistence = kNaN;
    if (fn > 0) {
        persistence = fabs_sum > 0.0 ? (fsum / fn) * (std::fabs(fsum) / fabs_sum) : 0.0;
    }
    WMean mom;
    mom.add(0.35, persistence);
    mom.add(0.25, in.cvd);
    mom.add(0.20, in.ofi);
    mom.add(0.20, in.technical);
    c.momentum = clip1(mom.value());

    WMean rev;
    rev.add(0.40, in.microprice);
    if (!std::isnan(in.flow_short) && !std::isnan(in.flow_long)) {
        rev.add(0.30, -(in.flow_short - in.flow_long) / 2.0);
    }
    if (!std::isnan(in.rsi)) {
        double r = 0.0;
        if (in.rsi < 30.0) {
            r = (30.0 - in.rsi) / 30.0;
        } else if (in.rsi > 70.0) {
            r = -(in.rsi - 70.0) / 30.0;
        }
        rev.add(0.15, r);
    }
    if (!std::isnan(in.range_position)) {
        rev.add(0.15, 1.0 - 2.0 * in.range_position);
    }
    c.mean_reversion = clip1(rev.value());
    return c;
}

// --- 2. multi-timeframe ----------------------------------------------------------------------

void MultiTimeframeConfig::validate() const {
    double sum = 0.0;
    for (const double w : weights) {
        config_check(std::isfinite(w) && w >= 0,
                     "MultiTimeframeConfig: weights must be finite and >= 0", w);
        sum += w;
    }
    config_check(sum > 0, "MultiTimeframeConfig: weights must have a positive sum", sum);
    config_check(std::isfinite(flow_sensitivity) && flow_sensitivity > 0,
                 "MultiTimeframeConfig: flow_sensitivity must be finite and > 0", flow_sensitivity);
    config_check(min_trades >= 1, "MultiTimeframeConfig: min_trades must be >= 1",
                 static_cast<double>(min_trades));
    config_check(book_share_1s >= 0 && book_share_1s <= 1,
                 "MultiTimeframeConfig: book_share_1s must be in [0, 1]", book_share_1s);
}

MultiTimeframeResult
combine_timeframes(const std::array<TimeframeScore, kTimeframeCount>& tf,
                   const std::array<double, kTimeframeCount>& weights) noexcept {
    MultiTimeframeResult r;
    double wc = 0.0;
    double wcx = 0.0;
    double wcabs = 0.0;
    double wsum = 0.0;
    for (std::size_t k = 0; k < kTimeframeCount; ++k) {
        TimeframeScore s = tf[k];
        s.strength = std::fabs(s.directional);
        r.individual[k] = s;
        const double w = weights[k] * s.confidence;
        wc += w;
        wcx += w * s.directional;
        wcabs += w * s.strength;
        wsum += weights[k];
    }
    if (wc > 0.0) {
        r.composite_directional = clip1(wcx / wc);
        r.composite_strength = std::min(wcabs / wc, 1.0);
    }
    if (wcabs > 0.0) {
        r.timeframe_alignment = std::min(std::fabs(wcx) / wcabs, 1.0);
    }
    r.weight_confidence = wsum > 0.0 ? wc / wsum : 0.0;
    return r;
}

std::array<TimeframeScore, kTimeframeCount>
timeframe_scores(const TradeFlow& flow, double book_directional,
                 const MultiTimeframeConfig& cfg) noexcept {
    std::array<TimeframeScore, kTimeframeCount> out{};
    const std::size_t nw = flow.config().windows_ns.size();
    const double inv_sens = 1.0 / cfg.flow_sensitivity;
    for (std::size_t k = 0; k < kTimeframeCount && k < nw; ++k) {
        const WindowStats& w = flow.window(k);
        const double e =
            std::min(1.0, static_cast<double>(w.count) / static_cast<double>(cfg.min_trades));
        out[k].directional = std::tanh(e * w.imbalance() * inv_sens);
        out[k].confidence = e;
    }
    if (!std::isnan(book_directional)) {
        const double b = cfg.book_share_1s;
        out[0].directional = (1.0 - b) * out[0].directional + b * clip1(book_directional);
        out[0].confidence = (1.0 - b) * out[0].confidence + b;
    }
    for (auto& s : out) {
        s.strength = std::fabs(s.directional);
    }
    return out;
}

// --- 4. market making ------------------------------------------------------------------------

MarketMakingScores market_making_scores(const ConfluenceComponent& c,
                                        double inventory_impact) noexcept {
    MarketMakingScores m;
    m.inventory_bias = clip1(c.directional_bias + inventory_impact);
    m.spread_adjustment = std::clamp(1.0 - c.reliability, 0.0, 1.0);
    m.size_multiplier = c.signal_strength * c.reliability;
    m.price_skew = 0.5 * m.inventory_bias;
    m.activity_level = c.signal_strength;
    return m;
}

// --- 3. composite ----------------------------------------------------------------------------

void HftScoringConfig::validate() const {
    const double ws[] = {w_confluence, w_microstructure, w_timeframe, inventory_weight};
    for (const double w : ws) {
        config_check(std::isfinite(w) && w >= 0,
                     "HftScoringConfig: weights must be finite and >= 0", w);
    }
    config_check(w_confluence + w_microstructure + w_timeframe > 0,
                 "HftScoringConfig: w_confluence + w_microstructure + w_timeframe must be > 0",
                 w_confluence + w_microstructure + w_timeframe);
    const double refs[] = {ofi_sensitivity, spread_ref_bps, liquidity_ref, vol_ref};
    for (const double r : refs) {
        config_check(std::isfinite(r) && r > 0,
                     "HftScoringConfig: ofi_sensitivity, spread_ref_bps, liquidity_ref and vol_ref "
                     "must be finite and > 0",
                     r);
    }
    config_check(vol_penalty_weight >= 0 && vol_penalty_weight <= 1,
                 "HftScoringConfig: vol_penalty_weight must be in [0, 1]", vol_penalty_weight);
    config_check(corr_penalty_weight >= 0 && corr_penalty_weight <= 1,
                 "HftScoringConfig: corr_penalty_weight must be in [0, 1]", corr_penalty_weight);
    timeframe.validate();
}

void validate_inputs(const HftInputs& in) {
    const ConfluenceInputs& c = in.confluence;
    check(in.confluence.score >= 0 && c.score <= 100, "confluence.score", c.score);
    check(c.reliability >= 0 && c.reliability <= 1, "confluence.reliability", c.reliability);
    check(c.confidence >= 0 && c.confidence <= 1, "confluence.confidence", c.confidence);
    check(nan_or_in(c.flow_short, -1, 1), "confluence.flow_short", c.flow_short);
    check(nan_or_in(c.flow_medium, -1, 1), "confluence.flow_medium", c.flow_medium);
    check(nan_or_in(c.flow_long, -1, 1), "confluence.flow_long", c.flow_long);
    check(nan_or_in(c.cvd, -1, 1), "confluence.cvd", c.cvd);
    check(nan_or_in(c.ofi, -1, 1), "confluence.ofi", c.ofi);
    check(nan_or_in(c.microprice, -1, 1), "confluence.microprice", c.microprice);
    check(nan_or_in(c.technical, -1, 1), "confluence.technical", c.technical);
    check(nan_or_in(c.rsi, 0, 100), "confluence.rsi", c.rsi);
    check(nan_or_in(c.range_position, 0, 1), "confluence.range_position", c.range_position);
    check(nan_or_nonneg(in.spread_bps), "spread_bps", in.spread_bps);
    check(nan_or_nonneg(in.bid_depth), "bid_depth", in.bid_depth);
    check(nan_or_nonneg(in.ask_depth), "ask_depth", in.ask_depth);
    check(std::isnan(in.ofi) || std::isfinite(in.ofi), "ofi", in.ofi);
    check(nan_or_in(in.queue_imbalance, -1, 1), "queue_imbalance", in.queue_imbalance);
    for (const auto& t : in.timeframes) {
        check(t.directional >= -1 && t.directional <= 1, "timeframes.directional", t.directional);
        check(t.confidence >= 0 && t.confidence <= 1, "timeframes.confidence", t.confidence);
    }
    check(std::isfinite(in.position), "position", in.position);
    check(finite_nonneg(in.max_position), "max_position", in.max_position);
    check(nan_or_nonneg(in.volatility), "volatility", in.volatility);
    check(finite_nonneg(in.drawdown), "drawdown", in.drawdown);
    check(finite_nonneg(in.max_drawdown), "max_drawdown", in.max_drawdown);
    check(finite_nonneg(in.exposure), "exposure", in.exposure);
    check(finite_nonneg(in.exposure_limit), "exposure_limit", in.exposure_limit);
    check(in.correlation >= -1 && in.correlation <= 1, "correlation", in.correlation);
}

void compute_composite(const HftInputs& in, const HftScoringConfig& cfg,
                       CompositeScore& out) noexcept {
    out = CompositeScore{};
    out.confluence = extract_confluence_component(in.confluence);
    out.timeframes = combine_timeframes(in.timeframes, cfg.timeframe.weights);
    const ConfluenceComponent& cc = out.confluence;

    WMean micro_m;
    if (!std::isnan(in.ofi)) {
        micro_m.add(1.0, std::tanh(in.ofi / cfg.ofi_sensitivity));
    }
    micro_m.add(1.0, in.queue_imbalance);
    const bool has_micro = micro_m.den > 0.0;
    const double micro = micro_m.value();
    const bool has_conf = in.confluence.reliability > 0.0;
    const bool has_tf = out.timeframes.weight_confidence > 0.0;

    const double wc = has_conf ? cfg.w_confluence : 0.0;
    const double wm = has_micro ? cfg.w_microstructure : 0.0;
    const double wt = has_tf ? cfg.w_timeframe : 0.0;
    const double wsum = wc + wm + wt;
    if (wsum > 0.0) {
        out.dir_confluence = wc * cc.directional_bias / wsum;
        out.dir_microstructure = wm * micro / wsum;
        out.dir_timeframe = wt * out.timeframes.composite_directional / wsum;
    }
    const double d0 = out.dir_confluence + out.dir_microstructure + out.dir_timeframe;

    if (in.max_position > 0.0) {
        const double u = in.position / in.max_position;
        out.inventory_impact = -clip1(u);
        out.inventory_utilisation = std::fabs(u);
        if (std::fabs(u) >= 1.0) {
            out.flags |= kFlagInventoryLimit;
        }
    }
    out.dir_inventory = cfg.inventory_weight * out.inventory_impact;
    out.directional_bias = clip1(d0 + out.dir_inventory);
    const double d = out.directional_bias;

    // Urgency.
    out.urgency_signal = std::fabs(d);
    out.urgency_confirmation = 0.5 + 0.5 * std::max(0.0, sign_of(d) * micro);
    if (std::isnan(in.spread_bps)) {
        out.flags |= kFlagSpreadUnknown;
        out.urgency_spread_factor = 1.0;
    } else {
        out.urgency_spread_factor = cfg.spread_ref_bps / (cfg.spread_ref_bps + in.spread_bps);
    }
    out.execution_urgency = std::clamp(
        out.urgency_signal * out.urgency_confirmation * out.urgency_spread_factor, 0.0, 1.0);

    // Risk-adjusted opportunity.
    out.base_opportunity = std::min(std::fabs(d0), 1.0) * in.confluence.reliability;
    if (!has_conf) {
        out.flags |= kFlagNoConfluenceData;
    }
    if (std::isnan(in.volatility)) {
        out.flags |= kFlagVolatilityUnknown;
    } else {
        out.volatility_penalty = std::min(in.volatility / cfg.vol_ref, 1.0);
    }
    if (std::isnan(in.bid_depth) || std::isnan(in.ask_depth)) {
        out.flags |= kFlagLiquidityUnknown;
        out.liquidity_bonus = 1.0;
    } else {
        const double liq = std::min(in.bid_depth, in.ask_depth) / cfg.liquidity_ref;
        out.liquidity_bonus = std::min(liq, 1.0);
        if (!(liq > 0.0)) {
            out.flags |= kFlagNoLiquidity;
        }
    }
    out.correlation_penalty = std::fabs(in.correlation);
    if (in.max_drawdown > 0.0) {
        const double r = std::clamp(in.drawdown / in.max_drawdown, 0.0, 1.0);
        out.drawdown_factor = 1.0 - r;
        if (r >= 1.0) {
            out.flags |= kFlagDrawdownLimit;
        }
    }
    const double sd = sign_of(d0);
    const double sp = sign_of(in.position);
    if (in.exposure_limit > 0.0 && (sp == 0.0 || sp == sd)) {
        const double r = std::clamp(in.exposure / in.exposure_limit, 0.0, 1.0);
        out.exposure_factor = 1.0 - r;
        if (r >= 1.0) {
            out.flags |= kFlagExposureLimit;
        }
    }
    out.risk_adjusted_opportunity = std::clamp(
        out.base_opportunity * (1.0 - cfg.vol_penalty_weight * out.volatility_penalty) *
            out.liquidity_bonus * (1.0 - cfg.corr_penalty_weight * out.correlation_penalty) *
            out.drawdown_factor * out.exposure_factor,
        0.0, 1.0);

    out.market_making = market_making_scores(cc, out.inventory_impact);
}

HftScorer::HftScorer(HftScoringConfig cfg) : cfg_((cfg.validate(), cfg)) {}

const CompositeScore& HftScorer::calculate_composite_score(const HftInputs& in) {
    validate_inputs(in);
    compute_composite(in, cfg_, last_);
    return last_;
}

double fast_volume_delta(const double* volume, const double* side, std::size_t n) noexcept {
    double buy = 0.0;
    double sell = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        buy += side[i] > 0.0 ? volume[i] : 0.0;
        sell += side[i] < 0.0 ? volume[i] : 0.0;
    }
    const double tot = buy + sell;
    return tot > 0.0 ? (buy - sell) / tot : 0.0;
}

} // namespace confluex::hft
