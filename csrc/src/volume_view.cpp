#include "confluex/volume_view.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {
double clip100(double x) noexcept { return std::clamp(x, 0.0, 100.0); }
} // namespace

ProfileLevels volume_profile(std::span<const Bar> bars, std::size_t bins, double value_area) {
    std::vector<double> scratch;
    return volume_profile(bars, bins, value_area, scratch);
}

ProfileLevels volume_profile(std::span<const Bar> bars, std::size_t bins, double value_area,
                             std::vector<double>& scratch) {
    if (bins < 1 || bins > 100000) {
        throw InvalidConfig("bins must be in [1, 100000], was " + std::to_string(bins));
    }
    if (!(value_area > 0.0 && value_area <= 1.0)) {
        throw InvalidConfig("value_area must be in (0, 1], was " + std::to_string(value_area));
    }
    ProfileLevels out;
    double lo = 0.0, hi = 0.0, total = 0.0;
    bool first = true;
    for (const Bar& b : bars) {
        if (first) {
            lo = b.low;
            hi = b.high;
            first = false;
        }
        lo = std::min(lo, b.low);
        hi = std::max(hi, b.high);
        total += b.volume;
    }
    if (first || !(total > 0.0)) {
        return out;
    }
    out.low = lo;
    out.high = hi;
    const double width = (hi - lo) / static_cast<double>(bins);
    scratch.assign(bins, 0.0);
    std::vector<double>& vol = scratch;
    for (const Bar& b : bars) {
        std::size_t k = 0;
        if (width > 0.0) {
            const double x = std::floor((b.vwap - lo) / width);
            k = static_cast<std::size_t>(std::clamp(x, 0.0, static_cast<double>(bins - 1)));
        }
        vol[k] += b.volume;
    }
    std::size_t poc = 0;
    for (std::size_t k = 1; k < bins; ++k) {
        if (vol[k] > vol[poc]) {
            poc = k;
        }
    }
    // The area grows only while volume is left outside it: with value_area 1 the sum of the
    // bins read in growth order can round below the bars' total, and the area would otherwise
    // run on over empty bins to the ends of the range.
    std::size_t first_nz = poc, last_nz = poc;
    for (std::size_t k = 0; k < bins; ++k) {
        if (vol[k] > 0.0) {
            first_nz = std::min(first_nz, k);
            last_nz = std::max(last_nz, k);
        }
    }
    std::size_t a = poc, z = poc;
    double in = vol[poc];
    const double target = value_area * total;
    while (in < target && (a > first_nz || z < last_nz)) {
        const double below = a > 0 ? vol[a - 1] : -1.0;
        const double above = z + 1 < bins ? vol[z + 1] : -1.0;
        if (below >= above) {
            in += vol[--a];
        } else {
            in += vol[++z];
        }
    }
    out.poc = lo + (static_cast<double>(poc) + 0.5) * width;
    out.val = lo + static_cast<double>(a) * width;
    out.vah = lo + static_cast<double>(z + 1) * width;
    out.valid = true;
    return out;
}

void VolumeViewConfig::validate() const {
    const auto pos = [](const char* name, std::size_t v) {
        if (v < 1 || v > 100000) {
            throw InvalidConfig(std::string(name) + " must be in [1, 100000], was " +
                                std::to_string(v));
        }
    };
    pos("delta_bars", delta_bars);
    pos("flow_bars", flow_bars);
    pos("cmf_period", cmf_period);
    pos("rvol_period", rvol_period);
    pos("profile_bars", profile_bars);
    pos("profile_bins", profile_bins);
    pos("vwap_bars", vwap_bars);
    if (rvol_min_bars < 1 || rvol_min_bars > rvol_period) {
        throw InvalidConfig("rvol_min_bars must be in [1, rvol_period], was " +
                            std::to_string(rvol_min_bars));
    }
    if (!(value_area > 0.0 && value_area <= 1.0)) {
        throw InvalidConfig("value_area must be in (0, 1], was " + std::to_string(value_area));
    }
    double s = 0.0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        if (!(weights[i] >= 0.0 && std::isfinite(weights[i]))) {
            throw InvalidConfig("weights[" + std::to_string(i) + "] must be finite and >= 0, was " +
                                std::to_string(weights[i]));
        }
        s += weights[i];
    }
    if (!(s > 0.0)) {
        throw InvalidConfig("weights must not all be 0");
    }
    for (std::size_t i = 0; i < vwap_weights.size(); ++i) {
        if (!(vwap_weights[i] >= 0.0 && std::isfinite(vwap_weights[i]))) {
            throw InvalidConfig("vwap_weights[" + std::to_string(i) +
                                "] must be finite and >= 0, was " +
                                std::to_string(vwap_weights[i]));
        }
    }
}

VolumeView::VolumeView(VolumeViewConfig config)
    : config_((config.validate(), config)), cmf_(config.cmf_period),
      rvol_(config.rvol_period, config.rvol_min_bars), vwaps_{Vwap(config.vwap_bars),
                                                              Vwap(config.vwap_bars),
                                                              Vwap(config.vwap_bars),
                                                              Vwap(config.vwap_bars)},
      adl_hist_(config.flow_bars + 1), obv_hist_(config.flow_bars + 1), vol_hist_(config.flow_bars),
      buy_hist_(config.delta_bars), sell_hist_(config.delta_bars), sided_hist_(config.delta_bars),
      bars_(config.profile_bars) {}

