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

import copy
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from crossbound.codec import MAGIC, Codec
from crossbound.codec.jsonform import attestation_from_json, request_from_json
from crossbound.domain import DeadLetterReason, Side
from crossbound.pipeline.partitioner import partition_for
from crossbound.rules import Catalogue
from crossbound.testing.harness import Harness
from crossbound.testing.traffic import Traffic, scenarios
from crossbound.topics import Topics

__all__ = ["ANSWERED", "ANY", "Fuzz", "Fuzzed", "Sent", "account", "feed"]

ANSWERED: Final = "answered"  # the outcome of a record that ends in (or, parked, leads to) a verdict
_DEAD: Final = frozenset(r.value for r in DeadLetterReason) - {DeadLetterReason.INTERNAL_ERROR.value}
ANY: Final = _DEAD | {ANSWERED}  # a well-formed record with odd values: any outcome but internal_error
_REQUEST, _ATTESTATION = "core/request", "core/attestation"
_TIMEOUT = "ATTESTATION_TIMEOUT"
KAFKA_TIMESTAMPS: Final = (-1, -2, -(2**63), 2**63 - 1, 253_402_300_800_000, 2**62, 0, -62_135_596_800_001)


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """One record to publish, and the outcomes it may have."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    partition: int
    expect: frozenset[str]
    request_id: str | None = None  # the id it carries, if it decodes at all
    timestamp_ms: int | None = None  # None: the producer's (the Harness's) clock
    headers: tuple[tuple[str, bytes], ...] = ()
    in_reply: bool = False  # an attestation sent once its request asked for it
    outcome: str | None = None  # a valid request's verdict outcome (ACCEPT, REVIEW, REJECT)


@dataclass(frozen=True, slots=True)
class Sent:
    """A record as published: its coordinates (offset None if a reply whose offset is unknown)."""

    record: Fuzzed
    partition: int
    offset: int | None


def _zigzag(n: int) -> bytes:
    """An Avro long, canonical; ``n`` may be outside 64 bits (then it is more than ten bytes)."""
    z = (n << 1) ^ (n >> 63) if -(2**63) <= n < 2**63 else abs(n) << 1
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _varint_at(data: bytes, at: int) -> int:
    """Where the varint starting at ``at`` ends."""
    while data[at] & 0x80:
        at += 1
    return at + 1


class Fuzz:
    """A seeded source of malformed records for the input topics of one deployment."""

    def __init__(
        self,
        codec: Codec,
        catalogue: Catalogue,
        topics: Topics,
        *,
        seed: int = 0,
        now: float,
        partitions: int = 4,
    ) -> None:
        self.codec = codec
        self.catalogue = catalogue
        self.topics = topics
        self.partitions = partitions
        self.limit = codec.max_record_bytes
        self.rng = random.Random(f"fuzz-{seed}")  # not the traffic's sequence: ids of its own
        self.traffic = Traffic(seed=seed, now=now)
        self._header_len = codec.framing.header_len
        # base records by side: requests that park (nobody answers), and attestations
        self._requests: dict[str, list[dict[str, Any]]] = {s.value: [] for s in Side}
        self._pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {s.value: [] for s in Side}
        for sid in scenarios():
            case = self.traffic.case(sid, "valid")
            assert case.request is not None
            request: dict[str, Any] = dict(request_from_json(case.request, codec, catalogue))
            self._requests[request["requester_side"]].append(request)
            if case.attestation is not None:
                att: dict[str, Any] = dict(attestation_from_json(case.attestation, codec, catalogue))
                self._pairs[att["attester_side"]].append((request, att))
        self._kinds: tuple[Callable[[], list[Fuzzed]], ...] = (
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

    def records(self, n: int) -> list[Fuzzed]:
        """``n`` records (a pair may be cut in two at the end), every kind in turn."""
        out: list[Fuzzed] = []
        turn = 0
        while len(out) < n:
            out += self._kinds[turn % len(self._kinds)]()
            turn += 1
        return out[:n]

    def valid(self, n: int) -> list[Fuzzed]:
        """``n`` valid cases of every scenario (requests and their answers), to interleave."""
        out: list[Fuzzed] = []
        weights = {"valid": 0.6, "review": 0.15, "invalid": 0.15, "mismatch": 0.1}
        for case in self.traffic.mix(n, weights=weights):
            assert case.request is not None
            request = dict(request_from_json(case.request, self.codec, self.catalogue))
            out.append(replace(self._request_record("valid", request), outcome=case.expected))
            if case.attestation is not None:
                att = dict(attestation_from_json(case.attestation, self.codec, self.catalogue))
                out.append(replace(self._attestation_record("valid", att), in_reply=True))
        return out

    # -- building ---------------------------------------------------------------------------------

    def _rid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _side(self) -> str:
        return self.rng.choice((Side.HK.value, Side.SZ.value))

    def _fresh_request(self, side: str | None = None) -> dict[str, Any]:
        base = self.rng.choice(self._requests[side or self._side()])
        return copy.deepcopy(dict(base, request_id=self._rid(), nonce=f"{self.rng.getrandbits(128):032x}"))

    def _fresh_pair(self, side: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        request, att = self.rng.choice(self._pairs[side or self._side()])
        rid = self._rid()
        fresh = copy.deepcopy(dict(request, request_id=rid, nonce=f"{self.rng.getrandbits(128):032x}"))
        return fresh, copy.deepcopy(dict(att, request_id=rid))

    def _fresh_attestation(self, side: str | None = None) -> dict[str, Any]:
        return self._fresh_pair(side)[1]

    def _part(self, key: bytes | None) -> int:
        return self.rng.randrange(self.partitions) if key is None else partition_for(key, self.partitions)

    def _record(
        self, kind: str, topic: str, key: bytes | None, value: bytes | None, expect: Iterable[str], **kw: Any
    ) -> Fuzzed:
        return Fuzzed(kind, topic, key, value, self._part(key), frozenset(expect), **kw)

    def _request_record(self, kind: str, request: Mapping[str, Any], **kw: Any) -> Fuzzed:
        rid = request["request_id"]
        kw.setdefault("expect", {ANSWERED})
        kw.setdefault("key", rid.encode())
        kw.setdefault("value", self.codec.encode(_REQUEST, request))
        topic = kw.pop("topic", self.topics.requests(Side(request["requester_side"]).topic))
        return self._record(kind, topic, request_id=rid, **kw)

    def _attestation_record(self, kind: str, att: Mapping[str, Any], **kw: Any) -> Fuzzed:
        rid = att["request_id"]
        kw.setdefault("expect", {ANSWERED})
        kw.setdefault("key", rid.encode())
        kw.setdefault("value", self.codec.encode(_ATTESTATION, att))
        topic = kw.pop("topic", self.topics.attestations(Side(att["attester_side"]).topic))
        return self._record(kind, topic, request_id=rid, **kw)

    def _any_input(self) -> tuple[str, str, bytes, bytes]:
        """A valid request or attestation on its own topic: (topic, subject, key, value)."""
        if self.rng.random() < 0.5:
            rec = self._request_record("base", self._fresh_request())
            subject = _REQUEST
        else:
            rec = self._attestation_record("base", self._fresh_attestation())
            subject = _ATTESTATION
        assert rec.key is not None
        assert rec.value is not None
        return rec.topic, subject, rec.key, rec.value

    def _damaged(self, kind: str, value: bytes, expect: Iterable[str], **kw: Any) -> list[Fuzzed]:
        topic, _, key, _ = kw.pop("base", None) or self._any_input()
        return [self._record(kind, topic, key, value, expect, **kw)]

    # -- bytes ------------------------------------------------------------------------------------

    def _random(self) -> list[Fuzzed]:
        topic, _, key, _ = self._any_input()
        value = self.rng.randbytes(self.rng.randrange(1, 300))
        expect = {"unknown_schema" if value[:2] == MAGIC and len(value) >= self._header_len else "bad_magic"}
        return [self._record("random", topic, key, value, expect)]

    def _random_body(self) -> list[Fuzzed]:
        base = self._any_input()
        value = base[3][: self._header_len] + self.rng.randbytes(self.rng.randrange(0, 300))
        return self._damaged("random_body", value, _DEAD, base=base)  # may decode, by chance

    def _truncated(self) -> list[Fuzzed]:
        base = self._any_input()
        value = base[3]
        if self.rng.random() < 0.4:  # every point of the header is as likely as the whole body
            cut = self.rng.randrange(0, self._header_len + 1)
        else:
            cut = self.rng.randrange(self._header_len, len(value))
        reason = "empty" if cut == 0 else "bad_magic" if cut < self._header_len else "undecodable"
        return self._damaged("truncated", value[:cut], {reason}, base=base)

    def _bad_magic(self) -> list[Fuzzed]:
        base = self._any_input()
        body = base[3][len(MAGIC) :]
        value = self.rng.choice(
            (b"\xc3\x00" + body, b"\x00\x01" + body, b"\xc3" + body[8:], b"\x00" + bytes(4) + body[8:], body)
        )
        return self._damaged("bad_magic", value, {"bad_magic"}, base=base)

    def _unknown_schema(self) -> list[Fuzzed]:
        base = self._any_input()
        fingerprint = bytes(8) if self.rng.random() < 0.2 else self.rng.randbytes(8)
        value = MAGIC + fingerprint + base[3][self._header_len :]
        return self._damaged("unknown_schema", value, {"unknown_schema"}, base=base)

    def _wrong_type(self) -> list[Fuzzed]:
        topic, subject, key, _ = self._any_input()
        if subject == _REQUEST:  # an attestation on a requests topic, or the reverse
            value = self.codec.encode(_ATTESTATION, self._fresh_attestation())
        else:
            value = self.codec.encode(_REQUEST, self._fresh_request())
        if self.rng.random() < 0.5:  # or a payload, bare, as if it were the envelope
            request = self._fresh_request()
            value = request["payload"]
        return [self._record("wrong_type", topic, key, value, {"wrong_record_type"})]

    def _bad_varint(self) -> list[Fuzzed]:
        """The first varint (the request id's length): overlong, negative, past the end, huge."""
        base = self._any_input()
        value, at = base[3], self._header_len
        end = _varint_at(value, at)
        bad = self.rng.choice(
            (
                b"\xff" * 11 + b"\x01",
                _zigzag(-3),
                _zigzag(len(value)),
                _zigzag(2**62),
                _zigzag(2**70),
                b"\x80",
            )
        )
        return self._damaged("bad_varint", value[:at] + bad + value[end:], {"undecodable"}, base=base)

    def _bad_payload_varint(self) -> list[Fuzzed]:
        """The length of the payload bytes (near the end of both envelopes): wrong either way."""
        request = self._fresh_request()
        value, payload = self.codec.encode(_REQUEST, request), request["payload"]
        start = len(value) - len(payload)
        length = _zigzag(len(payload))
        head = value[: start - len(length)]
        bad = self.rng.choice((_zigzag(-len(payload)), _zigzag(len(payload) + 1), _zigzag(len(payload) - 1)))
        return [
            self._request_record(
                "bad_payload_varint", request, value=head + bad + payload, expect={"undecodable"}
            )
        ]

    def _non_canonical(self) -> list[Fuzzed]:
        """The same request, its first varint with redundant continuation bytes: still a request."""
        request = self._fresh_request()
        value, at = self.codec.encode(_REQUEST, request), self._header_len
        end = _varint_at(value, at)
        padded = bytes(b | 0x80 for b in value[at:end]) + b"\x80" * self.rng.randrange(0, 3) + b"\x00"
        return [self._request_record("non_canonical", request, value=value[:at] + padded + value[end:])]

    def _bad_unicode(self) -> list[Fuzzed]:
        """Invalid UTF-8 in a string of the envelope (the request id, the nonce) or of the payload."""
        bad = self.rng.choice((b"\xff", b"\xc0", b"\xed", b"\x80", b"\xfe"))
        request = self._fresh_request()
        value = self.codec.encode(_REQUEST, request)
        if self.rng.random() < 0.5:
            text = self.rng.choice((request["request_id"], request["nonce"])).encode()
            at = value.index(text) + self.rng.randrange(len(text))
            return [
                self._request_record(
                    "bad_unicode", request, value=value[:at] + bad + value[at + 1 :], expect={"undecodable"}
                )
            ]
        payload = request["payload"]
        values = self.codec.decode(payload)[1].values()
        # strings as written (an enum decodes to a string too, but is written as an index)
        strings = [
            t for t in (s.encode() for s in values if isinstance(s, str)) if len(t) >= 8 and t in payload
        ]
        if not strings:
            return self._bad_unicode()
        text = self.rng.choice(strings)
        at = payload.index(text) + self.rng.randrange(len(text))
        request["payload"] = payload[:at] + bad + payload[at + 1 :]
        return [self._request_record("bad_payload_unicode", request, expect={"payload_undecodable"})]

    def _body_timestamp(self) -> list[Fuzzed]:
        """A timestamp in the body outside what a datetime holds (fastavro writes an int as it is)."""
        request = self._fresh_request()
        field = self.rng.choice(("created_at", "expires_at"))
        request[field] = self.rng.choice((2**62, -(2**62), 253_402_300_800_000, -62_135_596_800_001))
        return [self._request_record("body_timestamp", request, expect={"undecodable"})]

    # -- metadata -------------------------------------------------------------------------------

    def _kafka_timestamp(self) -> list[Fuzzed]:
        ts = self.rng.choice(KAFKA_TIMESTAMPS)
        if self.rng.random() < 0.5:
            return [self._request_record("kafka_timestamp", self._fresh_request(), timestamp_ms=ts)]
        topic, _, key, _ = self._any_input()
        return [self._record("kafka_timestamp", topic, key, b"{}", {"bad_magic"}, timestamp_ms=ts)]

    def _size_edge(self) -> list[Fuzzed]:
        """A request at the limit, one byte under or over it; bytes at or over it."""
        over = self.rng.randrange(-1, 2)
        size = self.limit + over
        if self.rng.random() < 0.3:
            topic, _, key, _ = self._any_input()
            size = self.limit + 1 + self.rng.randrange(0, self.limit)
            return [self._record("size_edge", topic, key, MAGIC + bytes(size - 2), {"too_large"})]
        request = self._fresh_request()
        consent = request["consent"]
        assert consent is not None
        codes = consent["purpose_codes"]
        pad = size - len(self.codec.encode(_REQUEST, request))
        for _ in range(4):  # the length varint grows with the string: find the padding that hits ``size``
            consent["purpose_codes"] = [*codes, "x" * max(0, pad)]
            got = len(self.codec.encode(_REQUEST, request))
            if got == size or pad <= 0:
                break
            pad -= got - size
        expect = {"too_large"} if got > self.limit else ANY  # its values are odd: it may be refused
        return [self._request_record("size_edge", request, expect=expect)]

    def _hostile_key(self) -> list[Fuzzed]:
        request = self._fresh_request()
        rid = request["request_id"].encode()
        key = self.rng.choice(
            (
                None,
                b"",
                b"\x00" * 16,
                self.rng.randbytes(40),
                rid + b"\x00",
                rid.upper(),
                rid[:-1],
                self._rid().encode(),
                b"k" * 65_536,
                b"\xff\xfe" + rid,
            )
        )
        if key == rid:  # pragma: no cover - an id with no letters
            key = b""
        return [self._request_record("hostile_key", request, key=key, expect={"bad_key"})]

    def _hostile_headers(self) -> list[Fuzzed]:
        request = self._fresh_request()
        headers = self.rng.choice(
            (
                (("crossbound.reason", b"internal_error"), ("crossbound.reason", b"\xff")),
                (("x", self.rng.randbytes(64)), ("x", b""), ("", b"\x00")),
                (("big", b"h" * 65_536),),
                tuple((f"h{i}", b"\x00") for i in range(200)),
                (("\u202e\u0000", b"\xc3\x01"),),
            )
        )
        return [self._request_record("hostile_headers", request, headers=headers)]

    # -- values ---------------------------------------------------------------------------------

    def _hostile_values(self) -> list[Fuzzed]:
        request = self._fresh_request()
        consent = request["consent"]
        assert consent is not None
        choice = self.rng.randrange(12)
        if choice == 0:
            request["consent"] = None
        elif choice == 1:
            request["requester_inst"]["city"] = None
            request["attester_inst"]["city"] = None
        elif choice == 2:
            consent["purpose_codes"] = ["P"] * (self.limit // 4)
        elif choice == 3:
            consent["pi_categories"] = []
            consent["purpose_codes"] = []
        elif choice == 4:
            request["hmac_key_id"] = self.rng.choice(("", "\x00", "\u202eabc", "\U0001f600" * 8, "香港" * 5))
        elif choice == 5:
            request["nonce"] = ""
        elif choice == 6:
            request["scenario_version"] = self.rng.choice(("", "99.0.0", "x.y", "1" * 200))
        elif choice == 7:
            request["expires_at"] = request["created_at"] - timedelta(milliseconds=1)
        elif choice == 8:
            request["created_at"] = self.rng.choice((253_402_300_799_999, -62_135_596_800_000, 0))
        elif choice == 9:
            request["requester_inst"]["id"] = ""
        elif choice == 10:
            request["request_id"] = ""
        else:
            request["requester_side"], request["attester_side"] = (
                request["attester_side"],
                request["requester_side"],
            )
            side = Side(request["attester_side"]).topic  # on the topic it came from
            return [
                self._request_record(
                    "swapped_sides", request, topic=self.topics.requests(side), expect={"wrong_side"}
                )
            ]
        return [self._request_record("hostile_values", request, expect=ANY)]

    def _bad_payload(self) -> list[Fuzzed]:
        request = self._fresh_request()
        payload = request["payload"]
        choice = self.rng.randrange(6)
        if choice == 0:
            request["payload"], expect = b"", "payload_bad_magic"
        elif choice == 1:
            request["payload"], expect = (
                payload[: self.rng.randrange(self._header_len, len(payload))],
                "payload_undecodable",
            )
        elif choice == 2:
            request["payload"], expect = (
                MAGIC + self.rng.randbytes(8) + payload[10:],
                "payload_unknown_schema",
            )
        elif choice == 3:
            request["payload"], expect = (
                self.codec.encode(_REQUEST, self._fresh_request()),
                "payload_wrong_record_type",
            )
        elif choice == 4:
            request["payload"], expect = payload + b"\x00", "payload_undecodable"
        else:
            request["scenario_id"], expect = (
                self.rng.choice(("no_such_scenario", "", "\x00")),
                "unknown_scenario",
            )
        return [self._request_record("bad_payload", request, expect={expect})]

    def _hostile_payload(self) -> list[Fuzzed]:
        """A parked request and its answer, one payload field of either at an extreme of its type."""
        request, att = self._fresh_pair()
        target, key = (
            (request, "payload") if att["payload"] is None or self.rng.random() < 0.5 else (att, "payload")
        )
        rs = self.catalogue.scenarios[request["scenario_id"]]
        subject = rs.request_subject if target is request else rs.attestation_subject
        version = self.codec.registry.current(subject)
        payload = self.codec.decode(target[key])[1]
        fld = self.rng.choice(version.raw["fields"])
        name, avro_type = fld["name"], fld["type"]
        if isinstance(avro_type, list) and "null" in avro_type:
            payload[name] = None
            target[key] = self.codec.encode(subject, payload)
        elif isinstance(avro_type, dict) and avro_type.get("logicalType") == "decimal":
            target[key] = self._huge_decimal(subject, payload, name, avro_type)
        else:
            payload[name] = self._extreme(avro_type, payload[name])
            target[key] = self.codec.encode(subject, payload)
        return [
            self._request_record("hostile_payload", request, expect=ANY),
            self._attestation_record("hostile_payload", att, expect=ANY, in_reply=True),
        ]

    def _extreme(self, avro_type: Any, value: Any) -> Any:
        """An extreme value of a plain Avro type (the value itself where there is none)."""
        name = str(avro_type.get("type") if isinstance(avro_type, dict) else avro_type)
        extremes: dict[str, tuple[Any, ...]] = {
            "int": (2**31 - 1, -(2**31), 0, -1),
            "long": (2**63 - 1, -(2**63)),
            "double": (float("inf"), float("-inf"), float("nan"), 1e308),
            "string": ("", "x" * 1000, "\x00", "\u202e\u200b", "\U00020000" * 40, " " * 9),
            "boolean": (not value,),
        }
        if name == "array":
            return [] if self.rng.random() < 0.5 else list(value) * 50
        if name == "int" and isinstance(avro_type, dict) and avro_type.get("logicalType") == "date":
            return self.rng.choice((date.min, date.max))
        if name == "enum":
            return self.rng.choice(avro_type["symbols"])
        return self.rng.choice(extremes.get(name, (value,)))

    def _huge_decimal(self, subject: str, payload: dict[str, Any], name: str, avro_type: Any) -> bytes:
        """The payload with a decimal far past its declared precision (Avro readers do not check it)."""
        marker = b"\x5a\xa5\x5a\xa5\x5a\xa5"
        scale = avro_type.get("scale", 0)
        payload[name] = Decimal(int.from_bytes(marker, "big")).scaleb(-scale)
        value = self.codec.encode(subject, payload)
        big = self.rng.choice((b"\x7f" + b"\xff" * 40, b"\x80" + bytes(40)))  # +/- about 10**98
        return value.replace(_zigzag(len(marker)) + marker, _zigzag(len(big)) + big, 1)

    def _wrong_partition(self) -> list[Fuzzed]:
        rec = self._request_record("wrong_partition", self._fresh_request(), expect={"wrong_partition"})
        return [
            replace(rec, partition=(rec.partition + self.rng.randrange(1, self.partitions)) % self.partitions)
        ]

    def _wrong_topic(self) -> list[Fuzzed]:
        request = self._fresh_request()
        other = Side.SZ if request["requester_side"] == Side.HK.value else Side.HK
        return [
            self._request_record(
                "wrong_topic", request, topic=self.topics.requests(other.topic), expect={"wrong_side"}
            )
        ]

    def _duplicate(self) -> list[Fuzzed]:
        """A request, the same again, and a third with its id and another body."""
        request = self._fresh_request()
        first = self._request_record("duplicate", request)
        other = dict(request, nonce=f"{self.rng.getrandbits(128):032x}")
        return [
            first,
            replace(first, expect=frozenset({"duplicate_request"})),
            self._request_record("duplicate", other, expect={"request_id_conflict"}),
        ]

    def _orphan(self) -> list[Fuzzed]:
        return [self._attestation_record("orphan", self._fresh_attestation(), expect={"orphan_attestation"})]

    def _bad_reply(self) -> list[Fuzzed]:
        """A parked request, and an answer that is unusable: the request still gets its verdict."""
        request, att = self._fresh_pair()
        choice = self.rng.randrange(5)
        topic = None
        if choice == 1 and att["payload"]:
            att["payload"], expect = att["payload"][:-1], "payload_undecodable"
        elif choice == 2:
            att["status"], expect = self.rng.choice(("NOT_FOUND", "REFUSED")), ANSWERED
        elif choice == 3:
            att["scenario_id"], expect = self.rng.choice(list(self.catalogue.scenarios)), "wrong_side"
            if att["scenario_id"] == request["scenario_id"]:
                att["scenario_id"], expect = "no_such_scenario", "wrong_side"
        elif choice == 4:
            att["attester_side"], expect = request["requester_side"], "wrong_side"
            topic = self.topics.attestations(Side(request["requester_side"]).topic)
        else:
            att["status"], att["payload"], expect = "FOUND", None, "payload_missing"
        kw = {} if topic is None else {"topic": topic}
        return [
            self._request_record("bad_reply", request),
            self._attestation_record("bad_reply", att, expect={expect}, in_reply=True, **kw),
        ]

    def _valid(self) -> list[Fuzzed]:
        return self.valid(1)


# -- accounting -----------------------------------------------------------------------------------


def account(
    sent: Sequence[Sent], verdicts: Iterable[Mapping[str, Any]], dead_letters: Iterable[Mapping[str, Any]]
) -> tuple[Counter[str], list[str]]:
    """What became of every record sent: outcomes counted by reason, and every problem found.

    A problem is a record with no outcome, or two, or one it should not have (``internal_error``
    never), a verdict sent twice or for no request sent, a dead letter for no record sent.
    """
    problems: list[str] = []
    outcome: dict[int, str] = {}
    by_coords = {
        (s.record.topic, s.partition, s.offset): n for n, s in enumerate(sent) if s.offset is not None
    }
    replies = {(s.record.topic, s.record.key): n for n, s in enumerate(sent) if s.offset is None}
    by_id: dict[str | None, list[int]] = {}
    for n, s in enumerate(sent):
        by_id.setdefault(s.record.request_id, []).append(n)

    def settle(n: int, what: str) -> None:
        if n in outcome:
            problems.append(f"{_name(sent[n])}: two outcomes, {outcome[n]} and {what}")
        outcome[n] = what

    for d in dead_letters:
        coords = (d["source_topic"], d["source_partition"], d["source_offset"])
        found = by_coords.get(coords, replies.get((d["source_topic"], d["key"])))
        if found is None and d["source_offset"] == -1:  # a failed hop: the request it carried
            found = next(
                (n for n in by_id.get(d["request_id"], []) if sent[n].record.topic == coords[0]), None
            )
        if found is None:
            problems.append(f"dead letter {d['reason']} for no record sent: {coords}")
        else:
            settle(found, d["reason"])
    answers: dict[str, list[Mapping[str, Any]]] = {}
    for v in verdicts:
        answers.setdefault(v["request_id"], []).append(v)
    for rid, got in answers.items():
        problems += _answer(sent, [n for n in by_id.get(rid, []) if n not in outcome], rid, got, settle)
    for n, s in enumerate(sent):
        what = outcome.get(n)
        if what is None:
            problems.append(f"{_name(s)}: no outcome")
        elif what not in s.record.expect:
            problems.append(f"{_name(s)}: {what}, expected one of {sorted(s.record.expect)}")
    return Counter(outcome.values()), problems


def _answer(
    sent: Sequence[Sent],
    open_: list[int],
    rid: str,
    got: list[Mapping[str, Any]],
    settle: Callable[[int, str], None],
) -> list[str]:
    """The verdicts on ``rid`` settle its one request not dead-lettered, and the answer that decided it."""
    problems = [f"request {rid}: {len(got)} verdicts"] if len(got) > 1 else []
    asked = [n for n in open_ if sent[n].record.topic.endswith(".requests")]
    answers = [n for n in open_ if n not in asked]
    if len(asked) != 1:
        problems.append(f"request {rid}: a verdict for {len(asked)} requests sent and not dead-lettered")
    codes = sorted({f["code"] for f in got[0]["findings"]})
    for n in asked:
        settle(n, ANSWERED)
        want = sent[n].record.outcome
        if want is not None and got[0]["outcome"] != want:
            problems.append(f"{_name(sent[n])}: {got[0]['outcome']} {codes}, not {want}")
    if answers and (_TIMEOUT in codes or len(answers) > 1):
        problems.append(f"request {rid}: {len(answers)} answers neither dead-lettered nor deciding it")
    for n in answers:
        settle(n, ANSWERED)
    return problems


def _name(s: Sent) -> str:
    r = s.record
    return f"{r.kind} on {r.topic}[{s.partition}]@{s.offset} (request {r.request_id})"


def feed(h: Harness, records: Iterable[Fuzzed]) -> list[Sent]:
    """Send ``records`` through a Harness, in order, then let every timeout fire; what was sent.

    An ``in_reply`` attestation goes right after its request, if the request asked for one (it is
    not sent otherwise, as a data holder would not answer).
    """
    sent: list[Sent] = []
    asked: set[str] = set()
    for rec in records:
        if rec.in_reply and rec.request_id not in asked:
            continue
        offset = h.next_offset(rec.topic)
        for out in h.send(rec.topic, rec.key, rec.value, rec.partition, rec.timestamp_ms):
            if out.topic.endswith(".attestation-requests"):
                asked.add(out.record["request_id"])
        sent.append(Sent(rec, rec.partition, offset))
    h.advance(h.attestation_timeout_s + 1)
    return sent
