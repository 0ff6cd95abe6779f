#include "confluex/technical.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {
double clip100(double x) noexcept { return std::clamp(x, 0.0, 100.0); }
} // namespace

double band_score(double u, double lo, double hi) noexcept {
    if (!(u == u)) {
        return 50.0;
    }
    u = std::clamp(u, 0.0, 100.0);
    if (u < lo) {
        return 25.0 + 25.0 * (lo - u) / lo;
    }
    if (u > hi) {
        return 75.0 - 25.0 * (u - hi) / (100.0 - hi);
    }
    return 25.0 + 50.0 * (u - lo) / (hi - lo);
}

double rsi_score(double rsi) noexcept { return band_score(rsi, 30.0, 70.0); }

double williams_r_score(double wr) noexcept { return band_score(wr + 100.0, 20.0, 80.0); }

double macd_score(double macd, double hist, double atr) noexcept {
    if (!(atr > 0.0)) {
        return 50.0;
    }
    return clip100(50.0 + 30.0 * std::tanh(2.0 * hist / atr) + 20.0 * std::tanh(macd / atr));
}

double ao_score(double ao, double ao_prev, double atr) noexcept {
    if (!(atr > 0.0)) {
        return 50.0;
    }
    const double d = ao_prev == ao_prev ? ao - ao_prev : 0.0;
    return clip100(50.0 + 30.0 * std::tanh(ao / atr) + 20.0 * std::tanh(2.0 * d / atr));
}

double atr_score(double close, double close_n_ago, double atr, std::size_t n) noexcept {
    if (!(atr > 0.0) || n == 0) {
        return 50.0;
    }
    const double z = (close - close_n_ago) / (atr * std::sqrt(static_cast<double>(n)));
    return clip100(50.0 + 50.0 * std::tanh(z));
}

double cci_score(double cci) noexcept {
    return cci == cci ? clip100(50.0 + 50.0 * std::tanh(cci / 200.0)) : 50.0;
}

// ---- IndicatorSet -----------------------------------------------------------------------
IndicatorSet::IndicatorSet() = default;

void IndicatorSet::update(const Bar& b) noexcept {
    rsi.update(b.close);
    macd.update(b.close);
    ao.update(b.high, b.low);
    williams_r.update(b.high, b.low, b.close);
    atr.update(b.high, b.low, b.close);
    cci.update(b.high, b.low, b.close);
    closes_.push(b.close);
    ++bars_;
}

bool IndicatorSet::ready() const noexcept {
    return rsi.ready() && macd.ready() && ao.ready() && williams_r.ready() && atr.ready() &&
           cci.ready() && closes_.full();
}

std::array<double, kTechIndicators> IndicatorSet::scores() const noexcept {
    const double a = atr.value();
    return {
        rsi_score(rsi.value()),
        macd_score(macd.macd(), macd.hist(), a),
        ao_score(ao.value(), ao.previous(), a),
        williams_r_score(williams_r.value()),
        atr_score(closes_.back(0), closes_.back(closes_.capacity() - 1), a, closes_.capacity() - 1),
        cci_score(cci.value())};
}

void IndicatorSet::reset() noexcept { *this = IndicatorSet{}; }

// ---- TechnicalConfig --------------------------------------------------------------------
void TechnicalConfig::validate() const {
    const auto check = [](const char* name, auto const& arr) {
        double sum = 0.0;
        for (std::size_t i = 0; i < arr.size(); ++i) {
            if (!(arr[i] >= 0.0 && std::isfinite(arr[i]))) {
                throw InvalidConfig(std::string(name) + "[" + std::to_string(i) +
                                    "] must be finite and >= 0, was " + std::to_string(arr[i]));
            }
            sum += arr[i];
        }
        if (!(sum > 0.0)) {
            throw InvalidConfig(std::string(name) + " must not all be 0");
        }
    };
    check("timeframe_weights", timeframe_weights);
    check("weights", weights);
    for (std::size_t i = 0; i < divergence_multipliers.size(); ++i) {
        if (!(divergence_multipliers[i] >= 0.0 && std::isfinite(divergence_multipliers[i]))) {
            throw InvalidConfig("divergence_multipliers[" + std::to_string(i) +
                                "] must be finite and >= 0, was " +
                                std::to_string(divergence_multipliers[i]));
        }
    }
    if (!(divergence_points >= 0.0 && divergence_points <= 50.0)) {
        throw InvalidConfig("divergence_points must be in [0, 50], was " +
                            std::to_string(divergence_points));
    }
}

