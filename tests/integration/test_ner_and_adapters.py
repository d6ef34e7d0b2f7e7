"""NER end to end on tiny CoNLL data, and LoRA versions of both tasks served on one shared base."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.conftest import module_home, ner_recipe_dict, ner_sentences, recipe_dict, write_conll

from modelyard import access, adapters, evaluate, export, predict, registry
from modelyard import train as training
from modelyard.config import DataSpec, parse_recipe
from modelyard.data.versions import import_data
from modelyard.errors import DataError
from modelyard.serve import ServeConfig, create_app
from modelyard.tasks.text_classification.predict import Predictor
from modelyard.tasks.token_classification.data import read_file, word_strings
from modelyard.tasks.token_classification.decode import decode_tags
from modelyard.tasks.token_classification.metrics import compute_metrics
from modelyard.tasks.token_classification.predict import TokenPredictor

LORA = {"method": "lora", "lora": {"r": 8, "alpha": 16, "dropout": 0.0}, "learning_rate": 5e-3}
SHAPES = {"model": {"base": "minilm-l6", "max_length": 48, "case_features": True, "document_context": 6}}
"""Word shapes, and each sentence read among its neighbours (the tiny CoNLL file is one document)."""


@dataclass
class World:
    root: Path
    conll: Path
    intents: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("ner")
    with module_home(root) as intents:
        conll = write_conll(root / "ner.conll", ner_sentences(80))
        training.run(parse_recipe(ner_recipe_dict(conll)))
        training.run(parse_recipe(ner_recipe_dict(conll, name="ner-lora", **LORA)))
        # The full one also reads a word's mentions in a document toward one type (model.document_consistency).
        consistent = {"model": SHAPES["model"] | {"document_consistency": 0.75}}
        training.run(parse_recipe(ner_recipe_dict(conll, name="ner-shapes") | consistent))
        # The LoRA one also reads 30% of its training sentences alone (model.context_dropout).
        dropout = {"model": SHAPES["model"] | {"context_dropout": 0.3}}
        training.run(parse_recipe(ner_recipe_dict(conll, name="ner-shapes-lora", **LORA) | dropout))
        training.run(parse_recipe(recipe_dict(intents, **LORA) | {"name": "tiny-lora"}))
        mean_pooled = {"name": "tiny-lora-mean", "model": {"base": "minilm-l6", "max_length": 32, "pooling": "mean"}}
        training.run(parse_recipe(recipe_dict(intents, **LORA) | mean_pooled))
        yield World(root, conll, intents)


def test_ner_trains_evaluates_and_predicts_spans(world: World) -> None:
    version = registry.get("ner:1")
    assert version.task == "token-classification"
    assert version.labels == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert {"f1", "precision", "recall"} <= set(version.metrics)
    report = json.loads((version.path / "report.json").read_text())
    assert set(report["per_type"]) == {"LOC", "ORG", "PER"}

    evaluation = evaluate.run("ner:1", world.conll)
    assert evaluation.metrics["n"] == 80
    assert evaluation.metrics["f1"] > 0.6, evaluation.metrics
    assert (evaluation.folder / "report.md").is_file()

    text = "Anna Schmidt works for Siemens in New York."
    _, [entities] = predict.predict_texts("ner:1", [text])
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
        assert 0 < entity.score <= 1
    assert ("Anna Schmidt", "PER") in {(e.text, e.label) for e in entities}


def test_a_text_longer_than_max_length_is_tagged_to_its_last_word(world: World) -> None:
    predictor = TokenPredictor(registry.get("ner:1").path, 32)
    filler = "the weather was fine and the bus was late again . " * 6
    words = (filler + "Anna Schmidt works for Siemens .").split()
    assert len(predictor.tokenizer(words, is_split_into_words=True)["input_ids"]) > 2 * 32
    [truncated] = predictor.word_probabilities([words])
    assert not truncated[-6:].any()  # one pass stops at 32 subwords
    [matrix] = predictor.text_word_probabilities([words])
    assert matrix.shape == truncated.shape and matrix.any(axis=1).all()
    [entities] = predictor.entities([" ".join(words)])
    assert ("Anna Schmidt", "PER") in {(e.text, e.label) for e in entities}
    # The PII scrubber's name detector reads the whole text too: a name past the cut is not let through.
    from modelyard.privacy.names import NameRecognizer

    text = " ".join(words)
    found = {(text[f.start : f.end], f.type) for f in NameRecognizer(predictor).find(text)}
    assert ("Anna Schmidt", "PERSON") in found


def test_ner_predict_file_writes_entities(world: World, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nMaria Rossi flew to Tokyo.\nThe weather was fine.\n", encoding="utf-8")
    output = tmp_path / "out.csv"
    assert predict.predict_file("ner:1", source, output) == 2
    with output.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found = json.loads(rows[0]["entities"])
    assert all({"start", "end", "label", "text", "score"} == set(e) for e in found)


def test_ner_predict_file_reads_documents_as_it_was_trained(world: World, tmp_path: Path) -> None:
    """With --document-column, a document-context model reads each row among its document's other rows."""
    texts = ["Anna Schmidt works for Siemens .", "She lives in Tokyo .", "Maria Rossi flew to Rome ."]
    source = tmp_path / "in.csv"
    rows = "".join(f"{document},{text}\n" for document, text in zip("aab", texts, strict=True))
    source.write_text("article,text\n" + rows, encoding="utf-8")
    output = tmp_path / "out.csv"
    assert predict.predict_file("ner-shapes:1", source, output, document_column="article") == 3
    with output.open(encoding="utf-8") as handle:
        written = [json.loads(row["entities"]) for row in csv.DictReader(handle)]
    predictor = TokenPredictor(registry.get("ner-shapes:1").path, 48)
    together = predictor.entities(texts, ["a", "a", "b"])
    assert written == [[dataclasses.asdict(e) for e in found] for found in together]
    alone = predictor.entities(texts)
    assert [[e.score for e in f] for f in together] != [[e.score for e in f] for f in alone]

    with pytest.raises(DataError, match="applies to NER models"):
        predict.predict_file("tiny-lora:1", source, output, document_column="article")
    with pytest.raises(DataError, match="document column 'section' not found"):
        predict.predict_file("ner-shapes:1", source, output, document_column="section")


