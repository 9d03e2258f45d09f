"""Realistic records of every shipped subject, shared by the codec's test modules.

Not a test module: ``tests/unit`` is on ``sys.path`` (pytest's prepend import mode), so the codec
tests import it by name.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from crossbound.codec import Codec

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = REPO / "schemas"

EXPECTED_SUBJECTS = [
    "core/attestation",
    "core/attestation_request",
    "core/deadletter",
    "core/fingerprint",
    "core/request",
    "core/verdict",
    "internal/answered_request",
    "internal/pending_request",
    "internal/quota_check",
    "internal/quota_usage",
    "scenarios/nb_hk_resident_consumer_credit/attestation",
    "scenarios/nb_hk_resident_consumer_credit/request",
    "scenarios/payment_connect_northbound/attestation",
    "scenarios/payment_connect_northbound/request",
    "scenarios/sb_corporate_credit_report/attestation",
    "scenarios/sb_corporate_credit_report/request",
]

SECRET = "SECRET-VALUE-123"

T0 = datetime(2025, 6, 1, 3, 4, 5, 123000, tzinfo=UTC)
HEX_A = "3f" * 32
HEX_B = "0c" * 32
HEX_C = "a1" * 32
LEI = {"scheme": "LEI", "id": "5493001KJTIIGC8Y1R12", "city": None}
USCC_INST = {"scheme": "USCC", "id": "91440300123456788M", "city": "440300"}
BIC_INST = {"scheme": "BIC", "id": "BKCHHKHHXXX", "city": "HK"}


def payload_samples() -> dict[str, dict[str, Any]]:
    return {
        "scenarios/sb_corporate_credit_report/request": {
            "subject_uscc": "91350100M000100Y43",
            "report_type": "FULL",
            "report_issued_on": date(2025, 5, 20),
            "purpose": "CREDIT_APPLICATION",
            "facility_ccy": "HKD",
            "facility_amount": Decimal("1234567.89"),
            "report_digest": HEX_A,
            "legal_rep_id_hmac": HEX_B,
        },
        "scenarios/sb_corporate_credit_report/attestation": {
            "report_digest": HEX_A,
            "legal_rep_id_hmac": HEX_B,
            "entity_status": "ABNORMAL_OPERATION_LIST",
        },
        "scenarios/nb_hk_resident_consumer_credit/request": {
            "requested_limit_cny": Decimal("250000.00"),
            "works_in_gba": True,
            "purpose": "CROSS_BORDER_CREDIT_APPLICATION",
            "hkid_hmac": HEX_A,
            "residence_permit_hmac": None,
            "credit_report_digest": HEX_C,
        },
        "scenarios/nb_hk_resident_consumer_credit/attestation": {
            "hkid_hmac": HEX_A,
            "credit_report_digest": HEX_C,
            "hkid_valid": True,
            "residence_permit_valid": None,
            "no_bankruptcy_flag": True,
            "delinquency_band": "D30",
        },
        "scenarios/payment_connect_northbound/request": {
            "amount_hkd": Decimal("9999.99"),
            "purpose": "EDUCATION",
            "same_name": False,
            "payer_hkid_holder": True,
            "payer_hkid_hmac": HEX_A,
            "payee_acct_hmac": HEX_B,
            "payee_name_hmac": HEX_C,
            "ledger_key_id": "ledger-2026",
            "ledger_key_next_id": None,
            "payer_ledger_ref": HEX_C,
            "payer_ledger_ref_next": None,
        },
        "scenarios/payment_connect_northbound/attestation": {
            "payee_acct_hmac": HEX_B,
            "payee_name_match": "PARTIAL",
        },
    }


def core_samples(codec: Codec) -> dict[str, dict[str, Any]]:
    payloads = payload_samples()
    inner = codec.encode(
        "scenarios/sb_corporate_credit_report/request",
        payloads["scenarios/sb_corporate_credit_report/request"],
    )
    inner_att = codec.encode(
        "scenarios/sb_corporate_credit_report/attestation",
        payloads["scenarios/sb_corporate_credit_report/attestation"],
    )
    return {
        "core/request": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "scenario_version": "1.0.0",
            "requester_side": "HK",
            "attester_side": "SZ",
            "requester_inst": BIC_INST,
            "attester_inst": USCC_INST,
            "created_at": T0,
            "expires_at": T0 + timedelta(hours=1),
            "digest_alg": "SM3",
            "hmac_key_id": "pair-hk-sz-2025-06",
            "nonce": "9f86d081884c7d659a2feaa0c55ad015",
            "consent": {
                "consent_id": "c-2025-000123",
                "subject_ref_hmac": HEX_C,
                "purpose_codes": ["CREDIT_APPLICATION", "POST_LOAN"],
                "recipient_inst": BIC_INST,
                "pi_categories": ["CREDIT_REPORT", "LEGAL_REP_ID"],
                "separate_xb_consent": True,
                "granted_at": T0 - timedelta(days=3),
                "expires_at": T0 + timedelta(days=362),
                "withdrawn": False,
                "legal_basis": "CONSENT",
            },
            "payload": inner,
        },
        "core/attestation": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "attester_side": "SZ",
            "attester_inst": USCC_INST,
            "attested_at": T0 + timedelta(seconds=2, milliseconds=250),
            "status": "FOUND",
            "payload": inner_att,
        },
        "core/attestation_request": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "ruleset_version": "1.0.0",
            "requester_side": "HK",
            "attester_side": "SZ",
            "requester_inst": BIC_INST,
            "attester_inst": USCC_INST,
            "request_created_at": T0,
            "deadline": T0 + timedelta(seconds=30),
            "digest_alg": "SHA256",
            "hmac_key_id": "pair-hk-sz-2025-06",
            "nonce": "9f86d081884c7d659a2feaa0c55ad015",
            "consent_id": "c-2025-000123",
            "payload": inner,
        },
        "core/verdict": {
            "request_id": "0f5c2a4e-7f43-4d3b-9a43-2b8f5d0c9e11",
            "scenario_id": "sb_corporate_credit_report",
            "ruleset_version": "1.0.0",
            "requester_side": "HK",
            "attester_side": "SZ",
            "outcome": "REVIEW",
            "findings": [
                {
                    "rule_id": "SBCCR-07",
                    "severity": "REVIEW",
                    "field": "attestation.entity_status",
                    "code": "ENTITY_STATUS",
                },
                {
                    "rule_id": "SBCCR-09",
                    "severity": "WARN",
                    "field": "payload.facility_ccy",
                    "code": "CNH_NORMALISED",
                },
            ],
            "attested": {"entity_status": "ABNORMAL_OPERATION_LIST"},
            "request_created_at": T0,
            "decided_at": T0 + timedelta(seconds=3),
            "crossbound_version": "0.1.0",
        },
        "core/deadletter": {
            "reason": "undecodable",
            "detail": "body does not decode as core/request v1",
            "source_topic": "hk.requests",
            "source_partition": 3,
            "source_offset": 123456789012,
            "source_timestamp": T0,
            "key": b"0f5c2a4e",
            "value": b"\xc3\x01\x00garbage",
            "value_size": 11,
            "request_id": None,
            "scenario_id": None,
            "failed_at": T0 + timedelta(milliseconds=1),
            "crossbound_version": "0.1.0",
        },
        "core/fingerprint": {
            "digest": HEX_A,
            "digest_alg": "SM3",
            "document_type": "PBOC_PERSONAL_CREDIT_REPORT",
            "issuer_side": "SZ",
            "issuer": {"scheme": "BIC", "id": "ICBKCNBJSZN", "city": "440300"},
            "subject_ref_hmac": HEX_B,
            "hmac_key_id": "demo-2026",
            "issued_at": T0,
            "valid_from": T0,
            "valid_until": T0 + timedelta(days=90),
            "revoked": True,
            "revoked_at": T0 + timedelta(days=1),
            "revocation_reason": "ISSUED_IN_ERROR",
            "sequence": 2,
        },
    }


def small_record(request_id: str) -> dict[str, Any]:
    """A small core/attestation record (status NOT_FOUND, no payload)."""
    return {
        "request_id": request_id,
        "scenario_id": "sb_corporate_credit_report",
        "attester_side": "SZ",
        "attester_inst": {"scheme": "USCC", "id": "91440300123456788M", "city": "440300"},
        "attested_at": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        "status": "NOT_FOUND",
        "payload": None,
    }


def internal_samples(codec: Codec) -> dict[str, dict[str, Any]]:
    request_value = codec.encode("core/request", core_samples(codec)["core/request"])
    stored = [
        {"rule_id": "SBCCR-09", "severity": "WARN", "field": "payload.facility_ccy", "code": "CNH_NORMALISED"}
    ]
    return {
        "internal/pending_request": {
            "request": request_value,
            "body_sha256": bytes(range(32)),
            "source_topic": "hk.requests",
            "source_partition": 2,
            "source_offset": 77,
            "received_at": 1_790_000_000_000,
            "deadline": 1_790_000_030_000,
            "scenario_id": "sb_corporate_credit_report",
            "findings": stored,
        },
        "internal/quota_check": {
            "request_id": "r-1",
            "quota_key": HEX_A,
            "steps": [{"index": 0, "key": HEX_A}, {"index": 2, "key": "pipl|LEI:X"}],
            "new_members": ["pipl"],
            "request": request_value,
            "findings": stored,
            "attested": {"payee_name_match": "FULL"},
            "source_topic": "sz.attestations",
            "source_partition": 5,
        },
        "internal/quota_usage": {
            "windows": {
                "PCN-03": {"period": 20240, "total": "9999.99"},
                "PCN-04": {"period": 2025, "total": "15000"},
            },
            "members": {"ECNY-07": [HEX_A, HEX_B]},
            "replies": b"\x00" * 16 + b"\x00\x00\x00\x05reply",
            "counted": bytes(range(16)),
            "touched_at": 1_790_000_000_000,
        },
        "internal/answered_request": {
            "body_sha256": bytes(range(32)),
            "source_topic": "hk.requests",
            "source_partition": 2,
            "source_offset": 41,
            "attestation_partition": -1,
            "attestation_offset": -1,
            "output_topic": "hk.verdicts",
            "output_partition": 2,
            "output_key": b"r-1",
            "output_value": b"\xc3\x01verdict",
        },
    }


def all_samples(codec: Codec) -> dict[str, dict[str, Any]]:
    return {**payload_samples(), **core_samples(codec), **internal_samples(codec)}
