"""Load and compile rule files (TOML). A bad file stops start-up naming the file, the rule and the fault.

File layout (see README, "Rule sets")::

    [scenario]
    id = "payment_connect_northbound"
    version = "1.0.0"
    title = "..."                      theme = "payments"
    status = "live"                    platform_status = "not on the platform"
    personal_data = true               pipl_outbound = true
    pipl_outbound_reason = "..."       # which message carries mainland-processed PI out, or why none
    requester_side = "HK"              attester_side = "SZ"
    purposes = ["PAYMENT"]
    request_schema = "scenarios/payment_connect_northbound/request"
    attestation_schema = "scenarios/payment_connect_northbound/attestation"
    timeout_severity = "reject"        # finding ATTESTATION_TIMEOUT
    limits_authority = "..."           # with per-person ledgers: whose figure decides, with the source
    attestation_timeout_s = 10         # optional: at most the pipeline's attestation_timeout_s

    [[rules]]
    id = "PCN-02"
    stage = "quota"                    # request | attestation | quota
    severity = "reject"                # reject | review | warn
    check = "quota"                    # see crossbound.rules.checks
    fields = ["payload.amount_hkd"]
    when = "payload.same_name == false"   # optional CEL precondition
    description = "..."
    source = "HKMA Payment Connect [S25]"
    [rules.params]                     # or an inline table: params = { ... }
    key = ["request.requester_inst", "payload.ledger_key_id", "payload.payer_ledger_ref"]
    key_next = ["request.requester_inst", "payload.ledger_key_next_id", "payload.payer_ledger_ref_next"]
    amount = "payload.amount_hkd"
    window = "day"
    limit = "10000"

``envelope.toml`` holds the rules every request passes first; it has ``[envelope]`` instead of
``[scenario]``. This module reads the files and their headers; :mod:`crossbound.rules.compiler`
compiles each ``[[rules]]`` table.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from crossbound.codec import SchemaRegistry
from crossbound.codec.forms import FORMS
from crossbound.domain import Side
from crossbound.errors import RuleSetError
from crossbound.rules.compiler import Compiler
from crossbound.rules.fingerprint import fingerprint_rules
from crossbound.rules.model import STAGES, FingerprintMode, Rule, RuleSet, Severity
from crossbound.rules.stateful import steps

__all__ = [
    "ENVELOPE_FILE",
    "PLATFORM_STATUSES",
    "Catalogue",
    "ScenarioHeader",
    "load_catalogue",
    "read_header",
]

ENVELOPE_FILE = "envelope.toml"
_FLAGS = ("personal_data", "pipl_outbound", "sensitive_personal_data")
_FINGERPRINT_KEYS = ("verification", "document_type", "digest_field", "subject_field")
FINGERPRINT_SCHEMA = "core/fingerprint"  # what a fingerprint-mode scenario's attestation rules read
_SCENARIO_KEYS = {
    "id",
    "version",
    "title",
    "theme",
    "status",
    "requester_side",
    "attester_side",
    "purposes",
    "request_schema",
    "attestation_schema",
    "timeout_severity",
    "attestation_timeout_s",
    "description",
    "sources",
    "purpose_field",
    "pipl_outbound_reason",
    "platform_status",
    "limits_authority",
    *_FLAGS,
    *_FINGERPRINT_KEYS,
}
# Whether a public source puts the scenario on the Shenzhen-Hong Kong data validation platform itself;
# ``status`` says how far the *scheme* is (live, public limits, illustrative), which is another thing.
PLATFORM_STATUSES = ("launched", "pilot", "not on the platform")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The envelope rules plus every scenario's rule set, compiled."""

    envelope: RuleSet
    scenarios: Mapping[str, RuleSet]


@dataclass(frozen=True, slots=True)
class ScenarioHeader:
    """A scenario file's ``[scenario]`` table, checked: everything its rule set says besides the rules."""

    id: str
    version: str
    title: str
    theme: str
    requester_side: Side
    attester_side: Side
    purposes: tuple[str, ...]
    request_subject: str
    attestation_subject: str
    timeout_severity: Severity
    attestation_timeout_s: float | None
    description: str
    status: str
    sources: tuple[str, ...]
    purpose_field: str | None
    personal_data: bool
    pipl_outbound: bool
    sensitive_personal_data: bool
    pipl_outbound_reason: str
    platform_status: str
    limits_authority: str
    fingerprint: FingerprintMode | None = None

    def cel_scenario(self) -> dict[str, Any]:
        """What a common rule's ``applies_if`` reads as ``scenario``."""
        return {
            "id": self.id,
            "version": self.version,
            "theme": self.theme,
            "requester_side": self.requester_side.value,
            "attester_side": self.attester_side.value,
            "purposes": list(self.purposes),
            "personal_data": self.personal_data,
            "pipl_outbound": self.pipl_outbound,
            "sensitive_personal_data": self.sensitive_personal_data,
        }


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        data = path.read_bytes()
        return tomllib.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()[:16]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleSetError(path, f"not readable TOML: {exc}") from exc


