"""Differentially private training (privacy.dp, Opacus) on the real packaged model and tiny data.

Full fine-tuning and LoRA each train a few DP-SGD steps. The LoRA checks answer
opacus#820 (training "succeeds" while the adapter weights never move or the saved
model is unusable): the adapter's A and B differ from their initialisation, the
base is untouched, and the saved adapter, the merged model and the in-memory
trained model give the same finite logits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from tests.conftest import module_home, recipe_dict

from modelyard import models, predict, registry, tasks
from modelyard import train as training
from modelyard.config import DPSpec, LoraSpec, parse_recipe
from modelyard.data.versions import folder_of, read_split
from modelyard.errors import ConfigError, TrainingError
from modelyard.privacy import dp
from modelyard.tasks import heads
from modelyard.tasks.labels import LabelMap

LORA = {"method": "lora", "lora": {"r": 8, "alpha": 16, "dropout": 0.0}, "learning_rate": 5e-3}
TEXTS = ["when will my card arrive", "what exchange rate applies", "my card was stolen"]


@dataclass
class World:
    data: Path
    trained: dict[str, Any]
    """The model object each run registered, caught on its way to disk."""


def dp_recipe(data: Path, name: str, steps: int, **training_: object) -> dict[str, Any]:
    recipe = recipe_dict(data, max_steps=steps, eval_every=steps, **training_) | {"name": name}
    return recipe | {"privacy": {"dp": {"epsilon": 8, "max_grad_norm": 1.0}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    trained: dict[str, Any] = {}
    save = training._save_weights

    def keep(trainer: Any, tokenizer: Any, folder: Path, base: models.BaseModel, pooling: str) -> None:
        trained[folder.parent.name] = trainer.model  # a spy: the real save still runs
        save(trainer, tokenizer, folder, base, pooling)

    with module_home(tmp_path_factory.mktemp("dp")) as data, pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "_save_weights", keep)
        training.run(parse_recipe(dp_recipe(data, "tiny-dp", 2)))
        training.run(parse_recipe(dp_recipe(data, "tiny-dp-lora", 3, **LORA)))
        yield World(data, trained)


def _logits(model: Any, texts: list[str]) -> torch.Tensor:
    tokenizer = models.load_tokenizer(models.resolve("minilm-l6"))
    with torch.no_grad():
        return model.eval()(**tokenizer(texts, padding=True, return_tensors="pt")).logits


def test_dp_full_registers_epsilon_within_budget(world: World) -> None:
    version = registry.get("tiny-dp:1")
    record = version.metrics["privacy"]["dp"]
    assert record["epsilon_target"] == 8
    assert 0 < record["epsilon"] <= 8
    assert record["steps"] == record["planned_steps"] == 2
    assert record["noise_multiplier"] > 0 and 0 < record["sample_rate"] < 1
    n_train = len(read_split(folder_of(version.dataset_hash), "train"))
    assert record["delta"] == pytest.approx(1 / (10 * n_train))  # the default δ, recorded
    assert version.config["privacy"]["dp"]["epsilon"] == 8

    report = (version.path / "report.md").read_text(encoding="utf-8")
    assert "Differential privacy" in report and f"{record['epsilon']:.2f} (target 8)" in report
    assert json.loads((version.path / "version.json").read_text())["metrics"]["privacy"]["dp"] == record
    assert registry.card(version)["metrics"]["privacy"]["dp"]["delta"] == record["delta"]

    # Embedding tables stay frozen under DP; the encoder moved.
    model = world.trained["tiny-dp"]
    base = models.load(heads.model_class(tasks.get("text-classification")), models.resolve("minilm-l6"), num_labels=3)
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, base.bert.embeddings.word_embeddings.weight)
    assert not torch.equal(
        model.bert.encoder.layer[0].output.dense.weight, base.bert.encoder.layer[0].output.dense.weight
    )
    assert not any(hasattr(p, "grad_sample") for p in model.parameters())  # Opacus' hooks are gone


def test_dp_lora_moves_the_adapter_only_and_is_not_corrupted(world: World) -> None:
    version = registry.get("tiny-dp-lora:1")
    assert version.method == "lora" and version.metrics["privacy"]["dp"]["epsilon"] <= 8
    trained = world.trained["tiny-dp-lora"]
    task = tasks.get("text-classification")
    base = models.resolve("minilm-l6")

    # The adapter as it was initialised: the same seed, the same build as train.py.
    from peft import get_peft_model_state_dict
    from transformers import set_seed

    set_seed(7)
    label_map = LabelMap.load(version.path)
    pooling = heads.pooling_of(version.path)
    initial = get_peft_model_state_dict(
        heads.build(task, base, label_map, LoraSpec(r=8, alpha=16, dropout=0.0), pooling)
    )
    final = get_peft_model_state_dict(trained)
    lora = [key for key in final if "lora_" in key]
    assert len(lora) == 24  # A and B on query and value in 6 layers
    for key in lora:
        assert not torch.equal(final[key], initial[key]), f"{key} did not move"
    assert all(final[key].abs().sum() > 0 for key in lora if "lora_B" in key)  # B starts at zero

    pristine = dict(models.load(heads.model_class(task), base, num_labels=3).bert.named_parameters())
    for name, p in trained.get_base_model().bert.named_parameters():
        if "lora_" not in name:
            assert torch.equal(p, pristine[name.replace(".base_layer.", ".")]), f"base weight {name} changed"

    from peft import PeftModel

    adapter = PeftModel.from_pretrained(models.load(heads.model_class(task, pooling), base, num_labels=3), version.path)
    merged = heads.load_trained(version.path)
    on_adapter, on_merged, in_memory = _logits(adapter, TEXTS), _logits(merged, TEXTS), _logits(trained, TEXTS)
    assert torch.isfinite(on_adapter).all()
    torch.testing.assert_close(on_merged, on_adapter, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(in_memory, on_adapter, atol=1e-4, rtol=1e-4)
    _, scored = predict.predict_texts(version.ref, TEXTS)
    assert all(0 <= s.probability <= 1 for row in scored for s in row)


@pytest.mark.parametrize(
    ("dp_config", "expected"),
    [
        ({"epsilon": 0}, "privacy.dp.epsilon: Input should be greater than 0"),
        ({"epsilon": -3}, "privacy.dp.epsilon: Input should be greater than 0"),
        ({}, "privacy.dp.epsilon: Field required"),
        ({"epsilon": 8, "max_grad_norm": 0}, "privacy.dp.max_grad_norm: Input should be greater than 0"),
        ({"epsilon": 8, "delta": 1.5}, "privacy.dp.delta: Input should be less than 1"),
        ({"epsilon": 8, "noise": 1}, "privacy.dp.noise: unknown key; allowed here: delta, epsilon, max_grad_norm"),
    ],
)
def test_bad_dp_values_name_the_key(tmp_path: Path, dp_config: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        parse_recipe(recipe_dict(tmp_path / "x.csv") | {"privacy": {"dp": dp_config}})


def test_dp_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    recipe = parse_recipe(recipe_dict(tmp_path / "x.csv") | {"privacy": {"dp": {"epsilon": 8}}})
    with pytest.raises(ConfigError, match=r"privacy\.dp: .* one process; found 2"):
        dp.check(recipe, num_processes=2, resume=False)
    with pytest.raises(ConfigError, match="cannot be resumed"):
        dp.check(recipe, num_processes=1, resume=True)
    smoothed = recipe.model_copy(update={"training": recipe.training.model_copy(update={"label_smoothing": 0.1})})
    with pytest.raises(ConfigError, match=r"training\.label_smoothing"):
        dp.check(smoothed, num_processes=1, resume=False)
    with pytest.raises(ConfigError, match=r"privacy\.dp\.delta: 0\.01 is not below 1/n"):
        dp.resolve_delta(DPSpec(epsilon=8, delta=0.01), n_train=200)
    assert dp.resolve_delta(DPSpec(epsilon=8), n_train=200) == pytest.approx(1 / 2000)
    dp.check(
        recipe.model_copy(update={"privacy": recipe.privacy.model_copy(update={"dp": None})}),
        num_processes=4,
        resume=True,
    )


@pytest.mark.filterwarnings("ignore:Secure RNG turned off")
def test_an_empty_poisson_batch_still_adds_noise_and_counts() -> None:
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader

    layer = torch.nn.Linear(4, 2)
    engine = PrivacyEngine(accountant="prv")
    rows = [{"x": torch.ones(4)} for _ in range(8)]
    _, optimizer, _ = engine.make_private(
        module=layer,
        optimizer=torch.optim.SGD(layer.parameters(), lr=0.1),
        data_loader=DataLoader(rows, batch_size=4),
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        wrap_model=False,
    )
    assert dp._EmptySafe(lambda examples: {"x": torch.stack([e["x"] for e in examples])})([]) == {}
    loop = dp._Loop.__new__(dp._Loop)
    loop.optimizer = optimizer
    before = layer.weight.detach().clone()
    loop._empty_per_example_gradients()
    optimizer.step()
    assert dp._accounted_steps(engine) == 1
    assert not torch.equal(layer.weight, before)  # noise only, as DP-SGD prescribes for an empty draw


def test_weights_that_never_moved_fail_the_run() -> None:
    weight = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(TrainingError, match="opacus#820"):
        dp._check_moved({"lora_A": weight}, {"lora_A": weight.detach().clone()})


def test_dp_head_only_noises_only_the_head(home: Path, tiny_csv: Path) -> None:
    """``method: head`` under DP-SGD: Opacus sees only the classifier; the encoder stays pretrained."""
    recipe = dp_recipe(tiny_csv, "tiny-dp-head", 2, method="head")
    result = training.run(parse_recipe(recipe | {"model": recipe["model"] | {"pooling": "mean"}}))
    assert result.version is not None and result.version.method == "head"
    record = result.metrics["privacy"]["dp"]
    assert 0 < record["epsilon"] <= 8 and record["trainable_parameters"] == 384 * 3 + 3
    trained = load_file(result.version.path / "model.safetensors")
    pretrained = load_file(Path(models.resolve("minilm-l6").location) / "model.safetensors")
    assert all(torch.equal(trained[f"bert.{key}"], pretrained[key]) for key in pretrained if f"bert.{key}" in trained)
