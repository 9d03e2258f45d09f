"""Malformed records on every input topic: each ends in exactly one verdict or one dead letter (issue 9).

The broker-free half of the fuzz test (the broker half is tests/integration/test_fuzz.py): thousands
of records from :class:`crossbound.testing.fuzz.Fuzz` through the Harness, accounted one by one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from crossbound.codec import Codec
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.fuzz import ANSWERED, Fuzz, Fuzzed, Sent, account, feed

LIMIT = 4096  # a small input limit, so that records at its edges are cheap


@pytest.fixture(scope="module")
def proto() -> Harness:
    return Harness.from_dirs()


def _harness(proto: Harness) -> Harness:
    codec = Codec(proto.codec.registry, max_record_bytes=LIMIT)
    return Harness(codec, proto.catalogue, now=examples.FIXTURE_TIME.timestamp(), partitions=4)


def _fuzz(h: Harness, seed: int = 0) -> Fuzz:
    return Fuzz(h.codec, h.catalogue, h.topics, seed=seed, now=h.now, partitions=4)


def _run(h: Harness, records: list[Fuzzed]) -> tuple[Counter[str], list[str]]:
    sent = feed(h, records)
    verdicts = [p.record for p in h.published if p.topic.endswith(".verdicts")]
    dead = [p.record for p in h.published if p.topic.endswith(".deadletter")]
    return account(sent, verdicts, dead)


def test_the_same_seed_gives_the_same_records(proto: Harness) -> None:
    h = _harness(proto)
    assert _fuzz(h, 3).records(300) == _fuzz(h, 3).records(300)
    assert _fuzz(h, 3).records(300) != _fuzz(h, 4).records(300)


def test_every_input_topic_gets_every_kind_of_damage(proto: Harness) -> None:
    h = _harness(proto)
    records = _fuzz(h).records(1500)
    assert {r.topic for r in records} == set(h.topics.inputs())
    kinds = Counter(r.kind for r in records)
    assert min(kinds.values()) >= 3, kinds
    sizes = {len(r.value) - LIMIT for r in records if r.kind == "size_edge" and r.value is not None}
    assert {-1, 0, 1} <= sizes
    assert any(r.timestamp_ms is not None and r.timestamp_ms >= 253_402_300_800_000 for r in records)
    assert any(r.key is None for r in records)
    assert any(r.headers for r in records)


@pytest.mark.parametrize("seed", [0, 1])
def test_thousands_of_malformed_records_each_get_exactly_one_outcome(proto: Harness, seed: int) -> None:
    h = _harness(proto)
    fuzz = _fuzz(h, seed)
    records = fuzz.records(3000) + fuzz.valid(300)  # the harness never raises: or this test fails
    counts, problems = _run(h, records)
    assert problems == []
    assert counts[ANSWERED] > 1000
    assert "internal_error" not in counts
    [fresh] = [r for r in fuzz.valid(1) if not r.in_reply][:1] or [None]
    assert fresh is not None
    h.send(fresh.topic, fresh.key, fresh.value, fresh.partition)
    assert h.attestation_requests(fresh.topic.split(".")[0])  # still answering


def _sent(h: Harness) -> tuple[list[Sent], list[Fuzzed]]:
    records = _fuzz(h).valid(20)
    return feed(h, records), records


def test_the_accounting_finds_a_missing_record_and_a_dead_letter_of_no_record(proto: Harness) -> None:
    h = _harness(proto)
    sent, _ = _sent(h)
    verdicts = [p.record for p in h.published if p.topic.endswith(".verdicts")]
    ghost = {
        "source_topic": "x",
        "source_partition": 0,
        "source_offset": 5,
        "reason": "bad_magic",
        "key": b"",
    }
    _, problems = account(sent, verdicts[1:], [ghost])
    missing = [p for p in problems if p.endswith("no outcome")]
    assert problems[0] == "dead letter bad_magic for no record sent: ('x', 0, 5)"
    assert len(missing) in (1, 2)
    assert len(problems) == 1 + len(missing)
    assert verdicts[0]["request_id"] in missing[0]


def test_the_accounting_finds_repeats_and_unexpected_outcomes(proto: Harness) -> None:
    h = _harness(proto)
    sent, _ = _sent(h)
    verdicts = [p.record for p in h.published if p.topic.endswith(".verdicts")]
    assert account(sent, verdicts, [])[1] == []
    _, problems = account(sent, [*verdicts, verdicts[0]], [])
    assert problems == [f"request {verdicts[0]['request_id']}: 2 verdicts"]
    first = sent[0]
    dead = {
        "source_topic": first.record.topic,
        "source_partition": first.partition,
        "source_offset": first.offset,
        "reason": "internal_error",
        "key": first.record.key,
    }
    _, problems = account(sent, verdicts, [dead])
    assert any("internal_error, expected" in p for p in problems)
    wrong = [replace(s, record=replace(s.record, outcome="NOPE")) for s in sent if not s.record.in_reply]
    _, problems = account(wrong, verdicts, [])
    assert len(problems) == len(wrong)
