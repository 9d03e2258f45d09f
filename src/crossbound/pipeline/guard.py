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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crossbound.codec import SchemaRegistry
from crossbound.codec.forms import FORMS, FieldCheck
from crossbound.domain import DeadLetterReason
from crossbound.metrics import Metrics
from crossbound.pipeline.decoding import DeadLetter
from crossbound.rules.pi import pi_code_in_code

__all__ = ["Guard", "refuse_input"]

_DIGEST = FORMS["digest"]


def _first_fault(checks: Sequence[FieldCheck], record: Mapping[str, Any]) -> tuple[FieldCheck, str] | None:
    """The first check a value fails; a plain string field's form is tested inline (the hot path)."""
    for chk in checks:
        form = chk.form
        if chk.simple and form is not None:
            value: Any = record
            for step in chk.path:
                value = value.get(step) if isinstance(value, dict) else None
                if value is None:
                    break
            if value is None or (type(value) is str and form.pattern.fullmatch(value) is not None):
                continue
            return chk, "form"
        for value in chk.values(record):
            fault = chk.fault(value)
            if fault is not None:
                return chk, fault
    return None


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
    found = _first_fault(checks, record)
    if found is None:
        return
    chk, fault = found
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


# per check: the check, its path when plain (field names only, else None), its form's and range's
# tests, a digest form's test for class D fields without a form, and whether the value is scanned
Step = tuple[FieldCheck, "tuple[str, ...] | None", Any, "tuple[int, int] | None", Any, bool]
Plan = tuple[Step, ...]


def _plan(checks: Sequence[FieldCheck]) -> Plan:
    """What the guard tests per field, resolved once: a digest's form, a scan or not, the matchers."""
    plan = []
    for chk in checks:
        digest = _DIGEST if chk.cls == "D" and chk.form is None else None
        form = chk.form or digest
        scan = form is not None and form.scan and chk.kind is None
        plan.append(
            (
                chk,
                chk.path if chk.simple else None,
                None if chk.form is None else chk.form.pattern.fullmatch,
                chk.range,
                None if digest is None else digest.pattern.fullmatch,
                scan,
            )
        )
    return tuple(plan)


def _step_fault(step: Step, value: Any) -> str | None:
    """One value against one step: ``form`` (its form or a digest's), ``range``, ``pi``, or None."""
    _, _, form, rng, digest, scan = step
    if form is not None and (type(value) is not str or form(value) is None):
        return "form"
    if rng is not None and (type(value) is not int or not rng[0] <= value <= rng[1]):
        return "range"
    if digest is not None and digest(value) is None:
        return "form"
    if scan and pi_code_in_code(value) is not None:
        return "pi"
    return None


class Guard:
    """The last check of what crosses, planned per schema once, at start-up."""

    def __init__(self, registry: SchemaRegistry, metrics: Metrics) -> None:
        self.metrics = metrics
        self.plans = {s: _plan(registry.current(s).checks) for s in registry.subjects}
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
    def _fault(plan: Plan, record: Mapping[str, Any], prefix: str) -> tuple[str, str] | None:
        for step in plan:
            path = step[1]
            if path is None:
                values: Sequence[Any] = step[0].values(record)
            else:  # a plain path, read inline: FieldCheck.values, without the call
                value: Any = record
                for name in path:
                    value = value.get(name) if isinstance(value, dict) else None
                    if value is None:
                        break
                if value is None:
                    continue
                values = (value,)
            for value in values:
                fault = _step_fault(step, value)
                if fault is not None:
                    return prefix + step[0].where, fault
        return None

    def _block(self, record_name: str, record: Mapping[str, Any], where: str, reason: str) -> None:
        self.metrics.outgoing_blocked(record_name, reason)
        raise DeadLetter(
            DeadLetterReason.OUTGOING_BLOCKED,
            f"{record_name.replace('_', ' ')} not sent: field {where!r} fails the outgoing check ({reason})",
            record.get("request_id"),
            record.get("scenario_id"),
        )
