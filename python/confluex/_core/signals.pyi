from typing import Any

import numpy as np
import numpy.typing as npt

from . import _pybind11_type
from .aggregator import ComponentScore

_Levels = npt.NDArray[np.int64]

BOOK_SUB_NAMES: tuple[str, ...]

def imbalance(bids: _Levels, asks: _Levels, n: int) -> float: ...
def depth_weighted_imbalance(bids: _Levels, asks: _Levels, n: int, decay: float) -> float: ...
def microprice(bids: _Levels, asks: _Levels) -> float | None: ...
def microprice_offset(bids: _Levels, asks: _Levels) -> float | None: ...
def mid(bids: _Levels, asks: _Levels) -> float | None: ...
def spread_ticks(bids: _Levels, asks: _Levels) -> float | None: ...
def spread_bps(bids: _Levels, asks: _Levels) -> float | None: ...
def depth_ratio(bids: _Levels, asks: _Levels, band_pct: float) -> float | None: ...
def logistic_score(x: float, sensitivity: float) -> float: ...

class OfiWindow(metaclass=_pybind11_type):
    def __init__(self, window_ns: int = 5000000000, capacity: int = 4096) -> None: ...
    def on_quote(
        self,
        ts_ns: int,
        best_bid: tuple[int, int] | None,
        best_ask: tuple[int, int] | None,
    ) -> None: ...
    def advance(self, now_ns: int) -> None: ...
    def value(self) -> float: ...
    def normalized(self) -> float: ...
    def tstat(self) -> float: ...
    def coverage(self) -> float: ...
    def events(self) -> int: ...
    def size(self) -> int: ...
    def evicted_early(self) -> int: ...
    def reset(self) -> None: ...
    @property
    def window_ns(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def now_ns(self) -> int: ...

class OrderbookSignalsConfig(metaclass=_pybind11_type):
    def __init__(
        self,
        *,
        imbalance_sensitivity: float = 0.15,
        dwi_levels: int = 10,
        dwi_decay: float = 0.3,
        depth_band_pct: float = 0.1,
        ofi_sensitivity: float = 0.5,
        weight_oir_5: float = 0.15,
        weight_oir_10: float = 0.15,
        weight_oir_25: float = 0.1,
        weight_dwi: float = 0.2,
        weight_microprice: float = 0.1,
        weight_ofi: float = 0.2,
        weight_depth_ratio: float = 0.1,
        weight_absorption_exhaustion: float = 0.08,
        weight_liquidity: float = 0.12,
        ofi_tstat: bool = False,
        warmup: bool = False,
    ) -> None: ...
    imbalance_sensitivity: float
    dwi_levels: int
    dwi_decay: float
    depth_band_pct: float
    ofi_sensitivity: float
    weight_oir_5: float
    weight_oir_10: float
    weight_oir_25: float
    weight_dwi: float
    weight_microprice: float
    weight_ofi: float
    weight_depth_ratio: float
    weight_absorption_exhaustion: float
    weight_liquidity: float
    ofi_tstat: bool
    warmup: bool
    @property
    def weights(self) -> dict[str, float]: ...

def compute_orderbook_component(
    bids: _Levels,
    asks: _Levels,
    depth_ratio_raw: float | None,
    ofi: OfiWindow,
    cfg: OrderbookSignalsConfig,
    *,
    absorption_raw: float | None = None,
    liquidity_raw: float | None = None,
) -> ComponentScore: ...
def absorption_exhaustion(bids: _Levels, asks: _Levels, n: int = 25) -> float | None: ...
def liquidity_balance(
    bid_depth: tuple[float, float, float, float, float] | list[float],
    ask_depth: tuple[float, float, float, float, float] | list[float],
) -> float: ...

LIQUIDITY_BANDS_PCT: tuple[float, ...]
LIQUIDITY_BAND_WEIGHTS: tuple[float, ...]
