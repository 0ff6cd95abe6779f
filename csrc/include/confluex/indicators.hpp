// confluex/indicators.hpp
//
// Provides the incremental indicator kernels of the technical and volume views: RSI, EMA,
// SMA, MACD, AO, Williams %R, ATR, CCI, OBV, ADL (Chaikin A/D line), CMF, VWAP and relative
// volume. Each takes one closed bar per `update` in O(1), except the branch-free O(period)
// scans of CCI (mean deviation), W%R (window high/low), CMF and windowed VWAP, and allocates
// only at construction.
//
// Values equal TA-Lib's (default compatibility, unstable period 0) on the same bars: each
// kernel repeats TA-Lib's recurrences (seeds, Wilder smoothing, running sums), so the results
// agree to a few ulps (the tests hold them to 1e-9 relative). `value()` is
// NaN until `ready()`; the first ready bar is TA-Lib's first output (its lookback + 1 bars).
// Where TA-Lib divides by a zero range it writes 0 (W%R and CCI on a flat window): so do these
// kernels. RSI on a flat window reads 50 here (TA-Lib: 0, i.e. "oversold" when nothing moved).
//
// AO, CMF, VWAP and relative volume are not TA-Lib functions: AO = SMA5 - SMA34 of TA-Lib's
// MEDPRICE, computed with TA-Lib's SMA arithmetic; CMF, VWAP and relative volume are checked
// against a plain-Python reference.
//
// Not thread-safe: one thread owns an instance.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "confluex/bar.hpp"

namespace confluex {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Validates an indicator period; throws InvalidConfig naming it ("period must be >= 2, was 1").
void check_period(const char* name, std::size_t period, std::size_t min_value);

// A fixed ring of the last `n` doubles (oldest overwritten).
class DoubleRing {
  public:
    explicit DoubleRing(std::size_t n) : buf_(n, 0.0) {}
    void push(double x) noexcept {
        buf_[head_] = x;
        head_ = head_ + 1 == buf_.size() ? 0 : head_ + 1;
        if (count_ < buf_.size())
            ++count_;
    }
    // Returns the value `back` pushes ago (0 = the latest). REQUIRES: back < size().
    [[nodiscard]] double back(std::size_t back) const noexcept {
        // head_ - 1 - back, wrapped without a division (back < size() <= capacity).
        std::size_t i = head_ + buf_.size() - 1 - back;
        i = i >= buf_.size() ? i - buf_.size() : i;
        return buf_[i];
    }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return buf_.size(); }
    [[nodiscard]] bool full() const noexcept { return count_ == buf_.size(); }
    void clear() noexcept { head_ = count_ = 0; }

  private:
    std::vector<double> buf_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

// Simple moving average with TA-Lib's running sum (add the new value, output, drop the oldest).
class Sma {
  public:
    explicit Sma(std::size_t period);
    double update(double x) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return n_ >= period_; }
    [[nodiscard]] std::size_t period() const noexcept { return period_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    DoubleRing win_;
    double sum_ = 0.0;
    std::size_t n_ = 0;
    double value_ = kNaN;
};

// Exponential moving average, TA-Lib seeding: the first value is the SMA of the first
// `period` inputs, then ema += (x - ema) * 2 / (period + 1).
class Ema {
  public:
    explicit Ema(std::size_t period);
    double update(double x) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return n_ >= period_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    double k_;
    double sum_ = 0.0;
    std::size_t n_ = 0;
    double value_ = kNaN;
};

// RSI (TA-Lib TA_RSI): Wilder averages of gains and losses, 100 * gain / (gain + loss).
class Rsi {
  public:
    explicit Rsi(std::size_t period = 14);
    double update(double close) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return diffs_ >= period_; }
    [[nodiscard]] std::size_t period() const noexcept { return period_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    double keep_; // period - 1
    double inv_;  // 1 / period
    double prev_ = 0.0;
    double gain_ = 0.0;
    double loss_ = 0.0;
    std::size_t n_ = 0;     // closes seen
    std::size_t diffs_ = 0; // diffs seen
    double value_ = kNaN;
};

// MACD (TA-Lib TA_MACD): fast and slow EMAs of the close, both first output at bar slow-1
// (TA-Lib seeds the fast EMA with the SMA of the `fast` closes ending there), signal = EMA of
// MACD seeded by the SMA of its first `signal` values; hist = macd - signal.
class Macd {
  public:
    Macd(std::size_t fast = 12, std::size_t slow = 26, std::size_t signal = 9);
    void update(double close) noexcept;
    [[nodiscard]] double macd() const noexcept { return ready() ? macd_ : kNaN; }
    [[nodiscard]] double signal() const noexcept { return signal_v_; }
    [[nodiscard]] double hist() const noexcept { return ready() ? macd_ - signal_v_ : kNaN; }
    [[nodiscard]] double value() const noexcept { return macd(); }
    [[nodiscard]] bool ready() const noexcept { return n_ >= slow_ + signal_ - 1; }
    void reset() noexcept;

