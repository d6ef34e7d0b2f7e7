"""Seeded, stratified train/validation/test splits."""

from __future__ import annotations

from sklearn.model_selection import train_test_split

from modelyard.data.validate import Example

SPLITS = ("train", "validation", "test")


def drop_exact_duplicates(examples: list[Example]) -> tuple[list[Example], int]:
    """Keep the first of each (text, label) pair, so one example cannot sit in train and test at once."""
    seen: set[tuple[str, object]] = set()
    kept = []
    for example in examples:
        key = (example.text, example.label)
        if key not in seen:
            seen.add(key)
            kept.append(example)
    return kept, len(examples) - len(kept)


def stratified_split(
    examples: list[Example], validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[Example]]:
    """Split by label proportions (multi-label rows are split at random: no single label to stratify on)."""
    multi = isinstance(examples[0].label, tuple)

    def strata(rows: list[Example]) -> list[object] | None:
        return None if multi else [r.label for r in rows]

    rest, test = (examples, []) if test_fraction == 0 else _cut(examples, test_fraction, seed, strata(examples))
    train, validation = _cut(rest, validation_fraction / (1 - test_fraction), seed, strata(rest))
    return {"train": train, "validation": validation, "test": test}


def _cut(
    rows: list[Example], fraction: float, seed: int, strata: list[object] | None
) -> tuple[list[Example], list[Example]]:
    # At least one example of each label must land on the small side of a stratified cut.
    if strata is not None:
        fraction = max(fraction, len(set(strata)) / len(rows))
    kept, held = train_test_split(rows, test_size=fraction, random_state=seed, stratify=strata)
    return list(kept), list(held)


def by_column(examples: list[Example], assignments: list[str], source: str) -> dict[str, list[Example]]:
    """The user's own split: one of train/validation/test per row (``dev``/``val`` accepted for validation)."""
    from modelyard.errors import DataError

    aliases = {
        "train": "train",
        "validation": "validation",
        "valid": "validation",
        "val": "validation",
        "dev": "validation",
        "test": "test",
    }
    splits: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for example, value in zip(examples, assignments, strict=True):
        name = aliases.get(str(value).strip().lower())
        if name is None:
            raise DataError(
                f"{source}:{example.line}: split value {value!r} is not one of train, validation (val, dev), test"
            )
        splits[name].append(example)
    for required in ("train", "validation"):
        if not splits[required]:
            raise DataError(f"{source}: the split column assigns no rows to {required!r}")
    return splits
