"""Check what the sdist and the wheel contain.

Usage: python .ci/check_dist.py SDIST.tar.gz WHEEL.whl

- The sdist tests itself: it holds the sources, the build files, the licence, the test suite
  and every file of tests/data that git tracks (the real captures and each source's notice).
- The wheel holds only the package: confluex/ (code, stubs, py.typed, the compiled core, the
  Cython-compiled decision path beside its .py sources, the presets, the bundled sample with its hftbacktest licence) and its .dist-info (with LICENSE
  and the sample's licence as licence files, version = confluex.__version__, matplotlib only
  under the `plot` extra). No tests, no test data, no C++ sources, no caches.

Prints the wheel's file count and size; exit 1 with the list of problems, 2 on bad usage.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "confluex/data/binance_spot_btcusdt_20240808_3min.gz"
SAMPLE_LICENCE = "confluex/data/LICENSE-hftbacktest.txt"
JUNK = re.compile(
    r"(^|/)(__pycache__|\.pytest_cache|\.hypothesis|\.benchmarks|\.git|build)(/|$)|\.pyc$"
)


def tracked(prefix: str) -> list[str]:
    """Files git tracks under `prefix` (falls back to the files on disk outside a checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", prefix],
            capture_output=True,
            check=True,
        ).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if not files:
        files = [str(p.relative_to(ROOT)) for p in (ROOT / prefix).rglob("*") if p.is_file()]
    return files


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and "/" in m.name]
    have = set(names)
    problems = []
    required = [
        "pyproject.toml",
        "CMakeLists.txt",
        "LICENSE",
        "README.md",
        "python/confluex/__init__.py",
        "python/confluex/" + SAMPLE.split("/", 1)[1],
        "python/confluex/" + SAMPLE_LICENCE.split("/", 1)[1],
        "tests/conftest.py",
        "tests/data/README.md",
        *tracked("tests/data"),
        *tracked("csrc"),
    ]
    problems += [f"sdist: missing {f}" for f in required if f not in have]
    problems += [f"sdist: should not contain {f}" for f in names if JUNK.search(f)]
    data = [f for f in names if f.startswith("tests/data/")]
    print(f"check_dist: sdist {path.name}: {len(names)} files, {len(data)} in tests/data")
    return problems


def check_wheel(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        size = sum(i.file_size for i in whl.infolist())
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        metadata = whl.read(meta_name).decode() if meta_name else ""
        init = whl.read("confluex/__init__.py").decode() if "confluex/__init__.py" in names else ""
    problems = []
    dist_info = meta_name.rsplit("/", 1)[0] if meta_name else "?.dist-info"
    for n in names:
        if not (n.startswith("confluex/") or n.startswith(dist_info + "/")):
            problems.append(f"wheel: unexpected file {n}")
        if JUNK.search(n) or n.endswith((".cpp", ".hpp")) or "tests/" in n:
            problems.append(f"wheel: should not contain {n}")
    required = [
        "confluex/__init__.py",
        "confluex/py.typed",
        "confluex/_core/__init__.pyi",
        SAMPLE,
        SAMPLE_LICENCE,
        f"{dist_info}/licenses/LICENSE",
        f"{dist_info}/licenses/python/confluex/data/LICENSE-hftbacktest.txt",
        f"{dist_info}/entry_points.txt",
    ]
    problems += [f"wheel: missing {f}" for f in required if f not in names]
    if not any(re.fullmatch(r"confluex/_core\.[^/]+\.(so|pyd)", n) for n in names):
        problems.append("wheel: missing the compiled core confluex/_core.*.so")
    # The Cython-compiled decision path (CMake CONFLUEX_CYTHON, ON by default), each next to
    # its .py source; the generated C stays in the build tree.
    for mod in ("types", "monitor", "sizing", "risk"):
        stem = f"confluex/trading/{mod}"
        if f"{stem}.py" not in names:
            problems.append(f"wheel: missing {stem}.py")
        if not any(re.fullmatch(rf"{stem}\.[^/]+\.(so|pyd)", n) for n in names):
            problems.append(f"wheel: missing the Cython-compiled {stem}.*.so")
        if f"{stem}.c" in names:
            problems.append(f"wheel: should not contain {stem}.c")
    version = re.search(r'^__version__ = "([^"]+)"', init, re.M)
    meta_version = re.search(r"^Version: (.+)$", metadata, re.M)
    if not version or not meta_version or version.group(1) != meta_version.group(1).strip():
        problems.append("wheel: METADATA Version differs from confluex.__version__")
    if not re.search(r"^License-Expression: MIT$", metadata, re.M):
        problems.append("wheel: METADATA has no License-Expression: MIT")
    for req in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M):
        if req.lower().startswith("matplotlib") and "extra ==" not in req:
            problems.append(f"wheel: matplotlib must be an extra, was {req!r}")
    if not re.search(r"^Provides-Extra: plot$", metadata, re.M):
        problems.append("wheel: no `plot` extra")
    print(f"check_dist: wheel {path.name}: {len(names)} files, {size / 1e6:.2f} MB unpacked, "
          f"{path.stat().st_size / 1e6:.2f} MB on disk")  # fmt: skip
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].endswith(".tar.gz") or not argv[1].endswith(".whl"):
        print(__doc__, file=sys.stderr)
        return 2
    problems = check_sdist(Path(argv[0])) + check_wheel(Path(argv[1]))
    for p in problems:
        print(f"check_dist: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
