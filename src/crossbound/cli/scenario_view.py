"""The scenario catalogue for people: what ``crossbound scenarios list|show`` prints.

Pure functions over a loaded :class:`~crossbound.rules.Catalogue` and its
:class:`~crossbound.codec.SchemaRegistry`: they return views (frozen dataclasses), JSON-ready dicts and
strings, and print nothing. :mod:`crossbound.cli.scenarios` wires arguments to them, and
``scripts/update_readme.py`` (``make readme``) writes README's scenario table from :func:`scenario_rows`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from crossbound.codec import FIELD_CLASSES, SchemaRegistry
from crossbound.rules import Catalogue, RuleSet, load_catalogue

__all__ = [
    "FieldView",
    "RuleView",
    "ScenarioRow",
    "ScenarioView",
    "avro_type_name",
    "format_list",
    "format_scenario",
    "load",
    "scenario_row",
    "scenario_rows",
    "scenario_view",
]

_ARROW: Final = "→"
_WRAP: Final = 100


@dataclass(frozen=True, slots=True)
class ScenarioRow:
    """One line of ``scenarios list`` and of README's scenario table."""

    id: str
    version: str
    requester_side: str
    attester_side: str
    theme: str
    status: str
    own_rules: int
    common_rules: int
    title: str
    pipl_outbound: bool = False
    platform_status: str = ""

    @property
    def direction(self) -> str:
        """Requester side to attester side, e.g. ``HK → SZ``."""
        return f"{self.requester_side} {_ARROW} {self.attester_side}"

    @property
    def rules(self) -> int:
        """Every rule the scenario runs: its own plus the common ones."""
        return self.own_rules + self.common_rules

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "version": self.version,
            "requester_side": self.requester_side,
            "attester_side": self.attester_side,
            "theme": self.theme,
            "status": self.status,
            "rules": self.rules,
            "own_rules": self.own_rules,
            "common_rules": self.common_rules,
            "title": self.title,
            "pipl_outbound": self.pipl_outbound,
            "platform_status": self.platform_status,
        }


@dataclass(frozen=True, slots=True)
class FieldView:
    """One top-level payload field: what crosses, and in what form (its class)."""

    name: str
    cls: str
    type: str
    doc: str

    def as_json(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"name": self.name, "class": self.cls, "type": self.type, "doc": self.doc}


@dataclass(frozen=True, slots=True)
class RuleView:
    """One rule as documented; ``common`` for the rules of ``envelope.toml``."""

    id: str
    stage: str
    severity: str
    check: str
    fields: tuple[str, ...]
    description: str
    source: str
    params: Mapping[str, Any]
    common: bool

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "stage": self.stage,
            "severity": self.severity,
            "check": self.check,
            "fields": list(self.fields),
            "description": self.description,
            "source": self.source,
            "params": _jsonable(self.params),
            "common": self.common,
        }


