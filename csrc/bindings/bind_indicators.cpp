// confluex._core.indicators: the incremental indicator kernels, the technical and volume views.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "confluex/bar_builder.hpp"
#include "confluex/errors.hpp"
#include "confluex/indicators.hpp"
#include "confluex/technical.hpp"
#include "confluex/volume_view.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using namespace confluex;
using Arr = py::array_t<double, py::array::c_style | py::array::forcecast>;

void check_bar(double o, double h, double l, double c, double v, long row = -1) {
    if (std::isfinite(o) && std::isfinite(h) && std::isfinite(l) && std::isfinite(c) &&
        std::isfinite(v) && h >= l && v >= 0.0) [[likely]] {
        return;
    }
    std::string msg;
    if (row >= 0) {
        msg += "bar ";
        msg += std::to_string(row);
        msg += ": ";
    }
    msg += "a bar needs finite values, high >= low and volume >= 0, was";
    const char* names[] = {" open=", " high=", " low=", " close=", " volume="};
    const double values[] = {o, h, l, c, v};
    for (int i = 0; i < 5; ++i) {
        msg += names[i];
        msg += std::to_string(values[i]);
    }
    throw InvalidEvent(msg);
}

// One kernel's uniform step: row = [open, high, low, close, volume]; writes `cols` outputs.
template <class T> struct Step;
template <> struct Step<Sma> {
    static constexpr int cols = 1;
    static void run(Sma& k, const double* r, double* o) noexcept { o[0] = k.update(r[3]); }
};
template <> struct Step<Ema> {
    static constexpr int cols = 1;
    static void run(Ema& k, const double* r, double* o) noexcept { o[0] = k.update(r[3]); }
};
template <> struct Step<Rsi> {
    static constexpr int cols = 1;
    static void run(Rsi& k, const double* r, double* o) noexcept { o[0] = k.update(r[3]); }
};
template <> struct Step<Macd> {
    static constexpr int cols = 3;
    static void run(Macd& k, const double* r, double* o) noexcept {
        k.update(r[3]);
        o[0] = k.macd();
        o[1] = k.signal();
        o[2] = k.hist();
    }
};
template <> struct Step<Ao> {
    static constexpr int cols = 1;
    static void run(Ao& k, const double* r, double* o) noexcept { o[0] = k.update(r[1], r[2]); }
};
template <> struct Step<WilliamsR> {
    static constexpr int cols = 1;
    static void run(WilliamsR& k, const double* r, double* o) noexcept {
        o[0] = k.update(r[1], r[2], r[3]);
    }
};
template <> struct Step<Atr> {
    static constexpr int cols = 1;
    static void run(Atr& k, const double* r, double* o) noexcept {
        o[0] = k.update(r[1], r[2], r[3]);
    }
};
template <> struct Step<Cci> {
    static constexpr int cols = 1;
    static void run(Cci& k, const double* r, double* o) noexcept {
        o[0] = k.update(r[1], r[2], r[3]);
    }
};
template <> struct Step<Obv> {
    static constexpr int cols = 1;
    static void run(Obv& k, const double* r, double* o) noexcept { o[0] = k.update(r[3], r[4]); }
};
template <> struct Step<Adl> {
    static constexpr int cols = 1;
    static void run(Adl& k, const double* r, double* o) noexcept {
        o[0] = k.update(r[1], r[2], r[3], r[4]);
    }
};
template <> struct Step<Cmf> {
    static constexpr int cols = 1;
    static void run(Cmf& k, const double* r, double* o) noexcept {
        o[0] = k.update(r[1], r[2], r[3], r[4]);
    }
};
template <> struct Step<Vwap> {
    static constexpr int cols = 1;
    static void run(Vwap& k, const double* r, double* o) noexcept {
        o[0] = k.update_bar(r[1], r[2], r[3], r[4]);
    }
};
template <> struct Step<RelativeVolume> {
    static constexpr int cols = 1;
    static void run(RelativeVolume& k, const double* r, double* o) noexcept {
        o[0] = k.update(r[4]);
    }
};

