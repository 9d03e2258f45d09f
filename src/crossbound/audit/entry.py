"""One audit entry, its canonical bytes and its digest: what the hash chain links.

An entry is a flat JSON object (format ``v`` 1). Its *canonical form* is the object without its
``digest`` field, serialised with sorted keys, no spaces and ASCII only (``json.dumps(...,
sort_keys=True, separators=(",", ":"), ensure_ascii=True)``); ``digest`` is the SHA-256 of those
bytes, in hex. ``prev`` is the digest of the entry before it in its chain (64 zeros at ``seq`` 0), so
changing, dropping, inserting or reordering one entry breaks the link of the next one. Any client
that can compute SHA-256 over sorted JSON can check a chain without our code.

What an entry holds (never a value from a record, only what names a decision and digests):

* ``chain``, ``seq``, ``prev``: its place (see :mod:`~crossbound.audit.chains`);
* ``kind`` (``verdict``, ``dead_letter``, ``attestation_request``), ``topic``: the record written;
* ``request_id`` (a UUID as records carry it; any other id, which only a dead letter can hold, as
  ``sha256:<hex>`` of it), ``scenario`` (the same for one that is not spelled as rule sets spell
  them), ``ruleset_version``, ``outcome`` (a verdict's outcome, a dead
  letter's reason, ``ASKED`` for an attestation request), ``findings`` (the finding codes, in order);
* ``source``: the input's topic, partition and offset (-1 for a timer's); ``input`` and ``output``:
  SHA-256 of the input and output record values; ``input_sig`` and ``output_sig``: the key id and the
  SHA-256 of the signature header of each record (null when unsigned);
* ``at_ms``: when it was logged (the worker's clock).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final

__all__ = [
    "FORMAT",
    "GENESIS",
    "canonical",
    "decision",
    "digest_of",
    "id_for_log",
    "name_for_log",
    "seal",
    "sha256",
]

FORMAT: Final = 1
GENESIS: Final = "0" * 64  # the ``prev`` of a chain's first entry
_NAME = re.compile(r"^[a-z0-9_.-]{1,64}$")  # a scenario id or rule-set version as rule sets spell them
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def sha256(data: bytes | None) -> str | None:
    """SHA-256 of ``data`` in hex; None for no data."""
    return None if data is None else hashlib.sha256(data).hexdigest()


# built once: json.dumps with options builds an encoder per call
_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, check_circular=False
).encode


def canonical(obj: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry or checkpoint: every field but ``digest`` and ``signature``."""
    if "digest" in obj or "signature" in obj:
        obj = {k: v for k, v in obj.items() if k not in ("digest", "signature")}
    return _ENCODE(obj).encode()


def digest_of(obj: dict[str, Any]) -> str:
    """The digest an entry must hold: SHA-256 of its canonical bytes."""
    return hashlib.sha256(canonical(obj)).hexdigest()


def seal(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its ``digest``."""
    obj["digest"] = digest_of(obj)
    return obj


def id_for_log(request_id: str | None) -> str | None:
    """A request id as the log may hold it: a UUID as it is, anything else (a dead letter's id read
    from an unusable record, which may hold anything) only as its digest."""
    if request_id is None or _UUID.match(request_id):
        return request_id
    return f"sha256:{sha256(request_id.encode())}"


def name_for_log(name: str | None) -> str | None:
    """A scenario id or version as the log may hold it: as rule sets spell them, else (a dead letter's,
    read from an unusable record) only as its digest."""
    if name is None or _NAME.match(name):
        return name
    return f"sha256:{sha256(name.encode())}"


def decision(entry: dict[str, Any]) -> tuple[Any, ...]:
    """What an entry decided, for comparing a replayed decision with the first: which record was
    written for which request (or, without a request id, for which input), with what outcome and
    findings. Not the digests nor the time: a decision taken again after a crash is the same decision
    with a later ``decided_at``."""
    rid = entry.get("request_id")
    where = () if rid is not None else tuple(sorted((entry.get("source") or {}).items()))
    return (
        entry.get("kind"),
        entry.get("topic"),
        rid,
        where,
        entry.get("outcome"),
        tuple(entry.get("findings") or ()),
    )
