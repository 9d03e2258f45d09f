"""Prometheus metrics of the crossbound worker, held in one container built from an injected registry.

Nothing here touches ``prometheus_client.REGISTRY`` and nothing registers at import time: the worker
builds ``Metrics(CollectorRegistry())`` once at start-up and hands it down; every test builds its own.

Metrics (all label values are short, bounded codes)::

    metric                                 type       labels                     meaning
    crossbound_records_total               counter    side, kind                 records consumed
    crossbound_requests_total              counter    side, scenario             requests decoded and
                                                                                 accepted for evaluation
    crossbound_verdicts_total              counter    side, scenario, outcome    verdicts emitted; side is
                                                                                 the requesting side
    crossbound_findings_total              counter    scenario, rule, severity   rule findings in verdicts
    crossbound_rule_errors_total           counter    scenario, rule             a rule raised instead of
                                                                                 passing or failing
    crossbound_dead_letters_total          counter    side, reason               dead-lettered records
    crossbound_attestation_requests_total  counter    side, scenario             attestation requests sent;
                                                                                 side = attesting side
    crossbound_verdict_latency_seconds     histogram  side, scenario             created_at -> verdict out,
                                                                                 incl. the attestation wait
    crossbound_pending_attestations        gauge      scenario                   requests parked waiting for
                                                                                 an attestation (sweep)
    crossbound_ready                       gauge      (none)                     1 when partitions are
                                                                                 assigned and tables recovered
    crossbound_rebalances_total            counter    (none)                     rebalances gone through
    crossbound_unreadable_total            counter    where                      own records (table entry,
                                                                                 hop record) that did not
                                                                                 decode: dropped
    crossbound_broker_reset_total          counter    what                       the broker lost this
                                                                                 worker's state (cluster_id,
                                                                                 topics, changelogs, offsets)
    crossbound_broker_reset_found          gauge      (none)                     1 once such a reset was
                                                                                 found (the worker exits)
    crossbound_outgoing_blocked_total      counter    record, reason             records not sent by the
                                                                                 outgoing guard
    crossbound_signature_refused_total     counter    side, reason               inputs the signature check
                                                                                 refused (dead-lettered)
    crossbound_fingerprints_total          counter    side, result               registry records taken
                                                                                 in: stored (new or
                                                                                 superseding) or repeat
    crossbound_pruned_total                counter    table                      table entries the sweep
                                                                                 removed past their window
                                                                                 or retention
    crossbound_build_info                  gauge = 1  version                    running version
    crossbound_ruleset_info                gauge = 1  scenario, version, digest  loaded rule set; digest =
                                                                                 sha256 prefix of its file

Latency buckets (seconds): 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 120 300 +Inf.

Label values:

* ``side``: ``hk`` or ``sz``.
* ``result`` (of ``crossbound_fingerprints_total``): ``stored`` or ``repeat``.
* ``kind``: ``request``, ``attestation`` or ``fingerprint`` (a record of a registry topic).
* ``where``: ``pending``, ``answered``, ``usage`` or ``fingerprints`` (an entry of that table), or
  ``quota`` (a record on the hop topic).
* ``what``: ``cluster_id``, ``topics``, ``changelogs`` or ``offsets`` (see
  :mod:`crossbound.runtime.resets`).
* ``record``: ``attestation_request`` or ``verdict``; with ``reason`` (of the outgoing guard) ``form``,
  ``range``, ``class`` or ``pi``.
* ``table``: ``pending``, ``answered`` or ``usage``.
* ``reason`` of ``crossbound_signature_refused_total``: ``unsigned``, ``unknown_signer``,
  ``bad_signature``, ``key_expired``, ``not_authorised`` or ``wrong_attester``.
* ``outcome``: ``ACCEPT``, ``REVIEW`` or ``REJECT``.
* ``severity``: ``reject``, ``review`` or ``warn``.
* ``reason``: a short machine code such as ``undecodable``, ``unknown_schema``, ``too_large``, ``bad_key``,
  ``duplicate_request``, ``orphan_attestation`` or ``internal_error`` (lower case, digits and ``_``).
* ``scenario`` and ``rule``: identifiers from the loaded rule sets, so bounded by them.

Never put request ids, keys, customer ids or any record value in a label.

The HTTP server that exposes a registry (``/metrics``, ``/healthz``, ``/readyz``) is
:func:`crossbound.metrics_server.serve_metrics`.

Hot path: the per-message methods (``record``, ``request``, ``verdict``, ``finding``, ``rule_error``,
``dead_letter``, ``attestation_request``) cache the labelled child of each metric in a dict keyed by the
label values, so a call costs one dict lookup plus ``inc()``/``observe()``. Label values are checked only
on a cache miss, the first time each combination is seen; an unknown ``side``, ``kind``, ``outcome`` or
``severity`` raises :class:`ValueError` there, which keeps the series count bounded.

The caches are plain dicts: safe from one asyncio event loop (how Faust runs agents). The metric children
themselves are thread-safe, so the HTTP exposition thread may read them at any time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from crossbound.metrics.labels import (
    AUDIT_RECORDS,
    BLOCKED_REASONS,
    BLOCKED_RECORDS,
    DEAD_LETTER_REASON_PATTERN,
    FINDING_SEVERITIES,
    FINGERPRINT_RESULTS,
    KINDS,
    LATENCY_BUCKETS,
    OUTCOMES,
    OUTPUT_FAILURES,
    OUTPUT_RECORDS,
    RESET_WHAT,
    SIDES,
    SIGNATURE_REFUSALS,
    TABLES,
    UNREADABLE_WHERE,
    check_member,
    check_name,
)

__all__ = ["Metrics"]


# Every metric family: its type, the attribute that holds it (its name without the "crossbound_"
# prefix), its help text and label names, in the order they are registered (and exposed).
_FAMILIES: Final[tuple[tuple[type[Counter | Gauge | Histogram], str, str, tuple[str, ...]], ...]] = (
    (Counter, "records_total", "Records consumed, by side and kind.", ("side", "kind")),
    (Counter, "requests_total", "Requests decoded and accepted for evaluation.", ("side", "scenario")),
    (
        Counter,
        "verdicts_total",
        "Verdicts emitted; side is the requesting side the verdict goes to.",
        ("side", "scenario", "outcome"),
    ),
    (Counter, "findings_total", "Rule findings reported in verdicts.", ("scenario", "rule", "severity")),
    (Counter, "rule_errors_total", "Rules that raised instead of passing or failing.", ("scenario", "rule")),
    (
        Counter,
        "dead_letters_total",
        "Records sent to a dead-letter topic, by short reason code.",
        ("side", "reason"),
    ),
    (
        Counter,
        "attestation_requests_total",
        "Attestation requests sent; side is the attesting side they were sent to.",
        ("side", "scenario"),
    ),
    (
        Histogram,
        "verdict_latency_seconds",
        "Seconds from a request's created_at to its verdict being emitted "
        "(includes waiting for the other side's attestation).",
        ("side", "scenario"),
    ),
    (
        Gauge,
        "pending_attestations",
        "Requests parked waiting for an attestation, set by the periodic sweep.",
        ("scenario",),
    ),
    (Gauge, "build_info", "Always 1; the version label is the running crossbound version.", ("version",)),
    (
        Gauge,
        "ruleset_info",
        "Always 1; the loaded rule set of each scenario and a sha256 prefix of its file.",
        ("scenario", "version", "digest"),
    ),
    (
        Gauge,
        "ready",
        "1 when the worker has its partitions and recovered its tables, 0 while rebalancing.",
        (),
    ),
    (
        Counter,
        "rebalances_total",
        "Consumer-group rebalances this worker went through (each revokes then reassigns partitions).",
        (),
    ),
    (
        Counter,
        "unreadable_total",
        "Records the pipeline wrote itself that no longer decode, by where they were met (pending, "
        "answered, usage: a table entry; quota: a hop record): dropped, so no later record of "
        "their key meets them again.",
        ("where",),
    ),
    (
        Counter,
        "broker_reset_total",
        "The broker lost this worker's state, by the evidence found (cluster_id, topics, "
        "changelogs, offsets); the worker then exits to be restarted.",
        ("what",),
    ),
    (
        Gauge,
        "broker_reset_found",
        "1 once the worker found that its broker lost its state; it stays not ready and exits.",
        (),
    ),
    (
        Counter,
        "outgoing_blocked_total",
        "Records about to cross that the outgoing guard did not send (a field outside its declared "
        "form, range or class, or personal data in clear); their input was dead-lettered.",
        ("record", "reason"),
    ),
    (
        Counter,
        "outputs_failed_total",
        "Records the worker did not write, by record and why: too_large (over the size budget of "
        "its topic, checked before sending), refused (the producer or broker refused it); their "
        "input was dead-lettered instead. lost: a dead letter that could not be sent either.",
        ("record", "reason"),
    ),
    (
        Counter,
        "signature_refused_total",
        "Requests and attestations the signature check refused (dead-lettered with the same "
        "reason), by side and reason.",
        ("side", "reason"),
    ),
    (
        Counter,
        "fingerprints_total",
        "Registry records taken into the fingerprints table, by the side of their registry topic and "
        "result: stored (a new digest, or a higher sequence superseding the one held) or repeat (the "
        "record held, again: a redelivery). Refused ones are dead letters.",
        ("side", "result"),
    ),
    (
        Counter,
        "pruned_total",
        "Table entries the sweep removed because their window or retention had passed (pending: "
        "answered but still parked; answered: past expires_at plus the dedupe retention; usage: no "
        "current window left), by table.",
        ("table",),
    ),
    (
        Counter,
        "audit_records_total",
        "Records written to the audit topics, by side of the audit topic and type: entry (one "
        "decision, hash-chained), checkpoint (the side's chain heads, signed), anchor (the other "
        "side's checkpoint, kept here).",
        ("side", "type"),
    ),
)


class Metrics:
    """Every crossbound metric, registered on the given registry, with cached label children.

    Args:
        registry: where the metrics are registered. Two ``Metrics`` on two registries are independent;
            two on the same registry raise ``ValueError`` (duplicated timeseries).

    The metric families are public attributes named after their metric without the ``crossbound_``
    prefix (``records_total``, ``verdict_latency_seconds``, ``pending_attestations``, ...) for the rare
    caller that needs them; per-message code uses the methods.
    """

    registry: Final[CollectorRegistry]
    records_total: Counter
    requests_total: Counter
    verdicts_total: Counter
    findings_total: Counter
    rule_errors_total: Counter
    dead_letters_total: Counter
    attestation_requests_total: Counter
    verdict_latency_seconds: Histogram
    pending_attestations: Gauge
    build_info: Gauge
    ruleset_info: Gauge
    ready: Gauge
    rebalances_total: Counter
    unreadable_total: Counter
    broker_reset_total: Counter
    broker_reset_found: Gauge
    outgoing_blocked_total: Counter
    outputs_failed_total: Counter
    signature_refused_total: Counter
    fingerprints_total: Counter
    pruned_total: Counter
    audit_records_total: Counter

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        for kind, attribute, help_, labels in _FAMILIES:
            if Metrics.__annotations__.get(attribute) != kind.__name__:  # the table and the types agree
                raise TypeError(f"Metrics.{attribute} is not declared as a {kind.__name__}")
            name = "crossbound_" + attribute
            family: Counter | Gauge | Histogram
            if kind is Histogram:
                family = Histogram(name, help_, labels, buckets=LATENCY_BUCKETS, registry=registry)
            else:
                family = kind(name, help_, labels, registry=registry)
            setattr(self, attribute, family)
        self._reset_found = False

        self._records: dict[tuple[str, str], Counter] = {}
        self._audited: dict[tuple[str, str], Counter] = {}
        self._requests: dict[tuple[str, str], Counter] = {}
        self._verdicts: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._findings: dict[tuple[str, str, str], Counter] = {}
        self._rule_errors: dict[tuple[str, str], Counter] = {}
        self._dead_letters: dict[tuple[str, str], Counter] = {}
        self._attestation_requests: dict[tuple[str, str], Counter] = {}
        self._pending_scenarios: set[str] = set()
        self._build_version: str | None = None
        self._rulesets: dict[str, tuple[str, str]] = {}

    # -- hot path -----------------------------------------------------------------------------------------

    def record(self, side: str, kind: str) -> None:
        """Count one consumed record of ``kind`` (request|attestation) on ``side`` (hk|sz)."""
        key = (side, kind)
        child = self._records.get(key)
        if child is None:
            check_member("side", side, SIDES)
            check_member("kind", kind, KINDS)
            child = self._records[key] = self.records_total.labels(side, kind)
        child.inc()

    def request(self, side: str, scenario: str) -> None:
        """Count one request from ``side`` decoded and accepted for evaluation under ``scenario``."""
        key = (side, scenario)
        child = self._requests.get(key)
        if child is None:
            check_member("side", side, SIDES)
            check_name("scenario", scenario)
            child = self._requests[key] = self.requests_total.labels(side, scenario)
        child.inc()

    def verdict(self, side: str, scenario: str, outcome: str, latency_s: float | None) -> None:
        """Count one verdict sent to the requesting ``side`` and observe its latency.

        Args:
            side: the requesting side, where the verdict goes (hk|sz).
            scenario: the scenario of the request.
            outcome: ACCEPT, REVIEW or REJECT.
            latency_s: seconds from the request's ``created_at`` to now, or ``None`` when unknown (not
                observed). A negative value (clock skew across the boundary) is observed as 0; NaN is
                not observed.
        """
        key = (side, scenario, outcome)
        children = self._verdicts.get(key)
        if children is None:
            check_member("side", side, SIDES)
            check_name("scenario", scenario)
            check_member("outcome", outcome, OUTCOMES)
            children = self._verdicts[key] = (
                self.verdicts_total.labels(side, scenario, outcome),
                self.verdict_latency_seconds.labels(side, scenario),
            )
        children[0].inc()
        if latency_s is not None and latency_s == latency_s:  # x == x is False only for NaN
            children[1].observe(latency_s if latency_s > 0.0 else 0.0)

    def finding(self, scenario: str, rule: str, severity: str) -> None:
        """Count one finding of ``rule`` in ``scenario`` with ``severity`` (reject|review|warn)."""
        key = (scenario, rule, severity)
        child = self._findings.get(key)
        if child is None:
            check_name("scenario", scenario)
            check_name("rule", rule)
            check_member("severity", severity, FINDING_SEVERITIES)
            child = self._findings[key] = self.findings_total.labels(scenario, rule, severity)
        child.inc()

    def rule_error(self, scenario: str, rule: str) -> None:
        """Count one evaluation of ``rule`` in ``scenario`` that raised instead of passing or failing."""
        key = (scenario, rule)
        child = self._rule_errors.get(key)
        if child is None:
            check_name("scenario", scenario)
            check_name("rule", rule)
            child = self._rule_errors[key] = self.rule_errors_total.labels(scenario, rule)
        child.inc()

    def dead_letter(self, side: str, reason: str) -> None:
        """Count one record of ``side`` sent to its dead-letter topic for ``reason`` (a short code)."""
        key = (side, reason)
        child = self._dead_letters.get(key)
        if child is None:
            check_member("side", side, SIDES)
            if not isinstance(reason, str) or not DEAD_LETTER_REASON_PATTERN.match(reason):
                raise ValueError(f"reason must be a short machine code like 'too_large', got {reason!r}")
            child = self._dead_letters[key] = self.dead_letters_total.labels(side, reason)
        child.inc()

    def attestation_request(self, side: str, scenario: str) -> None:
        """Count one attestation request sent to the attesting ``side`` for ``scenario``."""
        key = (side, scenario)
        child = self._attestation_requests.get(key)
        if child is None:
            check_member("side", side, SIDES)
            check_name("scenario", scenario)
            child = self._attestation_requests[key] = self.attestation_requests_total.labels(side, scenario)
        child.inc()

    # -- periodic and start-up ----------------------------------------------------------------------------

    def set_pending(self, counts: Mapping[str, int]) -> None:
        """Set the pending-attestation gauge of every scenario in ``counts``.

        A scenario that had a value before and is missing from ``counts`` is set to 0, so its series
        drops back instead of freezing at the last count.
        """
        for scenario, count in counts.items():
            if scenario not in self._pending_scenarios:
                check_name("scenario", scenario)
                self._pending_scenarios.add(scenario)
            self.pending_attestations.labels(scenario).set(count)
        for scenario in self._pending_scenarios.difference(counts):
            self.pending_attestations.labels(scenario).set(0)

    def set_ready(self, ready: bool) -> None:
        """``crossbound_ready``: 1 once partitions are assigned and tables recovered, 0 while rebalancing;
        0 for good once :meth:`found_broker_reset` was called."""
        self.ready.set(1 if ready and not self._reset_found else 0)

    def found_broker_reset(self, what: tuple[str, ...]) -> None:
        """The broker lost the worker's state: count each kind of evidence, set the gauge, not ready."""
        for kind in what:
            check_member("what", kind, RESET_WHAT)
            self.broker_reset_total.labels(kind).inc()
        self._reset_found = True
        self.broker_reset_found.set(1)
        self.ready.set(0)

    def rebalance(self) -> None:
        """Count one rebalance (partitions revoked)."""
        self.rebalances_total.inc()

    def unreadable(self, where: str) -> None:
        """Count one record of the pipeline's own (a table entry, a ``quota`` hop) that did not decode."""
        check_member("where", where, UNREADABLE_WHERE)
        self.unreadable_total.labels(where).inc()

    def outgoing_blocked(self, record: str, reason: str) -> None:
        """Count one record the outgoing guard did not send (rare: no cached child)."""
        check_member("record", record, BLOCKED_RECORDS)
        check_member("reason", reason, BLOCKED_REASONS)
        self.outgoing_blocked_total.labels(record, reason).inc()

    def output_failed(self, record: str, reason: str) -> None:
        """Count one record not written (rare: no cached child); see ``crossbound_outputs_failed_total``."""
        check_member("record", record, OUTPUT_RECORDS)
        check_member("reason", reason, OUTPUT_FAILURES)
        self.outputs_failed_total.labels(record, reason).inc()

    def signature_refused(self, side: str, reason: str) -> None:
        """Count one input the signature check refused (rare: no cached child)."""
        check_member("side", side, SIDES)
        check_member("reason", reason, SIGNATURE_REFUSALS)
        self.signature_refused_total.labels(side, reason).inc()

    def audited(self, side: str, type_: str, n: int = 1) -> None:
        """Count ``n`` audit records of ``type_`` written to ``side``'s audit topic."""
        child = self._audited.get((side, type_))
        if child is None:
            check_member("side", side, SIDES)
            check_member("type", type_, AUDIT_RECORDS)
            child = self._audited[(side, type_)] = self.audit_records_total.labels(side, type_)
        child.inc(n)

    def fingerprint(self, side: str, result: str) -> None:
        """Count one registry record of ``side`` taken in: ``stored`` or ``repeat``."""
        check_member("side", side, SIDES)
        check_member("result", result, FINGERPRINT_RESULTS)
        self.fingerprints_total.labels(side, result).inc()

    def pruned(self, table: str, n: int) -> None:
        """Count ``n`` entries of ``table`` that the sweep removed past their window or retention."""
        check_member("table", table, TABLES)
        self.pruned_total.labels(table).inc(n)

    def set_build_info(self, version: str) -> None:
        """Set ``crossbound_build_info{version}`` to 1, replacing any previous version's series."""
        if self._build_version is not None and self._build_version != version:
            self.build_info.remove(self._build_version)
        self.build_info.labels(version).set(1)
        self._build_version = version

    def set_ruleset_info(self, scenario: str, version: str, digest: str) -> None:
        """Set ``crossbound_ruleset_info{scenario,version,digest}`` to 1.

        A reload of the same scenario replaces its previous series, so each scenario has exactly one.
        """
        check_name("scenario", scenario)
        previous = self._rulesets.get(scenario)
        if previous is not None and previous != (version, digest):
            self.ruleset_info.remove(scenario, *previous)
        self.ruleset_info.labels(scenario, version, digest).set(1)
        self._rulesets[scenario] = (version, digest)
