"""What an output record decided, read back from the record itself: the body of its audit entry.

The facts (request id, scenario, rule-set version, outcome, finding codes) are decoded from the very
bytes that are written, not taken from the code that built them, so the log says what the record
says. Which records are decisions, and on which side, is read from their topic: verdicts, dead
letters and attestation requests, shared or per institution; hop records are the pipeline's own and
are not logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crossbound.audit.entry import FORMAT, id_for_log, name_for_log, sha256
from crossbound.codec import Codec
from crossbound.pipeline import Incoming, Outgoing
from crossbound.signing import BadHeader, Signature, find_header
from crossbound.topics import SIDES, Topics

__all__ = ["Facts", "decided_kinds", "signature_of"]

_SUBJECTS = {
    "verdict": ("core/verdict",),
    "dead_letter": ("core/deadletter",),
    "attestation_request": ("core/attestation_request",),
}
_KIND_OF = {"verdicts": "verdict", "deadletter": "dead_letter", "attestation-requests": "attestation_request"}


def decided_kinds(topics: Topics) -> dict[str, tuple[str, str]]:
    """Every topic a decision is written to -> (side as topics spell it, record kind)."""
    kinds = {topics.name(side, kind): (side, record) for side in SIDES for kind, record in _KIND_OF.items()}
    for side, key in topics.participants if topics.layout == "per_institution" else ():
        for kind in ("verdicts", "attestation-requests"):
            kinds[topics.of_participant(side, key, kind)] = (side, _KIND_OF[kind])
    return kinds


def signature_of(headers: Iterable[tuple[str, bytes]]) -> dict[str, str] | None:
    """The key id and the digest of a record's signature header; None when unsigned. A malformed
    header is logged as its digest with no key id (what was there, not what it claims)."""
    try:
        raw = find_header(headers)
    except BadHeader:
        return {"key_id": "", "digest": "malformed"}
    if raw is None:
        return None
    try:
        key_id = Signature.parse(raw).key_id
    except BadHeader:
        key_id = ""
    return {"key_id": key_id, "digest": sha256(raw) or ""}


class Facts:
    """Reads the entry body of each decision a pipeline writes, on the topics of one deployment."""

    def __init__(self, codec: Codec, topics: Topics) -> None:
        self.codec = codec
        self.kinds = decided_kinds(topics)

    def side_of(self, out: Outgoing) -> str | None:
        """The side whose audit logs ``out`` (as topics spell it); None if ``out`` is no decision."""
        found = self.kinds.get(out.topic)
        return None if found is None else found[0]

    def body(
        self,
        out: Outgoing,
        rec: Incoming | None,
        source: tuple[str, int, int],
        input_headers: Iterable[tuple[str, bytes]] = (),
    ) -> dict[str, Any]:
        """The entry body of the decision ``out`` taken for ``rec`` (None: a timer's) read at ``source``
        (topic, partition, offset)."""
        _, kind = self.kinds[out.topic]
        record = self.codec.decode(out.value, _SUBJECTS[kind])[1]
        if kind == "verdict":
            outcome = record["outcome"]
            findings = [f["code"] for f in record["findings"]]
        elif kind == "dead_letter":
            outcome, findings = record["reason"], []
        else:
            outcome, findings = "ASKED", []
        return {
            "v": FORMAT,
            "type": "entry",
            "kind": kind,
            "topic": out.topic,
            "request_id": id_for_log(record.get("request_id")),
            "scenario": name_for_log(record.get("scenario_id")),
            "ruleset_version": record.get("ruleset_version"),
            "outcome": outcome,
            "findings": findings,
            "source": {"topic": source[0], "partition": source[1], "offset": source[2]},
            "input": None if rec is None else sha256(rec.value),
            "output": sha256(out.value),
            "input_sig": signature_of(input_headers),
            "output_sig": signature_of(out.headers),
        }
