// confluex._core.order_book: the L2 OrderBook, its config/counters/enums, and the BookSide and
// Aggressor enums of types.hpp. Levels cross the boundary as C-contiguous int64 (n, 2) arrays
// [px_ticks, qty_lots], viewed in place as confluex::Level (no copy, no cast).
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "confluex/errors.hpp"
#include "confluex/order_book.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::ApplyResult;
using confluex::BookConfig;
using confluex::BookCounters;
using confluex::BookSide;
using confluex::DepthMessage;
using confluex::Level;
using confluex::OrderBook;
using I64Array = confluex::bindings::LevelArray;

using confluex::bindings::as_levels;
using confluex::bindings::level_or_none;

std::span<const DepthMessage> as_messages(const I64Array& a) {
    return confluex::bindings::as_records<DepthMessage, 4>(
        a, "messages", "[n_bids, n_asks, update_id, prev_update_id]");
}

I64Array to_array(const Level* p, std::size_t n) {
    return confluex::bindings::levels_to_array(p, n);
}

} // namespace

void register_order_book(py::module_& m) {
    // IntEnum where the values travel as integers (record fields, result arrays), Enum otherwise.
    py::native_enum<BookSide>(m, "BookSide", "enum.IntEnum", "Side of the book.")
        .value("bid", BookSide::Bid)
        .value("ask", BookSide::Ask)
        .finalize();
    py::native_enum<confluex::Aggressor>(m, "Aggressor", "enum.IntEnum",
                                         "Side of a trade's aggressor (taker).")
        .value("buy", confluex::Aggressor::Buy)
        .value("sell", confluex::Aggressor::Sell)
        .value("unknown", confluex::Aggressor::Unknown)
        .finalize();
    py::native_enum<confluex::SyncState>(m, "SyncState", "enum.Enum", "Sequence state of a book.")
        .value("empty", confluex::SyncState::Empty)
        .value("synced", confluex::SyncState::Synced)
        .value("out_of_sync", confluex::SyncState::OutOfSync)
        .finalize();
    py::native_enum<confluex::DesyncReason>(m, "DesyncReason", "enum.Enum",
                                            "Why a book is not in sync.")
        .value("none", confluex::DesyncReason::None)
        .value("no_snapshot", confluex::DesyncReason::NoSnapshot)
        .value("gap", confluex::DesyncReason::Gap)
        .value("overlap", confluex::DesyncReason::Overlap)
        .value("crossed", confluex::DesyncReason::Crossed)
        .value("manual", confluex::DesyncReason::Manual)
        .value("id_jump", confluex::DesyncReason::IdJump)
        .value("stalled", confluex::DesyncReason::Stalled)
        .finalize();
    py::native_enum<ApplyResult>(m, "ApplyResult", "enum.IntEnum",
                                 "Outcome of offering one depth message to a book.")
        .value("applied", ApplyResult::Applied)
        .value("stale", ApplyResult::Stale)
        .value("not_synced", ApplyResult::NotSynced)
        .value("gap", ApplyResult::Gap)
        .value("overlap", ApplyResult::Overlap)
        .value("crossed", ApplyResult::Crossed)
        .value("id_jump", ApplyResult::IdJump)
        .finalize();

    py::class_<BookConfig>(m, "BookConfig", R"pbdoc(
Order book sizing: a dense window of at most 2**window_bits ticks per side (in [8, 24];
it starts small and grows with the book) and a
contiguous top cache of top_cache levels per side (in [1, 4096]). Checked by OrderBook().
)pbdoc")
        .def(py::init([](int window_bits, std::int64_t top_cache) {
                 if (top_cache < 0) {
                     throw confluex::InvalidConfig("top_cache must be in [1, 4096], was " +
                                                   std::to_string(top_cache));
                 }
                 return BookConfig{window_bits, static_cast<std::size_t>(top_cache)};
             }),
             py::kw_only(), py::arg("window_bits") = 17, py::arg("top_cache") = 64)
        .def_readonly("window_bits", &BookConfig::window_bits)
        .def_readonly("top_cache", &BookConfig::top_cache)
        .def("__repr__", [](const BookConfig& c) {
            return "BookConfig(window_bits=" + std::to_string(c.window_bits) +
                   ", top_cache=" + std::to_string(c.top_cache) + ")";
        });

    using confluex::bindings::field;
    confluex::bindings::bind_record<BookCounters>(
        m, "BookCounters", "Monotonic event counters of one book.",
        field("snapshots", &BookCounters::snapshots),
        field("messages_applied", &BookCounters::messages_applied),
        field("levels_applied", &BookCounters::levels_applied),
        field("stale_ignored", &BookCounters::stale_ignored),
        field("not_synced_ignored", &BookCounters::not_synced_ignored),
        field("gaps", &BookCounters::gaps), field("overlaps", &BookCounters::overlaps),
        field("crossed", &BookCounters::crossed), field("recenters", &BookCounters::recenters),
        field("resizes", &BookCounters::resizes), field("id_jumps", &BookCounters::id_jumps));

    py::class_<OrderBook>(m, "OrderBook", R"pbdoc(
L2 price-level book in integer ticks/lots with exchange sequence tracking.
Single writer: use one book from one thread only.
)pbdoc")
        .def(py::init<BookConfig>(), py::arg("config") = BookConfig{})
        .def(
            "apply_snapshot",
            [](OrderBook& b, const I64Array& bids, const I64Array& asks, std::int64_t update_id) {
                b.apply_snapshot(as_levels(bids, "bids"), as_levels(asks, "asks"), update_id);
            },
            py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("update_id"),
            R"pbdoc(Replaces the book with (n, 2) int64 [px_ticks, qty_lots] arrays; raises
InvalidEvent or BookCrossed and leaves the book unchanged on bad input.)pbdoc")
        .def(
            "apply_delta",
            [](OrderBook& b, const I64Array& bids, const I64Array& asks, std::int64_t update_id,
               std::int64_t prev_update_id) {
                return b.apply_delta(as_levels(bids, "bids"), as_levels(asks, "asks"), update_id,
                                     prev_update_id);
            },
            py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("update_id"),
            py::arg("prev_update_id") = confluex::kNoUpdateId,
            R"pbdoc(Applies one depth message (absolute sizes, 0 deletes) after the sequence
check; prev_update_id is Binance spot U-1 or futures pu, -1 to skip the check.)pbdoc")
        .def(
            "apply_messages",
            [](OrderBook& b, const I64Array& levels, const I64Array& msgs) {
                const auto lv = as_levels(levels, "levels");
                const auto ms = as_messages(msgs);
                py::array_t<std::uint8_t> results(static_cast<py::ssize_t>(ms.size()));
                std::span<ApplyResult> out(reinterpret_cast<ApplyResult*>(results.mutable_data()),
                                           ms.size());
                {
                    // Safe: only spans over arrays kept alive by this frame are used below.
                    const py::gil_scoped_release nogil;
                    confluex::apply_messages(b, lv, ms, out);
                }
                return results;
            },
            py::arg("levels").noconvert(), py::arg("messages").noconvert(),
            R"pbdoc(Applies a batch of depth messages in C++ with the GIL released. levels is
(L, 2) int64; messages is (M, 4) int64 [n_bids, n_asks, update_id, prev_update_id], each
message's bids then asks taken in order from levels. Returns the ApplyResult values as uint8.)pbdoc")
        .def("check_sequence", &OrderBook::check_sequence, py::arg("update_id"),
             py::arg("prev_update_id"), R"pbdoc(What apply_delta would do with these ids.)pbdoc")
        .def_static("validate_level", &OrderBook::validate_level, py::arg("px"), py::arg("qty"))
        .def(
            "set_level",
            [](OrderBook& b, BookSide side, std::int64_t px, std::int64_t qty) {
                OrderBook::validate_level(px, qty);
                b.set_level(side, px, qty);
            },
            py::arg("side"), py::arg("px"), py::arg("qty"),
            R"pbdoc(Sets one level (validated; 0 deletes). Follow a message with commit().)pbdoc")
        .def("commit", &OrderBook::commit, py::arg("update_id"))
        .def("mark_out_of_sync", &OrderBook::mark_out_of_sync,
             py::arg("reason") = confluex::DesyncReason::Manual)
        .def("clear", &OrderBook::clear)
        .def(
            "best_bid", [](const OrderBook& b) { return level_or_none(b.best_bid()); },
            R"pbdoc(Best bid as (px_ticks, qty_lots), or None.)pbdoc")
        .def(
            "best_ask", [](const OrderBook& b) { return level_or_none(b.best_ask()); },
            R"pbdoc(Best ask as (px_ticks, qty_lots), or None.)pbdoc")
        .def("best_bid_px", &OrderBook::best_bid_px,
             R"pbdoc(Best bid price, NO_PRICE if none.)pbdoc")
        .def("best_ask_px", &OrderBook::best_ask_px,
             R"pbdoc(Best ask price, NO_PRICE if none.)pbdoc")
        .def(
            "top",
            [](const OrderBook& b, std::size_t n) {
                const confluex::BookView v = b.top(n);
                return std::make_tuple(to_array(v.bids, v.n_bids), to_array(v.asks, v.n_asks));
            },
            py::arg("n"),
            R"pbdoc(Best-first (k, 2) int64 copies of both sides, k <= min(n, top_cache).)pbdoc")
        .def(
            "copy_top",
            [](const OrderBook& b, BookSide side, std::size_t n) {
                std::vector<Level> buf(std::min(n, b.level_count(side)));
                return to_array(buf.data(), b.copy_top(side, buf.size(), buf.data()));
            },
            py::arg("side"), py::arg("n"),
            R"pbdoc(Best-first (k, 2) int64 copy of one side, any n.)pbdoc")
        .def("depth", &OrderBook::depth, py::arg("side"), py::arg("n_levels"),
             R"pbdoc(Summed size of the best n_levels levels of a side.)pbdoc")
        .def("depth_within", &OrderBook::depth_within, py::arg("side"), py::arg("lo"),
             py::arg("hi"), R"pbdoc(Summed size of a side's levels with lo <= px <= hi.)pbdoc")
        .def("level_qty", &OrderBook::level_qty, py::arg("side"), py::arg("px"))
        .def("level_count", &OrderBook::level_count, py::arg("side"))
        .def("window_bits", &OrderBook::window_bits, py::arg("side"),
             R"pbdoc(log2 of a side's current dense window (grows up to config.window_bits).)pbdoc")
        .def("memory_bytes", &OrderBook::memory_bytes,
             R"pbdoc(Bytes the book holds: windows, bitmaps, top caches, overflow nodes.)pbdoc")
        .def_property_readonly("last_update_id", &OrderBook::last_update_id)
        .def_property_readonly("state", &OrderBook::state)
        .def_property_readonly("desync_reason", &OrderBook::desync_reason)
        .def_property_readonly("in_sync", &OrderBook::in_sync)
        .def_property_readonly("counters", [](const OrderBook& b) { return b.counters(); })
        .def_property_readonly("config", [](const OrderBook& b) { return b.config(); });
}
