// confluex/order_book.hpp
//
// Provides OrderBook: an L2 (price-level) book of integer ticks and lots with exchange
// sequence-number tracking (Binance-style snapshot + diff-depth synchronisation), O(1) best
// bid/ask, a contiguous best-first top-K view for the signal kernels, and depth queries.
//
// Design:
//   - Each side keeps a dense window of 2^bits tick slots (one int64 size per tick) and
//     a 3-level occupancy bitmap over it, so applying a level is one store plus one or more
//     bit updates, and the next level from any price is found by a few bit scans. Levels
//     outside the window (real feeds carry bids at 1000.00 when the price is 62000) live in a
//     per-side overflow std::map. The window is placed around the first snapshot's mid and is
//     re-centred on the side's best price (a rebuild, counted in `recenters`) when that best
//     comes within 1/8 of the window edge or leaves the window; it is never re-centred in the
//     middle of a message, only by commit() and apply_snapshot().
//   - The window is sized to the book, up to 2^window_bits (the config is the maximum): a new
//     book starts at 2^kInitialWindowBits ticks per side (16 KiB of sizes for both sides); a
//     snapshot (the book is live) takes both sides to the maximum at once, because diff updates
//     keep landing far beyond a snapshot's depth (real BTCUSDT USD-M: 95 % of the snapshot
//     within ~1,400 ticks of the mid, 5.5 % of the updates beyond 131,000 ticks) and each one a
//     window misses costs an overflow-map node (~95 ns per USD-M depth message at 2^17, the
//     old default maximum); a book fed without a snapshot grows in one rebuild (counted in
//     `resizes`) once at least 1/32 of its level updates since the last check landed in the
//     overflow map at prices the largest window, centred where this one is, would hold: to the
//     size that holds the farthest of them. Levels beyond that never grow it; a window never
//     shrinks. The sizes are allocated zeroed by calloc (fresh pages), so only pages holding
//     levels become resident, plus the 2^17 ticks around the centre that a resize makes
//     resident at once (prefault(): a page fault costs ~2 us on a VM, and would be taken
//     under the first level a message sets in the page): an idle symbol costs ~20 KiB, a
//     synced BTCUSDT book at 2^20 ticks per side (16 MiB of address space) 3.7 MiB (USD-M)
//     to 7.9 MiB (spot). The per-level hot path is unchanged
//     (the size is a member, not a template constant).
//   - Each side keeps its best price (maintained on every set_level(); a delete of the best
//     rescans the bitmap from that price) and a small contiguous best-first cache of its best
//     K = top_cache levels. The cache is patched in place when a level inside it changes
//     (size update, insert, delete); an update strictly worse than the last cached level of a
//     full cache leaves it untouched, so the ~95 % of Binance updates far from the top cost
//     nothing there. It is rebuilt lazily (mutable + dirty flag) by the next read that needs
//     more levels than it holds.
//   - No allocation on the hot path for in-window levels: all arrays are sized at
//     construction. Overflow levels take map nodes from a per-side NodeStock of 64 (a deleted
//     overflow level gives its node back), which reserve_ahead() tops up while the engine is
//     idle, so an overflow insert on the message path allocates only when more of them
//     arrive between two idle moments than the stock holds; snapshots and re-centring use a
//     scratch vector kept by the book.
//
// Threading: single writer. Every method, including the const readers (they may rebuild the
// mutable top-K cache), must be called from the one thread that owns the book. A book may be
// moved to another thread between calls with the usual happens-before hand-off.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "confluex/node_stock.hpp"
#include "confluex/prefetch.hpp"
#include "confluex/types.hpp"

