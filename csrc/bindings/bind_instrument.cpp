// Instrument: tick/lot sizes and exact decimal conversion.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "confluex/instrument.hpp"

namespace py = pybind11;

void register_instrument(py::module_& m) {
    using confluex::Instrument;
    py::class_<Instrument>(m, "Instrument", R"pbdoc(
Tick size and lot size of a symbol; converts exchange decimal strings to integer ticks and
lots exactly (a value off the grid raises InvalidEvent, it is never rounded).
)pbdoc")
        .def(py::init([](const std::string& tick, const std::string& lot) {
                 return Instrument::from_strings(tick, lot);
             }),
             py::arg("tick_size"), py::arg("lot_size"),
             R"pbdoc(Builds from decimal strings, e.g. Instrument("0.01", "0.00001").)pbdoc")
        .def("price_to_ticks",
             py::overload_cast<std::string_view>(&Instrument::price_to_ticks, py::const_),
             py::arg("price"), R"pbdoc(Exact ticks of a decimal price string.)pbdoc")
        .def("qty_to_lots",
             py::overload_cast<std::string_view>(&Instrument::qty_to_lots, py::const_),
             py::arg("qty"), R"pbdoc(Exact lots of a decimal quantity string.)pbdoc")
        .def("price_to_ticks_f", py::overload_cast<double>(&Instrument::price_to_ticks, py::const_),
             py::arg("price"), R"pbdoc(Nearest tick of a float price that lies on the grid.)pbdoc")
        .def("qty_to_lots_f", py::overload_cast<double>(&Instrument::qty_to_lots, py::const_),
             py::arg("qty"), R"pbdoc(Nearest lot of a float quantity that lies on the grid.)pbdoc")
        .def("ticks_to_price", &Instrument::ticks_to_price, py::arg("ticks"))
        .def("lots_to_qty", &Instrument::lots_to_qty, py::arg("lots"))
        .def_property_readonly("tick_size", &Instrument::tick_size)
        .def_property_readonly("lot_size", &Instrument::lot_size)
        .def_property_readonly("tick_size_str", &Instrument::tick_size_str)
        .def_property_readonly("lot_size_str", &Instrument::lot_size_str)
        .def("__repr__", [](const Instrument& i) {
            return "Instrument(tick_size='" + i.tick_size_str() + "', lot_size='" +
                   i.lot_size_str() + "')";
        });
}
