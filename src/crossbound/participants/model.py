"""The participant registry as data: institutions, their roles per scenario, principals and keys.

A :class:`Registry` is built only by :mod:`crossbound.participants.loader`, which checks every entry;
code that holds one may trust it: identifiers are valid for their scheme, keys, identifiers and
principals are unique, every scenario named exists and is one the participant's side can take that
role in, and every public key parses for its algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from crossbound.domain import Side

__all__ = ["Algorithm", "Participant", "Registry", "Scheme", "SigningKey", "Status"]


class Status(StrEnum):
    """Whether a participant may act: only ``active`` ones get broker access and have their signed
    records accepted (:mod:`crossbound.signing`); ``suspended`` may come back, ``revoked`` may not."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Scheme(StrEnum):
    """How an institution is identified, as the records' ``InstitutionScheme`` spells it."""

    LEI = "LEI"
    BIC = "BIC"
    USCC = "USCC"
    HK_BRN = "HK_BRN"

    @property
    def identifier_kind(self) -> str:
        """The :func:`crossbound.identifiers.check` kind that validates it."""
        return self.value.lower()


class Algorithm(StrEnum):
    """Signature algorithms a key may be for. Named in the registry so that SM2 (GB/T 32918) can be
    added beside Ed25519 without a format change."""

    ED25519 = "Ed25519"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One signing public key: its id (unique in the registry), algorithm, raw public key bytes and the
    interval it is valid in (``not_before <= t < not_after``, aware datetimes)."""

    key_id: str
    algorithm: Algorithm
    public_key: bytes = field(repr=False)
    not_before: datetime
    not_after: datetime

    def valid_at(self, instant: datetime) -> bool:
        """Whether a signature made at ``instant`` may use this key."""
        return self.not_before <= instant < self.not_after


@dataclass(frozen=True, slots=True)
class Participant:
    """An institution admitted to the platform.

    ``key`` is its short name in topic names and consumer groups (lower case, no dot); ``principal``
    is the Kafka principal it authenticates as (``User:<name>``).
    """

    key: str
    identifier: str
    scheme: Scheme
    side: Side
    city: str
    status: Status
    principal: str
    may_request: frozenset[str]
    may_attest: frozenset[str]
    keys: tuple[SigningKey, ...]

    @property
    def active(self) -> bool:
        """Only an active participant may act."""
        return self.status is Status.ACTIVE


@dataclass(frozen=True, slots=True)
class Registry:
    """Every participant, with lookups by (scheme, identifier) and by signing key id.

    ``platform`` holds the worker's own signing keys, per side: a verdict or attestation request of a
    side is signed with one of that side's keys, so institutions can check that the platform sent it.
    """

    participants: tuple[Participant, ...]
    path: str = ""
    digest: str = ""
    platform: tuple[tuple[Side, SigningKey], ...] = ()
    _by_identifier: Mapping[tuple[Scheme, str], Participant] = field(init=False, repr=False, compare=False)
    _by_key_id: Mapping[str, tuple[Participant, SigningKey]] = field(init=False, repr=False, compare=False)
    _platform: Mapping[str, tuple[Side, SigningKey]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_identifier", {(p.scheme, p.identifier): p for p in self.participants})
        object.__setattr__(self, "_by_key_id", {k.key_id: (p, k) for p in self.participants for k in p.keys})
        object.__setattr__(self, "_platform", {k.key_id: (side, k) for side, k in self.platform})

    def find(self, scheme: str, identifier: str) -> Participant | None:
        """The participant an institution record names, if registered."""
        try:
            return self._by_identifier.get((Scheme(scheme), identifier))
        except ValueError:
            return None

    def signing_key(self, key_id: str) -> tuple[Participant, SigningKey] | None:
        """The key with this id and its holder, if registered."""
        return self._by_key_id.get(key_id)

    def platform_key(self, key_id: str) -> tuple[Side, SigningKey] | None:
        """The worker's key with this id and the side it signs for, if registered."""
        return self._platform.get(key_id)

    def platform_keys(self, side: Side) -> tuple[SigningKey, ...]:
        """The worker's keys for ``side``."""
        return tuple(k for s, k in self.platform if s is side)
