"""A rule set in fingerprint mode (``verification = "fingerprint"``): its header, checked at start-up,
and the rules it gets (crossbound.rules.fingerprint)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rules_builders import assert_names, load_error

from crossbound.codec import SchemaRegistry
from crossbound.rules import Catalogue
from crossbound.rules.loader import read_header
from crossbound.rules.model import FingerprintMode

FP = "sb_personal_credit_report_fingerprint"
LIVE = "sb_personal_credit_report"


def test_the_header_gives_the_lookup(catalogue: Catalogue) -> None:
    rs = catalogue.scenarios[FP]
    assert rs.fingerprint == FingerprintMode(
        "PBOC_PERSONAL_CREDIT_REPORT", "payload.report_digest", "payload.subject_id_hmac"
    )
    assert (rs.request_subject, rs.attestation_subject) == (f"scenarios/{LIVE}/request", "core/fingerprint")
    assert catalogue.scenarios[LIVE].fingerprint is None
    fp_rules = [r for r in rs.stage("attestation") if r.id.startswith("FP-")]
    assert [r.id for r in fp_rules] == [f"FP-{n}" for n in range(1, 8)]
    assert all(r.severity.value == "REJECT" and r.source and r.description for r in fp_rules)
    assert {r.id for r in fp_rules} <= rs.common_rule_ids


@pytest.mark.parametrize(
    ("old", "new", "fault"),
    [
        (
            r"^verification = .*$",
            'verification = "lookup"',
            'verification must be "attestation" or "fingerprint"',
        ),
        (r"^subject_field = .*\n", "", "needs subject_field"),
        (r"^document_type = .*$", 'document_type = "credit report"', "document_type must be a code"),
        (
            r"^digest_field = .*$",
            'digest_field = "payload.nope"',
            "[scenario] digest_field: field 'payload.nope'",
        ),
        (
            r"^subject_field = .*$",
            'subject_field = "attestation.subject_ref_hmac"',
            "[scenario] subject_field",
        ),
        (
            r"^verification = .*$",
            'verification = "fingerprint"\nattestation_schema = "scenarios/x/attestation"',
            "reads core/fingerprint",
        ),
        (r"^verification = .*\n", "", 'need verification = "fingerprint"'),
    ],
    ids=[
        "bad-mode",
        "no-subject",
        "bad-type",
        "bad-digest-path",
        "subject-not-request",
        "other-schema",
        "no-mode",
    ],
)
def test_a_bad_fingerprint_header_fails_start_up_naming_the_file(
    rules_dir: Path, registry: SchemaRegistry, old: str, new: str, fault: str
) -> None:
    path = rules_dir / f"{FP}.toml"
    text = path.read_text(encoding="utf-8")
    changed = re.sub(old, new, text, count=1, flags=re.M)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    err = load_error(rules_dir, registry)
    assert_names(err, f"{FP}.toml", None)
    assert fault in str(err)


def test_read_header_knows_the_mode_without_schemas(rules_dir: Path) -> None:
    assert read_header(rules_dir / f"{FP}.toml").fingerprint is not None
    assert read_header(rules_dir / f"{LIVE}.toml").fingerprint is None
