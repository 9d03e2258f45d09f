"""One chain's checks: its links, its order, and what it accepts of a crash's replays.

The entries of a chain form a tree by ``prev``; a healthy chain is one path from seq 0. After a
crash under at-least-once (see :mod:`~crossbound.audit.chains`) two things can be in the log, and
both are accepted:

* an entry written twice (the same bytes): one entry, counted as ``duplicates``;
* a *fork*: two entries linking to the same previous one. The *surviving* branch is the one that
  reaches the highest ``seq`` (ties: the later ``at_ms``, then the larger digest); every other
  branch is *abandoned*, and accepted only if each decision on it is taken again on the surviving
  branch after the fork point: the same record kind on the same topic for the same request (without
  a request id: for the same input), with the same outcome and finding codes (:func:`~crossbound.
  audit.entry.decision`). That is what a new owner does with the inputs the dead process had not
  committed. One exception: an abandoned ``attestation_request`` whose request is *settled*, that is
  has a final outcome the verifier can see on a surviving branch (of any chain, of this log or of
  the other side's: :mod:`~crossbound.audit.verify`): a verdict for its request id, or a dead letter
  of its very input. After a crash the new owner may get the attestation (matched with the request
  parked in the changelogged table) before the request's redelivery: it decides from the
  attestation, and the redelivered request gets that verdict again, not a second attestation
  request. With ``strict`` (a log written under ``exactly_once``) no fork is accepted.

Rejected, each naming the chain and the sequence number at fault: an entry whose content does not
match its digest (altered), a link to an entry that is not in the log (missing: dropped, or
altered and re-digested), a ``seq`` that does not follow its previous entry's (inserted), an entry
that comes in the file before the entry it links to (reordered), and an abandoned branch with a
decision the surviving branch does not repeat (a decision erased or changed), unless it is an
attestation request whose request is settled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from crossbound.audit.entry import GENESIS, canonical, decision

__all__ = ["Chain", "Problem", "Settled", "outcome_key", "settles"]

Settled = Callable[[dict[str, Any]], bool]
"""Whether an abandoned attestation request's request has a final outcome the verifier can see."""

_FINAL = ("verdict", "dead_letter")


def outcome_key(kind: str, request_id: str, source: Any) -> tuple[str, str, bytes]:
    """What a final outcome settles: a verdict, its request id (wherever it was decided from: the
    attestation, a hop, a timeout, the request again); a dead letter, its request id and input."""
    where = canonical(source) if kind == "dead_letter" and isinstance(source, dict) else b""
    return (kind, request_id, where)


