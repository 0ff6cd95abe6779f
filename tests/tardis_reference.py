"""The row-by-row Tardis CSV ingest (``csv.DictReader`` over the whole file), kept as the
reference the streaming reader in ``confluex.feeds.files`` must agree with, and as the
"before" of its benchmark. It reads the whole file into memory: a 1M-row file took 23 s and
1.28 GB."""

from __future__ import annotations

import csv
import io

import numpy as np
from confluex import Engine
from confluex._core.types import (
    FLAG_END_OF_MESSAGE,
    FLAG_SNAPSHOT,
    NO_UPDATE_ID,
    book_level_event_dtype,
    trade_event_dtype,
)


def reference_ingest(engine: Engine, blob: bytes, routes: dict[str, int], book: bool) -> int:
    """Ingests a whole Tardis incremental_book_L2 (``book``) or trades CSV; returns rows/msgs."""
    rows = list(csv.DictReader(io.StringIO(blob.decode())))
    if not book:
        out = []
        for i, r in enumerate(rows):
            sym = routes.get(r["symbol"])
            if sym is None:
                continue
            inst = engine.instrument(sym)
            side = {"buy": 0, "sell": 1}.get(r["side"], 2)
            out.append(
                (
                    int(r["timestamp"]) * 1000,
                    inst.price_to_ticks(r["price"]),
                    inst.qty_to_lots(r["amount"]),
                    i,
                    sym,
                    side,
                    0,
                    0,
                )
            )
        engine.ingest_trades(np.array(out, dtype=trade_event_dtype))
        return len(rows)
    records: list[tuple[int, ...]] = []
    update_id = 0
    groups: dict[tuple[str, str, bool], list[dict[str, str]]] = {}
    order: list[tuple[str, str, bool]] = []
    for r in rows:
        key = (r["symbol"], r["timestamp"], r["is_snapshot"] == "true")
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    for key in order:
        name, ts, snap = key
        sym = routes.get(name)
        if sym is None:
            continue
        inst = engine.instrument(sym)
        update_id += 1
        group = groups[key]
        for j, r in enumerate(group):
            flags = (FLAG_SNAPSHOT if snap else 0) | (
                FLAG_END_OF_MESSAGE if j == len(group) - 1 else 0
            )
            records.append(
                (
                    int(ts) * 1000,
                    inst.price_to_ticks(r["price"]),
                    inst.qty_to_lots(r["amount"]),
                    update_id,
                    NO_UPDATE_ID,
                    sym,
                    0 if r["side"] == "bid" else 1,
                    flags,
                    0,
                )
            )
    engine.ingest_book(np.array(records, dtype=book_level_event_dtype))
    return len(order)


def write_synthetic_book_csv(path: str, rows: int, seed: int = 7) -> None:
    """A synthetic Tardis incremental_book_L2 CSV (deribit BTC-PERPETUAL, tick 0.5, lot 10):
    a 200-level snapshot, then messages of 1-6 level updates around a fixed mid."""
    import random

    rng = random.Random(seed)
    ts = 1_585_699_200_000_000
    mid = 24_000  # in half-dollar ticks
    with open(path, "w") as fh:
        fh.write("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n")
        n = 0
        snap = True
        while n < rows:
            k = 200 if snap else rng.randint(1, 6)
            ts += rng.randint(100, 5000)
            for j in range(k):
                side = "bid" if j % 2 == 0 else "ask"
                off = j // 2 + 1 if snap else rng.randint(1, 60)
                px = (mid - off) / 2 if side == "bid" else (mid + off) / 2
                amt = 0 if (not snap and rng.random() < 0.3) else rng.randint(1, 5000) * 10
                flag = "true" if snap else "false"
                fh.write(f"deribit,BTC-PERPETUAL,{ts},{ts + 150},{flag},{side},{px:g},{amt}\n")
                n += 1
            snap = False
