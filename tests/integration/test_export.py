"""ONNX export on a real (few-step) model: files, manifest, parity figures, the ONNX predictor, failures."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import INTENTS, module_home, recipe_dict
from typer.testing import CliRunner

from modelyard import export, registry
from modelyard import train as training
from modelyard.artifacts import verify_manifest
from modelyard.cli import app
from modelyard.config import parse_recipe
from modelyard.errors import ModelLoadError
from modelyard.runtime import INT8_FILE, OnnxPredictor, load_onnx_predictor
from modelyard.serve.pool import load_predictor
from modelyard.tasks.text_classification.predict import Predictor

runner = CliRunner()
TINY = [text for texts in INTENTS.values() for text in texts]
# An empty text is a near-tie (all three probabilities ~0.33): compared on probabilities, not on argmax.
TEXTS = [*TINY, "", "a text the model has never seen " * 8]
EXPORTED = {"model.onnx", "model.int8.onnx", "export.json"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[registry.VersionInfo]:
    """One few-step model, exported once through the CLI, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("export")
    with module_home(root) as data:
        training.run(parse_recipe(recipe_dict(data, max_steps=4)))
        result = runner.invoke(app, ["export", "tiny:1"])
        assert result.exit_code == 0, result.output
        assert "model.int8.onnx" in result.output and "usable: yes" in result.output
        yield registry.get("tiny:1")


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under the model's folder (the version and any sibling leftovers)."""
    return {
        str(path.relative_to(folder.parent)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.parent.rglob("*"))
        if path.is_file()
    }


