"""Simulated institutions and data holders: reproducible request / attestation traffic.

Used by the demo, the benchmark and the tests. A :class:`Traffic` makes :class:`Case` objects: a request
in JSON form (see :func:`crossbound.codec.jsonform.request_from_json`), the data holder's answer in JSON form
(or ``None`` when it never answers), and the outcome the pipeline must reach. Everything is synthetic:
subjects' identifiers (HKIDs, mainland resident IDs and residence permits, USCCs, UnionPay cards) are
generated with correct check characters, and only their HMAC-SHA256 under the pair key ever appears in
a case; documents are synthetic bytes and only their SHA-256 appears. Institutions use valid public
identifier formats (LEI MOD 97-10, USCC GB 32100, BIC ISO 9362, HK BRN).

``SCENARIOS`` is every scenario in the rule-set catalogue that ships example fixtures. Three have
hand-written builders that draw their fields (``HANDWRITTEN``: SBCCR ``sb_corporate_credit_report``,
NBCC ``nb_hk_resident_consumer_credit``, PCN ``payment_connect_northbound``); every other scenario's
cases are its fixtures ``examples/<id>/{accept,review,reject}`` made fresh by
:func:`crossbound.testing.fixtures.refresh`: a new request id and nonce, every digest and HMAC replaced by a
new random one (consistently within the case, so matches still match; not an HMAC under ``pair_key``),
timestamps and dates moved from the fixtures' time (2026-11-24T09:00:00Z) to ``now``.

Variants (``VARIANTS``), per scenario:

============ ======================================================================================
valid        ACCEPT; a few SBCCR / NBCC cases carry a deliberate warning (CNH currency, work city
             outside the GBA). Other scenarios: the ``accept`` fixture (with its warnings, if any)
review       REVIEW: SBCCR report 31-90 days old / company on the abnormal-operation list / legal
             representative HMAC differs; NBCC requested limit > RMB 300,000 / credit-risk flags;
             PCN payee name PARTIAL. Other scenarios: the ``review`` fixture
invalid      REJECT: SBCCR bad USCC check character / report older than 90 days / currency outside
             HKD, CNY, USD; NBCC purpose not CROSS_BORDER_CREDIT_APPLICATION / consent
             withdrawn; PCN payer not an HKID holder / zero amount / consent withdrawn
             (all at the request stage, no attestation). Other scenarios: the ``reject`` fixture, at
             the request or the attestation stage as the fixture has it
mismatch     REJECT at the attestation stage: the data holder's digest differs (SBCCR report digest,
             NBCC credit report digest, PCN payee account HMAC: ``DIGEST_MISMATCH``). Other scenarios:
             the ``accept`` fixture, and the data holder finds no record (status ``NOT_FOUND``, no
             payload: ``ATTESTATION_NOT_FOUND``)
late         a valid request, and the data holder never answers: ATTESTATION_TIMEOUT, REJECT (or
             REVIEW where the scenario's rule set has ``timeout_severity = "review"``)
undecodable  raw bytes instead of a request: not single-object encoded (``bad_magic``), a ``C3 01``
             header with an unknown fingerprint (``unknown_schema``), or a truncated request body
             (``undecodable``); a dead letter
============ ======================================================================================

For fixture-based cases ``expected_codes`` is empty for ``valid``, ``review`` and ``invalid`` (the
outcome comes from the fixture's name; its findings are whatever the fixture triggers at its own time,
which the tests compare), ``("ATTESTATION_NOT_FOUND",)`` for ``mismatch`` and
``("ATTESTATION_TIMEOUT",)`` for ``late``.

Traffic is seeded: the same seed gives the same cases (request ids, nonces, identifiers, digests,
variants), whatever ``now`` is.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from crossbound.testing import fixtures as examples

__all__ = [
    "DEFAULT_WEIGHTS",
    "HANDWRITTEN",
    "SCENARIOS",
    "VARIANTS",
    "Case",
    "Traffic",
    "hmac_identifier",
    "lei_with_check",
    "normalise_identifier",
    "random_cn_resident_id",
    "random_hkid",
    "random_unionpay_card",
    "random_uscc",
    "uscc_with_check",
]

HANDWRITTEN: Final[tuple[str, ...]] = (
    "sb_corporate_credit_report",
    "nb_hk_resident_consumer_credit",
    "payment_connect_northbound",
)
# The hand-written scenarios first (their order is what seeded draws over SCENARIOS saw before), then
# every other scenario with a rule set and fixtures, sorted.
SCENARIOS: Final[tuple[str, ...]] = HANDWRITTEN + tuple(
    s for s in examples.discover() if s not in HANDWRITTEN
)
VARIANTS: Final[tuple[str, ...]] = ("valid", "review", "invalid", "mismatch", "late", "undecodable")
DEFAULT_WEIGHTS: Final[Mapping[str, float]] = {
    "valid": 0.55,
    "review": 0.10,
    "invalid": 0.12,
    "mismatch": 0.10,
    "late": 0.05,
    "undecodable": 0.08,
}

# (requester_side, attester_side) as written in records, per hand-written scenario (must agree with
# rulesets/); the other scenarios' sides are their fixtures'.
_SIDES: Final[dict[str, tuple[str, str]]] = {
    "sb_corporate_credit_report": ("HK", "SZ"),
    "nb_hk_resident_consumer_credit": ("SZ", "HK"),
    "payment_connect_northbound": ("HK", "SZ"),
}
_SCENARIO_VERSION: Final = "1.0.0"
_HMAC_KEY_ID: Final = "demo-2026"
_DIGEST_ALG: Final = "SHA256"
_REQUEST_LIFETIME_S: Final = 3600.0

# Payment Connect northbound limits (rulesets/payment_connect_northbound.toml, PCN-03/04/05).
_PCN_DAY_LIMIT: Final = Decimal("10000")
_PCN_YEAR_LIMIT: Final = Decimal("200000")
_NBCC_REVIEW_LIMIT: Final = 300_000  # NBCC-06
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
# Which fixture a fixture-based case starts from, per variant.
_FIXTURE_OF: Final = {"valid": "accept", "review": "review", "invalid": "reject", "mismatch": "accept"}


def _sides(scenario_id: str) -> tuple[str, str]:
    sides = _SIDES.get(scenario_id)
    if sides is None:
        ex = examples.load(scenario_id)
        sides = ex.requester_side, ex.attester_side
    return sides


# --------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One simulated request and the data holder's answer, with the outcome the pipeline must reach.

    ``expected`` is ``ACCEPT``, ``REVIEW``, ``REJECT`` or ``DEADLETTER``; ``expected_codes`` are the
    finding codes (or, for a dead letter, the dead-letter reason) the case is built to trigger.
    For variant ``undecodable``, ``raw`` holds the bytes to publish (with ``key``) on the requester
    side's requests topic instead of a request.
    """

    scenario_id: str
    variant: str
    request: dict[str, Any] | None
    attestation: dict[str, Any] | None
    expected: str
    expected_codes: tuple[str, ...]
    raw: bytes | None = None
    key: bytes | None = None

    @property
    def requester_side(self) -> str:
        """``HK`` or ``SZ``: the side whose requests topic the case (or its raw bytes) goes to."""
        return _sides(self.scenario_id)[0]

    @property
    def attester_side(self) -> str:
        """``HK`` or ``SZ``: the side whose data holder answers."""
        return _sides(self.scenario_id)[1]

    @property
    def request_id(self) -> str | None:
        """The request's id (also its record key), or None for raw garbage."""
        if self.request is not None:
            return str(self.request["request_id"])
        return None if self.key is None else self.key.decode()


