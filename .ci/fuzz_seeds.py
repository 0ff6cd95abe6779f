"""Writes the seed corpora of the libFuzzer targets (run by .ci/fuzz; stdlib only).

Binance seeds are real messages: the first lines of each stream kind of the hftbacktest spot
and USD-M captures (tests/data), plus the head of the REST snapshot line. Bybit seeds are the
first real messages of the nautilus_trader XRPUSDT sample, plus SYNTHETIC publicTrade and
control messages written from Bybit's documented v5 schema (the sample holds no trades).

    python .ci/fuzz_seeds.py <out dir>   ->  <out>/binance/*, <out>/bybit/*
"""

from __future__ import annotations

import gzip
import sys
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
PER_KIND = 8
MAX_LEN = 4096  # the targets run with -max_len=4096

SYNTHETIC_BYBIT = [
    b'{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":3,"data":[{"T":3,"s":"XRPUSDT",'
    b'"S":"Buy","v":"120","p":"0.5001","L":"PlusTick","i":"0c3dd3a8-b0a2-5ae3-9a4e-3e2f2e5f0c3e",'
    b'"BT":false},{"T":3,"s":"XRPUSDT","S":"Sell","v":"7","p":"0.5000","L":"MinusTick",'
    b'"i":"1c3dd3a8-b0a2-5ae3-9a4e-3e2f2e5f0c3f","BT":false}]}',
    b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":3,"data":[{"i":"2290000000068544429",'
    b'"T":3,"p":"60000.01","v":"0.000123","S":"Buy","s":"BTCUSDT","BT":false}]}',
    b'{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}',
    b'{"success":true,"ret_msg":"","conn_id":"x","req_id":"1","op":"subscribe"}',
]


def binance(out: Path) -> int:
    n = 0
    for rel in (
        "hftbacktest/spot/btcusdt_20240808.gz",
        "hftbacktest/usdm_2024-07/btcusdt_20240718.gz",
    ):
        counts: dict[bytes, int] = {}
        with gzip.open(DATA / rel) as fh:
            for line in fh:
                msg = line.rstrip(b"\n").partition(b" ")[2]
                kind = next(
                    (
                        k
                        for k in (b"@depth", b"@trade", b"@bookTicker", b"lastUpdateId")
                        if k in msg
                    ),
                    b"other",
                )
                if counts.get(kind, 0) >= PER_KIND:
                    continue
                counts[kind] = counts.get(kind, 0) + 1
                (out / f"{Path(rel).parts[1]}_{n:03d}").write_bytes(msg[:MAX_LEN])
                n += 1
                if len(counts) >= 4 and all(v >= PER_KIND for v in counts.values()):
                    break
    return n


def bybit(out: Path) -> int:
    n = 0
    with zipfile.ZipFile(DATA / "nautilus_trader/bybit/xrpusdt-ob500.data.zip") as zf:
        with zf.open(zf.namelist()[0]) as fh:
            for line in fh:
                if n >= 2 * PER_KIND:
                    break
                (out / f"real_{n:03d}").write_bytes(line.rstrip(b"\n")[:MAX_LEN])
                n += 1
    for i, msg in enumerate(SYNTHETIC_BYBIT):
        (out / f"synthetic_{i:03d}").write_bytes(msg)
    return n + len(SYNTHETIC_BYBIT)


def main(root: Path) -> None:
    for name, fn in (("binance", binance), ("bybit", bybit)):
        out = root / name
        out.mkdir(parents=True, exist_ok=True)
        print(f"fuzz seeds: {fn(out)} {name} messages in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
