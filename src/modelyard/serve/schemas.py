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


class EntityCorrection(Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=1)
    label: str


class FeedbackCreate(Strict):
    prediction_id: str = Field(min_length=1, max_length=32, description="The 'id' of a served prediction.")
    correct_label: str | None = Field(None, description="Classification: the label that was right.")
    correct_entities: list[EntityCorrection] | None = Field(None, description="NER: every entity the text holds.")
    comment: str | None = Field(None, max_length=2000, description="Free text; scrubbed of PII and encrypted.")


class FeedbackRow(Strict):
    id: int
    prediction_id: str
    model: str
    correct_label: str | None = None
    correct_entities: list[EntityCorrection] | None = None
    comment: str | None = None
    status: str
    conflict: bool = Field(description="Another correction of the same input disagrees with this one.")
    created_at: str


class ExplainRequest(Strict):
    text: str = Field(description="The text whose prediction to explain (never logged).")
    label: str | None = Field(
        None, description="Explain toward this label instead of the predicted one (NER: an entity type; needs a span)."
    )
    start: int | None = Field(None, ge=0, description="NER: character offset where the entity to explain starts.")
    end: int | None = Field(None, ge=1, description="NER: character offset one past the entity's end.")
    n_steps: int | None = Field(None, ge=1, le=512, description="Integrated-gradients steps (default 32).")
    budget_ms: int | None = Field(
        None, ge=1, le=60000, description="Latency budget: fewer steps (down to 4) if the estimate exceeds it."
    )

    @model_validator(mode="after")
    def _span(self) -> ExplainRequest:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both 'start' and 'end' of the span, or neither")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("'end' must be greater than 'start'")
        return self


class WordAttribution(Strict):
    start: int
    end: int
    text: str
    score: float = Field(description="Sum of the word's subword attributions, in logits of the target.")


class TokenAttribution(Strict):
    token: str
    start: int
    end: int
    score: float


class LabelAttribution(Strict):
    label: str
    probability: float
    delta: float = Field(description="Convergence delta: sum of scores − (target(text) − target(baseline)).")
    start: int | None = Field(None, description="NER: the entity's first character.")
    end: int | None = Field(None, description="NER: one past the entity's last character.")
    words: list[WordAttribution]
    tokens: list[TokenAttribution]


class ExplainResponse(Strict):
    model: str
    version: int
    task: str
    method: str
    explanations: list[LabelAttribution] = Field(
        description="Classification: one, for the target label. NER: one per predicted (or the requested) entity."
    )
    n_steps: int = Field(description="The steps used (fewer than requested when the budget required).")
    requested_steps: int
    elapsed_ms: float
    estimated_ms: float
    budget_ms: float = Field(description="The stated latency budget: the request's, else the default (1000 ms).")
    within_budget: bool
    truncated: bool = Field(description="The text exceeded the model's max_length; words past it score 0.")


class WindowStats(Strict):
    """One sliding window of a model's requests (``complete``: the window is full and its rules are judged)."""

    window: str = Field(description="'200 requests' or '300 s'.")
    complete: bool
    requests: int
    texts: int
    errors: int
    error_rate: float | None = None
    requests_per_second: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    confidence_mean: float | None = None
    low_confidence_rate: float | None = None
    input_length_mean: float | None = None
    label_psi: float | None = Field(None, description="PSI of predicted labels against the training data.")
    confidence_psi: float | None = None
    length_psi: float | None = None
    embedding_auc: float | None = Field(
        None, description="Cross-validated AUC telling the window's embeddings from the training data's (0.5: alike)."
    )
    confidence_histogram: list[int] = Field(default_factory=list, description="10 bins over [0, 1].")
    top_labels: dict[str, float] = Field(default_factory=dict)
    statuses: dict[str, int] = Field(default_factory=dict)


class AlertRuleRow(Strict):
    name: str
    metric: str
    op: str
    threshold: float
    window: str
    cooldown: float
    model: str | None = None


class AlertRow(Strict):
    id: int
    model: str
    version: int
    rule: str
    metric: str
    op: str
    threshold: float
    value: float
    window: str
    request_index: int | None = Field(None, description="The version's request count when the rule fired.")
    delivery: str = Field(description="none (no webhook) | pending | delivered | failed")
    attempts: int
    fired_at: str


class MonitoringResponse(Strict):
    model: str
    version: int
    request_index: int = Field(description="Requests of this version seen by the monitor.")
    as_of: str | None = Field(None, description="When the windows were last computed (off the request path).")
    windows: list[WindowStats]
    reference: dict[str, Any] | None = Field(None, description="The training-data sample drift is measured against.")
    rules: list[AlertRuleRow]
    alerts: list[AlertRow]
    dropped: int = Field(0, description="Requests not observed because the monitor's queue was full.")
