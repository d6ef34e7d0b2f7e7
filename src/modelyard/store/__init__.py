"""Metadata store: SQLAlchemy tables and sessions. Imports nothing of ours but errors/settings."""

from modelyard.store.db import engine, session
from modelyard.store.tables import (
    ApiKey,
    AuditEntry,
    Dataset,
    DatasetVersion,
    FeedbackRecord,
    ModelVersion,
    MonitorAlert,
    MonitorAlertGate,
    MonitorSnapshot,
    PredictionRecord,
    Project,
    PromotionDecision,
    Run,
    StageChange,
)

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Dataset",
    "DatasetVersion",
    "FeedbackRecord",
    "ModelVersion",
    "MonitorAlert",
    "MonitorAlertGate",
    "MonitorSnapshot",
    "PredictionRecord",
    "Project",
    "PromotionDecision",
    "Run",
    "StageChange",
    "engine",
    "session",
]
