"""Read NER data (CoNLL files or JSONL with character spans), split it, and encode it for the model.

Labels are aligned word → subword the usual way: the first subword of a word
carries the word's IOB2 tag and every other subword is ignored by the loss
(-100); predictions are read back from the first subwords the same way.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import DataCollatorForTokenClassification

from modelyard.config import DataSpec
from modelyard.data import fetch
from modelyard.errors import DataError
from modelyard.tasks.labels import LabelMap
from modelyard.tasks.text_classification.data import EncodedDataset
from modelyard.tasks.token_classification.context import Window, subword_counter, windows
from modelyard.tasks.token_classification.formats import TokenExample, read_conll, read_span_jsonl
from modelyard.tasks.token_classification.shapes import shape_ids
from modelyard.tasks.token_classification.tags import Span

IGNORED = -100
"""Label of subwords the loss skips (transformers' convention)."""
_JSONL = (".jsonl", ".ndjson", ".json")


def read_file(path: Path, spec: DataSpec) -> list[TokenExample]:
    """CoNLL (any other suffix) or JSONL with character spans (``.jsonl``)."""
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if path.suffix.lower() in _JSONL:
        return read_span_jsonl(path, text_key=spec.text_column, entities_key=spec.entities_column)
    return read_conll(path, scheme=spec.tag_scheme)


def read_splits(spec: DataSpec) -> tuple[dict[str, list[TokenExample]], dict[str, Any]]:
    """Examples per split: a fetched data set, the user's split files, or one file split here at random."""
    if spec.dataset is not None:
        files: dict[str, Path] = dict(fetch.fetch(spec.dataset).splits)
        spec = spec.model_copy(update={"tag_scheme": "IOB2"})
    elif spec.train is not None:
        assert spec.validation is not None  # guaranteed by DataSpec's validator
        files = {"train": spec.train, "validation": spec.validation}
        if spec.test is not None:
            files["test"] = spec.test
    else:
        assert spec.path is not None
        examples = read_file(spec.path, spec)
        report = {"source": {"file": str(spec.path)}} | quality_report(examples, str(spec.path))
        return _random_split(examples, spec, str(spec.path)), report | {
            "split": "random",
            "split_seed": spec.split_seed,
            "validation_fraction": spec.validation_fraction,
            "test_fraction": spec.test_fraction,
        }
    splits = {split: read_file(path, spec) for split, path in files.items()}
    splits.setdefault("test", [])
    every = [e for rows in splits.values() for e in rows]
    report = {"source": {k: str(v) for k, v in files.items()}, "split": "given"}
    return splits, report | quality_report(every, str(files["train"]))


def _random_split(examples: list[TokenExample], spec: DataSpec, source: str) -> dict[str, list[TokenExample]]:
    # A sentence holds several entity types at once, so there is no label to stratify on; a seeded shuffle it is.
    order = list(range(len(examples)))
    random.Random(spec.split_seed).shuffle(order)
    n_test = round(len(order) * spec.test_fraction)
    n_validation = max(1, round(len(order) * spec.validation_fraction))
    if len(order) - n_test - n_validation < 1 or (spec.test_fraction > 0 and n_test < 1):
        raise DataError(
            f"{source}: {len(order)} sentence(s) are too few to split into train/validation/test; "
            "add sentences or give your own split files (data.train / data.validation / data.test)"
        )
    test, validation = order[:n_test], order[n_test : n_test + n_validation]
    train = order[n_test + n_validation :]
    return {
        name: [examples[i] for i in sorted(part)]
        for name, part in (("train", train), ("validation", validation), ("test", test))
    }


def quality_report(examples: list[TokenExample], source: str) -> dict[str, Any]:
    """Counts only (never the texts): sentences, words, entities per type, duplicates."""
    by_type = Counter(span.label for e in examples for span in e.entities)
    if not by_type:
        raise DataError(f"{source}: no entity is tagged in any sentence; there is nothing to learn")
    texts = Counter(e.text for e in examples)
    return {
        "rows": len(examples),
        "words": sum(len(e.words) for e in examples),
        "entities": sum(by_type.values()),
        "labels": len(by_type),
        "label_counts": dict(sorted(by_type.items())),
        "sentences_without_entities": sum(1 for e in examples if not e.entities),
        "duplicate_rows": sum(n - 1 for n in texts.values() if n > 1),
        "longest_sentence_words": max(len(e.words) for e in examples),
    }


def labels_of(examples: list[TokenExample]) -> list[str]:
    return sorted({span.label for e in examples for span in e.entities})


def tag_map(entity_types: list[str]) -> LabelMap:
    """The model's outputs: ``O`` then ``B-``/``I-`` of each entity type."""
    return LabelMap(("O", *(f"{prefix}-{kind}" for kind in entity_types for prefix in ("B", "I"))))


def to_record(example: TokenExample) -> dict[str, Any]:
    record: dict[str, Any] = {
        "text": example.text,
        "words": [list(word) for word in example.words],
        "entities": [[s.start, s.end, s.label] for s in example.entities],
    }
    if example.document is not None:  # absent, not null: datasets without documents keep their hash
        record["document"] = example.document
    return record


def from_record(record: dict[str, Any], line: int) -> TokenExample:
    return TokenExample(
        record["text"],
        tuple((int(s), int(e)) for s, e in record["words"]),
        tuple(Span(int(s), int(e), str(label)) for s, e, label in record["entities"]),
        line,
        record.get("document"),
    )


def word_strings(example: TokenExample) -> list[str]:
    return [example.text[start:end] for start, end in example.words]


def encode(
    examples: list[TokenExample],
    tokenizer: Any,
    label_map: LabelMap,
    max_length: int,
    *,
    case_features: bool = False,
    document_context: int = 0,
    context_dropout: float = 0.0,
) -> EncodedDataset:
    """Subword ids and labels on the first subwords of the sentence's words; with ``case_features`` each
    subword's word shape; with ``document_context`` the sentence sits between its document neighbours,
    except for a seeded ``context_dropout`` share of the sentences, which stand alone."""
    sentences = [word_strings(e) for e in examples]
    spans = encoding_windows(sentences, [e.document for e in examples], tokenizer, max_length, document_context)
    if context_dropout:
        # Seeded by the data, not the clock: the same recipe on the same data encodes the same inputs.
        draw = random.Random(len(examples))
        spans = [
            Window(words, 0, len(words)) if draw.random() < context_dropout else span
            for words, span in zip(sentences, spans, strict=True)
        ]
    encoded = tokenizer([w.words for w in spans], is_split_into_words=True, truncation=True, max_length=max_length)
    index = label_map.label2id
    features = []
    for i, (example, window) in enumerate(zip(examples, spans, strict=True)):
        feature = {key: values[i] for key, values in encoded.items()}
        tags = [index[tag] for tag in example.tags]
        feature["labels"] = first_subword_labels(encoded.word_ids(i), tags, offset=window.start)
        if case_features:
            feature["token_type_ids"] = shape_ids(encoded.word_ids(i), window.words)
        features.append(feature)
    return EncodedDataset(features)


def encoding_windows(
    sentences: list[list[str]], documents: list[str | None], tokenizer: Any, max_length: int, words_each_side: int
) -> list[Window]:
    """Each sentence's window of context (itself alone when ``words_each_side`` is 0)."""
    if not words_each_side:
        return [Window(words, 0, len(words)) for words in sentences]
    special = tokenizer.num_special_tokens_to_add(pair=False)
    return windows(sentences, documents, words_each_side, subword_counter(tokenizer), max_length - special)


def first_subwords(word_ids: list[int | None], start: int, count: int) -> Iterator[tuple[int, int]]:
    """``(position, word)`` of the first subword of each of the ``count`` sentence words that begin at word
    ``start`` of the window (``word`` counted from the sentence's first); the one subword a word is
    trained and read on. Special tokens, later subwords and context words are skipped."""
    previous = None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous and 0 <= word - start < count:
            yield position, word - start
        previous = word


def first_subword_labels(word_ids: list[int | None], word_labels: list[int], offset: int = 0) -> list[int]:
    """Each word's label on its first subword; every other position gets ``IGNORED``."""
    labels = [IGNORED] * len(word_ids)
    for position, word in first_subwords(word_ids, offset, len(word_labels)):
        labels[position] = word_labels[word]
    return labels


def collator(tokenizer: Any) -> DataCollatorForTokenClassification:
    return DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if torch.cuda.is_available() else None)
