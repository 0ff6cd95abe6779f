// confluex/price_structure.hpp
//
// Provides PriceStructure: the price-structure view of one symbol on one timeframe, updated
// once per closed Bar, and its 0-100 component score (50 neutral) with six sub-scores under
// one canonical key set (kStructureKeys):
//
//   support_resistance  where the close sits between the nearest swing level below
//                       (support) and above (resistance): near support reads bullish
//   order_blocks        inside / near the zones of impulsive candles (reference §3.5)
//   trend_position      close vs EMA 10/20/50/100/200, their slope and SIGNED alignment
//   market_structure    HH/HL vs LH/LL of confirmed swings, plus break of structure (BOS)
//                       and change of character (CHoCH) events
//   range_analysis      position inside the swing range, swing-failure / sweep events
//   fair_value_gaps     inside / near unfilled three-bar imbalances
//
// Design:
//   - Causal. A swing (pivot) at bar c needs `swing_bars` (N) bars on each side, so it is
//     confirmed at bar c + N and published then, never back-dated. Every other detector
//     reads only the bar being closed and earlier ones. A reading, once returned by
//     update(), is final: nothing later rewrites it (the "no rewrites" property, tested by
//     replaying real bars and recomputing after every bar).
//   - Incremental and allocation-free: fixed rings for the pivot window, swing levels,
//     order blocks and gaps; O(1) work per bar (the rings are small and bounded).
//   - One key set. The reference system emitted order blocks and market structure under
//     keys the weights did not know (`institutional_zones`, `structure_breaks`), so both
//     were silently dropped from the mean (§3.5). Here the sub-scores are indexed by
//     StructureSub, their names come from kStructureKeys, and weights are set by key
//     through structure_sub_index(), which rejects an unknown key (InvalidConfig).
//   - The reference's trend alignment used |Σ sign|, so a clean downtrend also scored +10.
//     Here alignment is the signed mean of sign(close - EMA).
//   - A sub-score with too little history is "not available" (NaN in the reading) and is
//     left out of the mean; none is replaced by a made-up 50.
//
// Arithmetic: running averages are written as x += (y - x) / d so that no multiply-add can
// be contracted into an FMA; the plain-Python reference in the tests then reproduces every
// discrete decision (swings, breaks, zones) exactly.
//
// Threading: single-threaded; one instance per (symbol, timeframe).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "confluex/bar.hpp"
#include "confluex/component.hpp"

namespace confluex {

// The canonical sub-score keys, in StructureSub order.
enum class StructureSub : std::uint8_t {
    SupportResistance = 0,
    OrderBlocks = 1,
    TrendPosition = 2,
    MarketStructure = 3,
    RangeAnalysis = 4,
    FairValueGaps = 5,
};
inline constexpr std::size_t kStructureSubCount = 6;
inline constexpr std::array<const char*, kStructureSubCount> kStructureKeys = {
    "support_resistance", "order_blocks",   "trend_position",
    "market_structure",   "range_analysis", "fair_value_gaps"};

// structure_sub_index()
// Returns the index of a canonical key, or nullopt for any other text.
[[nodiscard]] std::optional<std::size_t> structure_sub_index(std::string_view key) noexcept;

// Event bits of a StructureReading (what happened at the bar that was closed).
namespace structure_events {
inline constexpr std::uint32_t kSwingHigh = 1U << 0;  // a swing high was confirmed (swing_high)
inline constexpr std::uint32_t kSwingLow = 1U << 1;   // a swing low was confirmed (swing_low)
inline constexpr std::uint32_t kHigherHigh = 1U << 2; // ... above the previous swing high
inline constexpr std::uint32_t kLowerHigh = 1U << 3;  // ... at or below it
inline constexpr std::uint32_t kHigherLow = 1U << 4;  // ... above the previous swing low
inline constexpr std::uint32_t kLowerLow = 1U << 5;   // ... at or below it
inline constexpr std::uint32_t kBosUp = 1U << 6; // close above the last swing high, trend not down
inline constexpr std::uint32_t kBosDown = 1U << 7; // close below the last swing low, trend not up
inline constexpr std::uint32_t kChochUp = 1U << 8; // close above the last swing high in a downtrend
inline constexpr std::uint32_t kChochDown = 1U << 9; // close below the last swing low in an uptrend
inline constexpr std::uint32_t kSweepHigh =
    1U << 10; // wick above the range high, close back below (bearish SFP)
inline constexpr std::uint32_t kSweepLow =
    1U << 11; // wick below the range low, close back above (bullish SFP)
inline constexpr std::uint32_t kBullOrderBlock = 1U << 12; // a bullish order block formed
inline constexpr std::uint32_t kBearOrderBlock = 1U << 13;
inline constexpr std::uint32_t kBullGap = 1U << 14; // a bullish fair value gap formed
inline constexpr std::uint32_t kBearGap = 1U << 15;
} // namespace structure_events

struct PriceStructureConfig {
    std::uint32_t swing_bars = 3; // N: bars each side of a pivot; the confirmation delay
    double ob_body = 0.005;       // order block: close beyond open by this fraction
    double ob_range_mult = 1.5;   // ... range above this multiple of the prior 3 ranges' mean
    double ob_volume_mult = 1.5;  // ... volume at least this multiple of the prior 5 volumes' mean
    double range_min_atr = 2.0;   // range valid when high - low >= this many ATR(14)
    double sweep_min = 0.0;       // sweep: wick beyond the range by more than this fraction
    std::uint32_t event_decay_bars =
        10; // BOS/CHoCH and SFP bonuses fade linearly over this many bars
    std::array<double, kStructureSubCount> weights = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0};

