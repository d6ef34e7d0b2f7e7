"""Evaluation metrics for text classification, single-label and multi-label.

``compute_metrics`` turns gold labels and predicted probabilities into one plain
dict (floats, ints, lists, ``None``) that can go straight into ``report.json``::

    accuracy            subset accuracy for multi-label
    macro_precision / macro_recall / macro_f1
    weighted_precision / weighted_recall / weighted_f1
    micro_f1
    roc_auc_ovr         one-vs-rest macro ROC-AUC, None when no class allows one
    roc_auc_classes     how many classes that mean is taken over
    per_class           [{label, precision, recall, f1, support}] in label order
    confusion           raw counts, rows = true class (single-label only)
    top_confusions      [{true, predicted, count, rate}] off-diagonal, count desc
    n, multi_label, threshold (multi-label only)

Macro averages are taken over the classes that occur in the gold labels or the
predictions (scikit-learn's convention); a class seen in neither has no evidence
either way and would only drag the mean toward zero. ``per_class`` still lists
every label so reports can show the gaps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

from modelyard.errors import DataError

TOP_CONFUSIONS = 20


def compute_metrics(
    labels: list[str],
    y_true: NDArray[Any],
    probs: NDArray[np.floating[Any]],
    *,
    multi_label: bool = False,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Score predictions against gold labels.

    Single-label: ``y_true`` holds class indices, shape ``(n,)``; ``probs`` is
    ``(n, C)`` and the prediction is its argmax. Multi-label: ``y_true`` is a 0/1
    matrix ``(n, C)``; ``probs`` are sigmoid outputs and a label is predicted when
    its probability is at least ``threshold``.
    """
    gold = np.asarray(y_true)
    scores = np.asarray(probs, dtype=np.float64)
    _check_shapes(labels, gold, scores, multi_label)
    if multi_label:
        return _multi_label_metrics(labels, gold.astype(np.int64), scores, threshold)
    return _single_label_metrics(labels, gold.astype(np.int64), scores)


def summary_line(metrics: dict[str, Any]) -> str:
    """One human line with the headline numbers, for logs and the CLI."""
    parts = [f"accuracy {metrics['accuracy']:.4f}", f"macro-F1 {metrics['macro_f1']:.4f}"]
    if metrics.get("multi_label"):
        parts.append(f"micro-F1 {metrics['micro_f1']:.4f}")
    auc = metrics.get("roc_auc_ovr")
    parts.append("ROC-AUC n/a" if auc is None else f"ROC-AUC {auc:.4f}")
    parts.append(f"n={metrics['n']}")
    return " · ".join(parts)


def _check_shapes(labels: list[str], y_true: NDArray[Any], probs: NDArray[np.float64], multi_label: bool) -> None:
    if probs.ndim != 2:
        raise DataError(f"probs must be a 2-D array (examples × classes); got shape {probs.shape}.")
    n, n_classes = probs.shape
    if n == 0:
        raise DataError("No examples to evaluate: probs has 0 rows. Check that the evaluation split is not empty.")
    if len(labels) != n_classes:
        raise DataError(f"probs has {n_classes} columns but {len(labels)} labels were given; they must match.")
    expected = (n, n_classes) if multi_label else (n,)
    if y_true.shape != expected:
        kind = "a 0/1 matrix" if multi_label else "class indices"
        raise DataError(f"y_true must be {kind} of shape {expected}; got shape {y_true.shape}.")
    if not multi_label and ((y_true < 0).any() or (y_true >= n_classes).any()):
        raise DataError(f"y_true holds class indices outside 0..{n_classes - 1}.")


def _single_label_metrics(labels: list[str], y_true: NDArray[np.int64], probs: NDArray[np.float64]) -> dict[str, Any]:
    n_classes = len(labels)
    class_ids = list(range(n_classes))
    y_pred = probs.argmax(axis=1)
    counts = confusion_matrix(y_true, y_pred, labels=class_ids)
    result = _shared_metrics(labels, y_true, y_pred, class_ids)
    auc, auc_classes = _single_label_auc(y_true, probs)
    result.update(
        accuracy=float(accuracy_score(y_true, y_pred)),
        roc_auc_ovr=auc,
        roc_auc_classes=auc_classes,
        confusion=counts.astype(int).tolist(),
        top_confusions=_top_confusions(labels, counts),
        n=len(y_true),
        multi_label=False,
    )
    return result


