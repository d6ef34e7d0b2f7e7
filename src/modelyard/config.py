"""Recipes: one YAML file per run, validated by frozen pydantic models.

YAML is only the saved form; the models below are the source of truth for the
YAML, the CLI and (later) the API schema. Unknown keys are refused, and every
error names the key path, what was found and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelyard.errors import ConfigError

TaskName = Literal["text-classification", "token-classification"]
TagScheme = Literal["IOB2", "IOB1", "IOBES"]


class FrozenModel(BaseModel):
    """Base of every config: immutable, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


PiiOperator = Literal["replace", "mask", "hash", "encrypt"]


class PiiSpec(FrozenModel):
    """PII scrubbing at import: on by default, so personal data never reaches a model or the disk.

    What is found in a text is turned into what ``operator`` makes of it before anything is
    stored; the dataset version records these settings and counts of findings by type.
    """

    scrub: bool = True
    """``false`` opts out (recorded in the dataset version)."""
    operator: PiiOperator = "replace"
    """``replace`` (``<EMAIL>``), ``mask`` (``*****``), ``hash`` (salted, same value → same token) or ``encrypt``."""
    types: tuple[str, ...] | None = None
    """Only these types (e.g. ``[EMAIL, CREDIT_CARD]``); default every pattern type, and names when available."""
    names: bool = True
    """Person, location and organisation names through the NER name detector (when it is installed)."""
    min_score: float = Field(0.5, ge=0, le=1)


class DataSpec(FrozenModel):
    """Where the labelled examples come from and how to read them."""

    dataset: str | None = None
    """A fetched data set (``banking77``) or an imported one (``project/name`` or ``project/name@hash``)."""
    path: Path | None = None
    """One file to split into train/validation/test."""
    train: Path | None = None
    """The user's own split: training file (``validation`` and ``test`` then come from their own files too)."""
    validation: Path | None = None
    test: Path | None = None
    text_column: str = "text"
    label_column: str = "label"
    split_column: str | None = None
    """A column holding ``train``/``validation``/``test`` for each row: the user's own split."""
    label_separator: str | None = None
    """Multi-label: the character separating labels inside the label column (e.g. ``|``)."""
    entities_column: str = "entities"
    """Token classification, JSONL: the key holding ``[{start, end, label}]`` character spans."""
    tag_scheme: TagScheme = "IOB2"
    """Token classification, CoNLL files: the tag scheme of the tag column (converted to IOB2)."""
    validation_fraction: float = Field(0.1, gt=0, lt=0.5)
    test_fraction: float = Field(0.1, ge=0, lt=0.5)
    split_seed: int = 42
    pii: PiiSpec = PiiSpec()
    """PII scrubbing of the text at import."""

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        sources = [s for s in ("dataset", "path", "train") if getattr(self, s) is not None]
        if len(sources) != 1:
            raise ValueError(
                "give exactly one of data.dataset (a fetched or imported data set), data.path "
                f"(one file to split) or data.train (+ data.validation, data.test); found {sources or 'none'}"
            )
        if self.train is not None and self.validation is None:
            raise ValueError("data.train needs data.validation too (and optionally data.test)")
        if self.split_column and self.path is None:
            raise ValueError("data.split_column applies to data.path only")
        return self


class ModelSpec(FrozenModel):
    """The pretrained encoder to start from."""

    base: str = "minilm-l6"
    """A local folder, the packaged default ``minilm-l6``, or a Hugging Face hub id."""
    max_length: int = Field(128, ge=8, le=4096)
    """Longer inputs are truncated to this many tokens."""
    pooling: Literal["cls", "mean", "auto"] = "cls"
    """Text classification: what the head reads — the ``[CLS]`` pooler (``cls``, transformers' own head),
    the mean of the token vectors (``mean``), or ``auto``: the base's own sentence-embedding pooling when
    it declares one (the packaged MiniLM: mean). ``cls`` stays the default because it measured better on
    the packaged MiniLM: Banking77 0.9269 vs 0.9231, Rotten Tomatoes 0.8454 vs 0.8415 with mean."""
    case_features: bool = False
    """NER: give every subword its word's letter case (lowercase, Capitalised, ALL CAPS, digits, mixed),
    which an uncased base's tokenizer discards; see ``tasks/token_classification/shapes.py``."""
    document_context: int = Field(0, ge=0, le=512)
    """NER: read each sentence between up to this many words of its document before and after it
    (0: each sentence alone); see ``tasks/token_classification/context.py``."""
    context_dropout: float = Field(0.0, ge=0, lt=1)
    """NER with ``document_context``: this share of the training sentences (a seeded draw) is read alone,
    so the model also tags a sentence that comes without its document; validation reads every sentence
    with its context, as ``evaluate`` does."""
    document_consistency: float = Field(0.0, ge=0, le=1)
    """NER, when reading: move each word's entity-type probabilities by this share toward their mean over
    all the word's mentions (itself included) in the same document (or text) before decoding; 0: each
    mention on its own.
    See ``tasks/token_classification/consistency.py``."""


