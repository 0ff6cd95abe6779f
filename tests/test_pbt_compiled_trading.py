"""The Cython-compiled decision path decides exactly as its pure-Python source.

The build compiles ``confluex/trading/{types,monitor,sizing,risk}.py`` (CMake option
``CONFLUEX_CYTHON``, ON by default); every other test imports the compiled modules. Here the
``.py`` sources run beside them in the same process (``tests/pure_trading.py``) and both are
fed the same random streams: every decision, rejection, error message, counter and number
must be identical (floats bit for bit: the modules are compiled with ``-ffp-contract=off``).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import math
import os
from typing import Any

import confluex.trading as trading
import pytest
from confluex.trading import load_config
from hypothesis import given, settings
from hypothesis import strategies as st
from pure_trading import COMPILED_MODULES, is_compiled, load_pure

PURE = load_pure()
EXPECT_COMPILED = os.environ.get("CONFLUEX_CYTHON", "ON").upper() not in ("OFF", "0", "FALSE")


def test_the_decision_modules_are_compiled_in_this_build():
    mods = {name: importlib.import_module(f"confluex.trading.{name}") for name in COMPILED_MODULES}

    compiled = {name: is_compiled(m) for name, m in mods.items()}

    assert compiled == dict.fromkeys(COMPILED_MODULES, EXPECT_COMPILED), {
        n: m.__file__ for n, m in mods.items()
    }
    if EXPECT_COMPILED:
        # The hot types are extension types (no per-instance __dict__), still dataclasses.
        for cls in (trading.ScoreUpdate, trading.TradeParameters, trading.OrderIntent):
            assert "__dict__" not in dir(cls) and dataclasses.is_dataclass(cls)
        assert trading.MarketMonitor.on_score is not PURE.monitor.MarketMonitor.on_score


def test_the_pure_modules_run_from_their_py_sources():
    for name in COMPILED_MODULES:
        module = getattr(PURE, name)

        assert not is_compiled(module) and module.__file__.endswith(f"{name}.py")
    assert PURE.types.ScoreUpdate is not trading.ScoreUpdate
    assert PURE.monitor.ScoreUpdate is PURE.types.ScoreUpdate  # pure imports pure


def test_compiled_types_keep_the_dataclass_surface():
    u = trading.ScoreUpdate("BTC/USDT", 5, 80.0, 79.0, 0.5, 0.9, 100.0)

    replaced = dataclasses.replace(u, score=81.0)

    assert replaced.score == 81.0 and replaced.symbol == "BTC/USDT" and u.score == 80.0
    assert dataclasses.asdict(u)["price"] == 100.0
    assert u == trading.ScoreUpdate("BTC/USDT", 5, 80.0, 79.0, 0.5, 0.9, 100.0)
    assert hash(u) == hash(trading.ScoreUpdate("BTC/USDT", 5, 80.0, 79.0, 0.5, 0.9, 100.0))
    assert repr(u) == repr(PURE.types.ScoreUpdate("BTC/USDT", 5, 80.0, 79.0, 0.5, 0.9, 100.0))
    with pytest.raises(AttributeError):
        u.score = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Identical decisions


def norm(value: Any) -> Any:
    """A comparable form: dataclasses by field, enums by value, floats bit for bit."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, norm(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, enum.Enum):
        return (type(value).__name__, value.value)
    if isinstance(value, float):
        return ("f", value.hex())
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    return value


def outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return norm(call(*args, **kwargs))
    except (ValueError, TypeError) as exc:
        return ("raised", type(exc).__name__, str(exc))


THRESHOLDS = [(70.0, 35.0, 5.0), (60.0, 40.0, 0.0), (55.0, 45.0, 9.5), (90.0, 10.0, 20.0)]
specials = st.sampled_from([0.0, 10.0, 35.0, 40.0, 45.0, 55.0, 60.0, 70.0, 90.0, 100.0])
scores = st.one_of(
    st.floats(0.0, 100.0), specials, st.sampled_from([-0.5, 100.5, math.nan, math.inf])
)
reliabilities = st.one_of(
    st.floats(0.0, 1.0), st.sampled_from([0.0, 0.3, 1.0, -0.1, 1.5, math.nan])
)
prices = st.one_of(st.floats(1e-6, 1e7), st.sampled_from([0.0, -1.0, math.nan, math.inf, 60_000.0]))
updates = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from([0, 1_000_000, 100_000_000, 1_000_000_000, 30_000_000_000]),
        scores,
        reliabilities,
        prices,
    ),
    max_size=60,
)


