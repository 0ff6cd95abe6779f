"""Bad input to the ``confluex`` command, through the real CLI in a subprocess.

Each case must end with exactly one line on stderr that names the bad value, a non-zero exit
code, and no traceback. Synthetic inputs (broken configs, a truncated copy of the bundled
capture) are built in tmp_path from the real sample.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluex.feeds.files import sample_path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confluex", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess[str], code: int, *parts: str) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], err)
    assert "Traceback" not in proc.stderr + proc.stdout, err
    assert len(err.splitlines()) == 1, err
    for part in parts:
        assert part in err, err
    return err


def _write(name: str, data: bytes) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        (tmp / name).write_bytes(data)
        return ["--paper", "--config", str(tmp / name)]

    return make


def _directory(tmp: Path) -> list[str]:
    (tmp / "conf.toml").mkdir()
    return ["--paper", "--config", str(tmp / "conf.toml")]


def _truncated_gzip(tmp: Path) -> list[str]:
    (tmp / "cut.gz").write_bytes(sample_path().read_bytes()[:200_000])
    return [str(tmp / "cut.gz")]


def _out_under_a_file(tmp: Path) -> list[str]:
    (tmp / "plain").write_text("not a directory\n")
    return ["--out", str(tmp / "plain" / "out")]


CASES: dict[str, tuple[Callable[[Path], list[str]], int, tuple[str, ...]]] = {
    "config_400_digit_number": (
        _write("big.toml", b"[monitor]\naccount_balance = " + b"1" * 400 + b"\n"),
        2,
        ("monitor.account_balance must be a finite number, was 111111111111... (400 digits)",),
    ),
    "config_400_digit_integer": (
        _write("bigint.toml", b"[risk]\nmax_active_positions = " + b"9" * 400 + b"\n"),
        2,
        ("risk.max_active_positions must fit in 64 bits", "(400 digits)"),
    ),
    "config_cooldown_1e308": (
        _write("cool.toml", b"[monitor]\ncooldown_s = 1e308\n"),
        2,
        ("monitor.cooldown_s must be in [0, 31536000], was 1e+308",),
    ),
    "config_invalid_utf8": (
        _write("latin1.toml", b"[monitor]\ncooldown_s = 30 # caf\xe9\n"),
        2,
        ("latin1.toml is not valid UTF-8", "byte 0xe9"),
    ),
    "config_directory": (_directory, 2, ("conf.toml is a directory",)),
    "speed_0": (lambda t: ["--speed", "0"], 2, ("--speed: must be a finite number > 0, was 0",)),
    "speed_negative": (lambda t: ["--speed", "-1"], 2, ("--speed", "was -1")),
    "speed_nan": (lambda t: ["--speed", "nan"], 2, ("--speed", "was nan")),
    "series_ms_0": (lambda t: ["--series-ms", "0"], 2, ("--series-ms", "> 0", "was 0")),
    "series_ms_1e30": (lambda t: ["--series-ms", "1e30"], 2, ("--series-ms", "was 1e30")),
    "long_not_above_short": (
        lambda t: ["--long", "30"],
        2,
        ("confluence.thresholds.long must be > confluence.thresholds.short", "long=30, short=35"),
    ),
    "truncated_gzip": (_truncated_gzip, 2, ("cut.gz: truncated or corrupt .gz",)),
    "out_not_writable": (_out_under_a_file, 2, ("--out directory is not writable", "plain")),
    "wrong_tick": (
        lambda t: ["--tick", "0.1", "--lot", "0.00000001"],
        1,
        ("17,962 of 18,507 messages failed to parse", "OffGrid", "tick 0.1", "--tick/--lot"),
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_one_line_naming_the_value_and_a_nonzero_exit(
    case: str, tmp_path: Path
) -> None:
    make, code, parts = CASES[case]
    args = make(tmp_path)

    proc = run_cli("replay", "--no-progress", *args)

    assert_one_error_line(proc, code, *parts)


def test_unwritable_out_is_refused_before_the_replay(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")

    proc = run_cli("replay", "--no-progress", "--out", str(tmp_path / "plain" / "out"))

    assert_one_error_line(proc, 2, "--out")
    assert proc.stdout == ""  # nothing was replayed


def test_a_correct_tick_passes_the_error_rate_check() -> None:
    proc = run_cli("replay", "--no-progress", "--tick", "0.01", "--lot", "0.00000001")

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "parse errors: none" in proc.stdout


def test_ctrl_c_during_replay_prints_the_summary_so_far_and_writes_outputs(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = ["-m", "confluex", "-v", "replay", "--no-progress", "--speed", "1", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    started = proc.stderr.readline()  # the INFO line logged when the replay begins
    time.sleep(1.5)  # 1.5 s of the 3-minute capture at recorded speed
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    stderr = started + stderr

    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert "interrupted (Ctrl-C)" in stdout
    assert "BTCUSDT  [binance_spot" in stdout
    assert stderr.strip().splitlines()[-1].startswith("confluex replay: interrupted after ")
    rows = list(csv.DictReader((out / "scores.csv").read_text().splitlines()))
    assert 0 < len(rows) < 1800  # some of the 3 minutes at 100 ms, not all of them
    assert (out / "signals.csv").exists() and (out / "chart.png").exists()


def test_version_and_module_entry_point() -> None:
    import confluex

    proc = run_cli("--version")

    assert proc.returncode == 0
    assert proc.stdout.strip() == f"confluex {confluex.__version__}"


def test_errors_go_to_stderr_not_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")

    proc = run_cli("replay", "--no-progress", str(bad))

    assert proc.stdout == ""
    assert_one_error_line(proc, 2, "unrecognised format")


def test_bad_option_is_one_line_without_the_usage_dump() -> None:
    proc = run_cli("replay", "--no-such-option")

    assert_one_error_line(proc, 2, "unrecognized arguments: --no-such-option", "--help")


def test_log_level_and_log_file_record_time_level_and_logger(tmp_path: Path) -> None:
    log = tmp_path / "confluex.log"

    proc = run_cli("--log-level", "info", "--log-file", str(log), "replay", "--no-progress")

    assert proc.returncode == 0, proc.stderr
    lines = log.read_text().splitlines()
    assert lines and lines == proc.stderr.strip().splitlines()
    first = lines[0].split(maxsplit=3)
    assert first[0].endswith("Z") and "T" in first[0]  # ISO UTC time
    assert first[1] == "INFO" and first[2] == "confluex.cli:"
    assert str(sample_path().name) in first[3]


def test_log_options_work_after_the_command_too(tmp_path: Path) -> None:
    log = tmp_path / "after.log"

    proc = run_cli("replay", "--no-progress", "-v", "--log-file", str(log))

    assert proc.returncode == 0, proc.stderr
    assert " INFO " in log.read_text()


def test_unwritable_log_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")

    proc = run_cli("--log-file", str(tmp_path / "plain" / "x.log"), "replay", "--no-progress")

    assert_one_error_line(proc, 2, "--log-file cannot be opened", "x.log")


def test_default_run_logs_nothing() -> None:
    proc = run_cli("replay", "--no-progress")

    assert proc.returncode == 0
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--refresh", "0"], "--refresh must be a finite number > 0, was 0"),
        (["--duration", "-5"], "--duration must be a finite number > 0, was -5"),
        (["--stale-seconds", "nan"], "--stale-seconds must be a finite number >= 0, was nan"),
        (["--metrics-port", "70000"], "--metrics-port must be in [0, 65535], was 70000"),
        (["--exchange", "kraken"], "invalid choice: 'kraken'"),
    ],
    ids=("refresh_0", "duration_negative", "stale_nan", "metrics_port", "exchange"),
)
def test_live_bad_options_are_one_line_on_stderr(args: list[str], needle: str) -> None:
    proc = run_cli("live", "--no-view", *args)

    assert proc.stdout == ""
    assert_one_error_line(proc, 2, needle)
