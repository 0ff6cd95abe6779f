// Order-book signal kernels, OfiWindow, OrderbookSignalsConfig and the orderbook component.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "confluex/book_signals.hpp"
#include "confluex/errors.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::BookView;
using confluex::Level;
using confluex::bindings::LevelArray;
using confluex::signals::OfiWindow;
using confluex::signals::OrderbookSignalsConfig;
using Quote = std::optional<std::pair<std::int64_t, std::int64_t>>;

// The shared (n, 2) level converter, then the kernels' own rule: no negative size.
const Level* levels_of(const LevelArray& a, const char* name, std::size_t& n) {
    const std::span<const Level> lv = confluex::bindings::as_levels(a, name);
    n = lv.size();
    for (std::size_t i = 0; i < n; ++i) {
        if (lv[i].qty < 0) {
            throw confluex::InvalidEvent(std::string(name) + " qty must be >= 0, was " +
                                         std::to_string(lv[i].qty) + " at row " +
                                         std::to_string(i));
        }
    }
    return lv.data();
}

BookView view_of(const LevelArray& bids, const LevelArray& asks) {
    BookView v;
    v.bids = levels_of(bids, "bids", v.n_bids);
    v.asks = levels_of(asks, "asks", v.n_asks);
    return v;
}

std::optional<Level> level_of(const Quote& q, const char* name) {
    if (!q) {
        return std::nullopt;
    }
    if (q->second < 0) {
        throw confluex::InvalidEvent(std::string(name) + " qty must be >= 0, was " +
                                     std::to_string(q->second));
    }
    return Level{q->first, q->second};
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

void require_positive(const char* name, double v) {
    if (!std::isfinite(v) || !(v > 0.0)) {
        throw confluex::InvalidConfig(std::string(name) + " must be finite and > 0, was " + fmt(v));
    }
}

void require_decay(double decay) {
    if (!std::isfinite(decay) || !(decay >= 0.0)) {
        throw confluex::InvalidConfig("decay must be finite and >= 0, was " + fmt(decay));
    }
}

// Adds a read/write property whose setter validates a copy first (strong guarantee).
template <class T>
void config_field(py::class_<OrderbookSignalsConfig>& cls, const char* name,
                  T OrderbookSignalsConfig::*member) {
    cls.def_property(
        name, [member](const OrderbookSignalsConfig& c) { return c.*member; },
        [member](OrderbookSignalsConfig& c, T v) {
            OrderbookSignalsConfig next = c;
            next.*member = v;
            next.validate();
            c = next;
        });
}

} // namespace

