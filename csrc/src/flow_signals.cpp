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

template <std::size_t N>
void finish(const std::array<const char*, N>& names, const std::array<double, N>& weights,
            const std::array<double, N>& subs, bool has_data, ComponentScore& out) noexcept {
    static_assert(N <= kMaxSubScores);
    out = ComponentScore{};
    out.has_data = has_data;
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
                                 ComponentScore& out) noexcept {
    const std::size_t n = flow.window_count();
    const std::array<std::size_t, 3> idx = {0, n / 2, n - 1};
    std::array<double, 5> subs{};
    for (std::size_t i = 0; i < 3; ++i) {
        const WindowStats& w = flow.window(idx[i]);
        subs[i] = g(evidence(w.count, cfg.min_trades) * w.imbalance(), cfg.sensitivity);
    }
    const RollingZScore& z = flow.cvd_zscore();
    if (z.ready()) {
        subs[3] = 50.0 + 50.0 * flow.last_cvd_z() / z.clip();
    } else {
        const double pct = flow.window(flow.config().zscore_window_index).imbalance();
        subs[3] = 50.0 + 50.0 * detail::tanh_abs_error_4e16(cfg.cvd_fallback_gain * pct);
    }
    const WindowStats& lw = flow.window(n - 1);
    const bool has_data = lw.count >= cfg.min_trades;
    std::array<double, 5> weights = kOrderflowWeights;
    if (lw.large_buy_qty + lw.large_sell_qty > 0) {
        const double li = signed_ratio(static_cast<double>(lw.large_buy_qty),
                                       static_cast<double>(lw.large_sell_qty));
        subs[4] = g(evidence(lw.large_count, cfg.min_trades) * li, cfg.sensitivity);
    } else {
        subs[4] = 50.0;
        weights[4] = 0.0;
    }
    finish(kOrderflowSubNames, weights, subs, has_data, out);
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
    finish(kVolumeSubNames, kVolumeWeights, subs, has_data, out);
}

} // namespace confluex
