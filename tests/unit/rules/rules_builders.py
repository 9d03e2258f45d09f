"""Builders shared by the rules tests: hand-built records shaped like decoded ones, contexts, checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crossbound.codec import SchemaRegistry
from crossbound.errors import ConfigError, RuleSetError
from crossbound.rules import Context, Rule, Severity, load_catalogue
from crossbound.rules.checks import CHECKS, CheckEnv
from crossbound.rules.model import CheckFn
from crossbound.rules.stateful import STATEFUL

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = REPO / "schemas"
RULESETS = REPO / "rulesets"

SB = "sb_corporate_credit_report"
NB = "nb_hk_resident_consumer_credit"
PCN = "payment_connect_northbound"

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # 20:00 in Hong Kong / Shenzhen
# HK and Shenzhen are UTC+8: 2025-06-01T17:00Z is 01:00 on 2 June there.
LOCAL_AFTER_MIDNIGHT = datetime(2025, 6, 1, 17, 0, tzinfo=UTC)
HEX_A = "3f" * 32
HEX_B = "0c" * 32
HEX_C = "a1" * 32

BIC_INST = {"scheme": "BIC", "id": "BKCHHKHHXXX", "city": "HK"}
USCC_INST = {"scheme": "USCC", "id": "91440300123456788M", "city": "440300"}


def make_consent(**over: Any) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "consent_id": "c-2025-000123",
        "subject_ref_hmac": HEX_C,
        "purpose_codes": ["CREDIT_APPLICATION", "CROSS_BORDER_PAYMENT"],
        "recipient_inst": dict(BIC_INST),
        "pi_categories": ["CREDIT_REPORT"],
        "separate_xb_consent": True,
        "granted_at": NOW - timedelta(days=10),
        "expires_at": NOW + timedelta(days=300),
        "withdrawn": False,
        "legal_basis": "SCC_FILED",
    }
    consent.update(over)
    return consent


def make_request(**over: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
        "scenario_id": SB,
        "scenario_version": "1.0.0",
        "requester_side": "HK",
        "attester_side": "SZ",
        "requester_inst": dict(BIC_INST),
        "attester_inst": dict(USCC_INST),
        "created_at": NOW - timedelta(minutes=1),
        "expires_at": NOW + timedelta(hours=1),
        "digest_alg": "SHA256",
        "hmac_key_id": "pair-hk-sz-2025-06",
        "nonce": "9f86d081884c7d659a2feaa0c55ad015",
        "consent": make_consent(),
        "payload": b"",
    }
    request.update(over)
    return request


def sb_payload(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "subject_uscc": "91350100M000100Y43",
        "report_type": "FULL",
        "report_issued_on": date(2025, 5, 20),
        "purpose": "CREDIT_APPLICATION",
        "facility_ccy": "HKD",
        "facility_amount": Decimal("1234567.89"),
        "report_digest": HEX_A,
        "legal_rep_id_hmac": HEX_B,
    }
    payload.update(over)
    return payload


def sb_attestation(**over: Any) -> dict[str, Any]:
    att: dict[str, Any] = {"report_digest": HEX_A, "legal_rep_id_hmac": HEX_B, "entity_status": "ACTIVE"}
    att.update(over)
    return att


def pcn_payload(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "amount_hkd": Decimal("5000.00"),
        "purpose": "EDUCATION",
        "same_name": False,
        "payer_hkid_holder": True,
        "payer_hkid_hmac": HEX_A,
        "payee_acct_hmac": HEX_B,
        "payee_name_hmac": HEX_C,
        "ledger_key_id": "ledger-2025",
        "ledger_key_next_id": None,
        "payer_ledger_ref": HEX_C,
        "payer_ledger_ref_next": None,
    }
    payload.update(over)
    return payload


def ctx(
    request: Mapping[str, Any] | None = None,
    payload: Mapping[str, Any] | None = None,
    attestation: Mapping[str, Any] | None = None,
    now: datetime = NOW,
    ruleset_version: str = "1.0.0",
    quota_used: Mapping[str, Any] | None = None,
) -> Context:
    return Context(
        request=make_request() if request is None else request,
        payload={} if payload is None else payload,
        now=now,
        attestation=attestation,
        ruleset_version=ruleset_version,
        quota_used=quota_used,
    )


def check(
    name: str, fields: list[str], params: Mapping[str, Any] | None = None, env: CheckEnv | None = None
) -> CheckFn:
    factory = STATEFUL[name].compile if name in STATEFUL else CHECKS[name]
    return factory(fields, dict(params or {}), env or CheckEnv())


def make_rule(
    rule_id: str,
    fn: CheckFn,
    severity: Severity = Severity.REJECT,
    fields: tuple[str, ...] = ("payload.x",),
    when: Callable[[Context], bool] | None = None,
) -> Rule:
    return Rule(
        id=rule_id,
        stage="request",
        severity=severity,
        check="cel",
        fields=fields,
        description="",
        source="",
        params={},
        fn=fn,
        when=when,
    )


# rule files ----------------------------------------------------------------------------------------


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def load_error(rules_dir: Path, registry: SchemaRegistry) -> RuleSetError:
    with pytest.raises(RuleSetError) as err:
        load_catalogue(rules_dir, registry)
    assert isinstance(err.value, ConfigError)
    assert err.value.retriable is False
    return err.value


def assert_names(err: RuleSetError, file_name: str, rule_id: str | None) -> None:
    assert Path(err.path).name == file_name
    assert err.rule_id == rule_id
    assert file_name in str(err)
    if rule_id is not None:
        assert rule_id in str(err)
