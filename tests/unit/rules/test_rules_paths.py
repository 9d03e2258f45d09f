"""Field paths (crossbound.rules.paths): what a dotted path reads from a context."""

from __future__ import annotations

from typing import Any

import pytest
from rules_builders import HEX_C, check, ctx, make_consent, make_request

from crossbound.rules.paths import getter, getters


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("request.nonce", "9f86d081884c7d659a2feaa0c55ad015"),
        ("request.requester_inst.scheme", "BIC"),
        ("payload.amount", 5),
        ("payload.missing", None),
        ("payload.nested.deeper", None),  # a missing step anywhere reads as None
        ("consent.subject_ref_hmac", HEX_C),
        ("attestation.status", None),  # no attestation yet
    ],
)
def test_getter_reads_the_path(path: str, expected: Any) -> None:
    assert getter(path)(ctx(make_request(consent=make_consent()), payload={"amount": 5})) == expected


def test_consent_root_without_consent_is_none() -> None:
    assert getter("consent.consent_id")(ctx(make_request(consent=None))) is None


@pytest.mark.parametrize("path", ["body.x", "now", "scenario.id"])
def test_field_paths_must_have_a_known_root(path: str) -> None:
    with pytest.raises(ValueError, match="request"):
        getter(path)


def test_field_paths_must_have_a_known_root_in_a_check() -> None:
    with pytest.raises(ValueError, match="request"):
        check("required", ["body.x"])


def test_getters_needs_enough_fields() -> None:
    assert [f for f, _ in getters(["payload.a", "request.nonce"])] == ["payload.a", "request.nonce"]
    assert getters([], at_least=0) == []
    with pytest.raises(ValueError, match="at least 1"):
        getters([])
