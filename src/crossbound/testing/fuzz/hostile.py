"""Hostile metadata and values: keys, headers, Kafka timestamps, the size limit, odd fields, bad answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from crossbound.codec import MAGIC
from crossbound.domain import Side
from crossbound.testing.fuzz.base import ANSWERED, ANY, KAFKA_TIMESTAMPS, REQUEST, Base, Fuzzed, zigzag

__all__ = ["Hostile"]


class Hostile(Base):
    """Well-formed records with hostile metadata or values, and records that meet the pipeline's state."""

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
        pad = size - len(self.codec.encode(REQUEST, request))
        for _ in range(4):  # the length varint grows with the string: find the padding that hits ``size``
            consent["purpose_codes"] = [*codes, "x" * max(0, pad)]
            got = len(self.codec.encode(REQUEST, request))
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
                self.codec.encode(REQUEST, self._fresh_request()),
                "payload_wrong_record_type",
            )
        elif choice == 4:
            request["payload"], expect = payload + b"\x00", "payload_undecodable"
        else:
            request["scenario_id"] = self.rng.choice(("no_such_scenario", "", "\x00"))
            # a well-formed id of no scenario is unknown; one breaking the scenario_id form is refused first
            expect = "unknown_scenario" if request["scenario_id"] == "no_such_scenario" else "bad_form"
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
        return value.replace(zigzag(len(marker)) + marker, zigzag(len(big)) + big, 1)

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
