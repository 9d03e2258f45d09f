"""Per-verdict cost of the pipeline's own work, per scenario, without a broker or Faust.

Each scenario's accept fixture (refreshed: new ids, digests, times) goes through the pipeline via
:class:`crossbound.testing.Harness` (request, attestation, stateful hops, verdict encoding), N times; the
script prints the microseconds per verdict and the number of rules the scenario runs, so the cost of a
bigger rule set is visible next to its size. The last line is one JSON object.

    python benchmarks/rules_cost.py [--n N] [--scenario ID ...]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from crossbound.testing import Harness
from crossbound.testing import fixtures as examples


def measure(proto: Harness, scenario: str, n: int) -> float:
    """Microseconds of pipeline work per verdict, best of three rounds of ``n``."""
    ex = examples.load(scenario)
    best = float("inf")
    for round_ in range(3):
        rng = random.Random(round_)
        h = Harness(proto.codec, proto.catalogue, now=proto.now)
        cases = [examples.refresh(ex.fixtures["accept"], rng, h.now) for _ in range(n)]
        start = time.perf_counter()
        for request, attestation in cases:
            h.send_request(request)
            if attestation is not None:
                h.send_attestation(attestation)
        elapsed = time.perf_counter() - start
        assert len(h.verdicts(ex.requester_side.lower())) == n
        best = min(best, elapsed / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--scenario", action="append", help="only these scenarios (default: all)")
    args = parser.parse_args()
    proto = Harness.from_dirs(now=time.time())
    scenarios = args.scenario or list(examples.discover())
    figures: dict[str, dict[str, float]] = {}
    for sid in scenarios:
        us = measure(proto, sid, args.n)
        rules = len(proto.catalogue.scenarios[sid].rules)
        figures[sid] = {"us_per_verdict": round(us, 1), "rules": rules}
        print(f"{sid:42} {rules:3d} rules  {us:7.1f} us/verdict", flush=True)
    values = [f["us_per_verdict"] for f in figures.values()]
    print(f"median {sorted(values)[len(values) // 2]:.1f} us/verdict over {len(values)} scenarios")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