def settles(entry: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """The keys an abandoned attestation request is settled by (none without a request id)."""
    rid = entry.get("request_id")
    if entry.get("kind") != "attestation_request" or not isinstance(rid, str):
        return []
    return [outcome_key("verdict", rid, None), outcome_key("dead_letter", rid, entry.get("source"))]


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, and where: a chain and seq, or a line of the file."""

    what: str
    chain: str | None = None
    seq: int | None = None
    line: int | None = None

    def sort_key(self) -> tuple[str, int, int]:
        """Entries first, by chain and seq; then checkpoints and lines, by line."""
        return (self.chain or "~", -1 if self.seq is None else self.seq, self.line or 0)

    def text(self) -> str:
        """One line for a person."""
        where = f"chain {self.chain} seq {self.seq}" if self.chain is not None else ""
        if self.chain is not None and self.seq is None:
            where = f"chain {self.chain}"
        if self.line is not None:
            where = f"{where} (line {self.line})" if where else f"line {self.line}"
        return f"{where}: {self.what}"


@dataclass
class Chain:
    """The well-formed entries of one chain, in file order."""

    name: str
    nodes: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # digest -> (line, entry)
    duplicates: int = 0
    forks: int = 0
    _main: list[str] | None = field(default=None, init=False, repr=False, compare=False)  # once computed

    def add(self, line: int, entry: dict[str, Any]) -> None:
        """One entry whose digest matches its content (a second copy counts as a duplicate)."""
        if entry["digest"] in self.nodes:
            self.duplicates += 1
        else:
            self.nodes[entry["digest"]] = (line, entry)
            self._main = None

    def check(self, strict: bool, settled: Settled | None = None) -> list[Problem]:
        """Every problem of the chain (empty: the chain is accepted). ``settled``: whether an abandoned
        attestation request's request has a final outcome elsewhere (None: none is looked for)."""
        problems: list[Problem] = []
        for line, entry in self.nodes.values():
            prev = entry["prev"]
            if prev == GENESIS:
                if entry["seq"] != 0:
                    problems.append(self._at(entry, line, "links to the chain's start but is not seq 0"))
                continue
            parent = self.nodes.get(prev)
            if parent is None:
                if entry["seq"] == 0:
                    problems.append(self._at(entry, line, "is seq 0 but does not link to the chain's start"))
                else:
                    problems.append(self._broken(entry, line))
                continue
            if parent[1]["seq"] + 1 != entry["seq"]:
                what = f"does not follow its previous entry (seq {parent[1]['seq']}): inserted"
                problems.append(self._at(entry, line, what))
            if parent[0] > line:
                problems.append(self._at(entry, line, "comes before the entry it links to: reordered"))
        problems += self._forks(self._children(), strict, settled)
        return problems

    def outcomes(self) -> Iterator[tuple[str, str, bytes]]:
        """The final outcomes on the surviving branch (:func:`outcome_key`): what settles a request."""
        for digest in self._surviving(self._children())[1:]:
            entry = self.nodes[digest][1]
            kind, rid = entry.get("kind"), entry.get("request_id")
            if kind in _FINAL and isinstance(rid, str):
                yield outcome_key(kind, rid, entry.get("source"))

    def _children(self) -> dict[str, list[str]]:
        """The entries linking to each entry (or to the chain's start), in file order."""
        children: dict[str, list[str]] = defaultdict(list)
        for digest, (_, entry) in self.nodes.items():
            prev = entry["prev"]
            if prev in self.nodes or prev == GENESIS:
                children[prev].append(digest)
        return children

    def _surviving(self, children: dict[str, list[str]]) -> list[str]:
        """The surviving branch, from the chain's start: at each fork, the child reaching furthest."""
        if self._main is None:
            reach = self._reach()
            main: list[str] = [GENESIS]
            while children.get(main[-1]):
                main.append(max(children[main[-1]], key=lambda d: reach[d]))
            self._main = main
        return self._main

    def _at(self, entry: dict[str, Any], line: int, what: str) -> Problem:
        return Problem(what, self.name, entry["seq"], line)

    def _broken(self, entry: dict[str, Any], line: int) -> Problem:
        seq = entry["seq"]
        others = [at for at, e in self.nodes.values() if e["seq"] == seq - 1]
        if others:  # named at its own line: the entry that was altered
            what = f"is not the entry seq {seq} links to (digest {entry['prev'][:12]}…): altered"
            line = others[0]
        else:
            what = f"is missing: seq {seq} links to an entry not in the log"
        return Problem(what, self.name, seq - 1, line)

    def _forks(self, children: dict[str, list[str]], strict: bool, settled: Settled | None) -> list[Problem]:
        main = self._surviving(children)
        position = {d: i for i, d in enumerate(main)}
        last_taken: dict[tuple[Any, ...], int] = {}
        for i, digest in enumerate(main[1:], 1):
            last_taken[decision(self.nodes[digest][1])] = i
        problems = []
        for i, digest in enumerate(main):
            for child in children.get(digest, ()):
                if child in position:
                    continue
                self.forks += 1
                fork_seq = self.nodes[child][1]["seq"]
                if strict:
                    problems.append(Problem("a fork: none is accepted with --strict", self.name, fork_seq))
                    continue
                for line, entry in self._subtree(child, children):
                    if last_taken.get(decision(entry), -1) <= i and not (
                        settled is not None and entry.get("kind") == "attestation_request" and settled(entry)
                    ):
                        what = (
                            f"on a branch abandoned at seq {fork_seq}: its {entry.get('kind')} for "
                            f"{entry.get('request_id') or 'its input'} is not taken again on the "
                            "surviving branch"
                        )
                        problems.append(Problem(what, self.name, entry["seq"], line))
        return problems

    def _reach(self) -> dict[str, tuple[int, int, str]]:
        """For each entry, the highest (seq, at_ms, digest) among its descendants and itself."""
        reach: dict[str, tuple[int, int, str]] = {}
        for digest, (_, entry) in sorted(self.nodes.items(), key=lambda kv: -kv[1][1]["seq"]):
            mine = (entry["seq"], int(entry.get("at_ms") or 0), digest)
            reach[digest] = max(reach.get(digest, mine), mine)
            prev = entry["prev"]
            if prev in self.nodes:
                reach[prev] = max(reach.get(prev, reach[digest]), reach[digest])
        return reach

    def _subtree(self, root: str, children: dict[str, list[str]]) -> list[tuple[int, dict[str, Any]]]:
        out, stack = [], [root]
        while stack:
            digest = stack.pop()
            out.append(self.nodes[digest])
            stack.extend(children.get(digest, ()))
        return out

    def has(self, seq: int, digest: str) -> bool:
        """Whether the chain holds the entry ``digest`` at ``seq``."""
        found = self.nodes.get(digest)
        return found is not None and found[1]["seq"] == seq

    def tip(self) -> int:
        """The highest seq in the chain (-1 when empty)."""
        return max((e["seq"] for _, e in self.nodes.values()), default=-1)
