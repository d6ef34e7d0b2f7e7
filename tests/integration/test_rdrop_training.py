"""``training.rdrop`` on the real loop: training batches run twice through dropout, evaluation once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import recipe_dict

from modelyard import train as training
from modelyard.config import parse_recipe
from modelyard.errors import ConfigError
from modelyard.predict import predict_texts


def _losses(history: list[dict[str, Any]]) -> list[float]:
    """The training loss of the run and the validation loss per evaluation."""
    return [entry[key] for entry in history for key in ("train_loss", "eval_loss") if key in entry]


@pytest.mark.parametrize("method", ["full", "lora"])
def test_rdrop_doubles_training_batches_and_adds_the_consistency_term(
    home: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    seen: list[tuple[bool, int]] = []
    terms: list[float] = []
    real_loss = training.InOrderTrainer.compute_loss
    real_term = training.rdrop.consistency

    def spy_loss(self: Any, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        seen.append((model.training, len(inputs["input_ids"])))
        return real_loss(self, model, inputs, *args, **kwargs)

    def spy_term(logits: Any, labels: Any) -> Any:
        assert len(logits) == 2 * len(labels)
        term = real_term(logits, labels)
        terms.append(float(term.detach()))
        return term

    monkeypatch.setattr(training.InOrderTrainer, "compute_loss", spy_loss)
    monkeypatch.setattr(training.rdrop, "consistency", spy_term)
    recipe = parse_recipe(recipe_dict(tiny_csv, method=method, rdrop=1.0) | {"name": f"rdrop-{method}"})
    result = training.run(recipe)

    assert result.version is not None and result.version.config["training"]["rdrop"] == 1.0
    assert terms and len(terms) == sum(training for training, _ in seen)
    # Dropout differs between the two passes, so the term is positive while training.
    assert all(term > 0 for term in terms)
    # Evaluation and prediction compute no term and see each example once.
    assert any(not is_training for is_training, _ in seen)
    assert predict_texts(f"rdrop-{method}", ["where is my card"])[1][0][0].probability > 0


def test_rdrop_changes_the_training_loss_and_off_is_the_plain_loop(home: Path, tiny_csv: Path) -> None:
    plain = training.run(parse_recipe(recipe_dict(tiny_csv) | {"name": "plain"}))
    again = training.run(parse_recipe(recipe_dict(tiny_csv) | {"name": "again"}))
    regularised = training.run(parse_recipe(recipe_dict(tiny_csv, rdrop=4.0) | {"name": "regularised"}))
    assert _losses(plain.history) == pytest.approx(_losses(again.history))  # seeded: the same run twice
    assert _losses(regularised.history) != pytest.approx(_losses(plain.history))


def test_rdrop_is_refused_with_dp_sgd_and_out_of_range(tiny_csv: Path) -> None:
    with pytest.raises(ConfigError, match=r"training\.rdrop"):
        parse_recipe(recipe_dict(tiny_csv, rdrop=1.0, method="head") | {"privacy": {"dp": {"epsilon": 8}}})
    with pytest.raises(ConfigError, match=r"training\.rdrop"):
        parse_recipe(recipe_dict(tiny_csv, rdrop=0))