  private:
    std::size_t fast_, slow_, signal_;
    double kf_, ks_, kg_;
    DoubleRing last_fast_;
    double slow_sum_ = 0.0;
    double fast_ema_ = 0.0, slow_ema_ = 0.0;
    double macd_ = kNaN;
    double sig_sum_ = 0.0;
    double signal_v_ = kNaN;
    std::size_t n_ = 0;
};

// Awesome Oscillator: SMA(fast) - SMA(slow) of the median price (high + low) / 2.
class Ao {
  public:
    Ao(std::size_t fast = 5, std::size_t slow = 34);
    double update(double high, double low) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] double previous() const noexcept { return prev_; }
    [[nodiscard]] bool ready() const noexcept { return slow_.ready(); }
    void reset() noexcept;

  private:
    Sma fast_, slow_;
    double value_ = kNaN, prev_ = kNaN;
};

// Highest high and lowest low of the last `period` bars: a branch-free O(period) scan of a
// fixed ring (for the short windows of W%R it vectorises and is faster than a monotonic deque).
class MinMaxWindow {
  public:
    explicit MinMaxWindow(std::size_t period);
    void update(double high, double low) noexcept;
    [[nodiscard]] double highest() const noexcept;
    [[nodiscard]] double lowest() const noexcept;
    [[nodiscard]] bool ready() const noexcept { return n_ >= period_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    std::vector<double> highs_, lows_;
    std::size_t slot_ = 0;
    std::uint64_t n_ = 0;
    double highest_ = kNaN, lowest_ = kNaN;
};

// Williams %R (TA-Lib TA_WILLR): (highest - close) / ((highest - lowest) * -0.01), in
// [-100, 0]; 0 on a flat window (as TA-Lib).
class WilliamsR {
  public:
    explicit WilliamsR(std::size_t period = 14);
    double update(double high, double low, double close) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return win_.ready(); }
    void reset() noexcept;

  private:
    MinMaxWindow win_;
    double value_ = kNaN;
};

// ATR (TA-Lib TA_ATR): true range from the second bar; the first ATR is the mean of the first
// `period` true ranges, then Wilder smoothing.
class Atr {
  public:
    explicit Atr(std::size_t period = 14);
    double update(double high, double low, double close) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return n_ > period_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    double prev_close_ = 0.0;
    double sum_ = 0.0;
    std::size_t n_ = 0;
    double value_ = kNaN;
};

// CCI (TA-Lib TA_CCI): (tp - mean) / (0.015 * mean deviation) over `period` typical prices
// (high + low + close) / 3; 0 on a flat window. The two O(period) sums use four partial sums
// (vectorised) instead of TA-Lib's single chain: a few ulps apart, and a tp - mean of pure
// rounding noise (below 1e-12 of the price) reads 0 as TA-Lib's does.
class Cci {
  public:
    explicit Cci(std::size_t period = 20);
    double update(double high, double low, double close) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return n_ >= period_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    std::vector<double> circ_;
    std::size_t idx_ = 0;
    std::size_t n_ = 0;
    double value_ = kNaN;
};

