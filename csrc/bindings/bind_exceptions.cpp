// Maps the core's exception hierarchy onto Python exception types.
//
// Every type derives from ConfluexError and from the builtin that fits (ValueError for bad
// values, RuntimeError for capacity, KeyError for unknown symbols), so callers can catch
// either.
#include <pybind11/pybind11.h>

#include "confluex/errors.hpp"

namespace py = pybind11;

namespace {

// Exception type objects live for the whole process (module state is never unloaded), so
// plain pointers are safe and the translator needs no import.
PyObject* g_error = nullptr;
PyObject* g_invalid_event = nullptr;
PyObject* g_book_crossed = nullptr;
PyObject* g_capacity = nullptr;
PyObject* g_unknown_symbol = nullptr;
PyObject* g_invalid_config = nullptr;

PyObject* make_type(py::module_& m, const char* name, PyObject* base1, PyObject* base2,
                    const char* doc) {
    const std::string qualified = std::string(PyModule_GetName(m.ptr())) + "." + name;
    py::tuple bases = base2 != nullptr
                          ? py::tuple(py::make_tuple(py::handle(base1), py::handle(base2)))
                          : py::tuple(py::make_tuple(py::handle(base1)));
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
    if (type == nullptr) {
        throw py::error_already_set();
    }
    m.add_object(name, py::handle(type)); // add_object steals a new reference; keep ours
    Py_INCREF(type);
    return type;
}

} // namespace

void register_exceptions(py::module_& m) {
    g_error =
        make_type(m, "ConfluexError", PyExc_Exception, nullptr, "Base of every confluex error.");
    g_invalid_event = make_type(m, "InvalidEvent", g_error, PyExc_ValueError,
                                "An event or argument with an invalid value.");
    g_book_crossed = make_type(m, "BookCrossed", g_error, PyExc_ValueError,
                               "A snapshot whose best bid is at or above its best ask.");
    g_capacity = make_type(m, "CapacityExceeded", g_error, PyExc_RuntimeError,
                           "A bounded container is full.");
    g_unknown_symbol = make_type(m, "UnknownSymbol", g_error, PyExc_KeyError,
                                 "A symbol the engine does not know.");
    g_invalid_config = make_type(m, "InvalidConfig", g_error, PyExc_ValueError,
                                 "A configuration value out of its domain.");
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) {
                std::rethrow_exception(p);
            }
        } catch (const confluex::InvalidEvent& e) {
            PyErr_SetString(g_invalid_event, e.what());
        } catch (const confluex::BookCrossed& e) {
            PyErr_SetString(g_book_crossed, e.what());
        } catch (const confluex::CapacityExceeded& e) {
            PyErr_SetString(g_capacity, e.what());
        } catch (const confluex::UnknownSymbol& e) {
            PyErr_SetString(g_unknown_symbol, e.what());
        } catch (const confluex::InvalidConfig& e) {
            PyErr_SetString(g_invalid_config, e.what());
        } catch (const confluex::Error& e) {
            PyErr_SetString(g_error, e.what());
        }
    });
}
