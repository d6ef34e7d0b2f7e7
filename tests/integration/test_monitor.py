"""Monitoring a served model: windows, embedding drift, stored alerts, the endpoint, the CLI, the webhook.

The webhook receiver is a real HTTP server on 127.0.0.1 that refuses the first
attempts, so retries and backoff run for real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import INTENTS, module_home, recipe_dict
from typer.testing import CliRunner

from modelyard import access, registry
from modelyard import train as training
from modelyard.config import parse_recipe
from modelyard.monitor import Webhook, list_alerts
from modelyard.monitor.notify import deliver
from modelyard.serve import ServeConfig, create_app

IN_DOMAIN = [text for texts in INTENTS.values() for text in texts]
# Nothing like banking: what the drift test must tell apart from the training data.
OFF_DOMAIN = [
    f"the {dish} needs more {spice} before it goes back in the {place}"
    for dish in ("soup", "stew", "curry", "risotto", "sauce")
    for spice in ("salt", "pepper", "garlic", "thyme")
    for place in ("oven", "pot")
]


@dataclass
class Receiver:
    """A webhook receiver: answers ``status`` to the first ``failures`` POSTs, then 200; keeps what it accepted."""

    failures: int
    status: int = 503
    bodies: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _receiver(2)


def _receiver(failures: int, status: int = 503) -> Iterator[Receiver]:
    state = Receiver(failures, status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            state.attempts += 1
            body = self.rfile.read(int(self.headers["Content-Length"]))
            code = state.status if state.attempts <= state.failures else 200
            if code == 200:
                state.bodies.append(json.loads(body))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _hook(url: str, attempts: int = 4) -> Webhook:
    return Webhook(url=url, attempts=attempts, backoff_seconds=0.01, timeout_seconds=5)


def test_webhook_retries_until_accepted(receiver: Receiver) -> None:
    waits: list[float] = []
    result = deliver(_hook(receiver.url), {"text": "hello"}, sleep=waits.append)
    assert (result.delivered, result.attempts, result.last) == (True, 3, "HTTP 200")
    assert receiver.attempts == 3 and receiver.bodies == [{"text": "hello"}]
    assert waits == [0.01, 0.02]  # exponential backoff between the attempts


@pytest.mark.parametrize(
    ("failures", "status", "delivered", "attempts", "last"),
    [
        (10, 503, False, 4, "HTTP 503"),  # retried until the attempts run out
        (10, 429, False, 4, "HTTP 429"),
        (10, 400, False, 1, "HTTP 400"),  # the receiver refuses the payload: never retried
    ],
)
def test_webhook_gives_up(failures: int, status: int, delivered: bool, attempts: int, last: str) -> None:
    for receiver in _receiver(failures, status):
        result = deliver(_hook(receiver.url), {"text": "x"}, sleep=lambda _: None)
        assert (result.delivered, result.attempts, result.last) == (delivered, attempts, last)
        assert receiver.attempts == attempts


def test_webhook_unreachable_is_retried() -> None:
    for receiver in _receiver(0):
        url = receiver.url
    result = deliver(_hook(url, attempts=3), {"text": "x"}, sleep=lambda _: None)  # the receiver is gone now
    assert (result.delivered, result.attempts, result.last) == (False, 3, "ConnectError")


@dataclass
class Served:
    client: TestClient
    home: Path
    client_key: dict[str, str]
    developer_key: dict[str, str]
    receiver: Receiver

    def predict(self, texts: list[str]) -> Any:
        response = self.client.post("/v1/models/tiny/predict", json={"texts": texts}, headers=self.client_key)
        return response

    def flush(self) -> None:
        assert self.client.app.state.modelyard.monitor.flush()  # type: ignore[attr-defined]

    def monitoring(self) -> dict[str, Any]:
        response = self.client.get("/v1/models/tiny/monitoring", headers=self.developer_key)
        assert response.status_code == 200, response.text
        return dict(response.json())


RULES = """
webhook:
  url: {url}
  attempts: 4
  backoff_seconds: 0.05
