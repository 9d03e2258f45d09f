"""Read and check a participant registry file (TOML, like the rule sets).

A bad file stops start-up with a :class:`~crossbound.errors.RegistryError` naming the file, the entry
(``participant 3 'hsbc-hk'``, ``participant 'hsbc-hk' key 'hsbc-hk-1'``) and the fault. Layout::

    [registry]
    version = 1

    [[participants]]
    key = "hsbchkhhhkh"                # topic names and consumer groups: [a-z0-9-], no dot
    identifier = "HSBCHKHHHKH"
    scheme = "BIC"                     # LEI | BIC | USCC | HK_BRN, checked by crossbound.identifiers
    side = "HK"                        # HK | SZ
    city = "HK"                        # HK, or a six-digit GB/T 2260 code on the mainland side
    status = "active"                  # active | suspended | revoked
    principal = "User:hsbchkhhhkh"     # its Kafka principal, unique
    may_request = ["sb_corporate_credit_report"]   # scenarios its side requests in
    may_attest = []                                # scenarios its side attests in

    [[participants.keys]]
    key_id = "hsbchkhhhkh-2026"        # unique in the registry
    algorithm = "Ed25519"
    public_key = "<base64 of the 32 raw bytes>"
    not_before = 2026-01-01T00:00:00Z
    not_after = 2027-01-01T00:00:00Z

    [[platform]]                       # the worker's signing keys for one side's outputs
    side = "HK"                        # HK | SZ, each at most once

    [[platform.keys]]                  # as a participant's keys; key ids unique across the registry
    key_id = "platform-hk-2026"
    algorithm = "Ed25519"
    public_key = "<base64 of the 32 raw bytes>"
    not_before = 2026-01-01T00:00:00Z
    not_after = 2027-01-01T00:00:00Z
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from crossbound.domain import Side
from crossbound.errors import RegistryError
from crossbound.identifiers import check as check_identifier
from crossbound.participants.model import Algorithm, Participant, Registry, Scheme, SigningKey, Status

__all__ = ["REGISTRY_VERSION", "load_registry", "parse_registry"]

REGISTRY_VERSION = 1
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_PRINCIPAL = re.compile(r"^User:[A-Za-z0-9][A-Za-z0-9_.@=-]{0,127}$")
_CITY = {Side.HK: re.compile(r"^HK$"), Side.SZ: re.compile(r"^[1-8][0-9]{5}$")}
_FIELDS = {
    "key",
    "identifier",
    "scheme",
    "side",
    "city",
    "status",
    "principal",
    "may_request",
    "may_attest",
    "keys",
}
_KEY_FIELDS = {"key_id", "algorithm", "public_key", "not_before", "not_after"}
_PUBLIC_KEY_BYTES = {Algorithm.ED25519: 32}

# scenario id -> (requester side, attester side), from the loaded rule sets
Scenarios = Mapping[str, tuple[Side, Side]]


def load_registry(path: Path, scenarios: Scenarios) -> Registry:
    """Read and check the registry at ``path`` against the rule sets' ``scenarios``."""
    try:
        data = path.read_bytes()
        doc = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(path, f"not readable TOML: {exc}") from None
    return parse_registry(doc, scenarios, path=str(path), digest=hashlib.sha256(data).hexdigest()[:16])


