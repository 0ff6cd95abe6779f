// Placeholder: filled by the spsc_ring work.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_spsc_ring(py::module_& /*m*/) {}