namespace confluex {

enum class SyncState : std::uint8_t { Empty = 0, Synced = 1, OutOfSync = 2 };

// Why a book left the Synced state (the reason of the last mark_out_of_sync()).
enum class DesyncReason : std::uint8_t {
    None = 0,
    NoSnapshot = 1, // deltas arrived before any snapshot
    Gap = 2,        // a delta skipped update ids
    Overlap = 3,    // a delta re-applied ids partly seen (not contiguous, not stale)
    Crossed = 4,    // best bid >= best ask after a message
    Manual = 5,     // the caller asked for a resync
    IdJump = 6,     // a delta's ids jumped further than kMaxUpdateIdJump (a corrupt id)
    Stalled = 7,    // synced, but depth kept arriving and none of it applied (FeedSession)
};

// The outcome of offering one depth message to the book.
enum class ApplyResult : std::uint8_t {
    Applied = 0,   // levels set, book in sync
    Stale = 1,     // update_id <= last_update_id: an old or redelivered message, ignored
    NotSynced = 2, // the book is Empty or OutOfSync: waiting for a snapshot, ignored
    Gap = 3,       // ids missing: book marked OutOfSync(Gap), nothing applied
    Overlap = 4,   // ids overlap the applied ones: book marked OutOfSync(Overlap), nothing applied
    Crossed = 5,   // levels applied but the book crossed: marked OutOfSync(Crossed)
    IdJump = 6, // update_id > last_update_id + kMaxUpdateIdJump: OutOfSync(IdJump), nothing applied
};

// The largest forward jump of update ids one depth message may make past the book's last
// applied id. Real ids move by far less: at most 1,465 per spot message and 320,098 per USD-M
// message (whose ids are shared by every symbol) in the hftbacktest captures, about 1e10 a day
// venue-wide. One message with a corrupt final id (say 2^63 - 1) would otherwise be applied and
// make every later message Stale: a frozen book that still says Synced. 2^40 (1.1e12) is over
// 100 days of a venue's ids, yet far below any corrupt id that could freeze the book for long.
inline constexpr std::int64_t kMaxUpdateIdJump = std::int64_t{1} << 40;

struct BookConfig {
    int window_bits = 17;       // largest dense window: 2^window_bits ticks per side, in [8, 24]
    std::size_t top_cache = 64; // levels per side in the contiguous top cache, in [1, 4096]
};

// Monotonic event counters of one book (never reset, not even by clear()).
struct BookCounters {
    std::uint64_t snapshots = 0;
    std::uint64_t messages_applied = 0; // commits (Applied or Crossed)
    std::uint64_t levels_applied = 0;   // set_level() calls
    std::uint64_t stale_ignored = 0;
    std::uint64_t not_synced_ignored = 0;
    std::uint64_t gaps = 0;
    std::uint64_t overlaps = 0;
    std::uint64_t crossed = 0;
    std::uint64_t recenters = 0;
    std::uint64_t resizes = 0;  // window grown by commit() or apply_snapshot() (per side)
    std::uint64_t id_jumps = 0; // messages refused by the kMaxUpdateIdJump bound
};

// The first window of a new book: 2^10 ticks per side (capped at the config's window_bits).
inline constexpr int kInitialWindowBits = 10;

namespace detail {

// One side of the book. `IsBid` picks the order: bids best = highest price, asks best =
// lowest. Not part of the public surface; OrderBook is.
template <bool IsBid> class BookSideImpl {
  public:
    // Starts with a window of 2^min(kInitialWindowBits, max_bits) ticks.
    BookSideImpl(int max_bits, std::size_t top_cache);

    // Returns true when price a is strictly better than price b for this side.
    static constexpr bool better(Ticks a, Ticks b) noexcept { return IsBid ? a > b : a < b; }

    void set(Ticks px, Lots qty) noexcept;
    [[nodiscard]] Lots qty_at(Ticks px) const noexcept;
    [[nodiscard]] Ticks best() const noexcept { return best_; }
    [[nodiscard]] std::size_t count() const noexcept { return count_; }
    // Places the window so that `center` sits in its middle, moving every level.
    void recenter(Ticks center) { relayout(center, bits_); }
    // Places a window of 2^bits ticks (bits in [bits(), max_bits()]) with `center` in its
    // middle, moving every level. Allocates when the size changes.
    void relayout(Ticks center, int bits);
    [[nodiscard]] int bits() const noexcept { return bits_; }
    [[nodiscard]] int max_bits() const noexcept { return max_bits_; }
    // Returns the window size (log2) to grow to, or 0 to stay: grows when bits() < max_bits()
    // and, since the last check, at least kGrowMisses overflow updates landed where a window
    // of max_bits() would hold them, making up at least 1/kGrowShare of the book's level
    // updates (`levels` is the book's running count). The size returned holds the farthest of
    // those updates (within the max), so one rebuild takes the window where the book's updates
    // land instead of a doubling per check. Starts a new count either way once kGrowMisses is
    // reached.
    [[nodiscard]] int check_grow(std::uint64_t levels) noexcept {
        if (near_misses_ < kGrowMisses) [[likely]] {
            return 0;
        }
        const bool grow = bits_ < max_bits_ && near_misses_ * kGrowShare >= levels - grow_mark_;
        // A window of 2^b ticks centred on the best holds prices within 2^(b-1) of it.
        const int need = static_cast<int>(std::bit_width(miss_reach_)) + 1;
        near_misses_ = 0;
        miss_reach_ = 0;
        grow_mark_ = levels;
        return grow ? std::clamp(need, bits_ + 1, max_bits_) : 0;
    }
    // Restarts the growth count (after a snapshot sized the window).
    void reset_growth(std::uint64_t levels) noexcept {
        near_misses_ = 0;
        miss_reach_ = 0;
        grow_mark_ = levels;
    }
    // Returns the bytes this side holds (window, bitmaps, top cache, overflow nodes, scratch).
    [[nodiscard]] std::size_t memory_bytes() const noexcept;
    // Returns true when the best price is within 1/8 of a window edge or outside the window.
    [[nodiscard]] bool needs_recenter() const noexcept;
    void clear() noexcept;
    // Zeroes every window level and its bitmap bits, visiting only occupied bitmap words.
    void clear_window() noexcept;
    // Marks the top cache for a rebuild on the next read (bulk loads skip per-level patching).
    void invalidate_cache() noexcept { cache_dirty_ = true; }
    // Tops the stock of spare overflow-map nodes up (NodeStock::reserve_ahead: allocating them
    // now, off the message path) once the side holds levels (an idle book stays small);
    // changes no level.
    void reserve_ahead() noexcept {
        if (count_ != 0) {
            spare_.reserve_ahead();
        }
    }
    // Spare overflow-map nodes in stock.
    [[nodiscard]] std::size_t spare_nodes() const noexcept { return spare_.size(); }
    // Returns the cache filled with at least min(n, K) levels (or all levels), best first.
    const Level* top(std::size_t n, std::size_t& got) const;
    std::size_t copy_top(std::size_t n, Level* out) const;
    [[nodiscard]] Lots depth(std::size_t n) const;
    [[nodiscard]] Lots depth_within(Ticks lo, Ticks hi) const;
    [[nodiscard]] Ticks base() const noexcept { return base_; }
    // Prefetches the hot part of the side (the object, top-K cache, bitmap words and size
    // slots around the best price, the upper bitmap levels); reads nothing, changes nothing.
    void warm() const noexcept {
        prefetch_range(this, sizeof *this);
        prefetch_range(cache_.get(), cache_n_ * sizeof(Level));
        prefetch_range(l1_.data(), l1_.size() * sizeof(std::uint64_t));
        prefetch_range(l2_.data(), l2_.size() * sizeof(std::uint64_t));
        const std::uint64_t i = index_of(best_);
        if (best_ != kNoPrice && i < size_) {
            constexpr std::uint64_t kSpan = 128; // ticks each side of the best
            const std::uint64_t lo = i > kSpan ? i - kSpan : 0;
            const std::uint64_t hi = std::min(size_, i + kSpan);
            prefetch_range(qty_.get() + lo, (hi - lo) * sizeof(Lots));
            prefetch_range(l0_.data() + (lo >> 6), ((hi - lo) >> 6) * 8 + 8);
        }
    }

  private:
    using Better = std::conditional_t<IsBid, std::greater<Ticks>, std::less<Ticks>>;

    [[nodiscard]] std::uint64_t index_of(Ticks px) const noexcept {
        // Unsigned difference: any px outside [base_, base_ + W) maps to >= W, without
        // signed overflow for prices near INT64_MAX.
        return static_cast<std::uint64_t>(px) - static_cast<std::uint64_t>(base_);
    }
    void set_bit(std::uint64_t i) noexcept;
    // Level-0 word w0 became non-empty / empty: sets / clears its bits in levels 1 and 2.
    void word_filled(std::uint64_t w0) noexcept;
    void word_emptied(std::uint64_t w0) noexcept;
    // Highest occupied window index <= i, or -1.
    [[nodiscard]] std::int64_t find_prev(std::int64_t i) const noexcept;
    // Lowest occupied window index >= i, or -1.
    [[nodiscard]] std::int64_t find_next(std::int64_t i) const noexcept;
    // Best occupied window price strictly worse than px (any px), or kNoPrice.
    [[nodiscard]] Ticks window_next_worse(Ticks px) const noexcept;
    [[nodiscard]] Ticks window_best() const noexcept;
    // Patches the top cache for a changed level; inline filter, out-of-line patch.
    void update_cache(Ticks px, Lots qty) noexcept {
        if (!cache_dirty_ && (cache_complete_ || !better(cache_[cache_n_ - 1].px, px))) {
            patch_cache(px, qty);
        }
    }
    void patch_cache(Ticks px, Lots qty) noexcept;
    // The out-of-line parts of set(): overflow levels, and a delete of the best level.
    void set_overflow(Ticks px, Lots qty) noexcept;
    // Makes the size pages within kPrefaultTicks / 2 of `center` resident (see relayout()).
    void prefault(Ticks center) noexcept;
    // Ticks around the centre a resize (new arrays) makes resident: 2^17 (1 MiB of sizes per side),
    // where ~94 % of real USD-M BTCUSDT updates land; the rest fault their page in once.
    static constexpr std::uint64_t kPrefaultTicks = std::uint64_t{1} << 17;
    void best_deleted(Ticks px) noexcept;
    void rebuild_cache() const;
    // Calls f(Level) best first until it returns false.
    template <class F> void for_each_best_first(F&& f) const;

    static constexpr std::uint64_t kGrowMisses = 64;
    static constexpr std::uint64_t kGrowShare = 32;

    int bits_;
    int max_bits_;
    std::uint64_t size_; // W = 2^bits_
    std::uint64_t near_misses_ = 0;
    std::uint64_t miss_reach_ = 0; // farthest counted miss from the best, in ticks
    std::uint64_t grow_mark_ = 0;
    Ticks base_ = 0; // price of window slot 0
    // Freed with std::free: allocated zeroed by std::calloc, which takes large blocks straight
    // from fresh anonymous pages, so a page of the window only becomes resident once a level
    // is written in it (a 2^20-tick window holding a book's far levels costs what they touch).
    struct FreeLots {
        void operator()(Lots* p) const noexcept { std::free(p); }
    };
    using LotsArray = std::unique_ptr<Lots[], FreeLots>;
    static LotsArray zeroed_lots(std::uint64_t n);
    LotsArray qty_;
    std::vector<std::uint64_t> l0_, l1_, l2_;
    using OverflowMap = std::map<Ticks, Lots, Better>;
    OverflowMap overflow_;
    // Nodes of deleted overflow levels (and those reserve_ahead() made), for the next inserts.
    NodeStock<OverflowMap, 64> spare_;
    std::size_t count_ = 0;
    Ticks best_ = kNoPrice;

    // Top-K cache. Invariant when !cache_dirty_: cache_[0..cache_n_) are exactly the best
    // cache_n_ levels of the side; cache_complete_ says they are all its levels.
    std::size_t cache_cap_;
    mutable std::unique_ptr<Level[]> cache_;
    mutable std::size_t cache_n_ = 0;
    mutable bool cache_complete_ = true;
    mutable bool cache_dirty_ = false;
    // Where the last patch landed: a message's levels come sorted by price, so the next one
    // usually lands a few slots away (patch_cache() scans from here, either way).
    std::size_t cache_hint_ = 0;

    std::vector<Level> scratch_;

    // Running sum of the window levels in [band_a_, band_b_] (window-clipped prices), kept
    // by set() while valid, so that depth_within() over a band that moved by a few ticks
    // (the engine's ±% of mid band, once per recompute) rescans only the ticks that entered
    // or left it, not the whole band. Invalidated when levels move storage (recenter, clear).
    // Wrap-around uint64: exact whenever the signed sum it stands for fits int64.
    [[nodiscard]] std::uint64_t scan_window(Ticks a, Ticks b) const noexcept;
    mutable Ticks band_a_ = 0;
    mutable Ticks band_b_ = -1;
    mutable std::uint64_t band_sum_ = 0;
    mutable bool band_valid_ = false;
};

} // namespace detail

class OrderBook {
  public:
    // OrderBook::OrderBook()
    // Builds an empty book (state Empty) with small windows (see Design: they grow with the
    // book, up to 2^cfg.window_bits ticks per side).
    // REQUIRES: cfg.window_bits in [8, 24] and cfg.top_cache in [1, 4096]; else throws
    // InvalidConfig naming the value.
    explicit OrderBook(BookConfig cfg = {});

