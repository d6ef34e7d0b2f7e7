"""API keys, roles and project scopes.

A key reads ``myd_<key_id>_<secret>``. The store keeps the key id, a random
salt and HMAC-SHA256(salt, secret): the secret is 256 random bits, so a fast
keyed hash is as strong as a slow password hash here and keeps per-request
checks cheap. The key is printed once at creation and cannot be recovered.

Roles are ordered: ``admin`` ⊇ ``developer`` ⊇ ``client``. A key is scoped to a
list of projects (``*`` for all).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from modelyard import store
from modelyard.errors import AccessDenied, ConfigError, NotAuthenticated, NotFound

ROLES = ("client", "developer", "admin")
PREFIX = "myd"
_CACHE_SECONDS = 5.0  # a revoked key stops working on every replica within this long


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    projects: tuple[str, ...]
    name: str = ""

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def may_access(self, project: str) -> bool:
        return "*" in self.projects or project in self.projects

    def require(self, role: str, project: str | None = None) -> None:
        """Raise AccessDenied (403) unless this key has ``role`` and, if given, ``project``."""
        if not self.can(role):
            raise AccessDenied(f"this key has role {self.role!r}; the action needs {role!r} or higher")
        if project is not None and not self.may_access(project):
            raise AccessDenied(f"this key is not scoped to project {project!r}")


@dataclass(frozen=True)
class CreatedKey:
    principal: Principal
    key: str
    """The full key: shown once, never stored."""


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def create(role: str, projects: list[str], name: str = "") -> CreatedKey:
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not projects:
        raise ConfigError("give at least one project (or '*' for all projects)")
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    with store.session() as db:
        db.add(
            store.ApiKey(
                key_id=key_id,
                salt=salt,
                secret_hash=_digest(salt, secret),
                role=role,
                projects=sorted(set(projects)),
                name=name,
            )
        )
    principal = Principal(key_id, role, tuple(sorted(set(projects))), name)
    return CreatedKey(principal, f"{PREFIX}_{key_id}_{secret}")


def list_keys() -> list[tuple[Principal, datetime, datetime | None]]:
    with store.session() as db:
        rows = db.scalars(select(store.ApiKey).order_by(store.ApiKey.id))
        return [(Principal(r.key_id, r.role, tuple(r.projects), r.name), r.created_at, r.revoked_at) for r in rows]


def revoke(key_id: str) -> None:
    with store.session() as db:
        row = db.scalar(select(store.ApiKey).where(store.ApiKey.key_id == key_id))
        if row is None:
            raise NotFound(f"no API key with id {key_id!r}; see `modelyard keys list`")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
    _cache.clear()


class _TTLCache:
    """Recent successful authentications, so a busy server does not query the store per request."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        with self._lock:
            found = self._entries.get(token)
            if found is None or found[0] < time.monotonic():
                self._entries.pop(token, None)
                return None
            return found[1]

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token] = (time.monotonic() + _CACHE_SECONDS, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _TTLCache()


def authenticate(token: str | None) -> Principal:
    """The principal behind a bearer token; NotAuthenticated (401) for a missing, malformed, wrong or revoked key."""
    if not token:
        raise NotAuthenticated(
            "missing API key: send 'Authorization: Bearer <key>' (create one: modelyard keys create)"
        )
    cached = _cache.get(token)
    if cached is not None:
        return cached
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise NotAuthenticated("malformed API key; keys look like myd_<id>_<secret>")
    _, key_id, secret = parts
    with store.session() as db:
        row = db.scalar(select(store.ApiKey).where(store.ApiKey.key_id == key_id))
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(row.salt, secret)):
            raise NotAuthenticated("invalid API key")
        if row.revoked_at is not None:
            raise NotAuthenticated("this API key has been revoked")
        principal = Principal(row.key_id, row.role, tuple(row.projects), row.name)
    _cache.put(token, principal)
    return principal
