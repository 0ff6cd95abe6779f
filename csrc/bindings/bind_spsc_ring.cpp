// SpscRing: concrete rings of int64, BookLevelEvent and TradeEvent, moved as NumPy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "confluex/spsc_ring.hpp"
#include "confluex/types.hpp"

namespace py = pybind11;

namespace {

template <class T> using Array = py::array_t<T, py::array::c_style>;

// The item try_push() takes: a Python int for Int64Ring.
std::int64_t item_value(std::int64_t v) { return v; }

// The item try_push() takes for event rings: one record, as a NumPy structured scalar of the
// ring's dtype (e.g. `records[0]`) or a one-element array.
template <class T> const T& item_value(const Array<T>& a) {
    if (a.size() != 1) {
        throw py::type_error("try_push takes one record (use try_push_n for arrays), was size " +
                             std::to_string(a.size()));
    }
    return *a.data();
}

template <class T> std::size_t push_array(confluex::SpscRing<T>& ring, const Array<T>& items) {
    if (items.ndim() != 1) {
        throw py::type_error("try_push_n takes a 1-D array, was ndim " +
                             std::to_string(items.ndim()));
    }
    const T* src = items.data();
    const auto n = static_cast<std::size_t>(items.shape(0));
    // Safe without the GIL: `items` is kept alive by the caller's frame and only raw memory is
    // read; no py:: object is touched or destroyed in the scope.
    const py::gil_scoped_release nogil;
    return ring.try_push_n(src, n);
}

template <class T> Array<T> pop_array(confluex::SpscRing<T>& ring, std::size_t max) {
    // On the consumer thread size() is a lower bound of what pop_n() will find (only the
    // producer runs concurrently, and it only adds), so the array is allocated at its final size.
    const std::size_t n = std::min(max, ring.size());
    Array<T> out(static_cast<py::ssize_t>(n));
    T* dst = out.mutable_data();
    std::size_t k = 0;
    {
        // Safe without the GIL: `out` is a fresh array owned by this frame; only its raw
        // buffer is written and no py:: object is touched or destroyed in the scope.
        const py::gil_scoped_release nogil;
        k = ring.pop_n(dst, n);
    }
    if (k != n) { // only reachable if a second consumer broke the contract
        out.resize({static_cast<py::ssize_t>(k)});
    }
    return out;
}

template <class T, class Item>
void bind_ring(py::module_& m, const char* name, const char* item_doc) {
    using Ring = confluex::SpscRing<T>;
    const std::string doc =
        std::string("Bounded lock-free single-producer/single-consumer ring of ") + item_doc +
        R"pbdoc(.

One producer thread calls try_push/try_push_n, one consumer thread calls pop_n; the batch calls
release the GIL while copying, so the two threads run in parallel. A full ring refuses items
and counts them in dropped(); it never blocks and never overwrites.)pbdoc";
    py::class_<Ring>(m, name, doc.c_str())
        .def(py::init<std::size_t>(), py::arg("capacity"),
             R"pbdoc(Creates an empty ring; capacity must be a power of two >= 2.)pbdoc")
        .def(
            "try_push", [](Ring& r, Item item) { return r.try_push(item_value(item)); },
            py::arg("item"),
            R"pbdoc(Producer only. Pushes one item; False (and counted in dropped()) when full.)pbdoc")
        .def("try_push_n", &push_array<T>, py::arg("items").noconvert(),
             R"pbdoc(Producer only. Pushes the longest prefix of the 1-D C-contiguous array that
fits, counts the rest in dropped(), and returns how many were pushed. The dtype must match
exactly; nothing is cast or copied implicitly.)pbdoc")
        .def("pop_n", &pop_array<T>, py::arg("max"),
             R"pbdoc(Consumer only. Removes up to max of the oldest items and returns them, in FIFO
order, as a new array (empty when the ring is empty).)pbdoc")
        .def("size", &Ring::size, R"pbdoc(Number of items held (a snapshot across threads).)pbdoc")
        .def("empty", &Ring::empty,
             R"pbdoc(True when no item is held (a snapshot across threads).)pbdoc")
        .def("capacity", &Ring::capacity, R"pbdoc(Number of usable slots.)pbdoc")
        .def("dropped", &Ring::dropped,
             R"pbdoc(Total items refused because the ring was full.)pbdoc")
        .def("pushed", &Ring::pushed, R"pbdoc(Total items accepted since construction.)pbdoc")
        .def("__repr__", [name](const Ring& r) {
            return std::string(name) + "(capacity=" + std::to_string(r.capacity()) +
                   ", size=" + std::to_string(r.size()) + ", pushed=" + std::to_string(r.pushed()) +
                   ", dropped=" + std::to_string(r.dropped()) + ")";
        });
}

} // namespace

void register_spsc_ring(py::module_& m) {
    using confluex::BookLevelEvent;
    using confluex::TradeEvent;
    bind_ring<std::int64_t, std::int64_t>(m, "Int64Ring", "int64 values");
    bind_ring<BookLevelEvent, const Array<BookLevelEvent>&>(
        m, "BookEventRing", "BookLevelEvent records (confluex._core.types.book_level_event_dtype)");
    bind_ring<TradeEvent, const Array<TradeEvent>&>(
        m, "TradeEventRing", "TradeEvent records (confluex._core.types.trade_event_dtype)");
}
