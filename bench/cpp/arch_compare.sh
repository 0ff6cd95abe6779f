#!/usr/bin/env bash
# Portable baseline vs -march=native (and x86-64-v3, what a dispatched AVX2/BMI2 clone would
# get) on the real Binance BTCUSDT captures, in the same run: builds the parser, order-book,
# trade-flow and engine microbenchmarks once per -march level, then runs them interleaved
# (v2, v3, native, v2, v3, native, ...) so a noisy neighbour slows one round, not one level.
# Tells whether runtime dispatch of a hot kernel pays (CMakeLists.txt, "target ISA").
#
# Run like (from the repository, with confluex importable, for the input dumps):
#   bench/cpp/arch_compare.sh [rounds] [march levels...]
#   bench/cpp/arch_compare.sh 3 x86-64-v2 x86-64-v3 native    # the default
# Prints each benchmark's own report per level and round; compare the "best" columns.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rounds=${1:-3}
shift || true
levels=("$@")
if [[ ${#levels[@]} -eq 0 ]]; then
    levels=(x86-64-v2 x86-64-v3 native)
fi
py=${PYTHON:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$py" bench/gate_order_book.py --dump "$work/book_dump" >/dev/null
"$py" bench/bench_trade_flow.py --dump "$work/trades.bin" >/dev/null
"$py" bench/cpp/dump_book_records.py "$work/pbook" >/dev/null

cxx=(g++ -std=c++20 -O3 -DNDEBUG -Icsrc/include)
core=(csrc/src/*.cpp)
for m in "${levels[@]}"; do
    "${cxx[@]}" -march="$m" bench/cpp/bench_feed_parser.cpp "${core[@]}" -o "$work/parser_$m" &
    "${cxx[@]}" -march="$m" bench/cpp/bench_order_book.cpp csrc/src/order_book.cpp -o "$work/book_$m" &
    wait
    "${cxx[@]}" -march="$m" bench/cpp/bench_trade_flow.cpp "${core[@]}" -o "$work/flow_$m" &
    "${cxx[@]}" -march="$m" bench/cpp/bench_engine.cpp "${core[@]}" -o "$work/engine_$m" &
    wait
done

for ((r = 1; r <= rounds; r++)); do
    for m in "${levels[@]}"; do
        echo "=== round $r, -march=$m"
        "$work/parser_$m" tests/data/hftbacktest | grep -E "spot depth parse\(\)|spot trade parse\(\)|usdm largest on_message"
        "$work/book_$m" "$work/book_dump" | grep -E "whole replay|clean cache"
        "$work/flow_$m" "$work/trades.bin" | grep -E "^push_many warm|^push  |^recompute  "
        "$work/engine_$m" "$work/pbook/spot.book" | grep -E "whole batch|^recompute after|^steady"
    done
done
