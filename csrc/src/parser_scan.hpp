// Internal to the feed parsers: a strict, allocation-free JSON scanner and the exact
// decimal -> units conversion fused into the string scan. Not part of the public headers.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#define CONFLUEX_FEED_SSE2 1
#endif
#if defined(__SSE4_1__)
#include <smmintrin.h>
#define CONFLUEX_FEED_SSE41 1
#endif

#include "confluex/feed_parser.hpp"
#include "confluex/instrument.hpp"
#include "confluex/types.hpp"

namespace confluex::feed::detail {

using Err = ParseError;

inline constexpr int kMaxDepth = 64;
static_assert(std::endian::native == std::endian::little, "digits8() assumes little-endian loads");

// Forces a member-handler lambda into the scanning loop (keeps the cursor in a register).
#define CONFLUEX_INLINE_LAMBDA __attribute__((always_inline))

using confluex::detail::kPow10; // instrument.hpp

[[gnu::always_inline]] inline bool is_ws(char c) noexcept {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

[[gnu::always_inline]] inline void skip_ws(const char*& p, const char* end) noexcept {
    while (p < end && is_ws(*p))
        [[unlikely]] { ++p; }
}

// ASCII case-insensitive equality.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x + 32) : x;
        y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y + 32) : y;
        if (x != y) {
            return false;
        }
    }
    return true;
}

inline bool hex_digit(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Validates one multi-byte UTF-8 sequence at p (lead byte >= 0x80) and advances past it.
// Rejects what Python's strict UTF-8 decoder rejects: overlongs, surrogates, > U+10FFFF.
inline bool skip_utf8(const char*& p, const char* end) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    const auto avail = end - p;
    const unsigned c = u[0];
    auto cont = [&](std::ptrdiff_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return i < avail && u[i] >= lo && u[i] <= hi;
    };
    int n = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = cont(1) ? 2 : 0;
    } else if (c == 0xE0) {
        n = cont(1, 0xA0) && cont(2) ? 3 : 0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        n = cont(1) && cont(2) ? 3 : 0;
    } else if (c == 0xED) {
        n = cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    } else if (c == 0xF0) {
        n = cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    } else if (c >= 0xF1 && c <= 0xF3) {
        n = cont(1) && cont(2) && cont(3) ? 4 : 0;
    } else if (c == 0xF4) {
        n = cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    }
    p += n;
    return n != 0;
}

// scan_string_slow(): scan_string() for any string (long, escaped, non-ASCII).
[[gnu::noinline]] inline bool scan_string_slow(const char*& p, const char* end,
                                               std::string_view& out, bool& escaped) noexcept {
    const char* const s = p;
    escaped = false;
#if CONFLUEX_FEED_SSE2
    // 16 bytes at a time while no byte needs attention: a quote, a backslash, a control
    // character or a non-ASCII byte (the signed compare < 0x20 catches both of the last two).
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                             _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
        if (mask == 0) {
            p += 16;
            continue;
        }
        p += __builtin_ctz(mask);
        if (*p == '"') {
            out = std::string_view(s, static_cast<std::size_t>(p - s));
            ++p;
            return true;
        }
        break; // the scalar loop below handles escapes, control bytes and UTF-8
    }
#endif
    while (p < end) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"') {
            out = std::string_view(s, static_cast<std::size_t>(p - s));
            ++p;
            return true;
        }
        if (c == '\\') [[unlikely]] {
            escaped = true;
            if (end - p < 2) {
                return false;
            }
            const char e = p[1];
            if (e == 'u') {
                if (end - p < 6 || !hex_digit(p[2]) || !hex_digit(p[3]) || !hex_digit(p[4]) ||
                    !hex_digit(p[5])) {
                    return false;
                }
                p += 6;
                continue;
            }
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
                e != 't') {
                return false;
            }
            p += 2;
            continue;
        }
        if (c < 0x20) [[unlikely]] {
            return false;
        }
        if (c >= 0x80) [[unlikely]] {
            if (!skip_utf8(p, end)) {
                return false;
            }
            continue;
        }
        ++p;
    }
    return false;
}

// scan_string()
// Scans a JSON string body; p is just past the opening quote, and on success just past the
// closing one. `out` is the raw body (escapes not decoded); `escaped` tells if it had any.
// Inline fast path: a plain ASCII string whose closing quote is within 16 bytes.
[[gnu::always_inline]] inline bool scan_string(const char*& p, const char* end,
                                               std::string_view& out, bool& escaped) noexcept {
#if CONFLUEX_FEED_SSE2
    const char* q = p;
    if (end - q >= 16) [[likely]] {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
        const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                             _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
        const auto quote =
            static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
        // The first special byte is the closing quote.
        if (mask != 0 && (mask & (0U - mask)) == (quote & (0U - quote))) [[likely]] {
            const int n = __builtin_ctz(mask);
            out = std::string_view(q, static_cast<std::size_t>(n));
            escaped = false;
            p = q + n + 1;
            return true;
        }
    }
#endif
    return scan_string_slow(p, end, out, escaped);
}

// same_bytes()
// The N - 1 bytes at p equal the literal `s` (its terminating NUL excluded). Two overlapping
// loads of one fixed width cover any length from that width to twice it, and longer literals
// take 8 bytes at a time: compares of constants, without the library call that gcc emits for
// odd lengths. REQUIRES: N - 1 readable bytes at p.
template <std::size_t N>
[[gnu::always_inline]] inline bool same_bytes(const char* p, const char (&s)[N]) noexcept {
    constexpr std::size_t n = N - 1;
    const auto load = [](const char* q, auto width) {
        decltype(width) v;
        std::memcpy(&v, q, sizeof v);
        return v;
    };
    if constexpr (n == 0) {
        return true;
    } else if constexpr (n == 1) {
        return p[0] == s[0];
    } else if constexpr (n <= 4) {
        constexpr std::uint16_t w{};
        return load(p, w) == load(s, w) && load(p + n - 2, w) == load(s + n - 2, w);
    } else if constexpr (n <= 8) {
        constexpr std::uint32_t w{};
        return load(p, w) == load(s, w) && load(p + n - 4, w) == load(s + n - 4, w);
    } else {
        // 8 bytes at a time, the last load overlapping the one before it.
        constexpr std::uint64_t w{};
        std::uint64_t diff = load(p + n - 8, w) ^ load(s + n - 8, w);
        for (std::size_t i = 0; i + 8 < n; i += 8) {
            diff |= load(p + i, w) ^ load(s + i, w);
        }
        return diff == 0;
    }
}

// same_short()
// same_bytes() for a length known only at run time: the n bytes at a and b are equal.
// REQUIRES: n readable bytes at each.
[[gnu::always_inline]] inline bool same_short(const char* a, const char* b,
                                              std::size_t n) noexcept {
    const auto eq = [&](auto width) {
        decltype(width) x;
        decltype(width) y;
        decltype(width) u;
        decltype(width) v;
        constexpr std::size_t w = sizeof width;
        std::memcpy(&x, a, w);
        std::memcpy(&y, b, w);
        std::memcpy(&u, a + n - w, w);
        std::memcpy(&v, b + n - w, w);
        return ((x ^ y) | (u ^ v)) == 0;
    };
    if (n >= 8) {
        return n <= 16 ? eq(std::uint64_t{}) : std::memcmp(a, b, n) == 0;
    }
    if (n >= 4) {
        return eq(std::uint32_t{});
    }
    return n == 0 || std::memcmp(a, b, n) == 0;
}

