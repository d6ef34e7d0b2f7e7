"""CoNLL-2003 English NER: official test entity-level F1 of the packaged MiniLM-L6 (bar: >= 0.90).

Trains configs/conll2003.yaml (official train, early stopping on the official
validation set) and scores the official 3,453 test sentences word by word with
seqeval (conlleval rules) through `modelyard evaluate` on the fetched CoNLL file.
Reference: dslim/bert-base-NER (cased, 110M parameters, 5x ours) reaches 0.926.
"""

from __future__ import annotations

import argparse

from _common import ROOT, isolated_home, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="configs/conll2003.yaml")
    args = parser.parse_args()
    isolated_home("conll2003")
    from modelyard import evaluate, train
    from modelyard.config import load_recipe
    from modelyard.data import fetch

    recipe = load_recipe(ROOT / args.recipe)
    result = train.run(recipe)
    assert result.version is not None
    official = evaluate.run(result.version.ref, fetch.fetch("conll2003").splits["test"]).metrics
    write_result(
        "conll2003",
        {
            "f1": official["f1"],
            "precision": official["precision"],
            "recall": official["recall"],
            "per_type": official["per_type"],
            "token_accuracy": official["token_accuracy"],
            "n_test_sentences": official["n"],
            "test_entities": official["entities"],
            "validation_f1": [{"epoch": e["epoch"], "f1": e["eval_f1"]} for e in result.history if "eval_f1" in e],
            "train_seconds": result.metrics["train_seconds"],
            "epochs": result.metrics["epochs"],
            "bar": {"f1": 0.90},
            "reference": "dslim/bert-base-NER (bert-base-cased, 110M) 0.926 entity F1 on the same official test",
            "recipe": recipe.model_dump(mode="json"),
        },
    )


if __name__ == "__main__":
    main()
