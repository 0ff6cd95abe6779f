// Conversions shared by the binding files (bindings only: includes pybind11).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <span>
#include <string>

#include "confluex/component.hpp"
#include "confluex/types.hpp"

namespace confluex::bindings {

namespace py = pybind11;

using LevelArray = py::array_t<std::int64_t, py::array::c_style>;

// Views an (n, 2) int64 C-contiguous array [px_ticks, qty_lots] as Level records (same
// layout: two int64 per row). Raises ValueError naming the shape otherwise.
inline std::span<const Level> as_levels(const LevelArray& a, const char* name) {
    if (a.ndim() == 1 && a.shape(0) == 0) {
        return {};
    }
    if (a.ndim() != 2 || a.shape(1) != 2) {
        std::string shape = "(";
        for (py::ssize_t i = 0; i < a.ndim(); ++i) {
            shape += (i ? ", " : "") + std::to_string(a.shape(i));
        }
        throw py::value_error(std::string(name) + " must be an (n, 2) int64 array of [px_ticks, qty_lots], was shape " +
                              shape + ")");
    }
    static_assert(sizeof(Level) == 2 * sizeof(std::int64_t));
    return {reinterpret_cast<const Level*>(a.data()), static_cast<std::size_t>(a.shape(0))};
}

// Returns {score, has_data, sub: {name: score}, weights: {name: weight}}.
inline py::dict component_to_dict(const ComponentScore& c) {
    py::dict sub;
    py::dict weights;
    for (std::size_t i = 0; i < c.n_sub; ++i) {
        const char* name = c.sub_name[i] != nullptr ? c.sub_name[i] : "?";
        sub[name] = c.sub[i];
        weights[name] = c.sub_weight[i];
    }
    py::dict d;
    d["score"] = c.score;
    d["has_data"] = c.has_data;
    d["sub"] = sub;
    d["weights"] = weights;
    return d;
}

}  // namespace confluex::bindings

namespace confluex::bindings {

// Maps "orderflow", "orderbook", ... to the Component enum; unknown names raise InvalidConfig.
Component component_from_name(std::string_view name);

}  // namespace confluex::bindings
