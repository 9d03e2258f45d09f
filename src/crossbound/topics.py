"""Topic names. For each side (``hk``, ``sz``):

==============================  ===============================================================
``<side>.requests``             validation requests that side's institutions make
``<side>.attestation-requests`` what that side's data holders are asked to attest
``<side>.attestations``         their answers
``<side>.verdicts``             verdicts for requests that side made
``<side>.deadletter``           what could not be processed, kept on the side it came from
==============================  ===============================================================

plus the worker's internal ``<app>.quota`` (requests repartitioned by their limit key). Every record
of a request is keyed by its ``request_id`` and partitioned with Kafka's default murmur2 partitioner,
so that a request and its attestation meet on one partition; all these topics have the same
partition count.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "SIDES", "Topics", "side_of", "wire_side"]

SIDES = ("hk", "sz")
KINDS = ("requests", "attestation-requests", "attestations", "verdicts", "deadletter")


def wire_side(side: str) -> str:
    """``HK``/``SZ`` as written in records -> ``hk``/``sz`` as used in topic names."""
    return side.lower()


def side_of(wire: str) -> str:
    """``hk``/``sz`` -> ``HK``/``SZ``."""
    return wire.upper()


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

    def all(self) -> list[str]:
        """Every topic the pipeline needs, to create explicitly."""
        return [self.name(s, k) for s in SIDES for k in KINDS] + [self.quota]
