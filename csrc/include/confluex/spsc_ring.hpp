// confluex/spsc_ring.hpp
//
// Provides SpscRing<T>, a bounded lock-free single-producer/single-consumer ring of trivially
// copyable records (BookLevelEvent, TradeEvent, int64). It hands events from an I/O/parse
// thread to the engine thread without locks or allocation; a full ring refuses the push and
// counts the refusal, it never blocks and never overwrites.
//
// The design follows rigtorp/SPSCQueue: each side owns one index on its own cache line and keeps
// a cached copy of the other side's index, so in the steady state a push or pop touches only
// lines its own thread owns and crosses to the other core only when the cache says full/empty.
#pragma once

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <type_traits>

#include "confluex/errors.hpp"

namespace confluex {

// The false-sharing distance. GCC warns (-Winterference-size) that the value may change with
// -mtune; we use it only for the in-process layout of a header-only template that every
// translation unit of one build sees with the same flags, never across an ABI boundary.
#if defined(__cpp_lib_hardware_interference_size)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winterference-size"
#endif
inline constexpr std::size_t kCacheLineSize = std::hardware_destructive_interference_size;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
inline constexpr std::size_t kCacheLineSize = 64;
#endif
static_assert(kCacheLineSize >= alignof(std::max_align_t) &&
                  (kCacheLineSize & (kCacheLineSize - 1)) == 0,
              "cache line size must be a power of two");

namespace detail {

// Guard of one ring role (producer or consumer), checked in debug builds only. The first thread
// that calls a method of the role claims it for the lifetime of the ring; any other thread that
// calls a method of the same role afterwards trips the assert. This catches a second producer
// or consumer deterministically, even when the two never overlap in time. Handing a role to
// another thread is not supported in debug builds (it is safe only with external
// synchronisation, which the ring cannot see).
//
// The member exists in every build so that SpscRing has one layout whether or not a
// translation unit defines NDEBUG (test files #undef it while the core library keeps it).
class RoleGuard {
  public:
    // RoleGuard::owned_by_caller()
    //
    // Returns true when the calling thread holds (or has just claimed) the role.
    bool owned_by_caller() noexcept {
        const std::thread::id self = std::this_thread::get_id();
        std::thread::id expected{};
        // acq_rel: not needed for the ring's data (the indices carry that); it only makes the
        // claim itself well ordered so two racing first calls cannot both win.
        if (owner_.compare_exchange_strong(expected, self, std::memory_order_acq_rel)) {
            return true;
        }
        return expected == self;
    }

