"""Feed integrity on faulty copies of the real captures (issue 7, items 8-11).

Every faulty copy is built in memory from tests/data/hftbacktest by tests/feed_faults.py and
named for its fault; the real files are never changed.
"""

from __future__ import annotations

import json

import pytest
from confluex import _core
from feed_faults import (
    capture_lines,
    corruption_targets,
    depth_indices,
    detection_rate,
    new_session,
    replay,
    rest_snapshot,
    sample,
    split,
    visible,
    with_ids,
)
from hypothesis import given
from hypothesis import strategies as st

S = _core.session
DesyncReason = _core.order_book.DesyncReason
KINDS = ("spot", "usdm")


def feed(session: _core.session.FeedSession, lines: list[bytes]) -> None:
    for ln in lines:
        ts, _, msg = ln.partition(b" ")
        session.on_message(msg, int(ts))


def resync_check(kind: str, faulty: list[bytes], at: int, reason: object) -> None:
    """Feeds the faulty copy; from line `at` on the symbol must be out of sync for `reason`;
    a REST snapshot taken from a clean reference then resyncs it to the reference's book."""
    clean = list(capture_lines(kind))
    engine, session, sym = new_session(kind)
    ref_engine, ref_session, ref = new_session(kind)
    resync_at = at + 300
    feed(session, faulty[:resync_at])
    feed(ref_session, clean[:resync_at])

    health = session.health(sym)
    assert health.phase == S.SyncPhase.resyncing
    assert session.needs_snapshot(sym)
    assert health.last_desync == reason
    assert engine.desync_reason(sym) == reason
    assert health.desyncs == 1

    ts = int(clean[resync_at].partition(b" ")[0])
    session.on_snapshot(sym, rest_snapshot(ref_engine, ref, kind), ts)
    feed(session, faulty[resync_at:])
    feed(ref_session, clean[resync_at:])
    health = session.health(sym)
    assert health.phase == S.SyncPhase.synced and health.snapshots_applied == 2
    assert health.ticker_mismatches == 0
    for a, b in zip(engine.top(sym, 1_000_000), ref_engine.top(ref, 1_000_000), strict=True):
        assert a.tolist() == b.tolist()


# --- item 8: frozen while "synced" -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_final_update_id_is_refused_as_an_id_jump_and_resyncs(kind: str) -> None:
    # Faulty copy: depth message 500 with its final update id u corrupted to 2^63 - 1.
    lines = list(capture_lines(kind))
    k = depth_indices(lines)[500]
    lines[k] = with_ids(lines[k], u=2**63 - 1)

    resync_check(kind, lines, k, DesyncReason.id_jump)


@pytest.mark.parametrize("kind", KINDS)
def test_book_frozen_by_a_plausible_corrupt_id_is_detected_as_stalled(kind: str) -> None:
    # Faulty copy: depth message 500's final id moved 10^9 ahead, within the jump bound, so it
    # applies and every later message is stale: depth keeps arriving and nothing applies.
    lines = list(capture_lines(kind))
    k = depth_indices(lines)[500]
    u = int(split(lines[k])[1]["data"]["u"])  # type: ignore[index]
    lines[k] = with_ids(lines[k], u=u + 10**9)
    stall_line = depth_indices(lines)[500 + 20]  # max_stale_messages (20) later

    resync_check(kind, lines, stall_line, DesyncReason.stalled)


def test_stall_guard_threshold_is_configurable_and_can_be_disabled() -> None:
    lines = list(capture_lines("spot"))
    k = depth_indices(lines)[500]
    u = int(split(lines[k])[1]["data"]["u"])  # type: ignore[index]
    lines[k] = with_ids(lines[k], u=u + 10**9)

    off = replay("spot", lines, max_stale_messages=0)
    on = replay("spot", lines, max_stale_messages=5)

    assert off.phase == S.SyncPhase.synced and off.stale_messages > 2000
    assert on.phase == S.SyncPhase.resyncing and on.stale_messages == 5
    assert on.last_desync == DesyncReason.stalled


@pytest.mark.parametrize("kind", KINDS)
def test_snapshot_ahead_of_the_stream_is_not_a_frozen_book(kind: str) -> None:
    # A resync whose REST snapshot is 100 depth messages ahead of the stream (REST answered
    # faster than the WebSocket delivered): those messages are dropped as Binance documents,
    # however many, and the symbol stays synced.
    clean = list(capture_lines(kind))
    at = depth_indices(clean)[800]
    ahead = depth_indices(clean)[900]
    engine, session, sym = new_session(kind)
    ref_engine, ref_session, ref = new_session(kind)
    feed(session, clean[:at])
    feed(ref_session, clean[:ahead])
    snapshot = rest_snapshot(ref_engine, ref, kind)
    feed(ref_session, clean[ahead:])

    session.on_snapshot(sym, snapshot, int(clean[at].partition(b" ")[0]))
    feed(session, clean[at:])

    health = session.health(sym)
    assert health.phase == S.SyncPhase.synced and health.desyncs == 0
    assert health.stale_messages >= 99
    assert health.ticker_mismatches == 0
    for a, b in zip(engine.top(sym, 1_000_000), ref_engine.top(ref, 1_000_000), strict=True):
        assert a.tolist() == b.tolist()


