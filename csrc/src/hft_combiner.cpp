#include "confluex/hft_combiner.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "confluex/errors.hpp"

namespace confluex::hft {

double combine_linear(const double* scores, const double* weights, std::size_t n) noexcept {
    double acc = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        acc += scores[i] * weights[i];
    }
    return acc;
}

EnsembleResult combine_ensemble(const double* scores, const double* confidences,
                                std::size_t n) noexcept {
    EnsembleResult r;
    r.n = n;
    double total = 0.0;
    double sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        total += confidences[i];
        sq += confidences[i] * confidences[i];
    }
    if (!(total > 0.0)) {
        return r; // no confidence anywhere: composite 0, confidence 0, weights 0
    }
    double d = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        r.weights[i] = confidences[i] / total;
        d += r.weights[i] * scores[i];
    }
    double v = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double e = scores[i] - d;
        v += r.weights[i] * e * e;
    }
    r.composite = d;
    r.confidence = (sq / total) * std::exp(-2.0 * v);
    return r;
}

double combine_rank(const double* scores, std::size_t n) noexcept {
    if (n == 0) {
        return 0.0;
    }
    // Average rank of each score: #{s_j < s_i} + (#{s_j == s_i} - 1)/2. O(n^2) with n <= 16
    // beats sorting with an index array (no branches the predictor cannot learn).
    double acc = 0.0;
    double wsum = 0.0;
    const double inv_n = 1.0 / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t less = 0;
        std::size_t equal = 0;
        for (std::size_t j = 0; j < n; ++j) {
            less += scores[j] < scores[i] ? 1U : 0U;
            equal += scores[j] == scores[i] ? 1U : 0U;
        }
        const double rank = static_cast<double>(less) + 0.5 * static_cast<double>(equal - 1);
        const double w = (rank + 1.0) * inv_n;
        acc += w * scores[i];
        wsum += w;
    }
    return acc / wsum;
}

// --- OnlineICCombiner ------------------------------------------------------------------------

void OnlineICConfig::validate() const {
    auto bad = [](const char* what, const std::string& v) {
        throw InvalidConfig(std::string("OnlineICConfig: ") + what + ", was " + v);
    };
    if (n_inputs < 1 || n_inputs > kMaxCombinerInputs) {
        bad("n_inputs must be in [1, 16]", std::to_string(n_inputs));
    }
    if (horizon_ns <= 0) {
        bad("horizon_ns must be > 0", std::to_string(horizon_ns));
    }
    if (rank_window < 2 || rank_window > (std::size_t{1} << 24)) {
        bad("rank_window must be in [2, 2^24]", std::to_string(rank_window));
    }
    if (!std::isfinite(halflife) || halflife <= 0) {
        bad("halflife must be finite and > 0", std::to_string(halflife));
    }
    if (!std::isfinite(floor) || floor < -1 || floor >= 1) {
        bad("floor must be in [-1, 1)", std::to_string(floor));
    }
    if (!std::isfinite(temperature) || temperature <= 0) {
        bad("temperature must be finite and > 0", std::to_string(temperature));
    }
    if (min_realised < 1) {
        bad("min_realised must be >= 1", std::to_string(min_realised));
    }
    if (max_pending < 1 || max_pending > (std::size_t{1} << 24)) {
        bad("max_pending must be in [1, 2^24]", std::to_string(max_pending));
    }
}

OnlineICCombiner::OnlineICCombiner(OnlineICConfig cfg)
    : cfg_((cfg.validate(), cfg)), alpha_(1.0 - std::exp2(-1.0 / cfg_.halflife)),
      pend_ts_(cfg_.max_pending), pend_mid_(cfg_.max_pending),
      pend_scores_(cfg_.max_pending * cfg_.n_inputs),
      win_vals_((cfg_.n_inputs + 1) * cfg_.rank_window, 0.0) {
    for (std::size_t k = 0; k <= cfg_.n_inputs; ++k) {
        trees_.push_back(std::make_unique<detail::OrderStatTree>(cfg_.rank_window));
    }
    refresh_weights();
}

