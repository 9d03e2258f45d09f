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
from crossbound.rules.stateful import STATEFUL, steps

__all__ = ["ENVELOPE_FILE", "Catalogue", "load_catalogue"]

ENVELOPE_FILE = "envelope.toml"
_SIDES = ("HK", "SZ")
_RULE_KEYS = {
    "id",
    "stage",
    "severity",
    "check",
    "fields",
    "params",
    "when",
    "applies_if",
    "description",
    "source",
}
_FLAGS = ("personal_data", "mainland_personal_data", "sensitive_personal_data")
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
    "purpose_field",
    *_FLAGS,
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


def _is_text(avro_type: Any) -> bool:
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return len(rest) == 1 and _is_text(rest[0])
    if avro_type == "string":
        return True
    return isinstance(avro_type, dict) and (
        avro_type.get("type") == "string"
        or (avro_type.get("type") == "array" and _is_text(avro_type.get("items")))
    )


def _clear_text_fields(
    registry: SchemaRegistry, subject: str, root: str
) -> tuple[tuple[str, str | None], ...]:
    """Class C fields holding text, with the identifier kind their schema declares (``"kind"``)."""
    return tuple(
        (f"{root}.{f['name']}", f.get("kind"))
        for f in registry.current(subject).raw["fields"]
        if f.get("class") == "C" and _is_text(f["type"])
    )


