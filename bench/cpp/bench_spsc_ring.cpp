// C++ microbenchmarks of SpscRing (Google Benchmark, Debian libbenchmark-dev): cross-core
// throughput in ns/item (single push/pop and batches), round-trip latency between two pinned
// threads (rigtorp's RTT), and an uncontended one-thread push+pop for reference.
//
// Not part of the CMake build (the benchmark library is optional). Run like (one line):
//   g++ -std=c++20 -O3 -march=native -DNDEBUG -Icsrc/include bench/cpp/bench_spsc_ring.cpp
//       -lbenchmark -lpthread -o build/bench_spsc_ring && build/bench_spsc_ring
// The numbers need two otherwise idle cores: the threads busy-spin, and on a shared 2-vCPU VM
// a descheduled spinner turns ns into µs (compare the Time and CPU columns).
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "confluex/spsc_ring.hpp"

namespace {

using confluex::SpscRing;

constexpr std::uint64_t kItemsPerIteration = 1 << 20;

void pin_to_cpu(unsigned index) {
    const unsigned n = std::thread::hardware_concurrency();
    if (n < 2) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index % n, &set);
    static_cast<void>(pthread_setaffinity_np(pthread_self(), sizeof(set), &set));
}

// Items per second across two pinned threads, one item per call.
void BM_SpscRing_Throughput(benchmark::State& state) {
    SpscRing<std::int64_t> ring(static_cast<std::size_t>(state.range(0)));
    std::atomic<std::uint64_t> target{~std::uint64_t{0}};
    std::thread consumer([&] {
        pin_to_cpu(1);
        std::uint64_t popped = 0;
        // relaxed: `target` only ends the loop; item data synchronises through the ring.
        while (popped != target.load(std::memory_order_relaxed)) {
            if (const std::int64_t* p = ring.front()) {
                benchmark::DoNotOptimize(*p);
                ring.pop();
                ++popped;
            }
        }
    });
    pin_to_cpu(0);
    std::uint64_t pushed = 0;
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < kItemsPerIteration; ++i) {
            while (!ring.try_push(static_cast<std::int64_t>(i))) {
            }
        }
        pushed += kItemsPerIteration;
    }
    target.store(pushed, std::memory_order_relaxed);
    consumer.join();
    state.SetItemsProcessed(static_cast<std::int64_t>(pushed));
    state.counters["ns_per_item"] = benchmark::Counter(
        static_cast<double>(pushed), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SpscRing_Throughput)
    ->Arg(1024)
    ->Arg(65536)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Items per second across two pinned threads, batches of range(1) items per call.
void BM_SpscRing_ThroughputBatch(benchmark::State& state) {
    SpscRing<std::int64_t> ring(static_cast<std::size_t>(state.range(0)));
    const auto batch = static_cast<std::size_t>(state.range(1));
    std::atomic<std::uint64_t> target{~std::uint64_t{0}};
    std::thread consumer([&] {
        pin_to_cpu(1);
        std::vector<std::int64_t> out(batch);
        std::uint64_t popped = 0;
        // relaxed: see BM_SpscRing_Throughput.
        while (popped != target.load(std::memory_order_relaxed)) {
            popped += ring.pop_n(out.data(), out.size());
            benchmark::DoNotOptimize(out.data());
        }
    });
    pin_to_cpu(0);
    std::vector<std::int64_t> in(batch);
    for (std::size_t i = 0; i < batch; ++i) {
        in[i] = static_cast<std::int64_t>(i);
    }
    std::uint64_t pushed = 0;
    for (auto _ : state) {
        for (std::uint64_t done = 0; done < kItemsPerIteration;) {
            done += ring.try_push_n(in.data(), batch);
        }
        pushed += kItemsPerIteration;
    }
    // try_push_n may overshoot kItemsPerIteration by a partial batch; count what went in.
    target.store(ring.pushed(), std::memory_order_relaxed);
    consumer.join();
    state.SetItemsProcessed(static_cast<std::int64_t>(ring.pushed()));
    state.counters["ns_per_item"] =
        benchmark::Counter(static_cast<double>(ring.pushed()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SpscRing_ThroughputBatch)
    ->Args({65536, 16})
    ->Args({65536, 256})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Round-trip time: this thread pushes to `ping`, the echo thread pops and pushes to `pong`.
void BM_SpscRing_RoundTrip(benchmark::State& state) {
    SpscRing<std::int64_t> ping(1024);
    SpscRing<std::int64_t> pong(1024);
    std::atomic<bool> stop{false};
    std::thread echo([&] {
        pin_to_cpu(1);
        // relaxed: `stop` only ends the loop.
        while (!stop.load(std::memory_order_relaxed)) {
            if (const std::int64_t* p = ping.front()) {
                const std::int64_t v = *p;
                ping.pop();
                while (!pong.try_push(v)) {
                }
            }
        }
    });
    pin_to_cpu(0);
    std::int64_t i = 0;
    for (auto _ : state) {
        while (!ping.try_push(i)) {
        }
        while (pong.front() == nullptr) {
        }
        benchmark::DoNotOptimize(*pong.front());
        pong.pop();
        ++i;
    }
    stop.store(true, std::memory_order_relaxed);
    echo.join();
}
BENCHMARK(BM_SpscRing_RoundTrip)->UseRealTime();

// One thread, no contention: the cost of the index bookkeeping alone.
void BM_SpscRing_OneThreadPushPop(benchmark::State& state) {
    SpscRing<std::int64_t> ring(1024);
    std::int64_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(ring.try_push(i++));
        benchmark::DoNotOptimize(*ring.front());
        ring.pop();
    }
}
BENCHMARK(BM_SpscRing_OneThreadPushPop);

} // namespace

BENCHMARK_MAIN();
