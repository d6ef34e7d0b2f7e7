"""Predict with a registered model version: a few texts, or a whole file to a CSV.

The version's task decides what a prediction is: the top-k labels with
probabilities (classification) or entities as character spans (NER).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from modelyard import registry, tasks
from modelyard.artifacts import verify_manifest
from modelyard.data.readers import read_table
from modelyard.errors import DataError


def load_predictor(ref: str) -> tuple[registry.VersionInfo, Any]:
    """The version behind ``ref`` and a predictor (its task's) on its verified files."""
    version = registry.get(ref)
    verify_manifest(version.path)
    predictor = tasks.get(version.task).predictor(version.path, int(version.config["model"]["max_length"]))
    return version, predictor


def predict_texts(ref: str, texts: list[str], top_k: int = 3) -> tuple[registry.VersionInfo, list[list[Any]]]:
    """Per text: ``Scored`` labels best first (classification) or ``Entity`` spans in text order (NER)."""
    if not texts or any(not t.strip() for t in texts):
        raise DataError("give at least one non-empty text to predict")
    version, predictor = load_predictor(ref)
    return version, predictor.predict(texts, top_k)


def predict_file(
    ref: str,
    source: Path,
    output: Path,
    text_column: str = "text",
    top_k: int = 3,
    document_column: str | None = None,
) -> int:
    """Write ``output`` (CSV: the input columns + the prediction columns); returns rows.

    Classification adds ``predicted_label``, ``probability`` and ``top_k`` (label:prob pairs);
    NER adds ``entities`` (a JSON list of ``{start, end, label, text, score}``). ``document_column``
    (NER): rows with the same value are one document's texts in file order, each read among its
    neighbours by a model trained with ``model.document_context``, as it was trained.
    """
    table = read_table(source)
    table.require(text_column)
    texts = [str(row.cells.get(text_column) or "") for row in table.rows]
    empty = [row.line for row, text in zip(table.rows, texts, strict=True) if not text.strip()]
    if empty:
        raise DataError(f"{source}: column {text_column!r} is empty at {table.unit} {empty[0]} ({len(empty)} rows)")
    documents = None
    if document_column is not None:
        if document_column not in table.columns:
            raise DataError(
                f"{source}: document column {document_column!r} not found; the file has columns "
                f"{', '.join(map(repr, table.columns))}. Name the right one with --document-column."
            )
        documents = [str(row.cells.get(document_column) or "").strip() or None for row in table.rows]
    version, predictor = load_predictor(ref)
    entities = version.task == "token-classification"
    if documents is not None and not entities:
        raise DataError(
            f"--document-column applies to NER models; {version.ref} is a {version.task} model (drop the option)"
        )
    predictions = predictor.entities(texts, documents) if documents is not None else predictor.predict(texts, top_k)
    added = ["entities"] if entities else ["predicted_label", "probability", "top_k"]
    temporary = output.with_name(f".{output.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*table.columns, *added])
        for row, found in zip(table.rows, predictions, strict=True):
            cells = [row.cells.get(c, "") for c in table.columns]
            if entities:
                writer.writerow([*cells, json.dumps([asdict(e) for e in found], ensure_ascii=False)])
            else:
                ranked = ";".join(f"{s.label}:{s.probability:.4f}" for s in found)
                writer.writerow([*cells, found[0].label, f"{found[0].probability:.6f}", ranked])
    temporary.replace(output)  # a failed run never leaves a half-written predictions file
    return len(predictions)
