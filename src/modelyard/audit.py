"""The append-only audit log: key id, action, resource, outcome, time — never request text.

Admin actions are written at once. A busy server records model accesses
through ``AuditWriter``, which batches inserts on a background thread so a
prediction does not wait on a database write; ``close`` flushes what is left.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from modelyard import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    key_id: str | None
    action: str
    resource: str
    outcome: str
    at: datetime


def record(key_id: str | None, action: str, resource: str, outcome: str) -> None:
    """Write one entry now."""
    with store.session() as db:
        db.add(store.AuditEntry(key_id=key_id, action=action, resource=resource, outcome=outcome))


def entries(limit: int = 100, key_id: str | None = None) -> list[Entry]:
    """Newest first."""
    with store.session() as db:
        query = select(store.AuditEntry).order_by(store.AuditEntry.id.desc()).limit(limit)
        if key_id is not None:
            query = query.where(store.AuditEntry.key_id == key_id)
        return [Entry(r.key_id, r.action, r.resource, r.outcome, r.at) for r in db.scalars(query)]


class AuditWriter:
    """Queues entries and inserts them in batches every ``interval`` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        self._queue: queue.SimpleQueue[store.AuditEntry | None] = queue.SimpleQueue()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, key_id: str | None, action: str, resource: str, outcome: str) -> None:
        self._queue.put(
            store.AuditEntry(key_id=key_id, action=action, resource=resource, outcome=outcome, at=datetime.now(UTC))
        )

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[store.AuditEntry] = []
            try:
                item = self._queue.get(timeout=self._interval)
                while True:
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass  # drained: write what was gathered
            if batch:
                self._write(batch)

    def _write(self, batch: list[store.AuditEntry]) -> None:
        try:
            with store.session() as db:
                db.add_all(batch)
        except Exception:  # the log must not take the server down; the failure itself is logged loudly
            log.exception("could not write %d audit entries", len(batch))

    def close(self) -> None:
        """Flush everything queued and stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=10)
