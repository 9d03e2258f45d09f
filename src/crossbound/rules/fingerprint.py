"""The rules every scenario in fingerprint mode gets, built from its header, before its own rules.

On the platform the data source fingerprints a document when it issues it, and the data user later
checks the fingerprint of what the person handed over [S8][S11] (scenarios.md 1.2; domain-review.md 1,
[R9][R12]). In fingerprint mode (``verification = "fingerprint"``) the pipeline finds the registry record
by the request's digest and gives it to the attestation stage as ``attestation`` (``core/fingerprint``);
these rules judge it. A record that is not there at all is the pipeline's own finding,
``FINGERPRINT_NOT_FOUND`` (:mod:`crossbound.pipeline.fingerprints`): there is nothing to judge.

They are code, not a file, because three of them take the scenario's own header values (the document
type, the request field that holds the subject's HMAC); they compile through the same
:class:`~crossbound.rules.compiler.Compiler` as a file's rules, so their paths are checked against the
scenario's request schema at start-up, and they are listed with the common rules. Validity and
revocation are judged at the request's ``created_at`` (its own time, not the moment the worker reads
it), so a replayed day is judged as it was.
"""

from __future__ import annotations

from typing import Any

from crossbound.rules.model import FingerprintMode

__all__ = ["fingerprint_rules"]

_SOURCE = "scenarios.md 1.2 [S8][S11]; domain-review.md 1 [R9][R12]"
_ILL = "crossbound [ill]: the public sources describe the fingerprint check, not its lifecycle"


def _rule(rule_id: str, field: str, expr: str, code: str, description: str, source: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "stage": "attestation",
        "severity": "reject",
        "check": "cel",
        "fields": [field],
        "params": {"expr": expr, "code": code},
        "description": description,
        "source": source,
    }


def fingerprint_rules(mode: FingerprintMode) -> list[dict[str, Any]]:
    """The fingerprint rules of one scenario, as a rule file's ``[[rules]]`` tables."""
    subject = mode.subject_field
    return [
        _rule(
            "FP-1",
            "attestation.document_type",
            f'attestation.document_type == "{mode.document_type}"',
            "FINGERPRINT_DOCUMENT_TYPE",
            f"The fingerprint found is of a {mode.document_type}: a digest registered for another kind "
            "of document does not prove this one.",
            _SOURCE,
        ),
        _rule(
            "FP-2",
            "attestation.issuer",
            "attestation.issuer.scheme == request.attester_inst.scheme"
            " && attestation.issuer.id == request.attester_inst.id",
            "FINGERPRINT_ISSUER",
            "The fingerprint was registered by the data source the request names as its attester.",
            _SOURCE,
        ),
        _rule(
            "FP-3",
            "attestation.revoked",
            "!attestation.revoked",
            "FINGERPRINT_REVOKED",
            "The issuer has not revoked the document (a revocation is a later record of its digest).",
            _ILL,
        ),
        _rule(
            "FP-4",
            "attestation.valid_from",
            "attestation.valid_from <= request.created_at",
            "FINGERPRINT_NOT_YET_VALID",
            "The document was valid at the request's time: not before its valid_from.",
            _ILL,
        ),
        _rule(
            "FP-5",
            "attestation.valid_until",
            "request.created_at < attestation.valid_until",
            "FINGERPRINT_EXPIRED",
            "The document was valid at the request's time: not at or after its valid_until.",
            _ILL,
        ),
        _rule(
            "FP-6",
            subject,
            f"attestation.hmac_key_id == request.hmac_key_id && attestation.subject_ref_hmac == {subject}",
            "FINGERPRINT_WRONG_SUBJECT",
            f"The document is about the subject the request names: {subject} equals the record's "
            "subject reference, an HMAC under the same key (hmac_key_id); an HMAC under another key "
            "cannot be compared and fails too.",
            _SOURCE,
        ),
        _rule(
            "FP-7",
            "attestation.digest_alg",
            "attestation.digest_alg == request.digest_alg",
            "FINGERPRINT_DIGEST_ALG",
            "The record's digest algorithm is the request's (SHA-256 or SM3).",
            _SOURCE,
        ),
    ]
