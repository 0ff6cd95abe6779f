"""Signal kernels: order-book imbalance, microprice, spread, depth ratio, OFI and the
component scores built from them and from trade flow.

Each kernel takes the best levels of a book as (n, 2) int64 arrays ``[px_ticks, qty_lots]``
(best first; ``Engine.top`` and ``OrderBook.top`` return them) and raises ``InvalidEvent`` on a
wrong shape or a negative size. The :class:`Engine` runs them for you; they are public for
research and for checking a score by hand.
"""

from __future__ import annotations

from ._core.signals import (
    BOOK_SUB_NAMES,
    LIQUIDITY_BAND_WEIGHTS,
    LIQUIDITY_BANDS_PCT,
    OfiWindow,
    OrderbookSignalsConfig,
    absorption_exhaustion,
    compute_orderbook_component,
    depth_ratio,
    depth_weighted_imbalance,
    imbalance,
    liquidity_balance,
    logistic_score,
    microprice,
    microprice_offset,
    mid,
    spread_bps,
    spread_ticks,
)
from ._core.trade_flow import (
    FlowExtrasConfig,
    StackedImbalance,
    StackedImbalanceConfig,
    StackedImbalanceResult,
    activity_multiplier,
    compute_orderflow_component,
    compute_volume_component,
    cvd_divergence_score,
    oi_quadrant_score,
    relative_activity,
)

__all__ = [
    "BOOK_SUB_NAMES",
    "LIQUIDITY_BANDS_PCT",
    "LIQUIDITY_BAND_WEIGHTS",
    "FlowExtrasConfig",
    "OfiWindow",
    "OrderbookSignalsConfig",
    "StackedImbalance",
    "StackedImbalanceConfig",
    "StackedImbalanceResult",
    "absorption_exhaustion",
    "activity_multiplier",
    "compute_orderbook_component",
    "compute_orderflow_component",
    "compute_volume_component",
    "cvd_divergence_score",
    "depth_ratio",
    "depth_weighted_imbalance",
    "imbalance",
    "liquidity_balance",
    "logistic_score",
    "microprice",
    "microprice_offset",
    "mid",
    "oi_quadrant_score",
    "relative_activity",
    "spread_bps",
    "spread_ticks",
]


def __dir__() -> list[str]:
    return __all__
