// The orderflow and volume components (formulas and their reasons in flow_signals.hpp).
#include "confluex/flow_signals.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {

double g(double v, double sensitivity) noexcept {
    return 50.0 + 50.0 * detail::tanh_abs_error_4e16(v / sensitivity);
}

double evidence(std::uint64_t n, std::uint64_t min_trades) noexcept {
    return n >= min_trades ? 1.0 : static_cast<double>(n) / static_cast<double>(min_trades);
}

double signed_ratio(double a, double b) noexcept { return a + b > 0.0 ? (a - b) / (a + b) : 0.0; }

// Share of the window span (w_k) the stream has covered: min(1, elapsed / w_k).
double coverage(const TradeFlow& flow, std::size_t k) noexcept {
    const double elapsed =
        static_cast<double>(flow.last_ts_ns()) - static_cast<double>(flow.start_ts_ns());
    const double span = static_cast<double>(flow.window_ns(k));
    return elapsed > 0.0 ? std::min(1.0, elapsed / span) : 0.0;
}

// Scales weights[i] by cover[i] when warm-up tracking is on; returns the warm share of the
// configured weight (1 when off).
template <std::size_t N>
double warm(std::array<double, N>& weights, const std::array<double, N>& cover, bool on) noexcept {
    if (!on) {
        return 1.0;
    }
    double full = 0.0;
    double used = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        full += weights[i];
        weights[i] *= cover[i];
        used += weights[i];
    }
    return full > 0.0 ? std::clamp(used / full, 0.0, 1.0) : 0.0;
}

template <std::size_t N>
void validate_weights(const char* what, const std::array<double, N>& w,
                      const std::array<const char*, N>& names) {
    double sum = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        if (!std::isfinite(w[i]) || !(w[i] >= 0.0)) {
            throw InvalidConfig(std::string("FlowSignalsConfig: ") + what + "[" + names[i] +
                                "] must be finite and >= 0, was " + std::to_string(w[i]));
        }
        sum += w[i];
    }
    if (!(sum > 0.0) || !std::isfinite(sum)) {
        throw InvalidConfig(std::string("FlowSignalsConfig: ") + what +
                            " must have a finite positive sum, was " + std::to_string(sum));
    }
}

template <std::size_t N>
void finish(const std::array<const char*, N>& names, const std::array<double, N>& weights,
            const std::array<double, N>& subs, bool has_data, double warmup,
            ComponentScore& out) noexcept {
    static_assert(N <= kMaxSubScores);
    out = ComponentScore{};
    out.has_data = has_data;
    out.warmup = warmup;
    out.n_sub = static_cast<std::uint8_t>(N);
    double wsum = 0.0;
    double dev = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        out.sub_name[i] = names[i];
        out.sub_weight[i] = weights[i];
        out.sub[i] = has_data ? subs[i] : 50.0;
        wsum += weights[i];
        dev += weights[i] * (out.sub[i] - 50.0);
    }
    out.score = wsum > 0.0 ? 50.0 + dev / wsum : 50.0;
}

} // namespace

void FlowSignalsConfig::validate() const {
    if (min_trades < 1) {
        throw InvalidConfig("FlowSignalsConfig: min_trades must be >= 1, was " +
                            std::to_string(min_trades));
    }
    if (!(sensitivity > 0.0) || !std::isfinite(sensitivity)) {
        throw InvalidConfig("FlowSignalsConfig: sensitivity must be finite and > 0, was " +
                            std::to_string(sensitivity));
    }
    if (!(cvd_fallback_gain > 0.0) || !std::isfinite(cvd_fallback_gain)) {
        throw InvalidConfig("FlowSignalsConfig: cvd_fallback_gain must be finite and > 0, was " +
                            std::to_string(cvd_fallback_gain));
    }
    validate_weights("orderflow_weights", orderflow_weights, kOrderflowSubNames);
    validate_weights("volume_weights", volume_weights, kVolumeSubNames);
}

