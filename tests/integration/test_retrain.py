"""Feedback → retrain → gated promotion → rollback, on the real packaged model and tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import recipe_dict

from modelyard import access, feedback, registry
from modelyard import train as training
from modelyard.config import GateSpec, parse_recipe
from modelyard.data.versions import info_of
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


def test_retrain_promotes_through_the_gate_and_rolls_back(home: Path, tiny_csv: Path) -> None:
    recipe = recipe_dict(tiny_csv, epochs=1, max_steps=4) | {"gate": {"max_drop": 1.0, "min_fixed": 0.0}}
    training.run(parse_recipe(recipe))
    registry.promote("tiny:1", "production")
    with pytest.raises(DataError, match="no accepted feedback for tiny"):
        retrain("tiny")

    key = {"Authorization": f"Bearer {access.create('client', ['support']).key}"}
    with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
        for text, label in CORRECTIONS.items():
            predicted = client.post("/v1/models/tiny/predict", json={"text": text}, headers=key).json()
            given = client.post(
                "/v1/feedback",
                json={"prediction_id": predicted["predictions"][0]["id"], "correct_label": label},
                headers=key,
            )
            assert given.status_code == 201, given.text
            feedback.decide(given.json()["id"], "accepted")

    decision = retrain("tiny")
    assert decision.promoted and decision.candidate.version == 2
    assert registry.get("tiny").version == 2 and registry.get("tiny:1").stage == "archived"
    assert decision.scores["feedback_holdout"] == 1  # 20% of 5 corrections checked, 4 learned
    lineage = info_of(decision.candidate.dataset_hash).report["lineage"]
    assert len(lineage["feedback_ids"]) == 4 and len(lineage["feedback_holdout_ids"]) == 1
    (stored,) = decisions("tiny")
    assert stored["promoted"] and stored["candidate"] == 2 and stored["baseline"] == 1
    assert "frozen holdout accuracy" in stored["reasons"][0]

    restored = registry.rollback("tiny")
    assert restored.version == 1 and registry.get("tiny").version == 1
    assert registry.get("tiny:2").stage == "archived"


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
