#include "confluex/indicators.hpp"

#include <algorithm>
#include <string>

#include "confluex/errors.hpp"

namespace confluex {

void check_period(const char* name, std::size_t period, std::size_t min_value) {
    if (period < min_value || period > 100000) {
        throw InvalidConfig(std::string(name) + " must be in [" + std::to_string(min_value) +
                            ", 100000], was " + std::to_string(period));
    }
}

// ---- Sma --------------------------------------------------------------------------------
Sma::Sma(std::size_t period) : period_(period), win_((check_period("period", period, 1), period)) {}

double Sma::update(double x) noexcept {
    win_.push(x);
    ++n_;
    sum_ += x;
    if (n_ >= period_) {
        value_ = sum_ / static_cast<double>(period_);
        // TA-Lib drops the oldest value of the window right after writing the output.
        sum_ -= win_.back(period_ - 1);
    }
    return value_;
}

void Sma::reset() noexcept {
    win_.clear();
    sum_ = 0.0;
    n_ = 0;
    value_ = kNaN;
}

// ---- Ema --------------------------------------------------------------------------------
Ema::Ema(std::size_t period)
    : period_((check_period("period", period, 1), period)),
      k_(2.0 / static_cast<double>(period + 1)) {}

double Ema::update(double x) noexcept {
    ++n_;
    if (n_ < period_) {
        sum_ += x;
    } else if (n_ == period_) {
        sum_ += x;
        value_ = sum_ / static_cast<double>(period_);
    } else {
        value_ = ((x - value_) * k_) + value_;
    }
    return value_;
}

void Ema::reset() noexcept {
    sum_ = 0.0;
    n_ = 0;
    value_ = kNaN;
}

// ---- Rsi --------------------------------------------------------------------------------
Rsi::Rsi(std::size_t period)
    : period_((check_period("period", period, 2), period)),
      keep_(static_cast<double>(period) - 1.0), inv_(1.0 / static_cast<double>(period)) {}

double Rsi::update(double close) noexcept {
    if (n_++ == 0) {
        prev_ = close;
        return value_;
    }
    const double d = close - prev_;
    prev_ = close;
    // Branch-free split (the sign of a price change is a coin flip for a branch predictor).
    const double up = d > 0.0 ? d : 0.0;
    const double down = d < 0.0 ? -d : 0.0;
    if (diffs_ >= period_) {
        // Wilder: (avg * (n - 1) + x) / n, with the division as a multiplication by 1/n (it is
        // the loop-carried chain; the result stays within a few ulps of TA-Lib's).
        gain_ = (gain_ * keep_ + up) * inv_;
        loss_ = (loss_ * keep_ + down) * inv_;
    } else {
        gain_ += up;
        loss_ += down;
        if (++diffs_ < period_) {
            return value_;
        }
        const auto p = static_cast<double>(period_);
        gain_ /= p;
        loss_ /= p;
    }
    const double total = gain_ + loss_;
    // A flat window (no gain, no loss) reads 50: nothing moved. TA-Lib writes 0 ("oversold").
    value_ = total != 0.0 ? 100.0 * (gain_ / total) : 50.0;
    return value_;
}

void Rsi::reset() noexcept { *this = Rsi(period_); }

// ---- Macd -------------------------------------------------------------------------------
namespace {
std::size_t check_macd(std::size_t fast, std::size_t slow, std::size_t signal) {
    check_period("fast", fast, 2);
    check_period("slow", slow, 2);
    check_period("signal", signal, 1);
    if (fast >= slow) {
        throw InvalidConfig("fast must be < slow, was fast=" + std::to_string(fast) +
                            " slow=" + std::to_string(slow));
    }
    return fast;
}
} // namespace

Macd::Macd(std::size_t fast, std::size_t slow, std::size_t signal)
    : fast_(check_macd(fast, slow, signal)), slow_(slow), signal_(signal),
      kf_(2.0 / static_cast<double>(fast + 1)), ks_(2.0 / static_cast<double>(slow + 1)),
      kg_(2.0 / static_cast<double>(signal + 1)), last_fast_(fast) {}

void Macd::update(double close) noexcept {
    const std::size_t i = n_++;
    last_fast_.push(close);
    if (i + 1 < slow_) {
        slow_sum_ += close;
        return;
    }
    if (i + 1 == slow_) {
        slow_sum_ += close;
        slow_ema_ = slow_sum_ / static_cast<double>(slow_);
        // TA-Lib seeds the fast EMA at the slow EMA's first bar, with the SMA of the last
        // `fast` closes summed oldest first.
        double s = 0.0;
        for (std::size_t k = fast_; k > 0; --k) {
            s += last_fast_.back(k - 1);
        }
        fast_ema_ = s / static_cast<double>(fast_);
    } else {
        fast_ema_ = ((close - fast_ema_) * kf_) + fast_ema_;
        slow_ema_ = ((close - slow_ema_) * ks_) + slow_ema_;
    }
    macd_ = fast_ema_ - slow_ema_;
    const std::size_t j = i + 1 - slow_; // index in the MACD series
    if (j + 1 < signal_) {
        sig_sum_ += macd_;
    } else if (j + 1 == signal_) {
        sig_sum_ += macd_;
        signal_v_ = sig_sum_ / static_cast<double>(signal_);
    } else {
        signal_v_ = ((macd_ - signal_v_) * kg_) + signal_v_;
    }
}

void Macd::reset() noexcept { *this = Macd(fast_, slow_, signal_); }

// ---- Ao ---------------------------------------------------------------------------------
Ao::Ao(std::size_t fast, std::size_t slow) : fast_(fast), slow_(slow) {
    if (fast >= slow) {
        throw InvalidConfig("fast must be < slow, was fast=" + std::to_string(fast) +
                            " slow=" + std::to_string(slow));
    }
}

double Ao::update(double high, double low) noexcept {
    const double med = (high + low) / 2.0;
    fast_.update(med);
    slow_.update(med);
    if (slow_.ready()) {
        prev_ = value_;
        value_ = fast_.value() - slow_.value();
    }
    return value_;
}

void Ao::reset() noexcept {
    fast_.reset();
    slow_.reset();
    value_ = prev_ = kNaN;
}

// ---- MinMaxWindow -----------------------------------------------------------------------
MinMaxWindow::MinMaxWindow(std::size_t period)
    : period_((check_period("period", period, 1), period)), highs_(period, -kInf),
      lows_(period, kInf) {}

void MinMaxWindow::update(double high, double low) noexcept {
    highs_[slot_] = high;
    lows_[slot_] = low;
    slot_ = slot_ + 1 == period_ ? 0 : slot_ + 1;
    ++n_;
    // A branch-free scan of the window (empty slots hold -inf / +inf): for W%R's 14 bars this
    // vectorises and beats a monotonic deque, whose data-dependent pops mispredict.
    double hi = -kInf;
    double lo = kInf;
    for (std::size_t i = 0; i < period_; ++i) {
        hi = highs_[i] > hi ? highs_[i] : hi;
        lo = lows_[i] < lo ? lows_[i] : lo;
    }
    highest_ = hi;
    lowest_ = lo;
}

double MinMaxWindow::highest() const noexcept { return n_ > 0 ? highest_ : kNaN; }
double MinMaxWindow::lowest() const noexcept { return n_ > 0 ? lowest_ : kNaN; }

void MinMaxWindow::reset() noexcept {
    std::fill(highs_.begin(), highs_.end(), -kInf);
    std::fill(lows_.begin(), lows_.end(), kInf);
    slot_ = 0;
    n_ = 0;
    highest_ = lowest_ = kNaN;
}

// ---- WilliamsR --------------------------------------------------------------------------
WilliamsR::WilliamsR(std::size_t period) : win_((check_period("period", period, 2), period)) {}

double WilliamsR::update(double high, double low, double close) noexcept {
    win_.update(high, low);
    if (win_.ready()) {
        const double hi = win_.highest();
        const double diff = (hi - win_.lowest()) * (-0.01);
        value_ = diff != 0.0 ? (hi - close) / diff : 0.0;
    }
    return value_;
}

void WilliamsR::reset() noexcept {
    win_.reset();
    value_ = kNaN;
}

// ---- Atr --------------------------------------------------------------------------------
Atr::Atr(std::size_t period) : period_((check_period("period", period, 1), period)) {}

double Atr::update(double high, double low, double close) noexcept {
    if (n_++ == 0) {
        prev_close_ = close;
        return value_;
    }
    double tr = high - low;
    const double up = std::fabs(prev_close_ - high);
    tr = up > tr ? up : tr;
    const double down = std::fabs(prev_close_ - low);
    tr = down > tr ? down : tr;
    prev_close_ = close;
    const auto p = static_cast<double>(period_);
    if (n_ <= period_) {
        sum_ += tr; // the first ATR needs `period` true ranges (bars 1..period)
        return value_;
    }
    if (n_ == period_ + 1) {
        sum_ += tr;
        value_ = sum_ / p;
        return value_;
    }
    value_ *= p - 1.0;
    value_ += tr;
    value_ /= p;
    return value_;
}

void Atr::reset() noexcept { *this = Atr(period_); }

// ---- Cci --------------------------------------------------------------------------------
Cci::Cci(std::size_t period)
    : period_((check_period("period", period, 2), period)), circ_(period, 0.0) {}

double Cci::update(double high, double low, double close) noexcept {
    const double tp = (high + low + close) / 3.0;
    circ_[idx_] = tp;
    idx_ = idx_ + 1 == period_ ? 0 : idx_ + 1;
    ++n_;
    if (n_ < period_) {
        return value_;
    }
    // Four partial sums, so the compiler can vectorise both passes (see the header).
    const double* x = circ_.data();
    const std::size_t n4 = period_ & ~std::size_t{3};
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
    for (std::size_t i = 0; i < n4; i += 4) {
        a0 += x[i];
        a1 += x[i + 1];
        a2 += x[i + 2];
        a3 += x[i + 3];
    }
    for (std::size_t i = n4; i < period_; ++i) {
        a0 += x[i];
    }
    const auto p = static_cast<double>(period_);
    const double avg = ((a0 + a1) + (a2 + a3)) / p;
    double d0 = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0;
    for (std::size_t i = 0; i < n4; i += 4) {
        d0 += std::fabs(x[i] - avg);
        d1 += std::fabs(x[i + 1] - avg);
        d2 += std::fabs(x[i + 2] - avg);
        d3 += std::fabs(x[i + 3] - avg);
    }
    for (std::size_t i = n4; i < period_; ++i) {
        d0 += std::fabs(x[i] - avg);
    }
    const double dev = (d0 + d1) + (d2 + d3);
    const double diff = tp - avg;
    // TA-Lib writes 0 when tp - mean is rounding noise (|x| < 1e-16 of the price, as its
    // summation leaves it); the test here is relative to the price, so a rescaled series gives
    // the same CCI.
    const double noise = 1e-12 * std::fabs(avg);
    value_ = (std::fabs(diff) > noise && dev > noise) ? diff / (0.015 * (dev / p)) : 0.0;
    return value_;
}

void Cci::reset() noexcept { *this = Cci(period_); }

// ---- Obv / Adl / Cmf --------------------------------------------------------------------
double Obv::update(double close, double volume) noexcept {
    if (n_++ == 0) {
        value_ = volume;
    } else if (close > prev_close_) {
        value_ += volume;
    } else if (close < prev_close_) {
        value_ -= volume;
    }
    prev_close_ = close;
    return value_;
}

double Adl::update(double high, double low, double close, double volume) noexcept {
    ++n_;
    const double range = high - low;
    if (range > 0.0) {
        value_ += (((close - low) - (high - close)) / range) * volume;
    }
    return value_;
}

Cmf::Cmf(std::size_t period) : mfv_((check_period("period", period, 1), period)), vol_(period) {}

double Cmf::update(double high, double low, double close, double volume) noexcept {
    mfv_.push(clv(high, low, close) * volume);
    vol_.push(volume);
    if (!mfv_.full()) {
        return value_;
    }
    double sm = 0.0;
    double sv = 0.0;
    for (std::size_t k = mfv_.size(); k > 0; --k) {
        sm += mfv_.back(k - 1);
        sv += vol_.back(k - 1);
    }
    value_ = sv > 0.0 ? sm / sv : 0.0;
    return value_;
}

void Cmf::reset() noexcept {
    mfv_.clear();
    vol_.clear();
    value_ = kNaN;
}

// ---- Vwap -------------------------------------------------------------------------------
Vwap::Vwap(std::size_t period)
    : period_(period), p_(period == 0 ? 1 : period), v_(period == 0 ? 1 : period) {
    if (period > 100000) {
        check_period("period", period, 0);
    }
}

double Vwap::update(double price, double volume) noexcept {
    if (period_ == 0) {
        sv_ += volume;
        spv_ += price * volume;
        sppv_ += price * price * volume;
    } else {
        p_.push(price);
        v_.push(volume);
        // Recomputed over the window (O(period)): running sums of p^2 V cancel badly.
        sv_ = spv_ = 0.0;
        for (std::size_t k = p_.size(); k > 0; --k) {
            sv_ += v_.back(k - 1);
            spv_ += p_.back(k - 1) * v_.back(k - 1);
        }
    }
    if (!(sv_ > 0.0)) {
        value_ = std_ = kNaN; // a window without volume has no VWAP (not a stale one)
        return value_;
    }
    value_ = spv_ / sv_;
    double var = 0.0;
    if (period_ == 0) {
        var = sppv_ / sv_ - value_ * value_;
    } else {
        for (std::size_t k = p_.size(); k > 0; --k) {
            const double d = p_.back(k - 1) - value_;
            var += d * d * v_.back(k - 1);
        }
        var /= sv_;
    }
    std_ = std::sqrt(std::max(var, 0.0));
    return value_;
}

void Vwap::reset() noexcept {
    p_.clear();
    v_.clear();
    sv_ = spv_ = sppv_ = 0.0;
    value_ = std_ = kNaN;
}

// ---- RelativeVolume ---------------------------------------------------------------------
RelativeVolume::RelativeVolume(std::size_t period, std::size_t min_bars, double cap)
    : period_((check_period("period", period, 1), period)), min_bars_(min_bars), cap_(cap),
      ema_(period) {
    if (min_bars < 1 || min_bars > period) {
        throw InvalidConfig("min_bars must be in [1, period], was " + std::to_string(min_bars));
    }
    if (!(cap > 1.0 && std::isfinite(cap))) {
        throw InvalidConfig("cap must be > 1 and finite, was " + std::to_string(cap));
    }
}

double RelativeVolume::update(double volume) noexcept {
    // The baseline is what came before this bar: the warm-up mean, then the EMA.
    if (n_ > 0) {
        base_ = ema_.ready() ? ema_.value() : sum_ / static_cast<double>(n_);
        if (base_ > 0.0) {
            value_ = std::min(volume / base_, cap_);
        } else {
            value_ = volume > 0.0 ? cap_ : 1.0;
        }
    }
    ema_.update(volume);
    sum_ += volume;
    ++n_;
    return value_;
}

void RelativeVolume::reset() noexcept { *this = RelativeVolume(period_, min_bars_, cap_); }

} // namespace confluex
