"""Per-scenario attestation timeouts: a header may shorten the pipeline's wait, never lengthen it."""

from __future__ import annotations

from crossbound.testing import Harness
from crossbound.testing.traffic import Traffic


def _late(h: Harness, scenario: str, seed: int) -> None:
    case = Traffic(seed=seed, now=h.now).case(scenario, "late")
    assert case.request is not None
    [ask] = h.send_request(case.request)
    assert ask.topic == h.topics.attestation_requests("sz")


def test_a_payment_times_out_at_its_scenario_s_10_s_and_a_credit_report_at_the_pipeline_s_30_s() -> None:
    h = Harness.from_dirs()
    assert h.catalogue.scenarios["payment_connect_northbound"].attestation_timeout_s == 10
    assert h.catalogue.scenarios["sb_corporate_credit_report"].attestation_timeout_s is None
    h.advance(0)
    _late(h, "payment_connect_northbound", seed=21)
    _late(h, "sb_corporate_credit_report", seed=22)
    [payment] = h.advance(11)
    assert payment.record["scenario_id"] == "payment_connect_northbound"
    assert payment.record["findings"][-1]["code"] == "ATTESTATION_TIMEOUT"
    assert h.advance(18) == []  # 29 s: the credit report still waits
    [report] = h.advance(2)
    assert report.record["scenario_id"] == "sb_corporate_credit_report"


def test_the_pipeline_s_timeout_is_the_upper_bound() -> None:
    h = Harness.from_dirs(attestation_timeout_s=5.0)
    h.advance(0)
    _late(h, "payment_connect_northbound", seed=23)  # its rule set asks for 10 s: it gets 5
    [payment] = h.advance(6)
    assert payment.record["findings"][-1]["code"] == "ATTESTATION_TIMEOUT"
