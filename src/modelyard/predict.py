"""Predict with a registered model version: a few texts, or a whole file to a CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from modelyard import registry
from modelyard.artifacts import verify_manifest
from modelyard.data.readers import read_table
from modelyard.errors import DataError
from modelyard.tasks.text_classification.predict import Predictor, Scored


def load_predictor(ref: str) -> tuple[registry.VersionInfo, Predictor]:
    """The version behind ``ref`` and a predictor on its verified files."""
    version = registry.get(ref)
    verify_manifest(version.path)
    return version, Predictor(version.path, max_length=int(version.config["model"]["max_length"]))


def predict_texts(ref: str, texts: list[str], top_k: int = 3) -> tuple[registry.VersionInfo, list[list[Scored]]]:
    if not texts or any(not t.strip() for t in texts):
        raise DataError("give at least one non-empty text to predict")
    version, predictor = load_predictor(ref)
    return version, predictor.predict(texts, top_k)


def predict_file(ref: str, source: Path, output: Path, text_column: str = "text", top_k: int = 3) -> int:
    """Write ``output`` (CSV: the input columns + label, probability, top_k as label:prob pairs); returns rows."""
    table = read_table(source)
    table.require(text_column)
    texts = [str(row.cells.get(text_column) or "") for row in table.rows]
    empty = [row.line for row, text in zip(table.rows, texts, strict=True) if not text.strip()]
    if empty:
        raise DataError(f"{source}: column {text_column!r} is empty at {table.unit} {empty[0]} ({len(empty)} rows)")
    _, predictor = load_predictor(ref)
    predictions = predictor.predict(texts, top_k)
    temporary = output.with_name(f".{output.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*table.columns, "predicted_label", "probability", "top_k"])
        for row, scored in zip(table.rows, predictions, strict=True):
            ranked = ";".join(f"{s.label}:{s.probability:.4f}" for s in scored)
            writer.writerow(
                [
                    *(row.cells.get(c, "") for c in table.columns),
                    scored[0].label,
                    f"{scored[0].probability:.6f}",
                    ranked,
                ]
            )
    temporary.replace(output)  # a failed run never leaves a half-written predictions file
    return len(predictions)