template <class T> double update_one(T& k, double o, double h, double l, double c, double v) {
    check_bar(o, h, l, c, v);
    const double row[5] = {o, h, l, c, v};
    double out[3];
    Step<T>::run(k, row, out);
    return out[0];
}

template <class T>
py::array_t<double> run_batch(T& k, const Arr& o, const Arr& h, const Arr& l, const Arr& c,
                              const Arr& v) {
    const auto n = o.size();
    for (const Arr* a : {&o, &h, &l, &c, &v}) {
        if (a->ndim() != 1 || a->size() != n) {
            throw py::value_error("open, high, low, close and volume must be 1-d arrays of equal "
                                  "length, was lengths " +
                                  std::to_string(o.size()) + ", " + std::to_string(h.size()) +
                                  ", " + std::to_string(l.size()) + ", " +
                                  std::to_string(c.size()) + ", " + std::to_string(v.size()));
        }
    }
    constexpr int cols = Step<T>::cols;
    py::array_t<double> out = cols == 1 ? py::array_t<double>(n)
                                        : py::array_t<double>({n, static_cast<py::ssize_t>(cols)});
    const double *po = o.data(), *ph = h.data(), *pl = l.data(), *pc = c.data(), *pv = v.data();
    double* dst = out.mutable_data();
    const auto count = static_cast<std::size_t>(n);
    {
        // Safe without the GIL: only raw buffers are touched; every array outlives the scope.
        const py::gil_scoped_release nogil;
        for (std::size_t i = 0; i < count; ++i) {
            check_bar(po[i], ph[i], pl[i], pc[i], pv[i], static_cast<long>(i));
        }
        for (std::size_t i = 0; i < count; ++i) {
            const double row[5] = {po[i], ph[i], pl[i], pc[i], pv[i]};
            Step<T>::run(k, row, dst + i * cols);
        }
    }
    return out;
}

template <class T> py::class_<T> bind_kernel(py::module_& m, const char* name, const char* doc) {
    py::class_<T> cls(m, name, doc);
    cls.def(
           "update",
           [](T& k, double open, double high, double low, double close, double volume) {
               return update_one(k, open, high, low, close, volume);
           },
           py::arg("open"), py::arg("high"), py::arg("low"), py::arg("close"),
           py::arg("volume") = 0.0,
           R"pbdoc(Feeds one closed bar and returns the new value (NaN while warming up).)pbdoc")
        .def_property_readonly("value", &T::value, R"pbdoc(Current value; NaN until ready.)pbdoc")
        .def_property_readonly("ready", &T::ready)
        .def("reset", &T::reset);
    m.def(
        "batch",
        [](T& k, const Arr& open, const Arr& high, const Arr& low, const Arr& close,
           const Arr& volume) { return run_batch(k, open, high, low, close, volume); },
        py::arg("indicator"), py::arg("open"), py::arg("high"), py::arg("low"), py::arg("close"),
        py::arg("volume"));
    return cls;
}

py::dict tech_report_to_dict(const TechnicalReport& r) {
    py::dict d;
    py::list used, bars, per;
    for (std::size_t s = 0; s < kTechTimeframes; ++s) {
        used.append(r.used[s]);
        bars.append(r.bars[s]);
        py::dict row;
        for (std::size_t i = 0; i < kTechIndicators; ++i) {
            row[kTechNames[i]] = r.per_timeframe[s][i];
        }
        per.append(row);
    }
    py::dict combined, divergence;
    for (std::size_t i = 0; i < kTechIndicators; ++i) {
        combined[kTechNames[i]] = r.combined[i];
        divergence[kTechNames[i]] = r.divergence[i];
    }
    d["used"] = used;
    d["bars"] = bars;
    d["per_timeframe"] = per;
    d["combined"] = combined;
    d["divergence"] = divergence;
    return d;
}

