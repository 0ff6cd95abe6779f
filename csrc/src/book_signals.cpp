// Order-book signal kernels, OfiWindow and the orderbook component (see book_signals.hpp).
#include "confluex/book_signals.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <string>

#include "confluex/errors.hpp"

namespace confluex::signals {

namespace {

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

constexpr std::uint64_t u64(std::int64_t v) noexcept { return static_cast<std::uint64_t>(v); }

// Σ qty of lv[0..n) as a wrap-around integer sum. Four accumulators break the serial add chain
// (and let the compiler use two-lane vector adds over the interleaved {px, qty} records).
inline std::uint64_t sum_qty(const Level* lv, std::size_t n) noexcept {
    std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += u64(lv[i].qty);
        s1 += u64(lv[i + 1].qty);
        s2 += u64(lv[i + 2].qty);
        s3 += u64(lv[i + 3].qty);
    }
    for (; i < n; ++i) {
        s0 += u64(lv[i].qty);
    }
    return (s0 + s1) + (s2 + s3);
}

inline double as_lots(std::uint64_t wrapped_sum) noexcept {
    return static_cast<double>(static_cast<std::int64_t>(wrapped_sum));
}

// (b - a)/(b + a) with 0 for an empty pair. Negating the inputs' roles negates the result
// exactly: b - a and a - b round to opposite values, b + a and a + b are the same value.
inline double ratio(double b, double a) noexcept {
    const double den = b + a;
    return den > 0.0 ? (b - a) / den : 0.0;
}

// Signed deviation from 50 of logistic_score(): +(p - 50) for x >= 0 and -(p - 50) for x < 0
// with p = 100/(1 + exp(-|x|/s)) in [50, 100]. p - 50 is exact (Sterbenz), so the deviation
// is exactly antisymmetric and exactly 0 at x = 0.
// Takes 1/sensitivity: the component evaluates five of these with one scale, and a multiply
// is a fraction of a divide's latency.
inline double logistic_dev(double x, double inv_sensitivity) noexcept {
    const double p = 100.0 / (1.0 + std::exp(-std::fabs(x) * inv_sensitivity));
    const double d = p - 50.0;
    return x < 0.0 ? -d : d;
}

// Σ w_i q_i with w_i = r^i over both sides in one loop: two independent FMA chains share the
// weight chain. Bids and asks see bit-identical weights, so mirroring is exact.
// r = exp(-decay), computed by the caller (once per config in the engine).
inline void weighted_sums(const BookView& v, std::size_t n, double r, double& wb,
                          double& wa) noexcept {
    const std::size_t nb = std::min(n, v.n_bids);
    const std::size_t na = std::min(n, v.n_asks);
    const std::size_t common = std::min(nb, na);
    double w = 1.0;
    double sb = 0.0;
    double sa = 0.0;
    std::size_t i = 0;
    for (; i < common; ++i) {
        sb += w * static_cast<double>(v.bids[i].qty);
        sa += w * static_cast<double>(v.asks[i].qty);
        w *= r;
    }
    double wt = w;
    for (std::size_t j = i; j < nb; ++j) {
        sb += wt * static_cast<double>(v.bids[j].qty);
        wt *= r;
    }
    wt = w;
    for (std::size_t j = i; j < na; ++j) {
        sa += wt * static_cast<double>(v.asks[j].qty);
        wt *= r;
    }
    wb = sb;
    wa = sa;
}

} // namespace

double imbalance(const BookView& v, std::size_t n) noexcept {
    const double b = as_lots(sum_qty(v.bids, std::min(n, v.n_bids)));
    const double a = as_lots(sum_qty(v.asks, std::min(n, v.n_asks)));
    return ratio(b, a);
}

double depth_weighted_imbalance(const BookView& v, std::size_t n, double decay) noexcept {
    assert(std::isfinite(decay) && decay >= 0.0);
    double b = 0.0;
    double a = 0.0;
    weighted_sums(v, n, std::exp(-decay), b, a);
    return ratio(b, a);
}

