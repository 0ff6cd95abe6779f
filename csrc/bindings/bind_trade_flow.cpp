// Placeholder: filled by the trade_flow work.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_trade_flow(py::module_& /*m*/) {}
