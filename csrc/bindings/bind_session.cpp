// FeedSession: raw exchange bytes -> synchronised books -> updated scores.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <vector>

#include "confluex/feed_session.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::Engine;
using confluex::LatencyHistogram;
using confluex::bindings::ByteView;
using confluex::bindings::counters_to_dict;
using namespace confluex::feed;

template <class T>
py::array_t<T> copy_array(const std::vector<T>& v) {
    py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) {
        std::memcpy(out.mutable_data(), v.data(), v.size() * sizeof(T));
    }
    return out;
}

py::dict latency_dict(const LatencyHistogram& h) {
    py::dict d;
    d["count"] = h.count();
    d["p50"] = h.percentile(0.50);
    d["p99"] = h.percentile(0.99);
    d["p999"] = h.percentile(0.999);
    d["max"] = h.max();
    d["mean"] = h.mean();
    return d;
}

py::dict health_dict(const SymbolHealth& h) {
    py::dict d;
    d["depth_messages"] = h.depth_messages;
    d["snapshot_messages"] = h.snapshot_messages;
    d["trade_messages"] = h.trade_messages;
    d["ticker_messages"] = h.ticker_messages;
    d["parse_errors"] = h.parse_errors;
    d["desyncs"] = h.desyncs;
    d["snapshots_applied"] = h.snapshots_applied;
    d["buffered_dropped"] = h.buffered_dropped;
    d["ticker_checks"] = h.ticker_checks;
    d["ticker_mismatches"] = h.ticker_mismatches;
    d["ticker_level_checks"] = h.ticker_level_checks;
    d["ticker_unverifiable"] = h.ticker_unverifiable;
    d["stale_messages"] = h.stale_messages;
    d["duplicate_trades"] = h.duplicate_trades;
    d["long_signals"] = h.long_signals;
    d["short_signals"] = h.short_signals;
    d["last_book_ts_ns"] = h.last_book_ts_ns;
    d["last_trade_ts_ns"] = h.last_trade_ts_ns;
    d["phase"] = h.phase;
    d["last_desync"] = h.last_desync;
    return d;
}

}  // namespace

void register_session(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(ScorePoint, ts_ns, symbol_id, reserved, mid_px, score, score_raw, confidence, reliability);
    PYBIND11_NUMPY_DTYPE(SignalEvent, ts_ns, symbol_id, direction, score, mid_px);
    m.attr("score_point_dtype") = py::dtype::of<ScorePoint>();
    m.attr("signal_event_dtype") = py::dtype::of<SignalEvent>();

    py::enum_<Venue>(m, "Venue")
        .value("binance_spot", Venue::BinanceSpot)
        .value("binance_futures", Venue::BinanceFutures)
        .value("bybit", Venue::Bybit);
    py::enum_<SyncPhase>(m, "SyncPhase")
        .value("awaiting_snapshot", SyncPhase::AwaitingSnapshot)
        .value("synced", SyncPhase::Synced)
        .value("resyncing", SyncPhase::Resyncing);

    py::class_<SessionConfig>(m, "SessionConfig", R"pbdoc(Thresholds, series sampling and buffer bounds.)pbdoc")
        .def(py::init([](double long_t, double short_t, std::int64_t series_ns, std::size_t max_buf,
                         std::size_t max_tickers, std::size_t max_stale, std::size_t dedup) {
                 return SessionConfig{long_t, short_t, series_ns, max_buf, max_tickers, max_stale, dedup};
             }),
             py::kw_only(), py::arg("long_threshold") = 70.0, py::arg("short_threshold") = 35.0,
             py::arg("series_interval_ns") = 100'000'000, py::arg("max_buffered_records") = 1U << 20,
             py::arg("max_pending_tickers") = 256, py::arg("max_stale_messages") = 20,
             py::arg("trade_dedup_window") = 1024)
        .def_readonly("long_threshold", &SessionConfig::long_threshold)
        .def_readonly("short_threshold", &SessionConfig::short_threshold)
        .def_readonly("series_interval_ns", &SessionConfig::series_interval_ns)
        .def_readonly("max_buffered_records", &SessionConfig::max_buffered_records)
        .def_readonly("max_pending_tickers", &SessionConfig::max_pending_tickers)
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
            [](FeedSession& s, const py::object& raw, std::int64_t ts_ns) {
                const ByteView bytes(raw);
                return s.on_message(bytes.sv(), ts_ns);
            },
            py::arg("raw"), py::arg("ts_ns"), R"pbdoc(Parses and applies one raw message (bytes).)pbdoc")
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
        .def("health", [](const FeedSession& s, std::uint32_t sym) { return health_dict(s.health(sym)); },
             py::arg("symbol_id"))
        .def("phase", [](const FeedSession& s, std::uint32_t sym) { return s.health(sym).phase; },
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
        .def("series", [](const FeedSession& s) { return copy_array(s.series()); },
             R"pbdoc(The recorded score series (a copy, score_point_dtype).)pbdoc")
        .def("signals", [](const FeedSession& s) { return copy_array(s.signals()); },
             R"pbdoc(Threshold crossings (a copy, signal_event_dtype).)pbdoc")
        .def("clear_series", &FeedSession::clear_series)
        .def_property_readonly("parser_counters",
                               [](const FeedSession& s) {
                                   return counters_to_dict(s.parser_counters(), std::vector<std::uint64_t>{});
                               })
        .def_property_readonly("venue", &FeedSession::venue)
        .def_property_readonly("lines_fed", &FeedSession::lines_fed);
}
