"""Declared forms: what a string that crosses the boundary may look like, checked per field.

Avro types say "a string"; a string that crosses must say more, or any text (a name, an HKID, a
phone number) crosses in it. A schema field declares ``"form": "<name>"`` (a string, an array of
strings: each item, a map of strings: each value), one of :data:`FORMS`, and a class B ``int`` declares
``"range": [lo, hi]``. Rules at load time (a fault fails start-up naming the file and the field):

* a form must be known, a range two integers ``lo <= hi``, each on a field of the right type;
* in a scenario payload, a class B int needs a range and a class B or C string (or array of strings)
  needs a form or an identifier ``kind`` (checked by the rules: C4, ``identifier``);
* in the envelope schemas that cross (:data:`CROSSING`) every string needs a form.

Each schema's checks are compiled once into a flat tuple of :class:`FieldCheck` (path, form or range),
so a record is checked with a loop over that tuple and no walk of the schema. A form is a shape, not
a validation: a code form is loose enough (``[A-Z0-9][A-Z0-9_./-]{0,39}``) that a wrong but
well-formed code still reaches the rule that checks it (an ISIN or HS code of the wrong shape gets
ORSB-06's or TFD-09's finding, an empty branch id the ``required`` rule's), while free text (names,
e-mails, spaced numbers) is refused. ``scan`` says whether a value of the form can still hold
personal data (an 8-digit number is an upper-case code too), so that the outgoing guard looks at it
with the clear-text patterns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from crossbound.errors import SchemaError

__all__ = ["CROSSING", "FORMS", "FieldCheck", "Form", "compile_checks"]

CROSSING: Final = frozenset({"core/request", "core/attestation", "core/attestation_request", "core/verdict"})
"""Envelope subjects whose every string declares a form: the inputs and what crosses."""


@dataclass(frozen=True, slots=True)
class Form:
    """A named shape for strings: a full-match pattern, and whether it leaves room for personal data."""

    name: str
    pattern: re.Pattern[str]
    description: str
    scan: bool

    def matches(self, text: str) -> bool:
        """``text`` has this form (the whole of it)."""
        return self.pattern.fullmatch(text) is not None


_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _forms(*rows: tuple[str, str, str, bool]) -> dict[str, Form]:
    return {name: Form(name, re.compile(rx), text, scan) for name, rx, text, scan in rows}


FORMS: Final[Mapping[str, Form]] = _forms(
    ("uuid", _UUID, "a UUID, 8-4-4-4-12 hex digits", False),
    ("hex32", r"[0-9a-f]{32}", "32 lowercase hex digits (a nonce)", False),
    ("digest", r"[0-9a-f]{64}", "64 lowercase hex digits: SHA-256, SM3 or HMAC-SHA256", False),
    (
        "key_id",
        r"[a-z]{2,16}-[0-9]{4}(?:-[0-9]{2})?",
        "a pair key's id: a label and a year (demo-2026)",
        True,
    ),
    (
        "consent_ref",
        rf"{_UUID}|[A-Za-z]{{2,8}}(?:-[0-9A-Fa-f]{{4,32}}){{1,4}}",
        "a consent's reference: a UUID, or a short prefix and hex groups (CNS-1E8D3F5A2B21)",
        True,
    ),
    ("city_code", r"[1-8][0-9]{5}|HK", "a GB/T 2260 six-digit code, or HK", False),
    ("iso4217", r"[A-Z]{3}", "three upper-case letters (ISO 4217; CNH reaches the rules too)", False),
    # empty too: a required code that is empty gets the rule's MISSING finding, and holds nothing
    ("code", r"(?:[A-Z0-9][A-Z0-9_./-]{0,39})?", "an upper-case code of at most 40 characters", True),
    ("inst_id", r"[0-9A-Z]{8,20}", "an institution's public id (LEI, BIC, USCC, HK BRN)", False),
    ("scenario_id", r"[a-z][a-z0-9_]{0,63}", "a snake_case scenario id", False),
    ("version", r"[0-9]{1,6}(?:\.[0-9]{1,6}){0,2}", "a version: major[.minor[.patch]]", False),
    ("release", r"[0-9A-Za-z.+-]{1,40}", "crossbound's own version string", False),
    ("rule_id", r"[A-Za-z0-9_.:-]{1,80}", "a rule id of a rule set", False),
    ("field_path", r"[A-Za-z0-9_.\[\]]{0,120}", "a field path, or empty", False),
    ("finding_code", r"[A-Z0-9_]{1,64}", "a finding's machine code", False),
    (
        "band",
        r"true|false|[A-Z][A-Z0-9_]{0,39}|-?[0-9]{1,6}|",
        "a yes/no, enum or band value as text (empty for null)",
        False,
    ),
)


@dataclass(frozen=True, slots=True)
class FieldCheck:
    """One field's check: where it is, and its form, range, class and identifier kind.

    ``path`` is the chain of steps from the top: record field names, ``[]`` for every item of an array
    and ``{}`` for every value of a map (``("findings", "[]", "code")``); ``where`` is the same as a
    dotted path for details. A null on the way skips the check: nullability is the Avro type's business.
    """

    path: tuple[str, ...]
    where: str
    form: Form | None
    range: tuple[int, int] | None
    cls: str | None
    kind: str | None
    texts: frozenset[str] | None  # class B: the texts a verdict may release for it (ints: also by range)
    simple: bool = True  # the path is field names only (no array items, no map values)

    def values(self, record: Mapping[str, Any]) -> Sequence[Any]:
        """The field's values in ``record``: none when absent or null, every item of an array.

        Records here are dicts (decoded, or built by the pipeline); a plain path of names, the common
        case, is a few ``get`` calls.
        """
        value: Any = record
        if self.simple:
            for step in self.path:
                value = value.get(step) if isinstance(value, dict) else None
                if value is None:
                    return ()
            return (value,)
        current: list[Any] = [record]
        for step in self.path:
            found: list[Any] = []
            for value in current:
                if step == "[]" and isinstance(value, list):
                    found += value
                elif step == "{}" and isinstance(value, dict):
                    found += value.values()
                elif isinstance(value, dict):
                    found.append(value.get(step))
            current = [v for v in found if v is not None]
        return current

    def fault(self, value: Any) -> Literal["form", "range"] | None:
        """What is wrong with one value: ``form``, ``range``, or None."""
        form, rng = self.form, self.range
        if form is not None and (type(value) is not str or form.pattern.fullmatch(value) is None):
            return "form"
        if rng is not None and (type(value) is not int or not rng[0] <= value <= rng[1]):
            return "range"
        return None

    def releases(self, text: str) -> bool:
        """``text`` is a value a verdict may carry for this class B field (an int: canonical, in range)."""
        if self.texts is not None and text in self.texts:
            return True
        if self.range is None:
            return False
        try:
            number = int(text)
        except ValueError:
            return False
        return str(number) == text and self.range[0] <= number <= self.range[1]

    @property
    def expected(self) -> str:
        """The form's name or the range, as a detail names it (never the value)."""
        if self.form is not None:
            return f"form {self.form.name!r}"
        if self.range is not None:
            return f"range [{self.range[0]}, {self.range[1]}]"
        return "its declared values"


