"""The real loop on tiny data: train the packaged model, register, predict, evaluate, manage versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sqlalchemy import select
from tests.conftest import INTENTS, module_home, recipe_dict, write_rows
from typer.testing import CliRunner

from modelyard import models, registry, store
from modelyard import train as training
from modelyard.cli import app
from modelyard.config import parse_recipe
from modelyard.errors import IntegrityError, NotFound
from modelyard.predict import predict_file, predict_texts

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, training.TrainResult]]:
    """One real training run shared by the read-only tests of this module."""
    root = tmp_path_factory.mktemp("lifecycle")
    with module_home(root) as data:
        result = training.run(parse_recipe(recipe_dict(data, epochs=3)))
        yield data, result


def test_a_run_registers_a_complete_version(trained: tuple[Path, training.TrainResult]) -> None:
    _, result = trained
    version = result.version
    assert version is not None and version.ref == "tiny:1"
    files = {p.name for p in version.path.iterdir()}
    expected = {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "label_map.json",
        "config.yaml",
        "report.json",
        "report.md",
        "confusion.png",
        "learning_curve.png",
        "manifest.json",
        "version.json",
        "base_model.json",
    }
    assert expected <= files
    manifest = json.loads((version.path / "manifest.json").read_text())["files"]
    assert set(manifest) == files - {"manifest.json"}
    assert version.task == "text-classification" and version.base_model == "minilm-l6" and version.seed == 7
    assert version.config["training"]["epochs"] == 3 and version.packages["torch"].startswith("2.13.0")
    assert version.metrics["split"] == "test" and version.metrics["n"] == 8
    assert 0.0 <= version.metrics["accuracy"] <= 1.0
    report = json.loads((version.path / "report.json").read_text())
    assert {"per_class", "confusion", "roc_auc_ovr", "macro_f1", "weighted_f1"} <= set(report)
    lineage = json.loads((version.path / "version.json").read_text())["lineage"]
    assert lineage["dataset_hash"] == version.dataset_hash
    with store.session() as db:
        run = db.get(store.Run, version.run_id)
        assert run is not None and run.status == "succeeded"
        assert not Path(run.output_dir).exists()  # checkpoints are removed once the version is registered


def test_the_model_learned_the_intents(trained: tuple[Path, training.TrainResult]) -> None:
    _, predictions = predict_texts("tiny", ["my card still has not arrived", "my wallet with my card was stolen"])
    assert [p[0].label for p in predictions] == ["card_arrival", "lost_or_stolen_card"]
    assert all(abs(sum(s.probability for s in p) - 1) < 1e-3 for p in predict_texts("tiny", ["x"], top_k=3)[1])


def test_predict_a_file_to_csv(trained: tuple[Path, training.TrainResult], tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.csv", [{"id": "1", "text": "card never came"}, {"id": "2", "text": "bad rate"}])
    output = tmp_path / "out.csv"
    assert predict_file("tiny:1", source, output) == 2
    lines = output.read_text().splitlines()
    assert lines[0] == "id,text,predicted_label,probability,top_k" and lines[1].startswith("1,card never came,")


def test_cli_models_predict_evaluate(trained: tuple[Path, training.TrainResult], tmp_path: Path) -> None:
    data, _ = trained
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0 and "tiny:1" in listed.output
    shown = runner.invoke(app, ["models", "show", "tiny:1"])
    assert shown.exit_code == 0 and '"dataset_hash"' in shown.output
    predicted = runner.invoke(app, ["predict", "--model", "tiny", "I lost my card", "--top-k", "2"])
    assert predicted.exit_code == 0 and "lost_or_stolen_card" in predicted.output
    evaluated = runner.invoke(
        app,
        [
            "evaluate",
            "tiny:1",
            "--data",
            str(data),
            "--text-column",
            "message",
            "--label-column",
            "intent",
            "--output",
            str(tmp_path / "ev"),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "accuracy" in evaluated.output and (tmp_path / "ev" / "confusion.png").is_file()
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["n"] == 36


def test_promote_and_refuse_tampered_files(trained: tuple[Path, training.TrainResult]) -> None:
    _, result = trained
    assert result.version is not None
    promoted = runner.invoke(app, ["models", "promote", "tiny:1", "--stage", "production"])
    assert promoted.exit_code == 0 and registry.get("tiny").stage == "production"
    label_map = result.version.path / "label_map.json"
    original = label_map.read_bytes()
    label_map.write_bytes(original.replace(b"card_arrival", b"card_arrivaX"))
    try:
        with pytest.raises(IntegrityError):
            predict_texts("tiny:1", ["hello"])
        refused = runner.invoke(app, ["models", "promote", "tiny:1", "--stage", "staging"])
        assert refused.exit_code == 7 and "does not match its SHA-256" in refused.output
    finally:
        label_map.write_bytes(original)


def test_bad_references_are_clear(trained: tuple[Path, training.TrainResult]) -> None:
    with pytest.raises(NotFound, match="registered models: tiny"):
        registry.get("nothere")
    missing = runner.invoke(app, ["predict", "--model", "tiny:9", "hi"])
    assert missing.exit_code == 4 and "no model version 'tiny:9'" in missing.output
    assert "Traceback" not in missing.output


def test_reproducible_and_lora_and_delete(home: Path, tiny_csv: Path) -> None:
    """Same seed and data give the same metrics; LoRA stores only the adapter and head; delete removes all."""
    recipe = parse_recipe(recipe_dict(tiny_csv, max_steps=4))
    first, second = training.run(recipe), training.run(recipe)
    assert first.version and second.version
    assert first.metrics["accuracy"] == second.metrics["accuracy"]
    assert first.metrics["per_class"] == second.metrics["per_class"]
    a = load_file(first.version.path / "model.safetensors")
    b = load_file(second.version.path / "model.safetensors")
    assert all((a[k] == b[k]).all() for k in a)

    lora = training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=4, method="lora") | {"name": "tiny-lora"}))
    assert lora.version is not None and lora.version.method == "lora"
    files = {p.name for p in lora.version.path.iterdir()}
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert (lora.version.path / "adapter_model.safetensors").stat().st_size < 3_000_000
    assert predict_texts("tiny-lora", ["where is my card"])[1][0][0].label in INTENTS

    deleted = runner.invoke(app, ["models", "delete", "tiny:1"])
    assert deleted.exit_code == 0 and not first.version.path.exists()
    with store.session() as db:
        assert [
            v for (v,) in db.execute(select(store.ModelVersion.version).where(store.ModelVersion.name == "tiny"))
        ] == [2]


def test_multi_label(home: Path, tmp_path: Path) -> None:
    rows = [{"text": t, "labels": label} for label, texts in INTENTS.items() for t in texts]
    rows += [
        {
            "text": f"my card was stolen and the new one has not arrived {i}",
            "labels": "lost_or_stolen_card|card_arrival",
        }
        for i in range(6)
    ]
    data = write_rows(tmp_path / "ml.csv", rows)
    raw = recipe_dict(data, max_steps=4) | {"name": "tiny-ml"}
    raw["data"] = {"path": str(data), "label_column": "labels", "label_separator": "|"}
    result = training.run(parse_recipe(raw))
    assert result.version is not None and result.metrics["multi_label"] is True
    probabilities = predict_texts("tiny-ml", ["card stolen"], top_k=3)[1][0]
    assert len(probabilities) == 3 and all(0 <= s.probability <= 1 for s in probabilities)


def test_layer_decay_slows_the_lower_layers(home: Path, tiny_csv: Path) -> None:
    """A decay of 1e-3 per layer leaves the encoder where pretraining put it; without it, it moves."""
    pretrained = load_file(Path(models.resolve("minilm-l6").location) / "model.safetensors")

    def movement(**training_options: object) -> dict[str, float]:
        recipe = parse_recipe(recipe_dict(tiny_csv, max_steps=3, **training_options) | {"name": "decay"})
        result = training.run(recipe)
        assert result.version is not None
        trained = load_file(result.version.path / "model.safetensors")
        keys = ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight")
        return {key: float((trained[f"bert.{key}"] - pretrained[key]).abs().max()) for key in keys}

    plain, decayed = movement(), movement(layer_decay=1e-3)
    # Adam's first steps move a weight by about its learning rate (5e-4 here) whatever the gradient.
    assert plain["encoder.layer.5.output.dense.weight"] > 1e-4
    assert decayed["encoder.layer.5.output.dense.weight"] < 1e-6  # one step down: 5e-7
    assert plain["embeddings.word_embeddings.weight"] > 1e-4
    assert decayed["embeddings.word_embeddings.weight"] < 1e-12  # seven steps down


def test_head_only_training_leaves_the_encoder_as_pretrained(home: Path, tiny_csv: Path) -> None:
    """``method: head`` is a linear probe: every encoder weight stays pretrained, the head learns."""
    pretrained = load_file(Path(models.resolve("minilm-l6").location) / "model.safetensors")
    recipe = parse_recipe(recipe_dict(tiny_csv, max_steps=3, method="head") | {"name": "probe"})
    result = training.run(recipe)
    assert result.version is not None and result.version.method == "head"
    trained = load_file(result.version.path / "model.safetensors")
    encoder = {key: trained[f"bert.{key}"] for key in pretrained if f"bert.{key}" in trained}
    assert len(encoder) > 90 and all(torch.equal(weights, pretrained[key]) for key, weights in encoder.items())
    assert predict_texts("probe", ["where is my card"])[1][0][0].label in INTENTS
