// Unit tests of SpscRing on one thread: empty/full, FIFO order, wraparound, drop counting,
// batch calls, capacity validation, alignment, and the debug role guard.
#undef NDEBUG
#include <cassert>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "confluex/errors.hpp"
#include "confluex/spsc_ring.hpp"

namespace {

using confluex::SpscRing;

// A test-local element type, so no instantiation compiled with NDEBUG elsewhere (the core
// library is a Release build) can stand in for the debug checks under test.
struct Word {
    std::int64_t value;
};

std::vector<std::int64_t> iota_vec(std::int64_t first, std::size_t n) {
    std::vector<std::int64_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

TEST(SpscRing, new_ring_is_empty_and_front_is_null) {
    SpscRing<std::int64_t> ring(4);

    EXPECT_EQ(ring.front(), nullptr);
    EXPECT_TRUE(ring.empty());
    EXPECT_EQ(ring.size(), 0U);
    EXPECT_EQ(ring.capacity(), 4U);
    EXPECT_EQ(ring.pushed(), 0U);
    EXPECT_EQ(ring.dropped(), 0U);
}

TEST(SpscRing, capacity_not_power_of_two_throws_invalid_config_naming_value) {
    for (const std::size_t bad :
         {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{6}, std::size_t{1000}}) {
        try {
            SpscRing<std::int64_t> ring(bad);
            ADD_FAILURE() << "no throw for capacity " << bad;
        } catch (const confluex::InvalidConfig& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(", was " + std::to_string(bad)), std::string::npos) << msg;
        }
    }
}

TEST(SpscRing, capacity_beyond_address_space_throws_invalid_config) {
    EXPECT_THROW(SpscRing<std::int64_t> ring(std::size_t{1} << 62), confluex::InvalidConfig);
}

TEST(SpscRing, full_ring_refuses_push_counts_drop_and_keeps_accepted_items) {
    SpscRing<std::int64_t> ring(4);
    for (std::int64_t v = 0; v < 4; ++v) {
        ASSERT_TRUE(ring.try_push(v));
    }

    const bool fifth = ring.try_push(99);
    const bool sixth = ring.try_push(100);
    std::vector<std::int64_t> out;
    while (const std::int64_t* p = ring.front()) {
        out.push_back(*p);
        ring.pop();
    }

    EXPECT_FALSE(fifth);
    EXPECT_FALSE(sixth);
    EXPECT_EQ(ring.dropped(), 2U);
    EXPECT_EQ(ring.pushed(), 4U);
    EXPECT_EQ(out, iota_vec(0, 4));
    EXPECT_TRUE(ring.empty());
}

TEST(SpscRing, push_after_pop_of_full_ring_succeeds) {
    SpscRing<std::int64_t> ring(2);
    ASSERT_TRUE(ring.try_push(1));
    ASSERT_TRUE(ring.try_push(2));
    ASSERT_FALSE(ring.try_push(3));

    ring.pop();
    const bool pushed = ring.try_push(4);

    EXPECT_TRUE(pushed);
    ASSERT_NE(ring.front(), nullptr);
    EXPECT_EQ(*ring.front(), 2);
    EXPECT_EQ(ring.size(), 2U);
    EXPECT_EQ(ring.dropped(), 1U);
}

TEST(SpscRing, front_and_pop_wrap_around_many_times_in_fifo_order) {
    SpscRing<std::int64_t> ring(4);
    std::vector<std::int64_t> out;
    std::int64_t next = 0;

    // Keep 3 of 4 slots occupied while the indices pass the end of the slot array 25 times.
    for (int round = 0; round < 100; ++round) {
        while (ring.size() < 3) {
            ASSERT_TRUE(ring.try_push(next++));
        }
        out.push_back(*ring.front());
        ring.pop();
    }

    EXPECT_EQ(out, iota_vec(0, 100));
    EXPECT_EQ(ring.size(), 2U); // topped up to 3 before the last pop
    EXPECT_EQ(ring.pushed(), 102U);
}

TEST(SpscRing, front_value_is_stable_until_pop) {
    SpscRing<std::int64_t> ring(2);
    ASSERT_TRUE(ring.try_push(7));
    const std::int64_t* first = ring.front();

    ASSERT_TRUE(ring.try_push(8));
    ASSERT_FALSE(ring.try_push(9));

    EXPECT_EQ(ring.front(), first);
    EXPECT_EQ(*first, 7);
}

TEST(SpscRing, try_push_n_pushes_prefix_and_counts_suffix_as_dropped) {
    SpscRing<std::int64_t> ring(8);
    const auto a = iota_vec(0, 5);
    const auto b = iota_vec(100, 10);

    const std::size_t ka = ring.try_push_n(a.data(), a.size());
    const std::size_t kb = ring.try_push_n(b.data(), b.size());
    const std::size_t kc = ring.try_push_n(b.data(), 2);
    std::vector<std::int64_t> out(16);
    const std::size_t got = ring.pop_n(out.data(), out.size());
    out.resize(got);

    EXPECT_EQ(ka, 5U);
    EXPECT_EQ(kb, 3U);
    EXPECT_EQ(kc, 0U);
    EXPECT_EQ(ring.dropped(), 7U + 2U);
    EXPECT_EQ(ring.pushed(), 8U);
    EXPECT_EQ(out, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 100, 101, 102}));
}