def _non_null(avro_type: Any) -> tuple[Any, bool]:
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return (rest[0] if len(rest) == 1 else avro_type), len(rest) < len(avro_type)
    return avro_type, False


def _type_name(avro_type: Any) -> Any:
    return avro_type.get("type") if isinstance(avro_type, dict) else avro_type


class _Compiler:
    """One schema file's walk, once at load time: the checks, or the first bad declaration."""

    def __init__(self, path: Path, subject: str) -> None:
        self.file = path
        self.payload = subject.startswith("scenarios/")
        self.crossing = subject in CROSSING
        self.named: dict[str, Any] = {}
        self.checks: list[FieldCheck] = []

    def fail(self, where: str, fault: str) -> SchemaError:
        return SchemaError(self.file, f"field {where!r}: {fault}")

    def resolve(self, avro_type: Any) -> tuple[Any, bool]:
        base, nullable = _non_null(avro_type)
        if isinstance(base, str) and base in self.named:
            return self.named[base], nullable
        if isinstance(base, dict) and "name" in base:
            self.named[base["name"]] = base
        return base, nullable

    def record(self, raw: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for fld in raw.get("fields", []):
            self.field(fld, (*prefix, fld["name"]), top=not prefix)

    def field(self, fld: Mapping[str, Any], path: tuple[str, ...], *, top: bool) -> None:
        base, nullable = self.resolve(fld["type"])
        while _type_name(base) in ("array", "map"):
            step = "[]" if _type_name(base) == "array" else "{}"
            path = (*path, step)
            base, nullable = self.resolve(base["items" if step == "[]" else "values"])
        type_name = _type_name(base)
        if type_name == "record":
            self.record(base, path)
            return
        where = ".".join(path).replace(".[]", "[]").replace(".{}", "{}")
        form, rng = self.form(fld, where, type_name), self.range(fld, where, type_name)
        cls, kind = (fld.get("class") if top else None), fld.get("kind")
        if (
            type_name == "string"
            and form is None
            and (self.crossing or (self.payload and cls in ("B", "C") and kind is None))
        ):
            raise self.fail(where, 'a string that crosses must declare "form" (or an identifier "kind")')
        if self.payload and cls == "B" and type_name in ("int", "long") and rng is None:
            raise self.fail(where, 'a class B int is a band and must declare "range": [lo, hi]')
        texts = _band_texts(base, type_name, nullable) if cls == "B" else None
        if form or rng or cls or kind:
            simple = "[]" not in path and "{}" not in path
            self.checks.append(FieldCheck(path, where, form, rng, cls, kind, texts, simple))

    def form(self, fld: Mapping[str, Any], where: str, type_name: Any) -> Form | None:
        name = fld.get("form")
        if name is None:
            return None
        if type_name != "string":
            raise self.fail(where, '"form" applies to strings, arrays and maps of strings only')
        form = FORMS.get(name) if isinstance(name, str) else None
        if form is None:
            raise self.fail(where, f"unknown form {name!r}; known: {', '.join(sorted(FORMS))}")
        return form

    def range(self, fld: Mapping[str, Any], where: str, type_name: Any) -> tuple[int, int] | None:
        rng = fld.get("range")
        if rng is None:
            return None
        if type_name not in ("int", "long"):
            raise self.fail(where, '"range" applies to int and long fields only')
        ok = isinstance(rng, list) and len(rng) == 2 and all(type(x) is int for x in rng)
        if not ok or rng[0] > rng[1]:
            raise self.fail(where, '"range" must be [lo, hi], two integers with lo <= hi')
        return rng[0], rng[1]


def _band_texts(inner: Any, type_name: Any, nullable: bool) -> frozenset[str] | None:
    """What a verdict may release for a class B field as text, besides an int's range."""
    empty = {""} if nullable else set()
    if type_name == "boolean":
        return frozenset({"true", "false"} | empty)
    if type_name == "enum":
        return frozenset(set(inner["symbols"]) | empty)
    return frozenset(empty)  # an int: the empty text for a null, else its range decides


def compile_checks(path: Path, subject: str, raw: Mapping[str, Any]) -> tuple[FieldCheck, ...]:
    """The flat checks of one schema file; a SchemaError naming the file and field for a bad declaration."""
    comp = _Compiler(path, subject)
    comp.record(raw, ())
    return tuple(comp.checks)
