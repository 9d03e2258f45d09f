"""The vocabulary every layer shares, each defined once: the two sides, the local day, dead-letter reasons.

A side is written ``HK``/``SZ`` in records and ``hk``/``sz`` in topic names and metric labels;
:class:`Side` converts. Hong Kong and Shenzhen are both UTC+8: calendar days (dates of birth, limit
windows, "today") are days in :data:`LOCAL_TZ`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final

__all__ = ["LOCAL_TZ", "DeadLetterReason", "Side", "local_date"]

LOCAL_TZ: Final = timezone(timedelta(hours=8), "UTC+8")


class Side(StrEnum):
    """A side of the boundary, as records spell it (``HK``, ``SZ``)."""

    HK = "HK"
    SZ = "SZ"

    @property
    def topic(self) -> str:
        """The side as topic names and metric labels spell it (``hk``, ``sz``)."""
        return self.value.lower()

    @classmethod
    def of_topic(cls, wire: str) -> Side:
        """``hk``/``sz`` (as in topic names) -> the side; ValueError for anything else."""
        return cls(wire.upper())


def local_date(instant: datetime) -> date:
    """The calendar day in Hong Kong and Shenzhen at ``instant`` (an aware datetime)."""
    return instant.astimezone(LOCAL_TZ).date()


class DeadLetterReason(StrEnum):
    """Why a record went to a dead-letter topic: the ``reason`` field, header and metric label.

    Every code the pipeline and the codec produce, so that none is a stray string literal. The codec's
    decode reasons (:class:`~crossbound.errors.DecodeError` ``.reason``) apply to the record itself, and
    with a ``payload_`` prefix to the payload bytes inside a request or attestation.
    """

    # the codec's decode reasons
    TOO_LARGE = "too_large"
    BAD_MAGIC = "bad_magic"
    UNKNOWN_SCHEMA = "unknown_schema"
    WRONG_RECORD_TYPE = "wrong_record_type"
    UNDECODABLE = "undecodable"
    # the same, for the payload inside a request or attestation
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PAYLOAD_BAD_MAGIC = "payload_bad_magic"
    PAYLOAD_UNKNOWN_SCHEMA = "payload_unknown_schema"
    PAYLOAD_WRONG_RECORD_TYPE = "payload_wrong_record_type"
    PAYLOAD_UNDECODABLE = "payload_undecodable"
    # declared forms and ranges (crossbound.codec.forms): an input field that breaks its form or range
    BAD_FORM = "bad_form"
    PAYLOAD_BAD_FORM = "payload_bad_form"
    PAYLOAD_OUT_OF_RANGE = "payload_out_of_range"
    # the outgoing guard: a record that would cross with something undeclared was not sent
    OUTGOING_BLOCKED = "outgoing_blocked"
    # an output of the input that could not be written: over its topic's size budget, or refused by
    # the producer or broker for a reason of its own (authorization, a missing topic)
    OUTPUT_TOO_LARGE = "output_too_large"
    OUTPUT_REFUSED = "output_refused"
    # the pipeline's
    EMPTY = "empty"
    BAD_KEY = "bad_key"
    WRONG_PARTITION = "wrong_partition"
    WRONG_SIDE = "wrong_side"
    UNKNOWN_SCENARIO = "unknown_scenario"
    DUPLICATE_REQUEST = "duplicate_request"
    REQUEST_ID_CONFLICT = "request_id_conflict"
    ORPHAN_ATTESTATION = "orphan_attestation"
    LATE_ATTESTATION = "late_attestation"
    PAYLOAD_MISSING = "payload_missing"
    # the signature check (crossbound.signing): who sent it, checked against the participant registry
    UNSIGNED = "unsigned"
    UNKNOWN_SIGNER = "unknown_signer"
    BAD_SIGNATURE = "bad_signature"
    KEY_EXPIRED = "key_expired"
    NOT_AUTHORISED = "not_authorised"
    WRONG_ATTESTER = "wrong_attester"
    # a document fingerprint on a registry topic (crossbound.pipeline.fingerprints)
    FINGERPRINT_INCONSISTENT = "fingerprint_inconsistent"
    FINGERPRINT_STALE = "fingerprint_stale"
    FINGERPRINT_CONFLICT = "fingerprint_conflict"
    INTERNAL_ERROR = "internal_error"

    @classmethod
    def of_payload(cls, decode_reason: str) -> DeadLetterReason:
        """The reason for a payload that fails to decode with ``decode_reason``."""
        return cls(f"payload_{decode_reason}")
