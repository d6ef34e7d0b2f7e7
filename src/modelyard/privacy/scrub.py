"""Scrub PII out of texts, dataset splits and files before anything is stored.

``Scrubber`` pairs a detector with an operator and counts what it replaced by
type; the counts go into reports, the values never do. Dataset examples are
scrubbed through their task: a classification text is rewritten whole; an NER
sentence word by word, so its tags stay aligned, and never inside the entities
the user labelled (those are what the model is meant to learn).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.config import PiiSpec
from modelyard.data.readers import read_table
from modelyard.errors import DataError
from modelyard.privacy import operators
from modelyard.privacy.detect import Detector, Finding


class Scrubber:
    """Detects PII in texts and rewrites it with one operator; ``counts`` tallies findings by type."""

    def __init__(self, detector: Detector, operator: operators.Operator) -> None:
        self.detector = detector
        self.operator = operator
        self.counts: Counter[str] = Counter()

    @classmethod
    def from_spec(cls, spec: PiiSpec, project: str) -> Scrubber:
        from modelyard.privacy import default_detector

        detector = default_detector(names=spec.names, types=spec.types, min_score=spec.min_score)
        return cls(detector, operator_for(spec.operator, project))

    def texts(self, texts: Sequence[str]) -> list[str]:
        found = self.detector.find_many(list(texts))
        return [self._apply(text, findings) for text, findings in zip(texts, found, strict=True)]

    def text(self, text: str) -> str:
        return self.texts([text])[0]

    def _apply(self, text: str, findings: Sequence[Finding]) -> str:
        self.counts.update(f.type for f in findings)
        return operators.anonymize(text, findings, self.operator) if findings else text

    def examples(self, examples: Sequence[Any]) -> list[Any]:
        """Dataset examples of either task, scrubbed; labels and entity tags are kept."""
        if not examples:
            return []
        if hasattr(examples[0], "words"):
            return self._token_examples(examples)
        texts = self.texts([e.text for e in examples])
        return [dataclasses.replace(e, text=t) for e, t in zip(examples, texts, strict=True)]

    def _token_examples(self, examples: Sequence[Any]) -> list[Any]:
        found = self.detector.find_many([e.text for e in examples])
        scrubbed = []
        for example, findings in zip(examples, found, strict=True):
            labelled = [(s.start, s.end) for s in example.entities]
            outside = [f for f in findings if not any(f.start < end and start < f.end for start, end in labelled)]
            self.counts.update(f.type for f in outside)
            scrubbed.append(self._rewrite_words(example, outside) if outside else example)
        return scrubbed

    def _rewrite_words(self, example: Any, findings: Sequence[Finding]) -> Any:
        from modelyard.tasks.token_classification.tags import Span

        # Each word a finding touches becomes one placeholder word, so the tag sequence is unchanged.
        words = []
        for start, end in example.words:
            hit = next((f for f in findings if f.start < end and start < f.end), None)
            value = example.text[start:end]
            words.append(value if hit is None else self.operator.apply(value, hit.type))
        offsets, cursor = [], 0
        for word in words:
            offsets.append((cursor, cursor + len(word)))
            cursor += len(word) + 1
        entities = []
        for span in example.entities:
            inside = [i for i, (s, e) in enumerate(example.words) if s >= span.start and e <= span.end]
            entities.append(Span(offsets[inside[0]][0], offsets[inside[-1]][1], span.label))
        return dataclasses.replace(example, text=" ".join(words), words=tuple(offsets), entities=tuple(entities))

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def covered_types(detector: Detector) -> list[str]:
    """The types this detector can find: what its recognizers report, within what it was asked for."""
    reported = {kind for recognizer in detector.recognizers for kind in recognizer.types}
    return sorted(reported if detector.types is None else reported & detector.types)


def operator_for(name: str, project: str) -> operators.Operator:
    """The operator called ``name``, keyed for ``project`` where it needs a key (``hash``: the project salt)."""
    if name == "hash":
        from modelyard.privacy.crypto import project_salt

        return operators.get(name, salt=project_salt(project))
    if name == "encrypt":
        from modelyard.privacy.crypto import Vault

        return operators.get(name, vault=Vault(), context=f"pii:{project}")
    return operators.get(name)


def scrub_splits(
    splits: dict[str, list[Any]], spec: PiiSpec, project: str
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Every split scrubbed per ``spec``, and the record the dataset version keeps (settings + counts)."""
    if not spec.scrub:
        return splits, {"scrubbed": False, "note": "opted out with data.pii.scrub: false"}
    scrubber = Scrubber.from_spec(spec, project)
    scrubbed = {name: scrubber.examples(rows) for name, rows in splits.items()}
    return scrubbed, {
        "scrubbed": True,
        "operator": spec.operator,
        "types": covered_types(scrubber.detector),
        "recognizers": sorted(r.name for r in scrubber.detector.recognizers),
        "findings": scrubber.summary(),
    }


def scan_file(path: Path, columns: Sequence[str] | None, detector: Detector) -> dict[str, Any]:
    """Counts of findings per column and type in a CSV/TSV/JSONL/Parquet file (never the values)."""
    table = read_table(path)
    chosen = _text_columns(table, columns)
    per_column: dict[str, dict[str, int]] = {}
    rows_with_pii = 0
    hits: list[set[int]] = []
    for column in chosen:
        texts = [str(row.cells.get(column) or "") for row in table.rows]
        found = detector.find_many(texts)
        per_column[column] = dict(sorted(Counter(f.type for fs in found for f in fs).items()))
        hits.append({i for i, fs in enumerate(found) if fs})
    rows_with_pii = len(set().union(*hits)) if hits else 0
    total: Counter[str] = Counter()
    for counts in per_column.values():
        total.update(counts)
    return {
        "file": str(path),
        "rows": len(table.rows),
        "rows_with_pii": rows_with_pii,
        "columns": per_column,
        "total": dict(sorted(total.items())),
        "recognizers": sorted(r.name for r in detector.recognizers),
    }


def redact_file(path: Path, output: Path, columns: Sequence[str] | None, scrubber: Scrubber) -> dict[str, Any]:
    """Write a scrubbed copy of ``path`` (same format by suffix; CSV for other table files) atomically."""
    if output.resolve() == path.resolve():
        raise DataError(f"{output}: the redacted copy must not overwrite its source; choose another output path")
    table = read_table(path)
    chosen = _text_columns(table, columns)
    records = [dict(row.cells) for row in table.rows]
    for column in chosen:
        cleaned = scrubber.texts([str(r.get(column) or "") for r in records])
        for record, text in zip(records, cleaned, strict=True):
            if record.get(column) is not None:
                record[column] = text
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        _write_records(temporary, output.suffix.lower(), list(table.columns), records)
        temporary.replace(output)
    finally:
        temporary.unlink(missing_ok=True)
    return {"file": str(output), "rows": len(records), "columns": chosen, "replaced": scrubber.summary()}


def _text_columns(table: Any, columns: Sequence[str] | None) -> list[str]:
    if columns:
        for column in columns:
            table.require(column)
        return list(columns)
    # Default: every column, numbers included: a card or phone number stored as an integer is still PII.
    return list(table.columns)


def _write_records(path: Path, suffix: str, columns: list[str], records: list[dict[str, Any]]) -> None:
    if suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(records)
