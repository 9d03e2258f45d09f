"""Unit tests of crossbound.testing.institutions, the demo's clients: one Institution per requester
and one Attester per data holder that the cases name, signing with the registry's keys when a
registry is given (the key files beside it), unsigned without one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import SecretStr

from crossbound.broker.security import ClientSecurity
from crossbound.client import Identity, IdentityError, KafkaWire
from crossbound.codec import Codec
from crossbound.participants import load_registry
from crossbound.rules import Catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.testing.institutions import Institutions
from crossbound.testing.participants import generate_registry
from crossbound.testing.traffic import Traffic, fingerprint_scenarios
from crossbound.testing.traffic import scenarios as traffic_scenarios
from crossbound.topics import Topics


def test_signed_with_the_registrys_keys_each_on_its_own_topics(
    tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    scenarios = scenario_sides(catalogue)
    registry = load_registry(generate_registry(tmp_path / "reg", scenarios).path, scenarios)
    cases = list(Traffic(seed=3).mix(40))
    keys = tuple((p.side.topic, p.key) for p in registry.participants)
    topics = Topics(layout="per_institution", participants=keys)
    made = Institutions("unused:9092", topics, codec, catalogue, cases, registry=registry)
    named = {
        (c.request["requester_inst"]["scheme"], c.request["requester_inst"]["id"]) for c in cases if c.request
    }
    assert set(made.requesters) == named
    for inst in [*made.requesters.values(), *made.attesters.values()]:
        assert inst.trust is not None
        participant = registry.find(inst.identity.scheme, inst.identity.id)
        assert participant is not None
        assert inst.trust.signer.key_id == participant.keys[0].key_id
        assert inst.reads.startswith(f"{participant.side.topic}.{participant.key}.")


def test_with_a_login_each_client_connects_as_the_participant_it_plays(
    tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    cases = list(Traffic(seed=3).mix(20))
    shared = ClientSecurity("SASL_SSL", None, "SCRAM-SHA-512", "admin", SecretStr("admin-secret"))

    def login(who: Identity) -> ClientSecurity:
        return dataclasses.replace(shared, username=who.key, password=SecretStr(f"{who.key}-secret"))

    made = Institutions("unused:9092", Topics(), codec, catalogue, cases, security=shared, login=login)
    clients = [*made.requesters.values(), *made.attesters.values()]
    assert clients
    for client in clients:
        assert isinstance(client.wire, KafkaWire)
        assert client.wire.security.username == client.identity.key
    without = Institutions("unused:9092", Topics(), codec, catalogue, cases, security=shared)
    assert {c.wire.security.username for c in without.requesters.values()} == {"admin"}


def test_unsigned_without_a_registry_and_unregistered_ones_cannot_sign(
    tmp_path: Path, codec: Codec, catalogue: Catalogue
) -> None:
    cases = list(Traffic(seed=3).mix(10))
    made = Institutions("unused:9092", Topics(), codec, catalogue, cases)
    assert all(i.trust is None for i in [*made.requesters.values(), *made.attesters.values()])
    scenarios = scenario_sides(catalogue)
    registry = load_registry(generate_registry(tmp_path / "reg", scenarios).path, scenarios)
    stranger = next(c for c in cases if c.request is not None)
    assert stranger.request is not None
    stranger.request["requester_inst"] = {"scheme": "BIC", "id": "NOTREGHKXXX", "city": "HK"}
    with pytest.raises(IdentityError, match="not in"):
        Institutions("unused:9092", Topics(), codec, catalogue, [stranger], registry=registry)


def test_every_institution_the_traffic_names_is_in_a_generated_registry(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """So that the demo can run signed: no case names an institution without a key."""
    scenarios = scenario_sides(catalogue)
    registry = load_registry(generate_registry(tmp_path / "reg", scenarios).path, scenarios)
    traffic = Traffic(seed=1)
    live, by_lookup = set(traffic_scenarios()), set(fingerprint_scenarios())
    assert live | by_lookup == set(scenarios)
    for scenario in scenarios:
        for variant in ("valid", "review", "invalid"):
            made = traffic.case if scenario in live else traffic.fingerprint_case
            case = made(scenario, variant)
            assert case.request is not None
            for role in ("requester", "attester"):
                inst = case.request[f"{role}_inst"]
                found = registry.find(inst["scheme"], inst["id"])
                assert found is not None, (scenario, variant, role, inst["id"])
                assert scenario in (found.may_request if role == "requester" else found.may_attest)