def test_snapshot_with_a_corrupt_last_update_id_is_a_stalled_book() -> None:
    # Faulty copy: the capture's REST snapshot line with lastUpdateId 2^63 - 1. Every later
    # message is stale; the first one already shows the snapshot implausibly far ahead.
    lines = list(capture_lines("spot"))
    k = next(i for i, ln in enumerate(lines) if b"lastUpdateId" in ln)
    ts, msg = split(lines[k])
    msg["lastUpdateId"] = 2**63 - 1
    lines[k] = ts + b" " + json.dumps(msg).encode()

    health = replay("spot", lines)

    assert health.phase == S.SyncPhase.resyncing
    assert health.last_desync == DesyncReason.stalled and health.desyncs == 1


@pytest.mark.parametrize("kind", KINDS)
def test_clean_capture_never_trips_the_frozen_book_guards(kind: str) -> None:
    health = replay(kind, capture_lines(kind))
    assert health.phase == S.SyncPhase.synced
    assert health.desyncs == 0 and health.stale_messages == 0
    assert health.last_desync == DesyncReason.none


# --- item 9: the oracle only compares states that represent the ticker -------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("nth", [300, 400, 650, 800, 1000, 1500])
def test_tickers_inside_a_gap_are_unverifiable_not_mismatches(kind: str, nth: int) -> None:
    # Faulty copy: one depth message dropped (a gap in the sequence).
    lines = list(capture_lines(kind))
    del lines[depth_indices(lines)[nth]]

    health = replay(kind, lines)

    assert health.ticker_mismatches == 0
    assert health.desyncs == 1 and health.last_desync == DesyncReason.gap
    assert health.ticker_unverifiable > 0
    assert health.ticker_checks > 0


# --- item 10: silent corruption of a level size while synced ----------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_oracle_catches_every_corrupt_best_level_a_book_ticker_can_reveal(kind: str) -> None:
    # Faulty copies: one best-level size one lot too large, in a message applied while synced.
    # Only corruptions some bookTicker can reveal count (one showing that price before the
    # level is next overwritten); the others are invisible to any top-of-book oracle.
    top, _ = corruption_targets(kind)
    targets = [t for t in sample(top, 40, seed=11) if visible(kind, t)][:12]

    caught, made = detection_rate(kind, targets)

    assert made >= 8
    assert caught == made


@pytest.mark.parametrize("kind", KINDS)
def test_level_checks_find_no_mismatch_on_the_real_captures(kind: str) -> None:
    health = replay(kind, capture_lines(kind))
    assert health.ticker_mismatches == 0
    # Most tickers fall inside a depth message: the level checks are what makes them count.
    assert health.ticker_level_checks > 0.9 * health.ticker_checks
    assert health.ticker_checks > 0.95 * health.ticker_messages


# --- item 11: duplicate trades -----------------------------------------------------------------


def summary(kind: str, lines: list[bytes]) -> tuple[int, int, float, S.SymbolHealth]:
    engine, session, sym = new_session(kind)
    session.replay(b"\n".join(lines) + b"\n")
    return engine.cvd(sym), engine.stats(sym).trades, engine.score(sym), session.health(sym)


@pytest.mark.parametrize("kind", KINDS)
def test_redelivered_trades_are_counted_once(kind: str) -> None:
    # Faulty copy: every 25th trade delivered again, some right away, some 40 lines later
    # (after other trades: out of order).
    clean = list(capture_lines(kind))
    trades = [i for i, ln in enumerate(clean) if b"@trade" in ln]
    repeats: dict[int, list[int]] = {}
    for n, i in enumerate(trades[::25]):
        repeats.setdefault(i if n % 2 else min(i + 40, len(clean) - 1), []).append(i)
    faulty: list[bytes] = []
    for i, ln in enumerate(clean):
        faulty.append(ln)
        faulty.extend(clean[j] for j in repeats.get(i, []))
    n_repeats = len(trades[::25])

    cvd, count, score, health = summary(kind, faulty)
    cvd0, count0, score0, health0 = summary(kind, clean)

    assert len(faulty) == len(clean) + n_repeats
    assert (cvd, count, score) == (cvd0, count0, score0)
    assert health.duplicate_trades == n_repeats
    assert health0.duplicate_trades == 0
    assert health.trade_messages == health0.trade_messages + n_repeats


def trade_msg(trade_id: int) -> bytes:
    """A synthetic Binance trade message (the documented schema) with a chosen id."""
    data = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": trade_id, "p": "100.00", "q": "0.001"}
    data |= {"T": 1, "m": trade_id % 2 == 0, "M": True}
    return json.dumps({"stream": "btcusdt@trade", "data": data}).encode()


@given(
    ids=st.lists(st.integers(0, 40), max_size=200),
    window=st.integers(1, 9),
)
def test_dedup_window_matches_a_plain_python_reference(ids: list[int], window: int) -> None:
    # Synthetic trade ids: the dedup set must remember exactly the last `window` distinct ids
    # accepted (eviction in arrival order), whatever the collisions in its hash table.
    engine, session, sym = new_session("spot", trade_dedup_window=window)
    recent: list[int] = []
    expected_dups = 0
    for ts, tid in enumerate(ids, start=1):
        session.on_message(trade_msg(tid), ts)
        if tid in recent:
            expected_dups += 1
            continue
        recent.append(tid)
        del recent[:-window]

    health = session.health(sym)
    assert health.duplicate_trades == expected_dups
    assert engine.stats(sym).trades == len(ids) - expected_dups


def test_dedup_can_be_disabled() -> None:
    engine, session, sym = new_session("spot", trade_dedup_window=0)
    for ts in (1, 2, 3):
        session.on_message(trade_msg(7), ts)
    assert session.health(sym).duplicate_trades == 0
    assert engine.stats(sym).trades == 3
