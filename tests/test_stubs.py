"""The stubtest allowlist cannot hide a public name (so a stub missing one fails CI)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluex import _core

ALLOWLIST = Path(__file__).resolve().parents[1] / ".ci" / "stubtest-allowlist.txt"


def entries() -> list[str]:
    lines = ALLOWLIST.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def public_names() -> list[str]:
    """Every public module-level name and class member of every _core submodule."""
    names = []
    for mod_name in dir(_core):
        mod = getattr(_core, mod_name)
        if mod_name.startswith("_") or not hasattr(mod, "__name__"):
            continue
        for name in dir(mod):
            if name.startswith("_"):
                continue
            names.append(f"confluex._core.{mod_name}.{name}")
            obj = getattr(mod, name)
            if isinstance(obj, type):
                names += [f"confluex._core.{mod_name}.{name}.{m}" for m in vars(obj) if m[0] != "_"]
    return names


@pytest.mark.parametrize("entry", entries())
def test_allowlist_entry_hides_no_public_name(entry: str) -> None:
    pattern = re.compile(entry)

    hidden = [name for name in public_names() if pattern.fullmatch(name)]

    assert hidden == [], f"{entry!r} would hide {hidden[:5]} from stubtest"


def test_the_old_blanket_pattern_would_be_caught() -> None:
    blanket = re.compile(r"confluex\._core\.[a-z_]+\.[A-Za-z][A-Za-z0-9]*")

    assert "confluex._core.engine.Engine" in [n for n in public_names() if blanket.fullmatch(n)]
