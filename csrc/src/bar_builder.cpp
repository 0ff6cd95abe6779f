#include "confluex/bar_builder.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

namespace {

std::int64_t floor_to(std::int64_t t, std::int64_t span) noexcept {
    const std::int64_t q = t / span;
    return (t % span != 0 && t < 0 ? q - 1 : q) * span;
}

Bar gap_bar(std::int64_t open_ns, double close) noexcept {
    Bar b{};
    b.open_ns = open_ns;
    b.open = b.high = b.low = b.close = b.vwap = close;
    b.flags = bar_flags::kGap;
    return b;
}

std::string num(double v) {
    std::string s = std::to_string(v);
    return s;
}

} // namespace

void BarBuilderConfig::validate() const {
    if (timeframes_ns.empty()) {
        throw InvalidConfig("timeframes_ns must not be empty");
    }
    if (timeframes_ns.size() > 64) {
        throw InvalidConfig("timeframes_ns holds at most 64 timeframes, was " +
                            std::to_string(timeframes_ns.size()));
    }
    const std::int64_t base = timeframes_ns.front();
    for (std::size_t i = 0; i < timeframes_ns.size(); ++i) {
        const std::int64_t tf = timeframes_ns[i];
        if (tf <= 0) {
            throw InvalidConfig("timeframes_ns[" + std::to_string(i) + "] must be positive, was " +
                                std::to_string(tf));
        }
        if (i > 0 && tf <= timeframes_ns[i - 1]) {
            throw InvalidConfig("timeframes_ns must be strictly ascending, was " +
                                std::to_string(timeframes_ns[i - 1]) + " then " +
                                std::to_string(tf));
        }
        if (tf % base != 0) {
            throw InvalidConfig("timeframes_ns[" + std::to_string(i) +
                                "] must be a multiple of the finest timeframe " +
                                std::to_string(base) + ", was " + std::to_string(tf));
        }
    }
    if (capacity == 0 || capacity > (std::size_t{1} << 24)) {
        throw InvalidConfig("capacity must be in [1, 16777216], was " + std::to_string(capacity));
    }
}

