"""Evaluate a registered model version on any labelled file (its task reads the file and scores it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelyard import settings, tasks
from modelyard.config import DataSpec
from modelyard.errors import DataError
from modelyard.predict import load_predictor
from modelyard.report import write_report


@dataclass(frozen=True)
class Evaluation:
    ref: str
    metrics: dict[str, Any]
    folder: Path
    files: dict[str, Path]


def run(
    ref: str,
    data: Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    output: Path | None = None,
    tag_scheme: str | None = None,
    document_consistency: float | None = None,
) -> Evaluation:
    """Score ``ref`` on ``data``; the report goes to ``output`` (default: under the home's evaluations/).

    Classification reads CSV/TSV/JSONL/Parquet with the two columns; NER reads CoNLL (``tag_scheme``,
    default the one the model was trained on) or JSONL with character spans. ``document_consistency``
    (NER) reads with this weight instead of the version's own, to choose one on validation data without
    retraining; the version itself keeps its recipe's.
    """
    version, predictor = load_predictor(ref)
    extra: dict[str, Any] = {"model": version.ref, "data": str(data)}
    if document_consistency is not None:
        if version.task != "token-classification":
            raise DataError(f"document_consistency applies to NER models; {version.ref} is a {version.task} model")
        if not 0 <= document_consistency <= 1:
            raise DataError(f"document_consistency must be between 0 and 1; got {document_consistency}")
        predictor.document_consistency = document_consistency
        extra["document_consistency"] = document_consistency
    trained = version.config["data"]
    spec = DataSpec.model_validate(
        {
            "path": data,
            "text_column": text_column,
            "label_column": label_column,
            "label_separator": trained.get("label_separator"),
            "entities_column": trained.get("entities_column", "entities"),
            "tag_scheme": tag_scheme or trained.get("tag_scheme", "IOB2"),
        }
    )
    task = tasks.get(version.task)
    metrics = task.evaluate_file(predictor, data, spec)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = output or settings.subdir("evaluations") / version.name / str(version.version) / f"{data.stem}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_report(folder, metrics, title=f"{version.ref} on {data.name}", extra=extra)
    return Evaluation(version.ref, metrics, folder, files)