std::optional<double> mid(const BookView& v) noexcept {
    if (v.n_bids == 0 || v.n_asks == 0) {
        return std::nullopt;
    }
    // Convert before adding: two int64 prices may not sum within int64.
    return 0.5 * (static_cast<double>(v.bids[0].px) + static_cast<double>(v.asks[0].px));
}

std::optional<double> microprice(const BookView& v) noexcept {
    if (v.n_bids == 0 || v.n_asks == 0) {
        return std::nullopt;
    }
    const double pb = static_cast<double>(v.bids[0].px);
    const double pa = static_cast<double>(v.asks[0].px);
    const double qb = static_cast<double>(v.bids[0].qty);
    const double qa = static_cast<double>(v.asks[0].qty);
    const double q = qa + qb;
    if (!(q > 0.0)) {
        return 0.5 * (pb + pa);
    }
    return (pb * qa + pa * qb) / q;
}

std::optional<double> spread_ticks(const BookView& v) noexcept {
    if (v.n_bids == 0 || v.n_asks == 0) {
        return std::nullopt;
    }
    return static_cast<double>(v.asks[0].px) - static_cast<double>(v.bids[0].px);
}

std::optional<double> spread_bps(const BookView& v) noexcept {
    if (v.n_bids == 0 || v.n_asks == 0) {
        return std::nullopt;
    }
    const double pb = static_cast<double>(v.bids[0].px);
    const double pa = static_cast<double>(v.asks[0].px);
    const double m = 0.5 * (pb + pa);
    if (!(m > 0.0)) {
        return std::nullopt;
    }
    return 1e4 * (pa - pb) / m;
}

std::optional<double> microprice_offset(const BookView& v) noexcept {
    if (v.n_bids == 0 || v.n_asks == 0) {
        return std::nullopt;
    }
    return ratio(static_cast<double>(v.bids[0].qty), static_cast<double>(v.asks[0].qty));
}

std::optional<double> depth_ratio(const BookView& v, double band_pct) noexcept {
    assert(std::isfinite(band_pct) && band_pct > 0.0);
    if (v.n_bids == 0 || v.n_asks == 0) {
        return std::nullopt;
    }
    // Doubled distances to mid in ticks, |2P - (Pb + Pa)|, are exact in double for prices
    // below 2^51 ticks, and a mirrored level has the same distance as its image.
    const double mid2 = static_cast<double>(v.bids[0].px) + static_cast<double>(v.asks[0].px);
    const double max_dist2 = mid2 * band_pct / 100.0;
    // Levels are best first, so distance grows along each side: stop at the first one outside.
    std::uint64_t db = 0;
    for (std::size_t i = 0; i < v.n_bids; ++i) {
        if (std::fabs(2.0 * static_cast<double>(v.bids[i].px) - mid2) > max_dist2) {
            break;
        }
        db += u64(v.bids[i].qty);
    }
    std::uint64_t da = 0;
    for (std::size_t i = 0; i < v.n_asks; ++i) {
        if (std::fabs(2.0 * static_cast<double>(v.asks[i].px) - mid2) > max_dist2) {
            break;
        }
        da += u64(v.asks[i].qty);
    }
    const double b = as_lots(db);
    const double a = as_lots(da);
    if (!(b + a > 0.0)) {
        return std::nullopt;
    }
    return ratio(b, a);
}

double logistic_score(double x, double sensitivity) noexcept {
    assert(std::isfinite(sensitivity) && sensitivity > 0.0);
    return 50.0 + logistic_dev(x, 1.0 / sensitivity);
}

// ---------------------------------------------------------------------------------------------
// OfiWindow

OfiWindow::OfiWindow(std::int64_t window_ns, std::size_t capacity)
    : window_ns_(window_ns), capacity_(capacity), now_(std::numeric_limits<std::int64_t>::min()) {
    if (window_ns <= 0) {
        throw InvalidConfig("OfiWindow window_ns must be > 0, was " + std::to_string(window_ns));
    }
    if (capacity < 1 || capacity > (std::size_t{1} << 24)) {
        throw InvalidConfig("OfiWindow capacity must be in [1, 16777216], was " +
                            std::to_string(capacity));
    }
    buf_.resize(std::min<std::size_t>(capacity, 64));
}

