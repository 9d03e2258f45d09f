"""Compile one ``[[rules]]`` table into a :class:`~crossbound.rules.model.Rule`.

A :class:`Compiler` knows one rule file and what its rules may read: the request, consent, payload
and attestation schemas' fields (a path to a field that does not exist is a load error, not a rule
that never fails), the payloads' digest and clear-text fields, and the scenario header that a common
rule's ``applies_if`` reads. A rule's dated params (``[[rules.params_in_force]]``,
:mod:`crossbound.rules.dated`) are compiled once each, and the rule picks by the request's date.
Every fault raises :class:`~crossbound.errors.RuleSetError` naming the file and the rule. The check
itself is built by its factory in :data:`~crossbound.rules.checks.CHECKS` from the rule's fields,
params and a :class:`~crossbound.rules.checks.CheckEnv`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from crossbound.codec import SchemaRegistry
from crossbound.errors import RuleSetError, SchemaError
from crossbound.rules.cel import CelProgram, compile_cel
from crossbound.rules.checks import CHECKS, CheckEnv
from crossbound.rules.dated import by_date, variants
from crossbound.rules.model import STAGES, Context, Rule, Severity, WhenFn
from crossbound.rules.stateful import STATEFUL

__all__ = ["Compiler", "request_memo"]

# a precondition that reads the request alone (no ``now``, no attestation) has one value per request,
# whatever the stage or hop: its memo entries are tagged so that a hop may take them over
_REQUEST_ONLY = "when:request"
_REQUEST_ROOTS = frozenset({"request", "payload", "consent"})

_RULE_KEYS = {
    "id",
    "stage",
    "severity",
    "check",
    "fields",
    "params",
    "params_in_force",
    "when",
    "count_when",
    "applies_if",
    "description",
    "source",
}


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


def _when(run: CelProgram) -> WhenFn:
    """A rule's precondition; rules sharing one (C9, C10, a quota's same_name) evaluate it once.

    The memo is per request and stage: CEL costs tens of microseconds, the memo a dict lookup. A
    precondition over the request alone is one a later hop of the same request may take over
    (:func:`request_memo`).
    """
    key = (_REQUEST_ONLY if set(run.roots) <= _REQUEST_ROOTS else "when", run.expr)

    def when(ctx: Context) -> bool:
        memo = ctx.memo
        result = memo.get(key)
        if result is None:
            result = run(ctx)
            if not isinstance(result, bool):
                raise TypeError("`when` did not return a boolean")
            memo[key] = result
        return bool(result)

    return when


def request_memo(memo: Mapping[Any, Any]) -> dict[Any, Any]:
    """The entries of a context's memo that hold for any context of the same request and payload
    objects: the preconditions that read neither ``now`` nor the attestation."""
    return {k: v for k, v in memo.items() if type(k) is tuple and k[0] == _REQUEST_ONLY}


class Compiler:
    """Compiles the rules of one file against the schemas (and scenario) they run on."""

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
        """The error for a fault in this file (and rule)."""
        return RuleSetError(self.path, fault, rule_id)

    def add_payloads(self, request_subject: str, attestation_subject: str) -> None:
        """Make the scenario's payload and attestation fields readable (``payload.``, ``attestation.``)."""
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
        """Refuse a path to a root or field the stage cannot read."""
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
        """Compile ``rules[index]``."""
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
                for path in (*params["key"], *params.get("key_next", ())):
                    self.check_path(path, stage, rule_id)
        except ValueError as exc:
            raise self.fail(str(exc), rule_id) from None
        for key in ("purpose_field", "against", "amount", "value", "subject"):
            if key in params:
                self.check_path(str(params[key]), stage, rule_id)
        env = CheckEnv(
            rule_id=rule_id,
            digest_fields=self.digest_fields.get(stage, ()),
            clock_skew=self.skew,
            clear_fields=self.clear_fields.get(stage, ()),
            scenario=self.scenario or {},
            purpose_field=self.purpose_field,
        )
        try:
            dated = variants(raw.get("params_in_force"), params)
            programs = []
            fns = []
            for figures in (params, *(p for _, p in dated)):
                fns.append(
                    STATEFUL[check].compile(fields, figures, env)
                    if check in STATEFUL
                    else CHECKS[check](fields, figures, env)
                )
                if check == "cel" and "expr" in figures:
                    programs.append(compile_cel(str(figures["expr"])))
            fn = by_date([start for start, _ in dated], fns) if dated else fns[0]
            when: WhenFn | None = None
            if "when" in raw:
                run = compile_cel(str(raw["when"]))
                programs.append(run)
                when = _when(run)
            count_when: WhenFn | None = None
            if "count_when" in raw:
                if check not in STATEFUL:
                    raise ValueError("count_when is for stateful rules (stage quota): what they count")
                run = compile_cel(str(raw["count_when"]))
                programs.append(run)
                count_when = _when(run)
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
            params=params,
            fn=fn,
            when=when,
            count_when=count_when,
        )

    def rules(self, doc: Mapping[str, Any]) -> tuple[Rule, ...]:
        """Compile a file's ``[[rules]]`` (the common rules whose ``applies_if`` holds); ids are unique."""
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
