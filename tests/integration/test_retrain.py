"""Feedback → retrain → gated promotion → rollback, on the real packaged model and tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import ner_recipe_dict, ner_sentences, recipe_dict, write_conll

from modelyard import access, feedback, registry
from modelyard import train as training
from modelyard.config import GateSpec, parse_recipe
from modelyard.data.versions import info_of, load_splits
from modelyard.errors import DataError, NotFound
from modelyard.retrain import _gate, decisions, retrain
from modelyard.serve import ServeConfig, create_app

CORRECTIONS = {
    "my new card is still not here": "card_arrival",
    "the rate you gave me was awful": "exchange_rate",
    "somebody stole my purse and card": "lost_or_stolen_card",
    "card never showed up in the post": "card_arrival",
    "how many euros for a pound": "exchange_rate",
}


def _accept_corrections(model: str, corrections: dict[str, dict[str, object]]) -> None:
    """Predict each text through the API, send its correction as feedback, and accept it."""
    key = {"Authorization": f"Bearer {access.create('client', ['support']).key}"}
    with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
        for text, correction in corrections.items():
            predicted = client.post(f"/v1/models/{model}/predict", json={"text": text}, headers=key).json()
            given = client.post(
                "/v1/feedback", json={"prediction_id": predicted["predictions"][0]["id"]} | correction, headers=key
            )
            assert given.status_code == 201, given.text
            feedback.decide(given.json()["id"], "accepted")


def test_retrain_promotes_through_the_gate_and_rolls_back(home: Path, tiny_csv: Path) -> None:
    recipe = recipe_dict(tiny_csv, epochs=1, max_steps=4) | {"gate": {"max_drop": 1.0, "min_fixed": 0.0}}
    training.run(parse_recipe(recipe))
    registry.promote("tiny:1", "production")
    with pytest.raises(DataError, match="no accepted feedback for tiny"):
        retrain("tiny")

    _accept_corrections("tiny", {text: {"correct_label": label} for text, label in CORRECTIONS.items()})

    decision = retrain("tiny")
    assert decision.promoted and decision.candidate.version == 2
    assert registry.get("tiny").version == 2 and registry.get("tiny:1").stage == "archived"
    assert decision.scores["feedback_holdout"] == 1  # 20% of 5 corrections checked, 4 learned
    lineage = info_of(decision.candidate.dataset_hash).report["lineage"]
    assert len(lineage["feedback_ids"]) == 4 and len(lineage["feedback_holdout_ids"]) == 1
    (stored,) = decisions("tiny")
    assert stored["promoted"] and stored["candidate"] == 2 and stored["baseline"] == 1
    assert "frozen holdout accuracy" in stored["reasons"][0] and "95% interval of the change" in stored["reasons"][0]
    change = stored["scores"]["difference"]
    assert change["resampled"] == "examples"
    observed = stored["scores"]["candidate"]["frozen"] - stored["scores"]["baseline"]["frozen"]
    assert (
        change["observed"] == pytest.approx(observed, abs=2e-6)
        and change["low"] <= change["observed"] <= change["high"]
    )

    restored = registry.rollback("tiny")
    assert restored.version == 1 and registry.get("tiny").version == 1
    assert registry.get("tiny:2").stage == "archived"


NER_CORRECTIONS = {
    "Laura works for Umbrella in Oslo .": [(0, 5, "PER"), (16, 24, "ORG"), (28, 32, "LOC")],
    "Umbrella opened an office in Lima .": [(0, 8, "ORG"), (29, 33, "LOC")],
    "Yesterday Kenji flew to Oslo .": [(10, 15, "PER"), (24, 28, "LOC")],
}


def test_ner_retrain_learns_span_corrections_and_reads_the_holdout_in_its_documents(home: Path, tmp_path: Path) -> None:
    from modelyard.tasks.token_classification.predict import TokenPredictor

    conll = write_conll(tmp_path / "ner.conll", ner_sentences(60))
    recipe = ner_recipe_dict(conll, max_steps=6) | {
        "model": {"base": "minilm-l6", "max_length": 48, "document_context": 6},
        "gate": {"max_drop": 1.0, "min_fixed": 0.0},
    }
    baseline = training.run(parse_recipe(recipe)).version
    assert baseline is not None
    registry.promote("ner:1", "production")
    corrections = {
        text: {"correct_entities": [{"start": s, "end": e, "label": label} for s, e, label in spans]}
        for text, spans in NER_CORRECTIONS.items()
    }
    _accept_corrections("ner", corrections)

    decision = retrain("ner")
    assert decision.candidate.version == 2 and decision.promoted
    assert decision.scores["metric"] == "f1" and decision.scores["feedback_holdout"] == 1
    learned = info_of(decision.candidate.dataset_hash)
    assert len(learned.report["lineage"]["feedback_ids"]) == 2
    # The frozen holdout (the test split, one document here) is read with its documents, as evaluate does.
    frozen = load_splits(info_of(baseline.dataset_hash))["test"]
    assert {e.document for e in frozen} == {"1"}
    read = TokenPredictor(baseline.path, 48).entities([e.text for e in frozen], [e.document for e in frozen])
    found = [{(x.start, x.end, x.label) for x in entities} for entities in read]
    gold = [{(s.start, s.end, s.label) for s in e.entities} for e in frozen]
    hits = sum(len(f & g) for f, g in zip(found, gold, strict=True))
    expected = 2 * hits / (sum(map(len, found)) + sum(map(len, gold)))
    assert decision.scores["baseline"]["frozen"] == pytest.approx(expected, abs=1e-6)
    change = decision.scores["difference"]  # entity F1, candidate minus production, with its interval
    assert change["resampled"] == "sentences"  # one document: too few to resample by document
    observed = decision.scores["candidate"]["frozen"] - decision.scores["baseline"]["frozen"]
    assert change["observed"] == pytest.approx(observed, abs=2e-6) and change["low"] <= change["high"]


def test_ner_holdout_is_read_with_its_documents() -> None:
    """``_predicted`` hands the predictor each sentence's document (a recording stand-in for the predictor)."""
    from modelyard.retrain import _predicted
    from modelyard.tasks.token_classification.formats import TokenExample

    class Recording:
        documents: list[str | None] | None = None

        def entities(self, texts: list[str], documents: list[str | None] | None = None) -> list[list[object]]:
            self.documents = documents
            return [[] for _ in texts]

    examples = [TokenExample("A b", ((0, 1), (2, 3)), (), document=d) for d in ("1", "1", None)]
    recording = Recording()
    assert _predicted("token-classification", recording, examples) == [set(), set(), set()]
    assert recording.documents == ["1", "1", None]


