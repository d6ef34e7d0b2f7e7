"""Engine and sessions. SQLite (WAL) under the home folder by default, any URL otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from modelyard import settings
from modelyard.errors import ConfigError
from modelyard.store.tables import Base

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str) -> Engine:
    # One engine per URL per process (the last 8 URLs: tests switch homes); the lock keeps
    # threads that touch the store first from each running create_all.
    with _engines_lock:
        if url not in _engines:
            _engines[url] = _open(url)
            while len(_engines) > 8:
                del _engines[next(iter(_engines))]
        return _engines[url]


def _open(url: str) -> Engine:
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(url, connect_args={"timeout": 30} if is_sqlite else {}, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _create_tables(engine)
    except OperationalError as error:
        raise ConfigError(f"cannot open the database at {engine.url!r}: {error.orig}; check MODELYARD_DB_URL") from None
    return engine


def _create_tables(engine: Engine) -> None:
    try:
        Base.metadata.create_all(engine)
    except (IntegrityError, ProgrammingError):
        # Replicas started together on a new PostgreSQL database race to create the same table;
        # the loser's CREATE fails. Looking again finds the tables the winner made.
        Base.metadata.create_all(engine)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets readers (a server) and one writer (a training run) work at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def engine() -> Engine:
    return _engine(settings.db_url())


@contextmanager
def session() -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine(), expire_on_commit=False) as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise
