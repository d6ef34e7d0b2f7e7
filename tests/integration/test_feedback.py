"""Feedback on served predictions: lifecycle, validation, conflicts, and what is stored of the input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.conftest import module_home, recipe_dict
from typer.testing import CliRunner

from modelyard import access, feedback, registry, store
from modelyard import train as training
from modelyard.cli import app
from modelyard.config import parse_recipe
from modelyard.errors import DataError, NotFound
from modelyard.serve import ServeConfig, create_app


@dataclass
class Served:
    client: TestClient
    home: Path
    client_key: dict[str, str]
    developer_key: dict[str, str]

    def predict(self, text: str) -> str:
        response = self.client.post("/v1/models/tiny/predict", json={"text": text}, headers=self.client_key)
        assert response.status_code == 200, response.text
        return str(response.json()["predictions"][0]["id"])

    def give(self, **body: object) -> object:
        return self.client.post("/v1/feedback", json=body, headers=self.client_key)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("feedback")
    with module_home(root) as data:
        training.run(parse_recipe(recipe_dict(data, epochs=1, max_steps=4)))
        registry.promote("tiny:1", "production")
        client_key = _bearer(access.create("client", ["support"]).key)
        developer_key = _bearer(access.create("developer", ["support"]).key)
        with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
            yield Served(client, root / "home", client_key, developer_key)


def test_feedback_lifecycle(served: Served) -> None:
    prediction = served.predict("my card never arrived, write to ann.lee@example.org")
    response = served.give(prediction_id=prediction, correct_label="card_arrival", comment="I am Ann, 555-201-7788")
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    created = response.json()  # type: ignore[attr-defined]
    assert created["status"] == "pending" and created["conflict"] is False
    assert "555-201-7788" not in created["comment"]  # the comment was scrubbed before it was stored

    listed = served.client.get("/v1/feedback", params={"status": "pending"}, headers=served.developer_key)
    assert listed.status_code == 200 and created["id"] in [row["id"] for row in listed.json()]
    assert served.client.get("/v1/feedback", headers=served.client_key).status_code == 403
    accepted = served.client.post(f"/v1/feedback/{created['id']}/accept", headers=served.developer_key)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"

    # The stored input keeps its length (entity offsets stay valid) but not the address, and is encrypted.
    stored = feedback.stored_input(prediction)
    assert len(stored) == len("my card never arrived, write to ann.lee@example.org")
    assert "ann.lee" not in stored and stored.startswith("my card never arrived")
    database = (served.home / "modelyard.db").read_bytes() if (served.home / "modelyard.db").exists() else b""
    assert b"my card never arrived" not in database


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"correct_label": "no_such_intent"}, 422, "is not a label of model 'tiny'"),
        ({}, 422, "exactly one of correct_label"),
        ({"correct_label": "card_arrival", "correct_entities": []}, 422, "exactly one of correct_label"),
        ({"prediction_id": "0" * 32, "correct_label": "card_arrival"}, 404, "no prediction"),
    ],
)
def test_bad_feedback(served: Served, body: dict[str, object], status: int, message: str) -> None:
    prediction = served.predict("what is the exchange rate")
    response = served.give(**({"prediction_id": prediction} | body))
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert message in response.json()["error"]["message"]  # type: ignore[attr-defined]


def test_conflicting_corrections_are_flagged_not_merged(served: Served) -> None:
    text = "please freeze it now"
    first = served.give(prediction_id=served.predict(text), correct_label="lost_or_stolen_card").json()  # type: ignore[attr-defined]
    second = served.give(prediction_id=served.predict(text), correct_label="card_arrival").json()  # type: ignore[attr-defined]
    assert second["conflict"] is True
    rows = {row.id: row for row in feedback.list_feedback("tiny")}
    assert rows[first["id"]].conflict and rows[second["id"]].conflict

    accept = f"/v1/feedback/{first['id']}/accept"
    assert served.client.post(accept, headers=served.developer_key).status_code == 200
    refused = served.client.post(f"/v1/feedback/{second['id']}/accept", headers=served.developer_key)
    assert refused.status_code == 409 and "contradicts accepted feedback" in refused.json()["error"]["message"]
    rejected = served.client.post(f"/v1/feedback/{second['id']}/reject", headers=served.developer_key)
    assert rejected.json()["status"] == "rejected"
    assert not {row.id: row for row in feedback.list_feedback("tiny")}[first["id"]].conflict


def test_old_predictions_are_pruned_unless_feedback_needs_them(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    corrected, forgotten, recent = (served.predict(t) for t in ("card gone", "hello", "rate today?"))
    served.give(prediction_id=corrected, correct_label="card_arrival")
    served.client.app.state.modelyard.predictions.flush()  # type: ignore[attr-defined]
    with store.session() as db:
        long_ago = datetime.now(UTC) - timedelta(days=120)
        db.execute(
            update(store.PredictionRecord)
            .where(store.PredictionRecord.id.in_([corrected, forgotten]))
            .values(created_at=long_ago)
        )

    monkeypatch.setenv("MODELYARD_PREDICTION_RETENTION_DAYS", "90")
    result = CliRunner().invoke(app, ["feedback", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 logged predictions older than 90 days" in result.output
    with pytest.raises(NotFound):
        feedback.stored_input(forgotten)
    assert feedback.stored_input(corrected) == "card gone"  # feedback refers to it: kept
    assert feedback.stored_input(recent) == "rate today?"
    assert feedback.prune_predictions(timedelta(days=90)) == 0

    with pytest.raises(DataError, match="must be positive"):
        feedback.prune_predictions(timedelta(0))
    monkeypatch.setenv("MODELYARD_PREDICTION_RETENTION_DAYS", "ninety")
    refused = CliRunner().invoke(app, ["feedback", "prune"])
    assert refused.exit_code != 0 and "whole number of days" in refused.output
