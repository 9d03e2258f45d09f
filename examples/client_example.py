"""An institution and a data holder on crossbound, through ``crossbound.client``.

A Hong Kong bank asks whether the KYC report and beneficial owners it holds for a Shenzhen company
match what the company's Shenzhen bank holds (scenario ``corporate_kyc_report``). Only a digest of
the report and HMACs of the owners' identifiers cross; the Shenzhen bank answers with its own digests
and yes/no values, and the bank in Hong Kong gets the verdict::

    python examples/client_example.py --bootstrap localhost:9092                        # unsigned
    python examples/client_example.py --bootstrap localhost:9092 --registry reg/registry.toml \\
        --requester beashkhh --attester icbkcnbjszn --layout per_institution             # signed

With ``--registry`` both sign with their keys (``<registry dir>/keys/<key_id>.private.pem``, as
``crossbound registry generate`` writes them) and check the platform's signatures; TLS and SASL
come from the same ``CROSSBOUND_KAFKA__SECURITY__*`` settings as every crossbound command. It prints
the verdict as JSON and exits 0 on ACCEPT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker.security import ClientSecurity
from crossbound.client import Attester, Identity, Institution, Trust, document_digest, hmac_identifier
from crossbound.codec import Codec, SchemaRegistry
from crossbound.codec.jsonform import to_json
from crossbound.codec.records import Verdict
from crossbound.domain import Side
from crossbound.participants import Registry, load_registry
from crossbound.rules import load_catalogue
from crossbound.runtime.worker import scenario_sides
from crossbound.settings import Settings
from crossbound.topics import Topics

PAIR_KEY = b"demo-pair-key-2026"  # the HMAC key both sides hold for the scenario (key id demo-2026)
KYC_REPORT = "KYC report of 91440300MA5F2K7Q1K, issued by the registry, revision 4"  # both hold it
OWNERS = ("A123456(3)", "110105194912310021")  # the beneficial owners' identifiers, never sent
DEFAULT_REQUESTER = Identity("beashkhh", "BIC", "BEASHKHH", Side.HK, "HK")
DEFAULT_ATTESTER = Identity("icbkcnbjszn", "BIC", "ICBKCNBJSZN", Side.SZ, "440300")


def kyc_request(attester: Identity, now: datetime) -> dict[str, Any]:
    """The bank's request in JSON form; the client fills in request id, requester and side."""
    day = timedelta(days=1)
    return {
        "scenario_id": "corporate_kyc_report",
        "scenario_version": "1.0.0",
        "attester_side": attester.side.value,
        "attester_inst": attester.institution,
        "created_at": now.isoformat(),
        "expires_at": (now + timedelta(hours=1)).isoformat(),
        "digest_alg": "SHA256",
        "hmac_key_id": "demo-2026",
        "nonce": secrets.token_hex(16),
        "consent": {
            "consent_id": "CNS-" + secrets.token_hex(6).upper(),
            "subject_ref_hmac": hmac_identifier(PAIR_KEY, "91440300MA5F2K7Q1K"),
            "purpose_codes": ["CORPORATE_KYC"],
            "recipient_inst": None,  # set by main(): the requester itself
            "pi_categories": ["ID_NUMBER", "BENEFICIAL_OWNERSHIP"],
            "separate_xb_consent": True,
            "granted_at": (now - 30 * day).isoformat(),
            "expires_at": (now + 365 * day).isoformat(),
            "withdrawn": False,
            "legal_basis": "SCC_FILED",
        },
        "payload": {
            "subject_uscc": "91440300MA5F2K7Q1K",
            "subject_hk_brn": None,
            "kyc_report_issued_on": (now.date() - 20 * day).isoformat(),
            "registered_capital_ccy": "CNY",
            "kyc_report_digest": document_digest(KYC_REPORT),
            "ubo_id_hmacs": [hmac_identifier(PAIR_KEY, i) for i in OWNERS],
        },
    }


async def answer(asked: dict[str, Any]) -> dict[str, Any]:
    """The Shenzhen bank's answer: its own digest and HMACs of what it holds, and yes/no values."""
    return {
        "status": "FOUND",
        "payload": {
            "kyc_report_digest": document_digest(KYC_REPORT),
            "ubo_id_hmacs": [hmac_identifier(PAIR_KEY, i) for i in OWNERS],
            "sanctions_screen": "CLEAR",
            "ubo_count": len(OWNERS),
            "status_active": True,
            "bo_filing": "FILED",
        },
    }


async def run(
    bootstrap: str,
    requester: Identity,
    attester: Identity,
    topics: Topics,
    security: ClientSecurity,
    trusts: tuple[Trust | None, Trust | None] = (None, None),
    timeout_s: float = 60.0,
) -> Verdict:
    """The data holder serves while the bank requests and waits for its verdict."""
    schemas = SchemaRegistry.load(default_schemas_dir())
    codec, catalogue = Codec(schemas), load_catalogue(default_rulesets_dir(), schemas)
    request = kyc_request(attester, datetime.now(UTC))
    request["consent"]["recipient_inst"] = requester.institution
    holder = Attester(
        bootstrap, attester, topics, codec, catalogue, answer, security=security, trust=trusts[1]
    )
    bank = Institution(bootstrap, requester, topics, codec, catalogue, security=security, trust=trusts[0])
    async with holder, bank:
        return await bank.request_and_wait(request, timeout_s)


def trust(registry: Registry, who: Identity) -> Trust:
    """The institution's signer (its first registry key, whose private half ``crossbound registry
    generate`` wrote beside the registry) and a verifier of the platform's signatures."""
    participant = registry.find(who.scheme, who.id)
    assert participant is not None  # Identity.from_registry found it
    key_file = Path(registry.path).parent / "keys" / f"{participant.keys[0].key_id}.private.pem"
    return Trust.load(registry, who, key_file)


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run, print the verdict; 0 on ACCEPT."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--registry", type=Path, help="participant registry: sign and verify")
    p.add_argument("--requester", help="participant key of the bank (with --registry)")
    p.add_argument("--attester", help="participant key of the data holder (with --registry)")
    p.add_argument("--topic-prefix", default="")
    p.add_argument("--layout", choices=["shared", "per_institution"], default="shared")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args(argv)
    requester, attester = DEFAULT_REQUESTER, DEFAULT_ATTESTER
    trusts: tuple[Trust | None, Trust | None] = (None, None)
    if args.registry is not None:
        schemas = SchemaRegistry.load(default_schemas_dir())
        registry = load_registry(
            args.registry, scenario_sides(load_catalogue(default_rulesets_dir(), schemas))
        )
        requester = Identity.from_registry(registry, args.requester or DEFAULT_REQUESTER.key)
        attester = Identity.from_registry(registry, args.attester or DEFAULT_ATTESTER.key)
        trusts = (trust(registry, requester), trust(registry, attester))
    topics = Topics(prefix=args.topic_prefix, layout=args.layout)
    security = ClientSecurity.from_settings(Settings().kafka.security)
    started = time.monotonic()
    verdict = asyncio.run(run(args.bootstrap, requester, attester, topics, security, trusts, args.timeout))
    print(json.dumps(to_json(verdict) | {"waited_s": round(time.monotonic() - started, 2)}, sort_keys=True))
    return 0 if verdict["outcome"] == "ACCEPT" else 1


if __name__ == "__main__":
    sys.exit(main())
