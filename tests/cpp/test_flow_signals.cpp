// The error bound of the exp-based tanh behind the flow sub-scores (flow_signals.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "confluex/flow_signals.hpp"

using confluex::detail::tanh_abs_error_4e16;

namespace {

double abs_error(double x) {
    const long double want = std::tanh(static_cast<long double>(x));
    return static_cast<double>(std::fabs(static_cast<long double>(tanh_abs_error_4e16(x)) - want));
}

} // namespace

TEST(FastTanh, AbsoluteErrorWithinBoundOnDenseGridAndRandomInputs) {
    double worst = 0.0;
    for (int i = -400000; i <= 400000; ++i) {
        const double x = static_cast<double>(i) * 5e-5; // [-20, 20]
        worst = std::max(worst, abs_error(x));
    }
    std::uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 1000000; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        // Log-uniform magnitudes 1e-12 .. 1e3, both signs.
        const double u = static_cast<double>(s >> 11) * 0x1.0p-53;
        const double x = std::pow(10.0, -12.0 + 15.0 * u) * ((s & 1) != 0 ? 1.0 : -1.0);
        worst = std::max(worst, abs_error(x));
    }
    EXPECT_LE(worst, 4e-16);
}

TEST(FastTanh, ExactAtZeroOddAndSaturated) {
    EXPECT_EQ(tanh_abs_error_4e16(0.0), 0.0);
    for (const double x : {1e-300, 1e-8, 0.1, 0.35, 1.0, 3.0, 18.0, 25.0}) {
        EXPECT_EQ(tanh_abs_error_4e16(-x), -tanh_abs_error_4e16(x)) << x;
    }
    EXPECT_EQ(tanh_abs_error_4e16(1e6), 1.0);
    EXPECT_EQ(tanh_abs_error_4e16(-std::numeric_limits<double>::infinity()), -1.0);
    EXPECT_TRUE(std::isnan(tanh_abs_error_4e16(std::numeric_limits<double>::quiet_NaN())));
}
