"""The tamper-evident audit: what each side decided, hash-chained, with signed cross-anchored checkpoints.

* :mod:`~crossbound.audit.entry`: an entry, its canonical bytes and digest;
* :mod:`~crossbound.audit.facts`: an output record's decision, read back from its bytes;
* :mod:`~crossbound.audit.chains`: the chains (one per side, stream and partition) and their heads;
* :class:`Auditor`: the entries of a worker's outputs; :mod:`~crossbound.audit.checkpoint`: signed
  checkpoints of a side's heads, written to both sides;
* :mod:`~crossbound.audit.export`, :func:`verify_log`: the exported log and its offline verifier
  (:mod:`~crossbound.audit.tree` for one chain).

No client and no Faust: the worker (:mod:`crossbound.runtime.auditing`) and the CLI drive it.
"""

from __future__ import annotations

from crossbound.audit.auditor import Auditor, encode
from crossbound.audit.chains import Chains, Head, Writer, chain_name
from crossbound.audit.checkpoint import make_checkpoint, verify_checkpoint
from crossbound.audit.entry import GENESIS, canonical, digest_of
from crossbound.audit.export import Logged, from_topic, read_log, write_log
from crossbound.audit.tree import Problem
from crossbound.audit.verify import Report, verify_log

__all__ = [
    "GENESIS",
    "Auditor",
    "Chains",
    "Head",
    "Logged",
    "Problem",
    "Report",
    "Writer",
    "canonical",
    "chain_name",
    "digest_of",
    "encode",
    "from_topic",
    "make_checkpoint",
    "read_log",
    "verify_checkpoint",
    "verify_log",
    "write_log",
]
