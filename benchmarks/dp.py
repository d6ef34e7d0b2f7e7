"""Rotten Tomatoes accuracy with differential privacy at ε ≤ 8 vs the same recipe without it.

configs/rotten_tomatoes_dp.yaml is a Rotten Tomatoes linear probe (only the head learns, see the recipe)
with ``privacy.dp`` (ε 8; δ left out, so 1/(10·n) for the n training reviews;
clipping norm 1.0). The
private run is DP-SGD through Opacus (privacy/dp.py); the non-private run is the
same recipe with ``privacy`` removed. Both train on the recorded seeded split and
are scored on its held-out test split. The non-private figure is reused from
benchmarks/results/rotten_tomatoes.json when that run's recipe is exactly this one
without ``privacy`` (``--retrain-non-private`` trains it anyway); otherwise it is
trained here too.

    .venv/bin/python benchmarks/dp.py                                # writes results/dp.json
    .venv/bin/python benchmarks/dp.py --max-steps 3 --subset 200     # a check of the script: results/dp_smoke.json
"""

from __future__ import annotations

import argparse
import csv
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import RESULTS, ROOT, isolated_home, write_result

IGNORED = ("name", "description", "privacy")
"""Recipe keys that may differ between the two runs (the name is per model)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="configs/rotten_tomatoes_dp.yaml")
    parser.add_argument("--max-steps", type=int, help="smoke check: train only this many steps per run")
    parser.add_argument("--subset", type=int, help="smoke check: only the first N rows of each split")
    parser.add_argument("--retrain-non-private", action="store_true", help="never reuse rotten_tomatoes.json")
    parser.add_argument("--result", default="dp", help="benchmarks/results/<RESULT>.json (a smoke check: _smoke added)")
    args = parser.parse_args()
    home = isolated_home("dp")
    from modelyard import train
    from modelyard.config import load_recipe, parse_recipe

    private = load_recipe(ROOT / args.recipe)
    if private.privacy.dp is None:
        parser.error(f"{args.recipe} has no privacy.dp section")
    smoke = args.max_steps is not None or args.subset is not None
    raw = private.model_dump(mode="json")
    if smoke:
        raw = shrink(raw, home, args.max_steps, args.subset)
    private = parse_recipe(raw, args.recipe)
    plain = parse_recipe(raw | {"name": f"{private.name}-non-private", "privacy": {"dp": None}}, args.recipe)

    reused = None if (smoke or args.retrain_non_private) else reusable_non_private(plain.model_dump(mode="json"))
    if reused is None:
        result = train.run(plain)
        non_private = {
            "accuracy": result.metrics["accuracy"],
            "macro_f1": result.metrics["macro_f1"],
            "train_seconds": result.metrics["train_seconds"],
            "epochs": result.metrics["epochs"],
            "source": "trained in this run",
        }
    else:
        non_private = reused
    result = train.run(private)
    metrics, record = result.metrics, result.metrics["privacy"]["dp"]
    write_result(
        f"{args.result}_smoke" if smoke else args.result,
        {
            "accuracy_private": metrics["accuracy"],
            "accuracy_non_private": non_private["accuracy"],
            "accuracy_drop": round(non_private["accuracy"] - metrics["accuracy"], 4),
            "macro_f1_private": metrics["macro_f1"],
            "macro_f1_non_private": non_private["macro_f1"],
            "epsilon": record["epsilon"],
            "epsilon_target": record["epsilon_target"],
            "delta": record["delta"],
            "noise_multiplier": record["noise_multiplier"],
            "max_grad_norm": record["max_grad_norm"],
            "sample_rate": record["sample_rate"],
            "steps": record["steps"],
            "accountant": record["accountant"],
            "n_test": metrics["n"],
            "train_seconds_private": metrics["train_seconds"],
            "train_seconds_non_private": non_private["train_seconds"],
            "epochs_private": metrics["epochs"],
            "epochs_non_private": non_private["epochs"],
            "non_private_source": non_private["source"],
            "bar": {"epsilon_at_most": 8.0},
            "smoke": {"max_steps": args.max_steps, "subset": args.subset} if smoke else None,
            "opacus": metadata.version("opacus"),
            "recipe": private.model_dump(mode="json"),
        },
    )


def shrink(raw: dict[str, Any], home: Path, max_steps: int | None, subset: int | None) -> dict[str, Any]:
    """The recipe cut down for a quick check of this script: fewer steps, the first rows of each split."""
    raw = json.loads(json.dumps(raw))
    if max_steps is not None:
        raw["training"] |= {"max_steps": max_steps, "eval_every": max_steps}
    if subset is not None:
        from modelyard.data import fetch

        fetched = fetch.fetch(raw["data"]["dataset"])
        files = {split: cut(path, home / f"subset-{split}.csv", subset) for split, path in fetched.splits.items()}
        raw["data"] |= {"dataset": None, **{split: str(path) for split, path in files.items()}}
    return raw


def cut(source: Path, target: Path, rows: int) -> Path:
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        kept = [row for _, row in zip(range(rows), reader, strict=False)]
        fields = list(reader.fieldnames or [])
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    return target


def reusable_non_private(plain: dict[str, Any]) -> dict[str, Any] | None:
    """The figures of results/rotten_tomatoes.json when that run's recipe is exactly ``plain`` (names aside)."""
    path = RESULTS / "rotten_tomatoes.json"
    if not path.is_file():
        return None
    earlier = json.loads(path.read_text(encoding="utf-8"))
    same = {k: v for k, v in earlier.get("recipe", {}).items() if k not in IGNORED}
    if same != {k: v for k, v in plain.items() if k not in IGNORED}:
        print("results/rotten_tomatoes.json was measured with another recipe: training the non-private run too")
        return None
    return {
        "accuracy": earlier["accuracy"],
        "macro_f1": earlier["macro_f1"],
        "train_seconds": earlier["train_seconds"],
        "epochs": earlier["epochs"],
        "source": f"benchmarks/results/rotten_tomatoes.json (measured {earlier.get('measured_at', 'n/a')})",
    }


if __name__ == "__main__":
    main()
