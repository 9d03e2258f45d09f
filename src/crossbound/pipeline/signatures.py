"""Signatures in the pipeline: who sent each input, checked; what the worker sends, signed.

On only when the worker has a participant registry (``pipeline.participants``): then every request
must be signed by the institution it names as ``requester_inst`` and every attestation by the one it
names as ``attester_inst``, the attester the request named (:mod:`crossbound.signing`). A refusal
raises a ``DeadLetter`` with the refusal's own reason (``unsigned``, ``unknown_signer``,
``bad_signature``, ``key_expired``, ``not_authorised``, ``wrong_attester``) and a detail that names
registry entries only, and is counted in ``crossbound_signature_refused_total{side,reason}``.

A record is verified once it decodes and its key is right (its dead letter then names its request
id), before anything it asks for is acted on or compared (a duplicate, a late attestation). A
redelivery of the very record that was answered (same coordinates) is not verified again: it was
when it was first handled, and the clock has moved since (its signature may have aged past the bound).

Every verdict and attestation request leaves signed with its side's ``[[platform]]`` key, whichever
path built it (a fresh answer, a timeout, a stateful hop's, or one sent again on a redelivery: the
value byte for byte the same, the signature made anew), so :meth:`Signatures.sign` runs where the
pipeline hands its outputs over, not in each encoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NoReturn

from crossbound.codec.records import Attestation, Request
from crossbound.domain import DeadLetterReason, Side
from crossbound.metrics import Metrics
from crossbound.participants import Registry
from crossbound.pipeline.decoding import DeadLetter
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.signing import (
    Binding,
    Institution,
    RecordKind,
    Refused,
    Signer,
    Verified,
    Verifier,
    authorise_attester,
    authorise_requester,
)
from crossbound.topics import SIDES, Topics

__all__ = ["Signatures"]

Headers = tuple[tuple[str, bytes], ...]


def _inst(record: Mapping[str, Any]) -> Institution:
    return str(record["scheme"]), str(record["id"])


class Signatures:
    """The checks and signing of one deployment: ``signers`` by side (``hk``, ``sz``)."""

    def __init__(self, registry: Registry, signers: Mapping[str, Signer], topics: Topics, metrics: Metrics):
        if missing := sorted(set(SIDES) - set(signers)):
            raise ValueError(f"no platform signer for side {', '.join(missing)}")
        self.registry = registry
        self.signers = signers
        self.metrics = metrics
        self.verifier = Verifier(registry)
        self.outputs: dict[str, tuple[Side, RecordKind]] = {}  # topic -> what its records are
        kinds = {"verdicts": RecordKind.VERDICT, "attestation-requests": RecordKind.ATTESTATION_REQUEST}
        own = topics.participants if topics.layout == "per_institution" else ()
        for name, kind in kinds.items():
            for side in SIDES:
                self.outputs[topics.name(side, name)] = (Side.of_topic(side), kind)
            for side, key in own:
                self.outputs[topics.of_participant(side, key, name)] = (Side.of_topic(side), kind)
        #: a header as large as any signature this deployment makes: the output budget counts it
        self.reserve: Headers = max(
            (
                s.headers(b"", Binding(Side.HK, RecordKind.ATTESTATION_REQUEST, b""), 10**15 - 1)
                for s in signers.values()
            ),
            key=lambda h: len(h[0][1]),
        )

    # -- inputs ---------------------------------------------------------------------------------------

    def _verify(
        self, side: str, rec: Incoming, kind: RecordKind, ids: tuple[str, str], now_ms: int
    ) -> Verified:
        binding = Binding(Side.of_topic(side), kind, rec.key or b"")
        got = self.verifier.verify(rec.value or b"", rec.headers, binding, now_ms)
        if isinstance(got, Refused):
            self._refuse(side, got, ids)
        return got

    def _refuse(self, side: str, refused: Refused, ids: tuple[str, str]) -> NoReturn:
        self.metrics.signature_refused(side, refused.reason.value)
        raise DeadLetter(DeadLetterReason(refused.reason.value), refused.detail, *ids)

    def check_request(self, side: str, rec: Incoming, request: Request, now_ms: int) -> None:
        """Raise the dead letter of a request not signed by its active requester with the role."""
        ids = request["request_id"], request["scenario_id"]
        verified = self._verify(side, rec, RecordKind.REQUEST, ids, now_ms)
        refused = authorise_requester(self.registry, verified, ids[1], _inst(request["requester_inst"]))
        if refused is not None:
            self._refuse(side, refused, ids)

    def verify_attestation(self, side: str, rec: Incoming, att: Attestation, now_ms: int) -> Verified:
        """Who signed an attestation; raises its dead letter when nobody registered did."""
        return self._verify(
            side, rec, RecordKind.ATTESTATION, (att["request_id"], att["scenario_id"]), now_ms
        )

    def authorise_attestation(
        self, side: str, verified: Verified, att: Attestation, request: Request
    ) -> None:
        """Raise the dead letter of an attestation not from the active attester the request named."""
        ids = att["request_id"], request["scenario_id"]
        refused = authorise_attester(
            self.registry, verified, ids[1], _inst(att["attester_inst"]), _inst(request["attester_inst"])
        )
        if refused is not None:
            self._refuse(side, refused, ids)

    # -- outputs --------------------------------------------------------------------------------------

    def sign(self, outs: Sequence[Outgoing], now_ms: int) -> list[Outgoing]:
        """``outs``, with every verdict and attestation request signed by its side's platform key."""
        signed = []
        for out in outs:
            target = self.outputs.get(out.topic)
            if target is not None and out.key is not None:
                side, kind = target
                headers = self.signers[side.topic].headers(out.value, Binding(side, kind, out.key), now_ms)
                out = replace(out, headers=out.headers + headers)
            signed.append(out)
        return signed
