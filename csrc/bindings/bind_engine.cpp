// Placeholder: filled by the engine work.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_engine(py::module_& /*m*/) {}
