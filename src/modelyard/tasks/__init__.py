"""Task plugins: one subpackage per task type, each with the same five files.

``config.py`` says what the task is and ties the other four together
(``data.py`` reading/encoding, ``head.py`` the model, ``metrics.py``, ``predict.py``);
it defines ``TASK``, an object with the ``Task`` interface below. ``get(name)``
finds it. The training loop, registry, evaluation, export and server only ever
talk to a task through this interface, so a new task is a new folder plus one
line in ``_PACKAGES``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

from modelyard.config import DataSpec, ModelSpec
from modelyard.errors import ConfigError
from modelyard.tasks.labels import LabelMap

_PACKAGES = {
    "text-classification": "modelyard.tasks.text_classification.config",
    "token-classification": "modelyard.tasks.token_classification.config",
}


class Task(Protocol):
    name: str
    auto_class: str
    """The transformers Auto class of the model with this task's head."""
    peft_task_type: str
    """peft's ``TaskType`` member name for LoRA on this task."""
    headline: tuple[str, ...]
    """Metric keys shown during training and kept as the ``eval_*`` metrics."""

    def read_splits(self, spec: DataSpec) -> tuple[dict[str, list[Any]], dict[str, Any]]:
        """Read and validate the source named by ``spec``; examples per split and the import report."""
        ...

    def labels(self, examples: list[Any]) -> list[str]:
        """The sorted label set of the examples (classes, or entity types)."""
        ...

    def to_record(self, example: Any) -> dict[str, Any]:
        """One stored JSONL record (also what the dataset's content hash is taken over)."""
        ...

    def from_record(self, record: dict[str, Any], line: int) -> Any: ...

    def label_map(self, labels: list[str], multi_label: bool) -> LabelMap:
        """The model's output labels for a dataset's label set."""
        ...

    def encode(
        self, examples: list[Any], tokenizer: Any, label_map: LabelMap, model: ModelSpec, *, training: bool = False
    ) -> Any:
        """Model inputs and labels; ``model`` gives the truncation length and any input features;
        ``training``: the split the model learns from (where a recipe may read examples differently)."""
        ...

    def collator(self, tokenizer: Any) -> Any: ...

    def metrics(
        self, label_map: LabelMap, label_ids: Any, logits: Any, examples: list[Any], model: ModelSpec
    ) -> dict[str, Any]:
        """Every metric of the task from the Trainer's label ids and logits on ``examples`` (one per row, in
        order), read with the recipe's ``model`` settings."""
        ...

    def summary(self, metrics: dict[str, Any]) -> str:
        """One human line with the headline numbers."""
        ...

    def predictor(self, folder: Path, max_length: int) -> Any:
        """A torch predictor on a version folder: ``serve(texts)`` gives one JSON-ready result per text."""
        ...

    def evaluate_file(self, predictor: Any, path: Path, data: DataSpec) -> dict[str, Any]:
        """Metrics of ``predictor`` on a labelled file read as ``data`` describes."""
        ...

    def evaluate_examples(self, predictor: Any, examples: list[Any]) -> dict[str, Any]:
        """Metrics of ``predictor`` on labelled examples (a stored split, or a file's)."""
        ...


def get(name: str) -> Task:
    """The plugin of a task type; a ConfigError lists the known ones."""
    try:
        module = importlib.import_module(_PACKAGES[name])
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(_PACKAGES)}") from None
    task: Task = module.TASK
    return task


def names() -> tuple[str, ...]:
    return tuple(_PACKAGES)
