"""Model soups: register one version whose weights are the mean of several fine-tuned versions' weights.

Runs fine-tuned from the same pretrained weights on the same data, differing in seed (head initialisation,
data order, dropout), end in one basin of the loss; the mean of their weights tends to score like their
ensemble without its cost: one model of the same size and speed (Wortsman et al. 2022, "Model soups").
The soup is a new version of the same model, scored on the held-out split its ingredients were scored on,
with the ingredients in its lineage; nothing is registered if any step fails.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from modelyard import models, registry, settings, tasks
from modelyard.artifacts import verify_manifest
from modelyard.config import Recipe
from modelyard.data.versions import info_of, load_splits
from modelyard.errors import ConfigError
from modelyard.tasks import heads
from modelyard.tasks.labels import LabelMap

_SAME = {
    "task": "task",
    "base_model": "base model",
    "labels": "labels",
    "dataset_hash": "dataset version",
}


def make(refs: Sequence[str]) -> registry.VersionInfo:
    """Average the weights of ``refs`` (two or more versions of one model) into a new registered version."""
    versions = [registry.get(ref) for ref in refs]
    _check(versions)
    for version in versions:
        verify_manifest(version.path)
    first = versions[0]
    model = heads.load_trained(first.path)
    model.load_state_dict(_mean([load_file(v.path / "model.safetensors") for v in versions]))
    tokenizer = heads.load_tokenizer(first.path)
    base = models.resolve(first.base_model)
    pooling = heads.pooling_of(first.path)
    task = tasks.get(first.task)
    label_map = LabelMap.load(first.path)
    dataset = info_of(first.dataset_hash)
    splits = load_splits(dataset)
    held_out = "test" if splits.get("test") else "validation"

    staging = settings.subdir("tmp")
    # The soup is scored through its task's own predictor, which reads a version folder: a scratch one.
    with tempfile.TemporaryDirectory(dir=staging, prefix="soup-") as scratch:
        folder = Path(scratch)
        heads.save(model, tokenizer, folder, base, pooling)
        label_map.save(folder)
        shutil.copy2(first.path / "config.yaml", folder / "config.yaml")
        max_length = int(first.config["model"]["max_length"])
        predictor = task.predictor(folder, max_length)
        metrics = task.evaluate_examples(predictor, splits[held_out])
        record: dict[str, Any] = {
            "ingredients": [v.ref for v in versions],
            "ingredient_metrics": {v.ref: _headline(v.metrics) for v in versions},
        }
        if held_out == "test" and splits.get("validation"):
            # What to choose by: does the soup beat its ingredients on validation (the test split decides nothing)?
            predictors = {v.ref: task.predictor(v.path, max_length) for v in versions} | {"soup": predictor}
            record["validation"] = {
                ref: _headline(task.evaluate_examples(reader, splits["validation"]))
                for ref, reader in predictors.items()
            }
        metrics |= {"split": held_out, "soup": record}
        recipe = Recipe.model_validate(first.config)
        return registry.register(
            recipe=recipe,
            dataset=dataset,
            base=base,
            label_map=label_map,
            metrics=metrics,
            history=[],
            run_id=None,
            save_weights=lambda destination: heads.save(model, tokenizer, destination, base, pooling),
        )


def _check(versions: list[registry.VersionInfo]) -> None:
    if len({v.ref for v in versions}) < 2:
        raise ConfigError("a soup needs two or more different versions, e.g. `modelyard models soup m:1 m:2`")
    first = versions[0]
    for version in versions[1:]:
        if version.name != first.name:
            raise ConfigError(f"a soup is a version of one model: {version.ref} is not a version of {first.name!r}")
        for attribute, words in _SAME.items():
            if getattr(version, attribute) != getattr(first, attribute):
                raise ConfigError(
                    f"{version.ref} and {first.ref} differ in {words}: only runs of one recipe on the same data "
                    "(another seed, say) average into a soup"
                )
        if version.config["model"] != first.config["model"]:
            raise ConfigError(f"{version.ref} and {first.ref} differ in their model settings (recipe key model)")
    for version in versions:
        if version.method == "lora":
            raise ConfigError(f"{version.ref} is a LoRA adapter; a soup averages whole weights (full or head training)")


def _mean(weights: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    mean = {}
    for key, first in weights[0].items():
        if first.is_floating_point():
            mean[key] = torch.stack([w[key].double() for w in weights]).mean(0).to(first.dtype)
        else:
            mean[key] = first  # integer buffers (position ids) are the same in every version
    return mean


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: metrics[key] for key in ("accuracy", "macro_f1", "f1") if key in metrics}
