"""The metadata tables. Artifacts live on disk; these rows point at them.

A row is committed only after its files are in place, so a row always has
complete files behind it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(Text)
    """Folder holding train.csv, validation.csv, test.csv and report.json."""
    task: Mapped[str] = mapped_column(String(64))
    labels: Mapped[list[Any]] = mapped_column(JSON)
    split_sizes: Mapped[dict[str, Any]] = mapped_column(JSON)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Import report: source files, columns, duplicates, imbalance, split recipe."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    dataset_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    """running | succeeded | failed | interrupted"""
    output_dir: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    project: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(64))
    base_model: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16), default="none")
    """none | staging | production | archived"""
    dataset_hash: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), default=None)
    seed: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    labels: Mapped[list[Any]] = mapped_column(JSON)
    packages: Mapped[dict[str, Any]] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """An API key: only a salted hash of its secret is kept; the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    """The public part of the key (``myd_<key_id>_<secret>``): finds the row without scanning."""
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    """admin | developer | client"""
    projects: Mapped[list[Any]] = mapped_column(JSON)
    """Project names the key may touch; ``["*"]`` for all."""
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AuditEntry(Base):
    """Append-only: who did what to which resource, and how it ended. Never the request text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class PredictionRecord(Base):
    """One served prediction, so feedback can name it. The input is scrubbed, then encrypted."""

    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    project: Mapped[str] = mapped_column(String(64))
    input_token: Mapped[str] = mapped_column(Text)
    """The scrubbed text, AES-GCM encrypted (``crypto.Vault``), bound to this row's id."""
    input_digest: Mapped[str] = mapped_column(String(64), index=True)
    """Keyed hash (project salt) of the scrubbed text: finds repeated inputs without storing them."""
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Labels with probabilities, or entity spans (offsets, label, score; never the entity text)."""
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class FeedbackRecord(Base):
    """A user's correction of a prediction, waiting for a developer to accept or reject it."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    prediction_id: Mapped[str] = mapped_column(ForeignKey("predictions.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    input_digest: Mapped[str] = mapped_column(String(64), index=True)
    correct_label: Mapped[str | None] = mapped_column(String(256), default=None)
    correct_entities: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    comment_token: Mapped[str | None] = mapped_column(Text, default=None)
    """The comment, scrubbed and encrypted."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    conflict: Mapped[bool] = mapped_column(default=False)
    """Another correction of the same input disagrees with this one."""
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class MonitorAlert(Base):
    """An alert rule that fired on a served model's window; never holds request text."""

    __tablename__ = "monitor_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column()
    value: Mapped[float] = mapped_column()
    window: Mapped[str] = mapped_column(String(64))
    """``100 requests`` or ``300 s``."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The window's statistics when it fired and the position in the model's request stream."""
    delivery: Mapped[str] = mapped_column(String(16), default="none")
    """none (no webhook) | pending | delivered | failed"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class MonitorAlertGate(Base):
    """When a rule last fired for a model, whichever replica fired it: the cooldown holds across replicas."""

    __tablename__ = "monitor_alert_gates"

    model_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MonitorSnapshot(Base):
    """The latest window statistics of a served model (one row per model, overwritten)."""

    __tablename__ = "monitor_snapshots"

    model_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StageChange(Base):
    """Every move of a version between stages, with the production version it replaced (for rollback)."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    replaced: Mapped[int | None] = mapped_column(Integer, default=None)
    """The production version this one archived, when it became production."""
    reason: Mapped[str] = mapped_column(String(256), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PromotionDecision(Base):
    """What a retrain's gate decided, and on which scores."""

    __tablename__ = "promotion_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64), index=True)
    candidate: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[int | None] = mapped_column(Integer, default=None)
    promoted: Mapped[bool] = mapped_column(default=False)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
