"""A small audit log for the verifier's tests: entries on two HK chains, signed checkpoints, the
SZ side's log holding them as anchors; and the edits a tamperer would make to it."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crossbound.audit import Chains, Logged, digest_of, make_checkpoint
from crossbound.audit.facts import decided_kinds
from crossbound.domain import Side
from crossbound.participants import Registry, load_registry
from crossbound.signing import Signer
from crossbound.testing.participants import generate_registry
from crossbound.topics import Topics

SCENARIOS = {"sb_corporate_credit_report": (Side.HK, Side.SZ)}
T0 = 1_790_000_000_000


def registry_and_signers(directory: Path) -> tuple[Registry, dict[Side, Signer]]:
    """A generated registry and the platform signers of both sides."""
    generated = generate_registry(directory, SCENARIOS, now=datetime.fromtimestamp(T0 / 1000, UTC))
    registry = load_registry(generated.path, SCENARIOS)
    from crossbound.signing import platform_signer

    return registry, {side: platform_signer(generated.platform_key(side), registry, side) for side in Side}


def body(
    n: int,
    outcome: str = "ACCEPT",
    kind: str = "verdict",
    side: str = "hk",
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of decision ``n`` (request id ``...n``) logged by ``side``, taken for request ``n``'s
    record (or for ``source``)."""
    topic = next(t for t, (s, k) in decided_kinds(Topics()).items() if s == side and k == kind)
    return {
        "v": 1,
        "type": "entry",
        "kind": kind,
        "topic": topic,
        "request_id": f"00000000-0000-4000-8000-{n:012d}",
        "scenario": "sb_corporate_credit_report",
        "ruleset_version": "1.0.0",
        "outcome": outcome,
        "findings": [] if outcome in ("ACCEPT", "ASKED") else ["C1_BAD"],
        "source": source or {"topic": "hk.requests", "partition": n % 2, "offset": n},
        "input": "ab" * 32,
        "output": f"{n:064x}",
        "input_sig": None,
        "output_sig": None,
    }


@dataclass
class AuditLog:
    """HK's log (entries and checkpoints, in topic order) and SZ's (the anchors)."""

    signers: dict[Side, Signer]
    table: dict[bytes, bytes] = field(default_factory=dict)
    hk: list[dict[str, Any]] = field(default_factory=list)
    sz: list[dict[str, Any]] = field(default_factory=list)
    clock: int = T0

    def __post_init__(self) -> None:
        self.restart()

    def decide(self, n: int, stream: str = "in", **kw: Any) -> dict[str, Any]:
        """Log decision ``n`` on the chain of its partition (``side="sz"``: on SZ's log)."""
        self.clock += 10
        side = kw.get("side", "hk")
        writer = self.writers.get(stream) or self.writers.setdefault(stream, self.chains.writer(stream))
        entry = writer.append(side, n % 2, body(n, **kw), self.clock)
        (self.hk if side == "hk" else self.sz).append(entry)
        return entry

    def checkpoint(self) -> dict[str, Any]:
        """HK's persisted heads, signed: anchored on SZ's log, then kept on HK's."""
        for writer in self.writers.values():
            writer.persist()
        self.clock += 10
        heads = {c: h for c, h in self.chains.persisted.items() if c.startswith("hk.")}
        cp = make_checkpoint(self.signers[Side.HK], Side.HK, heads, self.clock)
        self.sz.append(cp)
        self.hk.append(cp)
        return cp

    def clear(self) -> None:
        """Nothing logged yet: a new deployment."""
        self.hk.clear()
        self.sz.clear()
        self.table.clear()
        self.restart()

    def restart(self) -> None:
        """A new process over the table as it was last persisted (what a crash leaves)."""
        self.chains = Chains(self.table, 2)
        self.writer = self.chains.writer("in")
        self.writers = {"in": self.writer}

    @staticmethod
    def logged(records: list[dict[str, Any]]) -> list[Logged]:
        """As ``audit export`` writes and ``read_log`` reads them (a deep copy: records are edited)."""
        return [Logged(i + 1, 0, i, copy.deepcopy(r)) for i, r in enumerate(records)]


def clean_log(signers: dict[Side, Signer], decisions: int = 10) -> AuditLog:
    """``decisions`` decisions with a checkpoint after each half."""
    log = AuditLog(signers)
    for n in range(decisions):
        log.decide(n)
        if n in (decisions // 2, decisions - 1):
            log.checkpoint()
    return log


def entry_at(records: list[dict[str, Any]], chain: str, seq: int) -> int:
    """The index of entry ``seq`` of ``chain``."""
    return next(i for i, r in enumerate(records) if r.get("chain") == chain and r.get("seq") == seq)


def redigest(entry: dict[str, Any]) -> None:
    """What a tamperer who knows the format does after an edit."""
    entry["digest"] = digest_of(entry)


def dump(records: list[dict[str, Any]], path: Path) -> Path:
    """An exported log file."""
    lines = [json.dumps({"partition": 0, "offset": i, "record": r}) for i, r in enumerate(records)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
