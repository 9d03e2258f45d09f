"""What a signature costs per message: signing, verifying, and an attested request through the Harness.

Three figures, each the median of ``--rounds`` rounds of ``--n`` messages, on realistic bytes (the
encoded requests of ``--scenario``, about 1 KB):

* ``sign_us``: :meth:`crossbound.signing.Signer.headers` (the signed bytes built, Ed25519 signed, the
  header formatted), what the worker does for each verdict and attestation request;
* ``verify_us``: :meth:`crossbound.signing.Verifier.verify` of a good signature (header parsed,
  registry lookup, Ed25519 verified, times checked), what the worker does for each input;
* ``harness_us`` with and without signatures: one attested request (request, attestation, verdict)
  through :class:`crossbound.testing.Harness`, so ``delta_us`` is what signatures add to the worker's
  work per request (two verifies, two authorisations, two signatures), without Faust or a broker;
  the records are encoded and signed (as their institutions would) before the clock starts.

``raw_sign_us`` and ``raw_verify_us`` are ``cryptography``'s Ed25519 alone on the same bytes, for
comparison (the machine's speed, and what crossbound adds around it).

The last line is one JSON object::

    PYTHONPATH=src python benchmarks/signing.py [--n 2000] [--rounds 5] [--scenario ID]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = 1_790_000_000.0


def _median_us(rounds: int, n: int, run: Any, setup: Any = None) -> float:
    """The median over ``rounds`` of ``run(setup())``'s time per message (``setup`` not timed)."""
    times = []
    for _ in range(rounds):
        state = None if setup is None else setup()
        start = time.perf_counter()
        run() if setup is None else run(state)
        times.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(times)


def measure(n: int, rounds: int, scenario: str) -> dict[str, Any]:
    """The figures, as the module docstring describes them."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crossbound.domain import Side
    from crossbound.participants import load_registry
    from crossbound.runtime.worker import scenario_sides
    from crossbound.signing import Binding, RecordKind, Verified, Verifier
    from crossbound.testing import Harness, Traffic
    from crossbound.testing.encoding import encode_attestation, encode_request
    from crossbound.testing.participants import generate_registry

    plain = Harness.from_dirs(now=NOW)
    sides = scenario_sides(plain.catalogue)
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate_registry(Path(tmp) / "reg", sides, now=datetime.fromtimestamp(NOW, UTC))
        registry = load_registry(generated.path, sides)
        keyring = generated.keyring(registry)
        platform = generated.platform_signers(registry)
    cases = [Traffic(seed=i, now=NOW).case(scenario, "valid") for i in range(n)]
    encoded = [plain.encode_request(c.request or {}) for c in cases]
    now_ms = int(NOW * 1000)
    signer = platform["hk"]
    bindings = [Binding(Side.HK, RecordKind.REQUEST, key) for key, _ in encoded]
    signed = [keyring.headers(plain.codec, key, value, now_ms) for key, value in encoded]
    verifier = Verifier(registry)

    def sign() -> None:
        for (_, value), binding in zip(encoded, bindings, strict=True):
            signer.headers(value, binding, now_ms)

    def verify() -> None:
        for (_, value), binding, headers in zip(encoded, bindings, signed, strict=True):
            assert isinstance(verifier.verify(value, headers, binding, now_ms), Verified)

    key = Ed25519PrivateKey.generate()  # the baseline: Ed25519 without crossbound around it
    public = key.public_key()
    sigs = [key.sign(value) for _, value in encoded]

    def raw_sign() -> None:
        for _, value in encoded:
            key.sign(value)

    def raw_verify() -> None:
        for (_, value), sig in zip(encoded, sigs, strict=True):
            public.verify(sig, value)

    records = []  # (topic, key, value, headers) of each request and its attestation, signed
    for case in cases:
        for rec in (
            encode_request(case.request or {}, plain.codec, plain.catalogue, plain.topics),
            encode_attestation(case.attestation or {}, plain.codec, plain.catalogue, plain.topics),
        ):
            records.append((*rec, keyring.headers(plain.codec, rec[1], rec[2], now_ms)))

    def harness(signatures: bool) -> Any:
        kwargs: dict[str, Any] = {"participants": registry, "signers": platform} if signatures else {}
        return lambda: Harness.from_dirs(now=NOW, **kwargs)  # schemas and rule sets: not timed

    def through(signatures: bool) -> Any:
        def run(h: Harness) -> None:
            for topic, k, value, headers in records:
                assert h.send(topic, k, value, headers=headers if signatures else ())

        return run

    return {
        "n": n,
        "rounds": rounds,
        "scenario": scenario,
        "value_bytes": round(statistics.mean(len(v) for _, v in encoded)),
        "sign_us": round(_median_us(rounds, n, sign), 1),
        "verify_us": round(_median_us(rounds, n, verify), 1),
        "raw_sign_us": round(_median_us(rounds, n, raw_sign), 1),
        "raw_verify_us": round(_median_us(rounds, n, raw_verify), 1),
        "harness_us": round(_median_us(rounds, n, through(False), harness(False)), 1),
        "harness_signed_us": round(_median_us(rounds, n, through(True), harness(True)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", default="sb_corporate_credit_report")
    args = parser.parse_args()
    figures = measure(args.n, args.rounds, args.scenario)
    figures["delta_us"] = round(figures["harness_signed_us"] - figures["harness_us"], 1)
    print(f"requests of {figures['scenario']}, {figures['value_bytes']} bytes on average, n={args.n}")
    print(f"sign (Signer.headers):              {figures['sign_us']:8.1f} us per message")
    print(f"verify (Verifier.verify):           {figures['verify_us']:8.1f} us per message")
    print(
        f"cryptography alone: sign {figures['raw_sign_us']:.1f} us, verify {figures['raw_verify_us']:.1f} us"
    )
    print(f"attested request, Harness, unsigned: {figures['harness_us']:8.1f} us")
    print(f"attested request, Harness, signed:   {figures['harness_signed_us']:8.1f} us")
    print(f"what signatures add per request:     {figures['delta_us']:8.1f} us")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