    // OrderBook::apply_snapshot()
    // Replaces the whole book. Levels may be in any order; qty == 0 levels are skipped.
    // Throws InvalidEvent (px <= 0, qty < 0, duplicate price on a side) or BookCrossed (best
    // bid >= best ask); the book is unchanged when it throws. On success: state Synced,
    // last_update_id = update_id, and the next delta is checked as the first after a snapshot.
    void apply_snapshot(std::span<const Level> bids, std::span<const Level> asks,
                        std::int64_t update_id);

    // OrderBook::check_sequence()
    // Returns what apply_delta() would do with a message of these ids, without mutating.
    // prev_update_id is the id the book must have applied last for the message to be
    // contiguous (Binance spot U - 1, futures pu); kNoUpdateId disables the checks.
    //  - state != Synced -> NotSynced
    //  - prev_update_id == kNoUpdateId -> Applied
    //  - update_id <= last_update_id -> Stale
    //  - update_id - last_update_id > kMaxUpdateIdJump -> IdJump
    //  - first delta after a snapshot: Applied iff prev_update_id <= last_update_id, else Gap
    //    (Binance: U <= lastUpdateId + 1 <= u)
    //  - afterwards: prev == last -> Applied; prev > last -> Gap; prev < last -> Overlap
    [[nodiscard]] ApplyResult check_sequence(std::int64_t update_id,
                                             std::int64_t prev_update_id) const noexcept;

