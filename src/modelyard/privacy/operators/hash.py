"""Replace a finding with a keyed hash, ``<EMAIL_1a2b3c4d5e>``: the same value gives the same token.

HMAC-SHA256 keyed with a per-project salt, so duplicates and joins survive
anonymization inside a project, while tokens from two projects cannot be matched
and nobody without the salt can hash a phone book to reverse them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import ClassVar

from modelyard.errors import ConfigError

MIN_SALT_BYTES = 16
# Types written with free-form separators: "4111 1111 1111 1111" and "4111-1111-1111-1111" are one card.
DIGIT_TYPES = frozenset({"CREDIT_CARD", "PHONE", "IBAN", "SSN", "US_SSN", "ACCOUNT_NUMBER"})
_SEPARATORS = re.compile(r"[\s\-./()]")


def new_salt() -> bytes:
    """A fresh random salt for a project (store it with the project, encrypted if possible)."""
    return secrets.token_bytes(32)


def normalise(value: str, type: str, digit_types: Collection[str] = DIGIT_TYPES) -> str:
    """The form that is hashed: emails case-folded, numbers without separators, others trimmed."""
    value = value.strip()
    if type == "EMAIL":
        return value.lower()
    if type in digit_types:
        return _SEPARATORS.sub("", value).upper()  # upper: IBAN country codes and check letters
    return value


@dataclass(frozen=True)
class Hash:
    """Keyed, deterministic pseudonyms.

    Attributes:
        salt: the project's secret HMAC key (at least 16 bytes; ``new_salt()`` makes one).
        length: how many hex characters of the HMAC go into the token.
        digit_types: the types whose spaces, dashes, dots and brackets are dropped before hashing.
    """

    salt: bytes | str = field(repr=False)
    length: int = 10
    digit_types: Collection[str] = DIGIT_TYPES

    name: ClassVar[str] = "hash"

    def __post_init__(self) -> None:
        if len(self._key) < MIN_SALT_BYTES:
            raise ConfigError(
                f"hash: the salt must be at least {MIN_SALT_BYTES} bytes (a short one can be guessed, and "
                f"then every token reversed by hashing candidates); generate one per project with new_salt()"
            )
        if not 8 <= self.length <= 64:
            raise ConfigError(f"hash: length must be between 8 and 64 hex characters, got {self.length}")

    @property
    def _key(self) -> bytes:
        return self.salt.encode("utf-8") if isinstance(self.salt, str) else self.salt

    def apply(self, value: str, type: str) -> str:
        message = normalise(value, type, self.digit_types).encode("utf-8")
        digest = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return f"<{type}_{digest[: self.length]}>"
