"""The two packed fields of a ``quota_usage`` value (v3): the last replies, and the volume guard.

A hop reads and rewrites its key's whole value, so what the value costs to decode and encode is paid
on every request of the key. An Avro array of records costs about as much per entry as the rest of
the hop (tens of microseconds for 32 entries on a quiet machine, more under load), while an Avro
``bytes`` field is copied whole; so these two fields are ``bytes`` that this module packs, and a hop
looks inside them only to find a request (a redelivery), which a substring test rules out at C speed
on the common path.

* ``replies`` (ledger and members hops): one entry per hop decided at the key, oldest first, at most
  ``keep``: the 16-byte BLAKE2b digest of the request id, a 4-byte length, then what the hop produced
  (partition as a signed 4-byte int, -1 for none; topic, 2-byte length first; key, signed 4-byte
  length first, -1 for none; then the value to its end).
* ``counted`` (volume hops): the 16-byte digests of the last ``keep`` request ids that added a subject.

A digest, not the id: entries are of a fixed size and ids of any length cost the same. Two ids share
a digest with probability about 2^-128 per pair. A hop works the digest out once (:func:`digest`) and
hands it to each function here as ``known``, which otherwise works it out from the id.

A field that does not parse this way (a broken or foreign writer) fails :func:`check` with
ValueError: the hop treats the whole value as unreadable.
"""

from __future__ import annotations

import hashlib
import struct

from crossbound.pipeline.records import Outgoing

__all__ = [
    "add_counted",
    "add_reply",
    "append_reply",
    "check",
    "digest",
    "find_reply",
    "is_counted",
    "reply_count",
]

DIGEST = 16
_HEAD = struct.Struct(">16sI")  # digest, length of the reply after it
_PARTITION = struct.Struct(">i")
_TOPIC = struct.Struct(">H")
_KEY = struct.Struct(">i")


def digest(request_id: str) -> bytes:
    """The 16-byte digest a request id is remembered by."""
    return hashlib.blake2b(request_id.encode(), digest_size=DIGEST).digest()


def _entries(replies: bytes) -> list[tuple[int, bytes, int]]:
    """Each entry's offset, digest and reply length, oldest first; ValueError if it does not parse."""
    out = []
    at, end = 0, len(replies)
    while at < end:
        if end - at < _HEAD.size:
            raise ValueError("replies: a truncated entry head")
        d, n = _HEAD.unpack_from(replies, at)
        out.append((at, d, n))
        at += _HEAD.size + n
    if at != end:
        raise ValueError("replies: the last entry runs past the end")
    return out


def check(replies: bytes, counted: bytes) -> None:
    """Both fields parse as this module packs them; ValueError if not."""
    _entries(replies)
    if len(counted) % DIGEST:
        raise ValueError("counted: not a whole number of digests")


def find_reply(replies: bytes, request_id: str, known: bytes | None = None) -> Outgoing | None:
    """What the hop produced for ``request_id``, if it is among the remembered ones."""
    d = digest(request_id) if known is None else known
    if d not in replies:  # the common path: a request seen for the first time
        return None
    for at, seen, n in _entries(replies):
        if seen == d:
            return _unpack(replies[at + _HEAD.size : at + _HEAD.size + n])
    return None


def add_reply(replies: bytes, request_id: str, out: Outgoing, keep: int) -> bytes:
    """``replies`` with what the hop produced for ``request_id`` added, and only the last ``keep`` kept."""
    return append_reply(replies, None, request_id, out, keep)[0]


def append_reply(
    replies: bytes,
    starts: list[int] | None,
    request_id: str,
    out: Outgoing,
    keep: int,
    known: bytes | None = None,
) -> tuple[bytes, list[int]]:
    """:func:`add_reply`, and the offset of each entry in the result.

    ``starts``: the offsets of ``replies``' entries, if known (a hop keeps them beside the state it
    wrote last), so that a key's remembered replies are not walked again at every hop; None walks them
    (and fails with ValueError if they do not parse).
    """
    topic = out.topic.encode()
    key = b"" if out.key is None else out.key
    packed = b"".join(
        (
            _PARTITION.pack(-1 if out.partition is None else out.partition),
            _TOPIC.pack(len(topic)),
            topic,
            _KEY.pack(-1 if out.key is None else len(key)),
            key,
            out.value,
        )
    )
    if starts is None:
        starts = [at for at, _, _ in _entries(replies)]
    starts = [*starts, len(replies)]
    d = digest(request_id) if known is None else known
    replies += _HEAD.pack(d, len(packed)) + packed
    if len(starts) <= keep:
        return replies, starts
    cut = starts[-keep]
    return replies[cut:], [at - cut for at in starts[-keep:]]


def reply_count(replies: bytes) -> int:
    """How many replies are remembered."""
    return len(_entries(replies))


def _unpack(buf: bytes) -> Outgoing:
    (partition,) = _PARTITION.unpack_from(buf, 0)
    at = _PARTITION.size
    (topic_len,) = _TOPIC.unpack_from(buf, at)
    at += _TOPIC.size
    topic = buf[at : at + topic_len].decode()
    at += topic_len
    (key_len,) = _KEY.unpack_from(buf, at)
    at += _KEY.size
    key = None if key_len < 0 else buf[at : at + key_len]
    at += max(key_len, 0)
    return Outgoing(topic, key, buf[at:], None if partition < 0 else partition)


def is_counted(counted: bytes, request_id: str, known: bytes | None = None) -> bool:
    """Whether ``request_id`` is among the last that added a subject (entries are 16-byte aligned)."""
    d = digest(request_id) if known is None else known
    at = counted.find(d)
    while at >= 0:
        if at % DIGEST == 0:
            return True
        at = counted.find(d, at + 1)
    return False


def add_counted(counted: bytes, request_id: str, keep: int, known: bytes | None = None) -> bytes:
    """``counted`` with ``request_id`` added, and only the last ``keep`` kept."""
    return (counted + (digest(request_id) if known is None else known))[-keep * DIGEST :]
