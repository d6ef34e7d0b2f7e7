"""What text classification is to the rest of modelyard: its ``Task`` entry (see ``modelyard.tasks``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.config import DataSpec, ModelSpec
from modelyard.data.validate import Example, label_counts
from modelyard.tasks.labels import LabelMap


class TextClassification:
    """Single-label and multi-label sequence classification: one or more labels per text."""

    name = "text-classification"
    auto_class = "AutoModelForSequenceClassification"
    peft_task_type = "SEQ_CLS"
    headline = ("accuracy", "macro_f1")

    def read_splits(self, spec: DataSpec) -> tuple[dict[str, list[Any]], dict[str, Any]]:
        from modelyard.tasks.text_classification.data import read_splits

        return read_splits(spec)

    def labels(self, examples: list[Any]) -> list[str]:
        return sorted(label_counts(examples))

    def to_record(self, example: Any) -> dict[str, Any]:
        from modelyard.tasks.text_classification.data import to_record

        return to_record(example)

    def from_record(self, record: dict[str, Any], line: int) -> Example:
        from modelyard.tasks.text_classification.data import from_record

        return from_record(record, line)

    def label_map(self, labels: list[str], multi_label: bool) -> LabelMap:
        return LabelMap(tuple(labels), multi_label)

    def encode(
        self, examples: list[Any], tokenizer: Any, label_map: LabelMap, model: ModelSpec, *, training: bool = False
    ) -> Any:
        from modelyard.tasks.text_classification.data import encode

        return encode(examples, tokenizer, label_map, model.max_length)

    def collator(self, tokenizer: Any) -> Any:
        from modelyard.tasks.text_classification.data import collator

        return collator(tokenizer)

    def metrics(
        self, label_map: LabelMap, label_ids: Any, logits: Any, examples: list[Any], model: ModelSpec
    ) -> dict[str, Any]:
        import numpy as np

        from modelyard.tasks.labels import scores_of
        from modelyard.tasks.text_classification.metrics import compute_metrics

        probs = scores_of(np.asarray(logits, dtype=np.float32), label_map.multi_label)
        return compute_metrics(list(label_map.labels), np.asarray(label_ids), probs, multi_label=label_map.multi_label)

    def summary(self, metrics: dict[str, Any]) -> str:
        from modelyard.tasks.text_classification.metrics import summary_line

        return summary_line(metrics)

    def predictor(self, folder: Path, max_length: int) -> Any:
        from modelyard.tasks.text_classification.predict import Predictor

        return Predictor(folder, max_length=max_length)

    def evaluate_file(self, predictor: Any, path: Path, data: DataSpec) -> dict[str, Any]:
        from modelyard.data.readers import read_table
        from modelyard.data.validate import to_examples

        examples = to_examples(read_table(path), data.text_column, data.label_column, data.label_separator)
        return self.evaluate_examples(predictor, examples)

    def evaluate_examples(self, predictor: Any, examples: list[Any]) -> dict[str, Any]:
        import numpy as np

        from modelyard.tasks.text_classification.metrics import compute_metrics

        label_map = predictor.label_map
        y_true = np.array([label_map.encode(e.label) for e in examples])
        probs = predictor.probabilities([e.text for e in examples])
        return compute_metrics(list(label_map.labels), y_true, probs, multi_label=label_map.multi_label)


TASK = TextClassification()
