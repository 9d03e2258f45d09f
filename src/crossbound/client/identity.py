"""Who the client acts as, and what it trusts: the institution's identity, its signer, the registry.

:class:`Identity` is the institution as records and topics name it: ``(scheme, id)`` in records, its
participant ``key`` in its own topic names (``per_institution`` layout) and consumer groups, its side.
:class:`Trust` is what signs and verifies: the institution's :class:`~crossbound.signing.Signer`
(its private key file, whose public key must be one of its registry keys, valid now) and a
:class:`~crossbound.signing.Verifier` over the registry, which holds the platform's public keys.
A deployment without a registry checks no signatures; a client without a :class:`Trust` then sends
unsigned records and accepts unsigned verdicts (the demo's and the tests' unsigned path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crossbound.client.errors import IdentityError
from crossbound.domain import Side
from crossbound.participants import Participant, Registry
from crossbound.signing import Signer, Verifier
from crossbound.topics import Topics

__all__ = ["Identity", "Trust", "institution_signer"]


@dataclass(frozen=True, slots=True)
class Identity:
    """An institution: its participant key, scheme and identifier, side and city code."""

    key: str
    scheme: str
    id: str
    side: Side
    city: str | None = None

    @classmethod
    def of(cls, participant: Participant) -> Identity:
        """The identity of a registry entry."""
        return cls(
            participant.key,
            participant.scheme.value,
            participant.identifier,
            participant.side,
            participant.city,
        )

    @classmethod
    def from_registry(cls, registry: Registry, key: str) -> Identity:
        """The identity of the participant whose key is ``key``; :class:`IdentityError` if none."""
        for p in registry.participants:
            if p.key == key:
                return cls.of(p)
        raise IdentityError(f"no participant with key {key!r} in {registry.path or 'the registry'}")

    @property
    def institution(self) -> dict[str, str | None]:
        """The institution as a record's JSON form spells it."""
        return {"scheme": self.scheme, "id": self.id, "city": self.city}

    def names(self, institution: Mapping[str, object]) -> bool:
        """Whether a record's ``{"scheme", "id"}`` names this institution."""
        return institution.get("scheme") == self.scheme and institution.get("id") == self.id

    def topic(self, topics: Topics, kind: str) -> str:
        """Its topic of ``kind``: its own under ``per_institution``, else its side's shared one."""
        if topics.layout == "per_institution":
            return topics.of_participant(self.side.topic, self.key, kind)
        return topics.name(self.side.topic, kind)


def institution_signer(
    path: Path, registry: Registry, identity: Identity, now: datetime | None = None
) -> Signer:
    """The signer of the PEM key at ``path``, under the id of the registry key of ``identity`` that it
    is the private half of, valid ``now``; :class:`IdentityError` naming the file otherwise.

    :func:`crossbound.signing.platform_signer` does the same for the worker's keys.
    """
    participant = registry.find(identity.scheme, identity.id)
    if participant is None or participant.key != identity.key:
        raise IdentityError(f"{identity.key!r} ({identity.scheme} {identity.id}) is not in the registry")
    public = Signer.from_pem_file(path, "unnamed").public_key
    instant = now or datetime.now(UTC)
    for k in participant.keys:
        if k.public_key == public:
            if not k.valid_at(instant):
                raise IdentityError(f"signing key {path}: its registry key {k.key_id!r} is not valid now")
            return Signer.from_pem_file(path, k.key_id)
    raise IdentityError(f"signing key {path}: its public key is none of {identity.key!r}'s registry keys")


@dataclass(frozen=True, slots=True)
class Trust:
    """What a client signs with and verifies against."""

    signer: Signer
    verifier: Verifier

    @classmethod
    def load(cls, registry: Registry, identity: Identity, key_file: Path) -> Trust:
        """The institution's signer from ``key_file`` and a verifier over ``registry``."""
        return cls(institution_signer(key_file, registry, identity), Verifier(registry))
