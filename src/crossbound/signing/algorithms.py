"""Each signature algorithm's three operations, behind one seam so that SM2 can join Ed25519.

Ed25519 (RFC 8032) through ``cryptography``. A private key is read from PEM (PKCS#8, unencrypted, as
``crossbound registry generate`` writes it); a public key is the raw bytes the registry holds.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crossbound.participants import Algorithm

__all__ = ["PrivateKey", "PublicKey", "load_private_key", "public_key", "raw_public_key", "sign", "verify"]

PrivateKey = Ed25519PrivateKey
PublicKey = Ed25519PublicKey


def load_private_key(pem: bytes) -> tuple[Algorithm, PrivateKey]:
    """The algorithm and key of a PEM private key; ValueError when it is none we sign with."""
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, Ed25519PrivateKey):
        return Algorithm.ED25519, key
    raise ValueError(f"a {type(key).__name__.removeprefix('_')}, not a key of {', '.join(Algorithm)}")


def raw_public_key(key: PrivateKey) -> bytes:
    """The public half, as the registry holds it."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key(algorithm: Algorithm, raw: bytes) -> PublicKey:
    """A registry public key, parsed once (the verifier keeps it)."""
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(key: PrivateKey, message: bytes) -> bytes:
    """The signature of ``message``."""
    return key.sign(message)


def verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
