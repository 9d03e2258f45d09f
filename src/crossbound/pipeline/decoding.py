"""Decoding an input, and the control flow that sends it to the dead-letter topic instead.

:class:`DeadLetter` is raised wherever a record turns out unusable (undecodable, wrong key, unknown
scenario...); the pipeline's one error policy (:mod:`crossbound.pipeline.pipeline`) turns it into a
dead letter with its reason.
"""

from __future__ import annotations

from typing import Any

from crossbound.codec import Codec
from crossbound.domain import DeadLetterReason
from crossbound.errors import DecodeError
from crossbound.rules import Catalogue, RuleSet

__all__ = ["DeadLetter", "Decoder"]


class DeadLetter(Exception):
    """Internal control flow: this record goes to the dead-letter topic, for ``reason``."""

    def __init__(
        self,
        reason: DeadLetterReason,
        detail: str,
        request_id: str | None = None,
        scenario: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.request_id = request_id
        self.scenario = scenario


class Decoder:
    """Records and payloads decoded, or a :class:`DeadLetter` saying why not."""

    def __init__(self, codec: Codec, catalogue: Catalogue) -> None:
        self.codec = codec
        self.catalogue = catalogue

    def record(self, value: bytes | None, subject: str) -> dict[str, Any]:
        """An input record of ``subject``: the one place the input size limit applies."""
        if not value:  # None (a tombstone) or zero bytes: nothing to decode, not a bad header
            raise DeadLetter(DeadLetterReason.EMPTY, "record has no value")
        try:
            return self.codec.decode_input(value, (subject,))[1]
        except DecodeError as exc:
            raise DeadLetter(DeadLetterReason(exc.reason), exc.detail) from None

    def ruleset(self, scenario: str, request_id: str) -> RuleSet:
        """The rule set of a scenario this worker serves."""
        rs = self.catalogue.scenarios.get(scenario)
        if rs is None:
            raise DeadLetter(
                DeadLetterReason.UNKNOWN_SCENARIO, "scenario not served by this worker", request_id, scenario
            )
        return rs

    def payload(self, rs: RuleSet, data: bytes, subject: str, request_id: str) -> dict[str, Any]:
        """The scenario payload inside a request or attestation."""
        try:
            return self.codec.decode(data, (subject,))[1]
        except DecodeError as exc:
            raise DeadLetter(
                DeadLetterReason.of_payload(exc.reason), exc.detail, request_id, rs.scenario_id
            ) from None
