// Placeholder: filled by the signals work.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_signals(py::module_& /*m*/) {}
