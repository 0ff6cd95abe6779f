// OrderBook: dense tick window + 3-level occupancy bitmap + overflow map per side, with a
// contiguous top-K cache. See confluex/order_book.hpp for the design.
#include "confluex/order_book.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace detail {

namespace {

// Bits 0..b of a word (b in [0, 63]).
constexpr std::uint64_t mask_upto(std::uint64_t b) noexcept {
    return ~std::uint64_t{0} >> (63 - b);
}
// Bits b..63 of a word (b in [0, 63]).
constexpr std::uint64_t mask_from(std::uint64_t b) noexcept { return ~std::uint64_t{0} << b; }
constexpr std::uint64_t msb(std::uint64_t w) noexcept {
    return 63U - static_cast<std::uint64_t>(std::countl_zero(w));
}
constexpr std::uint64_t lsb(std::uint64_t w) noexcept {
    return static_cast<std::uint64_t>(std::countr_zero(w));
}
constexpr std::uint64_t words_for(std::uint64_t bits) noexcept { return (bits + 63) / 64; }

} // namespace

template <bool IsBid>
typename BookSideImpl<IsBid>::LotsArray BookSideImpl<IsBid>::zeroed_lots(std::uint64_t n) {
    void* p = std::calloc(static_cast<std::size_t>(n), sizeof(Lots));
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    return LotsArray(static_cast<Lots*>(p));
}

template <bool IsBid>
BookSideImpl<IsBid>::BookSideImpl(int max_bits, std::size_t top_cache)
    : bits_(std::min(kInitialWindowBits, max_bits)), max_bits_(max_bits),
      size_(std::uint64_t{1} << bits_), qty_(zeroed_lots(size_)), l0_(words_for(size_)),
      l1_(words_for(l0_.size())), l2_(words_for(l1_.size())), cache_cap_(top_cache),
      cache_(new Level[top_cache]()) {}

template <bool IsBid> void BookSideImpl<IsBid>::set_bit(std::uint64_t i) noexcept {
    const std::uint64_t w0 = i >> 6;
    const bool was_empty0 = l0_[w0] == 0;
    l0_[w0] |= std::uint64_t{1} << (i & 63);
    if (was_empty0) {
        word_filled(w0);
    }
}

template <bool IsBid> void BookSideImpl<IsBid>::word_filled(std::uint64_t w0) noexcept {
    const std::uint64_t w1 = w0 >> 6;
    const bool was_empty1 = l1_[w1] == 0;
    l1_[w1] |= std::uint64_t{1} << (w0 & 63);
    if (was_empty1) {
        l2_[w1 >> 6] |= std::uint64_t{1} << (w1 & 63);
    }
}

template <bool IsBid> void BookSideImpl<IsBid>::word_emptied(std::uint64_t w0) noexcept {
    const std::uint64_t w1 = w0 >> 6;
    l1_[w1] &= ~(std::uint64_t{1} << (w0 & 63));
    if (l1_[w1] == 0) {
        l2_[w1 >> 6] &= ~(std::uint64_t{1} << (w1 & 63));
    }
}

template <bool IsBid> std::int64_t BookSideImpl<IsBid>::find_prev(std::int64_t i) const noexcept {
    if (i < 0) {
        return -1;
    }
    const auto u = static_cast<std::uint64_t>(i);
    std::uint64_t w0 = u >> 6;
    std::uint64_t m = l0_[w0] & mask_upto(u & 63);
    if (m != 0) {
        return static_cast<std::int64_t>((w0 << 6) | msb(m));
    }
    if (w0 == 0) {
        return -1;
    }
    const std::uint64_t i1 = w0 - 1;
    std::uint64_t w1 = i1 >> 6;
    m = l1_[w1] & mask_upto(i1 & 63);
    if (m == 0) {
        if (w1 == 0) {
            return -1;
        }
        const std::uint64_t i2 = w1 - 1;
        std::uint64_t w2 = i2 >> 6;
        std::uint64_t m2 = l2_[w2] & mask_upto(i2 & 63);
        while (m2 == 0) {
            if (w2 == 0) {
                return -1;
            }
            m2 = l2_[--w2];
        }
        w1 = (w2 << 6) | msb(m2);
        m = l1_[w1];
    }
    w0 = (w1 << 6) | msb(m);
    return static_cast<std::int64_t>((w0 << 6) | msb(l0_[w0]));
}

