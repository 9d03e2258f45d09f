"""What each of the worker's Faust speed-ups buys, in one run on one broker; the last line is JSON.

On one fresh broker: the Faust floor (benchmarks/faust_floor.py) on Faust's defaults, and with the
worker's speed-ups; then, for each step, a request-only and an attested backlog through one worker:
first with every speed-up left at Faust's default (``kafka.faust_stock`` naming them all), then
adding one speed-up of ``crossbound.runtime.app.FAUST_SPEEDUPS`` at a time, in order (the last step is
the worker's default). Every figure is also given as a share of the floor on Faust's defaults,
measured at the start and again at the end of the run (their mean is the reference; both are printed,
so the machine's drift over the run can be seen). On a loaded machine the rates follow the CPU share
the scheduler gives each process; the CPU ratio (the floor's worker CPU per record over ours per
verdict, psutil) is printed next to them, less sensitive to that.

``--floor-only R`` runs only the floor, on Faust's defaults and with the speed-ups alternately, R times
each, and prints every figure and their medians: what the speed-ups buy Faust alone, with the
machine's noise visible.

    python benchmarks/faust_tuning.py [--engine tansu|kafka] [--requests N] [--attested N] [--floor-only R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from typing import Any

from bench import SCENARIOS, Phase, backlog_phase
from floors import faust_floor_phase

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import ENGINES, apply_tansu_workarounds, make_broker, remove_tansu_workarounds
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.runtime.app import FAUST_SPEEDUPS
from crossbound.testing.traffic import Traffic


def steps() -> list[tuple[str, frozenset[str]]]:
    """(label, speed-ups left stock) per step: none applied, then one more at a time."""
    names = list(FAUST_SPEEDUPS)
    out = [("Faust defaults", frozenset(names))]
    for i, name in enumerate(names):
        out.append((f"+ {name}", frozenset(names[i + 1 :])))
    return out


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    traffic = Traffic(seed=2026)
    rows: list[dict[str, Any]] = []
    with make_broker(args.engine) as broker:
        probe = Phase(broker, codec, catalogue, "fl")
        floor_values = [
            probe.bus.encode_case(traffic.case(SCENARIOS[i % 3], "invalid"))[1:] for i in range(args.requests)
        ]
        floor_before, cpu_before = await faust_floor_phase(broker, floor_values)
        floor_tuned, cpu_tuned = await faust_floor_phase(broker, floor_values, tuned=True)
        print(
            f"floor on Faust's defaults {floor_before:,.0f}/s ({cpu_before:.0f} us CPU/record), "
            f"with the speed-ups {floor_tuned:,.0f}/s ({cpu_tuned:.0f} us); {_load()}",
            flush=True,
        )
        for label, stock in steps():
            env = {"CROSSBOUND_KAFKA__FAUST_STOCK": json.dumps(sorted(stock))}
            row: dict[str, Any] = {"step": label}
            for kind, fixture, n in (
                ("request_only", "invalid", args.requests),
                ("attested", "valid", args.attested),
            ):
                phase = Phase(broker, codec, catalogue, kind[:2], env=env)
                cases = [traffic.case(SCENARIOS[i % 3], fixture) for i in range(n)]
                rate, cpu = await backlog_phase(phase, cases)
                row[kind] = round(rate)
                row[f"{kind}_cpu_us"] = round(cpu)
            print(f"{label}: {row}; {_load()}", flush=True)
            rows.append(row)
        floor_after, cpu_after = await faust_floor_phase(broker, floor_values)
    floor, floor_cpu = (floor_before + floor_after) / 2, (cpu_before + cpu_after) / 2
    print(
        f"floor on Faust's defaults at the end {floor_after:,.0f}/s ({cpu_after:.0f} us CPU/record); "
        f"reference (mean) {floor:,.0f}/s, {floor_cpu:.0f} us CPU/record; {_load()}"
    )
    print(
        "| step | request-only verdicts/s (% of floor; CPU ratio) "
        "| attested verdicts/s (% of floor; CPU ratio) |"
    )
    print("|---|---|---|")
    for row in rows:
        cells = [
            f"{row[k]:,} ({row[k] / floor:.0%}; {floor_cpu / row[k + '_cpu_us']:.0%})"
            for k in ("request_only", "attested")
        ]
        print(f"| {row['step']} | {cells[0]} | {cells[1]} |")
    print(
        f"| floor with the speed-ups | {floor_tuned:,.0f} ({floor_tuned / floor:.0%}; "
        f"{floor_cpu / cpu_tuned:.0%}) | |"
    )
    return {
        "engine": args.engine,
        "cpus": os.cpu_count(),
        "floor_stock_start": round(floor_before),
        "floor_stock_end": round(floor_after),
        "floor_tuned": round(floor_tuned),
        "floor_stock_cpu_us": [round(cpu_before), round(cpu_after)],
        "floor_tuned_cpu_us": round(cpu_tuned),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "steps": rows,
        "counts": {"request_only": args.requests, "attested": args.attested},
    }


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


async def floor_only(args: argparse.Namespace) -> dict[str, Any]:
    """The floor alone, stock and tuned alternately, ``args.floor_only`` times each."""
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    traffic = Traffic(seed=2026)
    runs: dict[str, list[tuple[float, float]]] = {"stock": [], "tuned": []}
    with make_broker(args.engine) as broker:
        probe = Phase(broker, codec, catalogue, "fl")
        values = [
            probe.bus.encode_case(traffic.case(SCENARIOS[i % 3], "invalid"))[1:] for i in range(args.requests)
        ]
        for _ in range(args.floor_only):
            for kind in ("stock", "tuned"):
                rate, cpu = await faust_floor_phase(broker, values, tuned=kind == "tuned")
                runs[kind].append((rate, cpu))
                print(f"floor {kind}: {rate:,.0f} records/s, {cpu:.0f} us CPU/record; {_load()}", flush=True)
    medians = {
        kind: (statistics.median(r for r, _ in got), statistics.median(c for _, c in got))
        for kind, got in runs.items()
    }
    (rs, cs), (rt, ct) = medians["stock"], medians["tuned"]
    print(
        f"medians: stock {rs:,.0f}/s {cs:.0f} us; tuned {rt:,.0f}/s {ct:.0f} us; "
        f"tuned/stock rate {rt / rs:.2f}, CPU {ct / cs:.2f}"
    )
    return {
        "engine": args.engine,
        "floor_runs": runs,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.engine == "tansu":
        apply_tansu_workarounds()
    try:
        return await (floor_only(args) if args.floor_only else measure(args))
    finally:
        remove_tansu_workarounds()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default="tansu")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--attested", type=int, default=5_000)
    parser.add_argument("--floor-only", type=int, default=0, metavar="R")
    print(json.dumps(asyncio.run(main(parser.parse_args())), sort_keys=True))
