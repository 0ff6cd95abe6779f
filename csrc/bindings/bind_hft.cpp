// The HFT integration kernels (hft_*.hpp): normaliser, combiners, multi-timeframe, composite,
// portfolio, streaming policy and the engine-to-inputs builder.
#include <pybind11/native_enum.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/errors.hpp"
#include "confluex/hft_combiner.hpp"
#include "confluex/hft_engine_inputs.hpp"
#include "confluex/hft_normalizer.hpp"
#include "confluex/hft_portfolio.hpp"
#include "confluex/hft_scoring.hpp"
#include "confluex/hft_streaming.hpp"

namespace py = pybind11;
namespace h = confluex::hft;

namespace {

using F64 = py::array_t<double, py::array::c_style>;
using I64 = py::array_t<std::int64_t, py::array::c_style>;

// A 1-D float64 array's size, or ValueError naming the argument and its shape.
std::size_t len1(const F64& a, const char* name) {
    if (a.ndim() != 1) {
        throw py::value_error(std::string(name) + " must be a 1-D float64 array, was " +
                              std::to_string(a.ndim()) + "-D");
    }
    return static_cast<std::size_t>(a.shape(0));
}

// A 2-D float64 array's (rows, cols), or ValueError.
std::pair<std::size_t, std::size_t> shape2(const F64& a, const char* name) {
    if (a.ndim() != 2) {
        throw py::value_error(std::string(name) + " must be a 2-D float64 array, was " +
                              std::to_string(a.ndim()) + "-D");
    }
    return {static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))};
}

void check_inputs_count(std::size_t n, const char* what) {
    if (n > h::kMaxCombinerInputs) {
        throw confluex::InvalidEvent(std::string(what) + ": at most 16 inputs, was " +
                                     std::to_string(n));
    }
}

py::tuple tf_tuple(const std::array<h::TimeframeScore, h::kTimeframeCount>& a) {
    py::tuple t(h::kTimeframeCount);
    for (std::size_t k = 0; k < h::kTimeframeCount; ++k) {
        t[k] = a[k];
    }
    return t;
}

std::array<h::TimeframeScore, h::kTimeframeCount>
tf_array(const std::vector<h::TimeframeScore>& v) {
    if (v.size() != h::kTimeframeCount) {
        throw confluex::InvalidEvent(
            "timeframes: exactly 4 scores (1s, 5s, 30s, 5m) expected, was " +
            std::to_string(v.size()));
    }
    std::array<h::TimeframeScore, h::kTimeframeCount> a{};
    for (std::size_t k = 0; k < h::kTimeframeCount; ++k) {
        a[k] = v[k];
    }
    return a;
}