# --------------------------------------------------------------------------------------------------
# Identifiers: normalisation, HMAC, synthetic valid identifiers
# --------------------------------------------------------------------------------------------------

_NORMALISE: Final = str.maketrans("", "", " -()[]")


def normalise_identifier(value: str) -> str:
    """Normalise an identifier before HMAC: upper-case, no spaces, hyphens or brackets."""
    return value.upper().translate(_NORMALISE)


def hmac_identifier(pair_key: bytes, value: str) -> str:
    """HMAC-SHA256(pair_key, normalised value) as 64 lowercase hex characters."""
    return hmac.new(pair_key, normalise_identifier(value).encode(), hashlib.sha256).hexdigest()


def _hkid_check(prefix: str, digits: str) -> str:
    if len(prefix) == 1:
        total = 36 * 9 + (ord(prefix) - 55) * 8
    else:
        total = (ord(prefix[0]) - 55) * 9 + (ord(prefix[1]) - 55) * 8
    total += sum(int(d) * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True))
    c = (11 - total % 11) % 11
    return "A" if c == 10 else str(c)


_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def random_hkid(rng: random.Random) -> str:
    """A synthetic HKID with a correct check character, normalised (e.g. ``A1234563``)."""
    prefix = rng.choice(_LETTERS) if rng.random() < 0.9 else rng.choice(_LETTERS) + rng.choice(_LETTERS)
    digits = f"{rng.randrange(1_000_000):06d}"
    return prefix + digits + _hkid_check(prefix, digits)


