"""Recordings: the JSON-lines form, and replaying one through the broker-free harness."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossbound.errors import InputError
from crossbound.pipeline.partitioner import partition_for
from crossbound.testing import Harness
from crossbound.testing.recording import Recorded, read_jsonl, write_jsonl
from crossbound.testing.traffic import Traffic


def test_jsonl_round_trip(tmp_path: Path) -> None:
    records = [
        Recorded("hk.requests", 2, 41, 1_795_550_279_407, b"k\x00", b"\xc3\x01\xff", (("h", b"\x00\x01"),)),
        Recorded("sz.attestations", 0, 0, None, None, None),
    ]
    path = tmp_path / "r.jsonl"
    assert write_jsonl(records, path) == 2
    assert read_jsonl(path) == records


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"topic": "t", "partition": 0, "offset": 0}\nnot json\n')
    with pytest.raises(InputError, match="line 2"):
        read_jsonl(path)
    path.write_text('{"topic": "t", "partition": 0, "offset": 0, "value": "zz"}\n')
    with pytest.raises(InputError, match="line 1"):
        read_jsonl(path)


def _recorded_traffic(h: Harness, traffic: Traffic) -> list[Recorded]:
    """Requests and attestations as a broker would have held them, one second apart."""
    records: list[Recorded] = []
    ts = int(h.now * 1000)
    for i, scenario in enumerate(("sb_corporate_credit_report", "payment_connect_northbound")):
        for variant in ("valid", "mismatch", "late"):
            case = traffic.case(scenario, variant)
            assert case.request is not None
            key, value = h.encode_request(case.request)
            side = case.requester_side.lower()
            part = partition_for(key, 4)
            records.append(Recorded(h.topics.requests(side), part, len(records), ts, key, value))
            if case.attestation is not None:
                from crossbound.codec.jsonform import attestation_from_json

                att = h.codec.encode(
                    "core/attestation", attestation_from_json(case.attestation, h.codec, h.catalogue)
                )
                other = case.attester_side.lower()
                records.append(Recorded(h.topics.attestations(other), part, len(records), ts + 500, key, att))
            ts += 1000 + i
    return records


def test_replay_is_deterministic_and_fires_timeouts(tmp_path: Path) -> None:
    first, second = Harness.from_dirs(), Harness.from_dirs()
    records = _recorded_traffic(first, Traffic(seed=41, now=first.now))
    path = tmp_path / "day.jsonl"
    write_jsonl(records, path)
    replayed = read_jsonl(path)
    first.replay(records)
    first.advance(first.attestation_timeout_s + 1)  # the end of the recorded day
    second.replay(replayed)
    second.advance(second.attestation_timeout_s + 1)
    outcomes = [v["outcome"] for v in first.verdicts("hk")]
    assert outcomes == [v["outcome"] for v in second.verdicts("hk")]
    assert sorted(outcomes) == ["ACCEPT", "ACCEPT", "REJECT", "REJECT", "REJECT", "REJECT"]
    codes = [f["code"] for v in first.verdicts("hk") for f in v["findings"]]
    assert codes.count("ATTESTATION_TIMEOUT") == 2
    assert codes.count("DIGEST_MISMATCH") == 2