    // OrderBook::apply_delta()
    // Applies one depth message: validates every level first (InvalidEvent, book unchanged),
    // then check_sequence(). Gap/Overlap/IdJump mark the book OutOfSync and apply nothing;
    // Stale/NotSynced are counted and ignored; Applied sets every level then commit()s.
    ApplyResult apply_delta(std::span<const Level> bids, std::span<const Level> asks,
                            std::int64_t update_id, std::int64_t prev_update_id);

    // OrderBook::validate_level()
    // Throws InvalidEvent when px <= 0 or qty < 0 (the message names the value).
    static void validate_level(Ticks px, Lots qty) {
        if (px <= 0 || qty < 0) [[unlikely]] {
            throw_invalid_level(px, qty);
        }
    }

    // OrderBook::apply_delta_records()
    // apply_delta() for one message given as the engine's level records, skipping the level
    // validation the caller has already done: same sequence rule, counters and result, levels
    // set in record order (each side's levels in the same order as apply_delta's spans).
    // Records flagged kNoLevel are skipped.
    // REQUIRES: every other record has side 0 or 1, px_ticks > 0 and qty_lots >= 0.
    ApplyResult apply_delta_records(const BookLevelEvent* ev, std::size_t n, std::int64_t update_id,
                                    std::int64_t prev_update_id) noexcept;

