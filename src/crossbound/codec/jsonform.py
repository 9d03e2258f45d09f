"""The JSON form of records, for people and tools: ``crossbound check``, ``publish``, the demo, fixtures.

A request in JSON is the Avro record with readable values: timestamps as RFC 3339 strings (or epoch
milliseconds), dates as ``YYYY-MM-DD``, decimals as strings, and ``payload`` as an object that is
encoded with the scenario's current request schema. An attestation's ``payload`` likewise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, cast

from crossbound.codec import Codec
from crossbound.codec.records import Attestation, Request
from crossbound.errors import InputError

__all__ = ["attestation_from_json", "from_json", "request_from_json", "to_json"]


class ScenarioSubjects(Protocol):
    """What the JSON forms need of a scenario: the schema subjects of its two payloads."""

    @property
    def request_subject(self) -> str: ...

    @property
    def attestation_subject(self) -> str: ...


class Catalogue(Protocol):
    """The scenarios by id (a :class:`crossbound.rules.Catalogue` is one; the codec does not import rules)."""

    @property
    def scenarios(self) -> Mapping[str, ScenarioSubjects]: ...


def _timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise InputError(f"{path}: timestamp out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{path}: not an RFC 3339 timestamp") from None
        if parsed.tzinfo is None:
            raise InputError(f"{path}: timestamp needs a time zone (e.g. Z)")
        return parsed
    raise InputError(f"{path}: expected a timestamp")


def _named(schema: Any, names: dict[str, Any]) -> Any:
    if isinstance(schema, str) and schema in names:
        return names[schema]
    return schema


def from_json(value: Any, schema: Any, path: str = "", names: dict[str, Any] | None = None) -> Any:
    """Convert a JSON value into what fastavro writes for ``schema`` (a parsed or raw Avro schema)."""
    names = {} if names is None else names
    schema = _named(schema, names)
    if isinstance(schema, list):
        if value is None and "null" in schema:
            return None
        errors = []
        for branch in schema:
            if branch == "null":
                continue
            try:
                return from_json(value, branch, path, names)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"{path}: no matching type")
    if isinstance(schema, dict):
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if "name" in schema and kind in ("record", "enum", "fixed"):
            full = (
                schema["name"] if "." in schema["name"] else f"{schema.get('namespace', '')}.{schema['name']}"
            )
            names.setdefault(schema["name"], schema)
            names.setdefault(full.lstrip("."), schema)
        if logical == "timestamp-millis":
            return _timestamp(value, path)
        if logical == "date":
            if isinstance(value, date):
                return value
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                raise InputError(f"{path}: not a YYYY-MM-DD date") from None
        if logical == "decimal":
            try:
                dec = Decimal(str(value))
            except InvalidOperation:
                raise InputError(f"{path}: not a decimal number") from None
            if not dec.is_finite():
                raise InputError(f"{path}: not a finite number")
            scale, precision = int(schema.get("scale", 0)), int(schema.get("precision", 38))
            try:
                dec = dec.quantize(Decimal(1).scaleb(-scale))
            except InvalidOperation:
                raise InputError(f"{path}: more than {precision} digits") from None
            if len(dec.as_tuple().digits) > precision:
                raise InputError(f"{path}: more than {precision} digits")
            return dec
        if kind == "record":
            if not isinstance(value, Mapping):
                raise InputError(f"{path or 'record'}: expected an object")
            known = {f["name"] for f in schema["fields"]}
            extra = set(value) - known
            if extra:
                raise InputError(f"{path or 'record'}: unknown fields {sorted(extra)}")
            out = {}
            for fld in schema["fields"]:
                sub = f"{path}.{fld['name']}" if path else fld["name"]
                if fld["name"] in value:
                    out[fld["name"]] = from_json(value[fld["name"]], fld["type"], sub, names)
                elif "default" in fld:
                    out[fld["name"]] = fld["default"]
                else:
                    raise InputError(f"{sub}: missing")
            return out
        if kind == "enum":
            if value not in schema["symbols"]:
                raise InputError(f"{path}: must be one of {schema['symbols']}")
            return value
        if kind == "array":
            if not isinstance(value, list):
                raise InputError(f"{path}: expected a list")
            return [from_json(v, schema["items"], f"{path}[{i}]", names) for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, Mapping):
                raise InputError(f"{path}: expected an object")
            return {k: from_json(v, schema["values"], f"{path}.{k}", names) for k, v in value.items()}
        return from_json(value, kind, path, names)
    checks: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "boolean": (bool,),
        "int": (int,),
        "long": (int,),
        "double": (int, float),
        "float": (int, float),
        "null": (type(None),),
    }
    if schema == "bytes":
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            try:
                return bytes.fromhex(value)
            except ValueError:
                raise InputError(f"{path}: bytes are written as hex") from None
        raise InputError(f"{path}: expected hex bytes")
    if schema in checks:
        if not isinstance(value, checks[schema]) or (schema != "boolean" and isinstance(value, bool)):
            raise InputError(f"{path}: expected {schema}")
        return value
    raise InputError(f"{path}: unsupported schema type {schema!r}")


def _record_from_json(
    obj: Mapping[str, Any], codec: Codec, catalogue: Catalogue, what: str, core: str, payload_of: str
) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise InputError(f"{what} must be a JSON object")
    scenario = obj.get("scenario_id")
    rs = catalogue.scenarios.get(scenario) if isinstance(scenario, str) else None
    if rs is None:
        raise InputError(f"scenario_id: unknown scenario {scenario!r}; known: {sorted(catalogue.scenarios)}")
    fields = dict(obj)
    payload = fields.get("payload")
    if isinstance(payload, Mapping):
        subject = getattr(rs, payload_of)
        schema = codec.registry.current(subject).raw
        fields["payload"] = codec.encode(subject, from_json(payload, schema, "payload"))
    return dict(from_json(fields, codec.registry.current(core).raw))


def request_from_json(obj: Mapping[str, Any], codec: Codec, catalogue: Catalogue) -> Request:
    """A request record (ready for ``codec.encode('core/request', ...)``) from its JSON form."""
    record = _record_from_json(obj, codec, catalogue, "a request", "core/request", "request_subject")
    return cast(Request, record)  # from_json built it field by field from the core/request schema


def attestation_from_json(obj: Mapping[str, Any], codec: Codec, catalogue: Catalogue) -> Attestation:
    """An attestation record from its JSON form."""
    record = _record_from_json(
        obj, codec, catalogue, "an attestation", "core/attestation", "attestation_subject"
    )
    return cast(Attestation, record)  # from_json built it from the core/attestation schema


def to_json(value: Any) -> Any:
    """A decoded record as JSON-ready data."""
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