void bind_views(py::module_& m) {
    const TechnicalConfig t{};
    py::class_<TechnicalConfig>(m, "TechnicalConfig", R"pbdoc(
Weights of the technical view (keyword-only; validated): timeframe_weights base/ltf/mtf/htf,
weights rsi/macd/ao/williams_r/atr/cci, divergence_multipliers ltf/mtf/htf, divergence_points.
)pbdoc")
        .def(py::init([](std::array<double, 4> tfw, std::array<double, 6> w,
                         std::array<double, 3> dm, double dp) {
                 TechnicalConfig c{tfw, w, dm, dp};
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("timeframe_weights") = t.timeframe_weights,
             py::arg("weights") = t.weights,
             py::arg("divergence_multipliers") = t.divergence_multipliers,
             py::arg("divergence_points") = t.divergence_points)
        .def_readonly("timeframe_weights", &TechnicalConfig::timeframe_weights)
        .def_readonly("weights", &TechnicalConfig::weights)
        .def_readonly("divergence_multipliers", &TechnicalConfig::divergence_multipliers)
        .def_readonly("divergence_points", &TechnicalConfig::divergence_points);

    py::class_<TechnicalView>(m, "TechnicalView", R"pbdoc(
RSI, MACD, AO, Williams %R, ATR and CCI on base/ltf/mtf/htf bars, and the technical component.
Not thread-safe: one thread owns an instance.
)pbdoc")
        .def(py::init<TechnicalConfig>(), py::arg("config") = TechnicalConfig{})
        .def(
            "on_bar",
            [](TechnicalView& v, std::size_t slot, double open, double high, double low,
               double close, double volume) {
                check_bar(open, high, low, close, volume);
                Bar b{};
                b.open = open;
                b.high = high;
                b.low = low;
                b.close = close;
                b.volume = volume;
                v.on_bar(slot, b);
            },
            py::arg("slot"), py::arg("open"), py::arg("high"), py::arg("low"), py::arg("close"),
            py::arg("volume") = 0.0,
            R"pbdoc(Feeds one closed bar of slot 0 base, 1 ltf, 2 mtf or 3 htf.)pbdoc")
        .def(
            "sync",
            [](TechnicalView& v, const BarBuilder& b, std::array<int, 4> levels) {
                v.sync(b, levels);
            },
            py::arg("builder"), py::arg("levels"),
            R"pbdoc(Feeds the bars the builder closed at levels[slot] since the last sync (-1: none).)pbdoc")
        .def(
            "compute",
            [](const TechnicalView& v) {
                ComponentScore out;
                TechnicalReport r;
                v.compute(out, &r);
                py::dict d = confluex::bindings::component_to_dict(out);
                d["report"] = tech_report_to_dict(r);
                return d;
            },
            R"pbdoc(Technical component: {score, has_data, sub, weights, report}.)pbdoc")
        .def("reset", &TechnicalView::reset);

    const VolumeViewConfig vc{};
    py::class_<VolumeViewConfig>(m, "VolumeViewConfig", R"pbdoc(
Windows and weights of the bar-based volume view (keyword-only; validated).
)pbdoc")
        .def(py::init([](std::size_t delta_bars, std::size_t flow_bars, std::size_t cmf_period,
                         std::size_t rvol_period, std::size_t rvol_min_bars,
                         std::size_t profile_bars, std::size_t profile_bins, double value_area,
                         std::size_t vwap_bars, std::array<double, 7> weights,
                         std::array<double, 3> vwap_weights) {
                 VolumeViewConfig c{delta_bars,    flow_bars,    cmf_period,   rvol_period,
                                    rvol_min_bars, profile_bars, profile_bins, value_area,
                                    vwap_bars,     weights,      vwap_weights};
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("delta_bars") = vc.delta_bars,
             py::arg("flow_bars") = vc.flow_bars, py::arg("cmf_period") = vc.cmf_period,
             py::arg("rvol_period") = vc.rvol_period, py::arg("rvol_min_bars") = vc.rvol_min_bars,
             py::arg("profile_bars") = vc.profile_bars, py::arg("profile_bins") = vc.profile_bins,
             py::arg("value_area") = vc.value_area, py::arg("vwap_bars") = vc.vwap_bars,
             py::arg("weights") = vc.weights, py::arg("vwap_weights") = vc.vwap_weights)
        .def_readonly("delta_bars", &VolumeViewConfig::delta_bars)
        .def_readonly("flow_bars", &VolumeViewConfig::flow_bars)
        .def_readonly("cmf_period", &VolumeViewConfig::cmf_period)
        .def_readonly("rvol_period", &VolumeViewConfig::rvol_period)
        .def_readonly("rvol_min_bars", &VolumeViewConfig::rvol_min_bars)
        .def_readonly("profile_bars", &VolumeViewConfig::profile_bars)
        .def_readonly("profile_bins", &VolumeViewConfig::profile_bins)
        .def_readonly("value_area", &VolumeViewConfig::value_area)
        .def_readonly("vwap_bars", &VolumeViewConfig::vwap_bars)
        .def_readonly("weights", &VolumeViewConfig::weights)
        .def_readonly("vwap_weights", &VolumeViewConfig::vwap_weights);

    py::class_<VolumeView>(m, "VolumeView", R"pbdoc(
Bar-based volume view: taker delta, ADL, CMF, OBV, relative volume, volume profile and
multi-timeframe VWAP sub-scores. Not thread-safe: one thread owns an instance.
)pbdoc")
        .def(py::init<VolumeViewConfig>(), py::arg("config") = VolumeViewConfig{})
        .def(
            "on_bars",
            [](VolumeView& v, std::size_t slot, const py::array_t<Bar, py::array::c_style>& bars) {
                const Bar* p = bars.data();
                for (py::ssize_t i = 0; i < bars.size(); ++i) {
                    v.on_bar(slot, p[i]);
                }
            },
            py::arg("slot"), py::arg("bars").noconvert(),
            R"pbdoc(Feeds bar_dtype records of slot 0 base, 1 ltf, 2 mtf or 3 htf, in order.)pbdoc")
        .def(
            "sync",
            [](VolumeView& v, const BarBuilder& b, std::array<int, 4> levels) {
                v.sync(b, levels);
            },
            py::arg("builder"), py::arg("levels"),
            R"pbdoc(Feeds the bars the builder closed at levels[slot] since the last sync (-1: none).)pbdoc")
        .def(
            "compute",
            [](const VolumeView& v) {
                ComponentScore out;
                v.compute(out);
                return confluex::bindings::component_to_dict(out);
            },
            R"pbdoc(Volume view: {score, has_data, sub, weights}; weight 0 marks a sub-score without data.)pbdoc")
        .def(
            "profile",
            [](const VolumeView& v) {
                const ProfileLevels p = v.profile();
                py::dict d;
                d["poc"] = p.poc;
                d["val"] = p.val;
                d["vah"] = p.vah;
                d["low"] = p.low;
                d["high"] = p.high;
                d["valid"] = p.valid;
                return d;
            },
            R"pbdoc(Volume profile of the last profile_bars base bars: {poc, val, vah, low, high, valid}.)pbdoc")
        .def("delta", &VolumeView::delta,
             R"pbdoc((Vb - Vs)/(Vb + Vs) over delta_bars sided base bars; NaN without sides.)pbdoc")
        .def("adl", [](const VolumeView& v) { return v.adl().value(); })
        .def("obv", [](const VolumeView& v) { return v.obv().value(); })
        .def("cmf", [](const VolumeView& v) { return v.cmf().value(); })
        .def("relative_volume", [](const VolumeView& v) { return v.relative_volume().value(); })
        .def(
            "vwap", [](const VolumeView& v, std::size_t slot) { return v.vwap(slot).value(); },
            py::arg("slot"));

    m.def(
        "volume_profile",
        [](const py::array_t<Bar, py::array::c_style>& bars, std::size_t bins, double value_area) {
            const ProfileLevels p = volume_profile(
                std::span<const Bar>(bars.data(), static_cast<std::size_t>(bars.size())), bins,
                value_area);
            py::dict d;
            d["poc"] = p.poc;
            d["val"] = p.val;
            d["vah"] = p.vah;
            d["low"] = p.low;
            d["high"] = p.high;
            d["valid"] = p.valid;
            return d;
        },
        py::arg("bars").noconvert(), py::arg("bins") = 50, py::arg("value_area") = 0.70,
        R"pbdoc(Volume profile of bar_dtype records: {poc, val, vah, low, high, valid}.)pbdoc");

    m.def("rsi_score", &rsi_score, py::arg("rsi"));
    m.def("williams_r_score", &williams_r_score, py::arg("wr"));
    m.def("macd_score", &macd_score, py::arg("macd"), py::arg("hist"), py::arg("atr"));
    m.def("ao_score", &ao_score, py::arg("ao"), py::arg("ao_prev"), py::arg("atr"));
    m.def("atr_score", &atr_score, py::arg("close"), py::arg("close_n_ago"), py::arg("atr"),
          py::arg("n"));
    m.def("cci_score", &cci_score, py::arg("cci"));
}

} // namespace

void register_indicators(py::module_& m) {
    bind_kernel<Sma>(m, "SMA", "Simple moving average of the close (TA-Lib SMA).")
        .def(py::init<std::size_t>(), py::arg("period") = 30);
    bind_kernel<Ema>(m, "EMA", "Exponential moving average of the close (TA-Lib EMA).")
        .def(py::init<std::size_t>(), py::arg("period") = 30);
    bind_kernel<Rsi>(m, "RSI", "Relative strength index of the close (TA-Lib RSI).")
        .def(py::init<std::size_t>(), py::arg("period") = 14);
    bind_kernel<Macd>(m, "MACD", "MACD of the close (TA-Lib MACD): value, signal, hist.")
        .def(py::init<std::size_t, std::size_t, std::size_t>(), py::arg("fast") = 12,
             py::arg("slow") = 26, py::arg("signal") = 9)
        .def_property_readonly("signal", &Macd::signal)
        .def_property_readonly("hist", &Macd::hist);
    bind_kernel<Ao>(m, "AO", "Awesome oscillator: SMA(fast) - SMA(slow) of (high + low) / 2.")
        .def(py::init<std::size_t, std::size_t>(), py::arg("fast") = 5, py::arg("slow") = 34)
        .def_property_readonly("previous", &Ao::previous);
    bind_kernel<WilliamsR>(m, "WilliamsR", "Williams %R in [-100, 0] (TA-Lib WILLR).")
        .def(py::init<std::size_t>(), py::arg("period") = 14);
    bind_kernel<Atr>(m, "ATR", "Average true range, Wilder smoothing (TA-Lib ATR).")
        .def(py::init<std::size_t>(), py::arg("period") = 14);
    bind_kernel<Cci>(m, "CCI", "Commodity channel index (TA-Lib CCI).")
        .def(py::init<std::size_t>(), py::arg("period") = 20);
    bind_kernel<Obv>(m, "OBV", "On-balance volume (TA-Lib OBV).").def(py::init<>());
    bind_kernel<Adl>(m, "ADL", "Chaikin accumulation/distribution line (TA-Lib AD).")
        .def(py::init<>());
    bind_kernel<Cmf>(m, "CMF", "Chaikin money flow over `period` bars, in [-1, 1].")
        .def(py::init<std::size_t>(), py::arg("period") = 20);
    bind_kernel<Vwap>(m, "VWAP",
                      "VWAP of the typical price over `period` bars (0: every bar since reset).")
        .def(py::init<std::size_t>(), py::arg("period") = 0)
        .def_property_readonly("stddev", &Vwap::stddev);
    bind_kernel<RelativeVolume>(
        m, "RelativeVolume",
        "Volume over the EMA of the previous bars' volume (warm-up: their mean).")
        .def(py::init<std::size_t, std::size_t, double>(), py::arg("period") = 30,
             py::arg("min_bars") = 5, py::arg("cap") = 10.0)
        .def_property_readonly("baseline", &RelativeVolume::baseline);
    bind_views(m);
}
