// Helpers shared by the C++ tests that read the real captures in tests/data: gzip reading,
// line splitting and the invariants of a synced book (GoogleTest assertions).
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "confluex/engine.hpp"

namespace confluex::test {

inline std::string gunzip(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) {
        return {};
    }
    std::string out;
    char buf[1 << 16];
    int n = 0;
    while ((n = gzread(f, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    gzclose(f);
    return out;
}

inline std::vector<std::string_view> split_lines(std::string_view data) {
    std::vector<std::string_view> lines;
    while (!data.empty()) {
        const auto nl = data.find('\n');
        lines.push_back(data.substr(0, nl));
        data = nl == std::string_view::npos ? std::string_view{} : data.substr(nl + 1);
    }
    return lines;
}

// Splits "<ns> <json>" into its parts.
inline std::pair<std::int64_t, std::string_view> ts_and_json(std::string_view line) {
    const auto sp = line.find(' ');
    return {std::stoll(std::string(line.substr(0, sp))), line.substr(sp + 1)};
}

inline void expect_book_invariants(const confluex::Engine& engine, std::uint32_t sym) {
    const auto& book = engine.book(sym);
    if (!book.in_sync()) {
        return;
    }
    const auto bb = book.best_bid();
    const auto ba = book.best_ask();
    if (bb && ba) {
        ASSERT_LT(bb->px, ba->px) << "a synced book must never be crossed";
    }
    const auto view = book.top(25);
    for (std::size_t i = 1; i < view.n_bids; ++i) {
        ASSERT_GT(view.bids[i - 1].px, view.bids[i].px);
        ASSERT_GT(view.bids[i].qty, 0);
    }
    for (std::size_t i = 1; i < view.n_asks; ++i) {
        ASSERT_LT(view.asks[i - 1].px, view.asks[i].px);
        ASSERT_GT(view.asks[i].qty, 0);
    }
}

} // namespace confluex::test
