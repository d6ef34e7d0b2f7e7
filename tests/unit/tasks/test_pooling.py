"""The mean-pooled text classifier: chosen from the base, independent of padding, saved and loaded as trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from modelyard import models, tasks
from modelyard.errors import ConfigError
from modelyard.tasks import heads, pooling
from modelyard.tasks.labels import LabelMap

TEXTS = ["my card has not arrived", "why was I charged twice for the same coffee in a foreign currency?"]


@pytest.fixture(scope="module")
def base() -> models.BaseModel:
    return models.resolve("minilm-l6")


def _config_only_base(tmp_path: Path, model_type: str) -> models.BaseModel:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    return models.resolve(str(tmp_path))


def test_auto_follows_the_bases_sentence_pooling(base: models.BaseModel, tmp_path: Path) -> None:
    assert pooling.resolve("auto", base) == "mean"  # the packaged MiniLM declares mean pooling (1_Pooling/)
    assert pooling.resolve("cls", base) == "cls"
    plain_bert = _config_only_base(tmp_path, "bert")  # no sentence-transformers pooling file
    assert pooling.resolve("auto", plain_bert) == "cls"
    assert pooling.resolve("mean", plain_bert) == "mean"


def test_mean_on_an_architecture_without_the_head_says_what_to_set(tmp_path: Path) -> None:
    roberta = _config_only_base(tmp_path, "roberta")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert pooling.resolve("auto", roberta) == "cls"
    with pytest.raises(ConfigError, match=r"model.pooling: mean is implemented for bert.*'roberta'.*pooling: cls"):
        pooling.resolve("mean", roberta)


def test_masked_mean_ignores_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pooling.masked_mean(hidden, mask).tolist() == [[2.0, 3.0]]
    torch.testing.assert_close(pooling.masked_mean(hidden, None), torch.tensor([[104 / 3, 106 / 3]]))


def test_mean_pooled_classifier_round_trip(base: models.BaseModel, tmp_path: Path) -> None:
    task = tasks.get("text-classification")
    label_map = LabelMap(("card_arrival", "extra_charge"), False)
    torch.manual_seed(0)
    model = heads.build(task, base, label_map, None, "mean").eval()
    assert isinstance(model, pooling.MeanPooledBertForSequenceClassification)
    assert model.bert.pooler is None  # unused parameters would break multi-process training
    tokenizer = models.load_tokenizer(base)
    alone = tokenizer(TEXTS[:1], return_tensors="pt")
    padded = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        first_alone = model(**alone).logits[0]
        first_padded = model(**padded).logits[0]
    torch.testing.assert_close(first_alone, first_padded, atol=1e-5, rtol=1e-5)
    loss = model(**padded, labels=torch.tensor([0, 1])).loss
    assert loss is not None and loss.item() > 0

    heads.save(model, tokenizer, tmp_path, base, "mean")
    label_map.save(tmp_path)
    (tmp_path / heads.RECIPE_FILE).write_text(yaml.safe_dump({"task": "text-classification"}))
    assert heads.pooling_of(tmp_path) == "mean"
    loaded = heads.load_trained(tmp_path)
    assert isinstance(loaded, pooling.MeanPooledBertForSequenceClassification)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**alone).logits[0], first_alone, atol=1e-5, rtol=1e-5)


def test_versions_saved_before_pooling_was_recorded_load_as_cls(tmp_path: Path) -> None:
    (tmp_path / heads.BASE_FILE).write_text(json.dumps({"spec": "minilm-l6", "source": "packaged"}))
    assert heads.pooling_of(tmp_path) == "cls"
    from transformers import AutoModelForSequenceClassification

    assert heads.model_class(tasks.get("text-classification"), "cls") is AutoModelForSequenceClassification
