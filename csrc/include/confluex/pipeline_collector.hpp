// confluex/pipeline_collector.hpp
//
// Provides Collector: the consumer role of a Pipeline (pipeline.hpp) on a thread of its own,
// keeping every record. A lossless run needs a consumer draining while its producer feeds (a
// shard waits for room in its output ring); the C++ tests and benchmarks use this one.
//
// Design: the collector's thread is the pipeline's one consumer thread (drain(), wait()); the
// thread that constructs it stays the producer. The collector ends when every shard has ended
// and nothing is left to drain.
#pragma once

#include <cstddef>
#include <thread>
#include <vector>

#include "confluex/pipeline.hpp"

namespace confluex::pipeline {

class Collector {
  public:
    // Collector::Collector()
    // Starts draining `p` on a new thread. REQUIRES: no other consumer thread drains `p`.
    explicit Collector(Pipeline& p) : p_(p), thread_([this] { run(); }) {}
    // Collector::~Collector()
    // Stops the pipeline (a no-op after finish(); an early return, e.g. a failed test
    // assertion, ends the shards so the thread ends too), then joins. Producer thread only.
    ~Collector() {
        p_.stop();
        join();
    }
    Collector(const Collector&) = delete;
    Collector& operator=(const Collector&) = delete;

    // Collector::join()
    // Waits until every shard ended and their records were drained; records is then final.
    void join() {
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    // Every record drained, shard by shard in drain order (read after join()).
    std::vector<OutRecord> records;

  private:
    void run() {
        std::vector<OutRecord> buf(4096);
        for (;;) {
            const bool ended = p_.ended();
            const std::size_t n = p_.drain(buf.data(), buf.size());
            records.insert(records.end(), buf.begin(), buf.begin() + static_cast<long>(n));
            if (n == 0) {
                if (ended) {
                    return;
                }
                (void)p_.wait(50);
            }
        }
    }

    Pipeline& p_;
    std::thread thread_;
};

} // namespace confluex::pipeline