def parse_registry(
    doc: Mapping[str, Any], scenarios: Scenarios, *, path: str = "<registry>", digest: str = ""
) -> Registry:
    """Check a parsed registry document; see the module docstring for its layout."""
    head = doc.get("registry")
    if not isinstance(head, dict) or head.get("version") != REGISTRY_VERSION:
        raise RegistryError(path, f"needs a [registry] table with version = {REGISTRY_VERSION}")
    if unknown := sorted(set(doc) - {"registry", "participants", "platform"}):
        raise RegistryError(path, f"unknown top-level keys {unknown}")
    entries = doc.get("participants", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RegistryError(path, "participants must be an array of tables ([[participants]])")
    participants = [_participant(e, i, scenarios, path) for i, e in enumerate(entries, start=1)]
    platform = _platform(doc.get("platform", []), path)
    _check_unique(participants, platform, path)
    return Registry(tuple(participants), path, digest, platform)


def _platform(entries: Any, path: str) -> tuple[tuple[Side, SigningKey], ...]:
    """The ``[[platform]]`` tables: each side's worker keys."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RegistryError(path, "platform must be an array of tables ([[platform]])")
    keys: list[tuple[Side, SigningKey]] = []
    sides: set[Side] = set()
    for index, entry in enumerate(entries, start=1):
        where = f"platform {index}"

        def fail(fault: str, where: str = where) -> RegistryError:
            return RegistryError(path, fault, where)

        if unknown := sorted(set(entry) - {"side", "keys"}):
            raise fail(f"unknown keys {unknown}")
        if "side" not in entry:
            raise fail("missing side")
        side = _enum(Side, entry["side"], "side", fail)
        if side in sides:
            raise fail(f"side {side.value} already has a [[platform]] table")
        sides.add(side)
        raw_keys = entry.get("keys", [])
        if not isinstance(raw_keys, list) or not raw_keys or not all(isinstance(k, dict) for k in raw_keys):
            raise fail("keys must be a non-empty array of tables ([[platform.keys]])")
        where = f"platform {side.value}"
        keys += [(side, _signing_key(k, f"{where} key {k.get('key_id')!r}", path)) for k in raw_keys]
    return tuple(keys)


def _participant(entry: dict[str, Any], index: int, scenarios: Scenarios, path: str) -> Participant:
    where = f"participant {index} {entry.get('key')!r}" if "key" in entry else f"participant {index}"

    def fail(fault: str) -> RegistryError:
        return RegistryError(path, fault, where)

    missing = sorted(_FIELDS - {"may_request", "may_attest", "keys"} - set(entry))
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    if unknown := sorted(set(entry) - _FIELDS):
        raise fail(f"unknown keys {unknown}")
    key, identifier, principal, city = (
        _text(entry, f, fail) for f in ("key", "identifier", "principal", "city")
    )
    if not _KEY.match(key):
        raise fail(
            "key must be 1-32 of a-z, 0-9 and '-', starting with a letter or digit (it is part of "
            "topic names)"
        )
    scheme = _enum(Scheme, entry["scheme"], "scheme", fail)
    side = _enum(Side, entry["side"], "side", fail)
    status = _enum(Status, entry["status"], "status", fail)
    result = check_identifier(scheme.identifier_kind, identifier)
    if not result.valid:
        raise fail(f"identifier is not a valid {scheme.value}: {result.reason}")
    if not _CITY[side].match(city):
        raise fail(
            "city must be HK on the HK side" if side is Side.HK else "city must be a six-digit GB/T 2260 code"
        )
    if not _PRINCIPAL.match(principal):
        raise fail("principal must look like User:<name>")
    may_request = _roles(entry, "may_request", scenarios, side, 0, fail)
    may_attest = _roles(entry, "may_attest", scenarios, side, 1, fail)
    raw_keys = entry.get("keys", [])
    if not isinstance(raw_keys, list) or not all(isinstance(k, dict) for k in raw_keys):
        raise fail("keys must be an array of tables ([[participants.keys]])")
    keys = tuple(_signing_key(k, f"{where} key {k.get('key_id')!r}", path) for k in raw_keys)
    return Participant(key, identifier, scheme, side, city, status, principal, may_request, may_attest, keys)


def _text(entry: Mapping[str, Any], name: str, fail: Any) -> str:
    value = entry[name]
    if not isinstance(value, str) or not value:
        raise fail(f"{name} must be a non-empty string")
    return value


def _enum(kind: Any, value: Any, name: str, fail: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise fail(f"{name} must be one of {', '.join(m.value for m in kind)}, got {value!r}") from None


def _roles(
    entry: Mapping[str, Any], name: str, scenarios: Scenarios, side: Side, which: int, fail: Any
) -> frozenset[str]:
    ids = entry.get(name, [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise fail(f"{name} must be a list of scenario ids")
    for scenario in ids:
        if scenario not in scenarios:
            raise fail(f"{name}: no rule set for scenario {scenario!r}")
        if scenarios[scenario][which] is not side:
            role = "requester" if which == 0 else "attester"
            raise fail(
                f"{name}: scenario {scenario!r} has its {role} on {scenarios[scenario][which]}, not {side}"
            )
    return frozenset(ids)


def _signing_key(entry: Mapping[str, Any], where: str, path: str) -> SigningKey:
    def fail(fault: str) -> RegistryError:
        return RegistryError(path, fault, where)

    if missing := sorted(_KEY_FIELDS - set(entry)):
        raise fail(f"missing {', '.join(missing)}")
    if unknown := sorted(set(entry) - _KEY_FIELDS):
        raise fail(f"unknown keys {unknown}")
    key_id = _text(entry, "key_id", fail)
    if not _KEY_ID.match(key_id):
        raise fail("key_id must be 1-64 of A-Z, a-z, 0-9 and _.:-")
    algorithm = _enum(Algorithm, entry["algorithm"], "algorithm", fail)
    try:
        public = base64.b64decode(_text(entry, "public_key", fail), validate=True)
    except binascii.Error:
        raise fail("public_key is not base64") from None
    if len(public) != _PUBLIC_KEY_BYTES[algorithm]:
        size = _PUBLIC_KEY_BYTES[algorithm]
        raise fail(f"public_key must be {size} bytes for {algorithm.value}, got {len(public)}")
    not_before, not_after = entry["not_before"], entry["not_after"]
    if not all(isinstance(t, datetime) and t.tzinfo is not None for t in (not_before, not_after)):
        raise fail("not_before and not_after must be TOML date-times with an offset (2026-01-01T00:00:00Z)")
    if not_after <= not_before:
        raise fail("not_after must be after not_before")
    return SigningKey(key_id, algorithm, public, not_before, not_after)


def _check_unique(
    participants: list[Participant], platform: tuple[tuple[Side, SigningKey], ...], path: str
) -> None:
    for what, value in (
        ("key", lambda p: p.key),
        ("identifier", lambda p: (p.scheme.value, p.identifier)),
        ("principal", lambda p: p.principal),
    ):
        seen: dict[Any, str] = {}
        for p in participants:
            v = value(p)
            if v in seen:
                raise RegistryError(
                    path, f"{what} already used by participant {seen[v]!r}", f"participant {p.key!r}"
                )
            seen[v] = p.key
    key_ids: dict[str, str] = {}
    holders = [(f"participant {p.key!r}", k) for p in participants for k in p.keys]
    holders += [(f"platform {side.value}", k) for side, k in platform]
    for holder, k in holders:
        if k.key_id in key_ids:
            raise RegistryError(
                path, f"key_id already used by {key_ids[k.key_id]}", f"{holder} key {k.key_id!r}"
            )
        key_ids[k.key_id] = holder
