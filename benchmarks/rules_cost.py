"""Per-verdict cost of the pipeline's own work, per scenario, without a broker or Faust.

Each scenario's accept fixture (refreshed: new ids, digests, times) is encoded N times before the clock
starts; then the encoded records go through the pipeline (request, attestation, stateful hops, verdict
encoding), with hop records delivered in-process and outputs counted, not decoded. The figure is CPU
time (``time.process_time``, best of three rounds), so other processes on a shared machine move it
less than wall time would. The script prints the microseconds per verdict and the number of rules the
scenario runs, so the cost of a bigger rule set is visible next to its size. The last line is one
JSON object.

    python benchmarks/rules_cost.py [--n N] [--scenario ID ...] [--compare SRC [--rounds R]] [--calls]

``--compare SRC`` measures another checkout's ``src`` directory (e.g. ``git archive main src schemas
rulesets examples | tar -x -C /tmp/base``, then ``--compare /tmp/base/src``) against this one in one
run: R rounds, each running both in turn in fresh subprocesses, best figure per scenario of each side,
then the ratio.

``--calls`` counts instead of timing: one round per scenario under cProfile, the Python function calls
per verdict (C functions included, as cProfile sees them), which the machine's load does not move, so
two checkouts can be compared on a shared machine (``PYTHONPATH=/tmp/base/src python ... --calls``,
then this one).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from crossbound.pipeline import Incoming, Outgoing
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.encoding import encode_attestation, encode_request

Encoded = tuple[tuple[str, bytes, bytes], tuple[str, bytes, bytes] | None]


def prepare(h: Harness, scenario: str, n: int, seed: int) -> tuple[list[Encoded], str]:
    """``n`` refreshed accept cases of ``scenario``, encoded as an institution would publish them."""
    ex = examples.load(scenario)
    rng = random.Random(seed)
    cases: list[Encoded] = []
    for _ in range(n):
        request, attestation = examples.refresh(ex.fixtures["accept"], rng, h.now)
        req = encode_request(request, h.codec, h.catalogue, h.topics)
        att = None if attestation is None else encode_attestation(attestation, h.codec, h.catalogue, h.topics)
        cases.append((req, att))
    return cases, ex.requester_side.lower()


def run(h: Harness, cases: Sequence[Encoded], side: str) -> float:
    """CPU seconds the pipeline takes over ``cases``; checks that each yields one verdict."""
    pipeline, now_ms = h.pipeline, int(h.now * 1000)
    verdicts = h.topics.verdicts(side)
    passing = {h.topics.quota, *(h.topics.attestation_requests(s) for s in ("hk", "sz"))}
    offsets: dict[str, int] = {}

    def incoming(topic: str, key: bytes | None, value: bytes | None, partition: int = 0) -> Incoming:
        offset = offsets.get(topic, 0)
        offsets[topic] = offset + 1
        return Incoming(topic, partition, offset, key, value, now_ms)

    def deliver(out: Outgoing) -> Incoming:
        return incoming(out.topic, out.key, out.value, out.partition or 0)

    count = 0
    start = time.process_time()
    for req, att in cases:
        for rec in (req, att):
            if rec is None:
                continue
            for out in pipeline.loop(pipeline.handle(incoming(*rec)), deliver):
                if out.topic == verdicts:
                    count += 1
                elif out.topic not in passing:
                    raise AssertionError(f"unexpected output on {out.topic}")
    elapsed = time.process_time() - start
    assert count == len(cases), f"{count} verdicts for {len(cases)} cases"
    return elapsed


def measure(proto: Harness, scenario: str, n: int) -> float:
    """Microseconds of pipeline CPU per verdict, best of three rounds of ``n``."""
    best = float("inf")
    for round_ in range(3):
        h = Harness(proto.codec, proto.catalogue, now=proto.now)
        cases, side = prepare(h, scenario, n, round_)
        best = min(best, run(h, cases, side) / n * 1e6)
    return best


def calls(proto: Harness, scenario: str, n: int) -> float:
    """Function calls per verdict in one round of ``n`` under cProfile (preparation excluded)."""
    h = Harness(proto.codec, proto.catalogue, now=proto.now)
    cases, side = prepare(h, scenario, n, 0)
    profile = cProfile.Profile()
    profile.enable()
    run(h, cases, side)
    profile.disable()
    stats = pstats.Stats(profile)
    total: int = stats.total_calls  # type: ignore[attr-defined]
    return total / n


def figures(
    scenarios: Sequence[str], n: int, quiet: bool = False, count: bool = False
) -> dict[str, dict[str, float]]:
    """Each scenario's cost per verdict (``count``: calls per verdict) and rule count."""
    proto = Harness.from_dirs(now=time.time())
    out: dict[str, dict[str, float]] = {}
    if count:
        for sid in scenarios:
            per = calls(proto, sid, n)
            out[sid] = {
                "calls_per_verdict": round(per, 1),
                "rules": len(proto.catalogue.scenarios[sid].rules),
            }
            if not quiet:
                print(f"{sid:42} {per:8.1f} calls/verdict", flush=True)
        return out
    for sid in scenarios:
        us = measure(proto, sid, n)
        rules = len(proto.catalogue.scenarios[sid].rules)
        out[sid] = {"us_per_verdict": round(us, 1), "rules": rules}
        if not quiet:
            print(f"{sid:42} {rules:3d} rules  {us:7.1f} us/verdict", flush=True)
    return out


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def _child(src: str, scenarios: Sequence[str], n: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": src}
    cmd = [sys.executable, __file__, "--n", str(n), "--json-only"]
    for sid in scenarios:
        cmd += ["--scenario", sid]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(base: str, scenarios: Sequence[str], n: int, rounds: int) -> None:
    """Base against this checkout, alternately, in fresh processes; best figure of each per scenario."""
    mine = str(Path(__file__).resolve().parent.parent / "src")
    best: dict[str, dict[str, float]] = {"base": {}, "this": {}}
    for r in range(rounds):
        order = (("base", base), ("this", mine)) if r % 2 == 0 else (("this", mine), ("base", base))
        for name, src in order:
            for sid, fig in _child(src, scenarios, n).items():
                best[name][sid] = min(best[name].get(sid, float("inf")), fig["us_per_verdict"])
        print(f"round {r + 1}/{rounds} done", flush=True)
    print(f"{'scenario':42} {'base':>8} {'this':>8} {'ratio':>6}")
    for sid in scenarios:
        b, t = best["base"][sid], best["this"][sid]
        print(f"{sid:42} {b:8.1f} {t:8.1f} {t / b:6.3f}")
    for what, pick in (("median", _median), ("worst", max)):
        b, t = pick(list(best["base"].values())), pick(list(best["this"].values()))
        print(f"{what:42} {b:8.1f} {t:8.1f} {t / b:6.3f}")
    print(json.dumps(best, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--scenario", action="append", help="only these scenarios (default: all)")
    parser.add_argument("--compare", metavar="SRC", help="another checkout's src directory to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of --compare")
    parser.add_argument("--calls", action="store_true", help="count calls per verdict (cProfile), not time")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scenarios = args.scenario or list(examples.discover())
    if args.compare:
        compare(args.compare, scenarios, args.n, args.rounds)
        return
    figs = figures(scenarios, args.n, quiet=args.json_only, count=args.calls)
    if args.calls and not args.json_only:
        values = [f["calls_per_verdict"] for f in figs.values()]
        print(
            f"median {_median(values):.1f}, worst {max(values):.1f} calls/verdict "
            f"over {len(values)} scenarios"
        )
    elif not args.json_only:
        values = [f["us_per_verdict"] for f in figs.values()]
        print(
            f"median {_median(values):.1f}, worst {max(values):.1f} us/verdict over {len(values)} scenarios"
        )
    print(json.dumps(figs, sort_keys=True))


if __name__ == "__main__":
    main()