@dataclass(frozen=True, slots=True)
class ScenarioView:
    """Everything ``scenarios show`` prints about one scenario."""

    row: ScenarioRow
    purposes: tuple[str, ...]
    purpose_field: str | None
    personal_data: bool
    pipl_outbound: bool
    pipl_outbound_reason: str
    sensitive_personal_data: bool
    sources: tuple[str, ...]
    description: str
    timeout_severity: str
    request_subject: str
    request_fields: tuple[FieldView, ...]
    attestation_subject: str
    attestation_fields: tuple[FieldView, ...]
    rules: tuple[RuleView, ...]
    verification: str = "attestation"  # or how a fingerprint-mode scenario looks its document up

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form: the row's keys, but ``rules`` lists the rules; fields grouped by class."""
        return {
            **self.row.as_json(),
            "purposes": list(self.purposes),
            "purpose_field": self.purpose_field,
            "personal_data": self.personal_data,
            "pipl_outbound": self.pipl_outbound,
            "pipl_outbound_reason": self.pipl_outbound_reason,
            "sensitive_personal_data": self.sensitive_personal_data,
            "sources": list(self.sources),
            "description": self.description,
            "timeout_severity": self.timeout_severity,
            "request": {"schema": self.request_subject, "fields": _grouped_json(self.request_fields)},
            "attestation": {
                "schema": self.attestation_subject,
                "fields": _grouped_json(self.attestation_fields),
            },
            "rules": [r.as_json() for r in self.rules],
            "verification": self.verification,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _by_class(fields: Sequence[FieldView]) -> dict[str, list[FieldView]]:
    groups: dict[str, list[FieldView]] = {cls: [] for cls in FIELD_CLASSES}
    for f in fields:
        groups.setdefault(f.cls, []).append(f)
    return groups


def _grouped_json(fields: Sequence[FieldView]) -> dict[str, list[dict[str, str]]]:
    return {cls: [f.as_json() for f in group] for cls, group in _by_class(fields).items()}


# --------------------------------------------------------------------------------------------------
# Building the views
# --------------------------------------------------------------------------------------------------


def avro_type_name(avro_type: Any) -> str:
    """A short readable name of an Avro type: ``string?``, ``decimal(18,2)``, ``enum(A|B)``, ``date``."""
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        name = " | ".join(avro_type_name(t) for t in rest)
        return f"{name}?" if len(rest) < len(avro_type) else name
    if not isinstance(avro_type, Mapping):
        return str(avro_type)
    logical = avro_type.get("logicalType")
    if logical == "decimal":
        return f"decimal({avro_type.get('precision')},{avro_type.get('scale', 0)})"
    if logical is not None:
        return str(logical)
    kind = avro_type.get("type")
    if kind == "enum":
        return f"enum({'|'.join(avro_type.get('symbols', ()))})"
    if kind == "array":
        return f"array<{avro_type_name(avro_type.get('items'))}>"
    if kind == "map":
        return f"map<{avro_type_name(avro_type.get('values'))}>"
    if kind in ("record", "fixed"):
        return f"{kind} {avro_type.get('name', '')}".rstrip()
    return avro_type_name(kind)


def _fields(registry: SchemaRegistry, subject: str) -> tuple[FieldView, ...]:
    return tuple(
        FieldView(
            name=str(f["name"]),
            cls=str(f.get("class", "?")),
            type=avro_type_name(f["type"]),
            doc=str(f.get("doc", "")),
        )
        for f in registry.current(subject).raw["fields"]
    )


def scenario_row(rs: RuleSet) -> ScenarioRow:
    """The one-line summary of a rule set."""
    common = sum(1 for r in rs.rules if r.id in rs.common_rule_ids)
    return ScenarioRow(
        id=rs.scenario_id,
        version=rs.version,
        requester_side=rs.requester_side,
        attester_side=rs.attester_side,
        theme=rs.theme,
        status=rs.status,
        own_rules=len(rs.rules) - common,
        common_rules=common,
        title=rs.title,
        pipl_outbound=rs.pipl_outbound,
        platform_status=rs.platform_status,
    )


def scenario_rows(catalogue: Catalogue) -> list[ScenarioRow]:
    """One row per scenario, by id."""
    return [scenario_row(catalogue.scenarios[sid]) for sid in sorted(catalogue.scenarios)]


def _verification(rs: RuleSet) -> str:
    mode = rs.fingerprint
    if mode is None:
        return "attestation"
    return (
        f"fingerprint: a {mode.document_type} looked up by {mode.digest_field}, subject {mode.subject_field}"
    )


def scenario_view(rs: RuleSet, registry: SchemaRegistry) -> ScenarioView:
    """Everything about one scenario: sides, purposes, flags, fields by class, rules."""
    return ScenarioView(
        row=scenario_row(rs),
        purposes=rs.purposes,
        purpose_field=rs.purpose_field,
        personal_data=rs.personal_data,
        pipl_outbound=rs.pipl_outbound,
        pipl_outbound_reason=rs.pipl_outbound_reason,
        sensitive_personal_data=rs.sensitive_personal_data,
        sources=rs.sources,
        description=rs.description,
        timeout_severity=rs.timeout_severity.value,
        request_subject=rs.request_subject,
        request_fields=_fields(registry, rs.request_subject),
        attestation_subject=rs.attestation_subject,
        attestation_fields=_fields(registry, rs.attestation_subject),
        verification=_verification(rs),
        rules=tuple(
            RuleView(
                id=r.id,
                stage=r.stage,
                severity=r.severity.value,
                check=r.check,
                fields=r.fields,
                description=r.description,
                source=r.source,
                params=r.params,
                common=r.id in rs.common_rule_ids,
            )
            for r in rs.rules
        ),
    )


def load(schemas_dir: Path, rulesets_dir: Path) -> tuple[Catalogue, SchemaRegistry]:
    """Load the schemas and the rule sets (raises :class:`~crossbound.errors.ConfigError`)."""
    registry = SchemaRegistry.load(schemas_dir)
    return load_catalogue(rulesets_dir, registry), registry


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(cell) for cell in col) for col in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]


