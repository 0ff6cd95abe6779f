// confluex/sentiment.hpp
//
// Provides Sentiment: the sentiment view of ONE symbol, fed by the venue's derivative data
// (funding rate, long/short ratio, liquidations, open interest, risk-limit tiers) and by the
// symbol's own closed bars (historical volatility, market activity), and its 0-100 component
// score (50 neutral) with seven sub-scores (kSentimentKeys):
//
//   funding_rate       contrarian: T(50 - 250 * clip(100 * rate, +-0.2); 0.15) (reference §3.6)
//   long_short_ratio   100 * long / (long + short) (the reference's trend-following reading)
//   liquidations       100 * (1 - long_liquidated / total) over the long window
//   open_interest      50 + 250 * clip(OI change over the window, +-0.2) * sign(price change)
//   volatility         annualised stdev of log returns: <= 30 % reads 100..80, 30..60 %
//                      reads 80..50, 60..150 % reads 50..0 (low volatility reads bullish)
//   market_activity    50 + 25 * tanh(ln(fast / slow volume EMA)) * sign(close change):
//                      this symbol's volume against its OWN history
//   risk               Bybit risk-limit tiers (reference formula; optional)
//
// Design:
//   - Missing data is missing. A sub-score without its input (or whose input is older than
//     its max age) is NaN in the reading and left out of the mean, and `reliability` (the
//     available share of the sub-score weights) drops. No input is ever replaced by a
//     neutral-looking default: the reference synthesised funding 0.0001 when the venue gave
//     none, which reads 41.7 (a bearish bias), and read liquidations from a key that was
//     never filled, so that sub-score was always 50 (§3.6).
//   - Liquidations are "no data" until a liquidation source is declared
//     (set_liquidation_source) or an event arrives; after that an empty window is a real
//     observation (no forced selling) and reads 50.
//   - Per symbol by construction: every input and every history lives in the instance, so
//     no symbol's deltas can compare against another symbol's (the reference kept the
//     previous volume and OI on an indicator shared by all symbols, §3.6).
//   - O(1) per input: liquidations go into a ring of time buckets; OI samples and bar closes
//     into bounded rings searched by time.
//
// Threading: single-threaded; one instance per symbol.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "confluex/bar.hpp"
#include "confluex/component.hpp"

namespace confluex {

namespace feed {
struct MarkUpdate;
struct LiquidationEvent;
} // namespace feed

enum class SentimentSub : std::uint8_t {
    FundingRate = 0,
    LongShortRatio = 1,
    Liquidations = 2,
    OpenInterest = 3,
    Volatility = 4,
    MarketActivity = 5,
    Risk = 6,
};
inline constexpr std::size_t kSentimentSubCount = 7;
inline constexpr std::array<const char*, kSentimentSubCount> kSentimentKeys = {
    "funding_rate", "long_short_ratio", "liquidations", "open_interest",
    "volatility",   "market_activity",  "risk"};

// sentiment_sub_index()
// Returns the index of a canonical key, or nullopt for any other text.
[[nodiscard]] std::optional<std::size_t> sentiment_sub_index(std::string_view key) noexcept;

// Which side of the book was liquidated.
enum class LiquidatedSide : std::uint8_t { Long = 1, Short = 2 };

// One Bybit risk-limit tier (GET /v5/market/risk-limit): the position value it allows, the
// highest leverage and the initial / maintenance margin rates.
struct RiskTier {
    double risk_limit_value;
    double max_leverage;
    double initial_margin;
    double maintenance_margin;
};

struct SentimentConfig {
    std::int64_t funding_max_age_ns = 9LL * 3600 * 1'000'000'000; // 8-hourly funding + slack
    std::int64_t long_short_max_age_ns = 2LL * 3600 * 1'000'000'000;
    std::int64_t open_interest_max_age_ns = 2LL * 3600 * 1'000'000'000;
    std::int64_t open_interest_window_ns = 3600LL * 1'000'000'000;    // OI change and price sign
    std::int64_t liquidation_window_ns = 3600LL * 1'000'000'000;      // scored window (60 buckets)
    std::int64_t liquidation_short_window_ns = 300LL * 1'000'000'000; // reported only
    std::uint32_t volatility_bars = 60;                               // log returns in the stdev
    std::uint32_t activity_fast = 5;                                  // volume EMA periods (bars)
    std::uint32_t activity_slow = 50;
    std::array<double, kSentimentSubCount> weights = {0.20, 0.15, 0.15, 0.15, 0.10, 0.15, 0.10};

