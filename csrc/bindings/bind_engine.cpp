// Engine: the multi-symbol entry point.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "confluex/engine.hpp"
#include "confluex/errors.hpp"
#include "convert.hpp"
#include "view_convert.hpp"

namespace py = pybind11;
using confluex::component_from_name;
using confluex::bindings::as_levels;
using confluex::bindings::bind_record;
using confluex::bindings::field;
using confluex::bindings::level_or_none;
using confluex::bindings::LevelArray;

namespace {

using confluex::BookLevelEvent;
using confluex::Engine;
using confluex::EngineConfig;
using confluex::TradeEvent;

// One symbol's health counters: the engine's, its book's and its trade windows', flat.
struct EngineStats {
    std::uint64_t book_messages;
    std::uint64_t snapshots;
    std::uint64_t rejected_snapshots;
    std::uint64_t trades;
    std::uint64_t recomputes;
    std::int64_t last_event_ts_ns;
    std::uint64_t messages_applied;
    std::uint64_t levels_applied;
    std::uint64_t stale_ignored;
    std::uint64_t not_synced_ignored;
    std::uint64_t gaps;
    std::uint64_t overlaps;
    std::uint64_t crossed;
    std::uint64_t recenters;
    std::uint64_t resizes;
    std::uint64_t id_jumps;     // messages refused by the update-id jump bound
    std::uint64_t memory_bytes; // book + trade ring + OFI ring: grows with the data it keeps
    bool in_sync;
    std::int64_t last_update_id;
    std::uint64_t trades_truncated;
    std::uint64_t trades_out_of_order;
};

EngineStats stats_of(const Engine& e, std::uint32_t sym) {
    const auto& s = e.stats(sym);
    const auto& b = e.book(sym);
    const auto& c = b.counters();
    const auto& f = e.flow(sym);
    return {s.book_messages,
            s.snapshots,
            s.rejected_snapshots,
            s.trades,
            s.recomputes,
            s.last_event_ts_ns,
            c.messages_applied,
            c.levels_applied,
            c.stale_ignored,
            c.not_synced_ignored,
            c.gaps,
            c.overlaps,
            c.crossed,
            c.recenters,
            c.resizes,
            c.id_jumps,
            b.memory_bytes() + f.memory_bytes() + e.ofi(sym).memory_bytes() +
                e.stacked(sym).memory_bytes(),
            b.in_sync(),
            b.last_update_id(),
            f.truncated(),
            f.out_of_order()};
}

} // namespace

