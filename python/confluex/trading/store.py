"""Client-order-id journal: every order is written to disk before it is sent.

The journal is an append-only JSON-lines file, flushed and ``fsync``-ed on every record, so
that after a crash, a timeout or a network error the Executor knows which client order ids
it may have sent and looks each one up at the venue before sending anything again.

Records (one JSON object per line, ``event`` names the kind):

- ``intent``: ``client_order_id, symbol, side, type, amount, price, purpose, ts_ms`` -
  written *before* the request leaves the process;
- ``ack``: ``client_order_id, order_id, status`` - the venue confirmed the order;
- ``final``: ``client_order_id, status, reason`` - resolved (filled, cancelled, rejected,
  or ``absent``: the venue confirmed it never got the order);
- ``flat``: ``symbol`` - the position on ``symbol`` is closed: the orders journaled before
  this record no longer matter for it;
- ``parent``: ``parent_id, symbol, side, amount, spec`` - a parent order (an execution
  algorithm, ``trading/algos.py``) starts; written before its first child. Its children are
  ordinary ``intent`` records (purpose ``entry``) whose ``context`` names the parent and the
  child index, with client ids derived from the parent id;
- ``parent_end``: ``parent_id, status`` - the parent is over (filled, expired, killed, ...).

``unresolved()`` lists intents with no ``ack`` and no ``final`` record: the ids that must be
looked up at the venue on restart. ``since_flat(symbol)`` lists the orders that make up the
current position on ``symbol`` (every order since its last ``flat`` that the venue may have
got); ``open_symbols()`` the symbols that have any. ``open_parents()`` lists the parents
without a ``parent_end`` record (resumed on restart) and ``children(parent_id)`` their
children.

Durability: the file is created with its directory entry fsync-ed, and every record is one
unbuffered write + ``fsync``. A torn last line (a crash or a full disk mid-write) is cut off
when the journal is opened, so the next record starts on a fresh line; a record that could
not be written raises ``JournalError`` after the file is truncated back to its last complete
record, and the in-memory state is left as if it had never been attempted. A corrupt line
*before* the last one is not a torn write: opening refuses it (``JournalError`` naming the
line) rather than silently dropping records.
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

__all__ = ["JournalEntry", "JournalError", "OrderJournal", "ParentEntry", "new_client_order_id"]

_MAX_CLIENT_ID = 32  # Binance allows 36, Bybit orderLinkId 36, OKX clOrdId 32


def new_client_order_id(prefix: str = "cfx") -> str:
    """A fresh client order id: ``prefix`` + 20 random hex digits (alphanumeric only).

    Alphanumeric because OKX rejects ``-`` and ``_`` in ``clOrdId``; at most 32 characters.
    """
    if not prefix.isalnum() or len(prefix) > _MAX_CLIENT_ID - 20:
        raise ValueError(f"client id prefix must be alphanumeric and <= 12 chars, was {prefix!r}")
    return prefix + secrets.token_hex(10)


class JournalError(OSError):
    """The journal could not persist a record (or its file is corrupt): nothing may be sent."""


@dataclass(slots=True)
class JournalEntry:
    """What the journal knows about one client order id (``seq``: its position in the file)."""

    client_order_id: str
    intent: dict[str, Any]
    seq: int = 0
    order_id: str | None = None
    status: str | None = None
    final: bool = False

    @property
    def symbol(self) -> str:
        return str(self.intent.get("symbol"))

    @property
    def sent_ms(self) -> int:
        """When the intent was journaled (just before the request was sent)."""
        return int(self.intent.get("ts_ms") or 0)

    @property
    def never_reached(self) -> bool:
        """Resolved as rejected by, or absent from, the venue: no fill can come of it."""
        return self.final and self.status in ("absent", "rejected")


@dataclass(slots=True)
class ParentEntry:
    """What the journal knows about one parent order."""

    parent_id: str
    symbol: str
    side: str
    amount: float
    spec: dict[str, Any]
    ended: bool = False
    status: str | None = None


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
        self._flat_seq: dict[str, int] = {}
        self._parents: dict[str, ParentEntry] = {}
        self._seq = 0
        self._size = 0
        self._fh: Any = None
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            created = not self._path.exists()
            if not created:
                self._replay(self._path)
            # unbuffered: a failed write leaves nothing behind in a Python buffer
            self._fh = open(self._path, "ab", buffering=0)  # kept open: append per record
            if created:
                _fsync_dir(self._path.parent)  # the new file's name is durable too

    def __repr__(self) -> str:
        return f"OrderJournal(path={str(self._path)!r}, entries={len(self._entries)})"

    def _replay(self, path: Path) -> None:
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1  # just past the last complete record
        lines = data[:end].splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                rec = None
            if not isinstance(rec, dict):
                raise JournalError(
                    f"order journal {path} line {number} is not a JSON record (corrupt file; "
                    f"only a torn last line is recovered automatically)"
                )
            self._apply(rec)
        if end < len(data):
            # a torn final line from a crash or a full disk mid-write: cut it off so the
            # next record does not append onto the fragment
            with open(path, "r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        self._size = end

    def _apply(self, rec: dict[str, Any]) -> None:
        self._seq += 1
        cid = str(rec.get("client_order_id"))
        event = rec.get("event")
        if event == "intent":
            self._entries[cid] = JournalEntry(cid, rec, seq=self._seq)
            return
        if event == "flat":
            self._flat_seq[str(rec.get("symbol"))] = self._seq
            return
        if event == "parent":
            pid = str(rec.get("parent_id"))
            self._parents[pid] = ParentEntry(
                pid,
                str(rec.get("symbol")),
                str(rec.get("side")),
                float(rec.get("amount") or 0.0),
                dict(rec.get("spec") or {}),
            )
            return
        if event == "parent_end":
            parent = self._parents.get(str(rec.get("parent_id")))
            if parent is not None:
                parent.ended, parent.status = True, rec.get("status")
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
        line = (json.dumps(rec, separators=(",", ":"), sort_keys=True) + "\n").encode()
        with self._lock:
            if self._fh is not None:
                try:
                    view = memoryview(line)
                    while view:
                        n = self._fh.write(view)
                        view = view[n:]
                    os.fsync(self._fh.fileno())
                except OSError as exc:
                    self._rollback()
                    raise JournalError(
                        exc.errno,
                        f"order journal {self._path}: could not persist a {rec.get('event')} "
                        f"record ({exc.strerror or exc})",
                    ) from exc
                self._size += len(line)
            self._apply(rec)

    def _rollback(self) -> None:
        """Cut a partly written record off the file (best effort; reopen recovers the rest)."""
        try:
            os.ftruncate(self._fh.fileno(), self._size)
            os.fsync(self._fh.fileno())
        except OSError:
            pass  # the torn line is cut off when the journal is next opened

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
        context: dict[str, Any] | None = None,
    ) -> None:
        """Persist an order before it is sent (durable when this returns).

        ``context`` is what recovery needs beyond the order (an entry's protection plan).
        Raises ``JournalError`` when the record could not be written: do not send.
        """
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
                "context": context or {},
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

    def record_flat(self, symbol: str) -> None:
        """The position on ``symbol`` is closed (its orders are settled)."""
        self._write({"event": "flat", "symbol": symbol})

    def record_parent(
        self, parent_id: str, *, symbol: str, side: str, amount: float, spec: dict[str, Any]
    ) -> None:
        """Persist a parent order before its first child (raises ``JournalError``)."""
        if parent_id in self._parents:
            raise ValueError(f"parent id already journaled, was {parent_id!r}")
        self._write(
            {
                "event": "parent",
                "parent_id": parent_id,
                "symbol": symbol,
                "side": side,
                "amount": amount,
                "spec": spec,
            }
        )

    def record_parent_end(self, parent_id: str, status: str) -> None:
        """The parent order is over: it is not resumed on restart."""
        self._write({"event": "parent_end", "parent_id": parent_id, "status": status})

    def open_parents(self, symbol: str | None = None) -> list[ParentEntry]:
        """Parents without a ``parent_end`` record (of ``symbol``, or all), oldest first."""
        return [
            p
            for p in self._parents.values()
            if not p.ended and (symbol is None or p.symbol == symbol)
        ]

    def parent(self, parent_id: str) -> ParentEntry | None:
        """The journaled parent ``parent_id`` or None."""
        return self._parents.get(parent_id)

    def children(self, parent_id: str) -> list[JournalEntry]:
        """The child orders of ``parent_id``, in the order they were journaled."""
        return [
            e
            for e in self._entries.values()
            if (e.intent.get("context") or {}).get("parent") == parent_id
        ]

    def get(self, client_order_id: str) -> JournalEntry | None:
        """The entry of ``client_order_id`` or None."""
        return self._entries.get(client_order_id)

    def unresolved(self) -> list[JournalEntry]:
        """Intents with no ack and no final record: look these up before trading again."""
        return [e for e in self._entries.values() if e.order_id is None and not e.final]

    def since_flat(self, symbol: str) -> list[JournalEntry]:
        """Orders on ``symbol`` journaled after its last ``flat`` that the venue may have got."""
        after = self._flat_seq.get(symbol, 0)
        return [
            e
            for e in self._entries.values()
            if e.seq > after and e.symbol == symbol and not e.never_reached
        ]

    def open_symbols(self) -> list[str]:
        """Symbols with orders since their last ``flat``: reconcile these before trading."""
        return sorted(
            {
                e.symbol
                for e in self._entries.values()
                if e.seq > self._flat_seq.get(e.symbol, 0) and not e.never_reached
            }
        )

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        """Close the file (records already written are durable)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def _fsync_dir(directory: Path) -> None:
    """Make a directory entry (a newly created file's name) durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