inline bool match_literal(const char*& p, const char* end, std::string_view lit) noexcept {
    if (static_cast<std::size_t>(end - p) < lit.size() ||
        std::memcmp(p, lit.data(), lit.size()) != 0) {
        return false;
    }
    p += lit.size();
    return true;
}

// digits8()
// Returns the value of the n (0..8) ASCII digits at p, SWAR style (fast_float's
// parse_eight_digits_unrolled on the digits moved to the low-order end).
// REQUIRES: 8 readable bytes at p, p[0..n) are '0'..'9'.
[[gnu::always_inline]] inline std::uint64_t digits8(const char* p, int n) noexcept {
    if (n == 0) {
        return 0;
    }
    std::uint64_t v = 0;
    std::memcpy(&v, p, 8);
    // Byte i is the i-th character (little-endian). Subtracting '0' cannot borrow out of a
    // digit byte, and borrows only move towards the bytes after the digits, which the shift
    // drops; the zero bytes it brings in are leading zero digits.
    v -= 0x3030303030303030ULL;
    v <<= 8 * (8 - n);
    v = (v * 10) + (v >> 8);
    v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
         (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
        32;
    return v;
}

#if CONFLUEX_FEED_SSE41
// digits_src()
// The shuffle control of digits16(): output byte j takes digit k = j - (16 - total) of the
// scaled value (the integer digits, then the kept fraction digits past the '.' at dpos), 0
// (a control byte with its high bit set) for leading and padding positions.
[[gnu::always_inline]] inline __m128i digits_src(int dpos, int keep, int total) noexcept {
    const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // k: the digit index output byte j holds (negative: a leading zero).
    const __m128i k = _mm_sub_epi8(iota, _mm_set1_epi8(static_cast<char>(16 - total)));
    // Source byte: k, or k + 1 past the integer digits (the '.' sits between).
    const __m128i past_int = _mm_cmpgt_epi8(k, _mm_set1_epi8(static_cast<char>(dpos - 1)));
    const __m128i zero =
        _mm_or_si128(_mm_cmpgt_epi8(_mm_setzero_si128(), k),
                     _mm_cmpgt_epi8(k, _mm_set1_epi8(static_cast<char>(dpos + keep - 1))));
    return _mm_or_si128(_mm_sub_epi8(k, past_int), zero);
}

// The digits_src() controls short_pair() uses (dpos and keep <= 8, total <= 16), computed
// once: a table load instead of the ten vector operations per string that build one.
struct DigitsSrcTable {
    static constexpr int kMaxPos = 8;
    static constexpr int kMaxTotal = 16;
    alignas(16) std::uint8_t ctrl[kMaxPos + 1][kMaxPos + 1][kMaxTotal + 1][16];
    constexpr DigitsSrcTable() : ctrl{} {
        for (int dpos = 0; dpos <= kMaxPos; ++dpos) {
            for (int keep = 0; keep <= kMaxPos; ++keep) {
                for (int total = 0; total <= kMaxTotal; ++total) {
                    for (int j = 0; j < 16; ++j) {
                        // As digits_src(): digit k of the scaled value, 0xFF (a zero byte)
                        // before the first digit and past the last kept one.
                        const int k = j - (16 - total);
                        const bool zero = k < 0 || k > dpos + keep - 1;
                        ctrl[dpos][keep][total][j] =
                            zero ? std::uint8_t{0xFF}
                                 : static_cast<std::uint8_t>(k + (k > dpos - 1 ? 1 : 0));
                    }
                }
            }
        }
    }
};
inline constexpr DigitsSrcTable kDigitsSrc{};

// digits_src_short()
// digits_src() read from kDigitsSrc.
// REQUIRES: dpos and keep in [0, 8], total in [0, 16].
[[gnu::always_inline]] inline __m128i digits_src_short(int dpos, int keep, int total) noexcept {
    return _mm_load_si128(reinterpret_cast<const __m128i*>(kDigitsSrc.ctrl[dpos][keep][total]));
}

// reduce_digits()
// Returns the two 8-digit numbers held by bytes 0..7 and 8..15 of d (one digit 0..9 a byte,
// most significant first): bytes 0..7 in the low 32 bits, bytes 8..15 in the high 32 bits.
[[gnu::always_inline]] inline std::uint64_t reduce_digits(__m128i d) noexcept {
    const __m128i d2 =
        _mm_maddubs_epi16(d, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    const __m128i d4 = _mm_madd_epi16(d2, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    const __m128i d4w = _mm_packus_epi32(d4, d4);
    const __m128i d8 = _mm_madd_epi16(d4w, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    return static_cast<std::uint64_t>(_mm_cvtsi128_si64(d8));
}

// digits16()
// Returns the whole number written by the dpos integer digits of a decimal, then its first
// `keep` fraction digits (after the '.' at dpos), then `total - dpos - keep` zero digits:
// the value scaled to `total` digits in one go. t is the string's bytes minus '0'.
// A shuffle right-aligns those digits (skipping the '.', zeros for the padding and the
// leading positions), then the usual 16-digit SIMD reduction (pairs, quads, octets).
// REQUIRES: total <= 16; dpos + keep <= total; t[0..dpos) and t[dpos+1..dpos+1+keep) digits.
[[gnu::always_inline]] inline std::uint64_t digits16(__m128i t, int dpos, int keep,
                                                     int total) noexcept {
    const std::uint64_t both = reduce_digits(_mm_shuffle_epi8(t, digits_src(dpos, keep, total)));
    return (both & 0xFFFFFFFFULL) * 100000000ULL + (both >> 32);
}
#endif

enum class NumKind : std::uint8_t { Bad, Int, Other }; // Other: valid non-int64 number

// scan_number()
// Scans a JSON number (Python's grammar, plus its NaN / Infinity / -Infinity). Returns Int
// with `out` set when it is an integer that fits int64.
[[gnu::always_inline]] inline NumKind scan_number_local(const char*& p, const char* end,
                                                        std::int64_t& out) noexcept {
#if CONFLUEX_FEED_SSE2
    // Fast path: a non-negative integer of 1..15 digits (ids, ms timestamps).
    if (end - p >= 17 && *p >= '1' && *p <= '9') [[likely]] {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8('0'));
        const auto digit = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(9)), t)));
        const int n = __builtin_ctz(~digit); // 1..16; 16 means the run may go on
        const char next = p[n];
        if (n < 16 && next != '.' && next != 'e' && next != 'E') [[likely]] {
            const std::uint64_t v64 =
                n <= 8 ? digits8(p, n) : digits8(p, n - 8) * 100000000ULL + digits8(p + n - 8, 8);
            out = static_cast<std::int64_t>(v64);
            p += n;
            return NumKind::Int;
        }
    }