void register_engine(py::module_& m) {
    bind_record<EngineStats>(
        m, "EngineStats",
        "One symbol's health counters (Engine.stats): engine, book and trade windows.",
        field("book_messages", &EngineStats::book_messages),
        field("snapshots", &EngineStats::snapshots),
        field("rejected_snapshots", &EngineStats::rejected_snapshots),
        field("trades", &EngineStats::trades), field("recomputes", &EngineStats::recomputes),
        field("last_event_ts_ns", &EngineStats::last_event_ts_ns),
        field("messages_applied", &EngineStats::messages_applied),
        field("levels_applied", &EngineStats::levels_applied),
        field("stale_ignored", &EngineStats::stale_ignored),
        field("not_synced_ignored", &EngineStats::not_synced_ignored),
        field("gaps", &EngineStats::gaps), field("overlaps", &EngineStats::overlaps),
        field("crossed", &EngineStats::crossed), field("recenters", &EngineStats::recenters),
        field("resizes", &EngineStats::resizes), field("id_jumps", &EngineStats::id_jumps),
        field("memory_bytes", &EngineStats::memory_bytes), field("in_sync", &EngineStats::in_sync),
        field("last_update_id", &EngineStats::last_update_id),
        field("trades_truncated", &EngineStats::trades_truncated),
        field("trades_out_of_order", &EngineStats::trades_out_of_order));

    py::class_<EngineConfig>(m, "EngineConfig", R"pbdoc(
Configuration of an Engine: book, trade-flow, signal and aggregator settings shared by all
symbols. Every field is validated when the Engine is built.
)pbdoc")
        .def(py::init<>())
        .def_readwrite("book", &EngineConfig::book)
        .def_readwrite("flow", &EngineConfig::flow)
        .def_readwrite("book_signals", &EngineConfig::book_signals)
        .def_readwrite("flow_signals", &EngineConfig::flow_signals)
        .def_readwrite("aggregator", &EngineConfig::aggregator)
        .def_readwrite("ofi_window_ns", &EngineConfig::ofi_window_ns)
        .def_readwrite("ofi_capacity", &EngineConfig::ofi_capacity)
        .def_readwrite("bar_views", &EngineConfig::bar_views,
                       "Bars and the bar-based views (technical, price structure, bar volume, "
                       "sentiment); False: trades and book only (the hft_ultra_fast profile).")
        .def_readwrite("bars", &EngineConfig::bars)
        .def_readwrite(
            "view_timeframes_ns", &EngineConfig::view_timeframes_ns,
            "base/ltf/mtf/htf timeframes of the views, each one of bars.timeframes_ns or 0.")
        .def_readwrite("structure_timeframe_weights", &EngineConfig::structure_timeframe_weights)
        .def_readwrite("volume_bar_weight", &EngineConfig::volume_bar_weight,
                       "Share of the bar view in the volume component (the rest: trade flow).")
        .def_readwrite("stacked", &EngineConfig::stacked,
                       "Stacked-imbalance window of each symbol (orderflow sub-score).")
        .def_readwrite("flow_extras", &EngineConfig::flow_extras,
                       "OI quadrant, price-CVD divergence and liquidity-band parameters.");

    py::class_<Engine>(m, "Engine", R"pbdoc(
Many symbols, each with its order book, trade windows, signals and confluence aggregator.

Threading: single-threaded. Call every method from one thread; other threads hand events to
it only through a BookEventRing / TradeEventRing that this thread drains.
)pbdoc")
        .def(py::init<EngineConfig>(), py::arg("config") = EngineConfig{})
        .def("add_symbol", &Engine::add_symbol, py::arg("name"), py::arg("instrument"),
             R"pbdoc(Registers a symbol; returns its dense integer id.)pbdoc")
        .def("symbol_id", &Engine::symbol_id, py::arg("name"))
        .def("symbol_name", &Engine::symbol_name, py::arg("symbol_id"))
        .def("instrument", &Engine::instrument, py::arg("symbol_id"), py::return_value_policy::copy)
        .def_property_readonly("symbol_count", &Engine::symbol_count)
        .def(
            "apply_snapshot",
            [](Engine& e, std::uint32_t sym, const LevelArray& bids, const LevelArray& asks,
               std::int64_t update_id, std::int64_t ts_ns) {
                e.apply_snapshot(sym, as_levels(bids, "bids"), as_levels(asks, "asks"), update_id,
                                 ts_ns);
            },
            py::arg("symbol_id"), py::arg("bids"), py::arg("asks"), py::arg("update_id"),
            py::arg("ts_ns") = 0,
            R"pbdoc(Replaces a symbol's book from (n, 2) int64 [px_ticks, qty_lots] arrays.)pbdoc")
        .def(
            "apply_depth",
            [](Engine& e, std::uint32_t sym, const LevelArray& bids, const LevelArray& asks,
               std::int64_t update_id, std::int64_t prev_update_id, std::int64_t ts_ns) {
                return e.apply_depth(sym, as_levels(bids, "bids"), as_levels(asks, "asks"),
                                     update_id, prev_update_id, ts_ns);
            },
            py::arg("symbol_id"), py::arg("bids"), py::arg("asks"), py::arg("update_id"),
            py::arg("prev_update_id") = confluex::kNoUpdateId, py::arg("ts_ns") = 0,
            R"pbdoc(Applies one depth message; returns its ApplyResult.)pbdoc")
        .def(
            "push_trade",
            [](Engine& e, std::uint32_t sym, std::int64_t ts_ns, std::int64_t px, std::int64_t qty,
               int side) {
                if (side < 0 || side > 2) {
                    throw confluex::InvalidEvent(
                        "side must be 0 (buy), 1 (sell) or 2 (unknown), was " +
                        std::to_string(side));
                }
                e.push_trade(sym, ts_ns, px, qty, static_cast<confluex::Aggressor>(side));
            },
            py::arg("symbol_id"), py::arg("ts_ns"), py::arg("px_ticks"), py::arg("qty_lots"),
            py::arg("side"),
            R"pbdoc(Adds one trade; side is the aggressor: 0 buy, 1 sell, 2 unknown.)pbdoc")
        .def("advance", &Engine::advance, py::arg("symbol_id"), py::arg("now_ns"))
        .def(
            "ingest_book",
            [](Engine& e, const py::array_t<BookLevelEvent, py::array::c_style>& a) {
                const auto* p = a.data();
                const auto n = static_cast<std::size_t>(a.size());
                // Safe: p points into `a`, which the caller keeps alive; no py:: object is touched.
                const py::gil_scoped_release nogil;
                return e.ingest_book(p, n);
            },
            py::arg("events"),
            R"pbdoc(Validates then applies a batch of book_level_event_dtype records; returns messages applied.)pbdoc")
        .def(
            "ingest_trades",
            [](Engine& e, const py::array_t<TradeEvent, py::array::c_style>& a) {
                const auto* p = a.data();
                const auto n = static_cast<std::size_t>(a.size());
                // Safe: as above.
                const py::gil_scoped_release nogil;
                return e.ingest_trades(p, n);
            },
            py::arg("events"),
            R"pbdoc(Validates then applies a batch of trade_event_dtype records.)pbdoc")
        .def(
            "drain_book",
            [](Engine& e, confluex::SpscRing<BookLevelEvent>& ring, std::size_t max_events) {
                // Safe: the ring and engine outlive the call; no py:: object is touched.
                const py::gil_scoped_release nogil;
                return e.drain_book(ring, max_events);
            },
            py::arg("ring"), py::arg("max_events") = SIZE_MAX,
            R"pbdoc(Pops and applies book records from a BookEventRing (consumer thread only).)pbdoc")
        .def(
            "drain_trades",
            [](Engine& e, confluex::SpscRing<TradeEvent>& ring, std::size_t max_events) {
                // Safe: as above.
                const py::gil_scoped_release nogil;
                return e.drain_trades(ring, max_events);
            },
            py::arg("ring"), py::arg("max_events") = SIZE_MAX,
            R"pbdoc(Pops and applies trades from a TradeEventRing (consumer thread only).)pbdoc")
        .def(
            "set_component",
            [](Engine& e, std::uint32_t sym, std::string_view name, double score) {
                e.set_component(sym, component_from_name(name), score);
            },
            py::arg("symbol_id"), py::arg("component"), py::arg("score"),
            R"pbdoc(Supplies a 0-100 component score (e.g. "technical") for a symbol.)pbdoc")
        .def(
            "clear_component",
            [](Engine& e, std::uint32_t sym, std::string_view name) {
                e.clear_component(sym, component_from_name(name));
            },
            py::arg("symbol_id"), py::arg("component"))
        .def(
            "set_weights",
            [](Engine& e, const std::map<std::string, double>& w) {
                std::array<double, confluex::kComponentCount> arr = e.config().aggregator.weights;
                for (const auto& [name, value] : w) {
                    arr[static_cast<std::size_t>(component_from_name(name))] = value;
                }
                e.set_weights(arr);
            },
            py::arg("weights"),
            R"pbdoc(Replaces component weights by name (others keep their defaults).)pbdoc")
        .def(
            "load_history",
            [](Engine& e, std::uint32_t sym, const confluex::bindings::RowArray& rows,
               std::int64_t timeframe_ns) {
                return e.load_history(sym, confluex::bindings::as_rows(rows), timeframe_ns);
            },
            py::arg("symbol_id"), py::arg("ohlcv"), py::arg("timeframe_ns") = 0,
            R"pbdoc(Warms a symbol's bars up from closed ccxt fetch_ohlcv rows (n, 6); returns the timeframe in ns.)pbdoc")
        .def("on_funding", &Engine::on_funding, py::arg("symbol_id"), py::arg("ts_ns"),
             py::arg("rate"), R"pbdoc(Funding rate published at ts_ns (0.0001 = 0.01 %).)pbdoc")
        .def("on_open_interest", &Engine::on_open_interest, py::arg("symbol_id"), py::arg("ts_ns"),
             py::arg("value"), R"pbdoc(Open interest level at ts_ns.)pbdoc")
        .def(
            "on_long_short", &Engine::on_long_short, py::arg("symbol_id"), py::arg("ts_ns"),
            py::arg("long_share"), py::arg("short_share"),
            R"pbdoc(Accounts' long and short shares at ts_ns (any positive scale: a ratio r as (r, 1)).)pbdoc")
        .def("on_liquidation", &Engine::on_liquidation, py::arg("symbol_id"), py::arg("ts_ns"),
             py::arg("side"), py::arg("notional"),
             R"pbdoc(A liquidation of notional quote units of the LiquidatedSide at ts_ns.)pbdoc")
        .def(
            "bars_closed",
            [](const Engine& e, std::uint32_t sym, std::int64_t timeframe_ns) {
                const confluex::BarBuilder& b = e.bars(sym);
                const auto lv = b.level_of(timeframe_ns);
                if (!lv) {
                    throw confluex::InvalidConfig("no bar timeframe of " +
                                                  std::to_string(timeframe_ns) + " ns");
                }
                return b.closed_count(*lv);
            },
            py::arg("symbol_id"), py::arg("timeframe_ns"),
            R"pbdoc(Bars the symbol ever closed at a timeframe (history included).)pbdoc")
        .def("score", &Engine::score, py::arg("symbol_id"),
             R"pbdoc(Quality-adjusted 0-100 confluence score (fast path).)pbdoc")
        .def("result", &Engine::result, py::arg("symbol_id"), py::return_value_policy::copy,
             R"pbdoc(The full ConfluenceResult of a symbol.)pbdoc")
        .def(
            "component",
            [](Engine& e, std::uint32_t sym, std::string_view name) {
                return e.component(sym, component_from_name(name));
            },
            py::arg("symbol_id"), py::arg("component"), py::return_value_policy::copy,
            R"pbdoc(One component (a ComponentScore copy) with its sub-score breakdown.)pbdoc")
        .def(
            "best_bid",
            [](const Engine& e, std::uint32_t sym) {
                return level_or_none(e.book(sym).best_bid());
            },
            py::arg("symbol_id"))
        .def(
            "best_ask",
            [](const Engine& e, std::uint32_t sym) {
                return level_or_none(e.book(sym).best_ask());
            },
            py::arg("symbol_id"))
        .def(
            "top",
            [](const Engine& e, std::uint32_t sym, std::size_t n) {
                const confluex::OrderBook& book = e.book(sym);
                auto side = [&](confluex::BookSide sd) {
                    const std::size_t k = std::min(n, book.level_count(sd));
                    py::array_t<std::int64_t> out({static_cast<py::ssize_t>(k), py::ssize_t{2}});
                    // k <= level_count, so copy_top fills every row.
                    (void)book.copy_top(sd, k,
                                        reinterpret_cast<confluex::Level*>(out.mutable_data()));
                    return out;
                };
                return py::make_tuple(side(confluex::BookSide::Bid), side(confluex::BookSide::Ask));
            },
            py::arg("symbol_id"), py::arg("n"),
            R"pbdoc(Best n levels per side, best first: (bids, asks) as (k, 2) int64 [px_ticks, qty_lots].)pbdoc")
        .def(
            "book_state", [](const Engine& e, std::uint32_t sym) { return e.book(sym).state(); },
            py::arg("symbol_id"))
        .def(
            "desync_reason",
            [](const Engine& e, std::uint32_t sym) { return e.book(sym).desync_reason(); },
            py::arg("symbol_id"))
        .def(
            "in_sync", [](const Engine& e, std::uint32_t sym) { return e.book(sym).in_sync(); },
            py::arg("symbol_id"))
        .def(
            "window",
            [](const Engine& e, std::uint32_t sym, std::size_t i) { return e.flow(sym).window(i); },
            py::arg("symbol_id"), py::arg("index"),
            R"pbdoc(Trade-window statistics (a copy).)pbdoc")
        .def(
            "cvd", [](const Engine& e, std::uint32_t sym) { return e.flow(sym).cvd(); },
            py::arg("symbol_id"))
        .def("stats", &stats_of, py::arg("symbol_id"),
             R"pbdoc(Per-symbol health counters (EngineStats).)pbdoc");
}
