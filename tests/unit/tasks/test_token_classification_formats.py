"""Tests for NER tag schemes, spans and the CoNLL / span-JSONL readers: tables of inputs and outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.errors import ConfigError, DataError
from modelyard.tasks.token_classification.formats import TokenExample, read_conll, read_span_jsonl
from modelyard.tasks.token_classification.tags import (
    Span,
    check_spans,
    from_iob2,
    spans_to_tags,
    split_words,
    tags_to_spans,
    to_iob2,
)

# ---- tag schemes -------------------------------------------------------------------------------

# (scheme, tags in that scheme, the same tags in IOB2)
VALID = [
    ("IOB2", "O B-PER I-PER O B-LOC", "O B-PER I-PER O B-LOC"),
    ("IOB2", "B-PER B-PER I-PER B-LOC", "B-PER B-PER I-PER B-LOC"),
    ("BIO", "B-ORG I-ORG", "B-ORG I-ORG"),
    ("IOB2", "", ""),
    ("IOB1", "I-PER I-PER O I-LOC", "B-PER I-PER O B-LOC"),
    ("IOB1", "I-PER B-PER I-PER", "B-PER B-PER I-PER"),
    ("IOB1", "I-PER I-LOC", "B-PER B-LOC"),
    ("IOB1", "I-PER B-PER B-PER", "B-PER B-PER B-PER"),
    ("IOBES", "S-PER O B-LOC I-LOC E-LOC", "B-PER O B-LOC I-LOC I-LOC"),
    ("IOBES", "B-PER E-PER S-PER S-LOC", "B-PER I-PER B-PER B-LOC"),
    ("iobes", "O O", "O O"),
    ("BILOU", "U-PER B-LOC L-LOC", "B-PER B-LOC I-LOC"),
]


@pytest.mark.parametrize(("scheme", "tags", "expected"), VALID)
def test_to_iob2_valid(scheme: str, tags: str, expected: str) -> None:
    assert to_iob2(tags.split(), scheme, where="t") == expected.split()


ROUND_TRIP = [
    "O O O",
    "B-PER",
    "B-PER I-PER I-PER O B-LOC",
    "B-PER B-PER I-PER B-PER",
    "B-PER B-LOC I-LOC B-LOC",
    "O B-MISC I-MISC O B-ORG B-PER I-PER",
    "",
]


@pytest.mark.parametrize("scheme", ["IOB2", "IOB1", "IOBES", "BIO", "BILOU"])
@pytest.mark.parametrize("tags", ROUND_TRIP)
def test_scheme_round_trip(scheme: str, tags: str) -> None:
    iob2 = tags.split()
    written = from_iob2(iob2, scheme)
    assert to_iob2(written, scheme, where="t") == iob2


def test_from_iob2_examples() -> None:
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert from_iob2(iob2, "IOB1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert from_iob2(iob2, "IOBES") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]
    assert from_iob2(iob2, "BILOU") == ["B-PER", "L-PER", "U-PER", "O", "U-LOC"]


# (scheme, tags, word position and tag the message must name, words in the message)
BROKEN = [
    ("IOB2", "O X-PER", 2, "X-PER", "unknown tag"),
    ("IOB2", "B-", 1, "B-", "unknown tag"),
    ("IOB2", "PER", 1, "PER", "unknown tag"),
    ("IOB2", "O E-PER", 2, "E-PER", "unknown tag"),
    ("IOB2", "I-PER", 1, "I-PER", "breaks the IOB2 scheme"),
    ("IOB2", "O I-PER", 2, "I-PER", "breaks the IOB2 scheme"),
    ("IOB2", "B-LOC I-PER", 2, "I-PER", "breaks the IOB2 scheme"),
    ("IOB2", "B-PER I-PER O I-PER", 4, "I-PER", "breaks the IOB2 scheme"),
    ("IOB1", "B-PER", 1, "B-PER", "breaks the IOB1 scheme"),
    ("IOB1", "O B-PER", 2, "B-PER", "breaks the IOB1 scheme"),
    ("IOB1", "I-LOC B-PER", 2, "B-PER", "breaks the IOB1 scheme"),
    ("IOB1", "I-PER S-PER", 2, "S-PER", "unknown tag"),
    ("IOBES", "I-PER E-PER", 1, "I-PER", "breaks the IOBES scheme"),
    ("IOBES", "O E-PER", 2, "E-PER", "breaks the IOBES scheme"),
    ("IOBES", "S-PER I-PER E-PER", 2, "I-PER", "breaks the IOBES scheme"),
    ("IOBES", "B-PER O", 1, "B-PER", "breaks the IOBES scheme"),
    ("IOBES", "B-PER S-PER", 1, "B-PER", "breaks the IOBES scheme"),
    ("IOBES", "B-PER E-LOC", 1, "B-PER", "breaks the IOBES scheme"),
    ("IOBES", "B-PER I-PER O", 2, "I-PER", "breaks the IOBES scheme"),
    ("IOBES", "O B-PER", 2, "B-PER", "sentence ends"),
    ("IOBES", "B-PER I-PER", 2, "I-PER", "sentence ends"),
    ("IOBES", "B-PER L-PER", 2, "L-PER", "unknown tag"),
    ("BILOU", "B-PER E-PER", 2, "E-PER", "unknown tag"),
    ("BILOU", "B-PER O", 1, "B-PER", "L-PER"),
]


@pytest.mark.parametrize(("scheme", "tags", "position", "tag", "words"), BROKEN)
def test_to_iob2_broken(scheme: str, tags: str, position: int, tag: str, words: str) -> None:
    with pytest.raises(DataError) as caught:
        to_iob2(tags.split(), scheme, where="train.txt line 12")
    message = str(caught.value)
    assert message.startswith(f"train.txt line 12, word {position}: ")
    assert repr(tag) in message
    assert words in message


def test_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="IOB2, IOB1, IOBES"):
        to_iob2(["O"], "IOE", where="t")


# ---- words and spans ---------------------------------------------------------------------------


def test_split_words_example() -> None:
    text = "Hi, I'm Ann-Marie."
    assert [text[s:e] for s, e in split_words(text)] == ["Hi", ",", "I", "'", "m", "Ann", "-", "Marie", "."]


def test_split_words_cuts_inside_words_only() -> None:
    text = "New Yorkers"
    words = split_words(text, cuts=[0, 3, 8, 11, 50])
    assert [text[s:e] for s, e in words] == ["New", "York", "ers"]


# (text, spans as (start, end, label)); spans include adjacent entities, text edges, punctuation, Unicode.
SPAN_CASES = [
    ("Zoë Müller lives in Zürich.", [(0, 10, "PER"), (20, 26, "LOC")]),
    ("Ann Bob", [(0, 3, "PER"), (4, 7, "PER")]),
    ("AnnBob", [(0, 3, "PER"), (3, 6, "PER")]),
    ("Paris", [(0, 5, "LOC")]),
    ("I flew to U.S.A.", [(10, 16, "LOC")]),
    ("Call Ann-Marie, now", [(5, 14, "PER")]),
    ("IBM's CEO met Apple", [(0, 3, "ORG"), (14, 19, "ORG")]),
    ("New Yorkers love New York", [(0, 7, "LOC"), (17, 25, "LOC")]),
    ("東京 and 大阪", [(0, 2, "LOC"), (7, 9, "LOC")]),
    ("no entities here", []),
    ("(Bank of America)", [(1, 16, "ORG")]),
]


@pytest.mark.parametrize(("text", "raw"), SPAN_CASES)
def test_span_round_trip(text: str, raw: list[tuple[int, int, str]]) -> None:
    spans = [Span(*item) for item in raw]
    check_spans(text, spans, where="t")
    words = split_words(text, cuts=[edge for span in spans for edge in (span.start, span.end)])
    tags = spans_to_tags(words, spans, where="t")
    assert tags_to_spans(words, tags) == spans
    # Every scheme carries the same spans.
    for scheme in ("IOB1", "IOBES"):
        assert tags_to_spans(words, to_iob2(from_iob2(tags, scheme), scheme, where="t")) == spans


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("I-PER I-PER O", [(0, 3, "PER")]),  # an I- with nothing to continue starts an entity
        ("B-PER I-LOC O", [(0, 1, "PER"), (2, 3, "LOC")]),
        ("O I-PER B-PER", [(2, 3, "PER"), (4, 5, "PER")]),
        ("B-PER I-PER I-PER", [(0, 5, "PER")]),
    ],
)
def test_tags_to_spans_is_lenient(tags: str, expected: list[tuple[int, int, str]]) -> None:
    words = split_words("a b c")
    assert tags_to_spans(words, tags.split()) == [Span(*item) for item in expected]


@pytest.mark.parametrize(
    ("text", "span", "message"),
    [
        ("New Yorkers", Span(0, 8, "LOC"), "does not end at a word end"),
        ("New Yorkers", Span(1, 3, "LOC"), "does not start at a word start"),
    ],
)
def test_spans_to_tags_needs_word_boundaries(text: str, span: Span, message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        spans_to_tags(split_words(text), [span], where="data.jsonl line 3")
    assert str(caught.value).startswith("data.jsonl line 3: entity 'LOC'")


# (spans, words the message must contain)
CHECK_CASES = [
    ([Span(0, 7, "PER"), Span(4, 11, "PER")], ["overlaps", "0-7", "4-11", "'met Bob'"]),
    ([Span(0, 3, "PER"), Span(20, 25, "LOC")], ["outside the text (length 22)", "20-25"]),
    ([Span(0, 11, "A"), Span(8, 11, "B"), Span(4, 7, "C")], ["overlaps", "4-7", "0-11"]),
    ([Span(15, 30, "LOC")], ["outside the text (length 22)"]),
    ([Span(-1, 3, "LOC")], ["outside the text"]),
    ([Span(3, 3, "LOC")], ["empty"]),
    ([Span(5, 3, "LOC")], ["empty"]),
    ([Span(0, 3, "")], ["empty label"]),
    ([Span(3, 4, "X")], ["only whitespace"]),
    ([Span(0, 4, "PER")], ["ends with whitespace", "trim"]),
    ([Span(3, 8, "PER")], ["starts or ends with whitespace", "trim"]),
]


@pytest.mark.parametrize(("spans", "words"), CHECK_CASES)
def test_check_spans_rejects(spans: list[Span], words: list[str]) -> None:
    text = "Ann met Bob in Zürich."
    with pytest.raises(DataError) as caught:
        check_spans(text, spans, where="data.jsonl line 7")
    message = str(caught.value)
    assert message.startswith("data.jsonl line 7: ")
    for word in words:
        assert word in message


def test_check_spans_accepts_adjacent() -> None:
    check_spans("AnnBob", [Span(3, 6, "PER"), Span(0, 3, "PER")], where="t")


# ---- CoNLL -------------------------------------------------------------------------------------


def _write(tmp_path: Path, content: str | bytes, name: str = "train.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _entities(example: TokenExample) -> list[tuple[str, str]]:
    return [(example.text[s.start : s.end], s.label) for s in example.entities]


CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
-DOCSTART- -X- -X- O
Zoë B-PER
Müller I-PER
"""