void VolumeView::on_bar(std::size_t slot, const Bar& b) {
    if (slot >= 4) {
        throw std::out_of_range("slot must be < 4, was " + std::to_string(slot));
    }
    vwaps_[slot].update(b.vwap, b.volume);
    if (slot != 0) {
        return;
    }
    adl_hist_.push(adl_.update(b.high, b.low, b.close, b.volume));
    obv_hist_.push(obv_.update(b.close, b.volume));
    vol_hist_.push(b.volume);
    cmf_.update(b.high, b.low, b.close, b.volume);
    rvol_.update(b.volume);
    const bool sided = (b.flags & bar_flags::kNoSides) == 0;
    buy_hist_.push(sided ? b.buy_volume : 0.0);
    sell_hist_.push(sided ? b.sell_volume : 0.0);
    sided_hist_.push(sided ? 1.0 : 0.0);
    bars_[bars_head_] = b;
    bars_head_ = bars_head_ + 1 == bars_.size() ? 0 : bars_head_ + 1;
    bars_count_ = std::min(bars_count_ + 1, bars_.size());
    last_ = b;
    ++base_bars_;
}

void VolumeView::sync(const BarBuilder& builder, const std::array<int, 4>& levels) {
    for (std::size_t s = 0; s < 4; ++s) {
        if (levels[s] < 0) {
            continue;
        }
        const auto lvl = static_cast<std::size_t>(levels[s]);
        const std::uint64_t closed = builder.closed_count(lvl);
        const std::uint64_t fresh = closed - std::min(seen_[s], closed);
        const auto readable =
            static_cast<std::size_t>(std::min<std::uint64_t>(fresh, builder.size(lvl)));
        for (std::size_t k = readable; k > 0; --k) {
            on_bar(s, builder.bar(lvl, k - 1));
        }
        seen_[s] = closed;
    }
}

const Vwap& VolumeView::vwap(std::size_t slot) const {
    if (slot >= 4) {
        throw std::out_of_range("slot must be < 4, was " + std::to_string(slot));
    }
    return vwaps_[slot];
}

ProfileLevels VolumeView::profile() const {
    // The ring's storage order does not matter to a profile.
    return volume_profile(std::span<const Bar>(bars_.data(), bars_count_), config_.profile_bins,
                          config_.value_area, profile_bins_);
}

double VolumeView::delta() const noexcept {
    double buy = 0.0, sell = 0.0, sided = 0.0;
    for (std::size_t k = 0; k < buy_hist_.size(); ++k) {
        buy += buy_hist_.back(k);
        sell += sell_hist_.back(k);
        sided += sided_hist_.back(k);
    }
    if (sided == 0.0) {
        return kNaN;
    }
    return buy + sell > 0.0 ? (buy - sell) / (buy + sell) : 0.0;
}

void VolumeView::compute(ComponentScore& out) const {
    out = ComponentScore{};
    out.n_sub = 7;
    std::array<double, 7> s{};
    std::array<bool, 7> have{};
    s.fill(50.0);
    if (base_bars_ > 0) {
        const double d = delta();
        if (d == d) {
            s[0] = 50.0 + 50.0 * d;
            have[0] = true;
        }
        // Window change of a cumulative line over the window's volume, in [-1, 1].
        const auto flow = [&](const DoubleRing& hist) {
            double v = 0.0;
            for (std::size_t k = 0; k < vol_hist_.size(); ++k) {
                v += vol_hist_.back(k);
            }
            const double change = hist.back(0) - hist.back(hist.size() - 1);
            return v > 0.0 ? std::clamp(change / v, -1.0, 1.0) : 0.0;
        };
        if (adl_hist_.size() >= 2) {
            s[1] = 50.0 + 50.0 * flow(adl_hist_);
            have[1] = true;
            s[4] = 50.0 + 50.0 * flow(obv_hist_);
            have[4] = true;
        }
        if (cmf_.ready()) {
            s[2] = 50.0 * (1.0 + cmf_.value());
            have[2] = true;
        }
        if (rvol_.ready()) {
            const double rv = rvol_.value();
            const double body = last_.high > last_.low
                                    ? (last_.close - last_.open) / (last_.high - last_.low)
                                    : 0.0;
            s[3] = 50.0 + 50.0 * body * rv / (1.0 + rv);
            have[3] = true;
        }
        const ProfileLevels p = profile();
        if (p.valid) {
            const double width = p.vah - p.val;
            const double x = width > 0.0 ? (last_.close - p.poc) / width : 0.0;
            s[5] = 50.0 + 50.0 * std::tanh(x);
            have[5] = true;
        }
    }
    double vs = 0.0, vw = 0.0;
    for (std::size_t k = 1; k < 4; ++k) {
        const Vwap& v = vwaps_[k];
        const double w = config_.vwap_weights[k - 1];
        if (!v.ready() || w <= 0.0 || base_bars_ == 0) {
            continue;
        }
        const double sd = v.stddev();
        const double z = sd > 0.0 ? (last_.close - v.value()) / sd : 0.0;
        vs += w * (50.0 + 50.0 * std::tanh(z / 2.0));
        vw += w;
    }
    if (vw > 0.0) {
        s[6] = vs / vw;
        have[6] = true;
    }
    double total = 0.0, wtotal = 0.0;
    for (std::size_t i = 0; i < 7; ++i) {
        out.sub_name[i] = kVolumeNames[i];
        out.sub[i] = clip100(s[i]);
        out.sub_weight[i] = have[i] ? config_.weights[i] : 0.0;
        total += out.sub_weight[i] * out.sub[i];
        wtotal += out.sub_weight[i];
    }
    if (wtotal > 0.0) {
        out.has_data = true;
        out.score = clip100(total / wtotal);
    }
}

} // namespace confluex