    // PriceStructureConfig::validate()
    // Throws InvalidConfig naming the first bad value: swing_bars in 1..32, finite
    // non-negative multipliers, event_decay_bars >= 1, weights finite, >= 0, not all 0.
    void validate() const;

    // PriceStructureConfig::set_weight()
    // Sets the weight of the sub-score named `key` (one of kStructureKeys). Throws InvalidConfig
    // naming the key when it is not one of them (a weight under an unknown key would
    // otherwise be silently ignored, which is how the reference lost two sub-scores), or
    // naming the value when it is not finite and >= 0.
    void set_weight(std::string_view key, double weight);
};

// What update() returns for one closed bar. NaN marks a value that does not exist (yet).
struct StructureReading {
    std::int64_t open_ns; // the closed bar's open_ns
    double score;         // weighted mean of the available sub-scores; 50 when none is
    std::array<double, kStructureSubCount> sub; // by StructureSub; NaN = not available
    double swing_high;                          // level of the swing high confirmed at this bar
    double swing_low;
    double support;    // nearest swing level below the close
    double resistance; // nearest swing level above the close
    double range_high; // valid range bounds
    double range_low;
    std::uint32_t events;   // structure_events bits
    std::int8_t trend;      // +1 HH & HL, -1 LH & LL, 0 otherwise
    std::uint8_t has_data;  // 1 when at least one sub-score is available
    std::uint8_t n_bull_ob; // active order blocks and open gaps after this bar
    std::uint8_t n_bear_ob;
    std::uint8_t n_bull_gap;
    std::uint8_t n_bear_gap;
    std::uint8_t reserved[6];
};
static_assert(std::is_trivially_copyable_v<StructureReading> && sizeof(StructureReading) == 128);

class PriceStructure {
  public:
    static constexpr std::size_t kMaxLevels = 12; // swing levels kept for support / resistance
    static constexpr std::size_t kMaxZones =
        8; // order blocks / gaps kept per side (oldest dropped)
    static constexpr std::size_t kRangeSwings = 3; // swings spanned by the range

    // PriceStructure::PriceStructure()
    // Validates the config (InvalidConfig).
    explicit PriceStructure(const PriceStructureConfig& cfg = {});

    // PriceStructure::update()
    // Closes one bar and returns its reading.
    // REQUIRES: finite prices with low <= open, close <= high and volume >= 0; open_ns
    // increasing. Otherwise throws InvalidEvent naming the value, and the state is unchanged.
    StructureReading update(const Bar& bar);

    // PriceStructure::component()
    // Returns the last reading as a ComponentScore (only available sub-scores, canonical names).
    [[nodiscard]] ComponentScore component() const noexcept;

    [[nodiscard]] const StructureReading& last() const noexcept { return last_; }
    [[nodiscard]] std::uint64_t bars() const noexcept { return count_; }
    [[nodiscard]] const PriceStructureConfig& config() const noexcept { return cfg_; }

  private:
    struct Zone {
        double low;
        double high;
    };
    template <std::size_t N> struct ZoneRing {
        std::array<Zone, N> z{};
        std::size_t n = 0;
        void push(Zone v) noexcept;
        template <class Pred> void erase_if(Pred p) noexcept;
    };
    struct Pivot {
        double high;
        double low;
    };

    PriceStructureConfig cfg_;
    std::uint64_t count_ = 0;
    std::int64_t last_open_ns_ = 0;
    StructureReading last_{};

    // pivot window: the last 2N+1 bars' highs and lows
    std::array<Pivot, 65> win_{};
    // last 5 bars for order blocks / gaps (index 0 = most recent before the current bar)
    std::array<Bar, 5> prev_{};

    // EMAs 10/20/50/100/200 and ATR(14)
    std::array<double, 5> ema_{};
    double atr_ = 0.0;
    double tr_sum_ = 0.0;
    double prev_close_ = 0.0;

    // swings
    std::array<double, kMaxLevels> levels_{};
    std::size_t n_levels_ = 0;
    std::size_t level_head_ = 0;
    std::array<double, kRangeSwings> highs_{};
    std::array<double, kRangeSwings> lows_{};
    std::size_t n_highs_ = 0;
    std::size_t n_lows_ = 0;
    int high_kind_ = 0; // +1 HH, -1 LH, 0 none
    int low_kind_ = 0;  // +1 HL, -1 LL, 0 none
    double struct_high_ = 0.0;
    double struct_low_ = 0.0;
    bool struct_high_live_ = false;
    bool struct_low_live_ = false;
    int break_dir_ = 0;
    std::uint64_t break_age_ = 0;
    int sfp_dir_ = 0;
    std::uint64_t sfp_age_ = 0;

    ZoneRing<kMaxZones> bull_ob_;
    ZoneRing<kMaxZones> bear_ob_;
    ZoneRing<kMaxZones> bull_gap_;
    ZoneRing<kMaxZones> bear_gap_;
};

// combine_timeframes()
// Combines one symbol's latest readings on several timeframes (e.g. base/ltf/mtf/htf) into
// one ComponentScore (reference §3.7): each sub-score is the mean over the timeframes that
// have it, weighted by tf_weights renormalised over those timeframes; the score is the
// cfg.weights-weighted mean of those per-key values (keys no timeframe has are left out).
// REQUIRES: readings.size() == tf_weights.size() <= 8, weights finite and >= 0; otherwise
// throws InvalidConfig naming the value.
[[nodiscard]] ComponentScore combine_timeframes(std::span<const StructureReading> readings,
                                                std::span<const double> tf_weights,
                                                const PriceStructureConfig& cfg);

} // namespace confluex
