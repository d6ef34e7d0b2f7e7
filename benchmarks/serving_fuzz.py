"""Property-based fuzzing of the REST API from its own OpenAPI spec (bar: server_errors = 0).

Schemathesis generates requests for every operation — valid bodies and, in the
negative mode, bodies that break the schema — and each case is sent with a
valid admin key, a wrong key and no key to a real `modelyard serve` on
loopback (a tiny model trained here so predictions really run). Any 5xx
counts as a server error. Bounded by --examples per mode and operation.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from _common import isolated_home, write_result

PORT = 8720


def train_tiny_model(home: Path) -> None:
    from modelyard import registry, train
    from modelyard.config import parse_recipe

    data = home / "fuzz_seed.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for label in ("card", "rate", "lost"):
            writer.writerows([f"{label} message number {i}", label] for i in range(12))
    recipe = parse_recipe(
        {
            "name": "fuzz",
            "project": "fuzz",
            "data": {"path": str(data)},
            "training": {"max_steps": 2, "batch_size": 8, "early_stopping_patience": None},
        }
    )
    result = train.run(recipe)
    assert result.version is not None
    registry.promote(result.version.ref, "production")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=50, help="Hypothesis examples per operation and mode")
    args = parser.parse_args()
    home = isolated_home("fuzz")
    train_tiny_model(home)
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode, openapi

    from modelyard import access

    admin = access.create("admin", ["*"]).key
    keys: dict[str, dict[str, str]] = {
        "valid": {"Authorization": f"Bearer {admin}"},
        "wrong": {"Authorization": "Bearer myd_000000000000_not-a-real-secret"},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "none": {},
    }
    log = (home / "server.log").open("ab")
    log = (home / "server.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "--port", str(PORT)],
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    statuses: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    cases = 0
    no_negative_cases: list[str] = []
    try:
        _wait(f"http://127.0.0.1:{PORT}/readyz")
        schema = openapi.from_url(f"http://127.0.0.1:{PORT}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation, mode in [(o, m) for o in operations for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]:

            @settings(max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                nonlocal cases
                for name, headers in keys.items():
                    if (
                        case.operation.path == "/v1/admin/keys/{key_id}"
                        and case.method.upper() == "DELETE"
                        and name == "valid"
                    ):
                        continue  # never revoke the fuzzing key itself
                    response = case.call(base_url=f"http://127.0.0.1:{PORT}", headers=headers, timeout=30)
                    cases += 1
                    statuses[f"{response.status_code // 100}xx"] += 1
                    if response.status_code >= 500:
                        failures.append(
                            {
                                "method": case.method,
                                "path": case.formatted_path,
                                "key": name,
                                "status": response.status_code,
                                "body": response.text[:300],
                            }
                        )

            try:
                fuzz()
            except Unsatisfiable:
                # NEGATIVE mode of an operation that takes no input (GET /healthz): nothing can be made invalid.
                no_negative_cases.append(f"{operation.method.upper()} {operation.path}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
        log.close()
    write_result(
        "serving_fuzz",
        {
            "server_errors": len(failures),
            "cases": cases,
            "statuses": dict(statuses),
            "failures": failures[:20],
            "key_variants": list(keys),
            "operations": len(operations),
            "operations_without_invalid_inputs": no_negative_cases,
            "examples_per_operation_and_mode": args.examples,
            "bar": {"server_errors": 0},
        },
    )


def _wait(url: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} never became ready")


if __name__ == "__main__":
    main()
