"""Monitoring: what the predict route hands the monitor, and ``GET /v1/models/{name}/monitoring``.

``observed`` wraps the predict route: it times the call and queues one observation
per request (model, version, latency, status, the texts, and per text the top label
and its probability or the entities' types and scores) — a queue put, nothing more
on the request path. Refusals before the model is reached (401, 403, 404) are not
the model's errors and are not observed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query

from modelyard.errors import ModelyardError
from modelyard.monitor import Monitor, Observation, list_alerts
from modelyard.serve.deps import CurrentKey, State
from modelyard.serve.schemas import (
    AlertRow,
    AlertRuleRow,
    MonitoringResponse,
    Prediction,
    PredictResponse,
    WindowStats,
)

router = APIRouter(prefix="/v1", tags=["monitoring"])

_NOT_THE_MODELS = (401, 403, 404)

Route = Callable[..., Awaitable[PredictResponse]]


def observed(route: Route) -> Route:
    """Decorate the predict route so the server's monitor sees every request that reached a served model."""

    @functools.wraps(route)
    async def observing(**kwargs: Any) -> PredictResponse:
        started = time.perf_counter()
        try:
            response = await route(**kwargs)
        except Exception as error:
            _observe_failure(kwargs, error, started)
            raise
        monitor: Monitor | None = getattr(kwargs["state"], "monitor", None)
        if monitor is not None:
            texts = tuple(kwargs["body"].items)
            summaries = [_summary(p) for p in response.predictions]
            monitor.observe(
                Observation(
                    response.model,
                    response.version,
                    time.time(),
                    (time.perf_counter() - started) * 1000,
                    200,
                    texts,
                    tuple(labels for labels, _ in summaries),
                    tuple(confidence for _, confidence in summaries),
                )
            )
        return response

    return observing


def _summary(prediction: Prediction) -> tuple[tuple[str, ...], float | None]:
    if prediction.entities is not None:
        scores = [entity.score for entity in prediction.entities]
        return tuple(e.label for e in prediction.entities), (sum(scores) / len(scores) if scores else None)
    best = prediction.labels[0] if prediction.labels else None
    return ((best.label,), best.probability) if best else ((), None)


def _observe_failure(kwargs: dict[str, Any], error: Exception, started: float) -> None:
    from modelyard.serve.app import status_of

    state = kwargs.get("state")
    monitor: Monitor | None = getattr(state, "monitor", None)
    served = state.pool.served.get(kwargs.get("name")) if state is not None else None
    if monitor is None or served is None:
        return
    status = status_of(error) if isinstance(error, ModelyardError) else 500
    if status in _NOT_THE_MODELS:
        return
    body = kwargs.get("body")
    texts = tuple(body.items) if body is not None else ()
    latency = (time.perf_counter() - started) * 1000
    # The texts of a failed request are not embedded; only their lengths are kept.
    monitor.observe(Observation(kwargs["name"], served.version.version, time.time(), latency, status, texts))


@router.get("/models/{name}/monitoring", response_model_exclude_none=True)
def monitoring(
    name: str,
    key: CurrentKey,
    state: State,
    alerts: Annotated[int, Query(ge=0, le=500, description="How many recent alerts to list.")] = 20,
) -> MonitoringResponse:
    """Current window statistics, drift against the training data, the alert rules and recent alerts (developers)."""
    served = state.pool.get(name)
    version = served.version
    key.require("developer", version.project)
    monitor: Monitor | None = state.monitor
    status = (monitor.status(name) if monitor is not None else None) or {}
    rules = monitor.rules.for_model(name) if monitor is not None else []
    recent = list_alerts(name, alerts) if alerts else []
    state.audit.record(key.key_id, "read_monitoring", f"model:{version.ref}", "ok")
    return MonitoringResponse(
        model=name,
        version=int(status.get("version", version.version)),
        request_index=int(status.get("request_index", 0)),
        as_of=status.get("as_of"),
        windows=[WindowStats(**window) for window in status.get("windows", [])],
        reference=status.get("reference"),
        rules=[
            AlertRuleRow(
                name=r.name,
                metric=r.metric,
                op=r.op,
                threshold=r.threshold,
                window=r.window.key,
                cooldown=r.cooldown,
                model=r.model,
            )
            for r in rules
        ],
        alerts=[
            AlertRow(
                id=a.id,
                model=a.model_name,
                version=a.version,
                rule=a.rule,
                metric=a.metric,
                op=a.op,
                threshold=a.threshold,
                value=a.value,
                window=a.window,
                request_index=a.details.get("request_index"),
                delivery=a.delivery,
                attempts=a.attempts,
                fired_at=a.fired_at.isoformat(),
            )
            for a in recent
        ],
        dropped=int(status.get("dropped", monitor.dropped if monitor is not None else 0)),
    )
