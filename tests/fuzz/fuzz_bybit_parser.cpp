// libFuzzer target: BybitParser on arbitrary bytes, in a buffer of exactly the input's size
// (ASan catches a read past it), then the same bytes through a Bybit FeedSession.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "confluex/engine.hpp"
#include "confluex/feed_session.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const confluex::feed::SymbolTable t = confluex::fuzz::table();
    static confluex::feed::BybitParser parser(t);
    static std::vector<confluex::BookLevelEvent> book;
    static std::vector<confluex::TradeEvent> trades;
    const std::string_view msg(reinterpret_cast<const char*>(data), size);
    book.clear();
    trades.clear();
    confluex::fuzz::check(parser.parse(msg, 1, book, trades), book, trades);

    static confluex::Engine engine;
    static const std::uint32_t sym = engine.add_symbol("XRPUSDT", confluex::Instrument::from_strings("0.0001", "1"));
    static const auto session = [] {
        auto s = std::make_unique<confluex::feed::FeedSession>(engine, confluex::feed::Venue::Bybit);
        s->add_symbol("XRPUSDT", sym);
        return s;
    }();
    static constexpr std::string_view kSnapshot =
        R"({"topic":"orderbook.50.XRPUSDT","type":"snapshot","ts":1,"data":{"s":"XRPUSDT","b":[["0.5000","100"]],"a":[["0.5001","200"]],"u":1,"seq":1},"cts":1})";
    (void)session->on_message(kSnapshot, 1);
    (void)session->on_message(msg, 2);
    confluex::fuzz::check_book(engine, sym);
    return 0;
}