#endif
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        ++p;
    }
    if (p >= end) {
        return NumKind::Bad;
    }
    std::uint64_t mag = 0;
    bool overflow = false;
    if (*p == '0') {
        ++p;
    } else if (*p >= '1' && *p <= '9') {
        const char* const ds = p;
        while (p < end && *p >= '0' && *p <= '9') {
            ++p;
        }
        if (p - ds <= 18) [[likely]] {
            for (const char* q = ds; q < p; ++q) {
                mag = mag * 10 + static_cast<std::uint64_t>(*q - '0');
            }
        } else {
            for (const char* q = ds; q < p; ++q) {
                overflow |= __builtin_mul_overflow(mag, 10ULL, &mag);
                overflow |= __builtin_add_overflow(mag, static_cast<std::uint64_t>(*q - '0'), &mag);
            }
        }
    } else if (*p == 'I') {
        return match_literal(p, end, "Infinity") ? NumKind::Other : NumKind::Bad;
    } else if (!neg && *p == 'N') {
        return match_literal(p, end, "NaN") ? NumKind::Other : NumKind::Bad;
    } else {
        return NumKind::Bad;
    }
    bool integer = true;
    if (p < end && *p == '.') {
        ++p;
        if (p >= end || *p < '0' || *p > '9') {
            return NumKind::Bad;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            ++p;
        }
        integer = false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p < end && (*p == '+' || *p == '-')) {
            ++p;
        }
        if (p >= end || *p < '0' || *p > '9') {
            return NumKind::Bad;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            ++p;
        }
        integer = false;
    }
    if (!integer || overflow) {
        return NumKind::Other;
    }
    constexpr auto kMaxPos = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!neg) {
        if (mag > kMaxPos) {
            return NumKind::Other;
        }
        out = static_cast<std::int64_t>(mag);
    } else {
        if (mag > kMaxPos + 1) {
            return NumKind::Other;
        }
        // Two's complement negation of the magnitude; exact for 2^63 as well.
        out = static_cast<std::int64_t>(~mag + 1);
    }
    return NumKind::Int;
}

// scan_number()
// Scans a JSON number (Python's grammar, plus its NaN / Infinity / -Infinity). Returns Int
// with `out` set when it is an integer that fits int64.
[[gnu::always_inline]] inline NumKind scan_number(const char*& pref, const char* end,
                                                  std::int64_t& out) noexcept {
    const char* p = pref;
    const NumKind k = scan_number_local(p, end, out);
    pref = p;
    return k;
}

// skip_value()
// Validates and skips any JSON value; p is at its first byte.
[[gnu::noinline]] inline bool skip_value(const char*& p, const char* end, int depth) noexcept {
    if (p >= end) {
        return false;
    }
    switch (*p) {
    case '"': {
        ++p;
        std::string_view s;
        bool esc = false;
        return scan_string(p, end, s, esc);
    }
    case '{':
    case '[': {
        if (depth >= kMaxDepth) {
            return false;
        }
        const char close = *p == '{' ? '}' : ']';
        const bool object = close == '}';
        ++p;
        skip_ws(p, end);
        if (p < end && *p == close) {
            ++p;
            return true;
        }
        for (;;) {
            if (object) {
                if (p >= end || *p != '"') {
                    return false;
                }
                ++p;
                std::string_view k;
                bool esc = false;
                if (!scan_string(p, end, k, esc)) {
                    return false;
                }
                skip_ws(p, end);
                if (p >= end || *p != ':') {
                    return false;
                }
                ++p;
                skip_ws(p, end);
            }
            if (!skip_value(p, end, depth + 1)) {
                return false;
            }
            skip_ws(p, end);
            if (p >= end) {
                return false;
            }
            if (*p == ',') {
                ++p;
                skip_ws(p, end);
                continue;
            }
            if (*p == close) {
                ++p;
                return true;
            }
            return false;
        }
    }
    case 't':
        return match_literal(p, end, "true");
    case 'f':
        return match_literal(p, end, "false");
    case 'n':
        return match_literal(p, end, "null");
    default: {
        std::int64_t ignored = 0;
        return scan_number(p, end, ignored) != NumKind::Bad;
    }
    }
}

// A value read generically. Only `type` says which other members mean something.
enum class VType : std::uint8_t { Str, StrEscaped, Int, Num, Bool, Null, Arr, Obj };
struct Slot {
    const char* ptr; // Str: body; Arr / Obj: the '[' / '{'
    std::int64_t n;  // Str: length; Int: value; Bool: 0 / 1
    VType type;

    [[nodiscard]] std::string_view str() const noexcept {
        return {ptr, static_cast<std::size_t>(n)};
    }
};

// read_slot()
// Reads any value into a slot (skipping arrays and objects after noting where they start).
[[gnu::always_inline]] inline Err read_slot(const char*& p, const char* end, Slot& s,
                                            int depth) noexcept {
    const char c = *p;
    if (c == '"') {
        ++p;
        std::string_view v;
        bool esc = false;
        if (!scan_string(p, end, v, esc)) {
            return Err::Malformed;
        }
        s.ptr = v.data();
        s.n = static_cast<std::int64_t>(v.size());
        s.type = esc ? VType::StrEscaped : VType::Str;
        return Err::None;
    }
    if (c == '[' || c == '{') {
        s.ptr = p;
        s.type = c == '[' ? VType::Arr : VType::Obj;
        return skip_value(p, end, depth) ? Err::None : Err::Malformed;
    }
    if (c == 't' || c == 'f') {
        s.type = VType::Bool;
        s.n = c == 't';
        return match_literal(p, end,
                             c == 't' ? std::string_view("true") : std::string_view("false"))
                   ? Err::None
                   : Err::Malformed;
    }
    if (c == 'n') {
        s.type = VType::Null;
        return match_literal(p, end, "null") ? Err::None : Err::Malformed;
    }
    const NumKind k = scan_number(p, end, s.n);
    if (k == NumKind::Bad) {
        return Err::Malformed;
    }
    s.type = k == NumKind::Int ? VType::Int : VType::Num;
    return Err::None;
}

// Keys any venue reads. Slots are indexed by Key; presence is a bit mask so a Fields
// costs one store to reset however many keys there are.
enum Key : std::uint8_t {
    k_e,
    k_E,
    k_s,
    k_U,
    k_u,
    k_pu,
    k_t,
    k_p,
    k_q,
    k_m,
    k_b,
    k_a,
    k_B,
    k_A,
    k_lastUpdateId,
    k_bids,
    k_asks,
    k_seq,
    k_T,
    k_S,
    k_v,
    k_i,
    k_stream,
    k_data,
    k_topic,
    k_type,
    k_ts,
    k_op,
    k_success,
    k_id,
    k_result,
    kKeyCount,
    kNoKey = 255
};
static_assert(kKeyCount <= 64);

[[maybe_unused]] inline Key key_of_char(char c) noexcept {
    switch (c) {
    case 'e':
        return k_e;
    case 'E':
        return k_E;
    case 's':
        return k_s;
    case 'U':
        return k_U;
    case 'u':
        return k_u;
    case 't':
        return k_t;
    case 'p':
        return k_p;
    case 'q':
        return k_q;
    case 'm':
        return k_m;
    case 'b':
        return k_b;
    case 'a':
        return k_a;
    case 'B':
        return k_B;
    case 'A':
        return k_A;
    case 'T':
        return k_T;
    case 'S':
        return k_S;
    case 'v':
        return k_v;
    case 'i':
        return k_i;
    default:
        return kNoKey;
    }
}

