// The book records dumped by bench/cpp/dump_book_records.py, read back for the C++ benches.
#pragma once

#include <cstddef>
#include <fstream>
#include <string>
#include <vector>

#include "confluex/types.hpp"

namespace confluex::bench {

// Reads a file of raw BookLevelEvent rows (the layout of confluex.book_level_event_dtype).
inline std::vector<BookLevelEvent> read_records(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    const auto n = static_cast<std::size_t>(f.tellg()) / sizeof(BookLevelEvent);
    std::vector<BookLevelEvent> v(n);
    f.seekg(0);
    f.read(reinterpret_cast<char*>(v.data()),
           static_cast<std::streamsize>(n * sizeof(BookLevelEvent)));
    return v;
}

} // namespace confluex::bench
