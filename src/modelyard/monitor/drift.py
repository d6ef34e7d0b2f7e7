"""Drift statistics: population stability index (PSI) and an embedding domain classifier.

PSI compares two distributions over the same bins: ``sum((a - e) * ln(a / e))``.
Counts are smoothed by half an example per bin (Laplace/Jeffreys), so a bin that is
empty in a small window adds a bounded amount instead of infinity; with ``k`` bins
and ``n`` window items the expected PSI of same-distribution traffic is about
``(k - 1) / n`` — the label PSI of a 77-class model over 200 requests is ~0.4
without any drift, so its threshold must be set with the window in mind.

The embedding test trains a logistic regression to tell the window's embeddings
(mean-pooled base encoder, L2-normalised) from a sample of the training data and
reports its 5-fold cross-validated ROC AUC: 0.5 when the window looks like the
training data, 1.0 when every text can be told apart. It is scale-free, so one
threshold fits any encoder. Measured on Banking77 (reference: 500 validation texts;
window: 100 requests; benchmarks/results/drift.json): over 3,000 in-distribution
test requests the AUC averaged 0.50 (max 0.59 over 116 polled windows; 0.62 max in
an offline replay of every 20th window); after the switch to Rotten Tomatoes
snippets it reached 0.67 at 40, 0.76 at 53 (the 0.75 rule fired), 0.88 at 80 and
1.0 at 120 drifted requests. An MMD permutation test (RBF kernel, median
bandwidth, 200 permutations) on the same windows in the offline replay flagged 14 of
146 in-distribution windows at p < 0.01 — it detects the benign validation→test shift
— so the AUC with a fixed threshold is the test used. One AUC costs ~0.2–0.4 s on
one core (BLAS held to one thread); it is recomputed every 20 newly embedded texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

SMOOTHING = 0.5
MIN_EMBEDDINGS = 30
"""Fewer window (or reference) embeddings than this and the AUC is not computed."""


def psi_counts(expected: Sequence[float], actual: Sequence[float], smoothing: float = SMOOTHING) -> float:
    """PSI of two histograms over the same bins (counts, or fractions of a large sample)."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.size == 0:
        raise ValueError("PSI needs two non-empty histograms over the same bins")
    e = (e + smoothing) / (e.sum() + smoothing * e.size)
    a = (a + smoothing) / (a.sum() + smoothing * a.size)
    return float(np.sum((a - e) * np.log(a / e)))


def label_psi(reference: dict[str, float], labels: Sequence[str]) -> float | None:
    """PSI of the labels seen in a window against a reference distribution (fractions by label)."""
    if not labels or not reference:
        return None
    counts = Counter(labels)
    names = sorted(set(reference) | set(counts))
    size = len(labels)
    # The reference is a large sample: its fractions are scaled to the window's size so both get the same smoothing.
    return psi_counts([reference.get(n, 0.0) * size for n in names], [counts.get(n, 0) for n in names])


@dataclass(frozen=True)
class Binned:
    """Quantile bins of a reference sample of a number (confidence, length) and its fraction per bin."""

    edges: tuple[float, ...]
    fractions: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float], bins: int = 10) -> Binned | None:
        if len(values) < bins:
            return None
        data = np.asarray(values, dtype=np.float64)
        edges = tuple(float(x) for x in np.unique(np.quantile(data, np.linspace(0, 1, bins + 1)[1:-1])))
        counts = np.bincount(np.searchsorted(edges, data, side="right"), minlength=len(edges) + 1)
        return cls(edges, tuple(float(c) / len(data) for c in counts))

    def psi(self, values: Sequence[float]) -> float | None:
        if not values:
            return None
        bins = np.searchsorted(self.edges, np.asarray(values), side="right")
        counts = np.bincount(bins, minlength=len(self.fractions))
        return psi_counts([f * len(values) for f in self.fractions], counts.tolist())


def domain_auc(
    reference: NDArray[np.float32], window: NDArray[np.float32], folds: int = 5, seed: int = 0
) -> float | None:
    """Cross-validated ROC AUC of a logistic regression separating ``window`` rows from ``reference`` rows."""
    if len(window) < MIN_EMBEDDINGS or len(reference) < MIN_EMBEDDINGS:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    x = np.concatenate([reference, window]).astype(np.float64)
    y = np.r_[np.zeros(len(reference)), np.ones(len(window))]
    with threadpool_limits(1):  # one core: the others keep serving requests
        scores = cross_val_predict(
            LogisticRegression(C=1.0, max_iter=300),
            x,
            y,
            cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
            method="predict_proba",
        )[:, 1]
    return float(roc_auc_score(y, scores))


@dataclass
class Reference:
    """What a model version's training data looks like, computed once per version (kept in memory only)."""

    ref: str
    size: int
    labels: dict[str, float]
    """Label fractions: the model's predictions on the sample when it could be run, else the data's labels."""
    label_source: str
    confidence: Binned | None
    length: Binned | None
    length_mean: float
    embeddings: NDArray[np.float32] | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.ref,
            "sample": self.size,
            "labels_from": self.label_source,
            "confidence_bins": len(self.confidence.fractions) if self.confidence else 0,
            "input_length_mean": round(self.length_mean, 1),
            "embeddings": 0 if self.embeddings is None else len(self.embeddings),
            "notes": list(self.notes),
        }
