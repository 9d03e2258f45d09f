"""The fork rule for an attestation request the next owner does not send again: accepted only when its
request is settled (a verdict for it, or a dead letter of its very input) where the verifier sees it.

HK attests here: its log holds the attestation requests, SZ's (the anchors) the requester's verdicts.
After a crash the new owner got the attestation of request 7 before the request's redelivery, and
decided it (SZ's verdict) instead of asking again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auditlog import AuditLog, clean_log, entry_at, redigest

from crossbound.audit import Report, verify_log
from crossbound.domain import Side
from crossbound.participants import Registry
from crossbound.signing import Signer

ASK: dict[str, Any] = {"kind": "attestation_request", "outcome": "ASKED"}
ANSWERED = 7  # the request whose attestation came first after the crash
ATTESTATION = {"topic": "hk.attestations", "partition": 1, "offset": 70}


def crash(
    signers: dict[Side, Signer],
    settle: Callable[[AuditLog], object] | None = None,
    lost: dict[str, Any] = ASK,
) -> AuditLog:
    """Requests 0-5 asked, persisted and checkpointed; 6-9 asked (7: ``lost``), the process killed
    before it persisted the heads. The next process asks 6, 8 and 9 again; request 7 is settled by
    ``settle`` (default: SZ's verdict, decided from the attestation); then it asks 10-13."""
    log = AuditLog(signers)
    for n in range(6):
        log.decide(n, **ASK)
    log.checkpoint()
    for n in range(6, 10):
        log.decide(n, **(lost if n == ANSWERED else ASK))  # acknowledged, heads not persisted
    log.restart()
    for n in (6, 8, 9):
        log.decide(n, **ASK)
    if settle is None:
        log.decide(ANSWERED, side="sz", source=ATTESTATION)
    else:
        settle(log)
    for n in range(10, 14):
        log.decide(n, **ASK)
    log.checkpoint()
    return log


def check(registry: Registry, log: AuditLog, anchors: bool = True, **kw: Any) -> Report:
    return verify_log(AuditLog.logged(log.hk), registry, AuditLog.logged(log.sz) if anchors else None, **kw)


def texts(report: Report) -> list[str]:
    return [p.text() for p in report.problems]


NOT_ASKED_AGAIN = (
    "chain hk.in.1 seq 3 (line 9): on a branch abandoned at seq 3: its attestation_request for "
    "00000000-0000-4000-8000-000000000007 is not taken again on the surviving branch"
)


def test_an_attestation_request_answered_from_its_attestation_passes(
    keys: tuple[Registry, dict[Side, Signer]],
) -> None:
    registry, signers = keys
    report = check(registry, crash(signers))
    assert report.ok, texts(report)
    assert (report.forks, report.entries, report.checkpoints, report.anchors) == (2, 17, 2, 2)


def test_an_attestation_request_settled_on_this_log_passes(
    keys: tuple[Registry, dict[Side, Signer]],
) -> None:
    registry, signers = keys
    # the request's own record dead-lettered by the new owner, on the surviving branch
    log = crash(signers, lambda log: log.decide(ANSWERED, kind="dead_letter", outcome="signature_expired"))
    report = check(registry, log, anchors=False)
    assert report.ok, texts(report)
    # a verdict on another chain of this log (a timeout's) settles it too
    log = crash(signers, lambda log: log.decide(ANSWERED, stream="timer", outcome="REJECT"))
    assert check(registry, log, anchors=False).ok


def test_without_the_other_sides_log_the_verdict_is_not_seen(
    keys: tuple[Registry, dict[Side, Signer]],
) -> None:
    registry, signers = keys
    assert texts(check(registry, crash(signers), anchors=False)) == [NOT_ASKED_AGAIN]


def _drop_verdict(log: AuditLog) -> None:
    del log.sz[next(i for i, r in enumerate(log.sz) if r.get("kind") == "verdict")]


def _alter_verdict(log: AuditLog) -> None:
    next(r for r in log.sz if r.get("kind") == "verdict")["outcome"] = "REJECT"  # not re-digested


def _verdict_abandoned(log: AuditLog) -> None:
    # SZ's verdict for 7 is itself on a branch its own chain abandoned
    verdict = next(r for r in log.sz if r.get("kind") == "verdict")
    tip = {**verdict, "request_id": "00000000-0000-4000-8000-000000000011", "seq": 1}
    longer = {**tip, "prev": verdict["prev"], "seq": 0, "at_ms": verdict["at_ms"] + 1}
    redigest(longer)
    tip["prev"] = longer["digest"]
    redigest(tip)
    log.sz += [longer, tip]


@pytest.mark.parametrize(
    ("settle", "edit"),
    [
        pytest.param(lambda log: None, None, id="no-outcome-anywhere"),
        pytest.param(None, _drop_verdict, id="verdict-dropped"),
        pytest.param(None, _alter_verdict, id="verdict-altered"),
        pytest.param(None, _verdict_abandoned, id="verdict-on-an-abandoned-branch"),
        pytest.param(lambda log: log.decide(8, side="sz", source=ATTESTATION), None, id="another-request"),
        pytest.param(  # a dead letter of another input with that id (a duplicate request) settles nothing
            lambda log: log.decide(
                ANSWERED,
                side="sz",
                kind="dead_letter",
                outcome="duplicate_request",
                source={"topic": "hk.requests", "partition": 1, "offset": 99},
            ),
            None,
            id="dead-letter-of-another-input",
        ),
        pytest.param(  # the late attestation's dead letter: the request is not settled by it
            lambda log: log.decide(
                ANSWERED, kind="dead_letter", outcome="late_attestation", source=ATTESTATION
            ),
            None,
            id="dead-letter-of-the-attestation",
        ),
    ],
)
def test_an_attestation_request_whose_request_is_not_settled_is_caught(
    keys: tuple[Registry, dict[Side, Signer]],
    settle: Callable[[AuditLog], object] | None,
    edit: Callable[[AuditLog], None] | None,
) -> None:
    registry, signers = keys
    log = crash(signers, settle)
    if edit is not None:
        edit(log)
    assert NOT_ASKED_AGAIN in texts(check(registry, log))


def test_an_abandoned_verdict_is_not_excused_by_a_verdict_elsewhere(
    keys: tuple[Registry, dict[Side, Signer]],
) -> None:
    # only an attestation request is: a verdict the surviving branch does not repeat is still caught
    registry, signers = keys
    log = crash(signers, lost={"kind": "verdict", "outcome": "ACCEPT"})
    assert texts(check(registry, log)) == [NOT_ASKED_AGAIN.replace("attestation_request", "verdict")]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda hk: hk.__delitem__(entry_at(hk, "hk.in.0", 5)), id="dropped"),
        pytest.param(lambda hk: hk[entry_at(hk, "hk.in.1", 3)].update(outcome="REJECT"), id="changed"),
        pytest.param(lambda hk: hk[entry_at(hk, "hk.in.0", 1)].update(request_id=None), id="changed-id"),
    ],
)
def test_tampering_with_the_settled_crash_log_is_still_caught(
    keys: tuple[Registry, dict[Side, Signer]], tamper: Callable[[list[dict[str, Any]]], None]
) -> None:
    registry, signers = keys
    log = crash(signers)
    tamper(log.hk)
    assert not check(registry, log).ok


def test_strict_still_accepts_no_fork(keys: tuple[Registry, dict[Side, Signer]]) -> None:
    registry, signers = keys
    assert not check(registry, crash(signers), strict=True).ok
    assert check(registry, clean_log(signers), anchors=False, strict=True).ok
