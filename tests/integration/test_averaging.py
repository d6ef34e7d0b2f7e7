"""``training.average_last``: the registered weights are the mean of the last N checkpoints, on the real loop."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from tests.conftest import recipe_dict
from tests.integration.test_resume_and_failures import InterruptAt

from modelyard import averaging
from modelyard import train as training
from modelyard.config import parse_recipe
from modelyard.errors import ConfigError, TrainingError
from modelyard.predict import predict_texts


def _keep_checkpoints(monkeypatch: pytest.MonkeyPatch, aside: Path) -> None:
    """A successful run deletes its checkpoints; copy them aside when averaging starts, to check the mean."""
    real = averaging.average

    def spy(trainer: Any, run_dir: Path, count: int, **kwargs: Any) -> averaging.Averaged:
        shutil.copytree(run_dir, aside)
        return real(trainer, run_dir, count, **kwargs)

    monkeypatch.setattr(training.averaging, "average", spy)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    name = "adapter_model.safetensors" if (folder / "adapter_model.safetensors").is_file() else "model.safetensors"
    return load_file(folder / name)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_registered_weights_are_the_mean_of_the_last_checkpoints(
    home: Path, tiny_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    aside = tmp_path / "checkpoints"
    _keep_checkpoints(monkeypatch, aside)
    raw = recipe_dict(tiny_csv, epochs=4, method=method, keep="last", average_last=3) | {"name": f"avg-{method}"}
    result = training.run(parse_recipe(raw))
    assert result.version is not None

    record = result.metrics["checkpoint_average"]
    steps = sorted(int(path.name.split("-")[1]) for path in aside.glob("checkpoint-*"))
    assert record["steps"] == steps[::-1][:3] and len(steps) >= 3
    assert len(record["validation_accuracy"]) == 3
    # The mean of one checkpoint is the last checkpoint itself: its figure is training's last evaluation.
    last_evaluation = [entry["eval_accuracy"] for entry in result.history if "eval_accuracy" in entry][-1]
    assert record["validation_accuracy"][0] == pytest.approx(last_evaluation)

    registered = _weights(result.version.path)
    checkpoints = [_weights(aside / f"checkpoint-{step}") for step in record["steps"]]
    moved = 0
    for key, value in registered.items():
        if key not in checkpoints[0]:
            continue
        mean = torch.stack([c[key].double() for c in checkpoints]).mean(0).to(value.dtype)
        assert torch.allclose(value, mean, atol=1e-6), key
        moved += not torch.equal(checkpoints[0][key], checkpoints[-1][key])
    assert moved > 0  # the checkpoints differ, so the test tells a mean from any one of them
    assert predict_texts(f"avg-{method}", ["where is my card"])[1][0][0].probability > 0


def test_averaging_ends_at_the_best_checkpoint_when_training_keeps_the_best(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40, 50):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-notes.txt").write_text("not a checkpoint")
    best = str(tmp_path / "checkpoint-30")
    assert [p.name for p in averaging.checkpoints(tmp_path, best, 2)] == ["checkpoint-30", "checkpoint-20"]
    assert [p.name for p in averaging.checkpoints(tmp_path, None, 2)] == ["checkpoint-50", "checkpoint-40"]
    assert [p.name for p in averaging.checkpoints(tmp_path, str(tmp_path / "checkpoint-10"), 3)] == ["checkpoint-10"]


def test_average_last_needs_checkpoints_and_two_of_them(tiny_csv: Path) -> None:
    with pytest.raises(ConfigError, match=r"training.average_last"):
        parse_recipe(recipe_dict(tiny_csv, average_last=1))
    with pytest.raises(ConfigError, match=r"saves none"):
        parse_recipe(recipe_dict(tiny_csv, average_last=3, method="head") | {"privacy": {"dp": {"epsilon": 8}}})


def test_a_resumed_run_averages_the_checkpoints_from_before_the_interruption(
    home: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = parse_recipe(recipe_dict(tiny_csv, max_steps=6, eval_every=2, keep="last", average_last=3))
    original = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: [*original(*a), InterruptAt(5)])
    with pytest.raises(TrainingError, match="--resume"):
        training.run(recipe)
    monkeypatch.setattr(training, "_callbacks", original)
    result = training.run(recipe, resume=True)
    assert result.metrics["checkpoint_average"]["steps"] == [6, 4, 2]
