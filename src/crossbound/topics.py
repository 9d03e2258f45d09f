"""Topic names. For each side (``hk``, ``sz``):

==============================  ===============================================================
``<side>.requests``             validation requests that side's institutions make
``<side>.attestation-requests`` what that side's data holders are asked to attest
``<side>.attestations``         their answers
``<side>.verdicts``             verdicts for requests that side made
``<side>.deadletter``           what could not be processed, kept on the side it came from
==============================  ===============================================================

plus the worker's internal ``<app>.quota`` (requests repartitioned by their limit key) and Faust's table
changelogs ``<app>-<table>-changelog`` (Faust names them ``f"{app.conf.id}-{table.name}-changelog"``,
without our topic prefix; ``conf.id`` is the app id as long as the Faust app ``version`` is 1).
:meth:`Topics.kinds` classifies every one of them into a :class:`TopicKind`, the key of its settings
(:class:`crossbound.settings.TopicsSettings`). Every record
of a request is keyed by its ``request_id`` and partitioned with Kafka's default murmur2 partitioner,
so that a request and its attestation meet on one partition; all these topics have the same
partition count.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from crossbound.domain import Side

__all__ = ["KINDS", "SIDES", "TABLES", "TopicKind", "Topics", "wire_side"]

SIDES: Final[tuple[str, ...]] = tuple(side.topic for side in Side)  # as topic names spell them: hk, sz
KINDS = ("requests", "attestation-requests", "attestations", "verdicts", "deadletter")
TABLES = ("pending", "answered", "quota_usage")  # the worker's Faust tables, one changelog each


class TopicKind(StrEnum):
    """Kinds of topic that share settings; the values are the field names of ``TopicsSettings``."""

    INPUTS = "inputs"
    ATTESTATIONS = "attestations"
    VERDICTS = "verdicts"
    DEADLETTER = "deadletter"
    CHANGELOG = "changelog"
    INTERNAL = "internal"


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

    @property
    def quota(self) -> str:
        """The repartition topic of stateful limit checks."""
        return f"{self.prefix}{self.app_id}.quota"

    def inputs(self) -> list[str]:
        """What the main agent consumes."""
        return [self.requests(s) for s in SIDES] + [self.attestations(s) for s in SIDES]

    def changelog(self, table: str) -> str:
        """The changelog topic Faust gives ``table``."""
        return f"{self.app_id}-{table}-changelog"

    def changelogs(self) -> list[str]:
        """The changelog topics of the worker's tables."""
        return [self.changelog(t) for t in TABLES]

    def all(self) -> list[str]:
        """Every topic the pipeline itself reads or writes (not the table changelogs)."""
        return [self.name(s, k) for s in SIDES for k in KINDS] + [self.quota]

    def kinds(self) -> dict[str, TopicKind]:
        """Every topic of a deployment, changelogs included, with its kind."""
        kinds = {self.name(s, k): _KIND_OF[k] for s in SIDES for k in KINDS}
        kinds[self.quota] = TopicKind.INTERNAL
        kinds.update(dict.fromkeys(self.changelogs(), TopicKind.CHANGELOG))
        return kinds
