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
  committed. With ``strict`` (a log written under ``exactly_once``) no fork is accepted.

Rejected, each naming the chain and the sequence number at fault: an entry whose content does not
match its digest (altered), a link to an entry that is not in the log (missing: dropped, or
altered and re-digested), a ``seq`` that does not follow its previous entry's (inserted), an entry
that comes in the file before the entry it links to (reordered), and an abandoned branch with a
decision the surviving branch does not repeat (a decision erased or changed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from crossbound.audit.entry import GENESIS, decision

__all__ = ["Chain", "Problem"]


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

    def add(self, line: int, entry: dict[str, Any]) -> None:
        """One entry whose digest matches its content (a second copy counts as a duplicate)."""
        if entry["digest"] in self.nodes:
            self.duplicates += 1
        else:
            self.nodes[entry["digest"]] = (line, entry)

    def check(self, strict: bool) -> list[Problem]:
        """Every problem of the chain (empty: the chain is accepted)."""
        problems: list[Problem] = []
        children: dict[str, list[str]] = defaultdict(list)
        for digest, (line, entry) in self.nodes.items():
            prev = entry["prev"]
            if prev == GENESIS:
                if entry["seq"] != 0:
                    problems.append(self._at(entry, line, "links to the chain's start but is not seq 0"))
                children[GENESIS].append(digest)
                continue
            parent = self.nodes.get(prev)
            if parent is None:
                if entry["seq"] == 0:
                    problems.append(self._at(entry, line, "is seq 0 but does not link to the chain's start"))
                else:
                    problems.append(self._broken(entry, line))
                continue
            children[prev].append(digest)
            if parent[1]["seq"] + 1 != entry["seq"]:
                what = f"does not follow its previous entry (seq {parent[1]['seq']}): inserted"
                problems.append(self._at(entry, line, what))
            if parent[0] > line:
                problems.append(self._at(entry, line, "comes before the entry it links to: reordered"))
        problems += self._forks(children, strict)
        return problems

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

    def _forks(self, children: dict[str, list[str]], strict: bool) -> list[Problem]:
        reach = self._reach()
        main: list[str] = [GENESIS]
        while children.get(main[-1]):
            main.append(max(children[main[-1]], key=lambda d: reach[d]))
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
                    if last_taken.get(decision(entry), -1) <= i:
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
