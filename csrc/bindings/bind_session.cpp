// FeedSession: raw exchange bytes -> synchronised books -> updated scores.
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "confluex/feed_session.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::Engine;
using confluex::bindings::bind_record;
using confluex::bindings::ByteView;
using confluex::bindings::field;
using confluex::bindings::latency_dict;
using confluex::bindings::ParserCountersView;
using namespace confluex::feed;

template <class T> py::array_t<T> copy_array(const std::vector<T>& v) {
    py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) {
        std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
    }
    return out;
}

// The bytes of a frame: a bytes object directly, any other bytes-like through the buffer
// protocol (`buf` then holds the view until it is destroyed).
std::string_view frame_bytes(const py::handle& raw, std::optional<ByteView>& buf) {
    if (PyBytes_CheckExact(raw.ptr())) {
        return {PyBytes_AS_STRING(raw.ptr()),
                static_cast<std::size_t>(PyBytes_GET_SIZE(raw.ptr()))};
    }
    buf.emplace(py::reinterpret_borrow<py::object>(raw));
    return buf->sv();
}

// pooled_result()
// Returns r as a ParseResult Python object without allocating one per call: a small pool of
// objects is reused once nothing but the pool refers to one (CPython's own trick for the
// tuples of zip() and dict.items()), so no caller ever sees a result it holds change. Two
// slots cover `r = session.on_message(...)` in a loop (the previous result is still bound
// while the next call runs); when every slot is held elsewhere a new object replaces one.
// Each slot keeps the address of its C++ value, so a reuse is one copy (no type lookup).
// The pool lives until the process ends (a few objects, never freed). Every call holds the
// GIL (the module does not declare free-threading support), so one pool serves every thread
// (a slot another thread's result still holds has a second reference and is not reused);
// a build without the GIL keeps one pool per thread.
PyObject* pooled_result(const ParseResult& r) {
    struct Slot {
        PyObject* obj = nullptr;
        ParseResult* value = nullptr;
    };
#ifdef Py_GIL_DISABLED
    thread_local std::array<Slot, 2> pool{};
    thread_local std::size_t next = 0;
#else
    static std::array<Slot, 2> pool{};
    static std::size_t next = 0;
#endif
    std::array<Slot, 2>& slots = pool;
    for (Slot& slot : slots) {
        if (slot.obj != nullptr && Py_REFCNT(slot.obj) == 1) {
            *slot.value = r;
            Py_INCREF(slot.obj);
            return slot.obj;
        }
    }
    py::object fresh = py::cast(r);
    Slot& victim = slots[next];
    next = (next + 1) % slots.size();
    Py_XDECREF(victim.obj);
    victim.value = &fresh.cast<ParseResult&>();
    victim.obj = fresh.inc_ref().ptr();
    return fresh.release().ptr();
}

// The pybind11 binding of FeedSession.on_message: on_message_fast() hands it every call it
// does not take itself (other argument forms, and their errors). Set once at import, then
// owned by the module for the life of the process.
PyObject* g_on_message_bound = nullptr;

// on_message_fast()
// FeedSession.on_message as a METH_FASTCALL method: the live path's call, on_message(bytes,
// int), goes straight to the session (no pybind11 argument dispatch, no result-type lookup);
// anything else (keywords, other bytes-likes, an int beyond int64, a subclass instance whose
// C++ object is not in pybind11's simple layout) calls the pybind11 binding, which does the
// same thing for every accepted form and raises its errors.
PyObject* on_message_fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                          PyObject* kwnames) {
    if (nargs == 2 && kwnames == nullptr && PyBytes_CheckExact(args[0]) &&
        PyLong_CheckExact(args[1])) {
        auto* inst = reinterpret_cast<py::detail::instance*>(self);
        int overflow = 0;
        const long long ts = PyLong_AsLongLongAndOverflow(args[1], &overflow);
        if (inst->simple_layout && inst->simple_holder_constructed && overflow == 0 &&
            !(ts == -1 && PyErr_Occurred() != nullptr)) {
            auto* session = static_cast<FeedSession*>(inst->simple_value_holder[0]);
            const std::string_view raw(PyBytes_AS_STRING(args[0]),
                                       static_cast<std::size_t>(PyBytes_GET_SIZE(args[0])));
            try {
                return pooled_result(session->on_message(raw, ts));
            } catch (...) {
                py::detail::try_translate_exceptions(); // sets the Python error
                return nullptr;
            }
        }
        PyErr_Clear();
    }
    // The bound function takes self first: prepend it to the positional arguments.
    const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
    std::vector<PyObject*> all(static_cast<std::size_t>(1 + nargs + nkw));
    all[0] = self;
    std::copy(args, args + nargs + nkw, all.begin() + 1);
    return PyObject_Vectorcall(g_on_message_bound, all.data(), static_cast<std::size_t>(1 + nargs),
                               kwnames);
}

