"""Execution algorithms: a strategy chosen from the score, and parent orders that trade it.

Two halves (docs/execution_algorithms.md has the definitions and their reasons):

- **Selection** (:class:`ExecutionAlgorithmConfluence`, the HFT note's class): urgency,
  participation rate, algorithm, time horizon and price limit from the signal strength,
  directional bias and reliability, with the note's thresholds. The note leaves the time
  horizon and the price limit undefined; they are defined here, and the note's blind spot,
  the order's side, is used: a bias that *opposes* the order predicts the price coming to it,
  so it never asks for urgency.
- **Schedules** (:class:`ParentOrder`, run by :class:`AlgoRunner` inside the ``Executor``):
  aggressive TWAP, adaptive VWAP (volume curve from the engine's live volume, participation
  cap), passive participation (POV: maker-first post-only limits re-pegged to the touch) and
  an Almgren-Chriss schedule whose urgency comes from the score. The same code runs against a
  ccxt exchange (live) and the ``PaperExchange``.

Money safety is the entries': every child is an ``entry`` order of the one order journal,
journaled before it is sent, with a client id derived from its parent's
(``<parent id>x<child index>``), so a restart finds each child by its id; the parent itself
is a ``parent`` record of the same journal, closed by a ``parent_end`` record. ``Executor.start``
reconciles a symbol with children exactly as it reconciles entries (a child still working at
the venue is cancelled first: the parent decides afresh) and then resumes the parents that
have no end record. A child that times out goes through the router's lookup-before-resend
rule with its own id, so it is never duplicated. The kill switch ends every parent and cancels
its working child before flattening.

The schedule math (:func:`split_lots`, :func:`twap_lots`, :func:`ac_holdings`,
:func:`ac_lots`, :func:`vwap_target`, :func:`pov_target`) is pure and works in integer lots,
so slices sum to the parent's quantity exactly.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ccxt  # type: ignore[import-untyped]  # ccxt ships no type information

from .fills import TERMINAL, EntryPlan, contract_size
from .orders import Unknown
from .store import JournalError
from .types import Rejection, RejectReason

if TYPE_CHECKING:
    from .fills import FillLedger
    from .orders import OrderRouter
    from .protection import Protector
    from .store import OrderJournal

__all__ = [
    "ALGOS",
    "Algo",
    "AlgoConfig",
    "AlgoRunner",
    "ExecutionAlgorithmConfluence",
    "ExecutionStrategy",
    "MarketState",
    "ParentOrder",
    "ParentReport",
    "ac_holdings",
    "ac_lots",
    "child_client_id",
    "new_parent_id",
    "pov_target",
    "split_lots",
    "twap_lots",
    "vwap_target",
]

log = logging.getLogger(__name__)

Algo = Literal["twap", "vwap", "pov", "ac"]
Urgency = Literal["high", "medium", "low"]
ALGOS: tuple[Algo, ...] = ("twap", "vwap", "pov", "ac")
#: The note's algorithm names, by urgency, and the short names the schedulers use.
SEED_ALGORITHM: dict[Urgency, str] = {
    "high": "aggressive_twap",
    "medium": "adaptive_vwap",
    "low": "passive_participation",
}
ALGO_OF: dict[str, Algo] = {
    "aggressive_twap": "twap",
    "adaptive_vwap": "vwap",
    "passive_participation": "pov",
    "almgren_chriss": "ac",
}
NAME_OF: dict[Algo, str] = {v: k for k, v in ALGO_OF.items()}


# ---------------------------------------------------------------------- selection
@dataclass(frozen=True, slots=True)
class AlgoConfig:
    """Parameters of the selection and of the schedules (defaults documented in
    docs/execution_algorithms.md).

    ``horizon_s``: the base time horizon per urgency (high, medium, low), shortened by up to
    half with the signal strength. ``alpha_bps``: the adverse move a full-strength, fully
    reliable signal stands for; the price limit allows paying up to that past the arrival
    price. ``kappa_max``: the Almgren-Chriss kappa*T at urgency 1. ``slices``: children of
    TWAP and AC. ``step_s``: the shortest interval between two decisions of a parent.
    ``horizon_override_s``: a fixed horizon (replays, tests), else the selection's.
    """

    horizon_s: tuple[float, float, float] = (60.0, 300.0, 900.0)
    max_horizon_s: float = 3600.0
    alpha_bps: float = 10.0
    min_limit_bps: float = 1.0
    kappa_max: float = 6.0
    slices: int = 10
    step_s: float = 1.0
    horizon_override_s: float | None = None

    def __post_init__(self) -> None:
        if len(self.horizon_s) != 3 or not all(math.isfinite(h) and h > 0 for h in self.horizon_s):
            raise ValueError(f"horizon_s must be three finite values > 0, was {self.horizon_s}")
        for name in ("max_horizon_s", "alpha_bps", "min_limit_bps", "kappa_max", "step_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, was {value}")
        if self.slices < 1:
            raise ValueError(f"slices must be >= 1, was {self.slices}")
        h = self.horizon_override_s
        if h is not None and not (math.isfinite(h) and h > 0):
            raise ValueError(f"horizon_override_s must be finite and > 0, was {h}")


@dataclass(frozen=True, slots=True)
class ExecutionStrategy:
    """What the selection decided for one parent order.

    ``urgency_value`` (0..1) is the aligned strength times the reliability: the continuous
    urgency the Almgren-Chriss schedule uses. ``price_limit`` is the worst price a child may
    trade at (None when the arrival price is unknown).
    """

    algorithm: str
    algo: Algo
    urgency: Urgency
    urgency_value: float
    participation_rate: float
    time_horizon_s: float
    price_limit_bps: float
    price_limit: float | None
    side: str | None
    aligned: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_algo(self, algo: Algo) -> ExecutionStrategy:
        """The same strategy run by another scheduler (``--algo`` forces one)."""
        if algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, was {algo!r}")
        return ExecutionStrategy(
            NAME_OF[algo],
            algo,
            self.urgency,
            self.urgency_value,
            self.participation_rate,
            self.time_horizon_s,
            self.price_limit_bps,
            self.price_limit,
            self.side,
            self.aligned,
        )


def _unit(name: str, value: float, lo: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= 1.0):
        raise ValueError(f"{name} must be finite and in [{lo:g}, 1], was {value}")
    return v


class ExecutionAlgorithmConfluence:
    """The note's ExecutionAlgorithmConfluence, with its gaps filled and its bugs fixed.

    Urgency is ``high`` when strength > .8 and reliability > .7, ``medium`` when both > .5,
    else ``low``; participation is .3 / .2 / .1 for |bias| > .7 / > .3 / otherwise; the
    algorithms are aggressive_twap / adaptive_vwap / passive_participation (the note's
    thresholds, strict inequalities). Fixed: the note ignored the order, so a strong *bearish*
    signal made a *buy* urgent, though it predicts the price coming down to the buyer; with a
    side, a bias against the order counts as strength 0 (low urgency, participation .1, no
    alpha in the price limit). NaN or out-of-range inputs raise ValueError (the note's
    comparisons read NaN as "low"). Without a side the note's reading (|bias|) is kept.
    """

    def __init__(self, config: AlgoConfig | None = None) -> None:
        self.config = config or AlgoConfig()

    def determine_execution_strategy(
        self, order: Mapping[str, Any], confluence_scores: Mapping[str, float] | Any
    ) -> dict[str, Any]:
        """The note's dictionary: algorithm, urgency, participation_rate, time_horizon_s,
        price_limit_bps, price_limit and side (``order``: optional ``side``, ``amount`` (base
        units, as ``volume_rate``: not contracts), ``arrival_price``, ``volume_rate`` (base per
        second), ``half_spread_bps``)."""
        return self.strategy(order, confluence_scores).as_dict()

    def strategy(
        self, order: Mapping[str, Any], confluence_scores: Mapping[str, float] | Any
    ) -> ExecutionStrategy:
        """The typed form of :meth:`determine_execution_strategy`."""
        s = _scores(confluence_scores)
        strength = _unit("signal_strength", s["signal_strength"], 0.0)
        bias = _unit("directional_bias", s["directional_bias"], -1.0)
        reliability = _unit("reliability", s["reliability"], 0.0)
        side = order.get("side")
        if side not in (None, "buy", "sell"):
            raise ValueError(f"order side must be 'buy', 'sell' or None, was {side!r}")
        if side is None:
            aligned, eff_strength, conviction = True, strength, abs(bias)
        else:
            signed = bias if side == "buy" else -bias
            aligned = signed >= 0.0
            eff_strength = strength if aligned else 0.0
            conviction = signed if aligned else 0.0
        urgency = self.calculate_urgency(eff_strength, reliability)
        participation = 0.3 if conviction > 0.7 else 0.2 if conviction > 0.3 else 0.1
        algorithm = SEED_ALGORITHM[urgency]
        horizon = self.calculate_time_horizon(
            urgency,
            eff_strength,
            amount=_opt(order, "amount"),
            participation_rate=participation,
            volume_rate=_opt(order, "volume_rate"),
        )
        bps = self.calculate_price_limit_bps(
            eff_strength, reliability, half_spread_bps=_opt(order, "half_spread_bps") or 0.0
        )
        arrival = _opt(order, "arrival_price")
        limit = None
        if arrival is not None and side is not None:
            limit = self.calculate_price_limit(side, arrival, bps)
        return ExecutionStrategy(
            algorithm=algorithm,
            algo=ALGO_OF[algorithm],
            urgency=urgency,
            urgency_value=eff_strength * reliability,
            participation_rate=participation,
            time_horizon_s=horizon,
            price_limit_bps=bps,
            price_limit=limit,
            side=side,
            aligned=aligned,
        )

    @staticmethod
    def calculate_urgency(strength: float, reliability: float) -> Urgency:
        """The note's urgency tiers."""
        if strength > 0.8 and reliability > 0.7:
            return "high"
        if strength > 0.5 and reliability > 0.5:
            return "medium"
        return "low"

    def calculate_time_horizon(
        self,
        urgency: Urgency,
        signal_strength: float,
        *,
        amount: float | None = None,
        participation_rate: float = 0.1,
        volume_rate: float | None = None,
    ) -> float:
        """Seconds the parent has: ``base[urgency] * (1 - strength / 2)``, at least the time
        the order needs at its participation rate (``amount / (rate * volume_rate)``), at
        most ``max_horizon_s``; ``horizon_override_s`` replaces it when set.

        A strong signal decays fast, so its horizon is shorter; but a horizon the market's
        volume cannot fill at the participation rate would force the last child to be the
        market impact the schedule exists to avoid.
        """
        cfg = self.config
        if cfg.horizon_override_s is not None:
            return cfg.horizon_override_s
        base = dict(zip(("high", "medium", "low"), cfg.horizon_s, strict=True))[urgency]
        horizon = base * (1.0 - 0.5 * signal_strength)
        if amount is not None and volume_rate is not None and volume_rate > 0:
            horizon = max(horizon, amount / (participation_rate * volume_rate))
        return min(horizon, cfg.max_horizon_s)

    def calculate_price_limit_bps(
        self, signal_strength: float, reliability: float, *, half_spread_bps: float = 0.0
    ) -> float:
        """How far past the arrival price a child may trade, in bps:
        ``half_spread + max(min_limit_bps, alpha_bps * strength * reliability)``.

        The arrival price is the mid, so crossing the spread costs half of it; beyond that,
        paying up to the adverse move the signal predicts (alpha, scaled by its strength and
        its reliability) still beats missing the move. A signal against the order predicts no
        adverse move: only the minimum.
        """
        if not (math.isfinite(half_spread_bps) and half_spread_bps >= 0):
            raise ValueError(f"half_spread_bps must be finite and >= 0, was {half_spread_bps}")
        cfg = self.config
        return half_spread_bps + max(
            cfg.min_limit_bps, cfg.alpha_bps * signal_strength * reliability
        )

    @staticmethod
    def calculate_price_limit(side: str, arrival_price: float, limit_bps: float) -> float:
        """The worst price: ``arrival * (1 + bps)`` for a buy, ``arrival * (1 - bps)`` for a
        sell."""
        if not (math.isfinite(arrival_price) and arrival_price > 0):
            raise ValueError(f"arrival_price must be finite and > 0, was {arrival_price}")
        k = limit_bps / 1e4
        return arrival_price * (1.0 + k) if side == "buy" else arrival_price * (1.0 - k)


