// confluex/hft_engine_inputs.hpp
//
// Provides inputs_from_engine(): the HftInputs of one engine symbol, read from the engine's
// public state (its confluence result, the orderflow and orderbook components, the book and
// the trade-flow windows), so that a replay or a live loop scores a symbol with one call.
//
// What is filled:
//   confluence: score, reliability, confidence of Engine::result(); flow_short/medium/long and
//     cvd from the orderflow sub-scores (imbalance_short/medium/long, cvd_zscore) and ofi and
//     microprice from the orderbook sub-scores, each as (sub - 50)/50; NaN when the component
//     has no data (and ofi when its sub-score had no events).
//   microstructure (only when the book is in sync and both sides are non-empty): spread_bps,
//     bid_depth / ask_depth = quote notional of the best depth_levels levels of each side,
//     ofi = OfiWindow::normalized(), queue_imbalance = best-level (qb - qa)/(qb + qa).
//   timeframes: timeframe_scores() of the symbol's TradeFlow with the orderbook component's
//     direction (S_orderbook - 50)/50 blended into 1 s.
// Inventory (position, max_position) and risk (volatility, drawdown, exposure, correlation)
// are left at their defaults: they belong to the executor / paper venue and the risk layer,
// which set them on the returned struct.
//
// Threading: as Engine (the engine's thread only; reads may recompute lazy scores).
#pragma once

#include <cstddef>
#include <cstdint>

#include "confluex/engine.hpp"
#include "confluex/hft_scoring.hpp"

namespace confluex::hft {

struct EngineInputsConfig {
    std::size_t depth_levels = 5; // levels per side summed into bid_depth / ask_depth, >= 1
    MultiTimeframeConfig timeframe{};

    // EngineInputsConfig::validate()
    // Throws InvalidConfig naming the first value out of its domain.
    void validate() const;
};

// inputs_from_engine()
// Returns the HftInputs of symbol `sym` as described above. Throws UnknownSymbol for a bad id.
// REQUIRES: cfg.validate() passed.
[[nodiscard]] HftInputs inputs_from_engine(Engine& engine, std::uint32_t sym,
                                           const EngineInputsConfig& cfg);

} // namespace confluex::hft