inline constexpr auto kOneCharKeys = [] {
    std::array<Key, 128> t{};
    for (auto& k : t) {
        k = kNoKey;
    }
    const char* chars = "eEsUutpqmbaBATSvi";
    const Key keys[] = {k_e, k_E, k_s, k_U, k_u, k_t, k_p, k_q, k_m,
                        k_b, k_a, k_B, k_A, k_T, k_S, k_v, k_i};
    for (std::size_t i = 0; chars[i] != 0; ++i) {
        t[static_cast<std::size_t>(chars[i])] = keys[i];
    }
    return t;
}();

[[gnu::always_inline]] inline Key key_of(std::string_view k) noexcept {
    if (k.size() == 1) {
        const auto c = static_cast<unsigned char>(k[0]);
        return c < 128 ? kOneCharKeys[c] : kNoKey;
    }
    switch (k.size()) {
    case 2:
        if (k == "pu")
            return k_pu;
        if (k == "ts")
            return k_ts;
        if (k == "op")
            return k_op;
        if (k == "id")
            return k_id;
        return kNoKey;
    case 3:
        return k == "seq" ? k_seq : kNoKey;
    case 4:
        if (k == "bids")
            return k_bids;
        if (k == "asks")
            return k_asks;
        if (k == "data")
            return k_data;
        if (k == "type")
            return k_type;
        return kNoKey;
    case 5:
        return k == "topic" ? k_topic : kNoKey;
    case 6:
        if (k == "stream")
            return k_stream;
        if (k == "result")
            return k_result;
        return kNoKey;
    case 7:
        return k == "success" ? k_success : kNoKey;
    case 12:
        return k == "lastUpdateId" ? k_lastUpdateId : kNoKey;
    default:
        return kNoKey;
    }
}

struct Fields {
    std::uint64_t present = 0;
    Slot slot[kKeyCount]; // left uninitialised: only slots whose bit is set are read
    // Level arrays converted while scanning: the first (b or bids) and its partner (a or
    // asks), with the symbol entry they were converted with (an opaque pointer here).
    const void* imm_first_entry = nullptr;
    const void* imm_second_entry = nullptr;
    std::uint32_t imm_first_n = 0;
    std::uint32_t imm_second_n = 0;
    Key imm_first_key = kNoKey;
    bool imm_first = false;
    bool imm_second = false;

    [[nodiscard]] bool has(Key k) const noexcept { return (present >> k) & 1U; }
    // Marks a key present; false when it already was (a duplicate).
    bool mark(Key k) noexcept {
        const std::uint64_t bit = std::uint64_t{1} << k;
        if (present & bit) {
            return false;
        }
        present |= bit;
        return true;
    }
    [[nodiscard]] const Slot& operator[](Key k) const noexcept { return slot[k]; }
};

// for_each_member()
// Walks the members of the object at p ('{'), calling on_member(key, p) with p at the
// value; on_member must consume the value and return Err::None to continue.
// Not noexcept: on_member may append records, and std::bad_alloc must reach parse(), which
// turns it into OutOfMemory and cuts the outputs back (all-or-nothing).
template <class F> inline Err for_each_member(const char*& pref, const char* end, F&& on_member) {
    // Work on a local copy so the cursor stays in a register across the inlined scanners.
    const char* p = pref + 1;
    Err e = Err::None;
    skip_ws(p, end);
    if (p < end && *p == '}') {
        pref = p + 1;
        return Err::None;
    }
    for (;;) {
        if (p >= end || *p != '"') {
            e = Err::Malformed;
            break;
        }
        ++p;
        std::string_view key;
        // Most exchange keys are one plain character: "k":
        if (end - p >= 2 && p[1] == '"' && static_cast<unsigned char>(p[0]) >= 0x20 &&
            static_cast<unsigned char>(p[0]) < 0x80 && p[0] != '\\' && p[0] != '"') [[likely]] {
            key = std::string_view(p, 1);
            p += 2;
        } else {
            bool esc = false;
            if (!scan_string(p, end, key, esc) || esc) {
                e = Err::Malformed;
                break;
            }
        }
        skip_ws(p, end);
        if (p >= end || *p != ':') {
            e = Err::Malformed;
            break;
        }
        ++p;
        skip_ws(p, end);
        if (p >= end) {
            e = Err::Malformed;
            break;
        }
        if (e = on_member(key, p); e != Err::None) {
            break;
        }
        skip_ws(p, end);
        if (p >= end) {
            e = Err::Malformed;
            break;
        }
        if (*p == ',') {
            ++p;
            skip_ws(p, end);
            continue;
        }
        if (*p == '}') {
            ++p;
            break;
        }
        e = Err::Malformed;
        break;
    }
    pref = p;
    return e;
}

// scan_units()
// Converts the decimal string body at p (just past the opening quote) exactly to a whole
// number of `unit`s and moves p past the closing quote. Same acceptance as
// Instrument::try_price_to_ticks (digits with at most one '.', <= 19 significant digits,
// <= 18 decimals, whole number of units, <= INT64_MAX): the cases the 64-bit fast path
// cannot prove are handed to the Instrument code itself. Malformed: not a decimal string;
// OffGrid: a decimal that is not a representable whole number of units.
[[gnu::noinline]] inline Err scan_units_scalar(const char*& p, const char* end, const Decimal& unit,
                                               std::int64_t& out) noexcept {
    const char* const start = p;
    std::uint64_t acc = 0;
    int sig = 0;   // digits accumulated in acc since its first non-zero digit
    int total = 0; // significant digits as parse_decimal counts them
    int frac = -1; // digits after the '.', -1 before it
    bool any = false;
    bool off = false; // a non-zero digit below the unit's scale
    const int us = unit.scale;
    for (;; ++p) {
        if (p >= end) [[unlikely]] {
            return Err::Malformed;
        }
        const unsigned d = static_cast<unsigned char>(*p) - unsigned{'0'};
        if (d < 10) {
            any = true;
            total += static_cast<int>((total != 0) | (d != 0));
            if (frac >= 0 && ++frac > us) {
                off |= d != 0;
                continue;
            }
            sig += static_cast<int>((acc != 0) | (d != 0));
            if (sig <= 18) [[likely]] {
                acc = acc * 10 + d;
            }
            continue;
        }
        if (*p == '.') {
            if (frac >= 0) {
                return Err::Malformed;
            }
            frac = 0;
            continue;
        }
        if (*p == '"') {
            break;
        }
        return Err::Malformed;
    }
    const char* const close = p++;
    if (!any) {
        return Err::Malformed;
    }
    const int kept = frac < 0 ? 0 : (frac < us ? frac : us);
    const int pad = us - kept;
    if (total > 19 || frac > 18 || sig + pad > 18) [[unlikely]] {
        Decimal dec;
        if (!parse_decimal(std::string_view(start, static_cast<std::size_t>(close - start)), dec) ||
            !confluex::detail::decimal_to_units(dec, unit, out)) {
            return Err::OffGrid;
        }
        return Err::None;
    }
    if (off) {
        return Err::OffGrid;
    }
    acc *= kPow10[pad];
    if (unit.mantissa != 1) {
        if (acc % unit.mantissa != 0) {
            return Err::OffGrid;
        }
        acc /= unit.mantissa;
    }
    out = static_cast<std::int64_t>(acc);
    return Err::None;
}

