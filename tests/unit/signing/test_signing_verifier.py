"""The verifier and the authorisation checks: each refusal reason, and what verifies."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.domain import Side
from crossbound.participants import Algorithm, Participant, Registry, Scheme, SigningKey, Status
from crossbound.signing import (
    HEADER,
    Binding,
    PlatformVerified,
    RecordKind,
    RefusalReason,
    Refused,
    Signer,
    Verified,
    Verifier,
    authorise_attester,
    authorise_requester,
)
from crossbound.signing.algorithms import raw_public_key

NOW = datetime(2026, 6, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
BINDING = Binding(Side.HK, RecordKind.REQUEST, b"req-1")


def _key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def _signing_key(name: str, valid: tuple[datetime, datetime] = YEAR) -> SigningKey:
    return SigningKey(f"{name}-1", Algorithm.ED25519, raw_public_key(_key(name)), *valid)


def _participant(key: str, bic: str, side: Side, status: Status = Status.ACTIVE) -> Participant:
    roles = frozenset({"sc"})
    req, att = (roles, frozenset()) if side is Side.HK else (frozenset(), roles)
    return Participant(
        key, bic, Scheme.BIC, side, "HK" if side is Side.HK else "440300", status, f"User:{key}",
        req, att, (_signing_key(key),),
    )  # fmt: skip


HK = _participant("hkbank", "HSBCHKHHHKH", Side.HK)
SZ = _participant("szbank", "CMBCCNBS", Side.SZ)
BJ = _participant("bjbank", "BKCHCNBJ", Side.SZ)
OFF = _participant("offbank", "ICBKCNBJ", Side.SZ, Status.SUSPENDED)
REGISTRY = Registry(
    (HK, SZ, BJ, OFF),
    "reg.toml",
    platform=((Side.HK, _signing_key("platform-hk")), (Side.SZ, _signing_key("platform-sz"))),
)


def _signer(name: str) -> Signer:
    return Signer(_key(name), f"{name}-1", Algorithm.ED25519)


def _verify(headers: tuple[tuple[str, bytes], ...], value: bytes = b"v") -> Verified | Refused:
    return Verifier(REGISTRY).verify(value, headers, BINDING, NOW_MS)


def test_a_signed_record_verifies_to_its_signer() -> None:
    got = _verify(_signer("hkbank").headers(b"v", BINDING, NOW_MS))
    assert got == Verified(HK, HK.keys[0], NOW_MS)


def _reason(got: object) -> RefusalReason:
    assert isinstance(got, Refused), got
    assert "v" not in got.detail.split()  # no value quoted
    return got.reason


def test_unsigned() -> None:
    assert _reason(_verify((("other", b"x"),))) is RefusalReason.UNSIGNED


def test_unknown_signer_including_a_platform_key_on_an_input() -> None:
    assert _reason(_verify(_signer("nobody").headers(b"v", BINDING, NOW_MS))) is RefusalReason.UNKNOWN_SIGNER
    forged = _signer("platform-hk").headers(b"v", BINDING, NOW_MS)
    assert _reason(_verify(forged)) is RefusalReason.UNKNOWN_SIGNER


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: _verify(h, b"w"),  # another value
        lambda h: Verifier(REGISTRY).verify(b"v", h, replace(BINDING, key=b"req-2"), NOW_MS),
        lambda h: Verifier(REGISTRY).verify(b"v", h, replace(BINDING, side=Side.SZ), NOW_MS),
        lambda h: Verifier(REGISTRY).verify(b"v", h, replace(BINDING, kind=RecordKind.ATTESTATION), NOW_MS),
        lambda h: _verify(((HEADER, h[0][1].replace(b";1780", b";1781")),)),  # another time
        lambda h: _verify(h + h),  # two headers
        lambda h: _verify(((HEADER, b"garbage"),)),
        lambda h: _verify(((HEADER, b"1;Ed25519;hkbank-1;%d;AAAA" % NOW_MS),)),  # a 3-byte signature
    ],
)
def test_bad_signature(tamper: object) -> None:
    headers = _signer("hkbank").headers(b"v", BINDING, NOW_MS)
    assert callable(tamper)
    assert _reason(tamper(headers)) is RefusalReason.BAD_SIGNATURE


def test_another_key_under_a_registered_key_id_is_a_bad_signature() -> None:
    impostor = Signer(_key("mallory"), "hkbank-1", Algorithm.ED25519)
    assert _reason(_verify(impostor.headers(b"v", BINDING, NOW_MS))) is RefusalReason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "signed_at",
    [
        NOW_MS + 300_001,  # beyond the skew
        NOW_MS - 86_700_001,  # older than a day and the skew
    ],
)
def test_key_expired_for_a_time_too_far_from_now(signed_at: int) -> None:
    got = _verify(_signer("hkbank").headers(b"v", BINDING, signed_at))
    assert _reason(got) is RefusalReason.KEY_EXPIRED


def test_key_expired_outside_the_keys_validity() -> None:
    old = replace(HK, keys=(_signing_key("hkbank", (YEAR[0], NOW)),))
    registry = Registry((old,))
    got = Verifier(registry).verify(b"v", _signer("hkbank").headers(b"v", BINDING, NOW_MS), BINDING, NOW_MS)
    assert _reason(got) is RefusalReason.KEY_EXPIRED
    fine = _signer("hkbank").headers(b"v", BINDING, NOW_MS - 1)
    assert isinstance(Verifier(registry).verify(b"v", fine, BINDING, NOW_MS), Verified)


def _verified(p: Participant) -> Verified:
    return Verified(p, p.keys[0], NOW_MS)


def test_a_requester_must_be_the_named_active_institution_with_the_role() -> None:
    assert authorise_requester(REGISTRY, _verified(HK), "sc", ("BIC", "HSBCHKHHHKH")) is None
    cases = [
        authorise_requester(REGISTRY, _verified(HK), "sc", ("BIC", "CMBCCNBS")),  # impersonation
        authorise_requester(REGISTRY, _verified(HK), "other", ("BIC", "HSBCHKHHHKH")),  # no role
        authorise_requester(REGISTRY, _verified(SZ), "sc", ("BIC", "CMBCCNBS")),  # attester only
    ]
    assert [_reason(c) for c in cases] == [RefusalReason.NOT_AUTHORISED] * 3


def test_an_attester_must_be_the_one_asked() -> None:
    sz, bj, off = ("BIC", "CMBCCNBS"), ("BIC", "BKCHCNBJ"), ("BIC", "ICBKCNBJ")
    assert authorise_attester(REGISTRY, _verified(SZ), "sc", sz, sz) is None
    assert _reason(authorise_attester(REGISTRY, _verified(BJ), "sc", bj, sz)) is RefusalReason.WRONG_ATTESTER
    impersonating = authorise_attester(REGISTRY, _verified(BJ), "sc", sz, sz)
    assert _reason(impersonating) is RefusalReason.NOT_AUTHORISED
    suspended = authorise_attester(REGISTRY, _verified(OFF), "sc", off, off)
    assert _reason(suspended) is RefusalReason.NOT_AUTHORISED
    assert isinstance(suspended, Refused)
    assert "suspended" in suspended.detail


def test_the_worker_records_verify_against_their_sides_platform_key() -> None:
    binding = Binding(Side.HK, RecordKind.VERDICT, b"req-1")
    headers = _signer("platform-hk").headers(b"v", binding, NOW_MS)
    got = Verifier(REGISTRY).verify_platform(b"v", headers, binding, NOW_MS)
    assert got == PlatformVerified(Side.HK, REGISTRY.platform_keys(Side.HK)[0], NOW_MS)
    other_side = _signer("platform-sz").headers(b"v", binding, NOW_MS)
    assert _reason(Verifier(REGISTRY).verify_platform(b"v", other_side, binding, NOW_MS)) is (
        RefusalReason.UNKNOWN_SIGNER
    )
    institution = _signer("hkbank").headers(b"v", binding, NOW_MS)
    assert _reason(Verifier(REGISTRY).verify_platform(b"v", institution, binding, NOW_MS)) is (
        RefusalReason.UNKNOWN_SIGNER
    )
