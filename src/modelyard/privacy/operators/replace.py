"""Replace a finding with a typed placeholder: ``<EMAIL>``, ``<PHONE>``, ``<PERSON>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Replace:
    """Irreversible and keeps no trace of the value, only its kind (so a model still sees "an email here")."""

    name: ClassVar[str] = "replace"

    def apply(self, value: str, type: str) -> str:
        return f"<{type}>"