def test_conll_sentences_and_docstart(tmp_path: Path) -> None:
    examples = read_conll(_write(tmp_path, CONLL_2003))
    assert [e.text for e in examples] == [
        "EU rejects German call .",
        "Peter Blackburn",
        "BRUSSELS 1996-08-22",
        "Zoë Müller",
    ]
    assert [e.line for e in examples] == [3, 9, 14, 17]
    assert _entities(examples[0]) == [("EU", "ORG"), ("German", "MISC")]
    assert _entities(examples[1]) == [("Peter Blackburn", "PER")]
    assert _entities(examples[3]) == [("Zoë Müller", "PER")]
    assert examples[0].tags == ["B-ORG", "O", "B-MISC", "O", "O"]
    tokens = [line.split()[0] for line in CONLL_2003.splitlines() if line.strip() and "DOCSTART" not in line]
    assert [e.text[s:t] for e in examples for s, t in e.words] == tokens


# (scheme, file content, expected entities per sentence)
CONLL_SCHEMES = [
    (
        "IOB1",
        "Ann I-PER\nBob B-PER\nin O\nRome I-LOC\n\nx O\n",
        [[("Ann", "PER"), ("Bob", "PER"), ("Rome", "LOC")], []],
    ),
    ("IOBES", "New B-LOC\nYork E-LOC\nand O\nAnn S-PER\n", [[("New York", "LOC"), ("Ann", "PER")]]),
    ("BILOU", "New\tB-LOC\nYork\tL-LOC\r\nAnn\tU-PER\r\n", [[("New York", "LOC"), ("Ann", "PER")]]),
    ("IOB2", "\n\n\nAnn B-PER\n\n\n\nBob B-PER\n\n", [[("Ann", "PER")], [("Bob", "PER")]]),
]


