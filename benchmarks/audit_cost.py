"""CPU and bytes the audit adds per verdict: its entries (read back from the records, linked, encoded)
and its checkpoints.

For N attested requests of stateless scenarios (seeded traffic, as the Harness encodes it) the
pipeline handles the request and its attestation, then the audit makes the entries of what it
wrote (an attestation request on the attester's side, the verdict on the requester's: two entries
per verdict), each part timed apart. Process CPU time, best of three rounds; then the bytes of an
entry, and the cost of signing one checkpoint (36 heads). The last line is one JSON object.

    python benchmarks/audit_cost.py [--n N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from crossbound import __version__
from crossbound.audit import Auditor, Chains, Head, make_checkpoint
from crossbound.domain import Side
from crossbound.participants import load_registry
from crossbound.pipeline import Incoming, Outgoing
from crossbound.runtime.worker import scenario_sides
from crossbound.signing import platform_signer
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples
from crossbound.testing.encoding import encode_attestation
from crossbound.testing.participants import generate_registry
from crossbound.testing.traffic import Traffic

SCENARIOS = ("green_loan_project_eligibility", "tech_enterprise_credential")


def _inputs(h: Harness, n: int) -> list[tuple[Incoming, Incoming]]:
    traffic = Traffic(seed=5, now=h.now)
    pairs = []
    for i in range(n):
        case = traffic.case(SCENARIOS[i % 2], "valid")
        assert case.request is not None
        assert case.attestation is not None
        key, value = h.encode_request(case.request)
        topic, akey, avalue = encode_attestation(case.attestation, h.codec, h.catalogue, h.topics)
        req = Incoming(h.topics.requests("hk"), 0, i, key, value, None)
        pairs.append((req, Incoming(topic, 0, i, akey, avalue, None)))
    return pairs


def _round(pairs: list[tuple[Incoming, Incoming]]) -> tuple[float, float, list[Outgoing]]:
    """CPU seconds of the pipeline and of the audit over ``pairs``, and the entries."""
    h = Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp(), registry=CollectorRegistry())
    auditor = Auditor(h.codec, h.topics, Chains({}, 12), h.metrics, lambda: h.now)
    writer = auditor.chains.writer("in")
    entries: list[Outgoing] = []
    pipeline = audit = 0.0
    clock = time.process_time
    for req, att in pairs:
        for rec in (req, att):
            start = clock()
            outs = h.pipeline.handle(rec)
            middle = clock()
            entries += auditor.entries(writer, outs, rec, (rec.topic, rec.partition, rec.offset))
            end = clock()
            pipeline += middle - start
            audit += end - middle
    writer.persist()
    return pipeline, audit, entries


def _checkpoint_us(rounds: int = 200) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness.from_dirs()
        sides = scenario_sides(h.catalogue)
        generated = generate_registry(Path(tmp), sides)
        registry = load_registry(generated.path, sides)
        signer = platform_signer(generated.platform_key(Side.HK), registry, Side.HK)
        heads = {f"hk.{s}.{p}": Head(10**6, "ab" * 32) for s in ("in", "hop", "timer") for p in range(12)}
        start = time.process_time()
        for i in range(rounds):
            make_checkpoint(signer, Side.HK, heads, i)
        return (time.process_time() - start) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="attested requests per round (default 2000)")
    args = parser.parse_args()
    h = Harness.from_dirs(now=examples.FIXTURE_TIME.timestamp())
    pairs = _inputs(h, args.n)
    rounds = [_round(pairs) for _ in range(3)]
    plain = min(r[0] for r in rounds)
    audit = min(r[1] for r in rounds)
    entries = rounds[0][2]
    per_verdict = audit / args.n * 1e6
    entry_bytes = sum(len(e.value) + len(e.key or b"") for e in entries) / len(entries)
    checkpoint = _checkpoint_us()
    print(
        f"pipeline alone: {plain / args.n * 1e6:.1f} us of CPU per attested verdict (request + attestation)"
    )
    print(f"the audit adds {per_verdict:.1f} us per verdict ({audit / plain:.0%} of the pipeline's CPU)")
    print(f"  ({len(entries) / args.n:.0f} entries per verdict, {entry_bytes:.0f} bytes each with its key)")
    print(
        f"one signed checkpoint of 36 heads: {checkpoint:.0f} us "
        "(once per side per interval, 60 s by default)"
    )
    print(
        json.dumps(
            {
                "benchmark": "audit_cost",
                "version": __version__,
                "n": args.n,
                "pipeline_us_per_verdict": round(plain / args.n * 1e6, 1),
                "audit_us_per_verdict": round(per_verdict, 1),
                "audit_overhead": round(audit / plain, 3),
                "entries_per_verdict": len(entries) / args.n,
                "entry_bytes": round(entry_bytes),
                "checkpoint_us": round(checkpoint),
            }
        )
    )


if __name__ == "__main__":
    main()
