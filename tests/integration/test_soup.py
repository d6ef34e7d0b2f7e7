"""``modelyard models soup``: a version whose weights are the mean of other versions', scored and registered."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sqlalchemy import func, select
from tests.conftest import recipe_dict
from typer.testing import CliRunner

from modelyard import registry, soup, store
from modelyard import train as training
from modelyard.cli import app
from modelyard.config import parse_recipe
from modelyard.errors import ConfigError
from modelyard.predict import predict_texts

runner = CliRunner()


def _versions() -> int:
    with store.session() as db:
        return db.scalar(select(func.count()).select_from(store.ModelVersion)) or 0


def test_a_soup_is_the_mean_of_its_ingredients(home: Path, tiny_csv: Path) -> None:
    runs = [training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=4, seed=seed))) for seed in (7, 8)]
    result = runner.invoke(app, ["models", "soup", "tiny:1", "tiny:2"])
    assert result.exit_code == 0, result.output
    assert "registered tiny:3, the soup of tiny:1, tiny:2" in result.output

    made = registry.get("tiny:3")
    first, second, mean = (load_file(registry.get(f"tiny:{n}").path / "model.safetensors") for n in (1, 2, 3))
    assert set(mean) == set(first)
    differing = [key for key in first if first[key].is_floating_point() and not torch.equal(first[key], second[key])]
    assert differing  # the seeds gave different weights, so the mean is neither of them
    for key in differing:
        assert torch.allclose(mean[key], (first[key].double() + second[key].double()).div(2).float(), atol=1e-7)

    assert made.metrics["soup"]["ingredients"] == ["tiny:1", "tiny:2"]
    assert made.metrics["split"] == "test" and 0 <= made.metrics["accuracy"] <= 1
    on_validation = made.metrics["soup"]["validation"]
    assert set(on_validation) == {"tiny:1", "tiny:2", "soup"}
    # An ingredient read again on validation gives the figure training logged for the checkpoint it kept.
    assert on_validation["tiny:1"]["accuracy"] == pytest.approx(
        max(entry["eval_accuracy"] for entry in runs[0].history if "eval_accuracy" in entry)
    )
    assert made.dataset_hash == registry.get("tiny:1").dataset_hash and made.run_id is None
    report = (made.path / "report.json").read_text(encoding="utf-8")
    assert "per_class" in report  # scored like a trained version: every metric, not only accuracy
    assert predict_texts("tiny:3", ["where is my card"])[1][0][0].probability > 0


def test_what_cannot_go_into_a_soup_is_refused(home: Path, tiny_csv: Path, tmp_path: Path) -> None:
    training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=2)))
    training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=2, method="lora") | {"name": "tiny-lora"}))
    training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=2, method="lora", seed=8) | {"name": "tiny-lora"}))
    longer = recipe_dict(tiny_csv, max_steps=2, seed=9)
    longer["model"] = {"base": "minilm-l6", "max_length": 48}
    training.run(parse_recipe(longer))
    before = _versions()
    cases = {
        ("tiny:1",): "two or more",
        ("tiny:1", "tiny:1"): "two or more",
        ("tiny:1", "tiny-lora:1"): "not a version of 'tiny'",
        ("tiny-lora:1", "tiny-lora:2"): "LoRA adapter",
        ("tiny:1", "tiny:2"): "model settings",
    }
    for refs, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            soup.make(list(refs))
    result = runner.invoke(app, ["models", "soup", "tiny:1", "tiny:9"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert _versions() == before

    training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=2, seed=8)))  # tiny:3, a fit ingredient
    before = _versions()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(soup.registry, "write_report", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            soup.make(["tiny:1", "tiny:3"])
    assert _versions() == before and not (home / "artifacts" / "tiny" / "4").exists()
    assert not any(home.joinpath("tmp").iterdir())  # the scratch folder the soup was scored in is gone
