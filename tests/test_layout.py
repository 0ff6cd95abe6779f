"""The package layout shows the architecture.

- one ``Rejection`` type answers for the whole trading layer (decision and execution);
- the feeds (recorded files, capture, live, ccxt.pro) are one package that re-exports their
  names, lazily, so one feed does not load another's dependencies;
- the live terminal view lives apart from the feed;
- ``trading/`` imports nothing outside itself (never the compiled core).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import confluex
import pytest
from confluex import feeds, trading
from confluex.trading import MarketMonitor, Rejection, RejectReason, ScoreUpdate, load_config
from confluex.trading.orders import Unresolved
from confluex.trading.risk import RiskLimits, RiskManager

PACKAGE = Path(confluex.__file__).resolve().parent
FEEDS = ("files", "capture", "live", "ccxtpro", "rest_poll")


def modules_defining(class_name: str) -> list[str]:
    """The package's modules with a top-level ``class <class_name>``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.ClassDef) and n.name == class_name for n in tree.body):
            found.append(path.relative_to(PACKAGE).as_posix())
    return found


# --- one Rejection -----------------------------------------------------------------------------


def test_rejection_is_defined_once_in_the_trading_types() -> None:
    assert modules_defining("Rejection") == ["trading/types.py"]
    assert modules_defining("RejectReason") == ["trading/types.py"]
    assert trading.Rejection is Rejection and trading.types.Rejection is Rejection
    assert issubclass(Unresolved, Rejection)


def test_the_monitor_and_the_risk_manager_answer_with_the_same_type() -> None:
    monitor = MarketMonitor.from_config(load_config())
    risk = RiskManager(RiskLimits(max_order_notional=1_000.0))

    no_signal = monitor.on_score(ScoreUpdate("BTC/USDT", 1, 50.0, 50.0, 0.5, 1.0, 100.0))
    no_order = risk.check("BTC/USDT", 5_000.0, reduces=False, exposures={})

    assert type(no_signal) is Rejection and type(no_order) is Rejection
    assert no_signal.reason is RejectReason.NEUTRAL_BAND and no_signal.symbol == ""
    assert no_order.reason is RejectReason.RISK_LIMIT and no_order.symbol == "BTC/USDT"
    assert "max_order_notional" in no_order.detail


# --- feeds -------------------------------------------------------------------------------------


def test_feeds_reexports_the_public_names_of_every_feed_module() -> None:
    expected = set()
    for name in FEEDS:
        module = importlib.import_module(f"confluex.feeds.{name}")
        expected |= set(module.__all__)
        for attr in module.__all__:
            assert getattr(feeds, attr) is getattr(module, attr), (name, attr)

    assert set(feeds.__all__) == expected
    assert sorted(dir(feeds)) == sorted(feeds.__all__)


def test_feeds_names_an_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match=r"'confluex\.feeds' has no attribute 'LiveFed'"):
        _ = feeds.LiveFed


def test_replaying_files_does_not_load_the_live_feeds_dependencies() -> None:
    code = (
        "import sys; from confluex.feeds import replay, sample_path; "
        "print(replay.__module__, 'websockets' in sys.modules, "
        "'confluex.feeds.live' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()

    assert out == ["confluex.feeds.files", "False", "False"]


def test_the_live_view_lives_apart_from_the_feed() -> None:
    from confluex import live_view
    from confluex.feeds import live

    assert not hasattr(live, "render_view") and not hasattr(live, "run_live")
    assert live_view.LiveFeed is live.LiveFeed  # the view shows the feed, it does not copy it
    assert {"add_live_arguments", "render_view", "run_live"} == set(live_view.__all__)


# --- trading/ stands alone ---------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((PACKAGE / "trading").glob("*.py")), ids=lambda p: p.name)
def test_trading_imports_nothing_outside_itself(path: Path) -> None:
    outside = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level > 1 or node.level == 0):
            if node.level > 1 or (node.module or "").startswith("confluex"):
                outside.append(ast.unparse(node))
        elif isinstance(node, ast.Import):
            outside += [a.name for a in node.names if a.name.startswith("confluex")]

    assert outside == [], f"{path.name} reaches outside trading/: {outside}"
