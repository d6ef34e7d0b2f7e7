"""Dependencies the routes declare: the caller's key and the server state."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelyard import access

_bearer = HTTPBearer(auto_error=False, description="An API key from `modelyard keys create`.")


def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> access.Principal:
    principal = access.authenticate(credentials.credentials if credentials else None)
    request.state.key_id = principal.key_id  # lets the error handler audit a refused call by its key
    return principal


def server_state(request: Request) -> Any:
    return request.app.state.modelyard


CurrentKey = Annotated[access.Principal, Depends(current_key)]
State = Annotated[Any, Depends(server_state)]
