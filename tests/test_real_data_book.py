"""The OrderBook replays real Binance BTCUSDT diff depth and matches the exchange's bookTicker.

For both captures (spot 2024-08-08/09, USD-M 2024-07-18/19, each pair read as one stream)
the book follows Binance's procedure (buffer, REST snapshot, drop ``u <= lastUpdateId``, then
``prev = U - 1`` on spot and ``pu`` on futures). After depth event k the book is compared
with every bookTicker whose id t satisfies ``u_k <= t < U_{k+1}`` (data README): best bid
and best ask price AND size must match exactly. The plain-Python reference book replays the
same stream and must agree with the C++ book on the top 20 levels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from binance_depth import Replay, load_replay
from confluex._core.order_book import (
    ApplyResult,
    BookConfig,
    BookSide,
    OrderBook,
    SyncState,
)
from reference_book import APPLIED, ReferenceBook

# Spot quantities are converted on Binance's 8-decimal wire grid: the exchange's stated lot
# (0.00001) does not hold in the feed, 7 depth levels carry 6-decimal sizes ("25.42618900").
CAPTURES = {
    "spot": (("spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"), "0.01", "0.00000001", False),
    "usdm": (
        ("usdm_2024-07/btcusdt_20240718.gz", "usdm_2024-07/btcusdt_20240719.gz"),
        "0.1",
        "0.001",
        True,
    ),
}
CONFIGS = {
    "default": BookConfig(),
    # 256 ticks per side: constant re-centring and most levels in the overflow map.
    "small_window": BookConfig(window_bits=8, top_cache=8),
}


def _replay(hft_data: Path, market: str) -> Replay:
    files, tick, lot, futures = CAPTURES[market]
    return load_replay(tuple(hft_data / f for f in files), tick, lot, futures)


def _run(replay: Replay, cfg: BookConfig, check_reference_every: int) -> dict[str, int]:
    book = OrderBook(cfg)
    ref = ReferenceBook()
    book.apply_snapshot(replay.snapshot_bids, replay.snapshot_asks, replay.snapshot_id)
    ref.apply_snapshot(
        map(tuple, replay.snapshot_bids.tolist()),
        map(tuple, replay.snapshot_asks.tolist()),
        replay.snapshot_id,
    )
    ids = replay.tickers[:, 0]
    stats = {"compared": 0, "mismatched": 0, "not_applied": 0, "reference_checks": 0}
    msgs = replay.messages
    prev_u = replay.snapshot_id
    for k in range(len(msgs) + 1):
        if k > 0:
            m = msgs[k - 1]
            r = book.apply_delta(m.bids, m.asks, m.update_id, m.prev_update_id)
            rr = ref.apply_delta(
                [tuple(x) for x in m.bids.tolist()],
                [tuple(x) for x in m.asks.tolist()],
                m.update_id,
                m.prev_update_id,
            )
            stats["not_applied"] += r != ApplyResult.applied or rr != APPLIED
            prev_u = m.update_id
            if k % check_reference_every == 0:
                stats["reference_checks"] += 1
                want_b, want_a = ([list(x) for x in side] for side in ref.top(20))
                top_b, top_a = book.top(20)  # clipped to top_cache
                assert top_b.tolist() == want_b[: cfg.top_cache], f"top bids differ after {k}"
                assert top_a.tolist() == want_a[: cfg.top_cache], f"top asks differ after {k}"
                assert book.copy_top(BookSide.bid, 20).tolist() == want_b
                assert book.copy_top(BookSide.ask, 20).tolist() == want_a
        if k == len(msgs):
            break  # the next U is unknown: no bookTicker is provably comparable
        lo = np.searchsorted(ids, prev_u, side="left")
        hi = np.searchsorted(ids, msgs[k].first_id, side="left")
        bb, ba = book.best_bid(), book.best_ask()
        for t_id, bpx, bqty, apx, aqty in replay.tickers[lo:hi].tolist():
            stats["compared"] += 1
            if bb != (bpx, bqty) or ba != (apx, aqty):
                stats["mismatched"] += 1
                if stats["mismatched"] <= 3:
                    print(
                        f"mismatch at ticker {t_id}: book {bb} {ba}, ticker {bpx, bqty} {apx, aqty}"
                    )
    stats["gaps"] = book.counters.gaps
    stats["overlaps"] = book.counters.overlaps
    stats["recenters"] = book.counters.recenters
    stats["in_sync"] = int(book.state == SyncState.synced)
    return stats


@pytest.mark.parametrize("cfg_name", list(CONFIGS), ids=list(CONFIGS))
@pytest.mark.parametrize("market", list(CAPTURES), ids=list(CAPTURES))
def test_replay_matches_every_comparable_book_ticker(
    hft_data: Path, market: str, cfg_name: str
) -> None:
    replay = _replay(hft_data, market)

    stats = _run(replay, CONFIGS[cfg_name], check_reference_every=25)

    print(
        f"{market}/{cfg_name}: {len(replay.messages)} messages, {replay.n_levels} levels, {stats}"
    )
    assert stats["mismatched"] == 0
    assert stats["compared"] >= 500  # README: 1-6 % of ~80k (spot) / ~52k (usdm) bookTickers
    assert stats["not_applied"] == 0
    assert stats["gaps"] == 0 and stats["overlaps"] == 0
    assert stats["in_sync"] == 1
    assert stats["reference_checks"] >= len(replay.messages) // 25
    if cfg_name == "small_window":
        assert stats["recenters"] > 0


@pytest.mark.parametrize("market", list(CAPTURES), ids=list(CAPTURES))
def test_replay_drops_buffered_events_before_the_snapshot(hft_data: Path, market: str) -> None:
    replay = _replay(hft_data, market)

    first = replay.messages[0]

    assert first.update_id > replay.snapshot_id
    assert first.prev_update_id <= replay.snapshot_id  # the first event straddles lastUpdateId+1
    assert replay.dropped > 0


@pytest.mark.parametrize("market", list(CAPTURES), ids=list(CAPTURES))
def test_batch_replay_equals_per_message_replay(hft_data: Path, market: str) -> None:
    replay = _replay(hft_data, market)
    levels, headers = replay.flat()
    one, batch = OrderBook(), OrderBook()
    for b in (one, batch):
        b.apply_snapshot(replay.snapshot_bids, replay.snapshot_asks, replay.snapshot_id)

    for m in replay.messages:
        one.apply_delta(m.bids, m.asks, m.update_id, m.prev_update_id)
    results = batch.apply_messages(levels, headers)

    assert (results == int(ApplyResult.applied)).all()
    assert batch.last_update_id == one.last_update_id == replay.messages[-1].update_id
    for a, b in zip(batch.top(64), one.top(64), strict=True):
        assert a.tolist() == b.tolist()
    assert batch.counters.levels_applied == one.counters.levels_applied == replay.n_levels
