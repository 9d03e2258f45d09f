"""A request: decode, key and partition, sides, duplicates, request rules; then reject it or park it.

A request of a scenario in fingerprint mode is not parked: it is answered at once from the registry
(:meth:`~crossbound.pipeline.fingerprints.FingerprintRegistry.answer`).

Redelivery (at-least-once): a request this process already handled is handled silently (its output
went to this process's live producer, which delivers it). A request handled by an earlier process
(killed after producing, before committing) re-emits what the first delivery produced, byte for byte,
rather than nothing (that output may have died with the process) or something new (a second,
different answer), and the re-emitted answer counts as this process's own: a later redelivery to it
is silent, so a crash costs at most one repeat. State changes and outputs are not atomic on a broker
without transactions; this makes them idempotent instead.

A request whose envelope or payload breaks a declared form is dead-lettered before anything else reads
it (:func:`~crossbound.pipeline.guard.refuse_input`). With a participant registry, a request must then
be signed by the institution it names as requester (:mod:`~crossbound.pipeline.signatures`), checked
after its key, sides and scenario and before it is compared with an earlier one of its id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from crossbound.codec.records import PendingRequest, Request
from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.pipeline.decoding import DeadLetter, Decoder
from crossbound.pipeline.guard import refuse_input
from crossbound.pipeline.outputs import Outputs, stored
from crossbound.pipeline.partitioner import partition_for
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.pipeline.signatures import Signatures
from crossbound.pipeline.stores import AnsweredStore, PendingStore
from crossbound.rules import Context, Outcome, evaluate, outcome_of
from crossbound.rules.compiler import request_memo
from crossbound.rules.engine import OnError
from crossbound.topics import wire_side

if TYPE_CHECKING:  # the registry module imports this one (via attestations)
    from crossbound.pipeline.fingerprints import FingerprintRegistry

__all__ = ["REQUEST", "Requests", "check_key"]

REQUEST = "core/request"


def check_key(rec: Incoming, request_id: str, scenario: str, partitions: int | None) -> bytes:
    """The record's key, which must be its request id, on the partition murmur2 gives it."""
    key = request_id.encode()
    if rec.key != key:
        raise DeadLetter(DeadLetterReason.BAD_KEY, "record key must be the request_id", request_id, scenario)
    if partitions is not None and rec.partition != partition_for(key, partitions):
        raise DeadLetter(
            DeadLetterReason.WRONG_PARTITION,
            "records must be partitioned by request_id with Kafka's murmur2 partitioner "
            "(librdkafka clients: partitioner=murmur2_random)",
            request_id,
            scenario,
        )
    return key


