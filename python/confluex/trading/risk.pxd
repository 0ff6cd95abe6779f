# Cython declarations for risk.py (pure-Python mode): the build compiles risk.py with the
# manager as an extension type with typed attributes. Keep them in step with risk.py.

cdef class RiskManager:
    cdef dict __dict__
    cdef public object limits
    cdef object _clock, _day, _halted_reason, _sent
    cdef double _daily_pnl
    cpdef object _today(self)
    cpdef object _roll(self)
    cpdef bint daily_loss_breached(self)
