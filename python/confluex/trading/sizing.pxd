# Cython declarations for sizing.py (pure-Python mode): the build compiles sizing.py with
# these as extension types with typed attributes. Keep them in step with sizing.py.
from .types cimport OrderIntent, ScoreUpdate, TradeParameters

cdef class SizingManager:
    cdef dict __dict__
    cdef double _base, _long_thr, _max, _min_rel, _scale, _scale_long, _scale_short, _short_thr
    cdef public object market_type, trailing_stop_pct
    cpdef double position_pct(self, object side, double score)

cdef class ExecutorSizing(SizingManager):
    pass

cdef class ConfluencePositionSizing(SizingManager):
    pass
