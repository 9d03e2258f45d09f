"""Who may take part: the participant registry and the broker ACLs it implies.

The registry (:mod:`~crossbound.participants.model`, read by :mod:`~crossbound.participants.loader`)
names each institution by its public identifier and scheme, its side and city, its status, what it may
request and attest per scenario, its Kafka principal and its signing public keys. From it,
:mod:`~crossbound.participants.acls` derives the ACLs that confine each institution to its own topics.
Pure: no client, no broker.
"""

from __future__ import annotations

from crossbound.participants.acls import Acl, acl_lines, registry_acls
from crossbound.participants.loader import REGISTRY_VERSION, load_registry, parse_registry
from crossbound.participants.model import Algorithm, Participant, Registry, Scheme, SigningKey, Status

__all__ = [
    "REGISTRY_VERSION",
    "Acl",
    "Algorithm",
    "Participant",
    "Registry",
    "Scheme",
    "SigningKey",
    "Status",
    "acl_lines",
    "load_registry",
    "parse_registry",
    "registry_acls",
]
