"""Metadata store: SQLAlchemy tables and sessions. Imports nothing of ours but errors/settings."""

from modelyard.store.db import engine, session
from modelyard.store.tables import Dataset, DatasetVersion, ModelVersion, Project, Run

__all__ = ["Dataset", "DatasetVersion", "ModelVersion", "Project", "Run", "engine", "session"]
