"""Request and response bodies of the REST API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(Strict):
    text: str | None = Field(None, description="One text to classify or tag.")
    texts: list[str] | None = Field(None, description="Several texts in one call.")
    top_k: int = Field(3, ge=1, le=50, description="Classification: how many labels to return per text, best first.")

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of 'text' or 'texts'")
        return self

    @property
    def items(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class LabelScore(Strict):
    label: str
    probability: float


class EntitySpan(Strict):
    start: int = Field(description="Character offset of the first character.")
    end: int = Field(description="Character offset one past the last character.")
    label: str
    text: str
    score: float


class Prediction(Strict):
    id: str = Field(description="Quote this id when sending feedback on the prediction.")
    labels: list[LabelScore] | None = Field(None, description="Classification: the top_k labels, best first.")
    entities: list[EntitySpan] | None = Field(None, description="NER: the entities found, in text order.")


class PredictResponse(Strict):
    model: str
    version: int
    runtime: str
    predictions: list[Prediction]


class ModelSummary(Strict):
    name: str
    version: int
    project: str
    task: str
    stage: str
    runtime: str
    labels: int


class ModelCard(ModelSummary):
    base_model: str
    method: str
    label_names: list[str]
    metrics: dict[str, Any]
    dataset_hash: str
    seed: int
    created_at: str
    packages: dict[str, str]
    config: dict[str, Any]


class ErrorDetail(Strict):
    type: str
    message: str


class ErrorResponse(Strict):
    error: ErrorDetail


class KeyCreate(Strict):
    role: str = Field(pattern="^(admin|developer|client)$")
    projects: list[str] = Field(min_length=1)
    name: str = ""


class KeyCreated(Strict):
    key_id: str
    key: str = Field(description="Shown once; store it now.")
    role: str
    projects: list[str]


class AuditRow(Strict):
    key_id: str | None
    action: str
    resource: str
    outcome: str
    at: str