def format_list(rows: Sequence[ScenarioRow]) -> str:
    """``scenarios list``: one aligned line per scenario; ``rules`` counts own plus common rules."""
    header = ("id", "sides", "theme", "status", "pipl_out", "rules", "title")
    body = [
        (r.id, r.direction, r.theme, r.status or "-", _yes(r.pipl_outbound), str(r.rules), r.title)
        for r in rows
    ]
    return "\n".join(_table(header, body))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WRAP, initial_indent=indent, subsequent_indent=indent) if text else []


def _field_lines(title: str, subject: str, fields: Sequence[FieldView]) -> list[str]:
    lines = [f"{title} fields ({subject})"]
    if not fields:
        return [*lines, "  (none)"]
    name_w = max(len(f.name) for f in fields)
    type_w = max(len(f.type) for f in fields)
    for cls, group in _by_class(fields).items():
        if not group:
            continue
        lines.append(f"  {cls}  {FIELD_CLASSES.get(cls, 'undeclared class')}")
        lines += [f"      {f.name:<{name_w}}  {f.type:<{type_w}}  {f.doc}".rstrip() for f in group]
    return lines


def format_scenario(view: ScenarioView) -> str:
    """``scenarios show``: sides, purposes, personal-data flags, fields by class, then the rules."""
    row = view.row
    purposes = ", ".join(view.purposes) or "-"
    if view.purpose_field:
        purposes += f" (and the request's {view.purpose_field})"
    facts = [
        ("sides", f"{row.requester_side} requests, {row.attester_side} attests ({row.direction})"),
        ("theme", row.theme or "-"),
        ("status", row.status or "-"),
        ("on the platform", row.platform_status or "-"),
        ("purposes", purposes),
        (
            "personal data",
            f"{_yes(view.personal_data)}; leaves the mainland (PIPL): {_yes(view.pipl_outbound)}; "
            f"sensitive: {_yes(view.sensitive_personal_data)}",
        ),
        ("verification", view.verification),
        ("no attestation in time", view.timeout_severity if view.verification == "attestation" else "-"),
        ("sources", ", ".join(view.sources) or "-"),
    ]
    width = max(len(k) for k, _ in facts)
    lines = [f"{row.id} {row.version}: {row.title}", ""]
    lines += [f"  {k:<{width}}  {v}" for k, v in facts]
    if view.description:
        lines += ["", *_wrapped(view.description, "  ")]
    if view.pipl_outbound_reason:
        lines += ["", *_wrapped(f"PIPL outbound: {view.pipl_outbound_reason}", "  ")]
    lines += ["", *_field_lines("Request", view.request_subject, view.request_fields)]
    lines += ["", *_field_lines("Attestation", view.attestation_subject, view.attestation_fields)]
    lines += [
        "",
        f"Rules: {row.rules} ({row.own_rules} own, {row.common_rules} common from envelope.toml, marked *)",
    ]
    table = _table(
        ("", "id", "stage", "severity", "check"),
        [("*" if r.common else "", r.id, r.stage, r.severity, r.check) for r in view.rules],
    )
    lines.append(f"  {table[0]}")
    for rule, line in zip(view.rules, table[1:], strict=True):
        lines.append(f"  {line}")
        lines += _wrapped(rule.description, "        ")
        if rule.source:
            lines += _wrapped(f"source: {rule.source}", "        ")
    return "\n".join(lines)