void FlowExtrasConfig::validate() const {
    const std::string p = "FlowExtrasConfig.";
    const auto positive = [&](const char* name, double v) {
        if (!(v > 0.0) || !std::isfinite(v)) {
            throw InvalidConfig(p + name + " must be finite and > 0, was " + std::to_string(v));
        }
    };
    positive("oi_scale", oi_scale);
    positive("price_scale", price_scale);
    if (!(oi_unwind_factor >= 0.0 && oi_unwind_factor <= 1.0)) {
        throw InvalidConfig(p + "oi_unwind_factor must be within [0, 1], was " +
                            std::to_string(oi_unwind_factor));
    }
    if (divergence_bars < 2 || divergence_bars > 1024) {
        throw InvalidConfig(p + "divergence_bars must be within [2, 1024], was " +
                            std::to_string(divergence_bars));
    }
    if (!(divergence_recency >= 1.0) || !std::isfinite(divergence_recency)) {
        throw InvalidConfig(p + "divergence_recency must be finite and >= 1, was " +
                            std::to_string(divergence_recency));
    }
    if (liquidity_refresh_ns < 0) {
        throw InvalidConfig(p + "liquidity_refresh_ns must be >= 0, was " +
                            std::to_string(liquidity_refresh_ns));
    }
}

double oi_quadrant_score(double oi_change, double price_change,
                         const FlowExtrasConfig& cfg) noexcept {
    if (!std::isfinite(oi_change) || !std::isfinite(price_change)) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    const double x = detail::tanh_abs_error_4e16(price_change / cfg.price_scale);
    const double y = detail::tanh_abs_error_4e16(oi_change / cfg.oi_scale);
    const double lean = y > 0.0 ? y : cfg.oi_unwind_factor * y;
    return 50.0 + 50.0 * x * lean;
}

double cvd_divergence_score(std::span<const double> delta, std::span<const double> volume,
                            std::span<const double> close, double recency,
                            double sensitivity) noexcept {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    const std::size_t n = std::min({delta.size(), volume.size(), close.size()});
    if (n < 2) {
        return kNaN;
    }
    double w = 1.0;
    double wd = 0.0;
    double wv = 0.0;
    double abs_ret = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!(close[i] > 0.0) || !std::isfinite(close[i])) {
            return kNaN;
        }
        wd += w * delta[i];
        wv += w * volume[i];
        w *= recency;
        if (i > 0) {
            abs_ret += std::fabs(std::log(close[i] / close[i - 1]));
        }
    }
    if (!(wv > 0.0) || !std::isfinite(wd)) {
        return kNaN;
    }
    const double c = std::clamp(wd / wv, -1.0, 1.0);
    const double steps = static_cast<double>(n - 1);
    const double noise = abs_ret / steps * std::sqrt(steps);
    const double p = noise > 0.0 ? std::log(close[n - 1] / close[0]) / noise : 0.0;
    const double ct = detail::tanh_abs_error_4e16(c / sensitivity);
    const double pt = detail::tanh_abs_error_4e16(p);
    const double d = -ct * pt;
    return d > 0.0 ? 50.0 + 50.0 * std::copysign(d, ct) : 50.0;
}

double relative_activity(const TradeFlow& flow) noexcept {
    const std::size_t last = flow.window_count() - 1;
    const WindowStats& lw = flow.window(last);
    const Lots long_qty = lw.total_qty();
    const double elapsed =
        static_cast<double>(flow.last_ts_ns()) - static_cast<double>(flow.start_ts_ns());
    if (long_qty <= 0 || !(elapsed > 0.0)) {
        return 1.0;
    }
    const double short_qty = static_cast<double>(flow.window(0).total_qty());
    const double short_span = std::min(static_cast<double>(flow.window_ns(0)), elapsed);
    const double long_span = std::min(static_cast<double>(flow.window_ns(last)), elapsed);
    return (short_qty / short_span) / (static_cast<double>(long_qty) / long_span);
}

double activity_multiplier(double rv) noexcept { return 2.0 * (1.0 + rv) / (3.0 + rv); }