@pytest.mark.parametrize(("scheme", "content", "expected"), CONLL_SCHEMES)
def test_conll_schemes(tmp_path: Path, scheme: str, content: str, expected: list[list[tuple[str, str]]]) -> None:
    examples = read_conll(_write(tmp_path, content), scheme=scheme)
    assert [_entities(e) for e in examples] == expected


def test_conll_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "1 Ann B-PER x\n2 Smith I-PER x\n")
    (example,) = read_conll(path, token_column=1, tag_column=2)
    assert example.text == "Ann Smith"
    assert _entities(example) == [("Ann Smith", "PER")]


# (content, scheme, words the message must contain)
CONLL_BROKEN = [
    ("Ann B-PER\nsaid O\n\nhi O\nBob\n", "IOB2", ["line 5", "at least 2", "found 1", "'Bob'"]),
    ("Ann B-PER\n\nx O\nBob Y-PER\n", "IOB2", ["line 3, word 2", "'Y-PER'", "unknown tag"]),
    ("-DOCSTART- O\n\nx O\nBob I-PER\n", "IOB2", ["line 3, word 2", "'I-PER'", "IOB2 scheme"]),
    ("Ann B-PER\n", "IOB1", ["line 1, word 1", "'B-PER'", "IOB1 scheme"]),
    ("New B-LOC\nYork I-LOC\n", "IOBES", ["line 1, word 2", "'I-LOC'", "IOBES scheme"]),
    ("", "IOB2", ["no sentences"]),
    ("\n\n-DOCSTART- -X- O\n\n", "IOB2", ["no sentences"]),
    ("x O\n", "IOE2", []),
]