    // OrderBook::set_level()
    // Sets the absolute size of one level; qty == 0 deletes it (a no-op when absent).
    // REQUIRES: validate_level(px, qty) passed. Follow a message's levels with commit().
    void set_level(BookSide side, Ticks px, Lots qty) noexcept;

    // OrderBook::commit()
    // Ends a message: records last_update_id (unless update_id == kNoUpdateId), re-centres a
    // window if needed, and checks crossing. Returns Crossed (and marks OutOfSync(Crossed))
    // when best bid >= best ask, else Applied.
    ApplyResult commit(std::int64_t update_id) noexcept;

    // OrderBook::mark_out_of_sync()
    // Puts the book OutOfSync with `reason` (counted for Gap, Overlap, Crossed and IdJump). Levels
    // are kept (readable, but unreliable) until the next snapshot or clear().
    void mark_out_of_sync(DesyncReason reason) noexcept;

    // OrderBook::clear()
    // Empties both sides; state Empty, last_update_id kNoUpdateId. Counters are kept.
    void clear() noexcept;

    // OrderBook::best_bid() / best_ask()
    // Returns the best level of a side, or nullopt when the side is empty. O(1).
    [[nodiscard]] std::optional<Level> best_bid() const noexcept;
    [[nodiscard]] std::optional<Level> best_ask() const noexcept;
    // Returns the best price of a side, or kNoPrice when it is empty. O(1).
    [[nodiscard]] Ticks best_bid_px() const noexcept { return bids_.best(); }
    [[nodiscard]] Ticks best_ask_px() const noexcept { return asks_.best(); }

    // OrderBook::top()
    // Returns contiguous best-first arrays of both sides, n clipped to the levels available
    // and to top_cache. Valid until the next mutation of this book.
    [[nodiscard]] BookView top(std::size_t n) const;

    // OrderBook::copy_top()
    // Copies up to n best-first levels of a side into out; returns how many. Any n.
    // REQUIRES: out has room for n levels.
    std::size_t copy_top(BookSide side, std::size_t n, Level* out) const;

