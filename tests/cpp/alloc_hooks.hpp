// The global operator new / delete of a test executable, replaced to observe its heap
// allocations: every allocation is counted (g_allocs), and once armed (g_allocs_until_failure
// >= 0) the n-th allocation from then on throws std::bad_alloc. Include it from the one .cpp
// of a test executable (it defines the replacements).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace confluex::test {
inline std::uint64_t g_allocs = 0; // allocations since the process started
// Allocations left before the failing one; negative when not armed.
inline long g_allocs_until_failure = -1;
} // namespace confluex::test

// noinline: inlined into callers, GCC would flag free() of a pointer from operator new.
[[gnu::noinline]] void* operator new(std::size_t n) {
    ++confluex::test::g_allocs;
    if (confluex::test::g_allocs_until_failure >= 0 &&
        confluex::test::g_allocs_until_failure-- == 0) {
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
