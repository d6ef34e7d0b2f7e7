"""The REST server in-process: auth matrix, predictions, limits, 503 on a full queue, hot swap, bad versions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import INTENTS, module_home, recipe_dict

from modelyard import access, audit, registry
from modelyard import train as training
from modelyard.config import parse_recipe
from modelyard.serve import ServeConfig, create_app


@dataclass
class Server:
    client: TestClient
    data: Path
    keys: dict[str, str]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    with module_home(root) as data:
        training.run(parse_recipe(recipe_dict(data, epochs=3)))
        registry.promote("tiny:1", "production")
        keys = {
            "admin": access.create("admin", ["*"]).key,
            "developer": access.create("developer", ["support"]).key,
            "client": access.create("client", ["support"]).key,
            "other": access.create("client", ["billing"]).key,
        }
        revoked = access.create("client", ["support"])
        access.revoke(revoked.principal.key_id)
        keys["revoked"] = revoked.key
        with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
            yield Server(client, data, keys)


PREDICT = "/v1/models/tiny/predict"


@pytest.mark.parametrize(
    ("who", "method", "path", "expected"),
    [
        (None, "post", PREDICT, 401),
        ("myd_000000000000_wrong", "post", PREDICT, 401),
        ("not-a-key", "post", PREDICT, 401),
        ("revoked", "post", PREDICT, 401),
        ("other", "post", PREDICT, 403),
        ("other", "get", "/v1/models/tiny", 403),
        ("client", "get", "/v1/admin/audit", 403),
        ("client", "post", "/v1/admin/reload", 403),
        ("developer", "get", "/v1/admin/audit", 403),
        ("client", "post", PREDICT, 200),
        ("developer", "post", PREDICT, 200),
        ("admin", "post", PREDICT, 200),
        ("admin", "get", "/v1/admin/audit", 200),
        ("client", "get", "/v1/models/nothere", 404),
    ],
)
def test_auth_matrix(server: Server, who: str | None, method: str, path: str, expected: int) -> None:
    key = server.keys.get(who, who) if who else None
    headers = bearer(key) if key else {}
    kwargs = {"json": {"text": "where is my card"}} if method == "post" and path == PREDICT else {}
    response = getattr(server.client, method)(path, headers=headers, **kwargs)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert set(response.json()["error"]) == {"type", "message"}
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_predict_one_and_many(server: Server) -> None:
    headers = bearer(server.keys["client"])
    one = server.client.post(PREDICT, json={"text": "my card was stolen", "top_k": 2}, headers=headers).json()
    assert one["model"] == "tiny" and one["version"] == 1 and one["runtime"] in ("torch", "onnx-int8")
    [prediction] = one["predictions"]
    assert len(prediction["labels"]) == 2 and prediction["labels"][0]["label"] == "lost_or_stolen_card"
    assert prediction["labels"][0]["probability"] >= prediction["labels"][1]["probability"]
    texts = ["when does my card arrive", "what exchange rate do you use", "i lost my card"]
    many = server.client.post(PREDICT, json={"texts": texts}, headers=headers).json()["predictions"]
    assert [p["labels"][0]["label"] for p in many] == ["card_arrival", "exchange_rate", "lost_or_stolen_card"]
    assert len({p["id"] for p in many}) == 3


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ({"texts": ["a"] * 65}, 413, "limit is 64 (max_texts_per_request)"),
        ({"text": "x" * 2001}, 413, "limit is 2000 (max_chars_per_text)"),
        ({"text": "   "}, 422, "empty or whitespace-only"),
        ({"texts": []}, 422, "'texts' is empty"),
        ({"text": "a", "texts": ["b"]}, 422, "exactly one of 'text' or 'texts'"),
        ({"text": "a", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
        ({"text": "a", "top_k": 0}, 422, "top_k"),
    ],
)
def test_limits_and_bad_bodies(server: Server, body: dict[str, object], code: int, fragment: str) -> None:
    response = server.client.post(PREDICT, json=body, headers=bearer(server.keys["client"]))
    assert response.status_code == code and fragment in response.json()["error"]["message"]


def test_full_queue_answers_503_with_retry_after(server: Server) -> None:
    batcher = server.client.app.state.modelyard.pool.get("tiny").batcher  # type: ignore[attr-defined]
    # A queue with room for nothing: filling the counter instead raced with the monitor's own scoring
    # requests, whose completion lowered it again on a slow machine.
    capacity, batcher.max_queue = batcher.max_queue, 0
    try:
        response = server.client.post(PREDICT, json={"text": "hi"}, headers=bearer(server.keys["client"]))
    finally:
        batcher.max_queue = capacity
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert "queue is full" in response.json()["error"]["message"]


def test_cards_health_metrics_openapi(server: Server) -> None:
    card = server.client.get("/v1/models/tiny", headers=bearer(server.keys["client"])).json()
    assert card["label_names"] == sorted(INTENTS) and card["base_model"] == "minilm-l6" and card["dataset_hash"]
    listed = server.client.get("/v1/models", headers=bearer(server.keys["other"])).json()
    assert listed == []  # a key sees only its projects' models
    assert server.client.get("/healthz").json() == {"status": "ok"}
    ready = server.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"]["tiny"].startswith("tiny:")
    metrics = server.client.get("/metrics").text
    for name in (
        "modelyard_requests_total",
        "modelyard_request_seconds_bucket",
        "modelyard_batch_size_bucket",
        "modelyard_queue_texts",
        "modelyard_model_load_seconds",
        "modelyard_errors_total",
    ):
        assert name in metrics
    spec = server.client.get("/openapi.json").json()
    assert "/v1/models/{name}/predict" in spec["paths"]


def test_audit_log_has_rows_without_text(server: Server) -> None:
    server.client.post(PREDICT, json={"text": "secret-text-4711"}, headers=bearer(server.keys["client"]))
    server.client.post(PREDICT, json={"text": "x"}, headers=bearer(server.keys["other"]))
    deadline = time.time() + 5
    while time.time() < deadline:
        rows = audit.entries(500)
        if any(r.outcome == "denied" for r in rows) and any(r.action == "predict" for r in rows):
            break
        time.sleep(0.2)
    assert any(r.action == "predict" and r.resource == "model:tiny:1" and r.outcome == "ok" for r in rows)
    assert any(r.outcome == "denied" and r.key_id for r in rows)
    assert all("secret-text-4711" not in f"{r.action}{r.resource}{r.outcome}" for r in rows)


def test_hot_swap_and_corrupt_version_refusal(server: Server) -> None:
    admin = bearer(server.keys["admin"])
    second = training.run(parse_recipe(recipe_dict(server.data, max_steps=2)))
    assert second.version is not None
    registry.promote(second.version.ref, "production")
    assert server.client.post("/v1/admin/reload", headers=admin).json() == {"tiny": "tiny:2"}
    assert server.client.post(PREDICT, json={"text": "hi"}, headers=admin).json()["version"] == 2

    third = training.run(parse_recipe(recipe_dict(server.data, max_steps=2)))
    assert third.version is not None
    registry.promote(third.version.ref, "production")
    weights = third.version.path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-16] + b"\0" * 16)  # bit rot after promotion
    assert server.client.post("/v1/admin/reload", headers=admin).json() == {"tiny": "tiny:2"}
    assert server.client.post(PREDICT, json={"text": "hi"}, headers=admin).json()["version"] == 2
    ready = server.client.get("/readyz").json()
    assert "model.safetensors does not match" in ready["refused"]["tiny"]
    assert 'modelyard_model_load_failures_total{model="tiny"} 1.0' in server.client.get("/metrics").text
    refusals = [e for e in audit.entries() if e.action == "model.load"]
    assert [(e.key_id, e.resource, e.outcome) for e in refusals] == [(None, f"model:{third.version.ref}", "refused")]
