// Two-thread stress tests of SpscRing: a pinned producer and a pinned consumer move 10^7 items
// and the consumer checks the exact sequence, the absence of torn multi-word records, and that
// every refusal is counted. Meant to run under ThreadSanitizer as well (preset `tsan`).
#undef NDEBUG
#include <cassert>

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "confluex/spsc_ring.hpp"

namespace {

using confluex::SpscRing;

constexpr std::uint64_t kItems = 10'000'000;

// Pins the calling thread to one CPU for the scope, so producer and consumer really run on two
// cores (as rigtorp's stress test does), and restores the previous mask on exit so the gtest
// main thread is not left pinned. Best effort: on a single-CPU or restricted machine the
// threads stay unpinned and the tests still hold, only slower.
class ScopedPin {
  public:
    explicit ScopedPin(unsigned index) {
        const unsigned n = std::thread::hardware_concurrency();
        saved_ = pthread_getaffinity_np(pthread_self(), sizeof(old_), &old_) == 0;
        if (n < 2 || !saved_) {
            return;
        }
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(index % n, &set);
        static_cast<void>(pthread_setaffinity_np(pthread_self(), sizeof(set), &set));
    }
    ~ScopedPin() {
        if (saved_) {
            static_cast<void>(pthread_setaffinity_np(pthread_self(), sizeof(old_), &old_));
        }
    }
    ScopedPin(const ScopedPin&) = delete;
    ScopedPin& operator=(const ScopedPin&) = delete;