_RIC_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK: Final = "10X98765432"
_RIC_AREAS: Final = ("440300", "440304", "440305", "440106", "110105", "310115", "440402")
_BIRTH_FIRST: Final = date(1950, 1, 1).toordinal()
_BIRTH_LAST: Final = date(2004, 12, 31).toordinal()


def random_cn_resident_id(rng: random.Random, area: str | None = None) -> str:
    """A synthetic mainland resident ID (or, with ``area="810000"``, an HK residence permit), GB 11643."""
    area = area or rng.choice(_RIC_AREAS)
    born = date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))
    body = f"{area}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + _RIC_CHECK[sum(int(d) * w for d, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]


_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_GB11714_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_AREAS: Final = ("440300", "440304", "440305", "440106", "110000", "310115", "440400")
_LOOKS_LIKE_CN_ID: Final = re.compile(r"[0-9]{17}[0-9X]")


def _uscc_check(body17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_with_check(body16: str) -> str:
    """Complete positions 1-16 of a USCC: the GB 11714 check (when 9-16 are digits) and the GB 32100 one."""
    org = body16[8:16]
    if org.isdigit():
        c = 11 - sum(int(d) * w for d, w in zip(org, _GB11714_WEIGHTS, strict=True)) % 11
        body17 = body16 + ("X" if c == 10 else "0" if c == 11 else str(c))
    else:
        body17 = body16 + _USCC_ALPHABET[0]
    return body17 + _uscc_check(body17)


def random_uscc(rng: random.Random) -> str:
    """A synthetic enterprise USCC (``91`` + area + organisation code) valid under GB 32100 and GB 11714.

    Codes that would look like an 18-character resident ID (all digits, last one a digit or X) are
    skipped, so that no field in clear ever matches a personal-identifier pattern.
    """
    while True:
        s = uscc_with_check(f"91{rng.choice(_USCC_AREAS)}{rng.randrange(10**8):08d}")
        if _LOOKS_LIKE_CN_ID.fullmatch(s) is None:
            return s


def _bad_uscc(rng: random.Random) -> str:
    """A USCC with a wrong check character (still in the code alphabet, never resident-ID-like)."""
    good = random_uscc(rng)
    wrong = [c for c in "ABCDEFGHJKLMNPQRTUWY" if c != good[17]]
    return good[:17] + rng.choice(wrong)


def lei_with_check(body18: str) -> str:
    """Append the two ISO 17442 (MOD 97-10) check digits to an 18-character LEI body."""
    n = int("".join(str(int(c, 36)) for c in body18.upper() + "00"))
    return f"{body18.upper()}{98 - n % 97:02d}"


_LUHN_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def random_unionpay_card(rng: random.Random) -> str:
    """A synthetic UnionPay card number: prefix 62, 16 or 19 digits, Luhn check digit."""
    width = rng.choice((13, 16))
    body = f"62{rng.randrange(10**width):0{width}d}"
    # From the right, the body's 1st, 3rd, ... digits are doubled once the check digit is appended.
    total = sum(_LUHN_DOUBLED[int(d)] for d in body[-1::-2]) + sum(int(d) for d in body[-2::-2])
    return body + str((10 - total % 10) % 10)


_SURNAMES: Final = ("CHAN", "WONG", "LEE", "CHEUNG", "LAU", "CHEN", "LIN", "HUANG", "ZHANG", "LIU", "WU")
_GIVEN: Final = ("TAI MAN", "SIU MING", "KA YAN", "WING", "XIAO MING", "JIA HUI", "WEI", "LI NA", "HAO")


def _random_name(rng: random.Random) -> str:
    return f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"


# --------------------------------------------------------------------------------------------------
# Institutions (public identifiers; synthetic ones have correct check digits)
# --------------------------------------------------------------------------------------------------


def _inst(scheme: str, ident: str, city: str) -> dict[str, str]:
    return {"scheme": scheme, "id": ident, "city": city}


_HK_BANKS: Final = (
    _inst("LEI", "5493001KJTIIGC8Y1R12", "HK"),
    _inst("LEI", lei_with_check("549300HKDEMOBANK01"), "HK"),
    _inst("LEI", lei_with_check("254900HKDEMOBANK02"), "HK"),
    _inst("BIC", "BKCHHKHHXXX", "HK"),
    _inst("BIC", "HSBCHKHHHKH", "HK"),
    _inst("BIC", "BEASHKHH", "HK"),
)
_CN_CREDIT_AGENCIES: Final = (
    _inst("USCC", "91440300123456788M", "440300"),
    _inst("USCC", uscc_with_check("9144030031234567"), "440300"),
    _inst("USCC", uscc_with_check("9111000071234568"), "110000"),
)
_CN_BANKS: Final = (
    _inst("BIC", "ICBKCNBJSZN", "440300"),
    _inst("BIC", "CMBCCNBS", "440300"),
    _inst("BIC", "BKCHCNBJ", "440300"),
    _inst("USCC", uscc_with_check("9144030019216301"), "440300"),
)
_HK_CRAS: Final = (
    _inst("LEI", "254900HKCNSZDVP00122", "HK"),
    _inst("HK_BRN", "12345678", "HK"),
)
_REQUESTERS: Final[dict[str, tuple[dict[str, str], ...]]] = {
    "sb_corporate_credit_report": _HK_BANKS,
    "nb_hk_resident_consumer_credit": _CN_BANKS,
    "payment_connect_northbound": _HK_BANKS,
}
_ATTESTERS: Final[dict[str, tuple[dict[str, str], ...]]] = {
    "sb_corporate_credit_report": _CN_CREDIT_AGENCIES,
    "nb_hk_resident_consumer_credit": _HK_CRAS,
    "payment_connect_northbound": _CN_BANKS,
}
_PI_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "sb_corporate_credit_report": ("LEGAL_REP_ID", "CREDIT_REPORT"),
    "nb_hk_resident_consumer_credit": ("HKID", "CREDIT_REPORT"),
    "payment_connect_northbound": ("HKID", "BANK_ACCOUNT", "NAME"),
}


