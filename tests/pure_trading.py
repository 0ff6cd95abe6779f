"""The trading decision path as plain Python, loaded beside the compiled one.

The build compiles ``confluex/trading/{types,monitor,sizing,risk}.py`` with Cython and the
import system then prefers the extension modules. :func:`load_pure` executes the ``.py``
sources themselves as a separate package (``_confluex_pure_trading``) in the same process,
so a test or a benchmark can run both and compare them. The pure modules import each other
(the pure ``monitor`` makes pure ``TradeParameters``); the config module, which is not on the
hot path and not compiled, is shared.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import confluex.trading
import confluex.trading.config

__all__ = ["COMPILED_MODULES", "is_compiled", "load_pure", "source_dir"]

#: The modules the build compiles, in import order.
COMPILED_MODULES = ("types", "monitor", "sizing", "risk")
_PACKAGE = "_confluex_pure_trading"


def source_dir() -> Path:
    """The directory holding the trading package's ``.py`` sources (editable or installed)."""
    for location in confluex.trading.__spec__.submodule_search_locations or []:  # type: ignore[union-attr]
        if (Path(location) / "monitor.py").is_file():
            return Path(location)
    raise FileNotFoundError("no confluex/trading/monitor.py beside the installed package")


def is_compiled(module: types.ModuleType) -> bool:
    """True when ``module`` was loaded from an extension module, not from its ``.py``."""
    return isinstance(module.__spec__.loader, importlib.machinery.ExtensionFileLoader) or str(  # type: ignore[union-attr]
        module.__file__
    ).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def load_pure() -> types.SimpleNamespace:
    """The ``.py`` versions of the compiled modules, as attributes ``types``, ``monitor``,
    ``sizing``, ``risk`` (loaded once per process)."""
    if _PACKAGE not in sys.modules:
        src = source_dir()
        package = types.ModuleType(_PACKAGE)
        package.__path__ = []  # a package, but the finders never look in it
        sys.modules[_PACKAGE] = package
        sys.modules[f"{_PACKAGE}.config"] = confluex.trading.config
        for name in COMPILED_MODULES:
            full = f"{_PACKAGE}.{name}"
            loader = importlib.machinery.SourceFileLoader(full, str(src / f"{name}.py"))
            spec = importlib.util.spec_from_loader(full, loader)
            assert spec is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[full] = module
            loader.exec_module(module)
            setattr(package, name, module)
    package = sys.modules[_PACKAGE]
    return types.SimpleNamespace(**{name: getattr(package, name) for name in COMPILED_MODULES})
