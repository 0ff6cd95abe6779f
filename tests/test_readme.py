"""The README's usage example runs as written."""

from __future__ import annotations

import re
from pathlib import Path


def test_readme_usage_example_runs() -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## Usage\n\n```python\n(.*?)```", text, re.S)
    assert code is not None
    namespace: dict[str, object] = {}

    exec(compile(code.group(1), "README.md", "exec"), namespace)

    result = namespace["r"]
    assert 0.0 <= result.score <= 100.0  # type: ignore[attr-defined]
    assert type(namespace["params"]).__name__ in ("TradeParameters", "Rejection")
