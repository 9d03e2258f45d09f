"""An unreadable value in the ``answered`` or ``usage`` table is met once, never again on its key.

Both tables are keyed by something later requests share (a request id; a ledger key: a payer, an
institution), so an entry that does not decode, left in place, would fail every later request on that
key. It is counted in ``crossbound_unreadable_total{where}`` and leaves the table: a request id is then
treated as not answered before; a ledger whose history is lost answers its request ``REVIEW`` (its
quota cannot be decided) and starts again from that request.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples

PCN = "payment_connect_northbound"
GARBAGE = (b"\xc3\x01 not avro", b"\x01")  # a body that does not decode; a value too short for its prefix


@pytest.fixture(scope="module")
def shipped() -> tuple[SchemaRegistry, Catalogue]:
    proto = Harness.from_dirs()
    return proto.codec.registry, proto.catalogue


def _harness(shipped: tuple[SchemaRegistry, Catalogue]) -> Harness:
    registry, catalogue = shipped
    return Harness(Codec(registry), catalogue, now=examples.FIXTURE_TIME.timestamp())


def _pcn(h: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    request, attestation = examples.refresh(examples.load(PCN).fixtures["accept"], random.Random(1), h.now)
    assert attestation is not None
    return request, attestation


def _again(request: dict[str, Any], attestation: dict[str, Any], n: int) -> tuple[dict[str, Any], ...]:
    """Another request of the same payer (same ledger keys), with its own id."""
    rid = str(uuid.UUID(int=n, version=4))
    return {**request, "request_id": rid, "nonce": f"{n:032x}"}, {**attestation, "request_id": rid}


def _unreadable(h: Harness, where: str) -> float | None:
    return h.registry.get_sample_value("crossbound_unreadable_total", {"where": where})


def _outcomes(h: Harness) -> list[tuple[str, str]]:
    return [
        (p.record["request_id"], p.record.get("outcome") or p.record["reason"])
        for p in h.published
        if p.topic.endswith((".verdicts", ".deadletter"))
    ]


@pytest.mark.parametrize("garbage", [*GARBAGE, None])  # None: a record of another type, after the prefix
def test_an_unreadable_answered_entry_is_dropped_and_its_request_processed(
    shipped: tuple[SchemaRegistry, Catalogue], garbage: bytes | None
) -> None:
    h = _harness(shipped)
    request, attestation = _pcn(h)
    garbage = garbage or bytes(8) + h.encode_request(request)[1]
    key = request["request_id"].encode()
    h.answered[key] = garbage
    h.restart()
    h.send_request(request)  # not answered before, as far as anyone can still tell: processed normally
    h.send_attestation(attestation)
    h.send_request(request)  # and from now on a duplicate like any other
    assert _outcomes(h) == [(request["request_id"], "ACCEPT"), (request["request_id"], "duplicate_request")]
    assert _unreadable(h, "answered") == 1.0


def test_an_answered_entry_too_short_for_its_forget_at_is_dropped_by_the_sweeper(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    h = _harness(shipped)
    h.answered[b"some-request"] = GARBAGE[1]
    h.restart()
    assert h.advance(1) == []  # the timers run on: neither the index nor the forget pass raise
    assert not h.answered
    assert _unreadable(h, "answered") == 1.0
    request, attestation = _pcn(h)
    h.send_request(request)
    h.send_attestation(attestation)  # answered: its forget-at is in the sweeper's heap
    h.answered[request["request_id"].encode()] = GARBAGE[1]
    h.advance(366 * 86_400)  # past its expiry and retention: the forget pass meets it
    assert not h.answered
    assert _unreadable(h, "answered") == 2.0


def test_an_unreadable_answered_entry_met_by_an_attestation_is_dropped(
    shipped: tuple[SchemaRegistry, Catalogue],
) -> None:
    h = _harness(shipped)
    request, attestation = _pcn(h)
    h.answered[request["request_id"].encode()] = GARBAGE[0]
    h.send_attestation(attestation)  # nothing parked, nothing readable answered: an orphan
    h.send_request(request)
    h.send_attestation(attestation)
    rid = request["request_id"]
    assert _outcomes(h) == [(rid, "orphan_attestation"), (rid, "ACCEPT")]
    assert _unreadable(h, "answered") == 1.0
    assert not h.pending


@pytest.mark.parametrize("garbage", [*GARBAGE, None])  # None: a record of another type (a request)
def test_an_unreadable_ledger_answers_review_once_then_starts_again(
    shipped: tuple[SchemaRegistry, Catalogue], garbage: bytes | None
) -> None:
    h = _harness(shipped)
    request, attestation = _pcn(h)
    garbage = garbage or h.encode_request(request)[1]
    h.send_request(request)
    h.send_attestation(attestation)  # fills the payer's ledgers
    ledgers = sorted(h.usage)
    assert ledgers
    for key in ledgers:
        h.usage[key] = garbage
    h.restart()
    second, third = _again(request, attestation, 2), _again(request, attestation, 3)
    for req, att in (second, third):
        h.send_request(req)
        h.send_attestation(att)
    assert _outcomes(h) == [
        (request["request_id"], "ACCEPT"),
        (second[0]["request_id"], "REVIEW"),  # the quota cannot be decided: its history is lost
        (third[0]["request_id"], "ACCEPT"),  # the ledger starts again, from the second request
    ]
    [review] = [v for v in h.verdicts("hk") if v["outcome"] == "REVIEW"]
    assert {f["code"] for f in review["findings"]} == {"LEDGER_UNREADABLE"}
    assert _unreadable(h, "usage") == float(len(ledgers))
    assert sorted(h.usage) == ledgers
    assert all(h.codec.decode(h.usage[key]) for key in ledgers)  # readable again