#if CONFLUEX_FEED_SSE41
// A decimal string that scan_units() converts with digits16() into a value of at most 16
// digits: its bytes minus '0' and its layout (see digits16()); total = dpos + the unit's
// scale, the value's digit count.
struct ShortDecimal {
    __m128i t;
    int len;  // bytes before the closing quote
    int dpos; // position of the '.', or len
    int keep; // fraction digits kept
    int total;
};

// short_decimal()
// Returns true and fills `d` when the string at p (just past its opening quote) is one that
// scan_units()'s SIMD path converts without error with digits16(), into at most 16 digits
// (digits with at most one '.', dpos + unit scale <= 16, only zeros below the unit's scale);
// false for anything else, which the caller leaves to scan_units() (the reference for every
// error).
// REQUIRES: 16 readable bytes at p.
[[gnu::always_inline]] inline bool short_decimal(const char* p, const Decimal& unit,
                                                 ShortDecimal& d) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto quote =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
    if (quote == 0) {
        return false;
    }
    const int len = __builtin_ctz(quote);
    const unsigned in = (1U << len) - 1U;
    const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    const unsigned digit = static_cast<unsigned>(_mm_movemask_epi8(
                               _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(9)), t))) &
                           in;
    const unsigned dot =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')))) & in;
    const int dpos = dot != 0 ? __builtin_ctz(dot) : len;
    const int us = unit.scale;
    if (digit == 0 || (digit | dot) != in || (dot & (dot - 1)) != 0 || dpos + us > 16) {
        return false;
    }
    const int nfrac = dot != 0 ? len - dpos - 1 : 0;
    const int keep = nfrac < us ? nfrac : us;
    const unsigned zero =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('0'))));
    const int kept_end = dot != 0 ? dpos + 1 + keep : len;
    const unsigned below = in & ~((1U << kept_end) - 1U);
    if ((below & ~zero) != 0) {
        return false;
    }
    d = ShortDecimal{t, len, dpos, keep, dpos + us};
    return true;
}

// to_units()
// A value scaled to the unit's decimals, divided by the unit's mantissa: false (nothing
// written) when it is not a whole number of units.
[[gnu::always_inline]] inline bool to_units(std::uint64_t v, const Decimal& unit,
                                            std::int64_t& out) noexcept {
    if (unit.mantissa != 1) {
        if (v % unit.mantissa != 0) {
            return false;
        }
        v /= unit.mantissa;
    }
    out = static_cast<std::int64_t>(v);
    return true;
}

// short_pair()
// Converts a price and a size found by short_decimal() of at most 8 digits each (total <= 8)
// with one shared reduction (price
// digits in bytes 0..7, size digits in bytes 8..15), then divides by the units' mantissas.
// Returns false (outputs unspecified) when a value is not a whole number of units:
// scan_units() then converts the level again and reports it.
[[gnu::always_inline]] inline bool short_pair(const ShortDecimal& a, const Decimal& ua,
                                              const ShortDecimal& b, const Decimal& ub,
                                              std::int64_t& va, std::int64_t& vb) noexcept {
    // a: the digits16() control for total + 8 right-aligns its digits in bytes 0..7 (bytes
    // 8..15 fall past its last digit: zero); b: the plain control leaves bytes 0..7 zero
    // (total <= 8).
    const __m128i d =
        _mm_or_si128(_mm_shuffle_epi8(a.t, digits_src_short(a.dpos, a.keep, a.total + 8)),
                     _mm_shuffle_epi8(b.t, digits_src_short(b.dpos, b.keep, b.total)));
    const std::uint64_t both = reduce_digits(d);
    const std::uint64_t x = both & 0xFFFFFFFFULL;
    const std::uint64_t y = both >> 32;
    return to_units(x, ua, va) && to_units(y, ub, vb);
}

// LevelShape
// The byte layout of one compact level, learnt from a level short_pair() or wide_pair()
// converted (both strings within one 16-byte load each, values of up to 16 digits):
// `px","qty"],["` from just past the price's opening quote to just past the next level's,
// L <= 32 bytes. Each byte is either fixed (a separator, or a '0' below the unit's scale,
// which must be '0' for the value to be on the grid) or free (a digit the value keeps).
// The levels of a message mostly share one of a few (prices of one width, sizes of one to
// three integer digits), and a level that matches one converts with its digits16() shuffle
// controls: no quote, dot or length search, and the cursor advances by the constant L, so
// successive levels do not wait on each other's scans. Matching is exact: a level converts through
// a shape only where short_decimal() and the pairs accept it and give the same values; any
// other level goes to the general path, which learns its shape in turn. A shape holds the
// controls of one instrument's units, so it is only ever used for that instrument's levels.
struct LevelShape {
    __m128i tmpl_lo, tmpl_hi;  // the level's bytes minus '0' (free bytes: any value)
    __m128i free_lo, free_hi;  // 0xFF where a byte is a free digit
    __m128i ctrl_px, ctrl_qty; // digits_src() controls of the price and the size
    // Bits of the bytes the shape covers: `core` through the size's closing quote, `cover`
    // also the '],["' that follows. Never learnt: a bit past the 32 compared bytes, which
    // never matches.
    std::uint64_t core = std::uint64_t{1} << 40;
    std::uint64_t cover = std::uint64_t{1} << 40;
    int qty_at = 0;   // the size's first byte
    int core_len = 0; // bytes through the size's closing quote
    int len = 0;      // L
};

// The shapes one instrument's level arrays last learnt. The parser keeps one set per symbol
// across messages, so a stream's few layouts (real BTCUSDT USD-M: prices of 4 or 5 integer
// digits, sizes of 1 to 3) are learnt once, not again in every message. Slots are tried from
// the one that matched last; a new shape takes the slots in turn.
struct LevelShapes {
    static constexpr int kSlots = 4; // a power of two
    LevelShape s[kSlots];
    int cur = 0;  // the slot that matched last
    int next = 0; // the slot the next learnt shape takes
};

