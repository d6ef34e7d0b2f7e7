"""Faithfulness and latency of explanations on Banking77 (bar: faithfulness_gap > 0 with its 95% CI; p50/p95 ms).

Deletion test: for each of ``--n`` official test texts (seeded sample), explain the predicted
label, delete the k highest-scored words from the text (their characters are cut out and the
whitespace closed up; the text is re-tokenized, no [MASK] is inserted) and measure the drop of the
predicted label's probability; do the same for k words drawn at random (the mean over
``--random-draws`` draws). gap = drop_topk − drop_random per text; faithfulness_gap is its mean
with a bootstrap 95% CI over texts (2,000 resamples). k = 1, 2, 3 and 20% of the words (at least
one); a text takes part for a k only if it keeps at least one word. The headline is k = 20%.

Methods compared: integrated gradients with the default steps (the library default), IG with 8
steps, gradient × (input − baseline) embeddings (one backward pass at the input)
and leave-one-word-out occlusion (the probability drop of deleting each word alone, one batched
forward pass). Latency is the wall time of one explanation on this machine, ``p50_ms``/``p95_ms``
(the load average is recorded too: trainings running beside it slow everything down).

The model: ``--home``/``--model`` name an existing version; otherwise configs/banking77.yaml is
trained in an isolated home with ``--epochs`` (default 3, no early stopping) — enough for test
accuracy well above 0.8 (the full recipe reaches 0.927), which is all a deletion test needs.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, isolated_home, write_result

K_VALUES: tuple[str, ...] = ("1", "2", "3", "20%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="An existing MODELYARD_HOME holding the model (skips training).")
    parser.add_argument("--model", default="banking77", help="NAME[:VERSION] in --home (default banking77).")
    parser.add_argument("--recipe", default="configs/banking77.yaml")
    parser.add_argument("--epochs", type=float, default=3.0, help="Training epochs when no --home is given.")
    parser.add_argument("--max-steps", type=int, default=-1, help="Cap training steps (quick trial runs only).")
    parser.add_argument("--n", type=int, default=300, help="Test texts to explain (the bar needs >= 200).")
    parser.add_argument("--steps", type=int, default=None, help="IG steps of the default method (library default).")
    parser.add_argument("--random-draws", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="explain", help="Result name: benchmarks/results/<name>.json.")
    args = parser.parse_args()
    load_start = os.getloadavg()

    if args.home is not None:
        os.environ["MODELYARD_HOME"] = str(args.home.resolve())
        os.environ.pop("MODELYARD_DB_URL", None)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        trained: dict[str, Any] = {"home": str(args.home)}
    else:
        isolated_home("explain")
        trained = _train(args)
    from modelyard import explain, registry
    from modelyard.data import fetch
    from modelyard.explain import Explainer
    from modelyard.tasks.text_classification.predict import Predictor

    version = registry.get(trained.get("ref", args.model))
    max_length = int(version.config["model"]["max_length"])
    explainer = Explainer.load(version.path, max_length)
    predictor = Predictor(version.path, max_length)
    default_steps = args.steps or explain.DEFAULT_STEPS

    with fetch.fetch("banking77").splits["test"].open(encoding="utf-8", newline="") as handle:
        test = list(csv.DictReader(handle))
    rows = random.Random(args.seed).sample(test, min(args.n, len(test)))
    texts = [row["text"] for row in rows]
    probs = predictor.probabilities(texts)
    predicted = probs.argmax(axis=1)
    labels = predictor.label_map.labels
    sample_accuracy = float(np.mean([labels[p] == row["label"] for p, row in zip(predicted, rows, strict=True)]))

    deltas: dict[str, list[tuple[float, float]]] = {
        f"integrated_gradients_{default_steps}": [],
        "integrated_gradients_8": [],
    }
    methods = {
        f"integrated_gradients_{default_steps}": _ig(explainer, default_steps, deltas),
        "integrated_gradients_8": _ig(explainer, 8, deltas),
        "gradient_x_input": _gradient_x_input(explainer),
        "occlusion": _occlusion(predictor),
    }
    results = {}
    for name, method in methods.items():
        print(f"{name}: explaining {len(texts)} texts", flush=True)
        results[name] = _evaluate(method, texts, probs, predicted, predictor, args.random_draws, args.seed)
        if deltas.get(name):
            pairs = np.asarray(deltas[name])
            # Completeness: |delta| against the size of what is explained, |sum of scores| (logits).
            results[name] |= {
                "mean_abs_delta": round(float(np.abs(pairs[:, 0]).mean()), 5),
                "mean_abs_attribution_sum": round(float(np.abs(pairs[:, 1]).mean()), 4),
            }
    headline = results[f"integrated_gradients_{default_steps}"]
    write_result(
        args.output,
        {
            "method": f"integrated gradients, {default_steps} Gauss-Legendre steps, [PAD] baseline",
            "faithfulness_gap": headline["by_k"]["20%"]["gap"],
            "faithfulness_gap_ci95": headline["by_k"]["20%"]["ci95"],
            "p50_ms": headline["p50_ms"],
            "p95_ms": headline["p95_ms"],
            "bar": {"faithfulness_gap": "> 0 with its 95% CI above 0", "n_texts": ">= 200"},
            "n_texts": len(texts),
            "k_values": list(K_VALUES),
            "deletion": "words cut out of the text (whitespace closed up), re-tokenized; no [MASK] inserted",
            "random_draws": args.random_draws,
            "sample_accuracy": round(sample_accuracy, 4),
            "model": trained | {"ref": version.ref, "test_accuracy": version.metrics.get("accuracy")},
            "methods": results,
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
    )


def _train(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from modelyard import train
    from modelyard.config import parse_recipe

    raw = yaml.safe_load((ROOT / args.recipe).read_text(encoding="utf-8"))
    raw["training"] |= {"epochs": args.epochs, "early_stopping_patience": None, "max_steps": args.max_steps}
    result = train.run(parse_recipe(raw, args.recipe))
    assert result.version is not None
    return {
        "ref": result.version.ref,
        "recipe": args.recipe,
        "epochs": args.epochs,
        "max_steps": args.max_steps,
        "train_seconds": result.train_seconds,
    }


Scorer = Any  # text -> (word spans, word scores) toward the predicted label


def _ig(explainer: Any, steps: int, deltas: dict[str, list[tuple[float, float]]]) -> Scorer:
    def score(text: str) -> tuple[list[tuple[int, int]], list[float]]:
        result = explainer.explain(text, n_steps=steps)
        [attribution] = result.attributions
        words = attribution.words
        deltas[f"integrated_gradients_{steps}"].append((attribution.delta, sum(w.score for w in words)))
        return [(w.start, w.end) for w in words], [w.score for w in words]

    return score


def _gradient_x_input(explainer: Any) -> Scorer:
    """The gradient of the predicted logit at the input times (input − baseline) embeddings: one backward pass,
    the same [PAD] baseline and word sums as IG (through the explainer's internals)."""
    import torch

    embeddings = explainer.model.get_input_embeddings()

    def score(text: str) -> tuple[list[tuple[int, int]], list[float]]:
        encoded = explainer._encode(text)
        ids = encoded.inputs["input_ids"]
        special = torch.tensor(encoded.special)
        baseline = torch.where(special, ids, torch.full_like(ids, explainer.pad_id))
        others = {name: value for name, value in encoded.inputs.items() if name != "input_ids"}
        with torch.enable_grad():
            inputs = embeddings(ids).detach().requires_grad_(True)
            logits = explainer.model(inputs_embeds=inputs, **others).logits[0]
            [gradient] = torch.autograd.grad(logits[logits.argmax()], inputs)
        scores = ((inputs.detach() - embeddings(baseline)) * gradient).sum(-1)[0].tolist()
        per_word = [0.0] * len(encoded.words)
        for word, value in zip(encoded.token_words, scores, strict=True):
            if word is not None:
                per_word[word] += value
        return encoded.words, per_word

    return score


def _occlusion(predictor: Any) -> Scorer:
    from modelyard.tasks.token_classification.tags import split_words

    def score(text: str) -> tuple[list[tuple[int, int]], list[float]]:
        words = split_words(text)
        variants = [text, *(_delete(text, words, {i}) for i in range(len(words)))]
        probs = predictor.probabilities(variants)
        target = int(probs[0].argmax())
        return words, [float(probs[0, target] - p) for p in probs[1:, target]]

    return score


def _delete(text: str, words: list[tuple[int, int]], chosen: set[int]) -> str:
    pieces, last = [], 0
    for i, (start, end) in enumerate(words):
        if i in chosen:
            pieces.append(text[last:start])
            last = end
    pieces.append(text[last:])
    return " ".join("".join(pieces).split())


def _k(spec: str, n_words: int) -> int:
    return max(1, round(0.2 * n_words)) if spec.endswith("%") else int(spec)


def _evaluate(
    method: Scorer,
    texts: list[str],
    probs: np.ndarray,
    predicted: np.ndarray,
    predictor: Any,
    draws: int,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    timings: list[float] = []
    gaps: dict[str, list[float]] = {k: [] for k in K_VALUES}
    drops: dict[str, list[tuple[float, float]]] = {k: [] for k in K_VALUES}
    for i, text in enumerate(texts):
        started = time.perf_counter()
        words, scores = method(text)
        timings.append((time.perf_counter() - started) * 1000)
        variants: list[str] = []
        plan: list[tuple[str, int, int]] = []  # (k, first variant, count)
        for spec in K_VALUES:
            k = _k(spec, len(words))
            if k >= len(words):
                continue
            top = set(np.argsort(-np.asarray(scores), kind="stable")[:k].tolist())
            plan.append((spec, len(variants), 1 + draws))
            variants.append(_delete(text, words, top))
            variants += [_delete(text, words, set(rng.sample(range(len(words)), k))) for _ in range(draws)]
        if not variants:
            continue
        target = int(predicted[i])
        after = predictor.probabilities(variants)[:, target]
        for spec, first, count in plan:
            drop_top = float(probs[i, target] - after[first])
            drop_random = float(np.mean(probs[i, target] - after[first + 1 : first + count]))
            gaps[spec].append(drop_top - drop_random)
            drops[spec].append((drop_top, drop_random))
    by_k = {}
    for spec in K_VALUES:
        values = np.asarray(gaps[spec])
        pairs = np.asarray(drops[spec]).reshape(-1, 2)
        by_k[spec] = {
            "gap": round(float(values.mean()), 4),
            "ci95": _bootstrap(values, seed),
            "drop_topk": round(float(pairs[:, 0].mean()), 4),
            "drop_random": round(float(pairs[:, 1].mean()), 4),
            "n": len(values),
        }
    return {
        "by_k": by_k,
        "p50_ms": round(float(np.percentile(timings, 50)), 1),
        "p95_ms": round(float(np.percentile(timings, 95)), 1),
        "mean_ms": round(float(np.mean(timings)), 1),
    }


def _bootstrap(values: np.ndarray, seed: int, resamples: int = 2000) -> list[float]:
    if len(values) == 0:
        return [math.nan, math.nan]
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


if __name__ == "__main__":
    main()
