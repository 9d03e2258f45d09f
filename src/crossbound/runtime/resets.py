"""Decide, from what the broker says over time, whether it lost its state under a running worker.

A memory-only broker (Tansu here) that restarts comes back empty: no topics, no offsets, no consumer
groups, no changelogs. aiokafka and Faust reconnect by themselves and even re-declare topics, so
nothing fails: the worker would go on consuming fresh, empty topics with tables that no longer match
their changelogs, and whatever was in flight is gone without an error anywhere. A broker that keeps
its log directories (Apache Kafka) never looks like this after a restart.

:class:`ResetDetector` compares each :class:`~crossbound.broker.admin.BrokerState` with what earlier
states showed (the baseline) and names the evidence of a reset:

``cluster_id``
    the cluster id differs from the first one seen (a Kafka whose storage was formatted anew; Tansu
    0.6 always says ``tansu_cluster``, so this never fires there);
``topics``
    an input, output or internal topic seen before (or one of its partitions) is gone;
``changelogs``
    a table changelog, or one of its partitions, is gone, or its log end went back: table state lost;
``offsets``
    the log end of a partition of another topic is below the highest log end seen for it, so below
    what the worker has produced or committed there (a log end never goes back on a broker that
    keeps its data; retention removes records from the start, compaction keeps the offsets).

The baseline grows only from states without evidence, so a confirming look compares with the same
one. Committed offsets are deliberately not compared: a worker that commits stale offsets into an
empty broker just before it notices would make every restarted worker see "committed ahead of the log
end" and exit again. Pure logic, no client: the watcher (:mod:`crossbound.runtime.brokerwatch`) feeds
it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crossbound.broker.state import BrokerState

__all__ = ["RESET_EVIDENCE", "BrokerReset", "ResetDetector"]

RESET_EVIDENCE = ("cluster_id", "topics", "changelogs", "offsets")
"""The kinds of evidence, in the order a detail names them (the ``what`` label of the metric)."""

_EXAMPLES = 3  # partitions named per kind in a detail line; the rest are counted


@dataclass(frozen=True, slots=True)
class BrokerReset:
    """Evidence that the broker lost its state: the kinds found, and one line naming what was seen."""

    what: tuple[str, ...]
    detail: str


class ResetDetector:
    """The baseline of one worker's topics, and the comparison of each new state with it.

    Args:
        topics: the topics the worker reads or writes (inputs, outputs, internal).
        changelogs: the changelog topics of its tables.

    Every one of them is expected from the start (the worker creates them before Faust starts), so a
    reset before the first look still shows as topics gone.
    """

    def __init__(self, topics: Iterable[str], changelogs: Iterable[str]) -> None:
        self._changelogs = frozenset(changelogs)
        self.watched: frozenset[str] = frozenset(topics) | self._changelogs
        self._cluster_id: str | None = None
        self._seen_topics: set[str] = set(self.watched)
        self._seen_ends: dict[tuple[str, int], int] = {}

    def check(self, state: BrokerState) -> BrokerReset | None:
        """The evidence of a reset in ``state`` against the baseline, or ``None`` (then ``state``
        joins the baseline)."""
        found: dict[str, list[str]] = {}
        if self._cluster_id is not None and state.cluster_id not in (None, self._cluster_id):
            found["cluster_id"] = [f"cluster id {state.cluster_id!r}, was {self._cluster_id!r}"]
        gone = self._seen_topics - state.topics
        for topic in sorted(gone):
            found.setdefault(self._kind(topic, "topics"), []).append(f"{topic} gone")
        behind: dict[str, list[str]] = {}
        for (topic, partition), seen in self._seen_ends.items():
            if topic in gone:
                continue
            end = state.ends.get((topic, partition))
            if end is None:
                found.setdefault(self._kind(topic, "topics"), []).append(f"{topic}[{partition}] gone")
            elif end < seen:
                behind.setdefault(self._kind(topic, "offsets"), []).append(
                    f"{topic}[{partition}] log end {end} < {seen}"
                )
        for what, lines in behind.items():
            found.setdefault(what, []).extend(lines)
        if found:
            return self._reset(found)
        self._learn(state)
        return None

    def _kind(self, topic: str, other: str) -> str:
        return "changelogs" if topic in self._changelogs else other

    def _learn(self, state: BrokerState) -> None:
        if self._cluster_id is None and state.cluster_id is not None:
            self._cluster_id = state.cluster_id
        self._seen_topics |= state.topics & self.watched
        for key, end in state.ends.items():
            if key[0] in self.watched and end > self._seen_ends.get(key, -1):
                self._seen_ends[key] = end

    @staticmethod
    def _reset(found: dict[str, list[str]]) -> BrokerReset:
        what = tuple(kind for kind in RESET_EVIDENCE if kind in found)
        parts = []
        for kind in what:
            lines = found[kind]
            shown = "; ".join(lines[:_EXAMPLES])
            more = f" (and {len(lines) - _EXAMPLES} more)" if len(lines) > _EXAMPLES else ""
            parts.append(f"{kind}: {shown}{more}")
        return BrokerReset(what, " | ".join(parts))
