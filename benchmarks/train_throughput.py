"""Training examples/second: `modelyard train` vs a plain Trainer script padding to 128 (bar: ratio >= 1.5).

Same packaged model, the same first N Banking77 training examples, batch size
and epochs; each run is a fresh process, the two alternate (A B A B ...) and
the medians are compared, so drift of this shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from _common import isolated_home, write_result

HERE = Path(__file__).resolve().parent


def ours(recipe: Path) -> dict[str, float]:
    code = (
        "import json,sys; from modelyard import train; from modelyard.config import load_recipe; "
        "r = train.run(load_recipe(sys.argv[1])); "
        "print(json.dumps({'examples_per_second': r.examples_per_second, 'train_seconds': r.train_seconds}))"
    )
    return _last_json([sys.executable, "-c", code, str(recipe)])


def plain(train_csv: Path, model: str, batch: int, epochs: float, work: Path) -> dict[str, float]:
    return _last_json(
        [
            sys.executable,
            str(HERE / "baselines" / "plain_trainer.py"),
            "--train",
            str(train_csv),
            "--model",
            model,
            "--batch-size",
            str(batch),
            "--epochs",
            str(epochs),
            "--output",
            str(work / "plain"),
        ]
    )


def _last_json(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    isolated_home("throughput")
    from modelyard import models
    from modelyard.data import fetch

    fetched = fetch.fetch("banking77")
    work = Path(tempfile.mkdtemp(prefix="throughput-"))
    with fetched.splits["train"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[: args.examples]
    train_csv = work / "train.csv"
    with train_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    recipe = work / "recipe.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "throughput",
                "data": {"train": str(train_csv), "validation": str(fetched.splits["validation"])},
                "model": {"base": "minilm-l6", "max_length": 128},
                "training": {
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "learning_rate": 1.5e-4,
                    "early_stopping_patience": None,
                },
            }
        )
    )
    model = models.resolve("minilm-l6").location
    runs: dict[str, list[dict[str, float]]] = {"modelyard": [], "plain_trainer": []}
    for _ in range(args.pairs):
        runs["modelyard"].append(ours(recipe))
        runs["plain_trainer"].append(plain(train_csv, model, args.batch_size, args.epochs, work))
    medians = {name: statistics.median(r["examples_per_second"] for r in found) for name, found in runs.items()}
    write_result(
        "train_throughput",
        {
            "ratio": round(medians["modelyard"] / medians["plain_trainer"], 2),
            "modelyard_examples_per_second": round(medians["modelyard"], 2),
            "plain_trainer_examples_per_second": round(medians["plain_trainer"], 2),
            "runs": runs,
            "examples": len(rows),
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "note": "modelyard: dynamic padding + length-grouped batches (and one validation pass per epoch, "
            "counted against it); plain: padding='max_length' 128, random batches, no evaluation",
            "bar": {"ratio": 1.5},
        },
    )


if __name__ == "__main__":
    main()
