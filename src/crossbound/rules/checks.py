"""The built-in check library. Each check is compiled once from a rule's fields and params.

A compiled check takes a :class:`~crossbound.rules.model.Context` and returns the failures as
``(field path, code)`` pairs; an empty list means the rule passed. A factory raises ``ValueError``
for bad params; :mod:`crossbound.rules.compiler` turns that into a :class:`~crossbound.errors.RuleSetError`
naming the file and the rule. Checks read fields through :mod:`crossbound.rules.paths` and CEL through
:mod:`crossbound.rules.cel`.

=================  =========================================================================
check              what it does (params)
=================  =========================================================================
required           every field present and not empty
pattern            every present field matches ``regex`` (full match)
range              numeric fields within ``min`` / ``max`` (inclusive)
enum               present fields in ``values``, or not in ``forbidden``
identifier         identifier check of ``kind`` (see :mod:`crossbound.identifiers`); with
                   ``warning`` set, fails only when the valid identifier carries that warning
institution        institution ``{scheme, id}`` records pass their scheme's identifier check
freshness          a date/timestamp field at most ``max_age_days`` old and not in the future
request_window     created_at not in the future (skew), lifetime <= ``max_lifetime_hours``, not expired
consent            consent present, not withdrawn, in force, covering ``purposes`` /
                   ``purpose_field``, given to the requester; ``require_separate_xb``
digest_format      fields are 64 lowercase hex digests (``all_digest_fields``: every class D field)
digest_match       request digest field equals the attestation's field ``against``
scenario_version   the request's scenario_version has the rule set's major version
cel                a CEL expression ``expr`` over request, payload, attestation, consent, now
no_clear_pi        no clear (class C) text looks like personal data (:mod:`crossbound.rules.pi`)
=================  =========================================================================

The stateful checks (quota, distinct, subject_volume) are in :mod:`crossbound.rules.stateful`.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from crossbound import identifiers
from crossbound.domain import local_date
from crossbound.rules.cel import compile_cel
from crossbound.rules.model import CheckFn, Context
from crossbound.rules.paths import Getter, getter, getters
from crossbound.rules.pi import PUBLIC_KINDS, field_pi_code

__all__ = ["CHECKS", "CheckEnv"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SCHEME_KIND = {"LEI": "lei", "BIC": "bic", "USCC": "uscc", "HK_BRN": "hk_brn"}


@dataclass(frozen=True, slots=True)
class CheckEnv:
    """What a check factory may know beyond its own params: its rule, the stage's schemas, the scenario."""

    rule_id: str = ""
    digest_fields: tuple[str, ...] = ()
    clock_skew: timedelta = timedelta(minutes=5)
    # class C text fields of the rule's stage (payload. or attestation.) and their declared "kind"
    clear_fields: tuple[tuple[str, str | None], ...] = ()
    scenario: Mapping[str, Any] = field(default_factory=dict)
    purpose_field: str | None = None


