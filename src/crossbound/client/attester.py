"""A data holder: answer the attestation requests addressed to the institution, signed.

::

    async def answer(asked: dict[str, Any]) -> dict[str, Any] | None:
        return {"status": "FOUND", "payload": {...}}   # what it holds, as digests and yes/no

    async with Attester(bootstrap, identity, topics, codec, catalogue, answer, trust=trust):
        ...  # serves until the block ends

For each record on its attestation-requests topic the attester decodes it and skips those addressed
to another institution (the side's shared topic holds them all: they are not its to check). Of its
own, it checks that the platform's key of its side signed it (with a :class:`~crossbound.client.Trust`)
before anything else; one that does not verify is refused and counted
(``crossbound_client_refused_total{record="attestation_request"}``), never answered. Then it hands
``answer`` the request with its ``payload`` decoded. ``answer`` returns the attestation's
``status``, ``payload`` (JSON form, encoded with the scenario's attestation schema) and optionally
``attested_at`` (default: now), or None to leave it unanswered (the platform then times it out). The
attester fills in the rest (request id, scenario, this institution as ``attester_inst``, its side),
encodes, signs and sends it to its attestations topic. The requests of one fetch are answered
concurrently (the callback may be called again before an earlier call returned). A callback that
raises, an answer that does not encode, or one the broker does not take, is counted and logged (its
type only); serving goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Unpack

from aiokafka.errors import KafkaError

from crossbound.client.endpoint import Endpoint, Options
from crossbound.client.identity import Identity
from crossbound.client.wire import Received
from crossbound.codec import Codec
from crossbound.codec.jsonform import Catalogue, attestation_from_json
from crossbound.errors import DecodeError, InputError
from crossbound.signing import RecordKind
from crossbound.topics import Topics

__all__ = ["Answer", "Attester"]

Answer = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any] | None]]
_ASKED = frozenset({"core/attestation_request"})
_FROM_ANSWER = ("status", "payload", "attested_at")
log = logging.getLogger(__name__)


class Attester(Endpoint):
    """A data holder answering with ``answer``: see the module docstring."""

    reads_topic = "attestation-requests"

    def __init__(
        self,
        bootstrap: str,
        identity: Identity,
        topics: Topics,
        codec: Codec,
        catalogue: Catalogue,
        answer: Answer,
        **options: Unpack[Options],
    ) -> None:
        super().__init__(bootstrap, identity, topics, codec, catalogue, **options)
        self.answer = answer
        self.answered = 0  # attestations sent

    async def handle(self, rec: Received) -> None:
        """One record on the attestation-requests topic: check, ask the callback, send its answer."""
        key = rec.key or b""
        try:
            asked = self.codec.decode_input(rec.value or b"", _ASKED)[1]
        except DecodeError:
            refused = self.check(rec, RecordKind.ATTESTATION_REQUEST)  # a forgery says so first
            self.refuse("attestation_request", "undecodable" if refused is None else refused.reason.value)
            return
        if not self.identity.names(asked["attester_inst"]):
            return  # addressed to another data holder of the side: not ours to check
        refused = self.check(rec, RecordKind.ATTESTATION_REQUEST)
        if refused is not None:
            self.refuse("attestation_request", refused.reason.value)
            return
        if asked["request_id"].encode() != key:
            self.refuse("attestation_request", "wrong_request")
            return
        try:
            asked["payload"] = self.codec.decode(asked["payload"])[1]
        except DecodeError:
            self.refuse("attestation_request", "undecodable")
            return
        attestation = await self._attestation(asked)
        if attestation is None:
            return
        try:
            await self.send(
                self.identity.topic(self.topics, "attestations"), RecordKind.ATTESTATION, key, attestation
            )
        except KafkaError as exc:
            log.warning("attestation for %s not sent: %s", asked["request_id"], type(exc).__name__)
            self.metrics.answer_failed.inc()
            return
        self.answered += 1

    async def _attestation(self, asked: dict[str, Any]) -> bytes | None:
        try:
            answer = await self.answer(asked)
            if answer is None:
                return None
            obj = {
                "request_id": asked["request_id"],
                "scenario_id": asked["scenario_id"],
                "attester_side": self.identity.side.value,
                "attester_inst": asked["attester_inst"],
                "attested_at": self.now_ms(),
                **{k: answer[k] for k in _FROM_ANSWER if k in answer},
            }
            return self.codec.encode(
                "core/attestation", attestation_from_json(obj, self.codec, self.catalogue)
            )
        except InputError as exc:
            log.warning(
                "attestation for %s not sent: the answer does not encode (%s)", asked["request_id"], exc
            )
        except Exception as exc:  # noqa: BLE001  the institution's own callback: counted, serving goes on
            log.warning(
                "attestation for %s not sent: the callback raised %s", asked["request_id"], type(exc).__name__
            )
        self.metrics.answer_failed.inc()
        return None
