"""The signed bytes and the header, rebuilt by hand: what an independent client must produce."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.domain import Side
from crossbound.participants import Algorithm
from crossbound.signing import (
    HEADER,
    BadHeader,
    Binding,
    RecordKind,
    Signature,
    Signer,
    find_header,
    signed_bytes,
)

SEED = hashlib.sha256(b"crossbound signing test key").digest()
BINDING = Binding(Side.HK, RecordKind.REQUEST, b"req-1")


def _by_hand(key_id: str, ts: int, side: bytes, kind: bytes, key: bytes, value: bytes) -> bytes:
    fields = [b"crossbound-signature", b"1", b"Ed25519", key_id.encode(), struct.pack(">q", ts)]
    fields += [side, kind, key, value]
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def test_signed_bytes_are_the_length_prefixed_fields_in_order() -> None:
    got = signed_bytes(Algorithm.ED25519, "bank-1", 1_767_225_600_000, BINDING, b"\xc3\x01value")
    assert got == _by_hand("bank-1", 1_767_225_600_000, b"HK", b"request", b"req-1", b"\xc3\x01value")


@pytest.mark.parametrize(
    "binding",
    [
        Binding(Side.SZ, RecordKind.REQUEST, b"req-1"),
        Binding(Side.HK, RecordKind.ATTESTATION, b"req-1"),
        Binding(Side.HK, RecordKind.REQUEST, b"req-2"),
    ],
)
def test_each_part_of_the_binding_changes_the_bytes(binding: Binding) -> None:
    assert signed_bytes(Algorithm.ED25519, "k", 0, binding, b"v") != signed_bytes(
        Algorithm.ED25519, "k", 0, BINDING, b"v"
    )


def test_length_prefixes_keep_shifted_boundaries_apart() -> None:
    a = signed_bytes(Algorithm.ED25519, "k", 0, Binding(Side.HK, RecordKind.REQUEST, b"ab"), b"c")
    b = signed_bytes(Algorithm.ED25519, "k", 0, Binding(Side.HK, RecordKind.REQUEST, b"a"), b"bc")
    assert a != b


def test_the_header_is_what_cryptography_signs_directly() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    signer = Signer(key, "bank-1", Algorithm.ED25519)
    ((name, value),) = signer.headers(b"value", BINDING, 1_767_225_600_000)
    sig = key.sign(_by_hand("bank-1", 1_767_225_600_000, b"HK", b"request", b"req-1", b"value"))
    assert name == HEADER == "crossbound.signature"
    assert value == b"1;Ed25519;bank-1;1767225600000;" + base64.b64encode(sig)
    assert Signature.parse(value) == Signature(Algorithm.ED25519, "bank-1", 1_767_225_600_000, sig)


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        (b"\xff", "not ASCII"),
        (b"1;Ed25519;k;1", "malformed"),
        (b"1;Ed25519;k;1;AAAA;x", "malformed"),
        (b"1;Ed25519;k k;1;AAAA", "malformed"),
        (b"2;Ed25519;k;1;AAAA", "not format 1"),
        (b"1;SM9;k;1;AAAA", "unsupported algorithm"),
        (b"1;Ed25519;k;1;AAA", "not base64"),
    ],
)
def test_a_malformed_header_is_refused_without_quoting_it(value: bytes, fault: str) -> None:
    with pytest.raises(BadHeader, match=fault) as info:
        Signature.parse(value)
    assert value.decode(errors="replace") not in str(info.value)


def test_find_header_refuses_two_signatures() -> None:
    assert find_header([("other", b"x")]) is None
    assert find_header([(HEADER, b"a"), ("other", b"x")]) == b"a"
    with pytest.raises(BadHeader, match="more than one"):
        find_header([(HEADER, b"a"), (HEADER, b"a")])
