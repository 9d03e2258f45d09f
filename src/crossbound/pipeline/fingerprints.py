"""The fingerprint registry: document fingerprints taken in, and requests answered by looking them up.

On the platform the data source fingerprints a document when it issues it and the data user later
checks the fingerprint of what the person handed over (scenarios.md 1.2 [S8][S11]). Data sources
publish ``core/fingerprint`` records on their side's registry topic ``<side>.fingerprints``
(compacted, keyed by the digest); :meth:`FingerprintRegistry.on_fingerprint` keeps the latest of
each digest in the ``fingerprints`` table. A request of a scenario in fingerprint mode
(``verification = "fingerprint"``) is then answered at once (:meth:`FingerprintRegistry.answer`): the
record of its digest is the ``attestation`` that the fingerprint rules
(:mod:`crossbound.rules.fingerprint`) and the scenario's own attestation rules judge, with no
attestation request and no wait.

**Where the table lives.** Requests are partitioned by request id, fingerprints by digest, so the
record a request needs is usually on another partition. The worker holds ``fingerprints`` as a Faust
*global* table: every worker reads all of its changelog (one partition) and so finds any digest
locally, at the request's own partition, with no repartition hop (a hop by digest would cost a round
trip through the broker per request, and a second place to answer from). The cost: every worker
keeps the whole registry (a 233-byte value and a 67-byte key a record, ``benchmarks/fingerprint_lookup.py``:
a million documents are about 0.3 GB per worker on the memory store, before its overhead) and reads
the whole changelog when it starts.

**Supersession.** A record supersedes the one held for its digest when its ``sequence`` is higher; a
revocation is such a record. One with a lower sequence is refused as ``fingerprint_stale``, one with
the same sequence and another body as ``fingerprint_conflict``; the same record again is a repeat
(counted, nothing else). Records of one digest share a partition (the key), so their offsets order
them: a redelivered record at or before the offset of the one held (after a crash, before the
commit) is a repeat too, not a stale one. A record whose fields contradict each other (``valid_until``
not after ``valid_from``, ``revoked`` without ``revoked_at`` or the reverse) is refused as
``fingerprint_inconsistent``; a key other than the digest as ``bad_key``; a record on the other
side's topic as ``wrong_side``. Every refused record is a dead letter on its side, like any input.

**Who issued it.** With a participant registry a record is taken in only when its issuer signed it,
may issue its document type and (``per_institution``) sent it on its own registry topic, and it
supersedes only a record of the same issuer (:mod:`~crossbound.pipeline.issuers`); these checks come
once the record decodes and its key and side are right, before it is compared with what is held.
Without a registry the records are taken as they come.

**Order.** Publish the fingerprint, then the request: a request whose digest has no record when it is
processed gets ``FINGERPRINT_NOT_FOUND`` (reject) and that answer stands; the requester sends a new
request once the source has published. A worker that has not yet read a record written a moment ago
by another worker answers the same way.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from crossbound.codec.records import Fingerprint, Request, fingerprint_fault
from crossbound.domain import DeadLetterReason
from crossbound.errors import DecodeError
from crossbound.metrics import Metrics
from crossbound.pipeline.attestations import _hops
from crossbound.pipeline.decoding import DeadLetter, Decoder
from crossbound.pipeline.guard import refuse_input
from crossbound.pipeline.issuers import IssuerCheck
from crossbound.pipeline.outputs import Outputs
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.pipeline.stores import AnsweredStore, State
from crossbound.rules import Context, Finding, Outcome, RuleSet, Severity, evaluate, outcome_of
from crossbound.rules.engine import OnError
from crossbound.rules.paths import getter
from crossbound.topics import wire_side

__all__ = ["FINGERPRINT", "FingerprintRegistry", "table_key"]

log = logging.getLogger(__name__)
FINGERPRINT = "core/fingerprint"
_OFFSET = struct.Struct(">q")  # a table value: the source offset of the record held, then its Avro body


def table_key(side: str, digest: str) -> bytes:
    """The ``fingerprints`` key of a digest registered on ``side`` (``hk``/``sz``): ``sz:<digest>``."""
    return f"{side}:{digest}".encode()


class FingerprintRegistry:
    """The registry topics' handler, and the lookup that answers a fingerprint-mode request."""

    def __init__(
        self,
        table: State,
        decoder: Decoder,
        answered: AnsweredStore,
        outputs: Outputs,
        metrics: Metrics,
        on_rule_error: Mapping[str, OnError],
        issuers: IssuerCheck | None = None,
    ) -> None:
        self.table = table
        self.issuers = issuers  # None: no participant registry, nothing checked
        self.decoder = decoder
        self.codec = decoder.codec
        self.answered = answered
        self.outputs = outputs
        self.metrics = metrics
        self.on_rule_error = on_rule_error
        self.input_checks = self.codec.registry.current(FINGERPRINT).input_checks
        self.digests: dict[str, Callable[[Context], Any]] = {
            sid: getter(rs.fingerprint.digest_field)
            for sid, rs in decoder.catalogue.scenarios.items()
            if rs.fingerprint is not None
        }

    # -- the registry topics ------------------------------------------------------------------------

    def on_fingerprint(self, side: str, rec: Incoming) -> list[Outgoing]:
        """A record of ``side``'s registry topic: kept if it is new or supersedes; nothing is sent."""
        self.metrics.record(side, "fingerprint")
        fp = cast(Fingerprint, self.decoder.record(rec.value, FINGERPRINT))
        refuse_input(self.input_checks, fp, None, None, payload=False)
        if rec.key != fp["digest"].encode():
            raise DeadLetter(DeadLetterReason.BAD_KEY, "record key must be the digest")
        if wire_side(fp["issuer_side"]) != side:
            raise DeadLetter(DeadLetterReason.WRONG_SIDE, "issuer_side differs from the topic's side")
        if self.issuers is not None:
            self.issuers.issuer(side, rec, fp)
        fault = fingerprint_fault(fp)
        if fault is not None:
            raise DeadLetter(DeadLetterReason.FINGERPRINT_INCONSISTENT, fault)
        key = table_key(side, fp["digest"])
        body = self.codec.encode(FINGERPRINT, fp)
        raw = self.table.get(key)
        held = None if raw is None else self._held(key, raw)
        if held is not None:
            offset, held_body, held_fp = held
            if self.issuers is not None:
                self.issuers.supersedes(side, fp, held_fp)
            if rec.offset <= offset or body == held_body:  # redelivered, or published again
                self.metrics.fingerprint(side, "repeat")
                return []
            if fp["sequence"] < held_fp["sequence"]:
                raise DeadLetter(
                    DeadLetterReason.FINGERPRINT_STALE, "a record of a higher sequence is held for its digest"
                )
            if fp["sequence"] == held_fp["sequence"]:
                raise DeadLetter(
                    DeadLetterReason.FINGERPRINT_CONFLICT,
                    "another record of the same sequence is held for its digest",
                )
        self.table[key] = _OFFSET.pack(rec.offset) + body
        self.metrics.fingerprint(side, "stored")
        return []

    def _held(self, key: bytes, raw: bytes) -> tuple[int, bytes, Fingerprint] | None:
        """The record held at ``key``: its source offset, body and fields; None (dropped) if unreadable."""
        try:
            offset = int(_OFFSET.unpack_from(raw)[0])
            body = raw[_OFFSET.size :]
            return offset, body, cast(Fingerprint, self.codec.decode(body, (FINGERPRINT,))[1])
        except (struct.error, DecodeError):
            log.error("unreadable fingerprints entry %r: dropped", key)
            self.metrics.unreadable("fingerprints")
            del self.table[key]
            return None

    # -- the lookup -----------------------------------------------------------------------------------

    def lookup(self, side: str, digest: object) -> Fingerprint | None:
        """The record held for ``digest`` on ``side``, or None."""
        if not isinstance(digest, str):
            return None
        key = table_key(side, digest)
        raw = self.table.get(key)
        held = None if raw is None else self._held(key, raw)
        return None if held is None else held[2]

    def answer(
        self,
        rs: RuleSet,
        rec: Incoming,
        request: Request,
        payload: dict[str, Any],
        body: bytes,
        findings: list[Finding],
        now: datetime,
    ) -> list[Outgoing]:
        """A fingerprint-mode request past its request rules: judged by the record of its digest, now."""
        assert rs.fingerprint is not None
        sid = rs.scenario_id
        ctx = Context(request, payload, now, ruleset_version=rs.version)
        found = self.lookup(wire_side(rs.attester_side), self.digests[sid](ctx))
        if found is None:
            code = "FINGERPRINT_NOT_FOUND"
            findings = [
                *findings,
                Finding(f"{sid}:fingerprint", Severity.REJECT, rs.fingerprint.digest_field, code),
            ]
        else:
            ctx = Context(request, payload, now, attestation=found, ruleset_version=rs.version)
            findings = findings + evaluate(rs.stage("attestation"), ctx, self.on_rule_error[sid])
        assert rec.value is not None
        assert rec.key is not None
        steps, memo = _hops(rs, request, payload, now) if rs.steps else ([], None)
        if steps and outcome_of(findings) is not Outcome.REJECT:
            source = rec.topic, rec.partition
            out = self.outputs.hop_record(
                request, steps, findings, {}, rec.value, source, payload=payload, memo=memo
            )
        else:
            out = self.outputs.verdict(rs, request, findings, {}, now, rec.partition)
        self.answered.answer(rec.key, request, body, (rec.topic, rec.partition, rec.offset), None, out)
        return [out]
