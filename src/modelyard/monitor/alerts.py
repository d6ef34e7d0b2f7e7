"""Alerts and the latest window statistics, on record in the store (never request text)."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard import store
from modelyard.monitor.rules import AlertRule


@dataclass(frozen=True)
class Alert:
    id: int
    model_name: str
    version: int
    rule: str
    metric: str
    op: str
    threshold: float
    value: float
    window: str
    details: dict[str, Any]
    delivery: str
    attempts: int
    fired_at: datetime

    @property
    def summary(self) -> str:
        return (
            f"{self.model_name}:{self.version} {self.rule}: {self.metric} = {self.value:.4g} "
            f"{self.op} {self.threshold:g} over the last {self.window}"
        )

    def payload(self) -> dict[str, Any]:
        """What the webhook receives."""
        return {
            "text": f"modelyard alert: {self.summary}",
            "alert": {
                "id": self.id,
                "model": self.model_name,
                "version": self.version,
                "rule": self.rule,
                "metric": self.metric,
                "op": self.op,
                "threshold": self.threshold,
                "value": self.value,
                "window": self.window,
                "fired_at": self.fired_at.isoformat(),
                "request_index": self.details.get("request_index"),
            },
        }


def _alert(row: store.MonitorAlert) -> Alert:
    fired = row.fired_at if row.fired_at.tzinfo else row.fired_at.replace(tzinfo=UTC)
    return Alert(
        row.id,
        row.model_name,
        row.version,
        row.rule,
        row.metric,
        row.op,
        row.threshold,
        row.value,
        row.window,
        dict(row.details),
        row.delivery,
        row.attempts,
        fired,
    )


def record_alert(
    model: str,
    version: int,
    rule: AlertRule,
    value: float,
    details: dict[str, Any],
    *,
    webhook: bool,
    now: datetime | None = None,
) -> Alert | None:
    """Record the alert unless ``rule`` fired for ``model`` within its cooldown on any replica (then ``None``).

    Replicas share the database, not memory: each judges the traffic it serves, and the
    gate row makes the cooldown one for all of them, so N replicas seeing the same drift
    send one alert, not N."""
    fired_at = now or datetime.now(UTC)
    with store.session() as db:
        if not _claim(db, model, rule, fired_at):
            return None
        row = store.MonitorAlert(
            model_name=model,
            version=version,
            rule=rule.name,
            metric=rule.metric,
            op=rule.op,
            threshold=rule.threshold,
            value=value,
            window=rule.window.key,
            details=details,
            delivery="pending" if webhook else "none",
            fired_at=fired_at,
        )
        db.add(row)
        db.flush()
        return _alert(row)


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def _claim(db: Session, model: str, rule: AlertRule, now: datetime) -> bool:
    """Move the rule's gate to ``now`` if its cooldown has passed; True for the one caller that did.

    A conditional UPDATE is atomic on SQLite (one writer at a time) and on PostgreSQL (a
    second writer waits for the row, then re-checks the condition against the committed value)."""
    if db.get(store.MonitorAlertGate, (model, rule.name)) is None:
        with suppress(IntegrityError), db.begin_nested():  # IntegrityError: another replica created it first
            db.add(store.MonitorAlertGate(model_name=model, rule=rule.name, last_fired_at=_NEVER))
    claimed = db.execute(
        update(store.MonitorAlertGate)
        .where(
            store.MonitorAlertGate.model_name == model,
            store.MonitorAlertGate.rule == rule.name,
            store.MonitorAlertGate.last_fired_at <= now - timedelta(seconds=rule.cooldown),
        )
        .values(last_fired_at=now)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def set_delivery(alert_id: int, delivered: bool, attempts: int) -> None:
    with store.session() as db:
        row = db.get(store.MonitorAlert, alert_id)
        if row is not None:
            row.delivery = "delivered" if delivered else "failed"
            row.attempts = attempts


def list_alerts(model: str | None = None, limit: int = 50) -> list[Alert]:
    """Newest first."""
    with store.session() as db:
        query = select(store.MonitorAlert).order_by(store.MonitorAlert.id.desc()).limit(limit)
        if model is not None:
            query = query.where(store.MonitorAlert.model_name == model)
        return [_alert(row) for row in db.scalars(query)]


def save_snapshot(model: str, version: int, stats: dict[str, Any]) -> None:
    with store.session() as db:
        db.merge(store.MonitorSnapshot(model_name=model, version=version, stats=stats, updated_at=datetime.now(UTC)))


def snapshots(model: str | None = None) -> list[tuple[str, int, dict[str, Any], datetime]]:
    """(model, version, stats, updated_at) of each monitored model, by name."""
    with store.session() as db:
        query = select(store.MonitorSnapshot).order_by(store.MonitorSnapshot.model_name)
        if model is not None:
            query = query.where(store.MonitorSnapshot.model_name == model)
        return [(r.model_name, r.version, dict(r.stats), r.updated_at) for r in db.scalars(query)]
