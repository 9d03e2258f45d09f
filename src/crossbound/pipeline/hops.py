"""The stateful hops: each runs at its key's partition, reads the key's state, decides, passes on or answers.

A request with stateful rules visits its hops in order, each as a record on the internal hop topic
``<app>.quota`` keyed by the hop's key, so each key's state (the ``quota_usage`` table) lives in one
partition. ``ledger`` hops run quota and distinct rules. A ``members`` hop records whether the subject
is new under its key this year; the ``volume`` hop after it counts the new ones. A per-person ledger is
keyed by the requester, its ledger key id and the person's ledger reference; while the requester
rotates that key, a rule's ``key_next`` hop counts the request at the next key's ledger too, judging
nothing. The checks themselves are :mod:`crossbound.rules.stateful`'s.

Each hop's output is remembered (ledger and members hops) or guarded (volume hops), so a redelivered
hop neither counts twice nor answers differently. What a key keeps is bounded by its rules, not by its
traffic (``QuotaUsage`` v3): one running total per rule for its current window, the values a distinct
rule needs, and the outputs of the last :data:`LAST_MAX` hops decided at the key (a redelivered hop is
one of those: records are redelivered from the last committed offset, after a crash or rebalance).
Windows that are over are dropped when their key is next written, and keys with no current window
are dropped by the sweep (:meth:`crossbound.pipeline.sweeper.Sweeper.prune_ledgers`).

A hop redelivered after more than :data:`LAST_MAX` later hops of its key is decided again: counted a
second time (a later request may be refused a little early; a limit is never exceeded by it) and
answered again, possibly differently. Volume hops keep the last :data:`COUNTED_MAX` request ids that
added a subject against the same risk.

A ``quota_usage`` value that does not decode as a ``QuotaUsage``, or whose packed fields do not parse
(:mod:`crossbound.pipeline.ledger`; a broken or foreign writer), has
lost its key's history: left in place it would fail every later request of that payer or institution.
It is logged (the ledger's name and the request id: the key's other parts are HMACs of persons, never
logged), counted in ``crossbound_unreadable_total{where="usage"}`` and dropped, and the hop goes on
from an empty state with a ``REVIEW`` finding (``LEDGER_UNREADABLE``): whether this request keeps
within its limits can no longer be told, so a person decides (not ``ACCEPT``, which could let a limit
be exceeded; not ``REJECT``, which nothing in the request justifies). The ledger starts again from
this request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from crossbound.codec import Codec
from crossbound.codec.records import QuotaCheck, QuotaStep, QuotaUsage, Request
from crossbound.errors import DecodeError
from crossbound.metrics import Metrics
from crossbound.pipeline.attestations import finding
from crossbound.pipeline.decoding import Decoder
from crossbound.pipeline.ledger import add_counted, append_reply, check, digest, find_reply, is_counted
from crossbound.pipeline.outputs import Outputs
from crossbound.pipeline.records import Incoming, Outgoing
from crossbound.pipeline.stores import AnsweredStore, State
from crossbound.rules import Context, Finding, Outcome, Severity, outcome_of
from crossbound.rules.engine import OnError
from crossbound.rules.stateful import decide, mark_member, periods, prune

__all__ = ["COUNTED_MAX", "HOP", "LAST_MAX", "Hops"]

HOP = "internal/quota_check"
USAGE = "internal/quota_usage"
LEDGER_UNREADABLE = "LEDGER_UNREADABLE"
LAST_MAX = 32  # ledger and members hops: the last hops decided at a key, answered again if redelivered
COUNTED_MAX = 32  # volume hops: the last request ids that added a subject, not counted twice

log = logging.getLogger(__name__)


class Hops:
    """The internal hop topic's handler, over the ``quota_usage`` table."""

    def __init__(
        self,
        usage: State,
        decoder: Decoder,
        answered: AnsweredStore,
        outputs: Outputs,
        metrics: Metrics,
        on_rule_error: Mapping[str, OnError],
        clock: Callable[[], float],
    ) -> None:
        self.usage = usage
        self.decoder = decoder
        self.codec: Codec = decoder.codec
        self.answered = answered
        self.outputs = outputs
        self.metrics = metrics
        self.on_rule_error = on_rule_error
        self.clock = clock
        # the last state this process wrote per key, with its bytes and the offsets of its remembered
        # replies (ledger.append_reply): read back while the table holds those bytes
        self.states: dict[bytes, tuple[bytes, QuotaUsage, list[int] | None]] = {}
        self.max_states = 10_000
        self._period: tuple[int, Mapping[str, int]] = (-1, {})  # the second they are of, the periods

    def on_hop(self, side: str, rec: Incoming) -> list[Outgoing]:
        """One hop of the stateful stage, at its key: read the state, decide, update, pass on or answer."""
        assert rec.value is not None
        codec = self.codec
        in_hand = self.outputs.in_hand.take(rec.value)  # produced by this process: no decode
        if in_hand is None:
            chk = cast(QuotaCheck, codec.decode(rec.value, (HOP,))[1])
            request = cast(Request, codec.decode(chk["request"])[1])
            rs = self.decoder.ruleset(request["scenario_id"], chk["request_id"])
            payload = codec.decode(request["payload"])[1]
            findings = [finding(f) for f in chk["findings"]]
            memo: dict[Any, Any] = {}
        else:
            chk, request, payload, kept, memo = in_hand
            rs = self.decoder.ruleset(request["scenario_id"], chk["request_id"])
            findings = list(kept)
        steps: list[QuotaStep] = chk["steps"] or [{"index": 0, "key": chk["quota_key"]}]
        request_id = chk["request_id"]
        now = datetime.fromtimestamp(self.clock(), UTC)
        now_ms = int(now.timestamp() * 1000)
        period = self._periods(now_ms, now)
        here = f"quota|{request_id}|{steps[0]['index']}".encode()
        key = chk["quota_key"].encode()
        state, starts = self._state(key, rs.scenario_id, request_id, findings)
        index = steps[0]["index"]
        if index >= len(rs.steps):  # the rule set changed since the request was routed: answer now,
            if self.answered.handled_here(here):  # once per process, as any hop this process decided
                return []
            verdict = self.outputs.verdict(
                rs, request, findings, dict(chk["attested"]), now, chk["source_partition"]
            )
            self.answered.mark_done_here(here)
            return [verdict]
        step = rs.steps[index]
        replies, counted_ids = state["replies"] or b"", state["counted"] or b""  # None: older versions
        if state["touched_at"] + self.answered.retention_ms <= now_ms:
            # older than the retention: no redelivered hop needs them (the sweep trims keys left alone)
            replies = counted_ids = state["replies"] = state["counted"] = b""
            starts = []
        known = digest(request_id)  # once per hop, for each look-up and addition below
        done = find_reply(replies, request_id, known)
        if done is not None:  # a redelivered hop: answer as before, count nothing twice
            return self.answered.send_again(here, done)
        if self.answered.handled_here(here):
            # this process decided this hop already (a redelivery, or the same hop sent on again): its
            # producer delivers that answer. Not only for counted ids: a hot key (C10 counts one key
            # per institution) forgets all but its last COUNTED_MAX, and two deliveries of an older
            # hop after a crash were each decided again (3 copies of its verdict)
            return []
        counted = step.kind == "volume" and is_counted(counted_ids, request_id, known)
        ctx = Context(request, payload, now, ruleset_version=rs.version, memo=memo)
        new_members = list(chk["new_members"])
        if step.kind == "members":
            mark_member(step, state["windows"], period, new_members)
        else:
            findings += decide(
                step,
                ctx,
                state["windows"],
                state["members"],
                period,
                step.ledger in new_members and not counted,
                self.on_rule_error[rs.scenario_id],
            )
            if step.kind == "volume" and step.ledger in new_members and not counted:
                state["counted"] = add_counted(counted_ids, request_id, COUNTED_MAX, known)
        attested = dict(chk["attested"])
        rest = steps[1:]
        if rest and outcome_of(findings) is not Outcome.REJECT:
            source = chk["source_topic"], chk["source_partition"]
            out = self.outputs.hop_record(
                request, rest, findings, attested, chk["request"], source, new_members, payload, ctx.memo
            )
        else:
            out = self.outputs.verdict(rs, request, findings, attested, now, chk["source_partition"])
        if step.kind != "volume":
            state["replies"], starts = append_reply(replies, starts, request_id, out, LAST_MAX, known)
        prune(state["windows"], state["members"], period)
        state["touched_at"] = now_ms
        value = self.usage[key] = codec.encode(USAGE, state)
        self._keep(key, value, state, starts)
        self.answered.mark_done_here(here)
        return [out]

    def _periods(self, now_ms: int, now: datetime) -> Mapping[str, int]:
        """:func:`~crossbound.rules.stateful.periods` of ``now`` (``now_ms``: the same instant), worked
        out once per second: the local zone is a whole-hour offset, so no day or year starts within one."""
        second = now_ms // 1000
        at, period = self._period
        if at != second:
            period = periods(now)
            self._period = second, period
        return period

    def _keep(self, key: bytes, value: bytes, state: QuotaUsage, starts: list[int] | None) -> None:
        """Keep ``state`` decoded beside the bytes just written for it (the oldest key dropped when full)."""
        states = self.states
        if len(states) >= self.max_states:
            if not states:  # max_states 0: nothing is kept
                return
            del states[next(iter(states))]
        states[key] = value, state, starts

    def _state(
        self, key: bytes, scenario: str, request_id: str, findings: list[Finding]
    ) -> tuple[QuotaUsage, list[int] | None]:
        """The state of ``key``; if unreadable, dropped and empty, with a REVIEW finding (see the module).

        Not decoded when the table still holds the bytes this process last wrote for the key: the
        state written is kept beside them (a hot key, such as an institution's C10 count, is
        read and rewritten at every request), with the offsets of its remembered replies (None when
        decoded: :func:`~crossbound.pipeline.ledger.append_reply` walks them then).
        """
        raw = self.usage.get(key)
        kept = self.states.pop(key, None)  # taken: a hop that fails after changing it leaves nothing
        if raw and kept is not None and kept[0] == raw:
            return kept[1], kept[2]
        if raw:
            try:
                state = cast(QuotaUsage, self.codec.decode(raw, (USAGE,))[1])
                check(state["replies"] or b"", state["counted"] or b"")
                return state, None
            except (DecodeError, ValueError):
                del self.usage[key]
                self.metrics.unreadable("usage")
                ledger = key.split(b"|", 1)[0].decode(errors="replace")
                log.error("unreadable %s ledger entry met by request %r: reset", ledger, request_id)
                findings.append(Finding(f"{scenario}:ledger", Severity.REVIEW, "", LEDGER_UNREADABLE))
        return {"windows": {}, "members": {}, "replies": b"", "counted": b"", "touched_at": 0}, []
