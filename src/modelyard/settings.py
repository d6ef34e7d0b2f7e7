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


def prediction_retention_days() -> int:
    """``$MODELYARD_PREDICTION_RETENTION_DAYS`` (default 90; 0 keeps logged predictions forever).

    Logged inputs are scrubbed and encrypted, but a privacy-first log still should not grow without end."""
    raw = os.environ.get("MODELYARD_PREDICTION_RETENTION_DAYS", "90").strip()
    if not raw.isdigit():
        from modelyard.errors import ConfigError

        raise ConfigError(f"MODELYARD_PREDICTION_RETENTION_DAYS must be a whole number of days (0: keep), not {raw!r}")
    return int(raw)


def subdir(name: str) -> Path:
    """A named folder under the home (``artifacts``, ``datasets``, ``runs``, ``cache``...)."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
