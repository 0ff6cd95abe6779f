// confluex/hft_streaming.hpp
//
// Provides StreamingPolicy, the HFT note's StreamingConfluenceHFT.should_recalculate with its
// bugs fixed: per symbol, decide whether an update should trigger a score recalculation.
//
// Rules (ts in ns of one clock, the caller's: event time in replays, receive time live):
//   - an orderbook update always recalculates;
//   - a trade recalculates when no recalculation happened yet for the symbol or when
//     ts - last_update >= min_trade_interval_ns (100 ms default);
//   - a quote (best bid/ask change) is throttled the same way with min_quote_interval_ns
//     (the note never recalculated on quotes);
//   - every recalculation sets last_update = max(last_update, ts) (the note never stored it,
//     so every trade after the first triggered one); a ts older than last_update never
//     triggers a throttled recalculation.
// Every update is counted per symbol and type (seen), and so is every recalculation.
//
// Threading: owned by one thread. add_symbol() allocates; should_recalculate() never does.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace confluex::hft {

enum class UpdateType : std::uint8_t { Trade = 0, Orderbook = 1, Quote = 2 };
inline constexpr std::size_t kUpdateTypeCount = 3;

struct StreamingConfig {
    std::int64_t min_trade_interval_ns = 100'000'000; // >= 0
    std::int64_t min_quote_interval_ns = 100'000'000; // >= 0

    // StreamingConfig::validate()
    // Throws InvalidConfig naming a negative interval.
    void validate() const;
};

struct StreamingCounters {
    std::array<std::uint64_t, kUpdateTypeCount> seen{};
    std::array<std::uint64_t, kUpdateTypeCount> recalculated{};
};

class StreamingPolicy {
  public:
    // StreamingPolicy::StreamingPolicy()
    // Validates cfg (InvalidConfig).
    explicit StreamingPolicy(StreamingConfig cfg = {});

    // StreamingPolicy::add_symbol()
    // Registers a symbol and returns its id (0, 1, 2...).
    std::uint32_t add_symbol();

    // StreamingPolicy::should_recalculate()
    // Applies the rules above, counts the update, and returns whether to recalculate.
    // Throws UnknownSymbol for an unregistered id.
    bool should_recalculate(std::uint32_t sym, UpdateType type, std::int64_t ts_ns);

    // Returns the time of the last recalculation (INT64_MIN before the first).
    [[nodiscard]] std::int64_t last_update_ns(std::uint32_t sym) const;
    [[nodiscard]] const StreamingCounters& counters(std::uint32_t sym) const;
    [[nodiscard]] std::size_t symbol_count() const noexcept { return state_.size(); }
    [[nodiscard]] const StreamingConfig& config() const noexcept { return cfg_; }

  private:
    struct State {
        std::int64_t last_ns = INT64_MIN;
        StreamingCounters counters{};
    };
    const State& at(std::uint32_t sym) const;

    StreamingConfig cfg_;
    std::vector<State> state_;
};

} // namespace confluex::hft
