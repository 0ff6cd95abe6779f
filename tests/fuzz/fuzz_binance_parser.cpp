// libFuzzer target: BinanceParser (spot and futures) on arbitrary bytes, in a buffer of
// exactly the input's size (ASan catches a read past it), then the same bytes through a
// FeedSession, whose book must never be crossed while it claims sync.
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
    static confluex::feed::BinanceParser spot(t, false);
    static confluex::feed::BinanceParser futures(t, true);
    static std::vector<confluex::BookLevelEvent> book;
    static std::vector<confluex::TradeEvent> trades;
    const std::string_view msg(reinterpret_cast<const char*>(data), size);
    for (auto* p : {&spot, &futures}) {
        book.clear();
        trades.clear();
        confluex::fuzz::check(p->parse(msg, 1, book, trades), book, trades);
    }
    // A session resynced from a small snapshot, then fed this message: the sequence, oracle
    // and dedup paths on fuzz input. A synced book must never be crossed.
    static confluex::Engine engine;
    static const std::uint32_t sym =
        engine.add_symbol("BTCUSDT", confluex::Instrument::from_strings("0.01", "0.00000001"));
    static const auto session = [] {
        auto s = std::make_unique<confluex::feed::FeedSession>(engine, confluex::feed::Venue::BinanceSpot);
        s->add_symbol("BTCUSDT", sym);
        return s;
    }();
    static constexpr std::string_view kSnapshot =
        R"({"lastUpdateId":100,"bids":[["60000.00","1.5"],["59999.99","2"]],"asks":[["60000.01","1"],["60000.02","3"]]})";
    (void)session->on_snapshot(sym, kSnapshot, 1);
    (void)session->on_message(msg, 2);
    confluex::fuzz::check_book(engine, sym);
    return 0;
}