// ---- TechnicalView ----------------------------------------------------------------------
TechnicalView::TechnicalView(TechnicalConfig config) : config_(config) { config_.validate(); }

void TechnicalView::on_bar(std::size_t slot, const Bar& b) {
    if (slot >= kTechTimeframes) {
        throw std::out_of_range("slot must be < 4, was " + std::to_string(slot));
    }
    sets_[slot].update(b);
}

void TechnicalView::sync(const BarBuilder& builder,
                         const std::array<int, kTechTimeframes>& levels) {
    for (std::size_t s = 0; s < kTechTimeframes; ++s) {
        if (levels[s] < 0) {
            continue;
        }
        const auto lvl = static_cast<std::size_t>(levels[s]);
        const std::uint64_t closed = builder.closed_count(lvl);
        const std::uint64_t fresh = closed - std::min(seen_[s], closed);
        const std::size_t readable =
            static_cast<std::size_t>(std::min<std::uint64_t>(fresh, builder.size(lvl)));
        for (std::size_t k = readable; k > 0; --k) {
            sets_[s].update(builder.bar(lvl, k - 1));
        }
        seen_[s] = closed;
    }
}

void TechnicalView::compute(ComponentScore& out, TechnicalReport* report) const {
    TechnicalReport r{};
    std::array<double, kTechIndicators> wsum{};
    std::array<double, kTechIndicators> acc{};
    bool any = false;
    for (std::size_t s = 0; s < kTechTimeframes; ++s) {
        r.bars[s] = sets_[s].bars();
        r.used[s] = sets_[s].ready() && config_.timeframe_weights[s] > 0.0;
        if (!r.used[s]) {
            r.per_timeframe[s].fill(kNaN);
            continue;
        }
        any = true;
        r.per_timeframe[s] = sets_[s].scores();
        for (std::size_t i = 0; i < kTechIndicators; ++i) {
            acc[i] += config_.timeframe_weights[s] * r.per_timeframe[s][i];
            wsum[i] += config_.timeframe_weights[s];
        }
    }
    out = ComponentScore{};
    out.n_sub = static_cast<std::uint8_t>(kTechIndicators);
    for (std::size_t i = 0; i < kTechIndicators; ++i) {
        out.sub_name[i] = kTechNames[i];
        out.sub_weight[i] = config_.weights[i];
        out.sub[i] = 50.0;
    }
    if (!any) {
        r.combined.fill(kNaN);
        if (report != nullptr) {
            *report = r;
        }
        return;
    }
    double total = 0.0;
    double wtotal = 0.0;
    for (std::size_t i = 0; i < kTechIndicators; ++i) {
        r.combined[i] = acc[i] / wsum[i];
        double adj = 0.0;
        if (r.used[0]) {
            const double d0 = (r.per_timeframe[0][i] - 50.0) / 50.0;
            for (std::size_t s = 1; s < kTechTimeframes; ++s) {
                if (!r.used[s]) {
                    continue;
                }
                const double d = (r.per_timeframe[s][i] - 50.0) / 50.0;
                const double disagreement = std::max(0.0, -d0 * d);
                adj += config_.divergence_multipliers[s - 1] * disagreement * (d > 0 ? 1.0 : -1.0);
            }
            adj *= config_.divergence_points;
        }
        r.divergence[i] = adj;
        out.sub[i] = clip100(r.combined[i] + adj);
        total += config_.weights[i] * out.sub[i];
        wtotal += config_.weights[i];
    }
    out.has_data = true;
    out.score = clip100(total / wtotal);
    if (report != nullptr) {
        *report = r;
    }
}

const IndicatorSet& TechnicalView::set(std::size_t slot) const {
    if (slot >= kTechTimeframes) {
        throw std::out_of_range("slot must be < 4, was " + std::to_string(slot));
    }
    return sets_[slot];
}

void TechnicalView::reset() noexcept {
    for (auto& s : sets_) {
        s.reset();
    }
    seen_.fill(0);
}

} // namespace confluex
