"""Mask a finding's letters and digits with ``*``, keeping separators and, for numbers people check, the tail."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from modelyard.errors import ConfigError

# Types where the last few digits help a reader ("card ending 1111") without identifying anyone.
KEEP_TAIL_TYPES = frozenset({"CREDIT_CARD", "IBAN", "PHONE"})


@dataclass(frozen=True)
class Mask:
    """``4111-1111-1111-1111`` → ``****-****-****-1111``; ``john@x.org`` → ``****@*.***``.

    Attributes:
        char: the single character that replaces each masked letter or digit.
        keep_last: how many trailing letters/digits stay visible for ``keep_types``.
        keep_types: the finding types that keep ``keep_last``; every other type is masked whole.
    """

    char: str = "*"
    keep_last: int = 4
    keep_types: Collection[str] = KEEP_TAIL_TYPES

    name: ClassVar[str] = "mask"

    def __post_init__(self) -> None:
        if len(self.char) != 1:
            raise ConfigError(f"mask: char must be one character, got {self.char!r}")
        if self.keep_last < 0:
            raise ConfigError(f"mask: keep_last must be 0 or more, got {self.keep_last}")
        if isinstance(self.keep_types, str):  # a bare "PHONE" would otherwise become {"P", "H", ...}
            raise ConfigError("mask: keep_types must be a list of types, not a single string")

    def apply(self, value: str, type: str) -> str:
        total = sum(character.isalnum() for character in value)
        keep = self.keep_last if type in self.keep_types else 0
        # Never reveal more than half: a short value would otherwise come through whole.
        keep = min(keep, total // 2)
        masked: list[str] = []
        seen = 0
        for character in value:
            if character.isalnum():
                seen += 1
                masked.append(character if seen > total - keep else self.char)
            else:
                masked.append(character)
        return "".join(masked)
