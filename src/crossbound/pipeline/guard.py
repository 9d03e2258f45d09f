"""Declared forms at both ends: inputs are refused when a field breaks its form, outputs are checked last.

On the way in, :func:`refuse_input` runs a decoded request's or attestation's checks (the envelope's
and the payload's, compiled once per schema by :mod:`crossbound.codec.forms`): a string that breaks its
form, or a band outside its range, dead-letters the record (``bad_form``, ``payload_bad_form``,
``payload_out_of_range``). A form is part of the record's schema, like its Avro type, and a record
that breaks its schema is a dead letter (``undecodable``, ``payload_undecodable``), not a rule finding.

On the way out, :class:`Guard` checks each record about to cross (an attestation request, a verdict)
once more against the same declarations, just before it is encoded: every declared string has its
form, digests (class D) are 64 hex, class B values are ones their field can take, nothing but the
attestation's class B fields is released, and no string whose form leaves room for it holds personal
data (:func:`crossbound.rules.pi.pi_code_in_code`, the scan C4 applies to codes). A record that
fails is not sent: the input that produced it
is dead-lettered (``outgoing_blocked``, its detail naming the field and the fault, never the value)
and ``crossbound_outgoing_blocked_total{record,reason}`` counts it. Dead letters stay on the side their
record came from and never cross, so they are not guarded.

Both ends run each schema's tests as one generated function (:mod:`crossbound.pipeline.formcode`),
built once: the same tests in the same order as the declarations, at a fraction of a generic walk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crossbound.codec import SchemaRegistry
from crossbound.codec.forms import FORMS, FieldCheck
from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.pipeline.decoding import DeadLetter
from crossbound.pipeline.formcode import Fault, Test, compile_faults
from crossbound.rules.pi import pi_code_in_code

__all__ = ["Guard", "refuse_input"]

_DIGEST = FORMS["digest"]


def _input_tests(chk: FieldCheck) -> list[Test]:
    """An input's tests of one field: its form (a plain path with a form: only that), then its range."""
    tests: list[Test] = []
    if chk.form is not None:
        tests.append(("form", chk.form.pattern.fullmatch))
    if chk.range is not None and not (chk.simple and chk.form is not None):
        tests.append(("range", chk.range))
    return tests


# the input checks of each schema, generated on first use; keyed by the checks tuple's identity,
# which lives as long as its registry (the tuple is kept here too, so the id is never reused)
_INPUTS: dict[int, tuple[Sequence[FieldCheck], Fault]] = {}


def _input_fault(checks: Sequence[FieldCheck]) -> Fault:
    found = _INPUTS.get(id(checks))
    if found is None or found[0] is not checks:
        found = checks, compile_faults([(c, _input_tests(c)) for c in checks])
        _INPUTS[id(checks)] = found
    return found[1]


def refuse_input(
    checks: Sequence[FieldCheck],
    record: Mapping[str, Any],
    request_id: str | None,
    scenario: str | None,
    *,
    payload: bool,
) -> None:
    """Raise a :class:`DeadLetter` when a field of a decoded input breaks its declared form or range.

    ``checks`` are a schema's :attr:`~crossbound.codec.SchemaVersion.input_checks`.
    """
    found = _input_fault(checks)(record)
    if found is None:
        return
    chk, fault = checks[found[0]], found[1]
    if not payload:  # the envelope declares forms only
        reason = DeadLetterReason.BAD_FORM
    elif fault == "range":
        reason = DeadLetterReason.PAYLOAD_OUT_OF_RANGE
    else:
        reason = DeadLetterReason.PAYLOAD_BAD_FORM
    where = f"payload field {chk.where!r}" if payload else f"field {chk.where!r}"
    if chk.where == "request_id":  # a free text where the id should be is not repeated anywhere
        request_id = None
    if chk.where == "scenario_id":
        scenario = None
    raise DeadLetter(reason, f"{where} breaks its {chk.expected}", request_id, scenario)


def _guard_tests(chk: FieldCheck) -> list[Test]:
    """What the guard tests per field: form, range, a digest's form for class D, a scan or not."""
    tests: list[Test] = []
    if chk.form is not None:
        tests.append(("form", chk.form.pattern.fullmatch))
    if chk.range is not None:
        tests.append(("range", chk.range))
    digest = _DIGEST if chk.cls == "D" and chk.form is None else None
    if digest is not None:
        tests.append(("digest", digest.pattern.fullmatch))
    form = chk.form or digest
    if form is not None and form.scan and chk.kind is None:
        tests.append(("pi", pi_code_in_code))
    return tests


class _Plan:
    """One schema's outgoing checks, generated once."""

    __slots__ = ("checks", "fault")

    def __init__(self, checks: Sequence[FieldCheck]) -> None:
        self.checks = checks
        self.fault = compile_faults([(c, _guard_tests(c)) for c in checks])


class Guard:
    """The last check of what crosses, planned per schema once, at start-up."""

    def __init__(self, registry: SchemaRegistry, metrics: Metrics) -> None:
        self.metrics = metrics
        self.plans = {s: _Plan(registry.current(s).checks) for s in registry.subjects}
        self.bands = {s: registry.current(s).bands for s in registry.subjects}

    def attestation_request(
        self, record: Mapping[str, Any], payload: Mapping[str, Any], payload_subject: str
    ) -> None:
        """Refuse an attestation request whose envelope or payload (the request's) breaks its declarations."""
        fault = self._fault(self.plans["core/attestation_request"], record, "")
        if fault is None:
            fault = self._fault(self.plans[payload_subject], payload, "payload.")
        if fault is not None:
            self._block("attestation_request", record, *fault)

    def verdict(self, record: Mapping[str, Any], attestation_subject: str) -> None:
        """Refuse a verdict that breaks its schema's forms or releases more than class B values."""
        fault: tuple[str, str] | None = None
        bands = self.bands[attestation_subject]
        for name, text in record["attested"].items():
            band = bands.get(name)
            if band is None:  # not a class B field: its name is not repeated, it could be anything
                fault = "attested", "class"
                break
            if not band.releases(text):
                fault = f"attested.{name}", "range"
                break
        if fault is None:
            fault = self._fault(self.plans["core/verdict"], record, "")
        if fault is not None:
            self._block("verdict", record, *fault)

    @staticmethod
    def _fault(plan: _Plan, record: Mapping[str, Any], prefix: str) -> tuple[str, str] | None:
        found = plan.fault(record)
        return None if found is None else (prefix + plan.checks[found[0]].where, found[1])

    def _block(self, record_name: str, record: Mapping[str, Any], where: str, reason: str) -> None:
        self.metrics.outgoing_blocked(record_name, reason)
        raise DeadLetter(
            DeadLetterReason.OUTGOING_BLOCKED,
            f"{record_name.replace('_', ' ')} not sent: field {where!r} fails the outgoing check ({reason})",
            record.get("request_id"),
            record.get("scenario_id"),
        )
