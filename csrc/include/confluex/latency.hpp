// confluex/latency.hpp
//
// Provides LatencyHistogram: a fixed-size log-linear histogram of nanosecond durations
// (HdrHistogram-style: 2^kSubBits linear sub-buckets per power of two), so recording costs a
// few instructions and never allocates, and percentiles are exact to within 1/2^kSubBits
// (under 1 %) of the value.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace confluex {

class LatencyHistogram {
  public:
    static constexpr int kSubBits = 7;  // 128 sub-buckets per octave: < 0.8 % relative error
    static constexpr int kOctaves = 40; // up to 2^40 ns (~18 minutes)
    static constexpr std::size_t kBuckets = static_cast<std::size_t>(kOctaves) << kSubBits;

    // LatencyHistogram::record()
    // Adds one duration in nanoseconds (negative values count as 0).
    void record(std::int64_t ns) noexcept {
        const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0));
        ++counts_[index_of(v)];
        ++count_;
        max_ = std::max(max_, v);
        sum_ += v;
    }

    // LatencyHistogram::percentile()
    // Returns the smallest recorded-bucket upper bound covering fraction q (0..1) of the
    // samples, capped at the exact maximum; 0 when empty.
    [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
        if (count_ == 0) {
            return 0;
        }
        q = std::clamp(q, 0.0, 1.0);
        auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_));
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                return std::min(upper_of(i), max_);
            }
        }
        return max_;
    }

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }
    void reset() noexcept { *this = LatencyHistogram{}; }

    // LatencyHistogram::scaled()
    // Returns this histogram with every value multiplied by factor (> 0): e.g. durations
    // recorded in CPU timestamp-counter ticks, read in nanoseconds. Each bucket moves whole to
    // the bucket of its upper bound times factor, so a percentile stays within one bucket
    // (< 0.8 %) of the scaled exact value; the count is kept, the maximum and the sum scale.
    [[nodiscard]] LatencyHistogram scaled(double factor) const noexcept {
        LatencyHistogram out;
        const auto scale = [factor](std::uint64_t v) {
            return static_cast<std::uint64_t>(static_cast<double>(v) * factor + 0.5);
        };
        for (std::size_t i = 0; i < kBuckets; ++i) {
            if (counts_[i] != 0) {
                out.counts_[index_of(scale(std::min(upper_of(i), max_)))] += counts_[i];
            }
        }
        out.count_ = count_;
        out.max_ = scale(max_);
        out.sum_ = scale(sum_);
        return out;
    }

    // Bucket of a value: values below 2^kSubBits map one to one; above, the octave and the
    // top kSubBits bits below the leading one select the bucket.
    static constexpr std::size_t index_of(std::uint64_t v) noexcept {
        if (v < (1ULL << kSubBits)) {
            return static_cast<std::size_t>(v);
        }
        const int msb = 63 - std::countl_zero(v);
        const int octave = msb - kSubBits + 1;
        if (octave >= kOctaves) {
            return kBuckets - 1;
        }
        const auto sub = (v >> (msb - kSubBits)) & ((1ULL << kSubBits) - 1);
        return (static_cast<std::size_t>(octave) << kSubBits) + static_cast<std::size_t>(sub);
    }
    // Largest value that maps to bucket i.
    static constexpr std::uint64_t upper_of(std::size_t i) noexcept {
        const std::size_t octave = i >> kSubBits;
        const std::uint64_t sub = i & ((1ULL << kSubBits) - 1);
        if (octave == 0) {
            return sub;
        }
        const int shift = static_cast<int>(octave) - 1;
        return (((1ULL << kSubBits) + sub + 1) << shift) - 1;
    }

  private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t sum_ = 0;
};

} // namespace confluex
