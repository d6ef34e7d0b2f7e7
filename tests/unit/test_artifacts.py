"""Atomic folders and manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.artifacts import atomic_folder, sweep_temporaries, verify_manifest, write_manifest
from modelyard.errors import AlreadyExists, IntegrityError


def test_failed_block_leaves_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "v1"
    with pytest.raises(RuntimeError), atomic_folder(destination) as folder:
        (folder / "weights.bin").write_bytes(b"x" * 10)
        raise RuntimeError("killed halfway")
    assert list(tmp_path.iterdir()) == []


def test_success_appears_whole_and_is_not_overwritten(tmp_path: Path) -> None:
    destination = tmp_path / "v1"
    with atomic_folder(destination) as folder:
        (folder / "a.txt").write_text("a")
        assert not destination.exists()
    assert (destination / "a.txt").read_text() == "a"
    with pytest.raises(AlreadyExists), atomic_folder(destination):
        pass


def test_manifest_detects_change_and_loss(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub" / "b.txt").write_text("b")
    assert set(write_manifest(tmp_path)) == {"a.txt", "sub/b.txt"}
    verify_manifest(tmp_path)
    (tmp_path / "a.txt").write_text("tampered")
    with pytest.raises(IntegrityError, match=r"a.txt does not match"):
        verify_manifest(tmp_path)
    (tmp_path / "a.txt").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        verify_manifest(tmp_path)


def test_sweep_removes_crash_leftovers(tmp_path: Path) -> None:
    (tmp_path / "m" / ".tmp-3-abcd").mkdir(parents=True)
    (tmp_path / "m" / "2").mkdir()
    assert sweep_temporaries(tmp_path) == 1
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["2"]