// learn_shape()
// Sets `s` from the level at p that short_pair() or wide_pair() converted (a: price, b:
// size), which a ']' closes, and returns true when it and the '],["' that continues an
// array fit in 32 bytes; returns false (`s` unchanged) otherwise.
// REQUIRES: 32 readable bytes at p.
[[gnu::always_inline]] inline bool learn_shape(const char* p, const ShortDecimal& a,
                                               const ShortDecimal& b, LevelShape& s) noexcept {
    const int qty_at = a.len + 3;
    const int core_len = qty_at + b.len + 1;
    const int len = core_len + 4;
    if (len > 32) {
        return false;
    }
    alignas(16) std::uint8_t bytes[32];
    alignas(16) std::uint8_t freeb[32] = {};
    std::memcpy(bytes, p, 32);
    std::memcpy(bytes + core_len, "],[\"", 4);
    const auto mark = [&](int at, const ShortDecimal& d) {
        const int kept_end = d.dpos < d.len ? d.dpos + 1 + d.keep : d.len;
        for (int i = 0; i < kept_end; ++i) {
            if (i != d.dpos) {
                freeb[at + i] = 0xFF;
            }
        }
    };
    mark(0, a);
    mark(qty_at, b);
    const __m128i zero = _mm_set1_epi8('0');
    s.tmpl_lo = _mm_sub_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(bytes)), zero);
    s.tmpl_hi = _mm_sub_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(bytes + 16)), zero);
    s.free_lo = _mm_load_si128(reinterpret_cast<const __m128i*>(freeb));
    s.free_hi = _mm_load_si128(reinterpret_cast<const __m128i*>(freeb + 16));
    // digits16() controls: each value converts alone (one reduction each, two independent
    // chains; as fast here as short_pair()'s shared one, and values of up to 16 digits fit).
    s.ctrl_px = digits_src(a.dpos, a.keep, a.total);
    s.ctrl_qty = digits_src(b.dpos, b.keep, b.total);
    s.core = (std::uint64_t{1} << core_len) - 1U;
    s.cover = (std::uint64_t{1} << len) - 1U;
    s.qty_at = qty_at;
    s.core_len = core_len;
    s.len = len;
    return true;
}

// level_bytes()
// The 32 bytes at p minus '0', as shape_mismatch() compares them.
// REQUIRES: 32 readable bytes at p.
[[gnu::always_inline]] inline void level_bytes(const char* p, __m128i& lo, __m128i& hi) noexcept {
    const __m128i zero = _mm_set1_epi8('0');
    lo = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), zero);
    hi = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)), zero);
}

// shape_mismatch()
// The bits of the bytes shape `s` covers that differ from the level's (lo, hi: its
// level_bytes()): none within s.core when the level has the shape.
[[gnu::always_inline]] inline std::uint64_t shape_mismatch(__m128i lo, __m128i hi,
                                                           const LevelShape& s) noexcept {
    const __m128i nine = _mm_set1_epi8(9);
    // A free byte must be a digit (it equals itself clamped to 9); a fixed one, the shape's.
    const __m128i want_lo = _mm_blendv_epi8(s.tmpl_lo, _mm_min_epu8(lo, nine), s.free_lo);
    const __m128i want_hi = _mm_blendv_epi8(s.tmpl_hi, _mm_min_epu8(hi, nine), s.free_hi);
    const auto same =
        static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(lo, want_lo))) |
        (static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(hi, want_hi))) << 16);
    return ~std::uint64_t{same} & s.cover;
}

// shape_values()
// Converts the level at p (lo: its first level_bytes() half) as shape `s` lays it out: x
// (price) and y (size), before the units' mantissas. Meaningful when the level has the shape
// (shape_mismatch() finds none within s.core).
// REQUIRES: 34 readable bytes at p.
[[gnu::always_inline]] inline void shape_values(const char* p, __m128i lo, const LevelShape& s,
                                                std::uint64_t& x, std::uint64_t& y) noexcept {
    const __m128i q = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + s.qty_at)),
                                   _mm_set1_epi8('0'));
    const std::uint64_t px = reduce_digits(_mm_shuffle_epi8(lo, s.ctrl_px));
    const std::uint64_t qty = reduce_digits(_mm_shuffle_epi8(q, s.ctrl_qty));
    x = (px & 0xFFFFFFFFULL) * 100000000ULL + (px >> 32);
    y = (qty & 0xFFFFFFFFULL) * 100000000ULL + (qty >> 32);
}
#endif
#if !CONFLUEX_FEED_SSE41
struct LevelShapes {};
#endif

#if CONFLUEX_FEED_SSE41
// wide_pair()
// short_pair() for values of up to 16 digits: one reduction each, as scan_units() converts
// them.
[[gnu::always_inline]] inline bool wide_pair(const ShortDecimal& a, const Decimal& ua,
                                             const ShortDecimal& b, const Decimal& ub,
                                             std::int64_t& va, std::int64_t& vb) noexcept {
    const std::uint64_t x = digits16(a.t, a.dpos, a.keep, a.total);
    const std::uint64_t y = digits16(b.t, b.dpos, b.keep, b.total);
    return to_units(x, ua, va) && to_units(y, ub, vb);
}
#endif

// scan_units()
// scan_units_scalar() with a SIMD fast path for the usual exchange string: at most 15
// characters, digits with at most one '.', and integer digits + unit decimals <= 18 (so the
// scaled value fits without any overflow check). Within it, when integer digits + unit
// decimals <= 16 (every real price and quantity), digits16() converts the whole string in
// one shuffle and reduction. Everything else goes to the scalar code, which is the
// reference for acceptance and error kinds.
[[gnu::always_inline]] inline Err scan_units(const char*& p, const char* end, const Decimal& unit,
                                             std::int64_t& out) noexcept {
#if CONFLUEX_FEED_SSE2
    if (end - p >= 16) [[likely]] {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const auto quote =
            static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
        if (quote != 0) {
            const int len = __builtin_ctz(quote);
            const unsigned in = (1U << len) - 1U;
            const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8('0'));
            const unsigned digit = static_cast<unsigned>(_mm_movemask_epi8(
                                       _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(9)), t))) &
                                   in;
            const unsigned dot =
                static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')))) &
                in;
            const int dpos = dot != 0 ? __builtin_ctz(dot) : len;
            const int us = unit.scale;
            if (digit != 0 && (digit | dot) == in && (dot & (dot - 1)) == 0 && dpos + us <= 18)
                [[likely]] {
                const int nfrac = dot != 0 ? len - dpos - 1 : 0;
                const int keep = nfrac < us ? nfrac : us;
                // Digits below the unit's scale must all be '0', or the value is off the grid.
                const unsigned zero =
                    static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('0'))));
                const int kept_end = dot != 0 ? dpos + 1 + keep : len;
                const unsigned below = in & ~((1U << kept_end) - 1U);
                if ((below & ~zero) != 0) {
                    p += len + 1;
                    return Err::OffGrid;
                }
                std::uint64_t acc = 0;
#if CONFLUEX_FEED_SSE41
                // digits8() loads 8 bytes: at p + dpos + 1 that may be past the 16 loaded
                // ones, so the buffer must hold them (a value can end the message buffer).
                if (dpos + us <= 16) [[likely]] {
                    acc = digits16(t, dpos, keep, dpos + us);
                } else if (dpos <= 8 && keep <= 8 && end - p >= dpos + 9) {
#else
                if (dpos <= 8 && keep <= 8 && end - p >= dpos + 9) [[likely]] {
#endif
                    acc = (digits8(p, dpos) * kPow10[keep] + digits8(p + dpos + 1, keep)) *
                          kPow10[us - keep];
                } else {
                    for (int i = 0; i < dpos; ++i) {
                        acc = acc * 10 + static_cast<unsigned>(p[i] - '0');
                    }
                    for (int i = dpos + 1; i < kept_end; ++i) {
                        acc = acc * 10 + static_cast<unsigned>(p[i] - '0');
                    }
                    acc *= kPow10[us - keep];
                }
                if (unit.mantissa != 1) {
                    if (acc % unit.mantissa != 0) {
                        p += len + 1;
                        return Err::OffGrid;
                    }
                    acc /= unit.mantissa;
                }
                p += len + 1;
                out = static_cast<std::int64_t>(acc);
                return Err::None;
            }
        }
    }