def test_ner_import_refuses_broken_spans(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "spans.jsonl"
    broken.write_text(
        '{"text": "Anna lives in Paris", "entities": [{"start": 0, "end": 4, "label": "PER"}]}\n'
        '{"text": "Bob", "entities": [{"start": 0, "end": 9, "label": "PER"}]}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"line 2.*outside the text"):
        import_data(DataSpec(path=broken), project="support", task="token-classification")
    assert not (world.root / "home" / "datasets" / "support" / "spans").exists()


def test_lora_version_stores_only_what_it_adds(world: World) -> None:
    full = registry.get("ner:1").path
    lora = registry.get("ner-lora:1").path
    assert (lora / "adapter_model.safetensors").stat().st_size < 0.02 * (full / "model.safetensors").stat().st_size
    assert json.loads((lora / "base_model.json").read_text())["spec"] == "minilm-l6"
    assert not (lora / "model.safetensors").exists()
    assert not (lora / "tokenizer.json").exists()  # the base's tokenizer is part of the base


def test_shared_base_matches_merged_models_and_frees_adapters(world: World) -> None:
    shared = adapters.SharedBase("minilm-l6")
    ner_folder, cls_folder = registry.get("ner-lora:1").path, registry.get("tiny-lora:1").path
    ner_key, cls_key = shared.add(ner_folder), shared.add(cls_folder)
    # No LoRA dropout at inference: every module in eval mode, and the same input gives the same logits.
    assert not [name for name, module in shared.encoder.named_modules() if module.training]
    sentences = [["Anna", "Schmidt", "works", "for", "Siemens", "."], ["Tokyo", "!"]]
    on_shared = TokenPredictor(ner_folder, 32, forward=lambda x: shared.forward(ner_key, x))
    merged = TokenPredictor(ner_folder, 32)
    for a, b in zip(on_shared.word_probabilities(sentences), merged.word_probabilities(sentences), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    texts = ["my card was stolen", "what is the exchange rate"]
    cls_shared = Predictor(cls_folder, 32, forward=lambda x: shared.forward(cls_key, x))
    np.testing.assert_array_equal(cls_shared.probabilities(texts), cls_shared.probabilities(texts))
    np.testing.assert_allclose(
        cls_shared.probabilities(texts), Predictor(cls_folder, 32).probabilities(texts), atol=1e-4
    )

    # A mean-pooled classification adapter reads the mean of the tokens on the shared encoder too.
    mean_folder = registry.get("tiny-lora-mean:1").path
    assert json.loads((mean_folder / "base_model.json").read_text())["pooling"] == "mean"
    mean_key = shared.add(mean_folder)
    mean_shared = Predictor(mean_folder, 32, forward=lambda x: shared.forward(mean_key, x))
    np.testing.assert_allclose(
        mean_shared.probabilities(texts), Predictor(mean_folder, 32).probabilities(texts), atol=1e-4
    )
    shared.remove(mean_key)

    held = shared.adapter_parameters(ner_key)
    assert 0 < held < 200_000  # LoRA r=8 on query/value of 6 layers + a 7-tag head, not a 22.7M copy
    shared.remove(ner_key)
    assert shared.adapter_parameters(ner_key) == 0
    assert list(shared.heads) == [cls_key]
    np.testing.assert_allclose(
        cls_shared.probabilities(texts), Predictor(cls_folder, 32).probabilities(texts), atol=1e-4
    )


def test_server_serves_adapters_on_one_base_and_hot_swaps_them(world: World) -> None:
    registry.promote("ner-lora:1", "production")
    registry.promote("tiny-lora:1", "production")
    key = access.create("admin", ["*"]).key
    headers = {"Authorization": f"Bearer {key}"}
    app = create_app(ServeConfig(poll_seconds=3600))  # every production model
    with TestClient(app) as client:
        pool = app.state.modelyard.pool
        served = {m["name"]: m for m in client.get("/v1/models", headers=headers).json()}
        assert {served["ner-lora"]["runtime"], served["tiny-lora"]["runtime"]} == {"torch-lora-shared"}
        assert list(pool.bases) == ["minilm-l6"] and len(pool.bases["minilm-l6"].heads) == 2

        ner = client.post("/v1/models/ner-lora/predict", json={"text": "Laura met Peter at Globex."}, headers=headers)
        assert ner.status_code == 200, ner.text
        prediction = ner.json()["predictions"][0]
        assert "labels" not in prediction and isinstance(prediction["entities"], list)
        cls = client.post("/v1/models/tiny-lora/predict", json={"text": "i lost my card"}, headers=headers)
        assert cls.json()["predictions"][0]["labels"][0]["label"] in {
            "lost_or_stolen_card",
            "card_arrival",
            "exchange_rate",
        }

        # A newly promoted adapter is served without a restart; the one it replaces is detached.
        training.run(parse_recipe(ner_recipe_dict(world.conll, name="ner-lora", **LORA | {"seed": 8})))
        registry.promote("ner-lora:2", "production")
        assert client.post("/v1/admin/reload", headers=headers).json()["ner-lora"] == "ner-lora:2"
        assert len(pool.bases["minilm-l6"].heads) == 2
        again = client.post("/v1/models/ner-lora/predict", json={"text": "Laura met Peter."}, headers=headers)
        assert again.json()["version"] == 2

        # Retiring every adapter drops the shared base too.
        registry.promote("ner-lora:2", "archived")
        registry.promote("tiny-lora:1", "archived")
        client.post("/v1/admin/reload", headers=headers)
        assert pool.served == {} and pool.bases == {}


def test_case_features_let_an_uncased_base_see_letter_case(world: World) -> None:
    capitalised = ["Anna", "Schmidt", "works", "for", "Siemens", "."]
    sentences = [capitalised, [word.lower() for word in capitalised]]
    plain = TokenPredictor(registry.get("ner:1").path, 32)
    capital, lower = plain.word_probabilities(sentences)
    np.testing.assert_array_equal(capital, lower)  # the uncased tokenizer cannot tell them apart

    for name in ("ner-shapes", "ner-shapes-lora"):
        folder = registry.get(f"{name}:1").path
        shaped = TokenPredictor(folder, 32)
        assert shaped.case_features
        capital, lower = shaped.word_probabilities(sentences)
        assert np.abs(capital - lower).max() > 1e-3, name
    config = json.loads((registry.get("ner-shapes:1").path / "config.json").read_text())
    assert config["type_vocab_size"] == 6


def test_case_feature_model_is_explained_on_what_it_predicts(world: World) -> None:
    """The explainer feeds the word shapes too, and reads as prediction does (document consistency, decoding):
    same entities, same scores."""
    from modelyard.explain import Explainer

    text = "Anna Schmidt works for Siemens in Tokyo . Siemens pays Anna ."
    explainer = Explainer.load(registry.get("ner-shapes:1").path, 48)
    assert explainer.case_features and explainer.document_consistency == 0.75
    [entities] = TokenPredictor(registry.get("ner-shapes:1").path, 48).entities([text])
    assert entities, "the tiny model finds entities in its own training pattern"
    explained = explainer.explain(text, n_steps=4).attributions
    assert [(a.span, a.label) for a in explained] == [((e.start, e.end), e.label) for e in entities]
    for attribution, entity in zip(explained, entities, strict=True):
        assert attribution.probability == pytest.approx(entity.score, abs=1e-4)


def test_document_context_is_read_in_training_and_evaluation(world: World) -> None:
    examples = read_file(world.conll, DataSpec(path=world.conll))
    assert {e.document for e in examples} == {"1"}
    sentences = [["Anna", "Schmidt", "works", "for", "Siemens", "."], ["She", "lives", "in", "Tokyo", "."]]
    for name in ("ner-shapes", "ner-shapes-lora"):
        folder = registry.get(f"{name}:1").path
        predictor = TokenPredictor(folder, 48)
        assert predictor.document_context == 6
        alone = predictor.word_probabilities(sentences)
        together = predictor.word_probabilities(sentences, ["d", "d"])
        assert [m.shape for m in together] == [m.shape for m in alone] and all(m.any(axis=1).all() for m in together)
        assert max(np.abs(a - b).max() for a, b in zip(alone, together, strict=True)) > 1e-4, name
        # Each sentence is evaluated among its neighbours, as it was trained.
        assert evaluate.run(f"{name}:1", world.conll).metrics["f1"] > 0.5


def test_document_consistency_pulls_a_words_mentions_together_when_reading(world: World) -> None:
    from modelyard.tasks.token_classification.consistency import harmonise

    sentences = [["Anna", "Schmidt", "works", "for", "Siemens", "."], ["Siemens", "pays", "Anna", "."]]
    predictor = TokenPredictor(registry.get("ner-shapes:1").path, 48)
    assert predictor.document_consistency == 0.75
    labels = predictor.label_map.labels
    raw = predictor.word_probabilities(sentences, ["d", "d"])
    read = predictor.text_word_probabilities(sentences, ["d", "d"])
    for got, expected in zip(read, harmonise(sentences, ["d", "d"], raw, labels, 0.75), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    organisation = [labels.index("B-ORG"), labels.index("I-ORG")]
    gap_raw = abs(raw[0][4, organisation].sum() - raw[1][0, organisation].sum())
    gap_read = abs(read[0][4, organisation].sum() - read[1][0, organisation].sum())
    assert gap_read == pytest.approx(0.25 * gap_raw, abs=1e-5)
    # Tags and entities are decoded from what was read; apart, each sentence is its own document.
    assert predictor.word_tags(sentences, ["d", "d"]) == [[labels[i] for i in decode_tags(m, labels)] for m in read]
    apart = predictor.text_word_probabilities(sentences)
    np.testing.assert_allclose(apart[1], predictor.word_probabilities(sentences)[1], atol=1e-6)
    # A model without the setting reads each mention on its own.
    plain = TokenPredictor(registry.get("ner-shapes-lora:1").path, 48)
    assert plain.document_consistency == 0.0
    for got, expected in zip(
        plain.text_word_probabilities(sentences, ["d", "d"]),
        plain.word_probabilities(sentences, ["d", "d"]),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)


def test_training_scores_its_held_out_split_as_evaluate_reads_it(world: World) -> None:
    """The figures training registers are read from the Trainer's rows in dataset order (document consistency
    looks up each row's words and document): the same as the predictor's reading of the same sentences."""
    from modelyard.data.versions import info_of, load_splits

    for name in ("ner-shapes", "ner-shapes-lora"):
        version = registry.get(f"{name}:1")
        test = load_splits(info_of(version.dataset_hash))["test"]
        words = [word_strings(e) for e in test]
        tags = TokenPredictor(version.path, 48).word_tags(words, [e.document for e in test])
        read = compute_metrics([e.tags for e in test], tags)
        assert version.metrics["n"] == len(test) >= 10
        for key in ("f1", "precision", "recall", "token_accuracy"):
            assert version.metrics[key] == pytest.approx(read[key], abs=1e-9), (name, key)


def test_evaluate_tries_another_document_consistency_without_retraining(world: World, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modelyard.cli import app

    own = evaluate.run("ner-shapes:1", world.conll, output=tmp_path / "own")
    off = evaluate.run("ner-shapes:1", world.conll, output=tmp_path / "off", document_consistency=0.0)
    assert "document_consistency" not in json.loads((own.folder / "report.json").read_text())
    assert json.loads((off.folder / "report.json").read_text())["document_consistency"] == 0.0
    examples = read_file(world.conll, DataSpec(path=world.conll))
    plain = TokenPredictor(registry.get("ner-shapes:1").path, 48)
    plain.document_consistency = 0.0
    gold = [e.tags for e in examples]
    expected = compute_metrics(
        gold, plain.word_tags([word_strings(e) for e in examples], [e.document for e in examples])
    )
    assert off.metrics["f1"] == expected["f1"]
    assert (
        TokenPredictor(registry.get("ner-shapes:1").path, 48).document_consistency == 0.75
    )  # the version keeps its own

    runner = CliRunner()
    for model, weight, message in (
        ("tiny-lora", "0.5", "applies to NER models"),
        ("ner-shapes", "1.5", "between 0 and 1"),
    ):
        result = runner.invoke(app, ["evaluate", model, "--data", str(world.conll), "--document-consistency", weight])
        assert result.exit_code != 0 and message in result.output, result.output


def test_case_feature_adapter_brings_its_own_shape_table_to_the_shared_base(world: World) -> None:
    from safetensors.torch import load_file

    shaped_folder, plain_folder = registry.get("ner-shapes-lora:1").path, registry.get("ner-lora:1").path
    saved = load_file(str(shaped_folder / adapters.ADAPTER_WEIGHTS))
    assert [name for name in saved if "token_type_embeddings" in name]  # the trained shape rows travel with it
    shared = adapters.SharedBase("minilm-l6")
    shaped_key, plain_key = shared.add(shaped_folder), shared.add(plain_folder)
    sentences = [["Laura", "met", "PETER", "at", "Globex", "in", "1999", "."]]
    for key, folder in ((shaped_key, shaped_folder), (plain_key, plain_folder), (shaped_key, shaped_folder)):
        on_shared = TokenPredictor(folder, 32, forward=lambda x, key=key: shared.forward(key, x))
        merged = TokenPredictor(folder, 32)
        np.testing.assert_allclose(
            on_shared.word_probabilities(sentences)[0], merged.word_probabilities(sentences)[0], atol=1e-4
        )


def test_case_feature_model_exports_to_onnx_with_its_shapes(world: World) -> None:
    result = export.run("ner-shapes:1", quantize="none")
    assert result.usable, result.failures
    assert "token_type_ids" in result.record["inputs"]
    from modelyard.runtime import load_exported

    folder = registry.get("ner-shapes:1").path
    sentences = [["Laura", "met", "PETER", "at", "Globex", "."], ["laura", "met", "peter", "at", "globex", "."]]
    for a, b in zip(
        load_exported(folder).word_probabilities(sentences),
        TokenPredictor(folder, 32).word_probabilities(sentences),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_ner_export_to_onnx_is_served_with_the_same_spans(world: World) -> None:
    result = export.run("ner:1", quantize="int8")
    assert result.record["task"] == "token-classification"
    parity = result.parity["model.int8.onnx"]
    assert parity.n > 50  # words of the stored validation split, not sentences
    from modelyard.runtime import load_exported

    exported = load_exported(registry.get("ner:1").path)
    torch_predictor = TokenPredictor(registry.get("ner:1").path, 32)
    text = ["Kenji Sato works for Initech in Madrid ."]
    assert result.usable, result.failures
    assert [(e.label, e.text) for e in exported.entities(text)[0]] == [
        (e.label, e.text) for e in torch_predictor.entities(text)[0]
    ]