@pytest.mark.parametrize(("content", "scheme", "words"), CONLL_BROKEN)
def test_conll_errors(tmp_path: Path, content: str, scheme: str, words: list[str]) -> None:
    path = _write(tmp_path, content)
    error = ConfigError if scheme == "IOE2" else DataError
    with pytest.raises(error) as caught:
        read_conll(path, scheme=scheme)
    message = str(caught.value)
    if error is DataError:
        assert message.startswith(str(path))
    for word in words:
        assert word in message


def test_conll_short_line_for_chosen_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="line 2: expected at least 3"):
        read_conll(_write(tmp_path, "a b O\nc O\n"), tag_column=2)


def test_conll_not_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, "Ann B-PER\n\nM\xfcller B-PER\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"line 3: byte 0xfc at offset 12 is not valid UTF-8"):
        read_conll(path)


def test_conll_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_conll(tmp_path / "nope.txt")


# ---- span JSONL ---------------------------------------------------------------------------------


def _jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def test_jsonl_good(tmp_path: Path) -> None:
    content = _jsonl(
        {
            "text": "Zoë Müller met Ann-Marie.",
            "entities": [{"start": 15, "end": 24, "label": "PER"}, {"start": 0, "end": 10, "label": "PER"}],
        },
        "",
        {"text": "New Yorkers", "entities": [{"start": 0, "end": 8, "label": "LOC"}]},
        {"text": "nothing", "entities": []},
    )
    examples = read_span_jsonl(_write(tmp_path, content, "data.jsonl"))
    assert [e.line for e in examples] == [1, 3, 4]
    assert _entities(examples[0]) == [("Zoë Müller", "PER"), ("Ann-Marie", "PER")]
    assert examples[0].tags == ["B-PER", "I-PER", "O", "B-PER", "I-PER", "I-PER", "O"]
    assert [examples[1].text[s:e] for s, e in examples[1].words] == ["New", "York", "ers"]
    assert examples[1].tags == ["B-LOC", "I-LOC", "O"]
    assert examples[2].entities == ()


