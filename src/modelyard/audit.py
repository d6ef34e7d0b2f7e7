"""The append-only audit log: key id, action, resource, outcome, time — never request text.

Admin actions are written at once. A busy server records model accesses
through ``AuditWriter``, which batches inserts on a background thread so a
prediction does not wait on a database write; ``close`` flushes what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from modelyard import store
from modelyard.background import BatchWriter


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
        self._writer: BatchWriter[store.AuditEntry] = BatchWriter(self._write, name="audit-writer", interval=interval)

    def record(self, key_id: str | None, action: str, resource: str, outcome: str) -> None:
        self._writer.put(
            store.AuditEntry(key_id=key_id, action=action, resource=resource, outcome=outcome, at=datetime.now(UTC))
        )

    @staticmethod
    def _write(batch: list[store.AuditEntry]) -> None:
        with store.session() as db:
            db.add_all(batch)

    def close(self) -> None:
        """Flush everything queued and stop the thread."""
        self._writer.close(timeout=10)
