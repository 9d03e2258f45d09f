"""CPU cost of the declared forms per attested request: the input checks, the outgoing guard, the re-encode.

For each scenario's accept fixture (as the Harness encodes it): the request's envelope and payload
input checks (:func:`crossbound.pipeline.guard.refuse_input`), the guard on its attestation request and
on an ACCEPT verdict, and, for scale, the Avro encode of the payload that the attestation request now
carries re-encoded. Process CPU time, best of three rounds of N, so a loaded machine inflates it less
than wall time. The last line is one JSON object.

    python benchmarks/forms_cost.py [--n N] [--scenario ID ...]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crossbound import __version__
from crossbound.pipeline.guard import refuse_input
from crossbound.testing import Harness
from crossbound.testing import fixtures as examples


def _best(fn: Callable[[], object], n: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def measure(h: Harness, scenario: str, n: int) -> dict[str, float]:
    """Microseconds of CPU per request for each part."""
    ex = examples.load(scenario)
    fixture = ex.fixtures["accept"]
    request_json, attestation_json = fixture.request, fixture.attestation
    _, value = h.encode_request(request_json)
    request = h.codec.decode(value)[1]
    rs = h.catalogue.scenarios[scenario]
    payload = h.codec.decode(request["payload"])[1]
    registry, guard = h.codec.registry, h.pipeline.outputs.guard
    envelope, fields = registry.current("core/request").input_checks, registry.current(rs.request_subject)
    ask: dict[str, Any] = {k: request[k] for k in ("request_id", "requester_inst", "attester_inst")}
    ask |= {"scenario_id": scenario, "ruleset_version": rs.version, "hmac_key_id": request["hmac_key_id"]}
    ask |= {"nonce": request["nonce"], "consent_id": (request["consent"] or {}).get("consent_id")}
    attested = (
        {}
        if attestation_json is None
        else {
            n: "true"
            for n, c in registry.current(rs.attestation_subject).bands.items()
            if c.texts and "true" in c.texts
        }
    )
    verdict = {"request_id": request["request_id"], "scenario_id": scenario, "ruleset_version": rs.version}
    verdict |= {"findings": [], "attested": attested, "crossbound_version": __version__}
    verdict |= {"decided_at": datetime.now(UTC)}

    def inputs() -> None:
        refuse_input(envelope, request, None, scenario, payload=False)
        refuse_input(fields.input_checks, payload, None, scenario, payload=True)

    return {
        "input_checks_us": _best(inputs, n),
        "guard_attestation_request_us": _best(
            lambda: guard.attestation_request(ask, payload, rs.request_subject), n
        ),
        "guard_verdict_us": _best(lambda: guard.verdict(verdict, rs.attestation_subject), n),
        "payload_encode_us": _best(lambda: h.codec.encode(rs.request_subject, payload), n),
    }


def main() -> None:
    """Print the figures per scenario, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--scenario", action="append", help="only these scenarios (default: all)")
    args = parser.parse_args()
    h = Harness.from_dirs()
    scenarios = args.scenario or sorted(h.catalogue.scenarios)
    figures = {sc: measure(h, sc, args.n) for sc in scenarios}
    for sc, f in figures.items():
        print(f"{sc:44s} " + "  ".join(f"{k.removesuffix('_us')} {v:6.1f} us" for k, v in f.items()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
