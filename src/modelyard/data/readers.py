"""Read labelled rows from CSV/TSV, JSONL and Parquet with a column mapping.

Every row keeps the line (or row) number it came from so that validation
errors can point at it. The standard ``csv`` and ``json`` modules are used
instead of pandas because they report exact line numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from modelyard.errors import DataError

Format = Literal["auto", "csv", "tsv", "jsonl", "parquet"]
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class Row:
    """One raw row: its cells by column name and where it came from."""

    line: int
    cells: dict[str, Any]


@dataclass(frozen=True)
class Table:
    path: Path
    columns: tuple[str, ...]
    rows: list[Row]
    unit: str
    """``line`` for text formats, ``row`` for Parquet: how messages name a position."""

    def require(self, *columns: str | None) -> None:
        """Raise a DataError naming the missing column and the ones that exist."""
        for column in columns:
            if column is not None and column not in self.columns:
                raise DataError(
                    f"{self.path}: column {column!r} not found; the file has columns "
                    f"{', '.join(map(repr, self.columns)) or '(none)'}. "
                    "Name the right one with --text-column / --label-column (or data.text_column in the recipe)."
                )


def detect_format(path: Path, fmt: Format = "auto") -> Format:
    if fmt != "auto":
        return fmt
    suffixes = [s for s in path.suffixes if s in _SUFFIXES]
    if not suffixes:
        raise DataError(f"{path}: cannot tell the format from the suffix; use .csv, .tsv, .jsonl or .parquet")
    return _SUFFIXES[suffixes[-1]]


def read_table(path: str | Path, fmt: Format = "auto") -> Table:
    """Read a whole file into a Table; errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    kind = detect_format(path, fmt)
    if kind == "parquet":
        return _read_parquet(path)
    text = _decode(path)
    if kind == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "\t" if kind == "tsv" else ",")


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise DataError(
            f"{path}:{line}:{column}: byte 0x{data[error.start]:02x} is not valid UTF-8; "
            "re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None


def _read_delimited(path: Path, text: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty; expected a header row") from None
    header = [h.strip() for h in header]
    rows: list[Row] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: expected {len(header)} fields as in the header, found {len(record)}; "
                    "quote fields that contain the delimiter"
                )
            rows.append(Row(reader.line_num, dict(zip(header, record, strict=True))))
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV: {error}") from None
    return Table(path, tuple(header), rows, "line")


def _read_jsonl(path: Path, text: str) -> Table:
    rows: list[Row] = []
    columns: dict[str, None] = {}
    # JSON Lines ends records with "\n" only: str.splitlines() would also cut at U+2028, U+0085 and
    # other characters that JSON allows raw inside a string.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}:{error.colno}: not valid JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object per line, found {type(record).__name__}")
        columns.update(dict.fromkeys(record))
        rows.append(Row(number, record))
    return Table(path, tuple(columns), rows, "line")


def _read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path}: cannot read as Parquet: {error}") from None
    rows = [Row(i, record) for i, record in enumerate(table.to_pylist(), start=1)]
    return Table(path, tuple(table.column_names), rows, "row")


def iter_cells(table: Table, column: str) -> Iterator[tuple[int, Any]]:
    for row in table.rows:
        yield row.line, row.cells.get(column)