template <bool IsBid> std::int64_t BookSideImpl<IsBid>::find_next(std::int64_t i) const noexcept {
    if (i < 0) {
        i = 0;
    }
    const auto u = static_cast<std::uint64_t>(i);
    if (u >= size_) {
        return -1;
    }
    std::uint64_t w0 = u >> 6;
    std::uint64_t m = l0_[w0] & mask_from(u & 63);
    if (m != 0) {
        return static_cast<std::int64_t>((w0 << 6) | lsb(m));
    }
    const std::uint64_t i1 = w0 + 1;
    if (i1 >= l0_.size()) {
        return -1;
    }
    std::uint64_t w1 = i1 >> 6;
    m = l1_[w1] & mask_from(i1 & 63);
    if (m == 0) {
        const std::uint64_t i2 = w1 + 1;
        if (i2 >= l1_.size()) {
            return -1;
        }
        std::uint64_t w2 = i2 >> 6;
        std::uint64_t m2 = l2_[w2] & mask_from(i2 & 63);
        while (m2 == 0) {
            if (++w2 >= l2_.size()) {
                return -1;
            }
            m2 = l2_[w2];
        }
        w1 = (w2 << 6) | lsb(m2);
        m = l1_[w1];
    }
    w0 = (w1 << 6) | lsb(m);
    return static_cast<std::int64_t>((w0 << 6) | lsb(l0_[w0]));
}

template <bool IsBid> Ticks BookSideImpl<IsBid>::window_best() const noexcept {
    const std::int64_t i = IsBid ? find_prev(static_cast<std::int64_t>(size_) - 1) : find_next(0);
    return i < 0 ? kNoPrice : base_ + i;
}

template <bool IsBid> Ticks BookSideImpl<IsBid>::window_next_worse(Ticks px) const noexcept {
    const std::uint64_t idx = index_of(px);
    std::int64_t i = -1;
    if (idx < size_) {
        i = IsBid ? find_prev(static_cast<std::int64_t>(idx) - 1)
                  : find_next(static_cast<std::int64_t>(idx) + 1);
    } else if (better(px, base_)) {
        // px lies beyond the window's best end: every window level is worse.
        return window_best();
    }
    return i < 0 ? kNoPrice : base_ + i;
}

template <bool IsBid> inline void BookSideImpl<IsBid>::set(Ticks px, Lots qty) noexcept {
    const std::uint64_t idx = index_of(px);
    if (idx >= size_) [[unlikely]] {
        set_overflow(px, qty);
        return;
    }
    // Occupancy comes from the bitmap (16 KiB, cache-resident), not from qty_[idx]: the
    // window is 1 MiB per side and most updates are far from the top, so loading the old size
    // would put a cache miss on the critical path, while a blind store retires through the
    // store buffer.
    std::uint64_t& word = l0_[idx >> 6];
    const std::uint64_t bit = std::uint64_t{1} << (idx & 63);
    if (band_valid_ &&
        static_cast<std::uint64_t>(px) - static_cast<std::uint64_t>(band_a_) <=
            static_cast<std::uint64_t>(band_b_) - static_cast<std::uint64_t>(band_a_)) {
        // Inside the tracked band (near the top, cache-resident): the old size is needed.
        // An empty slot holds 0, so a delete of an absent level adds 0.
        band_sum_ += static_cast<std::uint64_t>(qty) - static_cast<std::uint64_t>(qty_[idx]);
    }
    // Updates of existing levels, inserts and deletes come mixed in no predictable order: the
    // occupancy bit and the count change without a branch on which one this is; only a
    // transition of a bitmap word between empty and non-empty (rare) touches the upper levels.
    const std::uint64_t old_word = word;
    const bool had = (old_word & bit) != 0;
    const bool has = qty != 0;
    if (!had && !has) [[unlikely]] {
        return; // delete of a level the book does not have
    }
    qty_[idx] = qty;
    const std::uint64_t new_word =
        old_word ^ (bit & (std::uint64_t{0} - static_cast<std::uint64_t>(had != has)));
    word = new_word;
    if ((old_word == 0) != (new_word == 0)) [[unlikely]] {
        if (new_word != 0) {
            word_filled(idx >> 6);
        } else {
            word_emptied(idx >> 6);
        }
    }
    count_ = count_ + static_cast<std::size_t>(has) - static_cast<std::size_t>(had);
    if (has) {
        if (best_ == kNoPrice || better(px, best_)) [[unlikely]] {
            best_ = px;
        }
    } else if (px == best_) [[unlikely]] {
        best_deleted(px);
    }
    update_cache(px, qty);
}

