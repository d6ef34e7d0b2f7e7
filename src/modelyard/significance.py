"""How sure is a score difference between two models read on the same examples? A paired bootstrap.

The retrain gate compares production and a candidate on one frozen holdout. On a few
hundred examples a point difference moves by a whole example's weight with every
lucky or unlucky call, so the gate also states a confidence interval for the
difference: the holdout is resampled with replacement many times, both models are
scored on each resample (the same examples for both: paired), and the interval is
the spread of the differences (percentile bootstrap; Efron & Tibshirani 1993, and
Koehn 2004 / Berg-Kirkpatrick et al. 2012 for NLP metrics).

Every gate metric is a function of per-example counts summed over the holdout
(accuracy: right and 1; entity F1: hits, found, wanted; macro F1: per-class true
positives, false positives and false negatives), so a resample is a vector of
multinomial weights and all resamples are one matrix product. Examples that stand
or fall together (NER sentences read among their document's) are summed per group
first, so that whole groups are drawn (``grouped``: a cluster bootstrap). That is why this is
a few numpy lines of our own: ``scipy.stats.bootstrap`` would recompute macro F1
through per-resample label arrays, thousands of times slower on 77 classes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

RESAMPLES = 2000
CHUNK = 250  # resamples per matrix product: bounds memory on large holdouts

Counts = NDArray[np.float64]
"""(examples × counts) per-example counts whose column sums determine a metric."""
Metric = Callable[[Counts], NDArray[np.float64]]
"""(resamples × counts) summed counts → (resamples,) metric values."""


@dataclass(frozen=True)
class Difference:
    """Candidate minus baseline: as observed, and the bounds of its ``confidence`` interval."""

    observed: float
    low: float
    high: float
    confidence: float
    resamples: int


def paired_difference(
    baseline: Counts,
    candidate: Counts,
    metric: Metric,
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Difference:
    """The candidate's metric minus the baseline's on the same examples, with a percentile interval."""
    if baseline.shape != candidate.shape or not len(baseline):
        raise ValueError("both models need counts for the same, non-empty set of examples")
    observed = float(metric(candidate.sum(axis=0, keepdims=True))[0] - metric(baseline.sum(axis=0, keepdims=True))[0])
    rng = np.random.default_rng(seed)
    n = len(baseline)
    differences = []
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)
        differences.append(metric(weights @ candidate) - metric(weights @ baseline))
    spread = np.concatenate(differences)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(spread, [tail, 100 - tail])
    return Difference(round(observed, 6), round(float(low), 6), round(float(high), 6), confidence, resamples)


def grouped(counts: Counts, groups: Sequence[str]) -> Counts:
    """Counts summed per group (in first-seen order), for examples that stand or fall together — NER
    sentences read among their document's — so that a resample draws whole groups (a cluster bootstrap)."""
    order: dict[str, int] = {}
    rows = np.asarray([order.setdefault(group, len(order)) for group in groups])
    summed = np.zeros((len(order), counts.shape[1]))
    np.add.at(summed, rows, counts)
    return summed


def accuracy_counts(right: Sequence[bool]) -> Counts:
    return np.stack([np.asarray(right, dtype=np.float64), np.ones(len(right))], axis=1)


def accuracy(sums: Counts) -> NDArray[np.float64]:
    return np.asarray(sums[:, 0] / sums[:, 1], dtype=np.float64)


def entity_counts(found: Sequence[set[Any]], gold: Sequence[set[Any]]) -> Counts:
    """Per sentence: entities found right, found, and wanted (exact span and type)."""
    return np.asarray([[len(f & g), len(f), len(g)] for f, g in zip(found, gold, strict=True)], dtype=np.float64)


def entity_f1(sums: Counts) -> NDArray[np.float64]:
    hits, found, wanted = sums[:, 0], sums[:, 1], sums[:, 2]
    total = found + wanted
    return np.where(total > 0, 2 * hits / np.where(total > 0, total, 1), 1.0)


def class_counts(predicted: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> Counts:
    """Per example, one-hot per class: true positive, false positive, false negative (3 × classes columns)."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(gold), 3 * len(labels)))
    for row, (p, g) in enumerate(zip(predicted, gold, strict=True)):
        if p == g:
            counts[row, index[g]] = 1
        else:
            counts[row, len(labels) + index[p]] = 1
            counts[row, 2 * len(labels) + index[g]] = 1
    return counts


def macro_f1(sums: Counts) -> NDArray[np.float64]:
    """Mean F1 over the classes a resample predicts or holds (scikit-learn's macro average)."""
    tp, fp, fn = np.split(sums, 3, axis=1)
    denominator = 2 * tp + fp + fn
    present = denominator > 0
    f1 = np.where(present, 2 * tp / np.where(present, denominator, 1), 0.0)
    return np.asarray(f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1), dtype=np.float64)
