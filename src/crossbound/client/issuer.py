"""A data source: publish signed fingerprints of the documents it issues, and revoke them.

::

    async with Issuer(bootstrap, identity, topics, codec, catalogue, trust=trust) as me:
        digest = await me.publish(fingerprint)            # when the document is issued
        ...
        await me.revoke(fingerprint, "ISSUED_IN_ERROR")   # when it is withdrawn

A scenario in fingerprint mode is answered by looking the document's digest up in the registry the
data sources fill (:mod:`crossbound.pipeline.fingerprints`; README, Fingerprint mode), so its records
must be on the registry before a request relies on them: :meth:`Issuer.publish` returns once the
broker acknowledged the record. :meth:`Issuer.encode` fills what the identity knows (``issuer``,
``issuer_side``), and ``issued_at`` (now) when it is left out, converts the JSON form with the
current ``core/fingerprint`` schema and refuses, before anything is sent, a record that names another
issuer (:class:`~crossbound.client.IdentityError`) or whose fields contradict each other (what the
worker would dead-letter as ``fingerprint_inconsistent``; :class:`~crossbound.errors.InputError`). The
record goes to the issuer's registry topic (its own under the ``per_institution`` layout when the
registry lets it issue, else its side's shared one), keyed by its digest, signed as the institution
(record kind ``fingerprint``) with a :class:`~crossbound.client.Trust`. The client reads nothing.

:meth:`Issuer.revoke` publishes the record again with a higher ``sequence``, ``revoked`` set,
``revoked_at`` (default now) and the reason code: the registry keeps the record of the highest
sequence of each digest, so that is what a later request meets (``FINGERPRINT_REVOKED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from crossbound.client.endpoint import Endpoint
from crossbound.client.errors import IdentityError
from crossbound.codec.jsonform import from_json
from crossbound.codec.records import Fingerprint, fingerprint_fault
from crossbound.domain import Side
from crossbound.errors import InputError
from crossbound.signing import RecordKind

__all__ = ["Issuer"]

_SUBJECT = "core/fingerprint"


class Issuer(Endpoint):
    """A data source that issues fingerprints: see the module docstring.

    The constructor is :class:`~crossbound.client.endpoint.Endpoint`'s (``bootstrap``, ``identity``,
    ``topics``, ``codec``, ``catalogue``, and the keywords of
    :class:`~crossbound.client.endpoint.Options`).
    """

    reads_topic = None

    def _iso_now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def encode(self, fingerprint: Mapping[str, Any]) -> tuple[str, str, bytes]:
        """The registry topic, digest and encoded value of ``fingerprint`` (JSON form, filled in)."""
        obj = dict(fingerprint)
        obj.setdefault("issuer", self.identity.institution)
        obj.setdefault("issuer_side", self.identity.side.value)
        obj.setdefault("issued_at", self._iso_now())
        if not self.identity.names(obj["issuer"]) or obj["issuer_side"] != self.identity.side.value:
            raise IdentityError(f"the fingerprint names another issuer than {self.identity.key!r}")
        record = cast(Fingerprint, from_json(obj, self.codec.registry.current(_SUBJECT).raw))
        fault = fingerprint_fault(record)
        if fault is not None:
            raise InputError(f"fingerprint {record['digest'][:12]}…: {fault}")
        topic = self.topics.registry_for(Side(record["issuer_side"]).topic, record["issuer"])
        return topic, record["digest"], self.codec.encode(_SUBJECT, record)

    async def publish(self, fingerprint: Mapping[str, Any]) -> str:
        """Encode, sign and send ``fingerprint``; its digest once the broker acknowledged it."""
        topic, digest, value = self.encode(fingerprint)
        await self.send(topic, RecordKind.FINGERPRINT, digest.encode(), value)
        return digest

    async def revoke(
        self, fingerprint: Mapping[str, Any], reason: str, *, revoked_at: str | None = None
    ) -> str:
        """Publish ``fingerprint`` (the record last published) revoked: ``sequence`` one higher,
        ``revoked_at`` (ISO 8601; default now), ``revocation_reason`` the code ``reason``."""
        if fingerprint.get("revoked"):
            raise InputError(f"fingerprint {str(fingerprint.get('digest'))[:12]}… is already revoked")
        revoked = dict(fingerprint)
        revoked.update(
            revoked=True,
            revoked_at=revoked_at or self._iso_now(),
            revocation_reason=reason,
            sequence=int(fingerprint["sequence"]) + 1,
        )
        return await self.publish(revoked)