// OBV (TA-Lib TA_OBV): starts at the first bar's volume, then +-volume by the close's change.
class Obv {
  public:
    double update(double close, double volume) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return n_ > 0; }
    void reset() noexcept { *this = Obv{}; }

  private:
    double prev_close_ = 0.0;
    double value_ = kNaN;
    std::size_t n_ = 0;
};

// Close location value ((C - L) - (H - C)) / (H - L), 0 when H == L.
[[nodiscard]] inline double clv(double high, double low, double close) noexcept {
    const double range = high - low;
    return range > 0.0 ? ((close - low) - (high - close)) / range : 0.0;
}

// ADL, the Chaikin accumulation/distribution line (TA-Lib TA_AD): cumulative CLV * volume.
class Adl {
  public:
    double update(double high, double low, double close, double volume) noexcept;
    [[nodiscard]] double value() const noexcept { return n_ > 0 ? value_ : kNaN; }
    [[nodiscard]] bool ready() const noexcept { return n_ > 0; }
    void reset() noexcept { *this = Adl{}; }

  private:
    double value_ = 0.0;
    std::size_t n_ = 0;
};

// CMF, Chaikin money flow: sum(CLV * V) / sum(V) over `period` bars, in [-1, 1]; 0 when the
// window has no volume. Sums are recomputed each bar (O(period)) so no drift accumulates.
class Cmf {
  public:
    explicit Cmf(std::size_t period = 20);
    double update(double high, double low, double close, double volume) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] bool ready() const noexcept { return mfv_.full(); }
    void reset() noexcept;

  private:
    DoubleRing mfv_, vol_;
    double value_ = kNaN;
};

// VWAP over the last `period` bars (0 = every bar since reset): sum(p * V) / sum(V) with p the
// bar's own VWAP when it has one (trades), else the typical price (H + L + C) / 3. Also the
// volume-weighted standard deviation of p around it (the VWAP bands). NaN while the window
// holds no volume.
class Vwap {
  public:
    explicit Vwap(std::size_t period = 0);
    double update(double price, double volume) noexcept;
    double update_bar(double high, double low, double close, double volume) noexcept {
        return update((high + low + close) / 3.0, volume);
    }
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] double stddev() const noexcept { return std_; }
    [[nodiscard]] bool ready() const noexcept { return value_ == value_; }
    void reset() noexcept;

  private:
    std::size_t period_;
    DoubleRing p_, v_;
    double sv_ = 0.0, spv_ = 0.0, sppv_ = 0.0;
    double value_ = kNaN, std_ = kNaN;
};

// Relative volume V / EMA_period(V) of the previous bars (the EMA excludes the current bar, so
// a volume burst is measured against what came before). Warm-up: before `period` bars the
// baseline is the mean of the bars so far; ready after `min_bars` bars. 1 when the baseline is 0
// and V is 0; +inf never: a zero baseline with volume gives `cap`.
class RelativeVolume {
  public:
    explicit RelativeVolume(std::size_t period = 30, std::size_t min_bars = 5, double cap = 10.0);
    double update(double volume) noexcept;
    [[nodiscard]] double value() const noexcept { return value_; }
    [[nodiscard]] double baseline() const noexcept { return base_; }
    [[nodiscard]] bool ready() const noexcept { return n_ > min_bars_; }
    void reset() noexcept;

  private:
    std::size_t period_, min_bars_;
    double cap_;
    Ema ema_;
    double sum_ = 0.0;
    std::size_t n_ = 0;
    double base_ = kNaN;
    double value_ = kNaN;
};

} // namespace confluex
