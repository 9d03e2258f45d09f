"""``crossbound check``: evaluate requests (and optionally their attestations) offline.

It reads the files ``publish`` reads, so a file can be checked before it is sent. Requests go through
one in-memory pipeline in file order, as one worker would see them; each attestation is matched to
its request by ``request_id``. A request with no attestation is reported at its request stage.
``--fingerprints`` names the data sources' registry records (``core/fingerprint`` in JSON form),
taken in first, in file order, so that requests of a fingerprint-mode scenario find them.

Exit codes: 0 evaluated; 1 with ``--fail-on`` when an outcome is at least that severe (a request
still waiting for its attestation counts with its outcome so far, which can only get worse); 2 when
the input is unusable (what the worker would dead-letter, a bad file, an unknown scenario).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from crossbound.cli.documents import Document, read_documents
from crossbound.cli.shared import Subparsers, add_paths_flags, settings_from_args
from crossbound.errors import InputError
from crossbound.settings import Settings

if TYPE_CHECKING:
    from crossbound.testing import Harness, Published

__all__ = ["FAIL_ON_EXIT", "add_parser", "check_documents", "fails", "run"]

FAIL_ON_EXIT: Final = 1
"""Exit code of ``check --fail-on`` when an outcome is at least as severe as asked."""

_SEVERITY: Final = {"ACCEPT": 0, "REVIEW": 1, "REJECT": 2}


def add_parser(sub: Subparsers) -> None:
    """The ``check`` subcommand."""
    p = sub.add_parser(
        "check",
        help="evaluate requests offline and print their verdicts as JSON",
        description="Evaluate every request in REQUESTS (the files publish reads: one JSON object, "
        "several, or JSON lines) and print each verdict, or its request-stage result when no "
        "attestation answers it. Exit 0 when evaluated; 1 with --fail-on when an outcome is at "
        "least that severe; 2 when the input is unusable.",
    )
    p.add_argument("request", metavar="REQUESTS", help="requests file, or - for standard input")
    p.add_argument("--scenario", help="scenario id every request must be for")
    p.add_argument("--attestation", type=Path, metavar="ATTESTATIONS", help="the data holders' answers")
    p.add_argument(
        "--fingerprints",
        type=Path,
        metavar="FINGERPRINTS",
        help="document fingerprints the data sources published, taken in before the requests",
    )
    p.add_argument("--now", help="evaluation time, RFC 3339 (default: now)")
    p.add_argument(
        "--fail-on",
        choices=["reject", "review"],
        help=f"exit {FAIL_ON_EXIT} when any outcome is REJECT (reject) or REVIEW or REJECT (review)",
    )
    p.add_argument("--json", action="store_true", help="print one compact JSON object per line")
    add_paths_flags(p)
    p.set_defaults(run=run)


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        now = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--now: not an RFC 3339 timestamp: {text!r}") from None
    if now.tzinfo is None:
        raise InputError("--now needs a time zone, e.g. 2026-11-24T09:00:00Z")
    return now


def _outcome(out: list[Published], where: str) -> dict[str, Any] | None:
    """The verdict among ``out``, None if there is none; InputError for a dead letter."""
    from crossbound.codec.jsonform import to_json

    for item in out:
        if item.topic.endswith(".deadletter"):
            rec = item.record
            raise InputError(f"{where}: the worker would dead-letter this: {rec['reason']}: {rec['detail']}")
        if item.topic.endswith(".verdicts"):
            return dict(to_json(item.record))
    return None


def _request_stage(harness: Harness, request: dict[str, Any]) -> dict[str, Any]:
    from crossbound.rules import Finding, Severity, outcome_of

    scenario = str(request["scenario_id"])
    parked = harness.codec.decode(harness.pending[str(request["request_id"]).encode()])[1]
    findings = parked["findings"]
    outcome = outcome_of(
        [Finding(f["rule_id"], Severity(f["severity"]), f["field"], f["code"]) for f in findings]
    ).value
    return {
        "request_id": request["request_id"],
        "scenario_id": scenario,
        "stage": "request",
        "awaiting_attestation": True,
        "outcome_so_far": outcome,
        "findings": findings,
        "ruleset_version": harness.catalogue.scenarios[scenario].version,
    }


def check_documents(
    settings: Settings,
    scenario: str | None,
    requests: list[Document],
    attestations: list[Document],
    now: datetime,
    *,
    names: tuple[str, str] = ("requests", "attestations"),
    fingerprints: tuple[str, list[Document]] = ("fingerprints", []),
) -> list[dict[str, Any]]:
    """One result per request, in order: its verdict, or its request-stage result.

    ``fingerprints`` (file name, records) are taken in first. Raises :class:`InputError` when an
    input cannot be evaluated (what the worker would dead-letter), naming the file (``names``) and line.
    """
    from crossbound.testing import Harness

    harness = Harness.from_dirs(
        settings.pipeline.schemas_dir, settings.pipeline.rulesets_dir, now=now.timestamp()
    )
    if scenario is not None and scenario not in harness.catalogue.scenarios:
        raise InputError(
            f"--scenario: unknown scenario {scenario!r}; known: {sorted(harness.catalogue.scenarios)}"
        )
    for doc in fingerprints[1]:
        where = f"{fingerprints[0]}: line {doc.line}"
        try:
            out = harness.send_fingerprint(doc.value)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        _outcome(out, where)  # a dead letter raises
    results: dict[str, dict[str, Any] | None] = {}
    for doc in requests:
        where = f"{names[0]}: line {doc.line}"
        if scenario is not None and doc.value.get("scenario_id") != scenario:
            raise InputError(f"{where}: scenario_id is {doc.value.get('scenario_id')!r}, not {scenario!r}")
        try:
            out = harness.send_request(doc.value)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        results[str(doc.value["request_id"])] = _outcome(out, where)
    for doc in attestations:
        if results.get(str(doc.value.get("request_id"))) is not None:
            continue  # decided at the request stage: the worker would not ask for an answer
        where = f"{names[1]}: line {doc.line}"
        try:
            out = harness.send_attestation(doc.value)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        verdict = _outcome(out, where)
        if verdict is not None:
            results[str(verdict["request_id"])] = verdict
    return [results[str(doc.value["request_id"])] or _request_stage(harness, doc.value) for doc in requests]


def fails(results: list[dict[str, Any]], fail_on: str | None) -> bool:
    """Whether any outcome (or outcome so far) is at least as severe as ``fail_on``."""
    if fail_on is None:
        return False
    floor = _SEVERITY[fail_on.upper()]
    return any(_SEVERITY[r.get("outcome") or r["outcome_so_far"]] >= floor for r in results)


def run(args: argparse.Namespace) -> int:
    """Run ``crossbound check``."""
    now = _now(args.now)
    settings = settings_from_args(args)
    requests = read_documents(args.request)
    attestations = [] if args.attestation is None else read_documents(args.attestation)
    names = (str(args.request), str(args.attestation))
    fingerprints = [] if args.fingerprints is None else read_documents(args.fingerprints)
    results = check_documents(
        settings,
        args.scenario,
        requests,
        attestations,
        now,
        names=names,
        fingerprints=(str(args.fingerprints), fingerprints),
    )
    for result in results:
        if args.json:
            print(json.dumps(result, sort_keys=True, ensure_ascii=False))
        else:
            print(json.dumps(result, indent=2, sort_keys=True))
    return FAIL_ON_EXIT if fails(results, args.fail_on) else 0
