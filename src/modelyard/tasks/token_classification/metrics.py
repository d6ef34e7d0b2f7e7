"""Entity-level metrics for NER with seqeval (CoNLL's conlleval rules), overall and per entity type.

``compute_metrics`` returns a plain dict for ``report.json``::

    f1, precision, recall     micro over every entity (the CoNLL-2003 headline figure)
    macro_f1                  mean over entity types
    token_accuracy            word-level tag accuracy
    per_class                 [{label, precision, recall, f1, support}] per entity type
    per_type                  {type: {precision, recall, f1, support}} (the same, keyed)
    entities, predicted_entities, n (sentences), words
"""

from __future__ import annotations

from typing import Any

import numpy as np
from seqeval.metrics import accuracy_score, classification_report
from seqeval.metrics.sequence_labeling import get_entities

from modelyard.errors import DataError
from modelyard.tasks.labels import scores_of
from modelyard.tasks.token_classification.consistency import harmonise
from modelyard.tasks.token_classification.decode import decode_tags


def compute_metrics(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Score predicted IOB2 tag sequences against gold ones (one list of word tags per sentence)."""
    if not gold:
        raise DataError("no sentences to evaluate; check that the evaluation split is not empty")
    if [len(g) for g in gold] != [len(p) for p in predicted]:
        raise DataError("predicted and gold tag sequences differ in length; they must have one tag per word")
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    types = sorted(key for key in report if key not in ("micro avg", "macro avg", "weighted avg"))
    per_type = {
        kind: {
            "precision": float(report[kind]["precision"]),
            "recall": float(report[kind]["recall"]),
            "f1": float(report[kind]["f1-score"]),
            "support": int(report[kind]["support"]),
        }
        for kind in types
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {
        "f1": float(micro["f1-score"]),
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "macro_f1": float(np.mean([row["f1"] for row in per_type.values()])) if per_type else 0.0,
        "token_accuracy": float(accuracy_score(gold, predicted)),
        "per_class": [{"label": kind} | row for kind, row in per_type.items()],
        "per_type": per_type,
        "entities": sum(row["support"] for row in per_type.values()),
        "predicted_entities": len(get_entities(predicted)),
        "n": len(gold),
        "words": sum(len(tags) for tags in gold),
    }


def tags_from_logits(
    label_ids: Any,
    logits: Any,
    labels: tuple[str, ...],
    examples: list[Any] | None = None,
    document_consistency: float = 0.0,
) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted word tags from the Trainer's padded subword arrays (first subwords only), read
    as prediction reads them, so validation scores what users get: with ``document_consistency`` and the
    split's ``examples`` (one per row, in order) a word's mentions in a document pull toward each other,
    then each sentence is decoded."""
    gold_ids, probabilities = np.asarray(label_ids), scores_of(np.asarray(logits), multi_label=False)
    gold, matrices = [], []
    for row_gold, row_probabilities in zip(gold_ids, probabilities, strict=True):
        keep = row_gold != -100
        gold.append([labels[i] for i in row_gold[keep]])
        matrices.append(row_probabilities[keep])
    if examples is not None and document_consistency > 0:
        # Row j is word j only when every word got a label: a truncated sentence, or one holding a word the
        # tokenizer drops (a zero-width character), cannot be matched word for word and is read on its own.
        words = [
            [e.text[start:end] for start, end in e.words] if len(e.words) == len(matrix) else []
            for e, matrix in zip(examples, matrices, strict=True)
        ]
        matrices = harmonise(words, [e.document for e in examples], matrices, labels, document_consistency)
    predicted = [[labels[i] for i in decode_tags(matrix, labels)] for matrix in matrices]
    return gold, predicted


def summary_line(metrics: dict[str, Any]) -> str:
    return " · ".join(
        [
            f"entity F1 {metrics['f1']:.4f}",
            f"precision {metrics['precision']:.4f}",
            f"recall {metrics['recall']:.4f}",
            f"token accuracy {metrics['token_accuracy']:.4f}",
            f"n={metrics['n']}",
        ]
    )
