// confluex._core.structure: the causal price-structure view (swings, market structure, zones).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "confluex/price_structure.hpp"
#include "convert.hpp"
#include "view_convert.hpp"

namespace py = pybind11;

namespace {

using confluex::Bar;
using confluex::PriceStructure;
using confluex::PriceStructureConfig;
using confluex::StructureReading;
using confluex::bindings::BarTimes;
using confluex::bindings::BarValues;
using confluex::bindings::keyed_dict;
using confluex::bindings::to_array;

void set_weights(PriceStructureConfig& c, const std::map<std::string, double>& w) {
    confluex::bindings::set_weights(c, w);
}

} // namespace

void register_structure(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(StructureReading, open_ns, score, sub, swing_high, swing_low, support,
                         resistance, range_high, range_low, events, trend, has_data, n_bull_ob,
                         n_bear_ob, n_bull_gap, n_bear_gap);
    m.attr("reading_dtype") = py::dtype::of<StructureReading>();
    m.def(
        "reading_layout",
        [] {
            py::dict o;
            o["open_ns"] = offsetof(StructureReading, open_ns);
            o["score"] = offsetof(StructureReading, score);
            o["sub"] = offsetof(StructureReading, sub);
            o["swing_high"] = offsetof(StructureReading, swing_high);
            o["events"] = offsetof(StructureReading, events);
            o["trend"] = offsetof(StructureReading, trend);
            o["has_data"] = offsetof(StructureReading, has_data);
            o["n_bear_gap"] = offsetof(StructureReading, n_bear_gap);
            return py::make_tuple(sizeof(StructureReading), o);
        },
        R"pbdoc(Returns (sizeof, {field: offsetof}) of StructureReading as the C++ compiler laid it out.)pbdoc");
    py::tuple keys(confluex::kStructureSubCount);
    for (std::size_t i = 0; i < confluex::kStructureSubCount; ++i) {
        keys[i] = py::str(confluex::kStructureKeys[i]);
    }
    m.attr("SUB_SCORE_KEYS") = keys;
    namespace ev = confluex::structure_events;
    py::dict events;
    events["SWING_HIGH"] = ev::kSwingHigh;
    events["SWING_LOW"] = ev::kSwingLow;
    events["HIGHER_HIGH"] = ev::kHigherHigh;
    events["LOWER_HIGH"] = ev::kLowerHigh;
    events["HIGHER_LOW"] = ev::kHigherLow;
    events["LOWER_LOW"] = ev::kLowerLow;
    events["BOS_UP"] = ev::kBosUp;
    events["BOS_DOWN"] = ev::kBosDown;
    events["CHOCH_UP"] = ev::kChochUp;
    events["CHOCH_DOWN"] = ev::kChochDown;
    events["SWEEP_HIGH"] = ev::kSweepHigh;
    events["SWEEP_LOW"] = ev::kSweepLow;
    events["BULL_ORDER_BLOCK"] = ev::kBullOrderBlock;
    events["BEAR_ORDER_BLOCK"] = ev::kBearOrderBlock;
    events["BULL_GAP"] = ev::kBullGap;
    events["BEAR_GAP"] = ev::kBearGap;
    m.attr("EVENTS") = events;

    const PriceStructureConfig d{};
    py::class_<PriceStructureConfig>(m, "StructureConfig", R"pbdoc(
Parameters of a PriceStructure (keyword-only; validated). `weights` maps sub-score keys
(SUB_SCORE_KEYS) to weights; keys not named keep their default of 1, an unknown key raises
InvalidConfig.
)pbdoc")
        .def(py::init([](std::uint32_t swing_bars, double ob_body, double ob_range_mult,
                         double ob_volume_mult, double range_min_atr, double sweep_min,
                         std::uint32_t event_decay_bars,
                         const std::map<std::string, double>& weights) {
                 PriceStructureConfig c{};
                 c.swing_bars = swing_bars;
                 c.ob_body = ob_body;
                 c.ob_range_mult = ob_range_mult;
                 c.ob_volume_mult = ob_volume_mult;
                 c.range_min_atr = range_min_atr;
                 c.sweep_min = sweep_min;
                 c.event_decay_bars = event_decay_bars;
                 set_weights(c, weights);
                 return c;
             }),
             py::kw_only(), py::arg("swing_bars") = d.swing_bars, py::arg("ob_body") = d.ob_body,
             py::arg("ob_range_mult") = d.ob_range_mult,
             py::arg("ob_volume_mult") = d.ob_volume_mult,
             py::arg("range_min_atr") = d.range_min_atr, py::arg("sweep_min") = d.sweep_min,
             py::arg("event_decay_bars") = d.event_decay_bars,
             py::arg("weights") = std::map<std::string, double>{})
        .def_readwrite("swing_bars", &PriceStructureConfig::swing_bars)
        .def_readwrite("ob_body", &PriceStructureConfig::ob_body)
        .def_readwrite("ob_range_mult", &PriceStructureConfig::ob_range_mult)
        .def_readwrite("ob_volume_mult", &PriceStructureConfig::ob_volume_mult)
        .def_readwrite("range_min_atr", &PriceStructureConfig::range_min_atr)
        .def_readwrite("sweep_min", &PriceStructureConfig::sweep_min)
        .def_readwrite("event_decay_bars", &PriceStructureConfig::event_decay_bars)
        .def_property(
            "weights",
            [](const PriceStructureConfig& c) {
                return keyed_dict(c.weights, confluex::kStructureKeys);
            },
            &set_weights, "Sub-score weights by key; assigning a dict updates the keys it names.")
        .def("validate", &PriceStructureConfig::validate,
             R"pbdoc(Raises InvalidConfig naming the first value out of its domain.)pbdoc");

    py::class_<StructureReading>(m, "StructureReading",
                                 "The price-structure reading of one closed bar.")
        .def_readonly("open_ns", &StructureReading::open_ns)
        .def_readonly("score", &StructureReading::score)
        .def_property_readonly(
            "sub",
            [](const StructureReading& r) { return keyed_dict(r.sub, confluex::kStructureKeys); },
            "Sub-scores by key; NaN = not available.")
        .def_readonly("swing_high", &StructureReading::swing_high)
        .def_readonly("swing_low", &StructureReading::swing_low)
        .def_readonly("support", &StructureReading::support)
        .def_readonly("resistance", &StructureReading::resistance)
        .def_readonly("range_high", &StructureReading::range_high)
        .def_readonly("range_low", &StructureReading::range_low)
        .def_readonly("events", &StructureReading::events)
        .def_readonly("trend", &StructureReading::trend)
        .def_property_readonly("has_data",
                               [](const StructureReading& r) { return r.has_data != 0; });

    m.def(
        "combine_timeframes",
        [](const std::vector<StructureReading>& readings, const std::vector<double>& tf_weights,
           const PriceStructureConfig& config) {
            return confluex::combine_timeframes(readings, tf_weights, config);
        },
        py::arg("readings"), py::arg("tf_weights"), py::arg("config") = PriceStructureConfig{},
        R"pbdoc(
Combines one symbol's latest readings on several timeframes (base first) into one
{score, has_data, sub, weights}: each sub-score is the tf_weights-weighted mean over the
timeframes that have it (renormalised), the score their config-weighted mean.
)pbdoc");

    py::class_<PriceStructure>(m, "PriceStructure", R"pbdoc(
Causal, incremental price structure of one symbol on one timeframe: feed closed bars in
order; each reading is final when returned (swings are confirmed swing_bars bars late).
Single-threaded.
)pbdoc")
        .def(py::init<const PriceStructureConfig&>(), py::arg("config") = PriceStructureConfig{})
        .def(
            "update",
            [](PriceStructure& s, std::int64_t open_ns, double o, double h, double l, double c,
               double v) {
                const double x[5] = {o, h, l, c, v};
                return s.update(confluex::bindings::make_bar(open_ns, x));
            },
            py::arg("open_ns"), py::arg("open"), py::arg("high"), py::arg("low"), py::arg("close"),
            py::arg("volume"),
            R"pbdoc(Closes one bar and returns its reading. Raises InvalidEvent (state unchanged) on a bad bar.)pbdoc")
        .def(
            "update_many",
            [](PriceStructure& s, const BarTimes& open_ns, const BarValues& ohlcv) {
                std::vector<StructureReading> out;
                out.reserve(static_cast<std::size_t>(open_ns.size()));
                confluex::bindings::for_each_bar(open_ns, ohlcv,
                                                 [&](const Bar& b) { out.push_back(s.update(b)); });
                return to_array(std::move(out));
            },
            py::arg("open_ns"), py::arg("ohlcv"),
            R"pbdoc(
Closes n bars (open_ns int64 (n,), ohlcv float64 (n, 5) [open, high, low, close, volume])
and returns their readings as a reading_dtype array. On a bad bar raises InvalidEvent; the
bars before it stay applied.
)pbdoc")
        .def(
            "component", [](const PriceStructure& s) { return s.component(); },
            R"pbdoc(Returns the last reading as {score, has_data, sub, weights} (available sub-scores only).)pbdoc")
        .def_property_readonly("last", &PriceStructure::last)
        .def_property_readonly("bars", &PriceStructure::bars)
        .def_property_readonly("config", &PriceStructure::config);
}
