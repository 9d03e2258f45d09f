"""The ACLs a registry implies, and the per-institution topic names they are about."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

import pytest

from crossbound.broker.acls import stale_acls
from crossbound.cli import main
from crossbound.domain import Side
from crossbound.participants import Acl, Registry, Status, acl_lines, load_registry, registry_acls
from crossbound.pipeline.issuers import issuers
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.testing.participants import generate_registry
from crossbound.topics import TopicKind, Topics


@pytest.fixture
def participants(tmp_path: Path, catalogue: Catalogue) -> Registry:
    scenarios = scenario_sides(catalogue)
    made = generate_registry(
        tmp_path / "reg", scenarios, now=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
    )
    return load_registry(made.path, scenarios)


def _only(participants: Registry, key: str, **changes: object) -> Registry:
    chosen = next(p for p in participants.participants if p.key == key)
    return Registry((dataclasses.replace(chosen, **changes),))


def test_a_requester_and_attester_gets_its_own_four_topics_and_its_group_prefix(
    participants: Registry,
) -> None:
    acls = registry_acls(_only(participants, "hsbchkhhhkh"), Topics(prefix="p."))
    user = "User:hsbchkhhhkh"
    assert acls == sorted(
        [
            Acl(user, "GROUP", "PREFIXED", "p.hsbchkhhhkh.", "READ"),
            Acl(user, "TOPIC", "LITERAL", "p.hk.hsbchkhhhkh.attestation-requests", "READ"),
            Acl(user, "TOPIC", "LITERAL", "p.hk.hsbchkhhhkh.attestations", "WRITE"),
            Acl(user, "TOPIC", "LITERAL", "p.hk.hsbchkhhhkh.requests", "WRITE"),
            Acl(user, "TOPIC", "LITERAL", "p.hk.hsbchkhhhkh.verdicts", "READ"),
        ]
    )


def test_a_requester_only_gets_no_attestation_topics(participants: Registry) -> None:
    acls = registry_acls(_only(participants, "hsbchkhhhkh", may_attest=frozenset()), Topics())
    assert {a.name for a in acls} == {"hsbchkhhhkh.", "hk.hsbchkhhhkh.requests", "hk.hsbchkhhhkh.verdicts"}


@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.REVOKED])
def test_a_suspended_or_revoked_participant_gets_nothing(participants: Registry, status: Status) -> None:
    assert registry_acls(_only(participants, "hsbchkhhhkh", status=status), Topics()) == []


def test_no_acl_lets_anyone_write_a_verdict_or_an_attestation_request(participants: Registry) -> None:
    acls = registry_acls(participants, Topics())
    assert acls
    for acl in acls:
        if acl.resource_type == "TOPIC" and acl.name.endswith((".verdicts", ".attestation-requests")):
            assert acl.operation == "READ", acl
        if acl.resource_type == "TOPIC":
            assert acl.name.startswith(f"{acl.name.split('.')[0]}.{acl.principal.removeprefix('User:')}."), (
                acl
            )


def test_acl_lines_are_kafka_acls_commands(participants: Registry) -> None:
    acls = registry_acls(_only(participants, "hsbchkhhhkh", may_attest=frozenset()), Topics())
    assert acl_lines(acls, "h:9093") == [
        "kafka-acls.sh --bootstrap-server h:9093 --add --allow-principal User:hsbchkhhhkh --operation Read "
        "--group hsbchkhhhkh. --resource-pattern-type prefixed",
        "kafka-acls.sh --bootstrap-server h:9093 --add --allow-principal User:hsbchkhhhkh --operation Write "
        "--topic hk.hsbchkhhhkh.requests --resource-pattern-type literal",
        "kafka-acls.sh --bootstrap-server h:9093 --add --allow-principal User:hsbchkhhhkh --operation Read "
        "--topic hk.hsbchkhhhkh.verdicts --resource-pattern-type literal",
    ]
    assert acls[0].as_dict()["permission"] == "ALLOW"


def test_participant_topics_exist_only_in_their_layout() -> None:
    shared = Topics(participants=(("hk", "bank1"),))
    assert shared.participant_topics() == {}
    layout = Topics(prefix="x.", layout="per_institution", participants=(("hk", "bank1"), ("sz", "bank2")))
    mine = layout.participant_topics()
    assert mine["x.hk.bank1.requests"] is TopicKind.INPUTS
    assert mine["x.sz.bank2.verdicts"] is TopicKind.VERDICTS
    assert mine["x.sz.bank2.attestation-requests"] is TopicKind.ATTESTATIONS
    assert len(mine) == 8
    assert set(mine) <= set(layout.kinds())
    assert set(layout.all()) == set(Topics(prefix="x.").all())  # the pipeline's own topics are unchanged


@pytest.mark.parametrize(
    ("key", "kind"), [("a.b", "requests"), ("", "requests"), ("bank", "deadletter"), ("bank", "x")]
)
def test_participant_topic_names_refuse_what_would_break_the_prefix(key: str, kind: str) -> None:
    with pytest.raises(ValueError, match="participant"):
        Topics().of_participant(Side.HK.topic, key, kind)


def test_a_registered_institution_is_served_by_its_own_topics_others_by_the_shared_ones() -> None:
    layout = Topics(
        layout="per_institution",
        participants=(("hk", "hsbchkhhhkh"),),
        directory={("BIC", "HSBCHKHHHKH"): "hsbchkhhhkh"},
    )
    hsbc = {"scheme": "BIC", "id": "HSBCHKHHHKH", "city": "HK"}
    stranger = {"scheme": "BIC", "id": "NOTABIC", "city": "HK"}
    assert layout.for_institution("hk", "verdicts", hsbc) == "hk.hsbchkhhhkh.verdicts"
    assert layout.for_institution("hk", "verdicts", stranger) == "hk.verdicts"
    assert Topics(directory=layout.directory).for_institution("hk", "verdicts", hsbc) == "hk.verdicts"
    assert layout.participant_inputs() == {
        "hk.hsbchkhhhkh.requests": ("hk", "requests"),
        "hk.hsbchkhhhkh.attestations": ("hk", "attestations"),
    }
    assert Topics(participants=layout.participants).participant_inputs() == {}


def test_stale_bindings_are_the_registry_principals_bindings_it_no_longer_implies() -> None:
    wanted = [Acl("User:a", "TOPIC", "LITERAL", "hk.a.requests", "WRITE")]
    found = [
        *wanted,
        Acl("User:a", "TOPIC", "LITERAL", "hk.a.attestations", "WRITE"),  # a role taken away
        Acl("User:b", "TOPIC", "LITERAL", "hk.b.requests", "WRITE"),  # suspended b
        Acl("User:ops", "GROUP", "PREFIXED", "ops.", "READ"),  # not the registry's: left alone
    ]
    assert stale_acls(found, wanted, {"User:a", "User:b"}) == [found[1], found[2]]


def test_prune_needs_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acl", "print", "--registry", str(tmp_path / "none.toml"), "--prune"]) == 2
    assert "--prune goes with --apply" in capsys.readouterr().err


def test_a_fingerprint_issuer_gets_write_on_its_own_registry_topic_only(
    participants: Registry, catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    issuing = issuers(participants, catalogue)
    assert ("sz", "icbkcnbjszn") in issuing
    assert not [key for side, key in issuing if side == "hk"]  # every fingerprint scenario attests in SZ
    topics = Topics(prefix="p.", layout="per_institution", issuers=issuing)
    acls = registry_acls(participants, topics)
    registry_writes = {(a.principal, a.name) for a in acls if a.name.endswith(".fingerprints")}
    assert registry_writes == {(f"User:{key}", f"p.{side}.{key}.fingerprints") for side, key in issuing}
    on_registries = [a for a in acls if "fingerprints" in a.name]
    assert all(a.operation == "WRITE" and a.pattern_type == "LITERAL" for a in on_registries)
    assert "p.sz.fingerprints" not in {a.name for a in acls}  # the shared registry: the worker's only
    suspended = _only(participants, "icbkcnbjszn", status=Status.SUSPENDED)
    assert registry_acls(suspended, topics) == []
    assert main(["acl", "print", "--registry", participants.path, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"principal": "User:icbkcnbjszn", "resource_type": "TOPIC", "pattern_type": "LITERAL",
            "name": "sz.icbkcnbjszn.fingerprints", "operation": "WRITE", "permission": "ALLOW",
            "host": "*"} in printed  # fmt: skip


def test_registry_topics_are_the_issuers_own_under_per_institution() -> None:
    layout = Topics(
        layout="per_institution",
        participants=(("sz", "src1"), ("sz", "bank2")),
        issuers=(("sz", "src1"),),
        directory={("BIC", "SRC1CNBJSZN"): "src1", ("BIC", "BANK2CNBJSZN"): "bank2"},
    )
    assert layout.participant_registries() == {"sz.src1.fingerprints": ("sz", "src1")}
    assert layout.registries() == ["hk.fingerprints", "sz.fingerprints", "sz.src1.fingerprints"]
    assert layout.kinds()["sz.src1.fingerprints"] is TopicKind.REGISTRY
    assert layout.registry_for("sz", {"scheme": "BIC", "id": "SRC1CNBJSZN"}) == "sz.src1.fingerprints"
    assert layout.registry_for("sz", {"scheme": "BIC", "id": "BANK2CNBJSZN"}) == "sz.fingerprints"
    shared = Topics(participants=layout.participants, issuers=layout.issuers, directory=layout.directory)
    assert shared.participant_registries() == {}
    assert shared.registry_for("sz", {"scheme": "BIC", "id": "SRC1CNBJSZN"}) == "sz.fingerprints"