class Pipeline:
    """ScoreUpdate -> MarketMonitor -> both sizing managers -> RiskManager, on one module set."""

    def __init__(self, mods: Any, config: Any, market_type: str, balance: float) -> None:
        self.types = mods.types
        self.monitor = mods.monitor.MarketMonitor.from_config(config)
        self.sizers = [
            mods.sizing.ExecutorSizing.from_config(config, market_type),
            mods.sizing.ConfluencePositionSizing.from_config(config, market_type),
        ]
        limits = mods.risk.RiskLimits(
            max_active_positions=2,
            max_order_notional=5_000.0,
            max_symbol_notional=8_000.0,
            max_total_notional=12_000.0,
            daily_loss_limit=300.0,
        )
        self.risk = mods.risk.RiskManager(limits, clock=lambda: 1_700_000_000_000)
        self.balance = balance
        self.exposures: dict[str, float] = {}

    def step(self, symbol: str, ts: int, score: float, rel: float, price: float) -> list[Any]:
        update = self.types.ScoreUpdate(symbol, ts, score, score, 0.5, rel, price)
        try:
            params = self.monitor.on_score(update)
        except ValueError as exc:
            return [("raised", str(exc))]
        out = [norm(params)]
        if not isinstance(params, self.types.TradeParameters):
            return out
        out.append(outcome(self.monitor.trade_parameters, symbol, params.signal, price, score, rel))
        for sizer in self.sizers:
            out.append(outcome(sizer.decide, update, self.balance, None))
            intent = sizer.decide(update, self.balance, params)
            out.append(norm(intent))
            out.append(norm(sizer.position_pct(self.types.Side.SELL, score)))
            if isinstance(intent, self.types.OrderIntent):
                verdict = self.risk.check(
                    symbol, intent.quote_size, reduces=False, exposures=self.exposures
                )
                out.append(norm(verdict))
                if verdict is None:
                    self.exposures[symbol] = self.exposures.get(symbol, 0.0) + intent.quote_size
                    self.risk.record_fill(-intent.quote_size * 0.01, 0.25)
        return out

    def state(self) -> Any:
        return norm(self.monitor.counters.as_dict()), norm(self.risk.daily_pnl)


@settings(max_examples=150, deadline=None)
@given(
    thresholds=st.sampled_from(THRESHOLDS),
    cooldown=st.sampled_from([0.0, 0.5, 60.0]),
    min_rel=st.sampled_from([0.0, 0.3, 0.9]),
    market_type=st.sampled_from(["spot", "swap"]),
    balance=st.one_of(st.floats(0.0, 1e6), st.just(0.0)),
    stream=updates,
)
def test_compiled_and_pure_decide_identically(
    thresholds, cooldown, min_rel, market_type, balance, stream
):
    long, short, buffer = thresholds
    config = load_config(
        {
            "confluence": {"thresholds": {"long": long, "short": short, "neutral_buffer": buffer}},
            "monitor": {"cooldown_s": cooldown, "min_reliability": min_rel},
        }
    )
    compiled = Pipeline(trading_modules(), config, market_type, balance)
    pure = Pipeline(PURE, config, market_type, balance)
    ts = 0

    for sym, dt, score, rel, price in stream:
        ts += dt
        symbol = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT")[sym]

        got, want = (
            compiled.step(symbol, ts, score, rel, price),
            pure.step(symbol, ts, score, rel, price),
        )

        assert got == want
    assert compiled.state() == pure.state()


def trading_modules() -> Any:
    class Mods:
        pass

    mods = Mods()
    for name in COMPILED_MODULES:
        setattr(mods, name, importlib.import_module(f"confluex.trading.{name}"))
    return mods
