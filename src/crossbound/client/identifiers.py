"""What an institution computes before anything crosses: normalised identifiers, their HMACs, digests.

A request never carries an identifier of a person in clear: it carries ``HMAC-SHA256(pair_key,
normalised identifier)`` under the key the two sides share for the scenario (its ``hmac_key_id``),
and the attester computes the same over what it holds. Both must normalise alike, or the HMACs of one
HKID written ``A123456(3)`` and ``a1234563`` differ: :func:`normalise_identifier` is that one rule.
A document (a credit report, a registration) crosses as its SHA-256 digest, :func:`document_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["document_digest", "hmac_identifier", "normalise_identifier"]

_NORMALISE: Final = str.maketrans("", "", " -()[]")


def normalise_identifier(value: str) -> str:
    """Normalise an identifier before HMAC: upper-case, no spaces, hyphens or brackets."""
    return value.upper().translate(_NORMALISE)


def hmac_identifier(pair_key: bytes, value: str) -> str:
    """HMAC-SHA256(pair_key, normalised value) as 64 lowercase hex characters."""
    return hmac.new(pair_key, normalise_identifier(value).encode(), hashlib.sha256).hexdigest()


def document_digest(document: bytes | str) -> str:
    """SHA-256 of a document (text as UTF-8) as 64 lowercase hex characters (``digest_alg`` SHA256)."""
    data = document.encode() if isinstance(document, str) else document
    return hashlib.sha256(data).hexdigest()
