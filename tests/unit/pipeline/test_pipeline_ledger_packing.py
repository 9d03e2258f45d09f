"""Unit tests of crossbound.pipeline.ledger: the packed replies and volume guard of a ledger value."""

from __future__ import annotations

import pytest

from crossbound.pipeline.ledger import (
    DIGEST,
    add_counted,
    add_reply,
    check,
    digest,
    find_reply,
    is_counted,
    reply_count,
)
from crossbound.pipeline.records import Outgoing


def _out(n: int) -> Outgoing:
    return Outgoing("hk.verdicts", f"r-{n}".encode(), bytes([n]) * (n + 1), n % 3)


def test_replies_round_trip_and_only_the_last_ones_are_kept() -> None:
    replies = b""
    for n in range(10):
        replies = add_reply(replies, f"r-{n}", _out(n), keep=4)
    assert reply_count(replies) == 4
    assert [find_reply(replies, f"r-{n}") for n in range(10)] == [None] * 6 + [_out(n) for n in range(6, 10)]
    check(replies, b"")


def test_a_reply_without_key_or_partition_comes_back_as_it_was() -> None:
    out = Outgoing("crossbound.quota", None, b"", None)
    assert find_reply(add_reply(b"", "r", out, keep=1), "r") == out


def test_a_request_id_inside_another_reply_is_not_that_reply() -> None:
    # the digest of "r-2" inside the value of "r-1": found by the substring test, refused by the walk
    replies = add_reply(b"", "r-1", Outgoing("t", b"k", digest("r-2"), 0), keep=4)
    assert find_reply(replies, "r-2") is None


def test_the_volume_guard_keeps_the_last_digests_on_their_boundaries() -> None:
    counted = b""
    for n in range(40):
        counted = add_counted(counted, f"r-{n}", keep=32)
    assert len(counted) == 32 * DIGEST
    assert [is_counted(counted, f"r-{n}") for n in range(40)] == [False] * 8 + [True] * 32
    shifted = b"\x00" * 8 + digest("x") + b"\x00" * 8  # the digest, but across two entries
    assert not is_counted(shifted, "x")


@pytest.mark.parametrize(
    ("replies", "counted"),
    [
        (b"\x00" * 10, b""),  # a head cut short
        (b"\x00" * 16 + b"\x00\x00\x00\x09" + b"12345678", b""),  # an entry past the end
        (b"", b"\x00" * 17),  # not whole digests
    ],
)
def test_fields_that_do_not_parse_fail_the_check(replies: bytes, counted: bytes) -> None:
    with pytest.raises(ValueError, match=r"^(replies|counted): "):
        check(replies, counted)