def test_rollback_without_an_earlier_production_version(home: Path, tiny_csv: Path) -> None:
    training.run(parse_recipe(recipe_dict(tiny_csv, epochs=1, max_steps=2)))
    registry.promote("tiny:1", "production")
    with pytest.raises(NotFound, match="nothing to roll back to"):
        registry.rollback("tiny")


def _scores(before: float, after: float, baseline_right: list[bool], candidate_right: list[bool]) -> dict[str, object]:
    return {
        "metric": "accuracy",
        "frozen_holdout": 200,
        "baseline": {"frozen": before, "right_on_feedback": baseline_right},
        "candidate": {"frozen": after, "right_on_feedback": candidate_right},
    }


@pytest.mark.parametrize(
    ("scores", "passed", "refused_on"),
    [
        (_scores(0.90, 0.91, [False, False, True], [True, True, True]), True, None),
        (_scores(0.90, 0.895, [False, False], [True, False]), True, None),  # drop within 0.01, fixes 50%
        (_scores(0.90, 0.85, [False, False], [True, True]), False, "frozen holdout"),  # a worse model
        (_scores(0.90, 0.90, [False, False, False], [False, False, True]), False, "held-out feedback"),
        (_scores(0.90, 0.90, [True, True], [True, False]), True, None),  # production made no mistake: not checked
    ],
)
def test_gate(scores: dict[str, object], passed: bool, refused_on: str | None) -> None:
    result, reasons = _gate(GateSpec(), scores)
    assert result is passed
    assert "200 examples, one is 0.0050" in reasons[0]
    refused = [r for r in reasons if r.endswith("REFUSED")]
    assert (refused_on is None and not refused) or (refused and refused[0].startswith(refused_on))


@pytest.mark.parametrize(
    ("low", "confidence", "passed"),
    [(-0.008, None, True), (-0.008, 0.95, True), (-0.03, None, True), (-0.03, 0.95, False)],
)
def test_gate_with_confidence_holds_the_intervals_low_end_to_max_drop(
    low: float, confidence: float | None, passed: bool
) -> None:
    """A 0.005 drop passes max_drop 0.01; with confidence set, so must the drop at the interval's low end."""
    scores = _scores(0.90, 0.895, [False], [True]) | {
        "difference": {"observed": -0.005, "low": low, "high": 0.02, "confidence": 0.95, "resamples": 2000}
    }
    result, reasons = _gate(GateSpec(confidence=confidence), scores)
    assert result is passed
    assert f"95% interval of the change [{low:+.4f}, +0.0200]" in reasons[0]
    assert reasons[0].endswith("REFUSED") is not passed
    # With confidence, the observed drop is still held to max_drop, whatever the interval says.
    worse = _scores(0.90, 0.88, [False], [True]) | {"difference": scores["difference"] | {"observed": -0.02}}
    assert _gate(GateSpec(confidence=confidence), worse)[0] is False
