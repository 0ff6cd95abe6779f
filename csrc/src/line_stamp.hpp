// Private to the core: the time stamp of one capture line, shared by FeedSession::replay()
// and Pipeline::feed_lines() so that a sharded replay sees exactly the single-threaded stamps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace confluex::feed::detail {

// Reads the leading decimal digits of s as int64 (the "<ns> " prefix of a capture line).
inline bool leading_int(std::string_view s, std::int64_t& out, std::size_t& consumed) noexcept {
    std::int64_t v = 0;
    std::size_t i = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
        ++i;
    }
    consumed = i;
    out = v;
    return i > 0;
}

// The ms value of the first "ts": in a Bybit JSON line, as ns; 0 when absent.
inline std::int64_t bybit_line_ts_ns(std::string_view line) noexcept {
    const auto at = line.find("\"ts\":");
    if (at == std::string_view::npos) {
        return 0;
    }
    std::string_view rest = line.substr(at + 5);
    while (!rest.empty() && rest.front() == ' ') {
        rest.remove_prefix(1);
    }
    std::int64_t ms = 0;
    std::size_t used = 0;
    return leading_int(rest, ms, used) ? ms * 1'000'000 : 0;
}

} // namespace confluex::feed::detail
