"""Rotten Tomatoes accuracy on the recorded held-out test split (bar: >= 0.85).

`datasets fetch rotten-tomatoes` makes a seeded stratified 80/10/10 split (seed
recorded in source.json); configs/rotten_tomatoes.yaml trains on it.

``--full-train N``: the final fit on train + validation for a fixed N epochs, no early
stopping, ending with the last checkpoint (see ``_common.final_fit_recipe``); the test
split is never used to choose.
"""

from __future__ import annotations

from _common import (
    ROOT,
    classification_arguments,
    fit_protocol,
    isolated_home,
    train_or_soup,
    validation_curve,
    with_overrides,
    write_result,
)


def main() -> None:
    args = classification_arguments(__doc__ or "", "configs/rotten_tomatoes.yaml", "rotten_tomatoes")
    home = isolated_home("rotten-tomatoes")
    from modelyard.config import load_recipe
    from modelyard.data import fetch

    recipe, protocol = fit_protocol(
        with_overrides(load_recipe(ROOT / args.recipe), args.overrides),
        "rotten-tomatoes",
        home,
        args.full_train,
        average_last=args.average_last,
        split="train 10,246, early stopping on validation 1,281, held-out test 1,281",
        whole="train+validation 11,527",
    )
    metrics, history, soup = train_or_soup(recipe, args.soup_seeds)
    fetched = fetch.fetched_path("rotten-tomatoes")
    assert fetched is not None
    write_result(
        args.result,
        {
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "roc_auc": metrics["roc_auc_ovr"],
            "n_test": metrics["n"],
            "split_seed": fetched.info["split_seed"],
            "split_sizes": fetched.info["sizes"],
            "train_seconds": metrics["train_seconds"],
            "epochs": metrics["epochs"],
            "protocol": protocol,
            "checkpoint_average": metrics.get("checkpoint_average"),
            "soup": soup,
            "validation_accuracy": validation_curve(history, "accuracy"),
            "bar": {"accuracy": 0.85},
            "reference": "DistilBERT (66M) about 0.85 on the related MR set",
            "recipe": recipe.model_dump(mode="json"),
        },
    )


if __name__ == "__main__":
    main()
