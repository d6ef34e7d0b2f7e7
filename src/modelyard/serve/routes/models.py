"""The served models and their cards."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard.serve.deps import CurrentKey, State
from modelyard.serve.pool import Served
from modelyard.serve.schemas import ModelCard, ModelSummary

router = APIRouter(prefix="/v1", tags=["models"])


def _summary(name: str, served: Served) -> ModelSummary:
    v = served.version
    return ModelSummary(
        name=name,
        version=v.version,
        project=v.project,
        task=v.task,
        stage=v.stage,
        runtime=served.runtime,
        labels=len(v.labels),
    )


@router.get("/models")
def list_models(key: CurrentKey, state: State) -> list[ModelSummary]:
    """Models this key may use."""
    return [_summary(name, s) for name, s in sorted(state.pool.served.items()) if key.may_access(s.version.project)]


@router.get("/models/{name}")
def model_card(name: str, key: CurrentKey, state: State) -> ModelCard:
    """Task, labels, metrics, version and lineage of a served model."""
    served = state.pool.get(name)
    v = served.version
    key.require("client", v.project)
    state.audit.record(key.key_id, "read_card", f"model:{v.ref}", "ok")
    return ModelCard(
        **_summary(name, served).model_dump(),
        base_model=v.base_model,
        method=v.method,
        label_names=v.labels,
        metrics=v.metrics,
        dataset_hash=v.dataset_hash,
        seed=v.seed,
        created_at=v.created_at.isoformat(),
        packages=v.packages,
        config=v.config,
    )
