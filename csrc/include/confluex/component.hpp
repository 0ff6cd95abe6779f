// confluex/component.hpp
//
// Provides the names of the six confluence components and ComponentScore, the record every
// component kernel fills: a 0-100 score, whether it had the data it needs, and the sub-scores
// it was computed from (so every score can be explained).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "confluex/errors.hpp"

namespace confluex {

// The six components of the full analysis (reference-system §2.2). The core computes the
// first three from its own book and trades; the others are supplied from Python.
enum class Component : std::uint8_t {
    Orderflow = 0,
    Orderbook = 1,
    Volume = 2,
    PriceStructure = 3,
    Technical = 4,
    Sentiment = 5,
};
inline constexpr std::size_t kComponentCount = 6;

inline constexpr std::array<std::string_view, kComponentCount> kComponentNames = {
    "orderflow", "orderbook", "volume", "price_structure", "technical", "sentiment"};

// find_component()
// Returns the component called `name` ("orderflow", ..., "sentiment"; exact, case-sensitive),
// or std::nullopt when no component has that name.
[[nodiscard]] std::optional<Component> find_component(std::string_view name) noexcept;

// unknown_component_message()
// The message of every unknown-name error: names the bad value and lists the known names.
[[nodiscard]] std::string unknown_component_message(std::string_view name);

// component_from_name()
// Returns the component called `name`; throws E (InvalidConfig for weights and settings,
// InvalidEvent for scores) with unknown_component_message() otherwise.
template <class E = InvalidConfig>
[[nodiscard]] Component component_from_name(std::string_view name) {
    if (const std::optional<Component> c = find_component(name)) {
        return *c;
    }
    throw E(unknown_component_message(name));
}

inline constexpr std::size_t kMaxSubScores = 10;

// One component's score with its breakdown.
//
// Invariants: 0 <= score <= 100; score == 50 when has_data is false; sub[i] in [0, 100] and
// sub_weight[i] >= 0 for i < n_sub; score is the sub_weight-weighted mean of sub[0..n_sub);
// 0 <= warmup <= 1.
//
// warmup is the share of the component's sub-score weight whose windows are warm (hold the
// span and data they need). Kernels that do not track it leave 1 (and so does a score
// supplied from outside). The graded aggregation rule (aggregator.hpp) scales the component's
// weight by it, so a component enters the score gradually while its windows fill; the
// reference rule ignores it.
struct ComponentScore {
    double score = 50.0;
    bool has_data = false;
    double warmup = 1.0;
    std::uint8_t n_sub = 0;
    std::array<double, kMaxSubScores> sub{};
    std::array<double, kMaxSubScores> sub_weight{};
    std::array<const char*, kMaxSubScores> sub_name{}; // static strings
    // Bit i set: sub-score i is a reading (it had its input) that the configuration weights 0
    // (e.g. the reference extras under the fitted profiles): computed and reported, not
    // weighted. Set by the orderflow and orderbook kernels; the others leave 0.
    std::uint16_t sub_unweighted = 0;
};
static_assert(kMaxSubScores <= 16, "sub_unweighted holds one bit per sub-score");

} // namespace confluex
