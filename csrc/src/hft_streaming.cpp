#include "confluex/hft_streaming.hpp"

#include <string>

#include "confluex/errors.hpp"

namespace confluex::hft {

void StreamingConfig::validate() const {
    if (min_trade_interval_ns < 0) {
        throw InvalidConfig("StreamingConfig: min_trade_interval_ns must be >= 0, was " +
                            std::to_string(min_trade_interval_ns));
    }
    if (min_quote_interval_ns < 0) {
        throw InvalidConfig("StreamingConfig: min_quote_interval_ns must be >= 0, was " +
                            std::to_string(min_quote_interval_ns));
    }
}

StreamingPolicy::StreamingPolicy(StreamingConfig cfg) : cfg_((cfg.validate(), cfg)) {}

std::uint32_t StreamingPolicy::add_symbol() {
    state_.emplace_back();
    return static_cast<std::uint32_t>(state_.size() - 1);
}

const StreamingPolicy::State& StreamingPolicy::at(std::uint32_t sym) const {
    if (sym >= state_.size()) {
        throw UnknownSymbol("StreamingConfluenceHFT: unknown symbol id, was " +
                            std::to_string(sym));
    }
    return state_[sym];
}

bool StreamingPolicy::should_recalculate(std::uint32_t sym, UpdateType type, std::int64_t ts_ns) {
    State& s = const_cast<State&>(at(sym));
    const auto t = static_cast<std::size_t>(type);
    ++s.counters.seen[t];
    bool go = false;
    if (type == UpdateType::Orderbook) {
        go = true;
    } else {
        const std::int64_t interval =
            type == UpdateType::Trade ? cfg_.min_trade_interval_ns : cfg_.min_quote_interval_ns;
        // The difference is taken in unsigned arithmetic: ts >= last makes it the exact
        // non-negative distance, with no signed overflow for any pair of timestamps.
        go = s.last_ns == INT64_MIN ||
             (ts_ns >= s.last_ns &&
              static_cast<std::uint64_t>(ts_ns) - static_cast<std::uint64_t>(s.last_ns) >=
                  static_cast<std::uint64_t>(interval));
    }
    if (go) {
        ++s.counters.recalculated[t];
        if (ts_ns > s.last_ns) {
            s.last_ns = ts_ns;
        }
    }
    return go;
}

std::int64_t StreamingPolicy::last_update_ns(std::uint32_t sym) const { return at(sym).last_ns; }

const StreamingCounters& StreamingPolicy::counters(std::uint32_t sym) const {
    return at(sym).counters;
}

} // namespace confluex::hft
