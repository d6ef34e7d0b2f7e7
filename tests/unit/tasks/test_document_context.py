"""Document context for NER: windows of neighbouring words, cut to fit; labels only on the sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard import models
from modelyard.errors import DataError
from modelyard.tasks.labels import LabelMap
from modelyard.tasks.token_classification.context import windows
from modelyard.tasks.token_classification.data import IGNORED, encode, from_record, to_record
from modelyard.tasks.token_classification.formats import read_conll, read_span_jsonl

SENTENCES = [["a", "b"], ["c", "d", "e"], ["f"], ["g", "h"]]


def one(_: str) -> int:
    return 1


def test_a_window_holds_the_neighbours_of_the_same_document_only() -> None:
    found = windows(SENTENCES, ["x", "x", "x", "y"], 2, one, 100)
    assert [(w.words, w.start, w.end) for w in found] == [
        (["a", "b", "c", "d"], 0, 2),
        (["a", "b", "c", "d", "e", "f"], 2, 5),
        (["d", "e", "f"], 2, 3),
        (["g", "h"], 0, 2),  # document y has no other sentence
    ]


def test_sentences_without_a_document_or_without_context_stand_alone() -> None:
    assert [w.words for w in windows(SENTENCES, [None] * 4, 2, one, 100)] == SENTENCES
    assert [w.words for w in windows(SENTENCES, ["x"] * 4, 0, one, 100)] == SENTENCES


def test_the_window_is_cut_to_fit_nearest_words_first_and_never_the_sentence() -> None:
    window = windows(SENTENCES, ["x"] * 4, 10, one, 5)[1]
    assert window.words == ["b", "c", "d", "e", "f"] and (window.start, window.end) == (1, 4)
    long_words = windows(SENTENCES, ["x"] * 4, 10, lambda word: 5 if word == "b" else 1, 6)[1]
    assert long_words.words == ["c", "d", "e", "f", "g", "h"]  # "b" does not fit; the right side still fills
    squeezed = windows(SENTENCES, ["x"] * 4, 10, one, 2)[1]
    assert squeezed.words == ["c", "d", "e"]  # a sentence longer than the budget is kept whole


def test_conll_sections_and_jsonl_ids_are_documents(tmp_path: Path) -> None:
    conll = tmp_path / "docs.conll"
    conll.write_text(
        "Ann B-PER\n\n-DOCSTART- O\n\nBob B-PER\n\nsees O\n\n-DOCSTART- O\n\nCid B-PER\n", encoding="utf-8"
    )
    assert [e.document for e in read_conll(conll)] == [None, "1", "1", "2"]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(record)
            for record in (
                {"text": "Ann", "entities": [], "document": "memo-1"},
                {"text": "Bob", "entities": [], "document": 7},
                {"text": "Cid", "entities": []},
            )
        ),
        encoding="utf-8",
    )
    examples = read_span_jsonl(jsonl)
    assert [e.document for e in examples] == ["memo-1", "7", None]
    assert [from_record(to_record(e), 1).document for e in examples] == ["memo-1", "7", None]
    assert "document" not in to_record(examples[2])  # datasets without documents keep their content hash


def test_a_document_id_that_is_not_a_string_or_integer_is_refused(tmp_path: Path) -> None:
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"text": "Ann", "entities": [], "document": [1]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 1: 'document' must be a string or an integer id"):
        read_span_jsonl(jsonl)


def test_encode_labels_only_the_sentence_inside_its_context(tmp_path: Path) -> None:
    conll = tmp_path / "doc.conll"
    conll.write_text("-DOCSTART- O\n\nAnn B-PER\nsings O\n\nBob B-PER\nplays O\n", encoding="utf-8")
    first, second = read_conll(conll)
    tokenizer = models.load_tokenizer(models.resolve("minilm-l6"))
    tags = LabelMap(("O", "B-PER", "I-PER"), False)
    alone = encode([second], tokenizer, tags, 32)[0]
    inside = encode([first, second], tokenizer, tags, 32, document_context=4)[1]
    assert len(inside["input_ids"]) > len(alone["input_ids"])  # "ann sings" comes before "bob plays"
    assert [label for label in inside["labels"] if label != IGNORED] == [1, 0]
    assert [label for label in alone["labels"] if label != IGNORED] == [1, 0]
    assert tokenizer.decode(inside["input_ids"], skip_special_tokens=True) == "ann sings bob plays"


def test_context_dropout_reads_a_seeded_share_of_training_sentences_alone(tmp_path: Path) -> None:
    conll = tmp_path / "doc.conll"
    sentences = "".join(f"Ann{i} B-PER\nsings O\n\n" for i in range(40))
    conll.write_text("-DOCSTART- O\n\n" + sentences, encoding="utf-8")
    examples = read_conll(conll)
    tokenizer = models.load_tokenizer(models.resolve("minilm-l6"))
    tags = LabelMap(("O", "B-PER", "I-PER"), False)
    alone = encode(examples, tokenizer, tags, 32)
    inside = encode(examples, tokenizer, tags, 32, document_context=4)
    dropped = encode(examples, tokenizer, tags, 32, document_context=4, context_dropout=0.5)
    standing = [d["input_ids"] == a["input_ids"] for d, a in zip(dropped, alone, strict=True)]
    assert 10 <= sum(standing) <= 30  # about half stand alone ...
    for d, i, stands in zip(dropped, inside, standing, strict=True):
        assert stands or d["input_ids"] == i["input_ids"]  # ... the others keep their whole context
        assert [label for label in d["labels"] if label != IGNORED] == [1, 0]
    again = encode(examples, tokenizer, tags, 32, document_context=4, context_dropout=0.5)
    assert [d["input_ids"] for d in again] == [d["input_ids"] for d in dropped]  # seeded: the same draw
