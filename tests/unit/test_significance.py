"""The paired bootstrap behind the retrain gate's interval: the metrics it sums, and what it concludes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap
from sklearn.metrics import f1_score

from modelyard import significance


def _labels(rng: np.random.Generator, n: int, classes: int) -> list[str]:
    return [f"c{i}" for i in rng.integers(0, classes, n)]


def test_macro_f1_from_counts_is_scikit_learns() -> None:
    rng = np.random.default_rng(1)
    gold = _labels(rng, 300, 12)
    predicted = [g if rng.random() < 0.7 else p for g, p in zip(gold, _labels(rng, 300, 14), strict=True)]
    labels = sorted(set(gold) | set(predicted))
    counts = significance.class_counts(predicted, gold, labels)
    ours = significance.macro_f1(counts.sum(axis=0, keepdims=True))[0]
    assert ours == pytest.approx(f1_score(gold, predicted, average="macro", zero_division=0), abs=1e-12)


def test_entity_f1_and_accuracy_from_counts() -> None:
    found = [{(0, 4, "PER")}, {(5, 9, "ORG"), (10, 12, "LOC")}, set()]
    gold = [{(0, 4, "PER")}, {(5, 9, "LOC")}, set()]
    sums = significance.entity_counts(found, gold).sum(axis=0, keepdims=True)
    assert significance.entity_f1(sums)[0] == pytest.approx(2 * 1 / (3 + 2))
    assert significance.entity_f1(np.zeros((1, 3)))[0] == 1.0  # nothing wanted, nothing found
    counts = significance.accuracy_counts([True, False, True, True])
    assert significance.accuracy(counts.sum(axis=0, keepdims=True))[0] == 0.75


def test_the_same_model_twice_differs_by_nothing() -> None:
    counts = significance.accuracy_counts([True, False] * 50)
    difference = significance.paired_difference(counts, counts, significance.accuracy)
    assert (difference.observed, difference.low, difference.high) == (0.0, 0.0, 0.0)


def test_interval_is_seeded_and_matches_scipys_paired_bootstrap() -> None:
    rng = np.random.default_rng(3)
    baseline = rng.random(400) < 0.80
    candidate = np.where(rng.random(400) < 0.9, baseline, ~baseline)
    ours, again = (
        significance.paired_difference(
            significance.accuracy_counts(list(baseline)),
            significance.accuracy_counts(list(candidate)),
            significance.accuracy,
            resamples=4000,
            seed=5,
        )
        for _ in range(2)
    )
    assert ours == again
    assert ours.observed == pytest.approx(candidate.mean() - baseline.mean(), abs=1e-6)
    theirs = bootstrap(
        (baseline.astype(float), candidate.astype(float)),
        lambda b, c, axis: c.mean(axis=axis) - b.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        random_state=5,
    ).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.006)
    assert ours.high == pytest.approx(theirs.high, abs=0.006)
    assert ours.low <= ours.observed <= ours.high


def test_a_clearly_better_model_is_told_apart_and_a_coin_flip_is_not() -> None:
    rng = np.random.default_rng(7)
    baseline = list(rng.random(500) < 0.6)
    better = list(rng.random(500) < 0.9)
    clear = significance.paired_difference(
        significance.accuracy_counts(baseline), significance.accuracy_counts(better), significance.accuracy
    )
    assert clear.low > 0
    flipped = [not b if i % 50 == 0 else b for i, b in enumerate(baseline)]  # 10 of 500 calls changed
    unclear = significance.paired_difference(
        significance.accuracy_counts(baseline), significance.accuracy_counts(flipped), significance.accuracy
    )
    assert unclear.observed < 0 and unclear.low < 0 < unclear.high  # a small loss, within noise


def test_counts_must_cover_the_same_examples() -> None:
    with pytest.raises(ValueError, match="same, non-empty"):
        significance.paired_difference(
            significance.accuracy_counts([True]), significance.accuracy_counts([True, False]), significance.accuracy
        )


def test_grouped_examples_are_drawn_whole() -> None:
    found = [{(0, 1, "PER")}, set(), {(0, 1, "ORG")}, {(2, 3, "LOC")}]
    gold = [{(0, 1, "PER")}, {(5, 6, "PER")}, {(0, 1, "ORG")}, {(2, 3, "PER")}]
    counts = significance.entity_counts(found, gold)
    documents = ["a", "a", "b", "c"]
    summed = significance.grouped(counts, documents)
    np.testing.assert_array_equal(summed, [[1, 1, 2], [1, 1, 1], [0, 1, 1]])
    assert significance.entity_f1(summed.sum(axis=0, keepdims=True)) == significance.entity_f1(
        counts.sum(axis=0, keepdims=True)
    )


def test_correlated_sentences_widen_the_interval_when_drawn_by_document() -> None:
    """Ten documents whose sentences all flip together: by sentence the change looks surer than it is."""
    rng = np.random.default_rng(11)
    documents = [f"d{i // 20}" for i in range(200)]
    flipped = {f"d{i}" for i in range(10) if rng.random() < 0.5}
    baseline = [True] * 200
    candidate = [doc not in flipped for doc in documents]
    by_sentence = significance.paired_difference(
        significance.accuracy_counts(baseline), significance.accuracy_counts(candidate), significance.accuracy
    )
    by_document = significance.paired_difference(
        significance.grouped(significance.accuracy_counts(baseline), documents),
        significance.grouped(significance.accuracy_counts(candidate), documents),
        significance.accuracy,
    )
    assert by_document.observed == by_sentence.observed
    assert by_document.high - by_document.low > 2 * (by_sentence.high - by_sentence.low)