bool OfiWindow::grow() noexcept {
    if (buf_.size() >= capacity_) {
        return false;
    }
    try {
        std::vector<Entry> next(std::min(buf_.size() * 2, capacity_));
        for (std::size_t i = 0; i < size_; ++i) {
            std::size_t j = head_ + i;
            next[i] = buf_[j >= buf_.size() ? j - buf_.size() : j];
        }
        buf_.swap(next);
        head_ = 0;
        return true;
    } catch (const std::bad_alloc&) {
        return false; // keep the current ring; the caller evicts early, as at capacity
    }
}

double OfiWindow::square(std::uint64_t e) noexcept {
    const double x = as_lots(e);
    return x * x;
}

void OfiWindow::evict_oldest() noexcept {
    const Entry& e = buf_[head_];
    sum_e_ -= e.e;
    sum_depth2_ -= e.depth2;
    sum_e2_ -= square(e.e);
    ++evicted_since_rebuild_;
    head_ = head_ + 1 == buf_.size() ? 0 : head_ + 1;
    --size_;
}

void OfiWindow::evict_expired() noexcept {
    // now_ - ts computed in unsigned: ts <= now_, so the true difference is in [0, 2^64) and
    // the subtraction cannot overflow the way the signed `now_ - window_ns_` could.
    const std::uint64_t w = u64(window_ns_);
    while (size_ > 0 && u64(now_) - u64(buf_[head_].ts_ns) >= w) {
        evict_oldest();
    }
}

void OfiWindow::advance(std::int64_t now_ns) noexcept {
    now_ = std::max(now_, now_ns);
    evict_expired();
}

void OfiWindow::on_quote(std::int64_t ts_ns, std::optional<Level> best_bid,
                         std::optional<Level> best_ask) noexcept {
    advance(ts_ns);
    std::uint64_t e = 0;
    if (best_bid && prev_bid_) {
        if (best_bid->px >= prev_bid_->px) {
            e += u64(best_bid->qty);
        }
        if (best_bid->px <= prev_bid_->px) {
            e -= u64(prev_bid_->qty);
        }
    }
    if (best_ask && prev_ask_) {
        if (best_ask->px <= prev_ask_->px) {
            e -= u64(best_ask->qty);
        }
        if (best_ask->px >= prev_ask_->px) {
            e += u64(prev_ask_->qty);
        }
    }
    const std::uint64_t depth2 =
        (best_bid ? u64(best_bid->qty) : 0U) + (best_ask ? u64(best_ask->qty) : 0U);
    if (size_ == buf_.size() && !grow()) {
        evict_oldest();
        ++evicted_early_;
    }
    std::size_t tail = head_ + size_;
    if (tail >= buf_.size()) {
        tail -= buf_.size();
    }
    if (size_ == 0) {
        sum_e2_ = 0.0; // an empty window restarts the float sum exactly
        evicted_since_rebuild_ = 0;
    }
    if (first_ns_ == std::numeric_limits<std::int64_t>::min()) {
        first_ns_ = now_;
    }
    buf_[tail] = Entry{now_, e, depth2};
    ++size_;
    sum_e_ += e;
    sum_depth2_ += depth2;
    sum_e2_ += square(e);
    if (evicted_since_rebuild_ >= std::max<std::size_t>(size_, 64)) {
        // The float sum of squares drifts by rounding as entries come and go: re-sum the ring
        // once per window turnover (amortised O(1), and deterministic).
        double s2 = 0.0;
        for (std::size_t i = 0; i < size_; ++i) {
            const std::size_t j = head_ + i;
            s2 += square(buf_[j >= buf_.size() ? j - buf_.size() : j].e);
        }
        sum_e2_ = s2;
        evicted_since_rebuild_ = 0;
    }
    prev_bid_ = best_bid;
    prev_ask_ = best_ask;
    ++events_;
}

double OfiWindow::value() const noexcept { return as_lots(sum_e_); }

