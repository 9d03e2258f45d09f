"""The offline verifier: a clean log and a crash's replays pass; each tampering is caught, by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from auditlog import AuditLog, body, clean_log, entry_at, redigest

from crossbound.audit import Report, make_checkpoint, verify_log
from crossbound.audit.chains import Head
from crossbound.domain import Side
from crossbound.participants import Registry
from crossbound.signing import Signer


@pytest.fixture
def log(keys: tuple[Registry, dict[Side, Signer]]) -> AuditLog:
    return clean_log(keys[1])


def check(
    registry: Registry, hk: list[dict[str, Any]], sz: list[dict[str, Any]] | None = None, **kw: Any
) -> Report:
    anchors = None if sz is None else AuditLog.logged(sz)
    return verify_log(AuditLog.logged(hk), registry, anchors, anchors_name="sz.jsonl", **kw)


def first(report: Report) -> str:
    assert not report.ok, "the verifier accepted it"
    return report.problems[0].text()


def test_a_clean_log_passes_with_its_anchors(registry: Registry, log: AuditLog) -> None:
    report = check(registry, log.hk, log.sz)
    assert report.ok, [p.text() for p in report.problems]
    assert (report.side, report.chains, report.entries) == ("hk", 2, 10)
    assert (report.checkpoints, report.anchors, report.forks, report.duplicates) == (2, 2, 0, 0)


def test_a_changed_field_is_caught(registry: Registry, log: AuditLog) -> None:
    log.hk[entry_at(log.hk, "hk.in.0", 2)]["outcome"] = "REJECT"
    assert first(check(registry, log.hk)) == (
        "chain hk.in.0 seq 2 (line 5): its content does not match its digest: altered"
    )


def test_a_changed_digest_is_caught(registry: Registry, log: AuditLog) -> None:
    log.hk[entry_at(log.hk, "hk.in.1", 1)]["output"] = "00" * 32
    assert "chain hk.in.1 seq 1" in first(check(registry, log.hk))
    assert "does not match its digest: altered" in first(check(registry, log.hk))


def test_a_changed_and_re_digested_entry_is_caught_by_the_next_link(
    registry: Registry, log: AuditLog
) -> None:
    entry = log.hk[entry_at(log.hk, "hk.in.0", 1)]
    entry["outcome"] = "REJECT"
    redigest(entry)
    assert first(check(registry, log.hk)).startswith(
        "chain hk.in.0 seq 1 (line 3): is not the entry seq 2 links to"
    )


def test_a_dropped_entry_is_named(registry: Registry, log: AuditLog) -> None:
    del log.hk[entry_at(log.hk, "hk.in.1", 2)]
    report = check(registry, log.hk)
    assert first(report).startswith("chain hk.in.1 seq 2 ")  # the checkpoint vouching for it, and:
    assert "chain hk.in.1 seq 2 (line 8): is missing: seq 3 links to an entry not in the log" in [
        p.text() for p in report.problems
    ]


def test_a_dropped_tail_is_caught_by_the_checkpoint(registry: Registry, log: AuditLog) -> None:
    del log.hk[entry_at(log.hk, "hk.in.1", 4)]
    text = first(check(registry, log.hk))
    assert text.startswith("chain hk.in.1 seq 4")
    assert "vouches for digest" in text
    assert "not in the log: dropped or altered" in text


def test_reordered_entries_are_caught(registry: Registry, log: AuditLog) -> None:
    a, b = entry_at(log.hk, "hk.in.0", 1), entry_at(log.hk, "hk.in.0", 2)
    log.hk[a], log.hk[b] = log.hk[b], log.hk[a]
    assert first(check(registry, log.hk)) == (
        "chain hk.in.0 seq 2 (line 3): comes before the entry it links to: reordered"
    )


def test_an_inserted_entry_is_caught(registry: Registry, log: AuditLog) -> None:
    # linked and digested as the worker would: a second seq 2 after seq 1, a decision never taken
    after = log.hk[entry_at(log.hk, "hk.in.0", 1)]
    forged = {**body(99), "chain": "hk.in.0", "seq": 2, "prev": after["digest"], "at_ms": after["at_ms"] + 1}
    redigest(forged)
    log.hk.insert(entry_at(log.hk, "hk.in.0", 1) + 1, forged)
    assert first(check(registry, log.hk)).startswith(
        "chain hk.in.0 seq 2 (line 4): on a branch abandoned at seq 2: its verdict for "
        "00000000-0000-4000-8000-000000000099 is not taken again"
    )


def test_an_inserted_entry_with_the_rest_relinked_is_caught_by_the_checkpoints(
    registry: Registry, log: AuditLog
) -> None:
    at = entry_at(log.hk, "hk.in.0", 1)
    prev = log.hk[at]
    forged = {**body(99), "chain": "hk.in.0", "seq": 2, "prev": prev["digest"], "at_ms": prev["at_ms"] + 1}
    redigest(forged)
    log.hk.insert(at + 1, forged)
    prev = forged
    for rec in log.hk[at + 2 :]:
        if rec.get("chain") == "hk.in.0":
            rec["seq"], rec["prev"] = prev["seq"] + 1, prev["digest"]
            redigest(rec)
            prev = rec
    problems = [p.text() for p in check(registry, log.hk).problems]
    assert any("chain hk.in.0 seq 2" in p and "vouches for digest" in p for p in problems), problems


def test_a_forged_checkpoint_is_caught(registry: Registry, log: AuditLog) -> None:
    cp = next(r for r in log.hk if r["type"] == "checkpoint")
    cp["heads"][0]["seq"] += 1
    text = first(check(registry, log.hk))
    assert "checkpoint of HK at" in text
    assert "bad_signature: the signature does not verify" in text


def test_a_checkpoint_signed_by_the_other_side_is_caught(
    keys: tuple[Registry, dict[Side, Signer]], log: AuditLog
) -> None:
    registry, signers = keys
    heads = {c: h for c, h in log.chains.persisted.items()}
    log.hk.append(make_checkpoint(signers[Side.SZ], Side.HK, heads, log.clock + 1))
    assert "unknown_signer: no platform key of side HK has that id" in first(check(registry, log.hk))


def test_a_dropped_cross_anchor_is_caught(registry: Registry, log: AuditLog) -> None:
    del log.sz[0]
    text = first(check(registry, log.hk, log.sz))
    assert text.startswith("line 7: checkpoint of HK at ")
    assert text.endswith("has no cross-anchor in sz.jsonl: dropped there")


def test_an_anchor_whose_original_is_missing_passes(registry: Registry, log: AuditLog) -> None:
    # a crash between the anchor's send and the original's: the anchor still vouches for the chain
    del log.hk[next(i for i, r in enumerate(log.hk) if r["type"] == "checkpoint")]
    report = check(registry, log.hk, log.sz)
    assert report.ok, [p.text() for p in report.problems]
    assert (report.checkpoints, report.anchors) == (1, 2)


def test_the_anchors_vouch_for_this_log(registry: Registry, log: AuditLog) -> None:
    # HK's log rewritten, its own checkpoints dropped: the anchors on SZ's side still name its heads
    tail = ("hk.in.0", 4)
    log.hk = [r for r in log.hk if r["type"] == "entry" and (r["chain"], r["seq"]) != tail]
    text = first(check(registry, log.hk, log.sz))
    assert "cross-anchor of HK at" in text
    assert "in sz.jsonl vouches for digest" in text


def _crash(log: AuditLog, replayed: list[int], new: range) -> None:
    """Decisions 0-5 persisted and checkpointed, 6-9 logged but not persisted; the next process
    decides ``replayed`` again, then ``new``."""
    log.clear()
    for n in range(6):
        log.decide(n)
    log.checkpoint()
    for n in range(6, 10):
        log.decide(n)  # acknowledged, but the process died before it persisted the heads
    log.restart()
    for n in replayed:
        log.decide(n)
    for n in new:
        log.decide(n)
    log.checkpoint()


def test_replays_after_a_crash_pass(registry: Registry, log: AuditLog) -> None:
    _crash(log, [6, 7, 8, 9], range(10, 14))
    log.hk.append(dict(log.hk[3]))  # and a record written twice (a producer retry)
    report = check(registry, log.hk, log.sz)
    assert report.ok, [p.text() for p in report.problems]
    assert (report.forks, report.duplicates, report.entries) == (2, 1, 19)


def test_a_crash_branch_with_a_decision_not_taken_again_is_caught(registry: Registry, log: AuditLog) -> None:
    _crash(log, [6, 8, 9], range(10, 14))
    assert first(check(registry, log.hk)).startswith(
        "chain hk.in.1 seq 3 (line 9): on a branch abandoned at seq 3: its verdict for "
        "00000000-0000-4000-8000-000000000007 is not taken again on the surviving branch"
    )


def test_a_crash_branch_decided_otherwise_is_caught(registry: Registry, log: AuditLog) -> None:
    log.clear()
    for n in range(4):
        log.decide(n)
    log.writer.persist()
    log.decide(4)
    log.restart()
    log.decide(4, outcome="REJECT")
    log.decide(6)
    assert "on a branch abandoned at seq 2: its verdict for" in first(check(registry, log.hk))


def test_strict_accepts_no_fork(registry: Registry, log: AuditLog) -> None:
    _crash(log, [6, 7, 8, 9], range(10, 12))
    assert first(check(registry, log.hk, strict=True)) == (
        "chain hk.in.0 seq 3: a fork: none is accepted with --strict"
    )
    assert check(registry, clean_log(log.signers).hk, strict=True).ok


@pytest.mark.parametrize(
    "edit",
    [
        {"seq": "2"},
        {"findings": "C1"},
        {"findings": [1]},
        {"source": ["hk.requests", 0, 1]},
        {"source": {"topic": ["hk.requests"]}},
        {"request_id": ["00000000-0000-4000-8000-000000000002"]},
        {"kind": {"verdict": 1}},
        {"outcome": ["ACCEPT"]},
        {"at_ms": None},
        {"chain": None},
    ],
)
@pytest.mark.parametrize("redigested", [False, True], ids=["as-is", "re-digested"])
def test_an_entry_of_the_wrong_shape_is_named(
    registry: Registry, log: AuditLog, edit: dict[str, Any], redigested: bool
) -> None:
    log.hk[2].update(edit)
    if redigested:  # its digest matches: only its shape tells it, never a crash of the verifier
        redigest(log.hk[2])
    report = check(registry, log.hk)
    assert not report.ok
    assert "line 3: not an audit entry or checkpoint" in [p.text() for p in report.problems]


def test_lines_that_are_no_audit_records_are_named(registry: Registry, log: AuditLog) -> None:
    cp = next(r for r in log.hk if r["type"] == "checkpoint")
    cp["heads"] = "all of them"
    log.hk.insert(2, {"type": "entry", "chain": "hk.in.0"})
    log.hk.insert(3, ["not", "an", "object"])
    texts = [p.text() for p in check(registry, log.hk).problems]
    assert "line 3: not an audit entry or checkpoint" in texts
    assert "line 4: not an audit entry or checkpoint" in texts
    assert any("bad_signature" in t for t in texts)


def test_heads_round_trip() -> None:
    head = Head(7, "ab" * 32)
    assert Head.decode(head.encode()) == head


def test_a_log_file_reads_back(tmp_path: Path, registry: Registry, log: AuditLog) -> None:
    from auditlog import dump

    from crossbound.audit import read_log

    report = verify_log(read_log(dump(log.hk, tmp_path / "hk.jsonl")), registry)
    assert report.ok


def test_a_rebalance_hands_the_chains_on_without_a_fork(registry: Registry, log: AuditLog) -> None:
    log.clear()
    for n in range(6):
        log.decide(n)
    log.checkpoint()  # persisted: what the new owner recovers from the changelog
    log.restart()  # another process owns the partitions now
    for n in range(6, 12):
        log.decide(n)
    log.checkpoint()
    report = check(registry, log.hk, log.sz, strict=True)
    assert report.ok, [p.text() for p in report.problems]
    assert (report.entries, report.forks) == (12, 0)
