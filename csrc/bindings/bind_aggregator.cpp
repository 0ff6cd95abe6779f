// Placeholder: filled by the aggregator work.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_aggregator(py::module_& /*m*/) {}
