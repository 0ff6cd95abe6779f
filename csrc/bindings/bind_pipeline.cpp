// Pipeline: per-shard engine threads fed through SPSC rings; records drained as NumPy arrays.
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "confluex/pipeline.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::EngineConfig;
using confluex::Instrument;
using confluex::bindings::bind_record;
using confluex::bindings::ByteView;
using confluex::bindings::field;
using confluex::bindings::latency_dict;
using confluex::feed::LineFormat;
using confluex::feed::SessionConfig;
using confluex::feed::Venue;
using namespace confluex::pipeline;

py::array_t<OutRecord> drain_array(Pipeline& p, std::size_t max) {
    // On the consumer thread pending() is a lower bound of what drain() finds (the shards only
    // add), so the array is allocated at its final size.
    const std::size_t n = std::min(max, p.pending());
    py::array_t<OutRecord> out(static_cast<py::ssize_t>(n));
    const std::size_t k = p.drain(out.mutable_data(), n);
    if (k != n) { // only reachable if a second consumer broke the contract
        out.resize({static_cast<py::ssize_t>(k)});
    }
    return out;
}

} // namespace

void register_pipeline(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(OutRecord, ts_ns, recv_ns, done_ns, symbol_id, kind, direction, phase,
                         code, count, mid_px, score, score_raw, confidence, reliability,
                         components);
    m.attr("out_record_dtype") = py::dtype::of<OutRecord>();

    py::native_enum<OutKind>(m, "OutKind", "enum.IntEnum", "What an output record carries.")
        .value("score", OutKind::Score)
        .value("point", OutKind::Point)
        .value("signal", OutKind::Signal)
        .value("resync", OutKind::Resync)
        .value("error", OutKind::Error)
        .value("snapshot", OutKind::Snapshot)
        .value("input", OutKind::Input)
        .finalize();
    py::native_enum<FrameKind>(m, "FrameKind", "enum.IntEnum",
                               "What an input frame carries (an Input record's count).")
        .value("message", FrameKind::Message)
        .value("snapshot", FrameKind::Snapshot)
        .value("resync", FrameKind::Resync)
        .value("funding", FrameKind::Funding)
        .value("open_interest", FrameKind::OpenInterest)
        .value("long_short", FrameKind::LongShort)
        .finalize();
    py::native_enum<PushStatus>(m, "PushStatus", "enum.IntEnum", "What push() did with a frame.")
        .value("accepted", PushStatus::Accepted)
        .value("dropped", PushStatus::Dropped)
        .value("unrouted", PushStatus::Unrouted)
        .finalize();
    py::native_enum<ResyncReason>(m, "ResyncReason", "enum.IntEnum",
                                  "Why a Resync record was published (its code).")
        .value("overflow", ResyncReason::Overflow)
        .value("requested", ResyncReason::Requested)
        .finalize();
    py::native_enum<ErrorCode>(m, "ErrorCode", "enum.IntEnum",
                               "The confluex error type of an Error record (its code).")
        .value("none", ErrorCode::None)
        .value("invalid_event", ErrorCode::InvalidEvent)
        .value("book_crossed", ErrorCode::BookCrossed)
        .value("capacity_exceeded", ErrorCode::CapacityExceeded)
        .value("unknown_symbol", ErrorCode::UnknownSymbol)
        .value("invalid_config", ErrorCode::InvalidConfig)
        .value("other", ErrorCode::Other)
        .finalize();
    py::native_enum<WaitPolicy>(m, "WaitPolicy", "enum.IntEnum",
                                "How an idle engine thread waits for its next frame.")
        .value("busy_poll", WaitPolicy::BusyPoll)
        .value("spin_yield", WaitPolicy::SpinYield)
        .value("blocking", WaitPolicy::Blocking)
        .finalize();

    bind_record<ShardStats>(
        m, "ShardStats", "One shard's counters (Pipeline.stats).",
        field("frames", &ShardStats::frames), field("bytes", &ShardStats::bytes),
        field("input_dropped", &ShardStats::input_dropped),
        field("output_records", &ShardStats::output_records),
        field("output_dropped", &ShardStats::output_dropped),
        field("overflow_resyncs", &ShardStats::overflow_resyncs),
        field("errors", &ShardStats::errors), field("unrouted", &ShardStats::unrouted),
        field("sleeps", &ShardStats::sleeps), field("wakeups", &ShardStats::wakeups),
        field("warm_passes", &ShardStats::warm_passes), field("symbols", &ShardStats::symbols));

    py::class_<PipelineConfig>(m, "PipelineConfig", R"pbdoc(Shards, ring sizes and modes.)pbdoc")
        .def(
            py::init([](std::uint32_t shards, std::size_t input_chunks, std::size_t output_capacity,
                        bool emit_scores, bool lossless, WaitPolicy wait, std::int64_t spin_ns,
                        std::int64_t park_ns, std::int64_t warm_ns, const EngineConfig& engine,
                        const SessionConfig& session) {
                return PipelineConfig{shards,          input_chunks,
                                      output_capacity, emit_scores,
                                      lossless,        WaitConfig{wait, spin_ns, park_ns, warm_ns},
                                      engine,          session};
            }),
            py::kw_only(), py::arg("shards") = 1, py::arg("input_chunks") = std::size_t{1} << 16,
            py::arg("output_capacity") = std::size_t{1} << 14, py::arg("emit_scores") = true,
            py::arg("lossless") = false, py::arg("wait") = WaitConfig{}.policy,
            py::arg("spin_ns") = WaitConfig{}.spin_ns, py::arg("park_ns") = WaitConfig{}.park_ns,
            py::arg("warm_ns") = WaitConfig{}.warm_ns, py::arg("engine") = EngineConfig{},
            py::arg("session") = SessionConfig{})
        .def_readonly("shards", &PipelineConfig::shards)
        .def_readonly("input_chunks", &PipelineConfig::input_chunks)
        .def_readonly("output_capacity", &PipelineConfig::output_capacity)
        .def_readonly("emit_scores", &PipelineConfig::emit_scores)
        .def_readonly("lossless", &PipelineConfig::lossless)
        .def_property_readonly("wait", [](const PipelineConfig& c) { return c.wait.policy; })
        .def_property_readonly("spin_ns", [](const PipelineConfig& c) { return c.wait.spin_ns; })
        .def_property_readonly("park_ns", [](const PipelineConfig& c) { return c.wait.park_ns; })
        .def_property_readonly("warm_ns", [](const PipelineConfig& c) { return c.wait.warm_ns; });

    py::class_<Pipeline>(m, "Pipeline", R"pbdoc(
Engine threads, one per shard, fed raw frames through lock-free SPSC rings; scores, series
points, signals, resyncs and errors come back as out_record_dtype rows through drain().
One producer thread (push*, feed_lines, finish, stop) and one consumer thread (drain, wait,
arm, ack) at a time.
)pbdoc")
        .def(py::init<PipelineConfig>(), py::arg("config") = PipelineConfig{})
        .def(
            "add_symbol", &Pipeline::add_symbol, py::arg("venue"), py::arg("venue_symbol"),
            py::arg("instrument"), py::arg("name") = "", py::arg("shard") = -1,
            R"pbdoc(Registers a venue symbol on a shard (-1: by stable hash); returns its id.)pbdoc")
        .def("start", &Pipeline::start, R"pbdoc(Launches the engine threads.)pbdoc")
        .def(
            "push",
            [](Pipeline& p, Venue venue, const py::object& frame, std::int64_t ts_ns) {
                const ByteView bytes(frame);
                if (!p.config().lossless) {
                    return p.push(venue, bytes.sv(), ts_ns); // never waits: keep the GIL
                }
                // Safe: `bytes` pins the buffer; no py:: object is touched in the scope.
                const py::gil_scoped_release nogil;
                return p.push(venue, bytes.sv(), ts_ns);
            },
            py::arg("venue"), py::arg("frame"), py::arg("ts_ns"),
            R"pbdoc(Queues one raw frame (bytes) for its symbol's shard.)pbdoc")
        .def(
            "push_snapshot",
            [](Pipeline& p, std::uint32_t sym, const py::object& json, std::int64_t ts_ns) {
                const ByteView bytes(json);
                const py::gil_scoped_release nogil; // safe: see push
                return p.push_snapshot(sym, bytes.sv(), ts_ns);
            },
            py::arg("symbol_id"), py::arg("json"), py::arg("ts_ns"),
            R"pbdoc(Queues a Binance REST depth snapshot (bytes) for a symbol.)pbdoc")
        .def(
            "push_funding", &Pipeline::push_funding, py::arg("symbol_id"), py::arg("ts_ns"),
            py::arg("rate"),
            R"pbdoc(Queues a funding rate for the symbol's engine thread (an Input record answers).)pbdoc")
        .def("push_open_interest", &Pipeline::push_open_interest, py::arg("symbol_id"),
             py::arg("ts_ns"), py::arg("value"),
             R"pbdoc(Queues an open-interest level for the symbol's engine thread.)pbdoc")
        .def(
            "push_long_short", &Pipeline::push_long_short, py::arg("symbol_id"), py::arg("ts_ns"),
            py::arg("long_share"), py::arg("short_share"),
            R"pbdoc(Queues the accounts' long and short shares for the symbol's engine thread.)pbdoc")
        .def("request_resync", &Pipeline::request_resync, py::arg("symbol_id"),
             py::call_guard<py::gil_scoped_release>(), R"pbdoc(Queues a resync of a symbol.)pbdoc")
        .def(
            "feed_lines",
            [](Pipeline& p, Venue venue, const py::object& data, LineFormat fmt) {
                const ByteView bytes(data);
                const auto sv = bytes.sv();
                // Safe: `bytes` pins the buffer until we return; no py:: object is touched.
                const py::gil_scoped_release nogil;
                return p.feed_lines(venue, sv, fmt);
            },
            py::arg("venue"), py::arg("data"), py::arg("format") = LineFormat::NsPrefixed,
            R"pbdoc(Pushes every line of a capture buffer (GIL released); returns lines pushed.)pbdoc")
        .def("finish", &Pipeline::finish, py::call_guard<py::gil_scoped_release>(),
             R"pbdoc(Processes what is queued, then joins the engine threads.)pbdoc")
        .def("stop", &Pipeline::stop, py::call_guard<py::gil_scoped_release>(),
             R"pbdoc(Joins the engine threads without processing what is queued.)pbdoc")
        .def("drain", &drain_array, py::arg("max") = std::size_t{1} << 16,
             R"pbdoc(Removes up to max records (out_record_dtype array); never blocks.)pbdoc")
        .def("pending", &Pipeline::pending, R"pbdoc(Records waiting in the output rings.)pbdoc")
        .def("arm", &Pipeline::arm,
             R"pbdoc(Asks for a write of notify_fd at the next record; False if one waits.)pbdoc")
        .def(
            "wait", &Pipeline::wait, py::arg("timeout_ms"),
            py::call_guard<py::gil_scoped_release>(),
            R"pbdoc(Waits (GIL released) until records may wait, all shards ended, or the timeout.)pbdoc")
        .def("ack", &Pipeline::ack, R"pbdoc(Clears notify_fd's readability.)pbdoc")
        .def_property_readonly("notify_fd", &Pipeline::notify_fd)
        .def_property_readonly("shards", &Pipeline::shards)
        .def_property_readonly("symbol_count", &Pipeline::symbol_count)
        .def_property_readonly("started", &Pipeline::started)
        .def_property_readonly("joined", &Pipeline::joined)
        .def_property_readonly("ended", &Pipeline::ended)
        .def_property_readonly("failed", &Pipeline::failed)
        .def("rethrow_if_failed", &Pipeline::rethrow_if_failed,
             R"pbdoc(Raises the exception that stopped a shard, with its own type.)pbdoc")
        .def("shard_of", &Pipeline::shard_of, py::arg("symbol_id"))
        .def("local_id", &Pipeline::local_id, py::arg("symbol_id"))
        .def("symbol_name", &Pipeline::symbol_name, py::arg("symbol_id"))
        .def("venue_of", &Pipeline::venue_of, py::arg("symbol_id"))
        .def("phase", &Pipeline::phase, py::arg("symbol_id"))
        .def("needs_snapshot", &Pipeline::needs_snapshot, py::arg("symbol_id"))
        .def("stats", &Pipeline::stats, py::arg("shard"))
        .def("health", &Pipeline::health, py::arg("symbol_id"),
             R"pbdoc(The symbol's feed health as its shard last published it (any time).)pbdoc")
        .def("engine", &Pipeline::engine, py::arg("shard"),
             py::return_value_policy::reference_internal,
             R"pbdoc(A shard's Engine (after finish()/stop()).)pbdoc")
        .def("session", &Pipeline::session, py::arg("shard"), py::arg("venue"),
             py::return_value_policy::reference_internal,
             R"pbdoc(A shard's FeedSession of a venue, or None (after finish()/stop()).)pbdoc")
        .def(
            "latency",
            [](const Pipeline& p, std::uint32_t shard) { return latency_dict(p.latency(shard)); },
            py::arg("shard"),
            R"pbdoc(A shard's push -> Score record latency in ns (after finish()/stop()).)pbdoc");
}
