"""Nothing free crosses: declared forms on the way in, bands in range, and the outgoing guard (issue 9).

Item 8: personal data in any free envelope string (ids, key id, nonce, cities, consent codes) is refused
as ``bad_form`` and crosses in nothing. Item 10: a band outside its declared range is refused
(``payload_out_of_range``) instead of going back in the verdict. Item 9 (constraint half): a class C
code field takes codes, not text, while a wrong but well-formed code still reaches its rule. Item 11:
what escapes the input checks (simulated by switching them off) is stopped by the guard before it
leaves, and the input is dead-lettered as ``outgoing_blocked`` instead, counted by record and reason.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest

from crossbound.pipeline import attestations as attestations_module
from crossbound.pipeline import requests as requests_module
from crossbound.testing import Harness, Published
from crossbound.testing.traffic import Traffic

SB = "sb_corporate_credit_report"  # HK -> SZ
KYC = "corporate_kyc_report"  # HK -> SZ, band ubo_count
EHCV = "ehcv_gba_claim"  # SZ -> HK, code service_point_id
WMC_NB = "wmc_northbound_eligibility"  # SZ -> HK, product_type (rule-checked) and product_code (not)

PROBES = {
    "hkid": "A123456(3)",
    "hkid_bare": "A1234563",
    "hkid_lower_spaced": "a 123456 3",
    "resident_id": "11010519491231002X",
    "resident_id_spaced": "110105 19491231 002X",
    "cn_mobile": "13812345678",
    "cn_mobile_intl": "+86 138 1234 5678",
    "cn_mobile_0086": "008613812345678",
    "hk_phone": "91234567",
    "hk_phone_intl": "+852 9123 4567",
    "email": "chan.taiman@example.com",
    "name_zh": "陳大文",
    "name_latin": "CHAN Tai Man",
    "passport": "K12345678",
    "card": "6222021234567890123",
}


@pytest.fixture(scope="module")
def loaded() -> Harness:
    return Harness.from_dirs()


@pytest.fixture
def h(loaded: Harness) -> Harness:
    return Harness(loaded.codec, loaded.catalogue)  # fresh state and metrics, schemas parsed once


@functools.cache
def _drawn(scenario: str, seed: int, now: float) -> tuple[dict[str, Any], Any]:
    case = Traffic(seed=seed, now=now).case(scenario, "valid")
    assert case.request is not None
    return case.request, case.attestation


def _case(h: Harness, scenario: str, seed: int = 7) -> tuple[dict[str, Any], Any]:
    return copy.deepcopy(_drawn(scenario, seed, h.now))


ENVELOPE: dict[str, Callable[[dict[str, Any], str], None]] = {
    "request_id": lambda r, v: r.__setitem__("request_id", v),
    "hmac_key_id": lambda r, v: r.__setitem__("hmac_key_id", v),
    "nonce": lambda r, v: r.__setitem__("nonce", v),
    "requester_inst.city": lambda r, v: r["requester_inst"].__setitem__("city", v),
    "attester_inst.city": lambda r, v: r["attester_inst"].__setitem__("city", v),
    "consent.consent_id": lambda r, v: r["consent"].__setitem__("consent_id", v),
    "consent.subject_ref_hmac": lambda r, v: r["consent"].__setitem__("subject_ref_hmac", v),
    "consent.recipient_inst.city": lambda r, v: r["consent"]["recipient_inst"].__setitem__("city", v),
    "consent.purpose_codes[]": lambda r, v: r["consent"]["purpose_codes"].append(v),
    "consent.pi_categories[]": lambda r, v: r["consent"]["pi_categories"].append(v),
}


def _crossed(h: Harness, probe: str) -> list[Published]:
    """What reached the other side (HK -> SZ here: the SZ topics) with the probe in it."""
    return [p for p in h.published if p.topic.startswith("sz.") and probe.encode() in p.value]


@pytest.mark.parametrize("probe", list(PROBES.values()), ids=list(PROBES))
@pytest.mark.parametrize("field", list(ENVELOPE))
def test_personal_data_in_an_envelope_string_crosses_in_nothing(h: Harness, field: str, probe: str) -> None:
    request, _ = _case(h, SB)
    ENVELOPE[field](request, probe)
    outs = h.send_request(request)
    assert len(outs) == 1  # one outcome
    assert _crossed(h, probe) == []
    [out] = outs
    if out.topic == h.topics.deadletter("hk"):
        assert out.record["reason"] == "bad_form"
        assert field in out.record["detail"]
        assert probe not in out.record["detail"]
    else:  # a code form admits it in a field that never crosses: the rules decide, on this side
        assert field in {"consent.purpose_codes[]", "consent.pi_categories[]"}
        assert out.topic in {h.topics.verdicts("hk"), h.topics.attestation_requests("sz")}


def test_the_envelope_strings_that_cross_refuse_every_probe(h: Harness) -> None:
    crossing = [f for f in ENVELOPE if not f.endswith("[]")]
    for field in crossing:
        for probe in PROBES.values():
            request, _ = _case(h, SB)
            ENVELOPE[field](request, probe)
            [out] = h.send_request(request)
            assert out.record.get("reason") == "bad_form", (field, probe)


def test_an_attestation_envelope_string_breaking_its_form_is_refused(h: Harness) -> None:
    request, attestation = _case(h, SB)
    [ask] = h.send_request(request)
    assert ask.topic == h.topics.attestation_requests("sz")
    attestation["attester_inst"]["city"] = PROBES["email"]
    [out] = h.send_attestation(attestation)
    assert out.topic == h.topics.deadletter("sz")
    assert out.record["reason"] == "bad_form"
    assert "attester_inst.city" in out.record["detail"]
    assert PROBES["email"] not in out.record["detail"]


def test_a_band_outside_its_range_does_not_go_back(h: Harness) -> None:
    request, attestation = _case(h, KYC)
    h.send_request(request)
    attestation["payload"]["ubo_count"] = 91234567  # an HK mobile number as a band
    [out] = h.send_attestation(attestation)
    assert out.topic == h.topics.deadletter("sz")
    assert out.record["reason"] == "payload_out_of_range"
    assert out.record["detail"] == "payload field 'ubo_count' breaks its range [0, 4]"
    [verdict] = h.advance(h.attestation_timeout_s + 1)  # the request is answered at its deadline
    assert verdict.record["attested"] == {}
    assert all(b"91234567" not in p.value for p in h.published if p.topic.startswith("hk.verdicts"))


def test_a_band_in_its_range_goes_back(h: Harness) -> None:
    request, attestation = _case(h, KYC)
    h.send_request(request)
    attestation["payload"]["ubo_count"] = 3
    [verdict] = h.send_attestation(attestation)
    assert verdict.record["attested"]["ubo_count"] == "3"


@pytest.mark.parametrize(
    "text", ["Chan Tai Man", "chan@example.com", "+852 9123 4567", "陳大文", "ehcv-gba-07"]
)
def test_free_text_in_a_class_c_code_field_is_refused(h: Harness, text: str) -> None:
    request, _ = _case(h, EHCV)
    request["payload"]["service_point_id"] = text
    [out] = h.send_request(request)
    assert out.topic == h.topics.deadletter("sz")
    assert out.record["reason"] == "payload_bad_form"
    assert out.record["detail"] == "payload field 'service_point_id' breaks its form 'code'"


def test_a_wrong_but_well_formed_code_still_reaches_its_rule(h: Harness) -> None:
    request, _ = _case(h, EHCV)
    request["payload"]["service_point_id"] = "EHCV-GBA-99"
    [out] = h.send_request(request)
    assert out.topic == h.topics.verdicts("sz")
    assert out.record["outcome"] == "REJECT"
    request, _ = _case(h, WMC_NB, seed=8)
    request["payload"]["product_type"] = "LOAN"  # "a string, not an enum": the rule's finding
    [out] = h.send_request(request)
    assert out.topic == h.topics.verdicts("sz")
    assert out.record["outcome"] == "REJECT"
    request, _ = _case(h, "offshore_rmb_sustainable_bond_allocation", seed=9)
    request["payload"]["isin"] = "HK000087301X"  # the wrong shape, in the code form: ORSB-06's finding
    [out] = h.send_request(request)
    assert "ISIN_FORMAT" in [f["code"] for f in out.record["findings"]]


def _blocked(h: Harness, record: str, reason: str) -> float:
    labels = {"record": record, "reason": reason}
    return h.registry.get_sample_value("crossbound_outgoing_blocked_total", labels) or 0.0


def test_the_guard_stops_an_attestation_request_the_input_checks_let_through(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requests_module, "refuse_input", lambda *a, **k: None)  # a gap in the input checks
    monkeypatch.setattr(requests_module, "evaluate", lambda *a, **k: [])  # and in the rules (C4 off)
    request, _ = _case(h, WMC_NB)
    request["payload"]["product_code"] = PROBES["name_zh"]  # free text
    [out] = h.send_request(request)
    assert out.topic == h.topics.deadletter("sz")  # not the attestation request for HK
    assert out.record["reason"] == "outgoing_blocked"
    assert out.record["detail"] == (
        "attestation request not sent: field 'payload.product_code' fails the outgoing check (form)"
    )
    assert _crossed_to(h, "hk.", PROBES["name_zh"]) == []
    assert _blocked(h, "attestation_request", "form") == 1
    assert h.pending == {}  # nothing parked: the dead letter is its one outcome


def _crossed_to(h: Harness, prefix: str, probe: str) -> list[Published]:
    return [p for p in h.published if p.topic.startswith(prefix) and probe.encode() in p.value]


def test_the_guard_stops_personal_data_in_a_code_form(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # an upper-case code form admits a bare HKID; C4 would refuse it, the guard is the last line
    monkeypatch.setattr(requests_module, "refuse_input", lambda *a, **k: None)
    monkeypatch.setattr(requests_module, "evaluate", lambda *a, **k: [])  # no request rules (C4 off)
    request, _ = _case(h, WMC_NB)
    request["payload"]["product_code"] = PROBES["hkid_bare"]
    [out] = h.send_request(request)
    assert out.record["reason"] == "outgoing_blocked"
    assert _blocked(h, "attestation_request", "pi") == 1


def test_the_guard_stops_a_verdict_releasing_a_phone_number(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attestations_module, "_text", lambda value: "+852 9123 4567")  # a broken builder
    request, attestation = _case(h, KYC)
    request["consent"]["legal_basis"] = "CONTRACT_NECESSITY"  # no C10 hops: the attestation's verdict
    h.send_request(request)
    [out] = h.send_attestation(attestation)
    assert out.topic == h.topics.deadletter("sz")
    assert out.record["reason"] == "outgoing_blocked"
    assert "9123" not in out.record["detail"]
    assert _blocked(h, "verdict", "range") == 1
    assert _crossed_to(h, "hk.", "9123 4567") == []
    [verdict] = h.advance(h.attestation_timeout_s + 1)  # still one verdict for the request, in time
    assert verdict.record["attested"] == {}


def test_the_guard_stops_a_verdict_releasing_a_field_that_is_not_class_b(h: Harness) -> None:
    h.pipeline.attestations.b_fields[KYC] += ("kyc_report_digest",)  # a digest is not a band
    request, attestation = _case(h, KYC)
    h.send_request(request)
    [out] = h.send_attestation(attestation)
    assert out.record["reason"] == "outgoing_blocked"
    assert out.record["detail"] == "verdict not sent: field 'attested' fails the outgoing check (class)"
    assert _blocked(h, "verdict", "class") == 1
