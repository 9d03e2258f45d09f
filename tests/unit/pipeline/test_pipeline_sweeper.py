"""The sweeper's heaps: an entry whose table value moved on is put back for its new time, not lost.

A heap entry is acted on only if the table still agrees with it. When the table holds a later time
(a request parked again with a later deadline, an answer remembered for longer, as a changelog can
bring after a rebalance), the sweeper must push the entry back for that later time: else the request
would never time out, or the answer never be forgotten.
"""

from __future__ import annotations

from typing import Any

from crossbound.pipeline.records import forget_at, with_forget_at
from crossbound.testing import Harness
from crossbound.testing.traffic import Traffic


def _parked(h: Harness, seed: int) -> bytes:
    case = Traffic(seed=seed, now=h.now).case("sb_corporate_credit_report", "late")
    assert case.request is not None
    [ask] = h.send_request(case.request)
    assert ask.topic == h.topics.attestation_requests("sz")
    [key] = h.pending
    return key


def test_a_request_parked_again_with_a_later_deadline_times_out_at_that_deadline() -> None:
    h = Harness.from_dirs()
    assert h.advance(0) == []  # the sweeper has indexed the (empty) table: new deadlines go on its heap
    key = _parked(h, seed=11)
    parked: dict[str, Any] = h.codec.decode(h.pending[key])[1]
    parked["deadline"] += 60_000  # parked again since, a minute later
    h.pending[key] = h.codec.encode("internal/pending_request", parked)
    assert h.advance(h.attestation_timeout_s + 1) == []  # the first deadline passed: not yet due
    assert key in h.pending
    [verdict] = h.advance(60)
    assert verdict.record["findings"][-1]["code"] == "ATTESTATION_TIMEOUT"
    assert h.pending == {}


def test_an_answer_remembered_for_longer_is_forgotten_at_its_new_time() -> None:
    h = Harness.from_dirs()
    case = Traffic(seed=12, now=h.now).case("sb_corporate_credit_report", "invalid")
    assert case.request is not None
    h.advance(0)  # indexed: the answer's forget-at time goes on the heap
    [verdict] = h.send_request(case.request)
    assert verdict.topic == h.topics.verdicts("hk")
    [key] = h.answered
    first = forget_at(h.answered[key])
    h.answered[key] = with_forget_at(first + 86_400_000, h.answered[key][8:])  # remembered a day longer
    h.advance(first / 1000 - h.now + 1)
    assert key in h.answered  # its first time passed: still remembered
    h.advance(86_400)
    assert h.answered == {}