  private:
    cpu_set_t old_{};
    bool saved_ = false;
};

// SplitMix64: cheap, bijective mixing so every word of a record differs from its neighbours.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// A full cache line of payload: a torn read (half old record, half new) breaks the checksum
// or the word relations with near certainty.
struct Record {
    std::uint64_t seq;
    std::array<std::uint64_t, 6> words;
    std::uint64_t checksum;
};
static_assert(sizeof(Record) == 64);

Record make_record(std::uint64_t seq) {
    Record r{};
    r.seq = seq;
    std::uint64_t sum = seq;
    for (std::size_t i = 0; i < r.words.size(); ++i) {
        r.words[i] = mix(seq * 8 + i);
        sum ^= r.words[i] * (i + 1);
    }
    r.checksum = sum;
    return r;
}

bool record_intact(const Record& r) {
    std::uint64_t sum = r.seq;
    for (std::size_t i = 0; i < r.words.size(); ++i) {
        if (r.words[i] != mix(r.seq * 8 + i)) {
            return false;
        }
        sum ^= r.words[i] * (i + 1);
    }
    return sum == r.checksum;
}

TEST(SpscRingStress, single_item_push_and_pop_deliver_ten_million_in_order) {
    SpscRing<std::uint64_t> ring(1024);
    std::uint64_t refused = 0;

    std::thread producer([&] {
        const ScopedPin pin(0);
        for (std::uint64_t i = 0; i < kItems;) {
            if (ring.try_push(i)) {
                ++i;
            } else {
                ++refused;
                std::this_thread::yield(); // the consumer may share this core
            }
        }
    });
    const ScopedPin pin(1);
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    while (expected < kItems) {
        const std::uint64_t* p = ring.front();
        if (p == nullptr) {
            std::this_thread::yield();
            continue;
        }
        out_of_order += (*p != expected) ? 1U : 0U;
        ++expected;
        ring.pop();
    }
    producer.join();

    EXPECT_EQ(out_of_order, 0U);
    EXPECT_EQ(ring.pushed(), kItems);
    EXPECT_EQ(ring.dropped(), refused);
    EXPECT_TRUE(ring.empty());
}

TEST(SpscRingStress, batches_of_varying_size_deliver_ten_million_in_order) {
    SpscRing<std::uint64_t> ring(4096);
    std::uint64_t refused = 0;

    std::thread producer([&] {
        const ScopedPin pin(0);
        std::vector<std::uint64_t> batch(1000);
        std::uint64_t next = 0;
        std::uint64_t step = 0;
        while (next < kItems) {
            // Batch sizes 1..1000 in a fixed pseudo-random order, so copies wrap at every offset.
            const std::uint64_t want = 1 + mix(step++) % batch.size();
            const auto n = static_cast<std::size_t>(std::min(want, kItems - next));
            for (std::size_t i = 0; i < n; ++i) {
                batch[i] = next + i;
            }
            std::size_t done = 0;
            while (done < n) { // retry the refused suffix, so nothing is lost
                const std::size_t k = ring.try_push_n(batch.data() + done, n - done);
                refused += n - done - k;
                done += k;
                if (done < n) {
                    std::this_thread::yield();
                }
            }
            next += n;
        }
    });
    const ScopedPin pin(1);
    std::vector<std::uint64_t> buf(777);
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    while (expected < kItems) {
        const std::size_t k = ring.pop_n(buf.data(), buf.size());
        if (k == 0) {
            std::this_thread::yield();
        }
        for (std::size_t i = 0; i < k; ++i) {
            out_of_order += (buf[i] != expected + i) ? 1U : 0U;
        }
        expected += k;
    }
    producer.join();

    EXPECT_EQ(expected, kItems);
    EXPECT_EQ(out_of_order, 0U);
    EXPECT_EQ(ring.pushed(), kItems);
    EXPECT_EQ(ring.dropped(), refused);
}

TEST(SpscRingStress, cache_line_records_are_never_torn_or_reordered) {
    // A small ring keeps the producer writing slots the consumer has only just released.
    SpscRing<Record> ring(8);
    constexpr std::uint64_t kRecords = kItems / 4;

    std::thread producer([&] {
        const ScopedPin pin(0);
        for (std::uint64_t i = 0; i < kRecords;) {
            const Record r = make_record(i);
            while (!ring.try_push(r)) {
                std::this_thread::yield();
            }
            ++i;
        }
    });
    const ScopedPin pin(1);
    std::uint64_t expected = 0;
    std::uint64_t torn = 0;
    std::uint64_t out_of_order = 0;
    while (expected < kRecords) {
        const Record* r = ring.front();
        if (r == nullptr) {
            std::this_thread::yield();
            continue;
        }
        torn += record_intact(*r) ? 0U : 1U;
        out_of_order += (r->seq != expected) ? 1U : 0U;
        ++expected;
        ring.pop();
    }
    producer.join();

    EXPECT_EQ(torn, 0U);
    EXPECT_EQ(out_of_order, 0U);
    EXPECT_EQ(ring.pushed(), kRecords);
}

TEST(SpscRingStress, observer_thread_sees_size_within_capacity_and_monotonic_counters) {
    SpscRing<std::uint64_t> ring(64);
    constexpr std::uint64_t kObserved = kItems / 10;
    std::atomic<bool> done{false};
    std::uint64_t bad_size = 0;
    std::uint64_t counter_went_back = 0;

    // Third thread: only the any-thread accessors.
    std::thread observer([&] {
        std::uint64_t last_pushed = 0;
        std::uint64_t last_dropped = 0;
        // relaxed: `done` only ends the loop; the results are read after join().
        while (!done.load(std::memory_order_relaxed)) {
            const std::size_t s = ring.size();
            const std::uint64_t p = ring.pushed();
            const std::uint64_t d = ring.dropped();
            bad_size += (s > ring.capacity()) ? 1U : 0U;
            counter_went_back += (p < last_pushed || d < last_dropped) ? 1U : 0U;
            last_pushed = p;
            last_dropped = d;
            std::this_thread::yield(); // sample, do not starve the two endpoints of 2 cores
        }
    });
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < kObserved;) {
            if (ring.try_push(i)) {
                ++i;
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    std::array<std::uint64_t, 16> buf{};
    while (expected < kObserved) {
        const std::size_t k = ring.pop_n(buf.data(), buf.size());
        for (std::size_t i = 0; i < k; ++i) {
            out_of_order += (buf[i] != expected + i) ? 1U : 0U;
        }
        expected += k;
        if (k == 0) {
            std::this_thread::yield();
        }
    }
    producer.join();
    done.store(true, std::memory_order_relaxed);
    observer.join();

    EXPECT_EQ(out_of_order, 0U);
    EXPECT_EQ(bad_size, 0U);
    EXPECT_EQ(counter_went_back, 0U);
    EXPECT_EQ(ring.size(), 0U);
}

} // namespace