template <bool IsBid> void BookSideImpl<IsBid>::set_overflow(Ticks px, Lots qty) noexcept {
    // Within the largest window centred where this one is ([base + W/2 - M/2, base + W/2 + M/2)
    // for M = 2^max_bits, unsigned wrap-around): a level a grown window would hold.
    const std::uint64_t max_size = std::uint64_t{1} << max_bits_;
    if (index_of(px) + (max_size - size_) / 2 < max_size) {
        ++near_misses_;
        if (best_ != kNoPrice) {
            const std::uint64_t reach =
                static_cast<std::uint64_t>(px > best_ ? px - best_ : best_ - px);
            miss_reach_ = std::max(miss_reach_, reach);
        }
    }
    if (qty != 0) {
        const auto it = overflow_.lower_bound(px);
        if (it != overflow_.end() && it->first == px) {
            it->second = qty;
        } else {
            // A spare node, else a map node allocation (bad_alloc terminates, as on any
            // noexcept path).
            spare_.insert(overflow_, it, px, qty);
            ++count_;
        }
        if (best_ == kNoPrice || better(px, best_)) {
            best_ = px;
        }
    } else {
        const auto it = overflow_.find(px);
        if (it == overflow_.end()) {
            return;
        }
        spare_.erase(overflow_, it);
        --count_;
        if (px == best_) {
            best_deleted(px);
        }
    }
    update_cache(px, qty);
}

template <bool IsBid> void BookSideImpl<IsBid>::best_deleted(Ticks px) noexcept {
    // px was the best, so every remaining level is worse: the next best is the better of the
    // window's next level past px and the overflow's best.
    const Ticks w = window_next_worse(px);
    const Ticks o = overflow_.empty() ? kNoPrice : overflow_.begin()->first;
    best_ = (w == kNoPrice) ? o : (o == kNoPrice || better(w, o)) ? w : o;
}

template <bool IsBid> void BookSideImpl<IsBid>::patch_cache(Ticks px, Lots qty) noexcept {
    // REQUIRES (update_cache): cache clean, and px not strictly worse than the last cached
    // level of an incomplete cache (such a level cannot enter the top K).
    Level* c = cache_.get();
    std::size_t n = cache_n_;
    // First slot whose price is not better than px (the cache is sorted best first, so
    // better(c[i].px, px) holds exactly below it): a linear scan from the last patch's slot,
    // towards the worse end when the slot before it is still better than px, else towards the
    // best end. A message's levels come sorted by price (Binance: both sides ascending), so
    // consecutive patches of one side land a few slots apart.
    std::size_t pos = std::min(cache_hint_, n);
    if (pos == 0 || better(c[pos - 1].px, px)) {
        while (pos < n && better(c[pos].px, px)) {
            ++pos;
        }
    } else {
        --pos; // !better(c[pos].px, px)
        while (pos > 0 && !better(c[pos - 1].px, px)) {
            --pos;
        }
    }
    cache_hint_ = pos;
    if (pos < n && c[pos].px == px) {
        if (qty != 0) {
            c[pos].qty = qty;
            return;
        }
        std::memmove(c + pos, c + pos + 1, (n - pos - 1) * sizeof(Level));
        cache_n_ = --n;
        if (n == 0 && !cache_complete_) {
            cache_dirty_ = true;
        }
        return;
    }
    if (qty == 0) {
        return; // delete of a level the book did not have
    }
    if (n == cache_cap_) {
        cache_complete_ = false;
        if (pos == n) {
            return;
        }
        --n; // the last cached level falls out of the top K
    }
    std::memmove(c + pos + 1, c + pos, (n - pos) * sizeof(Level));
    c[pos] = Level{px, qty};
    cache_n_ = n + 1;
}

template <bool IsBid>
template <class F>
void BookSideImpl<IsBid>::for_each_best_first(F&& f) const {
    auto it = overflow_.begin();
    const auto end = overflow_.end();
    // Overflow levels beyond the window's best end come first.
    for (; it != end && index_of(it->first) >= size_ && better(it->first, base_); ++it) {
        if (!f(Level{it->first, it->second})) {
            return;
        }
    }
    if (IsBid) {
        for (std::int64_t i = find_prev(static_cast<std::int64_t>(size_) - 1); i >= 0;
             i = find_prev(i - 1)) {
            if (!f(Level{base_ + i, qty_[static_cast<std::size_t>(i)]})) {
                return;
            }
        }
    } else {
        for (std::int64_t i = find_next(0); i >= 0; i = find_next(i + 1)) {
            if (!f(Level{base_ + i, qty_[static_cast<std::size_t>(i)]})) {
                return;
            }
        }
    }
    for (; it != end; ++it) {
        if (!f(Level{it->first, it->second})) {
            return;
        }
    }
}

template <bool IsBid> void BookSideImpl<IsBid>::rebuild_cache() const {
    std::size_t n = 0;
    Level* c = cache_.get();
    const std::size_t cap = cache_cap_;
    for_each_best_first([&](Level l) {
        c[n++] = l;
        return n < cap;
    });
    cache_n_ = n;
    cache_complete_ = n == count_;
    cache_dirty_ = false;
}

template <bool IsBid> const Level* BookSideImpl<IsBid>::top(std::size_t n, std::size_t& got) const {
    const std::size_t need = std::min(n, cache_cap_);
    if (cache_dirty_ || (cache_n_ < need && !cache_complete_)) {
        rebuild_cache();
    }
    got = std::min(need, cache_n_);
    return cache_.get();
}

