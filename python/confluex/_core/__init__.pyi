from . import aggregator as aggregator
from . import bars as bars
from . import engine as engine
from . import exceptions as exceptions
from . import feed as feed
from . import hft as hft
from . import indicators as indicators
from . import instrument as instrument
from . import mm as mm
from . import order_book as order_book
from . import pipeline as pipeline
from . import sentiment as sentiment
from . import session as session
from . import signals as signals
from . import spsc_ring as spsc_ring
from . import structure as structure
from . import trade_flow as trade_flow
from . import types as types

class _pybind11_type(type):
    """pybind11's metaclass of every bound class (``pybind11_builtins.pybind11_type``)."""