void register_normalizer(py::module_& m) {
    py::class_<h::NormalizerConfig>(m, "NormalizerConfig", "ScoreNormalizer parameters.")
        .def(py::init<>())
        .def_readwrite("window", &h::NormalizerConfig::window)
        .def_readwrite("min_samples", &h::NormalizerConfig::min_samples)
        .def_readwrite("percentile_window", &h::NormalizerConfig::percentile_window)
        .def_readwrite("volatility_window", &h::NormalizerConfig::volatility_window)
        .def_readwrite("sigma_epsilon", &h::NormalizerConfig::sigma_epsilon)
        .def_readwrite("low_volatility", &h::NormalizerConfig::low_volatility)
        .def_readwrite("high_volatility", &h::NormalizerConfig::high_volatility)
        .def_readwrite("low_vol_sensitivity", &h::NormalizerConfig::low_vol_sensitivity)
        .def_readwrite("high_vol_sensitivity", &h::NormalizerConfig::high_vol_sensitivity)
        .def("validate", &h::NormalizerConfig::validate);

    py::class_<h::ScoreNormalizer>(m, "ScoreNormalizer", R"pbdoc(
Per-symbol score normaliser (z-score, percentile, adaptive). update() and the normalize_*()
reads are separate: a read has no side effect.)pbdoc")
        .def(py::init<h::NormalizerConfig>(), py::arg("config") = h::NormalizerConfig{})
        .def("update", &h::ScoreNormalizer::update, py::arg("score"))
        .def("update_bar_close", &h::ScoreNormalizer::update_bar_close, py::arg("close"))
        .def("normalize_zscore", &h::ScoreNormalizer::normalize_zscore, py::arg("score"))
        .def("normalize_percentile", &h::ScoreNormalizer::normalize_percentile, py::arg("score"))
        .def(
            "normalize_adaptive",
            [](const h::ScoreNormalizer& n, double s, std::optional<double> vol) {
                return vol ? n.normalize_adaptive(s, *vol) : n.normalize_adaptive(s);
            },
            py::arg("score"), py::arg("volatility") = py::none())
        .def("sensitivity", &h::ScoreNormalizer::sensitivity, py::arg("volatility"))
        .def("percentile", &h::ScoreNormalizer::percentile, py::arg("score"))
        .def(
            "update_many",
            [](h::ScoreNormalizer& n, const F64& scores, const std::string& method) {
                const std::size_t len = len1(scores, "scores");
                const double* p = scores.data();
                for (std::size_t i = 0; i < len; ++i) {
                    if (!std::isfinite(p[i])) {
                        throw confluex::InvalidEvent("ScoreNormalizer.update_many: scores[" +
                                                     std::to_string(i) + "] must be finite, was " +
                                                     std::to_string(p[i]));
                    }
                }
                if (method != "zscore" && method != "percentile" && method != "adaptive") {
                    throw py::value_error(
                        "method must be 'zscore', 'percentile' or 'adaptive', was '" + method +
                        "'");
                }
                F64 out(static_cast<py::ssize_t>(len));
                double* o = out.mutable_data();
                {
                    // Raw pointers only inside: no Python object is touched without the GIL.
                    const py::gil_scoped_release nogil;
                    for (std::size_t i = 0; i < len; ++i) {
                        n.update_unchecked(p[i]);
                        o[i] = method[0] == 'z'   ? n.normalize_zscore(p[i])
                               : method[0] == 'p' ? n.normalize_percentile(p[i])
                                                  : n.normalize_adaptive(p[i]);
                    }
                }
                return out;
            },
            py::arg("scores"), py::arg("method") = "zscore",
            R"pbdoc(For each score in order: update(s), then normalize_<method>(s). Returns the
normalised values (GIL released; the whole array is validated first).)pbdoc")
        .def_property_readonly("count", &h::ScoreNormalizer::count)
        .def_property_readonly("percentile_count", &h::ScoreNormalizer::percentile_count)
        .def_property_readonly("mean", &h::ScoreNormalizer::mean)
        .def_property_readonly("stddev", &h::ScoreNormalizer::stddev)
        .def_property_readonly("volatility", &h::ScoreNormalizer::volatility)
        .def_property_readonly("config", &h::ScoreNormalizer::config)
        .def("clear", &h::ScoreNormalizer::clear);
}

