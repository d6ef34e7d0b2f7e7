"""Explanations: per-word attributions of a served model's prediction, within a stated latency budget.

The served version may run on ONNX Runtime or as an adapter on a shared base; explanations need
gradients, so each served version gets its own torch copy (``explain.Explainer``), loaded on first
use in a worker thread and dropped when the name moves to another version. The request text is
never logged or stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Request

from modelyard.explain import Explainer, Explanation
from modelyard.serve.deps import CurrentKey, State
from modelyard.serve.routes.predict import _check_limits
from modelyard.serve.schemas import (
    ExplainRequest,
    ExplainResponse,
    LabelAttribution,
    TokenAttribution,
    WordAttribution,
)

router = APIRouter(prefix="/v1", tags=["explain"])


@dataclass
class _Explainers:
    """Per served name: the version folder its explainer was loaded from, and the explainer."""

    loaded: dict[str, tuple[Path, Explainer]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, name: str, folder: Path, max_length: int) -> Explainer:
        async with self.lock:  # one load at a time; a second request for the same model waits for the first
            held = self.loaded.get(name)
            if held is None or held[0] != folder:
                self.loaded.pop(name, None)  # the previous version's copy goes before the next one loads
                explainer = await asyncio.to_thread(Explainer.load, folder, max_length)
                self.loaded[name] = (folder, explainer)
            return self.loaded[name][1]


def _explainers(request: Request) -> _Explainers:
    held = getattr(request.app.state, "explainers", None)
    if held is None:
        held = request.app.state.explainers = _Explainers()
    return held


@router.post("/models/{name}/explain", response_model_exclude_none=True)
async def explain(name: str, body: ExplainRequest, key: CurrentKey, state: State, request: Request) -> ExplainResponse:
    """Attributions per word (and subword) toward the predicted label, or ``label``; NER: per predicted entity,
    or the entity at ``start``/``end``. Integrated gradients; ``budget_ms`` caps the latency by cutting steps."""
    served = state.pool.get(name)
    version = served.version
    key.require("client", version.project)
    _check_limits([body.text], 1, state.config.max_chars_per_text)
    max_length = int(version.config["model"]["max_length"])
    explainer = await _explainers(request).get(name, version.path, max_length)
    span = (body.start, body.end) if body.start is not None and body.end is not None else None
    result = await asyncio.to_thread(
        explainer.explain, body.text, body.label, n_steps=body.n_steps, budget_ms=body.budget_ms, span=span
    )
    state.audit.record(key.key_id, "explain", f"model:{version.ref}", "ok")
    return _response(name, version.version, result)


def _response(name: str, version: int, result: Explanation) -> ExplainResponse:
    explanations = [
        LabelAttribution(
            label=a.label,
            probability=a.probability,
            delta=a.delta,
            start=a.span[0] if a.span else None,
            end=a.span[1] if a.span else None,
            words=[WordAttribution(start=w.start, end=w.end, text=w.text, score=w.score) for w in a.words],
            tokens=[TokenAttribution(token=t.token, start=t.start, end=t.end, score=t.score) for t in a.tokens],
        )
        for a in result.attributions
    ]
    return ExplainResponse(
        model=name,
        version=version,
        task=result.task,
        method=result.method,
        explanations=explanations,
        n_steps=result.n_steps,
        requested_steps=result.requested_steps,
        elapsed_ms=result.elapsed_ms,
        estimated_ms=result.estimated_ms,
        budget_ms=result.budget_ms,
        within_budget=result.within_budget,
        truncated=result.truncated,
    )
