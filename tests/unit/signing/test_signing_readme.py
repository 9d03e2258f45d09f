"""README's worked example of the signed bytes, checked byte for byte by code of its own.

The test builds the bytes with ``struct`` and signs them with ``cryptography`` directly, as an
independent client would from the README alone, then checks that crossbound's signer makes the same.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.domain import Side
from crossbound.participants import Algorithm
from crossbound.signing import Binding, RecordKind, Signer, signed_bytes

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("\n### Signed records\n", 1)[1].split("\n## ", 1)[0]
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"crossbound README example key").digest())
REQUEST_ID = b"3f2c9a1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
VALUE = bytes.fromhex("c3010102030405060708") + b"request"


def _by_hand() -> bytes:
    fields = [b"crossbound-signature", b"1", b"Ed25519", b"hsbchkhhhkh-1", struct.pack(">q", 1790000000000)]
    fields += [b"HK", b"request", REQUEST_ID, VALUE]
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def _blocks() -> list[str]:
    return re.findall(r"```text\n(.*?)```", SECTION, re.S)


def test_the_readme_shows_the_bytes_an_independent_client_builds() -> None:
    shown = bytes.fromhex(_blocks()[0].replace("\n", " "))
    assert shown == _by_hand()
    assert "The signed bytes (147)" in SECTION
    assert len(shown) == 147


def test_the_readme_shows_the_header_and_public_key_cryptography_gives() -> None:
    public = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert f"(public key `{base64.b64encode(public).decode()}`)" in SECTION
    header = "1;Ed25519;hsbchkhhhkh-1;1790000000000;" + base64.b64encode(KEY.sign(_by_hand())).decode()
    assert _blocks()[1].strip() == f"crossbound.signature: {header}"


def test_crossbound_signs_exactly_what_the_readme_shows() -> None:
    binding = Binding(Side.HK, RecordKind.REQUEST, REQUEST_ID)
    assert signed_bytes(Algorithm.ED25519, "hsbchkhhhkh-1", 1790000000000, binding, VALUE) == _by_hand()
    ((name, value),) = Signer(KEY, "hsbchkhhhkh-1", Algorithm.ED25519).headers(VALUE, binding, 1790000000000)
    assert f"{name}: {value.decode()}" == _blocks()[1].strip()