def test_jsonl_custom_keys(tmp_path: Path) -> None:
    content = _jsonl({"sentence": "Ann", "spans": [{"start": 0, "end": 3, "label": "PER"}]})
    (example,) = read_span_jsonl(_write(tmp_path, content, "d.jsonl"), text_key="sentence", entities_key="spans")
    assert _entities(example) == [("Ann", "PER")]


GOOD = {"text": "Ann", "entities": []}

# (the bad record, written on line 3; words the message must contain)
JSONL_BROKEN = [
    ('{"text": "Ann", ', ["not valid JSON"]),
    ("[1, 2]", ["expected a JSON object"]),
    ({"entities": []}, ["'text' must be a string"]),
    ({"text": 5, "entities": []}, ["'text' must be a string"]),
    ({"text": "  ", "entities": []}, ["'text' is empty"]),
    ({"text": "Ann"}, ["'entities' must be a list"]),
    ({"text": "Ann", "entities": {"start": 0}}, ["'entities' must be a list"]),
    ({"text": "Ann", "entities": ["PER"]}, ["must be an object"]),
    ({"text": "Ann", "entities": [{"start": 0, "end": 3}]}, ["lacks 'label'"]),
    ({"text": "Ann", "entities": [{"label": "PER"}]}, ["lacks 'start', 'end'"]),
    ({"text": "Ann", "entities": [{"start": "0", "end": 3, "label": "PER"}]}, ["integer"]),
    ({"text": "Ann", "entities": [{"start": 0, "end": 3.0, "label": "PER"}]}, ["integer"]),
    ({"text": "Ann", "entities": [{"start": False, "end": 3, "label": "PER"}]}, ["integer"]),
    ({"text": "Ann", "entities": [{"start": 0, "end": 3, "label": 1}]}, ["string 'label'"]),
    ({"text": "Ann", "entities": [{"start": 0, "end": 9, "label": "PER"}]}, ["outside the text (length 3)"]),
    ({"text": "Ann Bob", "entities": [{"start": 0, "end": 4, "label": "PER"}]}, ["whitespace"]),
    (
        {"text": "Ann Bob", "entities": [{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 7, "label": "X"}]},
        ["overlaps"],
    ),
]


@pytest.mark.parametrize(("record", "words"), JSONL_BROKEN)
def test_jsonl_errors(tmp_path: Path, record: object, words: list[str]) -> None:
    path = _write(tmp_path, _jsonl(GOOD, GOOD, record, GOOD), "data.jsonl")
    with pytest.raises(DataError) as caught:
        read_span_jsonl(path)
    message = str(caught.value)
    assert message.startswith(f"{path} line 3: ")
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no records"),
        (b"\n  \n", "no records"),
        (b'{"text": "ok", "entities": []}\n{"text": "\xff"}\n', "line 2: byte 0xff"),
    ],
)
def test_jsonl_file_errors(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_span_jsonl(_write(tmp_path, content, "data.jsonl"))
