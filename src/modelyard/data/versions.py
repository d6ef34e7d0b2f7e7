"""Dataset versions: validated, split examples identified by a content hash.

``import_data`` reads the source (one file, a split column, split files, or a
fetched data set), validates it, splits it, writes the splits atomically under
``$MODELYARD_HOME/datasets/<project>/<name>/<hash>/`` and records the version in
the store. Importing the same content twice returns the same version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from modelyard import settings, store, tasks
from modelyard.artifacts import atomic_folder
from modelyard.config import DataSpec, PiiSpec
from modelyard.data.split import SPLITS
from modelyard.errors import DataError, NotFound
from modelyard.privacy import crypto
from modelyard.privacy.scrub import scrub_splits


@dataclass(frozen=True)
class DatasetVersionInfo:
    project: str
    name: str
    content_hash: str
    folder: Path
    task: str
    labels: list[str]
    split_sizes: dict[str, int]
    report: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}@{self.content_hash[:12]}"

    @property
    def multi_label(self) -> bool:
        return bool(self.report.get("multi_label"))


def import_data(
    spec: DataSpec, *, project: str, name: str | None = None, task: str = "text-classification"
) -> DatasetVersionInfo:
    """Validate, split, hash, write and record; returns the (possibly existing) version."""
    if spec.dataset is not None and "/" in spec.dataset:
        found = resolve(spec.dataset)
        if found.task != task:
            raise DataError(f"dataset {found.ref} holds {found.task} data; this recipe's task is {task}")
        return found
    plugin = tasks.get(task)
    splits, report = plugin.read_splits(spec)
    report |= {"multi_label": spec.label_separator is not None, "label_separator": spec.label_separator}
    return save_version(splits, report, spec.pii, project=project, name=name or _default_name(spec), task=task)


def save_version(
    splits: dict[str, list[Any]],
    report: dict[str, Any],
    pii: PiiSpec,
    *,
    project: str,
    name: str,
    task: str,
) -> DatasetVersionInfo:
    """Scrub, check, hash, write (encrypted) and record examples already split; returns the (existing) version."""
    plugin = tasks.get(task)
    # Before anything is hashed or written: personal data must not reach the disk or a model.
    splits, report["pii"] = scrub_splits(splits, pii, project)
    labels = plugin.labels([e for rows in splits.values() for e in rows])
    _check_labels_known(plugin, splits)
    content_hash = _content_hash(plugin, splits, report["pii"])
    existing = _find(project, name, content_hash)
    if existing is not None:
        return existing
    folder = settings.subdir("datasets") / project / name / content_hash[:16]
    if not folder.exists():
        with atomic_folder(folder) as temporary:
            for split, rows in splits.items():
                _write_split(temporary / f"{split}.jsonl", [plugin.to_record(e) for e in rows], folder.name, split)
            (temporary / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    sizes = {split: len(rows) for split, rows in splits.items()}
    with store.session() as db:
        dataset = _get_or_create_dataset(db, project, name)
        db.add(
            store.DatasetVersion(
                dataset_id=dataset.id,
                content_hash=content_hash,
                path=str(folder),
                task=task,
                labels=labels,
                split_sizes=sizes,
                report=report,
            )
        )
    return DatasetVersionInfo(project, name, content_hash, folder, task, labels, sizes, report)


def _check_labels_known(plugin: tasks.Task, splits: dict[str, list[Any]]) -> None:
    train_labels = set(plugin.labels(splits["train"]))
    for split in ("validation", "test"):
        unseen = set(plugin.labels(splits.get(split, []))) - train_labels
        if unseen:
            raise DataError(
                f"the {split} split has label(s) that never occur in train: {', '.join(sorted(unseen)[:10])}; "
                "a model cannot learn them — add training examples or drop those rows"
            )


def _content_hash(plugin: tasks.Task, splits: dict[str, list[Any]], pii: dict[str, Any]) -> str:
    digest = hashlib.sha256(plugin.name.encode())
    # The scrubbing settings are part of what a version is (an opted-out import is another version).
    digest.update(json.dumps({k: pii.get(k) for k in ("scrubbed", "operator", "types")}, sort_keys=True).encode())
    for split in SPLITS:
        digest.update(f"\x00{split}\x00".encode())
        for example in splits.get(split, []):
            digest.update(json.dumps(list(plugin.to_record(example).values()), ensure_ascii=False).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def _default_name(spec: DataSpec) -> str:
    if spec.dataset is not None:
        return spec.dataset.replace("_", "-")
    source = spec.path or spec.train
    assert source is not None
    return source.name.split(".")[0].lower().replace(" ", "-")


def _write_split(path: Path, records: list[dict[str, Any]], version: str, split: str) -> None:
    """One split as JSON Lines, encrypted at rest (AES-GCM, bound to this version and split)."""
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    path.write_bytes(crypto.Vault().seal(text.encode("utf-8"), context=split_context(version, split)))


def split_context(version: str, split: str) -> str:
    """What a split file's ciphertext is bound to: moving it to another version or split fails to decrypt."""
    return f"dataset:{version}:{split}"


