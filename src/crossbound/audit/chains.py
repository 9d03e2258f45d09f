"""The hash chains: one per side, writer and partition, whose heads live in a changelogged table.

A chain is named ``<side>.<stream>.<partition>``: ``hk.in.3`` holds what the ``validate`` agent
decided for HK while consuming input partition 3, ``hk.hop.3`` what the ``quota`` agent decided at
hop partition 3, ``hk.timer.3`` the attestation timeouts of requests of input partition 3. Each chain
has one writer at a time: the coroutine of the process that owns that partition, which appends its
entries in order, so on the audit topic (keyed by chain, so one partition per chain) each entry
comes after the one it links to.

The head of each chain (its last ``seq`` and digest) is kept in a table (Faust's, changelogged, in
the worker): a restarted or rebalanced owner goes on from it. A :class:`Writer` links entries from
its cached head at once, and :meth:`Writer.persist` writes the heads to the table only after the
entries are acknowledged by the broker (the worker calls it after each batch settles, before the
batch's offsets are committed). So the table never runs ahead of the log: after a crash it is at
most behind, and the next owner links its first entries to an older head, a *fork* whose abandoned
branch holds decisions of inputs that were not committed, and which the new owner takes again
(:mod:`~crossbound.audit.verify` says what it accepts).

The table key of a chain is its name plus the shortest ``#<n>`` suffix that Kafka's partitioner
places on the chain's own partition, so the head lives with the partition's other state and moves
with it at a rebalance.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from crossbound.audit.entry import GENESIS, seal
from crossbound.pipeline.partitioner import partition_for

__all__ = ["Chains", "Head", "Writer", "chain_name", "head_key"]

_HEAD = struct.Struct(">q32s")


@dataclass(frozen=True, slots=True)
class Head:
    """The last entry of a chain: its sequence number and digest (hex)."""

    seq: int
    digest: str

    def encode(self) -> bytes:
        """The table value: seq (8 bytes) and the raw digest."""
        return _HEAD.pack(self.seq, bytes.fromhex(self.digest))

    @classmethod
    def decode(cls, value: bytes) -> Head:
        """Inverse of :meth:`encode`."""
        seq, raw = _HEAD.unpack(value)
        return cls(int(seq), raw.hex())


def chain_name(side: str, stream: str, partition: int) -> str:
    """``<side>.<stream>.<partition>``."""
    return f"{side}.{stream}.{partition}"


def head_key(chain: str, partition: int, partitions: int) -> bytes:
    """The table key of ``chain``'s head: placed by the partitioner on ``partition``."""
    n = 0
    while True:
        key = f"{chain}#{n}".encode()
        if partition_for(key, partitions) == partition:
            return key
        n += 1


class Chains:
    """The heads of every chain, over one table; a :class:`Writer` per stream appends."""

    def __init__(self, table: MutableMapping[bytes, bytes], partitions: int) -> None:
        self.table = table
        self.partitions = partitions
        self._keys: dict[str, bytes] = {}
        self.persisted: dict[str, Head] = {}  # what this process wrote to the table: what it may vouch for

    def key(self, chain: str, partition: int) -> bytes:
        """The table key of ``chain`` (computed once)."""
        key = self._keys.get(chain)
        if key is None:
            key = self._keys[chain] = head_key(chain, partition, self.partitions)
        return key

    def stored(self, chain: str, partition: int) -> Head | None:
        """The head the table holds for ``chain``."""
        raw = self.table.get(self.key(chain, partition))
        return None if raw is None else Head.decode(raw)

    def writer(self, stream: str) -> Writer:
        """The writer of one stream (one coroutine)."""
        return Writer(self, stream)


class Writer:
    """Appends the entries of one stream: links them, and persists their heads once acknowledged."""

    def __init__(self, chains: Chains, stream: str) -> None:
        self.chains = chains
        self.stream = stream
        self._latest: dict[str, tuple[int, Head]] = {}  # chain -> (partition, head), linked so far
        self._unsaved: set[str] = set()
        self._dropping: set[str] = set()  # revoked while unsaved: forgotten once persisted

    def link(self, side: str, partition: int) -> tuple[str, int, str]:
        """Where the next entry of ``side`` at ``partition`` goes: its chain, seq and prev."""
        chain = chain_name(side, self.stream, partition)
        known = self._latest.get(chain)
        head = known[1] if known is not None else self.chains.stored(chain, partition)
        return (chain, 0, GENESIS) if head is None else (chain, head.seq + 1, head.digest)

    def advance(self, chain: str, partition: int, head: Head) -> None:
        """``head`` (given by :meth:`link`) is written: the chain goes on from it."""
        self._latest[chain] = (partition, head)
        self._unsaved.add(chain)

    def append(self, side: str, partition: int, body: dict[str, Any], at_ms: int) -> dict[str, Any]:
        """``body`` as the next entry of this stream's chain of ``side`` at ``partition``, sealed."""
        chain, seq, prev = self.link(side, partition)
        entry = seal({**body, "chain": chain, "seq": seq, "prev": prev, "at_ms": at_ms})
        self.advance(chain, partition, Head(seq, entry["digest"]))
        return entry

    def persist(self) -> None:
        """Write the heads of the entries appended since the last call (call once they are acked)."""
        for chain in self._unsaved:
            partition, head = self._latest[chain]
            self.chains.table[self.chains.key(chain, partition)] = head.encode()
            self.chains.persisted[chain] = head
        self._unsaved.clear()
        for chain in self._dropping:
            self._latest.pop(chain, None)
        self._dropping.clear()

    def revoke(self, partitions: Iterable[int]) -> None:
        """Forget the cached heads of ``partitions`` (no longer ours): if they come back, their heads
        are read from the table, where their next owner may have moved them on. Heads not yet
        persisted are kept for :meth:`persist`."""
        gone = set(partitions)
        for chain in [c for c, (p, _) in self._latest.items() if p in gone]:
            if chain in self._unsaved:
                self._dropping.add(chain)
            else:
                del self._latest[chain]
