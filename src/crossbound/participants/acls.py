"""The Kafka ACLs a registry implies, under the ``per_institution`` topic layout.

Each *active* participant gets exactly:

* WRITE on ``<side>.<key>.requests`` if it may request in some scenario, and READ on
  ``<side>.<key>.verdicts`` (its own verdicts);
* WRITE on ``<side>.<key>.attestations`` if it may attest in some scenario, and READ on
  ``<side>.<key>.attestation-requests`` (what it is asked to attest);
* WRITE on ``<side>.<key>.fingerprints``, its own registry topic, if it may issue fingerprints
  (``topics.issuers``: it may attest in a fingerprint-mode scenario, see
  :mod:`crossbound.pipeline.issuers`);
* READ on consumer groups whose names start with ``<prefix><key>.`` (PREFIXED), so that it can
  consume in a group of its own and in no other institution's.

Kafka allows nothing that no ACL allows (``allow.everyone.if.no.acl.found=false``, the default), and
READ and WRITE imply DESCRIBE. So an institution cannot read another's verdicts or attestation
requests, cannot write verdicts or attestation requests at all, and cannot write to another
institution's request, attestation or registry topic (nor the shared ones); suspended and revoked
participants get nothing. The
worker is not given ACLs here: its principal is a super user of the cluster (``super.users``), the
only principal that writes verdicts and attestation requests and reads every input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from crossbound.participants.model import Registry
from crossbound.topics import Topics

__all__ = ["Acl", "acl_lines", "registry_acls"]

ResourceType = Literal["TOPIC", "GROUP"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE"]


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One ALLOW binding: ``principal`` may ``operation`` on the resource, from any host."""

    principal: str
    resource_type: ResourceType
    pattern_type: PatternType
    name: str
    operation: Operation

    def as_dict(self) -> dict[str, str]:
        """The binding as JSON (``permission`` and ``host`` spelled out)."""
        return {**asdict(self), "permission": "ALLOW", "host": "*"}

    def kafka_acls_args(self) -> str:
        """The ``kafka-acls.sh --add`` arguments that create this binding."""
        resource = "--topic" if self.resource_type == "TOPIC" else "--group"
        return (
            f"--add --allow-principal {self.principal} --operation {self.operation.capitalize()} "
            f"{resource} {self.name} --resource-pattern-type {self.pattern_type.lower()}"
        )


def registry_acls(registry: Registry, topics: Topics) -> list[Acl]:
    """Every ACL the registry implies, sorted (``topics`` gives the prefix and the names)."""
    acls: set[Acl] = set()
    for p in registry.participants:
        if not p.active:
            continue
        kinds: list[tuple[str, Operation]] = []
        if p.may_request:
            kinds += [("requests", "WRITE"), ("verdicts", "READ")]
        if p.may_attest:
            kinds += [("attestations", "WRITE"), ("attestation-requests", "READ")]
        if (p.side.topic, p.key) in topics.issuers:
            kinds += [("fingerprints", "WRITE")]
        for kind, operation in kinds:
            name = topics.of_participant(p.side.topic, p.key, kind)
            acls.add(Acl(p.principal, "TOPIC", "LITERAL", name, operation))
        if p.may_request or p.may_attest:
            acls.add(Acl(p.principal, "GROUP", "PREFIXED", f"{topics.prefix}{p.key}.", "READ"))
    return sorted(acls)


def acl_lines(acls: list[Acl], bootstrap: str = "BOOTSTRAP") -> list[str]:
    """One runnable ``kafka-acls.sh`` line per binding."""
    return [f"kafka-acls.sh --bootstrap-server {bootstrap} {acl.kafka_acls_args()}" for acl in acls]
