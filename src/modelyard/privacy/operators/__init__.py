"""Anonymization operators: what a detected finding is turned into.

One small file per operator (``replace``, ``mask``, ``hash``, ``encrypt``); each has a
``name`` and ``apply(value, type) -> str``. :func:`anonymize` applies one operator to
every finding in a text; :func:`get` builds an operator from a recipe's name and options.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from modelyard.errors import ConfigError, DataError


class Span(Protocol):
    """A finding from the detector: ``text[start:end]`` is PII of kind ``type`` (e.g. ``"EMAIL"``).

    Read-only properties, so frozen dataclasses and named tuples satisfy it too.
    """

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def type(self) -> str: ...


class Operator(Protocol):
    """Turns one finding's text into its replacement."""

    @property
    def name(self) -> str: ...

    def apply(self, value: str, type: str) -> str: ...


def anonymize(text: str, findings: Sequence[Span], operator: Operator) -> str:
    """Replace every finding in ``text`` with ``operator.apply(value, type)``.

    Overlapping findings: the one that starts first wins, and of two that start
    together the longer one; the loser is dropped (never half-replaced). Every
    slice is taken from the original text, so a replacement of another length
    cannot shift the offsets of the findings before it.
    """
    chosen: list[Span] = []
    for finding in sorted(findings, key=lambda f: (f.start, -(f.end - f.start))):
        if not 0 <= finding.start <= finding.end <= len(text):
            # A detector bug; guessing would risk leaving PII in place, so stop here.
            raise DataError(
                f"finding {finding.type} [{finding.start}:{finding.end}] lies outside the text (length {len(text)})"
            )
        if finding.start == finding.end or (chosen and finding.start < chosen[-1].end):
            continue
        chosen.append(finding)
    pieces: list[str] = []
    cursor = len(text)
    for finding in reversed(chosen):  # right to left, as each replacement only touches text after `cursor`
        pieces.append(text[finding.end : cursor])
        pieces.append(operator.apply(text[finding.start : finding.end], finding.type))
        cursor = finding.start
    pieces.append(text[:cursor])
    return "".join(reversed(pieces))


def _replace(**options: Any) -> Operator:
    from modelyard.privacy.operators.replace import Replace

    return Replace(**options)


def _mask(**options: Any) -> Operator:
    from modelyard.privacy.operators.mask import Mask

    return Mask(**options)


def _hash(**options: Any) -> Operator:
    from modelyard.privacy.operators.hash import Hash

    return Hash(**options)


def _encrypt(**options: Any) -> Operator:
    from modelyard.privacy.operators.encrypt import Encrypt

    if "vault" not in options:
        from modelyard.privacy.crypto import Vault

        options["vault"] = Vault()
    return Encrypt(**options)


# Imported on demand: `encrypt` pulls in `cryptography`, which the other operators do not need.
OPERATORS: dict[str, Callable[..., Operator]] = {
    "replace": _replace,
    "mask": _mask,
    "hash": _hash,
    "encrypt": _encrypt,
}


def get(name: str, **options: Any) -> Operator:
    """Build the operator called ``name`` (``replace``, ``mask``, ``hash``, ``encrypt``) with ``options``."""
    factory = OPERATORS.get(name)
    if factory is None:
        raise ConfigError(f"unknown anonymization operator {name!r}; choose one of: {', '.join(OPERATORS)}")
    try:
        return factory(**options)
    except TypeError as error:
        raise ConfigError(f"invalid options for operator {name!r}: {error}") from None


__all__ = ["OPERATORS", "Operator", "Span", "anonymize", "get"]
