"""Damage to the bytes: random, truncated, wrong header, bad varints, bad UTF-8, timestamps out of range."""

from __future__ import annotations

from crossbound.codec import MAGIC
from crossbound.testing.fuzz.base import ATTESTATION, DEAD, REQUEST, Base, Fuzzed, varint_at, zigzag

__all__ = ["Damage"]


class Damage(Base):
    """Valid records with their bytes damaged."""

    # -- bytes ------------------------------------------------------------------------------------

    def _random(self) -> list[Fuzzed]:
        topic, _, key, _ = self._any_input()
        value = self.rng.randbytes(self.rng.randrange(1, 300))
        expect = {"unknown_schema" if value[:2] == MAGIC and len(value) >= self._header_len else "bad_magic"}
        return [self._record("random", topic, key, value, expect)]

    def _random_body(self) -> list[Fuzzed]:
        base = self._any_input()
        value = base[3][: self._header_len] + self.rng.randbytes(self.rng.randrange(0, 300))
        return self._damaged("random_body", value, DEAD, base=base)  # may decode, by chance

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
        if subject == REQUEST:  # an attestation on a requests topic, or the reverse
            value = self.codec.encode(ATTESTATION, self._fresh_attestation())
        else:
            value = self.codec.encode(REQUEST, self._fresh_request())
        if self.rng.random() < 0.5:  # or a payload, bare, as if it were the envelope
            request = self._fresh_request()
            value = request["payload"]
        return [self._record("wrong_type", topic, key, value, {"wrong_record_type"})]

    def _bad_varint(self) -> list[Fuzzed]:
        """The first varint (the request id's length): overlong, negative, past the end, huge."""
        base = self._any_input()
        value, at = base[3], self._header_len
        end = varint_at(value, at)
        bad = self.rng.choice(
            (
                b"\xff" * 11 + b"\x01",
                zigzag(-3),
                zigzag(len(value)),
                zigzag(2**62),
                zigzag(2**70),
                b"\x80",
            )
        )
        return self._damaged("bad_varint", value[:at] + bad + value[end:], {"undecodable"}, base=base)

    def _bad_payload_varint(self) -> list[Fuzzed]:
        """The length of the payload bytes (near the end of both envelopes): wrong either way."""
        request = self._fresh_request()
        value, payload = self.codec.encode(REQUEST, request), request["payload"]
        start = len(value) - len(payload)
        length = zigzag(len(payload))
        head = value[: start - len(length)]
        bad = self.rng.choice((zigzag(-len(payload)), zigzag(len(payload) + 1), zigzag(len(payload) - 1)))
        return [
            self._request_record(
                "bad_payload_varint", request, value=head + bad + payload, expect={"undecodable"}
            )
        ]

    def _non_canonical(self) -> list[Fuzzed]:
        """The same request, its first varint with redundant continuation bytes: still a request."""
        request = self._fresh_request()
        value, at = self.codec.encode(REQUEST, request), self._header_len
        end = varint_at(value, at)
        padded = bytes(b | 0x80 for b in value[at:end]) + b"\x80" * self.rng.randrange(0, 3) + b"\x00"
        return [self._request_record("non_canonical", request, value=value[:at] + padded + value[end:])]

    def _bad_unicode(self) -> list[Fuzzed]:
        """Invalid UTF-8 in a string of the envelope (the request id, the nonce) or of the payload."""
        bad = self.rng.choice((b"\xff", b"\xc0", b"\xed", b"\x80", b"\xfe"))
        request = self._fresh_request()
        value = self.codec.encode(REQUEST, request)
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
