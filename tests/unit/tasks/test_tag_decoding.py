"""Decoding NER output: the most probable tag sequence among those that read as entities (valid IOB2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from modelyard.tasks.token_classification.decode import decode_tags
from modelyard.tasks.token_classification.metrics import tags_from_logits

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG")


def _valid(tags: list[str]) -> bool:
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def _decoded(rows: list[list[float]]) -> list[str]:
    return [LABELS[i] for i in decode_tags(np.asarray(rows, dtype=np.float32), LABELS)]


@pytest.mark.parametrize(
    ("rows", "expected", "why"),
    [
        (
            [[0.9, 0.05, 0.01, 0.02, 0.02], [0.05, 0.15, 0.7, 0.05, 0.05]],
            ["O", "B-PER"],
            "I-PER after O is impossible: the word takes its likeliest allowed tag, here the entity's start",
        ),
        (
            [[0.9, 0.05, 0.01, 0.02, 0.02], [0.2, 0.05, 0.65, 0.05, 0.05]],
            ["O", "O"],
            "... or O, where O is likelier than B-PER",
        ),
        (
            [[0.2, 0.7, 0.02, 0.06, 0.02], [0.1, 0.05, 0.3, 0.05, 0.5]],
            ["B-PER", "I-PER"],
            "B-PER I-ORG is impossible: the likelier whole reading is one PER",
        ),
        (
            [[0.05, 0.8, 0.05, 0.05, 0.05], [0.05, 0.05, 0.8, 0.05, 0.05], [0.9, 0.025, 0.025, 0.025, 0.025]],
            ["B-PER", "I-PER", "O"],
            "a valid argmax path is kept as it is",
        ),
        (
            [[0.1, 0.2, 0.5, 0.1, 0.1]],
            ["B-PER"],
            "a sentence cannot start inside an entity",
        ),
        (
            [[0.05, 0.8, 0.05, 0.05, 0.05], [0.0, 0.0, 0.0, 0.0, 0.0]],
            ["B-PER", "O"],
            "a word the model did not read is O",
        ),
    ],
)
def test_decoding_cases(rows: list[list[float]], expected: list[str], why: str) -> None:
    assert _decoded(rows) == expected, why


def test_empty_sentence_decodes_to_nothing() -> None:
    assert decode_tags(np.zeros((0, len(LABELS)), dtype=np.float32), LABELS) == []


@pytest.mark.parametrize("seed", range(20))
def test_decoding_is_the_most_probable_valid_sequence(seed: int) -> None:
    """Against brute force over every sequence of 4 words: the decoded one is valid and none valid beats it."""
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.full(len(LABELS), 0.5), size=4).astype(np.float32)
    decoded = _decoded(probabilities.tolist())
    assert _valid(decoded)

    def log_score(tags: tuple[str, ...] | list[str]) -> float:
        return float(sum(np.log(max(probabilities[w, LABELS.index(t)], 1e-12)) for w, t in enumerate(tags)))

    best = max((tags for tags in itertools.product(LABELS, repeat=4) if _valid(list(tags))), key=log_score)
    assert log_score(decoded) == pytest.approx(log_score(best), abs=1e-6)


def test_validation_metrics_decode_the_same_way() -> None:
    """The Trainer's padded subword logits are read at first subwords and decoded like predictions."""
    labels = LABELS
    logits = np.log(
        np.asarray(
            [[[0.9, 0.05, 0.01, 0.02, 0.02], [0.2, 0.2, 0.2, 0.2, 0.2], [0.05, 0.15, 0.7, 0.05, 0.05]]],
            dtype=np.float32,
        )
    )
    gold_ids = np.asarray([[0, -100, 1]])
    gold, predicted = tags_from_logits(gold_ids, logits, labels)
    assert gold == [["O", "B-PER"]]
    assert predicted == [["O", "B-PER"]]
