"""Who issued a fingerprint record, checked: the registry topics under the trust boundary.

On only with a participant registry (``pipeline.participants``), as every signature check. Then a
record on a registry topic is taken in only when it is signed (record kind ``fingerprint``, bound to
its side and its Kafka key, the digest: :mod:`crossbound.signing.message`) by the data source it names
as ``issuer``, and that data source is ``active`` and may issue the record's document type.

**Who may issue.** A participant may issue fingerprints of a document type when it ``may_attest`` in a
fingerprint-mode scenario that accepts that type: in that mode the scenario's attester *is* the data
source whose records answer it (FP-2 compares the record's issuer with the request's
``attester_inst``), so the registry needs no role of its own. A role in the live sibling does not
count: answering attestations does not make a bank a registry publisher.

**Whose topic.** Under ``per_institution`` each such participant has its own registry topic
``<side>.<key>.fingerprints``, which only it may write (:mod:`crossbound.participants.acls`), and a
record is taken in only from the topic of the participant that issued it: a data source whose key
was stolen, or that turned rogue, cannot issue another's documents even with its own valid key. The
side's shared ``<side>.fingerprints`` has no owner there: every record on it is refused. Under
``shared`` the signature check carries that alone: anyone may write the topic, nobody can sign as
another.

**Whose digest.** A record supersedes only a record of its own issuer: one for a digest held under
another issuer is refused (else a data source could revoke, or re-issue under its own name, the
document of another).

Each refusal is a dead letter with the signature refusal's reason (``unsigned``,
``unknown_signer``, ``bad_signature``, ``key_expired``, ``not_authorised``), counted in
``crossbound_signature_refused_total``; its detail names registry entries only. A signature's age is
not bounded here as it is for requests: a fingerprint lives as long as its document, and a new
worker reads the compacted topic from its start, years of records; the key's validity at the
signing time (and the clock skew) still apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn

from crossbound.codec.records import Fingerprint
from crossbound.domain import DeadLetterReason, Side
from crossbound.metrics import Metrics
from crossbound.participants import Participant, Registry
from crossbound.pipeline.decoding import DeadLetter
from crossbound.pipeline.records import Incoming
from crossbound.rules import Catalogue
from crossbound.signing import Binding, RecordKind, RefusalReason, Refused, Verifier
from crossbound.topics import Topics

__all__ = ["IssuerCheck", "document_types", "issuers", "may_issue"]

_UNBOUNDED_AGE_MS = 2**62  # see the module docstring: a fingerprint's signature does not age out


def document_types(catalogue: Catalogue) -> dict[str, str]:
    """Each fingerprint-mode scenario -> the one document type it accepts."""
    return {
        sid: rs.fingerprint.document_type
        for sid, rs in catalogue.scenarios.items()
        if rs.fingerprint is not None
    }


def may_issue(participant: Participant, types: Mapping[str, str], document_type: str | None = None) -> bool:
    """Whether ``participant`` may attest in a fingerprint-mode scenario of ``types`` (accepting
    ``document_type``; None: any)."""
    return any(
        sid in participant.may_attest and document_type in (None, accepted) for sid, accepted in types.items()
    )


def issuers(registry: Registry, catalogue: Catalogue) -> tuple[tuple[str, str], ...]:
    """(side, key) of every participant that may issue fingerprints: who has a registry topic of its
    own under ``per_institution`` (whatever its status, as its other topics)."""
    types = document_types(catalogue)
    return tuple((p.side.topic, p.key) for p in registry.participants if may_issue(p, types))


class IssuerCheck:
    """The checks of one deployment's registry records against its participant registry."""

    def __init__(
        self,
        registry: Registry,
        catalogue: Catalogue,
        topics: Topics,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.types = document_types(catalogue)
        self.verifier = Verifier(registry, max_age_ms=_UNBOUNDED_AGE_MS)
        self.owners = topics.participant_registries()
        self.per_institution = topics.layout == "per_institution"
        self.metrics = metrics

    def issuer(self, side: str, rec: Incoming, fp: Fingerprint) -> Participant:
        """The participant that issued ``fp`` (``rec`` on ``side``); raises the record's dead letter
        when it is not signed by that active data source, allowed, on its own topic."""
        binding = Binding(Side.of_topic(side), RecordKind.FINGERPRINT, rec.key or b"")
        got = self.verifier.verify(rec.value or b"", rec.headers, binding, int(self.clock() * 1000))
        if isinstance(got, Refused):
            self._refuse(side, got.reason, got.detail)
        signer = got.participant
        if self.registry.find(fp["issuer"]["scheme"], fp["issuer"]["id"]) is not signer:
            self._refuse(side, None, f"signed by {signer.key!r}, not by the issuer the record names")
        if not signer.active:
            self._refuse(side, None, f"signer {signer.key!r} is {signer.status.value}")
        if not may_issue(signer, self.types, fp["document_type"]):
            self._refuse(
                side,
                None,
                f"signer {signer.key!r} may attest in no fingerprint-mode scenario of the record's "
                "document type",
            )
        if self.per_institution and self.owners.get(rec.topic) != (side, signer.key):
            self._refuse(side, None, f"not on the registry topic of its issuer {signer.key!r}")
        return signer

    def supersedes(self, side: str, fp: Fingerprint, held: Fingerprint) -> None:
        """Raise the dead letter of ``fp`` if the record ``held`` for its digest is another issuer's."""
        mine, theirs = fp["issuer"], held["issuer"]
        if (mine["scheme"], mine["id"]) != (theirs["scheme"], theirs["id"]):
            self._refuse(side, None, "a record of another issuer is held for its digest")

    def _refuse(self, side: str, reason: RefusalReason | None, detail: str) -> NoReturn:
        reason = reason or RefusalReason.NOT_AUTHORISED
        self.metrics.signature_refused(side, reason.value)
        raise DeadLetter(DeadLetterReason(reason.value), detail)