void compute_orderflow_component(const TradeFlow& flow, const FlowSignalsConfig& cfg,
                                 ComponentScore& out, const OrderflowExtras& extras) noexcept {
    const std::size_t n = flow.window_count();
    const std::array<std::size_t, 3> idx = {0, n / 2, n - 1};
    std::array<double, 8> subs{};
    for (std::size_t i = 0; i < 3; ++i) {
        const WindowStats& w = flow.window(idx[i]);
        subs[i] = g(evidence(w.count, cfg.min_trades) * w.imbalance(), cfg.sensitivity);
    }
    const RollingZScore& z = flow.cvd_zscore();
    if (z.ready()) {
        subs[3] = 50.0 + 50.0 * flow.last_cvd_z() / z.clip();
    } else if (cfg.warmup) {
        subs[3] = 50.0; // not ready: no reading, and weight 0 below (the fallback saturates)
    } else {
        const double pct = flow.window(flow.config().zscore_window_index).imbalance();
        subs[3] = 50.0 + 50.0 * detail::tanh_abs_error_4e16(cfg.cvd_fallback_gain * pct);
    }
    const WindowStats& lw = flow.window(n - 1);
    const bool has_data = lw.count >= cfg.min_trades;
    std::array<double, 8> weights = cfg.orderflow_weights;
    const std::array<double, 3> extra = {extras.stacked_imbalance, extras.oi_quadrant,
                                         extras.cvd_divergence};
    for (std::size_t i = 0; i < extra.size(); ++i) {
        const bool ok = std::isfinite(extra[i]);
        subs[5 + i] = ok ? std::clamp(extra[i], 0.0, 100.0) : 50.0;
        weights[5 + i] = ok ? weights[5 + i] : 0.0;
    }
    if (lw.large_buy_qty + lw.large_sell_qty > 0) {
        const double li = signed_ratio(static_cast<double>(lw.large_buy_qty),
                                       static_cast<double>(lw.large_sell_qty));
        subs[4] = g(evidence(lw.large_count, cfg.min_trades) * li, cfg.sensitivity);
    } else {
        subs[4] = 50.0;
        weights[4] = 0.0;
    }
    // The extras bring their own warm-up (no data = weight 0 above): full coverage.
    const std::array<double, 8> cover = {coverage(flow, idx[0]),
                                         coverage(flow, idx[1]),
                                         coverage(flow, idx[2]),
                                         z.ready() ? 1.0 : 0.0,
                                         coverage(flow, n - 1),
                                         1.0,
                                         1.0,
                                         1.0};
    const double w = warm(weights, cover, cfg.warmup);
    finish(kOrderflowSubNames, weights, subs, has_data, has_data || !cfg.warmup ? w : 0.0, out);
    if (has_data) {
        // Readings the configured weights leave out (imbalances always read; the z-score
        // once ready or through its fallback; large trades and extras when they had input).
        const std::array<bool, 8> reads = {true,
                                           true,
                                           true,
                                           z.ready() || !cfg.warmup,
                                           lw.large_buy_qty + lw.large_sell_qty > 0,
                                           std::isfinite(extra[0]),
                                           std::isfinite(extra[1]),
                                           std::isfinite(extra[2])};
        for (std::size_t i = 0; i < reads.size(); ++i) {
            if (reads[i] && cfg.orderflow_weights[i] == 0.0) {
                out.sub_unweighted = static_cast<std::uint16_t>(out.sub_unweighted | (1U << i));
            }
        }
    }
}

void compute_volume_component(const TradeFlow& flow, const FlowSignalsConfig& cfg,
                              ComponentScore& out) noexcept {
    const std::size_t n = flow.window_count();
    const double m = activity_multiplier(relative_activity(flow));
    const WindowStats& lw = flow.window(n - 1);
    const double e_long = evidence(lw.count, cfg.min_trades);
    std::array<double, 3> subs{};
    subs[0] = g(m * e_long * lw.imbalance(), cfg.sensitivity);
    subs[1] = g(m * e_long * signed_ratio(lw.buy_notional, lw.sell_notional), cfg.sensitivity);
    const bool has_data = lw.count >= cfg.min_trades;
    const WindowStats& mw = flow.window(n / 2);
    subs[2] = g(m * evidence(mw.count, cfg.min_trades) * mw.imbalance(), cfg.sensitivity);
    std::array<double, 3> weights = cfg.volume_weights;
    const std::array<double, 3> cover = {coverage(flow, n - 1), coverage(flow, n - 1),
                                         coverage(flow, n / 2)};
    const double w = warm(weights, cover, cfg.warmup);
    finish(kVolumeSubNames, weights, subs, has_data, has_data || !cfg.warmup ? w : 0.0, out);
}

} // namespace confluex
