"""A credit-report check by fingerprint lookup against the same check by live attestation, in CPU time.

N personal credit reports are checked twice through :class:`crossbound.testing.Harness`, without a
broker: in ``sb_personal_credit_report_fingerprint`` (the data source's registry record taken in
beforehand; the request answered at once, by lookup) and in ``sb_personal_credit_report`` (request,
attestation request, the data holder's attestation, verdict). Both run the same request rules and the
same stateful hops (C10 at the exporter, the 9,000-subject review), so the difference is the round
trip. Records are encoded before the clock starts; the registry records are taken in before it too and
timed apart. The live mode's wait for the data holder (seconds to days on the platform) is not in
these figures: what it adds is the holder's own latency. The last line is one JSON object::

    PYTHONPATH=src python benchmarks/fingerprint_lookup.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

NOW = 1_795_510_800.0  # 2026-11-24T09:00:00Z, the fixtures' time


def measure(n: int) -> dict[str, Any]:
    """Microseconds per request in each mode, and per registry record taken in."""
    from crossbound.testing import Harness
    from crossbound.testing import fixtures as examples
    from crossbound.testing.encoding import encode_attestation, encode_fingerprint, encode_request

    h = Harness.from_dirs(now=NOW)
    rng = random.Random(1)
    lookup, live, registry = [], [], []
    for _ in range(n):
        fixture = examples.load("sb_personal_credit_report_fingerprint").fixtures["accept"]
        request, record = examples.refresh_registered(fixture, rng, NOW)
        registry.append(encode_fingerprint(record, h.codec, h.topics))
        lookup.append(encode_request(request, h.codec, h.catalogue, h.topics))
        request, attestation = examples.refresh(
            examples.load("sb_personal_credit_report").fixtures["accept"], rng, NOW
        )
        assert attestation is not None
        live.append(
            (
                encode_request(request, h.codec, h.catalogue, h.topics),
                encode_attestation(attestation, h.codec, h.catalogue, h.topics),
            )
        )
    start = time.process_time()
    for topic, key, value in registry:
        h.send(topic, key, value)
    taken_in = time.process_time() - start
    start = time.process_time()
    for topic, key, value in lookup:
        h.send(topic, key, value)
    by_lookup = time.process_time() - start
    start = time.process_time()
    for (rtopic, rkey, rvalue), (atopic, akey, avalue) in live:
        h.send(rtopic, rkey, rvalue)
        h.send(atopic, akey, avalue)
    by_attestation = time.process_time() - start
    outcomes = [v["outcome"] for v in h.verdicts("hk")]
    assert outcomes == ["ACCEPT"] * (2 * n), "every request of the run is accepted"
    return {
        "requests_per_mode": n,
        "us_per_fingerprint_taken_in": round(taken_in / n * 1e6, 1),
        "us_per_request_by_lookup": round(by_lookup / n * 1e6, 1),
        "us_per_request_by_attestation": round(by_attestation / n * 1e6, 1),
        "registry_table_bytes": sum(len(v) for v in h.fingerprints.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="requests per mode (default 5000)")
    args = parser.parse_args()
    result = measure(args.n)
    print(
        f"{result['requests_per_mode']} personal credit reports per mode: "
        f"by fingerprint lookup {result['us_per_request_by_lookup']} us/request, "
        f"by live attestation {result['us_per_request_by_attestation']} us/request (request + attestation); "
        f"a registry record taken in {result['us_per_fingerprint_taken_in']} us; "
        f"registry table {result['registry_table_bytes']} bytes"
    )
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