void OnlineICCombiner::observe(std::int64_t ts_ns, const double* scores, double mid) {
    const std::size_t n = cfg_.n_inputs;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(scores[i])) {
            throw InvalidEvent("OnlineICCombiner.observe: score " + std::to_string(i) +
                               " must be finite, was " + std::to_string(scores[i]));
        }
    }
    if (!std::isfinite(mid) || mid <= 0) {
        throw InvalidEvent("OnlineICCombiner.observe: mid must be finite and > 0, was " +
                           std::to_string(mid));
    }
    if (ts_ns < last_ts_) {
        throw InvalidEvent("OnlineICCombiner.observe: ts_ns must not go back, was " +
                           std::to_string(ts_ns) + " after " + std::to_string(last_ts_));
    }
    last_ts_ = ts_ns;
    const std::size_t cap = pend_ts_.size();
    bool realised_any = false;
    while (pending_n_ > 0 && pend_ts_[pend_head_] <= ts_ns - cfg_.horizon_ns) {
        realise(pend_head_, mid);
        pend_head_ = pend_head_ + 1 == cap ? 0 : pend_head_ + 1;
        --pending_n_;
        realised_any = true;
    }
    if (realised_any) {
        refresh_weights();
    }
    if (pending_n_ == cap) {
        pend_head_ = pend_head_ + 1 == cap ? 0 : pend_head_ + 1;
        --pending_n_;
        ++dropped_;
    }
    const std::size_t slot = (pend_head_ + pending_n_) % cap;
    pend_ts_[slot] = ts_ns;
    pend_mid_[slot] = mid;
    for (std::size_t i = 0; i < n; ++i) {
        pend_scores_[slot * n + i] = scores[i];
    }
    ++pending_n_;
}

double OnlineICCombiner::rank_u(const detail::OrderStatTree& t, double v) const noexcept {
    const std::size_t m = t.size();
    if (m == 0) {
        return 0.0;
    }
    const std::size_t l = t.count_less(v);
    const std::size_t r = t.count_less_equal(v);
    const double pct =
        static_cast<double>(l + r + (r > l ? 1U : 0U)) * (50.0 / static_cast<double>(m));
    return (pct - 50.0) / 50.0;
}

void OnlineICCombiner::push_window(std::size_t k, double v) noexcept {
    const std::size_t w = cfg_.rank_window;
    const std::size_t slot = static_cast<std::size_t>(win_seq_ % w);
    double& cell = win_vals_[k * w + slot];
    if (win_seq_ >= w) {
        trees_[k]->erase(cell, win_seq_ - w);
    }
    cell = v;
    trees_[k]->insert(v, win_seq_);
}

void OnlineICCombiner::realise(std::size_t slot, double mid) noexcept {
    const std::size_t n = cfg_.n_inputs;
    const double ret = mid / pend_mid_[slot] - 1.0;
    const double* s = &pend_scores_[slot * n];
    const double ur = rank_u(*trees_[n], ret);
    const double keep = 1.0 - alpha_;
    ew_w_ = keep * ew_w_ + 1.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double ux = rank_u(*trees_[i], s[i]);
        Ew& e = ew_[i];
        e.mx = keep * e.mx + ux;
        e.my = keep * e.my + ur;
        e.sxx = keep * e.sxx + ux * ux;
        e.syy = keep * e.syy + ur * ur;
        e.sxy = keep * e.sxy + ux * ur;
    }
    // The observation joins the rank windows only after it was ranked (causal ranks).
    for (std::size_t i = 0; i < n; ++i) {
        push_window(i, s[i]);
    }
    push_window(n, ret);
    ++win_seq_;
    ++realised_;
}

double OnlineICCombiner::ic(std::size_t i) const noexcept {
    if (ew_w_ <= 0.0) {
        return 0.0;
    }
    const Ew& e = ew_[i];
    const double mx = e.mx / ew_w_;
    const double my = e.my / ew_w_;
    const double vx = e.sxx / ew_w_ - mx * mx;
    const double vy = e.syy / ew_w_ - my * my;
    const double cxy = e.sxy / ew_w_ - mx * my;
    if (!(vx > 1e-12) || !(vy > 1e-12)) {
        return 0.0;
    }
    return std::clamp(cxy / std::sqrt(vx * vy), -1.0, 1.0);
}

void OnlineICCombiner::refresh_weights() noexcept {
    const std::size_t n = cfg_.n_inputs;
    double total = 0.0;
    if (realised_ >= cfg_.min_realised) {
        double best = -2.0;
        std::array<double, kMaxCombinerInputs> ics{};
        for (std::size_t i = 0; i < n; ++i) {
            ics[i] = ic(i);
            best = std::max(best, ics[i]);
        }
        for (std::size_t i = 0; i < n; ++i) {
            // exp(<= 0): no overflow; the best input above the floor always gets exp(0) = 1.
            weights_[i] = ics[i] > cfg_.floor ? std::exp((ics[i] - best) / cfg_.temperature) : 0.0;
            total += weights_[i];
        }
    }
    if (!(total > 0.0)) {
        for (std::size_t i = 0; i < n; ++i) {
            weights_[i] = 1.0 / static_cast<double>(n);
        }
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        weights_[i] /= total;
    }
}

double OnlineICCombiner::combine(const double* scores) const noexcept {
    double acc = 0.0;
    for (std::size_t i = 0; i < cfg_.n_inputs; ++i) {
        acc += weights_[i] * scores[i];
    }
    return acc;
}

} // namespace confluex::hft