template <bool IsBid> std::size_t BookSideImpl<IsBid>::copy_top(std::size_t n, Level* out) const {
    if (n <= cache_cap_) {
        std::size_t got = 0;
        const Level* c = top(n, got);
        std::copy_n(c, got, out);
        return got;
    }
    std::size_t k = 0;
    for_each_best_first([&](Level l) {
        out[k++] = l;
        return k < n;
    });
    return k;
}

template <bool IsBid> Lots BookSideImpl<IsBid>::depth(std::size_t n) const {
    Lots sum = 0;
    if (n <= cache_cap_) {
        std::size_t got = 0;
        const Level* c = top(n, got);
        for (std::size_t i = 0; i < got; ++i) {
            sum += c[i].qty;
        }
        return sum;
    }
    std::size_t k = 0;
    for_each_best_first([&](Level l) {
        sum += l.qty;
        return ++k < n;
    });
    return sum;
}

template <bool IsBid>
std::uint64_t BookSideImpl<IsBid>::scan_window(Ticks a, Ticks b) const noexcept {
    // REQUIRES: base_ <= a <= b < base_ + W.
    // Walk the occupied level-0 words of [a, b], found through level 1 (one bit per level-0
    // word): one masked word per 4,096 ticks plus one countr_zero per occupied word and level,
    // so a wide band (the liquidity bands reach 5 % of mid: 320,000 ticks on BTCUSDT spot) costs
    // what it holds, not its width.
    std::uint64_t sum = 0;
    const auto ia = static_cast<std::uint64_t>(a - base_);
    const auto ib = static_cast<std::uint64_t>(b - base_);
    // The bits of word w (of one bitmap level) inside the index range [lo, hi] of that level.
    const auto clip = [](std::uint64_t m, std::uint64_t w, std::uint64_t lo, std::uint64_t hi) {
        if (w == lo >> 6) {
            m &= mask_from(lo & 63);
        }
        if (w == hi >> 6) {
            m &= mask_upto(hi & 63);
        }
        return m;
    };
    const std::uint64_t wa = ia >> 6;
    const std::uint64_t wb = ib >> 6;
    for (std::uint64_t w1 = wa >> 6; w1 <= (wb >> 6); ++w1) {
        for (std::uint64_t m1 = clip(l1_[w1], w1, wa, wb); m1 != 0; m1 &= m1 - 1) {
            const std::uint64_t w = (w1 << 6) | lsb(m1);
            for (std::uint64_t m = clip(l0_[w], w, ia, ib); m != 0; m &= m - 1) {
                sum +=
                    static_cast<std::uint64_t>(qty_[static_cast<std::size_t>((w << 6) | lsb(m))]);
            }
        }
    }
    return sum;
}

template <bool IsBid> Lots BookSideImpl<IsBid>::depth_within(Ticks lo, Ticks hi) const {
    if (lo > hi) {
        return 0;
    }
    std::uint64_t sum = 0;
    const Ticks wlast = base_ + static_cast<Ticks>(size_ - 1); // no overflow: base_ <= max - W
    const Ticks a = std::max(lo, base_);
    const Ticks b = std::min(hi, wlast);
    if (a <= b) {
        const Ticks c = band_a_;
        const Ticks d = band_b_;
        if (band_valid_ && a <= d && c <= b) {
            // Overlapping the tracked band: drop the ticks that left it, add those that entered.
            sum = band_sum_;
            if (c < a) {
                sum -= scan_window(c, a - 1);
            }
            if (b < d) {
                sum -= scan_window(b + 1, d);
            }
            if (a < c) {
                sum += scan_window(a, c - 1);
            }
            if (d < b) {
                sum += scan_window(d + 1, b);
            }
        } else {
            sum = scan_window(a, b);
        }
        band_a_ = a;
        band_b_ = b;
        band_sum_ = sum;
        band_valid_ = true;
    }
    // Overflow keys are all outside the window, so the whole [lo, hi] range of the map counts
    // (none of it when [lo, hi] lies inside the window).
    if (lo < base_ || hi > wlast) {
        if (IsBid) {
            for (auto it = overflow_.lower_bound(hi); it != overflow_.end() && it->first >= lo;
                 ++it) {
                sum += static_cast<std::uint64_t>(it->second);
            }
        } else {
            for (auto it = overflow_.lower_bound(lo); it != overflow_.end() && it->first <= hi;
                 ++it) {
                sum += static_cast<std::uint64_t>(it->second);
            }
        }
    }
    return static_cast<Lots>(sum);
}

template <bool IsBid> Lots BookSideImpl<IsBid>::qty_at(Ticks px) const noexcept {
    const std::uint64_t idx = index_of(px);
    if (idx < size_) {
        return qty_[idx];
    }
    const auto it = overflow_.find(px);
    return it == overflow_.end() ? 0 : it->second;
}

