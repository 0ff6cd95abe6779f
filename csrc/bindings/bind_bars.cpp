// confluex._core.bars: the Bar record (NumPy dtype) and the BarBuilder.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "confluex/bar.hpp"
#include "confluex/bar_builder.hpp"
#include "confluex/types.hpp"
#include "view_convert.hpp"

namespace py = pybind11;

namespace {

using confluex::Aggressor;
using confluex::Bar;
using confluex::BarBuilder;
using confluex::BarBuilderConfig;
using confluex::bindings::as_rows;
using confluex::bindings::RowArray;

py::array_t<Bar> bars_array(const BarBuilder& b, std::size_t level, std::size_t n) {
    n = std::min(n, b.size(level));
    py::array_t<Bar> out(static_cast<py::ssize_t>(n));
    auto* dst = out.mutable_data();
    for (std::size_t i = 0; i < n; ++i) {
        dst[i] = b.bar(level, n - 1 - i);
    }
    return out;
}

} // namespace

void register_bars(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(Bar, open_ns, open, high, low, close, volume, buy_volume, sell_volume,
                         quote_volume, vwap, trades, flags, reserved);
    m.attr("bar_dtype") = py::dtype::of<Bar>();
    m.attr("FLAG_GAP") = confluex::bar_flags::kGap;
    m.attr("FLAG_HISTORY") = confluex::bar_flags::kHistory;
    m.attr("FLAG_NO_SIDES") = confluex::bar_flags::kNoSides;
    m.def(
        "bar_layout",
        []() {
            py::dict offsets;
            offsets["open_ns"] = offsetof(Bar, open_ns);
            offsets["open"] = offsetof(Bar, open);
            offsets["high"] = offsetof(Bar, high);
            offsets["low"] = offsetof(Bar, low);
            offsets["close"] = offsetof(Bar, close);
            offsets["volume"] = offsetof(Bar, volume);
            offsets["buy_volume"] = offsetof(Bar, buy_volume);
            offsets["sell_volume"] = offsetof(Bar, sell_volume);
            offsets["quote_volume"] = offsetof(Bar, quote_volume);
            offsets["vwap"] = offsetof(Bar, vwap);
            offsets["trades"] = offsetof(Bar, trades);
            offsets["flags"] = offsetof(Bar, flags);
            offsets["reserved"] = offsetof(Bar, reserved);
            py::dict out;
            out["itemsize"] = sizeof(Bar);
            out["offsets"] = offsets;
            return out;
        },
        R"pbdoc(C++ sizeof and offsetof of Bar (for the dtype layout test).)pbdoc");
    m.def(
        "infer_timeframe_ns",
        [](const RowArray& rows, std::int64_t timeframe_ns) {
            return confluex::infer_timeframe_ns(as_rows(rows), timeframe_ns);
        },
        py::arg("ohlcv"), py::arg("timeframe_ns") = 0,
        R"pbdoc(Timeframe in ns of (n, 6) fetch_ohlcv rows: timeframe_ns if given, else the smallest spacing.)pbdoc");

    const BarBuilderConfig d{};
    py::class_<BarBuilderConfig>(m, "BarBuilderConfig", R"pbdoc(
Timeframes (ns, ascending, each a multiple of the first) and closed bars kept per timeframe.
)pbdoc")
        .def(py::init([](std::vector<std::int64_t> timeframes_ns, std::size_t capacity) {
                 BarBuilderConfig c{std::move(timeframes_ns), capacity};
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("timeframes_ns") = d.timeframes_ns,
             py::arg("capacity") = d.capacity)
        .def_readwrite("timeframes_ns", &BarBuilderConfig::timeframes_ns)
        .def_readwrite("capacity", &BarBuilderConfig::capacity)
        .def("validate", &BarBuilderConfig::validate,
             R"pbdoc(Raises InvalidConfig naming the first value out of its domain.)pbdoc");

    py::class_<BarBuilder>(m, "BarBuilder", R"pbdoc(
Per-symbol OHLCV bars at several timeframes from trades, O(1) per trade. A closed bar never
changes; gap bars (FLAG_GAP: OHLC = previous close, volumes 0) mark spans without trades.
Not thread-safe: one thread owns an instance.
)pbdoc")
        .def(py::init<BarBuilderConfig>(), py::arg("config") = BarBuilderConfig{})
        .def(
            "on_trade",
            [](BarBuilder& b, std::int64_t ts_ns, double price, double qty, int side) {
                if (side < 0 || side > 2) {
                    throw py::value_error("side must be 0 (buy), 1 (sell) or 2 (unknown), was " +
                                          std::to_string(side));
                }
                b.on_trade(ts_ns, price, qty, static_cast<Aggressor>(side));
            },
            py::arg("ts_ns"), py::arg("price"), py::arg("qty"), py::arg("side"),
            R"pbdoc(Adds one trade; side 0 buy, 1 sell, 2 unknown (taker side).)pbdoc")
        .def(
            "on_trades",
            [](BarBuilder& b, const py::array_t<confluex::TradeEvent, py::array::c_style>& events,
               double tick_size, double lot_size) {
                const std::span<const confluex::TradeEvent> s(
                    events.data(), static_cast<std::size_t>(events.size()));
                // Safe without the GIL: only the raw buffer is read, `events` stays alive.
                const py::gil_scoped_release nogil;
                b.on_trades(s, tick_size, lot_size);
            },
            py::arg("events").noconvert(), py::arg("tick_size"), py::arg("lot_size"), R"pbdoc(
Adds a C-contiguous trade_event_dtype array in order, px_ticks * tick_size and
qty_lots * lot_size, with the GIL released. Validated first: a bad record raises
InvalidEvent naming its index and nothing is applied.
)pbdoc")
        .def("advance", &BarBuilder::advance, py::arg("now_ns"),
             R"pbdoc(Moves the clock with no trade, closing every bar that ended by now_ns.)pbdoc")
        .def(
            "load_history",
            [](BarBuilder& b, const RowArray& rows, std::int64_t timeframe_ns) {
                return b.load_history(as_rows(rows), timeframe_ns);
            },
            py::arg("ohlcv"), py::arg("timeframe_ns") = 0, R"pbdoc(
Warms up from closed bars in fetch_ohlcv format ([[ms, o, h, l, c, v], ...], a list or an
(n, 6) array); returns the timeframe in ns (timeframe_ns if given, else inferred from the
spacing). Every level whose timeframe is a multiple of it is aggregated from it. Must come
before the first trade or advance; drop ccxt's last, still-forming row.
)pbdoc")
        .def("timeframe_count", &BarBuilder::timeframe_count)
        .def("timeframe_ns", &BarBuilder::timeframe_ns, py::arg("level"))
        .def("level_of", &BarBuilder::level_of, py::arg("tf_ns"),
             R"pbdoc(Level of the timeframe tf_ns, or None.)pbdoc")
        .def("closed_count", &BarBuilder::closed_count, py::arg("level"),
             R"pbdoc(Bars the level ever closed (history included).)pbdoc")
        .def("size", &BarBuilder::size, py::arg("level"),
             R"pbdoc(Closed bars the level holds.)pbdoc")
        .def(
            "bars",
            [](const BarBuilder& b, std::size_t level, std::optional<std::size_t> n) {
                return bars_array(b, level, n.value_or(b.size(level)));
            },
            py::arg("level"), py::arg("n") = py::none(),
            R"pbdoc(The last n (default all) closed bars of the level, oldest first, as bar_dtype.)pbdoc")
        .def(
            "forming",
            [](const BarBuilder& b, std::size_t level) -> py::object {
                const auto f = b.forming(level);
                if (!f) {
                    return py::none();
                }
                py::array_t<Bar> out(1);
                *out.mutable_data() = *f;
                return out;
            },
            py::arg("level"),
            R"pbdoc(The forming bar of the level as a 1-element bar_dtype array, or None.)pbdoc")
        .def("last_ts_ns", &BarBuilder::last_ts_ns)
        .def("late_trades", &BarBuilder::late_trades,
             R"pbdoc(Trades stamped before their forming bar (folded into it).)pbdoc")
        .def("history_timeframe_ns", &BarBuilder::history_timeframe_ns, py::arg("level"),
             R"pbdoc(Timeframe (ns) of the history the level was built from, 0 if none.)pbdoc")
        .def(
            "config", [](const BarBuilder& b) { return b.config(); },
            R"pbdoc(Copy of the configuration.)pbdoc")
        .def("reset", &BarBuilder::reset);
}
