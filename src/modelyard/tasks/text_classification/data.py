"""Encode examples for the model and pad each batch only as far as its longest member.

Dynamic padding plus length-grouped batches (the Trainer's ``group_by_length``)
is where most of our CPU training speed comes from: Banking77 messages are ~15
tokens, so padding every batch to 128 would waste most of each step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import DataCollatorWithPadding

from modelyard.config import DataSpec
from modelyard.data import fetch
from modelyard.data.readers import read_table
from modelyard.data.split import by_column, drop_exact_duplicates, stratified_split
from modelyard.data.validate import Example, quality_report, require_splittable, to_examples
from modelyard.tasks.labels import LabelMap


def read_splits(spec: DataSpec) -> tuple[dict[str, list[Example]], dict[str, Any]]:
    """Examples per split from one file (split here or by a column), split files, or a fetched data set."""

    def examples_of(path: Path) -> list[Example]:
        return to_examples(read_table(path), spec.text_column, spec.label_column, spec.label_separator)

    if spec.dataset is not None:
        fetched = fetch.fetch(spec.dataset)
        files: dict[str, Path | None] = dict(fetched.splits)
        spec = spec.model_copy(update={"text_column": fetched.text_column, "label_column": fetched.label_column})
    elif spec.train is not None:
        files = {"train": spec.train, "validation": spec.validation}
        if spec.test is not None:
            files["test"] = spec.test
    else:
        assert spec.path is not None  # guaranteed by DataSpec's validator
        return _split_one_file(spec.path, spec)

    splits = {split: examples_of(path) for split, path in files.items() if path is not None}
    splits.setdefault("test", [])
    all_rows = [e for rows in splits.values() for e in rows]
    report = {"source": {k: str(v) for k, v in files.items()}, "split": "given"} | quality_report(all_rows)
    return splits, report


def _split_one_file(path: Path, spec: DataSpec) -> tuple[dict[str, list[Example]], dict[str, Any]]:
    table = read_table(path)
    examples = to_examples(table, spec.text_column, spec.label_column, spec.label_separator)
    report: dict[str, Any] = {"source": {"file": str(path)}} | quality_report(examples)
    if spec.split_column is not None:
        table.require(spec.split_column)
        assignments = [str(row.cells.get(spec.split_column, "")) for row in table.rows]
        return by_column(examples, assignments, str(path)), report | {"split": f"column {spec.split_column}"}
    examples, dropped = drop_exact_duplicates(examples)
    require_splittable(examples, 3 if spec.test_fraction > 0 else 2, str(path))
    splits = stratified_split(examples, spec.validation_fraction, spec.test_fraction, spec.split_seed)
    return splits, report | {
        "split": "stratified",
        "split_seed": spec.split_seed,
        "validation_fraction": spec.validation_fraction,
        "test_fraction": spec.test_fraction,
        "dropped_duplicates": dropped,
    }


def to_record(example: Example) -> dict[str, Any]:
    label = list(example.label) if isinstance(example.label, tuple) else example.label
    return {"text": example.text, "label": label}


def from_record(record: dict[str, Any], line: int) -> Example:
    label = tuple(record["label"]) if isinstance(record["label"], list) else record["label"]
    return Example(record["text"], label, line)


class EncodedDataset(torch.utils.data.Dataset[dict[str, Any]]):
    """Tokenised examples, unpadded; ``labels`` present when the examples carry them."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


def encode(examples: list[Example], tokenizer: Any, label_map: LabelMap, max_length: int) -> EncodedDataset:
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
    features = []
    for i, example in enumerate(examples):
        feature = {key: values[i] for key, values in encoded.items()}
        feature["labels"] = label_map.encode(example.label)
        features.append(feature)
    return EncodedDataset(features)


def collator(tokenizer: Any) -> DataCollatorWithPadding:
    # Multiples of 8 let fp16/bf16 kernels on GPUs use tensor cores; on CPU it costs little.
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None)
