"""``crossbound check``: evaluate one request (and optionally its attestation) offline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from crossbound.codec.jsonform import to_json
from crossbound.domain import Side
from crossbound.errors import InputError
from crossbound.rules import Finding, Severity, outcome_of
from crossbound.settings import Settings
from crossbound.testing import Harness

__all__ = ["check_request"]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None


def check_request(
    settings: Settings, scenario: str, request_path: Path, attestation_path: Path | None, now: datetime
) -> dict[str, Any]:
    """The verdict for a request, or its request-stage result when no attestation is given.

    Raises :class:`InputError` when the input cannot be evaluated (what the worker would dead-letter).
    """
    harness = Harness.from_dirs(
        settings.pipeline.schemas_dir, settings.pipeline.rulesets_dir, now=now.timestamp()
    )
    request = _read_json(request_path)
    if not isinstance(request, dict):
        raise InputError(f"{request_path}: a request must be a JSON object")
    if scenario not in harness.catalogue.scenarios:
        raise InputError(
            f"--scenario: unknown scenario {scenario!r}; known: {sorted(harness.catalogue.scenarios)}"
        )
    if request.get("scenario_id") != scenario:
        raise InputError(f"{request_path}: scenario_id is {request.get('scenario_id')!r}, not {scenario!r}")
    try:
        out = harness.send_request(request)
    except InputError as exc:
        raise InputError(f"{request_path}: {exc}") from None
    if attestation_path is not None and not harness.verdicts(Side(request["requester_side"]).topic):
        attestation = _read_json(attestation_path)
        try:
            out = harness.send_attestation(attestation)
        except InputError as exc:
            raise InputError(f"{attestation_path}: {exc}") from None
    for item in out:
        if item.topic.endswith(".deadletter"):
            rec = item.record
            raise InputError(f"the worker would dead-letter this: {rec['reason']}: {rec['detail']}")
        if item.topic.endswith(".verdicts"):
            return dict(to_json(item.record))
    # parked: no attestation supplied; report the request stage alone
    key = str(request["request_id"]).encode()
    parked = harness.codec.decode(harness.pending[key])[1]
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
