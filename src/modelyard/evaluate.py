"""Evaluate a registered model version on any labelled file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from modelyard import settings
from modelyard.data.readers import read_table
from modelyard.data.validate import to_examples
from modelyard.predict import load_predictor
from modelyard.report import write_report
from modelyard.tasks.text_classification.metrics import compute_metrics


@dataclass(frozen=True)
class Evaluation:
    ref: str
    metrics: dict[str, Any]
    folder: Path
    files: dict[str, Path]


def run(
    ref: str, data: Path, *, text_column: str = "text", label_column: str = "label", output: Path | None = None
) -> Evaluation:
    """Score ``ref`` on ``data``; the report goes to ``output`` (default: under the home's evaluations/)."""
    version, predictor = load_predictor(ref)
    separator = version.config["data"].get("label_separator")
    examples = to_examples(read_table(data), text_column, label_column, separator)
    label_map = predictor.label_map
    y_true = np.array([label_map.encode(e.label) for e in examples])
    probs = predictor.probabilities([e.text for e in examples])
    metrics = compute_metrics(list(label_map.labels), y_true, probs, multi_label=label_map.multi_label)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = output or settings.subdir("evaluations") / version.name / str(version.version) / f"{data.stem}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_report(
        folder, metrics, title=f"{version.ref} on {data.name}", extra={"model": version.ref, "data": str(data)}
    )
    return Evaluation(version.ref, metrics, folder, files)
