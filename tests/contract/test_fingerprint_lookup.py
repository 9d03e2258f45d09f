"""Fingerprint mode end to end: the data source publishes, then the request is answered by lookup.

On a broker the registry agent and the request agent consume different topics, so nothing orders a
fingerprint before a request sent after it. Each record is therefore followed by an empty record of
the same key: it lands on the same partition and is dead-lettered (``empty``) only after the record
before it was taken in, so its dead letter says the fingerprint is in the table.
"""

from __future__ import annotations

import random
from typing import Any

from transports import Transport

from crossbound.codec import Codec
from crossbound.testing import fixtures as examples
from crossbound.testing.encoding import encode_fingerprint

SCENARIOS = ("sb_personal_credit_report_fingerprint", "corporate_kyc_report_fingerprint")


async def _publish(transport: Transport, codec: Codec, records: list[dict[str, Any]]) -> None:
    """Publish the registry records, and wait until the worker has taken each in."""
    for record in records:
        topic, key, value = encode_fingerprint(record, codec, transport.topics)
        await transport.send(topic, key, value)
        await transport.send(topic, key, b"")  # the barrier: dead-lettered after the record
    barriers = await transport.dead_letters("sz", len(records))
    assert [d.record["reason"] for d in barriers] == ["empty"] * len(records)


async def test_requests_are_answered_from_the_registry_with_no_attestation_round_trip(
    transport: Transport, codec: Codec
) -> None:
    rng = random.Random("fingerprints-2026")
    records, sent = [], {}
    for scenario in SCENARIOS:
        for name in examples.FIXTURE_NAMES:
            fixture = examples.load(scenario).fixtures[name]
            request, record = examples.refresh_registered(fixture, rng, transport.now)
            records.append(record)
            sent[str(request["request_id"])] = (name.upper(), request)
        unregistered, _ = examples.refresh_registered(
            examples.load(scenario).fixtures["accept"], rng, transport.now
        )
        sent[str(unregistered["request_id"])] = ("REJECT", unregistered)  # its record is never published
    await _publish(transport, codec, records)
    for _, request in sent.values():
        await transport.send_case(request)
    verdicts = {v.record["request_id"]: v.record for v in await transport.verdicts("hk", len(sent))}
    assert set(verdicts) == set(sent)
    for rid, (outcome, _) in sent.items():
        assert verdicts[rid]["outcome"] == outcome, verdicts[rid]["findings"]
    codes = sorted(f["code"] for v in verdicts.values() for f in v["findings"] if f["severity"] == "REJECT")
    assert codes == ["FINGERPRINT_NOT_FOUND"] * 2 + ["FINGERPRINT_REVOKED"] * 2
    assert await transport.attestation_requests("sz", 0) == []  # nobody was asked
    assert len(await transport.dead_letters("sz", 0)) == len(records)  # the barriers only
    assert await transport.dead_letters("hk", 0) == []
