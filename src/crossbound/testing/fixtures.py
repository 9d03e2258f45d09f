"""The scenarios' example fixtures, re-dated and re-keyed into fresh simulated cases.

Every scenario ships three fixtures under ``examples/<scenario>/``: ``accept``, ``review`` and ``reject``
(``<name>.request.json``, plus ``<name>.attestation.json`` when the data holder answers, or, in a
fingerprint-mode scenario, ``<name>.fingerprint.json``: the registry record published before it). Evaluated at
:data:`FIXTURE_TIME` (``crossbound check --now 2026-11-24T09:00:00Z``), each gives the outcome its name
says. :func:`refresh` turns a fixture into a new case for another moment ``now``:

- a fresh request id (the attestation repeats it) and a fresh nonce;
- every 64-hex value (class D digests and HMACs, ``consent.subject_ref_hmac``) replaced by a fresh one.
  Within one case the same old value always gets the same new value, so digests that matched still
  match and those that differed still differ. Across cases the values are all new, so stateful rules
  (limits, duplicate invoices, distinct counts) never see an earlier case's subject;
- RFC 3339 timestamps moved by ``now - FIXTURE_TIME``, and dates (``YYYY-MM-DD``) moved by the number
  of calendar days in Hong Kong / Shenzhen (UTC+8, as the rules count days) between the two moments,
  so a report 30 days old at the fixture's time is 30 days old ``now``.

All randomness comes from the caller's ``random.Random``, so a seeded caller gets the same ids and
digests whatever ``now`` is.
"""

from __future__ import annotations

import functools
import json
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from crossbound._data import default_examples_dir, default_rulesets_dir
from crossbound.domain import local_date
from crossbound.rules import Severity
from crossbound.rules.loader import read_header

__all__ = [
    "FIXTURE_NAMES",
    "FIXTURE_TIME",
    "Fixture",
    "ScenarioExamples",
    "by_fingerprint",
    "discover",
    "load",
    "refresh",
    "refresh_registered",
]

FIXTURE_TIME: Final = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FIXTURE_NAMES: Final[tuple[str, ...]] = ("accept", "review", "reject")

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_TIMEOUT_OUTCOME: Final = {Severity.REJECT: "REJECT", Severity.REVIEW: "REVIEW", Severity.WARN: "ACCEPT"}


@dataclass(frozen=True, slots=True)
class Fixture:
    """One fixture: a request in JSON form and the data holder's answer (None: it does not answer)."""

    name: str
    request: Mapping[str, Any]
    attestation: Mapping[str, Any] | None
    fingerprint: Mapping[str, Any] | None = None  # the registry record, in fingerprint mode


@dataclass(frozen=True, slots=True)
class ScenarioExamples:
    """A scenario's three fixtures, and what its rule set says about the sides and timeouts."""

    scenario_id: str
    requester_side: str
    attester_side: str
    timeout_outcome: str  # the verdict of a request whose attestation never comes
    fixtures: Mapping[str, Fixture]


def discover(examples_dir: Path | None = None, rulesets_dir: Path | None = None) -> tuple[str, ...]:
    """Ids of the scenarios with a rule set and all three request fixtures, sorted."""
    examples_dir = examples_dir or default_examples_dir()
    rulesets_dir = rulesets_dir or default_rulesets_dir()
    if not examples_dir.is_dir():
        return ()
    return tuple(
        sorted(
            d.name
            for d in examples_dir.iterdir()
            if (rulesets_dir / f"{d.name}.toml").is_file()
            and all((d / f"{name}.request.json").is_file() for name in FIXTURE_NAMES)
        )
    )


def by_fingerprint(scenario_id: str, rulesets_dir: Path | None = None) -> bool:
    """Whether the scenario's rule set is in fingerprint mode (its fixtures carry a ``.fingerprint.json``)."""
    path = (rulesets_dir or default_rulesets_dir()) / f"{scenario_id}.toml"
    return read_header(path).fingerprint is not None


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


