// Helpers shared by the C++ benchmarks: reading a gzip capture and its lines, exact latency
// percentiles.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace confluex::bench {

// gunzip()
// The decompressed contents of a gzip file (through `gzip -dc`); exits with status 2 when it
// cannot be read.
inline std::string gunzip(const std::string& path) {
    const std::string cmd = "gzip -dc '" + path + "'";
    FILE* f = popen(cmd.c_str(), "r");
    if (f == nullptr) {
        std::perror("popen");
        std::exit(2);
    }
    std::string out;
    char buf[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.append(buf, n);
    }
    if (pclose(f) != 0 || out.empty()) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        std::exit(2);
    }
    return out;
}

// One line of a capture: "<local_receive_ns> <raw JSON>".
struct CaptureLine {
    std::string_view full; // the whole line
    std::string_view json;
    std::int64_t ts;
};

// capture_lines()
// The lines of a capture buffer (lines without a space are skipped), viewing into `data`.
inline std::vector<CaptureLine> capture_lines(const std::string& data) {
    std::vector<CaptureLine> out;
    std::string_view rest(data);
    while (!rest.empty()) {
        const std::size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        const std::size_t sp = line.find(' ');
        if (sp == std::string_view::npos) {
            continue;
        }
        out.push_back({line, line.substr(sp + 1), std::stoll(std::string(line.substr(0, sp)))});
    }
    return out;
}

// Percentiles of a set of per-message latencies (ns), exact (sorted copy).
struct Dist {
    std::size_t n = 0;
    double mean = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;
};

inline Dist dist(std::vector<double> v) {
    Dist d;
    if (v.empty()) {
        return d;
    }
    std::sort(v.begin(), v.end());
    auto q = [&](double f) {
        const auto i = static_cast<std::size_t>(f * static_cast<double>(v.size() - 1) + 0.5);
        return v[i];
    };
    d.n = v.size();
    double s = 0;
    for (const double x : v) {
        s += x;
    }
    d.mean = s / static_cast<double>(v.size());
    d.p50 = q(0.50);
    d.p99 = q(0.99);
    d.p999 = q(0.999);
    d.max = v.back();
    return d;
}

} // namespace confluex::bench
