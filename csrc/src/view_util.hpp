// Internal to the bar-based views (price structure, sentiment): number formatting for error
// messages, clipping, and the keyed sub-score weights both views validate the same way.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "confluex/component.hpp"
#include "confluex/errors.hpp"

namespace confluex::detail {

// Formats a double for an error message (17 significant digits, "nan", "inf").
inline std::string num(double v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
}

inline double clip(double v, double lo, double hi) noexcept {
    return v < lo ? lo : (v > hi ? hi : v);
}

// Returns the index of `key` in `keys`, or nullopt.
template <std::size_t N>
std::optional<std::size_t> key_index(const std::array<const char*, N>& keys,
                                     std::string_view key) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        if (key == keys[i]) {
            return i;
        }
    }
    return std::nullopt;
}

// Throws InvalidConfig unless every weight is finite and >= 0 and their sum is > 0.
template <std::size_t N>
void check_weights(const std::array<double, N>& w, const std::array<const char*, N>& keys,
                   const char* view) {
    double total = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        if (!std::isfinite(w[i]) || w[i] < 0.0) {
            throw InvalidConfig(std::string("weight of ") + keys[i] +
                                " must be finite and >= 0, was " + num(w[i]));
        }
        total += w[i];
    }
    if (total <= 0.0) {
        throw InvalidConfig(std::string(view) + " weights must not all be 0, was a sum of 0");
    }
}

// Sets w[index of key]; InvalidConfig naming an unknown key (with the known ones) or a bad value.
template <std::size_t N>
void set_keyed_weight(std::array<double, N>& w, const std::array<const char*, N>& keys,
                      std::string_view key, double weight, const char* view) {
    const std::optional<std::size_t> i = key_index(keys, key);
    if (!i) {
        std::string known;
        for (const char* k : keys) {
            known += known.empty() ? k : std::string(", ") + k;
        }
        throw InvalidConfig("unknown " + std::string(view) + " sub-score key, was '" +
                            std::string(key) + "' (known: " + known + ")");
    }
    if (!std::isfinite(weight) || weight < 0.0) {
        throw InvalidConfig("weight of " + std::string(key) + " must be finite and >= 0, was " +
                            num(weight));
    }
    w[*i] = weight;
}

// The weighted mean of the available (non-NaN, weight > 0) sub-scores, clipped to 0..100;
// `used` gets their total weight. 50 when none is available.
template <std::size_t N>
double weighted_mean(const std::array<double, N>& sub, const std::array<double, N>& w,
                     double& used) noexcept {
    double acc = 0.0;
    used = 0.0;
    for (std::size_t i = 0; i < N; ++i) {
        if (!std::isnan(sub[i]) && w[i] > 0.0) {
            used += w[i];
            acc += w[i] * sub[i];
        }
    }
    return used > 0.0 ? clip(acc / used, 0.0, 100.0) : 50.0;
}

// A ComponentScore holding the available sub-scores under their canonical names.
template <std::size_t N>
ComponentScore to_component(double score, bool has_data, const std::array<double, N>& sub,
                            const std::array<double, N>& w,
                            const std::array<const char*, N>& keys) noexcept {
    static_assert(N <= kMaxSubScores);
    ComponentScore cs;
    cs.score = score;
    cs.has_data = has_data;
    for (std::size_t i = 0; i < N; ++i) {
        if (!std::isnan(sub[i]) && w[i] > 0.0) {
            cs.sub[cs.n_sub] = sub[i];
            cs.sub_weight[cs.n_sub] = w[i];
            cs.sub_name[cs.n_sub] = keys[i];
            ++cs.n_sub;
        }
    }
    return cs;
}

} // namespace confluex::detail
