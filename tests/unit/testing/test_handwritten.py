"""Unit tests of crossbound.testing.handwritten: the three hand-written scenarios follow their rule sets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossbound.testing.handwritten import HANDWRITTEN, ruleset
from crossbound.testing.traffic import Traffic

NOW = 1_795_000_000.0


def _param(scenario_id: str, rule_id: str, name: str) -> Decimal:
    [rule] = [r for r in ruleset(scenario_id).rules if r.id == rule_id]
    return Decimal(str(rule.params[name]))


@pytest.mark.parametrize("scenario", HANDWRITTEN)
def test_envelope_sides_and_version_are_the_rule_sets(scenario: str) -> None:
    rs = ruleset(scenario)
    traffic = Traffic(seed=3, now=NOW)
    for variant in ("valid", "review", "mismatch"):
        case = traffic.case(scenario, variant)
        assert case.request is not None
        assert case.attestation is not None
        assert case.request["scenario_version"] == rs.version
        assert (case.request["requester_side"], case.request["attester_side"]) == (
            rs.requester_side,
            rs.attester_side,
        )
        assert (case.requester_side, case.attester_side) == (rs.requester_side, rs.attester_side)
        assert case.attestation["attester_side"] == rs.attester_side


def test_payments_for_one_payer_stop_at_the_rule_sets_day_limit() -> None:
    day = _param("payment_connect_northbound", "PCN-03", "limit")
    assert _param("payment_connect_northbound", "PCN-04", "limit") > day
    quarter = day / 4
    cases = Traffic(seed=5, now=NOW).payments_for_one_payer(6, quarter)
    assert [c.expected for c in cases] == ["ACCEPT"] * 4 + ["REJECT"] * 2
    assert cases[-1].expected_codes == ("LIMIT_EXCEEDED",)


def test_review_limits_are_above_the_rule_sets_maximum() -> None:
    ceiling = _param("nb_hk_resident_consumer_credit", "NBCC-06", "max")
    traffic = Traffic(seed=9, now=NOW)
    above = []
    for _ in range(60):
        case = traffic.case("nb_hk_resident_consumer_credit", "review")
        assert case.request is not None
        limit = Decimal(case.request["payload"]["requested_limit_cny"])
        if case.expected_codes == ("ABOVE_MAX",):
            above.append(limit)
        else:
            assert limit <= ceiling
    assert above
    assert min(above) > ceiling