double OfiWindow::normalized() const noexcept {
    if (size_ == 0) {
        return 0.0;
    }
    const double depth2 = as_lots(sum_depth2_);
    if (!(depth2 > 0.0)) {
        return 0.0;
    }
    // value / (depth2 / (2 n)): the mean depth sample is (qb + qa)/2 averaged over n events.
    return value() * (2.0 * static_cast<double>(size_)) / depth2;
}

double OfiWindow::tstat() const noexcept {
    if (size_ == 0 || !(sum_e2_ > 0.0)) {
        return 0.0;
    }
    return value() / std::sqrt(sum_e2_);
}

double OfiWindow::coverage() const noexcept {
    if (first_ns_ == std::numeric_limits<std::int64_t>::min()) {
        return 0.0;
    }
    const double span = static_cast<double>(now_) - static_cast<double>(first_ns_);
    return std::clamp(span / static_cast<double>(window_ns_), 0.0, 1.0);
}

void OfiWindow::reset() noexcept {
    head_ = 0;
    size_ = 0;
    sum_e_ = 0;
    sum_depth2_ = 0;
    sum_e2_ = 0.0;
    evicted_since_rebuild_ = 0;
    first_ns_ = std::numeric_limits<std::int64_t>::min();
    now_ = std::numeric_limits<std::int64_t>::min();
    prev_bid_.reset();
    prev_ask_.reset();
    events_ = 0;
    evicted_early_ = 0;
}

// ---------------------------------------------------------------------------------------------
// The orderbook component

void OrderbookSignalsConfig::validate() const {
    const auto positive = [](const char* name, double v) {
        if (!std::isfinite(v) || !(v > 0.0)) {
            throw InvalidConfig(std::string("OrderbookSignalsConfig.") + name +
                                " must be finite and > 0, was " + fmt(v));
        }
    };
    const auto non_negative = [](const char* name, double v) {
        if (!std::isfinite(v) || !(v >= 0.0)) {
            throw InvalidConfig(std::string("OrderbookSignalsConfig.") + name +
                                " must be finite and >= 0, was " + fmt(v));
        }
    };
    positive("imbalance_sensitivity", imbalance_sensitivity);
    positive("ofi_sensitivity", ofi_sensitivity);
    if (dwi_levels < 1 || dwi_levels > 1024) {
        throw InvalidConfig("OrderbookSignalsConfig.dwi_levels must be in [1, 1024], was " +
                            std::to_string(dwi_levels));
    }
    non_negative("dwi_decay", dwi_decay);
    positive("depth_band_pct", depth_band_pct);
    const auto w = weights();
    double sum = 0.0;
    for (std::size_t i = 0; i < kBookSubCount; ++i) {
        non_negative((std::string("weight_") + kBookSubNames[i]).c_str(), w[i]);
        sum += w[i];
    }
    if (!(sum > 0.0) || !std::isfinite(sum)) {
        throw InvalidConfig("OrderbookSignalsConfig weights must have a finite positive sum, was " +
                            fmt(sum));
    }
}

OrderbookKernelConsts::OrderbookKernelConsts(const OrderbookSignalsConfig& cfg) noexcept
    : dwi_levels(cfg.dwi_levels), dwi_ratio(std::exp(-cfg.dwi_decay)),
      inv_imbalance(1.0 / cfg.imbalance_sensitivity), inv_ofi(1.0 / cfg.ofi_sensitivity),
      weights(cfg.weights()), ofi_tstat(cfg.ofi_tstat), warmup(cfg.warmup) {}

