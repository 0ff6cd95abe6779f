// confluex._core: wires one submodule per concept. No logic lives here.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_exceptions(py::module_& m);
void register_types(py::module_& m);
void register_instrument(py::module_& m);
void register_spsc_ring(py::module_& m);
void register_order_book(py::module_& m);
void register_trade_flow(py::module_& m);
void register_flow_extras(py::module_& m);
void register_signals(py::module_& m);
void register_aggregator(py::module_& m);
void register_engine(py::module_& m);
void register_session(py::module_& m);
void register_feed(py::module_& m);
void register_hft(py::module_& m);
void register_structure(py::module_& m);
void register_sentiment(py::module_& m);
void register_bars(py::module_& m);
void register_indicators(py::module_& m);
void register_mm(py::module_& m);
void register_pipeline(py::module_& m);

PYBIND11_MODULE(_core, m) {
    m.doc() = "confluex native core (private; use the `confluex` package).";
    auto exceptions = m.def_submodule("exceptions", "Exception types raised by the core.");
    register_exceptions(exceptions);
    auto types = m.def_submodule("types", "POD event records and their NumPy dtypes.");
    register_types(types);
    auto instrument = m.def_submodule("instrument", "Tick/lot sizes and exact decimal conversion.");
    register_instrument(instrument);
    auto ring =
        m.def_submodule("spsc_ring", "Bounded lock-free single-producer/single-consumer rings.");
    register_spsc_ring(ring);
    auto book = m.def_submodule("order_book", "L2 price-level order book.");
    register_order_book(book);
    auto aggregator =
        m.def_submodule("aggregator", "Component scores and the confluence aggregator.");
    register_aggregator(aggregator);
    auto flow =
        m.def_submodule("trade_flow", "Windowed trade-flow statistics and z-score normaliser.");
    register_trade_flow(flow);
    register_flow_extras(flow);
    auto signals =
        m.def_submodule("signals", "Order-book signal kernels and their 0-100 sub-scores.");
    register_signals(signals);
    auto engine = m.def_submodule("engine", "Multi-symbol engine.");
    register_engine(engine);
    auto feed =
        m.def_submodule("feed", "Native exchange-message parsers: raw bytes to engine records.");
    register_feed(feed);
    auto session = m.def_submodule("session", "Raw messages to synchronised books and scores.");
    register_session(session);
    auto hft = m.def_submodule(
        "hft", "HFT integration kernels: normaliser, combiners, composite, portfolio.");
    register_hft(hft);
    auto structure =
        m.def_submodule("structure", "Causal price structure: swings, market structure, zones.");
    register_structure(structure);
    auto sentiment =
        m.def_submodule("sentiment", "Per-symbol sentiment and the derivative-stream parsers.");
    register_sentiment(sentiment);
    auto bars = m.def_submodule("bars", "OHLCV bars from trades at several timeframes.");
    register_bars(bars);
    auto indicators =
        m.def_submodule("indicators", "Indicator kernels, technical and volume views.");
    register_indicators(indicators);
    auto mm = m.def_submodule("mm", "Market making: online sigma and intensity, GLFT quotes.");
    register_mm(mm);
    auto pipeline =
        m.def_submodule("pipeline", "Engine threads per shard fed through lock-free rings.");
    register_pipeline(pipeline);
}
