"""What case features and document context each add to NER on the packaged (uncased) MiniLM-L6.

Three one-epoch runs of configs/conll2003.yaml, identical but for the two input
switches — neither, `model.case_features`, both (`model.document_context: 48`) —
scored on the official CoNLL-2003 validation set (the epoch's evaluation) and test
set (`modelyard evaluate` on the fetched file, which reads each test sentence among
its document's neighbours when the model was trained so). Run one after another in
one process on one machine, so the training times compare too.
"""

from __future__ import annotations

import argparse

from _common import ROOT, isolated_home, write_result

VARIANTS = {
    "plain": {"case_features": False, "document_context": 0},
    "case_features": {"case_features": True, "document_context": 0},
    "case_features+document_context": {"case_features": True, "document_context": 48},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="configs/conll2003.yaml")
    parser.add_argument("--epochs", type=float, default=1.0)
    args = parser.parse_args()
    isolated_home("ner_features")
    from modelyard import evaluate, train
    from modelyard.config import load_recipe
    from modelyard.data import fetch

    recipe = load_recipe(ROOT / args.recipe)
    test_file = fetch.fetch("conll2003").splits["test"]
    runs = {}
    for name, switches in VARIANTS.items():
        variant = recipe.model_copy(
            update={
                "name": f"conll2003-{name.replace('+', '-').replace('_', '-')}",
                # Read without document consistency: these runs compare the two input switches alone.
                "model": recipe.model.model_copy(update=switches | {"document_consistency": 0.0}),
                "training": recipe.training.model_copy(update={"epochs": args.epochs}),
            }
        )
        result = train.run(variant)
        assert result.version is not None
        validation = [e["eval_f1"] for e in result.history if "eval_f1" in e]
        official = evaluate.run(result.version.ref, test_file).metrics
        runs[name] = {
            "validation_f1": validation[-1],
            "test_f1": official["f1"],
            "test_per_type_f1": {kind: row["f1"] for kind, row in official["per_type"].items()},
            "train_seconds": result.metrics["train_seconds"],
            "train_examples_per_second": result.metrics["train_examples_per_second"],
            "model": variant.model.model_dump(mode="json"),
        }
    plain = runs["plain"]
    write_result(
        "ner_features",
        {
            "epochs": args.epochs,
            "runs": runs,
            "validation_f1_gain": {name: run["validation_f1"] - plain["validation_f1"] for name, run in runs.items()},
            "test_f1_gain": {name: run["test_f1"] - plain["test_f1"] for name, run in runs.items()},
            "train_time_ratio": {name: run["train_seconds"] / plain["train_seconds"] for name, run in runs.items()},
            "recipe": recipe.model_dump(mode="json"),
        },
    )


if __name__ == "__main__":
    main()
