"""Banking77 official test accuracy of the packaged 22.7M-parameter MiniLM-L6 (bar: >= 0.93).

Default: trains configs/banking77.yaml (train 9,003 / validation 1,000 = the official
10,003 train; early stopping on validation) and scores the official 3,080 test.

``--full-train N``: the usual final fit — the same recipe on the whole official train
(train + validation = 10,003 rows) for a fixed N epochs chosen beforehand from the
validation run, no early stopping, ending with the last checkpoint; the validation
figures printed while training are then on rows seen in training and decide nothing
(not even which checkpoint to keep). The test split is never used to choose.
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
    args = classification_arguments(__doc__ or "", "configs/banking77.yaml", "banking77")
    home = isolated_home("banking77")
    from modelyard.config import load_recipe

    recipe, protocol = fit_protocol(
        with_overrides(load_recipe(ROOT / args.recipe), args.overrides),
        "banking77",
        home,
        args.full_train,
        average_last=args.average_last,
        split="train 9,003, early stopping on validation 1,000, official test 3,080",
        whole="train+validation 10,003 (the official train)",
    )
    metrics, history, soup = train_or_soup(recipe, args.soup_seeds)
    write_result(
        args.result,
        {
            "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"],
            "weighted_f1": metrics["weighted_f1"],
            "roc_auc_ovr": metrics["roc_auc_ovr"],
            "n_test": metrics["n"],
            "train_seconds": metrics["train_seconds"],
            "epochs": metrics["epochs"],
            "protocol": protocol,
            "checkpoint_average": metrics.get("checkpoint_average"),
            "soup": soup,
            "validation_accuracy": validation_curve(history, "accuracy"),
            "bar": {"accuracy": 0.93},
            "reference": "bert-base-uncased (110M) 0.9308 accuracy on the same official test",
            "recipe": recipe.model_dump(mode="json"),
        },
    )


if __name__ == "__main__":
    main()