    // OrderBook::depth()
    // Returns the summed size of the best n_levels levels of a side.
    [[nodiscard]] Lots depth(BookSide side, std::size_t n_levels) const;

    // OrderBook::depth_within()
    // Returns the summed size of the levels of a side with lo <= px <= hi. Visits occupied
    // levels only.
    [[nodiscard]] Lots depth_within(BookSide side, Ticks lo, Ticks hi) const;

    // OrderBook::level_qty()
    // Returns the size at px on a side, 0 when absent.
    [[nodiscard]] Lots level_qty(BookSide side, Ticks px) const noexcept;
    // OrderBook::level_count()
    // Returns the number of non-empty levels on a side.
    [[nodiscard]] std::size_t level_count(BookSide side) const noexcept;

    [[nodiscard]] std::int64_t last_update_id() const noexcept { return last_update_id_; }
    [[nodiscard]] SyncState state() const noexcept { return state_; }
    [[nodiscard]] DesyncReason desync_reason() const noexcept { return reason_; }
    [[nodiscard]] bool in_sync() const noexcept { return state_ == SyncState::Synced; }
    [[nodiscard]] const BookCounters& counters() const noexcept { return counters_; }
    [[nodiscard]] const BookConfig& config() const noexcept { return cfg_; }

    // OrderBook::window_bits()
    // Returns log2 of the current dense window of a side (<= config().window_bits).
    [[nodiscard]] int window_bits(BookSide side) const noexcept {
        return side == BookSide::Bid ? bids_.bits() : asks_.bits();
    }
    // OrderBook::memory_bytes()
    // Returns the bytes the book holds: the object, both windows and bitmaps, top caches,
    // overflow map nodes (estimated at 48 bytes each) and scratch space.
    [[nodiscard]] std::size_t memory_bytes() const noexcept;
    // OrderBook::warm()
    // Prefetches the book's hot state (see BookSideImpl::warm) for an idle engine thread's
    // warm pass; changes nothing.
    void warm() const noexcept {
        prefetch_range(this, sizeof *this);
        bids_.warm();
        asks_.warm();
    }
    // OrderBook::reserve_ahead()
    // For an idle engine thread: allocates now the storage the next messages would otherwise
    // allocate on their path (spare overflow-map nodes, see Design); changes no level, no
    // counter, no result.
    void reserve_ahead() noexcept {
        bids_.reserve_ahead();
        asks_.reserve_ahead();
    }
    // OrderBook::spare_nodes()
    // Returns the spare overflow-map nodes a side holds (see Design).
    [[nodiscard]] std::size_t spare_nodes(BookSide side) const noexcept {
        return side == BookSide::Bid ? bids_.spare_nodes() : asks_.spare_nodes();
    }

  private:
    // Counts a message the sequence rule did not apply and, for a gap or an overlap, puts the
    // book out of sync. REQUIRES: r != ApplyResult::Applied.
    ApplyResult reject(ApplyResult r) noexcept;

    static BookConfig validated(BookConfig cfg);
    [[noreturn]] static void throw_invalid_level(Ticks px, Lots qty);
    void maybe_recenter() noexcept;

    BookConfig cfg_;
    detail::BookSideImpl<true> bids_;
    detail::BookSideImpl<false> asks_;
    std::int64_t last_update_id_ = kNoUpdateId;
    SyncState state_ = SyncState::Empty;
    DesyncReason reason_ = DesyncReason::None;
    bool awaiting_first_ = false;
    BookCounters counters_;
};

// Header of one message of a flat batch for apply_messages(): the message's bids are the
// next n_bids levels of the batch and its asks the n_asks after them. Layout of an int64
// (M, 4) array [n_bids, n_asks, update_id, prev_update_id].
struct DepthMessage {
    std::int64_t n_bids;
    std::int64_t n_asks;
    std::int64_t update_id;
    std::int64_t prev_update_id;
};
static_assert(std::is_standard_layout_v<DepthMessage> && sizeof(DepthMessage) == 32);

// apply_messages()
// Applies a batch of depth messages in order with apply_delta(), writing each result to
// results[i]; returns the number of Applied messages. Throws InvalidEvent (book unchanged)
// when the headers do not add up to levels.size() or a count is negative; an invalid level
// throws from its message's apply_delta(), after the earlier messages were applied.
// REQUIRES: results.size() >= msgs.size().
std::size_t apply_messages(OrderBook& book, std::span<const Level> levels,
                           std::span<const DepthMessage> msgs, std::span<ApplyResult> results);

} // namespace confluex
