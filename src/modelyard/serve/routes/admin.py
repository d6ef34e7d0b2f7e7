"""Admin actions over the API: keys, the audit log, an immediate registry check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from modelyard import access, audit
from modelyard.serve.deps import CurrentKey, State
from modelyard.serve.schemas import AuditRow, KeyCreate, KeyCreated

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/keys", status_code=201)
def create_key(body: KeyCreate, key: CurrentKey, state: State) -> KeyCreated:
    key.require("admin")
    created = access.create(body.role, body.projects, body.name)
    audit.record(key.key_id, "create_key", f"key:{created.principal.key_id}", "ok")
    p = created.principal
    return KeyCreated(key_id=p.key_id, key=created.key, role=p.role, projects=list(p.projects))


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, key: CurrentKey, state: State) -> None:
    key.require("admin")
    access.revoke(key_id)
    audit.record(key.key_id, "revoke_key", f"key:{key_id}", "ok")


@router.get("/audit")
def audit_log(
    key: CurrentKey, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100, key_id: str | None = None
) -> list[AuditRow]:
    key.require("admin")
    return [
        AuditRow(key_id=e.key_id, action=e.action, resource=e.resource, outcome=e.outcome, at=e.at.isoformat())
        for e in audit.entries(limit, key_id)
    ]


@router.post("/reload")
async def reload(key: CurrentKey, state: State) -> dict[str, str]:
    """Check the registry now instead of waiting for the next poll."""
    key.require("developer")
    await state.pool.refresh()
    audit.record(key.key_id, "reload", "models", "ok")
    return {name: served.version.ref for name, served in state.pool.served.items()}
