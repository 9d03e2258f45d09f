"""The stateful checks: one class each, so that a new stateful check is one class here.

A stateful check reads and updates state kept per key (a payer, an institution), so it runs in stage
``quota``, in the stateful hops of the pipeline (:mod:`crossbound.pipeline.hops`), one hop per ledger
and key. Each check says what its params must be, which hops its rules take, and what a request adds
to its window; the compare, ``after > limit``, is the same for every check.

=================  =========================================================================
check              what it does (params)
=================  =========================================================================
quota              used + ``amount`` (or 1 per request) <= ``limit`` per ``key`` in a ``window``
                   (day|year|all)
distinct           distinct values of ``value`` per ``key`` in a ``window`` <= ``limit``
subject_volume     distinct ``subject`` digests per ``key`` this year <= ``limit`` (sharded: a
                   ``members`` hop at key+subject, then a ``volume`` hop at the key)
=================  =========================================================================

Windows follow the local day and year (:data:`crossbound.domain.LOCAL_TZ`); ``all`` never resets.

A per-person ledger keys by the person's ledger reference: an HMAC of the person's identifier under a
key of the requesting institution alone (not a pair key shared with one counterparty), so one person
has one ledger at the institution whoever the counterparty is. While the institution rotates that key
it sends the reference under its next key as well, and ``key_next`` (the same key with that reference)
counts every request at the next key's ledger too (see :func:`steps`).

What a key keeps is bounded by its rules, whatever its traffic: one total per rule for the rule's
current window (:func:`prune` drops the windows that are over), and for a distinct rule at most
``limit + 1`` of the values seen. Past ``limit + 1`` values every request breaks the limit whether its
value is new or not, so the values beyond add nothing the compare needs: the decision stays exact and
the stored count stops at ``limit + 1``.

A new stateful check is a subclass of :class:`StatefulCheck` (``name``, ``default_code``, ``count``;
``validate`` and ``groups`` if it needs them) listed in :data:`STATEFUL`: the loader, the hop grouping
and the hops take it from there.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, NamedTuple

from crossbound.codec.records import WindowTotal
from crossbound.domain import LOCAL_TZ
from crossbound.rules.checks import CheckEnv
from crossbound.rules.engine import OnError, applies, counts, evaluate
from crossbound.rules.model import CheckFn, Context, Finding, Outcome, Rule, Step, outcome_of
from crossbound.rules.paths import getter

__all__ = [
    "STATEFUL",
    "Distinct",
    "Quota",
    "StatefulCheck",
    "SubjectVolume",
    "Tally",
    "counted_only",
    "decide",
    "hop_key",
    "mark_member",
    "periods",
    "prune",
    "steps",
]

_WINDOWS = ("day", "year", "all")
Group = tuple[str, str, tuple[str, ...], str | None]  # hop kind, ledger, key paths, subject path


class Tally(NamedTuple):  # a tuple: built per rule and hop, cheaper than a frozen dataclass
    """What a rule counts with this request: its total after it, and (distinct) the values seen."""

    rule: Rule
    period: int
    after: Decimal
    seen: list[str] | None = None


def _number(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {value!r}") from None


def _key_paths(params: Mapping[str, Any], check: str) -> tuple[str, ...]:
    raw = params.get("key")
    keys = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, tuple) else raw
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{check} needs params.key: a field path or a list of field paths")
    for k in keys:
        getter(k)
    return tuple(keys)


class StatefulCheck(ABC):
    """What every stateful check shares: ``key``, ``limit``, ``window``, ``ledger``, and the compare.

    A check overrides :meth:`count` (what one request adds), and, if it needs them, :meth:`validate`
    (its own params), :meth:`groups` (other hops than one ledger hop) and the class defaults.
    """

    name: ClassVar[str]
    default_code: ClassVar[str]
    windows: ClassVar[tuple[str, ...]] = _WINDOWS
    default_window: ClassVar[str | None] = None
    counted: ClassVar[str] = "amount"  # the param naming the field a finding points at, by default

    def params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalise a rule's params (``key`` becomes a tuple of paths); ValueError if bad."""
        check = self.name
        out = dict(params)
        out["key"] = _key_paths(params, check)
        if "key_next" in params:
            out["key_next"] = _key_paths({"key": params["key_next"]}, check)
            if len(out["key_next"]) != len(out["key"]):
                raise ValueError(f"{check} params.key_next must have as many paths as params.key")
        if "limit" not in params:
            raise ValueError(f"{check} needs params.limit")
        if _number(params["limit"], "limit") < 0:
            raise ValueError("params.limit must not be negative")
        window = params.get("window", self.default_window)
        if window not in self.windows:
            allowed = " or ".join(self.windows) if len(self.windows) == 1 else "day, year or all"
            raise ValueError(f"{check} params.window must be {allowed}")
        out["window"] = window
        self.validate(params)
        for name in ("value", "subject", "amount"):
            if name in params:
                getter(str(params[name]))
        ledger = params.get("ledger")
        if ledger is not None and (
            not isinstance(ledger, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", ledger)
        ):
            raise ValueError("params.ledger must be a snake_case name")
        return out

    def validate(self, params: Mapping[str, Any]) -> None:  # noqa: B027  optional: most checks have none
        """The check's own params, beyond the shared ones; ValueError if bad."""

    def groups(self, ledger: str, key: tuple[str, ...], params: Mapping[str, Any]) -> tuple[Group, ...]:
        """The hops a rule of this check takes: by default one ledger hop at its key."""
        return (("ledger", ledger, key, None),)

    @abstractmethod
    def count(
        self, rule: Rule, ctx: Context, period: int, total: Decimal | None, seen: list[str], fresh: bool
    ) -> Tally | None:
        """What this request adds to the window; None: nothing (the rule does not count it).

        ``total`` and ``seen`` are the window's state before the request (None and [] in a new
        period); ``seen`` must not be changed in place. ``fresh``: the subject is new this year.
        """

    def compile(self, fields: Sequence[str], params: Mapping[str, Any], env: CheckEnv) -> CheckFn:
        """The rule's function: it compares what its hop counted (``ctx.quota_used``) with the limit."""
        norm = self.params(params)
        limit = _number(norm["limit"], "limit")
        rule_id = env.rule_id
        code = str(params.get("code", self.default_code))
        f = fields[0] if fields else str(norm.get("amount") or norm.get("value") or norm.get("subject"))

        def fn(ctx: Context) -> list[tuple[str, str]]:
            after = (ctx.quota_used or {}).get(rule_id)
            if after is None:  # the rule did not apply (no amount): nothing counted
                return []
            return [(f, code)] if after > limit else []

        return fn


class Quota(StatefulCheck):
    """Sum of ``amount`` (or 1 per request) per key and window."""

    name = "quota"
    default_code = "LIMIT_EXCEEDED"

    def count(
        self, rule: Rule, ctx: Context, period: int, total: Decimal | None, seen: list[str], fresh: bool
    ) -> Tally | None:
        amount_path = rule.params.get("amount")
        raw_amount = _read(ctx, amount_path) if amount_path else 1
        if raw_amount is None:
            return None
        return Tally(rule, period, (total or Decimal(0)) + Decimal(raw_amount))


class Distinct(StatefulCheck):
    """Number of distinct values of ``value`` per key and window."""

    name = "distinct"
    default_code = "TOO_MANY_DISTINCT"

    def validate(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params.get("value"), str):
            raise ValueError("distinct needs params.value: the field whose distinct values are counted")

    def count(
        self, rule: Rule, ctx: Context, period: int, total: Decimal | None, seen: list[str], fresh: bool
    ) -> Tally | None:
        value = _read(ctx, rule.params["value"])
        if value is None:
            return None
        text = render(value)
        after = list(seen)
        if text not in after and len(after) <= _number(rule.params["limit"], "limit"):
            after.append(text)  # past limit + 1 values every request breaks the limit: kept no more
        return Tally(rule, period, Decimal(len(after)), after)


class SubjectVolume(StatefulCheck):
    """Number of distinct subjects per key this year, sharded over a members hop and a volume hop.

    The members hop, keyed by key and subject, knows whether the subject is new under the key this
    year; the volume hop, keyed by the key, counts the new ones.
    """

    name = "subject_volume"
    default_code = "SUBJECT_VOLUME"
    windows = ("year",)
    default_window = "year"

    def validate(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params.get("subject"), str):
            raise ValueError("subject_volume needs params.subject: the subject's digest field")
        if "key_next" in params:
            raise ValueError("subject_volume keys an institution, not a person: it takes no key_next")

    def groups(self, ledger: str, key: tuple[str, ...], params: Mapping[str, Any]) -> tuple[Group, ...]:
        subject = str(params["subject"])
        return (("members", ledger, (*key, subject), subject), ("volume", ledger, key, subject))

    def count(
        self, rule: Rule, ctx: Context, period: int, total: Decimal | None, seen: list[str], fresh: bool
    ) -> Tally | None:
        return Tally(rule, period, (total or Decimal(0)) + (1 if fresh else 0))


STATEFUL: Mapping[str, StatefulCheck] = {c.name: c for c in (Quota(), Distinct(), SubjectVolume())}


def _never(ctx: Context) -> bool:
    return False


def counted_only(rule: Rule, key_next: tuple[str, ...]) -> Rule:
    """``rule`` at its ``key_next`` ledger: counts what the rule counts when every part of that key is
    there (an institution rotating its ledger key sends both references), and judges nothing."""
    parts = [_getter(path) for path in key_next]

    def gate(ctx: Context) -> bool:
        return counts(rule, ctx) and all(part(ctx) not in (None, "") for part in parts)

    return replace(rule, when=_never, count_when=gate)


def steps(rules: Sequence[Rule], scenario_id: str) -> tuple[Step, ...]:
    """Group the stateful rules into hops, in file order: one per (kind, ledger, key, subject).

    A rule with ``key_next`` also takes the hop at that key, after its own, counting only
    (:func:`counted_only`): during a rotation of the requester's ledger key the next key's ledger
    counts what the current one does, so it holds the same windows when the requester switches.
    """
    groups: dict[Group, list[Rule]] = {}
    for r in rules:
        if r.stage != "quota":
            continue
        ledger = str(r.params.get("ledger") or scenario_id)
        for group in STATEFUL[r.check].groups(ledger, tuple(r.params["key"]), r.params):
            groups.setdefault(group, []).append(r)
        key_next = r.params.get("key_next")
        if key_next is not None:
            twin = counted_only(r, tuple(key_next))
            groups.setdefault(("ledger", ledger, tuple(key_next), None), []).append(twin)
    return tuple(
        Step(index=i, kind=kind, ledger=ledger, key=key, rules=tuple(rs), subject=subject)
        for i, ((kind, ledger, key, subject), rs) in enumerate(groups.items())
    )


_getter: Callable[[str], Callable[[Context], Any]] = functools.lru_cache(maxsize=1024)(getter)


def _read(ctx: Context, path: str) -> Any:
    return _getter(path)(ctx)


def render(value: Any) -> str:
    """A key part as text: an institution as ``SCHEME:ID``, absent as empty."""
    if value is None:
        return ""
    if isinstance(value, dict) and "scheme" in value:
        return f"{value['scheme']}:{value.get('id', '')}"
    return str(value)


def hop_key(step: Step, ctx: Context) -> str:
    """The partition key of a stateful hop: its ledger, then its key parts."""
    return "|".join([step.ledger, *(render(_read(ctx, path)) for path in step.key)])


def periods(now: datetime) -> dict[str, int]:
    """The current period of each window: the local day's ordinal, the local year, 0 for ``all``."""
    local = now.astimezone(LOCAL_TZ)
    return {"day": local.toordinal(), "year": local.year, "all": 0}


def prune(windows: dict[str, WindowTotal], members: dict[str, list[str]], period: Mapping[str, int]) -> None:
    """Drop the windows that are over (a past day or year), and the distinct values kept for them.

    A window's period tells its kind: day ordinals, years and 0 (``all``) never coincide, so a window
    is current exactly when its period is one of ``period``'s.
    """
    current = period.values()  # three periods: a scan of them costs less than building a set
    for rule_id in [r for r, w in windows.items() if w["period"] not in current]:
        del windows[rule_id]
    if members:
        for rule_id in [r for r in members if r not in windows]:
            del members[rule_id]


def mark_member(
    step: Step, windows: dict[str, WindowTotal], period: Mapping[str, int], new: list[str]
) -> None:
    """A members hop: note in ``new`` that the subject is new under its key this year."""
    seen = windows.get("seen")
    if seen is None or seen["period"] != period["year"]:
        new.append(step.ledger)
        windows["seen"] = {"period": period["year"], "total": "1"}


def decide(
    step: Step,
    ctx: Context,
    windows: dict[str, WindowTotal],
    members: dict[str, list[str]],
    period: Mapping[str, int],
    fresh: bool,
    on_error: OnError,
) -> list[Finding]:
    """Evaluate a ledger or volume hop's rules against the state, and update it unless rejected.

    A rule judges the requests its ``when`` admits and counts those its ``count_when`` admits
    (:func:`crossbound.rules.engine.counts`); a request judged but not counted is compared with the
    total it would bring, which is not stored.

    ``fresh``: the request brings a subject new this year that this key has not counted yet (volume
    hops). At a volume hop subjects are counted when their export is attempted, even if refused: past
    the threshold, the standard contract no longer covers the institution's transfers this year at all.
    """
    used: dict[str, Decimal] = {}
    tallies: list[Tally] = []
    applicable = [rule for rule in step.rules if applies(rule, ctx)]
    for rule in applicable:
        at = period[rule.params["window"]]
        win = windows.get(rule.id)
        current = win is not None and win["period"] == at
        total = Decimal(win["total"]) if win is not None and current else None
        seen = members.get(rule.id, []) if current else []
        tally = STATEFUL[rule.check].count(rule, ctx, at, total, seen, fresh)
        if tally is not None:
            used[rule.id] = tally.after  # judged (if its ``when`` holds) as if counted
            if counts(rule, ctx):
                tallies.append(tally)
    ctx.quota_used = used
    found = evaluate(applicable, ctx, on_error)
    if step.kind == "volume":
        for t in tallies:
            windows[t.rule.id] = {"period": t.period, "total": str(t.after)}
        return found
    if outcome_of(found) is Outcome.REJECT:
        return found
    for t in tallies:
        windows[t.rule.id] = {"period": t.period, "total": str(t.after)}
        if t.seen is not None:
            members[t.rule.id] = t.seen
    return found