    // SentimentConfig::validate()
    // Throws InvalidConfig naming the first bad value: ages and windows > 0, the short
    // liquidation window <= the long one, volatility_bars in 2..4096, 1 <= activity_fast <
    // activity_slow <= 4096, weights finite, >= 0, not all 0.
    void validate() const;

    // SentimentConfig::set_weight()
    // Sets the weight of the sub-score named `key` (one of kSentimentKeys). Throws InvalidConfig
    // naming the key when it is not one of them (a weight under an unknown key would
    // otherwise be silently ignored, which is how the reference lost two sub-scores), or
    // naming the value when it is not finite and >= 0.
    void set_weight(std::string_view key, double weight);
};

// A reading at a given time. NaN marks what is not available.
struct SentimentReading {
    std::int64_t ts_ns;
    double score;       // weighted mean of the available sub-scores; 50 when none is
    double reliability; // available weight / total weight, 0..1
    std::array<double, kSentimentSubCount> sub;
    double funding_rate;
    double long_fraction;     // long / (long + short)
    double liq_long_notional; // long positions liquidated, long window (quote units)
    double liq_short_notional;
    double liq_long_notional_short; // the same over the short window
    double liq_short_notional_short;
    double open_interest;        // last level
    double open_interest_change; // relative change over the window
    double volatility_pct;       // annualised, percent
    double activity_ratio;       // fast / slow volume EMA
    std::uint8_t has_data;
    std::uint8_t reserved[7];
};
static_assert(std::is_trivially_copyable_v<SentimentReading> && sizeof(SentimentReading) == 168);

class Sentiment {
  public:
    static constexpr std::size_t kLiqBuckets = 60;
    // Series kept for reading(now): the sample at or before `now` is the one scored, so a
    // replay may load a whole --funding / --open-interest file up front (up to these many
    // samples; older ones are dropped first) or feed samples as they come.
    static constexpr std::size_t kFundingSamples = 1024; // 8-hourly: about 11 months
    static constexpr std::size_t kOiSamples = 8192;      // 5-minutely: about 28 days
    static constexpr std::size_t kCloses = 1024;

    // Sentiment::Sentiment()
    // Validates the config (InvalidConfig).
    explicit Sentiment(const SentimentConfig& cfg = {});

    // Sentiment::on_funding()
    // Records the funding rate published at ts_ns (a fraction: 0.0001 = 0.01 %).
    // REQUIRES: finite rate; ts_ns not before the previous sample. Otherwise throws
    // InvalidEvent (state unchanged).
    void on_funding(std::int64_t ts_ns, double rate);

    // Sentiment::on_long_short()
    // Records the accounts' long and short shares (any positive scale: ratios or counts).
    // REQUIRES: finite, >= 0, not both 0.
    void on_long_short(std::int64_t ts_ns, double long_share, double short_share);

    // Sentiment::on_liquidation()
    // Adds a liquidation of `notional` quote units on `side` at ts_ns.
    // REQUIRES: finite notional >= 0; ts_ns not older than the bucket ring (one long window
    // before the newest event): older events throw InvalidEvent rather than vanish.
    void on_liquidation(std::int64_t ts_ns, LiquidatedSide side, double notional);

    // Sentiment::set_liquidation_source()
    // Declares that liquidations are being received from ts_ns on, so that an empty window
    // reads as "none happened" instead of "no data".
    void set_liquidation_source(std::int64_t ts_ns) noexcept;

    // Sentiment::on_open_interest()
    // Records the open interest level at ts_ns. REQUIRES: finite value >= 0; ts_ns not
    // before the previous sample.
    void on_open_interest(std::int64_t ts_ns, double value);

    // Sentiment::set_risk_tiers()
    // Replaces the risk-limit tiers (an empty span removes them). REQUIRES: finite values,
    // max_leverage > 0.
    void set_risk_tiers(std::span<const RiskTier> tiers);

