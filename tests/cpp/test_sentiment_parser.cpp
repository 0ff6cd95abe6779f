// The derivative-stream parsers under the sanitizers: every prefix and every one-byte change
// of SYNTHETIC messages written from the venues' documented schemas must parse or be rejected
// without reading out of bounds, and a rejected message leaves the output vector as it was.
// Also drives PriceStructure / Sentiment over a deterministic bar walk (bounds of the rings).
#undef NDEBUG
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "confluex/bar.hpp"
#include "confluex/instrument.hpp"
#include "confluex/price_structure.hpp"
#include "confluex/sentiment.hpp"
#include "confluex/sentiment_parser.hpp"
#include "confluex/symbol_table.hpp"

namespace {

using namespace confluex;
using namespace confluex::feed;

SymbolTable table() {
    SymbolTable t;
    t.add("BTCUSDT", 0, Instrument::from_strings("0.01", "0.001"));
    t.add("ROSEUSDT", 1, Instrument::from_strings("0.00001", "1"));
    return t;
}

const std::vector<std::string> kBinance = {
    R"({"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT",)"
    R"("p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}})",
    R"({"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014",)"
    R"("p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}})",
};
const std::vector<std::string> kBybit = {
    R"({"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"17217.33",)"
    R"("indexPrice":"17227.36","openInterest":"68744.761","openInterestValue":"1183601235.91",)"
    R"("nextFundingTime":"1673280000000","fundingRate":"-0.000212"},"cs":24987956059,"ts":1673272861686})",
    R"({"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,)"
    R"("s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"},{"T":1739502302930,"s":"ROSEUSDT","S":"Buy","v":"5","p":"0.045"}]})",
};

// Parses msg from an exactly-sized heap buffer, so ASan sees any read past its end.
template <class Parser>
SentimentParseResult parse_exact(Parser& p, const std::string& msg,
                                 std::vector<LiquidationEvent>& out) {
    const std::unique_ptr<char[]> buf(new char[msg.size() == 0 ? 1 : msg.size()]);
    std::copy(msg.begin(), msg.end(), buf.get());
    return p.parse(std::string_view(buf.get(), msg.size()), 1, out);
}

template <class Parser> void check_mutations(const std::vector<std::string>& msgs) {
    Parser p(table());
    for (const std::string& m : msgs) {
        std::vector<LiquidationEvent> out(3); // pre-existing records must survive rejections
        const SentimentParseResult whole = parse_exact(p, m, out);
        ASSERT_TRUE(whole.ok()) << m;
        ASSERT_EQ(out.size(), 3U + whole.n_liquidations);
        for (std::size_t cut = 0; cut < m.size(); ++cut) {
            out.resize(3);
            const SentimentParseResult r = parse_exact(p, m.substr(0, cut), out);
            ASSERT_FALSE(r.ok()) << cut;
            ASSERT_EQ(out.size(), 3U);
        }
        for (std::size_t i = 0; i < m.size(); ++i) {
            for (const char c : {'"', '{', ']', '\\', '9', '\x80', ' '}) {
                std::string x = m;
                x[i] = c;
                out.resize(3);
                const SentimentParseResult r = parse_exact(p, x, out);
                ASSERT_EQ(out.size(), 3U + (r.ok() ? r.n_liquidations : 0U));
            }
        }
    }
}

TEST(SentimentParser, BinancePrefixesAndFlipsStayInBounds) {
    check_mutations<BinanceSentimentParser>(kBinance);
}

TEST(SentimentParser, BybitPrefixesAndFlipsStayInBounds) {
    check_mutations<BybitSentimentParser>(kBybit);
}

TEST(Views, BarWalkFillsEveryRingWithoutOverrun) {
    PriceStructure ps;
    Sentiment s;
    s.set_liquidation_source(0);
    double px = 100.0;
    std::uint64_t seed = 12345;
    for (int i = 0; i < 5000; ++i) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        const double step = (static_cast<double>((seed >> 33) % 2001) - 1000.0) / 10000.0;
        const double o = px;
        const double c = std::max(1.0, px + step);
        const Bar b{static_cast<std::int64_t>(i) * 60'000'000'000LL,
                    o,
                    std::max(o, c) + 0.05,
                    std::min(o, c) - 0.05,
                    c,
                    1.0 + static_cast<double>(seed % 7),
                    0,
                    0,
                    0,
                    c,
                    1,
                    0,
                    {0, 0, 0}};
        const StructureReading r = ps.update(b);
        ASSERT_TRUE(r.score >= 0.0 && r.score <= 100.0);
        s.on_bar(b);
        s.on_open_interest(b.open_ns, 1000.0 + i);
        s.on_funding(b.open_ns, 0.0001);
        s.on_liquidation(b.open_ns, (i % 3) != 0 ? LiquidatedSide::Long : LiquidatedSide::Short,
                         10.0);
        const SentimentReading sr = s.reading(b.open_ns);
        ASSERT_TRUE(sr.score >= 0.0 && sr.score <= 100.0 && sr.reliability <= 1.0);
        px = c;
    }
    EXPECT_TRUE(std::isfinite(s.reading(5000LL * 60'000'000'000LL).sub[0]));
}

} // namespace
