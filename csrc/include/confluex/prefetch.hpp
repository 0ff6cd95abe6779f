// confluex/prefetch.hpp
//
// Provides prefetch_range(): software prefetches over a byte range, for the warm passes an
// idle engine thread runs over its hot state (Pipeline, WaitPolicy). A prefetch changes no
// value and never faults, so a warm pass cannot change a result.
#pragma once

#include <cstddef>
#include <cstdint>

namespace confluex {

// prefetch_range()
// Prefetches every 64-byte line of [p, p + bytes) into all cache levels, for reading, or for
// writing (the line is fetched exclusive) when `write`. At most max_bytes are touched.
inline void prefetch_range(const void* p, std::size_t bytes, bool write = false,
                           std::size_t max_bytes = std::size_t{1} << 16) noexcept {
    if (p == nullptr) {
        return;
    }
    const auto* c = static_cast<const char*>(p);
    const std::size_t n = bytes < max_bytes ? bytes : max_bytes;
    for (std::size_t off = 0; off < n; off += 64) {
        if (write) {
            __builtin_prefetch(c + off, 1, 3);
        } else {
            __builtin_prefetch(c + off, 0, 3);
        }
    }
}

} // namespace confluex
