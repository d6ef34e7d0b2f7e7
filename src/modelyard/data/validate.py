"""Turn raw rows into labelled examples, refusing what cannot be trained on.

Hard errors (the import stops, nothing is written): a missing column, empty or
whitespace-only text, an empty label, a label too rare to split. Soft findings
(recorded in the import report and printed): duplicates, conflicting labels for
the same text, class imbalance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from modelyard.data.readers import Table
from modelyard.errors import DataError

Label = str | tuple[str, ...]
_SHOW = 5  # positions listed in a message before "and N more"


@dataclass(frozen=True)
class Example:
    text: str
    label: Label
    line: int = 0


def _positions(table: Table, lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_SHOW])
    more = f" and {len(lines) - _SHOW} more" if len(lines) > _SHOW else ""
    return f"{table.unit}{'s' if len(lines) > 1 else ''} {shown}{more}"


def to_examples(table: Table, text_column: str, label_column: str, label_separator: str | None = None) -> list[Example]:
    """Examples from a table; a DataError lists every bad line (the first few of them)."""
    table.require(text_column, label_column)
    examples: list[Example] = []
    empty_text: list[int] = []
    empty_label: list[int] = []
    for row in table.rows:
        text = _as_text(row.cells.get(text_column))
        label = _as_label(row.cells.get(label_column), label_separator)
        if not text.strip():
            empty_text.append(row.line)
        if not label:
            empty_label.append(row.line)
        examples.append(Example(text.strip(), label, row.line))
    if empty_text:
        raise DataError(
            f"{table.path}: column {text_column!r} is empty or whitespace-only at {_positions(table, empty_text)}; "
            "fill or remove those rows"
        )
    if empty_label:
        raise DataError(
            f"{table.path}: column {label_column!r} is empty at {_positions(table, empty_label)}; "
            "every row needs a label"
        )
    if not examples:
        raise DataError(f"{table.path}: no rows after the header; nothing to train on")
    return examples


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_label(value: Any, separator: str | None) -> Label:
    if value is None:
        return ""
    if separator is None:
        if isinstance(value, list):
            raise DataError("a label column holds lists: set data.label_separator (multi-label) in the recipe")
        return str(value).strip()
    parts = value if isinstance(value, list) else str(value).split(separator)
    return tuple(sorted({str(p).strip() for p in parts if str(p).strip()}))


def label_counts(examples: list[Example]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for example in examples:
        counts.update(example.label if isinstance(example.label, tuple) else (example.label,))
    return counts


def require_splittable(examples: list[Example], minimum: int, source: str) -> None:
    """A stratified split needs at least ``minimum`` examples of every label."""
    rare = {label: n for label, n in label_counts(examples).items() if n < minimum}
    if rare:
        listed = ", ".join(f"{label!r} ({n})" for label, n in sorted(rare.items(), key=lambda kv: kv[1])[:10])
        raise DataError(
            f"{source}: {len(rare)} label(s) have fewer than {minimum} examples, too few to split into "
            f"train/validation/test: {listed}. Add examples, merge or drop those labels, or give your own "
            "split (data.split_column or data.train/validation/test)."
        )


def quality_report(examples: list[Example]) -> dict[str, Any]:
    """Soft findings: duplicates, conflicting labels, imbalance. Counts only, never the texts."""
    by_text: dict[str, set[Label]] = {}
    pair_counts: Counter[tuple[str, Label]] = Counter()
    for example in examples:
        by_text.setdefault(example.text, set()).add(example.label)
        pair_counts[(example.text, example.label)] += 1
    counts = label_counts(examples)
    most, least = max(counts.values()), min(counts.values())
    return {
        "rows": len(examples),
        "labels": len(counts),
        "label_counts": dict(sorted(counts.items())),
        "duplicate_rows": sum(n - 1 for n in pair_counts.values() if n > 1),
        "conflicting_texts": sum(1 for labels in by_text.values() if len(labels) > 1),
        "imbalance_ratio": round(most / least, 2),
        "imbalanced": most / least > 10,
    }


def warnings_of(report: dict[str, Any]) -> list[str]:
    """Human sentences for the soft findings of a quality report."""
    found = []
    if report["duplicate_rows"]:
        found.append(f"{report['duplicate_rows']} duplicate row(s) (same text and label)")
    if report.get("conflicting_texts"):
        found.append(f"{report['conflicting_texts']} text(s) appear with different labels")
    if report.get("imbalanced"):
        found.append(
            f"class imbalance: the largest label has {report['imbalance_ratio']}x the examples of the smallest"
        )
    return found