std::int64_t infer_timeframe_ns(std::span<const double> rows, std::int64_t expected_ns) {
    if (rows.size() % 6 != 0) {
        throw InvalidEvent("ohlcv rows must have 6 columns [ms, o, h, l, c, v], was " +
                           std::to_string(rows.size()) + " values");
    }
    if (expected_ns < 0 || expected_ns % 1'000'000 != 0) {
        throw InvalidEvent("timeframe_ns must be 0 (infer) or a positive multiple of 1 ms, was " +
                           std::to_string(expected_ns));
    }
    const std::size_t n = rows.size() / 6;
    if (n < (expected_ns > 0 ? 1U : 2U)) {
        throw InvalidEvent("ohlcv needs at least 2 rows to infer the timeframe (or 1 with the "
                           "timeframe given), was " +
                           std::to_string(n));
    }
    std::vector<std::int64_t> ms(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = rows[i * 6];
        if (!(t >= 0.0 && t < 9.0e15) || std::floor(t) != t) {
            throw InvalidEvent("ohlcv row " + std::to_string(i) +
                               ": open time must be a non-negative integer ms, was " + num(t));
        }
        ms[i] = static_cast<std::int64_t>(t);
        if (i > 0 && ms[i] <= ms[i - 1]) {
            throw InvalidEvent("ohlcv row " + std::to_string(i) +
                               ": open times must be strictly ascending, was " +
                               std::to_string(ms[i - 1]) + " then " + std::to_string(ms[i]));
        }
    }
    std::int64_t span = expected_ns / 1'000'000;
    if (span == 0) {
        span = ms[1] - ms[0];
        for (std::size_t i = 2; i < n; ++i) {
            span = std::min(span, ms[i] - ms[i - 1]);
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (ms[i] % span != 0) {
            throw InvalidEvent("ohlcv row " + std::to_string(i) + ": open time " +
                               std::to_string(ms[i]) + " ms is not aligned to the timeframe " +
                               std::to_string(span) + " ms");
        }
    }
    return span * 1'000'000;
}

BarBuilder::BarBuilder(BarBuilderConfig config) : config_(std::move(config)) {
    config_.validate();
    levels_.resize(config_.timeframes_ns.size());
    for (std::size_t i = 0; i < levels_.size(); ++i) {
        levels_[i].span_ns = config_.timeframes_ns[i];
        levels_[i].ring.resize(config_.capacity);
    }
    // The source of a level is the coarsest finer level whose span divides its span (level 0
    // divides every span), so each bar is folded once per level, not once per trade.
    for (std::size_t i = 1; i < levels_.size(); ++i) {
        std::size_t src = 0;
        for (std::size_t j = 1; j < i; ++j) {
            if (levels_[i].span_ns % levels_[j].span_ns == 0) {
                src = j;
            }
        }
        levels_[i].source = src;
        levels_[src].children.push_back(i);
    }
}

void BarBuilder::reject(std::int64_t ts_ns, double price, double qty) {
    if (ts_ns < 0) {
        throw InvalidEvent("trade ts_ns must be non-negative, was " + std::to_string(ts_ns));
    }
    if (!(price > 0.0 && price < kMaxValue)) {
        throw InvalidEvent("trade price must be positive and finite, was " + num(price));
    }
    throw InvalidEvent("trade qty must be non-negative and finite, was " + num(qty));
}

void BarBuilder::push_closed(Level& lv, const Bar& b) {
    lv.ring[lv.head] = b;
    lv.head = lv.head + 1 == lv.ring.size() ? 0 : lv.head + 1;
    lv.count = std::min(lv.count + 1, lv.ring.size());
    lv.closed += 1;
    lv.last_close = b.close;
}

void BarBuilder::close_until(Level& lv, std::int64_t t, bool cascade) {
    if (!lv.started || t < lv.open_ns + lv.span_ns) {
        return;
    }
    if (lv.has_data) {
        finish_vwap(lv.forming);
        push_closed(lv, lv.forming);
        if (cascade) {
            // Each child's span is a multiple of this level's: a closed bar lies in one child
            // bar. Children have higher levels, so roll() closes them after this fold.
            for (const std::size_t c : lv.children) {
                close_until(levels_[c], lv.forming.open_ns, true);
                fold(levels_[c], lv.forming);
            }
        }
    } else {
        push_closed(lv, gap_bar(lv.open_ns, lv.last_close));
    }
    const std::int64_t end = lv.open_ns + lv.span_ns;
    const std::int64_t aligned = floor_to(t, lv.span_ns);
    const auto skipped = static_cast<std::uint64_t>((aligned - end) / lv.span_ns);
    const auto stored = std::min<std::uint64_t>(skipped, lv.ring.size());
    lv.closed += skipped - stored;
    for (std::uint64_t k = stored; k > 0; --k) {
        push_closed(lv,
                    gap_bar(aligned - static_cast<std::int64_t>(k) * lv.span_ns, lv.last_close));
    }
    lv.open_ns = aligned;
    lv.has_data = false;
}

void BarBuilder::fold(Level& lv, const Bar& b) {
    if (!lv.has_data) {
        lv.forming = b;
        lv.forming.open_ns = lv.open_ns;
        lv.forming.flags = static_cast<std::uint8_t>(b.flags & ~bar_flags::kGap);
        lv.has_data = true;
        return;
    }
    Bar& f = lv.forming;
    f.high = std::max(f.high, b.high);
    f.low = std::min(f.low, b.low);
    f.close = b.close;
    f.volume += b.volume;
    f.buy_volume += b.buy_volume;
    f.sell_volume += b.sell_volume;
    f.quote_volume += b.quote_volume;
    f.trades += b.trades;
    f.flags = static_cast<std::uint8_t>(f.flags | (b.flags & ~bar_flags::kGap));
}

void BarBuilder::roll(std::int64_t ts_ns) {
    live_ = true;
    Level& l0 = levels_[0];
    if (l0.has_data) {
        l0.forming = level0_bar();
    }
    // Ascending levels: by the time a level closes at ts_ns, every finer source bar before
    // ts_ns has been folded into it.
    for (auto& lv : levels_) {
        close_until(lv, ts_ns, true);
    }
    clock_ns_ = std::max(clock_ns_, ts_ns);
    hot_end_ns_ = l0.has_data ? l0.open_ns + l0.span_ns : 0;
}

void BarBuilder::start_level0(std::int64_t ts_ns, double price) {
    for (auto& lv : levels_) {
        if (!lv.started) {
            lv.started = true;
            lv.open_ns = floor_to(ts_ns, lv.span_ns);
            lv.last_close = price;
            lv.has_data = false;
        }
    }
    Level& l0 = levels_[0];
    f0_ = Bar{};
    f0_sides_[0] = f0_sides_[1] = f0_sides_[2] = 0.0;
    f0_.open_ns = l0.open_ns;
    f0_.open = f0_.high = f0_.low = f0_.close = price;
    l0.has_data = true;
    hot_end_ns_ = l0.open_ns + l0.span_ns;
}

void BarBuilder::on_trades(std::span<const TradeEvent> trades, double tick_size, double lot_size) {
    if (!(tick_size > 0.0 && std::isfinite(tick_size))) {
        throw InvalidConfig("tick_size must be positive and finite, was " + num(tick_size));
    }
    if (!(lot_size > 0.0 && std::isfinite(lot_size))) {
        throw InvalidConfig("lot_size must be positive and finite, was " + num(lot_size));
    }
    for (std::size_t i = 0; i < trades.size(); ++i) {
        const TradeEvent& t = trades[i];
        if (t.ts_ns < 0 || t.px_ticks <= 0 || t.qty_lots < 0 || t.side > 2) {
            throw InvalidEvent("trade record " + std::to_string(i) +
                               " is invalid (ts_ns >= 0, px_ticks > 0, qty_lots >= 0, side "
                               "0..2), was ts_ns=" +
                               std::to_string(t.ts_ns) + " px_ticks=" + std::to_string(t.px_ticks) +
                               " qty_lots=" + std::to_string(t.qty_lots) +
                               " side=" + std::to_string(t.side));
        }
    }
    for (const TradeEvent& t : trades) {
        on_trade(t.ts_ns, static_cast<double>(t.px_ticks) * tick_size,
                 static_cast<double>(t.qty_lots) * lot_size, static_cast<Aggressor>(t.side));
    }
}

void BarBuilder::advance(std::int64_t now_ns) {
    if (now_ns < clock_ns_) {
        return;
    }
    const Level& l0 = levels_[0];
    if (l0.has_data && now_ns < l0.open_ns + l0.span_ns) {
        clock_ns_ = now_ns;
        return;
    }
    roll(now_ns);
}

std::int64_t BarBuilder::load_history(std::span<const double> rows, std::int64_t timeframe_ns) {
    if (live_) {
        throw InvalidEvent("load_history must come before the first trade or advance");
    }
    const std::int64_t h = infer_timeframe_ns(rows, timeframe_ns);
    const std::size_t n = rows.size() / 6;
    for (std::size_t i = 0; i < n; ++i) {
        const double* r = &rows[i * 6];
        const double o = r[1], hi = r[2], lo = r[3], c = r[4], v = r[5];
        const bool finite = std::isfinite(o) && std::isfinite(hi) && std::isfinite(lo) &&
                            std::isfinite(c) && std::isfinite(v);
        if (!finite || !(lo > 0.0) || !(v >= 0.0) || hi < std::max({o, c, lo}) ||
            lo > std::min(o, c)) {
            throw InvalidEvent("ohlcv row " + std::to_string(i) +
                               " is invalid (finite, 0 < low <= open,close <= high, volume >= 0), "
                               "was [" +
                               num(r[0]) + ", " + num(o) + ", " + num(hi) + ", " + num(lo) + ", " +
                               num(c) + ", " + num(v) + "]");
        }
    }
    std::vector<std::size_t> targets;
    bool divides_any = false;
    for (std::size_t i = 0; i < levels_.size(); ++i) {
        const Level& lv = levels_[i];
        divides_any = divides_any || lv.span_ns % h == 0;
        if (lv.span_ns % h == 0 && (lv.history_span_ns == 0 || h < lv.history_span_ns)) {
            targets.push_back(i);
        }
    }
    if (!divides_any) {
        throw InvalidEvent("history timeframe " + std::to_string(h / 1'000'000) +
                           " ms divides no configured timeframe");
    }
    const auto last_open = static_cast<std::int64_t>(rows[(n - 1) * 6]) * 1'000'000;
    for (const std::size_t i : targets) {
        Level& lv = levels_[i];
        Level fresh;
        fresh.span_ns = lv.span_ns;
        fresh.source = lv.source;
        fresh.children = lv.children;
        lv = std::move(fresh);
        lv.ring.resize(config_.capacity);
        lv.history_span_ns = h;
        for (std::size_t k = 0; k < n; ++k) {
            const double* r = &rows[k * 6];
            Bar b{};
            b.open_ns = static_cast<std::int64_t>(r[0]) * 1'000'000;
            b.open = r[1];
            b.high = r[2];
            b.low = r[3];
            b.close = r[4];
            b.volume = r[5];
            b.quote_volume = (b.high + b.low + b.close) / 3.0 * b.volume;
            b.flags = bar_flags::kHistory | bar_flags::kNoSides;
            if (!lv.started) {
                lv.started = true;
                lv.open_ns = floor_to(b.open_ns, lv.span_ns);
                lv.last_close = b.open;
            }
            close_until(lv, b.open_ns, false);
            fold(lv, b);
        }
        close_until(lv, last_open + h, false);
    }
    return h;
}

void BarBuilder::check_level(std::size_t level) const {
    if (level >= levels_.size()) {
        throw std::out_of_range("level must be < " + std::to_string(levels_.size()) + ", was " +
                                std::to_string(level));
    }
}

std::int64_t BarBuilder::timeframe_ns(std::size_t level) const {
    check_level(level);
    return levels_[level].span_ns;
}

std::optional<std::size_t> BarBuilder::level_of(std::int64_t tf_ns) const noexcept {
    for (std::size_t i = 0; i < levels_.size(); ++i) {
        if (levels_[i].span_ns == tf_ns) {
            return i;
        }
    }
    return std::nullopt;
}

std::uint64_t BarBuilder::closed_count(std::size_t level) const {
    check_level(level);
    return levels_[level].closed;
}

std::size_t BarBuilder::size(std::size_t level) const {
    check_level(level);
    return levels_[level].count;
}

std::int64_t BarBuilder::history_timeframe_ns(std::size_t level) const {
    check_level(level);
    return levels_[level].history_span_ns;
}

const Bar& BarBuilder::bar(std::size_t level, std::size_t back) const {
    check_level(level);
    const Level& lv = levels_[level];
    if (back >= lv.count) {
        throw std::out_of_range("back must be < " + std::to_string(lv.count) + ", was " +
                                std::to_string(back));
    }
    const std::size_t cap = lv.ring.size();
    return lv.ring[(lv.head + cap - 1 - back) % cap];
}

Bar BarBuilder::level0_bar() const noexcept {
    Bar b = f0_;
    b.buy_volume = f0_sides_[0];
    b.sell_volume = f0_sides_[1];
    // A zero-size trade of unknown side leaves no trace; its volume is nothing to split.
    if (f0_sides_[2] > 0.0) {
        b.flags |= bar_flags::kNoSides;
    }
    return b;
}

bool BarBuilder::peek_data(std::size_t level, Bar& out) const {
    const Level& lv = levels_[level];
    if (level == 0) {
        if (lv.has_data) {
            out = level0_bar();
        }
        return lv.has_data;
    }
    Bar sub{};
    const bool have_sub = peek_data(lv.source, sub);
    if (!lv.has_data && !have_sub) {
        return false;
    }
    Level tmp;
    tmp.open_ns = lv.open_ns;
    tmp.has_data = lv.has_data;
    tmp.forming = lv.forming;
    if (have_sub) {
        fold(tmp, sub);
    }
    out = tmp.forming;
    return true;
}

std::optional<Bar> BarBuilder::forming(std::size_t level) const {
    check_level(level);
    const Level& lv = levels_[level];
    if (!lv.started) {
        return std::nullopt;
    }
    Bar out{};
    if (!peek_data(level, out)) {
        out = gap_bar(lv.open_ns, lv.last_close);
    }
    finish_vwap(out);
    return out;
}

void BarBuilder::reset() {
    BarBuilder fresh(config_);
    *this = std::move(fresh);
}

} // namespace confluex
