"""Readers: each format from a table of cases, including the broken ones."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.data.readers import read_table
from modelyard.data.validate import to_examples
from modelyard.errors import DataError

GOOD = [
    ("a.csv", 'text,label\nhello there,greet\n"bye, now",leave\n'),
    ("a.tsv", "text\tlabel\nhello there\tgreet\nbye, now\tleave\n"),
    ("a.jsonl", '{"text": "hello there", "label": "greet"}\n\n{"text": "bye, now", "label": "leave"}\n'),
]


@pytest.mark.parametrize(("name", "content"), GOOD, ids=[g[0] for g in GOOD])
def test_text_formats(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    examples = to_examples(read_table(path), "text", "label")
    assert [(e.text, e.label) for e in examples] == [("hello there", "greet"), ("bye, now", "leave")]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"msg": ["hi", "yo"], "y": ["a", "b"]}), path)
    examples = to_examples(read_table(path), "msg", "y")
    assert [(e.text, e.label, e.line) for e in examples] == [("hi", "a", 1), ("yo", "b", 2)]


def test_multi_label_from_separator_and_lists(tmp_path: Path) -> None:
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("text,label\nx,b|a\ny,a\n")
    assert [e.label for e in to_examples(read_table(csv_path), "text", "label", "|")] == [("a", "b"), ("a",)]
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(json.dumps({"text": "x", "label": ["b", "a"]}) + "\n")
    assert to_examples(read_table(jsonl), "text", "label", "|")[0].label == ("a", "b")


BAD = [
    ("missing column", "a.csv", b"message,label\nhi,x\n", "column 'text' not found; the file has columns 'message'"),
    (
        "empty text",
        "a.csv",
        b"text,label\nhi,x\n   ,y\n,z\n",
        "column 'text' is empty or whitespace-only at lines 3, 4",
    ),
    ("empty label", "a.csv", b"text,label\nhi,\n", "column 'label' is empty at line 2"),
    ("latin-1 bytes", "a.csv", b"text,label\nok,x\ncaf\xe9,y\n", "a.csv:3:4: byte 0xe9 is not valid UTF-8"),
    ("ragged row", "a.csv", b"text,label\nhi,x,extra\n", "a.csv:2: expected 2 fields"),
    ("empty file", "a.csv", b"", "the file is empty"),
    ("header only", "a.csv", b"text,label\n", "no rows after the header"),
    ("bad json", "a.jsonl", b'{"text": "a", "label": "b"}\n{"text": oops}\n', "a.jsonl:2:10: not valid JSON"),
    ("json array", "a.jsonl", b"[1, 2]\n", "a.jsonl:1: expected a JSON object per line"),
    ("unknown suffix", "a.xlsx", b"whatever", "cannot tell the format"),
    ("lists without separator", "a.jsonl", b'{"text": "a", "label": ["x"]}\n', "set data.label_separator"),
]


@pytest.mark.parametrize(("case", "name", "content", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_name_file_line_and_fix(tmp_path: Path, case: str, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        to_examples(read_table(path), "text", "label")
    assert expected in str(caught.value)


def test_many_bad_lines_are_summarised(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("text,label\n" + "".join(f" ,x{i}\n" for i in range(9)))
    with pytest.raises(DataError, match=r"lines 2, 3, 4, 5, 6 and 4 more"):
        to_examples(read_table(path), "text", "label")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv")