void register_combiner(py::module_& m) {
    m.def(
        "combine_linear",
        [](const std::vector<double>& s, const std::vector<double>& w) {
            if (s.size() != w.size()) {
                throw confluex::InvalidEvent(
                    "combine_linear: scores and weights differ in length, was " +
                    std::to_string(s.size()) + " and " + std::to_string(w.size()));
            }
            return h::combine_linear(s.data(), w.data(), s.size());
        },
        py::arg("scores"), py::arg("weights"));
    m.def(
        "combine_linear_many",
        [](const F64& scores, const F64& weights) {
            const auto [rows, cols] = shape2(scores, "scores");
            if (len1(weights, "weights") != cols) {
                throw py::value_error("weights must have one value per column of scores");
            }
            F64 out(static_cast<py::ssize_t>(rows));
            const double* s = scores.data();
            const double* w = weights.data();
            double* o = out.mutable_data();
            {
                const py::gil_scoped_release nogil; // raw pointers only
                for (std::size_t r = 0; r < rows; ++r) {
                    o[r] = h::combine_linear(s + r * cols, w, cols);
                }
            }
            return out;
        },
        py::arg("scores"), py::arg("weights"));

    py::class_<h::EnsembleResult>(m, "EnsembleResult")
        .def_readonly("composite", &h::EnsembleResult::composite)
        .def_readonly("confidence", &h::EnsembleResult::confidence)
        .def_property_readonly("weights", [](const h::EnsembleResult& r) {
            return std::vector<double>(r.weights.begin(),
                                       r.weights.begin() + static_cast<std::ptrdiff_t>(r.n));
        });
    m.def(
        "combine_ensemble",
        [](const std::vector<double>& s, const std::vector<double>& c) {
            if (s.size() != c.size()) {
                throw confluex::InvalidEvent(
                    "combine_ensemble: scores and confidences differ in length, was " +
                    std::to_string(s.size()) + " and " + std::to_string(c.size()));
            }
            check_inputs_count(s.size(), "combine_ensemble");
            for (std::size_t i = 0; i < c.size(); ++i) {
                if (!(c[i] >= 0) || !std::isfinite(c[i])) {
                    throw confluex::InvalidEvent(
                        "combine_ensemble: confidences[" + std::to_string(i) +
                        "] must be finite and >= 0, was " + std::to_string(c[i]));
                }
            }
            return h::combine_ensemble(s.data(), c.data(), s.size());
        },
        py::arg("scores"), py::arg("confidences"));
    m.def(
        "combine_rank",
        [](const std::vector<double>& s) {
            check_inputs_count(s.size(), "combine_rank");
            return h::combine_rank(s.data(), s.size());
        },
        py::arg("scores"));

    py::class_<h::OnlineICConfig>(m, "OnlineICConfig", "OnlineICCombiner parameters.")
        .def(py::init<>())
        .def_readwrite("n_inputs", &h::OnlineICConfig::n_inputs)
        .def_readwrite("horizon_ns", &h::OnlineICConfig::horizon_ns)
        .def_readwrite("rank_window", &h::OnlineICConfig::rank_window)
        .def_readwrite("halflife", &h::OnlineICConfig::halflife)
        .def_readwrite("floor", &h::OnlineICConfig::floor)
        .def_readwrite("temperature", &h::OnlineICConfig::temperature)
        .def_readwrite("min_realised", &h::OnlineICConfig::min_realised)
        .def_readwrite("max_pending", &h::OnlineICConfig::max_pending)
        .def("validate", &h::OnlineICConfig::validate);

    py::class_<h::OnlineICCombiner>(m, "OnlineICCombiner", R"pbdoc(
Combines inputs with weights that follow each input's recent rank IC against realised forward
returns, learned causally (only from observations whose return is already known).)pbdoc")
        .def(py::init<h::OnlineICConfig>(), py::arg("config") = h::OnlineICConfig{})
        .def(
            "observe",
            [](h::OnlineICCombiner& c, std::int64_t ts, const std::vector<double>& s, double mid) {
                if (s.size() != c.config().n_inputs) {
                    throw confluex::InvalidEvent("OnlineICCombiner.observe: expected " +
                                                 std::to_string(c.config().n_inputs) +
                                                 " scores, was " + std::to_string(s.size()));
                }
                c.observe(ts, s.data(), mid);
            },
            py::arg("ts_ns"), py::arg("scores"), py::arg("mid"))
        .def(
            "combine",
            [](const h::OnlineICCombiner& c, const std::vector<double>& s) {
                if (s.size() != c.config().n_inputs) {
                    throw confluex::InvalidEvent("OnlineICCombiner.combine: expected " +
                                                 std::to_string(c.config().n_inputs) +
                                                 " scores, was " + std::to_string(s.size()));
                }
                return c.combine(s.data());
            },
            py::arg("scores"))
        .def(
            "run",
            [](h::OnlineICCombiner& c, const I64& ts, const F64& scores, const F64& mids) {
                const auto [rows, cols] = shape2(scores, "scores");
                if (cols != c.config().n_inputs || ts.ndim() != 1 ||
                    static_cast<std::size_t>(ts.shape(0)) != rows || len1(mids, "mids") != rows) {
                    throw py::value_error(
                        "run: ts (n,), scores (n, n_inputs) and mids (n,) must agree in shape");
                }
                F64 out(static_cast<py::ssize_t>(rows));
                const std::int64_t* t = ts.data();
                const double* s = scores.data();
                const double* mp = mids.data();
                double* o = out.mutable_data();
                {
                    const py::gil_scoped_release nogil; // raw pointers only
                    for (std::size_t r = 0; r < rows; ++r) {
                        o[r] = c.combine(s + r * cols); // weights from the past only
                        c.observe(t[r], s + r * cols, mp[r]);
                    }
                }
                return out;
            },
            py::arg("ts_ns"), py::arg("scores"), py::arg("mids"),
            R"pbdoc(For each row in order: out[r] = combine(scores[r]) with the weights learned so
far, then observe(ts[r], scores[r], mids[r]). A bad row raises InvalidEvent; rows before it
were observed.)pbdoc")
        .def_property_readonly("weights",
                               [](const h::OnlineICCombiner& c) {
                                   std::vector<double> w(c.config().n_inputs);
                                   for (std::size_t i = 0; i < w.size(); ++i) {
                                       w[i] = c.weight(i);
                                   }
                                   return w;
                               })
        .def_property_readonly("ics",
                               [](const h::OnlineICCombiner& c) {
                                   std::vector<double> w(c.config().n_inputs);
                                   for (std::size_t i = 0; i < w.size(); ++i) {
                                       w[i] = c.ic(i);
                                   }
                                   return w;
                               })
        .def_property_readonly("realised", &h::OnlineICCombiner::realised)
        .def_property_readonly("pending", &h::OnlineICCombiner::pending)
        .def_property_readonly("dropped", &h::OnlineICCombiner::dropped)
        .def_property_readonly("config", &h::OnlineICCombiner::config);
}