class LoraSpec(FrozenModel):
    """LoRA settings (peft), used when ``training.method`` is ``lora``."""

    r: int = Field(8, ge=1, le=256)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    target_modules: tuple[str, ...] = ("query", "value")


class TrainingSpec(FrozenModel):
    """Hyperparameters of the fine-tuning loop."""

    method: Literal["full", "lora", "head"] = "full"
    """``full``: every weight learns; ``lora``: low-rank adapters and the head; ``head``: only the task head
    on the frozen pretrained encoder (a linear probe: fastest, and the one that learns under DP-SGD on a few
    thousand examples, where noise on millions of encoder weights drowns the signal)."""
    epochs: float = Field(3, gt=0, le=1000)
    max_steps: int = Field(-1, ge=-1)
    """Stop after this many optimiser steps (``-1``: run all epochs)."""
    batch_size: int = Field(16, ge=1, le=4096)
    eval_batch_size: int = Field(64, ge=1, le=4096)
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    weight_decay: float = Field(0.01, ge=0, lt=1)
    warmup: float = Field(0.06, ge=0)
    """Warm-up: a fraction of all steps when < 1, else a number of steps."""
    seed: int = 42
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """``auto``: bf16 on a GPU that supports it, else fp16 on a GPU, else fp32."""
    group_by_length: bool = True
    """Batch examples of similar length together: less padding, faster steps."""
    eval_every: Literal["epoch"] | int = "epoch"
    """Evaluate (and checkpoint) every epoch, or every N steps."""
    early_stopping_patience: int | None = Field(3, ge=1)
    """Stop after this many evaluations without improvement (``null``: never stop early)."""
    metric_for_best: Literal["accuracy", "macro_f1", "f1", "loss"] | None = None
    """Validation metric that picks the best checkpoint; ``None``: the task's own (accuracy; entity F1 for NER)."""
    keep: Literal["best", "last"] = "best"
    """The checkpoint a run ends with: the best on validation, or the last (for a final fit on all the
    labelled rows, where the validation rows were trained on and cannot choose)."""
    save_total_limit: int = Field(2, ge=1)
    """Checkpoints kept on disk while training (raised to what ``average_last`` needs)."""
    average_last: int | None = Field(None, ge=2, le=50)
    """Register the mean of the weights of the last N evaluated checkpoints, ending at the one training
    keeps (see ``keep``), instead of that one alone: same size and speed, often a little better
    on unseen data. The run's metrics give the validation figure of the mean of the last 1, 2, … N
    (``null``: no averaging)."""
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    rdrop: float | None = Field(None, gt=0, le=100)
    """R-Drop: each batch runs twice through dropout and this weight times the symmetric KL between the
    two predictions joins the loss (a regulariser; about twice the training time, no inference cost;
    ``null``: off). 1.0 is a usual start."""
    layer_decay: float | None = Field(None, gt=0, le=1)
    """Layer-wise learning-rate decay: each layer below the head learns ``layer_decay`` times slower
    than the one above it (``null``: one rate for all)."""
    lora: LoraSpec | None = None

    @model_validator(mode="after")
    def _lora_matches_method(self) -> TrainingSpec:
        if self.lora is not None and self.method != "lora":
            raise ValueError(
                f"training.lora is set but training.method is {self.method!r}: set method: lora or drop lora"
            )
        return self

    @property
    def lora_settings(self) -> LoraSpec:
        return self.lora or LoraSpec()


class DPSpec(FrozenModel):
    """Differentially private training (DP-SGD with Opacus): each example's gradient is clipped, noise is added."""

    epsilon: float = Field(gt=0)
    """Privacy budget ε to reach by the end of training; the noise is set so the run spends at most this."""
    delta: float | None = Field(None, gt=0, lt=1)
    """δ of the (ε, δ) guarantee; ``null``: 1/(10·n) for n training examples. Must be below 1/n."""
    max_grad_norm: float = Field(1.0, gt=0)
    """Each example's gradient is clipped to this L2 norm before the noise is added."""
    physical_batch_size: int = Field(16, ge=1, le=4096)
    """Examples per forward/backward pass (memory only); a larger sampled batch is split, the maths is unchanged."""


class PrivacySpec(FrozenModel):
    """Privacy of the training run itself (PII scrubbing of the data is the import's job)."""

    dp: DPSpec | None = None
    """Train with differential privacy; ``null``: ordinary training."""