template <bool IsBid> bool BookSideImpl<IsBid>::needs_recenter() const noexcept {
    if (best_ == kNoPrice) {
        return false;
    }
    const std::uint64_t idx = index_of(best_);
    const std::uint64_t margin = size_ / 8;
    return idx < margin || idx >= size_ - margin;
}

template <bool IsBid> void BookSideImpl<IsBid>::relayout(Ticks center, int bits) {
    assert(bits >= bits_ && bits <= max_bits_);
    const std::uint64_t new_size = std::uint64_t{1} << bits;
    const auto half = static_cast<Ticks>(new_size / 2);
    const Ticks max_base = std::numeric_limits<Ticks>::max() - static_cast<Ticks>(new_size);
    // center - half cannot underflow: prices are positive, half <= 2^23.
    const Ticks new_base = std::min(center - half, max_base);
    if (new_base == base_ && bits == bits_) {
        return;
    }
    band_valid_ = false; // levels may move between the window and the overflow map
    const bool resized = bits != bits_;
    scratch_.clear();
    for (std::int64_t i = find_next(0); i >= 0; i = find_next(i + 1)) {
        scratch_.push_back(Level{base_ + i, qty_[static_cast<std::size_t>(i)]});
    }
    if (resized) {
        // New zeroed arrays; the old ones are freed (the levels are in scratch_).
        qty_ = zeroed_lots(new_size);
        l0_.assign(words_for(new_size), 0);
        l1_.assign(words_for(l0_.size()), 0);
        l2_.assign(words_for(l1_.size()), 0);
        l0_.shrink_to_fit();
        l1_.shrink_to_fit();
        l2_.shrink_to_fit();
        bits_ = bits;
        size_ = new_size;
    } else {
        clear_window();
    }
    base_ = new_base;
    if (resized) {
        prefault(center); // fresh pages: make the band around the centre resident now
    }
    for (auto it = overflow_.begin(); it != overflow_.end();) {
        const std::uint64_t idx = index_of(it->first);
        if (idx < size_) {
            qty_[idx] = it->second;
            set_bit(idx);
            it = overflow_.erase(it);
        } else {
            ++it;
        }
    }
    for (const Level& l : scratch_) {
        const std::uint64_t idx = index_of(l.px);
        if (idx < size_) {
            qty_[idx] = l.qty;
            set_bit(idx);
        } else {
            overflow_.emplace(l.px, l.qty);
        }
    }
    // Levels, best and top cache are unchanged: only their storage moved.
}

template <bool IsBid> void BookSideImpl<IsBid>::prefault(Ticks center) noexcept {
    // One write per page makes it resident (a private zeroed page) now, at a rebuild, instead
    // of as a page fault (~2 us on a VM, with a 4 KiB clear) under the first level a message
    // sets in it.
    // The write goes through a volatile pointer: the compiler knows calloc'd memory is zero
    // and would drop a plain store of 0.
    constexpr std::uint64_t kPage = 4096 / sizeof(Lots);
    const std::uint64_t c = std::min(index_of(center), size_ - 1);
    const std::uint64_t half = std::min(size_, kPrefaultTicks) / 2;
    const std::uint64_t lo = c > half ? c - half : 0;
    const std::uint64_t hi = std::min(size_, lo + 2 * half);
    for (std::uint64_t i = lo - lo % kPage; i < hi; i += kPage) {
        // Each page holds zeros or levels: rewriting what it holds changes nothing.
        volatile Lots* slot = qty_.get() + i;
        *slot = *slot;
    }
}

template <bool IsBid> void BookSideImpl<IsBid>::clear_window() noexcept {
    // Visits only the bitmap words that hold levels (l2 -> l1 -> l0): O(levels), not O(window),
    // whose bitmap is 128 KiB at 2^20 ticks (a resync, and every input of the fuzz targets,
    // would otherwise clear all of it).
    for (std::size_t w2 = 0; w2 < l2_.size(); ++w2) {
        for (std::uint64_t m2 = l2_[w2]; m2 != 0; m2 &= m2 - 1) {
            const std::uint64_t w1 = (w2 << 6) | lsb(m2);
            for (std::uint64_t m1 = l1_[w1]; m1 != 0; m1 &= m1 - 1) {
                const std::uint64_t w0 = (w1 << 6) | lsb(m1);
                for (std::uint64_t m0 = l0_[w0]; m0 != 0; m0 &= m0 - 1) {
                    qty_[(w0 << 6) | lsb(m0)] = 0;
                }
                l0_[w0] = 0;
            }
            l1_[w1] = 0;
        }
        l2_[w2] = 0;
    }
}

template <bool IsBid> void BookSideImpl<IsBid>::clear() noexcept {
    clear_window();
    overflow_.clear();
    band_valid_ = false;
    count_ = 0;
    best_ = kNoPrice;
    cache_n_ = 0;
    cache_complete_ = true;
    cache_dirty_ = false;
}

