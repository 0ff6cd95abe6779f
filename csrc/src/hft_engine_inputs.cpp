#include "confluex/hft_engine_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "confluex/book_signals.hpp"
#include "confluex/errors.hpp"

namespace confluex::hft {

namespace {

// (sub - 50)/50 of sub-score i when the component has data and the sub-score has weight.
double sub_dir(const ComponentScore& c, std::size_t i) noexcept {
    if (!c.has_data || i >= c.n_sub || !(c.sub_weight[i] > 0.0)) {
        return kNaN;
    }
    return std::clamp((c.sub[i] - 50.0) / 50.0, -1.0, 1.0);
}

} // namespace

void EngineInputsConfig::validate() const {
    if (depth_levels < 1 || depth_levels > 1024) {
        throw InvalidConfig("EngineInputsConfig: depth_levels must be in [1, 1024], was " +
                            std::to_string(depth_levels));
    }
    timeframe.validate();
}

HftInputs inputs_from_engine(Engine& engine, std::uint32_t sym, const EngineInputsConfig& cfg) {
    HftInputs in;
    const ConfluenceResult& r = engine.result(sym);
    ConfluenceInputs& c = in.confluence;
    c.score = std::clamp(r.score, 0.0, 100.0);
    c.reliability = std::clamp(r.reliability, 0.0, 1.0);
    c.confidence = std::clamp(r.confidence, 0.0, 1.0);

    const ComponentScore& flow = engine.component(sym, Component::Orderflow);
    c.flow_short = sub_dir(flow, 0);
    c.flow_medium = sub_dir(flow, 1);
    c.flow_long = sub_dir(flow, 2);
    // cvd_zscore always has weight; it is meaningful whenever the component has data.
    c.cvd = flow.has_data ? std::clamp((flow.sub[3] - 50.0) / 50.0, -1.0, 1.0) : kNaN;

    const ComponentScore& book_c = engine.component(sym, Component::Orderbook);
    c.ofi = sub_dir(book_c, static_cast<std::size_t>(signals::BookSub::Ofi));
    c.microprice = sub_dir(book_c, static_cast<std::size_t>(signals::BookSub::Microprice));
    const double book_dir =
        book_c.has_data ? std::clamp((book_c.score - 50.0) / 50.0, -1.0, 1.0) : kNaN;

    const OrderBook& book = engine.book(sym);
    const auto bb = book.best_bid();
    const auto ba = book.best_ask();
    if (book.in_sync() && bb && ba) {
        const double mid = 0.5 * static_cast<double>(bb->px + ba->px);
        if (mid > 0.0) {
            in.spread_bps = std::max(0.0, 1e4 * static_cast<double>(ba->px - bb->px) / mid);
        }
        const Instrument& inst = engine.instrument(sym);
        const double scale = inst.tick_size() * inst.lot_size();
        double bd = 0.0;
        double ad = 0.0;
        const auto notional = [](const Level* l, std::size_t n) {
            double sum = 0.0;
            for (std::size_t i = 0; i < n; ++i) {
                sum += static_cast<double>(l[i].px) * static_cast<double>(l[i].qty);
            }
            return sum;
        };
        if (cfg.depth_levels <= book.config().top_cache) {
            const BookView v = book.top(cfg.depth_levels);
            bd = notional(v.bids, v.n_bids);
            ad = notional(v.asks, v.n_asks);
        } else {
            // Deeper than the book's top-K cache (which top() clips to): copy the levels.
            std::vector<Level> lv(cfg.depth_levels);
            bd = notional(lv.data(), book.copy_top(BookSide::Bid, lv.size(), lv.data()));
            ad = notional(lv.data(), book.copy_top(BookSide::Ask, lv.size(), lv.data()));
        }
        in.bid_depth = bd * scale;
        in.ask_depth = ad * scale;
        in.ofi = engine.ofi(sym).normalized();
        const double qb = static_cast<double>(bb->qty);
        const double qa = static_cast<double>(ba->qty);
        in.queue_imbalance = qb + qa > 0.0 ? (qb - qa) / (qb + qa) : 0.0;
    }
    in.timeframes = timeframe_scores(engine.flow(sym), book_dir, cfg.timeframe);
    return in;
}

} // namespace confluex::hft
