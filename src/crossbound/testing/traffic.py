"""Simulated institutions and data holders: reproducible request / attestation traffic.

Used by the demo, the benchmark and the tests. A :class:`Traffic` makes :class:`Case` objects: a request
in JSON form (see :func:`crossbound.codec.jsonform.request_from_json`), the data holder's answer in JSON
form (or ``None`` when it never answers), and the outcome the pipeline must reach. Everything is
synthetic: subjects' identifiers (HKIDs, mainland resident IDs and residence permits, USCCs, UnionPay
cards) are generated with correct check characters, and only their HMAC-SHA256 ever appears in a case:
under the pair key, and, for the per-person limits, under the requesting institution's own ledger key
(``*_ledger_ref``, :func:`crossbound.testing.synthetic.ledger_key`); documents are synthetic bytes and
only their SHA-256 appears. Institutions use valid public identifier formats (LEI MOD 97-10, USCC GB
32100, BIC ISO 9362, HK BRN). The identifiers and institutions come from
:mod:`crossbound.testing.synthetic`.

:func:`scenarios` is every scenario in the rule-set catalogue that ships example fixtures. Three have
hand-written builders that draw their fields (:mod:`crossbound.testing.handwritten`, ``HANDWRITTEN``:
SBCCR ``sb_corporate_credit_report``, NBCC ``nb_hk_resident_consumer_credit``, PCN
``payment_connect_northbound``); every other scenario's
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

Scenarios in fingerprint mode (:func:`fingerprint_scenarios`) are not in the mix: their cases come from
:meth:`Traffic.fingerprint_case`, each with the data source's registry record to publish first
(``Case.fingerprints``), in the variants ``FINGERPRINT_VARIANTS``: ``valid``, ``review`` and
``invalid`` are the fixtures (``invalid``: a revoked document, ``FINGERPRINT_REVOKED``), ``mismatch``
publishes no record (``FINGERPRINT_NOT_FOUND``).

Traffic is seeded: the same seed gives the same cases (request ids, nonces, identifiers, digests,
variants), whatever ``now`` is.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from crossbound._data import default_schemas_dir
from crossbound.codec import MAGIC, SchemaRegistry, SingleObjectFraming
from crossbound.testing import fixtures as examples
from crossbound.testing.handwritten import HANDWRITTEN, PCN, Drawn, Handwritten, ruleset

__all__ = [
    "DEFAULT_WEIGHTS",
    "FINGERPRINT_VARIANTS",
    "VARIANTS",
    "Case",
    "Traffic",
    "fingerprint_scenarios",
    "scenarios",
]

VARIANTS: Final[tuple[str, ...]] = ("valid", "review", "invalid", "mismatch", "late", "undecodable")
DEFAULT_WEIGHTS: Final[Mapping[str, float]] = {
    "valid": 0.55,
    "review": 0.10,
    "invalid": 0.12,
    "mismatch": 0.10,
    "late": 0.05,
    "undecodable": 0.08,
}
FINGERPRINT_VARIANTS: Final[tuple[str, ...]] = ("valid", "review", "invalid", "mismatch")
# Which fixture a fixture-based case starts from, per variant.
_FIXTURE_OF: Final = {"valid": "accept", "review": "review", "invalid": "reject", "mismatch": "accept"}


@functools.cache
def scenarios() -> tuple[str, ...]:
    """Every scenario with a rule set and fixtures: the hand-written ones first, then the rest, sorted.

    The hand-written ones come first because that is the order seeded draws over the scenarios have
    always seen. Found by scanning ``examples/`` and ``rulesets/`` on the first call, not at import.
    Scenarios in fingerprint mode are not among them: their cases need a registry record published
    first (:meth:`Traffic.fingerprint_case`).
    """
    return HANDWRITTEN + tuple(
        s for s in examples.discover() if s not in HANDWRITTEN and not examples.by_fingerprint(s)
    )


@functools.cache
def fingerprint_scenarios() -> tuple[str, ...]:
    """Every scenario in fingerprint mode with fixtures (and their registry records), sorted."""
    return tuple(s for s in examples.discover() if examples.by_fingerprint(s))


def _sides(scenario_id: str) -> tuple[str, str]:
    if scenario_id in HANDWRITTEN:
        rs = ruleset(scenario_id)
        return rs.requester_side, rs.attester_side
    ex = examples.load(scenario_id)
    return ex.requester_side, ex.attester_side


@functools.cache
def _core_request_header() -> bytes:
    """The single-object header (``C3 01`` + fingerprint) of the current ``core/request`` schema."""
    current = SchemaRegistry.load(default_schemas_dir()).current("core/request")
    return SingleObjectFraming().header(current)


@dataclass(frozen=True, slots=True)
class Case:
    """One simulated request and the data holder's answer, with the outcome the pipeline must reach.

    ``expected`` is ``ACCEPT``, ``REVIEW``, ``REJECT`` or ``DEADLETTER``; ``expected_codes`` are the
    finding codes (or, for a dead letter, the dead-letter reason) the case is built to trigger.
    For variant ``undecodable``, ``raw`` holds the bytes to publish (with ``key``) on the requester
    side's requests topic instead of a request. ``fingerprints`` are registry records (JSON form) to
    publish before the request (fingerprint-mode scenarios only).
    """

    scenario_id: str
    variant: str
    request: dict[str, Any] | None
    attestation: dict[str, Any] | None
    expected: str
    expected_codes: tuple[str, ...]
    raw: bytes | None = None
    key: bytes | None = None
    fingerprints: tuple[dict[str, Any], ...] = ()

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


class Traffic:
    """A seeded source of simulated cases for every scenario in :func:`scenarios`.

    ``now`` (epoch seconds, default: the current time) is the moment the cases are built for. In the
    hand-written scenarios it is every request's ``created_at`` and every attestation's
    ``attested_at``, requests expire one hour later, and identifiers are HMAC-SHA256 under ``pair_key``
    (key id ``demo-2026``); the payer's ledger reference is under the requesting bank's own ledger key
    (key id ``ledger-2026``). Fixture-based cases keep their fixture's times relative to the fixtures'
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
        self._handwritten = Handwritten(self._rng, self.now, pair_key)
        self._scenarios = scenarios()
        self._builders: dict[str, Callable[[str], Case]] = {}
        for sid in self._scenarios:
            drawn = self._handwritten.builders.get(sid)
            self._builders[sid] = (
                functools.partial(self._from_fixture, sid)
                if drawn is None
                else functools.partial(self._case_of, sid, drawn)
            )

    # -- public API -------------------------------------------------------------------------------

    def case(self, scenario_id: str, variant: str) -> Case:
        """One case of ``scenario_id`` built to end as ``variant`` says (see the module docstring)."""
        builder = self._builders.get(scenario_id)
        if builder is None:
            raise ValueError(f"unknown scenario {scenario_id!r}; known: {', '.join(self._scenarios)}")
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
        chosen = tuple(scenarios) if scenarios is not None else self._scenarios
        if not chosen:
            raise ValueError("mix needs at least one scenario")
        for sid in chosen:
            if sid not in self._builders:
                raise ValueError(f"unknown scenario {sid!r}; known: {', '.join(self._scenarios)}")
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

        All share the payer and ``requester_inst``, so ``payer_ledger_ref`` (the limit key). ``expected``
        follows the rule set's day and year limits (HKD 10,000 and 200,000), assuming the cases are sent
        in order on one day and nothing else is sent for this payer: a case that would exceed a limit is
        expected to be REJECTed with ``LIMIT_EXCEEDED`` (and then does not count towards the totals).
        """
        return [Case(PCN, "valid", *drawn) for drawn in self._handwritten.payments_for_one_payer(n, amount)]

    def fingerprint_case(self, scenario_id: str, variant: str) -> Case:
        """A case of a fingerprint-mode scenario: its fixture made fresh, with its registry record."""
        if scenario_id not in fingerprint_scenarios():
            raise ValueError(f"{scenario_id!r} is not a fingerprint-mode scenario with fixtures")
        if variant not in FINGERPRINT_VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(FINGERPRINT_VARIANTS)}")
        fixture = examples.load(scenario_id).fixtures[_FIXTURE_OF[variant]]
        request, record = examples.refresh_registered(fixture, self._rng, self.now)
        expected = {"valid": "ACCEPT", "review": "REVIEW"}.get(variant, "REJECT")
        if variant == "mismatch":  # the source never published the document's fingerprint
            return Case(scenario_id, variant, request, None, expected, ("FINGERPRINT_NOT_FOUND",))
        codes = ("FINGERPRINT_REVOKED",) if variant == "invalid" else ()
        return Case(scenario_id, variant, request, None, expected, codes, fingerprints=(record,))

    # -- the hand-written scenarios: drawn field by field ---------------------------------------------

    @staticmethod
    def _case_of(scenario_id: str, draw: Callable[[str], Drawn], variant: str) -> Case:
        return Case(scenario_id, variant, *draw(variant))

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
                raw = MAGIC + rng.randbytes(rng.randrange(0, 8))
            reason = "bad_magic"
        elif kind == 1:
            # A well-formed header whose fingerprint no registered schema has.
            raw = MAGIC + rng.randbytes(8) + rng.randbytes(rng.randrange(0, 120))
            if raw[2:10] == _core_request_header()[2:10]:  # pragma: no cover - 2**-64
                raw = MAGIC + bytes(8) + raw[10:]
            reason = "unknown_schema"
        else:
            # The core/request header, then a body cut short inside its first field (the request_id).
            rid = request_id.encode()
            raw = _core_request_header() + bytes([len(rid) * 2]) + rid[: rng.randrange(0, len(rid))]
            reason = "undecodable"
        key = request_id.encode()
        return Case(scenario_id, "undecodable", None, None, "DEADLETTER", (reason,), raw=raw, key=key)
