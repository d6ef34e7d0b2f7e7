"""Feedback on served predictions: clients correct them, developers accept or reject the corrections."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from modelyard import feedback, registry
from modelyard.errors import NotFound
from modelyard.serve.deps import CurrentKey, State
from modelyard.serve.schemas import FeedbackCreate, FeedbackRow

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


def _row(item: feedback.Feedback) -> FeedbackRow:
    return FeedbackRow(
        id=item.id,
        prediction_id=item.prediction_id,
        model=item.model_name,
        correct_label=item.correct_label,
        correct_entities=item.correct_entities,
        comment=item.comment,
        status=item.status,
        conflict=item.conflict,
        created_at=item.created_at.isoformat(),
    )


def _version_of(prediction_id: str, state: State) -> registry.VersionInfo:
    """The model version that made the prediction (flushing the log once if it is not written yet)."""
    try:
        name, number = feedback.prediction_source(prediction_id)
    except NotFound:
        state.predictions.flush()
        name, number = feedback.prediction_source(prediction_id)
    return registry.get(f"{name}:{number}")


@router.post("", status_code=201, response_model_exclude_none=True)
def give_feedback(body: FeedbackCreate, key: CurrentKey, state: State) -> FeedbackRow:
    """Correct a prediction: the right label, or every entity the text holds."""
    version = _version_of(body.prediction_id, state)
    key.require("client", version.project)
    labels = list(version.labels) if version.task != "token-classification" else _tags(version)
    created = feedback.submit(
        body.prediction_id,
        labels=labels,
        correct_label=body.correct_label,
        correct_entities=None if body.correct_entities is None else [e.model_dump() for e in body.correct_entities],
        comment=body.comment,
        key_id=key.key_id,
    )
    state.audit.record(key.key_id, "feedback", f"model:{version.ref}", "ok")
    return _row(created)


def _tags(version: registry.VersionInfo) -> list[str]:
    from modelyard.tasks.labels import LabelMap

    return list(LabelMap.load(version.path).labels)


@router.get("", response_model_exclude_none=True)
def list_feedback(
    key: CurrentKey,
    model: str | None = None,
    status: Literal["pending", "accepted", "rejected"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FeedbackRow]:
    """Corrections, newest first (developers)."""
    key.require("developer")
    return [_row(item) for item in feedback.list_feedback(model, status, limit) if _may_see(key, item)]


def _may_see(key: CurrentKey, item: feedback.Feedback) -> bool:
    try:
        return key.may_access(registry.get(item.model_name).project)
    except NotFound:
        return False


@router.post("/{feedback_id}/accept", response_model_exclude_none=True)
def accept(feedback_id: int, key: CurrentKey, state: State) -> FeedbackRow:
    return _decide(feedback_id, "accepted", key, state)


@router.post("/{feedback_id}/reject", response_model_exclude_none=True)
def reject(feedback_id: int, key: CurrentKey, state: State) -> FeedbackRow:
    return _decide(feedback_id, "rejected", key, state)


def _decide(feedback_id: int, status: str, key: CurrentKey, state: State) -> FeedbackRow:
    key.require("developer")
    decided = feedback.decide(feedback_id, status)
    state.audit.record(key.key_id, f"feedback_{status}", f"feedback:{feedback_id}", "ok")
    return _row(decided)