class Requests:
    """The requests topics' handler."""

    def __init__(
        self,
        decoder: Decoder,
        pending: PendingStore,
        answered: AnsweredStore,
        outputs: Outputs,
        metrics: Metrics,
        on_rule_error: Mapping[str, OnError],
        clock: Callable[[], float],
        timeout_ms: int,
        partitions: int | None,
        signatures: Signatures | None = None,
        *,
        fingerprints: FingerprintRegistry,
    ) -> None:
        self.decoder = decoder
        self.fingerprints = fingerprints
        self.pending = pending
        self.answered = answered
        self.outputs = outputs
        self.metrics = metrics
        self.on_rule_error = on_rule_error
        self.clock = clock
        self.timeout_ms = timeout_ms
        self.partitions = partitions
        self.signatures = signatures  # None: no participant registry, nothing to check
        self.registry = decoder.codec.registry
        self.input_checks = self.registry.current(REQUEST).input_checks

    def on_request(self, side: str, rec: Incoming) -> list[Outgoing]:
        """A request from ``side``: reject at once, or park it and ask the other side to attest."""
        self.metrics.record(side, "request")
        request = cast(Request, self.decoder.record(rec.value, REQUEST))
        request_id, scenario = request["request_id"], request["scenario_id"]
        refuse_input(self.input_checks, request, request_id, scenario, payload=False)
        key = check_key(rec, request_id, scenario, self.partitions)
        if wire_side(request["requester_side"]) != side:
            raise DeadLetter(
                DeadLetterReason.WRONG_SIDE,
                "requester_side differs from the topic's side",
                request_id,
                scenario,
            )
        rs = self.decoder.ruleset(scenario, request_id)
        if request["requester_side"] != rs.requester_side or request["attester_side"] != rs.attester_side:
            raise DeadLetter(
                DeadLetterReason.WRONG_SIDE, "sides differ from the scenario's", request_id, scenario
            )
        assert rec.value is not None
        body = self._digest(request)
        seen = self._seen(key)
        if seen is not None and seen[:3] == (rec.topic, rec.partition, rec.offset):
            # a redelivery: silent if this process sent the answer, else the same answer again
            again = seen[4]
            if key in self.answered.table:
                return self.answered.send_again(key, again)
            return [] if self.answered.handled_here(key) else [again]  # the same ask, while parked
        if self.signatures is not None:
            self.signatures.check_request(side, rec, request, int(self.clock() * 1000))
        if seen is not None:
            digest = seen[3]
            if digest == body:
                raise DeadLetter(
                    DeadLetterReason.DUPLICATE_REQUEST, "request_id already received", request_id, scenario
                )
            raise DeadLetter(
                DeadLetterReason.REQUEST_ID_CONFLICT,
                "request_id reused with another body",
                request_id,
                scenario,
            )
        payload = self.decoder.payload(rs, request["payload"], rs.request_subject, request_id)
        refuse_input(
            self.registry.current(rs.request_subject).input_checks,
            payload,
            request_id,
            scenario,
            payload=True,
        )
        self.metrics.request(side, scenario)
        now_s = self.clock()
        now = datetime.fromtimestamp(now_s, UTC)
        ctx = Context(request=request, payload=payload, now=now, ruleset_version=rs.version)
        findings = evaluate(rs.stage("request"), ctx, self.on_rule_error[scenario])
        if outcome_of(findings) is Outcome.REJECT:
            verdict = self.outputs.verdict(rs, request, findings, {}, now, rec.partition)
            self.answered.answer(key, request, body, (rec.topic, rec.partition, rec.offset), None, verdict)
            return [verdict]
        if rs.fingerprint is not None:  # verified by the registry: answered now, nothing to ask
            return self.fingerprints.answer(rs, rec, request, payload, body, findings, now)
        now_ms = int(now_s * 1000)
        deadline = now_ms + rs.timeout_ms(self.timeout_ms)
        parked: PendingRequest = {
            "request": rec.value,
            "body_sha256": body,
            "source_topic": rec.topic,
            "source_partition": rec.partition,
            "source_offset": rec.offset,
            "received_at": now_ms,
            "deadline": deadline,
            "scenario_id": scenario,
            "findings": stored(findings),
        }
        ask = self.outputs.attestation_request(rs, request, payload, deadline, rec.partition)
        self.pending.park(
            key, parked, request, payload, request_memo(ctx.memo)
        )  # state last: a fault before it changes nothing
        self.metrics.attestation_request(wire_side(rs.attester_side), scenario)
        return [ask]

    def _digest(self, request: Request) -> bytes:
        """The body digest duplicates and conflicts are told apart by: of the canonical encoding.

        Not of the consumed bytes: Avro reads more than one encoding as the same record (a varint with
        redundant continuation bytes, an older schema version), and those are one request.
        """
        return hashlib.sha256(self.decoder.codec.encode(REQUEST, request)).digest()

    def _seen(self, key: bytes) -> tuple[str, int, int, bytes, Outgoing] | None:
        """Where a known request came from, its body digest, and what to send again on redelivery."""
        a = self.answered.get(key)
        if a is not None:
            return (
                a["source_topic"],
                a["source_partition"],
                a["source_offset"],
                a["body_sha256"],
                self.answered.again(a),
            )
        raw = self.pending.table.get(key)
        if raw is not None:
            parked, request, payload = self.pending.load(key, raw)
            rs = self.decoder.ruleset(request["scenario_id"], request["request_id"])
            again = self.outputs.attestation_request(
                rs, request, payload, parked["deadline"], parked["source_partition"]
            )
            coords = parked["source_topic"], parked["source_partition"], parked["source_offset"]
            return *coords, parked["body_sha256"], again
        return None