template <bool IsBid> std::size_t BookSideImpl<IsBid>::memory_bytes() const noexcept {
    constexpr std::size_t kMapNode = 48; // red-black node: 3 pointers + colour + key/value
    return static_cast<std::size_t>(size_) * sizeof(Lots) +
           (l0_.capacity() + l1_.capacity() + l2_.capacity()) * sizeof(std::uint64_t) +
           cache_cap_ * sizeof(Level) + (overflow_.size() + spare_.size()) * kMapNode +
           spare_.capacity() * sizeof(typename OverflowMap::node_type) +
           scratch_.capacity() * sizeof(Level);
}

template class BookSideImpl<true>;
template class BookSideImpl<false>;

} // namespace detail

// --- OrderBook ---------------------------------------------------------------------------------

BookConfig OrderBook::validated(BookConfig cfg) {
    if (cfg.window_bits < 8 || cfg.window_bits > 24) {
        throw InvalidConfig("window_bits must be in [8, 24], was " +
                            std::to_string(cfg.window_bits));
    }
    if (cfg.top_cache < 1 || cfg.top_cache > 4096) {
        throw InvalidConfig("top_cache must be in [1, 4096], was " + std::to_string(cfg.top_cache));
    }
    return cfg;
}

OrderBook::OrderBook(BookConfig cfg)
    : cfg_(validated(cfg)), bids_(cfg.window_bits, cfg.top_cache),
      asks_(cfg.window_bits, cfg.top_cache), reason_(DesyncReason::NoSnapshot) {}

void OrderBook::throw_invalid_level(Ticks px, Lots qty) {
    if (px <= 0) {
        throw InvalidEvent("price must be positive, was " + std::to_string(px));
    }
    if (qty < 0) {
        throw InvalidEvent("qty must be non-negative, was " + std::to_string(qty) + " (at price " +
                           std::to_string(px) + ")");
    }
    throw InvalidEvent("level is valid, was reported invalid (px " + std::to_string(px) + ")");
}

namespace {

void check_unique(std::span<const Level> side, std::vector<Ticks>& scratch, const char* name) {
    scratch.clear();
    for (const Level& l : side) {
        scratch.push_back(l.px);
    }
    std::sort(scratch.begin(), scratch.end());
    const auto dup = std::adjacent_find(scratch.begin(), scratch.end());
    if (dup != scratch.end()) {
        throw InvalidEvent(std::string("snapshot has a duplicate ") + name + " price, was " +
                           std::to_string(*dup));
    }
}

} // namespace

void OrderBook::apply_snapshot(std::span<const Level> bids, std::span<const Level> asks,
                               std::int64_t update_id) {
    Ticks bb = kNoPrice;
    Ticks ba = kNoPrice;
    for (const Level& l : bids) {
        validate_level(l.px, l.qty);
        if (l.qty != 0 && (bb == kNoPrice || l.px > bb)) {
            bb = l.px;
        }
    }
    for (const Level& l : asks) {
        validate_level(l.px, l.qty);
        if (l.qty != 0 && (ba == kNoPrice || l.px < ba)) {
            ba = l.px;
        }
    }
    std::vector<Ticks> scratch;
    scratch.reserve(std::max(bids.size(), asks.size()));
    check_unique(bids, scratch, "bid");
    check_unique(asks, scratch, "ask");
    if (bb != kNoPrice && ba != kNoPrice && bb >= ba) {
        throw BookCrossed("snapshot is crossed: best bid " + std::to_string(bb) +
                          " >= best ask, was " + std::to_string(ba));
    }

    bids_.clear();
    asks_.clear();
    bids_.invalidate_cache();
    asks_.invalidate_cache();
    const Ticks center = (bb != kNoPrice && ba != kNoPrice) ? bb + (ba - bb) / 2
                         : (bb != kNoPrice)                 ? bb
                                                            : ba;
    if (center != kNoPrice) {
        // A book that gets a snapshot is live: its windows take their largest size now, out
        // of the stream's way. Diff updates land far beyond a snapshot's depth (real BTCUSDT
        // USD-M: 95 % of a 1,000-level snapshot within ~1,400 ticks of the mid, 5.5 % of the
        // updates beyond 131,000 and some at 600,000); each one a window misses costs an
        // overflow-map node, and growing by rebuilds mid-stream costs a copy of the book each.
        // The sizes are calloc'd (see Design): only pages that hold levels become resident.
        counters_.resizes += static_cast<std::uint64_t>(bids_.bits() != bids_.max_bits()) +
                             static_cast<std::uint64_t>(asks_.bits() != asks_.max_bits());
        bids_.relayout(center, bids_.max_bits());
        asks_.relayout(center, asks_.max_bits());
    }
    for (const Level& l : bids) {
        bids_.set(l.px, l.qty);
    }
    for (const Level& l : asks) {
        asks_.set(l.px, l.qty);
    }
    bids_.reset_growth(counters_.levels_applied);
    asks_.reset_growth(counters_.levels_applied);
    last_update_id_ = update_id;
    state_ = SyncState::Synced;
    reason_ = DesyncReason::None;
    awaiting_first_ = true;
    ++counters_.snapshots;
}

