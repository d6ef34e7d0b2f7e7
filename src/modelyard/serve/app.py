"""The REST server: ``create_app`` wires the model pool, batching, auth, audit and metrics.

Errors become HTTP responses here and only here: each ``ModelyardError`` class
has one status code; anything else is logged and answered with a generic 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field

from modelyard import errors
from modelyard.audit import AuditWriter
from modelyard.config import FrozenModel
from modelyard.feedback import PredictionLog
from modelyard.monitor import Monitor
from modelyard.privacy.messages import install_log_scrubbing, scrub_message
from modelyard.serve.metrics import ServerMetrics
from modelyard.serve.pool import BatchSettings, ModelPool

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ModelyardError], int] = {
    errors.NotAuthenticated: 401,
    errors.AccessDenied: 403,
    errors.NotFound: 404,
    errors.TooLarge: 413,
    errors.ConfigError: 422,
    errors.DataError: 422,
    errors.AlreadyExists: 409,
    errors.Overloaded: 503,
    errors.ModelLoadError: 503,
    errors.IntegrityError: 503,
}


class ServeConfig(FrozenModel):
    """How a server runs; every limit is stated in the error a client gets when it is hit."""

    models: tuple[str, ...] | None = None
    """Names to serve (their production version, else the latest); ``None``: every production model."""
    max_batch_size: int = Field(32, ge=1, le=1024)
    max_wait_ms: float = Field(5.0, ge=0, le=1000)
    max_queue: int = Field(1024, ge=1)
    """Texts waiting for a forward pass, per model, before requests get 503."""
    max_texts_per_request: int = Field(64, ge=1)
    max_chars_per_text: int = Field(2000, ge=1)
    poll_seconds: float = Field(5.0, gt=0)
    """How often the registry is checked for newly promoted versions."""


@dataclass
class ServerState:
    config: ServeConfig
    pool: ModelPool
    metrics: ServerMetrics
    audit: AuditWriter | None = None
    predictions: PredictionLog | None = None
    monitor: Monitor | None = None
    ready: bool = False


def create_app(config: ServeConfig | None = None) -> FastAPI:
    config = config or ServeConfig()
    install_log_scrubbing()
    metrics = ServerMetrics()
    batching = BatchSettings(config.max_batch_size, config.max_wait_ms, config.max_queue)
    state = ServerState(config, ModelPool(list(config.models) if config.models else None, batching, metrics), metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.audit = AuditWriter()
        state.predictions = PredictionLog()
        state.monitor = Monitor.for_server(state.pool)  # rules: $MODELYARD_ALERT_RULES
        await state.pool.refresh()
        state.ready = True
        watcher = asyncio.create_task(state.pool.watch(config.poll_seconds))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await state.pool.close()
            state.audit.close()
            state.predictions.close()
            state.monitor.close()

    app = FastAPI(
        title="modelyard",
        version=_version(),
        description="Predictions from registered modelyard models. Authenticate with `Authorization: Bearer <key>`.",
        lifespan=lifespan,
        responses={code: {"model": _error_model()} for code in (401, 403, 404, 413, 422, 503)},
    )
    app.state.modelyard = state
    _install_error_handlers(app, state)
    _install_metrics_middleware(app, metrics)

    from modelyard.serve.routes import admin, explain, feedback, health, models, monitoring, predict

    for module in (health, models, predict, explain, feedback, monitoring, admin):
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: the config travels in ``MODELYARD_SERVE_CONFIG`` (one per worker)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raw = os.environ.get("MODELYARD_SERVE_CONFIG")
    return create_app(ServeConfig.model_validate_json(raw) if raw else None)


def _version() -> str:
    from modelyard import __version__

    return __version__


def _error_model() -> Any:
    from modelyard.serve.schemas import ErrorResponse

    return ErrorResponse


def status_of(error: errors.ModelyardError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def _body(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _install_error_handlers(app: FastAPI, state: ServerState) -> None:
    @app.exception_handler(errors.ModelyardError)
    async def known(request: Request, error: errors.ModelyardError) -> JSONResponse:
        code = status_of(error)
        headers = {}
        if isinstance(error, errors.Overloaded):
            headers["Retry-After"] = str(max(1, round(error.retry_after)))
        if code in (401, 403) and state.audit is not None:
            state.audit.record(
                getattr(request.state, "key_id", None),
                f"{request.method} {_route(request)}",
                request.url.path,
                "denied",
            )
        state.metrics.errors.labels(str(code), type(error).__name__).inc()
        if code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        message = scrub_message(str(error))  # an error may quote the request it refuses
        return JSONResponse(_body(type(error).__name__, message), status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'] if p != 'body') or 'body'}: {item['msg']}"
            for item in error.errors()
        )
        state.metrics.errors.labels("422", "ValidationError").inc()
        return JSONResponse(_body("ValidationError", problems or "invalid request"), status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        state.metrics.errors.labels("500", type(error).__name__).inc()
        return JSONResponse(_body("InternalError", "internal error; the server log has the details"), status_code=500)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def _install_metrics_middleware(app: FastAPI, metrics: ServerMetrics) -> None:
    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        route = _route(request)
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response
