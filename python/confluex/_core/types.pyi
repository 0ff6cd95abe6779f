from typing import Any

import numpy as np

level_dtype: np.dtype[np.void]
book_level_event_dtype: np.dtype[np.void]
trade_event_dtype: np.dtype[np.void]
NO_PRICE: int
NO_UPDATE_ID: int
FLAG_END_OF_MESSAGE: int
FLAG_SNAPSHOT: int
FLAG_NO_LEVEL: int

def cpp_layouts() -> dict[str, dict[str, Any]]: ...
