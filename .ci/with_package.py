"""Runs Python with the confluex package staged in a directory (the sanitizer build) first.

    python .ci/with_package.py <dir holding confluex/> -m pytest ...

An editable install of the checkout hooks the import system ahead of sys.path; its finder is
removed so that ``import confluex`` really loads the staged package (checked).
"""

from __future__ import annotations

import os
import runpy
import sys

pkg = os.path.abspath(sys.argv[1])
sys.meta_path[:] = [
    f
    for f in sys.meta_path
    if "editable" not in type(f).__module__.lower() and "scikit" not in type(f).__module__.lower()
]
sys.path.insert(0, pkg)
import confluex  # noqa: E402

if not confluex.__file__ or not confluex.__file__.startswith(pkg):
    sys.exit(f"with_package: confluex came from {confluex.__file__}, not {pkg}")
args = sys.argv[2:]
if args[:1] == ["-m"]:
    sys.argv = args[1:]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")
