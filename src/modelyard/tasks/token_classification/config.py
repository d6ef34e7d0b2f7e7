"""What named-entity recognition is to the rest of modelyard: its ``Task`` entry (see ``modelyard.tasks``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.config import DataSpec, ModelSpec
from modelyard.tasks.labels import LabelMap


class TokenClassification:
    """Token classification: entity spans (PER, ORG, ...) tagged word by word in IOB2."""

    name = "token-classification"
    auto_class = "AutoModelForTokenClassification"
    peft_task_type = "TOKEN_CLS"
    headline = ("f1", "precision", "recall")

    def read_splits(self, spec: DataSpec) -> tuple[dict[str, list[Any]], dict[str, Any]]:
        from modelyard.tasks.token_classification.data import read_splits

        return read_splits(spec)

    def labels(self, examples: list[Any]) -> list[str]:
        from modelyard.tasks.token_classification.data import labels_of

        return labels_of(examples)

    def to_record(self, example: Any) -> dict[str, Any]:
        from modelyard.tasks.token_classification.data import to_record

        return to_record(example)

    def from_record(self, record: dict[str, Any], line: int) -> Any:
        from modelyard.tasks.token_classification.data import from_record

        return from_record(record, line)

    def label_map(self, labels: list[str], multi_label: bool) -> LabelMap:
        from modelyard.tasks.token_classification.data import tag_map

        return tag_map(labels)

    def encode(
        self, examples: list[Any], tokenizer: Any, label_map: LabelMap, model: ModelSpec, *, training: bool = False
    ) -> Any:
        from modelyard.tasks.token_classification.data import encode

        return encode(
            examples,
            tokenizer,
            label_map,
            model.max_length,
            case_features=model.case_features,
            document_context=model.document_context,
            context_dropout=model.context_dropout if training else 0.0,
        )

    def collator(self, tokenizer: Any) -> Any:
        from modelyard.tasks.token_classification.data import collator

        return collator(tokenizer)

    def metrics(
        self, label_map: LabelMap, label_ids: Any, logits: Any, examples: list[Any], model: ModelSpec
    ) -> dict[str, Any]:
        from modelyard.tasks.token_classification.metrics import compute_metrics, tags_from_logits

        read = tags_from_logits(label_ids, logits, label_map.labels, examples, model.document_consistency)
        return compute_metrics(*read)

    def summary(self, metrics: dict[str, Any]) -> str:
        from modelyard.tasks.token_classification.metrics import summary_line

        return summary_line(metrics)

    def predictor(self, folder: Path, max_length: int) -> Any:
        from modelyard.tasks.token_classification.predict import TokenPredictor

        return TokenPredictor(folder, max_length=max_length)

    def evaluate_file(self, predictor: Any, path: Path, data: DataSpec) -> dict[str, Any]:
        from modelyard.tasks.token_classification.data import read_file

        return self.evaluate_examples(predictor, read_file(path, data))

    def evaluate_examples(self, predictor: Any, examples: list[Any]) -> dict[str, Any]:
        from modelyard.tasks.token_classification.data import word_strings
        from modelyard.tasks.token_classification.metrics import compute_metrics

        predicted = predictor.word_tags([word_strings(e) for e in examples], [e.document for e in examples])
        return compute_metrics([e.tags for e in examples], predicted)


TASK = TokenClassification()
