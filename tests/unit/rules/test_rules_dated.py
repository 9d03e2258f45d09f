"""Time in the rules: a scenario's own attestation timeout, and params with the dates they are in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from rules_builders import PCN, append, assert_names, load_error, make_request, replace

from crossbound.codec import SchemaRegistry
from crossbound.rules import Catalogue, Context, evaluate

WMC = "wmc_remittance_quota"


@pytest.mark.parametrize("value", ["0", "-5", '"10"', "true"])
def test_a_bad_attestation_timeout_names_the_file(
    rules_dir: Path, registry: SchemaRegistry, value: str
) -> None:
    replace(rules_dir / f"{PCN}.toml", "attestation_timeout_s = 10", f"attestation_timeout_s = {value}")
    err = load_error(rules_dir, registry)
    assert_names(err, f"{PCN}.toml", None)
    assert "attestation_timeout_s must be a positive number" in str(err)


def test_a_scenario_s_timeout_is_at_most_the_pipeline_s(catalogue: Catalogue) -> None:
    pcn, sb = catalogue.scenarios[PCN], catalogue.scenarios["sb_corporate_credit_report"]
    assert (pcn.timeout_ms(30_000), pcn.timeout_ms(5_000), sb.timeout_ms(30_000)) == (10_000, 5_000, 30_000)


_DATED = """
[[rules]]
id = "PCN-95"
stage = "quota"
severity = "reject"
check = "quota"
fields = ["payload.amount_hkd"]
params = { key = ["payload.payer_hkid_hmac"], amount = "payload.amount_hkd", window = "day", limit = "100" }
description = "test"
"""


@pytest.mark.parametrize(
    ("entries", "fault"),
    [
        ('[[rules.params_in_force]]\nlimit = "200"', "needs from = a date"),
        ('[[rules.params_in_force]]\nfrom = 2025-01-01T00:00:00Z\nlimit = "200"', "needs from = a date"),
        (
            '[[rules.params_in_force]]\nfrom = 2025-02-01\nlimit = "200"\n'
            '[[rules.params_in_force]]\nfrom = 2025-01-01\nlimit = "300"',
            "params_in_force[1] (from 2025-01-01): dates must increase",
        ),
        ('[[rules.params_in_force]]\nfrom = 2025-01-01\nwindow = "year"', "cannot change with the date"),
        (
            '[[rules.params_in_force]]\nfrom = 2025-01-01\nlimt = "200"',
            "['limt'] are not among the rule's params",
        ),
        ('[[rules.params_in_force]]\nfrom = 2025-01-01\nsource = "x"', "changes no param"),
        ('[[rules.params_in_force]]\nfrom = 2025-01-01\nlimit = "-1"', "must not be negative"),
        ("params_in_force = 3", "must be an array of tables"),
    ],
    ids=[
        "no-date",
        "a-timestamp",
        "out-of-order",
        "structure",
        "unknown-param",
        "nothing",
        "bad-figure",
        "not-array",
    ],
)
def test_a_bad_dated_param_names_the_file_the_rule_and_the_entry(
    rules_dir: Path, registry: SchemaRegistry, entries: str, fault: str
) -> None:
    text = _DATED.replace('description = "test"\n', 'description = "test"\n' + entries + "\n")
    if entries.startswith("params_in_force ="):
        text = _DATED.replace('description = "test"', f'description = "test"\n{entries}')
    append(rules_dir / f"{PCN}.toml", text)
    err = load_error(rules_dir, registry)
    assert_names(err, f"{PCN}.toml", "PCN-95")
    assert fault in str(err)


def _wmc_ctx(created_at: datetime, amount: str, band: int) -> Context:
    request = make_request(scenario_id=WMC, created_at=created_at)
    payload = {"amount_cny": Decimal(amount), "both_channels": False, "channel": "BANK"}
    return Context(
        request, payload, created_at + timedelta(minutes=1), attestation={"net_used_cny_band": band}
    )


def test_a_request_is_judged_by_the_figures_of_its_own_day_in_utc_plus_8(catalogue: Catalogue) -> None:
    """WMC 2.0 raised the individual quota from RMB 1 m to 3 m on 26 Feb 2024 [S29]: a request created
    at 23:59 on the 25th (Hong Kong time) gets RMB 1 m, one created at 00:00 on the 26th RMB 3 m,
    whenever either is decided."""
    [rule] = [r for r in catalogue.scenarios[WMC].stage("attestation") if r.id == "WMCQ-08"]
    eve = datetime(2024, 2, 25, 15, 59, tzinfo=UTC)  # 23:59 in UTC+8
    day = datetime(2024, 2, 25, 16, 0, tzinfo=UTC)  # 00:00 on 26 Feb in UTC+8
    assert [f.code for f in evaluate([rule], _wmc_ctx(eve, "1200000.00", 0))] == ["WMC_INDIVIDUAL_QUOTA"]
    assert evaluate([rule], _wmc_ctx(day, "1200000.00", 0)) == []
    assert evaluate([rule], _wmc_ctx(day, "2900000.00", 1)) == []
    assert [f.code for f in evaluate([rule], _wmc_ctx(day, "2900000.00", 2))] == ["WMC_INDIVIDUAL_QUOTA"]


def test_every_dated_entry_is_compiled_at_load(rules_dir: Path, registry: SchemaRegistry) -> None:
    """A broken expression in WMCQ-08's 2024 figures fails start-up, as one in its own params would."""
    replace(
        rules_dir / f"{WMC}.toml",
        'from = 2024-02-26\nexpr = "double(attestation.net_used_cny_band) * 100000.0',
        'from = 2024-02-26\nexpr = "double(attestation.net_used_cny_band) *** 100000.0',
    )
    assert_names(load_error(rules_dir, registry), f"{WMC}.toml", "WMCQ-08")


def test_without_created_at_the_decision_day_decides(catalogue: Catalogue) -> None:
    [rule] = [r for r in catalogue.scenarios[WMC].stage("attestation") if r.id == "WMCQ-08"]
    ctx = Context(
        {}, {"amount_cny": Decimal("1200000.00"), "both_channels": False}, datetime(2024, 1, 2, tzinfo=UTC)
    )
    ctx.attestation = {"net_used_cny_band": 0}
    assert [f.code for f in evaluate([rule], ctx)] == ["WMC_INDIVIDUAL_QUOTA"]


def test_a_stateful_limit_follows_the_request_s_date(catalogue: Catalogue) -> None:
    [rule] = [r for r in catalogue.scenarios[WMC].stage("quota") if r.id == "WMCQ-10"]
    for created_at, found in (
        (datetime(2024, 2, 25, 15, 59, tzinfo=UTC), 1),
        (datetime(2024, 2, 25, 16, tzinfo=UTC), 0),
    ):
        ctx = _wmc_ctx(created_at, "1200000.00", 0)
        ctx.quota_used = {"WMCQ-10": Decimal("1200000.00")}
        assert len(rule.fn(ctx)) == found, created_at
