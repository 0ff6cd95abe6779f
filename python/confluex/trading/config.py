"""Validated trading configuration: one schema, one threshold source, no secrets in files.

A configuration is a TOML file (or a plain dict of the same shape) layered over the built-in
defaults, optionally through a named preset::

    defaults  <-  preset (confluex/trading/presets/<name>.toml)  <-  your file or dict

Tables merge key by key; a value in a later layer replaces the earlier one. Every section is a
frozen dataclass whose defaults *are* the built-in configuration (so it works from an installed
wheel without any data file). Validation happens at construction: a bad value raises
:class:`ConfigError` naming the dotted key and the value; an unknown key is rejected, with a
"did you mean" hint when it is close to a known one.

Units follow the reference system, which mixes them; the names say which:

- ``monitor.*_pct`` are percentages (``1.0`` means 1 %), as in the reference MarketMonitor;
- ``position_manager.*_pct`` are fractions of the balance (``0.03`` means 3 %), as in the
  reference TradeExecutor and ConfluenceBasedPositionManager;
- money amounts (``account_balance``, ``risk.*_notional``, ``risk.daily_loss_limit``) are in
  quote currency.

Exchange credentials are never read from the file: ``exchanges.<name>`` names the environment
variables that hold them, and :meth:`ExchangeConfig.credentials` reads them on demand.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from .queue_model import CancelModel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10 (needs the tomli backport)
    import tomli as tomllib

__all__ = [
    "ComponentWeights",
    "ConfigError",
    "ConfluenceConfig",
    "Credentials",
    "ExchangeConfig",
    "ExecutionConfig",
    "ExecutorConfig",
    "MMConfig",
    "MarketType",
    "MonitorConfig",
    "PositionManagerConfig",
    "RiskConfig",
    "ScalingThreshold",
    "Thresholds",
    "TradingConfig",
    "available_presets",
    "load_config",
]

MarketType = Literal["spot", "swap"]

PRESETS_ENV = "CONFLUEX_PRESETS_DIR"

#: Longest duration a setting in seconds may hold (one year): durations become int64
#: nanoseconds, and anything longer is a unit slip, not a cooldown.
MAX_DURATION_S = 365 * 86_400.0

# Keys that would hold a secret if someone pasted one into the file. They get a dedicated
# message (pointing at *_env) instead of the generic unknown-key one, and their value is
# never echoed.
_SECRET_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "apiKey",
        "secret",
        "api_secret",
        "password",
        "api_credentials",
        "private_key",
        "passphrase",
        "token",
    }
)
# Keys that existed before the single threshold source; a file that sets one gets a message
# naming its replacement instead of the generic unknown-key one.
_REMOVED_KEYS = {
    "executor.buy_threshold": "confluence.thresholds.long",
    "executor.sell_threshold": "confluence.thresholds.short",
    "position_manager.min_confluence_score": "confluence.thresholds.long and .short",
}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CCXT_ID = re.compile(r"[a-z][a-z0-9_]*\Z")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range.

    ``key`` is the dotted key at fault (``"monitor.min_reliability"``), or ``""`` for a
    file-level problem. The message names the key and the bad value, except for secrets.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _fmt(value: object) -> str:
    """Render a number the way it was most likely written (30 rather than 30.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _require(cond: bool, key: str, rule: str, value: object) -> None:
    if not cond:
        raise ConfigError(key, f"{key} must be {rule}, was {_fmt(value)}")


def _in_range(value: float, key: str, lo: float, hi: float) -> None:
    _require(lo <= value <= hi, key, f"in [{_fmt(lo)}, {_fmt(hi)}]", value)


def _score_pair(p: str, upper: tuple[str, str, float], lower: tuple[str, str, float]) -> None:
    """Both scores in [0, 100] and upper > lower; each side is (key, short label, value)."""
    (hk, hl, hv), (lk, ll, lv) = upper, lower
    _in_range(hv, f"{p}.{hk}", 0.0, 100.0)
    _in_range(lv, f"{p}.{lk}", 0.0, 100.0)
    if not hv > lv:
        raise ConfigError(
            f"{p}.{hk}",
            f"{p}.{hk} must be > {p}.{lk}, was {hl}={_fmt(hv)}, {ll}={_fmt(lv)}",
        )


def _fraction(value: float, key: str) -> None:
    # Catches the commonest unit slip: a percentage (3) where a fraction (0.03) is expected.
    if not 0.0 < value <= 1.0:
        hint = (
            f" (a fraction of the balance: did you mean {_fmt(value / 100)}?)"
            if (1.0 < value <= 100.0)
            else ""
        )
        raise ConfigError(key, f"{key} must be a fraction in (0, 1], was {_fmt(value)}{hint}")


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The single threshold source: score >= long is LONG, score <= short is SHORT.

    One pair drives everything that turns a score into a direction: the engine's signal
    crossings (``confluex.session_config``), the CLI (``--long``/``--short`` override it, see
    :meth:`TradingConfig.with_thresholds`), the MarketMonitor and both sizing managers' entry
    rule. ``neutral_buffer`` is the MarketMonitor hysteresis: after a signal in one direction,
    the same direction fires again only once the score has fallen strictly below
    ``long - neutral_buffer`` (rose strictly above ``short + neutral_buffer`` for shorts).
    """

    PREFIX: ClassVar[str] = "confluence.thresholds"

    long: float = 70.0
    short: float = 35.0
    neutral_buffer: float = 5.0

    def __post_init__(self) -> None:
        p = self.PREFIX
        _score_pair(p, ("long", "long", self.long), ("short", "short", self.short))
        gap = self.long - self.short
        if not 0.0 <= self.neutral_buffer < gap:
            raise ConfigError(
                f"{p}.neutral_buffer",
                f"{p}.neutral_buffer must be >= 0 and < long - short ({_fmt(gap)}), "
                f"was {_fmt(self.neutral_buffer)}",
            )


@dataclass(frozen=True, slots=True)
class ComponentWeights:
    """Component weights of the confluence score (HEAD config values); they sum to 1 ± 0.05."""

    PREFIX: ClassVar[str] = "confluence.weights"

    orderflow: float = 0.30
    orderbook: float = 0.20
    volume: float = 0.18
    price_structure: float = 0.15
    technical: float = 0.10
    sentiment: float = 0.07

    def __post_init__(self) -> None:
        weights = self.as_dict()
        for name, w in weights.items():
            _require(w >= 0.0, f"{self.PREFIX}.{name}", ">= 0", w)
        total = sum(weights.values())
        if not abs(total - 1.0) <= 0.05:
            listed = ", ".join(f"{k}={_fmt(v)}" for k, v in weights.items())
            raise ConfigError(
                self.PREFIX,
                f"{self.PREFIX} must sum to 1 ± 0.05, was {total:.4g} ({listed})",
            )

    def as_dict(self) -> dict[str, float]:
        """The weights by component name, as configured."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def normalized(self) -> dict[str, float]:
        """The weights scaled to sum exactly to 1 (what the score uses)."""
        weights = self.as_dict()
        total = sum(weights.values())
        return {k: v / total for k, v in weights.items()}


@dataclass(frozen=True, slots=True)
class ConfluenceConfig:
    """``[confluence]``: thresholds, component weights and the scoring profile.

    ``profile`` is ``"standard"`` (the default: the graded score with the fitted weights; a
    ``weights`` table other than the built-in one replaces its component weights),
    ``"fitted_1s"`` / ``"fitted_5s"`` (the graded score fitted for that horizon, book and trades
    only), ``"reference"`` (the reference system's §2.6 formula with ``weights``, for parity) or
    ``"hft_ultra_fast"`` (orderbook .60, orderflow .35, volume .05 from trades only); see
    :func:`confluex.engine_config`.

    ``extras`` switches the reference system's orderflow/orderbook extras (stacked imbalance,
    open-interest quadrant, price-CVD divergence, absorption/exhaustion, liquidity bands) on or
    off; unset, each profile decides: on in ``reference``, off where they carry no weight
    (``standard``, the fitted profiles, ``hft_ultra_fast``), since computing them costs about
    0.8 us per depth message. On in ``standard``, they are computed and reported as unweighted
    sub-scores.
    """

    PREFIX: ClassVar[str] = "confluence"
    PROFILES: ClassVar[tuple[str, ...]] = (
        "standard",
        "reference",
        "fitted_1s",
        "fitted_5s",
        "hft_ultra_fast",
    )

    thresholds: Thresholds = field(default_factory=Thresholds)
    weights: ComponentWeights = field(default_factory=ComponentWeights)
    profile: str = "standard"
    extras: bool | None = None

    def __post_init__(self) -> None:
        if self.profile not in self.PROFILES:
            raise ConfigError(
                f"{self.PREFIX}.profile",
                f"{self.PREFIX}.profile must be one of {', '.join(self.PROFILES)}, "
                f"was {self.profile!r}",
            )


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """``[monitor]``: signal gating and the risk-based trade parameters (reference §5.2)."""

    PREFIX: ClassVar[str] = "monitor"

    min_reliability: float = 0.3
    cooldown_s: float = 60.0
    account_balance: float = 10_000.0
    default_risk_pct: float = 1.0
    min_risk_pct: float = 0.5
    max_risk_pct: float = 2.0
    long_stop_pct: float = 3.0
    short_stop_pct: float = 3.0
    risk_reward: float = 2.0

    def __post_init__(self) -> None:
        p = self.PREFIX
        _in_range(self.min_reliability, f"{p}.min_reliability", 0.0, 1.0)
        _in_range(self.cooldown_s, f"{p}.cooldown_s", 0.0, MAX_DURATION_S)
        _require(self.account_balance > 0.0, f"{p}.account_balance", "> 0", self.account_balance)
        _require(
            0.0 < self.min_risk_pct <= 100.0, f"{p}.min_risk_pct", "in (0, 100]", self.min_risk_pct
        )
        _require(
            0.0 < self.max_risk_pct <= 100.0, f"{p}.max_risk_pct", "in (0, 100]", self.max_risk_pct
        )
        if not self.min_risk_pct <= self.default_risk_pct <= self.max_risk_pct:
            raise ConfigError(
                f"{p}.default_risk_pct",
                f"{p}.default_risk_pct must be in [{p}.min_risk_pct, {p}.max_risk_pct], was "
                f"default={_fmt(self.default_risk_pct)}, min={_fmt(self.min_risk_pct)}, "
                f"max={_fmt(self.max_risk_pct)}",
            )
        for name in ("long_stop_pct", "short_stop_pct"):
            value = getattr(self, name)
            _require(0.0 < value < 100.0, f"{p}.{name}", "in (0, 100)", value)
        _require(self.risk_reward > 0.0, f"{p}.risk_reward", "> 0", self.risk_reward)
        # The strongest short (score 0) gets RR = 1.5 * risk_reward; its take-profit
        # price * (1 - RR * stop%) must stay positive.
        worst = 1.5 * self.risk_reward * self.short_stop_pct
        if not worst < 100.0:
            raise ConfigError(
                f"{p}.risk_reward",
                f"1.5 * {p}.risk_reward * {p}.short_stop_pct must be < 100 so a short's "
                f"take-profit stays above 0, was risk_reward={_fmt(self.risk_reward)}, "
                f"short_stop_pct={_fmt(self.short_stop_pct)}",
            )


@dataclass(frozen=True, slots=True)
class ScalingThreshold:
    """Where ConfluencePositionSizing starts adding ``scale_factor`` per point."""

    PREFIX: ClassVar[str] = "position_manager.scaling_threshold"

    long: float = 69.0
    short: float = 31.0

    def __post_init__(self) -> None:
        p = self.PREFIX
        _score_pair(p, ("long", "long", self.long), ("short", "short", self.short))


@dataclass(frozen=True, slots=True)
class PositionManagerConfig:
    """``[position_manager]``: confluence-scaled sizing shared by both sizing managers.

    The entry rule of both managers is ``confluence.thresholds`` (the one threshold source);
    this section only says how large a position is: ``base_position_pct`` at the entry,
    ``scale_factor`` more per point beyond ``scaling_threshold`` (ConfluencePositionSizing) or
    beyond the entry thresholds (ExecutorSizing), capped at ``max_position_pct``.
    """

    PREFIX: ClassVar[str] = "position_manager"

    base_position_pct: float = 0.03
    max_position_pct: float = 0.10
    scale_factor: float = 0.01
    trailing_stop_pct: float = 0.02
    scaling_threshold: ScalingThreshold = field(default_factory=ScalingThreshold)

    def __post_init__(self) -> None:
        p = self.PREFIX
        _fraction(self.base_position_pct, f"{p}.base_position_pct")
        _fraction(self.max_position_pct, f"{p}.max_position_pct")
        if not self.base_position_pct <= self.max_position_pct:
            raise ConfigError(
                f"{p}.base_position_pct",
                f"{p}.base_position_pct must be <= {p}.max_position_pct, was "
                f"base={_fmt(self.base_position_pct)}, max={_fmt(self.max_position_pct)}",
            )
        _require(
            0.0 <= self.scale_factor <= 1.0, f"{p}.scale_factor", "in [0, 1]", self.scale_factor
        )
        _require(
            0.0 < self.trailing_stop_pct < 1.0,
            f"{p}.trailing_stop_pct",
            "a fraction in (0, 1)",
            self.trailing_stop_pct,
        )


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """``[executor]``: settings of the TradeExecutor sizing.

    It has no keys of its own today: its former entry thresholds (``buy_threshold``,
    ``sell_threshold``) are ``confluence.thresholds``, and a file that still sets them gets a
    ConfigError saying so.
    """

    PREFIX: ClassVar[str] = "executor"


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """``[execution]``: how the Executor sends, looks up, polls and protects orders.

    ``recv_window_ms`` is sent with every signed request (Binance/Bybit ``recvWindow``): the
    venue refuses a request that reaches it later than that after it was signed. An order
    whose request timed out is looked up (and resent with the same client id only if absent)
    ``lookup_grace_s`` after the timeout, which came after the request was signed, so the
    grace must exceed the window: then a request still in flight can no longer land after
    the lookup said absent.

    ``algo`` chooses how an entry is executed: ``market`` (one market order), ``auto`` (the
    execution algorithm ``ExecutionAlgorithmConfluence`` selects from the score) or a fixed
    scheduler, ``twap`` / ``vwap`` / ``pov`` / ``ac`` (docs/execution_algorithms.md).
    ``algo_horizon_s`` fixes the parent's time horizon (default: the selection's),
    ``algo_slices`` is the number of TWAP / Almgren-Chriss children and ``algo_step_s`` the
    shortest interval between two decisions of a parent.
    """

    PREFIX: ClassVar[str] = "execution"

    recv_window_ms: int = 5000
    lookup_grace_s: float = 6.0
    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    fill_poll_interval_s: float = 0.25
    fill_timeout_s: float = 15.0
    stop_mode: Literal["auto", "native", "client"] = "auto"
    trailing_mode: Literal["auto", "native", "replace", "client"] = "auto"
    client_id_prefix: str = "cfx"
    kill_on_daily_loss: bool = True
    algo: Literal["market", "auto", "twap", "vwap", "pov", "ac"] = "market"
    algo_horizon_s: float | None = None
    algo_slices: int = 10
    algo_step_s: float = 1.0

    def __post_init__(self) -> None:
        p = self.PREFIX
        _require(self.max_attempts >= 1, f"{p}.max_attempts", ">= 1", self.max_attempts)
        _in_range(self.algo_slices, f"{p}.algo_slices", 1, 1000)
        _require(
            math.isfinite(self.algo_step_s) and self.algo_step_s > 0,
            f"{p}.algo_step_s",
            "> 0",
            self.algo_step_s,
        )
        if self.algo_horizon_s is not None:
            _require(
                math.isfinite(self.algo_horizon_s) and self.algo_horizon_s > 0,
                f"{p}.algo_horizon_s",
                "> 0",
                self.algo_horizon_s,
            )
        # Binance refuses a recvWindow above 60 000 ms (-1131)
        _in_range(self.recv_window_ms, f"{p}.recv_window_ms", 1, 60_000)
        for name in (
            "backoff_initial_s",
            "backoff_max_s",
            "lookup_grace_s",
            "fill_poll_interval_s",
            "fill_timeout_s",
        ):
            value = getattr(self, name)
            _require(math.isfinite(value) and value >= 0, f"{p}.{name}", ">= 0", value)
        if self.lookup_grace_s * 1000 <= self.recv_window_ms:
            raise ConfigError(
                f"{p}.lookup_grace_s",
                f"{p}.lookup_grace_s must exceed {p}.recv_window_ms (a request still in flight "
                f"could land after the lookup), was lookup_grace_s={_fmt(self.lookup_grace_s)}, "
                f"recv_window_ms={self.recv_window_ms}",
            )
        prefix = self.client_id_prefix
        _require(
            prefix.isalnum() and prefix.isascii() and 1 <= len(prefix) <= 12,
            f"{p}.client_id_prefix",
            "1 to 12 ASCII letters or digits",
            prefix,
        )

    def backoff(self, attempt: int) -> float:
        """Exponential backoff before retry number ``attempt`` (1-based), capped."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """``[risk]``: account-level limits in quote currency (absent means no limit).

    ``max_total_notional`` caps the gross exposure, the sum of every symbol's absolute
    notional (in-flight entries, working parent orders and the market maker's live quotes at
    their worst case included); without it the book can carry ``max_active_positions`` times
    ``max_symbol_notional``. ``max_orders_per_window`` caps the orders sent within
    ``order_window_s`` (Binance spot allows 50 per 10 s, USD-M 300 per 10 s): once reached,
    opening orders are refused until the oldest leaves the window.
    """

    PREFIX: ClassVar[str] = "risk"

    max_active_positions: int = 5
    max_order_notional: float | None = None
    max_symbol_notional: float | None = None
    max_total_notional: float | None = None
    daily_loss_limit: float | None = None
    max_orders_per_window: int | None = None
    order_window_s: float = 10.0
    kill_switch: bool = False

    def __post_init__(self) -> None:
        p = self.PREFIX
        _require(
            self.max_active_positions >= 1,
            f"{p}.max_active_positions",
            ">= 1",
            self.max_active_positions,
        )
        for name in (
            "max_order_notional",
            "max_symbol_notional",
            "max_total_notional",
            "daily_loss_limit",
        ):
            value = getattr(self, name)
            if value is not None:
                _require(value > 0.0, f"{p}.{name}", "> 0", value)
        cap = self.max_orders_per_window
        if cap is not None:
            _require(cap >= 1, f"{p}.max_orders_per_window", ">= 1", cap)
        _require(
            0.001 <= self.order_window_s <= 86_400.0,
            f"{p}.order_window_s",
            "in [0.001, 86400] (seconds)",
            self.order_window_s,
        )
        # order <= symbol <= total, for each pair that is set
        order, symbol = self.max_order_notional, self.max_symbol_notional
        total = self.max_total_notional
        for (low, low_value), (high, high_value) in (
            (("order", order), ("symbol", symbol)),
            (("order", order), ("total", total)),
            (("symbol", symbol), ("total", total)),
        ):
            if low_value is not None and high_value is not None and low_value > high_value:
                raise ConfigError(
                    f"{p}.max_{low}_notional",
                    f"{p}.max_{low}_notional must be <= {p}.max_{high}_notional, was "
                    f"{low}={_fmt(low_value)}, {high}={_fmt(high_value)}",
                )


#: Longest duration a setting in milliseconds may hold (the same year as MAX_DURATION_S).
MAX_DURATION_MS = MAX_DURATION_S * 1000.0


@dataclass(frozen=True, slots=True)
class MMConfig:
    """``[mm]``: the market maker (``confluex replay --strategy mm``, docs/market_making.md).

    Its defaults are BTCUSDT-sized. Distances given in basis points of the symbol's first mid
    (``gamma``, ``bucket_bps``, ``max_depth_bps``) are turned into ticks per symbol;
    ``maker_fee`` unset means the market's maker fee. Built directly (``MMConfig(gamma=0.5)``)
    it is validated the same way as from a file: a bad value raises :class:`ConfigError`
    naming ``mm.<field>`` and the value.
    """

    PREFIX: ClassVar[str] = "mm"

    gamma: float = 1.0  # risk aversion per basis point of the first mid (GLFT gamma = xi)
    order_notional: float = 200.0  # quote currency per quote (raised to the market minimum)
    max_inventory_orders: int = 5  # inventory limit, in orders
    requote_ms: float = 100.0
    latency_ms: float = 10.0  # order entry and cancel latency (data time)
    cancels: CancelModel = "pro_rata"
    vol_half_life_s: float = 30.0
    vol_sample_ms: float = 100.0
    intensity_half_life_s: float = 60.0
    intensity_buckets: int = 8
    bucket_bps: float = 0.05  # width of an intensity bucket
    min_bucket_count: float = 2.0
    alpha_gain: float = 0.5
    alpha_horizon_s: float = 1.0
    max_depth_bps: float = 5.0  # no quote further than this from the mid
    warmup_s: float = 10.0
    maker_fee: float | None = None  # default: the market's maker fee
    markouts_s: tuple[float, ...] = (1.0, 5.0)
    sample_ms: float = 100.0  # chart series sampling

    def __post_init__(self) -> None:
        p = self.PREFIX
        # (field, lower bound, lower bound allowed, upper bound): durations stay within a
        # year (they become int64 nanoseconds), the rest only has to be finite
        bounds: tuple[tuple[str, float, bool, float], ...] = (
            ("gamma", 0.0, False, math.inf),
            ("order_notional", 0.0, False, math.inf),
            ("requote_ms", 0.0, False, MAX_DURATION_MS),
            ("latency_ms", 0.0, True, MAX_DURATION_MS),
            ("vol_half_life_s", 0.0, False, MAX_DURATION_S),
            ("vol_sample_ms", 0.0, True, MAX_DURATION_MS),
            ("intensity_half_life_s", 0.0, False, MAX_DURATION_S),
            ("bucket_bps", 0.0, False, math.inf),
            ("min_bucket_count", 0.0, False, math.inf),
            ("alpha_gain", -math.inf, False, math.inf),
            ("alpha_horizon_s", 0.0, True, MAX_DURATION_S),
            ("max_depth_bps", 0.0, False, math.inf),
            ("warmup_s", 0.0, True, MAX_DURATION_S),
            ("sample_ms", 0.0, False, MAX_DURATION_MS),
        )
        for name, lo, lo_ok, hi in bounds:
            value = getattr(self, name)
            ok = _is_number(value) and math.isfinite(value) and value <= hi
            ok = ok and (value >= lo if lo_ok else value > lo)
            rule = "a finite number" + (
                "" if lo == -math.inf else f" {'>=' if lo_ok else '>'} {_fmt(lo)}"
            )
            _require(
                ok,
                f"{p}.{name}",
                rule + ("" if hi == math.inf else f" and <= {_fmt(hi)} (one year)"),
                value,
            )
        for name, lo, hi in (("max_inventory_orders", 1, 1_000_000), ("intensity_buckets", 2, 32)):
            value = getattr(self, name)
            ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
            _require(ok, f"{p}.{name}", f"an integer in [{lo}, {hi}]", value)
        if self.cancels not in ("pro_rata", "worst"):
            raise ConfigError(
                f"{p}.cancels", f"{p}.cancels must be 'pro_rata' or 'worst', was {self.cancels!r}"
            )
        fee = self.maker_fee
        if fee is not None:
            ok = _is_number(fee) and math.isfinite(fee) and -0.01 <= fee <= 0.01
            _require(ok, f"{p}.maker_fee", "in [-0.01, 0.01] (a fraction: 0.0002 = 2 bps)", fee)
        horizons = self.markouts_s
        ok = isinstance(horizons, (tuple, list)) and len(horizons) > 0
        ok = ok and all(_is_number(h) and 0.0 < h <= MAX_DURATION_S for h in horizons)
        _require(ok, f"{p}.markouts_s", "a non-empty list of horizons in seconds > 0", horizons)
        object.__setattr__(self, "markouts_s", tuple(float(h) for h in horizons))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Credentials:
    """API credentials read from the environment. Their repr never shows them."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        pw = ", password=<redacted>" if self.password is not None else ""
        return f"Credentials(api_key=<redacted>, secret=<redacted>{pw})"

    def as_ccxt(self) -> dict[str, str]:
        """The credentials as ccxt's constructor options (``apiKey``, ``secret``...)."""
        opts = {"apiKey": self.api_key, "secret": self.secret}
        if self.password is not None:
            opts["password"] = self.password
        return opts


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """``[exchanges.<name>]``: one venue. Holds environment-variable *names*, never secrets.

    ``id`` is the ccxt exchange id (defaults to the table name). ``live = true`` trades real
    money and needs a runtime opt-in as well (:meth:`check_live_opt_in`); ``sandbox = true``
    uses the venue's testnet. Neither means paper trading.
    """

    name: str
    id: str = ""
    market_type: MarketType = "spot"
    live: bool = False
    sandbox: bool = False
    api_key_env: str | None = None
    secret_env: str | None = None
    password_env: str | None = None

    # Fields that come from the table's position in the file, not from its keys.
    _IMPLICIT: ClassVar[frozenset[str]] = frozenset({"name"})

    def __post_init__(self) -> None:
        p = f"exchanges.{self.name}"
        if not self.id:
            object.__setattr__(self, "id", self.name)
        if not _CCXT_ID.match(self.id):
            raise ConfigError(
                f"{p}.id",
                f"{p}.id must be a ccxt exchange id such as 'binance' or 'bybit', was {self.id!r}",
            )
        if self.market_type not in ("spot", "swap"):
            raise ConfigError(
                f"{p}.market_type",
                f"{p}.market_type must be 'spot' or 'swap', was {self.market_type!r}",
            )
        if self.live and self.sandbox:
            raise ConfigError(f"{p}.live", f"{p}.live and {p}.sandbox cannot both be true")
        for name in ("api_key_env", "secret_env", "password_env"):
            value = getattr(self, name)
            if value is not None and not _ENV_NAME.match(value):
                # Not echoed: a value that is not a variable name may be a pasted secret.
                raise ConfigError(
                    f"{p}.{name}",
                    f"{p}.{name} must be the name of an environment variable (letters, "
                    f"digits, underscore), was a value that is not a variable name "
                    f"(not shown, in case it is a secret)",
                )
        if self.live and (self.api_key_env is None or self.secret_env is None):
            raise ConfigError(
                f"{p}.api_key_env", f"{p}.live = true requires {p}.api_key_env and {p}.secret_env"
            )

    @property
    def mode(self) -> Literal["live", "sandbox", "paper"]:
        """Where orders would go: real money, the venue's testnet, or nowhere."""
        return "live" if self.live else "sandbox" if self.sandbox else "paper"

    def check_live_opt_in(self, *, allow_live: bool) -> None:
        """Raises unless a live venue was also enabled at runtime (``allow_live=True``).

        The file alone never enables real-money trading: a ``live = true`` left in a config
        must be confirmed by the operator (a ``--live`` flag or equivalent).
        """
        if self.live and not allow_live:
            p = f"exchanges.{self.name}.live"
            raise ConfigError(
                p,
                f"{p} is true but live trading was not enabled at runtime; "
                f"pass allow_live=True (the --live flag) to trade real money",
            )

    def credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """Reads the API credentials from the environment variables this venue names.

        Raises ConfigError naming the *variable* (never a value) when it is not configured,
        unset or empty.
        """
        env = os.environ if environ is None else environ
        p = f"exchanges.{self.name}"

        def read(key: str, var: str | None) -> str:
            if var is None:
                raise ConfigError(
                    f"{p}.{key}",
                    f"{p}.{key} is not set: name the environment variable that holds the value",
                )
            value = env.get(var, "")
            if not value:
                raise ConfigError(
                    f"{p}.{key}", f"environment variable {var} ({p}.{key}) is not set or empty"
                )
            return value

        password = read("password_env", self.password_env) if self.password_env else None
        return Credentials(
            read("api_key_env", self.api_key_env), read("secret_env", self.secret_env), password
        )


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """The whole trading configuration. Build it with :func:`load_config`."""

    confluence: ConfluenceConfig = field(default_factory=ConfluenceConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    position_manager: PositionManagerConfig = field(default_factory=PositionManagerConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    mm: MMConfig = field(default_factory=MMConfig)
    exchanges: Mapping[str, ExchangeConfig] = field(
        default_factory=lambda: types.MappingProxyType({})
    )

    def with_thresholds(
        self, long: float | None = None, short: float | None = None
    ) -> TradingConfig:
        """A copy with ``confluence.thresholds.long``/``short`` replaced where not None.

        This is how command-line flags (``--long``/``--short``) override the one threshold
        source; the result is validated like a file (ConfigError naming the key).
        """
        if long is None and short is None:
            return self
        t = self.confluence.thresholds
        thresholds = Thresholds(
            long=t.long if long is None else float(long),
            short=t.short if short is None else float(short),
            neutral_buffer=t.neutral_buffer,
        )
        confluence = dataclasses.replace(self.confluence, thresholds=thresholds)
        return dataclasses.replace(self, confluence=confluence)

    def as_dict(self) -> dict[str, Any]:
        """The configuration as plain dicts (absent optional limits are left out, as in TOML)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "exchanges":
                out["exchanges"] = {
                    name: _strip_none(dataclasses.asdict(ex), drop={"name"})
                    for name, ex in self.exchanges.items()
                }
            else:
                out[f.name] = _strip_none(dataclasses.asdict(getattr(self, f.name)))
        return out


def _strip_none(d: dict[str, Any], drop: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    return {
        k: _strip_none(v) if isinstance(v, dict) else v
        for k, v in d.items()
        if v is not None and k not in drop
    }


# --------------------------------------------------------------------------------------------
# Building sections from plain data
# --------------------------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _unknown_key(key: str, known: list[str]) -> ConfigError:
    if key in _REMOVED_KEYS:
        return ConfigError(
            key,
            f"{key} was removed: the entry thresholds have one source, "
            f"{_REMOVED_KEYS[key]} (the engine's signals, the monitor and both sizing managers "
            f"read it); set that instead",
        )
    leaf = key.rsplit(".", 1)[-1]
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    if leaf in _SECRET_KEYS:
        where = parent or "the file"
        return ConfigError(
            key,
            f"{key}: secrets must not be stored in the config file; set {where}.api_key_env "
            f"and {where}.secret_env to the names of environment variables instead",
        )
    close = difflib.get_close_matches(leaf, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    allowed = ", ".join(sorted(known))
    return ConfigError(key, f"unknown key {key}{hint}; allowed here: {allowed}")


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, key)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            allowed = " or ".join(repr(c) for c in choices)
            raise ConfigError(key, f"{key} must be {allowed}, was {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, key)
    if origin is tuple:  # tuple[float, ...]: a TOML array
        (inner, _) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"{key} must be an array, was {value!r}")
        return tuple(_convert(v, inner, key) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"{key} must be true or false, was {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"{key} must be an integer, was {value!r}")
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ConfigError(key, f"{key} must fit in 64 bits, was {_short_int(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"{key} must be a number, was {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ConfigError(
                key, f"{key} must be a finite number, was {_short_int(int(value))}"
            ) from None
        if not math.isfinite(number):
            raise ConfigError(key, f"{key} must be a finite number, was {value!r}")
        return number
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"{key} must be a string, was {value!r}")
        return value
    raise TypeError(f"unsupported config field type {hint!r} at {key}")  # pragma: no cover


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _short_int(value: int) -> str:
    """A huge integer named without printing all of its digits."""
    try:
        text = str(value)
    except ValueError:  # more digits than Python will print
        return "an integer with thousands of digits"
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text.lstrip('-'))} digits)"


def _table(data: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(key, f"{key or 'the configuration'} must be a table, was {data!r}")
    return data


def _build(
    cls: type[Any], data: Any, prefix: str, implicit: Mapping[str, Any] | None = None
) -> Any:
    table = _table(data, prefix)
    hints = _hints(cls)
    implicit = implicit or {}
    known = [f.name for f in dataclasses.fields(cls) if f.name not in implicit]
    kwargs: dict[str, Any] = dict(implicit)
    for k, v in table.items():
        dotted = f"{prefix}.{k}" if prefix else str(k)
        if k not in known:
            raise _unknown_key(dotted, known)
        kwargs[k] = _convert(v, hints[k], dotted)
    return cls(**kwargs)


def _build_config(data: Mapping[str, Any]) -> TradingConfig:
    table = dict(_table(data, ""))
    exchanges_raw = _table(table.pop("exchanges", {}), "exchanges")
    exchanges = {
        str(name): _build(ExchangeConfig, ex, f"exchanges.{name}", implicit={"name": str(name)})
        for name, ex in exchanges_raw.items()
    }
    config: TradingConfig = _build(TradingConfig, table, "")
    return dataclasses.replace(config, exchanges=types.MappingProxyType(exchanges))


# --------------------------------------------------------------------------------------------
# Loading, layering and presets
# --------------------------------------------------------------------------------------------


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        old = out.get(k)
        out[k] = _merge(old, v) if isinstance(old, Mapping) and isinstance(v, Mapping) else v
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("", f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError("", f"config file {path} is a directory, not a TOML file") from None
    except OSError as exc:  # permissions, I/O errors
        raise ConfigError("", f"config file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "",
            f"config file {path} is not valid UTF-8 (TOML must be): "
            f"byte {exc.object[exc.start]:#04x} at offset {exc.start}",
        ) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer past Python's digit limit
        raise ConfigError("", f"config file {path} is not valid TOML: {exc}") from None


def _preset_dirs(presets_dir: str | os.PathLike[str] | None) -> list[Path]:
    if presets_dir is not None:
        return [Path(presets_dir)]
    dirs = []
    env = os.environ.get(PRESETS_ENV)
    if env:
        dirs.append(Path(env))
    here = Path(__file__).parent
    dirs.append(here / "presets")  # shipped inside the package
    return dirs


def available_presets(presets_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the presets found (``confluex/trading/presets/*.toml``), sorted."""
    names: set[str] = set()
    for d in _preset_dirs(presets_dir):
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def _resolve_preset(
    preset: str | os.PathLike[str], presets_dir: str | os.PathLike[str] | None
) -> Path:
    text = os.fspath(preset)
    if text.endswith(".toml") or os.sep in text or "/" in text:
        return Path(text)
    dirs = _preset_dirs(presets_dir)
    for d in dirs:
        candidate = d / f"{text}.toml"
        if candidate.is_file():
            return candidate
    names = available_presets(presets_dir)
    close = difflib.get_close_matches(text, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    searched = ", ".join(str(d) for d in dirs)
    raise ConfigError(
        "",
        f"unknown preset {text!r}{hint}; available: {', '.join(names) or 'none'}"
        f" (searched {searched})",
    )


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    preset: str | os.PathLike[str] | None = None,
    presets_dir: str | os.PathLike[str] | None = None,
) -> TradingConfig:
    """Loads and validates a configuration: defaults, then ``preset``, then ``source``.

    ``source`` is a TOML file path, a dict of the same shape, or None (defaults only).
    ``preset`` is a preset name (``"conservative"``, looked up in ``presets_dir``, then
    ``$CONFLUEX_PRESETS_DIR``, then the package's ``presets`` folder)
    or a path to a TOML file. The file refines the preset: a key set in both takes the file's
    value. Raises ConfigError on any unknown key or invalid value.
    """
    layers: list[Mapping[str, Any]] = []
    if preset is not None:
        layers.append(_read_toml(_resolve_preset(preset, presets_dir)))
    if isinstance(source, Mapping):
        layers.append(source)
    elif source is not None:
        layers.append(_read_toml(Path(source)))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, _table(layer, ""))
    return _build_config(merged)