def _by_stage(rs: RuleSet) -> RuleSet:
    return replace(rs, by_stage={s: tuple(r for r in rs.rules if r.stage == s) for s in STAGES})


def _envelope_doc(path: Path) -> tuple[dict[str, Any], str]:
    doc, digest = _read(path)
    head = doc.get("envelope")
    if not isinstance(head, dict) or not isinstance(head.get("version"), str):
        raise RuleSetError(path, "needs an [envelope] table with a version")
    return doc, digest


def _load_envelope(path: Path, registry: SchemaRegistry, skew: timedelta) -> RuleSet:
    """The common rules as written, compiled without a scenario (for listings and checks of the file)."""
    doc, digest = _envelope_doc(path)
    return _by_stage(
        RuleSet(
            scenario_id="envelope",
            version=doc["envelope"]["version"],
            title="Common rules (C1-C11)",
            theme="all",
            requester_side="",
            attester_side="",
            purposes=(),
            request_subject="",
            attestation_subject="",
            path=str(path),
            digest=digest,
            rules=Compiler(path, registry, skew).rules(doc),
        )
    )


def _flag(path: Path, head: Mapping[str, Any], name: str) -> bool:
    value = head.get(name, False)
    if not isinstance(value, bool):
        raise RuleSetError(path, f"[scenario] {name} must be true or false")
    return value


def _pipl_reason(path: Path, head: Mapping[str, Any], personal_data: bool) -> str:
    """Why PIPL's outbound rules do or do not apply: every scenario with personal data must say so.

    PIPL Art 3 and 39 turn on where personal information is processed, not on whose it is: separate
    cross-border consent (C3) applies wherever personal information processed in the mainland leaves
    it, whatever the person's residence. ``pipl_outbound`` is that fact for the scenario, and the
    reason says which message carries which mainland-processed information out (or why none does), so
    the flag is a decision a reader can check rather than a guess at the person's nationality.
    """
    reason = head.get("pipl_outbound_reason", "")
    if not isinstance(reason, str):
        raise RuleSetError(path, "[scenario] pipl_outbound_reason must be a string")
    if personal_data and not reason.strip():
        raise RuleSetError(
            path, "[scenario] personal_data = true needs pipl_outbound_reason: why PIPL outbound rules apply"
        )
    return reason.strip()


def _fingerprint_mode(path: Path, head: Mapping[str, Any]) -> FingerprintMode | None:
    """``verification = "fingerprint"`` and what the lookup needs; None for live attestation.

    A scenario in this mode reads the registry record as its ``attestation`` (schema
    ``core/fingerprint``): its attestation-stage rules judge the record that was found.
    """
    mode = head.get("verification", "attestation")
    given = [k for k in _FINGERPRINT_KEYS[1:] if k in head]
    if mode == "attestation":
        if given:
            raise RuleSetError(path, f'[scenario] {", ".join(given)} need verification = "fingerprint"')
        return None
    if mode != "fingerprint":
        raise RuleSetError(path, '[scenario] verification must be "attestation" or "fingerprint"')
    values = {k: v for k in _FINGERPRINT_KEYS[1:] if isinstance(v := head.get(k), str) and v}
    missing = [k for k in _FINGERPRINT_KEYS[1:] if k not in values]
    if missing:
        raise RuleSetError(path, f'[scenario] verification = "fingerprint" needs {", ".join(missing)}')
    if not FORMS["code"].matches(values["document_type"]):
        raise RuleSetError(path, f"[scenario] document_type must be a code ({FORMS['code'].description})")
    if head.get("attestation_schema", FINGERPRINT_SCHEMA) != FINGERPRINT_SCHEMA:
        raise RuleSetError(path, f'[scenario] verification = "fingerprint" reads {FINGERPRINT_SCHEMA}')
    return FingerprintMode(**values)


