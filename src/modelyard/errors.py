"""The one exception tree of modelyard.

Every error we raise on purpose is a ``ModelyardError``; each subclass also
inherits the builtin it resembles, so ``except ValueError`` in user code keeps
working::

    ModelyardError
    ├── ConfigError(ValueError)       a recipe, flag or setting is invalid
    ├── DataError(ValueError)         an input data file cannot be used as given
    ├── NotFound(LookupError)         a project, dataset, model or version is missing
    ├── AlreadyExists(ValueError)     a name or version is taken
    ├── NotAuthenticated(PermissionError)  no key, a wrong key or a revoked key (HTTP 401)
    ├── AccessDenied(PermissionError) the key's role or project does not allow it (HTTP 403)
    ├── TooLarge(ValueError)          a request exceeds a stated limit (HTTP 413)
    ├── Overloaded(RuntimeError)      the server's queue is full; retry later (HTTP 503)
    ├── ModelLoadError(RuntimeError)  a base model or model version cannot be loaded
    ├── IntegrityError(RuntimeError)  stored files do not match their manifest
    ├── FetchError(RuntimeError)      a pinned archive cannot be downloaded or verified
    └── TrainingError(RuntimeError)   a run failed or was interrupted

A message says what went wrong, what was found (file, line, column, key path)
and what to do next. The CLI prints it without a traceback and exits non-zero.
"""

from __future__ import annotations


class ModelyardError(Exception):
    """Root of every error modelyard raises on purpose."""

    exit_code = 1


class ConfigError(ModelyardError, ValueError):
    """A recipe, flag or setting is invalid."""

    exit_code = 2


class DataError(ModelyardError, ValueError):
    """An input data file cannot be used as given."""

    exit_code = 3


class NotFound(ModelyardError, LookupError):
    """A project, dataset, model or version does not exist."""

    exit_code = 4


class AlreadyExists(ModelyardError, ValueError):
    """A name or version is already taken."""

    exit_code = 5


class ModelLoadError(ModelyardError, RuntimeError):
    """A base model or a model version cannot be loaded."""

    exit_code = 6


class IntegrityError(ModelyardError, RuntimeError):
    """Stored files do not match the SHA-256 recorded in their manifest."""

    exit_code = 7


class FetchError(ModelyardError, RuntimeError):
    """A pinned archive cannot be downloaded or does not match its hash."""

    exit_code = 8


class TrainingError(ModelyardError, RuntimeError):
    """A training run failed or was interrupted."""

    exit_code = 9


class NotAuthenticated(ModelyardError, PermissionError):
    """No API key, a malformed or wrong one, or a revoked one."""

    exit_code = 10


class AccessDenied(ModelyardError, PermissionError):
    """The key is valid but its role or project scope does not allow the action."""

    exit_code = 11


class TooLarge(ModelyardError, ValueError):
    """A request exceeds a stated limit (texts per request, characters per text)."""

    exit_code = 12


class Overloaded(ModelyardError, RuntimeError):
    """The server's queue is full; the client should retry after ``retry_after`` seconds."""

    exit_code = 13

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
