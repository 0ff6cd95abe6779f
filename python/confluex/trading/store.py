"""Client-order-id journal: every order is written to disk before it is sent.

The journal is an append-only JSON-lines file, flushed and ``fsync``-ed on every record, so
that after a crash, a timeout or a network error the Executor knows which client order ids
it may have sent and looks each one up at the venue before sending anything again.

Records (one JSON object per line, ``event`` names the kind):

- ``intent``: ``client_order_id, symbol, side, type, amount, price, purpose, ts_ms`` -
  written *before* the request leaves the process;
- ``ack``: ``client_order_id, order_id, status`` - the venue confirmed the order;
- ``final``: ``client_order_id, status, reason`` - resolved (filled, cancelled, rejected,
  or ``absent``: the venue confirmed it never got the order).

``unresolved()`` lists intents with no ``ack`` and no ``final`` record: the ids that must be
looked up at the venue on restart. A torn last line (crash mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JournalEntry", "OrderJournal", "new_client_order_id"]

_MAX_CLIENT_ID = 32  # Binance allows 36, Bybit orderLinkId 36, OKX clOrdId 32


def new_client_order_id(prefix: str = "cfx") -> str:
    """A fresh client order id: ``prefix`` + 20 random hex digits (alphanumeric only).

    Alphanumeric because OKX rejects ``-`` and ``_`` in ``clOrdId``; at most 32 characters.
    """
    if not prefix.isalnum() or len(prefix) > _MAX_CLIENT_ID - 20:
        raise ValueError(f"client id prefix must be alphanumeric and <= 12 chars, was {prefix!r}")
    return prefix + secrets.token_hex(10)


@dataclass(slots=True)
class JournalEntry:
    """What the journal knows about one client order id."""

    client_order_id: str
    intent: dict[str, Any]
    order_id: str | None = None
    status: str | None = None
    final: bool = False


class OrderJournal:
    """Append-only, fsync-ed JSON-lines journal of order intents and their outcomes.

    Thread-safe; each record is one ``write`` + ``flush`` + ``os.fsync``. ``path=None`` keeps
    the journal in memory only (tests and paper runs that do not need crash recovery).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None, *, clock: Callable[[], int] | None = None
    ) -> None:
        self._path = Path(path) if path is not None else None
        self._clock: Callable[[], int] = clock or (lambda: int(time.time() * 1000))
        self._lock = threading.Lock()
        self._entries: dict[str, JournalEntry] = {}
        self._fh: Any = None
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            if self._path.exists():
                self._replay(self._path)
            self._fh = open(self._path, "a", encoding="utf-8")  # kept open: append per record

    def __repr__(self) -> str:
        return f"OrderJournal(path={str(self._path)!r}, entries={len(self._entries)})"

    def _replay(self, path: Path) -> None:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn final line from a crash mid-write
                self._apply(rec)

    def _apply(self, rec: dict[str, Any]) -> None:
        cid = str(rec.get("client_order_id"))
        event = rec.get("event")
        if event == "intent":
            self._entries[cid] = JournalEntry(cid, rec)
            return
        entry = self._entries.get(cid)
        if entry is None:
            return
        if event == "ack":
            entry.order_id = rec.get("order_id")
            entry.status = rec.get("status")
        elif event == "final":
            entry.status = rec.get("status")
            entry.final = True

    def _write(self, rec: dict[str, Any]) -> None:
        rec.setdefault("ts_ms", self._clock())
        with self._lock:
            self._apply(rec)
            if self._fh is not None:
                self._fh.write(json.dumps(rec, separators=(",", ":"), sort_keys=True) + "\n")
                self._fh.flush()
                os.fsync(self._fh.fileno())

    def record_intent(
        self,
        client_order_id: str,
        *,
        symbol: str,
        side: str,
        type: str,
        amount: float,
        price: float | None,
        purpose: str,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Persist an order before it is sent (durable when this returns)."""
        if client_order_id in self._entries:
            raise ValueError(f"client order id already journaled, was {client_order_id!r}")
        self._write(
            {
                "event": "intent",
                "client_order_id": client_order_id,
                "symbol": symbol,
                "side": side,
                "type": type,
                "amount": amount,
                "price": price,
                "purpose": purpose,
                "params": params or {},
            }
        )

    def record_ack(self, client_order_id: str, order_id: str, status: str) -> None:
        """The venue confirmed the order under ``order_id``."""
        self._write(
            {
                "event": "ack",
                "client_order_id": client_order_id,
                "order_id": order_id,
                "status": status,
            }
        )

    def record_final(self, client_order_id: str, status: str, reason: str = "") -> None:
        """The order is resolved (filled / canceled / rejected / absent)."""
        self._write(
            {
                "event": "final",
                "client_order_id": client_order_id,
                "status": status,
                "reason": reason,
            }
        )

    def get(self, client_order_id: str) -> JournalEntry | None:
        """The entry of ``client_order_id`` or None."""
        return self._entries.get(client_order_id)

    def unresolved(self) -> list[JournalEntry]:
        """Intents with no ack and no final record: look these up before trading again."""
        return [e for e in self._entries.values() if e.order_id is None and not e.final]

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        """Close the file (records already written are durable)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
