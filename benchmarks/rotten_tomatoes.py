"""Rotten Tomatoes accuracy on the recorded held-out test split (bar: >= 0.85).

`datasets fetch rotten-tomatoes` makes a seeded stratified 80/10/10 split (seed
recorded in source.json); configs/rotten_tomatoes.yaml trains on it.
"""

from __future__ import annotations

import argparse

from _common import ROOT, isolated_home, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="configs/rotten_tomatoes.yaml")
    args = parser.parse_args()
    isolated_home("rotten-tomatoes")
    from modelyard import train
    from modelyard.config import load_recipe
    from modelyard.data import fetch

    recipe = load_recipe(ROOT / args.recipe)
    result = train.run(recipe)
    fetched = fetch.fetched_path("rotten-tomatoes")
    assert fetched is not None
    metrics = result.metrics
    write_result(
        "rotten_tomatoes",
        {
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "roc_auc": metrics["roc_auc_ovr"],
            "n_test": metrics["n"],
            "split_seed": fetched.info["split_seed"],
            "split_sizes": fetched.info["sizes"],
            "train_seconds": metrics["train_seconds"],
            "epochs": metrics["epochs"],
            "bar": {"accuracy": 0.85},
            "reference": "DistilBERT (66M) about 0.85 on the related MR set",
            "recipe": recipe.model_dump(mode="json"),
        },
    )


if __name__ == "__main__":
    main()