class GateSpec(FrozenModel):
    """When ``modelyard retrain`` may promote its candidate over the production version."""

    metric: Literal["accuracy", "macro_f1", "f1"] | None = None
    """Compared on the frozen holdout (the original test split); ``None``: the task's own (accuracy; entity F1)."""
    max_drop: float = Field(0.01, ge=0, le=1)
    """The candidate may score at most this much below production on the frozen holdout."""
    confidence: float | None = Field(None, ge=0.5, lt=1)
    """``None``: the observed drop is held to ``max_drop``. A level such as 0.95: the drop at the low end of
    the paired-bootstrap interval at that level is too, so a candidate passes only when it is that sure not
    to have lost more (strict on small holdouts). The interval is reported at this level (95% when unset)."""
    min_fixed: float = Field(0.5, ge=0, le=1)
    """Of production's mistakes in the held-out feedback, the candidate must get at least this share right."""
    feedback_holdout: float = Field(0.2, ge=0, lt=1)
    """Share of the accepted feedback kept out of training to check the candidate on."""


class Recipe(FrozenModel):
    """One fine-tuning run: task, data, base model, hyperparameters, output name."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    """The registered model's name; versions are numbered under it."""
    project: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    task: TaskName = "text-classification"
    description: str = ""
    data: DataSpec
    model: ModelSpec = ModelSpec()
    training: TrainingSpec = TrainingSpec()
    privacy: PrivacySpec = PrivacySpec()
    gate: GateSpec = GateSpec()
    """The promotion gate of ``modelyard retrain``."""

    @model_validator(mode="after")
    def _fits_task(self) -> Recipe:
        allowed = {"text-classification": ("accuracy", "macro_f1", "loss"), "token-classification": ("f1", "loss")}
        metric = self.training.metric_for_best
        if metric is not None and metric not in allowed[self.task]:
            raise ValueError(
                f"training.metric_for_best {metric!r} does not apply to {self.task}; use one of "
                f"{', '.join(allowed[self.task])}"
            )
        if self.task == "token-classification" and self.data.label_separator is not None:
            raise ValueError("data.label_separator (multi-label) applies to text-classification only")
        if self.task == "token-classification" and self.model.pooling != "cls":
            raise ValueError("model.pooling applies to text-classification only (NER labels every token)")
        for key in ("case_features", "document_context", "context_dropout", "document_consistency"):
            if self.task != "token-classification" and getattr(self.model, key):
                raise ValueError(f"model.{key} applies to token-classification only")
        if self.training.average_last is not None and self.privacy.dp is not None:
            raise ValueError(
                "training.average_last averages saved checkpoints; a DP-SGD run (privacy.dp) saves none: drop one"
            )
        if self.training.rdrop is not None and self.privacy.dp is not None:
            raise ValueError(
                "training.rdrop pairs two passes of each example; DP-SGD (privacy.dp) clips each example's "
                "gradient alone: drop one"
            )
        if self.model.context_dropout and not self.model.document_context:
            raise ValueError("model.context_dropout drops document context: set model.document_context too")
        return self

    @property
    def multi_label(self) -> bool:
        return self.data.label_separator is not None

    @property
    def best_metric(self) -> str:
        return self.training.metric_for_best or ("f1" if self.task == "token-classification" else "accuracy")

    def fingerprint(self) -> str:
        """Short hash of the resolved config: names a run's checkpoint folder."""
        dumped = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(dumped.encode()).hexdigest()[:12]


def format_validation_error(error: ValidationError, source: str, model: type[BaseModel]) -> str:
    """One line per problem: ``source: key.path: message (found X)``, allowed keys for typos."""
    lines = [f"{source} is not a valid {model.__name__.lower()}:"]
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, item["loc"][:-1])
            message = f"unknown key; allowed here: {', '.join(allowed)}"
        elif item["type"] != "value_error" and "input" in item and not isinstance(item["input"], dict):
            message += f" (found {item['input']!r})"
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for key in loc:
        field = current.model_fields.get(key)
        annotation = field.annotation if field else None
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        current = next((c for c in candidates if issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return sorted(current.model_fields)


def parse_recipe(raw: Any, source: str = "recipe") -> Recipe:
    """Validate an already-parsed mapping as a recipe."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping of keys (name, data, model, training), found {type(raw).__name__}"
        )
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source, Recipe)) from None


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a YAML recipe; relative data paths are taken from the recipe's folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"recipe {path} does not exist; shipped recipes live in configs/ (e.g. configs/banking77.yaml)"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    recipe = parse_recipe(raw, str(path))
    return _resolve_paths(recipe, path.parent)


def _resolve_paths(recipe: Recipe, base: Path) -> Recipe:
    updates = {}
    for key in ("path", "train", "validation", "test"):
        value = getattr(recipe.data, key)
        if value is not None and not value.is_absolute():
            updates[key] = (base / value).resolve()
    if not updates:
        return recipe
    return recipe.model_copy(update={"data": recipe.data.model_copy(update=updates)})


def dump_recipe(recipe: Recipe) -> str:
    """The recipe as YAML, every default filled in (what an artifact records)."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
