"""The package as pip sees it: one version source, declared dependencies that match the imports,
and matplotlib as the optional `confluex[plot]` extra."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import confluex
import pytest
from confluex.cli import main
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "confluex"


def third_party_imports() -> set[str]:
    """Top-level names of every non-stdlib module the package imports (anywhere in a module)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "confluex"}


def declared(extra: str | None = None) -> set[str]:
    """Normalised distribution names the installed confluex requires (or its `extra` adds)."""
    out = set()
    for spec in importlib.metadata.requires("confluex") or []:
        req = Requirement(spec)
        m = re.search(r'extra == "([^"]+)"', str(req.marker or ""))
        if (m.group(1) if m else None) == extra:
            out.add(re.sub(r"[-_.]+", "-", req.name).lower())
    return out


def distribution_of(module: str) -> set[str]:
    dists = importlib.metadata.packages_distributions().get(module, [])
    return {re.sub(r"[-_.]+", "-", d).lower() for d in dists}


def test_version_has_one_source() -> None:
    # pyproject.toml reads __version__ from confluex/__init__.py (dynamic version), so the
    # installed metadata and the attribute are the same string.
    assert confluex.__version__ == importlib.metadata.version("confluex")
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.dev\d+)?", confluex.__version__)
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text
    assert re.search(r"(?m)^version\s*=", text) is None


def test_every_runtime_dependency_is_imported_and_every_import_declared() -> None:
    runtime = declared()
    optional = declared("plot") | declared("redis") | declared("research")
    imported = third_party_imports()

    providers = {m: distribution_of(m) for m in imported}
    missing = {m for m, dists in providers.items() if dists and not dists & (runtime | optional)}
    unused = runtime - {d for dists in providers.values() for d in dists}

    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    # tomli is the Python 3.10 backport of tomllib (imported under a version check).
    assert unused <= {"tomli"}, f"declared but never imported: {sorted(unused)}"
    assert "matplotlib" not in runtime and "matplotlib" in optional
    assert "ray" not in runtime and "ray" in declared("research")


def test_replay_out_without_matplotlib_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError

    code = main(["replay", "--no-progress", "--out", str(tmp_path / "out")])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert "matplotlib" in captured.err and "pip install 'confluex[plot]'" in captured.err
    assert not (tmp_path / "out").exists()  # refused before any work, nothing half-written


def test_readme_links_work_on_pypi() -> None:
    # PyPI renders the README without the repository around it: links must be absolute, and
    # those into the (placeholder) repository must name files that exist.
    repo = "https://github.com/confluex/confluex/blob/main/"
    targets = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())

    assert targets
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert not relative, f"relative links break on PyPI: {relative}"
    for t in targets:
        if t.startswith(repo):
            assert (ROOT / t.removeprefix(repo).split("#")[0]).is_file(), t
