"""Predictions: one text or many, top-k labels with probabilities, an id per item."""

from __future__ import annotations

import uuid
from dataclasses import asdict

import numpy as np
from fastapi import APIRouter

from modelyard.errors import DataError, TooLarge
from modelyard.feedback import LoggedPrediction
from modelyard.serve.deps import CurrentKey, State
from modelyard.serve.routes.monitoring import observed
from modelyard.serve.schemas import EntitySpan, LabelScore, Prediction, PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["predict"])


@router.post("/models/{name}/predict", response_model_exclude_none=True)
@observed  # the monitor sees every request (a queue put; the work is on its own thread)
async def predict(name: str, body: PredictRequest, key: CurrentKey, state: State) -> PredictResponse:
    """Classify (top-k labels) or tag (entity spans) the texts with the served version of ``name``."""
    served = state.pool.get(name)
    key.require("client", served.version.project)
    texts = body.items
    _check_limits(texts, state.config.max_texts_per_request, state.config.max_chars_per_text)
    rows = await served.batcher.submit(texts)
    if served.version.task == "token-classification":
        predictions = [
            Prediction(id=uuid.uuid4().hex, entities=[EntitySpan(**asdict(entity)) for entity in row]) for row in rows
        ]
    else:
        labels = served.version.labels
        predictions = []
        for row in rows:
            best = np.argsort(-row)[: body.top_k]
            scored = [LabelScore(label=labels[i], probability=round(float(row[i]), 6)) for i in best]
            predictions.append(Prediction(id=uuid.uuid4().hex, labels=scored))
    version = served.version
    for text, prediction in zip(texts, predictions, strict=True):
        # What was said and answered, for feedback: scrubbed and encrypted off the request path.
        output = prediction.model_dump(exclude_none=True, exclude={"id"})
        for entity in output.get("entities", []):
            entity.pop("text", None)  # the entity's words are the input's: never stored in the clear
        state.predictions.record(
            LoggedPrediction(prediction.id, name, version.version, version.project, text, output, key.key_id)
        )
    state.metrics.predictions.labels(name).inc(len(texts))
    state.audit.record(key.key_id, "predict", f"model:{served.version.ref}", "ok")
    return PredictResponse(model=name, version=served.version.version, runtime=served.runtime, predictions=predictions)


def _check_limits(texts: list[str], max_texts: int, max_chars: int) -> None:
    if not texts:
        raise DataError("'texts' is empty; send at least one text")
    if len(texts) > max_texts:
        raise TooLarge(f"{len(texts)} texts in one request; the limit is {max_texts} (max_texts_per_request)")
    for index, text in enumerate(texts):
        if not text.strip():
            raise DataError(f"text {index} is empty or whitespace-only")
        if len(text) > max_chars:
            raise TooLarge(f"text {index} has {len(text)} characters; the limit is {max_chars} (max_chars_per_text)")
