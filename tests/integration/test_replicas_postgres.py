"""Two `modelyard serve` processes on one PostgreSQL database: same models, shared keys and audit log.

Needs the PostgreSQL server that `.ci/run` starts (scripts/start-postgres.sh); skipped when
MODELYARD_TEST_PG_URL is not set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.conftest import recipe_dict

from modelyard import access, audit, registry
from modelyard import train as training
from modelyard.config import parse_recipe

ADMIN_URL = os.environ.get("MODELYARD_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ADMIN_URL, reason="MODELYARD_TEST_PG_URL not set (.ci/run starts PostgreSQL)"),
]


@pytest.fixture
def pg_url() -> Iterator[str]:
    assert ADMIN_URL is not None
    name = f"modelyard_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def call(
    port: int, path: str, key: str | None, body: dict[str, object] | None = None, method: str = "GET"
) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert process.poll() is None, "server exited early"
        try:
            if call(port, "/readyz", None)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"server on {port} never became ready")


def test_two_replicas_share_models_keys_and_audit(
    pg_url: str, home: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_DB_URL", pg_url)
    result = training.run(parse_recipe(recipe_dict(tiny_csv, max_steps=3)))
    assert result.version is not None
    registry.promote(result.version.ref, "production")
    admin = access.create("admin", ["*"]).key
    client = access.create("client", ["support"])

    env = os.environ | {"MODELYARD_DB_URL": pg_url, "MODELYARD_HOME": str(home)}
    ports = (8791, 8792)
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "modelyard", "serve", "--port", str(port), "--poll-seconds", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, servers, strict=True):
            wait_ready(port, process)
        for port in ports:
            status, body = call(port, "/v1/models/tiny/predict", client.key, {"text": "my card is lost"}, "POST")
            assert status == 200 and body["version"] == 1
        # A key created through replica A works on replica B; revoked through A, B refuses it soon after.
        status, created = call(ports[0], "/v1/admin/keys", admin, {"role": "client", "projects": ["support"]}, "POST")
        assert status == 201
        assert call(ports[1], "/v1/models/tiny/predict", created["key"], {"text": "hi"}, "POST")[0] == 200
        assert call(ports[0], f"/v1/admin/keys/{created['key_id']}", admin, method="DELETE")[0] == 204
        deadline = time.time() + 15
        while call(ports[1], "/v1/models/tiny/predict", created["key"], {"text": "hi"}, "POST")[0] != 401:
            assert time.time() < deadline, "replica B still accepts a revoked key"
            time.sleep(0.5)
    finally:
        for process in servers:
            process.terminate()
            process.wait(30)
    rows = audit.entries(1000)
    assert {r.key_id for r in rows if r.action == "predict"} >= {client.principal.key_id, created["key_id"]}
    assert any(r.action == "revoke_key" for r in rows) and any(r.outcome == "denied" for r in rows)


def test_replicas_racing_on_one_alert_send_it_once(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight replicas judging the same drift at the same instant: the cooldown gate lets exactly one record it."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from modelyard.monitor import list_alerts, parse_rules
    from modelyard.monitor.alerts import record_alert

    monkeypatch.setenv("MODELYARD_DB_URL", pg_url)
    [rule] = parse_rules("rules:\n  - {name: drift, metric: embedding_auc, op: '>', threshold: 0.8, window: 100}").rules
    now = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=8) as pool:
        fired = list(pool.map(lambda _: record_alert("m", 1, rule, 0.9, {}, webhook=False, now=now), range(8)))
    assert sum(alert is not None for alert in fired) == 1
    assert len(list_alerts("m")) == 1
