// confluex/volume_view.hpp
//
// Provides the bar-based volume view (spec §3.3): true taker delta, ADL, CMF, OBV, relative
// volume, a volume profile (POC and value area) and multi-timeframe VWAP, each as a
// scale-free, directional 0-100 sub-score, and their weighted mean (volume_delta .20, adl .15,
// cmf .15, relative_volume .15, obv .15, volume_profile .10, vwap .10, as the reference).
//
// Sub-scores (50 neutral), with the reference system's bugs they fix:
// - volume_delta: 50 + 50 (Vb - Vs)/(Vb + Vs) over the last `delta_bars` base bars that carry
//   taker sides (history bars do not). The reference scored trade *sizes* and added its
//   divergence bonus with a positive sign whatever the direction.
// - adl: 50 + 50 (ADL - ADL[-n]) / sum(V over n), n = flow_bars: the share of the window's
//   volume accumulated (in [-1, 1]); the reference min-max normalised the line, so its score
//   depended on the window's history, not its direction.
// - cmf: 50 (1 + CMF(cmf_period)).
// - obv: 50 + 50 (OBV - OBV[-n]) / sum(V over n), n = flow_bars.
// - relative_volume: 50 + 50 body rv/(1 + rv), rv = V / EMA30(V) of the previous bars and
//   body = (C - O)/(H - L) of the last base bar: heavy volume amplifies the bar's direction.
//   The reference was non-directional (any high volume read bullish).
// - volume_profile: 50 + 50 tanh((C - POC) / (VAH - VAL)) over the last `profile_bars` base
//   bars: acceptance above value is bullish, below bearish. The reference peaked in the middle
//   of the value area whatever the direction.
// - vwap: per ltf/mtf/htf, z = (C - VWAP_tf) / sigma_tf (VWAP bands, volume-weighted stddev
//   over `vwap_bars` bars of that timeframe), s_tf = 50 + 50 tanh(z / 2), weighted .25/.35/.40
//   and renormalised over the timeframes with data. The reference used tanh(ln(C/VWAP)) (a 1 %
//   deviation scored 50.5) and did not renormalise when a timeframe was missing.
// A sub-score without data is left out (weight 0), never a made-up neutral value.
//
// Not thread-safe: one thread owns an instance.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "confluex/bar.hpp"
#include "confluex/bar_builder.hpp"
#include "confluex/component.hpp"
#include "confluex/indicators.hpp"

namespace confluex {

// A volume profile's point of control and value area, in price units.
struct ProfileLevels {
    double poc = kNaN; // centre of the highest-volume bin (the lowest such bin on ties)
    double val = kNaN; // lower edge of the value area
    double vah = kNaN; // upper edge of the value area
    double low = kNaN; // profile range
    double high = kNaN;
    bool valid = false; // false without volume
};

// Returns the volume profile of `bars`: `bins` equal bins over [min low, max high], each bar's
// volume put in the bin of its VWAP (typical price for history bars). The value area grows
// from the POC bin one bin at a time toward the side whose next bin holds more volume (the
// lower side on ties) until it holds `value_area` of the volume (the CME method).
// REQUIRES: bins >= 1, 0 < value_area <= 1 (throws InvalidConfig).
[[nodiscard]] ProfileLevels volume_profile(std::span<const Bar> bars, std::size_t bins,
                                           double value_area);
// As above, with the bins in `scratch` (resized to `bins`; it keeps its capacity, so a caller
// that passes the same vector allocates once, not on every bar close).
[[nodiscard]] ProfileLevels volume_profile(std::span<const Bar> bars, std::size_t bins,
                                           double value_area, std::vector<double>& scratch);

struct VolumeViewConfig {
    std::size_t delta_bars = 20;
    std::size_t flow_bars = 20; // ADL and OBV change window
    std::size_t cmf_period = 20;
    std::size_t rvol_period = 30;
    std::size_t rvol_min_bars = 5;
    std::size_t profile_bars = 100;
    std::size_t profile_bins = 50;
    double value_area = 0.70;
    std::size_t vwap_bars = 50;
    // volume_delta, adl, cmf, relative_volume, obv, volume_profile, vwap
    std::array<double, 7> weights{0.20, 0.15, 0.15, 0.15, 0.15, 0.10, 0.10};
    std::array<double, 3> vwap_weights{0.25, 0.35, 0.40}; // ltf, mtf, htf
    // VolumeViewConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

inline constexpr std::array<const char*, 7> kVolumeNames = {
    "volume_delta", "adl", "cmf", "relative_volume", "obv", "volume_profile", "vwap"};

class VolumeView {
  public:
    explicit VolumeView(VolumeViewConfig config = {});
    // VolumeView::on_bar()
    // Feeds one closed bar of timeframe slot (0 base, 1 ltf, 2 mtf, 3 htf). Base bars feed
    // every kernel; the others feed only their VWAP. REQUIRES: slot < 4 (std::out_of_range).
    void on_bar(std::size_t slot, const Bar& b);
    // VolumeView::sync()
    // As TechnicalView::sync.
    void sync(const BarBuilder& builder, const std::array<int, 4>& levels);
    // VolumeView::compute()
    // Fills `out`; has_data false (score 50) before the first base bar.
    void compute(ComponentScore& out) const;
    // Kernel values, for reports and tests.
    [[nodiscard]] const Adl& adl() const noexcept { return adl_; }
    [[nodiscard]] const Obv& obv() const noexcept { return obv_; }
    [[nodiscard]] const Cmf& cmf() const noexcept { return cmf_; }
    [[nodiscard]] const RelativeVolume& relative_volume() const noexcept { return rvol_; }
    [[nodiscard]] const Vwap& vwap(std::size_t slot) const;
    [[nodiscard]] ProfileLevels profile() const;
    [[nodiscard]] double delta() const noexcept; // (Vb - Vs)/(Vb + Vs), NaN without sides
    [[nodiscard]] const VolumeViewConfig& config() const noexcept { return config_; }

  private:
    VolumeViewConfig config_;
    Adl adl_;
    Obv obv_;
    Cmf cmf_;
    RelativeVolume rvol_;
    std::array<Vwap, 4> vwaps_;
    DoubleRing adl_hist_, obv_hist_, vol_hist_, buy_hist_, sell_hist_, sided_hist_;
    std::vector<Bar> bars_; // ring of the last profile_bars base bars
    std::size_t bars_head_ = 0, bars_count_ = 0;
    Bar last_{};
    std::uint64_t base_bars_ = 0;
    std::array<std::uint64_t, 4> seen_{};
    mutable std::vector<double> profile_bins_; // profile()'s bins, reused
};

} // namespace confluex
