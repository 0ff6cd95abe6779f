// ConfluenceAggregator, its config and result.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "confluex/aggregator.hpp"
#include "confluex/component.hpp"
#include "confluex/errors.hpp"
#include "convert.hpp"

namespace py = pybind11;

namespace {

using confluex::AggregatorConfig;
using confluex::ConfluenceAggregator;
using confluex::ConfluenceResult;
using confluex::kComponentCount;
using confluex::kComponentNames;
using Weights = std::array<double, kComponentCount>;

// Returns the index of a component name (the core's lookup), or throws E naming it.
template <class E> std::size_t component_index(const py::handle& key) {
    if (!py::isinstance<py::str>(key)) {
        throw py::type_error("component names must be str, was " +
                             py::repr(key).cast<std::string>());
    }
    return static_cast<std::size_t>(confluex::component_from_name<E>(key.cast<std::string>()));
}

double number_of(const py::handle& v, std::size_t c) {
    if (!py::isinstance<py::float_>(v) && !py::isinstance<py::int_>(v)) {
        throw py::type_error(std::string(kComponentNames[c]) + " must be a number, was " +
                             py::repr(v).cast<std::string>());
    }
    return v.cast<double>();
}

// {name: weight}; names not given get weight 0. Validation of the values is the core's.
Weights weights_from(const py::dict& d) {
    Weights w{};
    for (const auto& [k, v] : d) {
        const std::size_t c = component_index<confluex::InvalidConfig>(k);
        w[c] = number_of(v, c);
    }
    return w;
}

// {name: score or None}; None or a missing name means "no data".
std::pair<Weights, std::uint8_t> scores_from(const py::dict& d) {
    std::pair<Weights, std::uint8_t> out{Weights{}, 0};
    for (const auto& [k, v] : d) {
        const std::size_t c = component_index<confluex::InvalidEvent>(k);
        if (!v.is_none()) {
            out.first[c] = number_of(v, c);
            out.second = static_cast<std::uint8_t>(out.second | (1U << c));
        }
    }
    return out;
}

confluex::ScoreRule rule_from(const std::string& name) {
    if (name == "reference") {
        return confluex::ScoreRule::Reference;
    }
    if (name == "graded") {
        return confluex::ScoreRule::Graded;
    }
    throw confluex::InvalidConfig("AggregatorConfig.rule must be 'reference' or 'graded', was '" +
                                  name + "'");
}

template <class T> py::dict by_name(const std::array<T, kComponentCount>& a) {
    py::dict out;
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        out[py::str(kComponentNames[c].data(), kComponentNames[c].size())] = a[c];
    }
    return out;
}

} // namespace

