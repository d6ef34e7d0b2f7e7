"""Where modelyard keeps its state: the home folder and the database URL.

Read from the environment on every call (not cached) so tests and tools can
point one process at several homes.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``$MODELYARD_HOME``, default ``~/.modelyard``; created on first use."""
    path = Path(os.environ.get("MODELYARD_HOME") or Path.home() / ".modelyard").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_url() -> str:
    """``$MODELYARD_DB_URL``, default a SQLite file in the home folder."""
    return os.environ.get("MODELYARD_DB_URL") or f"sqlite:///{home() / 'modelyard.db'}"


def subdir(name: str) -> Path:
    """A named folder under the home (``artifacts``, ``datasets``, ``runs``, ``cache``...)."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
