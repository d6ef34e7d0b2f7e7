"""Interrupted and failed runs register nothing and leave no half folder; --resume continues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import recipe_dict
from transformers import TrainerCallback
from typer.testing import CliRunner

from modelyard import registry, store
from modelyard import train as training
from modelyard.cli import app
from modelyard.config import parse_recipe
from modelyard.errors import ConfigError, TrainingError

runner = CliRunner()


class InterruptAt(TrainerCallback):
    """Simulates Ctrl-C at a given step (after the checkpoint of the step before)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.step:
            raise KeyboardInterrupt


def _counts() -> tuple[int, int]:
    with store.session() as db:
        versions = db.scalar(select(func.count()).select_from(store.ModelVersion)) or 0
        runs = db.scalar(select(func.count()).select_from(store.Run)) or 0
    return versions, runs


def test_interrupt_then_resume(home: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = parse_recipe(recipe_dict(tiny_csv, max_steps=6, eval_every=2))
    original = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: [*original(*a), InterruptAt(3)])
    with pytest.raises(TrainingError, match="--resume"):
        training.run(recipe)
    assert _counts() == (0, 1)
    assert not (home / "artifacts" / "tiny").exists() or not any((home / "artifacts" / "tiny").iterdir())
    with store.session() as db:
        run = db.scalars(select(store.Run)).one()
        assert run.status == "interrupted"
        checkpoints = sorted(p.name for p in Path(run.output_dir).glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-2"]

    seen: list[int] = []

    class FirstStep(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            seen.append(state.global_step)

    monkeypatch.setattr(training, "_callbacks", lambda *a: [*original(*a), FirstStep()])
    result = training.run(recipe, resume=True)
    assert seen[0] == 3  # continued after checkpoint-2 instead of starting over
    assert result.version is not None and result.version.ref == "tiny:1"
    assert _counts() == (1, 2)


def test_resume_without_checkpoint_is_refused(home: Path, tiny_csv: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to resume"):
        training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=2)), resume=True)


def test_failure_while_saving_registers_nothing(home: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(training, "_save_weights", broken_save)
    with pytest.raises(OSError, match="disk full"):
        training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=2)))
    assert _counts() == (0, 1)
    assert list((home / "artifacts" / "tiny").iterdir()) == []
    with store.session() as db:
        assert db.scalars(select(store.Run.status)).one() == "failed"
    assert registry.list_versions() == []


def test_cli_bad_inputs_exit_nonzero_without_traceback(home: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\ndata: {path: missing.csv}\ntraining: {method: fulll}\n")
    bad = runner.invoke(app, ["train", str(recipe)])
    assert bad.exit_code == 2 and "training.method" in bad.output and "Traceback" not in bad.output
    recipe.write_text("name: x\ndata: {path: missing.csv}\n")
    missing = runner.invoke(app, ["train", str(recipe)])
    assert missing.exit_code == 3 and "missing.csv: no such file" in missing.output
    data = tmp_path / "d.csv"
    data.write_text("message,label\nhi,x\n")
    wrong = runner.invoke(app, ["data", "import", str(data), "--text-column", "text"])
    assert wrong.exit_code == 3 and "column 'text' not found" in wrong.output
    assert _counts() == (0, 0)
