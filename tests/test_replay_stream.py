"""`confluex replay` streams its input: chunked reads, bounded memory, the same results.

Before, every file was decompressed whole into memory (a 363 MB capture peaked at 531 MB
RSS) and Tardis CSVs went through ``list(csv.DictReader)`` (1M rows: 23 s, 1.28 GB). Now a
file is read in line-aligned chunks of a few MiB: detection scans it once, the replay feeds it
chunk by chunk to the native parser, and Tardis rows are split a chunk at a time.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from confluex import Engine, Instrument
from confluex._core.exceptions import InvalidEvent
from confluex._core.session import FeedSession, Venue
from confluex.feeds import files as replay_mod
from confluex.feeds.files import detect, iter_chunks, replay
from synthetic_capture import write_synthetic_capture
from tardis_reference import reference_ingest, write_synthetic_book_csv

SPOT = ("spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz")
TARDIS = Path(__file__).resolve().parent / "data" / "nautilus_trader" / "tardis"


def test_iter_chunks_yields_whole_lines_and_the_exact_content(hft_data: Path) -> None:
    path = hft_data / SPOT[0]
    chunks = list(iter_chunks(path, size=1 << 16))
    assert len(chunks) > 10
    assert all(c.endswith(b"\n") for c in chunks)
    assert b"".join(chunks) == gzip.open(path).read()


def test_streamed_replay_equals_one_whole_buffer_replay(
    hft_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_mod, "_CHUNK", 1 << 16)  # hundreds of chunk boundaries
    res = replay([hft_data / f for f in SPOT], series_interval_ns=0)
    engine = Engine()
    sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
    session = FeedSession(engine, Venue.binance_spot)
    from confluex._core.session import SessionConfig

    session = FeedSession(engine, Venue.binance_spot, SessionConfig(series_interval_ns=0))
    session.add_symbol("BTCUSDT", sym)
    whole = b"".join(gzip.open(hft_data / f).read() for f in SPOT)
    lines = session.replay(whole)
    assert res.messages == lines
    assert res.series.tobytes() == session.series().tobytes()
    assert len(res.series) > 20_000
    assert res.engine.score(0) == engine.score(sym)
    assert res.symbols["BTCUSDT"].health == session.health(sym)


def test_detect_finds_a_symbol_first_seen_after_the_head(hft_data: Path, tmp_path: Path) -> None:
    src = gzip.open(hft_data / SPOT[0]).read()
    eth = src.replace(b'"stream":"btcusdt@', b'"stream":"ethusdt@')
    path = tmp_path / "two_symbols.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(src + eth)  # ETHUSDT appears only after ~10 MiB
    sample, size = replay_mod._detection_sample(path)
    assert size == 2 * len(src) and len(sample) < 2 << 20
    assert detect(path).symbols == ("BTCUSDT", "ETHUSDT")


# VmHWM: the peak RSS of this process (ru_maxrss would include the parent's, inherited).
PEAK_SCRIPT = """
import sys
from confluex.feeds.files import replay
def hwm():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM"))
base = hwm()
res = replay([sys.argv[1]])
print(base, hwm(), res.messages, res.symbols["BTCUSDT"].health.desyncs)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_replay_peak_memory_is_a_chunk_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "synthetic_capture.gz"
    size = write_synthetic_capture(path, depth_messages=110_000)
    assert size > 48 << 20
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True, check=True
    )
    base_kb, peak_kb, messages, desyncs = (int(x) for x in out.stdout.split())
    assert messages > 110_000 and desyncs == 0
    # Reading the file whole costs its decompressed size (and a copy); streaming, a few chunks.
    assert (peak_kb - base_kb) * 1024 < size // 2, (peak_kb - base_kb, size)


def reference_engine(path: Path, book: bool, name: str, tick: str, lot: str) -> tuple[Engine, int]:
    ref = Engine()
    ref.add_symbol(f"tardis:{name}", Instrument(tick, lot))
    return ref, reference_ingest(ref, path.read_bytes(), {name: 0}, book)


def assert_same_book(a: Engine, b: Engine) -> None:
    for side in (0, 1):
        assert a.top(0, 1000)[side].tolist() == b.top(0, 1000)[side].tolist()
    assert a.stats(0).last_update_id == b.stats(0).last_update_id
    assert a.score(0) == b.score(0)


@pytest.mark.parametrize("chunk", [1 << 20, 200], ids=("one_chunk", "tiny_chunks"))
def test_tardis_book_stream_equals_the_row_by_row_reference(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_mod, "_CHUNK", chunk)
    path = TARDIS / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    res = replay([path], tick="0.5", lot="10")
    ref, messages = reference_engine(path, True, "BTC-PERPETUAL", "0.5", "10")
    assert res.messages == messages
    assert_same_book(res.engine, ref)


