"""Entity spans, word offsets and tag schemes for named-entity recognition.

Data arrives in several tag schemes (IOB2/BIO, IOB1, IOBES/BILOU) or as character
spans; inside modelyard everything is character spans, and IOB2 tags per word are
only derived from them. Reading data is strict (a broken tag sequence is a bug in
the file that would silently cost recall); reading model output is lenient.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from modelyard.errors import ConfigError, DataError


@dataclass(frozen=True, order=True)
class Span:
    start: int  # character offset, inclusive
    end: int  # character offset, exclusive
    label: str  # entity type, e.g. "PER"


Word = tuple[int, int]  # (start, end) character offsets of one word in the text

SCHEMES = ("IOB2", "IOB1", "IOBES")
_ALIASES = {"BIO": "IOB2", "BILOU": "IOBES"}
# The prefixes each spelling allows, and what they mean in IOBES terms (BILOU's L and U are E and S).
_PREFIXES = {
    "IOB2": {"B": "B", "I": "I"},
    "IOB1": {"B": "B", "I": "I"},
    "IOBES": {"B": "B", "I": "I", "E": "E", "S": "S"},
    "BILOU": {"B": "B", "I": "I", "L": "E", "U": "S"},
}
_WORD = re.compile(r"\w+|[^\w\s]")


def _scheme(scheme: str) -> tuple[str, str]:
    """(canonical scheme, spelling) for a scheme name, case-insensitive."""
    spelling = scheme.upper()
    canonical = _ALIASES.get(spelling, spelling)
    if canonical not in SCHEMES:
        raise ConfigError(f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)} (or BIO, BILOU)")
    return canonical, spelling if spelling in _PREFIXES else canonical


def _parse(tags: Sequence[str], spelling: str, where: str) -> list[tuple[str, str]]:
    """(prefix in IOBES terms or "O", entity type) per tag; DataError on a malformed tag."""
    allowed = _PREFIXES[spelling]
    parsed: list[tuple[str, str]] = []
    for position, tag in enumerate(tags, start=1):
        if tag == "O":
            parsed.append(("O", ""))
            continue
        prefix, dash, kind = tag.partition("-")
        if not dash or not kind or prefix not in allowed:
            raise DataError(
                f"{where}, word {position}: unknown tag {tag!r}; the {spelling} scheme allows 'O' or "
                f"{'/'.join(allowed)} + '-' + an entity type, e.g. 'B-PER'"
            )
        parsed.append((allowed[prefix], kind))
    return parsed


def _broken(where: str, position: int, tag: str, scheme: str, rule: str) -> DataError:
    return DataError(
        f"{where}, word {position}: tag {tag!r} breaks the {scheme} scheme: {rule}; "
        "fix the file or pass the scheme it is written in"
    )


def to_iob2(tags: Sequence[str], scheme: str, *, where: str) -> list[str]:
    """Word-level ``tags`` written in ``scheme`` as IOB2; DataError naming ``where`` on any broken tag."""
    canonical, spelling = _scheme(scheme)
    parsed = _parse(tags, spelling, where)
    out: list[str] = []
    prev_prefix, prev_kind = "O", ""
    for position, ((prefix, kind), tag) in enumerate(zip(parsed, tags, strict=True), start=1):
        inside = prev_prefix != "O" and prev_kind == kind  # the previous word belongs to an entity of this type
        if canonical == "IOB2":
            if prefix == "I" and not inside:
                raise _broken(where, position, tag, spelling, f"'I-{kind}' must follow 'B-{kind}' or 'I-{kind}'")
            out.append(tag)
        elif canonical == "IOB1":
            # In IOB1, B- only separates two adjacent entities of one type; anywhere else it is a typo
            # for I- or a file in another scheme, so refuse rather than guess.
            if prefix == "B" and not inside:
                raise _broken(where, position, tag, spelling, f"'B-{kind}' may only follow 'I-{kind}' or 'B-{kind}'")
            out.append(f"I-{kind}" if prefix == "I" and inside else f"B-{kind}" if prefix != "O" else "O")
        else:
            open_entity = prev_prefix in ("B", "I")
            if open_entity and not (prefix in ("I", "E") and kind == prev_kind):
                raise _broken(
                    where,
                    position - 1,
                    tags[position - 2],
                    spelling,
                    f"it must be followed by I-{prev_kind} or {_end(spelling)}-{prev_kind}, found {tag!r}",
                )
            if not open_entity and prefix in ("I", "E"):
                raise _broken(where, position, tag, spelling, f"it must follow B-{kind} or I-{kind}")
            out.append("O" if prefix == "O" else f"{'B' if prefix in ('B', 'S') else 'I'}-{kind}")
        prev_prefix, prev_kind = prefix, kind
    if canonical == "IOBES" and prev_prefix in ("B", "I"):
        rule = f"the sentence ends before the entity does; end it with {_end(spelling)}-{prev_kind}"
        raise _broken(where, len(tags), tags[-1], spelling, rule)
    return out


def _end(spelling: str) -> str:
    return "L" if spelling == "BILOU" else "E"


def from_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """IOB2 ``tags`` rewritten in ``scheme`` (IOB2, IOB1, IOBES or the aliases BIO, BILOU)."""
    canonical, spelling = _scheme(scheme)
    parsed = _parse(to_iob2(tags, "IOB2", where="IOB2 tags"), "IOB2", "IOB2 tags")
    if canonical == "IOB2":
        return list(tags)
    single, end = ("U", "L") if spelling == "BILOU" else ("S", "E")
    out: list[str] = []
    for i, (prefix, kind) in enumerate(parsed):
        if prefix == "O":
            out.append("O")
            continue
        if canonical == "IOB1":
            # B- survives only where it separates this entity from one of the same type just before it.
            touches = prefix == "B" and i > 0 and parsed[i - 1][0] != "O" and parsed[i - 1][1] == kind
            out.append(f"{'B' if touches else 'I'}-{kind}")
            continue
        continues = i + 1 < len(parsed) and parsed[i + 1] == ("I", kind)
        if prefix == "B":
            out.append(f"{'B' if continues else single}-{kind}")
        else:
            out.append(f"{'I' if continues else end}-{kind}")
    return out


def tags_to_spans(words: Sequence[Word], tags: Sequence[str]) -> list[Span]:
    """Character spans of IOB2 ``tags`` over ``words``.

    Lenient, because the tags are model output: an ``I-X`` that does not continue an
    entity of type X starts a new one (as seqeval does by default).
    """
    if len(words) != len(tags):
        raise DataError(f"{len(tags)} tags for {len(words)} words; expected one tag per word")
    spans: list[Span] = []
    kind, start, end = "", 0, 0
    for (word_start, word_end), tag in zip(words, tags, strict=True):
        prefix, _, tag_kind = tag.partition("-")
        if prefix == "I" and tag_kind == kind and kind:
            end = word_end
            continue
        if kind:
            spans.append(Span(start, end, kind))
        kind, start, end = "", 0, 0
        if tag != "O":
            if prefix not in ("B", "I") or not tag_kind:
                raise DataError(f"unknown IOB2 tag {tag!r}; expected 'O', 'B-<type>' or 'I-<type>'")
            kind, start, end = tag_kind, word_start, word_end
    if kind:
        spans.append(Span(start, end, kind))
    return spans


def spans_to_tags(words: Sequence[Word], spans: Sequence[Span], *, where: str) -> list[str]:
    """IOB2 tag per word for ``spans``; each span must start at a word start and end at a word end."""
    starts = {word[0]: i for i, word in enumerate(words)}
    ends = {word[1]: i for i, word in enumerate(words)}
    tags = ["O"] * len(words)
    for span in sorted(spans):
        first, last = starts.get(span.start), ends.get(span.end)
        if first is None or last is None or last < first:
            edge = "start" if first is None else "end"
            raise DataError(
                f"{where}: entity {span.label!r} at characters {span.start}-{span.end} does not {edge} at a word "
                f"{edge}; split the words at entity boundaries (split_words(text, cuts=...))"
            )
        if any(tag != "O" for tag in tags[first : last + 1]):
            raise DataError(f"{where}: entity {span.label!r} at characters {span.start}-{span.end} overlaps another")
        tags[first] = f"B-{span.label}"
        tags[first + 1 : last + 1] = [f"I-{span.label}"] * (last - first)
    return tags


def split_words(text: str, cuts: Iterable[int] = ()) -> list[Word]:
    """Words of ``text`` (runs of word characters, or single other non-space characters), also cut at ``cuts``."""
    points = sorted(set(cuts))
    words: list[Word] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        # Cuts strictly inside this word, so every entity boundary falls between two words.
        low, high = bisect.bisect_right(points, start), bisect.bisect_left(points, end)
        for cut in points[low:high]:
            words.append((start, cut))
            start = cut
        words.append((start, end))
    return words


def _show(text: str, span: Span) -> str:
    inside = 0 <= span.start < span.end <= len(text)
    return f"entity {span.label!r} at characters {span.start}-{span.end}" + (
        f" ({text[span.start : span.end]!r})" if inside else ""
    )


def check_spans(text: str, spans: Sequence[Span], *, where: str) -> None:
    """DataError naming ``where`` for a span outside ``text``, empty, unlabelled, whitespace-edged or overlapping."""
    for span in spans:
        shown = _show(text, span)
        if span.start < 0 or span.end > len(text):
            raise DataError(f"{where}: {shown} is outside the text (length {len(text)})")
        if span.start >= span.end:
            raise DataError(f"{where}: {shown} is empty; end must be greater than start")
        if not span.label:
            raise DataError(f"{where}: {shown} has an empty label")
        covered = text[span.start : span.end]
        if not covered.strip():
            raise DataError(f"{where}: {shown} covers only whitespace; remove it")
        if covered != covered.strip():
            raise DataError(f"{where}: {shown} starts or ends with whitespace; trim it to the entity's words")
    # Sorted by start, a span overlaps an earlier one exactly when it starts before the furthest end so far.
    furthest: Span | None = None
    for span in sorted(spans):
        if furthest is not None and span.start < furthest.end:
            raise DataError(
                f"{where}: {_show(text, span)} overlaps {_show(text, furthest)}; nested entities are not supported"
            )
        if furthest is None or span.end > furthest.end:
            furthest = span
