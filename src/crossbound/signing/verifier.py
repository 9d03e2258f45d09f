"""Checking a signed record against the registry: who signed it, or why it is refused.

:meth:`Verifier.verify` answers for an institution's record (a request, an attestation) and
:meth:`Verifier.verify_platform` for the worker's (a verdict, an attestation request). Either returns
what verified or a :class:`Refused` with one :class:`RefusalReason`:

* ``unsigned``: no ``crossbound.signature`` header;
* ``bad_signature``: the header is malformed or doubled, names another algorithm than its key's, or
  the signature does not verify over the record's value and binding;
* ``unknown_signer``: no key of that id in the registry (or, for an institution's record, the id is
  the platform's);
* ``key_expired``: the signature verifies but its signing time is outside the key's validity, more
  than ``max_skew_ms`` ahead of the clock, or more than ``max_age_ms`` behind it.

The time bounds: ``max_skew_ms`` defaults to 5 minutes (as rule C6 allows a ``created_at`` ahead of
the clock) and ``max_age_ms`` to 24 hours plus that (the longest request lifetime C6 allows): a signed
record older than any record it may carry is a replay or a clock fault. The signature is checked before
the time, so ``key_expired`` is said only of a record the key really signed.

A refusal's detail never holds a value from the record or its header (nor the key id a forger chose);
it names registry entries only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from crossbound.domain import Side
from crossbound.participants import Participant, Registry, SigningKey
from crossbound.signing import algorithms
from crossbound.signing.header import BadHeader, Signature, find_header
from crossbound.signing.message import Binding, signed_bytes

__all__ = [
    "MAX_AGE_MS",
    "MAX_SKEW_MS",
    "PlatformVerified",
    "RefusalReason",
    "Refused",
    "Verified",
    "Verifier",
]

MAX_SKEW_MS = 300_000
MAX_AGE_MS = 86_400_000 + MAX_SKEW_MS


class RefusalReason(StrEnum):
    """Why a signed record is refused; each is also a dead-letter reason of the same name."""

    UNSIGNED = "unsigned"
    UNKNOWN_SIGNER = "unknown_signer"
    BAD_SIGNATURE = "bad_signature"
    KEY_EXPIRED = "key_expired"
    NOT_AUTHORISED = "not_authorised"
    WRONG_ATTESTER = "wrong_attester"


@dataclass(frozen=True, slots=True)
class Refused:
    """A refusal: its reason and a detail that names no value."""

    reason: RefusalReason
    detail: str


@dataclass(frozen=True, slots=True)
class Verified:
    """An institution's record that verified: who signed it, with which key, when."""

    participant: Participant
    key: SigningKey
    signed_at_ms: int


@dataclass(frozen=True, slots=True)
class PlatformVerified:
    """A worker's record that verified: the side whose key signed it, the key, when."""

    side: Side
    key: SigningKey
    signed_at_ms: int


Headers = Iterable[tuple[str, bytes]]


@dataclass(slots=True)
class Verifier:
    """Verifies records against ``registry`` (public keys parsed once, on first use)."""

    registry: Registry
    max_skew_ms: int = MAX_SKEW_MS
    max_age_ms: int = MAX_AGE_MS
    _keys: dict[str, algorithms.PublicKey] = field(default_factory=dict, repr=False)

    def verify(self, value: bytes, headers: Headers, binding: Binding, now_ms: int) -> Verified | Refused:
        """Who of the registry's participants signed ``value`` bound to ``binding``, or why not."""
        sig = self._signature(headers)
        if isinstance(sig, Refused):
            return sig
        found = self.registry.signing_key(sig.key_id)
        if found is None:
            return Refused(RefusalReason.UNKNOWN_SIGNER, "no participant key has the signature's key id")
        participant, key = found
        refused = self._check(sig, key, value, binding, now_ms)
        return refused or Verified(participant, key, sig.signed_at_ms)

    def verify_platform(
        self, value: bytes, headers: Headers, binding: Binding, now_ms: int
    ) -> PlatformVerified | Refused:
        """Which side's platform key signed the worker's record ``value``, or why not: the key must be
        of the side the binding names."""
        sig = self._signature(headers)
        if isinstance(sig, Refused):
            return sig
        found = self.registry.platform_key(sig.key_id)
        if found is None or found[0] is not binding.side:
            return Refused(
                RefusalReason.UNKNOWN_SIGNER, f"no platform key of side {binding.side.value} has that id"
            )
        side, key = found
        refused = self._check(sig, key, value, binding, now_ms)
        return refused or PlatformVerified(side, key, sig.signed_at_ms)

    @staticmethod
    def _signature(headers: Headers) -> Signature | Refused:
        try:
            raw = find_header(headers)
            if raw is None:
                return Refused(RefusalReason.UNSIGNED, "no crossbound.signature header")
            return Signature.parse(raw)
        except BadHeader as exc:
            return Refused(RefusalReason.BAD_SIGNATURE, str(exc))

    def _check(
        self, sig: Signature, key: SigningKey, value: bytes, binding: Binding, now_ms: int
    ) -> Refused | None:
        if sig.algorithm is not key.algorithm:
            return Refused(RefusalReason.BAD_SIGNATURE, f"the key is {key.algorithm.value}, not the header's")
        public = self._keys.get(key.key_id)
        if public is None:
            public = self._keys[key.key_id] = algorithms.public_key(key.algorithm, key.public_key)
        message = signed_bytes(sig.algorithm, sig.key_id, sig.signed_at_ms, binding, value)
        if not algorithms.verify(public, message, sig.signature):
            return Refused(RefusalReason.BAD_SIGNATURE, "the signature does not verify")
        if sig.signed_at_ms > now_ms + self.max_skew_ms:
            return Refused(RefusalReason.KEY_EXPIRED, "signed more than the allowed skew ahead of the clock")
        if sig.signed_at_ms < now_ms - self.max_age_ms:
            return Refused(RefusalReason.KEY_EXPIRED, "signed longer ago than a signature is accepted")
        if not key.valid_at(datetime.fromtimestamp(sig.signed_at_ms / 1000, UTC)):
            return Refused(RefusalReason.KEY_EXPIRED, f"signed outside the validity of key {key.key_id!r}")
        return None
