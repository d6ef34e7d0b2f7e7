"""Retrain on accepted feedback and promote only through the recipe's gate.

``retrain(model)``:

1. a new dataset version = the production version's training data + accepted
   feedback (one example per input, a correction replacing the training row with
   the same text), minus a seeded share of the feedback held out; validation and
   test splits unchanged; the lineage (parent dataset, feedback ids) is recorded;
2. the same recipe trains a candidate on it;
3. candidate and production are scored on the same frozen holdout (the original
   test split), with a paired-bootstrap interval of the change (``significance``),
   and on the held-out feedback;
4. the gate decides: no more than ``max_drop`` lost on the frozen holdout (with
   ``confidence``: not even at the low end of the interval), and at least
   ``min_fixed`` of production's mistakes in the held-out feedback fixed.
   The decision and both scores are stored; only a pass promotes the candidate.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from sklearn.metrics import f1_score

from modelyard import feedback, registry, significance, store
from modelyard import train as training
from modelyard.config import DataSpec, GateSpec, Recipe
from modelyard.data.versions import info_of, load_splits, save_version
from modelyard.errors import DataError
from modelyard.predict import load_predictor

MIN_DOCUMENTS = 20
"""An NER holdout from fewer documents is resampled by sentence for the gate's interval."""


@dataclass(frozen=True)
class Decision:
    model: str
    candidate: registry.VersionInfo
    baseline: registry.VersionInfo
    promoted: bool
    reasons: list[str]
    scores: dict[str, Any]
    dataset: str


def retrain(model: str, *, console: Console | None = None) -> Decision:
    baseline = registry.get(model)
    recipe = Recipe.model_validate(baseline.config)
    gate = recipe.gate
    parent = info_of(baseline.dataset_hash)
    splits = load_splits(parent)
    corrections = feedback.accepted(baseline.name)
    if not corrections:
        raise DataError(
            f"no accepted feedback for {baseline.name}; review it with `modelyard feedback list` and accept "
            "corrections with `modelyard feedback accept ID` first"
        )
    examples = [_example(baseline.task, c) for c in corrections]
    held_ids = _held_out(len(examples), gate, seed=recipe.training.seed)
    held = [e for i, e in enumerate(examples) if i in held_ids]
    learn = [e for i, e in enumerate(examples) if i not in held_ids]
    corrected = {e.text for e in examples}  # a corrected text never keeps its old training label
    new_splits = dict(splits) | {"train": [e for e in splits["train"] if e.text not in corrected] + learn}
    report = dict(parent.report) | {
        "lineage": {
            "parent": parent.ref,
            "feedback_ids": [c.feedback_id for i, c in enumerate(corrections) if i not in held_ids],
            "feedback_holdout_ids": [c.feedback_id for i, c in enumerate(corrections) if i in held_ids],
        }
    }
    dataset = save_version(
        new_splits, report, recipe.data.pii, project=parent.project, name=parent.name, task=baseline.task
    )
    candidate_recipe = recipe.model_copy(update={"data": DataSpec(dataset=dataset.ref, pii=recipe.data.pii)})
    result = training.run(candidate_recipe, console=console)
    assert result.version is not None  # retrain runs in one process
    candidate = result.version

    frozen = splits.get("test") or splits["validation"]
    metric = gate.metric or ("f1" if baseline.task == "token-classification" else "accuracy")
    scores: dict[str, Any] = {"metric": metric, "frozen_holdout": len(frozen), "feedback_holdout": len(held)}
    on_frozen: dict[str, list[Any]] = {}
    for role, version in (("baseline", baseline), ("candidate", candidate)):
        _, predictor = load_predictor(version.ref)
        on_frozen[role] = _predicted(baseline.task, predictor, frozen)
        on_feedback = _predicted(baseline.task, predictor, held) if held else []
        scores[role] = {
            "frozen": _score(baseline.task, on_frozen[role], frozen, metric),
            "feedback": _score(baseline.task, on_feedback, held, metric) if held else None,
            "right_on_feedback": [p == _gold(baseline.task, e) for p, e in zip(on_feedback, held, strict=True)],
        }
    difference, unit = _difference(
        baseline.task, on_frozen, frozen, metric, gate.confidence or 0.95, recipe.training.seed
    )
    scores["difference"] = asdict(difference) | {"resampled": unit}
    promoted, reasons = _gate(gate, scores)
    scores["fixed"] = _fixed(scores)
    with store.session() as db:
        db.add(
            store.PromotionDecision(
                model_name=baseline.name,
                candidate=candidate.version,
                baseline=baseline.version,
                promoted=promoted,
                reasons=reasons,
                scores=scores,
            )
        )
    if promoted:
        candidate = registry.promote(candidate.ref, "production", reason=f"retrain gate passed over {baseline.ref}")
    return Decision(baseline.name, candidate, baseline, promoted, reasons, scores, dataset.ref)


def _example(task: str, correction: feedback.Correction) -> Any:
    if task == "token-classification":
        from modelyard.tasks.token_classification.formats import TokenExample
        from modelyard.tasks.token_classification.tags import Span, split_words

        spans = tuple(Span(e["start"], e["end"], e["label"]) for e in correction.correct_entities or [])
        return TokenExample(correction.text, tuple(split_words(correction.text)), spans)
    from modelyard.data.validate import Example

    return Example(correction.text, correction.correct_label or "")


def _held_out(total: int, gate: GateSpec, seed: int) -> set[int]:
    """Seeded indices of the corrections kept out of training to check the candidate on."""
    count = round(total * gate.feedback_holdout)
    if total > 1 and gate.feedback_holdout > 0:
        count = max(1, min(count, total - 1))  # something to learn from and something to check on
    order = list(range(total))
    random.Random(seed).shuffle(order)
    return set(order[:count])