// on_messages(): converts the frames and times, then feeds them with the GIL released.
py::array_t<MessageResult> on_messages(FeedSession& s, const py::sequence& frames,
                                       const py::object& ts) {
    // A list or tuple is read in place (PySequence_Fast); `keep` then holds a reference to
    // every frame while the GIL is released (another thread may change the list meanwhile).
    const auto items = py::reinterpret_steal<py::object>(
        PySequence_Fast(frames.ptr(), "frames must be a sequence"));
    if (!items) {
        throw py::error_already_set();
    }
    const auto n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(items.ptr()));
    PyObject** const item = PySequence_Fast_ITEMS(items.ptr());
    std::vector<py::object> keep;
    std::vector<std::unique_ptr<ByteView>> bufs; // the frames that are not bytes objects
    std::vector<std::string_view> views(n);
    keep.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        PyObject* const f = item[i];
        keep.push_back(py::reinterpret_borrow<py::object>(f));
        if (PyBytes_CheckExact(f)) {
            views[i] = {PyBytes_AS_STRING(f), static_cast<std::size_t>(PyBytes_GET_SIZE(f))};
            continue;
        }
        if (PyUnicode_Check(f)) {
            throw py::type_error("frames[" + std::to_string(i) +
                                 "] must be bytes-like (bytes, bytearray, memoryview), was str");
        }
        bufs.push_back(std::make_unique<ByteView>(keep.back()));
        views[i] = bufs.back()->sv();
    }
    // ts_ns: one int for every frame, or one int64 per frame (a 1-d int64 array or a sequence
    // of ints); never a silent cast from another type.
    std::vector<std::int64_t> ts_vec;
    py::array_t<std::int64_t, py::array::c_style> ts_arr;
    const std::int64_t* ts_ptr = nullptr;
    std::size_t stride = 1;
    std::size_t n_ts = 0;
    if (PyLong_Check(ts.ptr())) {
        ts_vec.push_back(ts.cast<std::int64_t>());
        ts_ptr = ts_vec.data();
        stride = 0;
    } else if (py::isinstance<py::array>(ts)) {
        const auto a = py::reinterpret_borrow<py::array>(ts);
        if (a.ndim() != 1 || a.dtype().kind() != 'i' || a.itemsize() != 8 ||
            a.dtype().byteorder() == '>') {
            throw py::type_error("ts_ns must be a 1-d native int64 array, was dtype " +
                                 std::string(py::str(a.dtype())) + " with " +
                                 std::to_string(a.ndim()) + " dimension(s)");
        }
        ts_arr = py::array_t<std::int64_t, py::array::c_style>::ensure(a); // same dtype: no cast
        ts_ptr = ts_arr.data();
        n_ts = static_cast<std::size_t>(ts_arr.shape(0));
    } else if (py::isinstance<py::sequence>(ts) && !PyUnicode_Check(ts.ptr()) &&
               !PyBytes_Check(ts.ptr())) {
        const auto seq = py::reinterpret_steal<py::object>(
            PySequence_Fast(ts.ptr(), "ts_ns must be a sequence"));
        if (!seq) {
            throw py::error_already_set();
        }
        ts_vec.resize(static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq.ptr())));
        PyObject** const t = PySequence_Fast_ITEMS(seq.ptr());
        for (std::size_t i = 0; i < ts_vec.size(); ++i) {
            if (!PyLong_Check(t[i])) {
                throw py::type_error(
                    "ts_ns[" + std::to_string(i) + "] must be an int, was " +
                    std::string(py::str(py::type::handle_of(t[i]).attr("__name__"))));
            }
            int overflow = 0;
            const long long v = PyLong_AsLongLongAndOverflow(t[i], &overflow);
            if (overflow != 0 || (v == -1 && PyErr_Occurred() != nullptr)) {
                PyErr_Clear();
                ts_vec[i] = py::reinterpret_borrow<py::object>(t[i]).cast<std::int64_t>();
            } else {
                ts_vec[i] = v;
            }
        }
        ts_ptr = ts_vec.data();
        n_ts = ts_vec.size();
    } else {
        throw py::type_error("ts_ns must be an int or one int64 per frame, was " +
                             std::string(py::str(py::type::handle_of(ts).attr("__name__"))));
    }
    if (stride == 1) {
        if (n_ts != n) {
            throw py::value_error("ts_ns must have one entry per frame (" + std::to_string(n) +
                                  "), was " + std::to_string(n_ts));
        }
    }
    py::array_t<MessageResult> out(static_cast<py::ssize_t>(n));
    MessageResult* const rows = out.mutable_data();
    {
        // Safe: `keep` and `bufs` pin every frame, `ts_arr` the times and `out` the rows until we
        // return; no py:: object is touched or destroyed in this scope.
        const py::gil_scoped_release nogil;
        (void)s.on_messages(views.data(), ts_ptr, n, rows, stride);
    }
    return out;
}

} // namespace

