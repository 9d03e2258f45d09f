"""The client's counters, on a registry the institution passes (or one of the client's own).

* ``crossbound_client_sent_total{record}``: requests, attestations and fingerprints the broker
  acknowledged;
* ``crossbound_client_refused_total{record, reason}``: verdicts and attestation requests the client
  refused (the reasons of :mod:`crossbound.client.errors`), never answered nor returned as good;
* ``crossbound_client_answer_failed_total``: attestation requests left unanswered because the
  institution's callback raised, its answer does not encode, or the broker did not take it.

Labels hold record kinds and reason codes only, never an identifier or a value.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["ClientMetrics"]


class ClientMetrics:
    """The client's counters on ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        self.sent = Counter(
            "crossbound_client_sent_total",
            "Records the broker acknowledged.",
            ["record"],
            registry=self.registry,
        )
        self.refused = Counter(
            "crossbound_client_refused_total",
            "Platform records the client refused, by reason.",
            ["record", "reason"],
            registry=self.registry,
        )
        self.answer_failed = Counter(
            "crossbound_client_answer_failed_total",
            "Attestation requests left unanswered: callback raised, answer not encoded or not sent.",
            registry=self.registry,
        )

    def value(self, name: str, **labels: str) -> float:
        """A sample's value, 0 when absent (``value("crossbound_client_sent_total", record="request")``)."""
        return self.registry.get_sample_value(name, labels) or 0.0
