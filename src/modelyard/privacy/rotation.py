"""Rotate the data key: new writes use a new key, stored data is re-encrypted, old keys retire.

No downtime: the new key becomes active first, and every old key stays readable
while each file is re-encrypted and swapped in atomically, so readers always see a
whole file under one key or the other. An old key is retired only when a final
scan finds nothing left under it; a key still in use (say a server that cached it
wrote a new file meanwhile) is kept and reported, never retired blind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from modelyard import settings
from modelyard.privacy import crypto

# What holds encrypted data, with the context each file is bound to.
SealedItem = tuple[Path, str]


@dataclass
class RotationReport:
    new_key: str
    reencrypted: int = 0
    retired: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Old keys still used by something written during the rotation; run the command again later."""


def sealed_files(home: Path | None = None) -> Iterator[SealedItem]:
    """Every encrypted file under the home: today the dataset split files."""
    from modelyard.data.versions import split_context

    root = (home if home is not None else settings.home()) / "datasets"
    for path in sorted(root.glob("*/*/*/*.jsonl")):
        yield path, split_context(path.parent.name, path.stem)


def rotate_data_key(home: Path | None = None) -> RotationReport:
    vault = crypto.Vault(home)
    old_keys = set(vault.key_ids())
    report = RotationReport(new_key=vault.rotate_data_key())
    for path, context in sealed_files(home):
        if crypto.sealed_key_id(path) not in (None, report.new_key):
            sealed = vault.seal(vault.unseal(path.read_bytes(), context=context, what=str(path)), context=context)
            crypto.atomic_write(path, sealed)
            report.reencrypted += 1
    still_used = {crypto.sealed_key_id(path) for path, _ in sealed_files(home)}
    for key_id in sorted(old_keys):
        if key_id in still_used:
            report.kept.append(key_id)
        else:
            vault.retire(key_id)
            report.retired.append(key_id)
    return report
