"""One hot key: time per request and the size of its ledger value as its requests of the day add up.

One payer at one bank sends N Payment Connect requests in one day (HKD 0.01 each, so every one is
accepted and counted), through :class:`crossbound.testing.Harness` (request, attestation, the
payer's ledger hop, verdict), without a broker. At each checkpoint the script prints the microseconds
per request since the previous checkpoint and the encoded size of the payer's ``quota_usage`` value
(what a hop decodes, re-encodes and writes to the changelog). Records are encoded before the clock
starts. The last line is one JSON object.

``--against DIR`` also runs the same measurement, in a child process, over another source tree (for
example ``git worktree add /tmp/main main`` or ``git archive main | tar -x -C /tmp/main``), and prints
both, so a change is measured before and after in one run on one machine::

    PYTHONPATH=src python benchmarks/ledger.py [--checkpoints 100,1000,10000] [--against /tmp/main]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NOW = 1_795_510_800.0  # 2026-11-24T09:00:00Z, 17:00 local: the day does not turn during a run


def measure(checkpoints: list[int]) -> list[dict[str, Any]]:
    """Per checkpoint: requests so far, microseconds per request since the last one, ledger bytes."""
    from crossbound.testing import Harness
    from crossbound.testing.encoding import encode_attestation, encode_request
    from crossbound.testing.traffic import Traffic

    h = Harness.from_dirs(now=NOW)
    cases = Traffic(seed=1, now=NOW).payments_for_one_payer(checkpoints[-1], amount="0.01")
    records = []
    for case in cases:
        assert case.request is not None
        assert case.attestation is not None
        records.append(
            (
                encode_request(case.request, h.codec, h.catalogue, h.topics),
                encode_attestation(case.attestation, h.codec, h.catalogue, h.topics),
            )
        )
    rows: list[dict[str, Any]] = []
    done, start = 0, time.perf_counter()
    for point in checkpoints:
        for request, attestation in records[done:point]:
            h.send(*request)
            h.send(*attestation)
        now = time.perf_counter()
        [value] = h.usage.values()  # one payer at one bank: one key
        rows.append(
            {
                "requests": point,
                "us_per_request": round((now - start) / (point - done) * 1e6, 1),
                "bytes": len(value),
            }
        )
        done, start = point, time.perf_counter()
    assert len(h.verdicts("hk")) == checkpoints[-1]
    return rows


def _child(src: Path, checkpoints: list[int]) -> list[dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=str(src / "src"))
    args = [sys.executable, __file__, "--child", "--checkpoints", ",".join(map(str, checkpoints))]
    out = subprocess.run(args, env=env, cwd=src, check=True, capture_output=True, text=True).stdout
    rows: list[dict[str, Any]] = json.loads(out.splitlines()[-1])
    return rows


def _print(label: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(
            f"{label:8} {row['requests']:7d} requests  {row['us_per_request']:9.1f} us/request  "
            f"ledger value {row['bytes']:9d} bytes",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default="100,1000,10000", help="comma-separated request counts")
    parser.add_argument("--against", type=Path, help="another source tree to measure too (e.g. main)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    if args.child:
        print(json.dumps(measure(checkpoints)))
        return
    figures: dict[str, list[dict[str, Any]]] = {}
    if args.against is not None:
        figures["against"] = _child(args.against.resolve(), checkpoints)
        _print("against", figures["against"])
    figures["this"] = measure(checkpoints)
    _print("this", figures["this"])
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
