"""Griffe extension: docstrings of the compiled core for the API reference.

Signatures and types of ``confluex._core`` come from the hand-written stubs (``.pyi``), which
carry no docstrings; the descriptions are written once, at registration in
``csrc/bindings/*.cpp`` (``R"pbdoc(...)pbdoc"``). This extension copies each runtime
``__doc__`` onto the stub object that has none, dropping the signature lines pybind11 puts
first (the stub's signature is the one shown).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import griffe

_SIGNATURE = re.compile(r"^\s*(?:\d+\.\s+)?[A-Za-z_][\w.]*\(.*\)(?:\s*->\s*.+)?$")


def _clean(doc: str) -> str:
    lines = doc.strip("\n").splitlines()
    keep = [
        line
        for line in lines
        if not _SIGNATURE.match(line) and line.strip() != "Overloaded function."
    ]
    return "\n".join(keep).strip()


def _runtime(path: str) -> Any:
    module_path, _, rest = path.partition("._core.")
    mod_name, *attrs = rest.split(".")
    obj: Any = importlib.import_module(f"{module_path}._core.{mod_name}")
    for attr in attrs:
        obj = getattr(obj, attr, None)
        if obj is None:
            return None
    return obj


class PybindDocstrings(griffe.Extension):
    """Fills missing docstrings of ``confluex._core`` objects from the runtime objects."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path != "confluex" or "_core" not in pkg.members:
            return
        self._fill(pkg["_core"])

    def _fill(self, obj: griffe.Object) -> None:
        for member in obj.members.values():
            if member.is_alias or (member.name.startswith("_") and member.name != "__init__"):
                continue
            if member.docstring is None and not member.is_module:
                runtime = _runtime(member.path)
                doc = getattr(runtime, "__doc__", None) if runtime is not None else None
                if isinstance(doc, str) and not isinstance(runtime, (int, float, str, tuple)):
                    text = _clean(doc)
                    generic = ("int(", "float(", "str(", "Initialize self", "Create and return")
                    if text and not text.startswith(generic):
                        member.docstring = griffe.Docstring(text, parent=member)
            if member.is_module or member.is_class:
                self._fill(member)