ApplyResult OrderBook::check_sequence(std::int64_t update_id,
                                      std::int64_t prev_update_id) const noexcept {
    if (state_ != SyncState::Synced) {
        return ApplyResult::NotSynced;
    }
    if (prev_update_id == kNoUpdateId) {
        return ApplyResult::Applied;
    }
    if (update_id <= last_update_id_) {
        return ApplyResult::Stale;
    }
    // Unsigned difference: update_id > last_update_id_ >= kNoUpdateId, so it cannot wrap.
    if (last_update_id_ != kNoUpdateId &&
        static_cast<std::uint64_t>(update_id) - static_cast<std::uint64_t>(last_update_id_) >
            static_cast<std::uint64_t>(kMaxUpdateIdJump)) {
        return ApplyResult::IdJump;
    }
    if (awaiting_first_) {
        return prev_update_id <= last_update_id_ ? ApplyResult::Applied : ApplyResult::Gap;
    }
    if (prev_update_id == last_update_id_) {
        return ApplyResult::Applied;
    }
    return prev_update_id > last_update_id_ ? ApplyResult::Gap : ApplyResult::Overlap;
}

ApplyResult OrderBook::apply_delta(std::span<const Level> bids, std::span<const Level> asks,
                                   std::int64_t update_id, std::int64_t prev_update_id) {
    for (const Level& l : bids) {
        validate_level(l.px, l.qty);
    }
    for (const Level& l : asks) {
        validate_level(l.px, l.qty);
    }
    const ApplyResult r = check_sequence(update_id, prev_update_id);
    if (r != ApplyResult::Applied) {
        return reject(r);
    }
    for (const Level& l : bids) {
        bids_.set(l.px, l.qty);
    }
    for (const Level& l : asks) {
        asks_.set(l.px, l.qty);
    }
    counters_.levels_applied += bids.size() + asks.size();
    return commit(update_id);
}

ApplyResult OrderBook::apply_delta_records(const BookLevelEvent* ev, std::size_t n,
                                           std::int64_t update_id,
                                           std::int64_t prev_update_id) noexcept {
    const ApplyResult r = check_sequence(update_id, prev_update_id);
    if (r != ApplyResult::Applied) {
        return reject(r);
    }
    std::uint64_t levels = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const BookLevelEvent& e = ev[i];
        if ((e.flags & book_flags::kNoLevel) != 0) {
            continue;
        }
        assert(e.side <= 1 && e.px_ticks > 0 && e.qty_lots >= 0);
        if (e.side == 0) {
            bids_.set(e.px_ticks, e.qty_lots);
        } else {
            asks_.set(e.px_ticks, e.qty_lots);
        }
        ++levels;
    }
    counters_.levels_applied += levels;
    return commit(update_id);
}

ApplyResult OrderBook::reject(ApplyResult r) noexcept {
    switch (r) {
    case ApplyResult::Stale:
        ++counters_.stale_ignored;
        break;
    case ApplyResult::NotSynced:
        ++counters_.not_synced_ignored;
        break;
    case ApplyResult::Gap:
        mark_out_of_sync(DesyncReason::Gap);
        break;
    case ApplyResult::Overlap:
        mark_out_of_sync(DesyncReason::Overlap);
        break;
    case ApplyResult::IdJump:
        mark_out_of_sync(DesyncReason::IdJump);
        break;
    case ApplyResult::Applied:
    case ApplyResult::Crossed:
        break;
    }
    return r;
}

void OrderBook::set_level(BookSide side, Ticks px, Lots qty) noexcept {
    assert(px > 0 && qty >= 0);
    if (side == BookSide::Bid) {
        bids_.set(px, qty);
    } else {
        asks_.set(px, qty);
    }
    ++counters_.levels_applied;
}

void OrderBook::maybe_recenter() noexcept {
    // Rebuilds allocate for levels moving to the overflow map and for a grown window
    // (bad_alloc terminates, as for any allocation on a noexcept path).
    const std::uint64_t levels = counters_.levels_applied;
    if (const int bits = bids_.check_grow(levels); bits != 0 && bids_.best() != kNoPrice) {
        bids_.relayout(bids_.best(), bits);
        ++counters_.resizes;
    }
    if (const int bits = asks_.check_grow(levels); bits != 0 && asks_.best() != kNoPrice) {
        asks_.relayout(asks_.best(), bits);
        ++counters_.resizes;
    }
    if (bids_.needs_recenter()) {
        bids_.recenter(bids_.best());
        ++counters_.recenters;
    }
    if (asks_.needs_recenter()) {
        asks_.recenter(asks_.best());
        ++counters_.recenters;
    }
}

