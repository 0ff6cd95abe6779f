"""Faulty copies of the real Binance captures, built in memory (never written back as data).

Used by tests/test_feed_integrity.py (issue 7, items 8-11). Each helper takes the lines of a
real capture (tests/data/hftbacktest) and returns a copy with one named fault; the originals
stay untouched. Run as a script to measure the silent-corruption detection rate of the
bookTicker oracle (item 10):

    python tests/feed_faults.py [samples per capture, default 100]
"""

from __future__ import annotations

import bisect
import gzip
import json
import random
import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import confluex
from confluex import _core

S = _core.session
HFT = Path(__file__).resolve().parent / "data" / "hftbacktest"

#: kind -> (first file of the capture, tick, lot, venue)
CAPTURES = {
    "spot": ("spot/btcusdt_20240808.gz", "0.01", "0.00000001", S.Venue.binance_spot),
    "usdm": ("usdm_2024-07/btcusdt_20240718.gz", "0.1", "0.001", S.Venue.binance_futures),
}


@cache
def capture_lines(kind: str) -> tuple[bytes, ...]:
    """The non-empty lines of a real capture (``<ns> <json>``)."""
    data = gzip.open(HFT / CAPTURES[kind][0]).read()
    return tuple(ln for ln in data.split(b"\n") if ln)


def new_session(
    kind: str, **cfg: int
) -> tuple[_core.engine.Engine, _core.session.FeedSession, int]:
    _, tick, lot, venue = CAPTURES[kind]
    engine = confluex.Engine()
    sym = engine.add_symbol("BTCUSDT", confluex.Instrument(tick, lot))
    session = S.FeedSession(engine, venue, S.SessionConfig(**cfg))
    session.add_symbol("BTCUSDT", sym)
    return engine, session, sym


def replay(kind: str, lines: list[bytes] | tuple[bytes, ...], **cfg: int) -> dict[str, object]:
    """Replays lines through a fresh session; returns the symbol's health."""
    _, session, sym = new_session(kind, **cfg)
    session.replay(b"\n".join(lines) + b"\n")
    return session.health(sym)


def split(line: bytes) -> tuple[bytes, dict[str, object]]:
    ts, _, msg = line.partition(b" ")
    return ts, json.loads(msg)


def join(ts: bytes, msg: dict[str, object]) -> bytes:
    return ts + b" " + json.dumps(msg, separators=(",", ":")).encode()


def depth_indices(lines: tuple[bytes, ...] | list[bytes]) -> list[int]:
    return [i for i, ln in enumerate(lines) if b"@depth" in ln]


def with_ids(line: bytes, **ids: int) -> bytes:
    """The depth line with some of its ids ("U", "u", "pu") replaced."""
    ts, msg = split(line)
    data = msg["data"]
    assert isinstance(data, dict)
    data.update(ids)
    return join(ts, msg)


def rest_snapshot(engine: _core.engine.Engine, sym: int, kind: str) -> bytes:
    """A Binance REST depth snapshot (JSON) of an engine's whole book, at its last id."""
    _, tick, lot, _ = CAPTURES[kind]
    bids, asks = engine.top(sym, 1_000_000)
    out = {
        "lastUpdateId": engine.stats(sym).last_update_id,
        "bids": [
            [format(Decimal(tick) * int(p), "f"), format(Decimal(lot) * int(q), "f")]
            for p, q in bids
        ],
        "asks": [
            [format(Decimal(tick) * int(p), "f"), format(Decimal(lot) * int(q), "f")]
            for p, q in asks
        ],
    }
    return json.dumps(out).encode()


@dataclass(frozen=True)
class Target:
    """One level of one depth message: line index, side ("b"/"a"), price text."""

    line: int
    side: str
    price: str


def bump_qty(line: bytes, target: Target, lot: str) -> bytes:
    """The line with the target level's size one lot larger (a silently wrong size)."""
    ts, msg = split(line)
    data = msg["data"]
    assert isinstance(data, dict)
    for level in data[target.side]:
        if level[0] == target.price:
            places = -Decimal(level[1]).as_tuple().exponent  # type: ignore[operator]
            level[1] = f"{Decimal(level[1]) + Decimal(lot):.{places}f}"
            return join(ts, msg)
    raise ValueError(f"level {target} not in the line")


