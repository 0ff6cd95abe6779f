// Placeholder: filled by the order_book work.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_order_book(py::module_& /*m*/) {}
