"""Tests for the evaluation report writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.report import write_report
from modelyard.tasks.text_classification.metrics import compute_metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def metrics_77() -> dict[str, Any]:
    """77 classes (the Banking77 size) with noisy but better-than-chance predictions."""
    rng = np.random.default_rng(7)
    labels = [f"intent_{i:02d}_{'long_name_' * (i % 4)}" for i in range(77)]
    y_true = rng.integers(0, 77, size=600)
    logits = rng.normal(size=(600, 77))
    logits[np.arange(600), y_true] += 2.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return compute_metrics(labels, y_true, probs)


def fake_log_history(epochs: int = 3, steps_per_epoch: int = 4) -> list[dict[str, Any]]:
    """Shaped like Trainer.state.log_history: step logs, one eval per epoch, a final summary."""
    history: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        for step in range(1, steps_per_epoch + 1):
            position = epoch - 1 + step / steps_per_epoch
            history.append({"loss": 2.0 / position, "learning_rate": 1e-5, "epoch": position, "step": step})
        history.append({"eval_loss": 1.5 / epoch, "eval_accuracy": 0.5, "epoch": float(epoch), "step": epoch * 4})
    history.append({"train_runtime": 1.0, "train_loss": 1.0, "epoch": float(epochs), "step": epochs * 4})
    return history


@pytest.fixture(scope="module")
def report_77(tmp_path_factory: pytest.TempPathFactory, metrics_77: dict[str, Any]) -> dict[str, Path]:
    """One full report, written once: the 77-class plot is the slow part of this file."""
    folder = tmp_path_factory.mktemp("report") / "v3"
    extra = {"model": "v3", "seed": np.int64(13)}
    return write_report(folder, metrics_77, title="banking77 v3", history=fake_log_history(), extra=extra)


def test_writes_all_files_for_77_classes(report_77: dict[str, Path]) -> None:
    assert set(report_77) == {"report.json", "report.md", "confusion.png", "learning_curve.png"}
    for path in report_77.values():
        assert path.is_file() and path.parent.name == "v3"
    for name in ["confusion.png", "learning_curve.png"]:
        assert report_77[name].read_bytes()[:8] == PNG_MAGIC


def test_json_holds_metrics_and_extra_sorted(report_77: dict[str, Path], metrics_77: dict[str, Any]) -> None:
    text = report_77["report.json"].read_text()
    payload = json.loads(text)
    assert payload["macro_f1"] == metrics_77["macro_f1"]
    assert payload["model"] == "v3" and payload["seed"] == 13
    assert list(payload) == sorted(payload)
    assert text.startswith("{\n  ")  # indent 2


def test_markdown_lists_worst_class_first(report_77: dict[str, Path], metrics_77: dict[str, Any]) -> None:
    md = report_77["report.md"].read_text()
    worst = min(metrics_77["per_class"], key=lambda row: row["f1"])
    best = max(metrics_77["per_class"], key=lambda row: row["f1"])
    assert md.startswith("# banking77 v3\n")
    assert worst["label"] in md
    assert md.index(f"| {worst['label']} |") < md.index(f"| {best['label']} |")
    assert "## Top confusions" in md
    assert "](confusion.png)" in md and "](learning_curve.png)" in md


def test_no_history_means_no_curve_and_no_dangling_link(tmp_path: Path) -> None:
    metrics = compute_metrics(["a", "b"], np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    written = write_report(tmp_path, metrics, title="tiny")
    assert "learning_curve.png" not in written
    assert "learning_curve.png" not in written["report.md"].read_text()


def test_learning_curve_from_log_history(tmp_path: Path) -> None:
    metrics = compute_metrics(["a", "b"], np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    written = write_report(tmp_path, metrics, title="tiny", history=fake_log_history(epochs=2))

    assert written["learning_curve.png"].read_bytes()[:8] == PNG_MAGIC
    assert "](learning_curve.png)" in written["report.md"].read_text()


def test_history_without_losses_writes_no_curve(tmp_path: Path) -> None:
    metrics = compute_metrics(["a", "b"], np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    written = write_report(tmp_path, metrics, title="tiny", history=[{"train_runtime": 1.0, "epoch": 1.0}])
    assert "learning_curve.png" not in written


def test_multi_label_report_has_no_confusion_plot(tmp_path: Path) -> None:
    metrics = compute_metrics(
        ["x", "y"], np.array([[1, 0], [0, 1]]), np.array([[0.9, 0.3], [0.6, 0.7]]), multi_label=True
    )
    written = write_report(tmp_path, metrics, title="ml")
    assert "confusion.png" not in written
    assert "Threshold" in written["report.md"].read_text()


def test_extra_may_not_overwrite_a_metric(tmp_path: Path, metrics_77: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="accuracy"):
        write_report(tmp_path, metrics_77, title="t", extra={"accuracy": 1.0})


def test_label_with_pipe_does_not_break_table(tmp_path: Path) -> None:
    metrics = compute_metrics(["yes|no", "other"], np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    md = write_report(tmp_path, metrics, title="t")["report.md"].read_text()
    assert "yes\\|no" in md


def test_train_loss_is_averaged_per_epoch() -> None:
    from modelyard.report import _train_loss_per_epoch

    history = [
        {"loss": 4.0, "epoch": 0.5},
        {"loss": 2.0, "epoch": 1.0000000002},  # float noise must not spill into epoch 2
        {"loss": 1.0, "epoch": 1.5},
        {"eval_loss": 9.0, "epoch": 1.0},
        {"train_loss": 9.0, "epoch": 2.0},
    ]
    assert _train_loss_per_epoch(history) == [(1.0, 3.0), (2.0, 1.0)]
