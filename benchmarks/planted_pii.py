"""Planted PII never reaches the disk: import, train, serve traffic and feedback, then search every byte.

A Banking77 subset gets seeded, fake but valid personal data planted into a third of
its messages (emails, Luhn-valid cards, phones, checksum-valid IBANs, SSNs, IPs,
URLs, person names). It is imported with the defaults, a model is trained and
promoted, a real `modelyard serve` process (logging to a file under the home)
answers requests carrying other planted values, and feedback comments carry more.
Then every file under the modelyard home, the SQLite database and the server log
included, is searched for every planted string (UTF-8, UTF-16 and JSON-escaped):
`leaks` must be 0 (bar).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _common import isolated_home, write_result
from serving_load import stop, wait_ready

FIRST = ["Grace", "Alan", "Ada", "Linus", "Margaret", "Dennis", "Barbara", "Edsger", "Frances", "Tim"]
LAST = ["Hopper", "Turing", "Lovelace", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Dijkstra", "Allen", "Berners"]


def luhn_digit(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


def iban(rng: random.Random) -> str:
    bank = "WEST" + "".join(rng.choice("0123456789") for _ in range(14))
    numeric = "".join(str(int(c, 36)) for c in bank + "GB00")
    check = 98 - int(numeric) % 97
    raw = f"GB{check:02d}{bank}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def planted_value(kind: str, rng: random.Random) -> str:
    if kind == "EMAIL":
        return f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}{rng.randint(10, 9999)}@mail-example.com"
    if kind == "CREDIT_CARD":
        body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
        number = body + luhn_digit(body)
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    if kind == "PHONE":
        return f"({rng.randint(201, 989)}) {rng.randint(200, 989)}-{rng.randint(1000, 9999)}"
    if kind == "IBAN":
        return iban(rng)
    if kind == "US_SSN":
        return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
    if kind == "IP_ADDRESS":
        return f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if kind == "URL":
        return f"https://{rng.choice(LAST).lower()}{rng.randint(100, 999)}.example.net/account"
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}{rng.choice(['son', 'ova', 'ez', 'er'])}"  # PERSON


KINDS = ("EMAIL", "CREDIT_CARD", "PHONE", "IBAN", "US_SSN", "IP_ADDRESS", "URL", "PERSON")


def leaks(root: Path, needles: dict[str, str]) -> tuple[list[dict[str, str]], int, int]:
    found, files, size = [], 0, 0
    for path in [root] if root.is_file() else root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        files, size = files + 1, size + len(data)
        for needle, kind in needles.items():
            variants = {needle.encode(), needle.encode("utf-16-le"), json.dumps(needle)[1:-1].encode()}
            if any(v in data for v in variants):
                found.append({"file": path.name if root.is_file() else str(path.relative_to(root)), "type": kind})
    return found, files, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1500, help="Banking77 training rows to import")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    home = isolated_home("planted-pii")
    from modelyard import access, registry, train
    from modelyard.config import parse_recipe
    from modelyard.data import fetch

    rng = random.Random(args.seed)
    planted: dict[str, str] = {}

    def plant(text: str) -> str:
        kind = KINDS[len(planted) % len(KINDS)]
        value = planted_value(kind, rng)
        planted[value] = kind
        return f"{text} - {rng.choice(['contact', 'I am', 'details:', 'reach'])} {value}"

    with fetch.fetch("banking77").splits["train"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rng.shuffle(rows)
    rows = rows[: args.rows]
    source = home.parent / f"{home.name}-upload.csv"  # the user's own file lives outside the home
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"text": plant(row["text"]) if i % 3 == 0 else row["text"], "label": row["label"]})
    imported = len(planted)

    recipe = parse_recipe(
        {
            "name": "planted",
            "project": "support",
            "data": {"path": str(source), "test_fraction": 0.1, "validation_fraction": 0.1},
            "model": {"base": "minilm-l6", "max_length": 64},
            "training": {"epochs": 1, "max_steps": 20, "batch_size": 32, "learning_rate": 1e-3},
        }
    )
    result = train.run(recipe)
    assert result.version is not None
    registry.promote(result.version.ref, "production")
    key = access.create("client", ["support"]).key
    headers = {"Authorization": f"Bearer {key}"}

    log_file = home / "logs" / "server.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("wb") as server_log:
        server = subprocess.Popen(
            [sys.executable, "-m", "modelyard", "serve", "--port", "8731", "--model", "planted"],
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready("http://127.0.0.1:8731/readyz")
            sent = feedback_sent = 0
            with httpx.Client(base_url="http://127.0.0.1:8731", headers=headers, timeout=30) as client:
                for i in range(args.requests):
                    text = plant(rng.choice(rows)["text"])
                    response = client.post("/v1/models/planted/predict", json={"text": text})
                    response.raise_for_status()
                    sent += 1
                    if i % 3 == 0:
                        comment = plant("this was wrong")
                        given = client.post(
                            "/v1/feedback",
                            json={
                                "prediction_id": response.json()["predictions"][0]["id"],
                                "correct_label": rng.choice(rows)["label"],
                                "comment": comment,
                            },
                        )
                        given.raise_for_status()
                        feedback_sent += 1
                # An error that could echo the input: an unknown label in feedback quoting planted data.
                bad = client.post("/v1/feedback", json={"prediction_id": "x" * 32, "correct_label": plant("")})
                assert bad.status_code == 404
        finally:
            stop(server)  # type: ignore[arg-type]
    time.sleep(0.5)
    found, files, size = leaks(home, planted)
    # Positive control: the same search finds every value planted in the user's own (unprotected) upload.
    control, _, _ = leaks(source, planted)
    per_type = {kind: sum(1 for k in planted.values() if k == kind) for kind in KINDS}
    payload: dict[str, Any] = {
        "leaks": len(found),
        "leaked": found[:50],
        "planted_strings": len(planted),
        "planted_per_type": per_type,
        "planted_in_import": imported,
        "control_found_in_upload": len(control),
        "requests": sent,
        "feedback": feedback_sent,
        "searched_files": files,
        "searched_bytes": size,
        "searched": "every file under MODELYARD_HOME: dataset versions, model versions, SQLite database "
        "(+ WAL), key files, server log; UTF-8, UTF-16-LE and JSON-escaped spellings",
        "bar": {"leaks": 0},
    }
    shown = ("leaks", "planted_strings", "searched_files", "control_found_in_upload")
    print(json.dumps({k: payload[k] for k in shown}))
    write_result("planted_pii", payload)


if __name__ == "__main__":
    main()
