"""Load and compile rule files (TOML). A bad file stops start-up naming the file, the rule and the fault.

File layout (see README, "Rule sets")::

    [scenario]
    id = "payment_connect_northbound"
    version = "1.0.0"
    title = "..."                      theme = "payments"
    requester_side = "HK"              attester_side = "SZ"
    purposes = ["PAYMENT"]
    request_schema = "scenarios/payment_connect_northbound/request"
    attestation_schema = "scenarios/payment_connect_northbound/attestation"
    timeout_severity = "reject"        # finding ATTESTATION_TIMEOUT

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
    key = "payload.payer_hkid_hmac"
    amount = "payload.amount_hkd"
    window = "day"
    limit = "10000"

``envelope.toml`` holds the rules every request passes first; it has ``[envelope]`` instead of
``[scenario]``.
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
from crossbound.errors import RuleSetError, SchemaError
from crossbound.rules.checks import CHECKS, CheckEnv, compile_cel
from crossbound.rules.model import STAGES, Rule, RuleSet, Severity, WhenFn

__all__ = ["ENVELOPE_FILE", "Catalogue", "load_catalogue"]

ENVELOPE_FILE = "envelope.toml"
_SIDES = ("HK", "SZ")
_RULE_KEYS = {"id", "stage", "severity", "check", "fields", "params", "when", "description", "source"}
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
    "description",
    "sources",
}


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The envelope rules plus every scenario's rule set, compiled."""

    envelope: RuleSet
    scenarios: Mapping[str, RuleSet]


def _fields_of(registry: SchemaRegistry, subject: str) -> set[str]:
    return {f["name"] for f in registry.current(subject).raw["fields"]}


def _consent_fields(registry: SchemaRegistry) -> set[str]:
    for fld in registry.current("core/request").raw["fields"]:
        if fld["name"] == "consent":
            return {f["name"] for f in fld["type"][1]["fields"]}
    return set()


class _Compiler:
    def __init__(self, path: Path, registry: SchemaRegistry, skew: timedelta) -> None:
        self.path = path
        self.registry = registry
        self.skew = skew
        self.roots: dict[str, set[str]] = {
            "request": _fields_of(registry, "core/request"),
            "consent": _consent_fields(registry),
        }
        self.digest_fields: tuple[str, ...] = ()

    def fail(self, fault: str, rule_id: str | None = None) -> RuleSetError:
        return RuleSetError(self.path, fault, rule_id)

    def add_payloads(self, request_subject: str, attestation_subject: str) -> None:
        for root, subject in (("payload", request_subject), ("attestation", attestation_subject)):
            try:
                version = self.registry.current(subject)
            except SchemaError:
                raise self.fail(f"schema {subject!r} not found in the schemas directory") from None
            self.roots[root] = set(version.field_classes)
        req = self.registry.current(request_subject).field_classes
        att = self.registry.current(attestation_subject).field_classes
        self.digest_fields = tuple(
            [f"payload.{n}" for n, c in req.items() if c == "D"]
            + [f"attestation.{n}" for n, c in att.items() if c == "D"]
        )

    def check_path(self, path: str, stage: str, rule_id: str) -> None:
        root, _, rest = path.partition(".")
        first = rest.split(".", 1)[0]
        if root not in self.roots:
            allowed = ", ".join(sorted(self.roots))
            raise self.fail(f"field {path!r} must start with one of: {allowed}", rule_id)
        if root == "attestation" and stage == "request":
            raise self.fail(f"field {path!r} is not known before the attestation (stage is request)", rule_id)
        if first not in self.roots[root]:
            raise self.fail(f"field {path!r}: no field {first!r} in the {root} schema", rule_id)

    def rule(self, raw: Any, index: int) -> Rule:
        if not isinstance(raw, dict):
            raise self.fail(f"rules[{index}] must be a table")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise self.fail(f"rules[{index}] needs an id")
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise self.fail(f"unknown keys {sorted(unknown)}", rule_id)
        stage = raw.get("stage", "request")
        if stage not in STAGES:
            raise self.fail(f"stage must be one of {STAGES}, got {stage!r}", rule_id)
        try:
            severity = Severity(str(raw.get("severity", "")).upper())
        except ValueError:
            raise self.fail("severity must be reject, review or warn", rule_id) from None
        check = raw.get("check")
        if check not in CHECKS:
            raise self.fail(f"check must be one of {sorted(CHECKS)}, got {check!r}", rule_id)
        if (check == "quota") != (stage == "quota"):
            raise self.fail(
                "quota checks run in stage quota, and stage quota runs only quota checks", rule_id
            )
        fields = raw.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise self.fail("fields must be a list of field paths", rule_id)
        for f in fields:
            self.check_path(f, stage, rule_id)
        raw_params = raw.get("params", {})
        if not isinstance(raw_params, dict):
            raise self.fail("params must be a table", rule_id)
        params = dict(raw_params)
        for key in ("purpose_field", "against", "key", "amount"):
            if key in params:
                self.check_path(str(params[key]), stage, rule_id)
        params["_rule_id"] = rule_id
        env = CheckEnv(digest_fields=self.digest_fields, clock_skew=self.skew)
        try:
            fn = CHECKS[check](fields, params, env)
            when: WhenFn | None = None
            programs = []
            if check == "cel" and "expr" in params:
                programs.append(compile_cel(str(params["expr"])))
            if "when" in raw:
                run = compile_cel(str(raw["when"]))
                programs.append(run)

                def when(ctx: Any, _run: Any = run) -> bool:
                    result = _run(ctx)
                    if not isinstance(result, bool):
                        raise TypeError("`when` did not return a boolean")
                    return result

            for prog in programs:
                if stage == "request" and "attestation" in prog.roots:
                    raise ValueError("CEL reads `attestation`, which is not known in stage request")

        except ValueError as exc:
            raise self.fail(str(exc), rule_id) from None
        return Rule(
            id=rule_id,
            stage=stage,
            severity=severity,
            check=check,
            fields=tuple(fields),
            description=str(raw.get("description", "")),
            source=str(raw.get("source", "")),
            params={k: v for k, v in params.items() if not k.startswith("_")},
            fn=fn,
            when=when,
        )

    def rules(self, doc: Mapping[str, Any]) -> tuple[Rule, ...]:
        raw_rules = doc.get("rules", [])
        if not isinstance(raw_rules, list) or not raw_rules:
            raise self.fail("needs at least one [[rules]] entry")
        compiled = tuple(self.rule(r, i) for i, r in enumerate(raw_rules))
        seen: set[str] = set()
        for r in compiled:
            if r.id in seen:
                raise self.fail("duplicate rule id", r.id)
            seen.add(r.id)
        return compiled


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        data = path.read_bytes()
        return tomllib.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()[:16]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleSetError(path, f"not readable TOML: {exc}") from exc