def test_tardis_trades_stream_equals_the_row_by_row_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay_mod, "_CHUNK", 300)
    path = TARDIS / "bitmex_trades_XBTUSD.csv"
    res = replay([path])
    ref, rows = reference_engine(path, False, "XBTUSD", "0.5", "1")
    assert res.messages == rows == len(path.read_text().splitlines()) - 1
    assert res.engine.cvd(0) == ref.cvd(0) != 0
    assert res.engine.stats(0).trades == ref.stats(0).trades
    for i in range(4):
        a, b = res.engine.window(0, i), ref.window(0, i)
        assert (a.buy_qty, a.sell_qty, a.count) == (b.buy_qty, b.sell_qty, b.count)


def test_synthetic_tardis_book_across_many_chunks_equals_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "synthetic_incremental_book_L2.csv"
    write_synthetic_book_csv(str(path), 20_000)
    monkeypatch.setattr(replay_mod, "_CHUNK", 4096)  # many messages straddle two chunks
    res = replay([path], tick="0.5", lot="10")
    ref, messages = reference_engine(path, True, "BTC-PERPETUAL", "0.5", "10")
    assert res.messages == messages > 1000
    assert_same_book(res.engine, ref)
    assert res.engine.stats(0).book_messages == ref.stats(0).book_messages


def test_tardis_row_with_a_missing_field_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad_incremental_book_L2.csv"
    good = (TARDIS / "deribit_incremental_book_L2_BTC-PERPETUAL.csv").read_text().splitlines()
    good[5] = good[5].rsplit(",", 1)[0]
    path.write_text("\n".join(good) + "\n")
    with pytest.raises(InvalidEvent, match=r"line 6: has 7 fields, expected 8"):
        replay([path], tick="0.5", lot="10")


def test_tardis_off_grid_price_names_the_value(tmp_path: Path) -> None:
    path = tmp_path / "offgrid_incremental_book_L2.csv"
    rows = (TARDIS / "deribit_incremental_book_L2_BTC-PERPETUAL.csv").read_text().splitlines()
    parts = rows[3].split(",")
    parts[6] = "6421.25"
    rows[3] = ",".join(parts)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InvalidEvent, match=r"6421\.25"):
        replay([path], tick="0.5", lot="10")


def test_bybit_recording_with_stamps_is_detected_and_replayed_with_them(tmp_path: Path) -> None:
    import zipfile

    src = Path(__file__).resolve().parent / "data" / "nautilus_trader" / "bybit"
    with zipfile.ZipFile(src / "xrpusdt-ob500.data.zip") as zf:
        lines = zf.read(zf.namelist()[0]).splitlines()
    stamped = tmp_path / "bybit_recorded.gz"
    with gzip.open(stamped, "wb") as fh:
        for i, line in enumerate(lines):
            fh.write(b"%d %s\n" % (2_000_000_000_000_000_000 + i * 1000, line))
    source = detect(stamped)
    assert (source.kind, source.venue, source.symbols) == ("bybit_capture", "bybit", ("XRPUSDT",))
    res = replay([stamped])
    ts = res.series["ts_ns"]
    assert len(ts) and ts.min() >= 2_000_000_000_000_000_000  # the stamps, not the "ts" field
    assert res.messages == len(lines)
    assert json.loads(lines[0])["topic"].endswith("XRPUSDT")
    assert np.all(np.diff(ts) >= 0)


def test_detect_finds_a_csv_symbol_first_seen_after_the_head(tmp_path: Path) -> None:
    path = tmp_path / "synthetic_incremental_book_L2.csv"
    write_synthetic_book_csv(str(path), 30_000)
    text = path.read_bytes()
    body = text.split(b"\n", 1)[1]
    path.write_bytes(text + body.replace(b",BTC-PERPETUAL,", b",ETH-PERPETUAL,"))
    assert len(text) > 2 << 20  # the second symbol starts beyond the detection head
    assert detect(path).symbols == ("BTC-PERPETUAL", "ETH-PERPETUAL")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (2, "15856992002450x0", "timestamp must be microseconds"),
        (4, "maybe", "is_snapshot must be true or false"),
        (5, "mid", "side must be bid or ask"),
        (7, "15", "amount is not a decimal on the lot grid 10"),
    ],
    ids=("timestamp", "is_snapshot", "side", "amount"),
)
def test_tardis_bad_field_names_line_and_value(
    tmp_path: Path, column: int, value: str, message: str
) -> None:
    rows = (TARDIS / "deribit_incremental_book_L2_BTC-PERPETUAL.csv").read_text().splitlines()
    parts = rows[4].split(",")
    parts[column] = value
    rows[4] = ",".join(parts)
    path = tmp_path / "bad_incremental_book_L2.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InvalidEvent, match=f"line 5: {message}.*was '{value}'"):
        replay([path], tick="0.5", lot="10")
