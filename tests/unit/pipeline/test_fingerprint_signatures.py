"""Registry records under the trust boundary, on the Harness with a participant registry.

Each refusal below is a record a pipeline without these checks took in (stored in ``fingerprints``,
nothing sent); here it is one dead letter with its reason, counted as a signature refusal, and the
table holds nothing new.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crossbound.domain import Side
from crossbound.participants import Algorithm, Registry, Status, load_registry
from crossbound.pipeline.issuers import issuers
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import Binding, RecordKind, Signer
from crossbound.testing import Harness, Published
from crossbound.testing.encoding import Keyring, encode_fingerprint
from crossbound.testing.participants import GeneratedRegistry, generate_registry
from crossbound.topics import Topics
from helpers import EXAMPLES, load_json

NOW = 1_795_510_800.0  # 2026-11-24T09:00:00Z, the fixtures' time
SID = "sb_personal_credit_report_fingerprint"
ISSUER = "icbkcnbjszn"  # the fixture's data source, as the generated registry keys it
OTHER = "beascnshszn"  # another SZ data source of the generated registry


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> GeneratedRegistry:
    directory = tmp_path_factory.mktemp("fpsig") / "reg"
    return generate_registry(directory, scenario_sides(catalogue), now=datetime.fromtimestamp(NOW, UTC))


@pytest.fixture(scope="module")
def participants(generated: GeneratedRegistry, catalogue: Catalogue) -> Registry:
    return load_registry(generated.path, scenario_sides(catalogue))


def _changed(registry: Registry, key: str, **changes: Any) -> Registry:
    parts = tuple(dataclasses.replace(p, **changes) if p.key == key else p for p in registry.participants)
    return Registry(parts, registry.path, registry.digest, registry.platform)


def _topics(registry: Registry, catalogue: Catalogue) -> Topics:
    return Topics(
        layout="per_institution",
        participants=tuple((p.side.topic, p.key) for p in registry.participants),
        issuers=issuers(registry, catalogue),
        directory={(p.scheme.value, p.identifier): p.key for p in registry.participants},
    )


def _harness(generated: GeneratedRegistry, registry: Registry, topics: Topics | None = None) -> Harness:
    return Harness.from_dirs(
        now=NOW,
        topics=topics or Topics(),
        participants=registry,
        signers=generated.platform_signers(registry),
        keyring=generated.keyring(registry),
    )


def _record(**changes: Any) -> dict[str, Any]:
    record = load_json(EXAMPLES / SID / "accept.fingerprint.json")
    record.update(changes)
    return record


def _signer(generated: GeneratedRegistry, key: str) -> Signer:
    return Signer.from_pem_file(generated.private_key(f"{key}-1"), f"{key}-1")


def _send(
    h: Harness,
    record: dict[str, Any],
    signer: Signer | None,
    *,
    topic: str | None = None,
    at_ms: int | None = None,
    kind: RecordKind = RecordKind.FINGERPRINT,
) -> list[Published]:
    own, key, value = encode_fingerprint(record, h.codec, h.topics)
    binding = Binding(Side.SZ, kind, key)
    headers = () if signer is None else signer.headers(value, binding, at_ms or int(h.now * 1000))
    return h.send(topic or own, key, value, headers=headers)


def _refused(h: Harness, out: list[Published], reason: str, table: int = 0) -> str:
    """The one output: an ``sz`` dead letter for ``reason``, counted twice; the table unchanged."""
    [dl] = out
    assert dl.topic == h.topics.deadletter("sz")
    assert dl.record["reason"] == reason
    labels = {"side": "sz", "reason": reason}
    assert h.registry.get_sample_value("crossbound_signature_refused_total", labels) == 1
    assert h.registry.get_sample_value("crossbound_dead_letters_total", labels) == 1
    assert len(h.fingerprints) == table
    detail = str(dl.record["detail"])
    assert _record()["digest"] not in detail  # no value in the detail
    return detail


def _accepts(h: Harness) -> None:
    """A request for the registered document: ACCEPT, at once."""
    [verdict] = h.send_request(load_json(EXAMPLES / SID / "accept.request.json"))
    assert (verdict.record["outcome"], verdict.record["findings"]) == ("ACCEPT", [])


def test_a_record_signed_by_its_issuer_is_taken_in_and_answers_a_lookup(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    h = _harness(generated, participants)
    assert h.send_fingerprint(_record()) == []  # the keyring signs it as its issuer
    labels = {"side": "sz", "result": "stored"}
    assert h.registry.get_sample_value("crossbound_fingerprints_total", labels) == 1
    _accepts(h)


def test_a_signature_does_not_age_out_a_record_signed_long_ago_is_taken_in(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    h = _harness(generated, participants)
    h.now = NOW + 3 * 86_400  # a worker reading the compacted topic days later (a request's bound: 24 h)
    assert _send(h, _record(), _signer(generated, ISSUER), at_ms=int(NOW * 1000)) == []
    assert len(h.fingerprints) == 1


def test_unsigned(generated: GeneratedRegistry, participants: Registry) -> None:
    h = _harness(generated, participants)
    _refused(h, _send(h, _record(), None), "unsigned")


def test_unknown_signer(generated: GeneratedRegistry, participants: Registry) -> None:
    h = _harness(generated, participants)
    stranger = Signer(Ed25519PrivateKey.generate(), "stranger-1", Algorithm.ED25519)
    _refused(h, _send(h, _record(), stranger), "unknown_signer")


def test_bad_signature_a_request_signature_is_no_fingerprint_signature(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    h = _harness(generated, participants)
    out = _send(h, _record(), _signer(generated, ISSUER), kind=RecordKind.ATTESTATION)
    _refused(h, out, "bad_signature")


def test_key_expired_signed_ahead_of_the_clock(generated: GeneratedRegistry, participants: Registry) -> None:
    h = _harness(generated, participants)
    out = _send(h, _record(), _signer(generated, ISSUER), at_ms=int(NOW * 1000) + 600_000)
    _refused(h, out, "key_expired")


def test_not_authorised_signed_by_another_data_source(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    h = _harness(generated, participants)
    detail = _refused(h, _send(h, _record(), _signer(generated, OTHER)), "not_authorised")
    assert "not by the issuer the record names" in detail


def test_not_authorised_a_suspended_issuer(generated: GeneratedRegistry, participants: Registry) -> None:
    h = _harness(generated, _changed(participants, ISSUER, status=Status.SUSPENDED))
    assert "suspended" in _refused(h, _send(h, _record(), _signer(generated, ISSUER)), "not_authorised")


def test_not_authorised_an_attester_of_live_scenarios_only(
    generated: GeneratedRegistry, participants: Registry, catalogue: Catalogue
) -> None:
    issuer = next(p for p in participants.participants if p.key == ISSUER)
    live = frozenset(s for s in issuer.may_attest if catalogue.scenarios[s].fingerprint is None)
    assert "sb_personal_credit_report" in live
    h = _harness(generated, _changed(participants, ISSUER, may_attest=live))
    out = _send(h, _record(), _signer(generated, ISSUER))
    assert "may attest in no fingerprint-mode scenario" in _refused(h, out, "not_authorised")


def test_not_authorised_a_document_type_its_fingerprint_roles_do_not_accept(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    h = _harness(generated, _changed(participants, ISSUER, may_attest=frozenset({SID})))
    out = _send(h, _record(document_type="CORPORATE_KYC_REPORT"), _signer(generated, ISSUER))
    _refused(h, out, "not_authorised")


def test_not_authorised_another_issuers_record_for_a_digest_held(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    h = _harness(generated, participants)
    h.send_fingerprint(_record())
    held = dict(h.fingerprints)
    other = {"scheme": "BIC", "id": OTHER.upper(), "city": "440300"}
    revoke = _record(issuer=other, sequence=2, revoked=True, revoked_at="2026-11-20T03:00:00Z")
    out = _send(h, revoke, _signer(generated, OTHER))  # its own record, its own valid key
    assert "another issuer" in _refused(h, out, "not_authorised", table=1)
    assert h.fingerprints == held
    _accepts(h)


def test_per_institution_an_issuer_writes_its_own_registry_topic_only(
    generated: GeneratedRegistry, participants: Registry, catalogue: Catalogue
) -> None:
    topics = _topics(participants, catalogue)
    assert topics.registry_for("sz", _record()["issuer"]) == f"sz.{ISSUER}.fingerprints"
    h = _harness(generated, participants, topics)
    assert h.send_fingerprint(_record()) == []  # on its own topic, signed
    _accepts(h)


@pytest.mark.parametrize("topic", [f"sz.{OTHER}.fingerprints", "sz.fingerprints"])
def test_per_institution_a_record_on_a_topic_not_its_issuers_is_not_authorised(
    generated: GeneratedRegistry, participants: Registry, catalogue: Catalogue, topic: str
) -> None:
    h = _harness(generated, participants, _topics(participants, catalogue))
    out = _send(h, _record(), _signer(generated, ISSUER), topic=topic)  # signed by its issuer
    assert "registry topic of its issuer" in _refused(h, out, "not_authorised")


def test_a_keyring_from_a_key_directory_signs_as_the_issuer(
    generated: GeneratedRegistry, participants: Registry
) -> None:
    keyring = Keyring.from_key_dir(participants, generated.path.parent / "keys")  # as the demo's register()
    h = _harness(generated, participants)
    h.keyring = keyring
    assert h.send_fingerprint(_record()) == []
    _accepts(h)
