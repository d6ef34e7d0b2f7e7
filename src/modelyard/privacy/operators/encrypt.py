"""Replace a finding with its encryption, ``<ENC:myenc1:...>``, which :func:`reveal` turns back.

For data that must be anonymized for most readers but recoverable by whoever holds
the master key (e.g. to answer a user's data request). The token carries no hint of
the value beyond its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from modelyard.privacy.crypto import Vault

# Matches the token syntax exactly (see crypto._TOKEN), so text around a token is never swallowed.
ENCRYPTED = re.compile(r"<ENC:(myenc1:[0-9a-f]{8}:[A-Za-z0-9_\-]+={0,2})>")


@dataclass(frozen=True)
class Encrypt:
    """Reversible anonymization with the home's :class:`Vault`.

    Attributes:
        vault: encrypts each value under the active data key.
        context: bound to every token (e.g. ``"dataset:7"``); :func:`reveal` needs the same one.
    """

    vault: Vault
    context: str = ""

    name: ClassVar[str] = "encrypt"

    def apply(self, value: str, type: str) -> str:
        return f"<ENC:{self.vault.encrypt(value, context=self.context)}>"


def reveal(text: str, vault: Vault, *, context: str = "") -> str:
    """Decrypt every ``<ENC:...>`` in ``text`` back to the original value (errors as :meth:`Vault.decrypt`)."""
    return ENCRYPTED.sub(lambda match: vault.decrypt(match.group(1), context=context), text)
