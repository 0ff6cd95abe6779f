// confluex._core.mm: the market maker's online estimators (mm_estimators.hpp) and the GLFT
// quoting kernel (mm_quoting.hpp).
#include <pybind11/pybind11.h>

#include <cstdint>

#include "confluex/mm_estimators.hpp"
#include "confluex/mm_quoting.hpp"

namespace py = pybind11;

namespace {

using confluex::GlftConfig;
using confluex::IntensityFit;
using confluex::MidVolatility;
using confluex::Quote;
using confluex::TradeIntensity;

void bind_estimators(py::module_& m) {
    py::class_<MidVolatility>(m, "MidVolatility", R"pbdoc(
Sigma of the mid in ticks per sqrt(second): decayed realised variance of mid changes sampled
every `sample_ns` of data time (half-life `half_life_s`). O(1) per update. Not thread-safe.
)pbdoc")
        .def(py::init<double, std::int64_t, std::int64_t>(), py::arg("half_life_s") = 30.0,
             py::arg("sample_ns") = 100'000'000, py::arg("min_samples") = 10)
        .def(
            "update", &MidVolatility::update, py::arg("ts_ns"), py::arg("mid_ticks"),
            R"pbdoc(Observes the mid (ticks) at data time ts_ns; InvalidEvent if not finite.)pbdoc")
        .def("variance", &MidVolatility::variance,
             R"pbdoc(sigma^2 in ticks^2 per second; NaN until ready().)pbdoc")
        .def("sigma", &MidVolatility::sigma,
             R"pbdoc(sigma in ticks per sqrt(second); NaN until ready().)pbdoc")
        .def("ready", &MidVolatility::ready)
        .def_property_readonly("samples", &MidVolatility::samples)
        .def_property_readonly("out_of_order", &MidVolatility::out_of_order)
        .def_property_readonly("half_life_s", &MidVolatility::half_life_s)
        .def_property_readonly("sample_ns", &MidVolatility::sample_ns);

    py::class_<IntensityFit>(m, "IntensityFit", R"pbdoc(
lambda(delta) = a * exp(-k * delta) per side per second (delta in ticks); ok is False when
fewer than two buckets qualify or the slope is not negative (then a and k are NaN).
)pbdoc")
        .def_readonly("a", &IntensityFit::a)
        .def_readonly("k", &IntensityFit::k)
        .def_readonly("buckets", &IntensityFit::buckets)
        .def_readonly("ok", &IntensityFit::ok);

    py::class_<TradeIntensity>(m, "TradeIntensity", R"pbdoc(
Arrival intensity of trades by distance from the mid: decayed counts in `buckets` distance
thresholds 0.5 + i * bucket_ticks and a closed-form log-linear fit. O(buckets) per trade.
Not thread-safe.
)pbdoc")
        .def(py::init<std::size_t, double, double, double>(), py::arg("buckets") = 8,
             py::arg("bucket_ticks") = 1.0, py::arg("half_life_s") = 60.0,
             py::arg("min_count") = 2.0)
        .def("advance", &TradeIntensity::advance, py::arg("ts_ns"),
             R"pbdoc(Decays the counts to data time ts_ns (no trade).)pbdoc")
        .def("on_trade", &TradeIntensity::on_trade, py::arg("ts_ns"), py::arg("distance_ticks"),
             R"pbdoc(Counts one trade at distance_ticks (>= 0) from the mid.)pbdoc")
        .def("threshold", &TradeIntensity::threshold, py::arg("i"))
        .def("count", &TradeIntensity::count, py::arg("i"))
        .def("rate", &TradeIntensity::rate, py::arg("i"),
             R"pbdoc(Bucket i's trades per second per side; NaN before any elapsed time.)pbdoc")
        .def(
            "fit", &TradeIntensity::fit,
            R"pbdoc(Least-squares line through (threshold, ln rate) of the qualifying buckets.)pbdoc")
        .def_property_readonly("buckets", &TradeIntensity::buckets)
        .def_property_readonly("bucket_ticks", &TradeIntensity::bucket_ticks)
        .def_property_readonly("half_life_s", &TradeIntensity::half_life_s)
        .def_property_readonly("min_count", &TradeIntensity::min_count)
        .def_property_readonly("elapsed_s", &TradeIntensity::elapsed_s)
        .def_property_readonly("trades", &TradeIntensity::trades)
        .def_property_readonly("out_of_order", &TradeIntensity::out_of_order);
}

void bind_quoting(py::module_& m) {
    const GlftConfig d{};
    py::class_<GlftConfig>(m, "GlftConfig", R"pbdoc(
GLFT quoting parameters (keyword-only; validated on construction).
)pbdoc")
        .def(py::init([](double gamma, std::int64_t order_lots, std::int64_t max_inventory_lots,
                         std::int64_t size_step_lots, double alpha_gain, double alpha_horizon_s,
                         double max_depth_ticks) {
                 GlftConfig c{gamma,      order_lots,      max_inventory_lots, size_step_lots,
                              alpha_gain, alpha_horizon_s, max_depth_ticks};
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("gamma") = d.gamma, py::arg("order_lots") = d.order_lots,
             py::arg("max_inventory_lots") = d.max_inventory_lots,
             py::arg("size_step_lots") = d.size_step_lots, py::arg("alpha_gain") = d.alpha_gain,
             py::arg("alpha_horizon_s") = d.alpha_horizon_s,
             py::arg("max_depth_ticks") = d.max_depth_ticks)
        .def_readonly("gamma", &GlftConfig::gamma)
        .def_readonly("order_lots", &GlftConfig::order_lots)
        .def_readonly("max_inventory_lots", &GlftConfig::max_inventory_lots)
        .def_readonly("size_step_lots", &GlftConfig::size_step_lots)
        .def_readonly("alpha_gain", &GlftConfig::alpha_gain)
        .def_readonly("alpha_horizon_s", &GlftConfig::alpha_horizon_s)
        .def_readonly("max_depth_ticks", &GlftConfig::max_depth_ticks);

    py::class_<Quote>(m, "Quote", R"pbdoc(
Two quotes from glft_quote(): prices in ticks, sizes in lots (0: that side is not quoted).
)pbdoc")
        .def_readonly("reservation_ticks", &Quote::reservation_ticks)
        .def_readonly("half_spread_ticks", &Quote::half_spread_ticks)
        .def_readonly("skew_ticks", &Quote::skew_ticks)
        .def_readonly("alpha_ticks", &Quote::alpha_ticks)
        .def_readonly("bid_ticks", &Quote::bid_ticks)
        .def_readonly("ask_ticks", &Quote::ask_ticks)
        .def_readonly("bid_lots", &Quote::bid_lots)
        .def_readonly("ask_lots", &Quote::ask_lots);

    m.def("glft_quote", &confluex::glft_quote, py::arg("config"), py::arg("mid_ticks"),
          py::arg("best_bid_ticks"), py::arg("best_ask_ticks"), py::arg("inventory_lots"),
          py::arg("sigma"), py::arg("a"), py::arg("k"), py::arg("score"), R"pbdoc(
GLFT quotes around the reservation price mid + alpha(score) - skew * inventory / order_lots,
half-spread c1 + sigma * c2 / 2, post-only against the book, sizes skewed by inventory and
capped by max_inventory_lots (see mm_quoting.hpp). InvalidEvent on a bad input.
)pbdoc");
}

} // namespace

void register_mm(py::module_& m) {
    bind_estimators(m);
    bind_quoting(m);
}