def _predicted(task: str, predictor: Any, examples: list[Any]) -> list[Any]:
    texts = [e.text for e in examples]
    if task == "token-classification":
        # A test sentence is read among its document's neighbours, as evaluate reads it.
        found = predictor.entities(texts, [e.document for e in examples])
        return [{(e.start, e.end, e.label) for e in entities} for entities in found]
    return [found[0].label for found in predictor.predict(texts, 1)]


def _gold(task: str, example: Any) -> Any:
    if task == "token-classification":
        return {(s.start, s.end, s.label) for s in example.entities}
    return example.label


def _score(task: str, predicted: list[Any], examples: list[Any], metric: str) -> float:
    gold = [_gold(task, e) for e in examples]
    if task == "token-classification":
        hits = sum(len(p & g) for p, g in zip(predicted, gold, strict=True))
        found, wanted = sum(len(p) for p in predicted), sum(len(g) for g in gold)
        return round(2 * hits / (found + wanted), 6) if found + wanted else 1.0
    if metric == "macro_f1":
        return round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 6)
    return round(sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold), 6)


def _difference(
    task: str, predicted: dict[str, list[Any]], examples: list[Any], metric: str, confidence: float, seed: int
) -> tuple[significance.Difference, str]:
    """Candidate minus production on the frozen holdout, with its paired-bootstrap interval, and what was
    resampled (examples, sentences or documents)."""
    gold = [_gold(task, e) for e in examples]
    counts: dict[str, significance.Counts]
    score: significance.Metric
    unit = "examples"
    if task == "token-classification":
        counts = {role: significance.entity_counts(found, gold) for role, found in predicted.items()}
        score = significance.entity_f1
        unit = "sentences"
        documents = [e.document if e.document is not None else f"#{i}" for i, e in enumerate(examples)]
        # A document's sentences are read together, so they are resampled together; with too few documents
        # to resample, the spread would be mostly luck (one document: none at all), so sentences are.
        if len(set(documents)) >= MIN_DOCUMENTS:
            counts = {role: significance.grouped(rows, documents) for role, rows in counts.items()}
            unit = "documents"
    elif metric == "macro_f1":
        labels = sorted(set(gold).union(*predicted.values()))
        counts = {role: significance.class_counts(found, gold, labels) for role, found in predicted.items()}
        score = significance.macro_f1
    else:
        counts = {
            role: significance.accuracy_counts([p == g for p, g in zip(found, gold, strict=True)])
            for role, found in predicted.items()
        }
        score = significance.accuracy
    difference = significance.paired_difference(
        counts["baseline"], counts["candidate"], score, confidence=confidence, seed=seed
    )
    return difference, unit


def _fixed(scores: dict[str, Any]) -> float | None:
    """Of the held-out corrections production gets wrong, the share the candidate gets right."""
    pairs = zip(scores["baseline"]["right_on_feedback"], scores["candidate"]["right_on_feedback"], strict=True)
    mistakes = [candidate for baseline, candidate in pairs if not baseline]
    return round(sum(mistakes) / len(mistakes), 6) if mistakes else None


def _gate(gate: GateSpec, scores: dict[str, Any]) -> tuple[bool, list[str]]:
    reasons = []
    before, after = scores["baseline"]["frozen"], scores["candidate"]["frozen"]
    drop = round(before - after, 6)
    size = scores["frozen_holdout"]
    # Said with the drop: on a small holdout one example can exceed max_drop, a hint to hold out more.
    grain = f"; {size} examples, one is {1 / size:.4f}" if size else ""
    difference = scores.get("difference")
    spread = ""
    if difference is not None:
        level = f"{difference['confidence']:.0%}"
        spread = f"; {level} interval of the change [{difference['low']:+.4f}, {difference['high']:+.4f}]"
        spread += f" resampling {difference['resampled']}" if "resampled" in difference else ""
    if gate.confidence is None or difference is None:
        passed = drop <= gate.max_drop
        rule = f"allowed {gate.max_drop}"
    else:
        # The drop must stay within max_drop even at the interval's low end: promote only when sure.
        passed = drop <= gate.max_drop and -difference["low"] <= gate.max_drop
        rule = f"allowed {gate.max_drop} with {difference['confidence']:.0%} confidence"
    reasons.append(
        f"frozen holdout {scores['metric']}: {before:.4f} → {after:.4f} "
        f"(drop {drop:+.4f}, {rule}{grain}{spread})" + ("" if passed else ": REFUSED")
    )
    fixed = _fixed(scores)
    if fixed is None:
        reasons.append("held-out feedback: production made no mistake there (or none was held out); not checked")
    else:
        fixed_ok = fixed >= gate.min_fixed
        passed = passed and fixed_ok
        reasons.append(
            f"held-out feedback: fixes {fixed:.0%} of production's mistakes (needs {gate.min_fixed:.0%})"
            + ("" if fixed_ok else ": REFUSED")
        )
    return passed, reasons


def decisions(model: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Stored gate decisions, newest first."""
    from sqlalchemy import select

    with store.session() as db:
        query = select(store.PromotionDecision).order_by(store.PromotionDecision.id.desc()).limit(limit)
        if model is not None:
            query = query.where(store.PromotionDecision.model_name == model)
        return [
            {
                "model": row.model_name,
                "candidate": row.candidate,
                "baseline": row.baseline,
                "promoted": row.promoted,
                "reasons": row.reasons,
                "scores": row.scores,
                "at": row.at.isoformat(),
            }
            for row in db.scalars(query)
        ]


__all__ = ["Decision", "decisions", "retrain"]
