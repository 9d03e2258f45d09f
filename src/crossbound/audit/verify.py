"""``crossbound audit verify``: one side's exported log checked offline, and against the other's.

What is checked, in order, each problem naming the chain and seq (or the file line) at fault:

1. every line is an audit record of this side: an entry (whose ``digest`` must be the SHA-256 of its
   canonical bytes, :mod:`~crossbound.audit.entry`) or a checkpoint;
2. each chain's links, order and forks (:mod:`~crossbound.audit.tree`); an abandoned attestation
   request is accepted when its request is settled on a surviving branch of any chain of this log
   or, given ``anchors``, of the other side's (where its verdict is: the request's side logs it);
3. each checkpoint of this side: its signature, by a ``[[platform]]`` key of this side in the
   registry, valid when it signed (:mod:`~crossbound.audit.checkpoint`), and every head it names is
   an entry of the log (a checkpoint vouches for what was logged up to its heads: what is dropped or
   altered below a head is caught, what came after the last checkpoint is not vouched for yet);
   the other side's checkpoints kept here (its anchors) are checked for their signature;
4. with ``anchors`` (the other side's exported log): each of this side's checkpoints the other side
   keeps must verify and name entries of this log, and each checkpoint of this log must be among
   them (an anchor whose original is missing here is accepted: the worker writes the anchor first,
   and its heads are checked all the same).

The log is accepted when nothing is found: :attr:`Report.ok`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crossbound.audit.checkpoint import verify_checkpoint
from crossbound.audit.entry import digest_of
from crossbound.audit.export import Logged
from crossbound.audit.tree import Chain, Problem, settles
from crossbound.participants import Registry
from crossbound.signing import Verifier

__all__ = ["Report", "verify_log"]

_ENTRY_FIELDS = {"chain": str, "seq": int, "prev": str, "digest": str, "at_ms": int, "findings": list}
_DECISION_FIELDS = ("kind", "topic", "request_id", "outcome")


@dataclass
class Report:
    """What the verifier found."""

    side: str | None = None
    chains: int = 0
    entries: int = 0
    duplicates: int = 0
    forks: int = 0
    checkpoints: int = 0
    anchors: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the log is accepted."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {
            "ok": self.ok,
            "side": self.side,
            "chains": self.chains,
            "entries": self.entries,
            "duplicates": self.duplicates,
            "forks": self.forks,
            "checkpoints": self.checkpoints,
            "anchors": self.anchors,
            "problems": [
                {"chain": p.chain, "seq": p.seq, "line": p.line, "problem": p.what} for p in self.problems
            ],
        }


def _when(cp: dict[str, Any]) -> str:
    try:
        return datetime.fromtimestamp(int(cp["at_ms"]) / 1000, UTC).isoformat(timespec="milliseconds")
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return "an unknown time"


def _is_entry(obj: Any) -> bool:
    """Whether ``obj`` has an entry's shape (so that no value in a hostile file makes the checks fail)."""
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), t) for k, t in _ENTRY_FIELDS.items()):
        return False
    if not all(isinstance(obj.get(k), str | None) for k in _DECISION_FIELDS):
        return False  # what a decision is compared by (entry.decision) must be hashable
    source = obj.get("source")
    if source is not None and not (
        isinstance(source, dict) and all(isinstance(v, str | int | None) for v in source.values())
    ):
        return False
    return all(isinstance(f, str) for f in obj["findings"])


class _Log:
    """One exported log, sorted into chains and checkpoints."""

    def __init__(self, records: Sequence[Logged], report: Report | None = None) -> None:
        report = Report() if report is None else report  # None: the other side's, its problems not ours
        self.chains: dict[str, Chain] = {}
        self.checkpoints: list[tuple[int, dict[str, Any]]] = []
        sides: set[str] = set()
        for rec in records:
            obj = rec.record
            kind = obj.get("type") if isinstance(obj, dict) else None
            if kind == "checkpoint" and isinstance(obj, dict):
                self.checkpoints.append((rec.line, obj))
            elif kind == "entry" and _is_entry(obj):
                if digest_of(obj) != obj["digest"]:
                    what = "its content does not match its digest: altered"
                    report.problems.append(Problem(what, obj["chain"], obj["seq"], rec.line))
                    continue
                sides.add(obj["chain"].split(".", 1)[0])
                self.chains.setdefault(obj["chain"], Chain(obj["chain"])).add(rec.line, obj)
                report.entries += 1
            else:
                report.problems.append(Problem("not an audit entry or checkpoint", line=rec.line))
        if len(sides) > 1:
            report.problems.append(Problem(f"entries of more than one side: {', '.join(sorted(sides))}"))
        self.side = next(iter(sides), None)


