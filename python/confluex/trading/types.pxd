# Cython declarations for types.py (pure-Python mode): the build compiles types.py with these
# as extension types with typed, read-only fields. The .py file stays the definition; keep the
# field lists here in the order and with the types declared there.

cdef class ScoreUpdate:
    cdef readonly str symbol
    cdef readonly object ts_ns
    cdef readonly double score, score_raw, confidence, reliability, price

cdef class TradeParameters:
    cdef readonly str symbol
    cdef readonly object signal
    cdef readonly double score, confidence, reliability, entry_price, stop_loss, take_profit
    cdef readonly double risk_reward, risk_pct, risk_amount, quote_size

cdef class OrderIntent:
    cdef readonly str symbol
    cdef readonly object side
    cdef readonly double quote_size, reference_price
    cdef readonly object stop_loss, take_profit, trailing_stop_pct
    cdef readonly double score
    cdef readonly object ts_ns
    cdef readonly str manager, reason
