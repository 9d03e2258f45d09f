"""Signed inputs, on the Harness with a registry: each refusal its own dead letter, outputs signed.

Every test sends one record that a pipeline without signature checks accepts (it answered each of
these with an attestation request or a verdict before) and asserts its one outcome.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.domain import Side
from crossbound.participants import Algorithm, Registry, load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import HEADER, Binding, PlatformVerified, RecordKind, Signer, Verifier
from crossbound.testing import Harness, Published, Traffic
from crossbound.testing.participants import GeneratedRegistry, generate_registry

NOW = 1_790_000_000.0
SCENARIO = "sb_corporate_credit_report"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> GeneratedRegistry:
    directory = tmp_path_factory.mktemp("sig") / "reg"
    return generate_registry(directory, scenario_sides(catalogue), now=datetime.fromtimestamp(NOW, UTC))


def _registry(generated: GeneratedRegistry, catalogue: Catalogue, path: Path | None = None) -> Registry:
    return load_registry(path or generated.path, scenario_sides(catalogue))


def _harness(generated: GeneratedRegistry, catalogue: Catalogue, registry: Registry | None = None) -> Harness:
    registry = registry or _registry(generated, catalogue)
    return Harness.from_dirs(
        now=NOW,
        participants=registry,
        signers=generated.platform_signers(registry),
        keyring=generated.keyring(registry),
    )


def _case(seed: int = 21) -> tuple[dict[str, Any], dict[str, Any]]:
    case = Traffic(seed=seed, now=NOW).case(SCENARIO, "valid")
    assert case.request is not None
    assert case.attestation is not None
    return dict(case.request), dict(case.attestation)


def _signed_by(generated: GeneratedRegistry, key_id: str) -> Signer:
    return Signer.from_pem_file(generated.private_key(key_id), key_id)


def _dead(out: list[Published], h: Harness, side: str, reason: str) -> dict[str, Any]:
    """The one output: a dead letter with ``reason``, counted in both metrics, with no value quoted."""
    [dl] = out
    assert dl.topic == h.topics.deadletter(side)
    assert dl.record["reason"] == reason
    assert (
        h.registry.get_sample_value("crossbound_signature_refused_total", {"side": side, "reason": reason})
        == 1
    )
    assert h.registry.get_sample_value("crossbound_dead_letters_total", {"side": side, "reason": reason}) == 1
    return dl.record


def _send_request(
    h: Harness, request: dict[str, Any], signer: Signer | None, at_ms: int | None = None
) -> list[Published]:
    key, value = h.encode_request(request)
    headers = (
        ()
        if signer is None
        else signer.headers(value, Binding(Side.HK, RecordKind.REQUEST, key), at_ms or int(h.now * 1000))
    )
    return h.send(h.topics.requests("hk"), key, value, headers=headers)


def _send_attestation(h: Harness, att: dict[str, Any], signer: Signer) -> list[Published]:
    from crossbound.testing.encoding import encode_attestation

    topic, key, value = encode_attestation(att, h.codec, h.catalogue, h.topics)
    headers = signer.headers(value, Binding(Side.SZ, RecordKind.ATTESTATION, key), int(h.now * 1000))
    return h.send(topic, key, value, headers=headers)


def _platform_verifies(h: Harness, out: Published, side: Side, kind: RecordKind) -> None:
    assert h.participants is not None
    assert out.key is not None
    got = Verifier(h.participants).verify_platform(
        out.value, out.headers, Binding(side, kind, out.key), int(h.now * 1000)
    )
    assert isinstance(got, PlatformVerified), got
    assert got.side is side


def test_signed_traffic_gets_signed_answers(generated: GeneratedRegistry, catalogue: Catalogue) -> None:
    h = _harness(generated, catalogue)
    request, att = _case()
    [ask] = h.send_request(request)
    assert ask.topic == h.topics.attestation_requests("sz")
    _platform_verifies(h, ask, Side.SZ, RecordKind.ATTESTATION_REQUEST)
    [verdict] = h.send_attestation(att)
    assert verdict.record["outcome"] == "ACCEPT"
    _platform_verifies(h, verdict, Side.HK, RecordKind.VERDICT)


def test_a_timeout_verdict_is_signed_too(generated: GeneratedRegistry, catalogue: Catalogue) -> None:
    h = _harness(generated, catalogue)
    h.send_request(_case()[0])
    [verdict] = h.advance(31)
    assert [f["code"] for f in verdict.record["findings"]][-1] == "ATTESTATION_TIMEOUT"
    _platform_verifies(h, verdict, Side.HK, RecordKind.VERDICT)


def test_unsigned_request(generated: GeneratedRegistry, catalogue: Catalogue) -> None:
    h = _harness(generated, catalogue)
    request = _case()[0]
    dl = _dead(_send_request(h, request, None), h, "hk", "unsigned")
    assert dl["request_id"] == request["request_id"]
    assert h.pending == {}


def test_unknown_signer(generated: GeneratedRegistry, catalogue: Catalogue) -> None:
    h = _harness(generated, catalogue)
    stranger = Signer(Ed25519PrivateKey.generate(), "stranger-1", Algorithm.ED25519)
    _dead(_send_request(h, _case()[0], stranger), h, "hk", "unknown_signer")


def test_bad_signature_a_header_moved_to_another_record(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    h = _harness(generated, catalogue)
    first, second = _case(21)[0], _case(22)[0]
    first["requester_inst"] = second["requester_inst"]
    signer = _signed_by(generated, f"{second['requester_inst']['id'].lower()}-1")
    key, value = h.encode_request(first)
    headers = signer.headers(value, Binding(Side.HK, RecordKind.REQUEST, key), int(h.now * 1000))
    key2, value2 = h.encode_request(second)
    _dead(h.send(h.topics.requests("hk"), key2, value2, headers=headers), h, "hk", "bad_signature")


def test_key_expired_a_signature_older_than_a_day(generated: GeneratedRegistry, catalogue: Catalogue) -> None:
    h = _harness(generated, catalogue)
    request = _case()[0]
    signer = _signed_by(generated, f"{request['requester_inst']['id'].lower()}-1")
    old = int((h.now - 2 * 86_400) * 1000)
    _dead(_send_request(h, request, signer, old), h, "hk", "key_expired")


def test_not_authorised_another_bank_signs_for_the_requester(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    h = _harness(generated, catalogue)
    request = _case()[0]
    assert request["requester_inst"]["id"] != "HSBCHKHHHKH"
    dl = _dead(_send_request(h, request, _signed_by(generated, "hsbchkhhhkh-1")), h, "hk", "not_authorised")
    assert dl["detail"] == "signed by 'hsbchkhhhkh', not by the requester the record names"


def test_not_authorised_a_suspended_requester(
    generated: GeneratedRegistry, catalogue: Catalogue, tmp_path: Path
) -> None:
    request = _case()[0]
    bic = request["requester_inst"]["id"]
    text = generated.path.read_text(encoding="utf-8")
    at = text.index(f'identifier = "{bic}"')
    suspended = text[:at] + text[at:].replace('status = "active"', 'status = "suspended"', 1)
    path = generated.path.with_name("suspended.toml")
    path.write_text(suspended, encoding="utf-8")
    h = _harness(generated, catalogue, _registry(generated, catalogue, path))
    dl = _dead(h.send_request(request), h, "hk", "not_authorised")
    assert dl["detail"] == f"signer '{bic.lower()}' is suspended"


def _asked_and_answered(generated: GeneratedRegistry, catalogue: Catalogue) -> tuple[Harness, dict[str, Any]]:
    h = _harness(generated, catalogue)
    request, att = _case()
    [ask] = h.send_request(request)
    assert ask.topic == h.topics.attestation_requests("sz")
    return h, att


def test_unsigned_attestation(generated: GeneratedRegistry, catalogue: Catalogue) -> None:
    h, att = _asked_and_answered(generated, catalogue)
    from crossbound.testing.encoding import encode_attestation

    topic, key, value = encode_attestation(att, h.codec, h.catalogue, h.topics)
    _dead(h.send(topic, key, value), h, "sz", "unsigned")
    assert len(h.pending) == 1  # still waiting for its attester: a forgery answers nothing


def test_wrong_attester_a_beijing_bank_answers_for_the_one_asked(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    h, att = _asked_and_answered(generated, catalogue)
    other = copy.deepcopy(att)
    other["attester_inst"] = {"scheme": "BIC", "id": "BKCHCNBJ", "city": "440300"}
    dl = _dead(_send_attestation(h, other, _signed_by(generated, "bkchcnbj-1")), h, "sz", "wrong_attester")
    assert dl["detail"] == "signed by 'bkchcnbj', not by the attester the request named"
    [verdict] = h.send_attestation(att)  # the one asked still answers
    assert verdict.record["outcome"] == "ACCEPT"


def test_not_authorised_an_attestation_signed_by_another_than_it_names(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    h, att = _asked_and_answered(generated, catalogue)
    _dead(_send_attestation(h, att, _signed_by(generated, "bkchcnbj-1")), h, "sz", "not_authorised")


def test_an_unsigned_copy_of_a_request_is_unsigned_not_a_duplicate(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    h = _harness(generated, catalogue)
    request = _case()[0]
    h.send_request(request)
    _dead(_send_request(h, request, None), h, "hk", "unsigned")
    [dup] = h.send_request(request)
    assert dup.record["reason"] == "duplicate_request"


def test_a_redelivered_request_is_sent_again_though_its_signature_aged(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    from crossbound.testing.recording import Recorded

    h = _harness(generated, catalogue)
    request = _case()[0]
    key, value = h.encode_request(request)
    headers = h.keyring.headers(h.codec, key, value, int(h.now * 1000)) if h.keyring else ()
    topic = h.topics.requests("hk")
    first = Recorded(topic, 0, 0, int(h.now * 1000), key, value, headers)
    [ask] = h.replay([first])
    # a new process, two days later (no sweep ran meanwhile): the same record redelivered, its
    # signature now older than a signature is accepted; it was checked when first handled
    h.restart()
    h.now += 2 * 86_400
    [again] = h.replay([first])
    assert again.value == ask.value
    _platform_verifies(h, again, Side.SZ, RecordKind.ATTESTATION_REQUEST)


def test_without_a_registry_nothing_is_checked_or_signed() -> None:
    h = Harness.from_dirs(now=NOW)
    request, att = _case()
    [ask] = h.send_request(request)
    [verdict] = h.send_attestation(att)
    assert ask.headers == verdict.headers == ()
    assert HEADER not in dict(verdict.headers)


def test_the_detail_never_names_the_forgers_key_id(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    h = _harness(generated, catalogue)
    forged = Signer(
        Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"x").digest()), "13812345678", Algorithm.ED25519
    )
    dl = _dead(_send_request(h, _case()[0], forged), h, "hk", "unknown_signer")
    assert "13812345678" not in dl["detail"]


def test_the_output_budget_counts_the_signature_header(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    from crossbound.pipeline.budget import OutputLimits, record_size

    request = _case()[0]
    [ask] = _harness(generated, catalogue).send_request(request)
    unsigned = record_size(ask.key, ask.value)
    assert record_size(ask.key, ask.value, ask.headers) > unsigned + 100
    registry = _registry(generated, catalogue)
    h = Harness.from_dirs(
        now=NOW,
        participants=registry,
        signers=generated.platform_signers(registry),
        keyring=generated.keyring(registry),
        limits=OutputLimits(10_000_000, {"sz.attestation-requests": unsigned + 10}),
    )
    [dead] = h.send_request(request)  # it would fit unsigned; signed it would not
    assert dead.record["reason"] == "output_too_large"
    assert h.pending == {}


def test_an_institutions_own_topics_get_signed_answers(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    from crossbound.topics import Topics

    registry = _registry(generated, catalogue)
    known = registry.participants
    topics = Topics(
        layout="per_institution",
        participants=tuple((p.side.topic, p.key) for p in known),
        directory={(p.scheme.value, p.identifier): p.key for p in known},
    )
    h = Harness.from_dirs(
        now=NOW,
        topics=topics,
        participants=registry,
        signers=generated.platform_signers(registry),
        keyring=generated.keyring(registry),
    )
    request, att = _case()
    requester = registry.find(request["requester_inst"]["scheme"], request["requester_inst"]["id"])
    attester = registry.find(att["attester_inst"]["scheme"], att["attester_inst"]["id"])
    assert requester is not None
    assert attester is not None
    [ask] = h.send_request(request, side=None)
    assert ask.topic == topics.of_participant("sz", attester.key, "attestation-requests")
    _platform_verifies(h, ask, Side.SZ, RecordKind.ATTESTATION_REQUEST)
    [verdict] = h.send_attestation(att)
    assert verdict.topic == topics.of_participant("hk", requester.key, "verdicts")
    _platform_verifies(h, verdict, Side.HK, RecordKind.VERDICT)


def test_a_recording_replayed_under_another_prefix_still_verifies(
    generated: GeneratedRegistry, catalogue: Catalogue
) -> None:
    from crossbound.testing.recording import Recorded
    from crossbound.topics import Topics

    registry = _registry(generated, catalogue)
    h = Harness.from_dirs(
        now=NOW,
        topics=Topics(prefix="test."),
        participants=registry,
        signers=generated.platform_signers(registry),
    )
    request = _case()[0]
    key, value = h.encode_request(request)
    headers = generated.keyring(registry).headers(h.codec, key, value, int(NOW * 1000))
    recorded = Recorded("prod.hk.requests", 0, 7, int(NOW * 1000), key, value, headers)
    [ask] = h.replay([recorded], rename=lambda t: t.replace("prod.", "test.", 1))
    assert ask.topic == "test.sz.attestation-requests"
