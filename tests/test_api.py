"""The public API: one front door, documented examples that run, one threshold and weight source.

- ``confluex`` exports the engine API; README, docs and examples never import ``_core``;
- the README's Python example runs as written, and the cheatsheet's imports resolve;
- typed results: attributes, ``to_dict()``, value equality, and mypy rejecting a misspelt key;
- ``Scale`` and ``Instrument.ticks_to_price`` round ticks to prices correctly;
- one config drives the engine's weights and thresholds (the CLI included).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import confluex
import numpy as np
import pytest
from confluex import (
    Engine,
    EngineStats,
    FeedSession,
    Instrument,
    Scale,
    SessionConfig,
    SymbolHealth,
    Venue,
    engine_from_config,
    score_update,
    session_config,
)
from confluex.feeds.files import replay
from confluex.trading import MarketMonitor, ScoreUpdate, Thresholds, load_config
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def documents() -> list[Path]:
    """README, docs and examples: everything a user copies code from."""
    found = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    examples = ROOT / "examples"
    if examples.is_dir():
        found += sorted(examples.rglob("*.py"))
    return found


# --- one front door --------------------------------------------------------------------------


def test_engine_api_is_importable_from_the_package() -> None:
    for name in confluex.__all__:
        assert getattr(confluex, name) is not None, name
    assert {"Engine", "FeedSession", "SessionConfig", "Venue", "Instrument"} <= set(dir(confluex))
    assert not any(name.startswith("_core") for name in confluex.__all__)


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_never_import_the_private_core(path: Path) -> None:
    text = path.read_text()

    imports = re.findall(r"^\s*(?:from|import)\s+confluex\._core\b.*$", text, re.M)

    assert imports == [], f"{path.name} imports the private core: {imports}"


def test_readme_python_example_runs_with_public_names_only(capsys: pytest.CaptureFixture[str]):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "FeedSession" in b)
    tree = ast.parse(example)
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }

    exec(compile(tree, str(README), "exec"), {"__name__": "readme_example"})

    assert imported <= {"confluex", "confluex.trading"}
    score, reliability, oir_5, snapshots = capsys.readouterr().out.split()
    assert 0.0 <= float(score) <= 100.0 and 0.0 <= float(reliability) <= 1.0
    assert float(oir_5) > 50.0  # the example's book has more bid than ask size
    assert snapshots == "1"


def test_readme_cheatsheet_imports_resolve() -> None:
    text = README.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `confluex.trading` |"))
    names = re.findall(r"`(\w+)`", row.split("|")[2])

    from confluex import trading

    assert {"Executor", "PaperExchange", "RiskManager", "AlertServer"} <= set(names)
    for name in names:
        assert getattr(trading, name) is not None, name
    exec("from confluex.trading import Executor, PaperExchange, RiskManager, AlertServer", {})


# --- typed results --------------------------------------------------------------------------


def synced_engine() -> tuple[Engine, int, FeedSession]:
    engine = Engine()
    sym = engine.add_symbol("BTCUSDT", Instrument("0.01", "0.00000001"))
    session = FeedSession(engine, Venue.binance_spot)
    session.add_symbol("BTCUSDT", sym)
    engine.apply_snapshot(sym, np.array([[6183763, 5]]), np.array([[6183764, 7]]), update_id=1)
    return engine, sym, session


def test_results_are_typed_records_with_to_dict_and_equality() -> None:
    engine, sym, session = synced_engine()

    stats, again, health = engine.stats(sym), engine.stats(sym), session.health(sym)
    comp = engine.component(sym, "orderbook")

    assert isinstance(stats, EngineStats) and isinstance(health, SymbolHealth)
    assert stats.snapshots == 1 and stats.in_sync is True
    assert stats.to_dict()["snapshots"] == 1 and stats == again and stats is not again
    assert engine.stats(sym) != stats  # reading the component recomputed the score
    with pytest.raises(AttributeError):
        stats.snapshots = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        _ = stats.levels_apllied  # type: ignore[attr-defined]
    assert health.phase == confluex.SyncPhase.awaiting_snapshot
    assert comp.has_data and comp.to_dict()["sub"] == comp.sub
    assert session.parser_counters.to_dict()["errors"] == session.parser_counters.errors


def test_mypy_rejects_a_misspelt_stats_key(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from confluex import Engine\n"
        "def f(e: Engine) -> int:\n"
        "    st = e.stats(0)\n"
        "    good: int = st.levels_applied\n"
        "    return st['levels_apllied'] + st.levels_apllied + good\n"
    )

    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    ).stdout

    assert 'Value of type "EngineStats" is not indexable' in out
    assert '"EngineStats" has no attribute "levels_apllied"' in out
    assert "snippet.py:4" not in out  # the correct field type-checks


# --- ticks to prices --------------------------------------------------------------------------

steps = st.sampled_from(["0.01", "0.1", "0.5", "1", "0.00000001", "0.001", "25", "0.0001"])


@given(step=steps, units=st.integers(min_value=-(10**12), max_value=10**12))
def test_scale_and_ticks_to_price_are_correctly_rounded(step: str, units: int) -> None:
    exact = Fraction(Decimal(step)) * units
    inst = Instrument(step, step)

    got = Scale(step)(units)

    assert got == float(exact)  # float(Fraction) rounds correctly
    assert inst.ticks_to_price(units) == got and inst.lots_to_qty(units) == got
    assert Scale(step).array(np.array([units], dtype=np.int64))[0] == got
    assert Decimal(Scale(step).format(units)) == Decimal(step) * units


def test_scale_fixes_the_naive_product() -> None:
    assert 6183763 * 0.01 != 61837.63  # why a Scale exists
    assert Scale("0.01")(6183763) == 61837.63
    assert Scale("0.01").format(6183000) == "61830.00"
    with pytest.raises(ValueError, match="was '-1'"):
        Scale("-1")


# --- one config: thresholds and weights ---------------------------------------------------------


def test_session_config_takes_the_configured_thresholds() -> None:
    cfg = load_config(preset="conservative")

    sc = session_config(cfg)

    assert (sc.long_threshold, sc.short_threshold) == (75.0, 25.0)
    default = SessionConfig()
    assert (default.long_threshold, default.short_threshold) == (
        Thresholds().long,
        Thresholds().short,
    )


@pytest.mark.parametrize("profile", ["standard", "reference"])
def test_changing_a_weight_in_the_config_changes_the_score(profile: str) -> None:
    base = load_config()
    heavy_book = load_config({"confluence": {"weights": {"orderflow": 0.10, "orderbook": 0.40}}})

    scores = []
    for cfg in (base, heavy_book):
        engine = engine_from_config(cfg, profile=profile)
        res = replay(engine=engine)
        sym = res.symbols["BTCUSDT"].symbol_id
        r = engine.result(sym)
        configured = confluex.engine_config(cfg, profile=profile).aggregator.weights
        if cfg is heavy_book or profile == "reference":
            assert configured == pytest.approx(cfg.confluence.weights.normalized())
        # Effective weight: the configured one over the components with data, each scaled by
        # its warm-up (always 1 under the reference rule, which ignores it).
        warm = {
            name: w * engine.component(sym, name).warmup
            for name, w in configured.items()
            if r.has_data[name]
        }
        assert r.weights["orderbook"] == pytest.approx(warm["orderbook"] / sum(warm.values()))
        scores.append(r.score)

    assert scores[0] != pytest.approx(scores[1], abs=1e-6)


def test_score_update_bridges_a_result_to_the_monitor() -> None:
    engine, sym, _ = synced_engine()
    r = engine.result(sym)

    update = score_update(r, "BTC/USDT", 5, 61837.635)

    assert update == ScoreUpdate(
        "BTC/USDT", 5, r.score, r.score_raw, r.confidence, r.reliability, 61837.635
    )
    assert MarketMonitor().classify(update.score) is MarketMonitor().classify(r.score)


def run_cli(*args: str) -> str:
    import contextlib
    import io

    from confluex.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["replay", "--no-progress", *args]) == 0
    return out.getvalue()


def test_paper_replay_prints_one_signal_count_equal_to_the_trader_and_signals_csv(tmp_path):
    text = run_cli("--paper", "--preset", "conservative", "--out", str(tmp_path))

    summary = re.search(
        r"signals    LONG (\d+)  SHORT (\d+)  \(MarketMonitor signals of 75 / 25\)", text
    )
    trader = re.search(r"decisions .*?signals (\d+),", text)
    rows = (tmp_path / "signals.csv").read_text().splitlines()[1:]

    assert summary and trader, text
    assert int(summary[1]) + int(summary[2]) == int(trader[1]) == len(rows)
    assert "crossings" not in text


def test_cli_thresholds_come_from_the_config_and_flags_override_them(tmp_path):
    conservative = run_cli("--preset", "conservative")
    overridden = run_cli("--preset", "conservative", "--long", "80")

    assert "(crossings of 75 / 25)" in conservative
    assert "(crossings of 80 / 25)" in overridden


def test_cli_weights_come_from_the_config(tmp_path):
    cfg = tmp_path / "weights.toml"
    cfg.write_text("[confluence.weights]\norderflow = 0.10\norderbook = 0.40\n")

    text = run_cli("--config", str(cfg), "--profile", "reference")

    # The reference rule renormalises the configured weights over the components with data:
    # 0.40 / (0.10 + 0.40 + 0.18 + 0.15): the 3-minute sample gives price structure data
    # (a fair value gap on its 1-minute bars), not technical or sentiment
    assert re.search(r"orderbook\s+\d+\.\d+  w 0\.48 ", text), text


def test_live_feed_scores_with_the_configured_weights(tmp_path):
    import argparse

    from confluex import COMPONENT_NAMES
    from confluex.live_view import _feed_from_args, add_live_arguments

    cfg = tmp_path / "weights.toml"
    cfg.write_text("[confluence.weights]\norderflow = 0.10\norderbook = 0.40\n")
    parser = argparse.ArgumentParser()
    add_live_arguments(parser)
    args = parser.parse_args(["--symbols", "BTC/USDT", "--config", str(cfg)])

    feed = _feed_from_args(args)
    sym = feed.engine.add_symbol("PROBE", Instrument("0.01", "0.001"))
    for name in COMPONENT_NAMES:
        feed.engine.set_component(sym, name, 60.0)

    weights = feed.engine.result(sym).weights
    assert weights["orderbook"] == pytest.approx(0.40) and weights["orderflow"] == pytest.approx(
        0.10
    )
