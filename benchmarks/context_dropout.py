"""Context dropout: does reading some training sentences alone keep a document-context NER model good on
lone sentences, and what does it cost with documents?

One-epoch runs of configs/conll2003.yaml (case features, 48 words of document context), identical but for
`model.context_dropout`; each model is scored on the official CoNLL-2003 validation and test sets twice:
every sentence among its document's neighbours (as `modelyard evaluate` reads a CoNLL file), and every
sentence alone (as `modelyard predict` reads a text sent without its document).
`--dropouts 0.5` runs a subset.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import ROOT, isolated_home, write_result


def scores(folder: Path, files: dict[str, Path]) -> dict[str, float]:
    """Entity F1 per split, read with documents and alone."""
    from modelyard.tasks.token_classification.data import word_strings
    from modelyard.tasks.token_classification.formats import read_conll
    from modelyard.tasks.token_classification.metrics import compute_metrics
    from modelyard.tasks.token_classification.predict import TokenPredictor

    predictor = TokenPredictor(folder)
    out = {}
    for split, path in files.items():
        examples = read_conll(path)
        sentences = [word_strings(e) for e in examples]
        gold = [e.tags for e in examples]
        documents = [e.document for e in examples]
        out[f"{split}_f1_documents"] = compute_metrics(gold, predictor.word_tags(sentences, documents))["f1"]
        out[f"{split}_f1_alone"] = compute_metrics(gold, predictor.word_tags(sentences))["f1"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="configs/conll2003.yaml")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--dropouts", type=float, nargs="+", default=[0.0, 0.5])  # 0 as a baseline
    args = parser.parse_args()
    isolated_home("context_dropout")
    from modelyard import train
    from modelyard.config import load_recipe
    from modelyard.data import fetch

    recipe = load_recipe(ROOT / args.recipe)
    splits = fetch.fetch("conll2003").splits
    files = {split: Path(splits[split]) for split in ("validation", "test")}
    runs: dict[str, Any] = {}
    for dropout in args.dropouts:
        variant = recipe.model_copy(
            update={
                "name": f"conll2003-context-dropout-{int(dropout * 100)}",
                # Read without document consistency, as the committed figures were: the training switch alone.
                "model": recipe.model.model_copy(update={"context_dropout": dropout, "document_consistency": 0.0}),
                "training": recipe.training.model_copy(update={"epochs": args.epochs}),
            }
        )
        result = train.run(variant)
        assert result.version is not None
        runs[f"{dropout:g}"] = scores(result.version.path, files) | {
            "train_seconds": result.metrics["train_seconds"],
            "model": variant.model.model_dump(mode="json"),
        }
    write_result("context_dropout", {"epochs": args.epochs, "runs": runs, "recipe": recipe.model_dump(mode="json")})


if __name__ == "__main__":
    main()