def _required(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    gets = getters(fields)

    def fn(ctx: Context) -> list[tuple[str, str]]:
        return [(f, "MISSING") for f, g in gets if g(ctx) in (None, "", [], {})]

    return fn


ValueTest = Callable[[Any, Context], "str | None"]


def _each_present(gets: list[tuple[str, Getter]], test: ValueTest) -> CheckFn:
    """A check that runs ``test`` on every present field value; ``test`` returns a failure code or None.

    Absent (null) fields pass: presence is the ``required`` check's job.
    """

    def fn(ctx: Context) -> list[tuple[str, str]]:
        out = []
        for f, g in gets:
            v = g(ctx)
            if v is not None:
                code = test(v, ctx)
                if code is not None:
                    out.append((f, code))
        return out

    return fn


def _pattern(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    try:
        regex = re.compile(str(params["regex"]))
    except KeyError:
        raise ValueError("pattern needs params.regex") from None
    except re.error as exc:
        raise ValueError(f"bad regex: {exc}") from exc
    code = str(params.get("code", "PATTERN"))

    def test(v: Any, ctx: Context) -> str | None:
        return None if isinstance(v, str) and regex.fullmatch(v) else code

    return _each_present(getters(fields), test)


def _number(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {value!r}") from None


def _range(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    lo = _number(params["min"], "min") if "min" in params else None
    hi = _number(params["max"], "max") if "max" in params else None
    if lo is None and hi is None:
        raise ValueError("range needs params.min and/or params.max")
    lo_f = None if lo is None else float(lo)
    hi_f = None if hi is None else float(hi)

    def test(v: Any, ctx: Context) -> str | None:
        if isinstance(v, bool):
            return None
        if v != v:  # NaN: no comparison holds, so it would pass every range
            return "NOT_A_NUMBER"
        low, high = (lo, hi) if isinstance(v, Decimal) else (lo_f, hi_f)
        if low is not None and v < low:
            return "BELOW_MIN"
        if high is not None and v > high:
            return "ABOVE_MAX"
        return None

    return _each_present(getters(fields), test)


def _value_list(params: Mapping[str, Any], name: str) -> list[Any]:
    values = params[name]
    if not isinstance(values, list) or not values:
        raise ValueError(f"params.{name} must be a non-empty list")
    if not all(isinstance(v, str | bool | int) for v in values):
        raise ValueError(f"params.{name} must list strings, booleans or integers")
    return values


def _enum(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    if ("values" in params) == ("forbidden" in params):
        raise ValueError("enum needs exactly one of params.values or params.forbidden")
    allowed = frozenset(_value_list(params, "values")) if "values" in params else frozenset()
    forbidden = frozenset(_value_list(params, "forbidden")) if "forbidden" in params else frozenset()
    code = str(params.get("code", "NOT_ALLOWED"))

    def test(v: Any, ctx: Context) -> str | None:
        return code if (allowed and v not in allowed) or v in forbidden else None

    return _each_present(getters(fields), test)


_TODAY = ("today",)  # the memo key of the decision's local date


def _local_today(ctx: Context) -> date:
    """The decision's calendar day in Hong Kong / Shenzhen, worked out once per context."""
    today = ctx.memo.get(_TODAY)
    if today is None:
        today = ctx.memo[_TODAY] = local_date(ctx.now)
    return today


def _checked(kind: str, text: str, ctx: Context) -> identifiers.IdCheck:
    """``identifiers.check`` of one value, once per context: the identifier rule and C4 share it."""
    key = (kind, text)
    res = ctx.memo.get(key)
    if res is None:
        res = ctx.memo[key] = identifiers.check(kind, text, today=_local_today(ctx))
    return res


def _identifier(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    kind = str(params.get("kind", ""))
    if kind not in identifiers.KINDS:
        raise ValueError(f"identifier needs params.kind, one of {', '.join(identifiers.KINDS)}")
    warning = params.get("warning")
    prefix = kind.upper()

    def test(v: Any, ctx: Context) -> str | None:
        res = _checked(kind, str(v), ctx)  # two rules on one identifier (valid? warned?) check it once
        if warning is None:
            return None if res.valid else f"{prefix}_{res.code}"
        return f"{prefix}_{warning}" if res.valid and warning in res.warnings else None

    return _each_present(getters(fields), test)


@functools.lru_cache(maxsize=4096)
def _institution_code(kind: str, ident: str, today: date) -> str | None:
    # Institutions are few and repeat on every request: their check is a pure function, cached.
    res = identifiers.check(kind, ident, today=today)
    return None if res.valid else f"INSTITUTION_{kind.upper()}_{res.code}"


def _institution(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    def test(inst: Any, ctx: Context) -> str | None:
        kind = _SCHEME_KIND.get(inst.get("scheme", ""))
        if kind is None:
            return "INSTITUTION_SCHEME"
        return _institution_code(kind, str(inst.get("id", "")), _local_today(ctx))

    return _each_present(getters(fields), test)


def _freshness(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    """Dates are calendar days in Hong Kong / Shenzhen (UTC+8); timestamps are instants."""
    try:
        max_days = float(params["max_age_days"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("freshness needs a numeric params.max_age_days") from None
    max_age = timedelta(days=max_days)
    skew = env.clock_skew

    def test(raw: Any, ctx: Context) -> str | None:
        if isinstance(raw, datetime):
            when = raw if raw.tzinfo else raw.replace(tzinfo=UTC)
            if when > ctx.now + skew:
                return "FUTURE_DATE"
            return "STALE" if ctx.now - when > max_age else None
        if isinstance(raw, date):
            if raw > local_date(ctx.now + skew):
                return "FUTURE_DATE"
            return "STALE" if (_local_today(ctx) - raw).days > max_days else None
        return "NOT_A_DATE"

    return _each_present(getters(fields), test)


def _request_window(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    lifetime = timedelta(hours=float(params.get("max_lifetime_hours", 24)))
    skew = env.clock_skew

    def fn(ctx: Context) -> list[tuple[str, str]]:
        created = ctx.request["created_at"]
        expires = ctx.request["expires_at"]
        if created > ctx.now + skew:
            return [("request.created_at", "CREATED_IN_FUTURE")]
        if expires <= created:
            return [("request.expires_at", "EXPIRES_BEFORE_CREATED")]
        if expires - created > lifetime:
            return [("request.expires_at", "LIFETIME_TOO_LONG")]
        if ctx.now >= expires:
            return [("request.expires_at", "EXPIRED")]
        return []

    return fn


_CONSENT_PARTS = ("in_force", "purposes", "recipient", "separate_xb", "legal_basis")


def _consent(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    """Consent checks (C1-C3); ``parts`` picks which, so each common rule reports one thing.

    ``in_force``: present, not withdrawn, granted_at <= now < expires_at. ``purposes``: ``purposes``
    (and, with ``scenario_purposes``, the scenario's purposes) are consented to, and so is the value
    of ``purpose_field``. ``recipient``: given to the requesting institution. ``separate_xb``:
    separate consent to the cross-border transfer. ``legal_basis``: one of ``legal_bases``.
    Without ``in_force`` a missing or lapsed consent passes: the in-force rule reports it once.
    """
    purposes = frozenset(_value_list(params, "purposes")) if "purposes" in params else frozenset()
    purpose_path = params.get("purpose_field")
    if params.get("scenario_purposes"):  # the scenario's own purposes and purpose field (common rule C2)
        purposes |= frozenset(env.scenario.get("purposes", ()))
        purpose_path = purpose_path or env.purpose_field
    purpose_get = getter(str(purpose_path)) if purpose_path else None
    allowed_bases = frozenset(_value_list(params, "legal_bases")) if "legal_bases" in params else frozenset()
    if "parts" in params:
        parts = frozenset(_value_list(params, "parts"))
        if not parts <= set(_CONSENT_PARTS):
            raise ValueError(f"consent params.parts must be among {', '.join(_CONSENT_PARTS)}")
    else:
        parts = frozenset({"in_force", "purposes"})
        if params.get("check_recipient", True):
            parts |= {"recipient"}
        if params.get("require_separate_xb", False):
            parts |= {"separate_xb"}
        if allowed_bases:
            parts |= {"legal_basis"}
    if "legal_basis" in parts and not allowed_bases:
        raise ValueError("consent part legal_basis needs params.legal_bases")
    in_force, want_purposes = "in_force" in parts, "purposes" in parts
    recipient, xb, basis = "recipient" in parts, "separate_xb" in parts, "legal_basis" in parts
    f = "request.consent"

    def fn(ctx: Context) -> list[tuple[str, str]]:
        consent = ctx.request.get("consent")
        if consent is None:
            return [(f, "CONSENT_MISSING")] if in_force else []
        if consent["withdrawn"]:
            return [(f, "CONSENT_WITHDRAWN")] if in_force else []
        if not consent["granted_at"] <= ctx.now < consent["expires_at"]:
            return [(f + ".expires_at", "CONSENT_NOT_IN_FORCE")] if in_force else []
        out = []
        if want_purposes:
            codes = set(consent["purpose_codes"])
            if not purposes <= codes:
                out.append((f + ".purpose_codes", "CONSENT_PURPOSE"))
            elif purpose_get is not None:
                wanted = purpose_get(ctx)
                if wanted is not None and wanted not in codes:
                    out.append((f + ".purpose_codes", "CONSENT_PURPOSE"))
        if recipient:
            rec, req = consent["recipient_inst"], ctx.request["requester_inst"]
            if rec["scheme"] != req["scheme"] or rec["id"] != req["id"]:
                out.append((f + ".recipient_inst", "CONSENT_RECIPIENT"))
        if xb and not consent["separate_xb_consent"]:
            out.append((f + ".separate_xb_consent", "CONSENT_XB_MISSING"))
        if basis and consent["legal_basis"] not in allowed_bases:
            out.append((f + ".legal_basis", "LEGAL_BASIS"))
        return out

    return fn


def _digest_format(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    paths = list(fields)
    if params.get("all_digest_fields"):
        paths.extend(p for p in env.digest_fields if p not in paths)
    match = _HEX64.fullmatch

    def test(v: Any, ctx: Context) -> str | None:
        values = v if isinstance(v, list) else (v,)
        return None if all(isinstance(x, str) and match(x) for x in values) else "DIGEST_FORMAT"

    return _each_present(getters(paths, at_least=0 if params.get("all_digest_fields") else 1), test)


def _digest_match(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    gets = getters(fields)
    if len(gets) != 1 or "against" not in params:
        raise ValueError("digest_match needs exactly one field and params.against (an attestation. path)")
    (f, mine), theirs = gets[0], getter(str(params["against"]))

    def fn(ctx: Context) -> list[tuple[str, str]]:
        a, b = mine(ctx), theirs(ctx)
        if a is None or b is None:
            return [(f, "DIGEST_MISSING")]
        if isinstance(a, list) or isinstance(b, list):
            same = sorted(a if isinstance(a, list) else [a]) == sorted(b if isinstance(b, list) else [b])
        else:
            same = hmac.compare_digest(str(a).encode(), str(b).encode())
        return [] if same else [(f, "DIGEST_MISMATCH")]

    return fn


def _scenario_version(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    def fn(ctx: Context) -> list[tuple[str, str]]:
        theirs = str(ctx.request["scenario_version"]).split(".", 1)[0]
        mine = ctx.ruleset_version.split(".", 1)[0]
        return [] if theirs == mine else [("request.scenario_version", "VERSION_MISMATCH")]

    return fn


def _cel(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    if "expr" not in params:
        raise ValueError("cel needs params.expr")
    run = compile_cel(str(params["expr"]))
    f = fields[0] if fields else ""
    code = str(params.get("code", "CONDITION"))

    def fn(ctx: Context) -> list[tuple[str, str]]:
        result = run(ctx)
        if result is True:
            return []
        if result is False:
            return [(f, code)]
        raise TypeError("CEL expression did not return a boolean")

    return fn


def _no_clear_pi(fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
    """Class C text must not look like personal data (C4): IDs, phones, e-mails, cards, names.

    A field whose schema declares the ``kind`` of a public identifier (a company's USCC or BRN, a bank's
    BIC) is exempt while its value passes that kind's check and is not also a personal identifier; every
    other field holds a code, so any Chinese text or a bare HK number in it is refused as well
    (:func:`crossbound.rules.pi.field_pi_code`).
    """
    entries: list[tuple[str, str | None]] = [(f, None) for f in fields]
    if params.get("all_clear_fields"):
        entries.extend(e for e in env.clear_fields if e[0] not in fields)
    gets = [(f, getter(f), kind) for f, kind in entries]

    def fn(ctx: Context) -> list[tuple[str, str]]:
        out = []
        for f, g, kind in gets:
            v = g(ctx)
            if v is None:
                continue
            for text in v if isinstance(v, list) else (v,):
                if not isinstance(text, str):
                    continue
                checked = _checked(kind, text, ctx) if kind in PUBLIC_KINDS else None
                code = field_pi_code(kind, text, _local_today(ctx), checked)
                if code is not None:
                    out.append((f, code))
                    break
        return out

    return fn


Factory = Callable[[Sequence[str], Mapping[str, Any], CheckEnv], CheckFn]

CHECKS: dict[str, Factory] = {
    "required": _required,
    "pattern": _pattern,
    "range": _range,
    "enum": _enum,
    "identifier": _identifier,
    "institution": _institution,
    "freshness": _freshness,
    "request_window": _request_window,
    "consent": _consent,
    "digest_format": _digest_format,
    "digest_match": _digest_match,
    "scenario_version": _scenario_version,
    "cel": _cel,
    "no_clear_pi": _no_clear_pi,
}
