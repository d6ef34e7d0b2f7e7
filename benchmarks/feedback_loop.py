"""Close the loop on Banking77: serve, correct mistakes via /v1/feedback, retrain, gate (bar: a rise; no bad batch).

1. A model trained on 20% of the official Banking77 train split (seeded draw; a
   tenth of it validates) is promoted and served (in-process app, the real routes
   and keys). Its test split, the gate's frozen holdout, is 2,000 other train rows.
2. The next 30% of train is sent as traffic; every wrong top-1 prediction gets a
   correction through `POST /v1/feedback`, and a developer key accepts them all.
3. `retrain` builds data + accepted feedback, trains with the same recipe, and the
   gate compares candidate and production; official test accuracy `before`/`after`.
4. A batch of feedback with random labels is accepted and `retrain` runs again:
   the gate must refuse that candidate (`bad_batch_promoted` = false).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/feedback_loop.py
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path
from typing import Any

from _common import isolated_home, write_result


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def send(client: Any, headers: dict[str, str], rows: list[dict[str, str]], labels: list[str], rng: Any) -> list[int]:
    """Predict every row; return the feedback ids of the corrections sent (random labels when ``rng``)."""
    given = []
    for start in range(0, len(rows), 32):
        chunk = rows[start : start + 32]
        response = client.post(
            "/v1/models/bank-fb/predict", json={"texts": [r["text"] for r in chunk]}, headers=headers
        )
        response.raise_for_status()
        for row, prediction in zip(chunk, response.json()["predictions"], strict=True):
            if rng is not None:
                correct = rng.choice([label for label in labels if label != prediction["labels"][0]["label"]])
            elif prediction["labels"][0]["label"] != row["label"]:
                correct = row["label"]
            else:
                continue
            sent = client.post(
                "/v1/feedback", json={"prediction_id": prediction["id"], "correct_label": correct}, headers=headers
            )
            sent.raise_for_status()
            given.append(sent.json()["id"])
    return given


def _summary(scores: dict[str, Any]) -> dict[str, Any]:
    """The gate's scores without the per-example right/wrong lists (they stay in the stored decision)."""
    return {
        key: ({k: v for k, v in value.items() if k != "right_on_feedback"} if isinstance(value, dict) else value)
        for key, value in scores.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=float, default=6)
    parser.add_argument("--frozen-holdout", type=int, default=2000, help="unseen train rows the gate scores on")
    parser.add_argument("--bad-batch", type=int, default=1000, help="random-label corrections in the bad batch")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    home = isolated_home("feedback-loop")
    from fastapi.testclient import TestClient

    from modelyard import access, evaluate, feedback, registry, train
    from modelyard.config import parse_recipe
    from modelyard.data import fetch
    from modelyard.retrain import retrain
    from modelyard.serve import ServeConfig, create_app

    fetched = fetch.fetch("banking77")
    rows = _rows(fetched.splits["train"])
    rng = random.Random(args.seed)
    rng.shuffle(rows)
    fifth, half = len(rows) // 5, len(rows) // 2
    first, traffic = rows[:fifth], rows[fifth:half]
    bad_traffic = rows[half : half + args.bad_batch]
    # The gate's frozen holdout: unseen official-train rows, large enough that one example is not the
    # difference between promoting and refusing (a 10% split of the 20% would be 200 rows).
    frozen = rows[half + args.bad_batch : half + args.bad_batch + args.frozen_holdout]
    cut = len(first) * 9 // 10
    files = {"train": first[:cut], "validation": first[cut:], "test": frozen}
    for split, split_rows in files.items():
        with (home / f"banking77-{split}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(split_rows)
    recipe = parse_recipe(
        {
            "name": "bank-fb",
            "project": "banking",
            "data": {split: str(home / f"banking77-{split}.csv") for split in files},
            "model": {"base": "minilm-l6", "max_length": 64},
            "training": {
                "epochs": args.epochs,
                "batch_size": 32,
                "learning_rate": 1.5e-4,
                "early_stopping_patience": None,
                "seed": 42,
            },
        }
    )
    first_version = train.run(recipe).version
    assert first_version is not None
    registry.promote(first_version.ref, "production")
    official = fetched.splits["test"]
    before = evaluate.run(first_version.ref, official).metrics["accuracy"]

    client_key = {"Authorization": f"Bearer {access.create('client', ['banking']).key}"}
    labels = list(first_version.labels)
    with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
        corrections = send(client, client_key, traffic, labels, None)
    for feedback_id in corrections:
        feedback.decide(feedback_id, "accepted")
    good = retrain("bank-fb")
    after = evaluate.run(good.candidate.ref, official).metrics["accuracy"]

    with TestClient(create_app(ServeConfig(poll_seconds=3600))) as client:
        bad_ids = send(client, client_key, bad_traffic, labels, random.Random(args.seed + 1))
    for feedback_id in bad_ids:
        feedback.decide(feedback_id, "accepted")
    bad = retrain("bank-fb")
    bad_accuracy = evaluate.run(bad.candidate.ref, official).metrics["accuracy"]

    write_result(
        "feedback_loop",
        {
            "before": before,
            "after": after,
            "gain": round(after - before, 4),
            "good_batch": {
                "traffic": len(traffic),
                "corrections": len(corrections),
                "promoted": good.promoted,
                "reasons": good.reasons,
                "scores": _summary(good.scores),
            },
            "bad_batch_promoted": bad.promoted,
            "bad_batch": {
                "random_label_corrections": len(bad_ids),
                "reasons": bad.reasons,
                "scores": _summary(bad.scores),
                "official_test_accuracy_of_refused_candidate": bad_accuracy,
            },
            "first_model": {"train_rows": cut, "validation_rows": len(first) - cut, "share_of_train": 0.2},
            "frozen_holdout_rows": len(frozen),
            "recipe": recipe.model_dump(mode="json"),
            "bar": {"after_minus_before": "> 0 (a clear rise)", "bad_batch_promoted": False},
        },
    )


if __name__ == "__main__":
    main()