std::optional<double> absorption_exhaustion(const BookView& v, std::size_t n) noexcept {
    const std::size_t nb = std::min(n, v.n_bids);
    const std::size_t na = std::min(n, v.n_asks);
    if (nb < 3 || na < 3) {
        return std::nullopt;
    }
    const auto side = [](const Level* lv, std::size_t k, double& conc, double& gap) {
        const std::uint64_t top3 = sum_qty(lv, 3);
        const std::uint64_t all = top3 + sum_qty(lv + 3, k - 3);
        if (all == 0) {
            return false;
        }
        conc = static_cast<double>(top3) / static_cast<double>(all);
        // Mean |step|: prices are monotone best first, so the span over k - 1 steps.
        const double span =
            std::fabs(static_cast<double>(lv[k - 1].px) - static_cast<double>(lv[0].px));
        gap = span / static_cast<double>(k - 1);
        return true;
    };
    double cb = 0.0;
    double gb = 0.0;
    double ca = 0.0;
    double ga = 0.0;
    if (!side(v.bids, nb, cb, gb) || !side(v.asks, na, ca, ga)) {
        return std::nullopt;
    }
    const double mean_gap = 0.5 * (gb + ga);
    const double rb = mean_gap > 0.0 ? 1.0 / (1.0 + gb / mean_gap) : 0.5;
    const double ra = mean_gap > 0.0 ? 1.0 / (1.0 + ga / mean_gap) : 0.5;
    const double ab = 0.7 * cb + 0.3 * rb;
    const double aa = 0.7 * ca + 0.3 * ra;
    return ratio(ab, aa);
}

double liquidity_balance(const std::array<double, 5>& bid_depth,
                         const std::array<double, 5>& ask_depth) noexcept {
    double num = 0.0;
    double den = 0.0;
    for (std::size_t k = 0; k < kLiquidityBandsPct.size(); ++k) {
        const double tot = bid_depth[k] + ask_depth[k];
        if (tot > 0.0) {
            num += kLiquidityBandWeights[k] * (bid_depth[k] - ask_depth[k]) / tot;
            den += kLiquidityBandWeights[k];
        }
    }
    return den > 0.0 ? num / den : std::numeric_limits<double>::quiet_NaN();
}

void compute_orderbook_component(const BookView& top, double depth_ratio_raw, const OfiWindow& ofi,
                                 const OrderbookSignalsConfig& cfg, ComponentScore& out,
                                 double absorption_raw, double liquidity_raw) noexcept {
    compute_orderbook_component(top, depth_ratio_raw, ofi, OrderbookKernelConsts(cfg), out,
                                absorption_raw, liquidity_raw);
}

