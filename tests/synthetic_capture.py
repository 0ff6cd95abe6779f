"""A synthetic Binance spot capture generator (named synthetic: not recorded data).

Lines are ``<ns> <json>`` as in hftbacktest's captures: a REST depth snapshot first, then
combined-stream depth diffs with contiguous update ids, trades and bookTickers, around a fixed
mid so the book never crosses. Used where a test or benchmark needs a capture larger than the
real ones (memory bounds of the streaming replay).
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path


def write_synthetic_capture(path: Path, depth_messages: int, seed: int = 3) -> int:
    """Writes the capture (gzip when path ends in .gz); returns its decompressed size."""
    rng = random.Random(seed)
    mid = 6_000_000  # ticks of 0.01
    uid = 1_000_000
    ts = 1_723_161_253_000_000_000
    size = 0
    fh = gzip.open(path, "wb", compresslevel=1) if path.suffix == ".gz" else path.open("wb")
    with fh:

        def px(t: int) -> str:
            return f"{t // 100}.{t % 100:02d}"

        def write(line: str) -> None:
            nonlocal size
            b = line.encode()
            size += len(b)
            fh.write(b)

        bids = ",".join(f'["{px(mid - i)}","1.00000000"]' for i in range(1, 1001))
        asks = ",".join(f'["{px(mid + i)}","1.00000000"]' for i in range(1, 1001))
        write(f'{ts} {{"lastUpdateId":{uid},"bids":[{bids}],"asks":[{asks}]}}\n')
        # Pools of level strings drawn from (formatting each level anew would dominate).
        sizes = [f"{q / 100:.8f}" for q in range(0, 301)]
        bid_pool = [
            f'["{px(mid - rng.randint(1, 3000))}","{rng.choice(sizes)}"]' for _ in range(4096)
        ]
        ask_pool = [
            f'["{px(mid + rng.randint(1, 3000))}","{rng.choice(sizes)}"]' for _ in range(4096)
        ]
        trade_id = 5_000_000
        for _ in range(depth_messages):
            ts += rng.randint(1_000_000, 100_000_000)
            first = uid + 1
            uid += rng.randint(1, 20)
            b = ",".join(rng.choices(bid_pool, k=rng.randint(1, 12)))
            a = ",".join(rng.choices(ask_pool, k=rng.randint(1, 12)))
            ms = ts // 1_000_000
            write(
                f'{ts} {{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":{ms},'
                f'"s":"BTCUSDT","U":{first},"u":{uid},"b":[{b}],"a":[{a}]}}}}\n'
            )
            for _ in range(rng.randint(0, 3)):
                trade_id += 1
                side = "true" if rng.random() < 0.5 else "false"
                t_px = px(mid + rng.choice((-1, 1)) * rng.randint(1, 5))
                write(
                    f'{ts} {{"stream":"btcusdt@trade","data":{{"e":"trade","E":{ms},'
                    f'"s":"BTCUSDT","t":{trade_id},"p":"{t_px}","q":"0.01000000","T":{ms},'
                    f'"m":{side},"M":true}}}}\n'
                )
    return size
