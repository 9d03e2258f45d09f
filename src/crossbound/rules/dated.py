"""Rule parameters with the dates they are in force: a request is judged by the figures of its own date.

Schemes change their limits (WMC 2.0 raised the individual quota on 26 Feb 2024; e-CNY and allowance
rates change), and a request made the day before a change must still be judged by the old figures.
A rule's ``params`` are the figures in force until its first dated entry; each entry of
``[[rules.params_in_force]]`` gives the date (``from``, a TOML date, UTC+8) from which the params it
names change, and may cite its ``source``::

    params = { key = [...], amount = "payload.amount_cny", window = "all", limit = "1000000" }
    [[rules.params_in_force]]
    from = 2024-02-26
    limit = "3000000"
    source = "WMC 2.0 [S29]"

Entries must be in increasing date order, change at least one param the rule already has, and never
its structure (``key``, ``window``, ``ledger`` and the paths it reads stay fixed, so a ledger means the
same thing on both sides of a date). Every entry's figures are compiled and checked at load, like the
rule's own.

*Which date.* The request's ``created_at``, as a day in UTC+8: the day the requester made the
transaction, which stays the same however long the attestation takes, after a redelivery, or when a
request made at 23:59 is decided after midnight (the decision time would change the figures under
it). It cannot be backdated to reach older figures: C6 refuses a request created ahead of the clock or
living longer than 24 hours, so ``created_at`` is within a day of the decision.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from crossbound.domain import local_date
from crossbound.rules.model import CheckFn, Context

__all__ = ["FIXED_PARAMS", "by_date", "request_date", "variants"]

FIXED_PARAMS = frozenset(
    {"key", "key_next", "window", "ledger", "amount", "value", "subject", "against", "purpose_field"}
)
_MEMO = ("request_date",)


def variants(raw: Any, params: Mapping[str, Any]) -> list[tuple[date, dict[str, Any]]]:
    """The dated entries of a rule, each as its start date and the full params in force from it.

    ValueError, naming the entry and its date, for an entry that is not a table, has no date, is out of
    order, changes nothing, changes the rule's structure or names a param the rule does not have.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("params_in_force must be an array of tables ([[rules.params_in_force]])")
    out: list[tuple[date, dict[str, Any]]] = []
    for i, entry in enumerate(raw):
        where = f"params_in_force[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a table")
        start = entry.get("from")
        if not isinstance(start, date) or isinstance(start, datetime):
            raise ValueError(f"{where} needs from = a date (YYYY-MM-DD, a day in UTC+8)")
        where = f"{where} (from {start})"
        if out and start <= out[-1][0]:
            raise ValueError(f"{where}: dates must increase, and {out[-1][0]} comes before")
        if not isinstance(entry.get("source", ""), str):
            raise ValueError(f"{where}: source must be a string")
        changed = {k: v for k, v in entry.items() if k not in ("from", "source")}
        if not changed:
            raise ValueError(f"{where} changes no param")
        fixed = sorted(set(changed) & FIXED_PARAMS)
        if fixed:
            raise ValueError(f"{where}: {fixed} cannot change with the date (the rule's structure is fixed)")
        unknown = sorted(set(changed) - set(params))
        if unknown:
            raise ValueError(f"{where}: {unknown} are not among the rule's params")
        out.append((start, {**(out[-1][1] if out else params), **changed}))
    return out


def request_date(ctx: Context) -> date:
    """The day (UTC+8) the request was created, or of the decision time if it carries none."""
    memo = ctx.memo
    day = memo.get(_MEMO)
    if day is None:
        created = ctx.request.get("created_at")
        day = memo[_MEMO] = local_date(created if isinstance(created, datetime) else ctx.now)
    return day


def by_date(starts: Sequence[date], fns: Sequence[CheckFn]) -> CheckFn:
    """One check out of ``fns``: ``fns[0]`` before ``starts[0]``, ``fns[i + 1]`` from ``starts[i]``."""
    begins = list(starts)
    checks = list(fns)

    def fn(ctx: Context) -> list[tuple[str, str]]:
        return checks[bisect.bisect_right(begins, request_date(ctx))](ctx)

    return fn