void register_signals(py::module_& m) {
    namespace sig = confluex::signals;

    m.def(
        "imbalance",
        [](const LevelArray& bids, const LevelArray& asks, std::size_t n) {
            return sig::imbalance(view_of(bids, asks), n);
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("n"),
        R"pbdoc(
Order imbalance (Σb - Σa)/(Σb + Σa) over the best n levels of each side, in [-1, 1]; 0 when
both sides are empty. bids/asks: C-contiguous int64 arrays of shape (k, 2) = (px ticks, qty
lots), best first. Raises InvalidEvent on a wrong shape or a negative qty.
)pbdoc");
    m.def(
        "depth_weighted_imbalance",
        [](const LevelArray& bids, const LevelArray& asks, std::size_t n, double decay) {
            require_decay(decay);
            return sig::depth_weighted_imbalance(view_of(bids, asks), n, decay);
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("n"), py::arg("decay"),
        R"pbdoc(
Σ w_i (b_i - a_i) / Σ w_i (b_i + a_i) over the best n levels, w_i = exp(-decay * i), in [-1, 1].
Raises InvalidConfig unless decay is finite and >= 0.
)pbdoc");
    m.def(
        "microprice",
        [](const LevelArray& bids, const LevelArray& asks) {
            return sig::microprice(view_of(bids, asks));
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(),
        R"pbdoc(Microprice (Pb*qa + Pa*qb)/(qa + qb) in ticks; None if a side is empty.)pbdoc");
    m.def(
        "microprice_offset",
        [](const LevelArray& bids, const LevelArray& asks) {
            return sig::microprice_offset(view_of(bids, asks));
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(),
        R"pbdoc(
(microprice - mid)/(spread/2) in [-1, 1], computed as the identical (qb - qa)/(qb + qa); None if
a side is empty.
)pbdoc");
    m.def(
        "mid",
        [](const LevelArray& bids, const LevelArray& asks) {
            return sig::mid(view_of(bids, asks));
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(),
        R"pbdoc(Mid price (Pb + Pa)/2 in ticks; None if a side is empty.)pbdoc");
    m.def(
        "spread_ticks",
        [](const LevelArray& bids, const LevelArray& asks) {
            return sig::spread_ticks(view_of(bids, asks));
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(),
        R"pbdoc(Spread Pa - Pb in ticks; None if a side is empty.)pbdoc");
    m.def(
        "spread_bps",
        [](const LevelArray& bids, const LevelArray& asks) {
            return sig::spread_bps(view_of(bids, asks));
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(),
        R"pbdoc(
Spread in basis points of mid; None if a side is empty or mid <= 0. Non-directional.
)pbdoc");
    m.def(
        "depth_ratio",
        [](const LevelArray& bids, const LevelArray& asks, double band_pct) {
            require_positive("band_pct", band_pct);
            return sig::depth_ratio(view_of(bids, asks), band_pct);
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("band_pct"),
        R"pbdoc(
(Db - Da)/(Db + Da) of the size within ±band_pct percent of mid, over the given levels; None if
a side is empty or no size lies in the band. Raises InvalidConfig unless band_pct > 0.
)pbdoc");
    m.def(
        "logistic_score",
        [](double x, double sensitivity) {
            require_positive("sensitivity", sensitivity);
            return sig::logistic_score(x, sensitivity);
        },
        py::arg("x"), py::arg("sensitivity"),
        R"pbdoc(
100 / (1 + exp(-x / sensitivity)): 0 -> 50, antisymmetric (f(-x) == 100 - f(x) exactly).
Raises InvalidConfig unless sensitivity is finite and > 0.
)pbdoc");

    py::class_<OfiWindow>(m, "OfiWindow", R"pbdoc(
Order-flow imbalance (Cont, Kukanov & Stoikov 2014) of the best quotes, summed over a sliding
event-time window. Feed on_quote() once per applied book message. Single-writer.
)pbdoc")
        .def(py::init<std::int64_t, std::size_t>(), py::arg("window_ns") = 5'000'000'000LL,
             py::arg("capacity") = 4096,
             R"pbdoc(Raises InvalidConfig unless window_ns > 0 and 1 <= capacity <= 2**24.)pbdoc")
        .def(
            "on_quote",
            [](OfiWindow& w, std::int64_t ts_ns, const Quote& best_bid, const Quote& best_ask) {
                w.on_quote(ts_ns, level_of(best_bid, "best_bid"), level_of(best_ask, "best_ask"));
            },
            py::arg("ts_ns"), py::arg("best_bid"), py::arg("best_ask"),
            R"pbdoc(
Records one book message with its best bid and ask as (px ticks, qty lots) or None for an empty
side. Raises InvalidEvent on a negative qty.
)pbdoc")
        .def("advance", &OfiWindow::advance, py::arg("now_ns"),
             R"pbdoc(Moves time forward to now_ns and evicts expired events.)pbdoc")
        .def("value", &OfiWindow::value, R"pbdoc(Σ e_n over the window, in lots.)pbdoc")
        .def("normalized", &OfiWindow::normalized, R"pbdoc(
value() / mean best-level depth over the window (1.0 = one average best queue of net flow); 0
when the window is empty.
)pbdoc")
        .def("tstat", &OfiWindow::tstat, R"pbdoc(
value() / sqrt(Σ e_n^2) over the window: net flow in units of the window's own event-size
scale (does not saturate); 0 when the window is empty or every e_n is 0.
)pbdoc")
        .def("coverage", &OfiWindow::coverage, R"pbdoc(
min(1, (now - first event) / window_ns): the share of the window the stream has covered.
)pbdoc")
        .def("events", &OfiWindow::events,
             R"pbdoc(on_quote() calls since construction or reset().)pbdoc")
        .def("size", &OfiWindow::size, R"pbdoc(Events currently inside the window.)pbdoc")
        .def("evicted_early", &OfiWindow::evicted_early,
             R"pbdoc(Events evicted before expiry because the ring was full.)pbdoc")
        .def("reset", &OfiWindow::reset,
             R"pbdoc(Empties the window and forgets the previous quotes.)pbdoc")
        .def_property_readonly("window_ns", &OfiWindow::window_ns)
        .def_property_readonly("capacity", &OfiWindow::capacity)
        .def_property_readonly("now_ns", &OfiWindow::now_ns);

    py::class_<OrderbookSignalsConfig> cfg(m, "OrderbookSignalsConfig", R"pbdoc(
Parameters of the orderbook component: logistic sensitivities, depth-weighted-imbalance levels
and decay, the depth-ratio band (± % of mid) and the seven sub-score weights. Every assignment
is validated (InvalidConfig naming the value) and leaves the config unchanged when it fails.
)pbdoc");
    const OrderbookSignalsConfig d{};
    cfg.def(
        py::init([](double imbalance_sensitivity, std::size_t dwi_levels, double dwi_decay,
                    double depth_band_pct, double ofi_sensitivity, double weight_oir_5,
                    double weight_oir_10, double weight_oir_25, double weight_dwi,
                    double weight_microprice, double weight_ofi, double weight_depth_ratio,
                    double weight_absorption_exhaustion, double weight_liquidity, bool ofi_tstat,
                    bool warmup) {
            OrderbookSignalsConfig c{imbalance_sensitivity,
                                     dwi_levels,
                                     dwi_decay,
                                     depth_band_pct,
                                     ofi_sensitivity,
                                     weight_oir_5,
                                     weight_oir_10,
                                     weight_oir_25,
                                     weight_dwi,
                                     weight_microprice,
                                     weight_ofi,
                                     weight_depth_ratio,
                                     weight_absorption_exhaustion,
                                     weight_liquidity,
                                     ofi_tstat,
                                     warmup};
            c.validate();
            return c;
        }),
        py::kw_only(), py::arg("imbalance_sensitivity") = d.imbalance_sensitivity,
        py::arg("dwi_levels") = d.dwi_levels, py::arg("dwi_decay") = d.dwi_decay,
        py::arg("depth_band_pct") = d.depth_band_pct,
        py::arg("ofi_sensitivity") = d.ofi_sensitivity, py::arg("weight_oir_5") = d.weight_oir_5,
        py::arg("weight_oir_10") = d.weight_oir_10, py::arg("weight_oir_25") = d.weight_oir_25,
        py::arg("weight_dwi") = d.weight_dwi, py::arg("weight_microprice") = d.weight_microprice,
        py::arg("weight_ofi") = d.weight_ofi, py::arg("weight_depth_ratio") = d.weight_depth_ratio,
        py::arg("weight_absorption_exhaustion") = d.weight_absorption_exhaustion,
        py::arg("weight_liquidity") = d.weight_liquidity, py::arg("ofi_tstat") = d.ofi_tstat,
        py::arg("warmup") = d.warmup);
    config_field(cfg, "imbalance_sensitivity", &OrderbookSignalsConfig::imbalance_sensitivity);
    config_field(cfg, "dwi_levels", &OrderbookSignalsConfig::dwi_levels);
    config_field(cfg, "dwi_decay", &OrderbookSignalsConfig::dwi_decay);
    config_field(cfg, "depth_band_pct", &OrderbookSignalsConfig::depth_band_pct);
    config_field(cfg, "ofi_sensitivity", &OrderbookSignalsConfig::ofi_sensitivity);
    config_field(cfg, "weight_oir_5", &OrderbookSignalsConfig::weight_oir_5);
    config_field(cfg, "weight_oir_10", &OrderbookSignalsConfig::weight_oir_10);
    config_field(cfg, "weight_oir_25", &OrderbookSignalsConfig::weight_oir_25);
    config_field(cfg, "weight_dwi", &OrderbookSignalsConfig::weight_dwi);
    config_field(cfg, "weight_microprice", &OrderbookSignalsConfig::weight_microprice);
    config_field(cfg, "weight_ofi", &OrderbookSignalsConfig::weight_ofi);
    config_field(cfg, "weight_depth_ratio", &OrderbookSignalsConfig::weight_depth_ratio);
    config_field(cfg, "weight_absorption_exhaustion",
                 &OrderbookSignalsConfig::weight_absorption_exhaustion);
    config_field(cfg, "weight_liquidity", &OrderbookSignalsConfig::weight_liquidity);
    config_field(cfg, "ofi_tstat", &OrderbookSignalsConfig::ofi_tstat);
    config_field(cfg, "warmup", &OrderbookSignalsConfig::warmup);
    cfg.def_property_readonly(
        "weights",
        [](const OrderbookSignalsConfig& c) {
            py::dict out;
            const auto w = c.weights();
            for (std::size_t i = 0; i < sig::kBookSubCount; ++i) {
                out[sig::kBookSubNames[i]] = w[i];
            }
            return out;
        },
        R"pbdoc(Sub-score weights by sub-score name (as configured, not normalised).)pbdoc");

    py::tuple names(sig::kBookSubCount);
    for (std::size_t i = 0; i < sig::kBookSubCount; ++i) {
        names[i] = sig::kBookSubNames[i];
    }
    m.attr("BOOK_SUB_NAMES") = names;

    m.def(
        "compute_orderbook_component",
        [](const LevelArray& bids, const LevelArray& asks, std::optional<double> depth_ratio_raw,
           const OfiWindow& ofi, const OrderbookSignalsConfig& c,
           std::optional<double> absorption_raw, std::optional<double> liquidity_raw) {
            confluex::ComponentScore out;
            sig::compute_orderbook_component(
                view_of(bids, asks), depth_ratio_raw.value_or(std::nan("")), ofi, c, out,
                absorption_raw.value_or(std::nan("")), liquidity_raw.value_or(std::nan("")));
            return out;
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("depth_ratio_raw"),
        py::arg("ofi"), py::arg("cfg"), py::kw_only(), py::arg("absorption_raw") = py::none(),
        py::arg("liquidity_raw") = py::none(),
        R"pbdoc(
The orderbook component (ComponentScore: score, has_data, sub-scores and their weights).
depth_ratio_raw is (Db - Da)/(Db + Da) within the band, or None / NaN when unavailable (its
sub-score then gets weight 0); the ofi sub-score gets weight 0 while the window is empty.
absorption_raw (absorption_exhaustion()) and liquidity_raw (liquidity_balance()) likewise: None
or NaN gives their sub-scores weight 0.
)pbdoc");

    m.def(
        "absorption_exhaustion",
        [](const LevelArray& bids, const LevelArray& asks, std::size_t n) {
            return sig::absorption_exhaustion(view_of(bids, asks), n);
        },
        py::arg("bids").noconvert(), py::arg("asks").noconvert(), py::arg("n") = 25,
        R"pbdoc(
(A_b - A_a)/(A_b + A_a) over the best n levels per side, A = 0.7 top-3 concentration + 0.3
replenishment 1/(1 + gap/mean gap); None when a side has < 3 levels or no size.
)pbdoc");
    m.def(
        "liquidity_balance",
        [](const std::array<double, 5>& bid_depth, const std::array<double, 5>& ask_depth) {
            for (std::size_t k = 0; k < 5; ++k) {
                if (!std::isfinite(bid_depth[k]) || bid_depth[k] < 0.0 ||
                    !std::isfinite(ask_depth[k]) || ask_depth[k] < 0.0) {
                    throw confluex::InvalidEvent("band depths must be finite and >= 0, was " +
                                                 fmt(bid_depth[k]) + " / " + fmt(ask_depth[k]) +
                                                 " at band " + std::to_string(k));
                }
            }
            return sig::liquidity_balance(bid_depth, ask_depth);
        },
        py::arg("bid_depth"), py::arg("ask_depth"),
        R"pbdoc(
Weighted mean over the depth bands (LIQUIDITY_BANDS_PCT, weights LIQUIDITY_BAND_WEIGHTS) with
size of (Db - Da)/(Db + Da); NaN when no band holds size. Band depths are cumulative sizes
within +-pct % of mid.
)pbdoc");
    m.attr("LIQUIDITY_BANDS_PCT") = py::make_tuple(
        sig::kLiquidityBandsPct[0], sig::kLiquidityBandsPct[1], sig::kLiquidityBandsPct[2],
        sig::kLiquidityBandsPct[3], sig::kLiquidityBandsPct[4]);
    m.attr("LIQUIDITY_BAND_WEIGHTS") = py::make_tuple(
        sig::kLiquidityBandWeights[0], sig::kLiquidityBandWeights[1], sig::kLiquidityBandWeights[2],
        sig::kLiquidityBandWeights[3], sig::kLiquidityBandWeights[4]);
}
