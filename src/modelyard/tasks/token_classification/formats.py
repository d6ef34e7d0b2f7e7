"""Read NER data: CoNLL columns (one token per line) and JSON Lines with character spans.

Both readers produce the same ``TokenExample``: a text, its words and its entities
as character spans. CoNLL tokens are joined with single spaces, so the text of a
CoNLL sentence is a reconstruction, not the original.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.errors import DataError
from modelyard.tasks.token_classification.tags import (
    Span,
    Word,
    check_spans,
    spans_to_tags,
    split_words,
    tags_to_spans,
    to_iob2,
)

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class TokenExample:
    text: str  # the sentence; CoNLL tokens joined with single spaces
    words: tuple[Word, ...]  # offsets of each word in text
    entities: tuple[Span, ...]  # sorted by start
    line: int = 0  # 1-based line where the sentence/record starts in its file
    document: str | None = None
    """The document the sentence belongs to (CoNLL ``-DOCSTART-`` sections, JSONL ``document``), in order:
    its neighbours are the context ``model.document_context`` reads; ``None``: a text on its own."""

    @property
    def tags(self) -> list[str]:
        """IOB2 tag per word."""
        return spans_to_tags(self.words, self.entities, where=f"line {self.line}")


def _decode(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path} line {line}: byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8; "
            "re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None


def _sentence(
    tokens: list[str], tags: list[str], scheme: str, path: Path, line: int, document: str | None
) -> TokenExample:
    iob2 = to_iob2(tags, scheme, where=f"{path} line {line}")
    words: list[Word] = []
    offset = 0
    for token in tokens:
        words.append((offset, offset + len(token)))
        offset += len(token) + 1
    return TokenExample(" ".join(tokens), tuple(words), tuple(tags_to_spans(words, iob2)), line, document)


def read_conll(path: Path, *, token_column: int = 0, tag_column: int = -1, scheme: str = "IOB2") -> list[TokenExample]:
    """Sentences of a CoNLL file; tags in ``scheme`` are checked strictly and turned into spans."""
    path = Path(path)
    needed = max(2, *(index + 1 if index >= 0 else -index for index in (token_column, tag_column)))
    examples: list[TokenExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    documents = 0  # -DOCSTART- lines seen; a file without them holds sentences with no known document
    # Split on "\n" only: str.splitlines() also cuts at U+2028, U+0085 and the like, which would shift line numbers.
    for number, line in enumerate(_decode(path).split("\n"), start=1):
        columns = line.split()
        if not columns or columns[0] == DOCSTART:
            if tokens:
                examples.append(_sentence(tokens, tags, scheme, path, start, _document(documents)))
                tokens, tags = [], []
            documents += bool(columns)
            continue
        if len(columns) < needed:
            raise DataError(
                f"{path} line {number}: expected at least {needed} whitespace-separated columns "
                f"(token in column {token_column}, tag in column {tag_column}), found {len(columns)}: {line.strip()!r}"
            )
        if not tokens:
            start = number
        tokens.append(columns[token_column])
        tags.append(columns[tag_column])
    if tokens:
        examples.append(_sentence(tokens, tags, scheme, path, start, _document(documents)))
    if not examples:
        raise DataError(
            f"{path}: no sentences found; expected one token per line with its tag in column {tag_column}, "
            "and a blank line between sentences"
        )
    return examples


def _document(seen: int) -> str | None:
    return str(seen) if seen else None


def _entity(item: Any, entities_key: str, where: str) -> Span:
    if not isinstance(item, dict):
        raise DataError(f"{where}: each item of {entities_key!r} must be an object, found {item!r}")
    missing = [key for key in ("start", "end", "label") if key not in item]
    if missing:
        raise DataError(f"{where}: entity {item!r} lacks {', '.join(map(repr, missing))}")
    start, end, label = item["start"], item["end"], item["label"]
    # bool is an int subclass; true/false as offsets is a bug in the file, not offset 1/0.
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (start, end)):
        raise DataError(f"{where}: entity {item!r} needs integer 'start' and 'end' character offsets")
    if not isinstance(label, str):
        raise DataError(f"{where}: entity {item!r} needs a string 'label'")
    return Span(start, end, label)


def read_span_jsonl(path: Path, *, text_key: str = "text", entities_key: str = "entities") -> list[TokenExample]:
    """Records ``{"text": ..., "entities": [{"start", "end", "label"}, ...]}``, one per line; an optional
    ``"document"`` id groups consecutive records of one document (their neighbours become context)."""
    path = Path(path)
    examples: list[TokenExample] = []
    # JSON allows U+2028 and friends raw inside strings, so split on "\n" only.
    for number, line in enumerate(_decode(path).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not valid JSON: {error.msg} (column {error.colno})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, found {type(record).__name__}")
        text, entities = record.get(text_key), record.get(entities_key)
        if not isinstance(text, str):
            raise DataError(f"{where}: {text_key!r} must be a string, found {text!r}; keys here: {sorted(record)}")
        if not text.strip():
            raise DataError(f"{where}: {text_key!r} is empty")
        if not isinstance(entities, list):
            raise DataError(
                f"{where}: {entities_key!r} must be a list of entities, found {entities!r}; keys here: {sorted(record)}"
            )
        spans = sorted(_entity(item, entities_key, where) for item in entities)
        check_spans(text, spans, where=where)
        words = split_words(text, cuts=[edge for span in spans for edge in (span.start, span.end)])
        document = record.get("document")
        if document is not None and not isinstance(document, str | int):
            raise DataError(f"{where}: 'document' must be a string or an integer id, found {document!r}")
        examples.append(
            TokenExample(text, tuple(words), tuple(spans), number, None if document is None else str(document))
        )
    if not examples:
        raise DataError(f"{path}: no records found; expected one JSON object per line")
    return examples
