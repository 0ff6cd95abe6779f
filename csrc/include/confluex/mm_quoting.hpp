// confluex/mm_quoting.hpp
//
// Provides glft_quote(): a market maker's two quotes from the Gueant-Lehalle-Fernandez-Tapia
// (GLFT) closed-form approximation of the optimal quotes for an inventory-averse maker
// (Gueant, Lehalle, Fernandez-Tapia, "Dealing with the inventory risk", 2013; the same
// approximation hftbacktest uses), with xi = gamma and the inventory counted in orders of
// `order_lots` (Delta = 1):
//
//     c1     = ln(1 + gamma / k) / gamma
//     c2     = sqrt( gamma / (2 A k) * (1 + gamma / k)^(k / gamma + 1) )
//     half   = c1 + sigma * c2 / 2                   (half-spread, ticks)
//     skew   = sigma * c2                            (ticks per order of inventory)
//     alpha  = alpha_gain * clamp((score - 50) / 50, -1, 1) * sigma * sqrt(alpha_horizon_s)
//     r      = mid + alpha - skew * q,   q = inventory_lots / order_lots   (reservation price)
//     bid    = floor(r - half),   ask = ceil(r + half)
//
// Units: prices and distances in ticks, sigma in ticks per sqrt(second), A in trades per
// second per side, k per tick, gamma per tick (the risk aversion). The score is the 0-100
// confluence score: above 50 it lifts the reservation price (expecting a rise), below 50 it
// lowers it; alpha is the expected move over `alpha_horizon_s` scaled by the score's
// conviction.
//
// Then the quotes are made post-only and bounded: bid <= best_ask - 1 and ask >= best_bid + 1
// (never crossing the book), each at most `max_depth_ticks` from the mid (rounded outwards),
// and bid < ask always (the bid gives way when a cap narrower than the spread meets them).
//
// Sizes (lots, multiples of size_step_lots): with ratio = inventory / max_inventory,
//     bid_lots = order_lots * min(1, 1 - ratio),   ask_lots = order_lots * min(1, 1 + ratio)
// floored to the step, and capped so that a complete fill keeps |inventory| <= max_inventory
// (bid_lots <= max_inventory - inventory, ask_lots <= max_inventory + inventory). A side with
// 0 lots is not quoted. So a long inventory lowers both prices (skew) and shrinks the bid.
//
// Threading: pure functions of their arguments.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

struct GlftConfig {
    double gamma = 0.05;
    std::int64_t order_lots = 1;
    std::int64_t max_inventory_lots = 10;
    std::int64_t size_step_lots = 1;
    double alpha_gain = 1.0;
    double alpha_horizon_s = 1.0;
    double max_depth_ticks = 1e9;

    // GlftConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain: gamma finite > 0,
    // order_lots >= 1, max_inventory_lots >= order_lots, size_step_lots >= 1, alpha_gain
    // finite, alpha_horizon_s finite >= 0, max_depth_ticks > 0 (not NaN).
    void validate() const {
        if (!(gamma > 0.0) || !std::isfinite(gamma)) {
            throw InvalidConfig("GlftConfig: gamma must be finite and > 0, was " +
                                std::to_string(gamma));
        }
        if (order_lots < 1) {
            throw InvalidConfig("GlftConfig: order_lots must be >= 1, was " +
                                std::to_string(order_lots));
        }
        if (max_inventory_lots < order_lots) {
            throw InvalidConfig("GlftConfig: max_inventory_lots must be >= order_lots (" +
                                std::to_string(order_lots) + "), was " +
                                std::to_string(max_inventory_lots));
        }
        if (size_step_lots < 1) {
            throw InvalidConfig("GlftConfig: size_step_lots must be >= 1, was " +
                                std::to_string(size_step_lots));
        }
        if (!std::isfinite(alpha_gain)) {
            throw InvalidConfig("GlftConfig: alpha_gain must be finite, was " +
                                std::to_string(alpha_gain));
        }
        if (!(alpha_horizon_s >= 0.0) || !std::isfinite(alpha_horizon_s)) {
            throw InvalidConfig("GlftConfig: alpha_horizon_s must be finite and >= 0, was " +
                                std::to_string(alpha_horizon_s));
        }
        if (!(max_depth_ticks > 0.0)) {
            throw InvalidConfig("GlftConfig: max_depth_ticks must be > 0, was " +
                                std::to_string(max_depth_ticks));
        }
    }
};

struct Quote {
    double reservation_ticks = 0.0; // r
    double half_spread_ticks = 0.0; // half
    double skew_ticks = 0.0;        // skew per order of inventory
    double alpha_ticks = 0.0;       // the score's shift of r
    std::int64_t bid_ticks = 0;
    std::int64_t ask_ticks = 0;
    std::int64_t bid_lots = 0; // 0: no bid
    std::int64_t ask_lots = 0; // 0: no ask
};

namespace detail {

inline std::int64_t floor_step(double lots, std::int64_t step) noexcept {
    if (!(lots > 0.0)) {
        return 0;
    }
    return static_cast<std::int64_t>(std::floor(lots / static_cast<double>(step) + 1e-9)) * step;
}

} // namespace detail