@functools.cache
def _core_request_header() -> bytes:
    """The single-object header (``C3 01`` + fingerprint) of the current ``core/request`` schema."""
    from crossbound._data import default_schemas_dir
    from crossbound.codec import SchemaRegistry

    return SchemaRegistry.load(default_schemas_dir()).current("core/request").header


def _rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha256(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def _money(value: Decimal | int | float | str) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


# --------------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Base:
    """What every case of a scenario shares: ids, institutions, envelope."""

    request_id: str
    requester: dict[str, str]
    attester: dict[str, str]
    nonce: str


class Traffic:
    """A seeded source of simulated cases for every scenario in ``SCENARIOS``.

    ``now`` (epoch seconds, default: the current time) is the moment the cases are built for. In the
    hand-written scenarios it is every request's ``created_at`` and every attestation's
    ``attested_at``, requests expire one hour later, and identifiers are HMAC-SHA256 under ``pair_key``
    (key id ``demo-2026``). Fixture-based cases keep their fixture's times relative to the fixtures'
    evaluation time (a request created an hour before ``now``, say) and carry random stand-ins for
    digests and HMACs.
    """

    def __init__(
        self, *, seed: int = 0, now: float | None = None, pair_key: bytes = b"demo-pair-key-2026"
    ) -> None:
        self.seed = seed
        self.now = time.time() if now is None else float(now)
        self.pair_key = pair_key
        self._rng = random.Random(seed)
        self._mac = hmac.new(pair_key, digestmod=hashlib.sha256)
        self._created = _rfc3339(self.now)
        self._expires = _rfc3339(self.now + _REQUEST_LIFETIME_S)
        self._granted = _rfc3339(self.now - 30 * 86400)
        self._consent_expires = _rfc3339(self.now + 365 * 86400)
        self._today = datetime.fromtimestamp(self.now, UTC).date()
        self._builders: dict[str, Callable[[str], Case]] = {
            "sb_corporate_credit_report": self._sbccr,
            "nb_hk_resident_consumer_credit": self._nbcc,
            "payment_connect_northbound": self._pcn,
        }
        for sid in SCENARIOS:
            self._builders.setdefault(sid, functools.partial(self._from_fixture, sid))

    # -- public API -------------------------------------------------------------------------------

    def case(self, scenario_id: str, variant: str) -> Case:
        """One case of ``scenario_id`` built to end as ``variant`` says (see the module docstring)."""
        builder = self._builders.get(scenario_id)
        if builder is None:
            raise ValueError(f"unknown scenario {scenario_id!r}; known: {', '.join(SCENARIOS)}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        if variant == "undecodable":
            return self._undecodable(scenario_id)
        return builder(variant)

    def mix(
        self,
        n: int,
        scenarios: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> Iterator[Case]:
        """``n`` cases, scenarios drawn uniformly from ``scenarios`` and variants by ``weights``.

        ``weights`` maps variants to relative weights (missing variants get 0); the default is
        ``DEFAULT_WEIGHTS``. The draw uses the traffic's seeded RNG, so a mix is reproducible.
        """
        chosen = tuple(scenarios) if scenarios is not None else SCENARIOS
        if not chosen:
            raise ValueError("mix needs at least one scenario")
        for sid in chosen:
            if sid not in self._builders:
                raise ValueError(f"unknown scenario {sid!r}; known: {', '.join(SCENARIOS)}")
        w = dict(DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(w) - set(VARIANTS)
        if unknown:
            raise ValueError(f"unknown variants in weights: {sorted(unknown)}")
        if any(x < 0 for x in w.values()) or sum(w.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        variants = [v for v in VARIANTS if w.get(v, 0) > 0]
        cum: list[float] = []
        acc = 0.0
        for v in variants:
            acc += w[v]
            cum.append(acc)
        rng = self._rng
        for _ in range(n):
            sid = chosen[0] if len(chosen) == 1 else chosen[rng.randrange(len(chosen))]
            variant = rng.choices(variants, cum_weights=cum)[0]
            yield self.case(sid, variant)

    def payments_for_one_payer(self, n: int, amount: Decimal | int | float | str = "1000") -> list[Case]:
        """``n`` valid Payment Connect northbound cases of one payer at one requesting bank.

        All share ``payer_hkid_hmac`` and ``requester_inst`` (the limit key). ``expected`` follows the
        day limit (HKD 10,000) and year limit (HKD 200,000) assuming the cases are sent in order on one
        day and nothing else is sent for this payer: a case that would exceed a limit is expected to be
        REJECTed with ``LIMIT_EXCEEDED`` (and then does not count towards the totals).
        """
        amt = _money(amount)
        value = Decimal(amt)
        payer = self._hmac(random_hkid(self._rng))
        requester = self._rng.choice(_HK_BANKS)
        day = year = Decimal(0)
        cases: list[Case] = []
        codes: tuple[str, ...]
        for _ in range(n):
            if day + value > _PCN_DAY_LIMIT or year + value > _PCN_YEAR_LIMIT:
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
        mac = self._mac.copy()
        mac.update(normalise_identifier(value).encode())
        return mac.hexdigest()

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
        requester_side, attester_side = _sides(scenario_id)
        return {
            "request_id": base.request_id,
            "scenario_id": scenario_id,
            "scenario_version": _SCENARIO_VERSION,
            "requester_side": requester_side,
            "attester_side": attester_side,
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
                "legal_basis": "CONSENT",
            },
            "payload": payload,
        }

    def _attestation(self, scenario_id: str, base: _Base, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "request_id": base.request_id,
            "scenario_id": scenario_id,
            "attester_side": _sides(scenario_id)[1],
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

    def _sbccr(self, variant: str) -> Case:
        sid = "sb_corporate_credit_report"
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
                subject_uscc, codes = _bad_uscc(rng), ("USCC_CHECK_DIGIT",)
            elif kind == 1:
                age_days, codes = rng.randrange(100, 400), ("STALE",)
            else:
                ccy, codes = rng.choice(("EUR", "GBP", "JPY")), ("CURRENCY",)
        elif variant == "mismatch":
            tampered, codes = True, ("DIGEST_MISMATCH",)
        issued = self._today - timedelta(days=age_days)
        document = f"CREDIT-REPORT|{uscc}|{issued.isoformat()}|{report_type}|{rng.getrandbits(64):016x}"
        report_digest = _sha256(document)
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
            registered_digest = _sha256(document + "|REGISTERED-REVISION") if tampered else report_digest
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
        return Case(sid, variant, request, attestation, expected, codes)

    # -- nb_hk_resident_consumer_credit -------------------------------------------------------------

    def _nbcc(self, variant: str) -> Case:
        sid = "nb_hk_resident_consumer_credit"
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
                limit, codes = rng.randrange(_NBCC_REVIEW_LIMIT // 1000 + 1, 800) * 1000, ("ABOVE_MAX",)
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
        report_digest = _sha256(document)
        payload = {
            "requested_limit_cny": f"{limit}.00",
            "work_city_code": city,
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
                    "credit_report_digest": _sha256(document + "|REISSUED") if tampered else report_digest,
                    "hkid_valid": True,
                    "residence_permit_valid": None if permit_hmac is None else True,
                    "no_bankruptcy_flag": no_bankruptcy,
                    "delinquency_band": band,
                },
            )
        expected, codes = self._outcome(variant, codes)
        return Case(sid, variant, request, attestation, expected, codes)

    # -- payment_connect_northbound -----------------------------------------------------------------

    def _pcn(
        self,
        variant: str,
        *,
        payer: str | None = None,
        requester: dict[str, str] | None = None,
        amount: str | None = None,
        expected: tuple[str, tuple[str, ...]] | None = None,
    ) -> Case:
        sid = "payment_connect_northbound"
        rng = self._rng
        base = self._base(sid, requester)
        payer_hmac = payer or self._hmac(random_hkid(rng))
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
            "payee_name_hmac": self._hmac(_random_name(rng)),
        }
        request = self._request(sid, base, payload, payer_hmac, ["CROSS_BORDER_PAYMENT"], withdrawn=withdrawn)
        attestation = None
        if variant in ("valid", "review", "mismatch"):
            attestation = self._attestation(
                sid, base, {"payee_acct_hmac": registered_acct, "payee_name_match": name_match}
            )
        outcome, codes = expected or self._outcome(variant, codes)
        return Case(sid, variant, request, attestation, outcome, codes)

    # -- every other scenario: its fixtures, made fresh ----------------------------------------------

    def _from_fixture(self, scenario_id: str, variant: str) -> Case:
        ex = examples.load(scenario_id)
        fixture = ex.fixtures[_FIXTURE_OF.get(variant, "accept")]
        request, attestation = examples.refresh(fixture, self._rng, self.now)
        codes: tuple[str, ...] = ()
        if variant == "valid":
            expected = "ACCEPT"
        elif variant == "review":
            expected = "REVIEW"
        elif variant == "invalid":
            expected = "REJECT"
        elif variant == "mismatch":
            if attestation is None:
                raise ValueError(f"{scenario_id}: the accept fixture has no attestation")
            attestation.update(status="NOT_FOUND", payload=None)
            expected, codes = "REJECT", ("ATTESTATION_NOT_FOUND",)
        else:  # late
            attestation = None
            expected, codes = ex.timeout_outcome, ("ATTESTATION_TIMEOUT",)
        return Case(scenario_id, variant, request, attestation, expected, codes)

    # -- undecodable --------------------------------------------------------------------------------

    def _undecodable(self, scenario_id: str) -> Case:
        rng = self._rng
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        kind = rng.randrange(3)
        if kind == 0:
            # Not single-object encoding: JSON text, random bytes, or a header too short to hold one.
            style = rng.randrange(3)
            if style == 0:
                raw = f'{{"request_id": "{request_id}", "scenario_id": "{scenario_id}"}}'.encode()
            elif style == 1:
                raw = b"\x00" + rng.randbytes(rng.randrange(1, 200))
            else:
                raw = b"\xc3\x01" + rng.randbytes(rng.randrange(0, 8))
            reason = "bad_magic"
        elif kind == 1:
            # A well-formed header whose fingerprint no registered schema has.
            raw = b"\xc3\x01" + rng.randbytes(8) + rng.randbytes(rng.randrange(0, 120))
            if raw[2:10] == _core_request_header()[2:10]:  # pragma: no cover - 2**-64
                raw = b"\xc3\x01" + bytes(8) + raw[10:]
            reason = "unknown_schema"
        else:
            # The core/request header, then a body cut short inside its first field (the request_id).
            rid = request_id.encode()
            raw = _core_request_header() + bytes([len(rid) * 2]) + rid[: rng.randrange(0, len(rid))]
            reason = "undecodable"
        key = request_id.encode()
        return Case(scenario_id, "undecodable", None, None, "DEADLETTER", (reason,), raw=raw, key=key)
