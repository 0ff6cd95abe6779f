import numpy as np
import numpy.typing as npt

from . import _pybind11_type
from .aggregator import ComponentScore

reading_dtype: np.dtype[np.void]
SUB_SCORE_KEYS: tuple[str, ...]
EVENTS: dict[str, int]

def reading_layout() -> tuple[int, dict[str, int]]: ...

class StructureConfig(metaclass=_pybind11_type):
    swing_bars: int
    ob_body: float
    ob_range_mult: float
    ob_volume_mult: float
    range_min_atr: float
    sweep_min: float
    event_decay_bars: int
    weights: dict[str, float]
    def __init__(
        self,
        *,
        swing_bars: int = 3,
        ob_body: float = 0.005,
        ob_range_mult: float = 1.5,
        ob_volume_mult: float = 1.5,
        range_min_atr: float = 2.0,
        sweep_min: float = 0.0,
        event_decay_bars: int = 10,
        weights: dict[str, float] = ...,
    ) -> None: ...
    def validate(self) -> None: ...

class StructureReading(metaclass=_pybind11_type):
    @property
    def open_ns(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def sub(self) -> dict[str, float]: ...
    @property
    def swing_high(self) -> float: ...
    @property
    def swing_low(self) -> float: ...
    @property
    def support(self) -> float: ...
    @property
    def resistance(self) -> float: ...
    @property
    def range_high(self) -> float: ...
    @property
    def range_low(self) -> float: ...
    @property
    def events(self) -> int: ...
    @property
    def trend(self) -> int: ...
    @property
    def has_data(self) -> bool: ...

def combine_timeframes(
    readings: list[StructureReading], tf_weights: list[float], config: StructureConfig = ...
) -> ComponentScore: ...

class PriceStructure(metaclass=_pybind11_type):
    def __init__(self, config: StructureConfig = ...) -> None: ...
    def update(
        self, open_ns: int, open: float, high: float, low: float, close: float, volume: float
    ) -> StructureReading: ...
    def update_many(
        self, open_ns: npt.NDArray[np.int64], ohlcv: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.void]: ...
    def component(self) -> ComponentScore: ...
    @property
    def last(self) -> StructureReading: ...
    @property
    def bars(self) -> int: ...
    @property
    def config(self) -> StructureConfig: ...
