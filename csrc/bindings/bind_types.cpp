// NumPy dtypes for the POD event records, plus their C++ layout for the layout test.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>

#include "confluex/types.hpp"

namespace py = pybind11;

namespace {
template <class T>
py::dict layout_of(std::initializer_list<std::pair<const char*, std::size_t>> fields) {
    py::dict offsets;
    for (const auto& [name, off] : fields) {
        offsets[name] = off;
    }
    py::dict out;
    out["itemsize"] = sizeof(T);
    out["offsets"] = offsets;
    return out;
}
} // namespace

void register_types(py::module_& m) {
    using confluex::BookLevelEvent;
    using confluex::Level;
    using confluex::TradeEvent;
    // Registered once here, before any other submodule binds a py::array_t of these records.
    PYBIND11_NUMPY_DTYPE(Level, px, qty);
    PYBIND11_NUMPY_DTYPE(BookLevelEvent, ts_ns, px_ticks, qty_lots, update_id, prev_update_id,
                         symbol_id, side, flags, reserved);
    PYBIND11_NUMPY_DTYPE(TradeEvent, ts_ns, px_ticks, qty_lots, trade_id, symbol_id, side, flags,
                         reserved);
    m.attr("level_dtype") = py::dtype::of<Level>();
    m.attr("book_level_event_dtype") = py::dtype::of<BookLevelEvent>();
    m.attr("trade_event_dtype") = py::dtype::of<TradeEvent>();
    m.attr("NO_PRICE") = confluex::kNoPrice;
    m.attr("NO_UPDATE_ID") = confluex::kNoUpdateId;
    m.attr("FLAG_END_OF_MESSAGE") = confluex::book_flags::kEndOfMessage;
    m.attr("FLAG_SNAPSHOT") = confluex::book_flags::kSnapshot;
    m.attr("FLAG_NO_LEVEL") = confluex::book_flags::kNoLevel;
    m.def(
        "cpp_layouts",
        [] {
            py::dict d;
            d["level"] =
                layout_of<Level>({{"px", offsetof(Level, px)}, {"qty", offsetof(Level, qty)}});
            d["book_level_event"] = layout_of<BookLevelEvent>({
                {"ts_ns", offsetof(BookLevelEvent, ts_ns)},
                {"px_ticks", offsetof(BookLevelEvent, px_ticks)},
                {"qty_lots", offsetof(BookLevelEvent, qty_lots)},
                {"update_id", offsetof(BookLevelEvent, update_id)},
                {"prev_update_id", offsetof(BookLevelEvent, prev_update_id)},
                {"symbol_id", offsetof(BookLevelEvent, symbol_id)},
                {"side", offsetof(BookLevelEvent, side)},
                {"flags", offsetof(BookLevelEvent, flags)},
                {"reserved", offsetof(BookLevelEvent, reserved)},
            });
            d["trade_event"] = layout_of<TradeEvent>({
                {"ts_ns", offsetof(TradeEvent, ts_ns)},
                {"px_ticks", offsetof(TradeEvent, px_ticks)},
                {"qty_lots", offsetof(TradeEvent, qty_lots)},
                {"trade_id", offsetof(TradeEvent, trade_id)},
                {"symbol_id", offsetof(TradeEvent, symbol_id)},
                {"side", offsetof(TradeEvent, side)},
                {"flags", offsetof(TradeEvent, flags)},
                {"reserved", offsetof(TradeEvent, reserved)},
            });
            return d;
        },
        R"pbdoc(Returns sizeof/offsetof of each POD record as the C++ compiler laid it out.)pbdoc");
}
