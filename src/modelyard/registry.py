"""Model versions: numbered per name, staged, with lineage and a verified artifact folder.

``artifacts/<name>/<version>/`` holds the weights (safetensors, or only the
adapter and head for LoRA), tokenizer, label map, the full resolved recipe,
the reports, ``version.json`` (everything in the database row) and
``manifest.json`` with the SHA-256 of every file. The folder is written
atomically and the database row is committed last.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from modelyard import models, settings, store
from modelyard.artifacts import atomic_folder, verify_manifest, write_manifest
from modelyard.config import Recipe, dump_recipe
from modelyard.data.versions import DatasetVersionInfo
from modelyard.errors import AlreadyExists, ConfigError, NotFound
from modelyard.report import write_report
from modelyard.tasks.labels import LabelMap

Stage = Literal["none", "staging", "production", "archived"]
STAGES: tuple[str, ...] = ("none", "staging", "production", "archived")
_PACKAGES = ("modelyard", "torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors", "scikit-learn")
_ORPHAN_AGE_SECONDS = 3600


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    project: str
    task: str
    base_model: str
    method: str
    stage: str
    dataset_hash: str
    seed: int
    metrics: dict[str, Any]
    labels: list[str]
    config: dict[str, Any]
    packages: dict[str, str]
    path: Path
    created_at: datetime
    run_id: int | None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


def _info(row: store.ModelVersion) -> VersionInfo:
    return VersionInfo(
        row.name,
        row.version,
        row.project,
        row.task,
        row.base_model,
        row.method,
        row.stage,
        row.dataset_hash,
        row.seed,
        dict(row.metrics),
        list(row.labels),
        dict(row.config),
        dict(row.packages),
        Path(row.path),
        row.created_at,
        row.run_id,
    )


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (the training stack by default), recorded for reproducibility."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def register(
    *,
    recipe: Recipe,
    dataset: DatasetVersionInfo,
    base: models.BaseModel,
    label_map: LabelMap,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    run_id: int | None,
    save_weights: Callable[[Path], None],
) -> VersionInfo:
    """Write the version's folder atomically, then commit its row; nothing is left behind on failure."""
    parent = settings.subdir("artifacts") / recipe.name
    _sweep_orphans(parent, recipe.name)
    number = _next_version(recipe.name)
    while (parent / str(number)).exists():
        number += 1
    destination = parent / str(number)
    row = store.ModelVersion(
        name=recipe.name,
        version=number,
        project=recipe.project,
        task=recipe.task,
        base_model=base.spec,
        method=recipe.training.method,
        stage="none",
        dataset_hash=dataset.content_hash,
        run_id=run_id,
        seed=recipe.training.seed,
        config=recipe.model_dump(mode="json"),
        metrics=_headline(metrics),
        labels=list(label_map.labels),
        packages=package_versions(),
        path=str(destination),
    )
    with atomic_folder(destination) as folder:
        save_weights(folder)
        label_map.save(folder)
        (folder / "config.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
        write_report(
            folder,
            metrics,
            title=f"{recipe.name} v{number} on {dataset.ref} ({metrics.get('split')})",
            history=history,
            extra={"dataset": dataset.ref, "base_model": base.spec},
        )
        lineage = {"dataset": dataset.ref, "dataset_hash": dataset.content_hash, "dataset_report": dataset.report}
        (folder / "version.json").write_text(
            json.dumps(_row_dict(row) | {"lineage": lineage}, indent=2, default=str), encoding="utf-8"
        )
        write_manifest(folder)
    try:
        with store.session() as db:
            db.add(row)
    except SQLIntegrityError:
        shutil.rmtree(destination, ignore_errors=True)
        raise AlreadyExists(f"{recipe.name}:{number} was registered concurrently; run again") from None
    return _info(row)


def _row_dict(row: store.ModelVersion) -> dict[str, Any]:
    keys = (
        "name",
        "version",
        "project",
        "task",
        "base_model",
        "method",
        "dataset_hash",
        "run_id",
        "seed",
        "config",
        "metrics",
        "labels",
        "packages",
    )
    return {key: getattr(row, key) for key in keys}


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """What the row keeps: scalars only (the per-class tables stay in report.json), the privacy record and a
    soup's ingredients."""
    kept = {key: value for key, value in metrics.items() if isinstance(value, int | float | str) or value is None}
    if isinstance(metrics.get("privacy"), dict):
        kept["privacy"] = metrics["privacy"]  # ε and δ achieved (privacy.dp): part of what the version is
    if isinstance(metrics.get("soup"), dict):
        kept["soup"] = metrics["soup"]  # the versions it averages: its lineage
    return kept


def _next_version(name: str) -> int:
    with store.session() as db:
        return (
            int(db.scalar(select(func.max(store.ModelVersion.version)).where(store.ModelVersion.name == name)) or 0) + 1
        )


def _sweep_orphans(parent: Path, name: str) -> None:
    """Remove version folders whose row never got committed (a crash between rename and commit)."""
    if not parent.is_dir():
        return
    with store.session() as db:
        known = set(db.scalars(select(store.ModelVersion.path).where(store.ModelVersion.name == name)))
    for folder in parent.iterdir():
        old = time.time() - folder.stat().st_mtime > _ORPHAN_AGE_SECONDS
        if folder.is_dir() and str(folder) not in known and old:
            shutil.rmtree(folder, ignore_errors=True)


def parse_ref(ref: str) -> tuple[str, int | str | None]:
    """``name``, ``name:3``, ``name:latest`` or ``name:production``."""
    name, _, selector = ref.partition(":")
    if not name:
        raise ConfigError(f"model reference {ref!r} should look like NAME or NAME:VERSION (e.g. banking77:2)")
    if not selector:
        return name, None
    if selector.isdigit():
        return name, int(selector)
    if selector in ("latest", *STAGES):
        return name, selector
    raise ConfigError(f"{ref!r}: after ':' give a version number, 'latest' or a stage ({', '.join(STAGES)})")


def get(ref: str) -> VersionInfo:
    """Resolve a reference; a bare name means its production version, else its latest."""
    name, selector = parse_ref(ref)
    with store.session() as db:
        query = select(store.ModelVersion).where(store.ModelVersion.name == name)
        if isinstance(selector, int):
            row = db.scalar(query.where(store.ModelVersion.version == selector))
        elif selector in STAGES:
            row = db.scalar(
                query.where(store.ModelVersion.stage == selector).order_by(store.ModelVersion.version.desc())
            )
        else:
            ordered = query.order_by(store.ModelVersion.version.desc())
            row = None if selector == "latest" else db.scalar(ordered.where(store.ModelVersion.stage == "production"))
            row = row or db.scalar(ordered)
        if row is None:
            known = sorted(set(db.scalars(select(store.ModelVersion.name))))
            hint = (
                f"registered models: {', '.join(known)}"
                if known
                else "no model is registered yet; run `modelyard train`"
            )
            raise NotFound(f"no model version {ref!r}; {hint}")
        return _info(row)


def list_versions(name: str | None = None) -> list[VersionInfo]:
    with store.session() as db:
        query = select(store.ModelVersion).order_by(store.ModelVersion.name, store.ModelVersion.version)
        if name is not None:
            query = query.where(store.ModelVersion.name == name)
        return [_info(row) for row in db.scalars(query)]


def promote(ref: str, stage: str, *, reason: str = "manual") -> VersionInfo:
    """Move a version to ``stage``; a new production version archives the previous one (recorded for rollback)."""
    if stage not in STAGES:
        raise ConfigError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    target = get(ref)
    verify_manifest(target.path)  # never promote files that changed since registration
    with store.session() as db:
        replaced = None
        if stage == "production":
            for row in db.scalars(
                select(store.ModelVersion).where(
                    store.ModelVersion.name == target.name, store.ModelVersion.stage == "production"
                )
            ):
                if row.version != target.version:
                    row.stage, replaced = "archived", row.version
        chosen = _row(db, target)
        chosen.stage = stage
        db.add(
            store.StageChange(
                model_name=target.name, version=target.version, stage=stage, replaced=replaced, reason=reason
            )
        )
        return _info(chosen)


def rollback(name: str) -> VersionInfo:
    """Put back the production version that the current one replaced (files checked first)."""
    current = get(f"{name}:production")
    with store.session() as db:
        change = db.scalars(
            select(store.StageChange)
            .where(
                store.StageChange.model_name == name,
                store.StageChange.version == current.version,
                store.StageChange.stage == "production",
            )
            .order_by(store.StageChange.id.desc())
        ).first()
    if change is None or change.replaced is None:
        raise NotFound(
            f"{current.ref} did not replace an earlier production version; nothing to roll back to "
            f"(promote one explicitly with `modelyard models promote {name}:N --stage production`)"
        )
    return promote(f"{name}:{change.replaced}", "production", reason=f"rollback from {current.ref}")


def delete(ref: str, *, force: bool = False) -> VersionInfo:
    """Delete one version (row first, then its folder); production needs ``force``."""
    name, selector = parse_ref(ref)
    if not isinstance(selector, int):
        raise ConfigError(f"delete needs an explicit version, e.g. {name}:1 (found {ref!r})")
    target = get(ref)
    if target.stage == "production" and not force:
        raise ConfigError(f"{target.ref} is in production; promote another version first or pass --force")
    with store.session() as db:
        db.delete(_row(db, target))
    # Renaming first makes the removal look atomic to readers: the folder vanishes at once.
    graveyard = target.path.parent / f".tmp-deleted-{target.version}-{int(time.time())}"
    if target.path.exists():
        target.path.rename(graveyard)
        shutil.rmtree(graveyard, ignore_errors=True)
    return target


def _row(db: Any, target: VersionInfo) -> store.ModelVersion:
    row = db.scalar(
        select(store.ModelVersion).where(
            store.ModelVersion.name == target.name, store.ModelVersion.version == target.version
        )
    )
    if row is None:
        raise NotFound(f"{target.ref} was deleted by another process meanwhile")
    return row


def card(info: VersionInfo) -> dict[str, Any]:
    """Everything a user wants to know about a version, JSON-ready."""
    card = asdict(info)
    card["path"], card["created_at"] = str(info.path), info.created_at.isoformat()
    card["ref"] = info.ref
    return card
