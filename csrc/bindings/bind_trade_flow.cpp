// confluex._core.trade_flow: TradeFlow windows, RollingZScore and the orderflow / volume
// components.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "confluex/flow_signals.hpp"
#include "confluex/trade_flow.hpp"
#include "confluex/zscore.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::ComponentScore;
using confluex::FlowConfig;
using confluex::FlowSignalsConfig;
using confluex::RollingZScore;
using confluex::TradeFlow;
using confluex::WindowStats;

void bind_configs(py::module_& m) {
    const FlowConfig d{};
    py::class_<FlowConfig>(m, "FlowConfig", R"pbdoc(
Configuration of a TradeFlow (keyword-only; validated on construction, and again by TradeFlow).
)pbdoc")
        .def(py::init([](std::vector<std::int64_t> windows_ns, std::int64_t large_trade_lots,
                         std::size_t capacity, std::int64_t zscore_sample_ns,
                         std::size_t zscore_window_index, std::size_t zscore_lookback,
                         std::size_t zscore_min_samples, double zscore_clip) {
                 FlowConfig c{std::move(windows_ns), large_trade_lots,    capacity,
                              zscore_sample_ns,      zscore_window_index, zscore_lookback,
                              zscore_min_samples,    zscore_clip};
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("windows_ns") = d.windows_ns,
             py::arg("large_trade_lots") = d.large_trade_lots, py::arg("capacity") = d.capacity,
             py::arg("zscore_sample_ns") = d.zscore_sample_ns,
             py::arg("zscore_window_index") = d.zscore_window_index,
             py::arg("zscore_lookback") = d.zscore_lookback,
             py::arg("zscore_min_samples") = d.zscore_min_samples,
             py::arg("zscore_clip") = d.zscore_clip)
        .def_readwrite("windows_ns", &FlowConfig::windows_ns)
        .def_readwrite("large_trade_lots", &FlowConfig::large_trade_lots)
        .def_readwrite("capacity", &FlowConfig::capacity)
        .def_readwrite("zscore_sample_ns", &FlowConfig::zscore_sample_ns)
        .def_readwrite("zscore_window_index", &FlowConfig::zscore_window_index)
        .def_readwrite("zscore_lookback", &FlowConfig::zscore_lookback)
        .def_readwrite("zscore_min_samples", &FlowConfig::zscore_min_samples)
        .def_readwrite("zscore_clip", &FlowConfig::zscore_clip)
        .def("validate", &FlowConfig::validate,
             R"pbdoc(Raises InvalidConfig naming the first value out of its domain.)pbdoc");

    const FlowSignalsConfig s{};
    py::class_<FlowSignalsConfig>(m, "FlowSignalsConfig", R"pbdoc(
Parameters of the orderflow and volume components (keyword-only; validated).
)pbdoc")
        .def(py::init([](std::uint64_t min_trades, double sensitivity, double cvd_fallback_gain,
                         std::array<double, 8> orderflow_weights,
                         std::array<double, 3> volume_weights, bool warmup) {
                 FlowSignalsConfig c{};
                 c.min_trades = min_trades;
                 c.sensitivity = sensitivity;
                 c.cvd_fallback_gain = cvd_fallback_gain;
                 c.orderflow_weights = orderflow_weights;
                 c.volume_weights = volume_weights;
                 c.warmup = warmup;
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("min_trades") = s.min_trades,
             py::arg("sensitivity") = s.sensitivity,
             py::arg("cvd_fallback_gain") = s.cvd_fallback_gain,
             py::arg("orderflow_weights") = s.orderflow_weights,
             py::arg("volume_weights") = s.volume_weights, py::arg("warmup") = s.warmup)
        .def_readwrite("min_trades", &FlowSignalsConfig::min_trades)
        .def_readwrite("sensitivity", &FlowSignalsConfig::sensitivity)
        .def_readwrite("cvd_fallback_gain", &FlowSignalsConfig::cvd_fallback_gain)
        .def_readwrite("orderflow_weights", &FlowSignalsConfig::orderflow_weights,
                       "Orderflow sub-score weights in ORDERFLOW_SUB_NAMES order.")
        .def_readwrite("volume_weights", &FlowSignalsConfig::volume_weights,
                       "Volume sub-score weights in VOLUME_SUB_NAMES order.")
        .def_readwrite("warmup", &FlowSignalsConfig::warmup,
                       "Scale sub-score weights by their window's coverage (see the header).")
        .def("validate", &FlowSignalsConfig::validate,
             R"pbdoc(Raises InvalidConfig naming the first value out of its domain.)pbdoc");
}

void bind_window_stats(py::module_& m) {
    py::class_<WindowStats>(m, "WindowStats", R"pbdoc(
Snapshot of one window: quantities in lots, notionals in ticks*lots.
)pbdoc")
        .def_readonly("buy_qty", &WindowStats::buy_qty)
        .def_readonly("sell_qty", &WindowStats::sell_qty)
        .def_readonly("unknown_qty", &WindowStats::unknown_qty)
        .def_readonly("buy_notional", &WindowStats::buy_notional)
        .def_readonly("sell_notional", &WindowStats::sell_notional)
        .def_readonly("unknown_notional", &WindowStats::unknown_notional)
        .def_readonly("count", &WindowStats::count)
        .def_readonly("large_count", &WindowStats::large_count)
        .def_readonly("large_buy_qty", &WindowStats::large_buy_qty)
        .def_readonly("large_sell_qty", &WindowStats::large_sell_qty)
        .def_property_readonly("delta", &WindowStats::delta, R"pbdoc(buy_qty - sell_qty.)pbdoc")
        .def_property_readonly("total_qty", &WindowStats::total_qty)
        .def_property_readonly("imbalance", &WindowStats::imbalance,
                               R"pbdoc((buy - sell) / (buy + sell); 0 when empty.)pbdoc")
        .def_property_readonly("vwap_ticks", &WindowStats::vwap_ticks,
                               R"pbdoc(VWAP in ticks over every trade, or None when empty.)pbdoc")
        .def("__repr__", [](const WindowStats& w) {
            return "WindowStats(count=" + std::to_string(w.count) +
                   ", buy_qty=" + std::to_string(w.buy_qty) +
                   ", sell_qty=" + std::to_string(w.sell_qty) +
                   ", unknown_qty=" + std::to_string(w.unknown_qty) + ")";
        });
}

void bind_zscore(py::module_& m) {
    py::class_<RollingZScore>(m, "RollingZScore", R"pbdoc(
Rolling z-score over the last `lookback` values, clipped to +-clip, 0 before `min_samples`.
)pbdoc")
        .def(py::init<std::size_t, std::size_t, double>(), py::arg("lookback") = 200,
             py::arg("min_samples") = 30, py::arg("clip") = 3.0)
        .def("update", &RollingZScore::update, py::arg("x"),
             R"pbdoc(Pushes x and returns its clipped z against the window including x.)pbdoc")
        .def("zscore", &RollingZScore::zscore, py::arg("x"),
             R"pbdoc(Clipped z of x against the current window, without pushing.)pbdoc")
        .def("ready", &RollingZScore::ready)
        .def("count", &RollingZScore::count)
        .def("mean", &RollingZScore::mean)
        .def("stddev", &RollingZScore::stddev, R"pbdoc(Population standard deviation.)pbdoc")
        .def("lookback", &RollingZScore::lookback)
        .def("min_samples", &RollingZScore::min_samples)
        .def("clip", &RollingZScore::clip)
        .def("reset", &RollingZScore::reset);
}

void bind_flow(py::module_& m) {
    py::class_<TradeFlow>(m, "TradeFlow", R"pbdoc(
Windowed taker-trade statistics, CVD and the CVD z-score. Window w holds trades with
ts in (now - w, now]. Not thread-safe: one thread owns an instance.
)pbdoc")
        .def(py::init<FlowConfig>(), py::arg("config") = FlowConfig{})
        .def(
            "push",
            [](TradeFlow& f, std::int64_t ts_ns, std::int64_t px_ticks, std::int64_t qty_lots,
               std::int64_t side) {
                f.push(ts_ns, px_ticks, qty_lots, confluex::to_aggressor(side));
            },
            py::arg("ts_ns"), py::arg("px_ticks"), py::arg("qty_lots"), py::arg("side"),
            R"pbdoc(Adds one trade; side 0 buy, 1 sell, 2 unknown (aggressor/taker side).)pbdoc")
        .def(
            "push_many",
            [](TradeFlow& f, const py::array_t<confluex::TradeEvent, py::array::c_style>& events) {
                const auto* ptr = events.data();
                const auto n = static_cast<std::size_t>(events.size());
                // Safe without the GIL: only the raw buffer is read, `events` stays alive.
                const py::gil_scoped_release nogil;
                f.push_many(ptr, n);
            },
            py::arg("events").noconvert(), R"pbdoc(
Pushes a C-contiguous array of trade_event_dtype records in order (symbol_id ignored), with
the GIL released. The whole batch is validated first; a bad record raises InvalidEvent
naming its index and nothing is applied.
)pbdoc")
        .def("advance", &TradeFlow::advance, py::arg("now_ns"),
             R"pbdoc(Moves the clock forward with no trade (evicts, samples the z-score).)pbdoc")
        .def("window_count", &TradeFlow::window_count)
        .def("window_ns", &TradeFlow::window_ns, py::arg("i"))
        .def("ring_size", &TradeFlow::ring_size,
             R"pbdoc(Current size of the trade ring (grows up to config().capacity).)pbdoc")
        .def("memory_bytes", &TradeFlow::memory_bytes,
             R"pbdoc(Bytes held by the flow and its ring.)pbdoc")
        .def(
            "window", [](const TradeFlow& f, std::size_t i) { return f.window(i); }, py::arg("i"),
            R"pbdoc(Snapshot (copy) of window i at the current clock.)pbdoc")
        .def(
            "windows",
            [](const TradeFlow& f) {
                std::vector<WindowStats> out;
                for (std::size_t i = 0; i < f.window_count(); ++i) {
                    out.push_back(f.window(i));
                }
                return out;
            },
            R"pbdoc(Snapshots of every window, shortest first.)pbdoc")
        .def("cvd", &TradeFlow::cvd, R"pbdoc(Buy - sell lots since start or reset.)pbdoc")
        .def("total_count", &TradeFlow::total_count)
        .def("last_ts_ns", &TradeFlow::last_ts_ns)
        .def("start_ts_ns", &TradeFlow::start_ts_ns)
        .def("truncated", &TradeFlow::truncated,
             R"pbdoc(Trades evicted early because the ring was full.)pbdoc")
        .def("out_of_order", &TradeFlow::out_of_order,
             R"pbdoc(Trades stamped earlier than the clock (re-stamped with it).)pbdoc")
        .def("last_cvd_z", &TradeFlow::last_cvd_z)
        .def(
            "cvd_zscore", [](const TradeFlow& f) { return f.cvd_zscore(); },
            R"pbdoc(Snapshot (copy) of the CVD z-score normaliser.)pbdoc")
        .def(
            "config", [](const TradeFlow& f) { return f.config(); },
            R"pbdoc(Copy of the configuration.)pbdoc")
        .def("reset", &TradeFlow::reset);
}

} // namespace

void register_trade_flow(py::module_& m) {
    bind_configs(m);
    bind_window_stats(m);
    bind_zscore(m);
    bind_flow(m);
    py::tuple of_names(confluex::kOrderflowSubNames.size());
    for (std::size_t i = 0; i < confluex::kOrderflowSubNames.size(); ++i) {
        of_names[i] = confluex::kOrderflowSubNames[i];
    }
    m.attr("ORDERFLOW_SUB_NAMES") = of_names;
    py::tuple vol_names(confluex::kVolumeSubNames.size());
    for (std::size_t i = 0; i < confluex::kVolumeSubNames.size(); ++i) {
        vol_names[i] = confluex::kVolumeSubNames[i];
    }
    m.attr("VOLUME_SUB_NAMES") = vol_names;
    m.def(
        "compute_orderflow_component",
        [](const TradeFlow& flow, const FlowSignalsConfig& cfg,
           std::optional<double> stacked_imbalance, std::optional<double> oi_quadrant,
           std::optional<double> cvd_divergence) {
            cfg.validate();
            ComponentScore out;
            confluex::OrderflowExtras extras{};
            extras.stacked_imbalance = stacked_imbalance.value_or(extras.stacked_imbalance);
            extras.oi_quadrant = oi_quadrant.value_or(extras.oi_quadrant);
            extras.cvd_divergence = cvd_divergence.value_or(extras.cvd_divergence);
            confluex::compute_orderflow_component(flow, cfg, out, extras);
            return out;
        },
        py::arg("flow"), py::arg("config") = FlowSignalsConfig{}, py::kw_only(),
        py::arg("stacked_imbalance") = py::none(), py::arg("oi_quadrant") = py::none(),
        py::arg("cvd_divergence") = py::none(),
        R"pbdoc(The orderflow component (ComponentScore) of a TradeFlow; the extras' 0-100
sub-scores when given (None / NaN: weight 0).)pbdoc");
    m.def(
        "compute_volume_component",
        [](const TradeFlow& flow, const FlowSignalsConfig& cfg) {
            cfg.validate();
            ComponentScore out;
            confluex::compute_volume_component(flow, cfg, out);
            return out;
        },
        py::arg("flow"), py::arg("config") = FlowSignalsConfig{},
        R"pbdoc(The volume component (ComponentScore) of a TradeFlow.)pbdoc");
    m.def("relative_activity", &confluex::relative_activity, py::arg("flow"),
          R"pbdoc(Short-window volume rate over longest-window rate (1 when empty).)pbdoc");
    m.def("activity_multiplier", &confluex::activity_multiplier, py::arg("rv"),
          R"pbdoc(2 (1 + rv) / (3 + rv): the volume component's activity multiplier.)pbdoc");
}