def _multi_label_metrics(
    labels: list[str], y_true: NDArray[np.int64], probs: NDArray[np.float64], threshold: float
) -> dict[str, Any]:
    y_pred = (probs >= threshold).astype(np.int64)
    result = _shared_metrics(labels, y_true, y_pred, list(range(len(labels))))
    auc, auc_classes = _per_class_auc(y_true, probs)
    result.update(
        accuracy=float(accuracy_score(y_true, y_pred)),
        roc_auc_ovr=auc,
        roc_auc_classes=auc_classes,
        # A multi-label row can be right and wrong at once, so there is no single
        # confusion matrix; the key stays so readers need no special case.
        top_confusions=[],
        n=len(y_true),
        multi_label=True,
        threshold=float(threshold),
    )
    return result


def _shared_metrics(
    labels: list[str], y_true: NDArray[np.int64], y_pred: NDArray[np.int64], class_ids: list[int]
) -> dict[str, Any]:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=class_ids, average=None, zero_division=0
    )
    predicted = _predicted_counts(y_pred, len(class_ids))
    active = (support > 0) | (predicted > 0)
    return {
        "macro_precision": _masked_mean(precision, active),
        "macro_recall": _masked_mean(recall, active),
        "macro_f1": _masked_mean(f1, active),
        "weighted_precision": _weighted_mean(precision, support),
        "weighted_recall": _weighted_mean(recall, support),
        "weighted_f1": _weighted_mean(f1, support),
        "micro_f1": float(f1_score(y_true, y_pred, labels=class_ids, average="micro", zero_division=0)),
        "per_class": [
            {
                "label": label,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        ],
    }


def _predicted_counts(y_pred: NDArray[np.int64], n_classes: int) -> NDArray[np.int64]:
    if y_pred.ndim == 2:
        return np.asarray(y_pred.sum(axis=0), dtype=np.int64)
    return np.bincount(y_pred, minlength=n_classes)


def _masked_mean(values: NDArray[np.float64], mask: NDArray[np.bool_]) -> float:
    return float(values[mask].mean()) if mask.any() else 0.0


def _weighted_mean(values: NDArray[np.float64], support: NDArray[np.int64]) -> float:
    total = support.sum()
    return float((values * support).sum() / total) if total > 0 else 0.0


def _single_label_auc(y_true: NDArray[np.int64], probs: NDArray[np.float64]) -> tuple[float | None, int]:
    if probs.shape[1] == 2:
        # Binary: one curve from the positive-class score, as scikit-learn does it.
        if len(np.unique(y_true)) < 2:
            return None, 0
        return float(roc_auc_score(y_true, probs[:, 1])), 2
    one_hot = np.eye(probs.shape[1], dtype=np.int64)[y_true]
    return _per_class_auc(one_hot, probs)


def _per_class_auc(y_true: NDArray[np.int64], scores: NDArray[np.float64]) -> tuple[float | None, int]:
    """Macro one-vs-rest AUC over the classes that have both positives and negatives.

    scikit-learn's multi_class="ovr" refuses outright when a class is missing from
    y_true, which is common in small test splits; skipping only those classes keeps
    the figure meaningful and ``roc_auc_classes`` says how much of it there is.
    """
    aucs = [
        float(roc_auc_score(y_true[:, c], scores[:, c]))
        for c in range(y_true.shape[1])
        if 0 < y_true[:, c].sum() < len(y_true)
    ]
    if not aucs:
        return None, 0
    return float(np.mean(aucs)), len(aucs)


def _top_confusions(labels: list[str], counts: NDArray[np.int64]) -> list[dict[str, Any]]:
    off_diagonal = counts.copy()
    np.fill_diagonal(off_diagonal, 0)
    row_totals = counts.sum(axis=1)
    pairs = [(int(off_diagonal[t, p]), t, p) for t, p in zip(*np.nonzero(off_diagonal), strict=True)]
    # Ties broken by label order so the report is stable across runs.
    pairs.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [
        {
            "true": labels[t],
            "predicted": labels[p],
            "count": count,
            "rate": float(count / row_totals[t]),
        }
        for count, t, p in pairs[:TOP_CONFUSIONS]
    ]