#endif
    return scan_units_scalar(p, end, unit, out);
}

// Converts a string slot (read by read_slot) to units.
// REQUIRES: end is the end of the message buffer the slot was read from.
[[gnu::always_inline]] inline Err slot_units(const Slot& s, const Decimal& unit, std::int64_t& out,
                                             const char* end) noexcept {
    if (s.type != VType::Str) {
        return Err::Malformed;
    }
    const char* p = s.ptr;
    // The body has no quote (it was unescaped), so the first quote after it closes it.
    return scan_units(p, end, unit, out);
}

// expect_char()
// Skips whitespace, then consumes `c`: false when the next byte is anything else.
[[gnu::always_inline]] inline bool expect_char(const char*& p, const char* end, char c) noexcept {
    skip_ws(p, end);
    if (p >= end || *p != c) {
        return false;
    }
    ++p;
    return true;
}

// scan_level()
// The general path of one level: price, separator (compact or with whitespace), size; p
// goes from just past the price's opening quote to just past the size's closing quote.
[[gnu::always_inline]] inline Err scan_level(const char*& p, const char* end, const Decimal& tick,
                                             const Decimal& lot, std::int64_t& px,
                                             std::int64_t& qty) noexcept {
    if (const Err e = scan_units(p, end, tick, px); e != Err::None) {
        return e;
    }
    if (end - p >= 2 && p[0] == ',' && p[1] == '"') [[likely]] {
        p += 2;
    } else if (!expect_char(p, end, ',') || !expect_char(p, end, '"')) {
        return Err::Malformed;
    }
    return scan_units(p, end, lot, qty);
}

[[gnu::always_inline]] inline Err
parse_levels_local(const char*& p, const char* end, BookSide side, const Instrument& inst,
                   std::uint32_t symbol_id, std::vector<BookLevelEvent>& out,
                   std::int64_t ts_ns = 0, std::int64_t update_id = 0,
                   std::int64_t prev_update_id = 0, LevelShapes* shapes = nullptr) {
    ++p;
    skip_ws(p, end);
    if (p < end && *p == ']') {
        ++p;
        return Err::None;
    }
    // Copies: the record stores below could alias the instrument's fields, which would
    // otherwise be reloaded for every level.
    const Decimal tick = inst.tick_decimal();
    const Decimal lot = inst.lot_decimal();
    const auto side_u8 = static_cast<std::uint8_t>(side);
    // p at the '[' of a level; the compact separators '","' and '"],["' take one compare each,
    // anything else (whitespace) goes through the general checks.
    if (p >= end || *p != '[') {
        return Err::Malformed;
    }
    ++p;
    if (!expect_char(p, end, '"')) {
        return Err::Malformed;
    }
#if !CONFLUEX_FEED_SSE41
    (void)shapes;
#else
    LevelShapes local_shapes;
    LevelShapes& sh = shapes != nullptr ? *shapes : local_shapes;
#endif
    for (;;) {
        std::int64_t px = 0;
        std::int64_t qty = 0;
        // px and qty hold the level, and p is just past the size's closing quote
        bool converted = false;
#if CONFLUEX_FEED_SSE41
        // Only once a shape was learnt: levels the short path does not take (e.g. sizes of
        // more than 16 digits at the lot's scale) never learn one, and pay nothing here.
        if (sh.s[sh.cur].len != 0 && end - p >= 34) [[likely]] {
            // A level of one of the learnt shapes (the slot that matched last is compared
            // first, then the others) converts through it; the cursor goes past the '],["'
            // that follows it, or to its ']' when something else does (the array's last
            // level: the general checks below take it from there).
            __m128i lo;
            __m128i hi;
            level_bytes(p, lo, hi);
            int j = sh.cur;
            const LevelShape* s = &sh.s[j];
            std::uint64_t bad = shape_mismatch(lo, hi, *s);
            for (int k = 1; (bad & s->core) != 0 && k < LevelShapes::kSlots; ++k) {
                j = (sh.cur + k) & (LevelShapes::kSlots - 1);
                s = &sh.s[j];
                bad = shape_mismatch(lo, hi, *s);
            }
            if ((bad & s->core) == 0) [[likely]] {
                sh.cur = j;
                std::uint64_t x = 0;
                std::uint64_t y = 0;
                shape_values(p, lo, *s, x, y);
                if (to_units(x, tick, px) && to_units(y, lot, qty)) [[likely]] {
                    if (bad == 0) [[likely]] {
                        out.push_back(BookLevelEvent{ts_ns, px, qty, update_id, prev_update_id,
                                                     symbol_id, side_u8, 0, 0});
                        p += s->len;
                        continue;
                    }
                    p += s->core_len;
                    converted = true;
                }
            }
        }
        if (!converted && end - p >= 34) {
            // Both strings of a compact level ("px","qty") within one 16-byte load each:
            // the values and the cursor scan_units() would give. Values of at most 8 digits
            // share one reduction, longer ones (up to 16) take one each, as scan_units()
            // does. 34 bytes cover both loads (a string found within its load is <= 15
            // bytes). The level's layout is learnt as a shape for the levels after it.
            ShortDecimal a{};
            ShortDecimal b{};
            if (short_decimal(p, tick, a) && p[a.len + 1] == ',' && p[a.len + 2] == '"' &&
                short_decimal(p + a.len + 3, lot, b) &&
                (a.total > 8 || b.total > 8 ? wide_pair(a, tick, b, lot, px, qty)
                                            : short_pair(a, tick, b, lot, px, qty))) [[likely]] {
                if (p[a.len + 3 + b.len + 1] == ']' && learn_shape(p, a, b, sh.s[sh.next])) {
                    sh.cur = sh.next;
                    sh.next = (sh.next + 1) & (LevelShapes::kSlots - 1);
                }
                p += a.len + 3 + b.len + 1;
                converted = true;
            }
        }
#endif
        if (!converted) {
            if (const Err e = scan_level(p, end, tick, lot, px, qty); e != Err::None) {
                return e;
            }
        }
        out.push_back(
            BookLevelEvent{ts_ns, px, qty, update_id, prev_update_id, symbol_id, side_u8, 0, 0});
        if (end - p >= 4 && same_bytes(p, "],[\"")) [[likely]] {
            p += 4;
            continue;
        }
        skip_ws(p, end);
        if (p >= end || *p != ']') {
            return Err::Malformed;
        }
        ++p;
        skip_ws(p, end);
        if (p >= end) {
            return Err::Malformed;
        }
        if (*p == ']') {
            ++p;
            return Err::None;
        }
        if (*p != ',') {
            return Err::Malformed;
        }
        ++p;
        if (!expect_char(p, end, '[') || !expect_char(p, end, '"')) {
            return Err::Malformed;
        }
    }
}

// parse_levels()
// Converts a [[px, qty], ...] array at p ('[') into records (ts, ids and flags left 0).
// `shapes`: the parser's learnt shapes for `inst` (see parse_levels_final()), or nullptr.
// Throws std::bad_alloc when `out` cannot grow (never noexcept: parse() catches it, reports
// OutOfMemory and cuts `out` back to where the message started).
inline Err parse_levels(const char*& pref, const char* end, BookSide side, const Instrument& inst,
                        std::uint32_t symbol_id, std::vector<BookLevelEvent>& out,
                        LevelShapes* shapes = nullptr) {
    const char* p = pref;
    const Err e = parse_levels_local(p, end, side, inst, symbol_id, out, 0, 0, 0, shapes);
    pref = p;
    return e;
}