class _Compiler:
    def __init__(
        self,
        path: Path,
        registry: SchemaRegistry,
        skew: timedelta,
        scenario: Mapping[str, Any] | None = None,
        purpose_field: str | None = None,
    ) -> None:
        self.path = path
        self.registry = registry
        self.skew = skew
        self.scenario = scenario  # None: compiled without a scenario (the envelope's own listing)
        self.purpose_field = purpose_field
        self.roots: dict[str, set[str]] = {
            "request": _fields_of(registry, "core/request"),
            "consent": _consent_fields(registry),
        }
        self.digest_fields: dict[str, tuple[str, ...]] = {}
        self.clear_fields: dict[str, tuple[tuple[str, str | None], ...]] = {}

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
        self.digest_fields = {
            "request": tuple(f"payload.{n}" for n, c in req.items() if c == "D"),
            "attestation": tuple(f"attestation.{n}" for n, c in att.items() if c == "D"),
        }
        self.clear_fields = {
            "request": _clear_text_fields(self.registry, request_subject, "payload"),
            "attestation": _clear_text_fields(self.registry, attestation_subject, "attestation"),
        }

    def applies(self, raw: Mapping[str, Any], rule_id: str) -> bool:
        """Evaluate a common rule's ``applies_if`` (CEL over ``scenario`` only) once, at load time."""
        if "applies_if" not in raw:
            return True
        try:
            prog = compile_cel(str(raw["applies_if"]), roots=frozenset({"scenario"}))
        except ValueError as exc:
            raise self.fail(f"applies_if: {exc}", rule_id) from None
        if self.scenario is None:
            return True
        result = prog.program.execute({"scenario": dict(self.scenario)})
        if not isinstance(result, bool):
            raise self.fail("applies_if did not return a boolean", rule_id)
        return result

    def check_path(self, path: str, stage: str, rule_id: str) -> None:
        root, _, rest = path.partition(".")
        first = rest.split(".", 1)[0]
        if root not in self.roots:
            allowed = ", ".join(sorted(self.roots))
            raise self.fail(f"field {path!r} must start with one of: {allowed}", rule_id)
        if root == "attestation" and stage != "attestation":
            raise self.fail(f"field {path!r}: the attestation is only readable in stage attestation", rule_id)
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
        if not isinstance(check, str) or (check not in CHECKS and check not in STATEFUL):
            raise self.fail(f"check must be one of {sorted([*CHECKS, *STATEFUL])}, got {check!r}", rule_id)
        if (check in STATEFUL) != (stage == "quota"):
            raise self.fail(
                f"stateful checks ({', '.join(sorted(STATEFUL))}) run in stage quota, "
                "and stage quota runs only those",
                rule_id,
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
        try:
            if check in STATEFUL:
                params = STATEFUL[check].params(params)
                for path in params["key"]:
                    self.check_path(path, stage, rule_id)
        except ValueError as exc:
            raise self.fail(str(exc), rule_id) from None
        for key in ("purpose_field", "against", "amount", "value", "subject"):
            if key in params:
                self.check_path(str(params[key]), stage, rule_id)
        params["_rule_id"] = rule_id
        env = CheckEnv(
            digest_fields=self.digest_fields.get(stage, ()),
            clock_skew=self.skew,
            clear_fields=self.clear_fields.get(stage, ()),
            scenario=self.scenario or {},
            purpose_field=self.purpose_field,
        )
        try:
            fn = (
                STATEFUL[check].compile(fields, params, env)
                if check in STATEFUL
                else CHECKS[check](fields, params, env)
            )
            when: WhenFn | None = None
            programs = []
            if check == "cel" and "expr" in params:
                programs.append(compile_cel(str(params["expr"])))
            if "when" in raw:
                run = compile_cel(str(raw["when"]))
                programs.append(run)

                def when(ctx: Any, _run: Any = run, _key: tuple[str, str] = ("when", run.expr)) -> bool:
                    # rules sharing a precondition (C9, C10, a quota's same_name) evaluate it once per
                    # request and stage: CEL costs tens of microseconds, the memo a dict lookup
                    memo = ctx.memo
                    result = memo.get(_key)
                    if result is None:
                        result = _run(ctx)
                        if not isinstance(result, bool):
                            raise TypeError("`when` did not return a boolean")
                        memo[_key] = result
                    return bool(result)

            for prog in programs:
                if stage != "attestation" and "attestation" in prog.roots:
                    raise ValueError(f"CEL reads `attestation`, which is not readable in stage {stage}")

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
        compiled = tuple(
            self.rule(r, i)
            for i, r in enumerate(raw_rules)
            if not isinstance(r, dict) or self.applies(r, str(r.get("id", f"rules[{i}]")))
        )
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


def _envelope_doc(path: Path) -> tuple[dict[str, Any], str]:
    doc, digest = _read(path)
    head = doc.get("envelope")
    if not isinstance(head, dict) or not isinstance(head.get("version"), str):
        raise RuleSetError(path, "needs an [envelope] table with a version")
    return doc, digest


def _load_envelope(path: Path, registry: SchemaRegistry, skew: timedelta) -> RuleSet:
    """The common rules as written, compiled without a scenario (for listings and checks of the file)."""
    doc, digest = _envelope_doc(path)
    rules = _Compiler(path, registry, skew).rules(doc)
    return _by_stage(
        RuleSet(
            "envelope",
            doc["envelope"]["version"],
            "Common rules (C1-C10)",
            "all",
            "",
            "",
            (),
            "",
            "",
            str(path),
            digest,
            rules,
        )
    )


def _flag(path: Path, head: Mapping[str, Any], name: str) -> bool:
    value = head.get(name, False)
    if not isinstance(value, bool):
        raise RuleSetError(path, f"[scenario] {name} must be true or false")
    return value


def _load_scenario(
    path: Path, registry: SchemaRegistry, skew: timedelta, envelope: tuple[Path, dict[str, Any]]
) -> RuleSet:
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
    purposes = head.get("purposes", [])
    if not isinstance(purposes, list) or not all(isinstance(x, str) and x for x in purposes):
        raise RuleSetError(path, "[scenario] purposes must be a list of purpose codes")
    sources = head.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
        raise RuleSetError(path, "[scenario] sources must be a list of strings")
    flags = {name: _flag(path, head, name) for name in _FLAGS}
    if (flags["mainland_personal_data"] or flags["sensitive_personal_data"]) and not flags["personal_data"]:
        raise RuleSetError(
            path, "[scenario] mainland_personal_data and sensitive_personal_data need personal_data = true"
        )
    req_subject = head.get("request_schema", f"scenarios/{sid}/request")
    att_subject = head.get("attestation_schema", f"scenarios/{sid}/attestation")
    purpose_field = head.get("purpose_field")
    header = {
        "id": sid,
        "version": head["version"],
        "theme": str(head.get("theme", "")),
        "requester_side": head["requester_side"],
        "attester_side": head["attester_side"],
        "purposes": list(purposes),
        **flags,
    }
    comp = _Compiler(path, registry, skew, header, purpose_field)
    comp.add_payloads(req_subject, att_subject)
    if purpose_field is not None:
        if not isinstance(purpose_field, str):
            raise RuleSetError(path, "[scenario] purpose_field must be a payload field path")
        try:
            comp.check_path(purpose_field, "request", "[scenario] purpose_field")
        except RuleSetError as exc:
            raise RuleSetError(path, f"[scenario] purpose_field: {exc.fault}") from None
    own = comp.rules(doc)
    env_path, env_doc = envelope
    env_comp = _Compiler(env_path, registry, skew, header, purpose_field)
    env_comp.add_payloads(req_subject, att_subject)
    try:
        common = env_comp.rules(env_doc) if env_doc.get("rules") else ()
    except RuleSetError as exc:
        raise RuleSetError(env_path, f"for scenario {sid}: {exc.fault}", exc.rule_id) from None
    clash = {r.id for r in common} & {r.id for r in own}
    if clash:
        raise RuleSetError(path, f"rule ids {sorted(clash)} are already common rules in {env_path.name}")
    rules = common + own
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
            purposes=tuple(purposes),
            request_subject=req_subject,
            attestation_subject=att_subject,
            path=str(path),
            digest=digest,
            rules=rules,
            timeout_severity=timeout_sev,
            description=str(head.get("description", "")),
            status=str(head.get("status", "")),
            sources=tuple(sources),
            purpose_field=purpose_field,
            common_rule_ids=frozenset(r.id for r in common),
            steps=steps(rules, sid),
            personal_data=flags["personal_data"],
            mainland_personal_data=flags["mainland_personal_data"],
            sensitive_personal_data=flags["sensitive_personal_data"],
        )
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