TEST(SpscRing, batch_calls_split_copies_at_the_end_of_the_slot_array) {
    SpscRing<std::int64_t> ring(8);
    std::vector<std::int64_t> out;
    std::vector<std::int64_t> buf(8);
    std::int64_t next = 0;

    // Batches of 5 against 8 slots start at every offset, so most copies wrap.
    for (int round = 0; round < 40; ++round) {
        const auto batch = iota_vec(next, 5);
        ASSERT_EQ(ring.try_push_n(batch.data(), batch.size()), 5U);
        next += 5;
        const std::size_t k = ring.pop_n(buf.data(), 3 + static_cast<std::size_t>(round % 3));
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(k));
        const std::size_t rest = ring.pop_n(buf.data(), buf.size());
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(rest));
    }

    EXPECT_EQ(out, iota_vec(0, 200));
    EXPECT_EQ(ring.dropped(), 0U);
}

TEST(SpscRing, pop_n_with_zero_max_or_empty_ring_returns_zero) {
    SpscRing<std::int64_t> ring(4);
    std::int64_t sink = -1;

    const std::size_t from_empty = ring.pop_n(&sink, 1);
    ASSERT_TRUE(ring.try_push(5));
    const std::size_t with_zero_max = ring.pop_n(nullptr, 0);
    const std::size_t zero_push = ring.try_push_n(nullptr, 0);

    EXPECT_EQ(from_empty, 0U);
    EXPECT_EQ(with_zero_max, 0U);
    EXPECT_EQ(zero_push, 0U);
    EXPECT_EQ(sink, -1);
    EXPECT_EQ(ring.size(), 1U);
    EXPECT_EQ(ring.dropped(), 0U);
}

TEST(SpscRing, mixed_single_and_batch_calls_keep_one_fifo) {
    SpscRing<std::int64_t> ring(4);
    const auto pair = iota_vec(1, 2);

    ASSERT_TRUE(ring.try_push(0));
    ASSERT_EQ(ring.try_push_n(pair.data(), pair.size()), 2U);
    ASSERT_TRUE(ring.try_push(3));
    const std::int64_t head = *ring.front();
    ring.pop();
    std::int64_t rest[4] = {};
    const std::size_t k = ring.pop_n(rest, 4);

    EXPECT_EQ(head, 0);
    ASSERT_EQ(k, 3U);
    EXPECT_EQ(rest[0], 1);
    EXPECT_EQ(rest[1], 2);
    EXPECT_EQ(rest[2], 3);
}

TEST(SpscRing, slots_and_indices_are_cache_line_aligned) {
    SpscRing<std::int64_t> ring(16);
    ASSERT_TRUE(ring.try_push(1));

    const auto slot0 = reinterpret_cast<std::uintptr_t>(ring.front());

    EXPECT_EQ(slot0 % confluex::kCacheLineSize, 0U);
    EXPECT_EQ(alignof(SpscRing<std::int64_t>), confluex::kCacheLineSize);
    // Header, producer line and consumer line.
    EXPECT_GE(sizeof(SpscRing<std::int64_t>), 3 * confluex::kCacheLineSize);
}

struct Wide {
    std::int64_t a, b, c, d, e;
};

TEST(SpscRing, multi_word_records_round_trip_through_batches) {
    SpscRing<Wide> ring(4);
    std::vector<Wide> in(6);
    for (std::size_t i = 0; i < in.size(); ++i) {
        const auto x = static_cast<std::int64_t>(i);
        in[i] = Wide{x, -x, x * x, x + 1000, ~x};
    }

    const std::size_t k1 = ring.try_push_n(in.data(), 3);
    std::vector<Wide> out(6);
    const std::size_t p1 = ring.pop_n(out.data(), 2);
    const std::size_t k2 = ring.try_push_n(in.data() + 3, 3);
    const std::size_t p2 = ring.pop_n(out.data() + 2, 4);

    EXPECT_EQ(k1 + k2, 6U);
    EXPECT_EQ(p1 + p2, 6U);
    for (std::size_t i = 0; i < in.size(); ++i) {
        EXPECT_EQ(out[i].a, in[i].a);
        EXPECT_EQ(out[i].b, in[i].b);
        EXPECT_EQ(out[i].c, in[i].c);
        EXPECT_EQ(out[i].d, in[i].d);
        EXPECT_EQ(out[i].e, in[i].e);
    }
}

TEST(SpscRing, same_thread_may_hold_both_roles) {
    SpscRing<Word> ring(2);

    const bool pushed = ring.try_push(Word{5});
    const Word* head = ring.front();

    EXPECT_TRUE(pushed);
    ASSERT_NE(head, nullptr);
    EXPECT_EQ(head->value, 5);
}

TEST(SpscRingDeathTest, second_producer_thread_trips_role_guard) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            SpscRing<Word> ring(4);
            static_cast<void>(ring.try_push(Word{1}));
            std::thread other([&ring] { static_cast<void>(ring.try_push(Word{2})); });
            other.join();
        },
        "second producer thread");
}

TEST(SpscRingDeathTest, second_consumer_thread_trips_role_guard) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            SpscRing<Word> ring(4);
            static_cast<void>(ring.try_push(Word{1}));
            static_cast<void>(ring.front());
            std::thread other([&ring] {
                Word w{};
                static_cast<void>(ring.pop_n(&w, 1));
            });
            other.join();
        },
        "second consumer thread");
}

TEST(SpscRingDeathTest, pop_of_empty_ring_trips_precondition) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            SpscRing<Word> ring(2);
            ring.pop();
        },
        "pop\\(\\) on an empty ring");
}

} // namespace
