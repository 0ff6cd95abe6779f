"""Venues and market types in ``confluex replay`` (issue 7, item 12).

The COIN-M and Bybit captures here are SYNTHETIC: written by this file from the venues'
documented message schemas (a random walk of a small book, deterministic seed), because the
repository holds no real capture of those markets. The real Binance spot / USD-M captures and
the real Bybit linear sample are checked to keep their detection.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from confluex._core import session as S
from confluex.feeds import files as replay


class SyntheticBook:
    """A small two-sided book walked at random, in integer ticks and lots."""

    def __init__(self, seed: int, mid: int, lot_max: int) -> None:
        self.rng = random.Random(seed)
        self.bids = {mid - i: self.rng.randint(1, lot_max) for i in range(1, 21)}
        self.asks = {mid + i: self.rng.randint(1, lot_max) for i in range(0, 20)}
        self.lot_max = lot_max

    def step(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Changes a few levels (size updates, deletes, inserts) without crossing."""
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        for _ in range(self.rng.randint(1, 4)):
            if self.rng.random() < 0.5:
                px = max(self.bids) - self.rng.randint(0, 10)
                qty = (
                    0
                    if self.rng.random() < 0.2 and len(self.bids) > 5
                    else self.rng.randint(1, self.lot_max)
                )
                if px >= min(self.asks):
                    continue
                bids.append((px, qty))
                self._set(self.bids, px, qty)
            else:
                px = min(self.asks) + self.rng.randint(0, 10)
                qty = (
                    0
                    if self.rng.random() < 0.2 and len(self.asks) > 5
                    else self.rng.randint(1, self.lot_max)
                )
                if px <= max(self.bids):
                    continue
                asks.append((px, qty))
                self._set(self.asks, px, qty)
        return bids, asks

    @staticmethod
    def _set(side: dict[int, int], px: int, qty: int) -> None:
        if qty == 0:
            side.pop(px, None)
        else:
            side[px] = qty


def fmt(units: int, places: int) -> str:
    return f"{units / 10**places:.{places}f}" if places else str(units)


