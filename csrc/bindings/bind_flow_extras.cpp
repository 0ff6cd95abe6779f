// StackedImbalance, FlowExtrasConfig and the orderflow extras' kernels (trade_flow submodule).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "confluex/errors.hpp"
#include "confluex/flow_signals.hpp"
#include "confluex/stacked_imbalance.hpp"
#include "confluex/trade_flow.hpp"

namespace py = pybind11;

namespace {

using confluex::FlowExtrasConfig;
using confluex::StackedImbalance;
using confluex::StackedImbalanceConfig;
using confluex::StackedImbalanceResult;

template <class T, class M> void checked_field(py::class_<T>& cls, const char* name, M T::*member) {
    cls.def_property(
        name, [member](const T& c) { return c.*member; },
        [member](T& c, M v) {
            T next = c;
            next.*member = v;
            next.validate(); // throws with `c` unchanged
            c = next;
        });
}

void bind_stacked(py::module_& m) {
    py::class_<StackedImbalanceConfig> cfg(m, "StackedImbalanceConfig", R"pbdoc(
Stacked-imbalance parameters (reference-system section 4 defaults; keyword-only, validated).
)pbdoc");
    const StackedImbalanceConfig d{};
    cfg.def(
        py::init([](double imbalance_threshold, std::uint32_t min_stack_length,
                    std::uint32_t min_trades_per_level, std::uint64_t min_total_trades,
                    std::int64_t window_ns, std::int64_t max_stale_ns, double max_expected_strength,
                    std::int64_t level_ticks, std::int64_t refresh_ns, std::size_t capacity) {
            StackedImbalanceConfig c{
                imbalance_threshold, min_stack_length, min_trades_per_level,  min_total_trades,
                window_ns,           max_stale_ns,     max_expected_strength, level_ticks,
                refresh_ns,          capacity};
            c.validate();
            return c;
        }),
        py::kw_only(), py::arg("imbalance_threshold") = d.imbalance_threshold,
        py::arg("min_stack_length") = d.min_stack_length,
        py::arg("min_trades_per_level") = d.min_trades_per_level,
        py::arg("min_total_trades") = d.min_total_trades, py::arg("window_ns") = d.window_ns,
        py::arg("max_stale_ns") = d.max_stale_ns,
        py::arg("max_expected_strength") = d.max_expected_strength,
        py::arg("level_ticks") = d.level_ticks, py::arg("refresh_ns") = d.refresh_ns,
        py::arg("capacity") = d.capacity);
    checked_field(cfg, "imbalance_threshold", &StackedImbalanceConfig::imbalance_threshold);
    checked_field(cfg, "min_stack_length", &StackedImbalanceConfig::min_stack_length);
    checked_field(cfg, "min_trades_per_level", &StackedImbalanceConfig::min_trades_per_level);
    checked_field(cfg, "min_total_trades", &StackedImbalanceConfig::min_total_trades);
    checked_field(cfg, "window_ns", &StackedImbalanceConfig::window_ns);
    checked_field(cfg, "max_stale_ns", &StackedImbalanceConfig::max_stale_ns);
    checked_field(cfg, "max_expected_strength", &StackedImbalanceConfig::max_expected_strength);
    checked_field(cfg, "level_ticks", &StackedImbalanceConfig::level_ticks);
    checked_field(cfg, "refresh_ns", &StackedImbalanceConfig::refresh_ns);
    checked_field(cfg, "capacity", &StackedImbalanceConfig::capacity);

    py::class_<StackedImbalanceResult>(m, "StackedImbalanceResult", R"pbdoc(
One stacked-imbalance reading: score 0-100 (50 without data), confidence 0-1, the stacks.
)pbdoc")
        .def_readonly("score", &StackedImbalanceResult::score)
        .def_readonly("confidence", &StackedImbalanceResult::confidence)
        .def_readonly("has_data", &StackedImbalanceResult::has_data)
        .def_readonly("bullish_stacks", &StackedImbalanceResult::bullish_stacks)
        .def_readonly("bearish_stacks", &StackedImbalanceResult::bearish_stacks)
        .def_readonly("max_stack_length", &StackedImbalanceResult::max_stack_length)
        .def_readonly("bullish_strength", &StackedImbalanceResult::bullish_strength)
        .def_readonly("bearish_strength", &StackedImbalanceResult::bearish_strength)
        .def_readonly("levels", &StackedImbalanceResult::levels)
        .def_readonly("significant_levels", &StackedImbalanceResult::significant_levels)
        .def_readonly("trades", &StackedImbalanceResult::trades)
        .def("__repr__", [](const StackedImbalanceResult& r) {
            return "StackedImbalanceResult(score=" + std::to_string(r.score) +
                   ", confidence=" + std::to_string(r.confidence) +
                   ", has_data=" + (r.has_data ? "True" : "False") +
                   ", bullish_stacks=" + std::to_string(r.bullish_stacks) +
                   ", bearish_stacks=" + std::to_string(r.bearish_stacks) + ")";
        });

    py::class_<StackedImbalance>(m, "StackedImbalance", R"pbdoc(
Stacked-imbalance detector over a sliding event-time window of taker trades (prices in ticks,
sizes in lots; levels of level_ticks ticks).
)pbdoc")
        .def(py::init<StackedImbalanceConfig>(), py::arg("config") = StackedImbalanceConfig{})
        .def(
            "push",
            [](StackedImbalance& s, std::int64_t ts_ns, std::int64_t px, std::int64_t qty,
               std::int64_t side) { s.push(ts_ns, px, qty, confluex::to_aggressor(side)); },
            py::arg("ts_ns"), py::arg("px"), py::arg("qty"), py::arg("side"),
            R"pbdoc(Adds one trade (side 0 buy, 1 sell, 2 unknown); InvalidEvent on bad values.)pbdoc")
        .def("advance", &StackedImbalance::advance, py::arg("now_ns"))
        .def("compute", &StackedImbalance::compute,
             R"pbdoc(The reading of the window at the clock.)pbdoc")
        .def_property_readonly("trades", &StackedImbalance::trades)
        .def_property_readonly("levels", &StackedImbalance::levels)
        .def_property_readonly("evicted_early", &StackedImbalance::evicted_early)
        .def_property_readonly("now_ns", &StackedImbalance::now_ns)
        .def_property_readonly("config", &StackedImbalance::config);
}

std::span<const double> as_span(const py::array_t<double, py::array::c_style>& a,
                                const char* name) {
    if (a.ndim() != 1) {
        throw confluex::InvalidEvent(std::string(name) + " must be 1-D, was " +
                                     std::to_string(a.ndim()) + "-D");
    }
    return {a.data(), static_cast<std::size_t>(a.shape(0))};
}

void bind_extras(py::module_& m) {
    py::class_<FlowExtrasConfig> cfg(m, "FlowExtrasConfig", R"pbdoc(
Parameters of the OI quadrant, price-CVD divergence and liquidity-band refresh (validated).
)pbdoc");
    const FlowExtrasConfig d{};
    cfg.def(py::init([](double oi_scale, double price_scale, double oi_unwind_factor,
                        std::uint32_t divergence_bars, double divergence_recency,
                        std::int64_t liquidity_refresh_ns, bool enabled) {
                FlowExtrasConfig c{oi_scale,        price_scale,        oi_unwind_factor,
                                   divergence_bars, divergence_recency, liquidity_refresh_ns,
                                   enabled};
                c.validate();
                return c;
            }),
            py::kw_only(), py::arg("oi_scale") = d.oi_scale, py::arg("price_scale") = d.price_scale,
            py::arg("oi_unwind_factor") = d.oi_unwind_factor,
            py::arg("divergence_bars") = d.divergence_bars,
            py::arg("divergence_recency") = d.divergence_recency,
            py::arg("liquidity_refresh_ns") = d.liquidity_refresh_ns,
            py::arg("enabled") = d.enabled);
    checked_field(cfg, "oi_scale", &FlowExtrasConfig::oi_scale);
    checked_field(cfg, "price_scale", &FlowExtrasConfig::price_scale);
    checked_field(cfg, "oi_unwind_factor", &FlowExtrasConfig::oi_unwind_factor);
    checked_field(cfg, "divergence_bars", &FlowExtrasConfig::divergence_bars);
    checked_field(cfg, "divergence_recency", &FlowExtrasConfig::divergence_recency);
    checked_field(cfg, "liquidity_refresh_ns", &FlowExtrasConfig::liquidity_refresh_ns);
    checked_field(cfg, "enabled", &FlowExtrasConfig::enabled);

    m.def("oi_quadrant_score", &confluex::oi_quadrant_score, py::arg("oi_change"),
          py::arg("price_change"), py::arg("config") = FlowExtrasConfig{},
          R"pbdoc(
Open-interest quadrant sub-score from relative OI and price changes: 50 + 50 x (y+ +
oi_unwind_factor y-), x = tanh(dp/price_scale), y = tanh(doi/oi_scale); NaN when an input is
not finite.
)pbdoc");
    m.def(
        "cvd_divergence_score",
        [](const py::array_t<double, py::array::c_style>& delta,
           const py::array_t<double, py::array::c_style>& volume,
           const py::array_t<double, py::array::c_style>& close, double recency,
           double sensitivity) {
            const auto d = as_span(delta, "delta");
            const auto v = as_span(volume, "volume");
            const auto c = as_span(close, "close");
            if (d.size() != v.size() || d.size() != c.size()) {
                throw confluex::InvalidEvent("delta, volume and close must have one length, was " +
                                             std::to_string(d.size()) + ", " +
                                             std::to_string(v.size()) + ", " +
                                             std::to_string(c.size()));
            }
            return confluex::cvd_divergence_score(d, v, c, recency, sensitivity);
        },
        py::arg("delta"), py::arg("volume"), py::arg("close"), py::arg("recency") = 1.2,
        py::arg("sensitivity") = 0.35,
        R"pbdoc(
Price-CVD divergence sub-score over bars given oldest first (see flow_signals.hpp); NaN when
fewer than 2 bars, a close is not positive, or there is no sided volume.
)pbdoc");
}

} // namespace

void register_flow_extras(py::module_& m) {
    bind_stacked(m);
    bind_extras(m);
}
