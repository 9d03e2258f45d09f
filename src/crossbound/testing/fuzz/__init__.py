"""Malformed records for every input topic, seeded, and the accounting that every one got one outcome.

What a broken or hostile producer can put on ``<side>.requests`` and ``<side>.attestations``: valid
records (from :class:`~crossbound.testing.traffic.Traffic`) damaged byte by byte (random bytes,
truncation at every point of the header and anywhere in the body, zero length, a wrong magic or an
unknown fingerprint, a record of another type, bad varints: overlong, negative, past the end;
invalid UTF-8 in a string, timestamps out of range in the body), valid records at the edges of the
input size limit, valid records with hostile Kafka metadata (keys: none, empty, huge, binary, another
request's; headers: binary, duplicated, huge; timestamps: none, negative, past the year 9999) and
valid records with hostile field values (nulls where the union allows, empty and odd strings, huge
arrays, unknown scenarios, swapped sides, broken payloads), and valid requests interleaved to show the
pipeline still answers. :meth:`Fuzz.records` draws them; the same seed gives the same records.

Each :class:`Fuzzed` record says which outcomes it may have (``expect``: dead-letter reasons, or
:data:`ANSWERED`, a verdict for its request); :func:`account` checks what a run produced against what
was sent: every record exactly one outcome, an expected one, no verdict twice, no ``internal_error``.
A record is found again by its coordinates (topic, partition, offset: what a dead letter carries) or,
if it decoded, by the request id it carries (what a verdict carries). A record with ``in_reply`` is an
attestation to send only once its request asked for one (the Harness sends it right after the
request; on a broker, :class:`~crossbound.testing.live.LiveBus` answers with it).
"""

from __future__ import annotations

from collections.abc import Callable

from crossbound.testing.fuzz.accounting import account, feed
from crossbound.testing.fuzz.base import ANSWERED, ANY, Fuzzed, Sent
from crossbound.testing.fuzz.damage import Damage
from crossbound.testing.fuzz.hostile import Hostile

__all__ = ["ANSWERED", "ANY", "Fuzz", "Fuzzed", "Sent", "account", "feed"]


class Fuzz(Damage, Hostile):
    """A seeded source of malformed records for the input topics of one deployment.

    ``Fuzz(codec, catalogue, topics, seed=..., now=..., partitions=4)``: ``codec.max_record_bytes`` is
    the input limit whose edges it tries, ``now`` the time the base records are made for.
    """

    def _kinds(self) -> tuple[Callable[[], list[Fuzzed]], ...]:
        return (
            self._random,
            self._random_body,
            self._truncated,
            self._truncated,
            self._bad_magic,
            self._unknown_schema,
            self._wrong_type,
            self._bad_varint,
            self._bad_payload_varint,
            self._non_canonical,
            self._bad_unicode,
            self._body_timestamp,
            self._kafka_timestamp,
            self._size_edge,
            self._hostile_key,
            self._hostile_headers,
            self._hostile_values,
            self._bad_payload,
            self._hostile_payload,
            self._hostile_payload,
            self._wrong_partition,
            self._wrong_topic,
            self._duplicate,
            self._orphan,
            self._bad_reply,
            self._valid,
            self._valid,
        )
