"""Explanations: one score per word with offsets, determinism, completeness, NER, the API and the budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from fastapi.testclient import TestClient
from tests.conftest import module_home, ner_recipe_dict, ner_sentences, recipe_dict, write_conll
from typer.testing import CliRunner

from modelyard import access, audit, predict, registry
from modelyard import explain as explaining
from modelyard import train as training
from modelyard.cli import app as cli_app
from modelyard.config import parse_recipe
from modelyard.errors import DataError
from modelyard.explain import Explainer
from modelyard.serve import ServeConfig, create_app
from modelyard.serve.routes import explain as explain_route
from modelyard.tasks.token_classification.tags import split_words

TEXT = "My new card still hasn't arrived, where is it?"
NER_TEXT = "Anna Schmidt works for Siemens in New York."


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    classifier: Explainer
    tagger: Explainer


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("explain")
    with module_home(root) as data:
        training.run(parse_recipe(recipe_dict(data)))
        conll = write_conll(root / "ner.conll", ner_sentences(80))
        training.run(parse_recipe(ner_recipe_dict(conll)))
        registry.promote("tiny:1", "production")
        registry.promote("ner:1", "production")
        keys = {
            "client": access.create("client", ["support"]).key,
            "other": access.create("client", ["billing"]).key,
        }
        app = create_app(ServeConfig(poll_seconds=3600))
        if not any(getattr(route, "path", "") == "/v1/models/{name}/explain" for route in app.routes):
            app.include_router(explain_route.router)  # until app.py registers the router itself
        classifier = Explainer.load(registry.get("tiny:1").path, 32)
        tagger = Explainer.load(registry.get("ner:1").path, 32)
        with TestClient(app) as client:
            yield World(client, keys, classifier, tagger)


def test_one_score_per_word_with_offsets(world: World) -> None:
    result = world.classifier.explain(TEXT)
    [attribution] = result.attributions
    assert [(w.start, w.end) for w in attribution.words] == split_words(TEXT)
    assert all(TEXT[w.start : w.end] == w.text for w in attribution.words)
    for token in attribution.tokens:  # every subword lies inside one word
        assert any(w.start <= token.start < token.end <= w.end for w in attribution.words)
    assert sum(w.score for w in attribution.words) == pytest.approx(sum(t.score for t in attribution.tokens), abs=1e-4)
    _, [[best, *_]] = predict.predict_texts("tiny:1", [TEXT])
    assert attribution.label == best.label
    assert attribution.probability == pytest.approx(best.probability, abs=1e-4)
    assert result.method == "integrated-gradients" and result.n_steps == result.requested_steps == 32
    assert result.budget_ms == explaining.DEFAULT_BUDGET_MS and not result.truncated


def test_same_input_same_attributions(world: World) -> None:
    first = world.classifier.explain(TEXT, n_steps=16)
    second = world.classifier.explain(TEXT, n_steps=16)
    assert first.attributions == second.attributions


def test_requested_label_and_completeness(world: World) -> None:
    predicted = world.classifier.explain(TEXT).attributions[0]
    other = next(label for label in world.classifier.label_map.labels if label != predicted.label)
    [toward] = world.classifier.explain(TEXT, other).attributions
    assert toward.label == other and toward.probability < predicted.probability
    assert [w.score for w in toward.words] != [w.score for w in predicted.words]
    with pytest.raises(DataError, match="not one the model knows"):
        world.classifier.explain(TEXT, "no_such_label")

    # Completeness: the word scores add up to logit(text) − logit(baseline: [PAD] between [CLS] and [SEP]).
    model, tokenizer = world.classifier.model, world.classifier.tokenizer
    encoded = tokenizer(TEXT, return_tensors="pt", truncation=True, max_length=32)
    ids = encoded["input_ids"]
    baseline = torch.full_like(ids, tokenizer.pad_token_id)
    baseline[0, 0], baseline[0, -1] = ids[0, 0], ids[0, -1]
    index = world.classifier.label_map.label2id[other]
    with torch.no_grad():
        difference = float(
            model(**encoded).logits[0, index] - model(**(encoded | {"input_ids": baseline})).logits[0, index]
        )
    total = sum(w.score for w in toward.words)
    assert abs(toward.delta) < 0.01 * abs(difference) + 1e-3
    assert total == pytest.approx(difference, abs=0.01 * abs(difference) + 2e-3)


def test_ner_explains_each_predicted_entity_and_a_requested_span(world: World) -> None:
    result = world.tagger.explain(NER_TEXT, n_steps=16)
    _, [entities] = predict.predict_texts("ner:1", [NER_TEXT])
    assert [(a.span, a.label) for a in result.attributions] == [((e.start, e.end), e.label) for e in entities]
    assert ("Anna Schmidt", "PER") in {(NER_TEXT[e.start : e.end], e.label) for e in entities}
    for attribution in result.attributions:
        assert [(w.start, w.end) for w in attribution.words] == split_words(NER_TEXT)
        assert 0 < attribution.probability <= 1
    # Toward a chosen type for a chosen span; the type is checked against the model's tags.
    [toward] = world.tagger.explain(NER_TEXT, "LOC", span=(0, 12), n_steps=16).attributions
    assert toward.label == "LOC" and toward.span == (0, 12)
    with pytest.raises(DataError, match="not an entity type"):
        world.tagger.explain(NER_TEXT, "COLOUR", span=(0, 12))
    with pytest.raises(DataError, match="give the entity's character span"):
        world.tagger.explain(NER_TEXT, "LOC")


def test_budget_cuts_steps_and_says_so(world: World) -> None:
    tight = world.classifier.explain(TEXT, budget_ms=1)
    assert tight.n_steps == explaining.MIN_STEPS and tight.requested_steps == explaining.DEFAULT_STEPS
    assert tight.budget_ms == 1 and not tight.within_budget
    roomy = world.classifier.explain(TEXT, n_steps=8, budget_ms=60_000)
    assert roomy.n_steps == 8 and roomy.within_budget


EXPLAIN = "/v1/models/{}/explain"


@pytest.mark.parametrize(
    ("who", "body", "code"),
    [
        (None, {"text": TEXT}, 401),
        ("other", {"text": TEXT}, 403),
        ("client", {"text": TEXT, "label": "no_such_label"}, 422),
        ("client", {"text": "   "}, 422),
        ("client", {"text": TEXT, "n_steps": 0}, 422),
        ("client", {"text": TEXT, "start": 3}, 422),
        ("client", {"text": TEXT, "start": 0, "end": 2}, 422),  # a span on a classifier
    ],
)
def test_api_refusals(world: World, who: str | None, body: dict[str, object], code: int) -> None:
    headers = bearer(world.keys[who]) if who else {}
    response = world.client.post(EXPLAIN.format("tiny"), json=body, headers=headers)
    assert response.status_code == code, response.text


def test_api_explains_text_and_entities_and_audits(world: World) -> None:
    headers = bearer(world.keys["client"])
    body = world.client.post(EXPLAIN.format("tiny"), json={"text": "secret-4711 " + TEXT}, headers=headers).json()
    assert body["model"] == "tiny" and body["task"] == "text-classification" and body["n_steps"] == 32
    [explained] = body["explanations"]
    assert len(explained["words"]) == len(split_words("secret-4711 " + TEXT)) and "start" not in explained
    assert {"elapsed_ms", "estimated_ms", "budget_ms", "within_budget", "requested_steps"} <= set(body)

    cut = world.client.post(EXPLAIN.format("tiny"), json={"text": TEXT, "budget_ms": 1}, headers=headers).json()
    assert cut["n_steps"] == explaining.MIN_STEPS and cut["budget_ms"] == 1 and cut["within_budget"] is False

    ner = world.client.post(EXPLAIN.format("ner"), json={"text": NER_TEXT, "n_steps": 8}, headers=headers).json()
    assert ner["task"] == "token-classification"
    assert all(NER_TEXT[e["start"] : e["end"]] for e in ner["explanations"]) and ner["explanations"]

    deadline = time.time() + 5
    while time.time() < deadline:
        rows = audit.entries(200)
        if any(r.action == "explain" and r.resource == "model:ner:1" for r in rows):
            break
        time.sleep(0.2)
    assert any(r.action == "explain" and r.resource == "model:tiny:1" and r.outcome == "ok" for r in rows)
    assert all("secret-4711" not in f"{r.action}{r.resource}{r.outcome}" for r in rows)


def test_cli_prints_a_table_of_words(world: World) -> None:
    result = CliRunner().invoke(cli_app, ["explain", "tiny", TEXT, "--steps", "8"])
    assert result.exit_code == 0, result.output
    assert "integrated-gradients, 8 steps" in result.output and "arrived" in result.output
    refused = CliRunner().invoke(cli_app, ["explain", "tiny", TEXT, "--label", "nope"])
    assert refused.exit_code == 3 and "not one the model knows" in refused.output