void register_session(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(ScorePoint, ts_ns, symbol_id, reserved, mid_px, score, score_raw,
                         confidence, reliability, components);
    PYBIND11_NUMPY_DTYPE(SignalEvent, ts_ns, symbol_id, direction, score, mid_px);
    m.attr("score_point_dtype") = py::dtype::of<ScorePoint>();
    m.attr("signal_event_dtype") = py::dtype::of<SignalEvent>();
    PYBIND11_NUMPY_DTYPE(MessageResult, exchange_ts_ms, first_update_id, last_update_id, symbol_id,
                         n_book, n_trades, kind, error, reserved);
    m.attr("message_result_dtype") = py::dtype::of<MessageResult>();
    m.def(
        "message_result_layout",
        [] {
            py::dict offsets;
            offsets["exchange_ts_ms"] = offsetof(MessageResult, exchange_ts_ms);
            offsets["first_update_id"] = offsetof(MessageResult, first_update_id);
            offsets["last_update_id"] = offsetof(MessageResult, last_update_id);
            offsets["symbol_id"] = offsetof(MessageResult, symbol_id);
            offsets["n_book"] = offsetof(MessageResult, n_book);
            offsets["n_trades"] = offsetof(MessageResult, n_trades);
            offsets["kind"] = offsetof(MessageResult, kind);
            offsets["error"] = offsetof(MessageResult, error);
            offsets["reserved"] = offsetof(MessageResult, reserved);
            return py::make_tuple(sizeof(MessageResult), offsets);
        },
        R"pbdoc(Returns (sizeof, {field: offsetof}) of MessageResult as the C++ compiler laid it out.)pbdoc");

    py::native_enum<Venue>(m, "Venue", "enum.Enum",
                           "The venue whose message format a session parses.")
        .value("binance_spot", Venue::BinanceSpot)
        .value("binance_futures", Venue::BinanceFutures)
        .value("bybit", Venue::Bybit)
        .finalize();
    py::native_enum<SyncPhase>(m, "SyncPhase", "enum.Enum",
                               "Where a symbol is in the book synchronisation.")
        .value("awaiting_snapshot", SyncPhase::AwaitingSnapshot)
        .value("synced", SyncPhase::Synced)
        .value("resyncing", SyncPhase::Resyncing)
        .finalize();

    bind_record<SymbolHealth>(
        m, "SymbolHealth",
        "One symbol's feed health (FeedSession.health): messages, sync, signals.",
        field("depth_messages", &SymbolHealth::depth_messages),
        field("snapshot_messages", &SymbolHealth::snapshot_messages),
        field("trade_messages", &SymbolHealth::trade_messages),
        field("ticker_messages", &SymbolHealth::ticker_messages),
        field("parse_errors", &SymbolHealth::parse_errors),
        field("desyncs", &SymbolHealth::desyncs),
        field("snapshots_applied", &SymbolHealth::snapshots_applied),
        field("buffered_dropped", &SymbolHealth::buffered_dropped),
        field("ticker_checks", &SymbolHealth::ticker_checks),
        field("ticker_mismatches", &SymbolHealth::ticker_mismatches),
        field("ticker_level_checks", &SymbolHealth::ticker_level_checks),
        field("ticker_unverifiable", &SymbolHealth::ticker_unverifiable),
        field("stale_messages", &SymbolHealth::stale_messages),
        field("duplicate_trades", &SymbolHealth::duplicate_trades),
        field("long_signals", &SymbolHealth::long_signals),
        field("short_signals", &SymbolHealth::short_signals),
        field("last_book_ts_ns", &SymbolHealth::last_book_ts_ns),
        field("last_trade_ts_ns", &SymbolHealth::last_trade_ts_ns),
        field("phase", &SymbolHealth::phase), field("last_desync", &SymbolHealth::last_desync));

    py::class_<SessionConfig>(m, "SessionConfig",
                              R"pbdoc(Thresholds, series sampling and buffer bounds.)pbdoc")
        .def(py::init([](double long_t, double short_t, std::int64_t series_ns, std::size_t max_buf,
                         std::size_t max_tickers, std::size_t max_series, std::size_t max_signals,
                         std::size_t max_stale, std::size_t dedup) {
                 return SessionConfig{long_t,     short_t,     series_ns, max_buf, max_tickers,
                                      max_series, max_signals, max_stale, dedup};
             }),
             py::kw_only(), py::arg("long_threshold") = 70.0, py::arg("short_threshold") = 35.0,
             py::arg("series_interval_ns") = 100'000'000,
             py::arg("max_buffered_records") = 1U << 20, py::arg("max_pending_tickers") = 256,
             py::arg("max_series_points") = std::size_t{1} << 16,
             py::arg("max_signals") = std::size_t{1} << 14, py::arg("max_stale_messages") = 20,
             py::arg("trade_dedup_window") = 1024)
        .def_readonly("long_threshold", &SessionConfig::long_threshold)
        .def_readonly("short_threshold", &SessionConfig::short_threshold)
        .def_readonly("series_interval_ns", &SessionConfig::series_interval_ns)
        .def_readonly("max_buffered_records", &SessionConfig::max_buffered_records)
        .def_readonly("max_pending_tickers", &SessionConfig::max_pending_tickers)
        .def_readonly("max_series_points", &SessionConfig::max_series_points)
        .def_readonly("max_signals", &SessionConfig::max_signals)
        .def_readonly("max_stale_messages", &SessionConfig::max_stale_messages)
        .def_readonly("trade_dedup_window", &SessionConfig::trade_dedup_window);

    py::class_<FeedSession>(m, "FeedSession", R"pbdoc(
Raw exchange messages in, synchronised books and updated scores out, with per-stage latency.
Single-threaded, like the Engine it drives (which it keeps alive).
)pbdoc")
        .def(py::init<Engine&, Venue, SessionConfig>(), py::arg("engine"), py::arg("venue"),
             py::arg("config") = SessionConfig{}, py::keep_alive<1, 2>())
        .def("add_symbol", &FeedSession::add_symbol, py::arg("venue_symbol"), py::arg("symbol_id"))
        .def(
            "on_message",
            [](FeedSession& s, const py::handle raw, std::int64_t ts_ns) {
                std::optional<ByteView> buf;
                return py::reinterpret_steal<py::object>(
                    pooled_result(s.on_message(frame_bytes(raw, buf), ts_ns)));
            },
            py::arg("raw"), py::arg("ts_ns"),
            R"pbdoc(Parses and applies one raw message (bytes).)pbdoc")
        .def("on_messages", &on_messages, py::arg("frames"), py::arg("ts_ns"),
             R"pbdoc(Feeds many raw messages in order, as on_message() would one by one (GIL
released); ts_ns is one int for every frame or one per frame. Returns one message_result_dtype
row per frame.)pbdoc")
        .def(
            "on_snapshot",
            [](FeedSession& s, std::uint32_t sym, const py::object& raw, std::int64_t ts_ns) {
                const ByteView bytes(raw);
                return s.on_snapshot(sym, bytes.sv(), ts_ns);
            },
            py::arg("symbol_id"), py::arg("json"), py::arg("ts_ns"),
            R"pbdoc(Applies a Binance REST depth snapshot (bytes), then the buffered deltas.)pbdoc")
        .def(
            "replay",
            [](FeedSession& s, const py::object& data, LineFormat fmt) {
                const ByteView bytes(data);
                const auto sv = bytes.sv();
                // Safe: `bytes` pins the buffer until we return; no py:: object is touched.
                const py::gil_scoped_release nogil;
                return s.replay(sv, fmt);
            },
            py::arg("data"), py::arg("format") = LineFormat::NsPrefixed,
            R"pbdoc(Feeds every line of a capture buffer (GIL released); returns lines fed.)pbdoc")
        .def("request_resync", &FeedSession::request_resync, py::arg("symbol_id"))
        .def("needs_snapshot", &FeedSession::needs_snapshot, py::arg("symbol_id"))
        .def("health", &FeedSession::health, py::arg("symbol_id"), py::return_value_policy::copy,
             R"pbdoc(One symbol's feed health (a SymbolHealth copy).)pbdoc")
        .def(
            "phase", [](const FeedSession& s, std::uint32_t sym) { return s.health(sym).phase; },
            py::arg("symbol_id"))
        .def(
            "latency",
            [](const FeedSession& s) {
                py::dict d;
                d["parse"] = latency_dict(s.latency(Stage::Parse));
                d["apply"] = latency_dict(s.latency(Stage::Apply));
                d["recompute"] = latency_dict(s.latency(Stage::Recompute));
                d["total"] = latency_dict(s.latency(Stage::Total));
                return d;
            },
            R"pbdoc(Per-stage latency in ns: {stage: {count, p50, p99, p999, max, mean}}.)pbdoc")
        .def(
            "series", [](const FeedSession& s) { return copy_array(s.series()); },
            R"pbdoc(The last max_series_points score points (a copy, score_point_dtype).)pbdoc")
        .def(
            "signals", [](const FeedSession& s) { return copy_array(s.signals()); },
            R"pbdoc(The last max_signals threshold crossings (a copy, signal_event_dtype).)pbdoc")
        .def(
            "take_series", [](FeedSession& s) { return copy_array(s.take_series()); },
            R"pbdoc(The recorded score series, emptying it (drain it to keep everything).)pbdoc")
        .def(
            "take_signals", [](FeedSession& s) { return copy_array(s.take_signals()); },
            R"pbdoc(Threshold crossings, emptying the record.)pbdoc")
        .def_property_readonly("series_dropped", &FeedSession::series_dropped,
                               R"pbdoc(Score points dropped from the bounded series.)pbdoc")
        .def_property_readonly("signals_dropped", &FeedSession::signals_dropped,
                               R"pbdoc(Crossings dropped from the bounded signal list.)pbdoc")
        .def("clear_series", &FeedSession::clear_series)
        .def_property_readonly(
            "parser_counters",
            [](const FeedSession& s) {
                return ParserCountersView{s.parser_counters(), {}};
            },
            R"pbdoc(The session parser's counters (ParserCounters; no per-symbol errors).)pbdoc")
        .def_property_readonly("venue", &FeedSession::venue)
        .def_property_readonly("lines_fed", &FeedSession::lines_fed);

    // on_message: the pybind11 binding above stays the reference for every argument form;
    // the class attribute becomes on_message_fast(), which calls it for what it does not take.
    const py::object cls = m.attr("FeedSession");
    const py::object bound = cls.attr("on_message");
    static const std::string doc = py::str(bound.attr("__doc__"));
    static PyMethodDef def{
        "on_message", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&on_message_fast)),
        METH_FASTCALL | METH_KEYWORDS, doc.c_str()};
    g_on_message_bound = bound.inc_ref().ptr();
    const auto descr = py::reinterpret_steal<py::object>(
        PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), &def));
    if (!descr) {
        throw py::error_already_set();
    }
    cls.attr("on_message") = descr;
}
