// Private to the core: the time stamp of one capture line, shared by FeedSession::replay()
// and Pipeline::feed_lines() so that a sharded replay sees exactly the single-threaded stamps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "confluex/feed_parser.hpp"

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

// Calls f(line, ts_ns) for each non-empty line of a capture, in order (a trailing '\r' is
// dropped). NsPrefixed: ts_ns is the "<ns> " prefix, which is cut off; a line without a valid
// prefix is passed as an empty line with ts_ns 0, which the parser counts as Malformed.
// Otherwise (Bybit JSON lines) the line is passed whole with its first "ts" in ns (0 if none).
template <class F> void for_each_stamped_line(std::string_view data, LineFormat format, F&& f) {
    while (!data.empty()) {
        const auto nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        data = nl == std::string_view::npos ? std::string_view{} : data.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty()) {
            continue;
        }
        std::int64_t ts = 0;
        if (format == LineFormat::NsPrefixed) {
            std::size_t used = 0;
            if (!leading_int(line, ts, used) || used >= line.size() || line[used] != ' ') {
                line = {};
                ts = 0;
            } else {
                line.remove_prefix(used + 1);
            }
        } else {
            ts = bybit_line_ts_ns(line);
        }
        f(line, ts);
    }
}

} // namespace confluex::feed::detail
