"""The three hand-written scenarios: SBCCR, NBCC and PCN cases drawn field by field.

Every other scenario's cases are its fixtures made fresh (:mod:`crossbound.testing.traffic`); these three
draw their fields so that a seeded run covers many values, and each variant triggers the finding it is
named for. Limits and sides are read from the scenario's loaded :class:`~crossbound.rules.RuleSet`
(PCN-03/PCN-04, NBCC-06), so a change to ``rulesets/`` is a change here too. The builders draw from the
:class:`~crossbound.testing.traffic.Traffic`'s RNG in a fixed order: the same seed gives the same cases.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, NamedTuple

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.client.identifiers import document_digest, hmac_identifier
from crossbound.codec import SchemaRegistry
from crossbound.rules import RuleSet, load_catalogue
from crossbound.testing.synthetic import (
    CN_BANKS,
    CN_CREDIT_AGENCIES,
    HK_BANKS,
    HK_CRAS,
    LEDGER_KEY_ID,
    bad_uscc,
    ledger_key,
    random_cn_resident_id,
    random_hkid,
    random_name,
    random_unionpay_card,
    random_uscc,
)

__all__ = ["HANDWRITTEN", "Drawn", "Handwritten", "ruleset"]

SBCCR: Final = "sb_corporate_credit_report"
NBCC: Final = "nb_hk_resident_consumer_credit"
PCN: Final = "payment_connect_northbound"
HANDWRITTEN: Final[tuple[str, ...]] = (SBCCR, NBCC, PCN)

_HMAC_KEY_ID: Final = "demo-2026"
_DIGEST_ALG: Final = "SHA256"
_REQUEST_LIFETIME_S: Final = 3600.0
_GBA_CITIES: Final = (
    "440100",
    "440300",
    "440400",
    "440600",
    "440700",
    "441200",
    "441300",
    "441900",
    "442000",
)
_NON_GBA_CITIES: Final = ("310100", "110100", "510100", "330100")
_REQUESTERS: Final[dict[str, tuple[dict[str, str], ...]]] = {
    SBCCR: HK_BANKS,
    NBCC: CN_BANKS,
    PCN: HK_BANKS,
}
_ATTESTERS: Final[dict[str, tuple[dict[str, str], ...]]] = {
    SBCCR: CN_CREDIT_AGENCIES,
    NBCC: HK_CRAS,
    PCN: CN_BANKS,
}
# Sensitive PI leaves the mainland in all three, so consent alone is no basis (C11): credit reports
# go under a filed standard contract, as the first CBCR route did [R15]; a remittance's payee check is
# necessary to perform the payer's transfer (the CAC Provisions' contract-necessity exemption) [S33].
_LEGAL_BASIS: Final[dict[str, str]] = {SBCCR: "SCC_FILED", NBCC: "SCC_FILED", PCN: "CONTRACT_NECESSITY"}
_PI_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    SBCCR: ("LEGAL_REP_ID", "CREDIT_REPORT"),
    NBCC: ("HKID", "CREDIT_REPORT"),
    PCN: ("HKID", "BANK_ACCOUNT", "NAME"),
}


@functools.cache
def ruleset(scenario_id: str) -> RuleSet:
    """The bundled rule set of a scenario, loaded on first use (once per process)."""
    catalogue = load_catalogue(default_rulesets_dir(), SchemaRegistry.load(default_schemas_dir()))
    return catalogue.scenarios[scenario_id]


def _limit(scenario_id: str, rule_id: str, param: str) -> Decimal:
    rule = next(r for r in ruleset(scenario_id).rules if r.id == rule_id)
    return Decimal(str(rule.params[param]))


def _rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _money(value: Decimal | int | float | str) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


class Drawn(NamedTuple):
    """A hand-written case before it is a :class:`~crossbound.testing.traffic.Case`."""

    request: dict[str, Any]
    attestation: dict[str, Any] | None
    expected: str
    expected_codes: tuple[str, ...]


@dataclass(slots=True)
class _Base:
    """What every case of a scenario shares: ids, institutions, envelope."""

    request_id: str
    requester: dict[str, str]
    attester: dict[str, str]
    nonce: str


class Handwritten:
    """The builders of the three hand-written scenarios, drawing from one seeded RNG.

    ``now`` (epoch seconds) is every request's ``created_at`` and every attestation's ``attested_at``;
    requests expire one hour later, and identifiers are HMAC-SHA256 under ``pair_key`` (key id
    ``demo-2026``).
    """

    def __init__(self, rng: random.Random, now: float, pair_key: bytes) -> None:
        self._rng = rng
        self._pair_key = pair_key
        self._created = _rfc3339(now)
        self._expires = _rfc3339(now + _REQUEST_LIFETIME_S)
        self._granted = _rfc3339(now - 30 * 86400)
        self._consent_expires = _rfc3339(now + 365 * 86400)
        self._today = datetime.fromtimestamp(now, UTC).date()
        self.builders: dict[str, Callable[[str], Drawn]] = {
            SBCCR: self._sbccr,
            NBCC: self._nbcc,
            PCN: self._pcn,
        }

    def payments_for_one_payer(self, n: int, amount: Decimal | int | float | str = "1000") -> list[Drawn]:
        """``n`` valid Payment Connect northbound cases of one payer at one requesting bank.

        All share the payer and ``requester_inst``, so ``payer_ledger_ref`` (the limit key, an HMAC under
        the requesting bank's own ledger key). ``expected`` follows the
        rule set's day limit (PCN-03) and year limit (PCN-04), assuming the cases are sent in order on
        one day and nothing else is sent for this payer: a case that would exceed a limit is expected to
        be REJECTed with ``LIMIT_EXCEEDED`` (and then does not count towards the totals).
        """
        amt = _money(amount)
        value = Decimal(amt)
        payer = random_hkid(self._rng)
        requester = self._rng.choice(HK_BANKS)
        day_limit, year_limit = _limit(PCN, "PCN-03", "limit"), _limit(PCN, "PCN-04", "limit")
        day = year = Decimal(0)
        cases: list[Drawn] = []
        codes: tuple[str, ...]
        for _ in range(n):
            if day + value > day_limit or year + value > year_limit:
                expected, codes = "REJECT", ("LIMIT_EXCEEDED",)
            else:
                expected, codes = "ACCEPT", ()
                day += value
                year += value
            cases.append(
                self._pcn("valid", payer=payer, requester=requester, amount=amt, expected=(expected, codes))
            )
        return cases

    # -- shared pieces ----------------------------------------------------------------------------

    def _hmac(self, value: str) -> str:
        return hmac_identifier(self._pair_key, value)

    def _base(self, scenario_id: str, requester: dict[str, str] | None = None) -> _Base:
        rng = self._rng
        return _Base(
            request_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            requester=dict(requester or rng.choice(_REQUESTERS[scenario_id])),
            attester=dict(rng.choice(_ATTESTERS[scenario_id])),
            nonce=f"{rng.getrandbits(128):032x}",
        )

    def _request(
        self,
        scenario_id: str,
        base: _Base,
        payload: dict[str, Any],
        subject_ref_hmac: str,
        purposes: list[str],
        *,
        withdrawn: bool = False,
    ) -> dict[str, Any]:
        rs = ruleset(scenario_id)
        return {
            "request_id": base.request_id,
            "scenario_id": scenario_id,
            "scenario_version": rs.version,
            "requester_side": rs.requester_side,
            "attester_side": rs.attester_side,
            "requester_inst": base.requester,
            "attester_inst": base.attester,
            "created_at": self._created,
            "expires_at": self._expires,
            "digest_alg": _DIGEST_ALG,
            "hmac_key_id": _HMAC_KEY_ID,
            "nonce": base.nonce,
            "consent": {
                "consent_id": f"cns-{base.nonce[:4]}-{base.nonce[4:8]}-{base.nonce[8:12]}",
                "subject_ref_hmac": subject_ref_hmac,
                "purpose_codes": purposes,
                "recipient_inst": dict(base.requester),
                "pi_categories": list(_PI_CATEGORIES[scenario_id]),
                "separate_xb_consent": True,
                "granted_at": self._granted,
                "expires_at": self._consent_expires,
                "withdrawn": withdrawn,
                "legal_basis": _LEGAL_BASIS[scenario_id],
            },
            "payload": payload,
        }

    def _attestation(self, scenario_id: str, base: _Base, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "request_id": base.request_id,
            "scenario_id": scenario_id,
            "attester_side": ruleset(scenario_id).attester_side,
            "attester_inst": dict(base.attester),
            "attested_at": self._created,
            "status": "FOUND",
            "payload": payload,
        }

    @staticmethod
    def _outcome(variant: str, codes: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        if variant == "valid":
            return "ACCEPT", codes
        if variant == "review":
            return "REVIEW", codes
        if variant == "late":
            return "REJECT", ("ATTESTATION_TIMEOUT",)
        return "REJECT", codes

    # -- sb_corporate_credit_report -----------------------------------------------------------------

    def _sbccr(self, variant: str) -> Drawn:
        sid = SBCCR
        rng = self._rng
        base = self._base(sid)
        uscc = random_uscc(rng)
        age_days = rng.randrange(0, 26)
        ccy = rng.choice(("HKD", "CNY", "USD"))
        purpose = rng.choice(("CREDIT_APPLICATION", "GUARANTOR_CHECK", "POST_LOAN"))
        report_type = rng.choice(("BASIC", "FULL"))
        legal_rep = random_cn_resident_id(rng)
        entity_status = "ACTIVE"
        codes: tuple[str, ...] = ()
        rep_mismatch = False
        tampered = False
        subject_uscc = uscc
        if variant == "valid" and rng.random() < 0.1:
            ccy, codes = "CNH", ("CNH_NORMALISED",)
        elif variant == "review":
            kind = rng.randrange(3)
            if kind == 0:
                age_days, codes = rng.randrange(35, 86), ("STALE",)
            elif kind == 1:
                entity_status, codes = "ABNORMAL_OPERATION_LIST", ("ENTITY_STATUS",)
            else:
                rep_mismatch, codes = True, ("DIGEST_MISMATCH",)
        elif variant == "invalid":
            kind = rng.randrange(3)
            if kind == 0:
                subject_uscc, codes = bad_uscc(rng), ("USCC_CHECK_DIGIT",)
            elif kind == 1:
                age_days, codes = rng.randrange(100, 400), ("STALE",)
            else:
                ccy, codes = rng.choice(("EUR", "GBP", "JPY")), ("CURRENCY",)
        elif variant == "mismatch":
            tampered, codes = True, ("DIGEST_MISMATCH",)
        issued = self._today - timedelta(days=age_days)
        document = f"CREDIT-REPORT|{uscc}|{issued.isoformat()}|{report_type}|{rng.getrandbits(64):016x}"
        report_digest = document_digest(document)
        legal_rep_hmac = self._hmac(legal_rep)
        payload = {
            "subject_uscc": subject_uscc,
            "report_type": report_type,
            "report_issued_on": issued.isoformat(),
            "purpose": purpose,
            "facility_ccy": ccy,
            "facility_amount": f"{rng.randrange(100, 50_000) * 1000}.00",
            "report_digest": report_digest,
            "legal_rep_id_hmac": legal_rep_hmac,
        }
        request = self._request(sid, base, payload, self._hmac(uscc), [purpose])
        attestation = None
        if variant in ("valid", "review", "mismatch"):
            registered = document + "|REGISTERED-REVISION"
            registered_digest = document_digest(registered) if tampered else report_digest
            registered_rep = self._hmac(random_cn_resident_id(rng)) if rep_mismatch else legal_rep_hmac
            attestation = self._attestation(
                sid,
                base,
                {
                    "report_digest": registered_digest,
                    "legal_rep_id_hmac": registered_rep,
                    "entity_status": entity_status,
                },
            )
        expected, codes = self._outcome(variant, codes)
        return Drawn(request, attestation, expected, codes)

    # -- nb_hk_resident_consumer_credit -------------------------------------------------------------

    def _nbcc(self, variant: str) -> Drawn:
        sid = NBCC
        rng = self._rng
        base = self._base(sid)
        hkid = random_hkid(rng)
        hkid_hmac = self._hmac(hkid)
        permit_hmac = self._hmac(random_cn_resident_id(rng, "810000")) if rng.random() < 0.4 else None
        limit = rng.randrange(10, 300) * 1000
        city = rng.choice(_GBA_CITIES)
        purpose = "CROSS_BORDER_CREDIT_APPLICATION"
        no_bankruptcy, band = True, rng.choice(("NONE", "NONE", "NONE", "D30", "D60"))
        withdrawn = False
        tampered = False
        codes: tuple[str, ...] = ()
        if variant == "valid" and rng.random() < 0.1:
            city, codes = rng.choice(_NON_GBA_CITIES), ("OUTSIDE_GBA",)
        elif variant == "review":
            kind = rng.randrange(3)
            if kind == 0:
                above = int(_limit(NBCC, "NBCC-06", "max")) // 1000 + 1
                limit, codes = rng.randrange(above, 800) * 1000, ("ABOVE_MAX",)
            elif kind == 1:
                band, codes = "D90_PLUS", ("CREDIT_RISK",)
            else:
                no_bankruptcy, codes = False, ("CREDIT_RISK",)
        elif variant == "invalid":
            if rng.random() < 0.7:
                purpose = rng.choice(("MARKETING", "CREDIT_APPLICATION", "DEBT_COLLECTION"))
                codes = ("PURPOSE",)
            else:
                # An HK resident's data is not mainland personal data: no separate cross-border
                # consent is required (C3), but consent must still be in force.
                withdrawn, codes = True, ("CONSENT_WITHDRAWN",)
        elif variant == "mismatch":
            tampered, codes = True, ("DIGEST_MISMATCH",)
        document = f"HK-CREDIT-REPORT|{hkid}|{rng.getrandbits(64):016x}"
        report_digest = document_digest(document)
        payload = {
            "requested_limit_cny": f"{limit}.00",
            "works_in_gba": city in _GBA_CITIES,
            "purpose": purpose,
            "hkid_hmac": hkid_hmac,
            "residence_permit_hmac": permit_hmac,
            "credit_report_digest": report_digest,
        }
        request = self._request(
            sid, base, payload, hkid_hmac, ["CROSS_BORDER_CREDIT_APPLICATION"], withdrawn=withdrawn
        )
        attestation = None
        if variant in ("valid", "review", "mismatch"):
            attestation = self._attestation(
                sid,
                base,
                {
                    "hkid_hmac": hkid_hmac,
                    "credit_report_digest": (
                        document_digest(document + "|REISSUED") if tampered else report_digest
                    ),
                    "hkid_valid": True,
                    "residence_permit_valid": None if permit_hmac is None else True,
                    "no_bankruptcy_flag": no_bankruptcy,
                    "delinquency_band": band,
                },
            )
        expected, codes = self._outcome(variant, codes)
        return Drawn(request, attestation, expected, codes)

    # -- payment_connect_northbound -----------------------------------------------------------------

    def _pcn(
        self,
        variant: str,
        *,
        payer: str | None = None,  # the payer's HKID
        requester: dict[str, str] | None = None,
        amount: str | None = None,
        expected: tuple[str, tuple[str, ...]] | None = None,
    ) -> Drawn:
        sid = PCN
        rng = self._rng
        base = self._base(sid, requester)
        hkid = payer or random_hkid(rng)
        payer_hmac = self._hmac(hkid)
        card = random_unionpay_card(rng)
        acct_hmac = self._hmac(card)
        same_name = amount is None and rng.random() < 0.05
        amt = amount or f"{rng.randrange(100, 5000)}.{rng.randrange(100):02d}"
        hkid_holder = True
        withdrawn = False
        name_match = "FULL"
        registered_acct = acct_hmac
        codes: tuple[str, ...] = ()
        if variant == "review":
            name_match, codes = "PARTIAL", ("PAYEE_NAME_PARTIAL",)
        elif variant == "invalid":
            kind = rng.randrange(3)
            if kind == 0:
                hkid_holder, codes = False, ("NOT_HKID_HOLDER",)
            elif kind == 1:
                amt, codes = "0.00", ("BELOW_MIN",)
            else:
                withdrawn, codes = True, ("CONSENT_WITHDRAWN",)
        elif variant == "mismatch":
            registered_acct, codes = self._hmac(random_unionpay_card(rng)), ("DIGEST_MISMATCH",)
        payload = {
            "amount_hkd": amt,
            "purpose": rng.choice(("TRAVEL", "EDUCATION", "MEDICAL", "SALARY", "OTHER")),
            "same_name": same_name,
            "payer_hkid_holder": hkid_holder,
            "payer_hkid_hmac": payer_hmac,
            "payee_acct_hmac": acct_hmac,
            "payee_name_hmac": self._hmac(random_name(rng)),
            "ledger_key_id": LEDGER_KEY_ID,
            "payer_ledger_ref": hmac_identifier(ledger_key(base.requester), hkid),
        }
        request = self._request(sid, base, payload, payer_hmac, ["CROSS_BORDER_PAYMENT"], withdrawn=withdrawn)
        attestation = None
        if variant in ("valid", "review", "mismatch"):
            attestation = self._attestation(
                sid, base, {"payee_acct_hmac": registered_acct, "payee_name_match": name_match}
            )
        outcome, codes = expected or self._outcome(variant, codes)
        return Drawn(request, attestation, outcome, codes)