@cache
def corruption_targets(kind: str) -> tuple[tuple[Target, ...], tuple[Target, ...]]:
    """Levels to corrupt, from one clean pass: (levels that are the best bid/ask right after
    their message, any non-zero level of any message), all applied while synced."""
    lines = capture_lines(kind)
    _, tick, _, _ = CAPTURES[kind]
    engine, session, sym = new_session(kind)
    inst = confluex.Instrument(tick, CAPTURES[kind][2])
    top: list[Target] = []
    anywhere: list[Target] = []
    for i, ln in enumerate(lines):
        ts, _, msg = ln.partition(b" ")
        session.on_message(msg, int(ts))
        if b"@depth" not in ln or session.phase(sym) != S.SyncPhase.synced:
            continue
        data = split(ln)[1]["data"]
        assert isinstance(data, dict)
        best = {"b": engine.best_bid(sym), "a": engine.best_ask(sym)}
        for side in ("b", "a"):
            for px, qty in data[side]:
                if Decimal(qty) == 0:
                    continue
                t = Target(i, side, px)
                anywhere.append(t)
                level = best[side]
                if level is not None and inst.price_to_ticks(px) == level[0]:
                    top.append(t)
    return tuple(top), tuple(anywhere)


@cache
def _tickers(kind: str) -> tuple[list[int], list[tuple[str, str]]]:
    """Every bookTicker of a capture sorted by id: (ids, (bid px, ask px))."""
    rows = []
    for ln in capture_lines(kind):
        if b"@bookTicker" in ln:
            d = split(ln)[1]["data"]
            assert isinstance(d, dict)
            rows.append((int(d["u"]), (str(d["b"]), str(d["a"]))))
    rows.sort(key=lambda r: r[0])
    return [r[0] for r in rows], [r[1] for r in rows]


def visible(kind: str, t: Target) -> bool:
    """Whether any bookTicker can reveal the corruption: one whose id is at or after the
    corrupted message's last id u_k, before the first id U_j of the next message touching the
    level (which overwrites it), and whose best price on that side is the level's."""
    lines = capture_lines(kind)
    u_k = int(split(lines[t.line])[1]["data"]["u"])  # type: ignore[index]
    end = None
    for ln in lines[t.line + 1 :]:
        if b"@depth" in ln:
            d = split(ln)[1]["data"]
            assert isinstance(d, dict)
            if any(px == t.price for px, _ in d[t.side]):
                end = int(d["U"])
                break
    ids, prices = _tickers(kind)
    col = 0 if t.side == "b" else 1
    lo = bisect.bisect_left(ids, u_k)
    hi = len(ids) if end is None else bisect.bisect_left(ids, end)
    return any(prices[i][col] == t.price for i in range(lo, hi))


def detection_rate(kind: str, targets: list[Target], **cfg: int) -> tuple[int, int]:
    """(corruptions the oracle caught, corruptions made): one faulty copy per target."""
    lines = list(capture_lines(kind))
    lot = CAPTURES[kind][2]
    caught = 0
    for t in targets:
        faulty = list(lines)
        faulty[t.line] = bump_qty(lines[t.line], t, lot)
        health = replay(kind, faulty, **cfg)
        caught += int(health.ticker_mismatches > 0)  # type: ignore[operator]
    return caught, len(targets)


def sample(targets: tuple[Target, ...], n: int, seed: int) -> list[Target]:
    return random.Random(seed).sample(list(targets), min(n, len(targets)))


def main(n: int) -> None:
    for kind in CAPTURES:
        top, anywhere = corruption_targets(kind)
        for name, pool in (("best level", top), ("any level", anywhere)):
            picked = sample(pool, n, seed=7)
            caught, made = detection_rate(kind, picked)
            seen = [t for t in picked if visible(kind, t)]
            caught_seen, _ = detection_rate(kind, seen)
            print(
                f"{kind:5s} {name:10s}: caught {caught}/{made} = {caught / made:.0%}; "
                f"of those a bookTicker can reveal: {caught_seen}/{len(seen)}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