void register_aggregator(py::module_& m) {
    py::tuple names(kComponentCount);
    for (std::size_t c = 0; c < kComponentCount; ++c) {
        names[c] = py::str(kComponentNames[c].data(), kComponentNames[c].size());
    }
    m.attr("COMPONENT_NAMES") = names;

    py::class_<confluex::ComponentScore>(m, "ComponentScore", R"pbdoc(
One component's 0-100 score, whether it had the data it needs, and the sub-scores (with their
weights) it was computed from. Read-only.
)pbdoc")
        .def_readonly("score", &confluex::ComponentScore::score)
        .def_readonly("has_data", &confluex::ComponentScore::has_data)
        .def_readonly("warmup", &confluex::ComponentScore::warmup,
                      "Warm share of the component's weight in [0, 1] (1 when not tracked).")
        .def_property_readonly(
            "sub",
            [](const confluex::ComponentScore& c) {
                return confluex::bindings::sub_scores(c, false);
            },
            "Sub-scores by name (0-100).")
        .def_property_readonly(
            "weights",
            [](const confluex::ComponentScore& c) {
                return confluex::bindings::sub_scores(c, true);
            },
            "Sub-score weights by name (0 for a sub-score without data).")
        .def_property_readonly(
            "unweighted",
            [](const confluex::ComponentScore& c) {
                py::list out;
                for (std::size_t i = 0; i < c.n_sub; ++i) {
                    if ((c.sub_unweighted >> i) & 1U) {
                        out.append(c.sub_name[i]);
                    }
                }
                return out;
            },
            "Names of the sub-scores that had their input but that the configuration weights 0 "
            "(computed and reported, not weighted; orderflow and orderbook).")
        .def(
            "to_dict",
            [](const confluex::ComponentScore& c) {
                return confluex::bindings::component_to_dict(c);
            },
            "{score, has_data, sub, weights} as a plain dict (for CSV/JSON output).")
        .def("__repr__", [](const confluex::ComponentScore& c) {
            return "ComponentScore(score=" + std::to_string(c.score) +
                   ", has_data=" + (c.has_data ? "True" : "False") + ")";
        });

    const AggregatorConfig d{};
    py::class_<AggregatorConfig>(m, "AggregatorConfig", R"pbdoc(
Aggregator configuration: component weights by name (names not given get 0; normalised on use),
the rule ("reference": the reference system's quality-adjusted score, §2.6, for parity;
"graded": a continuous quality factor consensus_floor + (1 - consensus_floor) consensus and
warm-up-weighted components), and the reference rule's amplification parameters. Validated on
construction (InvalidConfig naming the bad value).
)pbdoc")
        .def(py::init([](std::optional<py::dict> weights, double amplify_confidence,
                         double amplify_consensus, double max_amplification,
                         const std::string& rule, double consensus_floor) {
                 AggregatorConfig c;
                 if (weights)
                     c.weights = weights_from(*weights);
                 c.amplify_confidence = amplify_confidence;
                 c.amplify_consensus = amplify_consensus;
                 c.max_amplification = max_amplification;
                 c.rule = rule_from(rule);
                 c.consensus_floor = consensus_floor;
                 c.validate();
                 return c;
             }),
             py::kw_only(), py::arg("weights") = py::none(),
             py::arg("amplify_confidence") = d.amplify_confidence,
             py::arg("amplify_consensus") = d.amplify_consensus,
             py::arg("max_amplification") = d.max_amplification, py::arg("rule") = "reference",
             py::arg("consensus_floor") = d.consensus_floor)
        .def_property_readonly(
            "rule",
            [](const AggregatorConfig& c) {
                return std::string(c.rule == confluex::ScoreRule::Graded ? "graded" : "reference");
            })
        .def_readonly("consensus_floor", &AggregatorConfig::consensus_floor)
        .def_property_readonly("weights",
                               [](const AggregatorConfig& c) { return by_name(c.weights); })
        .def_readonly("amplify_confidence", &AggregatorConfig::amplify_confidence)
        .def_readonly("amplify_consensus", &AggregatorConfig::amplify_consensus)
        .def_readonly("max_amplification", &AggregatorConfig::max_amplification);

    py::class_<ConfluenceResult>(m, "ConfluenceResult", R"pbdoc(
One confluence computation: score_raw (50 + 50 direction), the quality-adjusted score, direction,
consensus, confidence, disagreement, reliability (data completeness) and quality_impact
(score_raw - score), with per-component scores, effective weights and has-data flags.
)pbdoc")
        .def_readonly("score_raw", &ConfluenceResult::score_raw)
        .def_readonly("score", &ConfluenceResult::score)
        .def_readonly("direction", &ConfluenceResult::direction)
        .def_readonly("consensus", &ConfluenceResult::consensus)
        .def_readonly("confidence", &ConfluenceResult::confidence)
        .def_readonly("disagreement", &ConfluenceResult::disagreement)
        .def_readonly("reliability", &ConfluenceResult::reliability)
        .def_readonly("quality_impact", &ConfluenceResult::quality_impact)
        .def_readonly("has_data_mask", &ConfluenceResult::has_data_mask)
        .def_property_readonly("components",
                               [](const ConfluenceResult& r) { return by_name(r.component_score); })
        .def_property_readonly("weights",
                               [](const ConfluenceResult& r) { return by_name(r.weight); })
        .def_property_readonly("has_data",
                               [](const ConfluenceResult& r) {
                                   std::array<bool, kComponentCount> h{};
                                   for (std::size_t c = 0; c < kComponentCount; ++c)
                                       h[c] = ((r.has_data_mask >> c) & 1U) != 0;
                                   return by_name(h);
                               })
        .def("__repr__", [](const ConfluenceResult& r) {
            return "ConfluenceResult(score=" + std::to_string(r.score) +
                   ", score_raw=" + std::to_string(r.score_raw) +
                   ", confidence=" + std::to_string(r.confidence) +
                   ", reliability=" + std::to_string(r.reliability) + ")";
        });

    py::class_<ConfluenceAggregator>(m, "ConfluenceAggregator", R"pbdoc(
Combines the six component scores into the 0-100 confluence score (reference-system §2.6), over
the components that have data with their weights renormalised.
)pbdoc")
        .def(py::init([](const std::optional<AggregatorConfig>& cfg) {
                 return ConfluenceAggregator(cfg.value_or(AggregatorConfig{}));
             }),
             py::arg("cfg") = py::none())
        .def(
            "compute",
            [](const ConfluenceAggregator& a, const py::dict& scores) {
                const auto [s, mask] = scores_from(scores);
                return a.compute_scores(s, mask);
            },
            py::arg("scores"),
            R"pbdoc(
Computes from {component name: score or None}; None or a missing name means no data. Unknown
names raise InvalidEvent. A NaN score counts as neutral (with data); a score outside [0, 100] is
clipped through n = clip((s - 50)/50, -1, 1), as the reference does. Every component with data
counts as warm (warmup 1); see compute_warm.
)pbdoc")
        .def(
            "compute_warm",
            [](const ConfluenceAggregator& a, const py::dict& scores, const py::dict& warmup) {
                const auto [s, mask] = scores_from(scores);
                Weights warm{};
                warm.fill(1.0);
                for (const auto& [k, v] : warmup) {
                    const std::size_t c = component_index<confluex::InvalidEvent>(k);
                    warm[c] = number_of(v, c);
                }
                return a.compute_warm(s, mask, warm);
            },
            py::arg("scores"), py::arg("warmup"),
            R"pbdoc(
compute() with each component's warm-up in [0, 1] by name (names not given: 1); the graded rule
scales a component's weight by it (NaN counts 0, values outside [0, 1] are clipped), the
reference rule ignores it.
)pbdoc")
        .def(
            "set_weights",
            [](ConfluenceAggregator& a, const py::dict& w) { a.set_weights(weights_from(w)); },
            py::arg("weights"),
            R"pbdoc(
Replaces the weights from {component name: weight} (names not given get 0). Raises
InvalidConfig for unknown names, NaN/inf/negative weights or a zero sum; unchanged on error.
)pbdoc")
        .def_property_readonly(
            "config", [](const ConfluenceAggregator& a) { return a.config(); },
            R"pbdoc(The configuration in use, weights normalised.)pbdoc");
}