@functools.cache
def load(
    scenario_id: str, examples_dir: Path | None = None, rulesets_dir: Path | None = None
) -> ScenarioExamples:
    """A scenario's fixtures (read once per process), with its rule file's sides and timeout verdict.

    Raises :class:`~crossbound.errors.RuleSetError` when the rule file's ``[scenario]`` header is broken.
    """
    folder = (examples_dir or default_examples_dir()) / scenario_id
    fixtures: dict[str, Fixture] = {}
    for name in FIXTURE_NAMES:
        request = _read_json(folder / f"{name}.request.json")
        answer, record = folder / f"{name}.attestation.json", folder / f"{name}.fingerprint.json"
        fixtures[name] = Fixture(
            name,
            request,
            _read_json(answer) if answer.is_file() else None,
            _read_json(record) if record.is_file() else None,
        )
    head = read_header((rulesets_dir or default_rulesets_dir()) / f"{scenario_id}.toml")
    accept = fixtures["accept"].request
    return ScenarioExamples(
        scenario_id=scenario_id,
        requester_side=str(accept["requester_side"]),
        attester_side=str(accept["attester_side"]),
        timeout_outcome=_TIMEOUT_OUTCOME[head.timeout_severity],
        fixtures=fixtures,
    )


class _Refresh:
    """Rewrites one case's documents: fresh 64-hex values, timestamps and dates moved to ``now``."""

    def __init__(self, rng: random.Random, now: float) -> None:
        self.rng = rng
        moment = datetime.fromtimestamp(now, UTC)
        self.shift = moment - FIXTURE_TIME
        self.days = timedelta(days=(local_date(moment) - local_date(FIXTURE_TIME)).days)
        self.hexes: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            return self._text(value)
        return value

    def _text(self, text: str) -> str:
        if _HEX64.fullmatch(text):
            new = self.hexes.get(text)
            if new is None:
                new = self.hexes[text] = f"{self.rng.getrandbits(256):064x}"
            return new
        if _DATE.fullmatch(text):
            try:
                return (date.fromisoformat(text) + self.days).isoformat()
            except (ValueError, OverflowError):
                return text
        if _TIMESTAMP.fullmatch(text):
            try:
                moved = datetime.fromisoformat(text) + self.shift
            except (ValueError, OverflowError):
                return text
            if text[-1] in "Zz":
                return moved.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            return moved.isoformat(timespec="milliseconds")
        return text


def refresh(fixture: Fixture, rng: random.Random, now: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A fresh copy of ``fixture``'s request and attestation for a case evaluated at ``now``.

    Draws, in this order, the request id, the nonce, then one value per distinct 64-hex string (request
    first, then attestation, in document order) from ``rng``.
    """
    request, attestation, _ = _refreshed(fixture, rng, now)
    return request, attestation


def refresh_registered(
    fixture: Fixture, rng: random.Random, now: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh copy of a fingerprint-mode ``fixture``'s request and registry record, as :func:`refresh`
    does (the record's digest and subject reference follow the request's)."""
    request, _, fingerprint = _refreshed(fixture, rng, now)
    if fingerprint is None:
        raise ValueError(f"fixture {fixture.name!r} has no fingerprint record")
    return request, fingerprint


def _refreshed(
    fixture: Fixture, rng: random.Random, now: float
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    nonce = f"{rng.getrandbits(128):032x}"
    rewrite = _Refresh(rng, now)
    request: dict[str, Any] = rewrite(fixture.request)
    request["request_id"] = request_id
    request["nonce"] = nonce
    attestation: dict[str, Any] | None = None
    if fixture.attestation is not None:
        attestation = rewrite(fixture.attestation)
        attestation["request_id"] = request_id
    fingerprint = None if fixture.fingerprint is None else rewrite(fixture.fingerprint)
    return request, attestation, fingerprint
