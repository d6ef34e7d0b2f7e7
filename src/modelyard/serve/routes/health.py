"""Liveness, readiness and Prometheus metrics (no key needed: they reveal no data)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelyard.serve.deps import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: State) -> JSONResponse:
    """Ready once the first registry check is done and every named model is loaded."""
    wanted = set(state.config.models or ())
    missing = sorted(wanted - set(state.pool.served))
    ready = state.ready and not missing
    body = {
        "ready": ready,
        "models": {name: s.version.ref for name, s in state.pool.served.items()},
        "missing": missing,
        "refused": {name: f.message for name, f in state.pool.failures.items()},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics(state: State) -> Response:
    """Prometheus text format."""
    for name, depth in state.pool.queue_depths().items():
        state.metrics.queue_depth.labels(name).set(depth)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