void register_scoring(py::module_& m) {
    py::class_<h::ConfluenceInputs>(m, "ConfluenceInputs",
                                    "Engine signals the confluence component is extracted from.")
        .def(py::init<>())
        .def_readwrite("score", &h::ConfluenceInputs::score)
        .def_readwrite("reliability", &h::ConfluenceInputs::reliability)
        .def_readwrite("confidence", &h::ConfluenceInputs::confidence)
        .def_readwrite("flow_short", &h::ConfluenceInputs::flow_short)
        .def_readwrite("flow_medium", &h::ConfluenceInputs::flow_medium)
        .def_readwrite("flow_long", &h::ConfluenceInputs::flow_long)
        .def_readwrite("cvd", &h::ConfluenceInputs::cvd)
        .def_readwrite("ofi", &h::ConfluenceInputs::ofi)
        .def_readwrite("microprice", &h::ConfluenceInputs::microprice)
        .def_readwrite("technical", &h::ConfluenceInputs::technical)
        .def_readwrite("rsi", &h::ConfluenceInputs::rsi)
        .def_readwrite("range_position", &h::ConfluenceInputs::range_position);

    py::class_<h::ConfluenceComponent>(m, "ConfluenceComponent")
        .def(py::init<>())
        .def_readwrite("directional_bias", &h::ConfluenceComponent::directional_bias)
        .def_readwrite("signal_strength", &h::ConfluenceComponent::signal_strength)
        .def_readwrite("reliability", &h::ConfluenceComponent::reliability)
        .def_readwrite("confidence", &h::ConfluenceComponent::confidence)
        .def_readwrite("momentum", &h::ConfluenceComponent::momentum)
        .def_readwrite("mean_reversion", &h::ConfluenceComponent::mean_reversion);
    m.def("extract_confluence_component", &h::extract_confluence_component, py::arg("inputs"));

    py::class_<h::TimeframeScore>(m, "TimeframeScore")
        .def(py::init([](double d, double c) {
                 h::TimeframeScore s;
                 s.directional = d;
                 s.strength = std::fabs(d);
                 s.confidence = c;
                 return s;
             }),
             py::arg("directional") = 0.0, py::arg("confidence") = 0.0)
        .def_readwrite("directional", &h::TimeframeScore::directional)
        .def_readwrite("strength", &h::TimeframeScore::strength)
        .def_readwrite("confidence", &h::TimeframeScore::confidence);

    py::class_<h::MultiTimeframeResult>(m, "MultiTimeframeResult")
        .def_property_readonly(
            "individual", [](const h::MultiTimeframeResult& r) { return tf_tuple(r.individual); })
        .def_readonly("composite_directional", &h::MultiTimeframeResult::composite_directional)
        .def_readonly("composite_strength", &h::MultiTimeframeResult::composite_strength)
        .def_readonly("timeframe_alignment", &h::MultiTimeframeResult::timeframe_alignment)
        .def_readonly("weight_confidence", &h::MultiTimeframeResult::weight_confidence);

    py::class_<h::MultiTimeframeConfig>(m, "MultiTimeframeConfig")
        .def(py::init<>())
        .def_readwrite("weights", &h::MultiTimeframeConfig::weights)
        .def_readwrite("flow_sensitivity", &h::MultiTimeframeConfig::flow_sensitivity)
        .def_readwrite("min_trades", &h::MultiTimeframeConfig::min_trades)
        .def_readwrite("book_share_1s", &h::MultiTimeframeConfig::book_share_1s)
        .def("validate", &h::MultiTimeframeConfig::validate);

    m.def(
        "combine_timeframes",
        [](const std::vector<h::TimeframeScore>& tf, const std::array<double, 4>& w) {
            for (const auto& s : tf) {
                if (!(s.directional >= -1 && s.directional <= 1) ||
                    !(s.confidence >= 0 && s.confidence <= 1)) {
                    throw confluex::InvalidEvent(
                        "combine_timeframes: directional must be in [-1, 1] and confidence in "
                        "[0, 1], was " +
                        std::to_string(s.directional) + ", " + std::to_string(s.confidence));
                }
            }
            h::MultiTimeframeConfig cfg;
            cfg.weights = w;
            cfg.validate();
            return h::combine_timeframes(tf_array(tf), w);
        },
        py::arg("timeframes"), py::arg("weights") = std::array<double, 4>{0.4, 0.3, 0.2, 0.1});
    m.def(
        "combine_timeframes_many",
        [](const F64& directional, const F64& confidence, const std::array<double, 4>& w) {
            const auto [rows, cols] = shape2(directional, "directional");
            const auto [rows2, cols2] = shape2(confidence, "confidence");
            if (cols != 4 || rows2 != rows || cols2 != 4) {
                throw py::value_error("directional and confidence must both be (n, 4)");
            }
            h::MultiTimeframeConfig cfg;
            cfg.weights = w;
            cfg.validate();
            F64 out({static_cast<py::ssize_t>(rows), py::ssize_t{3}});
            const double* d = directional.data();
            const double* c = confidence.data();
            double* o = out.mutable_data();
            {
                const py::gil_scoped_release nogil; // raw pointers only
                std::array<h::TimeframeScore, 4> tf{};
                for (std::size_t r = 0; r < rows; ++r) {
                    for (std::size_t k = 0; k < 4; ++k) {
                        tf[k].directional = d[r * 4 + k];
                        tf[k].confidence = c[r * 4 + k];
                    }
                    const h::MultiTimeframeResult res = h::combine_timeframes(tf, w);
                    o[r * 3] = res.composite_directional;
                    o[r * 3 + 1] = res.composite_strength;
                    o[r * 3 + 2] = res.timeframe_alignment;
                }
            }
            return out;
        },
        py::arg("directional"), py::arg("confidence"),
        py::arg("weights") = std::array<double, 4>{0.4, 0.3, 0.2, 0.1},
        "Rows of (composite_directional, composite_strength, timeframe_alignment); GIL released.");

    py::class_<h::MarketMakingScores>(m, "MarketMakingScores")
        .def_readonly("inventory_bias", &h::MarketMakingScores::inventory_bias)
        .def_readonly("spread_adjustment", &h::MarketMakingScores::spread_adjustment)
        .def_readonly("size_multiplier", &h::MarketMakingScores::size_multiplier)
        .def_readonly("price_skew", &h::MarketMakingScores::price_skew)
        .def_readonly("activity_level", &h::MarketMakingScores::activity_level);
    m.def("market_making_scores", &h::market_making_scores, py::arg("component"),
          py::arg("inventory_impact") = 0.0);

    py::class_<h::HftInputs>(m, "HftInputs", "Inputs of the HFT composite (NaN = not available).")
        .def(py::init<>())
        .def_readwrite("confluence", &h::HftInputs::confluence)
        .def_readwrite("spread_bps", &h::HftInputs::spread_bps)
        .def_readwrite("bid_depth", &h::HftInputs::bid_depth)
        .def_readwrite("ask_depth", &h::HftInputs::ask_depth)
        .def_readwrite("ofi", &h::HftInputs::ofi)
        .def_readwrite("queue_imbalance", &h::HftInputs::queue_imbalance)
        .def_property(
            "timeframes", [](const h::HftInputs& in) { return tf_tuple(in.timeframes); },
            [](h::HftInputs& in, const std::vector<h::TimeframeScore>& v) {
                in.timeframes = tf_array(v);
            })
        .def_readwrite("position", &h::HftInputs::position)
        .def_readwrite("max_position", &h::HftInputs::max_position)
        .def_readwrite("volatility", &h::HftInputs::volatility)
        .def_readwrite("drawdown", &h::HftInputs::drawdown)
        .def_readwrite("max_drawdown", &h::HftInputs::max_drawdown)
        .def_readwrite("exposure", &h::HftInputs::exposure)
        .def_readwrite("exposure_limit", &h::HftInputs::exposure_limit)
        .def_readwrite("correlation", &h::HftInputs::correlation)
        .def("validate", &h::validate_inputs);

    py::class_<h::HftScoringConfig>(m, "HftScoringConfig")
        .def(py::init<>())
        .def_readwrite("w_confluence", &h::HftScoringConfig::w_confluence)
        .def_readwrite("w_microstructure", &h::HftScoringConfig::w_microstructure)
        .def_readwrite("w_timeframe", &h::HftScoringConfig::w_timeframe)
        .def_readwrite("inventory_weight", &h::HftScoringConfig::inventory_weight)
        .def_readwrite("ofi_sensitivity", &h::HftScoringConfig::ofi_sensitivity)
        .def_readwrite("spread_ref_bps", &h::HftScoringConfig::spread_ref_bps)
        .def_readwrite("liquidity_ref", &h::HftScoringConfig::liquidity_ref)
        .def_readwrite("vol_ref", &h::HftScoringConfig::vol_ref)
        .def_readwrite("vol_penalty_weight", &h::HftScoringConfig::vol_penalty_weight)
        .def_readwrite("corr_penalty_weight", &h::HftScoringConfig::corr_penalty_weight)
        .def_readwrite("timeframe", &h::HftScoringConfig::timeframe)
        .def("validate", &h::HftScoringConfig::validate);

    py::class_<h::CompositeScore>(m, "CompositeScore")
        .def_readonly("directional_bias", &h::CompositeScore::directional_bias)
        .def_readonly("execution_urgency", &h::CompositeScore::execution_urgency)
        .def_readonly("risk_adjusted_opportunity", &h::CompositeScore::risk_adjusted_opportunity)
        .def_readonly("inventory_impact", &h::CompositeScore::inventory_impact)
        .def_readonly("dir_confluence", &h::CompositeScore::dir_confluence)
        .def_readonly("dir_microstructure", &h::CompositeScore::dir_microstructure)
        .def_readonly("dir_timeframe", &h::CompositeScore::dir_timeframe)
        .def_readonly("dir_inventory", &h::CompositeScore::dir_inventory)
        .def_readonly("urgency_signal", &h::CompositeScore::urgency_signal)
        .def_readonly("urgency_confirmation", &h::CompositeScore::urgency_confirmation)
        .def_readonly("urgency_spread_factor", &h::CompositeScore::urgency_spread_factor)
        .def_readonly("base_opportunity", &h::CompositeScore::base_opportunity)
        .def_readonly("volatility_penalty", &h::CompositeScore::volatility_penalty)
        .def_readonly("liquidity_bonus", &h::CompositeScore::liquidity_bonus)
        .def_readonly("correlation_penalty", &h::CompositeScore::correlation_penalty)
        .def_readonly("drawdown_factor", &h::CompositeScore::drawdown_factor)
        .def_readonly("exposure_factor", &h::CompositeScore::exposure_factor)
        .def_readonly("inventory_utilisation", &h::CompositeScore::inventory_utilisation)
        .def_readonly("flags", &h::CompositeScore::flags)
        .def_readonly("confluence", &h::CompositeScore::confluence)
        .def_readonly("timeframes", &h::CompositeScore::timeframes)
        .def_readonly("market_making", &h::CompositeScore::market_making);

    py::class_<h::HftScorer>(m, "HftScorer", R"pbdoc(
The HFT composite: directional bias, execution urgency, risk-adjusted opportunity and inventory
impact with their breakdowns, from one HftInputs.)pbdoc")
        .def(py::init<h::HftScoringConfig>(), py::arg("config") = h::HftScoringConfig{})
        .def("calculate_composite_score", &h::HftScorer::calculate_composite_score,
             py::arg("inputs"), py::return_value_policy::copy)
        .def_property_readonly("config", &h::HftScorer::config);

    m.def(
        "fast_volume_delta",
        [](const F64& volume, const F64& side) {
            const std::size_t n = len1(volume, "volume");
            if (len1(side, "side") != n) {
                throw py::value_error("volume and side must have the same length");
            }
            const double* v = volume.data();
            for (std::size_t i = 0; i < n; ++i) {
                if (!(v[i] >= 0) || !std::isfinite(v[i])) {
                    throw confluex::InvalidEvent("fast_volume_delta: volume[" + std::to_string(i) +
                                                 "] must be finite and >= 0, was " +
                                                 std::to_string(v[i]));
                }
            }
            const double* s = side.data();
            const py::gil_scoped_release nogil; // raw pointers only
            return h::fast_volume_delta(v, s, n);
        },
        py::arg("volume"), py::arg("side"));

    m.attr("FLAG_NO_LIQUIDITY") = h::kFlagNoLiquidity;
    m.attr("FLAG_LIQUIDITY_UNKNOWN") = h::kFlagLiquidityUnknown;
    m.attr("FLAG_VOLATILITY_UNKNOWN") = h::kFlagVolatilityUnknown;
    m.attr("FLAG_DRAWDOWN_LIMIT") = h::kFlagDrawdownLimit;
    m.attr("FLAG_EXPOSURE_LIMIT") = h::kFlagExposureLimit;
    m.attr("FLAG_NO_CONFLUENCE_DATA") = h::kFlagNoConfluenceData;
    m.attr("FLAG_SPREAD_UNKNOWN") = h::kFlagSpreadUnknown;
    m.attr("FLAG_INVENTORY_LIMIT") = h::kFlagInventoryLimit;
}

