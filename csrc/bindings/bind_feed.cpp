// Feed parsers: exchange bytes -> engine record arrays.
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "confluex/feed_parser.hpp"
#include "confluex/tardis_csv.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::BookLevelEvent;
using confluex::TradeEvent;
using namespace confluex::feed;
using confluex::bindings::ByteView;
using confluex::bindings::ParserCountersView;
using confluex::bindings::to_array;

template <class Parser>
py::tuple parse_one(Parser& parser, const py::object& msg, std::int64_t ts_ns) {
    const ByteView bytes(msg);
    std::vector<BookLevelEvent> book;
    std::vector<TradeEvent> trades;
    const ParseResult r = parser.parse(bytes.sv(), ts_ns, book, trades);
    return py::make_tuple(r, to_array(std::move(book)), to_array(std::move(trades)));
}

template <class Parser> py::tuple batch_result(Parser& parser, LineBatch&& out) {
    return py::make_tuple(to_array(std::move(out.book)), to_array(std::move(out.trades)),
                          to_array(std::move(out.tickers)),
                          ParserCountersView{parser.counters(), parser.symbol_errors()});
}

} // namespace

void register_feed(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(BookTicker, ts_ns, update_id, symbol_id, reserved, bid_px, bid_qty, ask_px,
                         ask_qty);
    m.attr("book_ticker_dtype") = py::dtype::of<BookTicker>();
    m.def(
        "book_ticker_layout",
        [] {
            py::dict offsets;
            offsets["ts_ns"] = offsetof(BookTicker, ts_ns);
            offsets["update_id"] = offsetof(BookTicker, update_id);
            offsets["symbol_id"] = offsetof(BookTicker, symbol_id);
            offsets["reserved"] = offsetof(BookTicker, reserved);
            offsets["bid_px"] = offsetof(BookTicker, bid_px);
            offsets["bid_qty"] = offsetof(BookTicker, bid_qty);
            offsets["ask_px"] = offsetof(BookTicker, ask_px);
            offsets["ask_qty"] = offsetof(BookTicker, ask_qty);
            return py::make_tuple(sizeof(BookTicker), offsets);
        },
        R"pbdoc(Returns (sizeof, {field: offsetof}) of BookTicker as the C++ compiler laid it out.)pbdoc");
    m.attr("NO_SYMBOL") = kNoSymbol;
    m.attr("MAX_SYMBOL_ID") = kMaxSymbolId;

    py::native_enum<MsgKind>(m, "MsgKind", "enum.Enum", "Kind of an exchange message.")
        .value("Depth", MsgKind::Depth)
        .value("Snapshot", MsgKind::Snapshot)
        .value("Trade", MsgKind::Trade)
        .value("BookTicker", MsgKind::BookTicker)
        .value("Control", MsgKind::Control)
        .value("Unknown", MsgKind::Unknown)
        .finalize();
    py::native_enum<ParseError>(m, "ParseError", "enum.Enum",
                                "Why a message was rejected (None_: it was not).")
        .value("None_", ParseError::None)
        .value("Malformed", ParseError::Malformed)
        .value("MissingField", ParseError::MissingField)
        .value("OffGrid", ParseError::OffGrid)
        .value("UnknownStream", ParseError::UnknownStream)
        .value("UnknownSymbol", ParseError::UnknownSymbol)
        .value("OutOfMemory", ParseError::OutOfMemory)
        .finalize();
    py::native_enum<LineFormat>(m, "LineFormat", "enum.Enum",
                                "Layout of a capture buffer, one message per line.")
        .value("NsPrefixed", LineFormat::NsPrefixed)
        .value("JsonOnly", LineFormat::JsonOnly)
        .finalize();

    py::class_<ParserCountersView>(m, "ParserCounters", R"pbdoc(
What a parser did: good messages by kind, rejected ones by error, records produced, and the
errors of each registered symbol. Read-only; a snapshot taken when it was read.
)pbdoc")
        .def_property_readonly(
            "messages",
            [](const ParserCountersView& v) {
                return confluex::bindings::messages_by_kind(v.counters);
            },
            "Messages parsed without error, by MsgKind name.")
        .def_property_readonly(
            "errors",
            [](const ParserCountersView& v) {
                return confluex::bindings::errors_by_name(v.counters);
            },
            "Rejected messages, by ParseError name.")
        .def_property_readonly("book_records",
                               [](const ParserCountersView& v) { return v.counters.book_records; })
        .def_property_readonly("trade_records",
                               [](const ParserCountersView& v) { return v.counters.trade_records; })
        .def_property_readonly("tickers",
                               [](const ParserCountersView& v) { return v.counters.tickers; })
        .def_property_readonly(
            "symbol_errors",
            [](const ParserCountersView& v) {
                return confluex::bindings::symbol_errors_dict(v.symbol_errors);
            },
            "Rejected messages by symbol id (ids without errors left out).")
        .def(
            "to_dict",
            [](const ParserCountersView& v) {
                py::dict d;
                d["messages"] = confluex::bindings::messages_by_kind(v.counters);
                d["errors"] = confluex::bindings::errors_by_name(v.counters);
                d["book_records"] = v.counters.book_records;
                d["trade_records"] = v.counters.trade_records;
                d["tickers"] = v.counters.tickers;
                d["symbol_errors"] = confluex::bindings::symbol_errors_dict(v.symbol_errors);
                return d;
            },
            "The counters as a plain dict (for CSV/JSON output).")
        .def("__repr__", [](const ParserCountersView& v) {
            return "ParserCounters(book_records=" + std::to_string(v.counters.book_records) +
                   ", trade_records=" + std::to_string(v.counters.trade_records) +
                   ", tickers=" + std::to_string(v.counters.tickers) + ")";
        });

    py::class_<SymbolTable>(m, "SymbolTable", R"pbdoc(
Venue symbol text -> (engine symbol id, Instrument). Lookups ignore ASCII case, so Binance
stream prefixes ("btcusdt") find "BTCUSDT". Parsers copy the table when they are built.
)pbdoc")
        .def(py::init<>())
        .def("add", &SymbolTable::add, py::arg("venue_symbol"), py::arg("symbol_id"),
             py::arg("instrument"),
             R"pbdoc(Registers a symbol; a duplicate symbol or id raises InvalidConfig.)pbdoc")
        .def(
            "find",
            [](const SymbolTable& t, std::string_view s) -> py::object {
                const SymbolTable::Entry* e = t.find(s);
                if (e == nullptr) {
                    return py::none();
                }
                return py::make_tuple(e->symbol_id, e->instrument);
            },
            py::arg("venue_symbol"),
            R"pbdoc(Returns (symbol_id, instrument), or None when unknown.)pbdoc")
        .def("__len__", &SymbolTable::size);

    py::class_<BookTicker>(m, "BookTicker", "The exchange's own top of book (Binance bookTicker).")
        .def_readonly("ts_ns", &BookTicker::ts_ns)
        .def_readonly("update_id", &BookTicker::update_id)
        .def_readonly("symbol_id", &BookTicker::symbol_id)
        .def_readonly("bid_px", &BookTicker::bid_px)
        .def_readonly("bid_qty", &BookTicker::bid_qty)
        .def_readonly("ask_px", &BookTicker::ask_px)
        .def_readonly("ask_qty", &BookTicker::ask_qty);

    py::class_<ParseResult>(m, "ParseResult", "Outcome of parsing one message.")
        .def_readonly("kind", &ParseResult::kind)
        .def_readonly("error", &ParseResult::error)
        .def_readonly("symbol_id", &ParseResult::symbol_id)
        .def_readonly("n_book", &ParseResult::n_book)
        .def_readonly("n_trades", &ParseResult::n_trades)
        .def_readonly("exchange_ts_ms", &ParseResult::exchange_ts_ms)
        .def_readonly("first_update_id", &ParseResult::first_update_id)
        .def_readonly("last_update_id", &ParseResult::last_update_id)
        .def_property_readonly(
            "ticker",
            [](const ParseResult& r) -> py::object {
                return r.ok() && r.kind == MsgKind::BookTicker ? py::cast(r.ticker) : py::none();
            },
            "The BookTicker of a bookTicker message, else None.")
        .def_property_readonly("ok", &ParseResult::ok)
        .def("__repr__", [](const ParseResult& r) {
            return std::string("ParseResult(kind=") + to_string(r.kind) +
                   ", error=" + to_string(r.error) + ", symbol_id=" + std::to_string(r.symbol_id) +
                   ", n_book=" + std::to_string(r.n_book) +
                   ", n_trades=" + std::to_string(r.n_trades) + ")";
        });

    py::class_<BinanceParser>(m, "BinanceParser", R"pbdoc(
Binance combined-stream / raw-event / REST-snapshot parser (see feed_parser.hpp for the
record conventions). Single-threaded: use one parser per thread.
)pbdoc")
        .def(py::init<const SymbolTable&, bool>(), py::arg("symbols"), py::arg("futures"))
        .def(
            "parse", &parse_one<BinanceParser>, py::arg("msg"), py::arg("ts_ns"),
            R"pbdoc(Parses one message (bytes-like) -> (ParseResult, book records, trade records).)pbdoc")
        .def(
            "parse_snapshot",
            [](BinanceParser& p, const py::object& json, std::uint32_t symbol_id,
               std::int64_t ts_ns) {
                const ByteView bytes(json);
                std::vector<BookLevelEvent> book;
                const ParseResult r = p.parse_snapshot(bytes.sv(), symbol_id, ts_ns, book);
                return py::make_tuple(r, to_array(std::move(book)));
            },
            py::arg("json"), py::arg("symbol_id"), py::arg("ts_ns"),
            R"pbdoc(Parses a REST depth snapshot -> (ParseResult, kSnapshot book records).)pbdoc")
        .def(
            "parse_lines",
            [](BinanceParser& p, const py::object& data) {
                const ByteView bytes(data);
                LineBatch out;
                {
                    // Safe: only the held buffer and C++ objects are touched without the GIL.
                    const py::gil_scoped_release nogil;
                    p.parse_lines(bytes.sv(), out);
                }
                return batch_result(p, std::move(out));
            },
            py::arg("data"), R"pbdoc(
Parses a capture buffer of "<ns> <json>" lines with the GIL released.
Returns (book records, trade records, book_ticker rows, counters).
)pbdoc")
        .def_property_readonly("counters",
                               [](const BinanceParser& p) {
                                   return ParserCountersView{p.counters(), p.symbol_errors()};
                               })
        .def_property_readonly("futures", &BinanceParser::futures);

    py::class_<BybitParser>(m, "BybitParser", R"pbdoc(
Bybit v5 public-stream parser: orderbook.N.SYMBOL, publicTrade.SYMBOL, op replies.
Single-threaded: use one parser per thread.
)pbdoc")
        .def(py::init<const SymbolTable&>(), py::arg("symbols"))
        .def(
            "parse", &parse_one<BybitParser>, py::arg("msg"), py::arg("ts_ns"),
            R"pbdoc(Parses one message (bytes-like) -> (ParseResult, book records, trade records).)pbdoc")
        .def(
            "parse_lines",
            [](BybitParser& p, const py::object& data, LineFormat format) {
                const ByteView bytes(data);
                LineBatch out;
                {
                    // Safe: only the held buffer and C++ objects are touched without the GIL.
                    const py::gil_scoped_release nogil;
                    p.parse_lines(bytes.sv(), format, out);
                }
                return batch_result(p, std::move(out));
            },
            py::arg("data"), py::arg("format") = LineFormat::JsonOnly, R"pbdoc(
Parses a buffer of lines with the GIL released; JsonOnly lines take ts_ns from the message's
"ts" (ms). Returns (book records, trade records, book_ticker rows (empty), counters).
)pbdoc")
        .def_property_readonly("counters", [](const BybitParser& p) {
            return ParserCountersView{p.counters(), p.symbol_errors()};
        });

    py::native_enum<TardisKind>(m, "TardisKind", "enum.Enum", "Kind of a Tardis.dev CSV file.")
        .value("book", TardisKind::Book)
        .value("trades", TardisKind::Trades)
        .finalize();
    m.def(
        "parse_tardis_rows",
        [](const py::object& data, TardisKind kind, const SymbolTable& table,
           std::size_t first_line) {
            const ByteView bytes(data);
            TardisBatch out;
            {
                // Safe: only the held buffer and C++ objects are touched without the GIL.
                const py::gil_scoped_release nogil;
                parse_tardis_rows(bytes.sv(), kind, table, first_line, out);
            }
            return py::make_tuple(to_array(std::move(out.book)), to_array(std::move(out.trades)),
                                  out.rows, out.skipped);
        },
        py::arg("data"), py::arg("kind"), py::arg("symbols"), py::arg("first_line") = 1, R"pbdoc(
Parses whole Tardis.dev CSV lines (incremental_book_L2 or trades, no header) with the GIL
released. Returns (book records, trade records, rows, skipped): book records carry update_id 0
and no end-of-message flags (the caller groups them); trade_id is the row index. Rows of
symbols not in `symbols` are skipped. A bad row raises InvalidEvent naming its line (counted
from first_line) and value.
)pbdoc");
}