def test_export_files_are_in_the_manifest(exported: registry.VersionInfo) -> None:
    folder = exported.path
    assert {p.name for p in folder.iterdir()} >= EXPORTED
    manifest = json.loads((folder / "manifest.json").read_text())["files"]
    assert set(manifest) >= EXPORTED and set(manifest) == {p.name for p in folder.iterdir()} - {"manifest.json"}
    verify_manifest(folder)
    assert [p.name for p in folder.parent.iterdir()] == ["1"]  # no scratch folder left beside the version
    record = json.loads((folder / "export.json").read_text())
    sizes = record["sizes"]
    assert sizes["model.onnx"] == (folder / "model.onnx").stat().st_size
    assert record["weights_bytes"] / sizes["model.int8.onnx"] > 3  # int8 weights: about a quarter of fp32
    assert record["opset"] >= 17 and record["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert record["quantization"]["fusions"].get("Attention") == 6  # MiniLM-L6's six layers were fused


def test_parity_is_recorded_in_export_json_and_the_store(exported: registry.VersionInfo) -> None:
    record = json.loads((exported.path / "export.json").read_text())
    assert record["usable"] is True and record["failures"] == []
    assert record["tolerance"] == export.DEFAULT_TOLERANCE.model_dump()
    fp32, int8 = record["parity"]["model.onnx"], record["parity"]["model.int8.onnx"]
    assert fp32["split"] == "validation" and fp32["n"] == 6
    assert fp32["max_prob_diff"] < 1e-4 and fp32["agreement"] == 1.0  # fp32 ONNX is torch up to rounding
    assert 0 < int8["max_prob_diff"] <= export.DEFAULT_TOLERANCE.max_prob_diff
    summary = exported.metrics["export"]  # registry.get reads the row: the summary was committed
    assert summary["usable"] is True and summary["file"] == INT8_FILE and summary["n"] == 6
    assert summary["max_prob_diff"] == int8["max_prob_diff"] and summary["agreement"] == int8["agreement"]
    assert exported.metrics["accuracy"] is not None  # the training metrics are kept next to it


def test_onnx_predictor_agrees_with_torch(exported: registry.VersionInfo) -> None:
    torch_probs = Predictor(exported.path, max_length=32).probabilities(TEXTS)
    for int8, within in ((False, 1e-4), (True, export.DEFAULT_TOLERANCE.max_prob_diff)):
        onnx_probs = OnnxPredictor(exported.path, int8=int8).probabilities(TEXTS, batch_size=8)
        assert onnx_probs.shape == torch_probs.shape
        assert np.abs(onnx_probs - torch_probs).max() <= within
        assert (onnx_probs[: len(TINY)].argmax(axis=1) == torch_probs[: len(TINY)].argmax(axis=1)).all()
    version, predictor = load_onnx_predictor("tiny")
    scored = predictor.predict(["my card has not arrived yet", "what exchange rate do you use"], top_k=2)
    assert version.ref == "tiny:1" and [len(s) for s in scored] == [2, 2]
    assert abs(sum(s.probability for s in predictor.predict(["x"], top_k=3)[0]) - 1) < 1e-3


def test_a_failed_export_leaves_the_folder_as_it_was(
    exported: registry.VersionInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, metrics_before = snapshot(exported.path), registry.get("tiny:1").metrics

    def broken(*_: object, **__: object) -> dict[str, int]:
        raise RuntimeError("quantizer crashed")

    monkeypatch.setattr(export, "quantize_int8", broken)
    with pytest.raises(RuntimeError, match="quantizer crashed"):
        export.run("tiny:1")
    assert snapshot(exported.path) == before and registry.get("tiny:1").metrics == metrics_before

    # A failure while installing (here: the database update) moves every file back, manifest included.
    scratch = exported.path.parent / ".tmp-export-test"
    scratch.mkdir()
    for name in EXPORTED:
        (scratch / name).write_bytes(b"new " + name.encode())

    def refuse() -> None:
        raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError, match="database is locked"):
        export._install(exported.path, scratch, sorted(EXPORTED), refuse)
    shutil.rmtree(scratch)
    assert snapshot(exported.path) == before
    verify_manifest(exported.path)


def test_lora_export_parity_failure_and_fp32_only(home: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A LoRA version exports its merged model; an impossible tolerance marks it unusable and the CLI fails."""
    training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=4, method="lora") | {"name": "tiny-lora"}))
    impossible = export.ParityTolerance(max_prob_diff=0.0, max_accuracy_drop=0.0, min_agreement=1.0)
    monkeypatch.setattr(export, "DEFAULT_TOLERANCE", impossible)
    # The fp32 graph is exact here, so it passes even this tolerance; an exporter whose fp32 graph
    # drifts from torch is stood in for by nudging what that file scored before it is compared.
    compare = export.compare
    monkeypatch.setattr(
        export,
        "compare",
        lambda file, split, probs, *rest: compare(file, split, probs + 0.01 if file == "model.onnx" else probs, *rest),
    )
    failed = runner.invoke(app, ["export", "tiny-lora:1"])
    assert failed.exit_code == ModelLoadError.exit_code, failed.output
    assert "outside the parity tolerance" in failed.output and "max probability difference" in failed.output
    folder = registry.get("tiny-lora:1").path
    record = json.loads((folder / "export.json").read_text())
    assert record["usable"] is False and record["failures"]
    assert registry.get("tiny-lora:1").metrics["export"]["usable"] is False
    verify_manifest(folder)  # an unusable export is still stored whole, for inspection
    with pytest.raises(ModelLoadError, match="failed its parity check"):
        OnnxPredictor(folder)
    assert record["sizes"]["model.onnx"] > 10 * record["weights_bytes"]  # the base weights are in the file
    # An unusable export can still be opened on purpose, for inspection.
    assert OnnxPredictor(folder, allow_unusable=True).predict(["i lost my card"])[0][0].label in INTENTS

    monkeypatch.setattr(export, "compare", compare)
    monkeypatch.setattr(export, "DEFAULT_TOLERANCE", export.ParityTolerance())
    fp32_only = export.run("tiny-lora:1", quantize="none")
    assert fp32_only.usable and set(fp32_only.sizes) == {"model.onnx"}
    assert not (folder / INT8_FILE).exists()  # the earlier int8 file is not left behind
    assert INT8_FILE not in json.loads((folder / "manifest.json").read_text())["files"]
    verify_manifest(folder)
    served = OnnxPredictor(folder)  # by default the file the export serves: here the fp32 one
    assert served.model_file.name == "model.onnx" and served.predict(["i lost my card"])[0][0].label in INTENTS
    with pytest.raises(ModelLoadError, match=r"without model\.int8\.onnx"):
        OnnxPredictor(folder, int8=True)

    # int8 outside the tolerance while fp32 is within it: the fp32 ONNX file is served, not torch.
    first = export.run("tiny-lora:1")
    # The fp32 file matches the torch model (base + adapter, merged) on the validation split.
    assert first.parity["model.onnx"].max_prob_diff < 1e-4 and first.parity["model.onnx"].agreement == 1
    fp32_diff, int8_diff = (first.parity[name].max_prob_diff for name in ("model.onnx", INT8_FILE))
    assert int8_diff > 10 * fp32_diff  # quantization moves probabilities far more than fp32 rounding
    monkeypatch.setattr(export, "DEFAULT_TOLERANCE", export.ParityTolerance(max_prob_diff=(fp32_diff + int8_diff) / 2))
    cli = runner.invoke(app, ["export", "tiny-lora:1"])
    assert cli.exit_code == 0 and "the fp32 model.onnx is served instead" in " ".join(cli.output.split()), cli.output
    record = json.loads((folder / "export.json").read_text())
    assert record["usable"] is True and record["served_file"] == "model.onnx" and record["failures"]
    assert registry.get("tiny-lora:1").metrics["export"]["file"] == "model.onnx"
    assert OnnxPredictor(folder).model_file.name == "model.onnx"
    with pytest.raises(ModelLoadError, match=r"model\.int8\.onnx in .* failed its parity check"):
        OnnxPredictor(folder, int8=True)
    assert load_predictor(folder)[1] == "onnx-fp32"  # what a server loads


def test_parity_figures_single_and_multi_label() -> None:
    tolerance = export.ParityTolerance()
    reference = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    gold = np.array([0, 1, 1])
    same = export.compare("m.onnx", "validation", reference, reference, gold, False, tolerance)
    assert same.passed and same.torch_accuracy == same.accuracy == pytest.approx(2 / 3) and same.agreement == 1
    flipped = reference.copy()
    flipped[2] = [0.4, 0.6]  # the near-tie flips to the right label: better accuracy, lower agreement
    parity = export.compare("m.int8.onnx", "validation", flipped, reference, gold, False, tolerance)
    assert parity.accuracy_drop == pytest.approx(-1 / 3) and parity.agreement == pytest.approx(2 / 3)
    assert parity.max_prob_diff == pytest.approx(0.2) and parity.failures == (
        "m.int8.onnx: label agreement 0.6667 < 0.97",
    )
    multi = np.array([[0.9, 0.7], [0.1, 0.2]], dtype=np.float32)
    hot = np.array([[1.0, 1.0], [0.0, 0.0]])
    moved = multi + np.array([[0.0, -0.3], [0.0, 0.0]], dtype=np.float32)  # second label drops below 0.5
    parity = export.compare("m.onnx", "test", moved, multi, hot, True, tolerance)
    assert parity.torch_accuracy == 1.0 and parity.accuracy == 0.5 and parity.agreement == 0.5
    assert len(parity.failures) == 3