def _header(path: Path, doc: Mapping[str, Any]) -> ScenarioHeader:
    head = doc.get("scenario")
    if not isinstance(head, dict):
        raise RuleSetError(path, "needs a [scenario] table")
    unknown = set(head) - _SCENARIO_KEYS
    if unknown:
        raise RuleSetError(path, f"unknown [scenario] keys {sorted(unknown)}")
    for key in ("id", "version", "title", "requester_side", "attester_side"):
        if not isinstance(head.get(key), str):
            raise RuleSetError(path, f"[scenario] needs {key}")
    sid = head["id"]
    if path.stem != sid:
        raise RuleSetError(path, f"file name must be {sid}.toml")
    try:
        requester, attester = Side(head["requester_side"]), Side(head["attester_side"])
    except ValueError:
        raise RuleSetError(path, "requester_side and attester_side must be HK or SZ") from None
    if requester == attester:
        raise RuleSetError(path, "a cross-boundary scenario has different requester and attester sides")
    purposes = head.get("purposes", [])
    code = FORMS["code"]  # the form of a consent's purpose_codes: a purpose outside it is never consented
    if not isinstance(purposes, list) or not all(isinstance(x, str) and code.matches(x) for x in purposes):
        raise RuleSetError(path, f"[scenario] purposes must be a list of purpose codes ({code.description})")
    sources = head.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
        raise RuleSetError(path, "[scenario] sources must be a list of strings")
    flags = {name: _flag(path, head, name) for name in _FLAGS}
    if (flags["pipl_outbound"] or flags["sensitive_personal_data"]) and not flags["personal_data"]:
        raise RuleSetError(
            path, "[scenario] pipl_outbound and sensitive_personal_data need personal_data = true"
        )
    reason = _pipl_reason(path, head, flags["personal_data"])
    platform = head.get("platform_status")
    if platform not in PLATFORM_STATUSES:
        raise RuleSetError(path, f"[scenario] platform_status must be one of {', '.join(PLATFORM_STATUSES)}")
    purpose_field = head.get("purpose_field")
    if purpose_field is not None and not isinstance(purpose_field, str):
        raise RuleSetError(path, "[scenario] purpose_field must be a payload field path")
    try:
        timeout_severity = Severity(str(head.get("timeout_severity", "reject")).upper())
    except ValueError:
        raise RuleSetError(path, "timeout_severity must be reject, review or warn") from None
    timeout_s = head.get("attestation_timeout_s")
    if timeout_s is not None and (
        isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0
    ):
        raise RuleSetError(path, "[scenario] attestation_timeout_s must be a positive number of seconds")
    authority = head.get("limits_authority", "")
    if not isinstance(authority, str):
        raise RuleSetError(path, "[scenario] limits_authority must be a string")
    fingerprint = _fingerprint_mode(path, head)
    attestation_default = f"scenarios/{sid}/attestation" if fingerprint is None else FINGERPRINT_SCHEMA
    return ScenarioHeader(
        id=sid,
        version=head["version"],
        title=head["title"],
        theme=str(head.get("theme", "")),
        requester_side=requester,
        attester_side=attester,
        purposes=tuple(purposes),
        request_subject=head.get("request_schema", f"scenarios/{sid}/request"),
        attestation_subject=head.get("attestation_schema", attestation_default),
        timeout_severity=timeout_severity,
        attestation_timeout_s=None if timeout_s is None else float(timeout_s),
        description=str(head.get("description", "")),
        status=str(head.get("status", "")),
        sources=tuple(sources),
        purpose_field=purpose_field,
        pipl_outbound_reason=reason,
        platform_status=str(platform),
        limits_authority=authority.strip(),
        fingerprint=fingerprint,
        **flags,
    )


def read_header(path: Path) -> ScenarioHeader:
    """The checked ``[scenario]`` table of a scenario file; its rules are not compiled (no schemas needed)."""
    return _header(path, _read(path)[0])


def _compiler(head: ScenarioHeader, path: Path, registry: SchemaRegistry, skew: timedelta) -> Compiler:
    comp = Compiler(path, registry, skew, head.cel_scenario(), head.purpose_field)
    comp.add_payloads(head.request_subject, head.attestation_subject)
    return comp