  private:
    std::atomic<std::thread::id> owner_{};
};

} // namespace detail

#ifndef NDEBUG
#define CONFLUEX_SPSC_ASSERT_ROLE(guard, message) assert((guard).owned_by_caller() && (message))
#else
#define CONFLUEX_SPSC_ASSERT_ROLE(guard, message) static_cast<void>(0)
#endif

// Design:
//   Threading contract: exactly one producer thread calls try_push()/try_push_n(), exactly one
//   consumer thread calls front()/pop()/pop_n(). size(), empty(), capacity(), dropped() and
//   pushed() may be called from any thread; size() and empty() are then a snapshot.
//   Debug builds (no NDEBUG) assert that each role is used by a single thread.
//
//   Indices: write_idx_ and read_idx_ are 64-bit counters that only ever increase; slot i lives
//   at i & mask_. The ring holds write_idx_ - read_idx_ items, so all `capacity` slots are
//   usable (no slack slot) and full/empty are distinguishable without a flag. 2^64 pushes never
//   happen in practice, and unsigned wrap-around would still keep the differences exact because
//   the capacity divides 2^64.
//
//   Ownership: the producer owns write_idx_ (only it stores), its cached copy read_idx_cache_
//   of the consumer's index, and dropped_. The consumer owns read_idx_ and write_idx_cache_.
//   Each group sits on its own cache line; capacity_, mask_ and slots_ are immutable after
//   construction and share a third line that both cores keep in Shared state.
//
//   Publication: the producer copies the item into the slot, then stores write_idx_ with
//   release; the consumer loads write_idx_ with acquire before reading the slot. Symmetrically
//   the consumer stores read_idx_ with release after it has copied the item out, and the
//   producer loads it with acquire before overwriting the slot.
//
//   Storage: one heap allocation, aligned to and padded up to whole cache lines, so no other
//   heap object shares a line with the slots.
template <class T> class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>,
                  "SpscRing copies items with memcpy and never runs destructors");
    static_assert(alignof(T) <= kCacheLineSize, "slots are only cache-line aligned");

  public:
    using value_type = T;

    // SpscRing::SpscRing()
    //
    // Creates an empty ring with `capacity` usable slots.
    // REQUIRES: capacity is a power of two >= 2 (throws InvalidConfig otherwise).
    explicit SpscRing(std::size_t capacity)
        : capacity_(checked_capacity(capacity)), mask_(capacity - 1),
          slots_(allocate_slots(capacity)) {}

    ~SpscRing() { ::operator delete (slots_, std::align_val_t{kCacheLineSize}); }

    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;
    SpscRing(SpscRing&&) = delete;
    SpscRing& operator=(SpscRing&&) = delete;

    // SpscRing::try_push()
    //
    // Producer thread only. Copies `v` into the ring and returns true, or returns false when the
    // ring is full and counts the refusal in dropped().
    [[nodiscard]] bool try_push(const T& v) noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(producer_guard_, "SpscRing: second producer thread");
        // relaxed: only this thread stores write_idx_, so it reads its own last value.
        const std::uint64_t w = write_idx_.load(std::memory_order_relaxed);
        if (w - read_idx_cache_ == capacity_) {
            // acquire: the consumer's copy-out of the slot we are about to overwrite must
            // happen-before our write (pairs with the release store in pop()/pop_n()).
            read_idx_cache_ = read_idx_.load(std::memory_order_acquire);
            if (w - read_idx_cache_ == capacity_) {
                count_dropped(1);
                return false;
            }
        }
        // A trivial copy construction, i.e. the same bytes as a memcpy, but one that sanitizers
        // see as a write (GCC expands a fixed-size memcpy inline without TSan instrumentation).
        ::new (static_cast<void*>(slots_ + (w & mask_))) T(v);
        // release: publishes the slot contents before the consumer can see the new index.
        write_idx_.store(w + 1, std::memory_order_release);
        return true;
    }

    // SpscRing::try_push_n()
    //
    // Producer thread only. Pushes the longest prefix of src[0, n) that fits, counts the
    // remaining n - k items in dropped(), and returns k. The prefix becomes visible to the
    // consumer at once (one index store for the whole batch).
    // REQUIRES: src points to n items (or n == 0).
    [[nodiscard]] std::size_t try_push_n(const T* src, std::size_t n) noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(producer_guard_, "SpscRing: second producer thread");
        assert(src != nullptr || n == 0);
        // relaxed: only this thread stores write_idx_.
        const std::uint64_t w = write_idx_.load(std::memory_order_relaxed);
        std::uint64_t free_slots = capacity_ - (w - read_idx_cache_);
        if (free_slots < n) {
            // acquire: pairs with the consumer's release store; see try_push().
            read_idx_cache_ = read_idx_.load(std::memory_order_acquire);
            free_slots = capacity_ - (w - read_idx_cache_);
        }
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, free_slots));
        if (k < n) {
            count_dropped(n - k);
        }
        if (k == 0) {
            return 0;
        }
        copy_in(w, src, k);
        // release: publishes all k slots before the consumer can see the new index.
        write_idx_.store(w + k, std::memory_order_release);
        return k;
    }

    // SpscRing::try_push_all()
    //
    // Producer thread only. Pushes all of src[0, n) and returns true, or, when fewer than n
    // slots are free, pushes nothing, counts the n items in dropped() and returns false: a
    // multi-slot record (a frame in chunks) is never split.
    // REQUIRES: src points to n items (or n == 0).
    [[nodiscard]] bool try_push_all(const T* src, std::size_t n) noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(producer_guard_, "SpscRing: second producer thread");
        assert(src != nullptr || n == 0);
        // relaxed: only this thread stores write_idx_.
        const std::uint64_t w = write_idx_.load(std::memory_order_relaxed);
        if (capacity_ - (w - read_idx_cache_) < n) {
            // acquire: pairs with the consumer's release store; see try_push().
            read_idx_cache_ = read_idx_.load(std::memory_order_acquire);
            if (capacity_ - (w - read_idx_cache_) < n) {
                count_dropped(n);
                return false;
            }
        }
        if (n == 0) {
            return true;
        }
        copy_in(w, src, n);
        // release: publishes all n slots before the consumer can see the new index.
        write_idx_.store(w + n, std::memory_order_release);
        return true;
    }

    // SpscRing::free_slots()
    //
    // Producer thread only. Returns a lower bound of the slots a push can fill now (exact
    // while the consumer is idle): try_push_all(src, n) with n <= free_slots() succeeds.
    [[nodiscard]] std::size_t free_slots() noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(producer_guard_, "SpscRing: second producer thread");
        // relaxed: only this thread stores write_idx_; acquire: see try_push().
        const std::uint64_t w = write_idx_.load(std::memory_order_relaxed);
        read_idx_cache_ = read_idx_.load(std::memory_order_acquire);
        return static_cast<std::size_t>(capacity_ - (w - read_idx_cache_));
    }

    // SpscRing::front()
    //
    // Consumer thread only. Returns the oldest item, or nullptr when the ring is empty. The
    // item stays valid and unchanged until the next pop()/pop_n().
    [[nodiscard]] T* front() noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(consumer_guard_, "SpscRing: second consumer thread");
        // relaxed: only this thread stores read_idx_.
        const std::uint64_t r = read_idx_.load(std::memory_order_relaxed);
        if (r == write_idx_cache_) {
            // acquire: the producer's write of the slot happens-before our read of it (pairs
            // with the release store in try_push()/try_push_n()).
            write_idx_cache_ = write_idx_.load(std::memory_order_acquire);
            if (r == write_idx_cache_) {
                return nullptr;
            }
        }
        return slots_ + (r & mask_);
    }

    // SpscRing::front_n()
    //
    // Consumer thread only. Returns the oldest item when the n oldest items are in the ring and
    // lie contiguously in its storage (they do not wrap around its end), else nullptr. They stay
    // valid and unchanged until they are removed (discard(), pop(), pop_n()), so a multi-slot
    // record can be read in place, without a copy.
    // REQUIRES: n >= 1.
    [[nodiscard]] T* front_n(std::size_t n) noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(consumer_guard_, "SpscRing: second consumer thread");
        assert(n >= 1);
        // relaxed: only this thread stores read_idx_.
        const std::uint64_t r = read_idx_.load(std::memory_order_relaxed);
        if (write_idx_cache_ - r < n) {
            // acquire: pairs with the producer's release store; see front().
            write_idx_cache_ = write_idx_.load(std::memory_order_acquire);
            if (write_idx_cache_ - r < n) {
                return nullptr;
            }
        }
        const std::uint64_t at = r & mask_;
        return at + n <= capacity_ ? slots_ + at : nullptr;
    }

    // SpscRing::discard()
    //
    // Consumer thread only. Removes the n oldest items without copying them.
    // REQUIRES: the ring holds at least n items (e.g. front_n(n) returned non-null).
    void discard(std::size_t n) noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(consumer_guard_, "SpscRing: second consumer thread");
        // relaxed: only this thread stores read_idx_.
        const std::uint64_t r = read_idx_.load(std::memory_order_relaxed);
        // acquire (debug only): a fresh look at the producer's index for the precondition.
        assert(write_idx_.load(std::memory_order_acquire) - r >= n && "discard() past the end");
        // release: our reads of the slots complete before the producer may overwrite them.
        read_idx_.store(r + n, std::memory_order_release);
    }

    // SpscRing::pop()
    //
    // Consumer thread only. Removes the oldest item.
    // REQUIRES: front() != nullptr.
    void pop() noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(consumer_guard_, "SpscRing: second consumer thread");
        // relaxed: only this thread stores read_idx_.
        const std::uint64_t r = read_idx_.load(std::memory_order_relaxed);
        // acquire (debug only): a fresh look at the producer's index for the precondition.
        assert(r != write_idx_.load(std::memory_order_acquire) && "pop() on an empty ring");
        // release: our reads of the slot complete before the producer may overwrite it.
        read_idx_.store(r + 1, std::memory_order_release);
    }

    // SpscRing::pop_n()
    //
    // Consumer thread only. Copies up to `max` of the oldest items into dst, in FIFO order,
    // removes them, and returns how many were copied (0 when empty).
    // REQUIRES: dst has room for max items (or max == 0).
    [[nodiscard]] std::size_t pop_n(T* dst, std::size_t max) noexcept {
        CONFLUEX_SPSC_ASSERT_ROLE(consumer_guard_, "SpscRing: second consumer thread");
        assert(dst != nullptr || max == 0);
        // relaxed: only this thread stores read_idx_.
        const std::uint64_t r = read_idx_.load(std::memory_order_relaxed);
        std::uint64_t available = write_idx_cache_ - r;
        if (available < max) {
            // acquire: pairs with the producer's release store; see front().
            write_idx_cache_ = write_idx_.load(std::memory_order_acquire);
            available = write_idx_cache_ - r;
        }
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(max, available));
        if (k == 0) {
            return 0;
        }
        copy_out(r, dst, k);
        // release: our copy-out completes before the producer may reuse these slots.
        read_idx_.store(r + k, std::memory_order_release);
        return k;
    }

    // SpscRing::size()
    //
    // Any thread. Returns the number of items in the ring. Exact on either endpoint's thread
    // while the other endpoint is idle; otherwise a snapshot in [0, capacity()].
    std::size_t size() const noexcept {
        // acquire on the first load keeps the second load after it: read_idx_ is sampled
        // first, and since write_idx_ >= read_idx_ at every instant and both only grow, the
        // later write_idx_ sample can never be below it, so the difference cannot underflow.
        const std::uint64_t r = read_idx_.load(std::memory_order_acquire);
        const std::uint64_t w = write_idx_.load(std::memory_order_acquire);
        // Between the two loads the producer may have refilled slots the consumer freed, so a
        // cross-thread snapshot can exceed the capacity; no state can, so report the bound.
        return static_cast<std::size_t>(std::min<std::uint64_t>(w - r, capacity_));
    }

    // SpscRing::empty()
    //
    // Any thread. Returns true when the ring holds no item (a snapshot across threads).
    bool empty() const noexcept { return size() == 0; }

    // SpscRing::capacity()
    //
    // Any thread. Returns the number of usable slots (the constructor argument).
    std::size_t capacity() const noexcept { return static_cast<std::size_t>(capacity_); }

    // SpscRing::dropped()
    //
    // Any thread. Returns the total number of items refused by try_push()/try_push_n().
    std::uint64_t dropped() const noexcept {
        // relaxed: a monotonic statistic; no data is read through it.
        return dropped_.load(std::memory_order_relaxed);
    }

    // SpscRing::pushed()
    //
    // Any thread. Returns the total number of items accepted since construction.
    std::uint64_t pushed() const noexcept {
        // relaxed: read as a statistic only; consumers synchronise through front()/pop_n().
        return write_idx_.load(std::memory_order_relaxed);
    }

  private:
    static std::uint64_t checked_capacity(std::size_t capacity) {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0) {
            throw InvalidConfig("SpscRing capacity must be a power of two >= 2, was " +
                                std::to_string(capacity));
        }
        if (capacity > (std::size_t{1} << 62) / sizeof(T)) {
            throw InvalidConfig("SpscRing capacity is too large for the address space, was " +
                                std::to_string(capacity));
        }
        return capacity;
    }

    static T* allocate_slots(std::size_t capacity) {
        // Round up to whole lines so the last slot does not share a line with another object.
        const std::size_t bytes =
            (capacity * sizeof(T) + kCacheLineSize - 1) / kCacheLineSize * kCacheLineSize;
        // operator new implicitly creates the (implicit-lifetime, trivially copyable) T objects
        // that the memcpy into each slot then gives a value.
        return static_cast<T*>(::operator new (bytes, std::align_val_t{kCacheLineSize}));
    }

    // Copies k items to the slots starting at index w, wrapping at most once.
    void copy_in(std::uint64_t w, const T* src, std::size_t k) noexcept {
        const std::size_t at = static_cast<std::size_t>(w & mask_);
        const std::size_t first = std::min(k, static_cast<std::size_t>(capacity_) - at);
        std::memcpy(static_cast<void*>(slots_ + at), src, first * sizeof(T));
        if (first < k) {
            std::memcpy(static_cast<void*>(slots_), src + first, (k - first) * sizeof(T));
        }
    }

    // Copies k items from the slots starting at index r, wrapping at most once.
    void copy_out(std::uint64_t r, T* dst, std::size_t k) const noexcept {
        const std::size_t at = static_cast<std::size_t>(r & mask_);
        const std::size_t first = std::min(k, static_cast<std::size_t>(capacity_) - at);
        std::memcpy(static_cast<void*>(dst), slots_ + at, first * sizeof(T));
        if (first < k) {
            std::memcpy(static_cast<void*>(dst + first), slots_, (k - first) * sizeof(T));
        }
    }

    void count_dropped(std::uint64_t n) noexcept {
        // A plain load + store instead of fetch_add: the producer is the only writer, so no
        // locked read-modify-write is needed; relaxed because other threads read it only as a
        // statistic.
        dropped_.store(dropped_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    // Immutable after construction; read by both threads, written by neither.
    const std::uint64_t capacity_;
    const std::uint64_t mask_;
    T* const slots_;

    // Producer line.
    alignas(kCacheLineSize) std::atomic<std::uint64_t> write_idx_{0};
    std::uint64_t read_idx_cache_ = 0;
    std::atomic<std::uint64_t> dropped_{0};
    detail::RoleGuard producer_guard_;

    // Consumer line.
    alignas(kCacheLineSize) std::atomic<std::uint64_t> read_idx_{0};
    std::uint64_t write_idx_cache_ = 0;
    detail::RoleGuard consumer_guard_;

    // The class alignment (kCacheLineSize) pads the consumer line to its end, so the next
    // object in memory never shares it.

    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "the indices must be lock-free atomics");
    static_assert(2 * sizeof(std::atomic<std::uint64_t>) + sizeof(std::uint64_t) +
                          sizeof(detail::RoleGuard) <=
                      kCacheLineSize,
                  "each side's state must fit in its one cache line");
};

static_assert(alignof(SpscRing<std::int64_t>) == kCacheLineSize,
              "the producer and consumer lines must start on cache-line boundaries");
static_assert(sizeof(SpscRing<std::int64_t>) % kCacheLineSize == 0,
              "the consumer line must be padded to its end");

} // namespace confluex