def _by_stage(rs: RuleSet) -> RuleSet:
    return replace(rs, by_stage={s: tuple(r for r in rs.rules if r.stage == s) for s in STAGES})


def _load_envelope(path: Path, registry: SchemaRegistry, skew: timedelta) -> RuleSet:
    doc, digest = _read(path)
    head = doc.get("envelope")
    if not isinstance(head, dict) or not isinstance(head.get("version"), str):
        raise RuleSetError(path, "needs an [envelope] table with a version")
    comp = _Compiler(path, registry, skew)
    rules = comp.rules(doc)
    for r in rules:
        if r.stage != "request":
            raise RuleSetError(path, "envelope rules run in stage request", r.id)
    return _by_stage(
        RuleSet(
            "envelope", head["version"], "Envelope rules", "all", "", "", (), "", "", str(path), digest, rules
        )
    )


def _load_scenario(path: Path, registry: SchemaRegistry, skew: timedelta) -> RuleSet:
    doc, digest = _read(path)
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
    if head["requester_side"] not in _SIDES or head["attester_side"] not in _SIDES:
        raise RuleSetError(path, "requester_side and attester_side must be HK or SZ")
    if head["requester_side"] == head["attester_side"]:
        raise RuleSetError(path, "a cross-boundary scenario has different requester and attester sides")
    req_subject = head.get("request_schema", f"scenarios/{sid}/request")
    att_subject = head.get("attestation_schema", f"scenarios/{sid}/attestation")
    comp = _Compiler(path, registry, skew)
    comp.add_payloads(req_subject, att_subject)
    rules = comp.rules(doc)
    keys = {str(r.params["key"]) for r in rules if r.check == "quota"}
    if len(keys) > 1:
        raise RuleSetError(
            path, f"all quota rules must share one key (the repartition key), found {sorted(keys)}"
        )
    try:
        timeout_sev = Severity(str(head.get("timeout_severity", "reject")).upper())
    except ValueError:
        raise RuleSetError(path, "timeout_severity must be reject, review or warn") from None
    return _by_stage(
        RuleSet(
            scenario_id=sid,
            version=head["version"],
            title=head["title"],
            theme=str(head.get("theme", "")),
            requester_side=head["requester_side"],
            attester_side=head["attester_side"],
            purposes=tuple(head.get("purposes", ())),
            request_subject=req_subject,
            attestation_subject=att_subject,
            path=str(path),
            digest=digest,
            rules=rules,
            timeout_severity=timeout_sev,
            quota_key=next(iter(keys)) if keys else None,
            description=str(head.get("description", "")),
        )
    )


def load_catalogue(
    rulesets_dir: Path, registry: SchemaRegistry, clock_skew: timedelta = timedelta(minutes=5)
) -> Catalogue:
    """Load ``envelope.toml`` and every ``<scenario>.toml`` in ``rulesets_dir``."""
    if not rulesets_dir.is_dir():
        raise RuleSetError(rulesets_dir, "rule-set directory not found")
    envelope_path = rulesets_dir / ENVELOPE_FILE
    if not envelope_path.is_file():
        raise RuleSetError(envelope_path, "envelope rule file missing")
    envelope = _load_envelope(envelope_path, registry, clock_skew)
    scenarios: dict[str, RuleSet] = {}
    for path in sorted(rulesets_dir.glob("*.toml")):
        if path.name == ENVELOPE_FILE:
            continue
        rs = _load_scenario(path, registry, clock_skew)
        scenarios[rs.scenario_id] = rs
    if not scenarios:
        raise RuleSetError(rulesets_dir, "no scenario rule files found")
    return Catalogue(envelope, scenarios)
