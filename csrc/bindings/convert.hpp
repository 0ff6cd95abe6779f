// Conversions shared by the binding files (bindings only: includes pybind11).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "confluex/component.hpp"
#include "confluex/feed_parser.hpp"
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



// A read-only, C-contiguous byte view of a bytes-like object (bytes, bytearray, memoryview,
// numpy uint8...), held for the lifetime of this object. str is rejected with TypeError.
class ByteView {
  public:
    explicit ByteView(const py::object& obj) {
        if (PyUnicode_Check(obj.ptr())) {
            throw py::type_error("expected a bytes-like object (bytes, bytearray, memoryview), was str");
        }
        if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_SIMPLE) != 0) {
            throw py::error_already_set();
        }
    }
    ByteView(const ByteView&) = delete;
    ByteView& operator=(const ByteView&) = delete;
    ~ByteView() { PyBuffer_Release(&view_); }
    [[nodiscard]] std::string_view sv() const noexcept {
        return {static_cast<const char*>(view_.buf), static_cast<std::size_t>(view_.len)};
    }

  private:
    Py_buffer view_{};
};

// Moves a vector into a NumPy array that owns it (no copy).
template <class T>
py::array_t<T> to_array(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                          heap->data(), owner);
}

inline py::dict counters_to_dict(const feed::ParserCounters& c, const std::vector<std::uint64_t>& per_symbol) {
    py::dict messages;
    for (std::size_t i = 0; i < feed::kMsgKindCount; ++i) {
        messages[feed::to_string(static_cast<feed::MsgKind>(i))] = c.messages[i];
    }
    py::dict errors;
    for (std::size_t i = 1; i < feed::kParseErrorCount; ++i) {
        errors[feed::to_string(static_cast<feed::ParseError>(i))] = c.errors[i];
    }
    py::dict symbol_errors;
    for (std::size_t i = 0; i < per_symbol.size(); ++i) {
        if (per_symbol[i] != 0) {
            symbol_errors[py::int_(i)] = per_symbol[i];
        }
    }
    py::dict d;
    d["messages"] = messages;
    d["errors"] = errors;
    d["book_records"] = c.book_records;
    d["trade_records"] = c.trade_records;
    d["tickers"] = c.tickers;
    d["symbol_errors"] = symbol_errors;
    return d;
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
