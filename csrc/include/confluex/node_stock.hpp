// confluex/node_stock.hpp
//
// Provides NodeStock: spare nodes for a std::map whose keys come and go on the message path
// (a book's overflow levels, the stacked-imbalance price levels), so that an insert there
// takes a node kept from an earlier erase, or made ahead of time by an idle thread, instead
// of allocating.
//
// Design: C++17 node handles. erase() extracts the node into the stock (while it holds fewer
// than N; the stock's capacity is reserved at construction, so keeping a node never
// allocates) and insert() puts a spare node back with the new key and value. reserve_ahead()
// makes nodes by inserting into a scratch map of the same type and extracting them, so they
// come from the map's own allocator. A node handle may be inserted into any map of the same
// type; the stock belongs to one map only by convention.
//
// Threading: none; the owner of the map owns its stock.
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace confluex::detail {

template <class Map, std::size_t N> class NodeStock {
  public:
    using key_type = typename Map::key_type;
    using mapped_type = typename Map::mapped_type;
    using iterator = typename Map::iterator;

    // Throws std::bad_alloc (the stock's capacity).
    NodeStock() { spare_.reserve(N); }

    // NodeStock::insert()
    // Inserts (key, value) into m at `hint`, with a spare node when there is one, and returns
    // its position.
    // REQUIRES: key is not in m. Throws std::bad_alloc when no node is spare and none can be
    // allocated (m unchanged).
    iterator insert(Map& m, iterator hint, const key_type& key, const mapped_type& value) {
        if (spare_.empty()) {
            return m.emplace_hint(hint, key, value);
        }
        typename Map::node_type node = std::move(spare_.back());
        spare_.pop_back();
        node.key() = key;
        node.mapped() = value;
        return m.insert(hint, std::move(node));
    }

    // NodeStock::erase()
    // Erases the element at `it` from m, keeping its node while the stock holds fewer than N.
    void erase(Map& m, iterator it) noexcept {
        if (spare_.size() < N) {
            spare_.push_back(m.extract(it)); // within the reserved capacity
        } else {
            m.erase(it);
        }
    }

    // NodeStock::reserve_ahead()
    // Allocates nodes until the stock holds N / 2 (for an idle thread). Out of memory: stops
    // there, the stock keeps what it has.
    void reserve_ahead() noexcept {
        try {
            Map maker;
            while (spare_.size() < N / 2) {
                maker.try_emplace(key_type{}, mapped_type{});
                spare_.push_back(maker.extract(maker.begin()));
            }
        } catch (const std::bad_alloc&) {
            // The insert that needs a node allocates it, as without the stock.
        }
    }

    // NodeStock::size()
    // Returns the spare nodes held.
    [[nodiscard]] std::size_t size() const noexcept { return spare_.size(); }
    [[nodiscard]] static constexpr std::size_t capacity() noexcept { return N; }

  private:
    std::vector<typename Map::node_type> spare_;
};

} // namespace confluex::detail