class _Settled:
    """Whether an abandoned attestation request's request has a final outcome on a surviving branch
    of this log or of the anchors' (each log read once, when the first such request is asked about)."""

    def __init__(self, log: _Log, anchors: Sequence[Logged] | None) -> None:
        self.log, self.anchors = log, anchors
        self.known: set[tuple[str, str, bytes]] | None = None

    def __call__(self, entry: dict[str, Any]) -> bool:
        if self.known is None:
            logs = [self.log] if self.anchors is None else [self.log, _Log(self.anchors)]
            self.known = {key for log in logs for chain in log.chains.values() for key in chain.outcomes()}
        return any(key in self.known for key in settles(entry))


def verify_log(
    records: Sequence[Logged],
    registry: Registry,
    anchors: Sequence[Logged] | None = None,
    *,
    strict: bool = False,
    anchors_name: str = "the anchors",
) -> Report:
    """Verify one side's exported log (and, given ``anchors``, against the other side's)."""
    report = Report()
    log = _Log(records, report)
    side = report.side = log.side
    if side is None:
        report.problems.append(Problem("the log holds no audit entry: nothing to verify"))
    settled = _Settled(log, anchors)
    for chain in log.chains.values():
        report.problems += chain.check(strict, settled)
        report.duplicates += chain.duplicates
        report.forks += chain.forks
    report.chains = len(log.chains)
    verifier = Verifier(registry)
    own: set[str] = set()
    for line, cp in log.checkpoints:
        fault = verify_checkpoint(cp, verifier)
        label = f"checkpoint of {cp.get('side')} at {_when(cp)}"
        if fault is not None:
            report.problems.append(Problem(f"{label}: {fault}", line=line))
        elif side is not None and cp.get("side") == side.upper():
            report.checkpoints += 1
            own.add(str(cp["signature"]))
            report.problems += _heads(cp, log, label, line)
    if anchors is not None and side is not None:
        report.problems += _anchored(anchors, log, side, own, verifier, anchors_name, report)
    report.problems.sort(key=Problem.sort_key)
    return report


def _heads(cp: dict[str, Any], log: _Log, label: str, line: int) -> list[Problem]:
    problems = []
    heads = cp.get("heads")
    for head in heads if isinstance(heads, list) else [None]:
        if not isinstance(head, dict):
            problems.append(Problem(f"{label}: its heads are not a list of chain heads", line=line))
            continue
        chain = log.chains.get(str(head.get("chain")))
        seq, digest = head.get("seq"), str(head.get("digest"))
        if chain is None or not isinstance(seq, int) or not chain.has(seq, digest):
            what = f"{label} vouches for digest {digest[:12]}…, not in the log: dropped or altered"
            problems.append(
                Problem(what, str(head.get("chain")), seq if isinstance(seq, int) else None, line)
            )
    return problems


def _anchored(
    anchors: Sequence[Logged],
    log: _Log,
    side: str,
    own: set[str],
    verifier: Verifier,
    name: str,
    report: Report,
) -> list[Problem]:
    problems: list[Problem] = []
    wire = side.upper()
    found: set[str] = set()
    for rec in anchors:
        cp = rec.record
        if not (isinstance(cp, dict) and cp.get("type") == "checkpoint" and cp.get("side") == wire):
            continue
        label = f"cross-anchor of {wire} at {_when(cp)} in {name}"
        fault = verify_checkpoint(cp, verifier)
        if fault is not None:
            problems.append(Problem(f"{label}: {fault}", line=rec.line))
            continue
        report.anchors += 1
        found.add(str(cp["signature"]))
        problems += _heads(cp, log, label, rec.line)
    for line, cp in log.checkpoints:
        if str(cp.get("signature")) in own and str(cp["signature"]) not in found:
            what = f"checkpoint of {wire} at {_when(cp)} has no cross-anchor in {name}: dropped there"
            problems.append(Problem(what, line=line))
    return problems
