"""The golden run: every output of a large seeded run and of every fixture, through the broker-free Harness.

Each output is one JSON line: the step that produced it, topic, key, partition, value and headers (bytes
as hex). The harness clock drives every timestamp, so the bytes are the same on every run and machine:
a change to the pipeline that changes any output byte shows up as a diff of ``tests/golden/*.jsonl.gz``.

Regenerate after an intended change of behaviour (and say why in the commit)::

    .venv/bin/python tests/unit/golden.py --write
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crossbound.pipeline.records import Outgoing
from crossbound.testing import Harness, Published
from crossbound.testing.traffic import Case, Traffic

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = ROOT / "examples"
NOW = 1_790_000_000.0
FIXTURE_NOW = 1_795_510_800.0  # 2026-11-24T09:00:00Z: the fixtures' time (`crossbound check --now`)
MIX = 5000
SEED = 7


def _line(step: str, p: Published | Outgoing) -> str:
    return json.dumps(
        {
            "step": step,
            "topic": p.topic,
            "key": None if p.key is None else p.key.hex(),
            "partition": p.partition,
            "value": None if p.value is None else p.value.hex(),
            "headers": [[k, v.hex()] for k, v in p.headers],
        },
        separators=(",", ":"),
    )


class _Recorder:
    """Every record the harness publishes, labelled with the step that produced it."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.lines: list[str] = []
        self._seen = 0
        self._seen_internal = 0

    def step(self, label: str) -> None:
        """Label what was published (and sent on the internal hop topic) since the last call."""
        h = self.h
        new, self._seen = h.published[self._seen :], len(h.published)
        hops, self._seen_internal = h.internal[self._seen_internal :], len(h.internal)
        self.lines += [_line(label, p) for p in hops] + [_line(label, p) for p in new]

    def tables(self) -> None:
        """The tables' final contents (what their changelogs would hold), sorted by key."""
        h = self.h
        tables = (("pending", h.pending), ("answered", h.answered), ("usage", h.usage))
        for name, table in (*tables, ("fingerprints", h.fingerprints)):
            for key in sorted(table):
                self.lines.append(
                    json.dumps(
                        {"table": name, "key": key.hex(), "sha256": hashlib.sha256(table[key]).hexdigest()},
                        separators=(",", ":"),
                    )
                )


def _send_case(h: Harness, rec: _Recorder, n: int, case: Case, *, answer: bool = True) -> None:
    label = f"{n}:{case.scenario_id}:{case.variant}"
    if case.raw is not None:
        h.send(h.topics.requests(case.requester_side.lower()), case.key, case.raw, partition=n % 3)
        rec.step(label)
        return
    assert case.request is not None
    h.send_request(case.request)
    rec.step(f"{label}:request")
    if case.attestation is not None and answer:
        h.send_attestation(case.attestation)
        rec.step(f"{label}:attestation")


def mix_run() -> list[str]:
    """A seeded mix of every scenario and variant, with redeliveries, late answers and timeouts."""
    h = Harness.from_dirs(now=NOW)
    rec = _Recorder(h)
    traffic = Traffic(seed=SEED, now=NOW)
    held: list[tuple[int, Case]] = []
    for n, case in enumerate(traffic.mix(MIX)):
        hold = case.attestation is not None and n % 5 == 0
        _send_case(h, rec, n, case, answer=not hold)
        if hold:
            held.append((n, case))  # answered later, out of order
        if n % 7 == 3 and case.request is not None:
            h.send_request(case.request)  # a redelivered request: the same answer again
            rec.step(f"{n}:redelivered")
        if n % 50 == 49:
            for m, late in reversed(held):
                assert late.attestation is not None
                h.send_attestation(late.attestation)
                rec.step(f"{m}:held-attestation")
            held.clear()
        if n % 500 == 499:
            h.advance(31.0)  # attestation timeouts fire, answered requests are forgotten
            rec.step(f"{n}:advance")
        else:
            h.now += 0.01
    for n, case in enumerate(traffic.payments_for_one_payer(40, amount="2600")):
        _send_case(h, rec, MIX + n, case)
    h.advance(3600.0)
    rec.step("end:advance")
    rec.tables()
    return rec.lines


def _beside(request_file: Path, kind: str) -> dict[str, Any] | None:
    """The fixture's ``<name>.<kind>.json`` (its attestation, or its registry record), if it has one."""
    path = request_file.with_name(request_file.name.replace(".request.", f".{kind}."))
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _fixture_cases() -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]]:
    for request_file in sorted(EXAMPLES.glob("*/*.request.json")):
        request = json.loads(request_file.read_text(encoding="utf-8"))
        name = f"{request_file.parent.name}/{request_file.name.split('.')[0]}"
        yield name, request, _beside(request_file, "attestation"), _beside(request_file, "fingerprint")


def fixtures_run() -> list[str]:
    """Every fixture under examples/, each in a fresh harness at the fixtures' evaluation time."""
    proto = Harness.from_dirs()
    lines: list[str] = []
    for name, request, attestation, fingerprint in _fixture_cases():
        h = Harness(proto.codec, proto.catalogue, now=FIXTURE_NOW)
        rec = _Recorder(h)
        if fingerprint is not None:  # the data source publishes before the request
            h.send_fingerprint(fingerprint)
            rec.step(f"{name}:fingerprint")
        h.send_request(request)
        rec.step(f"{name}:request")
        if attestation is not None:
            h.send_attestation(attestation)
            rec.step(f"{name}:attestation")
        h.advance(31.0)
        rec.step(f"{name}:advance")
        rec.tables()
        lines += rec.lines
    return lines


RUNS = {"mix": mix_run, "fixtures": fixtures_run}


def path(run: str) -> Path:
    return GOLDEN / f"{run}.jsonl.gz"


def read(run: str) -> list[str]:
    with gzip.open(path(run), "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def write(run: str, lines: list[str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    # mtime=0: the same lines give the same file bytes
    with path(run).open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite the golden files")
    args = parser.parse_args()
    for run, produce in RUNS.items():
        lines = produce()
        if args.write:
            write(run, lines)
        print(f"{run}: {len(lines)} outputs, {path(run).stat().st_size if path(run).exists() else 0} bytes")


if __name__ == "__main__":
    main()
