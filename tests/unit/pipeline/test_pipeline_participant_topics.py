"""The per_institution layout: a registered institution's records come in on its own topics and its
answers go out on its own topics; an unregistered one stays on the side's shared topics."""

from __future__ import annotations

from crossbound.testing import Harness, Traffic
from crossbound.testing.encoding import encode_attestation
from crossbound.topics import Topics


def _harness(
    case_request: dict[str, object], case_attestation: dict[str, object]
) -> tuple[Harness, str, str]:
    requester = case_request["requester_inst"]
    attester = case_attestation["attester_inst"]
    assert isinstance(requester, dict)
    assert isinstance(attester, dict)
    topics = Topics(
        prefix="p.",
        layout="per_institution",
        participants=(("hk", "req"), ("sz", "att")),
        directory={
            (requester["scheme"], requester["id"]): "req",
            (attester["scheme"], attester["id"]): "att",
        },
    )
    return Harness.from_dirs(topics=topics), "req", "att"


def test_a_registered_pair_talks_on_its_own_topics() -> None:
    case = Traffic(seed=21, now=Harness.from_dirs().now).case("sb_corporate_credit_report", "valid")
    assert case.request is not None
    assert case.attestation is not None
    h, req, att = _harness(case.request, case.attestation)
    key, value = h.encode_request(case.request)
    [ask] = h.send(h.topics.of_participant("hk", req, "requests"), key, value)
    assert ask.topic == "p.sz.att.attestation-requests"
    _, akey, avalue = encode_attestation(case.attestation, h.codec, h.catalogue, h.topics)
    [verdict] = h.send(h.topics.of_participant("sz", att, "attestations"), akey, avalue)
    assert verdict.topic == "p.hk.req.verdicts"
    assert verdict.record["outcome"] == "ACCEPT"
    assert h.on("p.hk.verdicts") == []


def test_an_unregistered_institution_stays_on_the_shared_topics() -> None:
    case = Traffic(seed=22, now=Harness.from_dirs().now).case("sb_corporate_credit_report", "valid")
    assert case.request is not None
    assert case.attestation is not None
    h = Harness.from_dirs(topics=Topics(prefix="p.", layout="per_institution"))
    [ask] = h.send_request(case.request)
    assert ask.topic == "p.sz.attestation-requests"
    [verdict] = h.send_attestation(case.attestation)
    assert verdict.topic == "p.hk.verdicts"
