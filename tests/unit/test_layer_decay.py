"""Layer-wise learning-rate decay: depth from parameter names, one rate per depth, nothing left out."""

from __future__ import annotations

import pytest

from modelyard import layer_decay, models, tasks
from modelyard.config import LoraSpec
from modelyard.tasks import heads
from modelyard.tasks.labels import LabelMap

LAYERS = 6


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bert.embeddings.word_embeddings.weight", 0),
        ("bert.embeddings.LayerNorm.bias", 0),
        ("bert.encoder.layer.0.attention.self.query.weight", 1),
        ("bert.encoder.layer.5.output.dense.bias", 6),
        ("base_model.model.bert.encoder.layer.3.attention.self.value.lora_A.default.weight", 4),
        ("distilbert.transformer.layer.2.ffn.lin1.weight", 3),
        ("model.layers.4.mlp.up_proj.weight", 5),
        ("bert.pooler.dense.weight", 7),
        ("classifier.weight", 7),
        ("base_model.model.classifier.modules_to_save.default.bias", 7),
    ],
)
def test_depth_from_the_parameter_name(name: str, expected: int) -> None:
    assert layer_decay.depth(name, LAYERS) == expected


@pytest.fixture(scope="module")
def base() -> models.BaseModel:
    return models.resolve("minilm-l6")


@pytest.mark.parametrize("lora", [None, LoraSpec(r=4, alpha=8)])
def test_groups_cover_every_trainable_weight_once_with_rates_falling_downwards(
    base: models.BaseModel, lora: LoraSpec | None
) -> None:
    model = heads.build(tasks.get("text-classification"), base, LabelMap(("a", "b", "c"), False), lora, "cls")
    decayed = {name for name, _ in model.named_parameters() if "bias" not in name and "LayerNorm" not in name}
    groups = layer_decay.parameter_groups(
        model, learning_rate=1e-4, weight_decay=0.01, decay=0.8, decayed_names=decayed, num_layers=LAYERS
    )

    grouped = [id(p) for group in groups for p in group["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable)  # each trainable weight in exactly one group, frozen ones in none

    by_id = {id(p): name for name, p in model.named_parameters()}
    rates = {}
    for group in groups:
        names = [by_id[id(p)] for p in group["params"]]
        assert group["weight_decay"] == (0.01 if names[0] in decayed else 0.0)
        assert all((name in decayed) == (names[0] in decayed) for name in names)
        levels = {layer_decay.depth(name, LAYERS) for name in names}
        assert len(levels) == 1
        rates[levels.pop()] = group["lr"]
    assert rates[LAYERS + 1] == pytest.approx(1e-4)  # the head learns at the recipe's rate
    assert [rates[level] for level in sorted(rates)] == sorted(rates.values())  # lower layers, lower rates
    if lora is None:
        assert rates[0] == pytest.approx(1e-4 * 0.8**7)  # the embeddings: seven steps down