void register_portfolio(py::module_& m) {
    py::class_<h::PortfolioConfig>(m, "PortfolioConfig")
        .def(py::init<>())
        .def_readwrite("vol_ref", &h::PortfolioConfig::vol_ref)
        .def_readwrite("vol_penalty_weight", &h::PortfolioConfig::vol_penalty_weight)
        .def_readwrite("corr_penalty_weight", &h::PortfolioConfig::corr_penalty_weight)
        .def_readwrite("corr_halflife", &h::PortfolioConfig::corr_halflife)
        .def_readwrite("min_corr_samples", &h::PortfolioConfig::min_corr_samples)
        .def("validate", &h::PortfolioConfig::validate);

    py::class_<h::RiskAdjustedOpportunity>(m, "RiskAdjustedOpportunity")
        .def_readonly("risk_adjusted_opportunity",
                      &h::RiskAdjustedOpportunity::risk_adjusted_opportunity)
        .def_readonly("base_opportunity", &h::RiskAdjustedOpportunity::base_opportunity)
        .def_readonly("volatility_penalty", &h::RiskAdjustedOpportunity::volatility_penalty)
        .def_readonly("liquidity_bonus", &h::RiskAdjustedOpportunity::liquidity_bonus)
        .def_readonly("correlation_penalty", &h::RiskAdjustedOpportunity::correlation_penalty)
        .def_readonly("flags", &h::RiskAdjustedOpportunity::flags);
    m.def(
        "risk_adjusted_opportunity",
        [](double strength, double reliability, double vol, double liq, double corr,
           const h::PortfolioConfig& cfg) {
            cfg.validate();
            return h::risk_adjusted_opportunity(strength, reliability, vol, liq, corr, cfg);
        },
        py::arg("signal_strength"), py::arg("reliability"), py::arg("volatility"),
        py::arg("liquidity"), py::arg("correlation"), py::arg("config") = h::PortfolioConfig{});

    py::class_<h::SymbolOpportunity>(m, "SymbolOpportunity")
        .def_readonly("rank_score", &h::SymbolOpportunity::rank_score)
        .def_readonly("risk_adjusted_score", &h::SymbolOpportunity::risk_adjusted_score)
        .def_readonly("execution_priority", &h::SymbolOpportunity::execution_priority)
        .def_readonly("position_multiplier", &h::SymbolOpportunity::position_multiplier)
        .def_readonly("base_opportunity", &h::SymbolOpportunity::base_opportunity)
        .def_readonly("volatility_penalty", &h::SymbolOpportunity::volatility_penalty)
        .def_readonly("liquidity_bonus", &h::SymbolOpportunity::liquidity_bonus)
        .def_readonly("correlation_penalty", &h::SymbolOpportunity::correlation_penalty)
        .def_readonly("correlation", &h::SymbolOpportunity::correlation)
        .def_readonly("momentum", &h::SymbolOpportunity::momentum)
        .def_readonly("flags", &h::SymbolOpportunity::flags)
        .def_readonly("rank", &h::SymbolOpportunity::rank)
        .def_readonly("scored", &h::SymbolOpportunity::scored);

    py::class_<h::PortfolioScorer>(m, "PortfolioScorer")
        .def(py::init<std::size_t, h::PortfolioConfig>(), py::arg("n_symbols"),
             py::arg("config") = h::PortfolioConfig{})
        .def("update", &h::PortfolioScorer::update, py::arg("symbol_id"), py::arg("component"),
             py::arg("volatility"), py::arg("liquidity"))
        .def(
            "update_returns",
            [](h::PortfolioScorer& p, const F64& r) {
                const std::size_t n = len1(r, "returns");
                p.update_returns(r.data(), n);
            },
            py::arg("returns"))
        .def("opportunity", &h::PortfolioScorer::opportunity, py::arg("symbol_id"))
        .def_property_readonly("ranking", &h::PortfolioScorer::ranking)
        .def("correlation", &h::PortfolioScorer::correlation, py::arg("i"), py::arg("j"))
        .def("portfolio_correlation", &h::PortfolioScorer::portfolio_correlation,
             py::arg("symbol_id"))
        .def_property_readonly("size", &h::PortfolioScorer::size)
        .def_property_readonly("bars", &h::PortfolioScorer::bars);
}