rules:
  - name: input-drift
    metric: embedding_auc
    op: ">"
    threshold: 0.9
    window: 2 requests
    cooldown: 3600
  - name: errors
    metric: error_rate
    op: ">"
    threshold: 0.9
    window: 1 request
    cooldown: 3600
    model: someone-else
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("monitor")
    with module_home(root) as data:
        training.run(parse_recipe(recipe_dict(data, epochs=1, max_steps=4)))
        registry.promote("tiny:1", "production")
        client_key = {"Authorization": f"Bearer {access.create('client', ['support']).key}"}
        developer_key = {"Authorization": f"Bearer {access.create('developer', ['support']).key}"}
        for receiver in _receiver(2):
            rules = root / "alerts.yaml"
            rules.write_text(RULES.format(url=receiver.url), encoding="utf-8")
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("MODELYARD_ALERT_RULES", str(rules))
                patch.delenv("MODELYARD_ALERT_WEBHOOK", raising=False)
                with TestClient(create_app(ServeConfig(poll_seconds=3600, max_chars_per_text=200))) as client:
                    yield Served(client, root / "home", client_key, developer_key, receiver)


def test_in_domain_traffic_raises_no_alert_and_drift_does(served: Served) -> None:
    for _ in range(2):
        assert served.predict(IN_DOMAIN).status_code == 200
    served.flush()
    status = served.monitoring()
    assert status["request_index"] == 2 and status["alerts"] == []
    window = status["windows"][0]
    assert window["window"] == "200 requests" and window["complete"] is False
    assert window["requests"] == 2 and window["texts"] == 2 * len(IN_DOMAIN) and window["errors"] == 0
    assert 0 < window["confidence_mean"] <= 1 and sum(window["top_labels"].values()) == pytest.approx(1, abs=1e-3)
    assert window["label_psi"] is not None and window["length_psi"] is not None
    assert window["embedding_auc"] < 0.75  # the training texts themselves: nothing to tell apart
    reference = status["reference"]
    assert reference["labels_from"] == "model predictions" and reference["embeddings"] == len(IN_DOMAIN)

    for start in (0, 20):
        assert served.predict(OFF_DOMAIN[start : start + 20]).status_code == 200
    served.flush()
    status = served.monitoring()
    (alert,) = status["alerts"]
    assert alert["rule"] == "input-drift" and alert["value"] > 0.9 and alert["request_index"] == 4
    drift_window = next(w for w in status["windows"] if w["window"] == "2 requests")
    assert drift_window["complete"] and drift_window["embedding_auc"] > 0.9

    # The webhook refused twice (503) and took the third attempt; the alert row says so.
    for _ in range(100):
        if list_alerts("tiny")[0].delivery != "pending":
            break
        threading.Event().wait(0.05)
    (stored,) = list_alerts("tiny")
    assert (stored.delivery, stored.attempts) == ("delivered", 3)
    (body,) = served.receiver.bodies
    assert body["alert"]["rule"] == "input-drift" and body["alert"]["model"] == "tiny"
    assert "soup" not in json.dumps(body)  # never the request text


def test_errors_are_counted_and_texts_never_stored(served: Served) -> None:
    assert served.predict(["x" * 500]).status_code == 413  # over max_chars_per_text
    served.flush()
    window = served.monitoring()["windows"][0]
    assert window["errors"] == 1 and window["statuses"]["413"] == 1
    database = (served.home / "modelyard.db").read_bytes()
    wal = served.home / "modelyard.db-wal"
    stored = database + (wal.read_bytes() if wal.exists() else b"")
    assert b"risotto" not in stored  # the monitor keeps lengths, labels and embeddings — never the text


def test_monitoring_needs_a_developer_of_the_project(served: Served) -> None:
    assert served.client.get("/v1/models/tiny/monitoring", headers=served.client_key).status_code == 403
    other = {"Authorization": f"Bearer {access.create('developer', ['elsewhere']).key}"}
    assert served.client.get("/v1/models/tiny/monitoring", headers=other).status_code == 403
    assert served.client.get("/v1/models/nope/monitoring", headers=served.developer_key).status_code == 404
    rules = served.monitoring()["rules"]
    assert [r["name"] for r in rules] == ["input-drift"]  # the other rule is for another model


def test_cli_lists_alerts_and_latest_stats(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from modelyard import cli

    monkeypatch.setattr(cli, "out", Console(width=250))
    served.flush()  # writes the latest statistics to the store
    result = CliRunner().invoke(cli.app, ["monitor", "tiny"])
    assert result.exit_code == 0, result.output
    assert "input-drift" in result.output and "delivered (3)" in result.output
    assert "200 requests (filling)" in result.output
    bad = CliRunner().invoke(cli.app, ["monitor", "--rules", str(served.home / "missing.yaml")])
    assert bad.exit_code != 0 and "does not exist" in bad.output
