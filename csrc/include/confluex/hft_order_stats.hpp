// confluex/hft_order_stats.hpp
//
// Provides OrderStatTree: a multiset of doubles with O(log n) insert, erase and rank queries
// (count of values < x and <= x), over a node pool allocated once. It is what makes an exact
// rolling percentile (scipy `percentileofscore(kind="rank")`) cost O(log n) per update instead
// of the O(n) of re-sorting or of inserting into a sorted array.
//
// Design:
// - A treap (binary search tree ordered by key, heap-ordered by a random priority) whose nodes
//   live in a std::vector sized at construction; freed nodes go on a free list. No allocation
//   after the constructor. Priorities come from a fixed-seed xorshift generator, so the shape
//   (and the cost) of a replay is deterministic.
// - Keys are (value, seq): seq is the caller's insertion counter, which makes every key unique,
//   so erase() removes exactly the element that entered with that seq (the one leaving a FIFO
//   window), not an arbitrary equal value.
// - Each node stores its subtree size; count_less()/count_less_equal() walk one root-to-leaf
//   path. Expected depth is O(log n) for any input order (the priorities are independent of
//   the keys).
//
// Threading: not synchronised; one thread owns an instance.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace confluex::detail {

class OrderStatTree {
  public:
    // OrderStatTree::OrderStatTree()
    // Creates an empty tree able to hold `capacity` elements (the pool is allocated here).
    explicit OrderStatTree(std::size_t capacity) : nodes_(capacity) {
        free_.reserve(capacity);
        clear();
    }

    // OrderStatTree::insert()
    // Adds the value with insertion number `seq` (unique among the elements present).
    // REQUIRES: size() < capacity(); value is not NaN.
    void insert(double value, std::uint64_t seq) noexcept {
        const std::uint32_t n = free_.back();
        free_.pop_back();
        Node& nd = nodes_[n];
        nd.value = value;
        nd.seq = seq;
        nd.prio = next_prio();
        // Descend while the nodes outrank the new one (each gains one descendant), then split
        // the subtree found there around the new key: the new node takes its place.
        std::uint32_t* link = &root_;
        while (*link != kNil && nodes_[*link].prio > nd.prio) {
            Node& t = nodes_[*link];
            ++t.size;
            link = key_less(value, seq, t.value, t.seq) ? &t.left : &t.right;
        }
        std::uint32_t l = kNil;
        std::uint32_t r = kNil;
        split(*link, value, seq, l, r);
        nd.left = l;
        nd.right = r;
        nd.size = static_cast<std::uint32_t>(1 + size_of(l) + size_of(r));
        *link = n;
    }

    // OrderStatTree::erase()
    // Removes the element inserted as (value, seq).
    // REQUIRES: the element is present (the callers erase what they inserted; checking would
    // cost a second descent per update). Checked by assert in debug builds.
    void erase(double value, std::uint64_t seq) noexcept {
        assert(contains(value, seq));
        std::uint32_t* link = &root_;
        for (;;) {
            Node& t = nodes_[*link];
            if (t.value == value && t.seq == seq) {
                break;
            }
            --t.size;
            link = key_less(value, seq, t.value, t.seq) ? &t.left : &t.right;
        }
        const std::uint32_t n = *link;
        *link = merge(nodes_[n].left, nodes_[n].right);
        free_.push_back(n);
    }

    // OrderStatTree::contains()
    // Returns whether (value, seq) is present.
    [[nodiscard]] bool contains(double value, std::uint64_t seq) const noexcept {
        std::uint32_t t = root_;
        while (t != kNil) {
            const Node& nd = nodes_[t];
            if (nd.value == value && nd.seq == seq) {
                return true;
            }
            t = key_less(value, seq, nd.value, nd.seq) ? nd.left : nd.right;
        }
        return false;
    }

    // OrderStatTree::count_less()
    // Returns the number of elements whose value is < x.
    [[nodiscard]] std::size_t count_less(double x) const noexcept {
        return count_if([x](double v) { return v < x; });
    }

    // OrderStatTree::count_less_equal()
    // Returns the number of elements whose value is <= x.
    [[nodiscard]] std::size_t count_less_equal(double x) const noexcept {
        return count_if([x](double v) { return v <= x; });
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_of(root_); }
    [[nodiscard]] std::size_t capacity() const noexcept { return nodes_.size(); }

    // OrderStatTree::clear()
    // Removes every element (the pool is kept) and restarts the priority generator.
    void clear() noexcept {
        free_.clear();
        for (std::size_t i = nodes_.size(); i > 0; --i) {
            free_.push_back(static_cast<std::uint32_t>(i - 1));
        }
        root_ = kNil;
        rng_ = 0x9E3779B97F4A7C15ULL;
    }

  private:
    static constexpr std::uint32_t kNil = 0xFFFFFFFFU;
    struct Node {
        double value = 0.0;
        std::uint64_t seq = 0;
        std::uint32_t left = kNil;
        std::uint32_t right = kNil;
        std::uint32_t size = 0;
        std::uint32_t prio = 0;
    };

    // Counts the elements satisfying `below`, a predicate true on a prefix of the key order.
    template <class Below> [[nodiscard]] std::size_t count_if(Below below) const noexcept {
        std::size_t c = 0;
        std::uint32_t t = root_;
        while (t != kNil) {
            const Node& nd = nodes_[t];
            if (below(nd.value)) {
                c += size_of(nd.left) + 1;
                t = nd.right;
            } else {
                t = nd.left;
            }
        }
        return c;
    }

    [[nodiscard]] std::size_t size_of(std::uint32_t t) const noexcept {
        return t == kNil ? 0 : nodes_[t].size;
    }
    void pull(std::uint32_t t) noexcept {
        Node& nd = nodes_[t];
        nd.size = static_cast<std::uint32_t>(1 + size_of(nd.left) + size_of(nd.right));
    }
    static bool key_less(double v, std::uint64_t s, double v2, std::uint64_t s2) noexcept {
        return v < v2 || (v == v2 && s < s2);
    }
    std::uint32_t next_prio() noexcept {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return static_cast<std::uint32_t>(rng_ >> 32);
    }

    // Splits t into l (keys < (v, s)) and r (keys >= (v, s)).
    void split(std::uint32_t t, double v, std::uint64_t s, std::uint32_t& l,
               std::uint32_t& r) noexcept {
        if (t == kNil) {
            l = kNil;
            r = kNil;
            return;
        }
        Node& nd = nodes_[t];
        if (key_less(nd.value, nd.seq, v, s)) {
            split(nd.right, v, s, nodes_[t].right, r);
            l = t;
        } else {
            split(nd.left, v, s, l, nodes_[t].left);
            r = t;
        }
        pull(t);
    }

    // Merges l and r, every key of l being below every key of r.
    std::uint32_t merge(std::uint32_t l, std::uint32_t r) noexcept {
        if (l == kNil) {
            return r;
        }
        if (r == kNil) {
            return l;
        }
        if (nodes_[l].prio > nodes_[r].prio) {
            nodes_[l].right = merge(nodes_[l].right, r);
            pull(l);
            return l;
        }
        nodes_[r].left = merge(l, nodes_[r].left);
        pull(r);
        return r;
    }

    std::vector<Node> nodes_;
    std::vector<std::uint32_t> free_;
    std::uint32_t root_ = kNil;
    std::uint64_t rng_ = 0;
};

} // namespace confluex::detail
