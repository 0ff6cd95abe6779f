"""confluex research on real data: sampling, the report schema, the CLI, Ray against serial.

The inputs are the head of the bundled Binance spot capture (real data, cut to its first
lines so the tests stay quick; the REST snapshot is near the start, so the book syncs).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from confluex import cli
from confluex.feeds.files import replay, sample_path
from confluex.research import AnalysisConfig, parse_capture, plan_shards, run_shards
from confluex.research.cli import parse_horizons
from confluex.research.sampling import sample_capture

DATA = Path(__file__).resolve().parent / "data"
SHORT = AnalysisConfig(horizons_ns=(1_000_000_000, 5_000_000_000), replicates=100)


def head(path: Path, lines: int, out: Path) -> Path:
    """The first ``lines`` lines of a gzip capture, as a new gzip file."""
    with gzip.open(path, "rb") as fh:
        kept = [fh.readline() for _ in range(lines)]
    with gzip.open(out, "wb") as fh:
        fh.writelines(kept)
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return head(sample_path(), 12_000, tmp_path_factory.mktemp("research") / "spot_head.gz")


def test_samples_hold_every_message_before_their_grid_time_and_none_after(
    capture: Path, tmp_path: Path
) -> None:
    s = sample_capture([capture], "BTCUSDT")
    assert s.mid_source == "bookTicker"
    assert np.all(np.diff(s.ts_ns) == 100_000_000)
    assert np.all(s.ts_ns % 100_000_000 == 0)
    with gzip.open(capture, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    stamps = [int(line.split(b" ", 1)[0]) for line in lines]
    valid = np.flatnonzero(~np.isnan(s.values["score"]))
    for i in (valid[0], valid[len(valid) // 2], valid[-2]):
        t = int(s.ts_ns[i])
        prefix = tmp_path / f"prefix_{t}.gz"
        with gzip.open(prefix, "wb") as fh:
            fh.writelines(line for line, ts in zip(lines, stamps, strict=True) if ts < t)
        done = replay([prefix], symbols=["BTCUSDT"])
        ref, engine = done.symbols["BTCUSDT"], done.engine
        assert s.values["score"][i] == ref.result.score
        assert s.values["orderbook"][i] == ref.components["orderbook"].score
        bid, ask = engine.best_bid(ref.symbol_id), engine.best_ask(ref.symbol_id)
        assert bid is not None and ask is not None
        imbalance = (bid[1] - ask[1]) / (bid[1] + ask[1])
        assert s.values["baseline.tob_imbalance"][i] == imbalance


def test_report_follows_the_schema_and_finds_the_book_signal(
    capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    md = tmp_path / "research.md"
    code = cli.main(
        [
            "research",
            str(capture),
            "--horizons",
            "1s,5s",
            "--serial",
            "--bootstrap",
            "200",
            "--out",
            str(out),
            "--markdown",
            str(md),
        ]
    )
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())

    assert code == 0
    assert report["horizons"] == ["1s", "5s"]
    (shard,) = report["shards"].values()
    signals = shard["signals"]
    for name in ("score", "score_raw", "orderflow", "orderbook", "baseline.tob_imbalance"):
        for h in ("1s", "5s"):
            blk = signals[name][h]
            assert set(blk) >= {"ic", "ci_low", "ci_high", "n", "n_eff", "partial_ic"}
            assert blk["ci_low"] <= blk["ci_high"]
            assert 1 <= blk["n_eff"] <= blk["n"]
    assert any("." in n and not n.startswith("baseline.") for n in signals)  # sub-scores
    # Real data: top-of-book imbalance forecasts the next second's mid move.
    tob = signals["baseline.tob_imbalance"]["1s"]
    assert tob["ic"] > 0.1 and tob["ci_low"] > 0
    assert signals["baseline.tob_imbalance"]["1s"]["partial_ic"] is None or (
        shard["best_baseline"]["1s"] != "baseline.tob_imbalance"
    )
    assert shard["best_baseline"]["1s"] in ("baseline.tob_imbalance", "baseline.microprice_mid")
    pairs = signals["score"]["1s"]["n"]
    calib = shard["calibration"]["score"]["1s"]
    assert len(calib) == 10 and sum(r["n"] for r in calib) == pairs
    assert set(shard["crossings"]["score"]) == {"long", "short"}
    assert shard["crossings"]["score"]["long"]["1s"]["n"] >= 0
    assert 0 <= shard["saturation"]["score"]["at_0"] <= 1
    assert shard["warmup"]["score"]["n"] > 0
    assert (out / "report.html").is_file()
    assert len(list(out.glob("*.png"))) == 2
    assert "baseline.tob_imbalance" in printed and "IC 1s" in printed
    page = md.read_text()
    assert page.startswith("# Research") and "| `score` |" in page


def test_ray_run_equals_the_serial_run(capture: Path) -> None:
    ray = pytest.importorskip("ray")
    shards = plan_shards([parse_capture(str(capture))], [None, "hft_ultra_fast"], SHORT)
    serial = run_shards(shards, serial=True, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        on_ray = run_shards(shards, progress=False)
    finally:
        ray.shutdown()
    assert len(serial) == 2
    assert serial[0]["profile"] != serial[1]["profile"]
    assert json.dumps(on_ray, sort_keys=True) == json.dumps(serial, sort_keys=True)


def test_horizons_parse_and_name_the_bad_item() -> None:
    assert parse_horizons("5m,1s,500ms") == (500_000_000, 1_000_000_000, 300_000_000_000)
    with pytest.raises(ValueError, match="was '2x'"):
        parse_horizons("1s,2x")
    with pytest.raises(ValueError, match="multiples of the 100ms sampling grid, was '150ms'"):
        parse_horizons("150ms")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizons", "0s"], "was '0s'"),
        (["--profile", "standard", "--compare", "standard"], "--compare must differ"),
        (["--symbol", "ETHUSDT"], "matched none of ['BTCUSDT']"),
    ],
    ids=("zero_horizon", "same_profiles", "unknown_symbol"),
)
def test_bad_options_exit_2_naming_the_value(
    capture: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code = cli.main(["research", str(capture), "--serial", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_file_and_tardis_input_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = cli.main(["research", str(tmp_path / "nope.gz"), "--serial", "--out", str(tmp_path)])
    err_missing = capsys.readouterr().err
    tardis = DATA / "nautilus_trader" / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    refused = cli.main(["research", str(tardis), "--serial", "--out", str(tmp_path)])
    err_tardis = capsys.readouterr().err

    assert missing == 2 and "nope.gz" in err_missing
    assert refused == 2 and "Tardis CSV is batch-ingested" in err_tardis


def test_a_directory_is_one_capture_of_its_files_in_name_order() -> None:
    folder = DATA / "hftbacktest" / "spot"
    cap = parse_capture(str(folder))
    joined = parse_capture(f"{folder / 'btcusdt_20240808.gz'}+{folder / 'btcusdt_20240809.gz'}")
    assert cap.name == "spot"
    assert [Path(f).name for f in cap.files] == ["btcusdt_20240808.gz", "btcusdt_20240809.gz"]
    assert joined.files == cap.files


def test_without_ray_the_command_says_how_to_get_it(
    capture: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    code = cli.main(["research", str(capture), "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "pip install 'confluex[research]', or run with --serial" in err
