# Cython declarations for monitor.py (pure-Python mode): the build compiles monitor.py with
# these as extension types with typed attributes (``__dict__`` keeps room for attributes added
# later in the .py). Keep them in step with the attributes monitor.py assigns.
from .types cimport ScoreUpdate, TradeParameters

cdef class MonitorCounters:
    cdef public Py_ssize_t cooldown, hysteresis, invalid_price, low_reliability, neutral
    cdef public Py_ssize_t signals, updates

cdef class _SymbolState:
    cdef public bint long_armed, short_armed
    cdef public object last_signal_ns

cdef class MarketMonitor:
    cdef dict __dict__
    cdef double _balance, _default_risk, _long, _long_stop, _max_risk, _min_rel, _min_risk
    cdef double _rearm_long, _rearm_short, _rr, _short, _short_stop
    cdef object _cooldown_ns
    cdef MonitorCounters _counters
    cdef dict _states
    cdef public object config, thresholds
    cdef TradeParameters _parameters(
        self, str symbol, bint is_long, double price, double score, double reliability
    )
