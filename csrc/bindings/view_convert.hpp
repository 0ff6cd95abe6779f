// Conversions shared by the bar-based view bindings (bars, engine, structure, sentiment).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstddef>
#include <map>
#include <span>
#include <string>

#include "confluex/bar.hpp"

namespace confluex::bindings {

namespace py = pybind11;

using BarTimes = py::array_t<std::int64_t, py::array::c_style>;
using BarValues = py::array_t<double, py::array::c_style>;

// ccxt hands back lists of lists (int ms, float prices): converted to float64 on entry.
using RowArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Views an (n, 6) float64 array [ms, o, h, l, c, v] as a flat span.
inline std::span<const double> as_rows(const RowArray& a) {
    if (a.ndim() != 2 || a.shape(1) != 6) {
        std::string shape = "(";
        for (py::ssize_t i = 0; i < a.ndim(); ++i) {
            shape += i ? ", " : "";
            shape += std::to_string(a.shape(i));
        }
        throw py::value_error(
            "ohlcv must be an (n, 6) array of [ms, open, high, low, close, volume], was shape " +
            shape + ")");
    }
    return {a.data(), static_cast<std::size_t>(a.size())};
}

// A Bar from open_ns and x = [open, high, low, close, volume] (no sides, no trades).
inline Bar make_bar(std::int64_t open_ns, const double* x) {
    Bar b{};
    b.open_ns = open_ns;
    b.open = x[0];
    b.high = x[1];
    b.low = x[2];
    b.close = x[3];
    b.volume = x[4];
    b.vwap = x[3];
    b.flags = bar_flags::kNoSides;
    return b;
}

// Calls f(bar) for each row of open_ns (n,) and ohlcv (n, 5); ValueError naming the shapes.
// The loop runs without the GIL: f must touch no Python object (exceptions it throws are
// C++ ones, translated after the GIL is taken back).
template <class F> void for_each_bar(const BarTimes& open_ns, const BarValues& ohlcv, F&& f) {
    if (ohlcv.ndim() != 2 || ohlcv.shape(1) != 5 || open_ns.ndim() != 1 ||
        open_ns.shape(0) != ohlcv.shape(0)) {
        throw py::value_error("expected open_ns (n,) int64 and ohlcv (n, 5) float64, was " +
                              std::to_string(open_ns.size()) + " times and " +
                              std::to_string(ohlcv.size()) + " values");
    }
    const std::int64_t* t = open_ns.data();
    const double* x = ohlcv.data();
    const auto n = open_ns.shape(0);
    // Safe: only the raw pointers above are read; the arrays outlive the call.
    const py::gil_scoped_release nogil;
    for (py::ssize_t i = 0; i < n; ++i) {
        f(make_bar(t[i], x + 5 * i));
    }
}

// {key: value} for an array indexed like keys (weights, sub-scores).
template <std::size_t N>
py::dict keyed_dict(const std::array<double, N>& v, const std::array<const char*, N>& keys) {
    py::dict d;
    for (std::size_t i = 0; i < N; ++i) {
        d[keys[i]] = v[i];
    }
    return d;
}

// Sets the named weights of a config (set_weight() per key, then validate()); the config is
// unchanged when any key or value is refused.
template <class Config> void set_weights(Config& c, const std::map<std::string, double>& w) {
    Config next = c;
    for (const auto& [k, v] : w) {
        next.set_weight(k, v);
    }
    next.validate();
    c = next;
}

} // namespace confluex::bindings
