// confluex/errors.hpp
//
// Provides the exception hierarchy of the core. Bindings map each type to a Python exception
// in `confluex._core.exceptions` (ValueError or RuntimeError subclasses). Messages name the
// offending value with ", was" ("qty must be non-negative, was -3").
//
// Every throwing core function gives the strong guarantee: engine state is unchanged when it
// throws, unless its documentation says otherwise.
#pragma once

#include <stdexcept>
#include <string>

namespace confluex {

// Base of every confluex error.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// An event or argument with an invalid value (NaN, negative size, off-tick price...).
class InvalidEvent : public Error {
  public:
    using Error::Error;
};

// A snapshot whose best bid is at or above its best ask.
class BookCrossed : public Error {
  public:
    using Error::Error;
};

// A bounded container is full and the call cannot drop silently.
class CapacityExceeded : public Error {
  public:
    using Error::Error;
};

// A symbol id or name that the engine does not know.
class UnknownSymbol : public Error {
  public:
    using Error::Error;
};

// A configuration value out of its domain (weights, windows, tick size...).
class InvalidConfig : public Error {
  public:
    using Error::Error;
};

} // namespace confluex
