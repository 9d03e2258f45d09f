"""Topic names. For each side (``hk``, ``sz``):

==============================  ===============================================================
``<side>.requests``             validation requests that side's institutions make
``<side>.attestation-requests`` what that side's data holders are asked to attest
``<side>.attestations``         their answers
``<side>.verdicts``             verdicts for requests that side made
``<side>.deadletter``           what could not be processed, kept on the side it came from
``<side>.audit``                that side's audit log: hash-chained entries of what was decided,
                                signed checkpoints of its chain heads, the other side's checkpoints
                                (see :mod:`crossbound.audit`); never compacted
``<side>.fingerprints``         the registry: document fingerprints that side's data sources issued
                                (compacted, keyed by digest; see :mod:`crossbound.pipeline.fingerprints`)
==============================  ===============================================================

plus the worker's internal ``<app>.quota`` (requests repartitioned by their limit key) and Faust's table
changelogs ``<app>-<table>-changelog`` (Faust names them ``f"{app.conf.id}-{table.name}-changelog"``,
without our topic prefix; ``conf.id`` is the app id as long as the Faust app ``version`` is 1).
:meth:`Topics.kinds` classifies every one of them into a :class:`TopicKind`, the key of its settings
(:class:`crossbound.settings.TopicsSettings`). Every record
of a request is keyed by its ``request_id`` and partitioned with Kafka's default murmur2 partitioner,
so that a request and its attestation meet on one partition; all these topics have the same
partition count, but for the changelog of the global table ``fingerprints``, which has one.

The layout is a setting (``pipeline.topic_layout``). ``shared`` is the table above. ``per_institution``
adds, for each registered participant (its side and its key, see :mod:`crossbound.participants`), its
own topics ``<side>.<key>.requests``, ``<side>.<key>.attestations`` (what it writes) and
``<side>.<key>.verdicts``, ``<side>.<key>.attestation-requests`` (what it reads), so that broker ACLs
(:mod:`crossbound.participants.acls`) can give each institution its own topics and nothing else; and
for each participant that may issue fingerprints (``issuers``: see
:func:`crossbound.pipeline.issuers.issuers`) its own registry topic ``<side>.<key>.fingerprints``,
which the worker reads with the shared ones into its one ``fingerprints`` table, and on which only a
record that participant issued is taken in.
Participant keys hold no dot, so ``<side>.<key>.`` is a prefix of that participant's topics only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

from crossbound.domain import Side

__all__ = [
    "AUDIT_TABLE",
    "KINDS",
    "REPLICATED_TABLES",
    "SIDES",
    "TABLES",
    "Layout",
    "TopicKind",
    "Topics",
    "wire_side",
]

Layout = Literal["shared", "per_institution"]

SIDES: Final[tuple[str, ...]] = tuple(side.topic for side in Side)  # as topic names spell them: hk, sz
KINDS = ("requests", "attestation-requests", "attestations", "verdicts", "deadletter")
TABLES = ("pending", "answered", "quota_usage", "fingerprints")  # the worker's tables, one changelog each
AUDIT_TABLE = "audit_heads"  # the audit's chain heads (crossbound.audit.chains), with audit.enabled
# Global tables (every worker holds all of them): one changelog partition, as Faust's GlobalTable
# needs with several workers (faust/tables/globaltable.py: else a recovery loop).
REPLICATED_TABLES = ("fingerprints",)


class TopicKind(StrEnum):
    """Kinds of topic that share settings; the values are the field names of ``TopicsSettings``."""

    INPUTS = "inputs"
    ATTESTATIONS = "attestations"
    VERDICTS = "verdicts"
    DEADLETTER = "deadletter"
    CHANGELOG = "changelog"
    INTERNAL = "internal"
    AUDIT = "audit"
    REGISTRY = "registry"


_PARTICIPANT_KINDS = ("requests", "attestation-requests", "attestations", "verdicts", "fingerprints")
_KIND_OF = {
    "requests": TopicKind.INPUTS,
    "attestation-requests": TopicKind.ATTESTATIONS,
    "attestations": TopicKind.ATTESTATIONS,
    "verdicts": TopicKind.VERDICTS,
    "deadletter": TopicKind.DEADLETTER,
}


def wire_side(side: str) -> str:
    """``HK``/``SZ`` as written in records -> ``hk``/``sz`` as used in topic names (``Side(side).topic``)."""
    return side.lower()


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names of one deployment."""

    prefix: str = ""
    app_id: str = "crossbound"
    layout: Layout = "shared"
    participants: tuple[tuple[str, str], ...] = ()  # (side as topics spell it, key), per_institution only
    issuers: tuple[tuple[str, str], ...] = ()  # those of them that may issue fingerprints: a registry topic
    # (scheme, identifier) -> key of each participant: who a record's institution is, for routing
    directory: Mapping[tuple[str, str], str] = field(default_factory=dict, hash=False)

    def name(self, side: str, kind: str) -> str:
        """``<prefix><side>.<kind>``."""
        return f"{self.prefix}{side}.{kind}"

    def requests(self, side: str) -> str:
        """Requests made by ``side``."""
        return self.name(side, "requests")

    def attestation_requests(self, side: str) -> str:
        """Attestation requests for ``side``'s data holders."""
        return self.name(side, "attestation-requests")

    def attestations(self, side: str) -> str:
        """Attestations from ``side``'s data holders."""
        return self.name(side, "attestations")

    def verdicts(self, side: str) -> str:
        """Verdicts for ``side``'s requests."""
        return self.name(side, "verdicts")

    def deadletter(self, side: str) -> str:
        """Dead letters of records that came from ``side``."""
        return self.name(side, "deadletter")

    def audit(self, side: str) -> str:
        """``side``'s audit log."""
        return self.name(side, "audit")

    def audits(self) -> list[str]:
        """Both sides' audit logs."""
        return [self.audit(s) for s in SIDES]

    def fingerprints(self, side: str) -> str:
        """The shared registry of ``side``: fingerprints of the documents its data sources issued
        (compacted). Under ``per_institution`` each issuer writes its own instead
        (:meth:`registry_for`); all of them fill the one table, since a fingerprint is looked up by
        whoever verifies the document, not only by one institution.
        """
        return self.name(side, "fingerprints")

    def of_participant(self, side: str, key: str, kind: str) -> str:
        """``<prefix><side>.<key>.<kind>``: one participant's own topic of ``kind``."""
        if kind not in _PARTICIPANT_KINDS:
            raise ValueError(f"participants have no {kind!r} topic")
        return f"{self.participant_prefix(side, key)}{kind}"

    def participant_prefix(self, side: str, key: str) -> str:
        """``<prefix><side>.<key>.``, the start of every topic of that participant (and of no other)."""
        if not key or "." in key:
            raise ValueError(f"participant key {key!r} must be non-empty and hold no dot")
        return f"{self.prefix}{side}.{key}."

    def participant_topics(self) -> dict[str, TopicKind]:
        """The participants' own topics with their kinds (none in the shared layout)."""
        if self.layout == "shared":
            return {}
        own = {
            self.of_participant(side, key, kind): _KIND_OF[kind]
            for side, key in self.participants
            for kind in KINDS
            if kind != "deadletter"
        }
        return own | dict.fromkeys(self.participant_registries(), TopicKind.REGISTRY)

    def participant_registries(self) -> dict[str, tuple[str, str]]:
        """The issuers' own registry topics -> (side, key) of the participant that owns each
        (none in the shared layout)."""
        if self.layout == "shared":
            return {}
        return {self.of_participant(side, key, "fingerprints"): (side, key) for side, key in self.issuers}

    def registry_for(self, side: str, issuer: Mapping[str, object]) -> str:
        """The registry topic a record ``issuer`` (``{"scheme", "id"}``) issued goes on: its own under
        ``per_institution`` when it is registered as an issuer, else the side's shared one."""
        if self.layout == "per_institution":
            key = self.directory.get((str(issuer.get("scheme")), str(issuer.get("id"))))
            if key is not None and (side, key) in self.issuers:
                return self.of_participant(side, key, "fingerprints")
        return self.fingerprints(side)

    def for_institution(self, side: str, kind: str, institution: Mapping[str, object]) -> str:
        """The topic of ``kind`` that serves ``institution`` (a record's ``{"scheme", "id"}``): its own
        under ``per_institution`` when it is registered, else the side's shared one."""
        if self.layout == "per_institution":
            key = self.directory.get((str(institution.get("scheme")), str(institution.get("id"))))
            if key is not None:
                return self.of_participant(side, key, kind)
        return self.name(side, kind)

    def participant_inputs(self) -> dict[str, tuple[str, str]]:
        """The participants' request and attestation topics -> (side, shared kind) they stand for."""
        return {
            self.of_participant(side, key, kind): (side, kind)
            for side, key in (self.participants if self.layout == "per_institution" else ())
            for kind in ("requests", "attestations")
        }

    @property
    def quota(self) -> str:
        """The repartition topic of stateful limit checks."""
        return f"{self.prefix}{self.app_id}.quota"

    def registries(self) -> list[str]:
        """What the registry agent consumes: both sides' registry topics, and under
        ``per_institution`` the issuers' own."""
        return [self.fingerprints(s) for s in SIDES] + list(self.participant_registries())

    def inputs(self) -> list[str]:
        """What the main agent consumes: the shared request and attestation topics, and under
        ``per_institution`` the participants' own."""
        shared = [self.requests(s) for s in SIDES] + [self.attestations(s) for s in SIDES]
        return shared + list(self.participant_inputs())

    def changelog(self, table: str) -> str:
        """The changelog topic Faust gives ``table``."""
        return f"{self.app_id}-{table}-changelog"

    def changelogs(self) -> list[str]:
        """The changelog topics of the worker's tables."""
        return [self.changelog(t) for t in TABLES]

    def all(self) -> list[str]:
        """Every topic the pipeline itself reads or writes (not the table changelogs)."""
        shared = [self.name(s, k) for s in SIDES for k in KINDS]
        return [*shared, self.quota, *(self.fingerprints(s) for s in SIDES)]

    def kinds(self) -> dict[str, TopicKind]:
        """Every topic of a deployment, changelogs included, with its kind."""
        kinds = {self.name(s, k): _KIND_OF[k] for s in SIDES for k in KINDS}
        kinds[self.quota] = TopicKind.INTERNAL
        kinds.update(dict.fromkeys((self.fingerprints(s) for s in SIDES), TopicKind.REGISTRY))
        kinds.update(dict.fromkeys(self.changelogs(), TopicKind.CHANGELOG))
        kinds.update(self.participant_topics())
        kinds.update(dict.fromkeys(self.audits(), TopicKind.AUDIT))
        kinds[self.changelog(AUDIT_TABLE)] = TopicKind.CHANGELOG
        return kinds
