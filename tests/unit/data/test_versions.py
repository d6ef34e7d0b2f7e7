"""Dataset versions: content-hashed, split, recorded; a refused import leaves nothing behind."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import write_rows

from modelyard import store
from modelyard.config import DataSpec
from modelyard.data.validate import quality_report, warnings_of
from modelyard.data.versions import import_data, list_versions, load_splits, resolve
from modelyard.errors import DataError, NotFound

Rows = list[dict[str, str]]


def spec(path: Path, **extra: object) -> DataSpec:
    return DataSpec(path=path, text_column="message", label_column="intent", **extra)  # type: ignore[arg-type]


def test_import_splits_stratified_and_records_a_version(home: Path, tiny_csv: Path) -> None:
    version = import_data(spec(tiny_csv), project="support")
    assert version.split_sizes == {"train": 28, "validation": 4, "test": 4}
    splits = load_splits(version)
    for rows in (splits["validation"], splits["test"]):
        assert set(Counter(e.label for e in rows)) == {"card_arrival", "exchange_rate", "lost_or_stolen_card"}
    assert version.folder.is_relative_to(home) and (version.folder / "report.json").is_file()
    assert version.report["split"] == "stratified" and version.report["split_seed"] == 42
    assert [v.content_hash for v in list_versions("support")] == [version.content_hash]
    assert resolve(f"support/support@{version.content_hash[:6]}") == version


def test_same_content_same_version_other_seed_new_version(home: Path, tiny_csv: Path) -> None:
    first = import_data(spec(tiny_csv), project="p")
    again = import_data(spec(tiny_csv), project="p")
    other = import_data(spec(tiny_csv, split_seed=1), project="p")
    assert first.content_hash == again.content_hash != other.content_hash
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(store.DatasetVersion)) == 2


def test_texts_with_unicode_line_separators_round_trip(home: Path, tmp_path: Path, tiny_rows: Rows) -> None:
    # Rotten Tomatoes has such texts; JSON keeps U+2028/U+0085 raw, so a splitlines() reader broke on them.
    odd = ["a\u2028b", "c\x85d", "e\x1cf", "g\rh"]
    rows = [{**row, "message": row["message"] + odd[i % len(odd)]} for i, row in enumerate(tiny_rows)]
    jsonl = tmp_path / "odd.jsonl"
    jsonl.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    version = import_data(spec(jsonl), project="p")
    stored = sorted(e.text for split in load_splits(version).values() for e in split)
    assert stored == sorted(row["message"] for row in rows)


def test_split_column_is_respected(home: Path, tmp_path: Path, tiny_rows: Rows) -> None:
    rows = [r | {"split": ["train", "train", "dev", "test"][i % 4]} for i, r in enumerate(tiny_rows)]
    version = import_data(spec(write_rows(tmp_path / "s.csv", rows), split_column="split"), project="p")
    assert version.split_sizes == {"train": 18, "validation": 9, "test": 9}


def test_bad_split_value_names_the_line(home: Path, tmp_path: Path, tiny_rows: Rows) -> None:
    rows = [r | {"split": "train"} for r in tiny_rows]
    rows[4]["split"] = "holdout"
    with pytest.raises(DataError, match=r"s.csv:6: split value 'holdout'"):
        import_data(spec(write_rows(tmp_path / "s.csv", rows), split_column="split"), project="p")


def test_rare_label_is_refused_and_nothing_is_written(
    home: Path, tmp_path: Path, tiny_rows: list[dict[str, str]]
) -> None:
    rows = [*tiny_rows, {"message": "close my account please", "intent": "close_account"}]
    with pytest.raises(DataError, match=r"fewer than 3 examples.*'close_account' \(1\)"):
        import_data(spec(write_rows(tmp_path / "r.csv", rows)), project="p")
    assert not (home / "datasets" / "p").exists()
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(store.DatasetVersion)) == 0


def test_given_split_files_and_unseen_labels(home: Path, tmp_path: Path, tiny_rows: Rows) -> None:
    train = write_rows(tmp_path / "train.csv", tiny_rows[:30])
    valid = write_rows(tmp_path / "valid.csv", tiny_rows[30:])
    ok = import_data(DataSpec(train=train, validation=valid, text_column="message", label_column="intent"), project="p")
    assert ok.split_sizes == {"train": 30, "validation": 6, "test": 0}
    with pytest.raises(DataError, match="validation split has label"):
        import_data(DataSpec(train=valid, validation=train, text_column="message", label_column="intent"), project="p")


def test_duplicates_and_imbalance_are_reported_not_fatal(
    home: Path, tmp_path: Path, tiny_rows: list[dict[str, str]]
) -> None:
    big = tiny_rows + [tiny_rows[0]] * 3 + [{"message": tiny_rows[0]["message"], "intent": "exchange_rate"}]
    big += [{"message": f"where is card number {i}", "intent": "card_arrival"} for i in range(200)]
    version = import_data(spec(write_rows(tmp_path / "d.csv", big)), project="p")
    report = version.report
    assert report["duplicate_rows"] == 3 and report["dropped_duplicates"] == 3
    assert report["conflicting_texts"] == 1 and report["imbalanced"]
    warnings = " ".join(warnings_of(report))
    assert "3 duplicate row(s)" in warnings and "different labels" in warnings and "imbalance" in warnings
    assert tiny_rows[0]["message"] not in json.dumps(report)  # counts only, never the texts


def test_quality_report_of_clean_data_has_no_warnings(tiny_csv: Path) -> None:
    from modelyard.data.readers import read_table
    from modelyard.data.validate import to_examples

    examples = to_examples(read_table(tiny_csv), "message", "intent")
    assert warnings_of(quality_report(examples)) == []


def test_unknown_dataset_reference(home: Path) -> None:
    with pytest.raises(NotFound, match="modelyard data import"):
        resolve("nope/nothing")
    with pytest.raises(DataError, match="project/name"):
        resolve("justaname")


def test_an_imported_version_is_referenced_by_name(home: Path, tiny_csv: Path) -> None:
    imported = import_data(spec(tiny_csv), project="support", name="intents")
    assert import_data(DataSpec(dataset="support/intents"), project="other") == imported
    assert import_data(DataSpec(dataset=f"support/intents@{imported.content_hash[:8]}"), project="x") == imported
