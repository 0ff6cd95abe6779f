"""CcxtProFeed fed by a hand-written ccxt.pro stand-in that replays the real spot capture.

ccxt.pro's network is not reachable here, so ``CaptureProSource`` plays ccxt.pro's part: it
keeps the Binance book the way ccxt does (REST snapshot, then depth diffs with u > lastUpdateId,
float levels) and answers ``watch_order_book`` with the latest whole book (coalescing updates
the consumer was too slow to see, as ccxt.pro does) and ``watch_trades`` with the trades that
arrived since the previous call, as ccxt-shaped dicts.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import confluex
import numpy as np
import pytest
from confluex import _core
from confluex.feeds.ccxtpro import CcxtProFeed
from loopback_exchange import eventually

S = _core.session
SPOT = Path("spot/btcusdt_20240808.gz")
TICK, LOT = "0.01", "0.00000001"


class CaptureProSource:
    """ccxt.pro-shaped source over a capture file (not a mock: it keeps a real book)."""

    id = "binance"
    precisionMode = 4  # ccxt TICK_SIZE

    def __init__(self, path: Path, symbol: str = "BTC/USDT", fail_book_once_at: int | None = None):
        self.path = path
        self.symbol = symbol
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.book_version = 0
        self.served_version = 0
        self.trades: list[dict[str, Any]] = []
        self.trades_served = 0
        self.finished = False
        self.closed = False
        self.book_calls = 0
        self.fail_book_once_at = fail_book_once_at
        self._changed = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._producer = asyncio.ensure_future(self._produce())

    async def _produce(self) -> None:
        last_id: int | None = None
        buffered: list[dict[str, Any]] = []  # depth before the snapshot, as ccxt.pro buffers it
        for n, line in enumerate(gzip.open(self.path)):
            _, _, raw = line.strip().partition(b" ")
            msg = json.loads(raw)
            if "lastUpdateId" in msg:
                last_id = msg["lastUpdateId"]
                self._replace(msg["bids"], msg["asks"])
                for d in buffered:
                    if d["u"] > last_id:
                        self._update(d["b"], d["a"])
            elif msg["stream"].endswith("@trade"):
                d = msg["data"]
                self.trades.append(
                    {
                        "id": str(d["t"]),
                        "symbol": self.symbol,
                        "timestamp": d["T"],
                        "price": float(d["p"]),
                        "amount": float(d["q"]),
                        "side": "sell" if d["m"] else "buy",
                    }
                )
                self._changed.set()
            elif "@depth" in msg["stream"] and last_id is None:
                buffered.append(msg["data"])
            elif "@depth" in msg["stream"] and msg["data"]["u"] > last_id:
                self._update(msg["data"]["b"], msg["data"]["a"])
            if n % 50 == 0:
                await asyncio.sleep(0)
        self.finished = True
        self._changed.set()

    def _replace(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids = {float(p): float(q) for p, q in bids}
        self.asks = {float(p): float(q) for p, q in asks}
        self.book_version += 1
        self._changed.set()

    def _update(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                if float(q) == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
        self.book_version += 1
        self._changed.set()

    async def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            self._changed.clear()
            await self._changed.wait()

    async def load_markets(self) -> dict[str, Any]:
        market = {
            "id": "BTCUSDT",
            "symbol": self.symbol,
            "spot": True,
            "precision": {"price": 0.01, "amount": 1e-05},
        }
        return {self.symbol: market}

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> Mapping[str, Any]:
        assert symbol == self.symbol
        self.book_calls += 1
        if self.book_calls == self.fail_book_once_at:
            raise ConnectionResetError("simulated network error")
        await self._wait(lambda: self.book_version > self.served_version)
        self.served_version = self.book_version
        bids = sorted(self.bids.items(), reverse=True)[:limit]
        asks = sorted(self.asks.items())[:limit]
        return {
            "symbol": symbol,
            "bids": [[p, q] for p, q in bids],
            "asks": [[p, q] for p, q in asks],
            "timestamp": None,
            "nonce": self.book_version,
        }

    async def watch_trades(self, symbol: str) -> Sequence[Mapping[str, Any]]:
        assert symbol == self.symbol
        await self._wait(lambda: len(self.trades) > self.trades_served)
        new = self.trades[self.trades_served :]
        self.trades_served = len(self.trades)
        return new

    async def close(self) -> None:
        self.closed = True
        if self._producer is not None:
            self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)

    def drained(self) -> bool:
        return (
            self.finished
            and self.served_version == self.book_version
            and self.trades_served == len(self.trades)
        )


def replay_reference(root: Path) -> tuple[_core.engine.Engine, int]:
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument(TICK, LOT))
    session = S.FeedSession(engine, S.Venue.binance_spot)
    session.add_symbol("BTCUSDT", sym)
    session.replay(gzip.open(root / SPOT).read())
    return engine, sym


def run_feed(
    source: CaptureProSource, book_mode: str, instruments: dict[str, confluex.Instrument] | None
) -> tuple[CcxtProFeed, int]:
    updates = [0]

    def on_update(symbol: str, result: _core.aggregator.ConfluenceResult) -> None:
        assert symbol == "BTC/USDT" and 0.0 <= result.score <= 100.0
        updates[0] += 1

    async def main() -> CcxtProFeed:
        feed = CcxtProFeed(
            source,
            ["BTC/USDT"],
            instruments=instruments,
            book_mode=book_mode,  # type: ignore[arg-type]
            on_update=on_update,
        )
        source.start()
        task = asyncio.create_task(feed.run())
        await eventually(source.drained)
        await asyncio.sleep(0)  # let the watchers apply what they were handed
        feed.stop()
        await task
        return feed

    return asyncio.run(main()), updates[0]


@pytest.mark.parametrize("book_mode", ["diff", "snapshot"])
def test_ccxtpro_feed_ends_with_the_replay_book_and_cvd(book_mode: str, hft_data: Path) -> None:
    ref, rsym = replay_reference(hft_data)
    source = CaptureProSource(hft_data / SPOT)

    feed, updates = run_feed(source, book_mode, None)
    st = feed.by_symbol["BTC/USDT"]
    sid = st.symbol_id
    (bids, asks), (rbids, rasks) = feed.engine.top(sid, 100), ref.top(rsym, 100)

    assert (st.instrument.tick_size_str, st.instrument.lot_size_str) == (TICK, LOT)
    assert len(bids) == len(asks) == 100
    np.testing.assert_array_equal(bids, rbids)
    np.testing.assert_array_equal(asks, rasks)
    assert feed.engine.cvd(sid) == ref.cvd(rsym)
    assert st.trades == len(source.trades) and st.bad_levels == st.bad_trades == 0
    assert st.resyncs == 0 and feed.engine.in_sync(sid)
    assert st.snapshots == (1 if book_mode == "diff" else st.book_applied)
    assert updates == st.book_applied + st.trade_batches
    if book_mode == "diff":  # only what changed was converted, not the whole book each time
        full_books = st.book_applied * (len(st.prev_bids) + len(st.prev_asks))
        assert st.book_applied > 100 and 0 < st.levels_changed < full_books / 10
    assert source.closed


def test_watch_error_forces_a_fresh_snapshot_and_the_book_still_ends_equal(hft_data: Path) -> None:
    ref, rsym = replay_reference(hft_data)
    source = CaptureProSource(hft_data / SPOT, fail_book_once_at=200)

    feed, _ = run_feed(source, "diff", {"BTC/USDT": confluex.Instrument(TICK, LOT)})
    st = feed.by_symbol["BTC/USDT"]

    assert st.watch_errors == 1 and st.snapshots == 2
    np.testing.assert_array_equal(feed.engine.top(st.symbol_id, 100)[0], ref.top(rsym, 100)[0])
    np.testing.assert_array_equal(feed.engine.top(st.symbol_id, 100)[1], ref.top(rsym, 100)[1])


def test_redelivered_trades_are_dropped_and_off_grid_prices_refused() -> None:
    feed = CcxtProFeed(
        _Idle(), ["BTC/USDT"], instruments={"BTC/USDT": confluex.Instrument(TICK, LOT)}
    )
    asyncio.run(feed.start())
    st = feed.by_symbol["BTC/USDT"]
    trades = [
        {"id": "1", "price": 61000.01, "amount": 0.5, "side": "buy"},
        {"id": "2", "price": 61000.02, "amount": 0.25, "side": "sell"},
    ]

    first = feed.apply_trades(st, trades, 1_000)
    again = feed.apply_trades(st, trades, 2_000)
    off_grid = feed.apply_trades(
        st, [{"id": "3", "price": 61000.015, "amount": 1.0, "side": "buy"}], 3_000
    )

    assert (first, again, off_grid) == (2, 0, 0)
    assert st.duplicate_trades == 2 and st.bad_trades == 1
    assert feed.engine.cvd(st.symbol_id) == 50_000_000 - 25_000_000


def test_crossed_book_from_the_source_forces_a_snapshot() -> None:
    feed = CcxtProFeed(
        _Idle(), ["BTC/USDT"], instruments={"BTC/USDT": confluex.Instrument(TICK, LOT)}
    )
    asyncio.run(feed.start())
    st = feed.by_symbol["BTC/USDT"]
    good = {"bids": [[100.0, 1.0], [99.99, 2.0]], "asks": [[100.01, 1.0]]}
    crossed = {"bids": [[100.02, 1.0], [99.99, 2.0]], "asks": [[100.01, 1.0]]}

    assert feed.apply_book(st, good, 1)
    assert not feed.apply_book(st, crossed, 2)
    assert st.need_snapshot and st.resyncs == 1
    assert feed.apply_book(st, good, 3)
    assert st.snapshots == 2 and feed.engine.best_bid(st.symbol_id) == (10000, 100_000_000)


class _Idle:
    """A source that never delivers (for tests that call apply_* directly)."""

    async def watch_order_book(self, symbol: str, limit: int | None = None) -> Mapping[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def watch_trades(self, symbol: str) -> Sequence[Mapping[str, Any]]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        return None


def test_unknown_book_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="was 'full'"):
        CcxtProFeed(_Idle(), ["BTC/USDT"], book_mode="full")  # type: ignore[arg-type]
