"""Alert rules: a YAML file of ``{name, metric, op, threshold, window, cooldown, model}``.

```yaml
webhook:                       # optional; MODELYARD_ALERT_WEBHOOK overrides the url
  url: https://hooks.example.com/modelyard
  attempts: 5
rules:
  - name: input-drift
    metric: embedding_auc      # one of METRICS
    op: ">"
    threshold: 0.75
    window: 100 requests       # or {requests: 100}; "300s", "5m", "1h" or {seconds: 300}
    cooldown: 3600             # seconds before the same rule may fire again for the same model
    model: banking77           # optional: only this model (default: every served model)
```

A bare list of rules is accepted too. Each rule is validated on its own so an error
names the rule's line in the file and the key inside it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from modelyard.config import FrozenModel, format_validation_error
from modelyard.errors import ConfigError

RULES_ENV = "MODELYARD_ALERT_RULES"
WEBHOOK_ENV = "MODELYARD_ALERT_WEBHOOK"

METRICS: dict[str, str] = {
    "requests": "requests in the window (volume; needs a seconds window)",
    "requests_per_second": "request rate over the window",
    "error_rate": "fraction of requests that failed (any status >= 400 raised by the predict route)",
    "latency_p50_ms": "median route latency",
    "latency_p95_ms": "95th percentile route latency",
    "latency_p99_ms": "99th percentile route latency",
    "confidence_mean": "mean top-1 probability (NER: mean entity score)",
    "low_confidence_rate": "fraction of texts whose top-1 probability is below 0.5",
    "input_length_mean": "mean characters per text",
    "label_psi": "population stability index of predicted labels against the training data",
    "confidence_psi": "population stability index of top-1 confidence against the training data",
    "length_psi": "population stability index of input length against the training data",
    "embedding_auc": "cross-validated AUC of a classifier telling window embeddings from training embeddings",
}
Metric = Literal[
    "requests",
    "requests_per_second",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "confidence_mean",
    "low_confidence_rate",
    "input_length_mean",
    "label_psi",
    "confidence_psi",
    "length_psi",
    "embedding_auc",
]
_SHORTHAND = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(requests?|s|sec|seconds?|m|min|minutes?|h|hours?)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}


class Window(FrozenModel):
    """The last ``requests`` requests, or the requests of the last ``seconds`` seconds (exactly one)."""

    requests: int | None = Field(None, ge=1, le=100_000)
    seconds: float | None = Field(None, gt=0, le=7 * 86_400)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return {"requests": value}
        if isinstance(value, str):
            match = _SHORTHAND.match(value.lower())
            if match is None:
                raise ValueError(f"window {value!r} is not '<n> requests' or '<n>s', '<n>m', '<n>h'")
            number, unit = float(match.group(1)), match.group(2)
            if unit.startswith("request"):
                return {"requests": int(number)}
            return {"seconds": number * _SECONDS[unit[0]]}
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Window:
        if (self.requests is None) == (self.seconds is None):
            raise ValueError("give exactly one of requests or seconds (e.g. window: 100 requests, or 5m)")
        return self

    @property
    def key(self) -> str:
        return f"{self.requests} requests" if self.requests is not None else f"{self.seconds:g} s"


class AlertRule(FrozenModel):
    """One condition on one metric of a model's window, with a cooldown between firings."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    metric: Metric
    op: Literal[">", "<"]
    threshold: float
    window: Window
    cooldown: float = Field(3600, ge=0)
    """Seconds before this rule may fire again for the same model."""
    model: str | None = None
    """Only this model; ``None``: every served model."""
    min_requests: int = Field(20, ge=1)
    """A seconds window with fewer requests is not judged (the ``requests`` metric ignores this)."""

    @field_validator("op", mode="before")
    @classmethod
    def _op_text(cls, value: Any) -> Any:
        return {"gt": ">", "lt": "<"}.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _volume_needs_seconds(self) -> AlertRule:
        if self.metric in ("requests", "requests_per_second") and self.window.seconds is None:
            raise ValueError(f"metric {self.metric!r} needs a seconds window (e.g. window: 10m)")
        return self

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.op == ">" else value < self.threshold


class Webhook(FrozenModel):
    """Where alerts are POSTed (JSON), with bounded retries and exponential backoff."""

    url: str = Field(pattern=r"^https?://\S+$")
    attempts: int = Field(5, ge=1, le=20)
    backoff_seconds: float = Field(1.0, ge=0, le=300)
    """Wait before the second attempt; doubles after each failure (at most ``max_backoff_seconds``)."""
    max_backoff_seconds: float = Field(60.0, ge=0, le=3600)
    timeout_seconds: float = Field(10.0, gt=0, le=120)


class AlertRules(FrozenModel):
    """A parsed rules file."""

    rules: tuple[AlertRule, ...] = ()
    webhook: Webhook | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> AlertRules:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; names must be unique")
            seen.add(rule.name)
        return self

    def for_model(self, model: str) -> list[AlertRule]:
        return [rule for rule in self.rules if rule.model in (None, model)]


def parse_rules(text: str, source: str = "alert rules") -> AlertRules:
    """Validate a rules document; every problem is reported with its line, rule and key path."""
    try:
        raw = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source} is not valid YAML: {error}") from None
    if raw is None:
        return AlertRules()
    if isinstance(raw, list):
        raw, items = {"rules": raw}, node
    elif isinstance(raw, dict):
        items = next((v for k, v in getattr(node, "value", []) if getattr(k, "value", None) == "rules"), None)
    else:
        raise ConfigError(f"{source}: expected a list of rules or a mapping with 'rules', found {type(raw).__name__}")
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{source}: 'rules' must be a list of rules, found {type(rules).__name__}")
    problems: list[str] = []
    parsed: list[AlertRule] = []
    lines = [item.start_mark.line + 1 for item in getattr(items, "value", [])]
    for index, item in enumerate(rules):
        where = f"{source} line {lines[index]}" if index < len(lines) else source
        name = item.get("name") if isinstance(item, dict) else None
        label = f"{where}: rules[{index}]" + (f" ({name!r})" if name else "")
        if not isinstance(item, dict):
            problems.append(f"{label}: expected a mapping of rule keys, found {type(item).__name__}")
            continue
        try:
            parsed.append(AlertRule.model_validate(item))
        except ValidationError as error:
            problems.append(format_validation_error(error, label, AlertRule))
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        return AlertRules.model_validate({**raw, "rules": parsed})
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source, AlertRules)) from None


def load_rules(path: str | Path) -> AlertRules:
    """Read a rules file (see the module docstring); the webhook url may come from ``MODELYARD_ALERT_WEBHOOK``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"alert rules file {path} does not exist; configs/alerts.yaml is an example ({RULES_ENV})")
    rules = parse_rules(path.read_text(encoding="utf-8"), str(path))
    return with_webhook_from_env(rules)


def with_webhook_from_env(rules: AlertRules) -> AlertRules:
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return rules
    try:
        hook = Webhook.model_validate((rules.webhook.model_dump() if rules.webhook else {}) | {"url": url})
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, WEBHOOK_ENV, Webhook)) from None
    return rules.model_copy(update={"webhook": hook})


def rules_from_env() -> AlertRules:
    """The rules named by ``MODELYARD_ALERT_RULES`` (none when it is unset)."""
    path = os.environ.get(RULES_ENV)
    return load_rules(path) if path else with_webhook_from_env(AlertRules())
