"""Tests for text-classification metrics: hand-computed cases and edge cases."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from modelyard.errors import DataError
from modelyard.tasks.text_classification.metrics import compute_metrics, summary_line

# A small single-label case worked out by hand.
# argmax gives [a, a, b, b, c, c]; confusion rows: a=[2,1,0], b=[0,1,1], c=[0,0,1].
HAND_LABELS = ["a", "b", "c"]
HAND_Y = np.array([0, 0, 0, 1, 1, 2])
HAND_PROBS = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.6, 0.3, 0.1],
        [0.3, 0.5, 0.2],
        [0.2, 0.7, 0.1],
        [0.1, 0.3, 0.6],
        [0.1, 0.2, 0.7],
    ]
)

# Multi-label: predictions at 0.5 are [[1,0,1],[0,1,0],[1,0,0],[0,0,1]] for x, y, z;
# label w never occurs and is never predicted.
ML_LABELS = ["x", "y", "z", "w"]
ML_Y = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
ML_PROBS = np.array(
    [
        [0.9, 0.2, 0.6, 0.1],
        [0.1, 0.8, 0.3, 0.3],
        [0.7, 0.4, 0.1, 0.2],
        [0.2, 0.1, 0.55, 0.4],
    ]
)


def one_hot(indices: list[int], n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[indices]


PERFECT_CASES: list[tuple[str, list[str], np.ndarray, np.ndarray, bool]] = [
    ("single-label", ["a", "b", "c"], np.array([0, 1, 2, 1]), one_hot([0, 1, 2, 1], 3), False),
    ("binary", ["neg", "pos"], np.array([0, 1, 1, 0]), one_hot([0, 1, 1, 0], 2), False),
    (
        "multi-label",
        ["x", "y"],
        np.array([[1, 0], [1, 1], [0, 1]]),
        np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6]]),
        True,
    ),
]


@pytest.mark.parametrize(("name", "labels", "y_true", "probs", "multi_label"), PERFECT_CASES, ids=lambda v: v)
def test_perfect_predictions_score_one(
    name: str, labels: list[str], y_true: np.ndarray, probs: np.ndarray, multi_label: bool
) -> None:
    metrics = compute_metrics(labels, y_true, probs, multi_label=multi_label)
    for key in ["accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1", "micro_f1", "roc_auc_ovr"]:
        assert metrics[key] == pytest.approx(1.0), key
    assert metrics["top_confusions"] == []
    assert metrics["n"] == len(y_true)


def test_hand_computed_single_label_case() -> None:
    m = compute_metrics(HAND_LABELS, HAND_Y, HAND_PROBS)

    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    expected = {  # label: (precision, recall, f1, support)
        "a": (1.0, 2 / 3, 0.8, 3),
        "b": (0.5, 0.5, 0.5, 2),
        "c": (0.5, 1.0, 2 / 3, 1),
    }
    for row in m["per_class"]:
        precision, recall, f1, support = expected[row["label"]]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision, recall, f1))
        assert row["support"] == support
    assert m["macro_precision"] == pytest.approx(2 / 3)
    assert m["macro_recall"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    # Per-class AUCs by pair counting: a 9/9, b 6.5/8 (one tie), c 5/5.
    assert m["roc_auc_ovr"] == pytest.approx((1 + 6.5 / 8 + 1) / 3)
    assert m["roc_auc_ovr"] == pytest.approx(roc_auc_score(HAND_Y, HAND_PROBS, multi_class="ovr"))
    assert m["roc_auc_classes"] == 3
    assert m["top_confusions"] == [
        {"true": "a", "predicted": "b", "count": 1, "rate": pytest.approx(1 / 3)},
        {"true": "b", "predicted": "c", "count": 1, "rate": pytest.approx(1 / 2)},
    ]


def test_multi_label_case() -> None:
    m = compute_metrics(ML_LABELS, ML_Y, ML_PROBS, multi_label=True)

    assert m["multi_label"] is True
    assert m["accuracy"] == pytest.approx(0.5)  # subset accuracy: rows 0 and 1 exactly right
    f1 = {row["label"]: row["f1"] for row in m["per_class"]}
    assert f1 == pytest.approx({"x": 1.0, "y": 2 / 3, "z": 2 / 3, "w": 0.0})
    # w is neither present nor predicted, so it stays out of the macro mean.
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m["micro_f1"] == pytest.approx(0.8)  # tp 4, fp 1, fn 1
    assert m["roc_auc_ovr"] == pytest.approx(1.0)
    assert m["roc_auc_classes"] == 3
    assert "confusion" not in m


def test_multi_label_threshold_changes_predictions() -> None:
    m = compute_metrics(ML_LABELS, ML_Y, ML_PROBS, multi_label=True, threshold=0.95)
    assert m["micro_f1"] == 0.0
    assert m["threshold"] == 0.95
    assert m["roc_auc_ovr"] == pytest.approx(1.0)  # AUC ignores the threshold


def test_class_absent_from_y_true_does_not_break_roc() -> None:
    labels = ["a", "b", "c", "d"]
    y_true = np.array([0, 1, 2, 0, 1, 2])
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=6)

    m = compute_metrics(labels, y_true, probs)

    assert m["roc_auc_classes"] == 3
    assert m["roc_auc_ovr"] is not None and 0.0 <= m["roc_auc_ovr"] <= 1.0
    assert m["per_class"][3]["support"] == 0


def test_roc_is_none_when_only_one_class_present() -> None:
    m = compute_metrics(["a", "b", "c"], np.array([1, 1, 1]), one_hot([1, 0, 1], 3))
    assert m["roc_auc_ovr"] is None
    assert m["roc_auc_classes"] == 0
    assert summary_line(m) == "accuracy 0.6667 · macro-F1 0.4000 · ROC-AUC n/a · n=3"


BINARY_CASES = [
    # y_true, positive-class scores, expected AUC
    ([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.75),
    ([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.7], 1.0),
    ([1, 1, 1, 1], [0.2, 0.8, 0.3, 0.7], None),
]


@pytest.mark.parametrize(("y_true", "scores", "expected_auc"), BINARY_CASES)
def test_binary_auc_uses_positive_column(y_true: list[int], scores: list[float], expected_auc: float | None) -> None:
    pos = np.array(scores)
    m = compute_metrics(["neg", "pos"], np.array(y_true), np.column_stack([1 - pos, pos]))
    if expected_auc is None:
        assert m["roc_auc_ovr"] is None
    else:
        assert m["roc_auc_ovr"] == pytest.approx(expected_auc)
        assert m["roc_auc_classes"] == 2


def test_result_is_json_serialisable() -> None:
    for m in [
        compute_metrics(HAND_LABELS, HAND_Y, HAND_PROBS.astype(np.float32)),
        compute_metrics(ML_LABELS, ML_Y, ML_PROBS, multi_label=True),
    ]:
        assert json.loads(json.dumps(m)) == m


def test_summary_line_format() -> None:
    m = compute_metrics(HAND_LABELS, HAND_Y, HAND_PROBS)
    assert summary_line(m) == f"accuracy 0.6667 · macro-F1 0.6556 · ROC-AUC {m['roc_auc_ovr']:.4f} · n=6"


BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("1-D probs", {"labels": ["a", "b"], "y_true": np.array([0, 1]), "probs": np.array([0.1, 0.9])}),
    ("labels vs columns", {"labels": ["a"], "y_true": np.array([0, 1]), "probs": one_hot([0, 1], 2)}),
    ("y_true length", {"labels": ["a", "b"], "y_true": np.array([0]), "probs": one_hot([0, 1], 2)}),
    ("index out of range", {"labels": ["a", "b"], "y_true": np.array([0, 2]), "probs": one_hot([0, 1], 2)}),
    ("empty", {"labels": ["a", "b"], "y_true": np.array([], dtype=int), "probs": np.zeros((0, 2))}),
    (
        "multi-label y_true 1-D",
        {"labels": ["a", "b"], "y_true": np.array([0, 1]), "probs": one_hot([0, 1], 2), "multi_label": True},
    ),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD_INPUTS, ids=[name for name, _ in BAD_INPUTS])
def test_bad_shapes_raise_data_error(name: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(DataError):
        compute_metrics(**kwargs)
