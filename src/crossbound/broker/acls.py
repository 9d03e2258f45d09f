"""Create and list Kafka ACLs (CreateAcls, DescribeAcls) with aiokafka's protocol classes.

aiokafka 0.14's admin client has no ACL methods, but its protocol module has the requests and its
:class:`~aiokafka.client.AIOKafkaClient` negotiates their versions; this module sends them itself.
One CreateAcls request carries one binding (aiokafka's request builder takes one); creating a binding
that exists is not an error in Kafka, so :func:`apply_acls` can be run again after a registry change.
:func:`stale_acls` names the bindings a registry's principals hold but should no longer (a participant
suspended or revoked), which :func:`delete_acls` removes; a participant deleted from the registry
altogether is no longer known by principal, so suspend or revoke it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest

from crossbound.broker.security import PLAINTEXT, ClientSecurity
from crossbound.broker.session import round_trip, started_client
from crossbound.errors import BrokerError
from crossbound.participants import Acl

__all__ = ["apply_acls", "delete_acls", "describe_acls", "stale_acls"]

# Kafka's wire codes (org.apache.kafka.common.resource.ResourceType, PatternType, acl.AclOperation,
# acl.AclPermissionType)
_RESOURCE = {"ANY": 1, "TOPIC": 2, "GROUP": 3}
_PATTERN = {"ANY": 1, "LITERAL": 3, "PREFIXED": 4}
_OPERATION = {"ANY": 1, "READ": 3, "WRITE": 4}
_ALLOW, _ANY_PERMISSION = 3, 1
_NAMES = {
    "resource": {v: k for k, v in _RESOURCE.items()},
    "pattern": {v: k for k, v in _PATTERN.items()},
    "operation": {v: k for k, v in _OPERATION.items()},
}


async def _send_each(
    bootstrap: str,
    acls: Sequence[Acl],
    request_type: type[CreateAclsRequest] | type[DeleteAclsRequest],
    *,
    security: ClientSecurity,
    timeout_s: float,
) -> int:
    creating = request_type is CreateAclsRequest
    verb, results = ("creating", "creation_responses") if creating else ("deleting", "filter_responses")
    async with round_trip(f"{verb} ACLs", bootstrap, timeout_s, security, started_client) as client:
        for acl in acls:
            request = request_type(
                _RESOURCE[acl.resource_type],
                acl.name,
                _PATTERN[acl.pattern_type],
                acl.principal,
                "*",
                _OPERATION[acl.operation],
                _ALLOW,
            )
            response: Any = await client.send(client.get_random_node(), request)
            for entry in response.to_object()[results]:
                if entry["error_code"]:
                    name = for_code(entry["error_code"]).__name__
                    raise BrokerError(f"{bootstrap} refused {verb} ACL {acl.kafka_acls_args()!r}: {name}")
    return len(acls)


async def apply_acls(
    bootstrap: str, acls: Sequence[Acl], *, security: ClientSecurity = PLAINTEXT, timeout_s: float = 15.0
) -> int:
    """Create every binding of ``acls``; returns how many were sent. BrokerError naming the first
    refused binding (e.g. ``SecurityDisabledError`` on a broker without an authorizer)."""
    return await _send_each(bootstrap, acls, CreateAclsRequest, security=security, timeout_s=timeout_s)


async def delete_acls(
    bootstrap: str, acls: Sequence[Acl], *, security: ClientSecurity = PLAINTEXT, timeout_s: float = 15.0
) -> int:
    """Delete every binding of ``acls`` (each matched exactly); returns how many were sent."""
    return await _send_each(bootstrap, acls, DeleteAclsRequest, security=security, timeout_s=timeout_s)


def stale_acls(found: Sequence[Acl], wanted: Sequence[Acl], principals: set[str]) -> list[Acl]:
    """The bindings of ``principals`` on the broker that ``wanted`` no longer holds (a participant
    suspended, revoked, or with fewer roles): what ``--prune`` deletes. Other principals' bindings
    are left alone."""
    keep = set(wanted)
    return sorted(acl for acl in found if acl.principal in principals and acl not in keep)


async def describe_acls(
    bootstrap: str, *, security: ClientSecurity = PLAINTEXT, timeout_s: float = 15.0
) -> list[Acl]:
    """Every ALLOW binding on topics and groups that :class:`Acl` can express, sorted."""
    async with round_trip("listing ACLs", bootstrap, timeout_s, security, started_client) as client:
        # null name, principal and host match any; operation and permission 1 are ANY
        request = DescribeAclsRequest(_RESOURCE["ANY"], None, _PATTERN["ANY"], None, None, 1, 1)
        response: Any = await client.send(client.get_random_node(), request)
    body = response.to_object()
    if body["error_code"]:
        raise BrokerError(f"{bootstrap} refused to list ACLs: {for_code(body['error_code']).__name__}")
    found = []
    for resource in body["resources"]:
        kind = _NAMES["resource"].get(resource["resource_type"])
        pattern = _NAMES["pattern"].get(resource["resource_pattern_type"])
        for entry in resource["acls"]:
            operation = _NAMES["operation"].get(entry["operation"])
            expressible = (
                kind in ("TOPIC", "GROUP")
                and pattern in ("LITERAL", "PREFIXED")
                and operation in ("READ", "WRITE")
                and entry["permission_type"] == _ALLOW
                and entry["host"] == "*"
            )
            if expressible:
                name = resource["resource_name"]
                found.append(Acl(entry["principal"], kind, pattern, name, operation))  # type: ignore[arg-type]
    return sorted(found)