def _load_scenario(
    path: Path, registry: SchemaRegistry, skew: timedelta, envelope: tuple[Path, dict[str, Any]]
) -> RuleSet:
    doc, digest = _read(path)
    head = _header(path, doc)
    comp = _compiler(head, path, registry, skew)
    if head.purpose_field is not None:
        try:
            comp.check_path(head.purpose_field, "request", "[scenario] purpose_field")
        except RuleSetError as exc:
            raise RuleSetError(path, f"[scenario] purpose_field: {exc.fault}") from None
    if head.fingerprint is not None:
        for key in ("digest_field", "subject_field"):
            try:
                comp.check_path(getattr(head.fingerprint, key), "request", f"[scenario] {key}")
            except RuleSetError as exc:
                raise RuleSetError(path, f"[scenario] {key}: {exc.fault}") from None
    own = comp.rules(doc)
    env_path, env_doc = envelope
    try:
        common = _compiler(head, env_path, registry, skew).rules(env_doc) if env_doc.get("rules") else ()
    except RuleSetError as exc:
        raise RuleSetError(env_path, f"for scenario {head.id}: {exc.fault}", exc.rule_id) from None
    if head.fingerprint is not None:  # the registry record's rules, built from the header
        common += comp.rules({"rules": fingerprint_rules(head.fingerprint)})
    clash = {r.id for r in common} & {r.id for r in own}
    if clash:
        raise RuleSetError(path, f"rule ids {sorted(clash)} are already common rules in {env_path.name}")
    rules = common + own
    _check_authority(path, head, own)
    return _by_stage(
        RuleSet(
            scenario_id=head.id,
            version=head.version,
            title=head.title,
            theme=head.theme,
            requester_side=head.requester_side.value,
            attester_side=head.attester_side.value,
            purposes=head.purposes,
            request_subject=head.request_subject,
            attestation_subject=head.attestation_subject,
            path=str(path),
            digest=digest,
            rules=rules,
            timeout_severity=head.timeout_severity,
            attestation_timeout_s=head.attestation_timeout_s,
            description=head.description,
            status=head.status,
            sources=head.sources,
            purpose_field=head.purpose_field,
            common_rule_ids=frozenset(r.id for r in common),
            steps=steps(rules, head.id),
            personal_data=head.personal_data,
            pipl_outbound=head.pipl_outbound,
            pipl_outbound_reason=head.pipl_outbound_reason,
            platform_status=head.platform_status,
            limits_authority=head.limits_authority,
            sensitive_personal_data=head.sensitive_personal_data,
            fingerprint=head.fingerprint,
        )
    )


def _check_authority(path: Path, head: ScenarioHeader, rules: tuple[Rule, ...]) -> None:
    """A scenario with per-person ledgers says who is authoritative for its limits.

    A ledger keyed by a person's ledger reference (a ``*_ledger_ref`` field: an HMAC under the
    requester's own key) counts what one requesting institution sent. Where a limit spans institutions
    (a wallet's limits at its operator, a quota across channels) the platform's count is a cross-check
    of the holder's figure, and the header must say whose figure decides (``limits_authority``).
    """
    keyed = [
        r.id for r in rules if r.stage == "quota" and any(k.endswith("_ledger_ref") for k in r.params["key"])
    ]
    if keyed and not head.limits_authority:
        raise RuleSetError(
            path,
            f"[scenario] needs limits_authority: {', '.join(keyed)} keep per-person ledgers; say who is "
            "authoritative for limits that span institutions, with the source",
        )


def load_catalogue(
    rulesets_dir: Path, registry: SchemaRegistry, clock_skew: timedelta = timedelta(minutes=5)
) -> Catalogue:
    """Load ``envelope.toml`` (the common rules) and every ``<scenario>.toml`` in ``rulesets_dir``.

    The common rules are compiled once per scenario, against that scenario's schemas and properties
    (``applies_if``), and run before the scenario's own rules of the same stage.
    """
    if not rulesets_dir.is_dir():
        raise RuleSetError(rulesets_dir, "rule-set directory not found")
    envelope_path = rulesets_dir / ENVELOPE_FILE
    if not envelope_path.is_file():
        raise RuleSetError(envelope_path, "envelope rule file missing")
    envelope = _load_envelope(envelope_path, registry, clock_skew)
    env_doc, _ = _envelope_doc(envelope_path)
    scenarios: dict[str, RuleSet] = {}
    for path in sorted(rulesets_dir.glob("*.toml")):
        if path.name == ENVELOPE_FILE:
            continue
        rs = _load_scenario(path, registry, clock_skew, (envelope_path, env_doc))
        scenarios[rs.scenario_id] = rs
    if not scenarios:
        raise RuleSetError(rulesets_dir, "no scenario rule files found")
    return Catalogue(envelope, scenarios)
