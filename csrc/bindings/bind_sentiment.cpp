// confluex._core.sentiment: per-symbol Sentiment and the derivative-stream parsers.
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "confluex/sentiment.hpp"
#include "confluex/sentiment_parser.hpp"
#include "convert.hpp"
#include "view_convert.hpp"

namespace py = pybind11;

namespace {

using confluex::Bar;
using confluex::LiquidatedSide;
using confluex::RiskTier;
using confluex::Sentiment;
using confluex::SentimentConfig;
using confluex::SentimentReading;
using confluex::bindings::BarTimes;
using confluex::bindings::BarValues;
using confluex::bindings::ByteView;
using confluex::bindings::keyed_dict;
using confluex::bindings::make_bar;
using confluex::bindings::to_array;
using namespace confluex::feed;

void set_weights(SentimentConfig& c, const std::map<std::string, double>& w) {
    confluex::bindings::set_weights(c, w);
}

py::dict counters_dict(const SentimentParserCounters& c,
                       const std::vector<std::uint64_t>& per_symbol) {
    py::dict messages;
    for (std::size_t i = 0; i < kSentimentMsgKindCount; ++i) {
        messages[to_string(static_cast<SentimentMsgKind>(i))] = c.messages[i];
    }
    py::dict errors;
    for (std::size_t i = 1; i < kParseErrorCount; ++i) {
        errors[to_string(static_cast<ParseError>(i))] = c.errors[i];
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
    d["liquidations"] = c.liquidations;
    d["symbol_errors"] = symbol_errors;
    return d;
}

template <class Parser>
py::tuple parse_one(Parser& parser, const py::object& msg, std::int64_t ts_ns) {
    const ByteView bytes(msg);
    std::vector<LiquidationEvent> liq;
    const SentimentParseResult r = parser.parse(bytes.sv(), ts_ns, liq);
    return py::make_tuple(r, to_array(std::move(liq)));
}

template <class Parser> void bind_parser(py::module_& m, const char* name, const char* doc) {
    py::class_<Parser>(m, name, doc)
        .def(py::init<const SymbolTable&>(), py::arg("symbols"))
        .def("parse", &parse_one<Parser>, py::arg("msg"), py::arg("ts_ns"),
             R"pbdoc(
Parses one message (bytes-like). Returns (SentimentParseResult, liquidations array of
liquidation_dtype). Never raises for a bad message: the result's error says why, and it is
counted.
)pbdoc")
        .def_property_readonly("counters", [](const Parser& p) {
            return counters_dict(p.counters(), p.symbol_errors());
        });
}

} // namespace

void register_sentiment(py::module_& m) {
    PYBIND11_NUMPY_DTYPE(LiquidationEvent, ts_ns, trade_time_ms, price, qty, symbol_id, side);
    m.attr("liquidation_dtype") = py::dtype::of<LiquidationEvent>();
    m.def(
        "liquidation_layout",
        [] {
            py::dict o;
            o["ts_ns"] = offsetof(LiquidationEvent, ts_ns);
            o["trade_time_ms"] = offsetof(LiquidationEvent, trade_time_ms);
            o["price"] = offsetof(LiquidationEvent, price);
            o["qty"] = offsetof(LiquidationEvent, qty);
            o["symbol_id"] = offsetof(LiquidationEvent, symbol_id);
            o["side"] = offsetof(LiquidationEvent, side);
            return py::make_tuple(sizeof(LiquidationEvent), o);
        },
        R"pbdoc(Returns (sizeof, {field: offsetof}) of LiquidationEvent as the C++ compiler laid it out.)pbdoc");
    py::tuple keys(confluex::kSentimentSubCount);
    for (std::size_t i = 0; i < confluex::kSentimentSubCount; ++i) {
        keys[i] = py::str(confluex::kSentimentKeys[i]);
    }
    m.attr("SUB_SCORE_KEYS") = keys;
    py::dict fields;
    fields["MARK_PRICE"] = mark_fields::kMarkPrice;
    fields["INDEX_PRICE"] = mark_fields::kIndexPrice;
    fields["FUNDING_RATE"] = mark_fields::kFundingRate;
    fields["NEXT_FUNDING_TIME"] = mark_fields::kNextFundingTime;
    fields["OPEN_INTEREST"] = mark_fields::kOpenInterest;
    fields["OPEN_INTEREST_VALUE"] = mark_fields::kOpenInterestValue;
    m.attr("MARK_FIELDS") = fields;

    py::native_enum<LiquidatedSide>(m, "LiquidatedSide", "enum.IntEnum",
                                    "Which positions a liquidation closed.")
        .value("Long", LiquidatedSide::Long)
        .value("Short", LiquidatedSide::Short)
        .finalize();
    py::native_enum<SentimentMsgKind>(m, "SentimentMsgKind", "enum.Enum",
                                      "Kind of a derivative-stream message.")
        .value("MarkPrice", SentimentMsgKind::MarkPrice)
        .value("Ticker", SentimentMsgKind::Ticker)
        .value("Liquidation", SentimentMsgKind::Liquidation)
        .value("Control", SentimentMsgKind::Control)
        .value("Unknown", SentimentMsgKind::Unknown)
        .finalize();

    py::class_<RiskTier>(m, "RiskTier", "One risk-limit tier (Bybit GET /v5/market/risk-limit).")
        .def(
            py::init([](double risk_limit_value, double max_leverage, double initial_margin,
                        double maintenance_margin) {
                return RiskTier{risk_limit_value, max_leverage, initial_margin, maintenance_margin};
            }),
            py::kw_only(), py::arg("risk_limit_value"), py::arg("max_leverage"),
            py::arg("initial_margin"), py::arg("maintenance_margin"))
        .def_readonly("risk_limit_value", &RiskTier::risk_limit_value)
        .def_readonly("max_leverage", &RiskTier::max_leverage)
        .def_readonly("initial_margin", &RiskTier::initial_margin)
        .def_readonly("maintenance_margin", &RiskTier::maintenance_margin);

    const SentimentConfig d{};
    py::class_<SentimentConfig>(m, "SentimentConfig", R"pbdoc(
Parameters of a Sentiment (keyword-only; validated). `weights` maps sub-score keys
(SUB_SCORE_KEYS) to weights; keys not named keep their defaults, an unknown key raises
InvalidConfig.
)pbdoc")
        .def(py::init([](std::int64_t funding_max_age_ns, std::int64_t long_short_max_age_ns,
                         std::int64_t open_interest_max_age_ns,
                         std::int64_t open_interest_window_ns, std::int64_t liquidation_window_ns,
                         std::int64_t liquidation_short_window_ns, std::uint32_t volatility_bars,
                         std::uint32_t activity_fast, std::uint32_t activity_slow,
                         const std::map<std::string, double>& weights) {
                 SentimentConfig c{};
                 c.funding_max_age_ns = funding_max_age_ns;
                 c.long_short_max_age_ns = long_short_max_age_ns;
                 c.open_interest_max_age_ns = open_interest_max_age_ns;
                 c.open_interest_window_ns = open_interest_window_ns;
                 c.liquidation_window_ns = liquidation_window_ns;
                 c.liquidation_short_window_ns = liquidation_short_window_ns;
                 c.volatility_bars = volatility_bars;
                 c.activity_fast = activity_fast;
                 c.activity_slow = activity_slow;
                 set_weights(c, weights);
                 return c;
             }),
             py::kw_only(), py::arg("funding_max_age_ns") = d.funding_max_age_ns,
             py::arg("long_short_max_age_ns") = d.long_short_max_age_ns,
             py::arg("open_interest_max_age_ns") = d.open_interest_max_age_ns,
             py::arg("open_interest_window_ns") = d.open_interest_window_ns,
             py::arg("liquidation_window_ns") = d.liquidation_window_ns,
             py::arg("liquidation_short_window_ns") = d.liquidation_short_window_ns,
             py::arg("volatility_bars") = d.volatility_bars,
             py::arg("activity_fast") = d.activity_fast, py::arg("activity_slow") = d.activity_slow,
             py::arg("weights") = std::map<std::string, double>{})
        .def_readwrite("funding_max_age_ns", &SentimentConfig::funding_max_age_ns)
        .def_readwrite("long_short_max_age_ns", &SentimentConfig::long_short_max_age_ns)
        .def_readwrite("open_interest_max_age_ns", &SentimentConfig::open_interest_max_age_ns)
        .def_readwrite("open_interest_window_ns", &SentimentConfig::open_interest_window_ns)
        .def_readwrite("liquidation_window_ns", &SentimentConfig::liquidation_window_ns)
        .def_readwrite("liquidation_short_window_ns", &SentimentConfig::liquidation_short_window_ns)
        .def_readwrite("volatility_bars", &SentimentConfig::volatility_bars)
        .def_readwrite("activity_fast", &SentimentConfig::activity_fast)
        .def_readwrite("activity_slow", &SentimentConfig::activity_slow)
        .def_property(
            "weights",
            [](const SentimentConfig& c) {
                return keyed_dict(c.weights, confluex::kSentimentKeys);
            },
            &set_weights, "Sub-score weights by key; assigning a dict updates the keys it names.")
        .def("validate", &SentimentConfig::validate,
             R"pbdoc(Raises InvalidConfig naming the first value out of its domain.)pbdoc");

    py::class_<SentimentReading>(m, "SentimentReading",
                                 "A sentiment reading at one time; NaN = not available.")
        .def_readonly("ts_ns", &SentimentReading::ts_ns)
        .def_readonly("score", &SentimentReading::score)
        .def_readonly("reliability", &SentimentReading::reliability)
        .def_property_readonly(
            "sub",
            [](const SentimentReading& r) { return keyed_dict(r.sub, confluex::kSentimentKeys); },
            "Sub-scores by key; NaN = not available.")
        .def_readonly("funding_rate", &SentimentReading::funding_rate)
        .def_readonly("long_fraction", &SentimentReading::long_fraction)
        .def_readonly("liq_long_notional", &SentimentReading::liq_long_notional)
        .def_readonly("liq_short_notional", &SentimentReading::liq_short_notional)
        .def_readonly("liq_long_notional_short", &SentimentReading::liq_long_notional_short)
        .def_readonly("liq_short_notional_short", &SentimentReading::liq_short_notional_short)
        .def_readonly("open_interest", &SentimentReading::open_interest)
        .def_readonly("open_interest_change", &SentimentReading::open_interest_change)
        .def_readonly("volatility_pct", &SentimentReading::volatility_pct)
        .def_readonly("activity_ratio", &SentimentReading::activity_ratio)
        .def_property_readonly("has_data",
                               [](const SentimentReading& r) { return r.has_data != 0; });

    py::class_<MarkUpdate>(m, "MarkUpdate",
                           "A parsed markPrice / tickers update; `fields` says what was sent.")
        .def_readonly("ts_ns", &MarkUpdate::ts_ns)
        .def_readonly("exchange_ts_ms", &MarkUpdate::exchange_ts_ms)
        .def_readonly("next_funding_ms", &MarkUpdate::next_funding_ms)
        .def_readonly("mark_price", &MarkUpdate::mark_price)
        .def_readonly("index_price", &MarkUpdate::index_price)
        .def_readonly("funding_rate", &MarkUpdate::funding_rate)
        .def_readonly("open_interest", &MarkUpdate::open_interest)
        .def_readonly("open_interest_value", &MarkUpdate::open_interest_value)
        .def_readonly("symbol_id", &MarkUpdate::symbol_id)
        .def_readonly("fields", &MarkUpdate::fields)
        .def_property_readonly("snapshot", [](const MarkUpdate& u) { return u.snapshot != 0; });

    py::class_<SentimentParseResult>(m, "SentimentParseResult",
                                     "Outcome of parsing one derivative-stream message.")
        .def_readonly("kind", &SentimentParseResult::kind)
        .def_readonly("error", &SentimentParseResult::error)
        .def_readonly("symbol_id", &SentimentParseResult::symbol_id)
        .def_readonly("n_liquidations", &SentimentParseResult::n_liquidations)
        .def_readonly("exchange_ts_ms", &SentimentParseResult::exchange_ts_ms)
        .def_readonly("mark", &SentimentParseResult::mark)
        .def_property_readonly("ok", &SentimentParseResult::ok);

    bind_parser<BinanceSentimentParser>(
        m, "BinanceSentimentParser",
        "Binance USD-M <sym>@markPrice[@1s] and <sym>@forceOrder messages.");
    bind_parser<BybitSentimentParser>(
        m, "BybitSentimentParser",
        "Bybit v5 tickers.<SYMBOL> and allLiquidation.<SYMBOL> messages.");

    py::class_<Sentiment>(m, "Sentiment", R"pbdoc(
Sentiment of ONE symbol: funding, long/short ratio, liquidations, open interest, risk tiers
and its own bars. Missing inputs are left out of the score and lower `reliability`.
Single-threaded.
)pbdoc")
        .def(py::init<const SentimentConfig&>(), py::arg("config") = SentimentConfig{})
        .def("on_funding", &Sentiment::on_funding, py::arg("ts_ns"), py::arg("rate"))
        .def("on_long_short", &Sentiment::on_long_short, py::arg("ts_ns"), py::arg("long_share"),
             py::arg("short_share"))
        .def("on_liquidation", &Sentiment::on_liquidation, py::arg("ts_ns"), py::arg("side"),
             py::arg("notional"))
        .def("set_liquidation_source", &Sentiment::set_liquidation_source, py::arg("ts_ns"),
             "Declares the liquidation stream live from ts_ns: an empty window then reads 50, not "
             "'no data'.")
        .def("on_open_interest", &Sentiment::on_open_interest, py::arg("ts_ns"), py::arg("value"))
        .def(
            "set_risk_tiers",
            [](Sentiment& s, const std::vector<RiskTier>& tiers) { s.set_risk_tiers(tiers); },
            py::arg("tiers"))
        .def("on_mark", &Sentiment::on_mark, py::arg("update"),
             "Applies a parsed MarkUpdate (funding rate and open interest when present).")
        .def(
            "on_liquidations",
            [](Sentiment& s, const py::array_t<LiquidationEvent, py::array::c_style>& events) {
                const LiquidationEvent* e = events.data();
                for (py::ssize_t i = 0; i < events.size(); ++i) {
                    s.on_liquidation_event(e[i]);
                }
            },
            py::arg("events"),
            "Applies parsed liquidations (liquidation_dtype array): notional = price * qty.")
        .def(
            "on_bar",
            [](Sentiment& s, std::int64_t open_ns, double o, double h, double l, double c,
               double v) {
                const double x[5] = {o, h, l, c, v};
                s.on_bar(make_bar(open_ns, x));
            },
            py::arg("open_ns"), py::arg("open"), py::arg("high"), py::arg("low"), py::arg("close"),
            py::arg("volume"))
        .def(
            "on_bars",
            [](Sentiment& s, const BarTimes& open_ns, const BarValues& ohlcv) {
                confluex::bindings::for_each_bar(open_ns, ohlcv,
                                                 [&](const Bar& b) { s.on_bar(b); });
            },
            py::arg("open_ns"), py::arg("ohlcv"),
            "Closes n bars (open_ns int64 (n,), ohlcv float64 (n, 5)); on a bad bar raises, "
            "earlier ones stay applied.")
        .def("reading", &Sentiment::reading, py::arg("now_ns"))
        .def(
            "component",
            [](const Sentiment& s, std::int64_t now_ns) { return s.component(now_ns); },
            py::arg("now_ns"),
            R"pbdoc(Returns reading(now_ns) as {score, has_data, sub, weights} (available sub-scores only).)pbdoc")
        .def_property_readonly("config", &Sentiment::config);
}
