"""Who signs: a private key with its key id, giving the signature header of a record.

The key comes from a PEM file whose path is a setting (never from the repository); the key itself is
never logged and no repr shows it, nor the file it came from. A file that cannot be used fails at
start-up with a :class:`~crossbound.errors.ConfigError` naming the file and the fault.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crossbound.domain import Side
from crossbound.errors import ConfigError
from crossbound.participants import Algorithm, Registry
from crossbound.signing import algorithms
from crossbound.signing.header import HEADER, Signature
from crossbound.signing.message import Binding, signed_bytes

__all__ = ["Signer", "platform_signer"]

Headers = tuple[tuple[str, bytes], ...]


class Signer:
    """Signs records with one key (``key_id``, ``algorithm``)."""

    __slots__ = ("_key", "algorithm", "key_id", "public_key")

    def __init__(self, key: algorithms.PrivateKey, key_id: str, algorithm: Algorithm) -> None:
        self._key = key
        self.key_id = key_id
        self.algorithm = algorithm
        self.public_key = algorithms.raw_public_key(key)

    @classmethod
    def from_pem_file(cls, path: Path, key_id: str) -> Signer:
        """The signer of the PEM private key at ``path``, under ``key_id``."""
        algorithm, key = _read(path)
        return cls(key, key_id, algorithm)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, algorithm={self.algorithm.value!r})"

    def signature(self, value: bytes, binding: Binding, signed_at_ms: int) -> Signature:
        """The signature of ``value`` bound to ``binding``, made at ``signed_at_ms``."""
        message = signed_bytes(self.algorithm, self.key_id, signed_at_ms, binding, value)
        return Signature(self.algorithm, self.key_id, signed_at_ms, algorithms.sign(self._key, message))

    def headers(self, value: bytes, binding: Binding, signed_at_ms: int) -> Headers:
        """The Kafka headers that sign ``value``: the one ``crossbound.signature`` header."""
        return ((HEADER, self.signature(value, binding, signed_at_ms).header_value()),)


def _read(path: Path) -> tuple[Algorithm, algorithms.PrivateKey]:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"signing key {path}: not readable ({exc.strerror})") from None
    try:
        return algorithms.load_private_key(pem)
    except (ValueError, TypeError) as exc:
        # cryptography's messages name the fault (bad PEM, encrypted, unsupported), never key bytes
        fault = f"not an unencrypted PEM private key we sign with ({exc})"
        raise ConfigError(f"signing key {path}: {fault}") from None


def platform_signer(path: Path, registry: Registry, side: Side, now: datetime | None = None) -> Signer:
    """The worker's signer for ``side``: the key at ``path``, which must be one of the registry's
    ``[[platform]]`` keys for that side, valid ``now``; its key id is the registry's."""
    algorithm, key = _read(path)
    public = algorithms.raw_public_key(key)
    instant = now or datetime.now(UTC)
    for k in registry.platform_keys(side):
        if k.public_key == public and k.algorithm is algorithm:
            if not k.valid_at(instant):
                raise ConfigError(
                    f"signing key {path}: its registry key {k.key_id!r} ({registry.path}) is not valid "
                    f"now ({k.not_before.isoformat()} to {k.not_after.isoformat()})"
                )
            return Signer(key, k.key_id, algorithm)
    raise ConfigError(
        f"signing key {path}: its public key is none of the [[platform]] keys for side {side.value} "
        f"in {registry.path or 'the registry'}"
    )
