"""Reader for raw exchange captures in the ``<local_ns> <raw json>`` line format.

This is the simple Python loader used by tests and reference benchmarks; the native parser
(C++, from raw bytes) is the fast path.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CaptureRecord", "iter_capture"]

CaptureRecord = tuple[int, str | None, dict[str, Any]]


def iter_capture(path: str | Path) -> Iterator[CaptureRecord]:
    """Yield ``(local_ns, stream, data)`` for every line of a capture file.

    ``stream`` is the combined-stream name (``"btcusdt@depth@100ms"``) or ``None`` for lines
    that are not stream messages (the REST depth snapshot). ``data`` is the decoded payload.
    Gzip files are recognised by their ``.gz`` suffix.
    """
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            ts_raw, sep, raw = line.partition(b" ")
            if not sep:
                raise ValueError(f"{p}:{lineno}: expected '<ns> <json>', was {line[:80]!r}")
            msg = json.loads(raw)
            if isinstance(msg, dict) and "stream" in msg and "data" in msg:
                yield int(ts_raw), str(msg["stream"]), msg["data"]
            else:
                yield int(ts_raw), None, msg


def __dir__() -> list[str]:
    return __all__
