// confluex/technical.hpp
//
// Provides the technical view: the six indicator kernels (RSI 14, MACD 12/26/9, AO 5/34,
// Williams %R 14, ATR 14, CCI 20) per timeframe, their 0-100 sub-scores and the technical
// component over the base/ltf/mtf/htf timeframes (1m/5m/30m/4h by default).
//
// Scores (50 neutral, above bullish) are scale-free and continuous; they replace the
// reference system's (spec §3.4) with these fixes:
// - RSI: one piecewise-linear curve, trend-following inside 30..70 (25 -> 75) and fading back
//   to 50 at 0 and 100: continuous at 30 and 70 (the reference jumped 25 -> 100 and 75 -> 50).
// - Williams %R: the same curve on %R + 100 with bands 20/80, so it no longer contradicts RSI.
// - MACD and AO: measured in ATR units (50 + 30 tanh(2 hist/ATR) + 20 tanh(macd/ATR); AO:
//   50 + 30 tanh(AO/ATR) + 20 tanh(2 dAO/ATR)), so BTC and a 1e-5 coin score alike and
//   nothing saturates by price scale.
// - ATR: volatility has no direction; its sub-score is the ATR-normalised move of the close
//   over `period` bars, 50 + 50 tanh((C - C[-n]) / (ATR sqrt n)): symmetric, 50 when flat
//   (the reference's was > 50 for every ATR > 0).
// - CCI: 50 + 50 tanh(CCI / 200), no saturation at |CCI| > 4.
// - The final score is the weighted mean of the six (rsi .20, macd .15, ao .20, williams_r
//   .15, atr .15, cci .15); the reference took an unweighted mean.
//
// Timeframes: each sub-score is the tf-weighted mean (.4/.3/.2/.1) over the timeframes whose
// six kernels are all ready (TA-Lib lookbacks: MACD needs 34 bars); the others are left out,
// renormalised, and reported in `TechnicalReport::used`.
//
// Divergence adjustment (replaces the reference's base-vs-ltf +-10/+-5 rules): with
// d_tf = (s_tf - 50) / 50 the direction of a sub-score on a timeframe, each higher timeframe
// that disagrees with the base pulls the sub-score toward itself:
//   adj = points * sum_{tf in ltf, mtf, htf} m_tf * max(0, -d_base * d_tf) * sign(d_tf),
// with m = .25/.35/.40 and points = 10, so |adj| <= 10. It is 0 when they agree and goes to 0
// continuously as either direction goes to neutral. Needs the base timeframe.
//
// Not thread-safe: one thread owns an instance.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "confluex/bar.hpp"
#include "confluex/bar_builder.hpp"
#include "confluex/component.hpp"
#include "confluex/indicators.hpp"

namespace confluex {

inline constexpr std::size_t kTechTimeframes = 4; // base, ltf, mtf, htf
inline constexpr std::size_t kTechIndicators = 6; // rsi, macd, ao, williams_r, atr, cci
inline constexpr std::array<const char*, kTechIndicators> kTechNames = {
    "rsi", "macd", "ao", "williams_r", "atr", "cci"};
inline constexpr std::array<const char*, kTechTimeframes> kTechSlotNames = {"base", "ltf", "mtf",
                                                                            "htf"};

// Continuous band curve: linear 25 -> 75 over [lo, hi], back to 50 at 0 and at 100.
// REQUIRES: 0 < lo < hi < 100.
[[nodiscard]] double band_score(double u, double lo, double hi) noexcept;
[[nodiscard]] double rsi_score(double rsi) noexcept;       // band_score(rsi, 30, 70)
[[nodiscard]] double williams_r_score(double wr) noexcept; // band_score(wr + 100, 20, 80)
[[nodiscard]] double macd_score(double macd, double hist, double atr) noexcept;
[[nodiscard]] double ao_score(double ao, double ao_prev, double atr) noexcept;
[[nodiscard]] double atr_score(double close, double close_n_ago, double atr,
                               std::size_t n) noexcept;
[[nodiscard]] double cci_score(double cci) noexcept;

// The six kernels of one timeframe, fed one closed bar at a time.
class IndicatorSet {
  public:
    IndicatorSet();
    // IndicatorSet::update()
    // Feeds one closed bar to every kernel: O(1) (CCI O(20)).
    void update(const Bar& b) noexcept;
    // IndicatorSet::ready()
    // Returns whether all six kernels have a value (34 bars with the default periods).
    [[nodiscard]] bool ready() const noexcept;
    // IndicatorSet::scores()
    // Returns the six sub-scores in kTechNames order. REQUIRES: ready().
    [[nodiscard]] std::array<double, kTechIndicators> scores() const noexcept;
    [[nodiscard]] std::uint64_t bars() const noexcept { return bars_; }
    void reset() noexcept;

    Rsi rsi{14};
    Macd macd{12, 26, 9};
    Ao ao{5, 34};
    WilliamsR williams_r{14};
    Atr atr{14};
    Cci cci{20};

  private:
    DoubleRing closes_{15}; // close now and `atr period` bars ago
    std::uint64_t bars_ = 0;
};

struct TechnicalConfig {
    std::array<double, kTechTimeframes> timeframe_weights{0.4, 0.3, 0.2, 0.1};
    std::array<double, kTechIndicators> weights{0.20, 0.15, 0.20, 0.15, 0.15, 0.15};
    std::array<double, kTechTimeframes - 1> divergence_multipliers{0.25, 0.35, 0.40};
    double divergence_points = 10.0;
    // TechnicalConfig::validate()
    // Throws InvalidConfig naming the first bad value (negative or non-finite weight, all zero).
    void validate() const;
};

// What a technical score was computed from.
struct TechnicalReport {
    std::array<bool, kTechTimeframes> used{}; // timeframe had enough bars
    std::array<std::uint64_t, kTechTimeframes> bars{};
    std::array<std::array<double, kTechIndicators>, kTechTimeframes>
        per_timeframe{};                              // NaN if unused
    std::array<double, kTechIndicators> combined{};   // tf-weighted, before divergence
    std::array<double, kTechIndicators> divergence{}; // the adjustment added
};

class TechnicalView {
  public:
    explicit TechnicalView(TechnicalConfig config = {});
    // TechnicalView::on_bar()
    // Feeds one closed bar of timeframe slot (0 base, 1 ltf, 2 mtf, 3 htf).
    // REQUIRES: slot < 4 (throws std::out_of_range).
    void on_bar(std::size_t slot, const Bar& b);
    // TechnicalView::sync()
    // Feeds every bar that `builder` closed at levels[slot] since the last sync, oldest first
    // (only those the builder's ring still holds). A level of -1 leaves the slot unfed.
    void sync(const BarBuilder& builder, const std::array<int, kTechTimeframes>& levels);
    // TechnicalView::compute()
    // Fills `out` (has_data false and score 50 when no timeframe is ready) and, if given,
    // `report`.
    void compute(ComponentScore& out, TechnicalReport* report = nullptr) const;
    [[nodiscard]] const IndicatorSet& set(std::size_t slot) const;
    [[nodiscard]] const TechnicalConfig& config() const noexcept { return config_; }
    void reset() noexcept;

  private:
    TechnicalConfig config_;
    std::array<IndicatorSet, kTechTimeframes> sets_{};
    std::array<std::uint64_t, kTechTimeframes> seen_{};
};

} // namespace confluex