// parse_levels_final()
// parse_levels() for a message whose ts and ids are already known: the records get them
// here (flags left 0), so no second pass over the records is needed.
// `shapes` carries the learnt level shapes from one array to the next: the parser's set for
// the instrument `inst` (REQUIRES: learnt from its levels only).
inline Err parse_levels_final(const char*& pref, const char* end, BookSide side,
                              const Instrument& inst, std::uint32_t symbol_id,
                              std::vector<BookLevelEvent>& out, std::int64_t ts_ns,
                              std::int64_t update_id, std::int64_t prev_update_id,
                              LevelShapes& shapes) {
    const char* p = pref;
    const Err e = parse_levels_local(p, end, side, inst, symbol_id, out, ts_ns, update_id,
                                     prev_update_id, &shapes);
    pref = p;
    return e;
}

// Scanning state of one message shared by the venue scanners.
struct ScanCtx {
    explicit ScanCtx(std::vector<BookLevelEvent>& out) noexcept : book(out) {}
    std::vector<BookLevelEvent>& book;
    const SymbolTable::Entry* entry = nullptr; // converts level arrays while scanning
    std::uint32_t imm_total = 0;               // records so converted, all objects
    // The parser's shape sets, one per entry of the table whose first entry is `entries`
    // (nullptr: every array learns its shapes afresh).
    LevelShapes* shapes = nullptr;
    const SymbolTable::Entry* entries = nullptr;

    // The shape set of `e` (an entry of that table), or nullptr.
    [[nodiscard]] LevelShapes* shapes_of(const SymbolTable::Entry* e) const noexcept {
        return shapes != nullptr && e != nullptr ? shapes + (e - entries) : nullptr;
    }
};

// level_member()
// Reads a b / a / bids / asks member. Converts the array at its first sight when the
// instrument is known and the records can stay where they land (bids, then the matching
// asks); otherwise validates it and notes where it is, for take_levels().
inline Err level_member(Key k, const char*& q, const char* end, Fields& f, ScanCtx& ctx) {
    Slot& s = f.slot[k];
    const bool first = k == k_b || k == k_bids;
    const Key partner = k == k_a ? k_b : k_bids;
    const bool can =
        *q == '[' && ctx.entry != nullptr &&
        (first ? !f.imm_first : (f.imm_first && f.imm_first_key == partner && !f.imm_second));
    if (!can) {
        return read_slot(q, end, s, 2);
    }
    s.ptr = q;
    s.type = VType::Arr;
    const std::size_t before = ctx.book.size();
    const Err e = parse_levels(q, end, first ? BookSide::Bid : BookSide::Ask, ctx.entry->instrument,
                               ctx.entry->symbol_id, ctx.book, ctx.shapes_of(ctx.entry));
    if (e != Err::None) {
        return e;
    }
    const auto n = static_cast<std::uint32_t>(ctx.book.size() - before);
    ctx.imm_total += n;
    if (first) {
        f.imm_first = true;
        f.imm_first_key = k;
        f.imm_first_n = n;
        f.imm_first_entry = ctx.entry;
    } else {
        f.imm_second = true;
        f.imm_second_n = n;
        f.imm_second_entry = ctx.entry;
    }
    return Err::None;
}

// scan_inner()
// Scans an event object (no routing keys): known keys into slots, level arrays through
// level_member(), duplicates of known keys are Malformed.
inline Err scan_inner(const char*& p, const char* end, Fields& f, ScanCtx& ctx) {
    return for_each_member(p, end,
                           [&](std::string_view key, const char*& q) CONFLUEX_INLINE_LAMBDA -> Err {
                               const Key k = key_of(key);
                               if (k == kNoKey) {
                                   return skip_value(q, end, 2) ? Err::None : Err::Malformed;
                               }
                               if (!f.mark(k)) {
                                   return Err::Malformed;
                               }
                               if (k == k_b || k == k_a || k == k_bids || k == k_asks) {
                                   return level_member(k, q, end, f, ctx);
                               }
                               return read_slot(q, end, f.slot[k], 2);
                           });
}

// need()
// MissingField when the key is absent, Malformed when its value has another type.
inline Err need(const Fields& f, Key k, VType t) noexcept {
    if (!f.has(k)) {
        return Err::MissingField;
    }
    return f[k].type == t ? Err::None : Err::Malformed;
}

// take_levels()
// Leaves exactly the records of f's `first` then `second` arrays, converted with `entry`, at
// ctx.book[start..]: keeps what scanning converted when it is exactly that, else converts
// the arrays again from where scanning noted them.
inline Err take_levels(const Fields& f, Key first, Key second, const SymbolTable::Entry& entry,
                       ScanCtx& ctx, std::size_t start, const char* end) {
    if (const Err e = need(f, first, VType::Arr); e != Err::None) {
        return e;
    }
    if (const Err e = need(f, second, VType::Arr); e != Err::None) {
        return e;
    }
    const bool keep = f.imm_first && f.imm_second && f.imm_first_key == first &&
                      f.imm_first_entry == &entry && f.imm_second_entry == &entry &&
                      ctx.imm_total == f.imm_first_n + f.imm_second_n;
    if (keep) {
        return Err::None;
    }
    ctx.book.resize(start);
    LevelShapes* const shapes = ctx.shapes_of(&entry);
    const char* q = f[first].ptr;
    if (const Err e = parse_levels(q, end, BookSide::Bid, entry.instrument, entry.symbol_id,
                                   ctx.book, shapes);
        e != Err::None) {
        return e;
    }
    q = f[second].ptr;
    return parse_levels(q, end, BookSide::Ask, entry.instrument, entry.symbol_id, ctx.book, shapes);
}

// Checks that only whitespace follows the top-level value.
inline bool at_end(const char* p, const char* end) noexcept {
    skip_ws(p, end);
    return p == end;
}

// Appends a one-record message (kNoLevel) or sets flags and ids on a message's records.
inline void finish_book(std::vector<BookLevelEvent>& out, std::size_t first, std::int64_t ts_ns,
                        std::int64_t update_id, std::int64_t prev_update_id,
                        std::uint32_t symbol_id, std::uint8_t flags) {
    if (out.size() == first) {
        out.push_back(BookLevelEvent{
            ts_ns, 0, 0, update_id, prev_update_id, symbol_id, 0,
            static_cast<std::uint8_t>(flags | book_flags::kNoLevel | book_flags::kEndOfMessage),
            0});
        return;
    }
    BookLevelEvent* r = out.data() + first;
    BookLevelEvent* const last = out.data() + out.size() - 1;
    for (; r <= last; ++r) {
        r->ts_ns = ts_ns;
        r->update_id = update_id;
        r->prev_update_id = prev_update_id;
        r->flags = flags;
    }
    last->flags = static_cast<std::uint8_t>(flags | book_flags::kEndOfMessage);
}

} // namespace confluex::feed::detail