void register_streaming(py::module_& m) {
    py::native_enum<h::UpdateType>(m, "UpdateType", "enum.Enum",
                                   "What changed: the policy throttles trades and quotes.")
        .value("trade", h::UpdateType::Trade)
        .value("orderbook", h::UpdateType::Orderbook)
        .value("quote", h::UpdateType::Quote)
        .finalize();
    py::class_<h::StreamingConfig>(m, "StreamingConfig")
        .def(py::init<>())
        .def_readwrite("min_trade_interval_ns", &h::StreamingConfig::min_trade_interval_ns)
        .def_readwrite("min_quote_interval_ns", &h::StreamingConfig::min_quote_interval_ns)
        .def("validate", &h::StreamingConfig::validate);
    py::class_<h::StreamingPolicy>(m, "StreamingPolicy")
        .def(py::init<h::StreamingConfig>(), py::arg("config") = h::StreamingConfig{})
        .def("add_symbol", &h::StreamingPolicy::add_symbol)
        .def("should_recalculate", &h::StreamingPolicy::should_recalculate, py::arg("symbol_id"),
             py::arg("update_type"), py::arg("ts_ns"))
        .def("last_update_ns", &h::StreamingPolicy::last_update_ns, py::arg("symbol_id"))
        .def(
            "counters",
            [](const h::StreamingPolicy& p, std::uint32_t sym) {
                const auto& c = p.counters(sym);
                py::dict d;
                const char* names[] = {"trade", "orderbook", "quote"};
                for (std::size_t t = 0; t < h::kUpdateTypeCount; ++t) {
                    d[names[t]] = py::make_tuple(c.seen[t], c.recalculated[t]);
                }
                return d;
            },
            py::arg("symbol_id"), "{type: (seen, recalculated)}")
        .def_property_readonly("symbol_count", &h::StreamingPolicy::symbol_count)
        .def_property_readonly("config", &h::StreamingPolicy::config);
}

void register_engine_inputs(py::module_& m) {
    py::class_<h::EngineInputsConfig>(m, "EngineInputsConfig")
        .def(py::init<>())
        .def_readwrite("depth_levels", &h::EngineInputsConfig::depth_levels)
        .def_readwrite("timeframe", &h::EngineInputsConfig::timeframe)
        .def("validate", &h::EngineInputsConfig::validate);
    m.def(
        "inputs_from_engine",
        [](confluex::Engine& e, std::uint32_t sym, const h::EngineInputsConfig& cfg) {
            cfg.validate();
            return h::inputs_from_engine(e, sym, cfg);
        },
        py::arg("engine"), py::arg("symbol_id"), py::arg("config") = h::EngineInputsConfig{});
}

} // namespace

void register_hft(py::module_& m) {
    register_normalizer(m);
    register_combiner(m);
    register_scoring(m);
    register_portfolio(m);
    register_streaming(m);
    register_engine_inputs(m);
}
