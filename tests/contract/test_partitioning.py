"""Partitions: records are keyed by request id on Kafka's murmur2 partition, and meet their state there."""

from __future__ import annotations

from collections import Counter

from transports import PARTITIONS, Transport, kafka_partition

from crossbound.testing.traffic import Traffic

SCENARIOS = ("sb_corporate_credit_report", "nb_hk_resident_consumer_credit", "payment_connect_northbound")


async def test_a_request_and_its_attestation_meet_on_the_request_ids_partition(transport: Transport) -> None:
    traffic = Traffic(seed=41, now=transport.now)
    cases = [traffic.case(scenario, "valid") for scenario in SCENARIOS for _ in range(4)]
    ids = [await transport.send_case(c.request, c.attestation) for c in cases if c.request is not None]
    sides = Counter(c.requester_side.lower() for c in cases)
    verdicts = [v for side, n in sides.items() for v in await transport.verdicts(side, n)]
    asked = [a for side in ("hk", "sz") for a in await transport.attestation_requests(side, 0)]
    assert sorted(v.record["request_id"] for v in verdicts) == sorted(ids)
    assert all(v.record["outcome"] == "ACCEPT" for v in verdicts)
    # the request, its attestation request and its verdict all sit on the key's murmur2 partition
    for record in [*asked, *verdicts]:
        assert record.key == record.record["request_id"].encode()
        assert record.partition == kafka_partition(record.key)
    assert len({kafka_partition(rid.encode()) for rid in ids}) > 1  # the cases did spread


async def test_a_request_on_another_partition_than_its_keys_is_dead_lettered(transport: Transport) -> None:
    case = Traffic(seed=42, now=transport.now).case("sb_corporate_credit_report", "valid")
    assert case.request is not None
    wrong = (kafka_partition(str(case.request["request_id"]).encode()) + 1) % PARTITIONS
    rid = await transport.send_case(case.request, case.attestation, partition=wrong)
    [dead] = await transport.dead_letters("hk", 1)
    assert dead.record["reason"] == "wrong_partition"
    assert dead.record["request_id"] == rid
    assert dead.record["source_partition"] == wrong
    assert await transport.attestation_requests("sz", 0) == []
    assert await transport.verdicts("hk", 0) == []


async def test_a_payers_daily_limit_holds_whatever_partition_each_request_lands_on(
    transport: Transport,
) -> None:
    cases = Traffic(seed=14, now=transport.now).payments_for_one_payer(25, amount="1000")
    ids = [await transport.send_case(c.request, c.attestation) for c in cases if c.request is not None]
    assert len({kafka_partition(rid.encode()) for rid in ids}) > 1
    [side] = {c.requester_side.lower() for c in cases}
    verdicts = {v.record["request_id"]: v.record for v in await transport.verdicts(side, len(ids))}
    # HKD 10,000 a day: exactly ten payments of 1,000 fit, wherever each request landed
    assert Counter(v["outcome"] for v in verdicts.values()) == {"ACCEPT": 10, "REJECT": 15}
    rejected = [v for v in verdicts.values() if v["outcome"] == "REJECT"]
    assert all({f["code"] for f in v["findings"]} == {"LIMIT_EXCEEDED"} for v in rejected)
