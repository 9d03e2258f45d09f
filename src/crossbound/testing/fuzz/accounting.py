"""What became of every record a fuzz run sent: exactly one outcome each, or the problems found."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from crossbound.testing.fuzz.base import ANSWERED, TIMEOUT, Fuzzed, Sent
from crossbound.testing.harness import Harness

__all__ = ["account", "feed"]


# -- accounting -----------------------------------------------------------------------------------


def account(
    sent: Sequence[Sent], verdicts: Iterable[Mapping[str, Any]], dead_letters: Iterable[Mapping[str, Any]]
) -> tuple[Counter[str], list[str]]:
    """What became of every record sent: outcomes counted by reason, and every problem found.

    A problem is a record with no outcome, or two, or one it should not have (``internal_error``
    never), a verdict sent twice or for no request sent, a dead letter for no record sent.
    """
    problems: list[str] = []
    outcome: dict[int, str] = {}
    by_coords = {
        (s.record.topic, s.partition, s.offset): n for n, s in enumerate(sent) if s.offset is not None
    }
    replies = {(s.record.topic, s.record.key): n for n, s in enumerate(sent) if s.offset is None}
    by_id: dict[str | None, list[int]] = {}
    for n, s in enumerate(sent):
        by_id.setdefault(s.record.request_id, []).append(n)

    def settle(n: int, what: str) -> None:
        if n in outcome:
            problems.append(f"{_name(sent[n])}: two outcomes, {outcome[n]} and {what}")
        outcome[n] = what

    for d in dead_letters:
        coords = (d["source_topic"], d["source_partition"], d["source_offset"])
        found = by_coords.get(coords, replies.get((d["source_topic"], d["key"])))
        if found is None and d["source_offset"] == -1:  # a failed hop: the request it carried
            found = next(
                (n for n in by_id.get(d["request_id"], []) if sent[n].record.topic == coords[0]), None
            )
        if found is None:
            problems.append(f"dead letter {d['reason']} for no record sent: {coords}")
        else:
            settle(found, d["reason"])
    answers: dict[str, list[Mapping[str, Any]]] = {}
    for v in verdicts:
        answers.setdefault(v["request_id"], []).append(v)
    for rid, got in answers.items():
        problems += _answer(sent, [n for n in by_id.get(rid, []) if n not in outcome], rid, got, settle)
    for n, s in enumerate(sent):
        what = outcome.get(n)
        if what is None:
            problems.append(f"{_name(s)}: no outcome")
        elif what not in s.record.expect:
            problems.append(f"{_name(s)}: {what}, expected one of {sorted(s.record.expect)}")
    return Counter(outcome.values()), problems


def _answer(
    sent: Sequence[Sent],
    open_: list[int],
    rid: str,
    got: list[Mapping[str, Any]],
    settle: Callable[[int, str], None],
) -> list[str]:
    """The verdicts on ``rid`` settle its one request not dead-lettered, and the answer that decided it."""
    problems = [f"request {rid}: {len(got)} verdicts"] if len(got) > 1 else []
    asked = [n for n in open_ if sent[n].record.topic.endswith(".requests")]
    answers = [n for n in open_ if n not in asked]
    if len(asked) != 1:
        problems.append(f"request {rid}: a verdict for {len(asked)} requests sent and not dead-lettered")
    codes = sorted({f["code"] for f in got[0]["findings"]})
    for n in asked:
        settle(n, ANSWERED)
        want = sent[n].record.outcome
        if want is not None and got[0]["outcome"] != want:
            problems.append(f"{_name(sent[n])}: {got[0]['outcome']} {codes}, not {want}")
    if answers and (TIMEOUT in codes or len(answers) > 1):
        problems.append(f"request {rid}: {len(answers)} answers neither dead-lettered nor deciding it")
    for n in answers:
        settle(n, ANSWERED)
    return problems


def _name(s: Sent) -> str:
    r = s.record
    return f"{r.kind} on {r.topic}[{s.partition}]@{s.offset} (request {r.request_id})"


def feed(h: Harness, records: Iterable[Fuzzed]) -> list[Sent]:
    """Send ``records`` through a Harness, in order, then let every timeout fire; what was sent.

    An ``in_reply`` attestation goes right after its request, if the request asked for one (it is
    not sent otherwise, as a data holder would not answer).
    """
    sent: list[Sent] = []
    asked: set[str] = set()
    for rec in records:
        if rec.in_reply and rec.request_id not in asked:
            continue
        offset = h.next_offset(rec.topic)
        for out in h.send(rec.topic, rec.key, rec.value, rec.partition, rec.timestamp_ms):
            if out.topic.endswith(".attestation-requests"):
                asked.add(out.record["request_id"])
        sent.append(Sent(rec, rec.partition, offset))
    h.advance(h.attestation_timeout_s + 1)
    return sent
