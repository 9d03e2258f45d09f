"""Unit tests of crossbound.client.identifiers: the normalisation, HMAC and digest an institution
computes, against the vectors of docs/scenarios.md; the simulator uses the very same functions."""

from __future__ import annotations

import hashlib

from crossbound.client import document_digest, hmac_identifier, normalise_identifier
from crossbound.testing import handwritten

KEY = b"demo-pair-key-2026"


def test_hmac_matches_the_scenarios_md_vectors() -> None:
    assert normalise_identifier("a123456(3)") == "A1234563"
    assert normalise_identifier(" 9144-0300 [MA5] ") == "91440300MA5"
    assert (
        hmac_identifier(KEY, "A123456(3)")
        == "0c0a9b67a2273f74cb7f33a6af831bc2ffb1dc0c294047c22473b7eb1d6e06ba"
    )
    assert hmac_identifier(KEY, "11010519491231002x") == (
        "cdd3a1886aaaf266852a0eee454232f5476b7bbadc95a2683f2814cac88d69a0"
    )


def test_a_document_digest_is_its_sha256_in_hex_whether_text_or_bytes() -> None:
    assert document_digest("report") == hashlib.sha256(b"report").hexdigest()
    assert document_digest("报告".encode()) == document_digest("报告")


def test_the_simulator_has_no_copy_of_its_own() -> None:
    assert handwritten.hmac_identifier is hmac_identifier
    assert handwritten.document_digest is document_digest
