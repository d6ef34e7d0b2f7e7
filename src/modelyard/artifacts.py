"""Atomic artifact folders and their SHA-256 manifests.

A folder is built under a temporary name beside its destination, every file is
fsynced, then one ``rename`` makes it appear whole. A crash before the rename
leaves only a ``.tmp-*`` folder, which readers ignore and ``sweep_temporaries``
removes; the database row pointing at a folder is committed after the rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelyard.errors import AlreadyExists, IntegrityError

MANIFEST = "manifest.json"


@contextmanager
def atomic_folder(destination: Path) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``destination`` only if the block succeeds."""
    if destination.exists():
        raise AlreadyExists(f"{destination} already exists; refusing to overwrite it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.parent / f".tmp-{destination.name}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        yield temporary
        _fsync_tree(temporary)
        os.rename(temporary, destination)
        fsync_path(destination.parent)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        fsync_path(path)


def fsync_path(path: Path) -> None:
    """Flush a file's bytes, or a folder's entries (so renames in it survive a crash), to disk.

    Some platforms cannot open a folder; there it is skipped, as nothing else can be done.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sweep_temporaries(parent: Path) -> int:
    """Remove ``.tmp-*`` folders left by a crash; returns how many."""
    removed = 0
    for leftover in parent.rglob(".tmp-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
            removed += 1
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> dict[str, str]:
    """Record the SHA-256 of every file under ``folder`` in ``manifest.json``."""
    files = {
        path.relative_to(folder).as_posix(): sha256_file(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=2), encoding="utf-8")
    return files


def verify_manifest(folder: Path) -> None:
    """Raise IntegrityError if any file is missing or differs from its recorded hash."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise IntegrityError(f"{folder}: {MANIFEST} is missing; the version is incomplete or was tampered with")
    recorded: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    for name, expected in recorded.items():
        path = folder / name
        if not path.is_file():
            raise IntegrityError(f"{folder}: {name} is listed in the manifest but missing")
        if sha256_file(path) != expected:
            raise IntegrityError(f"{folder}: {name} does not match its SHA-256 in the manifest (changed or corrupt)")