def load_splits(info: DatasetVersionInfo) -> dict[str, list[Any]]:
    """The stored examples of each split, in their stored order."""
    return {split: read_split(info.folder, split, info.task) for split in SPLITS}


def folder_of(content_hash: str) -> Path:
    """The stored folder of the dataset version with this content hash (the one a model version names)."""
    return info_of(content_hash).folder


def info_of(content_hash: str) -> DatasetVersionInfo:
    """The dataset version with this content hash (the one a model version names)."""
    with store.session() as db:
        found = db.execute(
            select(store.Project.name, store.Dataset.name, store.DatasetVersion)
            .join(store.Dataset, store.Dataset.id == store.DatasetVersion.dataset_id)
            .join(store.Project, store.Project.id == store.Dataset.project_id)
            .where(store.DatasetVersion.content_hash == content_hash)
            .order_by(store.DatasetVersion.id)
        ).first()
        if found is None:
            raise NotFound(
                f"the dataset version {content_hash[:12]} is not in the store; import the same data again "
                "(the same rows and split seed give the same version)"
            )
        return _info(found[0], found[1], found[2])


def read_split(folder: Path, split: str, task: str = "text-classification") -> list[Any]:
    """The stored examples of one split of a dataset version's folder ([] when it has none)."""
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        return []
    plugin = tasks.get(task)
    rows: list[Any] = []
    raw = path.read_bytes()
    if crypto.is_sealed(raw):  # versions imported before encryption at rest are plain JSON Lines
        raw = crypto.Vault().unseal(raw, context=split_context(folder.name, split), what=str(path))
    # Split at "\n" only: texts may hold U+2028 and the like, which str.splitlines() also cuts at.
    lines = raw.decode("utf-8").split("\n")
    for number, line in enumerate(lines[:-1] if lines[-1] == "" else lines, start=1):
        rows.append(plugin.from_record(json.loads(line), number))
    return rows


def _get_or_create_dataset(db: Any, project: str, name: str) -> store.Dataset:
    project_row = db.scalar(select(store.Project).where(store.Project.name == project))
    if project_row is None:
        project_row = store.Project(name=project)
        db.add(project_row)
        db.flush()
    dataset = db.scalar(
        select(store.Dataset).where(store.Dataset.project_id == project_row.id, store.Dataset.name == name)
    )
    if dataset is None:
        dataset = store.Dataset(project_id=project_row.id, name=name)
        db.add(dataset)
        db.flush()
    return dataset


def _info(project: str, name: str, row: store.DatasetVersion) -> DatasetVersionInfo:
    return DatasetVersionInfo(
        project,
        name,
        row.content_hash,
        Path(row.path),
        row.task,
        list(row.labels),
        dict(row.split_sizes),
        dict(row.report),
    )


def _versions_query(project: str, name: str) -> Any:
    return (
        select(store.DatasetVersion)
        .join(store.Dataset, store.Dataset.id == store.DatasetVersion.dataset_id)
        .join(store.Project, store.Project.id == store.Dataset.project_id)
        .where(store.Project.name == project, store.Dataset.name == name)
        .order_by(store.DatasetVersion.id.desc())
    )


def _find(project: str, name: str, content_hash: str) -> DatasetVersionInfo | None:
    with store.session() as db:
        row = db.scalar(_versions_query(project, name).where(store.DatasetVersion.content_hash == content_hash))
        return None if row is None else _info(project, name, row)


def resolve(ref: str) -> DatasetVersionInfo:
    """``project/name`` (latest version) or ``project/name@hashprefix``."""
    target, _, prefix = ref.partition("@")
    project, _, name = target.partition("/")
    if not project or not name:
        raise DataError(f"dataset reference {ref!r} should look like project/name or project/name@hash")
    with store.session() as db:
        query = _versions_query(project, name)
        if prefix:
            query = query.where(store.DatasetVersion.content_hash.startswith(prefix))
        row = db.scalars(query).first()
        if row is None:
            raise NotFound(
                f"no dataset version {ref!r}; see `modelyard data list` or import one with `modelyard data import`"
            )
        return _info(project, name, row)


def list_versions(project: str | None = None) -> list[DatasetVersionInfo]:
    with store.session() as db:
        query = (
            select(store.Project.name, store.Dataset.name, store.DatasetVersion)
            .join(store.Dataset, store.Dataset.id == store.DatasetVersion.dataset_id)
            .join(store.Project, store.Project.id == store.Dataset.project_id)
            .order_by(store.DatasetVersion.id)
        )
        if project is not None:
            query = query.where(store.Project.name == project)
        return [_info(p, n, row) for p, n, row in db.execute(query).all()]
