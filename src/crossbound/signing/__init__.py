"""Signed records: who said it, checked against the participant registry.

Institutions sign their requests and attestations, data sources their fingerprint records; the
worker signs its verdicts and attestation requests, and the audit's checkpoints, with its side's
platform key. A signature covers the exact record value and what the record
is bound to (side, kind, Kafka key) with a signing time (:func:`signed_bytes`, documented byte by byte
there and in the README) and travels in one Kafka header (:data:`HEADER`, see
:mod:`~crossbound.signing.header`). The algorithm is named in every signature and registry key, so
SM2 can be added beside Ed25519 (:mod:`~crossbound.signing.algorithms`).

* :class:`Signer` signs (:meth:`Signer.headers`), :func:`platform_signer` loads the worker's;
* :class:`Verifier` verifies: :class:`Verified` / :class:`PlatformVerified` or :class:`Refused`;
* :func:`authorise_requester`, :func:`authorise_attester`: what the verified signer may do.

Pure: no client, no broker, no settings.
"""

from __future__ import annotations

from crossbound.signing.authorise import Institution, authorise_attester, authorise_requester
from crossbound.signing.header import HEADER, BadHeader, Signature, find_header
from crossbound.signing.message import FORMAT_VERSION, TAG, Binding, RecordKind, signed_bytes
from crossbound.signing.signer import Signer, platform_signer
from crossbound.signing.verifier import (
    MAX_AGE_MS,
    MAX_SKEW_MS,
    PlatformVerified,
    RefusalReason,
    Refused,
    Verified,
    Verifier,
)

__all__ = [
    "FORMAT_VERSION",
    "HEADER",
    "MAX_AGE_MS",
    "MAX_SKEW_MS",
    "TAG",
    "BadHeader",
    "Binding",
    "Institution",
    "PlatformVerified",
    "RecordKind",
    "RefusalReason",
    "Refused",
    "Signature",
    "Signer",
    "Verified",
    "Verifier",
    "authorise_attester",
    "authorise_requester",
    "find_header",
    "platform_signer",
    "signed_bytes",
]
