"""Document consistency: a word's mentions in one document pull toward one entity type before decoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from modelyard.tasks.token_classification.consistency import harmonise
from modelyard.tasks.token_classification.metrics import tags_from_logits

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG")
GROUPS = np.asarray([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float64)
"""Tags × (O, PER, ORG): what a row's type probabilities are."""


def _rows(*rows: list[float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


# "Lens" is clearly an ORG in the first sentence and read as a PER in the thin second one.
WORDS = [["Lens", "won"], ["Lens", "2"]]
MATRICES = [
    _rows([0.05, 0.05, 0.0, 0.85, 0.05], [0.9, 0.05, 0.0, 0.05, 0.0]),
    _rows([0.1, 0.5, 0.0, 0.4, 0.0], [0.9, 0.05, 0.0, 0.05, 0.0]),
]


def test_weight_zero_changes_nothing() -> None:
    out = harmonise(WORDS, ["d", "d"], MATRICES, LABELS, 0.0)
    for a, b in zip(out, MATRICES, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mentions_move_toward_their_mean_type_and_rows_stay_distributions() -> None:
    weight = 0.75
    out = harmonise(WORDS, ["d", "d"], MATRICES, LABELS, weight)
    before = np.stack([MATRICES[0][0], MATRICES[1][0]]).astype(np.float64) @ GROUPS
    after = np.stack([out[0][0], out[1][0]]).astype(np.float64) @ GROUPS
    np.testing.assert_allclose(after, (1 - weight) * before + weight * before.mean(axis=0), atol=1e-6)
    assert [LABELS[int(row.argmax())] for row in (out[0][0], out[1][0])] == ["B-ORG", "B-ORG"]
    for matrix in out:
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-6)
    # Words said once in the document keep their row; the input is left as it was.
    np.testing.assert_array_equal(out[0][1], MATRICES[0][1])
    assert MATRICES[1][0][1] == pytest.approx(0.5)


def test_weight_one_gives_every_mention_the_same_type_distribution() -> None:
    out = harmonise(WORDS, ["d", "d"], MATRICES, LABELS, 1.0)
    np.testing.assert_allclose(out[0][0] @ GROUPS, out[1][0] @ GROUPS, atol=1e-6)


def test_each_mention_keeps_its_own_begin_inside_split() -> None:
    words = [["New", "York", "Times"], ["York"]]
    matrices = [
        _rows([0.1, 0.0, 0.0, 0.9, 0.0], [0.1, 0.0, 0.0, 0.0, 0.9], [0.1, 0.0, 0.0, 0.0, 0.9]),
        _rows([0.2, 0.0, 0.0, 0.8, 0.0]),
    ]
    out = harmonise(words, ["d", "d"], matrices, LABELS, 0.75)
    assert out[0][1][4] > 0 and out[0][1][3] == 0, "York inside the name stays I-ORG"
    assert out[1][0][3] > 0 and out[1][0][4] == 0, "York alone stays B-ORG"


def test_a_type_a_mention_had_no_mass_for_starts_at_its_begin_tag() -> None:
    matrices = [_rows([1.0, 0.0, 0.0, 0.0, 0.0]), _rows([0.0, 1.0, 0.0, 0.0, 0.0])]
    out = harmonise([["Ann"], ["Ann"]], ["d", "d"], matrices, LABELS, 0.5)
    np.testing.assert_allclose(out[0][0], [0.75, 0.25, 0.0, 0.0, 0.0], atol=1e-6)  # half way to the mean (0.5, 0.5)


def test_documents_case_and_unread_words_keep_mentions_apart() -> None:
    unread = [_rows([0.0] * 5, [0.9, 0.05, 0.0, 0.05, 0.0])]
    # Other documents, a text without a document, and another letter case are other words.
    for words, documents, matrices in [
        (WORDS, ["a", "b"], MATRICES),
        (WORDS, None, MATRICES),
        (WORDS, [None, None], MATRICES),
        ([["Lens", "won"], ["LENS", "2"]], ["d", "d"], MATRICES),
        ([["Lens", "won"], ["Lens", "2"]], ["d", "d"], [unread[0], MATRICES[1]]),
    ]:
        out = harmonise(words, documents, matrices, LABELS, 0.75)
        for a, b in zip(out, matrices, strict=True):
            np.testing.assert_array_equal(a, b)
    # Within one text, a repeated word is its own document's mentions.
    [out] = harmonise([["Lens", "beat", "Lens"]], None, [np.concatenate(MATRICES)[[0, 1, 2]]], LABELS, 1.0)
    np.testing.assert_allclose(out[0] @ GROUPS, out[2] @ GROUPS, atol=1e-6)


@dataclass
class _Example:
    text: str
    words: list[tuple[int, int]]
    document: str | None


def test_validation_metrics_read_with_the_recipes_consistency() -> None:
    """Training's validation and test figures read as prediction does, the examples giving words and documents."""
    examples = [_Example("Lens won", [(0, 4), (5, 8)], "d"), _Example("Lens 2", [(0, 4), (5, 6)], "d")]
    logits = np.log(np.stack(MATRICES) + 1e-9)
    gold_ids = np.asarray([[3, 0], [3, 0]])
    _, alone = tags_from_logits(gold_ids, logits, LABELS)
    assert alone == [["B-ORG", "O"], ["B-PER", "O"]]
    _, read = tags_from_logits(gold_ids, logits, LABELS, examples, 0.75)
    assert read == [["B-ORG", "O"], ["B-ORG", "O"]]


def test_a_sentence_whose_rows_do_not_match_its_words_is_read_on_its_own() -> None:
    """A word the tokenizer drops gets no label, so rows and words no longer pair up: no harmonising."""
    examples = [_Example("Lens won", [(0, 4), (5, 8)], "d"), _Example("Lens \u200b 2", [(0, 4), (5, 6), (7, 8)], "d")]
    logits = np.log(np.stack(MATRICES) + 1e-9)
    gold_ids = np.asarray([[3, 0], [3, 0]])
    _, read = tags_from_logits(gold_ids, logits, LABELS, examples, 0.75)
    assert read == [["B-ORG", "O"], ["B-PER", "O"]]
