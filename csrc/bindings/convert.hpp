// Conversions shared by the binding files (bindings only: includes pybind11).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "confluex/component.hpp"
#include "confluex/errors.hpp"
#include "confluex/feed_parser.hpp"
#include "confluex/latency.hpp"
#include "confluex/types.hpp"

namespace confluex::bindings {

namespace py = pybind11;

using LevelArray = py::array_t<std::int64_t, py::array::c_style>;

// A latency histogram as {count, p50, p99, p999, max, mean} in ns.
inline py::dict latency_dict(const LatencyHistogram& h) {
    py::dict d;
    d["count"] = h.count();
    d["p50"] = h.percentile(0.50);
    d["p99"] = h.percentile(0.99);
    d["p999"] = h.percentile(0.999);
    d["max"] = h.max();
    d["mean"] = h.mean();
    return d;
}

// "(3,)", "(4, 3)": a NumPy-style shape for error messages.
inline std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        s += (i != 0 ? ", " : "") + std::to_string(a.shape(i));
    }
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// as_records()
// Views a C-contiguous int64 array of shape (n, Cols) as n records of T (same layout: Cols
// int64 per row, no copy). A 1-d empty array is an empty batch. Any other shape raises
// InvalidEvent naming the argument and the shape it had; `what` describes a row.
template <class T, py::ssize_t Cols>
std::span<const T> as_records(const LevelArray& a, const char* name, const char* what) {
    static_assert(sizeof(T) == Cols * sizeof(std::int64_t));
    if (a.ndim() == 1 && a.size() == 0) {
        return {};
    }
    if (a.ndim() != 2 || a.shape(1) != Cols) {
        throw InvalidEvent(std::string(name) + " must be an (n, " + std::to_string(Cols) +
                           ") int64 array of " + what + ", was shape " + shape_of(a));
    }
    return {reinterpret_cast<const T*>(a.data()), static_cast<std::size_t>(a.shape(0))};
}

// as_levels()
// The one converter of an (n, 2) level array [px_ticks, qty_lots] (books, snapshots, deltas,
// signal kernels): "bids must be an (n, 2) int64 array of [px_ticks, qty_lots], was shape (3,)".
inline std::span<const Level> as_levels(const LevelArray& a, const char* name) {
    static_assert(sizeof(Level) == 2 * sizeof(std::int64_t) &&
                  offsetof(Level, qty) == sizeof(std::int64_t));
    return as_records<Level, 2>(a, name, "[px_ticks, qty_lots]");
}

// A fresh (n, 2) int64 array holding a copy of n levels.
inline LevelArray levels_to_array(const Level* p, std::size_t n) {
    LevelArray out({static_cast<py::ssize_t>(n), py::ssize_t{2}});
    if (n != 0) {
        std::memcpy(out.mutable_data(), p, n * sizeof(Level));
    }
    return out;
}

// (px_ticks, qty_lots), or None for an empty side.
inline py::object level_or_none(const std::optional<Level>& l) {
    return l ? py::object(py::make_tuple(l->px, l->qty)) : py::object(py::none());
}

// A read-only, C-contiguous byte view of a bytes-like object (bytes, bytearray, memoryview,
// numpy uint8...), held for the lifetime of this object. str is rejected with TypeError.
class ByteView {
  public:
    explicit ByteView(const py::object& obj) {
        if (PyUnicode_Check(obj.ptr())) {
            throw py::type_error(
                "expected a bytes-like object (bytes, bytearray, memoryview), was str");
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
template <class T> py::array_t<T> to_array(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(heap->size())},
                          {static_cast<py::ssize_t>(sizeof(T))}, heap->data(), owner);
}

// --- typed result records ------------------------------------------------------------------

// One read-only field of a record: its Python name and its member.
template <class T, class M> std::pair<const char*, M T::*> field(const char* name, M T::*member) {
    return {name, member};
}

// bind_record()
// Binds a plain struct as an immutable Python class: each field read-only (typed in the
// stubs), plus to_dict() (for CSV/JSON output), value equality and __repr__ over the same
// field list, so they can never disagree. Returns the class for further methods.
template <class T, class... M>
py::class_<T> bind_record(py::handle scope, const char* name, const char* doc,
                          std::pair<const char*, M T::*>... fields) {
    py::class_<T> cls(scope, name, doc);
    (cls.def_readonly(fields.first, fields.second), ...);
    cls.def(
        "to_dict",
        [fields...](const T& r) {
            py::dict d;
            ((d[fields.first] = r.*(fields.second)), ...);
            return d;
        },
        "The fields as a plain dict (for CSV/JSON output).");
    cls.def(
        "__eq__",
        [fields...](const T& a, const T& b) {
            return ((a.*(fields.second) == b.*(fields.second)) && ...);
        },
        py::is_operator());
    cls.def("__repr__", [name, fields...](const T& r) {
        std::string out = std::string(name) + "(";
        const char* sep = "";
        const auto add = [&](const char* key, const py::object& value) {
            out += sep + std::string(key) + "=" + py::repr(value).cast<std::string>();
            sep = ", ";
        };
        (add(fields.first, py::cast(r.*(fields.second))), ...);
        return out + ")";
    });
    return cls;
}

// A parser's counters together with its per-symbol error counts (the session has none).
struct ParserCountersView {
    feed::ParserCounters counters;
    std::vector<std::uint64_t> symbol_errors; // by symbol id; zeros are left out of the dict
};

// {kind name: count}, {error name: count} (ParseError::None left out), {symbol id: errors}.
inline py::dict messages_by_kind(const feed::ParserCounters& c) {
    py::dict messages;
    for (std::size_t i = 0; i < feed::kMsgKindCount; ++i) {
        messages[feed::to_string(static_cast<feed::MsgKind>(i))] = c.messages[i];
    }
    return messages;
}
inline py::dict errors_by_name(const feed::ParserCounters& c) {
    py::dict errors;
    for (std::size_t i = 1; i < feed::kParseErrorCount; ++i) {
        errors[feed::to_string(static_cast<feed::ParseError>(i))] = c.errors[i];
    }
    return errors;
}
inline py::dict symbol_errors_dict(const std::vector<std::uint64_t>& per_symbol) {
    py::dict symbol_errors;
    for (std::size_t i = 0; i < per_symbol.size(); ++i) {
        if (per_symbol[i] != 0) {
            symbol_errors[py::int_(i)] = per_symbol[i];
        }
    }
    return symbol_errors;
}

// Returns {name: sub-score} or {name: sub-weight} of a component.
inline py::dict sub_scores(const ComponentScore& c, bool weights) {
    py::dict out;
    for (std::size_t i = 0; i < c.n_sub; ++i) {
        const char* name = c.sub_name[i] != nullptr ? c.sub_name[i] : "?";
        out[name] = weights ? c.sub_weight[i] : c.sub[i];
    }
    return out;
}

// Returns {score, has_data, sub, weights} of a component: ComponentScore.to_dict() and the
// TypedDict results of the bar-based views' compute().
inline py::dict component_to_dict(const ComponentScore& c) {
    py::dict d;
    d["score"] = c.score;
    d["has_data"] = c.has_data;
    d["sub"] = sub_scores(c, false);
    d["weights"] = sub_scores(c, true);
    return d;
}

} // namespace confluex::bindings