    // Sentiment::on_mark()
    // Applies a parsed markPrice / tickers update: its funding rate and open interest, when
    // the message carried them (fields bits), at the update's ts_ns.
    void on_mark(const feed::MarkUpdate& m);

    // Sentiment::on_liquidation_event()
    // Applies a parsed liquidation: notional = price * qty at its ts_ns.
    void on_liquidation_event(const feed::LiquidationEvent& e);

    // Sentiment::on_bar()
    // Closes one bar of this symbol (volatility, activity, the price direction for OI).
    // REQUIRES: finite positive close, volume >= 0, open_ns increasing.
    void on_bar(const Bar& bar);

    // Sentiment::reading()
    // Returns the reading at now_ns: each series scores its latest sample at or before
    // now_ns, and is not available when that sample is older than its max age (or absent).
    // Liquidation windows count the 1/60-window buckets up to now_ns; asked for a time more
    // than one window before the newest liquidation, they miss the buckets since reused.
    [[nodiscard]] SentimentReading reading(std::int64_t now_ns) const noexcept;

    // Sentiment::component()
    // Returns reading(now_ns) as a ComponentScore (available sub-scores only).
    [[nodiscard]] ComponentScore component(std::int64_t now_ns) const noexcept;

    // Sentiment::oi_price_change()
    // Returns {relative OI change, relative close change} over open_interest_window_ns ending
    // at now_ns, from the samples the open_interest sub-score reads (the OI sample must be
    // within open_interest_max_age_ns); NaN where unavailable. Feeds the orderflow OI quadrant.
    [[nodiscard]] std::array<double, 2> oi_price_change(std::int64_t now_ns) const noexcept;

    [[nodiscard]] const SentimentConfig& config() const noexcept { return cfg_; }

  private:
    struct LiqBucket {
        std::int64_t index; // ts / bucket_ns; -1 = empty
        double long_notional;
        double short_notional;
    };
    struct TimedValue {
        std::int64_t ts_ns;
        double value;
    };
    template <std::size_t N> struct Ring {
        std::array<TimedValue, N> v{};
        std::size_t head = 0; // next write
        std::size_t n = 0;
        void push(TimedValue x) noexcept {
            v[head] = x;
            head = (head + 1) % N;
            n = n < N ? n + 1 : N;
        }
        [[nodiscard]] const TimedValue& back() const noexcept { return v[(head + N - 1) % N]; }
        [[nodiscard]] const TimedValue& at(std::size_t i) const noexcept {
            return v[(head + N - n + i) % N];
        }
        // Latest sample at or before ts, or nullptr.
        [[nodiscard]] const TimedValue* at_or_before(std::int64_t ts) const noexcept;
    };

    SentimentConfig cfg_;
    std::int64_t bucket_ns_;

    Ring<kFundingSamples> funding_;

    bool has_lsr_ = false;
    std::int64_t lsr_ts_ = 0;
    double long_fraction_ = 0.0;

    bool liq_source_ = false;
    std::int64_t liq_newest_ = 0;
    std::array<LiqBucket, kLiqBuckets> liq_{};

    Ring<kOiSamples> oi_;
    Ring<kCloses> closes_; // ts = the bar's open_ns; value = its close

    std::vector<RiskTier> tiers_;
    double risk_score_ = 0.0;

    // bars
    std::uint64_t n_bars_ = 0;
    std::int64_t last_open_ns_ = 0;
    std::int64_t span_ns_ = 0; // smallest open_ns step seen
    std::vector<double> rets_; // ring of log returns, volatility_bars long
    std::size_t ret_head_ = 0;
    std::size_t n_rets_ = 0;
    double prev_close_ = 0.0;
    double vol_fast_ = 0.0;
    double vol_slow_ = 0.0;
    std::vector<double> act_closes_; // ring of the last activity_fast + 1 closes
    double vol_pct_;                 // cached at on_bar; NaN until volatility_bars returns exist
    double act_ratio_;               // cached at on_bar; NaN until activity_slow bars
    double act_dir_ = 0.0;
};

} // namespace confluex
