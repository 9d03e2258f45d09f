"""Cases drawn from the domain review (issue 11, items 1 and 2), each with the verdict its source gives.

The cases live with the fixtures, so that ``crossbound check`` runs them: ``examples/<scenario>/cases.toml``
lists each case (its source and, per request, the outcome and finding codes expected), and
``examples/<scenario>/cases/<name>.requests.jsonl`` (with ``.attestations.jsonl`` when the data holder
answers) holds its requests, sent in order so the limits see them together. A case decided at another
moment than the fixtures' (a change of limit, on each side of its date) gives it as ``now``. Each case
is the scenario's accept fixture with a few fields changed. The sources are cited in the cases and in
the rules' descriptions; the review with its quoted sources is ``docs/domain-review.md`` (there is no
web access here: the cases follow the source text as the review and scenarios.md quote it).
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from typing import Any

import pytest

from crossbound.cli import main
from crossbound.codec import SchemaRegistry
from crossbound.identifiers import check
from crossbound.rules import Catalogue
from crossbound.rules.engine import applies
from crossbound.rules.model import Context
from helpers import EXAMPLES

NOW_DT = datetime.fromisoformat("2026-11-24T09:00:00+00:00")  # `crossbound check --now`
NOW = NOW_DT.timestamp()


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in sorted(EXAMPLES.glob("*/cases.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8"))["case"]:
            out.append((path.parent.name, case["name"], case))
    return out


CASES = _cases()


def test_the_cases_cover_the_review_s_findings() -> None:
    names = {name for _, name, _ in CASES}
    assert len(names) == len(CASES)
    for prefix in (
        "pcn-",
        "wmcnb-",
        "wmcq-",
        "ehcv-",
        "t2acc-",
        "insm-",
        "kyc-",
        "sbpcr-",
        "pipl-c3-",
        "pipl-",
        "fp-",
    ):
        assert any(n.startswith(prefix) for n in names), prefix


def _check(
    capsys: pytest.CaptureFixture[str], scenario: str, name: str, now: str = "2026-11-24T09:00:00Z"
) -> list[dict[str, Any]]:
    folder = EXAMPLES / scenario / "cases"
    requests, attestations = folder / f"{name}.requests.jsonl", folder / f"{name}.attestations.jsonl"
    fingerprints = folder / f"{name}.fingerprints.jsonl"
    extra = ["--attestation", str(attestations)] if attestations.exists() else []
    extra += ["--fingerprints", str(fingerprints)] if fingerprints.exists() else []
    argv = ["check", "--scenario", scenario, str(requests), *extra, "--now", now, "--json"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(("scenario", "name", "case"), CASES, ids=[name for _, name, _ in CASES])
def test_crossbound_check_gives_the_verdict_the_source_says(
    capsys: pytest.CaptureFixture[str], scenario: str, name: str, case: dict[str, Any]
) -> None:
    results = _check(capsys, scenario, name, case.get("now", "2026-11-24T09:00:00Z"))
    assert len(results) == len(case["step"])
    for i, (result, step) in enumerate(zip(results, case["step"], strict=True)):
        outcome = result.get("outcome") or result["outcome_so_far"]
        codes = {f["code"] for f in result["findings"]}
        got = (outcome, set(step.get("codes", [])) <= codes, codes & set(step.get("absent", [])))
        assert got == (step["outcome"], True, set()), f"{name} step {i}: {outcome} {sorted(codes)}"


def test_volume_thresholds_count_under_every_basis_the_provisions_do_not_exempt(catalogue: Catalogue) -> None:
    """C10 counts subjects under CONSENT and SCC_FILED, not under the contract-necessity exemption or the
    GBA standard contract (no volume cap), and at the exporter: the mainland side of the scenario."""
    for sid, rule_id, key in (
        ("payment_connect_northbound", "C10-SENSITIVE-ATT", "request.attester_inst"),
        ("nb_hk_resident_consumer_credit", "C10-SENSITIVE", "request.requester_inst"),
    ):
        rs = catalogue.scenarios[sid]
        [rule] = [r for r in rs.rules if r.id == rule_id]
        assert rule.params["key"] == (key,)
        counted = {
            basis
            for basis in ("CONSENT", "SCC_FILED", "CONTRACT_NECESSITY", "GBA_SC")
            if applies(rule, Context(request={"consent": {"legal_basis": basis}}, payload={}, now=NOW_DT))
        }
        assert counted == {"CONSENT", "SCC_FILED"}, sid


def test_health_scenarios_send_no_dates_in_clear(registry: SchemaRegistry) -> None:
    """A visit's or a stay's date with the person's ID HMAC is health data (PIPL Art 28)."""
    for sid in ("ehcv_gba_claim", "insurance_claim_gba_medical"):
        for kind in ("request", "attestation"):
            fields = registry.current(f"scenarios/{sid}/{kind}").raw["fields"]
            dates = [
                f["name"]
                for f in fields
                if isinstance(f["type"], dict) and f["type"].get("logicalType") == "date"
            ]
            assert dates == [], (sid, kind)


def test_permit_formats_of_non_chinese_permanent_residents_are_documented(registry: SchemaRegistry) -> None:
    """The attester's permit_valid follows the home_return_permit check, which accepts HA/MA + 7 digits."""
    assert check("home_return_permit", "HA1234567").valid
    fields = registry.current("scenarios/nb_hk_resident_mainland_type2_account/attestation").raw["fields"]
    [doc] = [f["doc"] for f in fields if f["name"] == "permit_valid"]
    assert "HA or MA and 7 digits" in doc