def coinm_capture(path: Path, n: int = 400) -> Path:
    """SYNTHETIC Binance COIN-M BTCUSD_PERP capture in hftbacktest's line format: depth
    (U, u, pu; sizes in contracts), trades and bookTickers, with the REST snapshot line
    after a few depth messages, as the recorder writes it."""
    book = SyntheticBook(seed=5, mid=600_000, lot_max=500)  # tick 0.1, lot 1 contract
    lines: list[str] = []
    ts, uid, tid = 1_720_000_000_000_000_000, 9_000_000, 1
    snapshot = {
        "lastUpdateId": uid,
        "E": 1,
        "T": 1,
        "symbol": "BTCUSD_PERP",
        "pair": "BTCUSD",
        "bids": [[fmt(p, 1), str(q)] for p, q in sorted(book.bids.items(), reverse=True)],
        "asks": [[fmt(p, 1), str(q)] for p, q in sorted(book.asks.items())],
    }
    prev = uid
    for k in range(n):
        ts += 50_000_000
        bids, asks = book.step()
        first = prev + book.rng.randint(1, 30)
        last = first + book.rng.randint(0, 40)
        data = {
            "e": "depthUpdate",
            "E": ts // 1_000_000,
            "T": ts // 1_000_000,
            "s": "BTCUSD_PERP",
            "ps": "BTCUSD",
            "U": first,
            "u": last,
            "pu": prev,
            "b": [[fmt(p, 1), str(q)] for p, q in bids],
            "a": [[fmt(p, 1), str(q)] for p, q in asks],
        }
        lines.append(f"{ts} " + json.dumps({"stream": "btcusd_perp@depth@0ms", "data": data}))
        prev = last
        if k == 0:
            # The recorder fetched the snapshot after the stream started: the first message
            # must be dropped (u <= lastUpdateId) and the second must straddle it.
            snapshot["lastUpdateId"] = last
            snapshot["bids"] = [
                [fmt(p, 1), str(q)] for p, q in sorted(book.bids.items(), reverse=True)
            ]
            snapshot["asks"] = [[fmt(p, 1), str(q)] for p, q in sorted(book.asks.items())]
            lines.append(f"{ts + 1} " + json.dumps(snapshot))
        bb, ba = max(book.bids), min(book.asks)
        ticker = {
            "e": "bookTicker",
            "u": last,
            "s": "BTCUSD_PERP",
            "ps": "BTCUSD",
            "b": fmt(bb, 1),
            "B": str(book.bids[bb]),
            "a": fmt(ba, 1),
            "A": str(book.asks[ba]),
            "T": ts // 1_000_000,
            "E": ts // 1_000_000,
        }
        lines.append(
            f"{ts + 2} " + json.dumps({"stream": "btcusd_perp@bookTicker", "data": ticker})
        )
        trade = {
            "e": "trade",
            "E": ts // 1_000_000,
            "T": ts // 1_000_000,
            "s": "BTCUSD_PERP",
            "t": tid,
            "p": fmt(ba, 1),
            "q": str(book.rng.randint(1, 50)),
            "X": "MARKET",
            "m": bool(k % 2),
        }
        tid += 1
        lines.append(f"{ts + 3} " + json.dumps({"stream": "btcusd_perp@trade", "data": trade}))
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def bybit_capture(path: Path, *, spot: bool, n: int = 300) -> Path:
    """SYNTHETIC Bybit v5 BTCUSDT lines (orderbook.50 snapshot + deltas, publicTrade): spot
    with Bybit spot's grid (tick 0.01, size step 0.000001) and numeric trade ids, no "L";
    linear with the linear grid (tick 0.1, size 0.001), UUID ids and a tick direction "L"."""
    px_places, qty_places = (2, 6) if spot else (1, 3)
    book = SyntheticBook(seed=9, mid=6_000_000 if spot else 600_000, lot_max=50_000)
    lines: list[str] = []
    ts = 1_720_000_000_000

    def levels(items: list[tuple[int, int]]) -> list[list[str]]:
        return [[fmt(p, px_places), fmt(q, qty_places)] for p, q in items]

    snap = {
        "s": "BTCUSDT",
        "b": levels(sorted(book.bids.items(), reverse=True)),
        "a": levels(sorted(book.asks.items())),
        "u": 1,
        "seq": 100,
    }
    lines.append(
        json.dumps({"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": ts, "data": snap})
    )
    for k in range(n):
        ts += 20
        bids, asks = book.step()
        delta = {"s": "BTCUSDT", "b": levels(bids), "a": levels(asks), "u": k + 2, "seq": 101 + k}
        lines.append(
            json.dumps({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": ts, "data": delta})
        )
        item: dict[str, object] = {
            "T": ts,
            "s": "BTCUSDT",
            "S": "Buy" if k % 2 else "Sell",
            "v": fmt(book.rng.randint(1, 9_999), qty_places),
            "p": fmt(min(book.asks), px_places),
            "i": str(2_290_000_000_000_000_000 + k)
            if spot
            else f"{k:08x}-b0a2-5ae3-9a4e-3e2f2e5f0c3e",
            "BT": False,
        }
        if not spot:
            item["L"] = "PlusTick"
        lines.append(
            json.dumps(
                {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ts, "data": [item]}
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_binance_coinm_capture_replays_with_contract_sizes(tmp_path: Path) -> None:
    path = coinm_capture(tmp_path / "synthetic_btcusd_perp.gz")

    res = replay.replay([path])

    src = res.sources[0]
    assert (src.kind, src.venue, src.symbols) == ("capture", "binance_coinm", ("BTCUSD_PERP",))
    rep = res.symbols["BTCUSD_PERP"]
    assert (rep.tick, rep.lot, rep.inferred) == ("0.1", "1", False)
    assert res.parser_errors == {k: 0 for k in res.parser_errors}
    h = rep.health
    assert h.phase == S.SyncPhase.synced and h.desyncs == 0
    assert h.snapshots_applied == 1 and h.trade_messages == 400
    assert h.ticker_checks > 300 and h.ticker_mismatches == 0


def test_unknown_coinm_symbol_gets_a_contract_lot_inferred(tmp_path: Path) -> None:
    data = gzip.open(coinm_capture(tmp_path / "a.gz")).read()
    eth = data.replace(b"btcusd_perp@", b"solusd_perp@").replace(b"BTCUSD_PERP", b"SOLUSD_PERP")
    path = tmp_path / "synthetic_solusd_perp.gz"
    path.write_bytes(gzip.compress(eth))

    res = replay.replay([path])

    rep = res.symbols["SOLUSD_PERP"]
    assert (rep.venue, rep.lot, rep.inferred) == ("binance_coinm", "1", True)
    assert rep.health.phase == S.SyncPhase.synced


@pytest.mark.parametrize("spot", [True, False], ids=("spot", "linear"))
def test_bybit_market_type_picks_the_instrument(tmp_path: Path, spot: bool) -> None:
    path = bybit_capture(tmp_path / "synthetic_bybit.jsonl", spot=spot)

    res = replay.replay([path])

    src = res.sources[0]
    assert src.venue == ("bybit_spot" if spot else "bybit")
    rep = res.symbols["BTCUSDT"]
    assert (rep.tick, rep.lot) == (("0.01", "0.000001") if spot else ("0.1", "0.001"))
    assert sum(res.parser_errors.values()) == 0
    assert rep.health.phase == S.SyncPhase.synced
    assert rep.health.parse_errors == 0 and rep.health.trade_messages == 300


@pytest.mark.parametrize(
    ("stream", "line"),
    [
        ("btcusdt@aggTrade", '1 {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"}}'),
        ("btcusdt@depth20@100ms", '1 {"stream":"btcusdt@depth20@100ms","data":{}}'),
        ("kline.1.BTCUSDT", '{"topic":"kline.1.BTCUSDT","type":"snapshot","ts":1,"data":[]}'),
    ],
    ids=("binance_aggtrade", "binance_partial_depth", "bybit_kline"),
)
def test_unsupported_stream_is_an_error_naming_it_and_the_formats(
    tmp_path: Path, stream: str, line: str
) -> None:
    path = tmp_path / "capture.txt"
    path.write_text(line + "\n")

    with pytest.raises(ValueError, match="unsupported stream") as err:
        replay.replay([path])

    assert repr(stream) in str(err.value)
    assert "<sym>@depth" in str(err.value) and "publicTrade.<SYM>" in str(err.value)


def test_real_captures_keep_their_venues(hft_data: Path) -> None:
    spot = replay.detect(hft_data / "spot" / "btcusdt_20240808.gz")
    usdm = replay.detect(hft_data / "usdm_2024-07" / "btcusdt_20240718.gz")
    bybit = replay.detect(hft_data.parent / "nautilus_trader" / "bybit" / "xrpusdt-ob500.data.zip")

    assert (spot.venue, spot.symbols) == ("binance_spot", ("BTCUSDT",))
    assert (usdm.venue, usdm.symbols) == ("binance_futures", ("BTCUSDT",))
    assert (bybit.venue, bybit.symbols) == ("bybit", ("XRPUSDT",))