// glft_quote()
// Returns the quotes for the book (mid_ticks, best_bid_ticks, best_ask_ticks), the signed
// inventory in lots, the estimates sigma (ticks/sqrt s), a (per s per side) and k (per tick),
// and the confluence score (NaN: no alpha). See the file banner for the formulas.
// REQUIRES: config validated; mid_ticks finite; best_bid_ticks < best_ask_ticks; sigma finite
// and >= 0; a and k finite and > 0. Otherwise throws InvalidEvent naming the value.
inline Quote glft_quote(const GlftConfig& c, double mid_ticks, std::int64_t best_bid_ticks,
                        std::int64_t best_ask_ticks, std::int64_t inventory_lots, double sigma,
                        double a, double k, double score) {
    if (!std::isfinite(mid_ticks)) {
        throw InvalidEvent("glft_quote: mid must be finite, was " + std::to_string(mid_ticks));
    }
    if (best_bid_ticks >= best_ask_ticks) {
        throw InvalidEvent("glft_quote: best bid must be below best ask (" +
                           std::to_string(best_ask_ticks) + "), was " +
                           std::to_string(best_bid_ticks));
    }
    if (!(sigma >= 0.0) || !std::isfinite(sigma)) {
        throw InvalidEvent("glft_quote: sigma must be finite and >= 0, was " +
                           std::to_string(sigma));
    }
    if (!(a > 0.0) || !std::isfinite(a)) {
        throw InvalidEvent("glft_quote: A must be finite and > 0, was " + std::to_string(a));
    }
    if (!(k > 0.0) || !std::isfinite(k)) {
        throw InvalidEvent("glft_quote: k must be finite and > 0, was " + std::to_string(k));
    }
    const double g = c.gamma;
    const double gk = g / k;
    const double c1 = std::log1p(gk) / g;
    const double c2 = std::sqrt(g / (2.0 * a * k) * std::pow(1.0 + gk, k / g + 1.0));
    if (!std::isfinite(c1) || !std::isfinite(c2)) {
        throw InvalidEvent("glft_quote: A and k give no finite spread, was A " + std::to_string(a) +
                           ", k " + std::to_string(k));
    }
    Quote out;
    out.half_spread_ticks = c1 + 0.5 * sigma * c2;
    out.skew_ticks = sigma * c2;
    const double conviction =
        std::isnan(score) ? 0.0 : std::clamp((score - 50.0) / 50.0, -1.0, 1.0);
    out.alpha_ticks = c.alpha_gain * conviction * sigma * std::sqrt(c.alpha_horizon_s);
    const double q = static_cast<double>(inventory_lots) / static_cast<double>(c.order_lots);
    out.reservation_ticks = mid_ticks + out.alpha_ticks - (q == 0.0 ? 0.0 : out.skew_ticks * q);
    if (!std::isfinite(out.reservation_ticks)) {
        throw InvalidEvent("glft_quote: reservation price is not finite, was " +
                           std::to_string(out.reservation_ticks));
    }

    const double lo = std::floor(mid_ticks - c.max_depth_ticks);
    const double hi = std::ceil(mid_ticks + c.max_depth_ticks);
    double bid = std::floor(out.reservation_ticks - out.half_spread_ticks);
    double ask = std::ceil(out.reservation_ticks + out.half_spread_ticks);
    // max then min (not std::clamp): the bounds come from different inputs and may cross.
    bid = std::min(std::max(bid, lo), static_cast<double>(best_ask_ticks - 1));
    ask = std::max(std::min(ask, hi), static_cast<double>(best_bid_ticks + 1));
    // A depth cap narrower than half the spread can push both to one price: keep bid < ask.
    bid = std::min(bid, ask - 1.0);
    out.bid_ticks = static_cast<std::int64_t>(bid);
    out.ask_ticks = static_cast<std::int64_t>(ask);

    const double ratio =
        static_cast<double>(inventory_lots) / static_cast<double>(c.max_inventory_lots);
    const double base = static_cast<double>(c.order_lots);
    std::int64_t bid_lots = detail::floor_step(base * std::min(1.0, 1.0 - ratio), c.size_step_lots);
    std::int64_t ask_lots = detail::floor_step(base * std::min(1.0, 1.0 + ratio), c.size_step_lots);
    const std::int64_t bid_room = c.max_inventory_lots - inventory_lots;
    const std::int64_t ask_room = c.max_inventory_lots + inventory_lots;
    bid_lots =
        std::min(bid_lots, bid_room > 0 ? bid_room / c.size_step_lots * c.size_step_lots : 0);
    ask_lots =
        std::min(ask_lots, ask_room > 0 ? ask_room / c.size_step_lots * c.size_step_lots : 0);
    out.bid_lots = std::max<std::int64_t>(bid_lots, 0);
    out.ask_lots = std::max<std::int64_t>(ask_lots, 0);
    return out;
}

} // namespace confluex