void compute_orderbook_component(const BookView& top, double depth_ratio_raw, const OfiWindow& ofi,
                                 const OrderbookKernelConsts& k, ComponentScore& out,
                                 double absorption_raw, double liquidity_raw) noexcept {
    out.n_sub = static_cast<std::uint8_t>(kBookSubCount);
    for (std::size_t i = 0; i < kBookSubCount; ++i) {
        out.sub_name[i] = kBookSubNames[i];
    }
    out.sub_unweighted = 0;
    out.has_data = top.n_bids > 0 && top.n_asks > 0;
    if (!out.has_data) {
        for (std::size_t i = 0; i < kBookSubCount; ++i) {
            out.sub[i] = 50.0;
            out.sub_weight[i] = 0.0;
        }
        out.score = 50.0;
        out.warmup = k.warmup ? 0.0 : 1.0;
        return;
    }

    // One pass per side for the three nested OIR bands: prefix sums at 5, 10 and 25 levels.
    const std::size_t b5 = std::min<std::size_t>(5, top.n_bids);
    const std::size_t b10 = std::min<std::size_t>(10, top.n_bids);
    const std::size_t b25 = std::min<std::size_t>(25, top.n_bids);
    const std::size_t a5 = std::min<std::size_t>(5, top.n_asks);
    const std::size_t a10 = std::min<std::size_t>(10, top.n_asks);
    const std::size_t a25 = std::min<std::size_t>(25, top.n_asks);
    const std::uint64_t sb5 = sum_qty(top.bids, b5);
    const std::uint64_t sb10 = sb5 + sum_qty(top.bids + b5, b10 - b5);
    const std::uint64_t sb25 = sb10 + sum_qty(top.bids + b10, b25 - b10);
    const std::uint64_t sa5 = sum_qty(top.asks, a5);
    const std::uint64_t sa10 = sa5 + sum_qty(top.asks + a5, a10 - a5);
    const std::uint64_t sa25 = sa10 + sum_qty(top.asks + a10, a25 - a10);

    double wb = 0.0;
    double wa = 0.0;
    weighted_sums(top, k.dwi_levels, k.dwi_ratio, wb, wa);

    const double s_imb = k.inv_imbalance;
    std::array<double, kBookSubCount> dev{};
    dev[static_cast<std::size_t>(BookSub::Oir5)] =
        logistic_dev(ratio(as_lots(sb5), as_lots(sa5)), s_imb);
    dev[static_cast<std::size_t>(BookSub::Oir10)] =
        logistic_dev(ratio(as_lots(sb10), as_lots(sa10)), s_imb);
    dev[static_cast<std::size_t>(BookSub::Oir25)] =
        logistic_dev(ratio(as_lots(sb25), as_lots(sa25)), s_imb);
    dev[static_cast<std::size_t>(BookSub::Dwi)] = logistic_dev(ratio(wb, wa), s_imb);
    dev[static_cast<std::size_t>(BookSub::Microprice)] = logistic_dev(
        ratio(static_cast<double>(top.bids[0].qty), static_cast<double>(top.asks[0].qty)), s_imb);

    std::array<double, kBookSubCount> w = k.weights;
    constexpr auto kOfi = static_cast<std::size_t>(BookSub::Ofi);
    double full = 0.0;
    for (const double x : w) {
        full += x;
    }
    // Share of the weight not yet warm: the ofi weight times the part of its window the
    // stream has not covered (all of it while the window holds no event).
    double cold = 0.0;
    if (ofi.size() > 0) {
        const double x = k.ofi_tstat ? ofi.tstat() : ofi.normalized();
        dev[kOfi] = logistic_dev(x, k.inv_ofi);
        if (k.warmup) {
            const double cov = ofi.coverage();
            cold = w[kOfi] * (1.0 - cov);
            w[kOfi] *= cov;
        }
    } else {
        cold = w[kOfi];
        w[kOfi] = 0.0;
    }
    if (std::isfinite(depth_ratio_raw)) {
        dev[static_cast<std::size_t>(BookSub::DepthRatio)] = logistic_dev(depth_ratio_raw, s_imb);
    } else {
        w[static_cast<std::size_t>(BookSub::DepthRatio)] = 0.0;
    }
    if (std::isfinite(absorption_raw)) {
        dev[static_cast<std::size_t>(BookSub::AbsorptionExhaustion)] =
            logistic_dev(absorption_raw, s_imb);
    } else {
        w[static_cast<std::size_t>(BookSub::AbsorptionExhaustion)] = 0.0;
    }
    if (std::isfinite(liquidity_raw)) {
        dev[static_cast<std::size_t>(BookSub::Liquidity)] = logistic_dev(liquidity_raw, s_imb);
    } else {
        w[static_cast<std::size_t>(BookSub::Liquidity)] = 0.0;
    }

    // A sub-score read (it had its input) but weighted 0 by the configuration is reported as
    // such (ComponentScore::sub_unweighted).
    std::array<bool, kBookSubCount> reads{};
    reads.fill(true);
    reads[kOfi] = ofi.size() > 0;
    reads[static_cast<std::size_t>(BookSub::DepthRatio)] = std::isfinite(depth_ratio_raw);
    reads[static_cast<std::size_t>(BookSub::AbsorptionExhaustion)] = std::isfinite(absorption_raw);
    reads[static_cast<std::size_t>(BookSub::Liquidity)] = std::isfinite(liquidity_raw);
    double num = 0.0;
    double den = 0.0;
    for (std::size_t i = 0; i < kBookSubCount; ++i) {
        if (reads[i] && k.weights[i] == 0.0) {
            out.sub_unweighted = static_cast<std::uint16_t>(out.sub_unweighted | (1U << i));
        }
        out.sub[i] = 50.0 + dev[i];
        out.sub_weight[i] = w[i];
        num += w[i] * dev[i];
        den += w[i];
    }
    // den > 0 unless every weight with information is 0 (e.g. only ofi and depth_ratio weighted
    // and both unavailable): then the component has no directional reading and stays at 50.
    const double score = den > 0.0 ? 50.0 + num / den : 50.0;
    out.warmup = k.warmup ? std::clamp(1.0 - cold / full, 0.0, 1.0) : 1.0;
    out.score = std::clamp(score, 0.0, 100.0); // guards rounding only: |num/den| <= 50
}

} // namespace confluex::signals
