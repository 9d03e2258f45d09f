"""Who used the machine's cores while a backlog drained: CPU samples turned into cores and shares.

benchmarks/scaling.py samples, at the first verdict and once the last has arrived, the CPU seconds so far
of every process in each group (the workers, the broker, the load generator) and the machine's busy
seconds (every process, every core). Two samples give each process's cores used over the window (CPU
seconds over wall seconds) and, as a share of the machine's cores, whether the workers scaled or the
machine ran out: a row whose machine was busy on :data:`SATURATED` of its cores or more cannot show what
one more worker would add. This module is the arithmetic and the table, with no broker or /proc in it,
so it is unit-tested on its own (tests/unit/benchmarks/test_cpushare.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: The process groups sampled, in the order the table shows them.
GROUPS = ("workers", "broker", "generator")

#: The machine counts as saturated when its busy cores reach this share of its cores.
SATURATED = 0.9


@dataclass(frozen=True)
class Sample:
    """CPU seconds so far, read at one instant."""

    at: float  #: time.monotonic() when read
    cpu: Mapping[str, Mapping[int, float]]  #: group -> process id -> its CPU seconds so far
    machine_busy: float  #: the machine's busy CPU seconds so far, all processes and cores together


@dataclass(frozen=True)
class Usage:
    """Cores used over a window, per process of each group and machine-wide."""

    seconds: float
    cpus: int
    per_process: Mapping[str, Sequence[float]]  #: group -> cores used by each process, in sampled order
    machine: float  #: cores the whole machine was busy on

    def cores(self, group: str) -> float:
        return sum(self.per_process[group])

    @property
    def ours(self) -> float:
        """Cores used by the sampled processes together."""
        return sum(self.cores(group) for group in self.per_process)

    @property
    def others(self) -> float:
        """Busy cores not ours: other work on a shared machine, and kernel time charged to no process
        (interrupts; small here). Never below 0: /proc counts in clock ticks.
        """
        return max(0.0, self.machine - self.ours)

    def share(self, cores: float) -> float:
        """``cores`` as a share of the machine's."""
        return cores / self.cpus

    @property
    def saturated(self) -> bool:
        return self.machine >= SATURATED * self.cpus


def usage(first: Sample, last: Sample, cpus: int) -> Usage:
    """The cores each sampled process used between two samples (the processes of ``first``)."""
    seconds = last.at - first.at
    if seconds <= 0:
        raise ValueError(f"the window must be positive, got {seconds:g} s")
    per_process: dict[str, list[float]] = {}
    for group, pids in first.cpu.items():
        later = last.cpu.get(group, {})
        missing = sorted(set(pids) - set(later))
        if missing:
            raise ValueError(f"{group} process(es) {missing} were not sampled at the end of the window")
        per_process[group] = [(later[pid] - pids[pid]) / seconds for pid in pids]
    return Usage(seconds, cpus, per_process, (last.machine_busy - first.machine_busy) / seconds)


@dataclass(frozen=True)
class Row:
    """One measurement: a broker engine, a kind of traffic, a worker count."""

    engine: str
    kind: str
    workers: int
    verdicts: int
    rate: float  #: verdicts/s, first to last verdict
    usage: Usage

    @property
    def per_worker_core(self) -> float:
        """Verdicts/s per core the workers used: the planning figure."""
        return self.rate / max(1e-9, self.usage.cores("workers"))

    def describe(self) -> str:
        """One sentence: the rate, who used the cores, and whether the machine had any left."""
        u = self.usage
        parts = ", ".join(f"{group} {u.cores(group):.2f}" for group in GROUPS)
        return (
            f"{self.workers} worker{'s' if self.workers > 1 else ''}: {self.rate:,.0f} verdicts/s, {parts}, "
            f"others {u.others:.2f}, machine {u.machine:.2f} of {u.cpus} cores: "
            + ("saturated" if u.saturated else "headroom")
        )

    def figures(self) -> dict[str, object]:
        """The row as JSON: cores used, and shares of the machine's cores."""
        u = self.usage
        return {
            "engine": self.engine,
            "kind": self.kind,
            "workers": self.workers,
            "verdicts": self.verdicts,
            "verdicts_per_s": round(self.rate, 1),
            "verdicts_per_s_per_worker_core": round(self.per_worker_core, 1),
            "window_s": round(u.seconds, 2),
            "cores": {group: round(u.cores(group), 3) for group in GROUPS}
            | {"others": round(u.others, 3), "machine": round(u.machine, 3)},
            "worker_cores_each": [round(c, 3) for c in u.per_process["workers"]],
            "shares": {group: round(u.share(u.cores(group)), 3) for group in GROUPS}
            | {"others": round(u.share(u.others), 3), "machine": round(u.share(u.machine), 3)},
            "saturated": u.saturated,
        }


def speedup(row: Row, rows: Sequence[Row]) -> float | None:
    """``row``'s rate over the one-worker rate of its engine and kind, when that was measured."""
    one = [r for r in rows if (r.engine, r.kind, r.workers) == (row.engine, row.kind, 1)]
    return row.rate / one[0].rate if one and one[0].rate else None


_HEADER = (
    "engine",
    "traffic",
    "workers",
    "verdicts/s",
    "vs 1 worker",
    "workers' cores (each)",
    "broker",
    "generator",
    "others",
    "machine busy",
    "verdicts/s per worker core",
    "",
)


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows (cores used; the machine's busy cores of its total)."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for row in rows:
        u = row.usage
        gain = speedup(row, rows)
        each = " ".join(f"{c:.2f}" for c in u.per_process["workers"])
        cells = (
            row.engine,
            row.kind.replace("_", "-"),
            str(row.workers),
            f"{row.rate:,.0f}",
            "" if gain is None else f"{gain:.2f}x",
            f"{u.cores('workers'):.2f} ({each})",
            f"{u.cores('broker'):.2f}",
            f"{u.cores('generator'):.2f}",
            f"{u.others:.2f}",
            f"{u.machine:.2f} of {u.cpus}",
            f"{row.per_worker_core:,.0f}",
            "saturated" if u.saturated else "",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_worker_core(rows: Sequence[Row]) -> dict[str, dict[str, dict[str, float]]]:
    """engine -> traffic kind -> worker count -> verdicts/s per worker core: what to plan with."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        kinds = out.setdefault(row.engine, {})
        kinds.setdefault(row.kind, {})[str(row.workers)] = round(row.per_worker_core, 1)
    return out
