"""The pipeline's delivery semantics: redeliveries, duplicates, conflicts, partitions, timeouts, quotas."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossbound.codec.jsonform import attestation_from_json
from crossbound.pipeline import Incoming, Outgoing
from crossbound.pipeline.partitioner import partition_for
from crossbound.testing import Harness
from crossbound.testing.traffic import Traffic


@pytest.fixture
def h() -> Harness:
    return Harness.from_dirs()


def _request(h: Harness, case_request: dict[str, object], offset: int = 0, partition: int = 0) -> Incoming:
    key, value = h.encode_request(case_request)
    side = str(case_request["requester_side"]).lower()
    return Incoming(h.topics.requests(side), partition, offset, key, value, None)


def _attestation(h: Harness, case_att: dict[str, object], offset: int = 0, partition: int = 0) -> Incoming:
    record = attestation_from_json(case_att, h.codec, h.catalogue)
    side = str(case_att["attester_side"]).lower()
    value = h.codec.encode("core/attestation", record)
    return Incoming(
        h.topics.attestations(side), partition, offset, record["request_id"].encode(), value, None
    )


def _verdicts_total(h: Harness) -> float:
    total = 0.0
    for metric in h.registry.collect():
        if metric.name == "crossbound_verdicts":
            total += sum(s.value for s in metric.samples if s.name == "crossbound_verdicts_total")
    return total


def _handle(h: Harness, rec: Incoming) -> list[Outgoing]:
    return h.pipeline.handle(rec)


def test_redelivered_reject_sends_the_same_verdict_again(h: Harness) -> None:
    case = Traffic(seed=1, now=h.now).case("sb_corporate_credit_report", "invalid")
    assert case.request is not None
    rec = _request(h, case.request, offset=7)
    [first] = _handle(h, rec)
    assert _handle(h, rec) == []  # this process sent it: its producer delivers it
    h.restart()  # a new process cannot know whether the first one's output got out
    [again] = _handle(h, rec)
    assert first.topic == again.topic == h.topics.verdicts("hk")
    assert again == first  # byte for byte
    assert _verdicts_total(h) == 1  # counted once


def test_redelivered_parked_request_asks_again(h: Harness) -> None:
    case = Traffic(seed=2, now=h.now).case("sb_corporate_credit_report", "valid")
    assert case.request is not None
    rec = _request(h, case.request, offset=3)
    [ask] = _handle(h, rec)
    assert _handle(h, rec) == []
    h.restart()
    [ask_again] = _handle(h, rec)
    assert ask.topic == h.topics.attestation_requests("sz")
    assert ask_again == ask
    assert len(h.pending) == 1


def test_redelivered_attestation_sends_the_same_verdict_and_another_is_late(h: Harness) -> None:
    case = Traffic(seed=3, now=h.now).case("nb_hk_resident_consumer_credit", "valid")
    assert case.request is not None
    assert case.attestation is not None
    case.request["consent"]["legal_basis"] = "CONTRACT_NECESSITY"  # not counted by C10: no stateful hops
    _handle(h, _request(h, case.request))
    att = _attestation(h, case.attestation, offset=11)
    [verdict] = _handle(h, att)
    assert h.codec.decode(verdict.value)[1]["outcome"] == "ACCEPT"
    assert _handle(h, att) == []
    h.restart()
    [again] = _handle(h, att)
    assert again == verdict
    [late] = _handle(h, _attestation(h, case.attestation, offset=12))
    assert late.topic == h.topics.deadletter("hk")
    assert h.codec.decode(late.value)[1]["reason"] == "late_attestation"
    assert _verdicts_total(h) == 1


def test_duplicate_and_conflicting_request_ids(h: Harness) -> None:
    traffic = Traffic(seed=4, now=h.now)
    case = traffic.case("sb_corporate_credit_report", "invalid")
    assert case.request is not None
    _handle(h, _request(h, case.request, offset=0))
    [dup] = _handle(h, _request(h, case.request, offset=1))
    assert h.codec.decode(dup.value)[1]["reason"] == "duplicate_request"
    changed = dict(case.request, nonce="f" * 32)
    [conflict] = _handle(h, _request(h, changed, offset=2))
    record = h.codec.decode(conflict.value)[1]
    assert record["reason"] == "request_id_conflict"
    assert record["source_offset"] == 2


def test_records_off_their_murmur2_partition_are_dead_lettered() -> None:
    h = Harness.from_dirs(partitions=4)
    case = Traffic(seed=5, now=h.now).case("sb_corporate_credit_report", "invalid")
    assert case.request is not None
    key, _ = h.encode_request(case.request)
    right = partition_for(key, 4)
    [bad] = _handle(h, _request(h, case.request, partition=(right + 1) % 4))
    assert h.codec.decode(bad.value)[1]["reason"] == "wrong_partition"
    [good] = _handle(h, _request(h, case.request, offset=1, partition=right))
    assert good.topic == h.topics.verdicts("hk")
    assert good.partition == right


def test_timeout_answers_once_and_a_redelivered_request_gets_the_timeout_verdict(h: Harness) -> None:
    case = Traffic(seed=6, now=h.now).case("payment_connect_northbound", "late")
    assert case.request is not None
    rec = _request(h, case.request)
    _handle(h, rec)
    assert h.pipeline.sweep() == []  # not yet
    h.now += h.attestation_timeout_s + 1
    [verdict] = h.pipeline.sweep()
    assert [f["code"] for f in h.codec.decode(verdict.value)[1]["findings"]] == ["ATTESTATION_TIMEOUT"]
    assert h.pipeline.sweep() == []
    assert _handle(h, rec) == []
    h.restart()
    [again] = _handle(h, rec)
    assert again == verdict


def test_redelivered_quota_check_is_not_counted_twice(h: Harness) -> None:
    [case] = Traffic(seed=7, now=h.now).payments_for_one_payer(1, amount="6000")
    assert case.request is not None
    assert case.attestation is not None
    _handle(h, _request(h, case.request))
    [check] = _handle(h, _attestation(h, case.attestation))
    assert check.topic == h.topics.quota
    rec = Incoming(check.topic, 0, 0, check.key, check.value, None)
    [verdict] = h.pipeline.handle(rec)
    assert h.pipeline.handle(rec) == []
    h.restart()
    [again] = h.pipeline.handle(rec)
    assert again.value == verdict.value
    usage = h.codec.decode(next(iter(h.usage.values())))[1]
    assert Decimal(usage["windows"]["PCN-03"]["total"]) == Decimal("6000")


def test_forget_answered_drops_only_expired_entries(h: Harness) -> None:
    case = Traffic(seed=8, now=h.now).case("sb_corporate_credit_report", "invalid")
    assert case.request is not None
    _handle(h, _request(h, case.request))
    assert h.pipeline.housekeeping() == 0
    h.now += 3 * 86_400
    assert h.pipeline.housekeeping() == 1
    assert h.answered == {}


def test_a_new_process_times_out_what_an_earlier_one_parked(h: Harness) -> None:
    case = Traffic(seed=9, now=h.now).case("sb_corporate_credit_report", "late")
    assert case.request is not None
    _handle(h, _request(h, case.request))
    h.restart()  # its deadline index is empty: the first sweep seeds it from the table
    h.now += h.attestation_timeout_s + 1
    [verdict] = h.pipeline.sweep()
    assert h.codec.decode(verdict.value)[1]["findings"][-1]["code"] == "ATTESTATION_TIMEOUT"
    assert h.pending == {}


def test_reindex_finds_entries_that_arrived_with_a_rebalance(h: Harness) -> None:
    other = Harness.from_dirs(now=h.now)  # the worker that owned the partition before
    case = Traffic(seed=10, now=h.now).case("nb_hk_resident_consumer_credit", "late")
    assert case.request is not None
    _handle(other, _request(other, case.request))
    assert h.pipeline.sweep() == []  # indexed, nothing due
    h.pending.update(other.pending)  # the partition's state arrives with the rebalance
    h.pipeline.on_rebalance()
    h.now += h.attestation_timeout_s + 1
    [verdict] = h.pipeline.sweep()
    assert verdict.topic == h.topics.verdicts("sz")


def _redeliveries(h: Harness, rec: Incoming, crashes: int) -> list[int]:
    """How many records each delivery of ``rec`` produced: a crash, then two rebalances, per crash."""
    counts = []
    for _ in range(crashes):
        h.restart()
        counts += [len(_handle(h, rec)) for _ in range(3)]
    return counts


def test_a_request_re_answered_after_a_crash_is_not_re_answered_at_every_rebalance(h: Harness) -> None:
    """Issue 9 item 6: a re-emission is done by this process too; each crash costs at most one repeat."""
    case = Traffic(seed=11, now=h.now).case("sb_corporate_credit_report", "invalid")
    assert case.request is not None
    rec = _request(h, case.request, offset=5)
    assert len(_handle(h, rec)) == 1
    assert _redeliveries(h, rec, crashes=2) == [1, 0, 0, 1, 0, 0]


def test_an_attestation_re_answered_after_a_crash_is_not_re_answered_at_every_rebalance(h: Harness) -> None:
    case = Traffic(seed=12, now=h.now).case("nb_hk_resident_consumer_credit", "valid")
    assert case.request is not None
    assert case.attestation is not None
    _handle(h, _request(h, case.request))
    att = _attestation(h, case.attestation, offset=4)
    assert len(_handle(h, att)) == 1
    assert _redeliveries(h, att, crashes=2) == [1, 0, 0, 1, 0, 0]
    # the request too: its redelivery meets the same answer, once per process
    assert _redeliveries(h, _request(h, case.request), crashes=1) == [1, 0, 0]


def test_a_timeout_verdict_re_sent_after_a_crash_is_not_re_sent_at_every_rebalance(h: Harness) -> None:
    case = Traffic(seed=13, now=h.now).case("payment_connect_northbound", "late")
    assert case.request is not None
    rec = _request(h, case.request, offset=2)
    _handle(h, rec)
    h.now += h.attestation_timeout_s + 1
    assert len(h.pipeline.sweep()) == 1
    assert _redeliveries(h, rec, crashes=2) == [1, 0, 0, 1, 0, 0]


def test_a_hop_re_answered_after_a_crash_is_not_re_answered_at_every_rebalance(h: Harness) -> None:
    [case] = Traffic(seed=14, now=h.now).payments_for_one_payer(1, amount="6000")
    assert case.request is not None
    assert case.attestation is not None
    _handle(h, _request(h, case.request))
    [check] = _handle(h, _attestation(h, case.attestation))
    rec = Incoming(check.topic, 0, 0, check.key, check.value, None)
    assert len(h.pipeline.handle(rec)) == 1
    assert _redeliveries(h, rec, crashes=2) == [1, 0, 0, 1, 0, 0]


def test_a_request_answered_but_still_parked_after_a_crash_is_not_decided_again(h: Harness) -> None:
    """A crash between the two table writes: the answer reached the changelog, the unparking did not."""
    case = Traffic(seed=15, now=h.now).case("nb_hk_resident_consumer_credit", "valid")
    assert case.request is not None
    assert case.attestation is not None
    req = _request(h, case.request)
    _handle(h, req)
    parked = dict(h.pending)
    att = _attestation(h, case.attestation, offset=6)
    [verdict] = _handle(h, att)
    h.pending.update(parked)
    h.restart()
    assert _handle(h, req) == [verdict]  # the one repeat, byte for byte
    assert _handle(h, att) == []  # not decided a second time
    assert h.pending == {}
    h.pending.update(parked)
    h.restart()
    h.now += h.attestation_timeout_s + 1
    assert h.pipeline.sweep() == []  # no timeout verdict contradicting the answer
    assert h.pending == {}
    assert _handle(h, att) == [verdict]


def test_a_timed_out_request_still_parked_after_a_crash_is_not_timed_out_again(h: Harness) -> None:
    case = Traffic(seed=16, now=h.now).case("payment_connect_northbound", "late")
    assert case.request is not None
    _handle(h, _request(h, case.request))
    parked = dict(h.pending)
    h.now += h.attestation_timeout_s + 1
    assert len(h.pipeline.sweep()) == 1
    h.pending.update(parked)
    h.restart()
    assert h.pipeline.sweep() == []
    assert h.pending == {}