ApplyResult OrderBook::commit(std::int64_t update_id) noexcept {
    if (update_id != kNoUpdateId) {
        last_update_id_ = update_id;
    }
    awaiting_first_ = false;
    ++counters_.messages_applied;
    maybe_recenter();
    const Ticks bb = bids_.best();
    const Ticks ba = asks_.best();
    if (bb != kNoPrice && ba != kNoPrice && bb >= ba) {
        mark_out_of_sync(DesyncReason::Crossed);
        return ApplyResult::Crossed;
    }
    return ApplyResult::Applied;
}

void OrderBook::mark_out_of_sync(DesyncReason reason) noexcept {
    state_ = SyncState::OutOfSync;
    reason_ = reason;
    switch (reason) {
    case DesyncReason::Gap:
        ++counters_.gaps;
        break;
    case DesyncReason::Overlap:
        ++counters_.overlaps;
        break;
    case DesyncReason::Crossed:
        ++counters_.crossed;
        break;
    case DesyncReason::IdJump:
        ++counters_.id_jumps;
        break;
    default:
        break;
    }
}

void OrderBook::clear() noexcept {
    bids_.clear();
    asks_.clear();
    last_update_id_ = kNoUpdateId;
    state_ = SyncState::Empty;
    reason_ = DesyncReason::NoSnapshot;
    awaiting_first_ = false;
}

std::optional<Level> OrderBook::best_bid() const noexcept {
    const Ticks px = bids_.best();
    if (px == kNoPrice) {
        return std::nullopt;
    }
    return Level{px, bids_.qty_at(px)};
}

std::optional<Level> OrderBook::best_ask() const noexcept {
    const Ticks px = asks_.best();
    if (px == kNoPrice) {
        return std::nullopt;
    }
    return Level{px, asks_.qty_at(px)};
}

BookView OrderBook::top(std::size_t n) const {
    BookView v;
    v.bids = bids_.top(n, v.n_bids);
    v.asks = asks_.top(n, v.n_asks);
    return v;
}

std::size_t OrderBook::copy_top(BookSide side, std::size_t n, Level* out) const {
    return side == BookSide::Bid ? bids_.copy_top(n, out) : asks_.copy_top(n, out);
}

Lots OrderBook::depth(BookSide side, std::size_t n_levels) const {
    return side == BookSide::Bid ? bids_.depth(n_levels) : asks_.depth(n_levels);
}

Lots OrderBook::depth_within(BookSide side, Ticks lo, Ticks hi) const {
    return side == BookSide::Bid ? bids_.depth_within(lo, hi) : asks_.depth_within(lo, hi);
}

Lots OrderBook::level_qty(BookSide side, Ticks px) const noexcept {
    return side == BookSide::Bid ? bids_.qty_at(px) : asks_.qty_at(px);
}

std::size_t OrderBook::level_count(BookSide side) const noexcept {
    return side == BookSide::Bid ? bids_.count() : asks_.count();
}

std::size_t OrderBook::memory_bytes() const noexcept {
    return sizeof(*this) + bids_.memory_bytes() + asks_.memory_bytes();
}

std::size_t apply_messages(OrderBook& book, std::span<const Level> levels,
                           std::span<const DepthMessage> msgs, std::span<ApplyResult> results) {
    assert(results.size() >= msgs.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        if (msgs[i].n_bids < 0 || msgs[i].n_asks < 0) {
            throw InvalidEvent("message " + std::to_string(i) +
                               " has a negative level count, was " +
                               std::to_string(std::min(msgs[i].n_bids, msgs[i].n_asks)));
        }
        total +=
            static_cast<std::uint64_t>(msgs[i].n_bids) + static_cast<std::uint64_t>(msgs[i].n_asks);
        if (total > levels.size()) {
            break;
        }
    }
    if (total != levels.size()) {
        throw InvalidEvent("message level counts must add up to the " +
                           std::to_string(levels.size()) + " levels given, was " +
                           (total > levels.size() ? "more" : std::to_string(total)));
    }
    std::size_t applied = 0;
    std::size_t off = 0;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        const auto nb = static_cast<std::size_t>(msgs[i].n_bids);
        const auto na = static_cast<std::size_t>(msgs[i].n_asks);
        results[i] = book.apply_delta(levels.subspan(off, nb), levels.subspan(off + nb, na),
                                      msgs[i].update_id, msgs[i].prev_update_id);
        applied += results[i] == ApplyResult::Applied ? 1U : 0U;
        off += nb + na;
    }
    return applied;
}

} // namespace confluex
