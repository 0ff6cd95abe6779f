"""`confluex replay`: the main job, run as a user would, on the bundled sample and real files."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from confluex.cli import main
from confluex.feeds.files import detect, replay, sample_path

SHARED = Path(__file__).resolve().parent / "data"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("confluex")
    cmd = [exe] if exe else [sys.executable, "-m", "confluex.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300, check=False)


def test_replay_with_no_arguments_summarises_the_bundled_sample(tmp_path: Path) -> None:
    proc = run_cli("replay", "--out", str(tmp_path))

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "binance_spot_btcusdt_20240808_3min.gz" in out
    assert "BTCUSDT  [binance_spot, tick 0.01, lot 0.00000001]" in out
    assert "mismatches 0" in out and "gaps 0" in out
    for stage in (
        "parse (bytes -> records)",
        "book apply",
        "signal recompute",
        "raw message -> score",
    ):
        assert stage in out
    assert "p99.9" in out and "SHORT" in out
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((tmp_path / "scores.csv").read_text().splitlines()))
    assert len(rows) > 1000
    assert all(0.0 <= float(r["score"]) <= 100.0 for r in rows)
    signals = list(csv.DictReader((tmp_path / "signals.csv").read_text().splitlines()))
    assert {s["signal"] for s in signals} <= {"LONG", "SHORT"} and signals


def test_score_series_is_identical_across_runs(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"

    assert main(["replay", "--no-progress", "--out", str(a)]) == 0
    assert main(["replay", "--no-progress", "--out", str(b)]) == 0

    assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert (a / "signals.csv").read_bytes() == (b / "signals.csv").read_bytes()


def test_paced_replay_equals_fast_replay() -> None:
    fast = replay()
    paced = replay(speed=1e9)  # line by line through Python, no sleeping at this speed

    assert paced.series.tobytes() == fast.series.tobytes()
    assert paced.messages == fast.messages


def test_symbol_filter_that_matches_nothing_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["replay", "--no-progress", "--symbols", "ETHUSDT"])

    assert code == 2
    assert "ETHUSDT" in capsys.readouterr().err


def test_unrecognised_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello world\n")

    code = main(["replay", "--no-progress", str(bad)])

    assert code == 2
    assert "unrecognised format" in capsys.readouterr().err


def test_usdm_capture_is_detected_as_futures() -> None:
    src = detect(SHARED / "hftbacktest" / "usdm_2024-07" / "btcusdt_20240718.gz")

    assert src.venue == "binance_futures" and src.symbols == ("BTCUSDT",)


def test_bybit_history_zip_replays() -> None:
    res = replay([SHARED / "nautilus_trader" / "bybit" / "xrpusdt-ob500.data.zip"])
    rep = res.symbols["XRPUSDT"]

    assert res.sources[0].venue == "bybit"
    assert rep.health.depth_messages == 49 and rep.health.desyncs == 0
    assert rep.result.has_data["orderbook"]


def test_tardis_csv_book_and_trades_replay() -> None:
    tardis = SHARED / "nautilus_trader" / "tardis"

    book = replay([tardis / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"])
    trades = replay([tardis / "bitmex_trades_XBTUSD.csv"])

    rep = book.symbols["BTC-PERPETUAL"]
    # The sample holds only ask levels: the book is in sync, but a one-sided book has no
    # orderbook score.
    assert rep.stats.snapshots == 1 and rep.stats.in_sync
    assert (
        book.engine.best_ask(rep.symbol_id) == (12843, 1864)
        and book.engine.best_bid(rep.symbol_id) is None
    )
    assert not rep.result.has_data["orderbook"]
    assert trades.symbols["XBTUSD"].stats.trades == 10


def test_unknown_symbol_instrument_is_inferred_exactly(tmp_path: Path) -> None:
    # Synthetic: the bundled sample renamed to an unlisted symbol; tick/lot come from the data.
    import gzip

    data = gzip.open(sample_path()).read()
    renamed = data.replace(b"btcusdt@", b"abcusdt@").replace(b'"s":"BTCUSDT"', b'"s":"ABCUSDT"')
    path = tmp_path / "abc.gz"
    path.write_bytes(gzip.compress(renamed))

    res = replay([path])

    rep = res.symbols["ABCUSDT"]
    assert rep.inferred and rep.tick == "0.01"
    # the finest size in these 3 minutes has 6 decimals; every message converts exactly on it
    assert rep.lot == "0.000001"
    assert rep.health.parse_errors == 0 and rep.health.ticker_mismatches == 0


def test_progress_bar_shows_bytes_rate_and_eta() -> None:
    import io
    import re
    import time

    from confluex.cli import Progress

    buf = io.StringIO()
    bar = Progress(enabled=True, stream=buf)
    total = 10 << 20
    bar(1 << 20, total)
    time.sleep(0.25)  # past tqdm's refresh interval, so the next update is drawn with a rate
    bar(5 << 20, total)
    drawn = buf.getvalue()
    bar.close()

    assert "replaying:  50%" in drawn
    assert re.search(r"5\.00M/10\.0M \[00:00<00:0\d, +\d+(\.\d+)?MB/s\]", drawn), drawn


def test_disabled_progress_bar_writes_nothing() -> None:
    import io

    from confluex.cli import Progress

    buf = io.StringIO()
    bar = Progress(enabled=False, stream=buf)
    bar(1, 2)
    bar.close()

    assert buf.getvalue() == ""
