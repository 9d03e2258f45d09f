"""The scenario catalogue for people: ``crossbound scenarios list|show`` and README's scenario table.

Pure functions over a loaded :class:`~crossbound.rules.Catalogue` and its
:class:`~crossbound.codec.SchemaRegistry`: they return views (frozen dataclasses), JSON-ready dicts and
strings, and print nothing. The CLI only wires arguments to them.

Run as a script to regenerate the table in README.md between ``<!-- scenarios:begin -->`` and
``<!-- scenarios:end -->`` from the rule sets (``make readme`` does this)::

    python -m crossbound.cli.scenarios --write-readme [--check] [--readme PATH]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.codec import FIELD_CLASSES, SchemaRegistry
from crossbound.errors import ConfigError
from crossbound.rules import Catalogue, RuleSet, load_catalogue

__all__ = [
    "README_BEGIN",
    "README_END",
    "WRITE_COMMAND",
    "FieldView",
    "RuleView",
    "ScenarioRow",
    "ScenarioView",
    "avro_type_name",
    "default_readme",
    "format_list",
    "format_scenario",
    "load",
    "main",
    "readme_table",
    "replace_readme_region",
    "scenario_row",
    "scenario_rows",
    "scenario_view",
]

README_BEGIN: Final = "<!-- scenarios:begin -->"
README_END: Final = "<!-- scenarios:end -->"
WRITE_COMMAND: Final = "make readme (python -m crossbound.cli.scenarios --write-readme)"
_ARROW: Final = "→"
_WRAP: Final = 100


@dataclass(frozen=True, slots=True)
class ScenarioRow:
    """One line of ``scenarios list`` and of README's table."""

    id: str
    version: str
    requester_side: str
    attester_side: str
    theme: str
    status: str
    own_rules: int
    common_rules: int
    title: str

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
    mainland_personal_data: bool
    sensitive_personal_data: bool
    sources: tuple[str, ...]
    description: str
    timeout_severity: str
    request_subject: str
    request_fields: tuple[FieldView, ...]
    attestation_subject: str
    attestation_fields: tuple[FieldView, ...]
    rules: tuple[RuleView, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form: the row's keys, but ``rules`` lists the rules; fields grouped by class."""
        return {
            **self.row.as_json(),
            "purposes": list(self.purposes),
            "purpose_field": self.purpose_field,
            "personal_data": self.personal_data,
            "mainland_personal_data": self.mainland_personal_data,
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
    )


def scenario_rows(catalogue: Catalogue) -> list[ScenarioRow]:
    """One row per scenario, by id."""
    return [scenario_row(catalogue.scenarios[sid]) for sid in sorted(catalogue.scenarios)]


def scenario_view(rs: RuleSet, registry: SchemaRegistry) -> ScenarioView:
    """Everything about one scenario: sides, purposes, flags, fields by class, rules."""
    return ScenarioView(
        row=scenario_row(rs),
        purposes=rs.purposes,
        purpose_field=rs.purpose_field,
        personal_data=rs.personal_data,
        mainland_personal_data=rs.mainland_personal_data,
        sensitive_personal_data=rs.sensitive_personal_data,
        sources=rs.sources,
        description=rs.description,
        timeout_severity=rs.timeout_severity.value,
        request_subject=rs.request_subject,
        request_fields=_fields(registry, rs.request_subject),
        attestation_subject=rs.attestation_subject,
        attestation_fields=_fields(registry, rs.attestation_subject),
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
    header = ("id", "sides", "theme", "status", "rules", "title")
    body = [(r.id, r.direction, r.theme, r.status or "-", str(r.rules), r.title) for r in rows]
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
        ("purposes", purposes),
        (
            "personal data",
            f"{_yes(view.personal_data)}; mainland: {_yes(view.mainland_personal_data)}; "
            f"sensitive: {_yes(view.sensitive_personal_data)}",
        ),
        ("no attestation in time", view.timeout_severity),
        ("sources", ", ".join(view.sources) or "-"),
    ]
    width = max(len(k) for k, _ in facts)
    lines = [f"{row.id} {row.version}: {row.title}", ""]
    lines += [f"  {k:<{width}}  {v}" for k, v in facts]
    if view.description:
        lines += ["", *_wrapped(view.description, "  ")]
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


# --------------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme_table(catalogue: Catalogue) -> str:
    """README's scenario table (Markdown): id, direction, theme, status, own rules, title."""
    lines = [
        "| scenario | requester → attester | theme | status | own rules | title |",
        "|---|---|---|---|---:|---|",
    ]
    for r in scenario_rows(catalogue):
        cells = (f"`{r.id}`", r.direction, r.theme, r.status, str(r.own_rules), r.title)
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def replace_readme_region(text: str, table: str) -> str:
    """``text`` with everything between the scenario markers replaced by ``table``.

    Raises ValueError unless each marker occurs exactly once, begin before end.
    """
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1:
        raise ValueError(f"README needs exactly one {README_BEGIN} and one {README_END}")
    head, rest = text.split(README_BEGIN)
    if README_END not in rest:
        raise ValueError(f"{README_END} must come after {README_BEGIN}")
    _, tail = rest.split(README_END)
    return f"{head}{README_BEGIN}\n{table}\n{README_END}{tail}"


def default_readme() -> Path:
    """README.md of the source checkout this module runs from."""
    return Path(__file__).resolve().parents[3] / "README.md"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m crossbound.cli.scenarios --write-readme``: regenerate README's scenario table."""
    parser = argparse.ArgumentParser(
        prog="python -m crossbound.cli.scenarios", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--write-readme", action="store_true", help="rewrite the table in README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    parser.add_argument("--readme", type=Path, default=None, metavar="PATH", help="default: the checkout's")
    parser.add_argument("--schemas", type=Path, default=None, metavar="DIR")
    parser.add_argument("--rulesets", type=Path, default=None, metavar="DIR")
    args = parser.parse_args(argv)
    if not (args.write_readme or args.check):
        parser.error("nothing to do: give --write-readme or --check")
    readme: Path = args.readme or default_readme()
    try:
        catalogue, _ = load(args.schemas or default_schemas_dir(), args.rulesets or default_rulesets_dir())
    except ConfigError as exc:
        print(f"scenarios: {exc}", file=sys.stderr)
        return 2
    try:
        text = readme.read_text(encoding="utf-8")
        new = replace_readme_region(text, readme_table(catalogue))
    except (ValueError, OSError) as exc:
        print(f"scenarios: {readme}: {exc}", file=sys.stderr)
        return 2
    if new == text:
        print(f"{readme}: scenario table up to date ({len(catalogue.scenarios)} scenarios)", file=sys.stderr)
        return 0
    if args.check and not args.write_readme:
        print(f"{readme}: scenario table is out of date; run {WRITE_COMMAND}", file=sys.stderr)
        return 1
    readme.write_text(new, encoding="utf-8")
    print(f"{readme}: scenario table rewritten ({len(catalogue.scenarios)} scenarios)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