def _scores(scores: Mapping[str, float] | Any) -> dict[str, float]:
    keys = ("signal_strength", "directional_bias", "reliability")
    if isinstance(scores, Mapping):
        missing = [k for k in keys if k not in scores]
        if missing:
            raise KeyError(f"confluence scores lack {missing}")
        return {k: float(scores[k]) for k in keys}
    return {k: float(getattr(scores, k)) for k in keys}


def _opt(order: Mapping[str, Any], key: str) -> float | None:
    v = order.get(key)
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"order {key} must be finite and >= 0, was {v}")
    return f


# ---------------------------------------------------------------------- schedule math
def split_lots(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` lots split in proportion to ``weights`` by cumulative rounding.

    Slice k is ``round(total * W_k / W) - round(total * W_{k-1} / W)`` (W_k the running sum,
    half rounded up), with the last cumulative value pinned to ``total``: every slice is
    >= 0 and they sum to ``total`` exactly. Zero total weight puts everything in the last.
    """
    if total < 0:
        raise ValueError(f"total lots must be >= 0, was {total}")
    if not weights:
        raise ValueError("weights must not be empty")
    if any(not (math.isfinite(w) and w >= 0) for w in weights):
        raise ValueError(f"weights must be finite and >= 0, was {list(weights)}")
    w_total = math.fsum(weights)
    out: list[int] = []
    prev = 0
    running = 0.0
    for i, w in enumerate(weights):
        running += w
        if i == len(weights) - 1 or w_total <= 0:
            cum = total if i == len(weights) - 1 else 0
        else:
            cum = min(total, math.floor(total * (running / w_total) + 0.5))
        cum = max(cum, prev)
        out.append(cum - prev)
        prev = cum
    return out


def twap_lots(total: int, slices: int) -> list[int]:
    """Equal slices of ``total`` lots (they differ by at most one lot and sum to ``total``)."""
    if slices < 1:
        raise ValueError(f"slices must be >= 1, was {slices}")
    return split_lots(total, [1.0] * slices)


def ac_holdings(total: float, slices: int, kappa_t: float) -> list[float]:
    """The Almgren-Chriss holdings x_0..x_n: ``x_k = X sinh(kT (1 - k/n)) / sinh(kT)``.

    ``kappa_t`` = kappa * T >= 0 (kappa = sqrt(lambda sigma^2 / eta), the urgency); 0 is the
    linear (TWAP) limit. For kT >= 300 the ratio is computed as
    ``(e^{-a f} - e^{-a (2 - f)}) / (1 - e^{-2a})`` (a = kT, f = k/n), which does not overflow.
    """
    if slices < 1:
        raise ValueError(f"slices must be >= 1, was {slices}")
    if not (math.isfinite(kappa_t) and kappa_t >= 0):
        raise ValueError(f"kappa_t must be finite and >= 0, was {kappa_t}")
    out = []
    for k in range(slices + 1):
        f = k / slices
        if kappa_t < 1e-9:
            out.append(total * (1.0 - f))
        elif kappa_t < 300.0:
            out.append(total * math.sinh(kappa_t * (1.0 - f)) / math.sinh(kappa_t))
        else:  # sinh overflows past ~710: the same ratio in decaying exponentials
            a = kappa_t
            out.append(
                total * (math.exp(-a * f) - math.exp(-a * (2.0 - f))) / (-math.expm1(-2.0 * a))
            )
    out[0], out[-1] = float(total), 0.0
    return out


def ac_lots(total: int, slices: int, kappa_t: float) -> list[int]:
    """Almgren-Chriss trade sizes in lots: the holdings' decrements, split exactly."""
    x = ac_holdings(float(total), slices, kappa_t)
    return split_lots(total, [max(0.0, x[k] - x[k + 1]) for k in range(slices)])


def vwap_target(total: float, volume_done: float, volume_rate: float, remaining_s: float) -> float:
    """Quantity the adaptive VWAP should have done: ``total * V / (V + rate * remaining)``.

    The volume curve is the market's own: what has traded since the start (``volume_done``)
    against the projection of what will trade until the horizon at the live rate. At the
    horizon (``remaining_s`` = 0) the target is the whole order.
    """
    if remaining_s <= 0:
        return total
    projected = volume_done + max(volume_rate, 0.0) * remaining_s
    if projected <= 0:
        return 0.0
    return total * min(1.0, max(volume_done, 0.0) / projected)


def pov_target(total: float, rate: float, volume_done: float) -> float:
    """Quantity a participation schedule at ``rate`` should have done: ``rate * V``, capped."""
    return min(total, rate * max(volume_done, 0.0))


def new_parent_id(prefix: str = "cfx") -> str:
    """A fresh parent id: ``prefix`` + ``p`` + 10 random hex digits (alphanumeric)."""
    if not prefix.isalnum() or len(prefix) > 12:
        raise ValueError(f"client id prefix must be alphanumeric and <= 12 chars, was {prefix!r}")
    return f"{prefix}p{secrets.token_hex(5)}"


def child_client_id(parent_id: str, index: int) -> str:
    """The client id of child ``index``: ``<parent id>x<index>`` (at most 30 characters)."""
    if index < 0:
        raise ValueError(f"child index must be >= 0, was {index}")
    return f"{parent_id}x{index}"


# ---------------------------------------------------------------------- parent orders
@dataclass(frozen=True, slots=True)
class MarketState:
    """What a parent needs to decide: data time, the touch, and the market's volume.

    ``volume`` is a cumulative traded base volume (any origin: only differences are used);
    ``volume_rate`` the expected base volume per second (the VWAP projection).
    """

    ts_ms: int
    bid: float | None
    ask: float | None
    volume: float = 0.0
    volume_rate: float = 0.0

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2.0


@dataclass(slots=True)
class _Child:
    client_order_id: str
    index: int
    amount: float
    order_id: str | None = None
    filled: float = 0.0
    cost: float = 0.0
    price: float | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class ParentReport:
    """One parent's execution quality.

    ``amount`` and ``filled`` are in the market's amount unit (contracts of ``contract_size``
    base units on a contract market); ``notional`` is the filled quote notional (the
    children's cost: filled x price x contract size), ``average_price`` a price per base unit
    (notional / (filled x contract size)). ``slippage_bps``: the average fill price against
    the arrival mid, signed so that a cost is positive (a buy filled above arrival, a sell
    below). ``participation``: the filled base amount over the market's base volume traded
    while the parent worked.
    """

    parent_id: str
    symbol: str
    side: str
    algo: str
    status: str
    amount: float
    filled: float
    average_price: float | None
    arrival_price: float
    slippage_bps: float | None
    fees: float
    market_volume: float
    participation: float | None
    children: int
    start_ms: int
    end_ms: int
    skipped_at_limit: int = 0
    notional: float = 0.0
    contract_size: float = 1.0

    def format(self) -> str:
        avg = f"{self.average_price:.8g}" if self.average_price is not None else "-"
        slip = f"{self.slippage_bps:+.2f} bp" if self.slippage_bps is not None else "-"
        part = f"{self.participation:.2%}" if self.participation is not None else "-"
        return (
            f"{self.algo:<4} {self.symbol} {self.side} {self.filled:.8g}/{self.amount:.8g} "
            f"{self.status}, arrival {self.arrival_price:.8g}, average {avg}, slippage {slip}, "
            f"participation {part} of {self.market_volume:.8g}, {self.children} children, "
            f"{(self.end_ms - self.start_ms) / 1000:.1f} s, held at the limit "
            f"{self.skipped_at_limit}"
        )


@dataclass(slots=True)
class ParentOrder:
    """A parent order's state (what its ``parent`` journal record and its children say).

    ``amount`` (like each child's amount and fill) is in the market's amount unit: contracts
    of ``contract_size`` base units on a contract market (taken from the market, not
    journaled); ``cost`` is the children's filled quote notional.
    """

    parent_id: str
    symbol: str
    side: str
    amount: float
    algo: Algo
    plan: EntryPlan
    arrival_price: float
    price_limit: float | None
    participation_rate: float
    urgency_value: float
    start_ms: int
    horizon_ms: int
    slices: int
    kappa_t: float
    start_volume: float
    status: str = "working"
    children: list[_Child] = field(default_factory=list)
    next_index: int = 0
    last_step_ms: int = -(1 << 62)
    last_volume: float = 0.0
    protected_amount: float = 0.0
    fees: float = 0.0
    end_ms: int = 0
    skipped_at_limit: int = 0
    last_decision_ms: int = -(1 << 62)
    child_unknown: bool = False  # a child's final state could not be read: reconcile
    contract_size: float = 1.0

    @property
    def end_time_ms(self) -> int:
        return self.start_ms + self.horizon_ms

    @property
    def filled(self) -> float:
        return sum(c.filled for c in self.children)

    @property
    def cost(self) -> float:
        return sum(c.cost for c in self.children)

    @property
    def working_child(self) -> _Child | None:
        return next((c for c in self.children if not c.done), None)

    @property
    def active(self) -> bool:
        return self.status == "working"

    def record(self) -> dict[str, Any]:
        """The ``parent`` journal record's fields."""
        return {
            "algo": self.algo,
            "plan": self.plan.as_dict(),
            "arrival_price": self.arrival_price,
            "price_limit": self.price_limit,
            "participation_rate": self.participation_rate,
            "urgency_value": self.urgency_value,
            "start_ms": self.start_ms,
            "horizon_ms": self.horizon_ms,
            "slices": self.slices,
            "kappa_t": self.kappa_t,
            "start_volume": self.start_volume,
        }

    @classmethod
    def from_record(
        cls, parent_id: str, symbol: str, side: str, amount: float, rec: Mapping[str, Any]
    ) -> ParentOrder:
        limit = rec.get("price_limit")
        algo = str(rec.get("algo"))
        if algo not in ALGOS:
            raise ValueError(f"journaled parent {parent_id} has an unknown algo, was {algo!r}")
        return cls(
            parent_id=parent_id,
            symbol=symbol,
            side=side,
            amount=amount,
            algo=algo,  # checked above
            plan=EntryPlan.from_dict(rec.get("plan") or {}),
            arrival_price=float(rec["arrival_price"]),
            price_limit=float(limit) if limit is not None else None,
            participation_rate=float(rec["participation_rate"]),
            urgency_value=float(rec["urgency_value"]),
            start_ms=int(rec["start_ms"]),
            horizon_ms=int(rec["horizon_ms"]),
            slices=int(rec["slices"]),
            kappa_t=float(rec["kappa_t"]),
            start_volume=float(rec["start_volume"]),
        )

    def report(self, market_volume: float | None = None) -> ParentReport:
        filled, cost, csize = self.filled, self.cost, self.contract_size
        base = filled * csize  # the filled amount in base units
        avg = cost / base if base > 0 else None
        slip = None
        if avg is not None and self.arrival_price > 0:
            sign = 1.0 if self.side == "buy" else -1.0
            slip = sign * (avg - self.arrival_price) / self.arrival_price * 1e4
        vol = (
            max(self.last_volume - self.start_volume, 0.0)
            if market_volume is None
            else (market_volume)
        )
        return ParentReport(
            parent_id=self.parent_id,
            symbol=self.symbol,
            side=self.side,
            algo=self.algo,
            status=self.status,
            amount=self.amount,
            filled=filled,
            average_price=avg,
            arrival_price=self.arrival_price,
            slippage_bps=slip,
            fees=self.fees,
            market_volume=vol,
            participation=base / vol if vol > 0 else None,
            children=len(self.children),
            start_ms=self.start_ms,
            end_ms=self.end_ms or self.last_step_ms,
            skipped_at_limit=self.skipped_at_limit,
            notional=cost,
            contract_size=csize,
        )


class AlgoRunner:
    """Runs the parent orders of one ``Executor`` (it owns the router, ledger and protector
    it is given; the Executor holds the symbol's lock around every call).

    One step of a parent (:meth:`step`): poll its working child and book its fills as entry
    fills of the position (protection re-sized when the position grew); end the parent when
    it is filled, past its horizon (POV) or its position is gone; otherwise decide the next
    child: TWAP/AC slice k is due at ``start + k * T / n`` (sizes from :func:`twap_lots` /
    :func:`ac_lots`, behind-schedule quantity carried to the next slice), VWAP follows
    :func:`vwap_target` under the participation cap ``rate * V`` (until the horizon, when the
    rest is due), POV keeps one post-only limit at the touch for :func:`pov_target` and
    re-pegs it when the touch moves. Aggressive children are limits at the price limit
    (TWAP, AC) or at the touch (VWAP), cancelled right after the venue answers (IOC by
    cancel), the unfilled rest returned to the schedule. No child is priced past the price
    limit: when the touch is beyond it the child waits (``skipped_at_limit``).
    """

    def __init__(
        self,
        exchange: Any,
        journal: OrderJournal,
        router: OrderRouter,
        ledger: FillLedger,
        protector: Protector,
        *,
        config: AlgoConfig,
        client_id_prefix: str,
        clock: Callable[[], int],
        on_done: Callable[[ParentOrder], Awaitable[None]],
    ) -> None:
        self._ex = exchange
        self._journal = journal
        self._router = router
        self._ledger = ledger
        self._protector = protector
        self.config = config
        self._prefix = client_id_prefix
        self._clock = clock
        self._on_done = on_done
        self.parents: dict[str, ParentOrder] = {}
        self.finished: list[ParentOrder] = []

    # ------------------------------------------------------------------ lookup
    def active(self, symbol: str | None = None) -> list[ParentOrder]:
        return [
            p for p in self.parents.values() if p.active and (symbol is None or p.symbol == symbol)
        ]

    def reports(self) -> list[ParentReport]:
        """Reports of the finished parents, then the working ones."""
        return [p.report() for p in [*self.finished, *self.parents.values()]]

    # ------------------------------------------------------------------ create / resume
    def create(
        self,
        symbol: str,
        side: str,
        amount: float,
        plan: EntryPlan,
        strategy: ExecutionStrategy,
        market: MarketState,
    ) -> ParentOrder | Rejection:
        """Journal a new parent (durable before any child is sent) and track it."""
        arrival = market.mid
        if arrival is None:
            return Rejection(
                RejectReason.INVALID_PRICE, "no arrival price: the book has no two sides", symbol
            )
        cfg = self.config
        algo = strategy.algo
        parent = ParentOrder(
            parent_id=new_parent_id(self._prefix),
            symbol=symbol,
            side=side,
            amount=amount,
            algo=algo,
            plan=plan,
            arrival_price=arrival,
            price_limit=(
                strategy.price_limit
                if strategy.price_limit is not None
                else ExecutionAlgorithmConfluence.calculate_price_limit(
                    side, arrival, strategy.price_limit_bps
                )
            ),
            participation_rate=strategy.participation_rate,
            urgency_value=strategy.urgency_value,
            start_ms=market.ts_ms,
            horizon_ms=max(1, round(strategy.time_horizon_s * 1000)),
            slices=cfg.slices,
            kappa_t=cfg.kappa_max * strategy.urgency_value,
            start_volume=market.volume,
            last_volume=market.volume,
            contract_size=contract_size(self._ex.market(symbol)),
        )
        try:
            self._journal.record_parent(
                parent.parent_id, symbol=symbol, side=side, amount=amount, spec=parent.record()
            )
        except JournalError as exc:
            msg = f"parent order not started: it could not be journaled ({exc})"
            log.error(msg)
            return Rejection(RejectReason.ORDER_FAILED, msg, symbol)
        self.parents[parent.parent_id] = parent
        log.info(
            "%s parent %s: %s %g, arrival %g, limit %s, horizon %.1f s",
            symbol,
            parent.parent_id,
            side,
            amount,
            arrival,
            parent.price_limit,
            parent.horizon_ms / 1000,
        )
        return parent

    async def resume(self, symbol: str) -> list[ParentOrder]:
        """Rebuild the open (no ``parent_end``) parents of ``symbol`` from the journal and
        the venue: each child's fills are read back by its journaled order id (the symbol
        was reconciled just before, so none is still working). Returns them."""
        out = []
        for pentry in self._journal.open_parents(symbol):
            if pentry.parent_id in self.parents:
                out.append(self.parents[pentry.parent_id])
                continue
            parent = ParentOrder.from_record(
                pentry.parent_id, pentry.symbol, pentry.side, pentry.amount, pentry.spec
            )
            market = self._ex.market(parent.symbol)
            parent.contract_size = contract_size(market)
            for entry in self._journal.children(pentry.parent_id):
                child = _Child(
                    entry.client_order_id,
                    int((entry.intent.get("context") or {}).get("child", 0)),
                    float(entry.intent.get("amount") or 0.0),
                    order_id=entry.order_id,
                    price=entry.intent.get("price"),
                    done=True,
                )
                if entry.order_id is not None and not entry.never_reached:
                    order = await self._router.fetch_order(entry.order_id, parent.symbol)
                    if order is None:
                        raise Unknown(entry.client_order_id)
                    child.filled = float(order.get("filled") or 0.0)
                    child.cost = _cost(order, parent.contract_size)
                    parent.fees += await self._ledger.fee_in_quote(order)
                parent.children.append(child)
                parent.next_index = max(parent.next_index, child.index + 1)
            parent.last_volume = parent.start_volume
            pos = self._ledger.positions.get(parent.symbol)
            parent.protected_amount = pos.amount if pos is not None else 0.0
            self.parents[parent.parent_id] = parent
            log.warning(
                "%s parent %s resumed: %g of %g filled by %d children",
                parent.symbol,
                parent.parent_id,
                parent.filled,
                parent.amount,
                len(parent.children),
            )
            out.append(parent)
        return out

    # ------------------------------------------------------------------ steps
    async def step(self, parent: ParentOrder, market: MarketState) -> None:
        """One decision of ``parent`` (see the class docstring). Hold the symbol's lock."""
        if not parent.active:
            return
        parent.last_step_ms = market.ts_ms
        parent.last_volume = max(parent.last_volume, market.volume)
        child = parent.working_child
        if child is not None:
            await self._poll(parent, child, market)
        if await self._maybe_end(parent, market):
            return
        if parent.algo == "pov":
            await self._pov(parent, market)
        else:
            await self._aggressive(parent, market)
        await self._maybe_end(parent, market)

    async def stop(self, parent: ParentOrder, status: str) -> None:
        """End ``parent``: cancel its working child (booking what it filled), journal the end."""
        child = parent.working_child
        if child is not None and child.order_id is not None:
            await self._router.cancel(child.order_id, parent.symbol)
            order = await self._router.fetch_order(child.order_id, parent.symbol)
            if order is not None:
                await self._book(parent, child, order)
            if order is None or str(order.get("status")) not in TERMINAL:
                # it may still fill: the symbol is reconciled from the venue before any
                # new order (the child is an entry of the journal like any other)
                parent.child_unknown = True
            child.done = True
        await self._finish(parent, status)

    async def _finish(self, parent: ParentOrder, status: str) -> None:
        parent.status = status
        parent.end_ms = max(parent.last_step_ms, self._clock())
        try:
            self._journal.record_parent_end(parent.parent_id, status)
        except OSError as exc:  # recovery then resumes it and ends it again: safe
            log.error("could not journal the end of parent %s: %s", parent.parent_id, exc)
        self.parents.pop(parent.parent_id, None)
        self.finished.append(parent)
        log.info("parent done: %s", parent.report().format())
        await self._on_done(parent)

    async def _maybe_end(self, parent: ParentOrder, market: MarketState) -> bool:
        if not parent.active:
            return True
        left = parent.amount - parent.filled
        working = parent.working_child
        if working is None and (
            left <= 1e-12 or not self._tradable(parent.symbol, left, parent.arrival_price)
        ):
            # what is left (if anything) is under the venue minimum: nothing more can trade
            done = left <= 0.5 * self._lot(parent.symbol)
            await self._finish(parent, "filled" if done else "filled_to_minimum")
            return True
        if parent.filled > 0 and parent.symbol not in self._ledger.positions:
            await self.stop(parent, "position_closed")
            return True
        if market.ts_ms >= parent.end_time_ms and parent.algo == "pov":
            await self.stop(parent, "expired")
            return True
        # aggressive parents get one sweep at the horizon, then end
        if market.ts_ms >= parent.end_time_ms + self._step_ms() and working is None:
            await self._finish(parent, "expired")
            return True
        return False

    def _step_ms(self) -> int:
        return max(1, round(self.config.step_s * 1000))

    async def _poll(self, parent: ParentOrder, child: _Child, market: MarketState) -> None:
        assert child.order_id is not None
        order = await self._router.fetch_order(child.order_id, parent.symbol)
        if order is None:
            return
        await self._book(parent, child, order)
        if str(order.get("status")) in TERMINAL:
            child.done = True

    async def _book(self, parent: ParentOrder, child: _Child, order: dict[str, Any]) -> None:
        filled = float(order.get("filled") or 0.0)
        if filled > child.filled + 1e-15:
            fee = await self._ledger.fee_in_quote(order)
            parent.fees += fee * (filled - child.filled) / filled
        child.filled = max(child.filled, filled)
        child.cost = max(child.cost, _cost(order, parent.contract_size))
        if str(order.get("status")) in TERMINAL:
            try:
                self._journal.record_final(
                    child.client_order_id, str(order.get("status")), "child order"
                )
            except OSError as exc:
                log.error("journal %s: %s", child.client_order_id, exc)
        pos = await self._ledger.book(order, "entry", parent.plan)
        if pos is not None and pos.amount > parent.protected_amount + 1e-15:
            if parent.protected_amount > 0:
                await self._protector.cancel_native(pos)  # re-sized to the new amount
            await self._protector.protect(pos)
            parent.protected_amount = pos.amount

    async def _send(
        self,
        parent: ParentOrder,
        amount: float,
        price: float,
        params: dict[str, Any],
    ) -> _Child | None:
        symbol = parent.symbol
        try:
            amt = float(self._ex.amount_to_precision(symbol, amount))
            px = float(self._ex.price_to_precision(symbol, price))
        except (ccxt.InvalidOrder, ccxt.ArgumentsRequired):
            return None
        if amt <= 0 or not self._tradable(symbol, amt, px):
            return None
        index = parent.next_index
        parent.next_index += 1
        cid = child_client_id(parent.parent_id, index)
        context = {**parent.plan.as_dict(), "parent": parent.parent_id, "child": index}
        sent = await self._router.submit(
            symbol,
            "limit",
            parent.side,
            amt,
            px,
            params,
            "entry",
            context=context,
            client_order_id=cid,
        )
        child = _Child(cid, index, amt, price=px)
        parent.children.append(child)
        if isinstance(sent, Rejection):
            child.done = True
            if sent.reason is RejectReason.ORDER_STATE_UNKNOWN:
                # the child may exist at the venue: the parent stops, the symbol is reconciled
                await self._finish(parent, "unresolved")
            return None
        child.order_id = str(sent["id"])
        await self._book(parent, child, sent)
        if str(sent.get("status")) in TERMINAL:
            child.done = True
        return child

    def _tradable(self, symbol: str, amount: float, price: float) -> bool:
        market = self._ex.market(symbol)
        limits = market.get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_amount is not None and amount < float(min_amount) - 1e-15:
            return False
        cost = amount * price * contract_size(market)
        return not (min_cost is not None and cost < float(min_cost))

    def _slice_due(self, parent: ParentOrder, now_ms: int) -> int:
        """Number of TWAP/AC slices due by ``now_ms`` (1 at the start, n at n-1 periods)."""
        if now_ms >= parent.end_time_ms:
            return parent.slices
        period = parent.horizon_ms / parent.slices
        return min(parent.slices, int((now_ms - parent.start_ms) // period) + 1)

    def _lot(self, symbol: str) -> float:
        """The amount step: ``precision.amount`` itself in ccxt's TICK_SIZE mode (binance,
        bybit, the paper venue), ``10 ** -digits`` in DECIMAL_PLACES mode."""
        step = (self._ex.market(symbol).get("precision") or {}).get("amount")
        if not isinstance(step, (int, float)) or step <= 0:
            return 1e-8
        if getattr(self._ex, "precisionMode", ccxt.TICK_SIZE) == ccxt.DECIMAL_PLACES:
            return float(10.0**-step)
        return float(step)

    def target(self, parent: ParentOrder, market: MarketState) -> float:
        """The quantity the schedule wants done by ``market.ts_ms``."""
        lot = self._lot(parent.symbol)
        total_lots = round(parent.amount / lot)
        if parent.algo in ("twap", "ac"):
            due = self._slice_due(parent, market.ts_ms)
            lots = (
                twap_lots(total_lots, parent.slices)
                if parent.algo == "twap"
                else ac_lots(total_lots, parent.slices, parent.kappa_t)
            )
            return sum(lots[:due]) * lot
        volume_done = max(market.volume - parent.start_volume, 0.0)  # base units
        # the participation cap in the parent's amount unit (contracts on a contract market)
        cap = pov_target(
            parent.amount, parent.participation_rate, volume_done / parent.contract_size
        )
        remaining_s = max(parent.end_time_ms - market.ts_ms, 0) / 1000.0
        if parent.algo == "vwap":
            target = vwap_target(parent.amount, volume_done, market.volume_rate, remaining_s)
            if remaining_s > 0:  # the participation cap, until the horizon
                target = min(target, cap)
            return target
        return cap

    def _child_size(self, parent: ParentOrder, market: MarketState) -> float:
        """What the schedule is behind by; the whole rest when what would remain after it is
        under the venue minimum (a tail nobody could ever trade)."""
        lot = self._lot(parent.symbol)
        # whole lots: 0.015 - 0.013 is 0.00199999... in floats, which truncates to one lot
        left = round((parent.amount - parent.filled) / lot) * lot
        need = round((min(self.target(parent, market), parent.amount) - parent.filled) / lot) * lot
        if need > 0 and not self._tradable(parent.symbol, left - need, parent.arrival_price):
            return left
        return need

    async def _aggressive(self, parent: ParentOrder, market: MarketState) -> None:
        if parent.working_child is not None:  # a child the venue left open: take it down
            child = parent.working_child
            assert child.order_id is not None
            await self._router.cancel(child.order_id, parent.symbol)
            await self._poll(parent, child, market)
            if not child.done:
                return
        if market.ts_ms - parent.last_decision_ms < self._step_ms() and parent.children:
            return
        need = self._child_size(parent, market)
        if need <= 1e-12:
            return
        touch = market.ask if parent.side == "buy" else market.bid
        if touch is None:
            return
        limit = parent.price_limit
        if limit is not None and not _within(parent.side, touch, limit):
            parent.skipped_at_limit += 1
            return
        # TWAP/AC may walk the book up to the limit; VWAP takes the touch only, until the
        # horizon, when its rest may walk up to the limit too
        sweep = market.ts_ms >= parent.end_time_ms
        px = touch if (parent.algo == "vwap" and not sweep) or limit is None else limit
        parent.last_decision_ms = market.ts_ms
        sent = await self._send(parent, need, px, {})
        if sent is not None and not sent.done:
            assert sent.order_id is not None
            await self._router.cancel(sent.order_id, parent.symbol)  # IOC by cancel
            await self._poll(parent, sent, market)

    async def _pov(self, parent: ParentOrder, market: MarketState) -> None:
        touch = market.bid if parent.side == "buy" else market.ask
        if touch is None:
            return
        if parent.price_limit is not None and not _within(parent.side, touch, parent.price_limit):
            touch = parent.price_limit  # never rest past the limit
        child = parent.working_child
        if child is not None:
            if child.price is not None and abs(child.price - touch) <= 1e-12 * touch:
                return  # still at the touch: keep the queue position
            assert child.order_id is not None
            await self._router.cancel(child.order_id, parent.symbol)  # re-peg
            await self._poll(parent, child, market)
            if not child.done:
                return
        need = self._child_size(parent, market)
        if need <= 1e-12:
            return
        await self._send(parent, need, touch, {"postOnly": True})


def _within(side: str, price: float, limit: float) -> bool:
    return price <= limit + 1e-12 if side == "buy" else price >= limit - 1e-12


def _cost(order: Mapping[str, Any], csize: float) -> float:
    """The order's filled quote notional: ccxt's ``cost`` (filled x average x contractSize on
    a linear contract market, as ``safe_order`` computes it), else that product."""
    cost = order.get("cost")
    if cost is not None:
        return float(cost)
    return float(order.get("filled") or 0.0) * float(order.get("average") or 0.0) * csize


def __dir__() -> list[str]:
    return __all__
